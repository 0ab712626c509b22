"""Across hosts: the published zone, its replication by standard DNS
secondaries, and remote containers.

Run as root.  Every test builds its own network namespaces with `ip netns add`
(names start with ``ldx<pid>-``) and removes them, their /etc/netns entries,
the processes it started and its temporary files when it ends, failed or not.
Nothing is configured outside those namespaces.

Two hosts on one machine (a remote container resolves; a port mapping
change reaches the other host):

    db (10.251.1.2) --veth-- hostA (10.250.0.1) ==veth== hostB (10.250.0.2) --veth-- app (10.252.1.2)
                             linkdnsd, zone a.test                linkdnsd
                             DNAT :13306 -> db:3306               add db --remote db.a.test@10.250.0.1

Each host runs `ip netns exec hostX linkdnsd --listen HOSTADDR@53 ...`; the
daemons open 127.0.0.11@53 inside db and app.  app's resolv.conf is
/etc/netns/APP/resolv.conf (`nameserver 127.0.0.11`), so `ip netns exec APP
dig db` and `getent hosts db` ask B's daemon as a container would.

The secondary tests (knotd follows the zone) run linkdnsd (127.0.0.1@53) and knotd
(127.0.0.2@53, transfers from 127.0.0.2) on the loopback of a namespace of
their own; the publisher tests use such a namespace too.

Timings are printed (run with -s to see them, or read them in a failure).
"""

import base64
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from conftest import (REPO, Daemon, Namespaces, linkdnsd_path, read_log,
                      run, socket_in, stop_all, wait_for)

PYTHON = "/usr/bin/python3"
PREFIX = "ldx%d-" % os.getpid()

ZONE = "a.test"
A_ADDR = "10.250.0.1"      # host A on the link between the hosts
B_ADDR = "10.250.0.2"      # host B
DB_GW, DB_ADDR = "10.251.1.1", "10.251.1.2"     # behind A
APP_GW, APP_ADDR = "10.252.1.1", "10.252.1.2"   # behind B

START_DEADLINE = 15.0
STOP_DEADLINE = 10.0
SECONDARY_DEADLINE = 60.0    # knotd transfers and NOTIFY: generous


# -- processes and namespaces ----------------------------------------------------
def need_tool(name, package):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail("%s not found: apt-get install %s (scripts/install-deps)"
                    % (name, package), pytrace=False)
    return path


class Net:
    """Namespaces, /etc/netns entries, processes and directories made by
    one test; cleanup() removes them all, whatever happened."""

    def __init__(self):
        if os.geteuid() != 0:
            pytest.fail("the cross-host tests need root (ip netns, setns)",
                        pytrace=False)
        self.namespaces = Namespaces(PREFIX)
        self.procs = []
        self.dirs = []

    def ns(self, tag, resolv_conf=False):
        """A namespace PREFIX<n>TAG, lo up (see conftest.Namespaces.add)."""
        return self.namespaces.add(tag, resolv_conf=resolv_conf)

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="ldx-")
        self.dirs.append(d)
        return d

    def veth(self, ns1, if1, addr1, ns2, if2, addr2):
        """A veth pair IF1 (in NS1, ADDR1/24) -- IF2 (in NS2, ADDR2/24)."""
        run(["ip", "-n", ns1, "link", "add", if1, "type", "veth", "peer",
             "name", if2, "netns", ns2])
        for ns, ifname, addr in ((ns1, if1, addr1), (ns2, if2, addr2)):
            run(["ip", "-n", ns, "addr", "add", addr + "/24", "dev", ifname])
            run(["ip", "-n", ns, "link", "set", ifname, "up"])

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        self.namespaces.cleanup()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def net():
    n = Net()
    try:
        yield n
    finally:
        n.cleanup()


