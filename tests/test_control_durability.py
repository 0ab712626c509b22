"""Control plane and state file under hostile or unlucky input.

- an acknowledged change is always what a restart loads: the stored
  (canonical) line must read back, else the change is refused;
- appended changes are framed: a record a crash cut short is dropped with a
  warning, never loaded as a wrong value; hand-written tables still load;
- control clients are capped, timed out, cost no 64 KiB buffer each, and an
  accept error rests the socket instead of spinning;
- a NUL byte in a request gets an error; linkdnsctl refused early says so
  and exits 1 (no SIGPIPE); compaction never follows a planted link.

Each test runs its own daemon in its own directory (test_control's
CtlDaemon).  Container addresses: 127.41.0.0/16 (no other file uses it).
Runs as root (setpriv, prlimit on the daemon).
"""

import json
import os
import random
import re
import resource
import socket
import threading
import time
import zlib

import pytest

from conftest import linkdnsctl_path, run, run_linkdnsd, status_kib
# the work directory and the daemon factory of the control tests
from test_control import assert_refused, daemons, work  # noqa: F401

DEADLINE = 10.0
CTL_TIMEOUT = 10.0      # control.c: the whole request within this
CTL_CONN_MAX = 64       # control.c: control connections at once
LINE_MAX = 65536        # command.c: the longest line a table may hold


def restart(d, daemons):
    """Stops D (clean exit asserted) and starts a daemon on the same file."""
    d.stop()
    return daemons()


def snapshot(d):
    """Everything the control socket says about the table."""
    text = d.ls()
    doc = json.loads(d.ok("ls", "--json"))
    names = [l.split()[1] for l in text.splitlines() if l.startswith("add ")]
    shows = {n: d.ok("show", n, "--json") for n in names}
    return text, doc, shows


def check_config(state):
    return run_linkdnsd(["--check-config", "--state", state, "--no-upstream"])


# -- defect: an acknowledged change must be what a restart loads -----------------
def sized_add(name, ndns, target):
    """`add NAME` with NDNS `--dns=::` (each becomes `--dns ::@53`, 3 bytes
    longer, once canonical) whose request is at most TARGET bytes, as close
    as it gets: IPv6 addresses, then ports, fill it."""
    argv, dns = ["add", name], ["--dns=::"] * ndns
    for i in range(1024):
        argv += ["--addr", "fd00:%x:%x:%x:%x:%x:%x:%x" % (
            0xa000 + i // 7, 0xb000 + i, 0xc000 + i, 0xd000 + i,
            0xe000 + i, 0xf000 + i, 0x1000 + i)]
    port = 10000
    while request_len(argv + dns) + 19 <= target:
        argv += ["--expose", "%d/udp" % port]
        port += 1
    for digits in (4, 3, 2, 1):        # the last few bytes
        if request_len(argv + dns) + 14 + digits <= target:
            argv += ["--expose", "%d/tcp" % (10 ** (digits - 1) + 1)]
    argv += dns
    assert request_len(argv) <= target
    return argv


def request_len(argv):
    return len(" ".join(argv)) + 1


def canonical_len(argv):
    return request_len(argv) + 3 * argv.count("--dns=::")


