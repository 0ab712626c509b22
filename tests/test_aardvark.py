"""The aardvark-dns replacement (issue 15), driven by netavark 1.4 itself as
aardvark-dns's own tests drive it: `netavark --config DIR --aardvark-binary
BIN setup NETNS < network.json` (and teardown), run inside a "host" network
namespace of the test's own, where linkdnsd and the bridges live; the
containers are namespaces of their own.

The same scenario runs against Debian's real aardvark-dns 1.4 as reference
rows: they never fail the suite, and are printed side by side with
linkdns's (known differences of 1.4: bare PTR names, TTL 86400, NXDOMAIN for
single labels, no TCP).

Then the replacement alone, without netavark, on files written by hand: a
malformed file, a control socket that is missing or never answers, a name
that cannot be a DNS name.

Addresses: 10.201.0.0/16 inside the test's namespaces; 127.0.0.1 (and
127.0.0.2) for the runs without netavark.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from conftest import (BUILD, addresses, free_port, netns_path, rcode_text,
                      records, reverse_name, run, socket_in, wait_for)

NETNS_PREFIX = "aard"
BIN = os.path.join(BUILD, "aardvark-dns")
REAL = "/usr/lib/podman/aardvark-dns"
NETAVARK = "/usr/lib/podman/netavark"

# The reference's results, by check: filled by the linkdns and the
# reference tests, printed side by side by the last of them.
RESULTS = {}


def cid(tag):
    """A 64-hex container ID that starts with TAG's hex digits."""
    return (tag.encode().hex() + "0123456789abcdef" * 4)[:64]


class Net:
    def __init__(self, name, third, bridge):
        self.name = name
        self.subnet = "10.201.%d.0/24" % third
        self.gw = "10.201.%d.1" % third
        self.prefix = "10.201.%d." % third
        self.bridge = bridge
        self.id = (name.encode().hex() + "0" * 64)[:64]

    def info(self):
        return {"name": self.name, "id": self.id, "driver": "bridge",
                "network_interface": self.bridge,
                "subnets": [{"subnet": self.subnet, "gateway": self.gw}],
                "ipv6_enabled": False, "internal": False,
                "dns_enabled": True, "ipam_options": {"driver": "host-local"}}


class Ctr:
    """A container: a namespace, an ID, a name, one address on one network,
    aliases as podman passes them (its own, then the short ID)."""

    def __init__(self, ns, net, name, host, aliases):
        self.ns = ns
        self.net = net
        self.name = name
        self.id = cid(name)
        self.ip = net.prefix + str(host)
        self.aliases = list(aliases) + [self.id[:12]]

    def config(self):
        return {"container_id": self.id, "container_name": self.name,
                "networks": {self.net.name: {
                    "static_ips": [self.ip], "aliases": self.aliases,
                    "interface_name": "eth0"}},
                "network_info": {self.net.name: self.net.info()},
                "dns_servers": []}


class Run:
    """One run of the scenario: a host namespace, netavark's directory, the
    aardvark-dns binary netavark starts, its environment."""

    def __init__(self, namespaces, tmp, binary, env):
        self.ns = namespaces
        self.host = namespaces.add("h")
        self.confdir = os.path.join(tmp, "netavark")
        os.makedirs(self.confdir)
        self.dir = os.path.join(self.confdir, "aardvark-dns")
        self.binary = binary
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="", **env)

    def netavark(self, cmd, ctr):
        argv = ["ip", "netns", "exec", self.host, NETAVARK, "--config",
                self.confdir, "--aardvark-binary", self.binary, cmd,
                netns_path(ctr.ns)]
        # output to a file, not a pipe: a server that kept netavark's stdout
        # (a bug to be found) must fail the check, not hang the suite
        with tempfile.TemporaryFile("w+") as out:
            p = subprocess.run(argv, input=json.dumps(ctr.config()), text=True,
                               stdout=out, stderr=subprocess.STDOUT,
                               timeout=60, env=self.env)
            out.seek(0)
            text = out.read()
        assert p.returncode == 0, "netavark %s %s: %s" % (cmd, ctr.name, text)
        return p

    def pin_mac(self, bridge):
        """Sets the bridge's MAC address to the one it has: netavark 1.4
        leaves it to the kernel, which gives a bridge the lowest MAC of its
        ports, so a container connected later may change the gateway's MAC
        under the others' ARP caches (seconds without any answer, whatever
        the DNS server)."""
        path = "/sys/class/net/%s/address" % bridge
        mac = run(["ip", "netns", "exec", self.host, "cat", path]).stdout
        run(["ip", "-n", self.host, "link", "set", bridge, "address",
             mac.strip()])

    def pid(self):
        try:
            with open(os.path.join(self.dir, "aardvark.pid")) as f:
                return f.read()
        except FileNotFoundError:
            return None


