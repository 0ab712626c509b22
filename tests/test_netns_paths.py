"""Namespace paths and identities: a FIFO at a namespace path, a recycled
PID after a restart, the daemon's own namespace.

Run as root.  Every daemon listens on 127.0.0.1@PORT (conftest's Daemon) and
in each registered namespace on 127.0.0.11@53; container addresses are in
127.53.0.0/16 so that a test can ask "as" a container from the host.

- Nothing planted at a registered namespace path (a FIFO, a link to one, a
  regular file, a link to a real namespace) may stop the loop or open a
  listener; a real namespace mounted there later is still joined.
- The state file carries `--ns-id BOOTID:INODE:COOKIE` for every namespace
  the daemon has opened; after a restart a registration whose namespace is
  not the one recorded (a recycled PID, simulated by editing the PID or the
  id in the state file) is not joined, and a `--pid` of another boot waits
  for a new registration.
- The daemon's own namespace is never joined: refused on add, an error at
  load for a path, a warning (not joined) for a PID.
"""

import json
import os
import re
import subprocess
import time

import pytest

import dns.message
from conftest import (Daemon, addresses, make_query, netns_path,
                      require_root, run, run_linkdnsd, stop_all, wait_for)
from test_netns import (listener_inodes, processes,  # noqa: F401 (fixture)
                        spawn_netns_process, wait_answer)

PREFIX = "ldp%d-" % os.getpid()
NETNS_PREFIX = PREFIX
BOOT_ID = "/proc/sys/kernel/random/boot_id"
OTHER_BOOT = "00000000-1111-2222-3333-444444444444"
DB = "127.53.0.2"
WEB = "127.53.0.3"
ANSWER_DEADLINE = 3.0   # "within a short deadline" on a loaded machine
LOG_DEADLINE = 10.0
SO_NETNS_COOKIE = 71


# -- helpers ---------------------------------------------------------------------
class PathDaemon(Daemon):
    """conftest's Daemon, started on the state file of a directory the test
    owns (so that it can be stopped, edited and started again)."""

    def __init__(self, workdir, extra_args=()):
        super().__init__(None, extra_args, workdir=workdir)

    def read_state(self):
        with open(self.state) as f:
            return f.read()

    def wait_state(self, regex, deadline=LOG_DEADLINE):
        try:
            return wait_for("the state file matching %r" % regex,
                            lambda: re.search(regex, self.read_state(), re.M),
                            deadline, interval=0.02)[1]
        except AssertionError as e:
            raise AssertionError("%s:\n%s" % (e, self.read_state())) \
                from None


@pytest.fixture
def start(tmp_path):
    """``start(table=None, *args)``: a PathDaemon on tmp_path/links (the
    table written first unless None); every one is stopped (exit 0 and no
    sanitizer report asserted) when the test ends."""
    started = []

    def _start(table=None, *args):
        if table is not None:
            (tmp_path / "links").write_text(table)
        d = PathDaemon(tmp_path, args)
        started.append(d)
        return d

    yield _start
    stop_all(started)


def host_process(processes):
    """A process in the daemon's (the test's) own namespace."""
    p = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL)
    processes.append(p)
    return p


def boot_id():
    with open(BOOT_ID) as f:
        return f.read().strip()


def ns_inode(path):
    return os.stat(path).st_ino


def ns_cookie(nsenter_args):
    """SO_NETNS_COOKIE of a namespace, asked from inside it."""
    code = ("import socket; s = socket.socket(socket.AF_UNIX, "
            "socket.SOCK_DGRAM); print(int.from_bytes(s.getsockopt("
            "socket.SOL_SOCKET, %d, 8), 'little'))" % SO_NETNS_COOKIE)
    p = run(["nsenter"] + nsenter_args + ["/usr/bin/python3", "-c", code])
    return int(p.stdout)


def expected_id(path, nsenter_args):
    return "%s:%d:%d" % (boot_id(), ns_inode(path), ns_cookie(nsenter_args))