def test_canonical_form_past_the_limit_is_refused(daemons):
    d = daemons()
    d.ok("add", "web", "--addr", "127.41.0.3")
    argv = sized_add("big", 20, LINE_MAX - 2)
    assert request_len(argv) < LINE_MAX - 1 < LINE_MAX < canonical_len(argv), (
        request_len(argv), canonical_len(argv))
    assert_refused(d.ctl(*argv), 1, "load back", "longer than")
    # the same with too many words once canonical (`--x=v` is one word)
    words = ["add", "many"] + ["--expose=%d/tcp" % p for p in range(1, 701)] \
        + ["--addr=127.41.%d.%d" % (100 + p // 250, p % 250 + 1)
           for p in range(1, 701)] \
        + ["--publish=%d:%d/tcp" % (p, p) for p in range(1, 701)] \
        + ["--dns=127.0.0.%d" % (p % 250 + 1) for p in range(1, 701)]
    assert request_len(words) < LINE_MAX
    assert_refused(d.ctl(*words), 1, "load back")
    assert_refused(d.ctl("link", "web", "big"), 1, "does not exist")
    assert "big" not in d.ls() and "many" not in d.ls()
    before = snapshot(d)
    d2 = restart(d, daemons)
    assert snapshot(d2) == before


# A small model of the table: what `ls` must print after the acknowledged
# changes.  Arguments are generated with their canonical form beside them.
class Table:
    def __init__(self):
        self.adds = {}      # lower name -> canonical line (order kept)
        self.links = []     # (from, target, alias, line)

    def name(self, n):
        for k in self.adds:
            if k == n.lower():
                return self.adds[k].split()[1]
        return None

    def apply(self, op, canon):
        kind = op[0]
        if kind == "add":
            self.adds[op[1].lower()] = canon
        elif kind == "rm":
            del self.adds[op[1].lower()]
            self.links = [l for l in self.links
                          if op[1].lower() not in (l[0].lower(), l[1].lower())]
        elif kind == "link":
            self.links.append((op[1], op[2], op[3], canon))
        elif kind == "unlink":
            self.links = [l for l in self.links
                          if not (l[0].lower() == op[1].lower()
                                  and l[2].lower() == op[2].lower())]

    def text(self):
        out = list(self.adds.values())
        for f, t, a, _ in self.links:
            f, t = self.name(f), self.name(t)
            out.append("link %s %s" % (f, t) if a == t.lower() or a == t
                       else "link %s %s:%s" % (f, t, a))
        return "".join(l + "\n" for l in out)


NAMES = ["c%d" % i for i in range(8)]


def gen_add(rng, i):
    """(argv, canonical line or None when it must be refused)."""
    name = rng.choice(NAMES)
    argv, canon = ["add", name], ["add", name]
    if rng.random() < 0.15:
        argv.append("--replace")        # never in `ls`
    for k in range(rng.randrange(0, 3)):
        a = "127.41.%d.%d" % (i % 250, k + 1)
        argv += ["--addr", a]
        canon += ["--addr", a]
    if rng.random() < 0.3:
        argv.append("--expose=%d/TCP" % (1000 + i))
        canon += ["--expose", "%d/tcp" % (1000 + i)]
    if rng.random() < 0.3:
        argv += ["--dns", "::"]
        canon += ["--dns", "::@53"]
    r = rng.random()
    if r < 0.08:
        argv += ["--addr", "300.1.1.1"]            # refused by linkdnsctl
        return argv, None
    if r < 0.12:
        # under the request limit, past the stored line limit: refused
        return sized_add(name, 20, LINE_MAX - 2), None
    if r < 0.16:
        # just under both limits: acknowledged and must survive
        argv = sized_add(name, 3, LINE_MAX - 12)
        return argv, " ".join(argv).replace("--dns=::", "--dns ::@53")
    return argv, " ".join(canon)


def gen_op(rng, i):
    kind = rng.choice(["add", "add", "add", "rm", "link", "link", "unlink",
                       "bad"])
    if kind == "add":
        argv, canon = gen_add(rng, i)
        return ("add", argv[1]), argv, canon
    if kind == "rm":
        n = rng.choice(NAMES)
        return ("rm", n), ["rm", n], "rm"
    if kind == "link":
        f, t = rng.choice(NAMES), rng.choice(NAMES)
        alias = rng.choice([t, "al%d" % rng.randrange(3)])
        arg = t if alias == t else "%s:%s" % (t, alias)
        return ("link", f, t, alias), ["link", f, arg], "link %s %s" % (f, arg)
    if kind == "unlink":
        f = rng.choice(NAMES)
        alias = rng.choice(NAMES[:3] + ["al0", "al1", "al2"])
        return ("unlink", f, alias), ["unlink", f, alias], "unlink"
    bad = rng.choice([["link", "c0"], ["add", "-x"], ["rm", "a b"],
                      ["add", "c1", "--pid", "0"], ["unlink", "c0"],
                      ["add", "x" * 64], ["link", "c0", "c0"]])
    return None, bad, None


SEEDS = [11, 23, 57, 101, 202]
OPS_PER_SEED = 150


def test_random_change_sequences_survive_restart(daemons):
    t0 = time.monotonic()
    d = daemons()
    model = Table()
    acked = long_acked = long_refused = 0
    for seed in SEEDS:
        rng = random.Random(seed)
        for i in range(OPS_PER_SEED):
            op, argv, canon = gen_op(rng, i)
            p = d.ctl(*argv)
            near = request_len(argv) > LINE_MAX - 4096
            if near and p.returncode == 0:
                long_acked += 1
            elif near:
                long_refused += 1
            if p.returncode != 0:
                assert p.returncode in (1, 2) and p.stderr.startswith(
                    "linkdnsctl: error: "), (seed, i, argv[:4], p.stderr)
                continue
            acked += 1
            assert op is not None and canon is not None, (
                "seed %d op %d acknowledged but must be refused: %s"
                % (seed, i, " ".join(argv)[:200]))
            model.apply(op, canon)
            # an acknowledged change is visible at once, and is the model
            assert d.ls() == model.text(), (seed, i, " ".join(argv)[:200])
        before = snapshot(d)
        assert before[0] == model.text()
        d = restart(d, daemons)
        assert "does not exist" not in d.stderr
        assert snapshot(d) == before, "seed %d: table changed by a restart" \
            % seed
    print("%d seeds, %d changes acknowledged (%d near the line limit, %d "
          "refused there), %.1f s" % (len(SEEDS), acked, long_acked,
                                      long_refused, time.monotonic() - t0))
    assert acked > 200 and long_acked and long_refused


# -- defect: a torn last record is dropped, never loaded as a wrong value ------
def test_torn_last_change_is_dropped_at_every_offset(daemons, work):
    d = daemons()
    d.ok("add", "db", "--addr", "127.41.1.2")
    d.ok("add", "web", "--addr", "127.41.1.3")
    cases = []
    # the examples: `link web db:datab`, `--addr 127.0.10.4` must
    # never load from a cut-off change
    for change in (["link", "web", "db:database"],
                   ["add", "x", "--addr", "127.0.10.44"]):
        before_bytes, before_table = d.read_state(), d.ls()
        d.ok(*change)
        cases.append((before_bytes, before_table, d.read_state()))
    d.stop()
    probe = os.path.join(work, "probe")
    os.mkdir(probe)
    os.chmod(probe, 0o755)
    state = os.path.join(probe, "links")
    checked = 0
    for before_bytes, before_table, full in cases:
        assert full.startswith(before_bytes)
        for cut in range(len(before_bytes), len(full)):
            with open(state, "wb") as f:
                f.write(full[:cut])
            p = check_config(state)
            assert p.returncode == 0, (cut, full[:cut], p.stderr)
            if cut > len(before_bytes):
                assert "cut short" in p.stderr, (cut, full[:cut], p.stderr)
            e = daemons(workdir=probe)
            assert e.ls() == before_table, (
                "state cut at %d of %d:\n%r\nloads as\n%s"
                % (cut, len(full), full[:cut], e.ls()))
            if cut > len(before_bytes):
                assert "cut short" in e.stderr
            if cut % 11 == 0:
                # the next change follows a rewrite: the file loads again
                e.ok("add", "later", "--addr", "127.41.1.9")
                table = e.ls()
                e = restart(e, lambda: daemons(workdir=probe))
                assert e.ls() == table
            e.stop()
            os.unlink(os.path.join(probe, "stderr"))
            checked += 1
    assert checked > 60


def test_damaged_length_before_later_records_refuses_the_file(work):
    """Only the end of the file can be torn: a record whose LEN runs past the
    end while later records follow is damage, and must refuse the file rather
    than drop the acknowledged changes after it."""
    def record(text):
        return b"#linkdns-record %d %08x\n" % (len(text), zlib.crc32(text)) \
            + text
    state = os.path.join(work, "links")
    body = record(b"add web --addr 127.41.3.3\n") + \
        record(b"link web db\n")
    damaged = body.replace(b"#linkdns-record 26 ", b"#linkdns-record 9999 ", 1)
    assert damaged != body
    with open(state, "wb") as f:
        f.write(b"add db --addr 127.41.3.2\n" + damaged)
    p = check_config(state)
    assert p.returncode == 1, p.stderr
    assert re.search(r"links:2: a damaged #linkdns-record", p.stderr), p.stderr


def test_hand_written_table_without_final_newline(daemons, work):
    state = os.path.join(work, "links")
    text = ("# written by hand\nadd db --addr 127.41.2.2\n"
            "add web --addr 127.41.2.3\nlink web db:database")
    with open(state, "w") as f:
        f.write(text)
    p = check_config(state)
    assert p.returncode == 0 and "2 containers, 1 links" in p.stdout, p
    assert "cut short" not in p.stderr
    d = daemons()
    assert d.ls() == ("add db --addr 127.41.2.2\nadd web --addr 127.41.2.3\n"
                      "link web db:database\n")
    # a change appended to it starts a line of its own
    d.ok("add", "late", "--addr", "127.41.2.9")
    table = d.ls()
    d = restart(d, daemons)
    assert d.ls() == table


# -- control connections -----------------------------------------------------------
def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect_ctl(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)             # blocking: waits while the backlog is full
    s.settimeout(DEADLINE)
    return s


def test_many_idle_control_connections_are_bounded(daemons):
    d = daemons()
    d.ok("add", "db", "--addr", "127.41.3.2")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    n = 3000
    socks = []
    try:
        rss0 = status_kib(d.proc.pid, "VmRSS")
        for i in range(n):
            s = connect_ctl(d.control)
            s.send(b"l")        # a request begun, never finished
            socks.append(s)
        assert d.ok("show", "db")   # linkdnsctl still gets through
        grown = status_kib(d.proc.pid, "VmRSS") - rss0
        nfds = d.nfds()
        assert grown < 16 * 1024, "%d idle control clients: VmRSS +%d KiB" \
            % (n, grown)
        assert nfds < 2 * CTL_CONN_MAX + 64, "daemon holds %d descriptors" \
            % nfds
        # the oldest were closed to make room
        socks[0].settimeout(DEADLINE)
        try:
            got = socks[0].recv(100)
        except ConnectionResetError:
            got = b""
        assert got == b"", "the oldest client is still open"
        assert d.ok("ls") == "add db --addr 127.41.3.2\n"
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert d.ok("ls") == "add db --addr 127.41.3.2\n"


def test_idle_control_connection_times_out(daemons):
    d = daemons()
    idle = connect_ctl(d.control)
    slow = connect_ctl(d.control)
    t0 = time.monotonic()
    closed = {}
    while len(closed) < 2 and time.monotonic() - t0 < CTL_TIMEOUT + 8:
        for name, s in (("idle", idle), ("slow", slow)):
            if name in closed:
                continue
            if name == "slow":
                try:
                    s.send(b"l")      # a byte now and then restarts nothing
                except OSError:
                    closed[name] = time.monotonic() - t0
                    continue
            s.settimeout(0.5)
            try:
                if s.recv(100) == b"":
                    closed[name] = time.monotonic() - t0
            except socket.timeout:
                pass
            except OSError:
                closed[name] = time.monotonic() - t0
    idle.close()
    slow.close()
    assert set(closed) == {"idle", "slow"}, "still open after %.0f s: %s" % (
        CTL_TIMEOUT + 8, sorted({"idle", "slow"} - set(closed)))
    assert all(CTL_TIMEOUT - 1 <= t for t in closed.values()), closed
    assert d.ok("ls") == ""


def test_accept_error_rests_the_control_socket(daemons):
    d = daemons()
    pid = d.proc.pid
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    nfds = d.nfds()
    socks = []
    try:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (nfds + 4, old[1]))
        for _ in range(40):         # past the limit: accept fails (EMFILE)
            socks.append(connect_ctl(d.control))
        time.sleep(0.5)
        c0 = cpu_seconds(pid)
        time.sleep(3)
        used = cpu_seconds(pid) - c0
        assert used < 0.3, "the daemon spun %.2f s of CPU in 3 s at EMFILE" \
            % used
        r = d.query("readiness.probe.invalid", "A")    # DNS still served
        assert r is not None
        assert "control: accept: Too many open files: paused" in d.stderr
        assert d.stderr.count("control: accept:") < 20
    finally:
        for s in socks:
            s.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    end = time.monotonic() + DEADLINE
    while d.ctl("ls").returncode != 0 and time.monotonic() < end:
        time.sleep(0.2)
    assert d.ok("ls") == ""