def ask(ns, server, name, rdtype="A", tcp=False, timeout=2.0):
    """NAME/RDTYPE asked from namespace NS to SERVER:53: the reply, or None."""
    q = dns.message.make_query(name, rdtype)
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    s = socket_in(ns, socket.AF_INET, kind)
    try:
        if tcp:  # dnspython takes a connected, non-blocking stream socket
            s.settimeout(timeout)
            s.connect((server, 53))
            s.setblocking(False)
            return dns.query.tcp(q, server, timeout=timeout, sock=s)
        s.setblocking(False)  # dnspython's timeout holds for such a socket only
        return dns.query.udp(q, server, timeout=timeout, sock=s)
    except (dns.exception.Timeout, OSError):
        return None
    finally:
        s.close()


def gone(pid):
    """Whether process PID has exited (a zombie counts: it serves nothing)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def scenario(r, checks):
    """Acceptance 1 against run R; CHECKS[name] = "ok" or what went wrong.
    Every check is recorded; none raises."""
    n1 = Net("podman1", 1, "aardbr1")
    n2 = Net("podman2", 2, "aardbr2")
    a1 = Ctr(r.ns.add("a1"), n1, "aone", 2, ["a1"])
    a2 = Ctr(r.ns.add("a2"), n1, "atwo", 3, ["a2"])
    b1 = Ctr(r.ns.add("b1"), n2, "bone", 2, ["b1"])
    a3 = Ctr(r.ns.add("a3"), n1, "athree", 4, ["a3"])

    def check(name, fn):
        try:
            got = fn()
            checks[name] = "ok" if got is True else "FAIL: %s" % (got,)
        except Exception as e:  # a reference row must never raise
            checks[name] = "FAIL: %s: %s" % (type(e).__name__, e)

    def want(reply, expect):
        got = addresses(reply) if reply is not None else "no reply"
        return True if got == expect else "%s (expected %s)" % (got, expect)

    for c in (a1, a2, b1):
        r.netavark("setup", c)
    for n in (n1, n2):
        r.pin_mac(n.bridge)
    pid = r.pid()
    check("pid file, no newline", lambda: bool(pid) and pid.isdigit() or
          repr(pid))
    check("name", lambda: want(ask(a1.ns, n1.gw, "atwo"), [a2.ip]))
    check("alias", lambda: want(ask(a1.ns, n1.gw, "a2"), [a2.ip]))
    check("NAME.dns.podman",
          lambda: want(ask(a1.ns, n1.gw, "atwo.dns.podman"), [a2.ip]))
    check("short ID", lambda: want(ask(a1.ns, n1.gw, a2.id[:12]), [a2.ip]))
    check("the other way",
          lambda: want(ask(a2.ns, n1.gw, "aone"), [a1.ip]))

    def ptr():
        m = ask(a1.ns, n1.gw, reverse_name(a2.ip), "PTR")
        if m is None:
            return "no reply"
        names = [rd.target.to_text() for rd in records(m.answer, "PTR")]
        return True if names and names[0].split(".")[0] == "atwo" else names
    check("PTR", ptr)

    def aaaa():
        m = ask(a1.ns, n1.gw, "atwo", "AAAA")
        if m is None:
            return "no reply"
        return True if rcode_text(m) == "NOERROR" and not m.answer else \
            "%s %s" % (rcode_text(m), m.answer)
    check("AAAA NODATA", aaaa)

    def isolated():
        leaks = []
        for ns, gw, names, ip in ((a1.ns, n1.gw, ("bone", "bone.dns.podman",
                                                  "b1"), b1.ip),
                                  (b1.ns, n2.gw, ("aone", "aone.dns.podman",
                                                  "a1"), a1.ip)):
            for name in names:
                m = ask(ns, gw, name)
                if m is not None and ip in addresses(m):
                    leaks.append(name)
        return True if not leaks else "leaked: %s" % leaks
    check("isolation from another network", isolated)
    check("TCP", lambda: want(ask(a1.ns, n1.gw, "atwo", tcp=True), [a2.ip]))

    def ttl():
        m = ask(a1.ns, n1.gw, "atwo")
        return "TTL %d" % m.answer[0].ttl if m and m.answer else "no answer"
    checks["(TTL of a name)"] = ttl()

    def later():
        r.netavark("setup", a3)
        wait_for("athree resolves", lambda: addresses(
            ask(a1.ns, n1.gw, "athree") or dns.message.Message()) == [a3.ip],
            5.0)
        return True if r.pid() == pid and not gone(int(pid)) else \
            "server restarted: pid %s, then %s" % (pid, r.pid())
    check("connected later, SIGHUP, no restart", later)

    def teardown():
        for c in (a3, a2, b1, a1):
            r.netavark("teardown", c)
        wait_for("aardvark-dns exits", lambda: gone(int(pid)), 5.0)
        return True if r.pid() is None else "pid file left: %r" % r.pid()
    check("last teardown: exits, pid file removed", teardown)


ORDER = ["pid file, no newline", "name", "alias", "NAME.dns.podman",
         "short ID", "the other way", "PTR", "AAAA NODATA",
         "isolation from another network", "TCP", "(TTL of a name)",
         "connected later, SIGHUP, no restart",
         "last teardown: exits, pid file removed"]


def need_netavark():
    for path in (NETAVARK, REAL):
        if not os.access(path, os.X_OK):
            pytest.skip("%s missing (apt-get install netavark aardvark-dns)"
                        % path)


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="aard-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_netavark_drives_linkdns(namespaces, linkdns, tmp):
    need_netavark()
    r = Run(namespaces, tmp, BIN, {})
    d = linkdns("", netns=r.host)
    r.env["LINKDNS_CONTROL"] = d.control
    checks = RESULTS.setdefault("linkdns", {})
    scenario(r, checks)
    left = d.ok("ls", "--owner", "aardvark:*")
    bad = {k: v for k, v in checks.items() if v != "ok" and k[0] != "("}
    assert not bad and left == "", "failed: %s\nleft in linkdnsd: %r\n%s" % (
        bad, left, d.stderr[-2000:])


def test_reference_aardvark_dns(namespaces, tmp):
    """Debian's aardvark-dns 1.4 on the same scenario: printed, never
    failing."""
    need_netavark()
    checks = RESULTS.setdefault("aardvark-dns 1.4", {})
    try:
        scenario(Run(namespaces, tmp, REAL, {}), checks)
    except Exception as e:
        checks["(run)"] = "FAIL: %s" % e
    mine = RESULTS.get("linkdns", {})
    lines = ["", "%-42s %-22s %s" % ("check", "linkdns", "aardvark-dns 1.4")]
    for k in ORDER + sorted(set(checks) - set(ORDER)):
        lines.append("%-42s %-22s %s" % (k, mine.get(k, "-")[:22],
                                         checks.get(k, "-")))
    print("\n".join(lines))


# -- without netavark: files written by hand ----------------------------------
def write_net(d, name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def start(d, port, control, timeout=15):
    """`aardvark-dns --config D -p PORT --control CONTROL run`: the
    CompletedProcess of the parent (the server goes on alone)."""
    return run([BIN, "--config", d, "-p", str(port), "--control", control,
                "run"], check=False, timeout=timeout)


def stop(d):
    try:
        with open(os.path.join(d, "aardvark.pid")) as f:
            pid = int(f.read())
    except FileNotFoundError:
        return
    os.kill(pid, signal.SIGTERM)
    wait_for("aardvark-dns stops", lambda: gone(pid), 5.0)


@pytest.fixture
def adir(tmp):
    d = os.path.join(tmp, "aardvark-dns")
    os.makedirs(d)
    yield d
    stop(d)


def test_malformed_file_keeps_its_network(linkdns, adir):
    d = linkdns("")
    port = free_port()
    good = cid("good")
    write_net(adir, "good", "127.0.0.1\n%s 127.0.9.2  webapp,web\n" % good)
    write_net(adir, "bad", "127.0.0.1\n%s 127.0.9.3  dbx\n" % cid("dbx"))
    p = start(adir, port, d.control)
    assert p.returncode == 0, p.stderr
    before = d.ok("ls", "--owner", "aardvark:*")
    assert "attach dbx bad" in before and "attach webapp good" in before
    # a line gone wrong: that network stays as it was, the other is synced
    write_net(adir, "bad", "127.0.0.1\n%s 127.0.9.3\n" % cid("dbx"))
    write_net(adir, "good", "127.0.0.1\n%s 127.0.9.2  webapp,web\n"
              "%s 127.0.9.4  cache\n" % (good, cid("cache")))
    with open(os.path.join(adir, "aardvark.pid")) as f:
        os.kill(int(f.read()), signal.SIGHUP)
    wait_for("cache attached", lambda: "attach cache good" in d.ok(
        "ls", "--owner", "aardvark:*"), 5.0)
    after = d.ok("ls", "--owner", "aardvark:*")
    assert "attach dbx bad --addr 127.0.9.3" in after
    assert "net bad --owner aardvark:bad" in after
    # at start, the same file is named with its line on stderr
    stop(adir)
    p = start(adir, port, d.control)
    assert p.returncode == 0, p.stderr
    assert "%s/bad:2: " % adir in p.stderr, p.stderr


def test_names_that_are_no_dns_name(linkdns, adir):
    d = linkdns("")
    odd = cid("odd")
    write_net(adir, "podnet", "127.0.0.1\n%s 127.0.9.5  my.app,x\n" % odd)
    p = start(adir, free_port(), d.control)
    assert p.returncode == 0, p.stderr
    ls = d.ok("ls", "--owner", "aardvark:*")
    short = odd[:12]
    assert "add %s --owner aardvark:%s" % (short, odd) in ls, ls
    assert "attach %s podnet --addr 127.0.9.5 --alias my.app --alias x" % (
        short) in ls, ls


def test_no_network_file_left_removes_and_exits(linkdns, adir):
    d = linkdns("")
    write_net(adir, "n1", "127.0.0.1\n%s 127.0.9.6  solo\n" % cid("solo"))
    p = start(adir, free_port(), d.control)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(adir, "aardvark.pid")) as f:
        pid = int(f.read())
    assert "solo" in d.ok("ls", "--owner", "aardvark:*")
    os.unlink(os.path.join(adir, "n1"))
    os.kill(pid, signal.SIGHUP)
    wait_for("exit", lambda: gone(pid), 5.0)
    assert not os.path.exists(os.path.join(adir, "aardvark.pid"))
    assert d.ok("ls", "--owner", "aardvark:*") == ""


def test_control_socket_missing_or_silent(adir, tmp):
    write_net(adir, "n1", "127.0.0.1\n%s 127.0.9.7  c1\n" % cid("c1"))
    t0 = time.monotonic()
    p = start(adir, free_port(), os.path.join(tmp, "nothing.sock"))
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1, p
    assert "nothing.sock" in p.stderr
    assert time.monotonic() - t0 < 3
    # a socket that accepts and never answers: 2 s, then exit 1
    path = os.path.join(tmp, "silent.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    try:
        t0 = time.monotonic()
        p = start(adir, free_port(), path)
        took = time.monotonic() - t0
    finally:
        s.close()
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1, p
    assert 1.5 < took < 5, took
    assert not os.path.exists(os.path.join(adir, "aardvark.pid"))
