"""Namespaces: a listener inside every registered network namespace.

Run as root: every test makes its own network namespaces with `ip netns add`
(names start with ``ldt<pid>-``), and removes them, their /etc/netns entries
and everything else it made when it ends, failed or not.

The daemon runs without --listen:

    linkdnsd --state TMP/links --no-upstream --control TMP/control.sock

and opens a UDP+TCP listener at 127.0.0.11@53 inside each registered
container's namespace.  The tests ask as a user inside the namespace would:
`ip netns exec NS dig db` (server from /etc/netns/NS/resolv.conf), getent
(glibc), a static musl program, or tests/netns/nsquery.py, which asks many
questions from inside many namespaces in one process (a socket made after
setns(2) into a namespace lives in it).

Descriptors are counted in /proc/PID/fd, memory read from /proc/PID/status;
the sockets a namespace holds are found in that namespace's /proc/net/udp and
/proc/net/tcp and matched with the daemon's descriptors by socket inode.

Container addresses (they only appear in answers and inside the namespaces
made here): 10.201.7.0/24 (veth pair), 10.250.0.0/16 (shared targets),
10.98.0.0/16, 10.97.0.0/16, 10.96.0.0/16 (containers).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (REPO, Daemon, Namespaces, daemon_factory, is_asan_build,
                      linkdnsd_path, netns_path, require_root, rss_env, run,
                      status_kib, wait_for)

NSQUERY = os.path.join(REPO, "tests", "netns", "nsquery.py")
RESOLVE_C = os.path.join(REPO, "tests", "netns", "resolve.c")
PYTHON = "/usr/bin/python3"
PREFIX = "ldt%d-" % os.getpid()
NETNS_PREFIX = PREFIX          # for conftest's namespaces fixture
DOMAIN = "link.internal"

READY_DEADLINE = 60.0    # 200 namespaces on a slow CI machine, or ASan
STOP_DEADLINE = 20.0
CLOSE_DEADLINE = 10.0    # "promptly": generous, the time taken is printed
APPEAR_DEADLINE = 15.0

# 127.0.0.11:53 as /proc/net/{udp,tcp} write a local address
LISTENER_HEX = "0B00007F:0035"


def listener_inodes(nsenter_args):
    """Inodes of the sockets bound to 127.0.0.11:53 in a namespace (UDP and
    TCP listening), read from its /proc/net/udp and /proc/net/tcp."""
    p = run(["nsenter"] + nsenter_args + ["cat", "/proc/net/udp",
                                          "/proc/net/tcp"])
    inodes = set()
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) > 9 and f[1] == LISTENER_HEX:
            inodes.add(int(f[9]))
    return inodes


# -- the daemon ------------------------------------------------------------------
class NsDaemon(Daemon):
    """conftest's Daemon without --listen: it only serves namespaces (ready
    when it logs READY_LINE, kept in .ready_line)."""

    STOP_DEADLINE = STOP_DEADLINE

    def __init__(self, table, extra_args=(), env=None):
        super().__init__(table, extra_args, start_deadline=READY_DEADLINE,
                         listen_host=None, env=env)
        self.pid = self.proc.pid

    def reload(self, table):
        """Rewrites the table file and sends SIGHUP; waits until the daemon
        says it reloaded (or refused)."""
        n = len(self.stderr)
        self.write_table(table)
        self.proc.send_signal(signal.SIGHUP)
        return self.wait_log(r"^linkdnsd: (info: reloaded:|error: reload "
                             r"failed).*$", READY_DEADLINE, after=n,
                             what="the reload's outcome")

    def fds(self):
        return os.listdir("/proc/%d/fd" % self.pid)

    def fd_count(self):
        return len(self.fds())

    def socket_inodes(self):
        out = set()
        for fd in self.fds():
            try:
                target = os.readlink("/proc/%d/fd/%s" % (self.pid, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]$", target)
            if m:
                out.add(int(m.group(1)))
        return out

    def status_kib(self, key):
        return status_kib(self.pid, key)


@pytest.fixture
def daemons():
    """Factory: ``d = daemons(table, *args)``; stopped (exit 0 asserted)
    when the test ends."""
    yield from daemon_factory(NsDaemon)


# -- asking from inside a namespace ------------------------------------------
class Dig:
    """dig's output, parsed: status, server, sections as (name, type, rdata)."""

    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        self.out = proc.stdout
        self.text = "%s\n(exit %d)\n%s%s" % (" ".join(argv), proc.returncode,
                                              proc.stdout, proc.stderr)
        m = re.search(r"status: (\w+)", self.out)
        self.status = m.group(1) if m else None
        m = re.search(r"^;; SERVER: ([^#\s]+)#(\d+)", self.out, re.M)
        self.server = (m.group(1), int(m.group(2))) if m else None
        self.sections = {}
        current = None
        for line in self.out.splitlines():
            m = re.match(r"^;; (\w+) SECTION:$", line)
            if m:
                current = self.sections.setdefault(m.group(1), [])
                continue
            if not line.strip() or line.startswith(";"):
                current = None
                continue
            if current is not None:
                f = line.split(None, 4)
                if len(f) == 5:
                    current.append((f[0].lower(), f[3], f[4]))

    def rdata(self, section, rdtype):
        return sorted(r for _n, t, r in self.sections.get(section, [])
                      if t == rdtype)