def answers_now(d, deadline=ANSWER_DEADLINE):
    """The daemon answers DNS (web's view: db) and its control socket, each
    within DEADLINE seconds."""
    q = make_query("db", "A")
    t0 = time.monotonic()
    data = d.exchange_udp(q.to_wire(), source=WEB, timeout=deadline)
    assert data is not None, ("no DNS answer within %.0f s: the loop is "
                              "blocked\nstderr:\n%s" % (deadline, d.stderr))
    assert addresses(dns.message.from_wire(data)) == [DB]
    try:
        p = d.ctl("ls", timeout=deadline)
    except subprocess.TimeoutExpired:
        raise AssertionError("no control answer within %.0f s: the loop is "
                             "blocked\nstderr:\n%s" % (deadline, d.stderr))
    assert p.returncode == 0 and "add web" in p.stdout, (p.stdout, p.stderr)
    return time.monotonic() - t0


def namespaces_open(d):
    return json.loads(d.ok("stats", "--json"))["namespaces"]


def table_with_path(path):
    return ("add db --addr %s\nadd web --netns %s --addr %s\nlink web db\n"
            % (DB, path, WEB))


# =============================================================================
# A FIFO (or anything else) at a namespace path never blocks the loop
# =============================================================================
def _plant_fifo(where, tmp):
    os.mkfifo(where)


def _plant_link_to_fifo(where, tmp):
    target = os.path.join(tmp, "fifo-target")
    os.mkfifo(target)
    os.symlink(target, where)


def _plant_regular_file(where, tmp):
    with open(where, "w") as f:
        f.write("not a namespace\n")


PLANTED = {"fifo": _plant_fifo, "link-to-fifo": _plant_link_to_fifo,
           "regular-file": _plant_regular_file}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_planted_path_never_blocks_and_a_real_namespace_later_works(
        kind, namespaces, start, tmp_path):
    """What an unprivileged user can do to a registered, missing namespace
    path in a directory they can write; the regular file is what `ip netns
    add` leaves for a moment, and was never blocking (a guard)."""
    real = namespaces.add("real")
    nsdir = tmp_path / "userdir"
    nsdir.mkdir()
    os.chmod(str(nsdir), 0o1777)
    path = str(nsdir / "ns")
    d = start(table_with_path(path))
    d.wait_log(r"namespace %s of 'web' does not exist \(yet\)"
               % re.escape(path))
    answers_now(d)

    n = len(d.stderr)
    PLANTED[kind](path, str(tmp_path))
    # each retry (after the inotify event, 100 rounds 50 ms apart) opens it
    # again: keep asking through them
    end = time.monotonic() + 2.0
    worst = 0.0
    while time.monotonic() < end:
        worst = max(worst, answers_now(d))
    print("%s: slowest DNS+control answer after planting: %.3f s"
          % (kind, worst))
    assert namespaces_open(d) == 0, d.stderr[n:]
    assert "appeared" not in d.stderr[n:], d.stderr[n:]

    # the planted thing goes; a real namespace is mounted there: joined
    os.unlink(path)
    open(path, "w").close()
    run(["mount", "--bind", netns_path(real), path])
    namespaces.mounts.append(path)
    wait_answer(["--net=" + path], "db", [DB])
    assert namespaces_open(d) == 1
    answers_now(d)


