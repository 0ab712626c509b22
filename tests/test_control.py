"""Control plane: linkdnsctl, live changes, durable state.

Every test runs its own daemon in its own directory (made 0755 so that a
non-root caller reaches the socket and is refused by the socket itself):

    linkdnsd --state DIR/links --listen 127.0.0.1@PORT --no-upstream \
             --control DIR/control.sock

and changes its table with `linkdnsctl --control DIR/control.sock ...`.
A change is acknowledged (exit 0) only once it is on disk and visible, so a
query sent right after linkdnsctl returns must already see it: no test sleeps
between a change and the query that checks it.

Container addresses: 127.40.0.0/16 (no other test file uses it).
Runs as root: namespaces (`ip netns add`), `setpriv` to a non-root caller,
`groupadd`/`groupdel`, and a small tmpfs for the disk-full case; everything
made is removed at the end of the test, failed or not.
"""

import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import zlib

import dns.exception
import dns.message
import dns.query
import pytest

from conftest import (NETNS_DIR, Daemon, addresses, linkdnsctl_path,
                      rcode_text, require_root, run, run_linkdnsd, stop_all)

DOMAIN = "link.internal"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
PREFIX = "ldc%d" % os.getpid()
NETNS_PREFIX = PREFIX + "-"     # for conftest's namespaces fixture
DEADLINE = 10.0


# -- helpers -------------------------------------------------------------------
class CtlDaemon(Daemon):
    """A conftest Daemon whose directory and state file are the test's: it
    can be killed and started again on the same file, and the state file can
    live elsewhere (a tmpfs)."""

    def __init__(self, workdir, state=None, extra_args=()):
        super().__init__(None, extra_args, workdir=workdir, state=state)

    def sigkill(self):
        self.proc.kill()
        self.proc.wait()

    def nfds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    # -- linkdnsctl (ctl and ok: conftest) --------------------------------------
    def ls(self):
        return self.ok("ls")

    def ask(self, name, source, rdtype="A", tcp=False, timeout=3.0):
        return self.query(name, rdtype, source=source, tcp=tcp,
                          timeout=timeout)

    def read_state(self):
        with open(self.state, "rb") as f:
            return f.read()


def assert_refused(p, rc, *tokens):
    """linkdnsctl refused: exit RC (an int or a tuple), nothing on stdout,
    exactly one line 'linkdnsctl: error: ...' on stderr holding TOKENS."""
    rcs = rc if isinstance(rc, tuple) else (rc,)
    assert p.returncode in rcs, ("exit %d, expected %s\nstdout:\n%s\n"
                                 "stderr:\n%s" % (p.returncode, rc, p.stdout,
                                                  p.stderr))
    assert p.stdout == "", "stdout on a refusal: %r" % p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) == 1, "expected one error line, got %r" % p.stderr
    assert lines[0].startswith("linkdnsctl: error: "), lines[0]
    for t in tokens:
        assert t.lower() in lines[0].lower(), (
            "%r not in the error line %r" % (t, lines[0]))


def fqdn(name):
    return "%s.%s" % (name, DOMAIN)