def dig_in(ns, *args, server=None):
    """`ip netns exec NS dig ARGS`: the server comes from the namespace's
    resolv.conf unless one is named."""
    argv = ["ip", "netns", "exec", ns, "dig", "+time=2", "+tries=2"]
    if server:
        argv.append("@" + server)
    argv += list(args)
    return Dig(argv, run(argv, check=False, timeout=30))


def nsquery(namespaces_questions, timeout=2.0, tries=3):
    """Asks from inside each namespace (list of (netns path, [(name, type)]))
    through tests/netns/nsquery.py; returns its report."""
    spec = {"timeout": timeout, "tries": tries,
            "namespaces": [{"netns": p, "questions": q}
                           for p, q in namespaces_questions]}
    p = subprocess.run([PYTHON, NSQUERY], input=json.dumps(spec),
                       capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, "nsquery failed:\n%s" % p.stderr
    out = json.loads(p.stdout)
    for e in out:
        assert e["error"] is None, e["error"]
    return out


def wait_answer(ns_args, name, expected, deadline=APPEAR_DEADLINE):
    """Polls `nsenter NS_ARGS dig @127.0.0.11 +short NAME` until it prints
    exactly the expected addresses; returns seconds taken."""
    t0 = time.monotonic()
    argv = (["nsenter"] + ns_args +
            ["dig", "@127.0.0.11", "+time=1", "+tries=1", "+short", name])
    while True:
        p = run(argv, check=False, timeout=30)
        if sorted(p.stdout.split()) == sorted(expected):
            return time.monotonic() - t0
        if time.monotonic() - t0 > deadline:
            raise AssertionError("%s: expected %s within %.0f s, last output:"
                                 "\n%s%s" % (" ".join(argv), expected,
                                             deadline, p.stdout, p.stderr))
        time.sleep(0.05)  # poll interval


# =============================================================================
# web and db: the resolver inside web, unchanged, finds db
# =============================================================================
WEB_ADDR = "10.201.7.2"
DB_ADDR = "10.201.7.3"


class Pair:
    pass


@pytest.fixture(scope="module")
def pair():
    """Namespaces for web and db (lo up, a veth pair between them),
    /etc/netns/<ns>/resolv.conf = nameserver 127.0.0.11, and linkdnsd on a
    table registering both and `link web db:db`."""
    ns = Namespaces(PREFIX)
    d = None
    try:
        web = ns.add("web", resolv_conf=True)
        db = ns.add("db", resolv_conf=True)
        va, vb = "%sw" % PREFIX[:-1], "%sd" % PREFIX[:-1]
        run(["ip", "link", "add", va, "netns", web, "type", "veth", "peer",
             "name", vb, "netns", db])
        run(["ip", "-n", web, "addr", "add", WEB_ADDR + "/24", "dev", va])
        run(["ip", "-n", db, "addr", "add", DB_ADDR + "/24", "dev", vb])
        run(["ip", "-n", web, "link", "set", va, "up"])
        run(["ip", "-n", db, "link", "set", vb, "up"])
        table = ("# web and db, linked\n"
                 "add web --netns %s --addr %s\n"
                 "add db --netns %s --addr %s --expose 5432/tcp\n"
                 "link web db:db\n" % (netns_path(web), WEB_ADDR,
                                       netns_path(db), DB_ADDR))
        d = NsDaemon(table)
        p = Pair()
        p.web, p.db, p.daemon = web, db, d
        yield p
        d.stop()
        d = None
    finally:
        if d is not None:
            d._cleanup()
        ns.cleanup()


@pytest.fixture(scope="module")
def musl_resolve(tmp_path_factory):
    """tests/netns/resolve.c built with `musl-gcc -static`."""
    cc = shutil.which("musl-gcc")
    if not cc:
        pytest.fail("musl-gcc not found: apt-get install musl-tools",
                    pytrace=False)
    out = str(tmp_path_factory.mktemp("musl") / "resolve")
    run([cc, "-static", "-O2", "-Wall", "-o", out, RESOLVE_C])
    return out


def test_ready_line_counts_both_namespaces(pair):
    assert re.search(r"\b2 namespaces\b", pair.daemon.ready_line), \
        pair.daemon.ready_line


def test_dig_db_in_web_answers_db_address(pair):
    r = dig_in(pair.web, "db")
    assert r.server == ("127.0.0.11", 53), r.text   # from resolv.conf
    assert r.status == "NOERROR", r.text
    assert r.rdata("ANSWER", "A") == [DB_ADDR], r.text
    assert [n for n, _t, _r in r.sections["ANSWER"]] == ["db."], r.text


def test_dig_srv_in_web(pair):
    r = dig_in(pair.web, "SRV", "_5432._tcp.db")
    assert r.status == "NOERROR", r.text
    assert r.rdata("ANSWER", "SRV") == ["0 0 5432 db.%s." % DOMAIN], r.text
    assert r.rdata("ADDITIONAL", "A") == [DB_ADDR], r.text
    # the service-name form (/etc/services: postgresql 5432/tcp)
    r = dig_in(pair.web, "SRV", "_postgresql._tcp.db")
    assert r.status == "NOERROR", r.text
    assert r.rdata("ANSWER", "SRV") == ["0 0 5432 db.%s." % DOMAIN], r.text


def test_dig_reverse_of_db_in_web(pair):
    r = dig_in(pair.web, "-x", DB_ADDR)
    assert r.status == "NOERROR", r.text
    assert r.rdata("ANSWER", "PTR") == ["db.%s." % DOMAIN], r.text


def test_getent_hosts_db_in_web(pair):
    p = run(["ip", "netns", "exec", pair.web, "getent", "hosts", "db"],
            check=False)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    lines = [ln.split() for ln in p.stdout.splitlines()]
    assert lines and all(ln[0] == DB_ADDR for ln in lines), p.stdout
    assert "db" in lines[0][1:], p.stdout


def test_getent_ahosts_db_in_web(pair):
    p = run(["ip", "netns", "exec", pair.web, "getent", "ahosts", "db"],
            check=False)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    addrs = {ln.split()[0] for ln in p.stdout.splitlines()}
    assert addrs == {DB_ADDR}, p.stdout


def test_musl_getaddrinfo_db_in_web(pair, musl_resolve):
    p = run(["ip", "netns", "exec", pair.web, musl_resolve, "db"],
            check=False)
    assert p.returncode == 0, ("musl getaddrinfo(\"db\") failed", p.stdout,
                               p.stderr)
    assert p.stdout.split() == [DB_ADDR], p.stdout


def test_musl_getaddrinfo_fails_for_unlinked_name(pair, musl_resolve):
    # the program can fail: web has no link to "nosuch"
    p = run(["ip", "netns", "exec", pair.web, musl_resolve, "nosuch"],
            check=False)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == "", p.stdout


@pytest.mark.parametrize("who,addr", [("web", WEB_ADDR), ("db", DB_ADDR)],
                         ids=["web", "db"])
def test_getent_hosts_own_name(pair, who, addr):
    """Inside web (db), `getent hosts web` (db) gives its own address."""
    p = run(["ip", "netns", "exec", getattr(pair, who), "getent", "hosts",
             who], check=False)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert p.stdout.split()[0] == addr, p.stdout


def test_db_does_not_resolve_web(pair):
    for name in ("web", "web.%s" % DOMAIN):
        p = run(["ip", "netns", "exec", pair.db, "getent", "hosts", name],
                check=False)
        assert p.returncode != 0 and p.stdout == "", \
            ("db resolved %s" % name, p.returncode, p.stdout)
    r = dig_in(pair.db, "web")
    assert r.server == ("127.0.0.11", 53), r.text
    assert r.status in ("NXDOMAIN", "REFUSED"), r.text
    assert r.sections.get("ANSWER", []) == [], r.text
    r = dig_in(pair.db, "-x", WEB_ADDR)
    assert r.rdata("ANSWER", "PTR") == [], r.text


def test_listener_is_inside_the_namespaces(pair):
    """The sockets at 127.0.0.11:53 in web and db are the daemon's."""
    mine = pair.daemon.socket_inodes()
    for ns in (pair.web, pair.db):
        inodes = listener_inodes(["--net=" + netns_path(ns)])
        assert len(inodes) == 2, ("expected one UDP and one TCP socket at "
                                  "127.0.0.11:53 in %s" % ns, inodes)
        assert inodes <= mine, (ns, inodes, mine)


# =============================================================================
# 200 namespaces, one shared db under 200 aliases
# =============================================================================
SHARED_DB = "10.250.0.1"


def member_addr(base, i):
    return "10.%d.%d.%d" % (base, i // 250, i % 250 + 1)


def test_200_namespaces_each_resolves_only_its_own_alias(namespaces, daemons):
    n = 200
    names = namespaces.add_many("m", n)
    alias = ["dbalias%d" % i for i in range(n)]
    lines = ["add db --addr %s --expose 5432/tcp" % SHARED_DB]
    for i, x in enumerate(names):
        lines.append("add c%d --netns %s --addr %s"
                     % (i, netns_path(x), member_addr(98, i)))
    for i in range(n):
        lines.append("link c%d db:%s" % (i, alias[i]))
    d = daemons("\n".join(lines) + "\n")
    print("ready with %d namespaces in %.2f s" % (n, d.ready_seconds))
    assert re.search(r"\b%d namespaces\b" % n, d.ready_line), d.ready_line

    questions = []
    for i, x in enumerate(names):
        q = [(alias[j], "A") for j in range(n)]
        q += [(alias[j] + "." + DOMAIN, "A") for j in range(n) if j != i]
        q.append(("c%d" % i, "A"))          # its own name
        questions.append((netns_path(x), q))
    t0 = time.monotonic()
    report = nsquery(questions)
    print("%d questions in %.1f s" % (sum(len(q) for _, q in questions),
                                      time.monotonic() - t0))
    bad = []
    for i, e in enumerate(report):
        assert len(e["answers"]) == len(questions[i][1]), e
        for (qname, _t), a in zip(questions[i][1], e["answers"]):
            if qname == alias[i]:
                if a["rcode"] != "NOERROR" or a["answer"] != [SHARED_DB]:
                    bad.append("ns %d: own alias %s -> %s" % (i, qname, a))
            elif qname == "c%d" % i:
                if a["answer"] != [member_addr(98, i)]:
                    bad.append("ns %d: own name %s -> %s" % (i, qname, a))
            elif a["answer"] or a["rcode"] not in ("NXDOMAIN", "REFUSED"):
                # another namespace's alias: never an address
                bad.append("ns %d: other alias %s -> %s" % (i, qname, a))
    assert not bad, "%d wrong answers, first ones:\n%s" % (
        len(bad), "\n".join(bad[:20]))


# =============================================================================
# Sockets closed when the namespace or the process goes away
# =============================================================================
def base_table(keep_ns):
    return ("add db --addr %s --expose 5432/tcp\n"
            "add keep --netns %s --addr 10.250.0.2\n"
            "link keep db:dbkeep\n" % (SHARED_DB, netns_path(keep_ns)))


def test_netns_del_closes_its_sockets_others_keep_answering(namespaces,
                                                             daemons):
    names = [namespaces.add(t) for t in ("a", "b", "c")]
    lines = ["add db --addr %s" % SHARED_DB]
    for i, x in enumerate(names):
        lines += ["add c%d --netns %s --addr %s" % (i, netns_path(x),
                                                    member_addr(97, i)),
                  "link c%d db:db%d" % (i, i)]
    d = daemons("\n".join(lines) + "\n")
    questions = [(netns_path(x), [("db%d" % i, "A")])
                 for i, x in enumerate(names)]
    for e in nsquery(questions):
        assert e["answers"][0]["answer"] == [SHARED_DB], e

    victim = names[1]
    inodes = listener_inodes(["--net=" + netns_path(victim)])
    assert len(inodes) == 2 and inodes <= d.socket_inodes(), inodes
    before = d.fd_count()
    namespaces.delete(victim)
    took, _ = wait_for("the daemon closes the sockets of deleted namespace "
                       "%s\nstderr:\n%s" % (victim, d.stderr),
                       lambda: not (inodes & d.socket_inodes()),
                       CLOSE_DEADLINE, interval=0.01)
    print("sockets of the deleted namespace closed after %.3f s" % took)
    assert d.fd_count() == before - 2, (before, d.fds())
    d.wait_log(r"^linkdnsd: info: namespace %s of 'c1' was deleted"
               % re.escape(netns_path(victim)), 5)
    rest = [questions[0], questions[2]]
    for e in nsquery(rest):
        assert e["answers"][0]["rcode"] == "NOERROR", e
        assert e["answers"][0]["answer"] == [SHARED_DB], e


def cycle_daemon(daemons, table):
    """A daemon whose RSS means something (conftest.rss_env)."""
    return daemons(table, env=rss_env())


def rss_slack_kib():
    """Allowed VmRSS growth between cycle 10 and cycle 100 (measured: under
    20 KiB in a plain build, under 150 KiB in a sanitizer build)."""
    return 1024 if is_asan_build() else 256


def settled_fd_count(d, deadline=5.0):
    """The daemon's descriptor count once no disk job holds one for a moment:
    a namespace seen for the first time has its id written by a compaction
    (a temporary file, open in the writer thread for a few milliseconds)."""
    end = time.monotonic() + deadline
    while True:
        a = d.fd_count()
        time.sleep(0.1)  # long enough for a compaction of a small table
        if a == d.fd_count() and not os.path.exists(d.state + ".tmp"):
            return a
        if time.monotonic() > end:
            raise AssertionError("descriptors never settled: %s" % d.fds())


def test_100_netns_cycles_leave_fds_and_rss_flat(namespaces, daemons):
    keep = namespaces.add("keep")
    d = cycle_daemon(daemons, base_table(keep))
    wait_answer(["--net=" + netns_path(keep)], "dbkeep", [SHARED_DB])
    base_fds = settled_fd_count(d)
    samples = []
    for i in range(100):
        x = namespaces.add("cy%d" % i)
        m = d.reload(base_table(keep) +
                     "add cy%d --netns %s --addr %s\nlink cy%d db:dbcy\n"
                     % (i, netns_path(x), member_addr(96, i), i))
        assert "reloaded" in m.group(0), d.stderr
        wait_answer(["--net=" + netns_path(x)], "dbcy", [SHARED_DB])
        assert settled_fd_count(d) == base_fds + 2, (i, d.fds())
        namespaces.delete(x)
        took, _ = wait_for("cycle %d: descriptors back to %d after ip netns "
                           "del (now %d)" % (i, base_fds, d.fd_count()),
                           lambda: d.fd_count() == base_fds, CLOSE_DEADLINE,
                           interval=0.01)
        samples.append((took, d.fd_count(), d.status_kib("VmRSS")))
    print("close after ip netns del: max %.3f s, mean %.3f s"
          % (max(s[0] for s in samples),
             sum(s[0] for s in samples) / len(samples)))
    print("VmRSS (KiB) after cycles 1, 10, 50, 100: %s"
          % [samples[k][2] for k in (0, 9, 49, 99)])
    assert samples[-1][1] == base_fds
    growth = samples[-1][2] - samples[9][2]
    assert growth <= rss_slack_kib(), (
        "VmRSS grew by %d KiB between cycle 10 and cycle 100" % growth)
    # the namespace that stayed still answers
    wait_answer(["--net=" + netns_path(keep)], "dbkeep", [SHARED_DB], 5)


def spawn_netns_process():
    """`unshare -n sleep`: a process in a new network namespace (unshare
    execs, so the PID stays) with lo up.  Returns the Popen."""
    p = subprocess.Popen(["unshare", "-n", "sleep", "600"],
                         stdin=subprocess.DEVNULL)
    own = os.readlink("/proc/self/ns/net")

    def moved():
        try:
            with open("/proc/%d/comm" % p.pid) as f:
                comm = f.read().strip()
            return (comm == "sleep" and
                    os.readlink("/proc/%d/ns/net" % p.pid) != own)
        except OSError:
            return False
    try:
        wait_for("unshare -n sleep is in its own namespace", moved, 10,
                 interval=0.01)
        run(["nsenter", "-t", str(p.pid), "-n", "ip", "link", "set", "lo",
             "up"])
    except BaseException:
        p.kill()
        p.wait()
        raise
    return p


@pytest.fixture
def processes():
    procs = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_pid_container_exit_closes_its_sockets_100_cycles(namespaces, daemons,
                                                          processes):
    keep = namespaces.add("keep")
    d = cycle_daemon(daemons, base_table(keep))
    base_fds = settled_fd_count(d)
    samples = []
    for i in range(100):
        p = spawn_netns_process()
        processes.append(p)
        m = d.reload(base_table(keep) +
                     "add pc%d --pid %d --addr %s\nlink pc%d db:dbpc\n"
                     % (i, p.pid, member_addr(95, i), i))
        assert "reloaded" in m.group(0), d.stderr
        nsargs = ["-t", str(p.pid), "-n"]
        wait_answer(nsargs, "dbpc", [SHARED_DB])
        wait_answer(nsargs, "pc%d" % i, [member_addr(95, i)])
        inodes = listener_inodes(nsargs)
        assert len(inodes) == 2 and inodes <= d.socket_inodes(), inodes
        assert d.fd_count() > base_fds
        n = len(d.stderr)
        p.kill()
        p.wait()
        took, _ = wait_for("cycle %d: the daemon closes the sockets of exited "
                           "process %d (descriptors %d, at start %d)\n"
                           "stderr:\n%s" % (i, p.pid, d.fd_count(), base_fds,
                                            d.stderr),
                           lambda: not (inodes & d.socket_inodes()) and
                           d.fd_count() == base_fds, CLOSE_DEADLINE,
                           interval=0.01)
        if i == 0:
            print("sockets closed %.3f s after the process exited" % took)
            d.wait_log(r"^linkdnsd: info: process %d of 'pc0' exited"
                       % p.pid, 5, after=n)
        samples.append((took, d.status_kib("VmRSS")))
    print("close after exit: max %.3f s; VmRSS (KiB) after cycles 1, 10, "
          "100: %s" % (max(s[0] for s in samples),
                       [samples[k][1] for k in (0, 9, 99)]))
    growth = samples[-1][1] - samples[9][1]
    assert growth <= rss_slack_kib(), (
        "VmRSS grew by %d KiB between cycle 10 and cycle 100" % growth)
    wait_answer(["--net=" + netns_path(keep)], "dbkeep", [SHARED_DB], 5)


# =============================================================================
# A missing namespace waits; a non-namespace is refused
# =============================================================================
def test_missing_namespace_warns_and_listens_once_created(namespaces,
                                                          daemons):
    early = namespaces.add("early")
    late = namespaces.unique("late")
    namespaces.names.append(late)          # removed at the end if made
    late_path = netns_path(late)
    assert not os.path.exists(late_path)
    table = ("# the namespace of late does not exist yet\n"
             "add db --addr %s\n"
             "add late --netns %s --addr 10.250.0.3\n"
             "add early --netns %s --addr 10.250.0.4\n"
             "link early late\n"
             "link late db\n" % (SHARED_DB, late_path, netns_path(early)))
    d = daemons(table)
    d.wait_log(r"^linkdnsd: warning: %s:3: namespace %s of 'late' does not "
               r"exist \(yet\)" % (re.escape(d.state), re.escape(late_path)),
               5, what="the warning naming file:line")
    # late stays registered: its records serve early's view
    wait_answer(["--net=" + netns_path(early)], "late", ["10.250.0.3"], 5)

    n = len(d.stderr)
    t0 = time.monotonic()
    run(["ip", "netns", "add", late])
    run(["ip", "-n", late, "link", "set", "lo", "up"])
    wait_answer(["--net=" + late_path], "db", [SHARED_DB])
    print("listener in the new namespace answered %.3f s after ip netns add"
          % (time.monotonic() - t0))
    wait_answer(["--net=" + late_path], "late", ["10.250.0.3"], 5)
    d.wait_log(r"^linkdnsd: info: namespace %s of 'late' appeared"
               % re.escape(late_path), 5, after=n)
    inodes = listener_inodes(["--net=" + late_path])
    assert len(inodes) == 2 and inodes <= d.socket_inodes(), inodes


def test_missing_namespace_in_a_missing_directory(namespaces, daemons,
                                                  tmp_path):
    """Like /run/netns on a fresh boot before the first `ip netns add`: the
    directory of the path does not exist either when the table is loaded."""
    target = namespaces.add("bind")
    where = tmp_path / "later"
    path = str(where / "ns")
    d = daemons("add db --addr %s\nadd late --netns %s --addr 10.250.0.5\n"
                "link late db\n" % (SHARED_DB, path))
    d.wait_log(r"^linkdnsd: warning: %s:2: namespace %s of 'late' does not "
               r"exist \(yet\)" % (re.escape(d.state), re.escape(path)), 5)
    # what `ip netns add` does: create the directory and the file, then
    # mount the namespace on the file
    os.mkdir(str(where))
    open(path, "w").close()
    run(["mount", "--bind", netns_path(target), path])
    namespaces.mounts.append(path)
    wait_answer(["--net=" + path], "db", [SHARED_DB])


NOT_NETNS = {
    "regular-file": lambda tmp: _regular_file(tmp),
    "uts-namespace": lambda tmp: "/proc/self/ns/uts",
    "directory": lambda tmp: str(tmp),
}


def _regular_file(tmp):
    p = tmp / "not-a-namespace"
    p.write_text("")
    return str(p)


@pytest.mark.parametrize("kind", sorted(NOT_NETNS))
def test_path_that_is_not_a_network_namespace_is_refused(kind, tmp_path):
    require_root("the namespace tests (ip netns add, setns)")
    path = NOT_NETNS[kind](tmp_path)
    state = tmp_path / "links"
    state.write_text("# line 1\nadd db --addr %s\n"
                     "add bad --netns %s --addr 10.250.0.6\n"
                     "link bad db\n" % (SHARED_DB, path))
    expect = re.compile(r"^linkdnsd: error: %s:3: %s of 'bad' is not a "
                        r"network namespace$" % (re.escape(str(state)),
                                                 re.escape(path)), re.M)
    base = [linkdnsd_path(), "--state", str(state), "--no-upstream",
            "--control", str(tmp_path / "c.sock")]
    for argv in (base + ["--check-config"], base):
        p = run(argv, check=False, timeout=20)
        assert p.returncode == 1, (argv, p.returncode, p.stderr)
        assert expect.search(p.stderr), p.stderr
        assert "ready" not in p.stderr, p.stderr


def test_reload_naming_a_non_namespace_keeps_the_running_table(namespaces,
                                                                daemons,
                                                                tmp_path):
    keep = namespaces.add("keep")
    d = daemons(base_table(keep))
    wait_answer(["--net=" + netns_path(keep)], "dbkeep", [SHARED_DB])
    bogus = tmp_path / "bogus"
    bogus.write_text("")
    n = len(d.stderr)
    m = d.reload(base_table(keep) +
                 "add bad --netns %s --addr 10.250.0.7\n" % bogus)
    assert "reload failed" in m.group(0), d.stderr
    assert re.search(r"^linkdnsd: error: %s:4: %s of 'bad' is not a network "
                     r"namespace$" % (re.escape(d.state),
                                      re.escape(str(bogus))),
                     d.stderr[n:], re.M), d.stderr[n:]
    wait_answer(["--net=" + netns_path(keep)], "dbkeep", [SHARED_DB], 5)