# -- DNS from inside a namespace ---------------------------------------------------
def query(ns, server, name, rdtype="A", port=53, source=None, tcp=False,
          timeout=2.0):
    """NAME/TYPE asked of SERVER@PORT from inside NS; the reply message, or
    None when none came within TIMEOUT."""
    q = dns.message.make_query(name, rdtype)
    s = socket_in(ns, socket.AF_INET,
                  socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    try:
        if source:
            s.bind((source, 0))
        if tcp:
            s.settimeout(timeout)
            s.connect((server, port))
            s.setblocking(False)
            return dns.query.tcp(q, server, timeout=timeout, port=port,
                                 sock=s)
        s.setblocking(False)
        return dns.query.udp(q, server, timeout=timeout, port=port, sock=s)
    except (dns.exception.Timeout, ConnectionError, OSError):
        return None
    finally:
        s.close()


def rcode(msg):
    return "TIMEOUT" if msg is None else dns.rcode.to_text(msg.rcode())


def rdatas(msg, rdtype):
    t = dns.rdatatype.from_text(rdtype)
    return sorted(rd.to_text() for rrset in msg.answer if rrset.rdtype == t
                  for rd in rrset)


def answer_key(msg):
    """What two servers must agree on: rcode, AA, every answer record."""
    return (rcode(msg), bool(msg.flags & dns.flags.AA),
            sorted((rrset.name.to_text().lower(), rrset.ttl,
                    dns.rdatatype.to_text(rrset.rdtype), rd.to_text().lower())
                   for rrset in msg.answer for rd in rrset))


def dig_in(ns, *args, timeout=20):
    """`ip netns exec NS dig ARGS` (the server from NS's resolv.conf unless
    ARGS name one); its stdout."""
    dig = need_tool("dig", "dnsutils")
    p = run(["ip", "netns", "exec", ns, dig, "+time=2", "+tries=1"]
            + list(args), check=False, timeout=timeout)
    return p.stdout + p.stderr


def dig_status(out):
    m = re.search(r"status: ([A-Z]+)", out)
    return m.group(1) if m else None


def dig_answers(out, rdtype):
    """rdata of every TYPE line in dig's output (zone-file form)."""
    res = []
    for line in out.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        f = line.split()
        if len(f) >= 5 and f[2] == "IN" and f[3] == rdtype:
            res.append(" ".join(f[4:]))
    return res


# -- linkdnsd in a namespace -------------------------------------------------------
class Linkdnsd(Daemon):
    """conftest's Daemon in namespace NS, listening on LISTEN@53 there, on the state file of a directory of the test: restartable on the
    same state (and so the same STATE.serial).  Started by .start()."""

    def __init__(self, net, ns, listen, table, args=()):
        self.net = net
        self.ns = ns
        self.listen = listen
        super().__init__(table, args, listen_host=listen, port=53,
                         workdir=net.tmpdir(), netns=ns, start=False)

    def start(self, deadline_s=START_DEADLINE):
        took = super().start(deadline_s)
        self.net.procs.append(self.proc)   # net.cleanup() kills it
        return took

    def _answers(self):
        """It answers, and its control socket is there."""
        return super()._answers() and os.path.exists(self.control)

    def kill(self):
        """SIGKILL: the host goes away without a word."""
        self._kill()
        self.proc = None

    def ctl(self, *args, check=True, **kw):
        return super().ctl(*args, check=check, **kw)

    def soa_serial(self, source=None):
        r = query(self.ns, self.listen, ZONE, "SOA", source=source)
        assert r is not None and rcode(r) == "NOERROR", \
            "no SOA for %s: %s\nstderr:\n%s" % (ZONE, rcode(r), self.stderr)
        return r.answer[0][0].serial


def serial_gt(a, b):
    """RFC 1982: a is greater than b."""
    return a != b and ((a - b) % 2 ** 32) < 2 ** 31


# -- two hosts -------------------------------------------------------------------
TABLE_A = """\
# host A: db publishes container port 3306 as host port 13306
add db --netns /run/netns/{db} --addr {db_addr} --publish 13306:3306/tcp
"""

TABLE_B = """\
# host B: app links to db, which lives on host A
add app --netns /run/netns/{app} --addr {app_addr}
add db --remote db.{zone}@{a_addr}
link app db:db
"""


class TwoHosts:
    def __init__(self, net, a_args=(), b_args=(), publish="13306:3306/tcp"):
        self.net = net
        self.hostA = net.ns("hA")
        self.hostB = net.ns("hB")
        self.db = net.ns("db")
        self.app = net.ns("app", resolv_conf=True)
        net.veth(self.hostA, "tob", A_ADDR, self.hostB, "toa", B_ADDR)
        net.veth(self.hostA, "todb", DB_GW, self.db, "eth0", DB_ADDR)
        net.veth(self.hostB, "toapp", APP_GW, self.app, "eth0", APP_ADDR)
        run(["ip", "-n", self.db, "route", "add", "default", "via", DB_GW])
        run(["ip", "-n", self.app, "route", "add", "default", "via", APP_GW])
        run(["ip", "-n", self.hostA, "route", "add", "default", "via",
             B_ADDR])
        run(["ip", "-n", self.hostB, "route", "add", "default", "via",
             A_ADDR])
        for host in (self.hostA, self.hostB):
            run(["ip", "netns", "exec", host, "sysctl", "-qw",
                 "net.ipv4.ip_forward=1"])
        # host A's published port: what `docker run -p 13306:3306` sets up
        iptables = need_tool("iptables", "iptables")
        run(["ip", "netns", "exec", self.hostA, iptables, "-t", "nat", "-A",
             "PREROUTING", "-p", "tcp", "--dport", "13306", "-j", "DNAT",
             "--to-destination", DB_ADDR + ":3306"])
        self.a = Linkdnsd(net, self.hostA, A_ADDR, TABLE_A.format(
            db=self.db, db_addr=DB_ADDR).replace("13306:3306/tcp", publish),
            ["--publish-zone", ZONE, "--publish-address", A_ADDR,
             "--transfer-allow", "10.250.0.0/24"] + list(a_args))
        self.b = Linkdnsd(net, self.hostB, B_ADDR, TABLE_B.format(
            app=self.app, app_addr=APP_ADDR, zone=ZONE, a_addr=A_ADDR),
            list(b_args))

    def start(self):
        ta = self.a.start()
        tb = self.b.start()
        print("\nlinkdnsd ready: host A %.2f s, host B %.2f s" % (ta, tb))

    def ask_app(self, name, rdtype="A", timeout=2.0):
        """NAME/TYPE asked from inside app of its resolver 127.0.0.11."""
        return query(self.app, "127.0.0.11", name, rdtype, timeout=timeout)


@pytest.fixture
def two_hosts(net):
    made = []

    def make(**kw):
        h = TwoHosts(net, **kw)
        made.append(h)
        h.start()
        return h

    yield make
    stop_all([d for h in made for d in (h.b, h.a)])


ECHO_SERVER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 3306))
s.listen(1)
print("listening", flush=True)
s.settimeout(30)
c, peer = s.accept()
data = b""
while not data.endswith(b"\n"):
    chunk = c.recv(4096)
    if not chunk:
        break
    data += chunk