def test_planted_fifo_at_load_is_refused_without_blocking(tmp_path):
    require_root("the namespace tests")
    path = str(tmp_path / "ns")
    os.mkfifo(path)
    state = tmp_path / "links"
    state.write_text(table_with_path(path))
    try:
        p = run_linkdnsd(["--check-config", "--state", str(state),
                          "--no-upstream"], timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("--check-config blocked on a FIFO")
    assert p.returncode == 1, p.stderr
    assert re.search(r"^linkdnsd: error: %s:2: %s of 'web' is not a network "
                     r"namespace$" % (re.escape(str(state)), re.escape(path)),
                     p.stderr, re.M), p.stderr


def test_link_to_a_real_namespace_is_not_followed(namespaces, start,
                                                  tmp_path):
    """A user who can write the directory must not choose the namespace: a
    symbolic link at a --netns path is refused (bind mounts are the way)."""
    victim = namespaces.add("victim")
    path = str(tmp_path / "ns")
    d = start(table_with_path(path))
    d.wait_log(r"does not exist \(yet\)")
    n = len(d.stderr)
    os.symlink(netns_path(victim), path)
    d.wait_log(r"^linkdnsd: error: %s of 'web' is a symbolic link, not "
               r"followed" % re.escape(path), after=n)
    answers_now(d)
    assert namespaces_open(d) == 0
    assert not listener_inodes(["--net=" + netns_path(victim)])
    # a live add of a link is refused with the same reason
    p = d.ctl("add", "web2", "--netns", path, "--addr", "127.53.0.9")
    assert p.returncode != 0 and "symbolic link" in p.stderr, (p.stdout,
                                                               p.stderr)


# =============================================================================
# --ns-id: the namespace's identity in the state file
# =============================================================================
def db_web_and_pw(namespaces, start, processes, tag):
    """A daemon with db, web (in a new namespace TAG, by path) and pw (in a
    new process's namespace, by PID); (namespace, process, daemon)."""
    ns = namespaces.add(tag)
    proc = spawn_netns_process()
    processes.append(proc)
    d = start(None)
    d.ok("add", "db", "--addr", DB)
    d.ok("add", "web", "--netns", netns_path(ns), "--addr", WEB)
    d.ok("add", "pw", "--pid", proc.pid, "--addr", "127.53.0.4")
    return ns, proc, d


def test_state_file_line_carries_ns_id_after_add(namespaces, start,
                                                 processes):
    ns, proc, d = db_web_and_pw(namespaces, start, processes, "idn")
    state = d.read_state()
    want_ns = expected_id(netns_path(ns), ["--net=" + netns_path(ns)])
    pid_path = "/proc/%d/ns/net" % proc.pid
    want_pid = expected_id(pid_path, ["-t", str(proc.pid), "-n"])
    assert ("add web --netns %s --ns-id %s --addr %s\n"
            % (netns_path(ns), want_ns, WEB)) in state, state
    assert ("add pw --pid %d --ns-id %s --addr 127.53.0.4\n"
            % (proc.pid, want_pid)) in state, state
    # users never see or pass it: ls leaves it out, ls --json shows it
    ls = d.ok("ls")
    assert "--ns-id" not in ls and "add web --netns" in ls, ls
    doc = json.loads(d.ok("ls", "--json"))
    ids = {c["name"]: c["ns_id"] for c in doc["containers"]}
    assert ids == {"db": None, "web": want_ns, "pw": want_pid}, ids
    # and it survives a restart, the listeners open again
    d.stop()
    d2 = start(None)
    wait_answer(["-t", str(proc.pid), "-n"], "pw", ["127.53.0.4"])
    wait_answer(["--net=" + netns_path(ns)], "web", [WEB])
    assert "add pw --pid %d --ns-id %s " % (proc.pid, want_pid) in \
        d2.read_state()


def test_ns_id_is_written_for_a_table_without_it(namespaces, start,
                                                 tmp_path):
    """A hand-written table, and a namespace that appears after the start:
    the ids reach the state file (a snapshot is written)."""
    ns = namespaces.add("hand")
    late = namespaces.unique("late")
    namespaces.names.append(late)
    d = start("# hand-written\n" + table_with_path(netns_path(ns)) +
              "add late --netns %s --addr 127.53.0.5\n" % netns_path(late))
    want = expected_id(netns_path(ns), ["--net=" + netns_path(ns)])
    d.wait_state(r"^add web --netns %s --ns-id %s --addr %s$"
                 % (re.escape(netns_path(ns)), want, WEB))
    assert "--ns-id" not in re.search(r"^add late .*$", d.read_state(),
                                      re.M).group(0)
    run(["ip", "netns", "add", late])
    run(["ip", "-n", late, "link", "set", "lo", "up"])
    wait_answer(["--net=" + netns_path(late)], "late", ["127.53.0.5"])
    want = expected_id(netns_path(late), ["--net=" + netns_path(late)])
    d.wait_state(r"^add late --netns %s --ns-id %s --addr 127.53.0.5$"
                 % (re.escape(netns_path(late)), want))
    d.ok("link", "late", "db")     # later changes still append after it
    assert d.read_state().endswith("link late db\n")


def _unframed(text):
    """The state file as an admin edits it by hand: without the daemon's record
    headers (an edited record would no longer match its checksum)."""
    return "".join(l for l in text.splitlines(True)
                   if not l.startswith("#linkdns-record "))


def _stop_and_edit(d, old, new):
    d.stop()
    text = _unframed(d.read_state())
    assert old in text, (old, text)
    with open(d.state, "w") as f:
        f.write(text.replace(old, new))


def test_recycled_pid_after_restart_is_not_joined(start, processes):
    """`--pid P` registered; the daemon stops; P exits and another process
    in another namespace has P's PID (simulated: the state file's --pid is
    changed to the new process, its --ns-id kept)."""
    old = spawn_netns_process()
    processes.append(old)
    d = start(None)
    d.ok("add", "db", "--addr", DB)
    d.ok("add", "web", "--pid", old.pid, "--addr", WEB)
    d.ok("link", "web", "db")
    wait_answer(["-t", str(old.pid), "-n"], "db", [DB])
    new = spawn_netns_process()
    processes.append(new)
    _stop_and_edit(d, "--pid %d " % old.pid, "--pid %d " % new.pid)
    old.kill()
    old.wait()

    d2 = start(None)
    d2.wait_log(r"^linkdnsd: warning: %s:\d+: /proc/%d/ns/net is not the "
                r"namespace registered for 'web'" % (re.escape(d2.state),
                                                     new.pid))
    assert not listener_inodes(["-t", str(new.pid), "-n"])
    assert namespaces_open(d2) == 0
    # registering it again is what joins it
    d2.ok("add", "web", "--replace", "--pid", new.pid, "--addr", WEB)
    wait_answer(["-t", str(new.pid), "-n"], "db", [DB])


@pytest.mark.parametrize("field", ["inode", "cookie"])
def test_wrong_ns_id_in_state_file_is_not_joined(field, namespaces, start):
    ns = namespaces.add("wrong")
    d = start(table_with_path(netns_path(ns)))
    m = d.wait_state(r"--ns-id ([0-9a-f-]{36}):(\d+):(\d+) ")
    boot, ino, cookie = m.group(1), int(m.group(2)), int(m.group(3))
    assert cookie != 0, "this kernel has SO_NETNS_COOKIE (5.14+)"
    bad = ("%s:%d:%d" % (boot, ino + 1, cookie) if field == "inode" else
           "%s:%d:%d" % (boot, ino, cookie + 1))
    _stop_and_edit(d, m.group(0), "--ns-id %s " % bad)
    d2 = start(None)
    d2.wait_log(r"^linkdnsd: warning: %s:2: %s is not the namespace "
                r"registered for 'web'" % (re.escape(d2.state),
                                           re.escape(netns_path(ns))))
    assert not listener_inodes(["--net=" + netns_path(ns)])
    assert "--ns-id %s " % bad in d2.read_state()   # nothing overwritten
    answers_now(d2)


def test_other_boot_pid_waits_path_joins_and_is_recorded(namespaces, start,
                                                         processes):
    ns, proc, d = db_web_and_pw(namespaces, start, processes, "boot")
    d.stop()
    text = re.sub(r"--ns-id [0-9a-f-]{36}:", "--ns-id %s:" % OTHER_BOOT,
                  _unframed(d.read_state()))
    with open(d.state, "w") as f:
        f.write(text)

    d2 = start(None)
    d2.wait_log(r"^linkdnsd: warning: %s:\d+: process %d of 'pw' was "
                r"registered before a reboot: not joined until it is "
                r"registered again" % (re.escape(d2.state), proc.pid))
    assert not listener_inodes(["-t", str(proc.pid), "-n"])
    # a path joins the namespace there, and its new id is written
    wait_answer(["--net=" + netns_path(ns)], "web", [WEB])
    want = expected_id(netns_path(ns), ["--net=" + netns_path(ns)])
    d2.wait_state(r"^add web --netns %s --ns-id %s " %
                  (re.escape(netns_path(ns)), want))
    assert "--ns-id %s:" % OTHER_BOOT in re.search(
        r"^add pw .*$", d2.read_state(), re.M).group(0)
    d2.ok("add", "pw", "--replace", "--pid", proc.pid, "--addr",
          "127.53.0.4")
    wait_answer(["-t", str(proc.pid), "-n"], "pw", ["127.53.0.4"])


def test_ns_id_grammar(tmp_path):
    require_root("the namespace tests")
    good = "%s:4026532000:4096" % boot_id()
    cases = [
        ("add a --netns /run/netns/x --ns-id %s" % good, 0),
        ("add a --pid 42 --ns-id %s" % good.upper(), 0),
        ("add a --ns-id %s --addr 127.0.0.9" % good, 1),       # no namespace
        ("add a --pid 42 --ns-id %s --ns-id %s" % (good, good), 1),
        ("add a --pid 42 --ns-id %s:1:2" % boot_id()[:-1], 1),
        ("add a --pid 42 --ns-id %s:0:2" % boot_id(), 1),
        ("add a --pid 42 --ns-id %s:-1:2" % boot_id(), 1),
        ("add a --pid 42 --ns-id %s:1:+2" % boot_id(), 1),
        ("add a --pid 42 --ns-id %s:1" % boot_id(), 1),
        ("add a --pid 42 --ns-id %s:1:18446744073709551616" % boot_id(), 1),
    ]
    for i, (line, rc) in enumerate(cases):
        state = tmp_path / ("links%d" % i)
        state.write_text(line + "\n")
        p = run_linkdnsd(["--check-config", "--state", str(state),
                          "--no-upstream"])
        assert p.returncode == rc, (line, p.returncode, p.stderr)


# =============================================================================
# The daemon's own namespace is never joined
# =============================================================================
def host_bound(d):
    """Sockets of the daemon bound to 127.0.0.11:53 in its own namespace."""
    return listener_inodes(["--net=/proc/%d/ns/net" % os.getpid()]) & \
        _daemon_socket_inodes(d)


def _daemon_socket_inodes(d):
    out = set()
    for fd in os.listdir("/proc/%d/fd" % d.proc.pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (d.proc.pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            out.add(int(t[8:-1]))
    return out


def test_own_namespace_refused_on_add(namespaces, start, tmp_path,
                                      processes):
    host = host_process(processes)
    attached = namespaces.unique("host")
    namespaces.names.append(attached)
    run(["ip", "netns", "attach", attached, str(host.pid)])  # a bind mount
    link = str(tmp_path / "self")
    os.symlink("/proc/self/ns/net", link)
    d = start(table_with_path(str(tmp_path / "missing")))
    before = d.read_state()
    for args in (["--pid", host.pid], ["--pid", os.getpid()],
                 ["--netns", netns_path(attached)], ["--netns", link],
                 ["--pid", 1], ["--netns", "/proc/1/ns/net"]):
        p = d.ctl("add", "h", *args, "--addr", "127.53.0.7")
        assert p.returncode != 0, (args, p.stdout, d.stderr)
        print(args, p.stderr.strip())
        if args[0] == "--pid" and args[1] != 1 or \
                args[1] == netns_path(attached):
            assert "the daemon's own network namespace" in p.stderr, (
                args, p.stderr)
    assert d.read_state() == before
    assert not host_bound(d)
    answers_now(d)


def test_own_namespace_at_load(namespaces, start, tmp_path, processes):
    host = host_process(processes)
    attached = namespaces.unique("host")
    namespaces.names.append(attached)
    run(["ip", "netns", "attach", attached, str(host.pid)])
    state = tmp_path / "bad"
    state.write_text("add db --addr %s\nadd h --netns %s --addr %s\n"
                     % (DB, netns_path(attached), WEB))
    p = run_linkdnsd(["--check-config", "--state", str(state),
                      "--no-upstream"])
    assert p.returncode == 1, p.stderr
    assert re.search(r"^linkdnsd: error: %s:2: %s of 'h' is the daemon's "
                     r"own network namespace" % (re.escape(str(state)),
                                                 re.escape(netns_path(
                                                     attached))),
                     p.stderr, re.M), p.stderr
    # a PID is transient: a warning, the rest of the table serves
    d = start("add db --addr %s\nadd web --pid %d --addr %s\nlink web db\n"
              % (DB, host.pid, WEB))
    d.wait_log(r"^linkdnsd: warning: %s:2: /proc/%d/ns/net of 'web' is the "
               r"daemon's own network namespace: not joined"
               % (re.escape(d.state), host.pid))
    assert not host_bound(d)
    answers_now(d)