# -- item 12 -----------------------------------------------------------------------
def test_nul_byte_in_request_gets_an_error(daemons):
    d = daemons()
    for req in (b"ls\x00\n", b"add a\x00 --addr 127.41.4.1\n", b"\x00\n"):
        s = connect_ctl(d.control)
        s.sendall(req)
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = s.recv(1000)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        s.close()
        assert data.startswith(b"error ") and b"NUL" in data, (req, data)
    assert d.ok("ls") == ""


def slowed_ctl(control, *args, prefix=()):
    """linkdnsctl whose writes to the socket wait 0.3 s first (strace): the
    daemon refuses and closes before the request is sent."""
    argv = ["strace", "-qq", "-o", "/dev/null", "-e", "trace=write,sendto",
            "-e", "inject=write,sendto:delay_enter=300000"] + list(prefix) \
        + [linkdnsctl_path(), "--control", control] + [str(a) for a in args]
    # LeakSanitizer (a sanitizer build) cannot run under ptrace
    env = dict(os.environ, LSAN_OPTIONS="detect_leaks=0",
               ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") +
                             ":detect_leaks=0").lstrip(":"))
    return run(argv, check=False, timeout=60, env=env)


def ctl_against(path, says):
    """`linkdnsctl ls` (slowed) against a control socket at PATH that, on
    the first connection, says SAYS (maybe nothing) at once and closes."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)

    def answer():
        c, _ = srv.accept()
        if says:
            c.sendall(says)
        c.close()
    t = threading.Thread(target=answer)
    t.start()
    p = slowed_ctl(path, "ls")
    t.join(10)
    srv.close()
    return p


def test_linkdnsctl_refused_early_exits_1_with_a_message(daemons, work):
    d = daemons()
    # too long: the daemon answers once it read 64 KiB, and closes
    long_path = "/" + "p" * (LINE_MAX - 15)    # the line: exactly LINE_MAX
    p = slowed_ctl(d.control, "add", "x", "--netns", long_path)
    assert_refused(p, 1, "too long")
    # a server that refuses at once, before the request is written
    path = os.path.join(work, "refuser.sock")
    p = ctl_against(path, b"error permission denied: test\n")
    assert_refused(p, 1, "permission denied")
    # and one that closes saying nothing
    os.unlink(path)
    p = ctl_against(path, b"")
    assert_refused(p, 1)
    assert p.returncode == 1


def grow_until_compacted(d):
    """Changes until the state file shrinks (a compaction ran)."""
    pad = []
    for i in range(900):
        pad += ["--addr", "127.41.%d.%d" % (10 + i // 250, i % 250 + 1)]
    size = len(d.read_state())
    for i in range(40):
        for op in (["add", "junk"] + pad, ["rm", "junk"]):
            d.ok(*op)
            now = len(d.read_state())
            if now < size:
                return
            size = now
    raise AssertionError("never compacted (%d bytes)" % size)


@pytest.mark.parametrize("plant", ["symlink", "hardlink"])
def test_compaction_never_follows_a_planted_temporary(daemons, work, plant):
    victim = os.path.join(work, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    d = daemons()
    d.ok("add", "db", "--addr", "127.41.5.2")
    tmp = d.state + ".tmp"
    if plant == "symlink":
        os.symlink(victim, tmp)
    else:
        os.link(victim, tmp)
    grow_until_compacted(d)
    with open(victim) as f:
        assert f.read() == "precious\n", "compaction wrote through a " + plant
    assert not os.path.islink(d.state), "the state file became a symlink"
    assert not os.path.lexists(tmp)
    if "junk" in d.ls():
        d.ok("rm", "junk")
    table = d.ls()
    assert table == "add db --addr 127.41.5.2\n"
    d = restart(d, daemons)
    assert d.ls() == table


def test_zone_serial_never_follows_a_planted_temporary(daemons, work):
    victim = os.path.join(work, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    os.symlink(victim, os.path.join(work, "links.serial.tmp"))
    d = daemons("--publish-zone", "pub.test", "--publish-address",
                "127.41.6.1")
    d.ok("add", "db", "--addr", "127.41.6.2", "--publish", "15432:5432/tcp")
    with open(victim) as f:
        assert f.read() == "precious\n", "the serial was written through"
    serial = os.path.join(work, "links.serial")
    assert os.path.isfile(serial) and not os.path.islink(serial)
    with open(serial) as f:
        assert int(f.read()) > 0