c.sendall(b"db got " + data.strip() + b" from " + peer[0].encode() + b"\n")
c.close()
print("served", peer[0], flush=True)
"""

ECHO_CLIENT = r"""
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
ai = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
addr = ai[0][4]
c = socket.create_connection(addr, timeout=10)
c.sendall(b"hello from app\n")
data = b""
while True:
    chunk = c.recv(4096)
    if not chunk:
        break
    data += chunk
print("connected", addr[0], addr[1], "reply", data.decode().strip())
"""


def readline_within(proc, deadline):
    r, _, _ = select.select([proc.stdout], [], [], deadline)
    return proc.stdout.readline() if r else ""


# -- a container on host B resolves and reaches one on host A ---------------------
def test_two_hosts_app_resolves_and_reaches_remote_db(two_hosts):
    h = two_hosts()

    # B fetches db.a.test from A at start: wait until app's view has it
    took, _ = wait_for("db resolves in app", lambda: (
        lambda r: r is not None and rdatas(r, "A") == [A_ADDR])(
            h.ask_app("db")), 10.0)
    print("app resolves db %.2f s after B was ready" % took)

    out = dig_in(h.app, "db")
    assert dig_status(out) == "NOERROR", out
    assert dig_answers(out, "A") == [A_ADDR], out
    assert "flags: qr aa" in out, out

    out = dig_in(h.app, "AAAA", "db")
    assert dig_status(out) == "NOERROR", out    # NODATA: A has no IPv6
    assert dig_answers(out, "AAAA") == [], out

    for name in ("_3306._tcp.db", "_mysql._tcp.db"):
        out = dig_in(h.app, "SRV", name)
        assert dig_status(out) == "NOERROR", out
        srv = dig_answers(out, "SRV")
        assert srv == ["0 0 13306 db.link.internal."], out

    p = run(["ip", "netns", "exec", h.app, "getent", "hosts", "db"],
            check=False)
    assert p.returncode == 0, p
    assert p.stdout.split()[:2] == [A_ADDR, "db"], p.stdout

    # what A publishes, asked directly from B (an unknown source to A)
    out = dig_in(h.hostB, "@" + A_ADDR, "SRV", "_3306._tcp.db." + ZONE)
    assert dig_answers(out, "SRV") == ["0 0 13306 db.%s." % ZONE], out

    # a real connection: app -> A:13306 -> DNAT -> db:3306, bytes both ways.
    # The client finds the address with getaddrinfo("db") (glibc, resolv.conf)
    # and the port from the SRV record.
    server = h.net.popen(["ip", "netns", "exec", h.db, PYTHON, "-c",
                          ECHO_SERVER], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    line = readline_within(server, 10)
    assert line.strip() == "listening", line
    port = int(dig_answers(dig_in(h.app, "SRV", "_mysql._tcp.db"),
                           "SRV")[0].split()[2])
    t0 = time.monotonic()
    p = run(["ip", "netns", "exec", h.app, PYTHON, "-c", ECHO_CLIENT, "db",
             str(port)], check=False, timeout=30)
    assert p.returncode == 0, p
    assert p.stdout.strip() == ("connected %s 13306 reply db got hello from "
                                "app from %s" % (A_ADDR, APP_ADDR)), p.stdout
    server.wait(10)
    print("app -> db.a.test:13306 -> db:3306 round trip %.3f s: %s"
          % (time.monotonic() - t0, p.stdout.strip()))


# -- a peer that goes down: stale answers, then SERVFAIL, then back ---------------
def app_sees_db(h):
    """What app gets for db A and _3306._tcp.db SRV (1 s timeout each):
    the rdata (comma-joined) when NOERROR, else the rcode or TIMEOUT."""
    a = h.ask_app("db", timeout=1.0)
    s = h.ask_app("_3306._tcp.db", "SRV", timeout=1.0)
    ra = rcode(a) if rcode(a) != "NOERROR" else ",".join(rdatas(a, "A"))
    rs = rcode(s) if rcode(s) != "NOERROR" else ",".join(rdatas(s, "SRV"))
    return ra, rs


def timeline(log):
    """Lines of (seconds, A result, SRV result) samples for a report."""
    return "\n".join("  %5.2f s  A: %-12s SRV: %s" % e for e in log)


def test_peer_down_serves_stale_then_servfail_then_recovers(two_hosts):
    ttl, stale = 2, 4
    h = two_hosts(a_args=["--ttl", str(ttl)], b_args=["--stale", str(stale)])

    def fresh(port):
        a = h.ask_app("db")
        s = h.ask_app("_3306._tcp.db", "SRV")
        return (a is not None and s is not None and rdatas(a, "A") == [A_ADDR]
                and rdatas(s, "SRV") == ["0 0 %d db.link.internal." % port])

    took, _ = wait_for("db and its SRV resolve in app", lambda: fresh(13306),
                       10.0)
    print("\napp resolves db and _3306._tcp.db %.2f s after start" % took)

    # run a little longer than a TTL so that B's refreshing is in its stride
    t_end = time.monotonic() + ttl + 0.5
    while time.monotonic() < t_end:
        assert fresh(13306), "db stopped resolving while A is up"
        time.sleep(0.25)

    h.a.kill()
    t_kill = time.monotonic()
    # A is gone: B serves what it had until TTL + stale, then SERVFAIL
    log = []       # (seconds since the kill, A result, SRV result)
    first_fail = {}
    while time.monotonic() - t_kill < ttl + stale + 8:
        t = time.monotonic() - t_kill
        ra, rs = app_sees_db(h)
        log.append((t, ra, rs))
        if ra == "SERVFAIL":
            first_fail.setdefault("A", t)
        if rs == "SERVFAIL":
            first_fail.setdefault("SRV", t)
        if len(first_fail) == 2:
            break
        time.sleep(0.1)
    report = timeline(log)
    print("after A's daemon was killed (--ttl %d on A, --stale %d on B):\n%s"
          % (ttl, stale, report))
    for key in ("A", "SRV"):
        assert key in first_fail, ("no SERVFAIL for %s within TTL + stale + "
                                   "8 s\n%s\nB stderr:\n%s"
                                   % (key, report, h.b.stderr))
    for t, ra, rs in log:
        if t < first_fail["A"]:
            assert ra == A_ADDR, "%s at %.2f s\n%s" % (ra, t, report)
        if t < first_fail["SRV"]:
            assert rs == "0 0 13306 db.link.internal.", \
                "%s at %.2f s\n%s" % (rs, t, report)
    # data refreshed at 80 % of the TTL is at least 20 % of it from expiry
    for key in ("A", "SRV"):
        assert stale <= first_fail[key] <= ttl + stale + 2, (
            "%s: SERVFAIL from %.2f s after the kill; expected between "
            "stale (%d s) and TTL + stale (%d s) + 2 s\n%s"
            % (key, first_fail[key], stale, ttl + stale, report))
    print("stale answers until %.2f s (A) / %.2f s (SRV) after the kill"
          % (first_fail["A"], first_fail["SRV"]))

    # A comes back, now publishing db at another host port: B has the
    # fresh data within about a second (it retries every second)
    h.a.write_table(TABLE_A.format(db=h.db, db_addr=DB_ADDR)
                    .replace("13306:3306", "13307:3306"))
    ta = h.a.start()
    t_back = time.monotonic()
    log = []
    seen = {}
    while time.monotonic() - t_back < 10 and len(seen) < 2:
        t = time.monotonic() - t_back
        ra, rs = app_sees_db(h)
        log.append((t, ra, rs))
        if ra == A_ADDR:
            seen.setdefault("A", t)
        if rs == "0 0 13307 db.link.internal.":
            seen.setdefault("SRV", t)
        time.sleep(0.1)
    report = timeline(log)
    print("A back (ready in %.2f s), now publishing 13307:3306/tcp:\n%s"
          % (ta, report))
    for key in ("A", "SRV"):
        assert key in seen, ("no fresh %s within 10 s of A's return\n%s\n"
                             "B stderr:\n%s" % (key, report, h.b.stderr))
    print("fresh data in app %.2f s (A) / %.2f s (SRV) after A came back"
          % (seen["A"], seen["SRV"]))
    # B retries a failed peer every second: fresh data about a second after
    # the peer answers again (one more second of slack for a slow machine)
    assert max(seen.values()) <= 2.0, (
        "fresh data took %.2f s (A) / %.2f s (SRV); B retries every second\n"
        "%s" % (seen["A"], seen["SRV"], report))


# -- one host, loopback of its own namespace ------------------------------------------
PUB_TABLE = """\
add db --addr 127.0.20.2 --publish 13306:3306/tcp
add cache --addr 127.0.20.3 --expose 6379/tcp
add web --addr 127.0.20.4 --publish 18000:80/tcp
link web db:database
link web cache:kv
"""


def publisher(net, args=(), table=PUB_TABLE):
    ns = net.ns("pub")
    d = Linkdnsd(net, ns, "127.0.0.1", table,
                 ["--publish-zone", ZONE, "--publish-address", "192.0.2.10"]
                 + list(args))
    return d


@pytest.fixture
def stopper():
    """Stops (SIGTERM, exit 0 asserted) each daemon given to it at the end."""
    ds = []
    yield ds.append
    stop_all(ds)


# -- zone transfers only to allowed sources, nothing leaks ------------------------
def axfr(ns, source, *extra):
    return dig_in(ns, "@127.0.0.1", "-b", source, "+tcp", "AXFR", ZONE,
                  *extra)


def test_transfer_only_to_allowed_sources_and_no_leaks(net, stopper):
    d = publisher(net, ["--transfer-allow", "127.0.0.2"])
    stopper(d)
    d.start()

    # the allowed source gets the zone: only db and web, which publish
    out = axfr(d.ns, "127.0.0.2")
    assert "Transfer failed" not in out, out
    names = {line.split()[0].lower() for line in out.splitlines()
             if line.strip() and not line.startswith(";")}
    assert names == {ZONE + ".", "db.%s." % ZONE, "web.%s." % ZONE,
                     "_3306._tcp.db.%s." % ZONE, "_mysql._tcp.db.%s." % ZONE,
                     "_80._tcp.web.%s." % ZONE, "_http._tcp.web.%s." % ZONE}, \
        out

    # others: REFUSED (TCP), and no transfer over UDP at all
    for src in ("127.0.0.3", "127.0.20.2", "127.0.20.4"):
        out = axfr(d.ns, src)
        assert "Transfer failed" in out or "REFUSED" in out, out
        assert dig_answers(out, "SOA") == [] and \
            dig_answers(out, "SRV") == [], out
        r = query(d.ns, "127.0.0.1", ZONE, "AXFR", source=src, tcp=True)
        assert rcode(r) == "REFUSED" and not r.answer, r
    r = query(d.ns, "127.0.0.1", ZONE, "AXFR", source="127.0.0.2")
    assert rcode(r) == "REFUSED" and not r.answer, ("AXFR over UDP", r)
    r = query(d.ns, "127.0.0.1", ZONE, "IXFR", source="127.0.0.3", tcp=True)
    assert rcode(r) == "REFUSED" and not r.answer, ("IXFR", r)

    # no question about Z reveals a link alias or an unpublished container
    hidden = []
    for base in ("database", "kv", "cache"):
        hidden += [base, "_3306._tcp." + base, "_mysql._tcp." + base,
                   "_6379._tcp." + base, "_redis._tcp." + base, "x." + base]
    types = ("A", "AAAA", "SRV", "TXT", "ANY", "CNAME", "PTR", "MX", "NS",
             "SOA", "DNAME", "HINFO")
    for src in ("127.0.0.3", "127.0.20.4", "127.0.20.3"):   # web, cache too
        for base in hidden:
            name = "%s.%s" % (base, ZONE)
            for t in types:
                r = query(d.ns, "127.0.0.1", name, t, source=src)
                assert r is not None, (name, t, src)
                assert rcode(r) in ("NXDOMAIN", "NOERROR"), (name, t, src, r)
                assert not r.answer, (name, t, src, r.to_text())
                # at most the zone's SOA (negative answer), nothing else
                assert [(x.name.to_text(), x.rdtype) for x in r.authority] \
                    in ([], [(ZONE + ".", dns.rdatatype.SOA)]), r.to_text()
                assert not r.additional, r.to_text()
    # the published ones are there, from anyone
    r = query(d.ns, "127.0.0.1", "_mysql._tcp.db." + ZONE, "SRV",
              source="127.0.0.3")
    assert rdatas(r, "SRV") == ["0 0 13306 db.%s." % ZONE], r
    r = query(d.ns, "127.0.0.1", "db." + ZONE, "A", source="127.0.0.3")
    assert rdatas(r, "A") == ["192.0.2.10"] and r.flags & dns.flags.AA, r

    # anything else asked of the publish listener by an unknown source
    for name, t in (("db", "A"), ("db.link.internal", "A"),
                    ("_3306._tcp.db", "SRV"), ("link.internal", "SOA"),
                    ("example.com", "A"), (".", "NS"),
                    ("2.20.0.127.in-addr.arpa", "PTR"), ("test", "SOA"),
                    ("a.test.example", "A")):
        for tcp in (False, True):
            r = query(d.ns, "127.0.0.1", name, t, source="127.0.0.3",
                      tcp=tcp)
            assert rcode(r) == "REFUSED" and not r.answer, (name, t, tcp, r)


# -- a standard secondary (knotd) transfers the zone and follows NOTIFY -----------
KNOT_CONF = """\
server:
    rundir: "{dir}/run"
    listen: 127.0.0.2@53