@pytest.fixture
def work():
    require_root("the control tests")
    d = tempfile.mkdtemp(prefix="ldc-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemons(work):
    """Factory: start(workdir=None, state=None, *extra) -> CtlDaemon; each is
    stopped with SIGTERM (exit 0 asserted) at the end of the test."""
    started = []

    def start(*extra, workdir=None, state=None):
        d = CtlDaemon(workdir or work, state=state, extra_args=extra)
        started.append(d)
        return d

    yield start
    try:
        # a daemon the test killed on purpose has no exit status to check
        stop_all([d for d in started if d.running()])
    finally:
        for d in started:
            d._cleanup()


def dig_in_ns(ns, name, rdtype="A"):
    return run(["ip", "netns", "exec", ns, "dig", "@127.0.0.11", "+time=1",
               "+tries=1", "+norecurse", name, rdtype], check=False,
              timeout=20)


def fast_query(port, name, source, tcp=False, timeout=1.0):
    """(rcode text, sorted A addresses) or None when nothing answered."""
    q = dns.message.make_query(name, "A")
    try:
        if tcp:
            r = dns.query.tcp(q, "127.0.0.1", port=port, source=source,
                              timeout=timeout)
        else:
            r = dns.query.udp(q, "127.0.0.1", port=port, source=source,
                              timeout=timeout)
    except (dns.exception.Timeout, OSError, EOFError):
        return None
    return rcode_text(r), tuple(addresses(r))


# -- 1. live changes -------------------------------------------------------------
def test_link_unlink_rm_visible_at_once(daemons):
    d = daemons()
    WEB, DB, DB2 = "127.40.1.3", "127.40.1.2", "127.40.1.4"
    d.ok("add", "db", "--addr", DB)
    d.ok("add", "web", "--addr", WEB)
    r = d.ask(fqdn("database"), WEB)
    assert rcode_text(r) == "NXDOMAIN", r.to_text()
    for i in range(30):
        d.ok("link", "web", "db:database")
        for name in ("database", fqdn("database"), "DataBase", "db",
                     fqdn("db")):
            r = d.ask(name, WEB, tcp=bool(i % 2))
            assert rcode_text(r) == "NOERROR", (i, name, r.to_text())
            assert addresses(r) == [DB], (i, name, r.to_text())
        d.ok("unlink", "web", "database")
        r = d.ask(fqdn("database"), WEB, tcp=bool(i % 2))
        assert rcode_text(r) == "NXDOMAIN", (i, r.to_text())
        # a bare unknown name is forwarded: REFUSED under --no-upstream
        r = d.ask("database", WEB)
        assert rcode_text(r) == "REFUSED", (i, r.to_text())
        r = d.ask(fqdn("db"), WEB)
        assert rcode_text(r) == "NXDOMAIN", (i, r.to_text())

    # --replace: a new address at once, the links to it (and from it) kept
    d.ok("add", "db2", "--addr", DB2)
    d.ok("link", "web", "db:database")
    d.ok("link", "db", "db2")
    before = d.ls()
    NEW = "127.40.1.9"
    d.ok("add", "db", "--replace", "--addr", NEW)
    r = d.ask("database", WEB)
    assert addresses(r) == [NEW], r.to_text()
    r = d.ask(fqdn("db2"), NEW)         # db's own view, from its new address
    assert addresses(r) == [DB2], r.to_text()
    r = d.ask(fqdn("db2"), DB)          # the old address is nobody's now
    assert rcode_text(r) == "REFUSED", r.to_text()
    after = d.ls()
    assert after == before.replace("--addr %s" % DB, "--addr %s" % NEW), (
        before, after)

    # rm: the name is gone from every view at once, with its links
    d.ok("rm", "db")
    for name in (fqdn("database"), fqdn("db")):
        r = d.ask(name, WEB)
        assert rcode_text(r) == "NXDOMAIN", (name, r.to_text())
    r = d.ask(fqdn("db2"), NEW)
    assert rcode_text(r) == "REFUSED", r.to_text()
    assert d.ls() == "add web --addr %s\nadd db2 --addr %s\n" % (WEB, DB2)


def test_linkdns_control_env(daemons):
    d = daemons()
    env = dict(os.environ, LINKDNS_CONTROL=d.control)
    ctl = linkdnsctl_path()
    p = subprocess.run([ctl, "add", "envc", "--addr", "127.40.1.20"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([ctl, "ls"], env=env, capture_output=True,
                       text=True, timeout=30)
    assert p.stdout == "add envc --addr 127.40.1.20\n", p.stdout


def test_namespace_listener_with_add_and_rm(daemons, namespaces):
    ns = namespaces.add("l")
    d = daemons()
    d.ok("add", "db", "--addr", "127.40.2.3")
    r = dig_in_ns(ns, fqdn("db"))
    assert "status: NOERROR" not in r.stdout, r.stdout   # nobody listens yet
    base = d.nfds()
    d.ok("add", "c1", "--netns", os.path.join(NETNS_DIR, ns),
         "--addr", "127.40.2.2")
    d.ok("link", "c1", "db")
    r = dig_in_ns(ns, fqdn("db"))
    assert "status: NOERROR" in r.stdout and "127.40.2.3" in r.stdout, (
        "no listener in %s right after a live `add --netns` was "
        "acknowledged (stats: %s)\ndig:\n%s\ndaemon:\n%s"
        % (ns, d.ok("stats", "--json"), r.stdout, d.stderr[-2000:]))
    r = dig_in_ns(ns, "db")
    assert "127.40.2.3" in r.stdout, r.stdout
    assert d.nfds() >= base + 2, (base, d.nfds())

    # --replace keeps a listener in the namespace
    d.ok("add", "c1", "--replace", "--netns", os.path.join(NETNS_DIR, ns),
         "--addr", "127.40.2.5")
    r = dig_in_ns(ns, fqdn("db"))
    assert "127.40.2.3" in r.stdout, (r.stdout, d.stderr[-2000:])

    d.ok("rm", "c1")
    end = time.monotonic() + DEADLINE
    while d.nfds() > base and time.monotonic() < end:
        time.sleep(0.02)
    assert d.nfds() == base, ("descriptors after rm: %d, before add: %d"
                              % (d.nfds(), base))
    r = dig_in_ns(ns, fqdn("db"))
    assert r.returncode != 0 and "status:" not in r.stdout, r.stdout


# -- 2. crash test ---------------------------------------------------------------
CLIENTS = 4
KILL_POINTS = 20
TOTAL_CHANGES = 2000
ROUND_QUOTA = 150          # changes offered per round; the kill cuts it short


class Model:
    """The table as the canonical lines `ls` prints, as a set."""

    @staticmethod
    def apply(lines, op):
        lines = set(lines)
        kind = op[0]
        if kind == "add":
            lines.add("add %s --addr %s" % (op[1], op[2]))
        elif kind == "link":
            lines.add("link %s %s:%s" % (op[1], op[2], op[3]))
        elif kind == "unlink":
            lines.discard("link %s %s:%s" % (op[1], op[2], op[3]))
        elif kind == "rm":
            name = op[1]
            lines = {l for l in lines
                     if not (l.startswith("add %s " % name)
                             or (l.startswith("link ")
                                 and (l.split()[1] == name
                                      or l.split()[2].split(":")[0] == name)))}
        return lines

    @staticmethod
    def argv(op):
        kind = op[0]
        if kind == "add":
            return ["add", op[1], "--addr", op[2]]
        if kind == "link":
            return ["link", op[1], "%s:%s" % (op[2], op[3])]
        if kind == "unlink":
            return ["unlink", op[1], op[3]]
        return ["rm", op[1]]


def client_op(k, step):
    """Client K's STEP-th change: add n / link n anchor:alias / rm n or
    unlink, on names no other client uses."""
    i, kind = divmod(step, 3)
    name = "c%dn%d" % (k, i)
    if kind == 0:
        return ("add", name, "127.40.%d.%d" % (11 + k, i % 250 + 1))
    if kind == 1:
        return ("link", name, "c%da" % k, "al%d" % i)
    if i % 2:
        return ("rm", name)
    return ("unlink", name, "c%da" % k, "al%d" % i)


def table_lines(text):
    lines = text.splitlines()
    adds = [l for l in lines if l.startswith("add ")]
    assert lines == adds + [l for l in lines if not l.startswith("add ")], (
        "ls: add lines must come before link lines:\n" + text)
    return set(lines)


def test_crash_kill_points(daemons, work):
    seed = int(os.environ.get("LINKDNS_CRASH_SEED", time.time_ns() % 10**9))
    rng = random.Random(seed)
    print("crash test seed %d (LINKDNS_CRASH_SEED)" % seed)
    state = os.path.join(work, "links")
    model = set()           # acknowledged changes only
    inflight = []           # changes neither acknowledged nor refused
    steps = [0] * CLIENTS
    issued = acked = kills = 0
    answered = [0]
    t_start = time.monotonic()

    while kills < KILL_POINTS or issued < TOTAL_CHANGES:
        if os.path.exists(state):
            p = run_linkdnsd(["--check-config", "--state", state,
                              "--no-upstream"])
            assert p.returncode == 0, ("after kill %d the state file does "
                                       "not load:\n%s\n%s"
                                       % (kills, p.stderr, open(state).read()))
        d = daemons()
        actual = table_lines(d.ls())
        ok = any(actual == _apply_all(model, combo)
                 for n in range(len(inflight) + 1)
                 for combo in itertools.combinations(inflight, n))
        assert ok, ("after kill %d (seed %d) the table is not the acknowledged "
                    "changes (plus possibly some in flight)\nmissing: %s\n"
                    "extra: %s\nin flight: %s"
                    % (kills, seed, sorted(model - actual),
                       sorted(actual - model), inflight))
        model, inflight = actual, []
        if kills == 0:
            for k in range(CLIENTS):
                d.ok("add", "c%da" % k, "--addr", "127.40.10.%d" % (k + 1))
                model.add("add c%da --addr 127.40.10.%d" % (k, k + 1))
                issued += 1
                acked += 1
        if kills >= KILL_POINTS and issued >= TOTAL_CHANGES:
            d.stop()
            break

        lock = threading.Lock()
        done = [0]
        errors = []
        stop = threading.Event()
        killed = threading.Event()   # set just before the SIGKILL

        def client(k):
            nonlocal issued, acked, model
            for _ in range(ROUND_QUOTA // CLIENTS):
                if stop.is_set():
                    return
                op = client_op(k, steps[k])
                with lock:
                    issued += 1
                p = d.ctl(*Model.argv(op))
                with lock:
                    done[0] += 1
                    if p.returncode == 0:
                        acked += 1
                        model = Model.apply(model, op)
                        steps[k] += 1
                        continue
                    if not killed.is_set():
                        errors.append("%s refused while the daemon runs: %s"
                                      % (op, p.stderr))
                        return
                    inflight.append(op)
                    # the next change starts on a fresh name
                    steps[k] = (steps[k] // 3 + 1) * 3
                    return

        def querier():
            while not stop.is_set():
                k = rng.randrange(CLIENTS)
                addr = "127.40.10.%d" % (k + 1)
                r = fast_query(d.port, fqdn("c%da" % k), addr,
                               tcp=rng.random() < 0.2, timeout=0.3)
                if r is None:
                    continue
                answered[0] += 1
                if r != ("NOERROR", (addr,)):
                    errors.append("query c%da from %s: %s" % (k, addr, r))

        threads = [threading.Thread(target=client, args=(k,))
                   for k in range(CLIENTS)]
        qt = threading.Thread(target=querier)
        qt.start()
        for t in threads:
            t.start()
        kill_after = rng.randrange(ROUND_QUOTA)
        while done[0] < kill_after and any(t.is_alive() for t in threads):
            time.sleep(0.001)        # polling the progress counter
        time.sleep(rng.uniform(0, 0.004))   # a random moment in between
        killed.set()
        d.sigkill()
        kills += 1
        stop.set()
        for t in threads:
            t.join(60)
        qt.join(60)
        assert not errors, "\n".join(errors[:20])
        d._cleanup()

    print("crash test: %d kill points, %d changes issued, %d acknowledged, "
          "%d queries answered, %.1f s"
          % (kills, issued, acked, answered[0], time.monotonic() - t_start))
    assert issued >= TOTAL_CHANGES and kills >= KILL_POINTS
    assert answered[0] > 0


def _apply_all(model, ops):
    for op in ops:
        model = Model.apply(model, op)
    return model


# -- 3. add/rm cycles under a query loop -----------------------------------------
CYCLES = 1000


def test_query_loop_through_add_rm_cycles(daemons):
    d = daemons()
    Q = "127.40.20.1"
    d.ok("add", "q", "--addr", Q)

    def a_addr(i):
        return "127.40.%d.%d" % (21 + i // 250, i % 250 + 1)

    def b_addr(i):
        return "127.40.%d.%d" % (31 + i // 250, i % 250 + 1)

    ops = []
    for i in range(CYCLES):
        ops += [("add", "x", "--addr", a_addr(i)), ("link", "q", "x"),
                ("add", "x", "--replace", "--addr", b_addr(i)), ("rm", "x")]

    def expected(j, bare):
        """What q's view answers for x after the first j changes."""
        i, phase = divmod(j, 4)
        if phase == 2:
            return ("NOERROR", (a_addr(i),))
        if phase == 3:
            return ("NOERROR", (b_addr(i),))
        return ("REFUSED" if bare else "NXDOMAIN", ())

    progress = {"started": 0, "acked": 0}
    stop = threading.Event()
    bad = []
    counts = [0, 0]

    def querier(tcp):
        n = 0
        while not stop.is_set():
            n += 1
            bare = n % 3 == 0
            lo = progress["acked"]
            r = fast_query(d.port, "x" if bare else fqdn("x"), Q, tcp=tcp,
                           timeout=2.0)
            hi = progress["started"]
            if r is None:
                bad.append("no answer (%s)" % ("TCP" if tcp else "UDP"))
                continue
            counts[tcp] += 1
            allowed = {expected(j, bare) for j in range(lo, hi + 1)}
            if r not in allowed:
                bad.append("x%s after changes %d..%d: %s, allowed %s"
                           % ("" if bare else "." + DOMAIN, lo, hi, r,
                              sorted(allowed)))

    qs = [threading.Thread(target=querier, args=(tcp,))
          for tcp in (False, True)]
    for t in qs:
        t.start()
    try:
        for op in ops:
            progress["started"] += 1
            p = d.ctl(*op)
            assert p.returncode == 0, (op, p.stderr)
            progress["acked"] += 1
    finally:
        stop.set()
        for t in qs:
            t.join(30)
    print("add/rm cycles: %d changes, %d UDP and %d TCP answers checked"
          % (len(ops), counts[0], counts[1]))
    assert not bad, "%d wrong answers, first: %s" % (len(bad), bad[:10])
    assert counts[0] >= CYCLES and counts[1] >= 100, counts


# -- 4. refusals: nothing changed ------------------------------------------------
REFUSALS = [
    # (argv, exit status, tokens of the error line)
    (["add", "db", "--addr", "127.40.40.9"], 1, ("'db'", "exist")),
    (["add", "DB", "--addr", "127.40.40.9"], 1, ("exist",)),
    (["link", "web", "nope"], 1, ("'nope'", "exist")),
    (["link", "nope", "db"], 1, ("'nope'", "exist")),
    (["link", "web", "db:web"], (1, 2), ("'web'", "own name")),
    (["rm", "nope"], 1, ("'nope'",)),
    (["add", "n1", "--netns", "/run/netns/%s-missing" % PREFIX], 1,
     ("%s-missing" % PREFIX,)),
    (["add", "n1", "--frob"], 2, ("'--frob'", "unknown option")),
    (["ls", "--frob"], 2, ("'--frob'",)),
    (["frob"], 2, ("'frob'", "unknown command")),
    (["add", "a.b"], 2, ("'a.b'", "invalid name")),
    (["add", "x" * 64], 2, ("invalid name",)),
    (["add", "a b"], 2, ("'a b'",)),
    (["add", "café"], 2, ("invalid name",)),
    (["link", "web", "db:a..b"], 2, ("'a..b'",)),
    (["add", "n1", "--addr", "1.2.3"], 2, ("'1.2.3'", "invalid address")),
    (["add", "n1", "--addr", "127.40.40.300"], 2, ("'127.40.40.300'",)),
    (["add", "n1", "--addr", "fe80:::1"], 2, ("'fe80:::1'",)),
    (["add", "n1", "--addr"], 2, ("'--addr'", "needs a value")),
    (["add", "n1", "--expose", "70000/tcp"], 2, ("'70000'", "port")),
    (["add", "n1", "--expose", "80/xyz"], 2, ("'xyz'", "protocol")),
    (["add", "n1", "--publish", "99999:80/tcp"], 2, ("99999", "port")),
    (["add", "n1", "--publish", "8080:0/tcp"], 2, ("port",)),
    (["add", "n1", "--dns", "127.40.40.1@70000"], 2, ("70000",)),
    (["add", "n1", "--netns", "/x", "--pid", "1"], 2, ("--netns", "--pid")),
    (["add"], 2, ("NAME",)),
    (["link", "web"], 2, ()),
    (["rm", "db", "extra"], 2, ("'extra'",)),
]


def setup_table(d):
    d.ok("add", "db", "--addr", "127.40.40.2", "--expose", "5432/tcp")
    d.ok("add", "web", "--addr", "127.40.40.3")
    d.ok("link", "web", "db:database")
    return d.read_state(), d.ls()


@pytest.mark.parametrize("argv,rc,tokens", REFUSALS,
                         ids=[" ".join(a)[:40] for a, _, _ in REFUSALS])
def test_refused_nothing_changed(daemons, argv, rc, tokens):
    d = daemons()
    state, table = setup_table(d)
    assert_refused(d.ctl(*argv), rc, *tokens)
    assert d.read_state() == state, "state file changed by a refused change"
    assert d.ls() == table
    r = d.ask("database", "127.40.40.3")
    assert addresses(r) == ["127.40.40.2"], r.to_text()


def test_refused_not_root(daemons):
    d = daemons()
    state, table = setup_table(d)
    st = os.stat(d.control)
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == 0, oct(st.st_mode)
    for argv in (["add", "evil", "--addr", "127.40.40.66"], ["rm", "db"],
                 ["ls"]):
        p = d.ctl(*argv, prefix=NOBODY)
        assert_refused(p, 1, d.control)
        assert "permission" in p.stderr.lower() or "not" in p.stderr.lower()
    assert d.read_state() == state
    assert d.ls() == table


@pytest.fixture
def group():
    require_root("the control tests")
    name = "%sg" % PREFIX
    run(["groupadd", name])
    try:
        yield name
    finally:
        subprocess.run(["groupdel", name], capture_output=True)


def test_control_group(daemons, group):
    import grp
    gid = grp.getgrnam(group).gr_gid
    d = daemons("--control-group", group)
    st = os.stat(d.control)
    assert st.st_mode & 0o777 == 0o660 and st.st_gid == gid, (
        oct(st.st_mode), st.st_gid)
    state, table = setup_table(d)

    # not in the group: refused, nothing changed
    p = d.ctl("add", "evil", "--addr", "127.40.40.66", prefix=NOBODY)
    assert_refused(p, 1, d.control)
    assert d.read_state() == state and d.ls() == table

    # a member (as a supplementary group, then as the primary one) may change
    member = ["setpriv", "--reuid=65534", "--regid=65534",
              "--groups=%d" % gid]
    d.ok("add", "m1", "--addr", "127.40.40.11", prefix=member)
    primary = ["setpriv", "--reuid=65534", "--regid=%d" % gid,
               "--clear-groups"]
    d.ok("add", "m2", "--addr", "127.40.40.12", prefix=primary)
    d.ok("link", "m2", "db", prefix=primary)
    assert d.ok("ls", prefix=member) == d.ls()
    assert "add m1 --addr 127.40.40.11\n" in d.ls()
    r = d.ask("db", "127.40.40.12")
    assert addresses(r) == ["127.40.40.2"], r.to_text()


@pytest.fixture
def small_tmpfs():
    require_root("the control tests")
    mnt = tempfile.mkdtemp(prefix="ldc-fs-")
    run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", mnt])
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        shutil.rmtree(mnt, ignore_errors=True)


def fill(path):
    """Write PATH until the file system is full."""
    with open(path, "wb", buffering=0) as f:
        chunk = b"\0" * 4096
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


def test_refused_disk_full(daemons, small_tmpfs, work):
    state = os.path.join(small_tmpfs, "links")
    d = daemons(state=state)
    before_state, table = setup_table(d)
    fill(os.path.join(small_tmpfs, "filler"))
    big = []
    for i in range(400):   # one line longer than a page: needs a new block
        big += ["--addr", "127.40.%d.%d" % (41 + i // 250, i % 250 + 1)]
    for argv in (["add", "big"] + big, ["add", "small", "--addr",
                                        "127.40.40.20"],
                 ["link", "db", "web"], ["rm", "web"]):
        p = d.ctl(*argv)
        if argv[1] == "big" or p.returncode != 0:
            assert_refused(p, 1)
            assert d.read_state() == before_state, (
                "state file changed by a refused %s" % argv[:2])
            assert d.ls() == table, "table changed by a refused %s" % argv[:2]
        else:
            # a short line may still fit the file's last block: then it is
            # durable and kept, and the rest of this check is moot
            before_state, table = d.read_state(), d.ls()
    assert d.ask("database", "127.40.40.3") is not None
    # room again: changes are accepted again
    os.unlink(os.path.join(small_tmpfs, "filler"))
    d.ok("add", "big", *big)
    assert "add big " in d.ls()
    d.stop()
    d2 = daemons(state=state)
    assert "add big " in d2.ls()


# -- 5. ls --json round trip ---------------------------------------------------
def lines_from_json(doc):
    out = []
    for c in doc["containers"]:
        line = ["add", c["name"]]
        if c.get("netns"):
            line += ["--netns", c["netns"]]
        elif c.get("pid"):
            line += ["--pid", str(c["pid"])]
        for a in c["addrs"]:
            line += ["--addr", a]
        published = {p.split(":", 1)[1] for p in c["publish"]}
        for e in c["expose"]:
            if e not in published:
                line += ["--expose", e]
        for p in c["publish"]:
            line += ["--publish", p]
        for s in c["dns"]:
            line += ["--dns", s]
        if c.get("remote"):
            line += ["--remote", c["remote"]]
        out.append(" ".join(line))
    for l in doc["links"]:
        t = l["target"]
        if l["alias"] and l["alias"] != t:
            t += ":" + l["alias"]
        out.append("link %s %s" % (l["from"], t))
    return "".join(x + "\n" for x in out)


def build_rich_table(d, ns):
    d.ok("add", "db", "--addr", "127.40.50.2", "--addr", "2001:DB8:0:0::0:1",
         "--expose", "5432/tcp", "--publish", "8080:80/tcp",
         "--publish", "5353:53/udp")
    d.ok("add", "db_2", "--addr", "127.40.50.4")
    d.ok("add", "web-1", "--netns", os.path.join(NETNS_DIR, ns),
         "--addr", "127.40.50.3", "--dns", "127.40.50.53@5300",
         "--dns", "127.40.50.54")
    d.ok("add", "far", "--remote", "far.pub.example@127.40.50.99@5354",
         "--expose", "443/tcp")
    d.ok("add", "tmp", "--addr", "127.40.50.8")
    d.ok("link", "web-1", "db")
    d.ok("link", "web-1", "db:database")
    d.ok("link", "web-1", "db_2:database")
    d.ok("link", "web-1", "far:remote")
    d.ok("link", "db", "web-1:front")
    d.ok("link", "tmp", "db")
    d.ok("add", "db", "--replace", "--addr", "127.40.50.2",
         "--addr", "2001:db8::1", "--expose", "5432/tcp",
         "--publish", "8080:80/tcp", "--publish", "5353:53/udp")
    d.ok("rm", "tmp")


def test_ls_json_round_trip(daemons, namespaces, work):
    ns = namespaces.add("j")
    d = daemons()
    build_rich_table(d, ns)
    text = d.ls()
    doc = json.loads(d.ok("ls", "--json"))
    assert set(doc) == {"networks", "attachments", "containers", "links"}, doc
    for c in doc["containers"]:
        assert set(c) >= {"name", "netns", "pid", "addrs", "expose",
                          "publish", "dns", "remote"}, c
    assert [c["name"] for c in doc["containers"]] == ["db", "db_2", "web-1",
                                                      "far"]
    db = doc["containers"][0]
    assert db["addrs"] == ["127.40.50.2", "2001:db8::1"], db
    assert db["publish"] == ["8080:80/tcp", "5353:53/udp"], db
    assert "5432/tcp" in db["expose"], db
    assert {"from": "web-1", "target": "db_2", "alias": "database"} in \
        doc["links"], doc["links"]
    assert "2001:db8::1" in text and "DB8" not in text
    assert "tmp" not in text

    rebuilt = lines_from_json(doc)
    assert rebuilt == text, "ls --json rebuilt:\n%s\nls:\n%s" % (rebuilt,
                                                                  text)
    # the rebuilt table loads and reads back the same
    other = tempfile.mkdtemp(prefix="ldc-rt-", dir=work)
    with open(os.path.join(other, "links"), "w") as f:
        f.write(rebuilt)
    p = run_linkdnsd(["--check-config", "--state",
                      os.path.join(other, "links"), "--no-upstream"])
    assert p.returncode == 0, p.stderr
    d.stop()                      # the namespace listener is d's
    d2 = daemons(workdir=other)
    assert d2.ls() == text
    assert json.loads(d2.ok("ls", "--json")) == doc


def unframed(data):
    """The state file's lines without the headers of appended records."""
    return "".join(l for l in data.decode().splitlines(True)
                   if not l.startswith("#linkdns-record "))


def test_compaction_is_canonical(daemons):
    d = daemons()
    d.ok("add", "db", "--addr", "127.40.60.2", "--expose", "5432/tcp")
    d.ok("add", "web", "--addr", "127.40.60.3")
    d.ok("link", "web", "db:database")
    pad = []
    for i in range(40):
        pad += ["--addr", "127.40.61.%d" % (i + 1)]
    size = len(d.read_state())
    compacted = False
    for i in range(2000):
        for op in (["add", "junk%d" % i] + pad, ["link", "web", "junk%d" % i],
                   ["rm", "junk%d" % i]):
            d.ok(*op)
            now = len(d.read_state())
            if now < size:
                compacted = True
                break
            size = now
        if compacted:
            break
    assert compacted, "the state file was never compacted (%d bytes)" % size
    assert size > 64 * 1024 - 4096, "compacted before 64 KiB: %d" % size
    text = d.ls()
    end = time.monotonic() + DEADLINE
    # the snapshot, and any change appended since (a framed record)
    while unframed(d.read_state()) != text and time.monotonic() < end:
        time.sleep(0.02)
    assert unframed(d.read_state()) == text, (
        "state file after compaction:\n%s\nls:\n%s"
        % (d.read_state().decode()[:3000], text))
    assert lines_from_json(json.loads(d.ok("ls", "--json"))) == text
    # a later change is appended (framed: linkdns.links(5)), and the whole
    # survives a restart
    before = d.read_state()
    d.ok("add", "late", "--addr", "127.40.60.9")
    late = b"add late --addr 127.40.60.9\n"
    frame = b"#linkdns-record %d %08x\n" % (len(late), zlib.crc32(late))
    assert d.read_state() == before + frame + late
    d.stop()
    d2 = daemons()
    assert d2.ls() == text.replace("link web", "add late --addr "
                                   "127.40.60.9\nlink web", 1)
    r = d2.ask("database", "127.40.60.3")
    assert addresses(r) == ["127.40.60.2"], r.to_text()


# -- read-only commands ------------------------------------------------------------
def test_show_stats_json(daemons):
    d = daemons()
    d.ok("add", "db", "--addr", "127.40.70.2")
    d.ok("add", "web", "--addr", "127.40.70.3")
    d.ok("link", "web", "db:database")
    show = json.loads(d.ok("show", "web", "--json"))
    assert show["name"] == "web"
    names = {n["name"]: n["addresses"] for n in show["names"]}
    assert names.get("database") == ["127.40.70.2"], show
    assert "database" in d.ok("show", "web")
    before = json.loads(d.ok("stats", "--json"))
    for _ in range(5):
        d.ask(fqdn("database"), "127.40.70.3")
    after = json.loads(d.ok("stats", "--json"))
    assert after["containers"] == 2 and after["links"] == 1, after
    assert after["queries"] >= before["queries"] + 5, (before, after)
    assert_refused(d.ctl("show", "nope"), 1, "'nope'")
    for cmd in ("add", "rm", "link", "unlink", "ls", "show", "stats",
                "reload"):
        p = d.ctl(cmd, "--help")
        assert p.returncode == 0 and "Usage" in p.stdout, (cmd, p.stdout,
                                                          p.stderr)


def test_reload_and_sighup(daemons):
    d = daemons()
    d.ok("add", "db", "--addr", "127.40.80.2")
    table = d.ls()
    with open(d.state, "a") as f:
        f.write("add web --addr 127.40.80.3\nlink web db\n")
    d.ok("reload")
    assert d.ls() == table + "add web --addr 127.40.80.3\n" \
        "link web db\n"
    r = d.ask("db", "127.40.80.3")
    assert addresses(r) == ["127.40.80.2"], r.to_text()
    # a bad file leaves the running table in force
    good = d.read_state()
    with open(d.state, "a") as f:
        f.write("frob\n")
    p = d.ctl("reload")
    assert p.returncode != 0 or d.ls().count("\n") == 3
    assert d.ls().count("\n") == 3
    with open(d.state, "wb") as f:
        f.write(good + b"add x1 --addr 127.40.80.4\n")
    d.proc.send_signal(signal.SIGHUP)
    end = time.monotonic() + DEADLINE
    while "x1" not in d.ls() and time.monotonic() < end:
        time.sleep(0.02)
    assert "add x1 --addr 127.40.80.4\n" in d.ls()