log:
  - target: stderr
    any: info
database:
    storage: "{dir}/db"
{key_section}
remote:
  - id: linkdns
    address: 127.0.0.1@53
    via: 127.0.0.2
{remote_key}
acl:
  - id: notify_from_linkdns
    address: 127.0.0.0/8
    action: notify
{acl_key}
zone:
  - domain: {zone}
    storage: "{dir}/zones"
    file: "{zone}.zone"
    master: linkdns
    acl: notify_from_linkdns
    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
"""


class Knotd:
    def __init__(self, net, ns, key=None):
        self.knotd = need_tool("knotd", "knot")
        self.net = net
        self.ns = ns
        self.dir = net.tmpdir()
        for sub in ("run", "db", "zones"):
            os.makedirs(os.path.join(self.dir, sub))
        if key:
            name, secret = key
            key_section = ("key:\n  - id: %s\n    algorithm: hmac-sha256\n"
                           "    secret: %s\n" % (name, secret))
            remote_key = "    key: %s" % name
            acl_key = "    key: %s" % name
        else:
            key_section = remote_key = acl_key = ""
        self.conf = os.path.join(self.dir, "knot.conf")
        with open(self.conf, "w") as f:
            f.write(KNOT_CONF.format(dir=self.dir, zone=ZONE,
                                     key_section=key_section,
                                     remote_key=remote_key, acl_key=acl_key))
        self.log = os.path.join(self.dir, "stderr")
        with open(self.log, "ab") as errf:
            self.proc = net.popen(["ip", "netns", "exec", ns, self.knotd,
                                   "-c", self.conf], stdout=errf,
                                  stderr=errf)

    @property
    def stderr(self):
        return read_log(self.log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def compare_primary_secondary(d, knot, names):
    for name, t in names:
        p = query(d.ns, "127.0.0.1", name, t, source="127.0.0.3")
        s = query(d.ns, "127.0.0.2", name, t)
        assert p is not None and s is not None, (name, t, p, s)
        assert rcode(p) == "NOERROR" and p.answer, (name, t, p.to_text())
        assert answer_key(p) == answer_key(s), (
            "%s %s differs\nlinkdnsd:\n%s\nknotd:\n%s"
            % (name, t, p.to_text(), s.to_text()))


def wait_for_secondary(what, fn, knot, d):
    """wait_for(WHAT, FN) with the secondary's deadline; a timeout shows
    both knotd's and linkdnsd's stderr."""
    try:
        return wait_for(what, fn, SECONDARY_DEADLINE, interval=0.1)
    except AssertionError as e:
        raise AssertionError("%s\nknotd stderr:\n%s\nlinkdnsd stderr:\n%s"
                             % (e, knot.stderr, d.stderr))


@pytest.mark.parametrize("tsig", [False, True], ids=["plain", "tsig"])
def test_knot_secondary_transfers_and_follows_notify(net, stopper, tsig):
    key = None
    args = ["--transfer-allow", "127.0.0.2"]    # notify: 127.0.0.2@53
    if tsig:
        key = ("ldx-key", base64.b64encode(os.urandom(32)).decode())
        args += ["--tsig", "%s:hmac-sha256:%s" % key]
    d = publisher(net, args)
    stopper(d)
    d.start()
    serial = d.soa_serial(source="127.0.0.3")

    t0 = time.monotonic()
    knot = Knotd(net, d.ns, key)
    try:
        def secondary_serial():
            r = query(d.ns, "127.0.0.2", ZONE, "SOA", timeout=0.5)
            if r is not None and rcode(r) == "NOERROR" and r.answer:
                return r.answer[0][0].serial
            return None
        took, got = wait_for_secondary("knotd serves %s" % ZONE,
                                       secondary_serial, knot, d)
        print("\n[%s] knotd transferred %s (serial %d) %.2f s after it "
              "started" % ("tsig" if tsig else "plain", ZONE, got, took))
        assert got == serial, (got, serial)
        compare_primary_secondary(d, knot, [
            ("_3306._tcp.db." + ZONE, "SRV"), ("_mysql._tcp.db." + ZONE, "SRV"),
            ("_80._tcp.web." + ZONE, "SRV"), ("db." + ZONE, "A"),
            (ZONE, "SOA"), (ZONE, "NS")])

        # a new published container: NOTIFY brings it to the secondary
        d.ctl("add", "newsvc", "--addr", "127.0.20.9", "--publish",
              "18080:80/tcp")
        name = "_80._tcp.newsvc." + ZONE

        def secondary_has_newsvc():
            r = query(d.ns, "127.0.0.2", name, "SRV", timeout=0.5)
            return r is not None and rdatas(r, "SRV") == [
                "0 0 18080 newsvc.%s." % ZONE]
        took, _ = wait_for_secondary("knotd serves %s" % name,
                                     secondary_has_newsvc, knot, d)
        print("[%s] after `linkdnsctl add newsvc --publish 18080:80/tcp`, "
              "knotd served %s in %.2f s" % ("tsig" if tsig else "plain",
                                             name, took))
        assert "notify, incoming" in knot.stderr, knot.stderr
        assert d.soa_serial(source="127.0.0.3") == secondary_serial()
        compare_primary_secondary(d, knot, [
            (name, "SRV"), ("_http._tcp.newsvc." + ZONE, "SRV"),
            ("newsvc." + ZONE, "A"), (ZONE, "SOA")])

        # removing it is a change too
        d.ctl("rm", "newsvc")
        def secondary_dropped_newsvc():
            r = query(d.ns, "127.0.0.2", name, "SRV", timeout=0.5)
            return r is not None and rcode(r) == "NXDOMAIN"
        took, _ = wait_for_secondary("knotd drops %s" % name,
                                     secondary_dropped_newsvc, knot, d)
        print("[%s] after `linkdnsctl rm newsvc`, knotd dropped it in %.2f s"
              % ("tsig" if tsig else "plain", took))
        assert d.soa_serial(source="127.0.0.3") == secondary_serial()
    finally:
        knot.stop()
    print("[%s] whole exchange %.2f s" % ("tsig" if tsig else "plain",
                                          time.monotonic() - t0))

    if tsig:
        # without the key (from the allowed address): refused
        out = axfr(d.ns, "127.0.0.2")
        assert "Transfer failed" in out or "NOTAUTH" in out, out
        assert dig_answers(out, "SRV") == [], out
        r = query(d.ns, "127.0.0.1", ZONE, "AXFR", source="127.0.0.2",
                  tcp=True)
        assert rcode(r) == "NOTAUTH" and not r.answer, r
        # a wrong key: refused
        wrong = base64.b64encode(os.urandom(32)).decode()
        out = axfr(d.ns, "127.0.0.2", "-y", "hmac-sha256:%s:%s"
                   % (key[0], wrong))
        assert dig_answers(out, "SRV") == [], out
        # with it: the zone, signed
        out = axfr(d.ns, "127.0.0.2", "-y", "hmac-sha256:%s:%s" % key)
        assert "Transfer failed" not in out, out
        assert "0 0 13306 db.%s." % ZONE in dig_answers(out, "SRV"), out
        assert re.search(r"^%s\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. .* NOERROR "
                         % key[0], out, re.M), ("response not signed", out)
    else:
        out = axfr(d.ns, "127.0.0.2")
        assert "0 0 13306 db.%s." % ZONE in dig_answers(out, "SRV"), out


# -- the zone serial never goes down across restarts ------------------------------
def test_restarts_never_lower_the_serial(net, stopper):
    d = publisher(net, ["--transfer-allow", "127.0.0.0/8"])
    stopper(d)
    history = []

    def restart(why):
        d.stop()
        d.start()
        s = d.soa_serial(source="127.0.0.3")
        history.append((why, s))
        return s

    d.start()
    s = d.soa_serial(source="127.0.0.3")
    history.append(("start", s))
    assert os.path.exists(d.state + ".serial"), os.listdir(d.dir)

    def check(prev, cur, changed):
        text = "\n".join("  %-40s %d" % h for h in history)
        if changed:
            assert serial_gt(cur, prev), "serial did not grow:\n" + text
        else:
            assert cur == prev or serial_gt(cur, prev), \
                "serial went down:\n" + text

    for i in range(3):                      # plain restarts, back to back
        prev, s = s, restart("restart %d" % (i + 1))
        check(prev, s, False)

    d.ctl("add", "svc1", "--addr", "127.0.20.11", "--publish",
          "18081:81/tcp")
    prev, s = s, d.soa_serial(source="127.0.0.3")
    history.append(("linkdnsctl add svc1 (published)", s))
    check(prev, s, True)
    prev, s = s, restart("restart after the add")
    check(prev, s, False)
    r = query(d.ns, "127.0.0.1", "_81._tcp.svc1." + ZONE, "SRV",
              source="127.0.0.3")
    assert rdatas(r, "SRV") == ["0 0 18081 svc1.%s." % ZONE], r

    d.ctl("add", "svc2", "--addr", "127.0.20.12", "--expose", "82/tcp")
    prev, s = s, d.soa_serial(source="127.0.0.3")
    history.append(("linkdnsctl add svc2 (not published)", s))
    check(prev, s, False)

    d.ctl("rm", "svc1")
    prev, s = s, d.soa_serial(source="127.0.0.3")
    history.append(("linkdnsctl rm svc1", s))
    check(prev, s, True)
    prev, s = s, restart("restart after the rm")
    check(prev, s, False)

    # the table changed while the daemon was down: served under a greater
    # serial, or a secondary would keep the old zone
    d.stop()
    with open(d.state, "a") as f:
        f.write("add svc3 --addr 127.0.20.13 --publish 18083:83/tcp\n")
    d.start()
    prev, s = s, d.soa_serial(source="127.0.0.3")
    history.append(("start after an offline edit (svc3)", s))
    check(prev, s, True)

    # SIGHUP with a changed table
    with open(d.state, "a") as f:
        f.write("add svc4 --addr 127.0.20.14 --publish 18084:84/tcp\n")
    d.proc.send_signal(signal.SIGHUP)
    took, _ = wait_for("svc4 after SIGHUP", lambda: rdatas(
        query(d.ns, "127.0.0.1", "svc4." + ZONE, "A", source="127.0.0.3")
        or dns.message.make_response(dns.message.make_query("x.", "A")),
        "A") == ["192.0.2.10"], 10.0)
    prev, s = s, d.soa_serial(source="127.0.0.3")
    history.append(("SIGHUP with svc4 added", s))
    check(prev, s, True)
    for i in range(2):
        prev, s = s, restart("restart %d after the reload" % (i + 1))
        check(prev, s, False)
    print("\nSOA serials of %s:\n%s" % (ZONE, "\n".join(
        "  %-40s %d" % h for h in history)))


# -- the example pair --------------------------------------------------------------
@pytest.mark.parametrize("host,args", [
    ("hostA", ["--publish-zone", "hosta.example.net", "--publish-address",
               "192.0.2.10", "--transfer-allow", "192.0.2.53"]),
    ("hostB", []),
], ids=["hostA", "hostB"])
def test_example_pair_is_a_valid_table(host, args):
    path = os.path.join(REPO, "zones", host + ".links")
    assert os.path.isfile(path), path
    p = run([linkdnsd_path(), "--check-config", "--state", path, "--no-upstream"]
            + args, check=False)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "error" not in p.stderr, p.stderr
