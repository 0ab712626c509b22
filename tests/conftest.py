"""Shared fixtures and helpers for the linkdns end-to-end tests.

Every test talks to a real ``linkdnsd`` started on a free loopback port with a
copy of a link table in a temporary directory:

    linkdnsd --state T --listen 127.0.0.1@PORT --no-upstream \
             --control TMP/control.sock [extra args]

Container addresses are in 127.0.0.0/8 so that a test can ask "as" a
container by binding its client socket to that address (``source=``).  Each
test file that invents addresses keeps them in a /16 of its own, named in its
docstring, so that test files running side by side (or another run of the
suite) never bind the same address and port: 127.20 test_answers, .30
test_isolation, .40 test_control, .41 test_control_durability, .42
test_protocol, .50 test_forward, .51 test_transport_limits, .52
test_forward_spoofing, .53 test_netns_paths, .54 test_parser, .55 test_zones,
.60 test_large, .61 test_networks, .63 test_shared_listener, .93
test_attacks_held.  127.0.0.0/16 is shared: the example
tables (zones/*.links) and a few small tables (test_notimp_flags, test_ops,
test_xfr_tsig, the namespace tests) use it, but only as a client's source
(port 0) or inside network namespaces a test made, where nothing collides.

The binaries are found through ``$LINKDNS_BUILD`` (a meson build directory),
default ``<repo>/build``.  A missing binary is a test failure, never a skip.

Also here, for every test file: running commands (run), stopping a daemon
and checking its exit (stop_cleanly, stop_all, daemon_factory) and network
namespaces (Namespaces, the namespaces fixture: each file names its own with
its NETNS_PREFIX).
"""

import ctypes
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("LINKDNS_BUILD") or os.path.join(REPO, "build")
LINKDNSD = os.path.join(BUILD, "linkdnsd")
LINKDNSCTL = os.path.join(BUILD, "linkdnsctl")
START_DEADLINE = 10.0
STOP_DEADLINE = 10.0
NETNS_DIR = "/run/netns"
ETC_NETNS = "/etc/netns"

# Words that only appear in stderr when a sanitizer (build-asan) found a bug.
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                     "UndefinedBehaviorSanitizer")


def linkdnsd_path():
    """The daemon binary; fails the test (no skip) when it is missing."""
    if not (os.path.isfile(LINKDNSD) and os.access(LINKDNSD, os.X_OK)):
        pytest.fail(
            "linkdnsd not found at %s: build it first "
            "(meson setup build && ninja -C build) or set LINKDNS_BUILD "
            "to a build directory" % LINKDNSD, pytrace=False)
    return LINKDNSD


def is_asan_build():
    """Whether the daemon under test is an AddressSanitizer build."""
    with open(linkdnsd_path(), "rb") as f:
        return b"__asan_init" in f.read()


def rss_env():
    """The environment for a daemon whose memory a test measures.
    AddressSanitizer keeps freed memory resident in its quarantine (up to 256
    MiB) by design: in a sanitizer build it is turned off for that daemon
    (LeakSanitizer still checks for leaks when it exits).  None: inherit."""
    if not is_asan_build():
        return None
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(
        x for x in (env.get("ASAN_OPTIONS"), "quarantine_size_mb=0") if x)
    return env


def linkdnsctl_path():
    """The control client binary; fails the test (no skip) when missing."""
    if not (os.path.isfile(LINKDNSCTL) and os.access(LINKDNSCTL, os.X_OK)):
        pytest.fail("linkdnsctl not found at %s: build it first (ninja -C "
                    "build) or set LINKDNS_BUILD" % LINKDNSCTL, pytrace=False)
    return LINKDNSCTL


def require_root(what="these tests"):
    """Fail (never skip) unless running as root; WHAT names the tests."""
    if os.geteuid() != 0:
        pytest.fail("%s need root" % what, pytrace=False)


def run(argv, check=True, timeout=60, **kw):
    """Run a command to completion, output captured as text, stdin closed.

    With CHECK a non-zero exit is an AssertionError showing its output."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(argv), p.returncode, p.stdout,
                                p.stderr))
    return p


# -- a daemon's stderr and its exit --------------------------------------------
def read_log(path):
    """The text of a log file written by a daemon ("" while it is missing)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def assert_no_sanitizer_report(stderr):
    """A sanitizer build (build-asan) found no bug: none of its words in
    STDERR."""
    for marker in SANITIZER_MARKERS:
        assert marker not in stderr, "sanitizer report:\n" + stderr


def stop_cleanly(proc, stderr_path, deadline=STOP_DEADLINE):
    """Stop a linkdnsd as every test expects it to stop.

    SIGTERM (unless PROC has exited already), then assert that it exited
    within DEADLINE seconds (else it is killed), with status 0, and that its
    stderr (the file STDERR_PATH) holds no sanitizer report."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(deadline)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(
                "linkdnsd did not exit within %.0f s of SIGTERM\n"
                "stderr:\n%s" % (deadline, read_log(stderr_path)))
    err = read_log(stderr_path)
    assert proc.returncode == 0, ("linkdnsd exited %s (expected 0 after "
                                  "SIGTERM)\nstderr:\n%s"
                                  % (proc.returncode, err))
    assert_no_sanitizer_report(err)


def stop_all(daemons):
    """Call .stop() on every daemon (each asserts a clean exit); then one
    test failure listing every daemon that did not stop cleanly."""
    errors = []
    for d in daemons:
        try:
            d.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


def daemon_factory(cls):
    """Generator body of a factory fixture: yields ``start(table,
    *extra_args, **kw)``, which returns ``cls(table, extra_args, **kw)``;
    every daemon started is stopped (stop_all) when the test ends."""
    started = []

    def start(table, *extra_args, **kw):
        d = cls(table, extra_args, **kw)
        started.append(d)
        return d

    yield start
    stop_all(started)


def in_threads(fn, n, join_timeout):
    """FN(0) ... FN(N-1) at once, one thread each; each thread waited for
    JOIN_TIMEOUT seconds at most (FN records its own result)."""
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(join_timeout)


_port_rng = random.Random(os.getpid() ^ time.time_ns())


def free_port(host="127.0.0.1"):
    """A port free for both UDP and TCP on HOST.

    Drawn at random below the kernel's ephemeral range (32768-60999), where
    client sockets and other test runs' bind(0) do not land."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        port = _port_rng.randrange(20000, 32000)
        t = socket.socket(family, socket.SOCK_STREAM)
        u = socket.socket(family, socket.SOCK_DGRAM)
        try:
            t.bind((host, port))
            u.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port found")


def _socket_inodes(pid):
    out = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def _port_inodes(port):
    """Inodes of every UDP socket and TCP listener on PORT (any address)."""
    out = set()
    for proto in ("udp", "udp6", "tcp", "tcp6"):
        try:
            with open("/proc/net/" + proto) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) != port:
                        continue
                    if proto.startswith("tcp") and fields[3] != "0A":
                        continue  # only listeners
                    out.add(fields[9])
        except OSError:
            continue
    return out


def run_linkdnsd(args, timeout=20):
    """Run linkdnsd to completion (e.g. --check-config); CompletedProcess."""
    return subprocess.run([linkdnsd_path()] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes"
                           % (len(buf), n))
        buf += chunk
    return buf


def tcp_read_message(sock):
    """Read one length-prefixed DNS message from a TCP socket."""
    (length,) = struct.unpack("!H", _recv_exact(sock, 2))
    return _recv_exact(sock, length)


def recv_reply(sock, wire, timeout, match_id=True):
    """The reply to WIRE (already sent) on the connected datagram socket
    SOCK, or None when none came within TIMEOUT seconds.

    With MATCH_ID, datagrams whose ID differs from WIRE's are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data = sock.recv(65535)
        except socket.timeout:
            return None
        if not match_id or len(wire) < 2 or data[:2] == wire[:2]:
            return data


def tcp_frame(wire):
    return struct.pack("!H", len(wire)) + wire


def tcp_split(buf):
    """The whole length-prefixed DNS messages at the start of BUF (a TCP
    stream as received so far): (list of messages, the bytes left over)."""
    msgs = []
    while len(buf) >= 2:
        (n,) = struct.unpack("!H", buf[:2])
        if len(buf) < 2 + n:
            break
        msgs.append(buf[2:2 + n])
        buf = buf[2 + n:]
    return msgs, buf


def make_query(name, rdtype="A", edns=None, want_dnssec=False, payload=None,
               options=None, rdclass="IN", qid=None, flags=dns.flags.RD):
    """A query message; edns=None means no OPT unless DO or options ask."""
    if edns is None and (want_dnssec or payload is not None or options):
        edns = 0
    kwargs = dict(use_edns=edns if edns is not None else False,
                  want_dnssec=want_dnssec, flags=flags)
    if payload is not None:
        kwargs["payload"] = payload
    if options:
        kwargs["options"] = options
    if qid is not None:
        kwargs["id"] = qid
    q = dns.message.make_query(name, rdtype, rdclass, **kwargs)
    if edns:
        # make_query() of dnspython 2.3 drops a version > 0: set it again
        q.use_edns(edns, q.ednsflags, q.payload, options=q.options)
        assert q.edns == edns
    return q


def wait_for(what, fn, deadline, interval=0.05):
    """The suite's one poll: FN() every INTERVAL seconds until it returns a
    true value; returns (seconds taken, value).  An AssertionError naming
    WHAT when DEADLINE seconds pass first."""
    t0 = time.monotonic()
    last = None
    while True:
        last = fn()
        if last:
            return time.monotonic() - t0, last
        if time.monotonic() - t0 > deadline:
            raise AssertionError("%s: not within %.0f s (last: %r)"
                                 % (what, deadline, last))
        time.sleep(interval)   # poll interval, not synchronisation


# The line a daemon without a listener of its own says when it is ready.
READY_LINE = re.compile(r"^linkdnsd: info: ready: .*$", re.M)


class Daemon:
    """A running linkdnsd: .port, .query(), .ctl(), .stderr, .stop().

    The one wrapper of the suite: test files subclass it for their command
    line (_argv), the way they reach it (_answers) or methods of their own.
    By default it lives in a temporary directory of its own (removed when it
    stops) and listens on a free port of LISTEN_HOST; WORKDIR (kept) and
    STATE name the test's own; LISTEN_HOST None: no --listen (it is ready
    when it logs READY_LINE); PORT: a fixed port; NETNS: run in that network
    namespace (`ip netns exec`), asked from there; PREFIX: a command run in
    front (prlimit, setpriv); START=False: started by .start()."""

    # asked until the daemon answers; its own (not forwarded) answer counts
    READINESS_PROBE = "readiness.probe.invalid"
    STOP_DEADLINE = STOP_DEADLINE   # seconds from SIGTERM to its exit

    def __init__(self, table, extra_args=(), start_deadline=START_DEADLINE,
                 listen_host="127.0.0.1", workdir=None, state=None, port=None,
                 netns=None, prefix=(), env=None, start=True):
        self.binary = linkdnsd_path()
        self.own_dir = workdir is None
        self.dir = tempfile.mkdtemp(prefix="ldns-") if self.own_dir \
            else str(workdir)
        self.state = state or os.path.join(self.dir, "links")
        self.control = os.path.join(self.dir, "control.sock")
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.host = listen_host
        self.fixed_port = port
        self.netns = netns
        self.prefix = (["ip", "netns", "exec", netns] if netns else []) \
            + list(prefix)
        self.env = env
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self._errf = None
        if table is not None:
            self.write_table(table)
        if start:
            self.start(start_deadline)

    def write_table(self, table):
        """The state file becomes TABLE (text, bytes or a file's path),
        atomically (a running daemon never reads half of it)."""
        if isinstance(table, str) and "\n" not in table \
                and os.path.isfile(table):
            with open(table, "rb") as f:
                table = f.read()
        data = table if isinstance(table, bytes) else table.encode()
        with open(self.state + ".tmp", "wb") as f:
            f.write(data)
        os.rename(self.state + ".tmp", self.state)

    # -- life cycle --------------------------------------------------------
    def start(self, deadline_s=START_DEADLINE):
        """Starts linkdnsd and waits until it is ready; returns the seconds
        that took (also .ready_seconds)."""
        try:
            self._start(deadline_s)
        except BaseException:
            self._cleanup()   # the failure message already holds stderr
            raise
        return self.ready_seconds

    def _start(self, deadline_s):
        last = None
        for _attempt in range(5):
            if self.host is None:
                self.port, listen = None, None
            else:
                self.port = self.fixed_port or free_port(self.host)
                listen = "%s@%d" % (self.host, self.port)
            self.argv = self.prefix + self._argv(listen)
            if self._errf:
                self._errf.close()
            self._errf = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=self._errf,
                                         stderr=self._errf, env=self.env)
            try:
                took, state = wait_for("linkdnsd ready", self._ready,
                                       deadline_s, interval=0.02)
            except AssertionError:
                self._kill()
                pytest.fail("linkdnsd was not ready within %.0f s\nargv: "
                            "%s\nstderr:\n%s" % (deadline_s,
                                                 " ".join(self.argv),
                                                 self.stderr), pytrace=False)
            if state == "ready":
                self.ready_seconds = took
                return
            if state == "raced":
                self._kill()
                continue
            last = self.proc.returncode
            if self.fixed_port or "in use" not in self.stderr.lower():
                break  # a real start-up failure, not a port race
        pytest.fail("linkdnsd exited with %s before it was ready\nargv: %s\n"
                    "stderr:\n%s" % (last, " ".join(self.argv), self.stderr),
                    pytrace=False)

    def _ready(self):
        """The suite's one readiness check: "ready" once linkdnsd answers a
        DNS query on its port, and no other process holds that port
        ("raced": start again elsewhere); without a listener, once it logs
        READY_LINE; "exited" when it exits first; else False."""
        if self.host is None:
            m = READY_LINE.search(self.stderr)
            if m:
                self.ready_line = m.group(0)
                return "ready"
        elif self._answers():
            if self.fixed_port or self.netns:
                return "ready"   # no other test binds there
            held = _port_inodes(self.port)
            try:
                mine = _socket_inodes(self.proc.pid)
            except OSError:
                mine = set()
            if held - mine:
                return "raced"   # someone else holds our port too
            if len(held) >= 2:
                return "ready"
        if self.proc.poll() is not None:
            return "exited"
        return False

    def _argv(self, listen):
        """The command line, listening on LISTEN (ADDR@PORT; None: no
        --listen)."""
        return ([self.binary, "--state", self.state]
                + (["--listen", listen] if listen else [])
                + ["--no-upstream", "--control", self.control]
                + self.extra_args)

    def _answers(self):
        q = make_query(self.READINESS_PROBE, "A")
        try:
            r = self.exchange_udp(q.to_wire(), source=None, timeout=0.2)
        except OSError:
            return False
        return r is not None and len(r) >= 12

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM; assert a clean exit 0 and no sanitizer report."""
        if self.proc is None:
            return
        try:
            stop_cleanly(self.proc, self.stderr_path, self.STOP_DEADLINE)
        finally:
            self._cleanup()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _cleanup(self):
        """Kills it if it runs; removes its directory if it is its own."""
        self._kill()
        if self._errf:
            self._errf.close()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def stderr(self):
        return read_log(self.stderr_path)

    def wait_log(self, regex, deadline=10.0, after=0, what=None):
        """Waits for a stderr line matching REGEX (in the text from offset
        AFTER on); returns the match.  Fails when linkdnsd exits first."""
        pat = re.compile(regex, re.M)

        def seen():
            m = pat.search(self.stderr, after)
            if m is None and self.proc.poll() is not None:
                raise AssertionError("linkdnsd exited %s while waiting for "
                                     "%s\nargv: %s" % (self.proc.returncode,
                                                       what or regex,
                                                       " ".join(self.argv)))
            return m

        try:
            return wait_for(what or "log line %r" % regex, seen, deadline,
                            interval=0.02)[1]
        except AssertionError as e:
            raise AssertionError("%s\nstderr:\n%s" % (e, self.stderr)) \
                from None

    # -- linkdnsctl ----------------------------------------------------------
    def ctl(self, *args, prefix=(), timeout=30, check=False):
        """`linkdnsctl --control CONTROL ARGS` run to completion (with
        PREFIX in front); CompletedProcess."""
        argv = list(prefix) + [linkdnsctl_path(), "--control", self.control]
        return run(argv + [str(a) for a in args], check=check,
                   timeout=timeout)

    def ok(self, *args, **kw):
        """ctl(ARGS) that must succeed; its stdout."""
        p = self.ctl(*args, **kw)
        assert p.returncode == 0, (
            "linkdnsctl %s exited %d\nstdout:\n%s\nstderr:\n%s\ndaemon:\n%s"
            % (" ".join(map(str, args)), p.returncode, p.stdout, p.stderr,
               self.stderr[-3000:]))
        return p.stdout

    # -- raw exchanges -----------------------------------------------------
    def _family(self):
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def udp_socket(self, source=None):
        s = socket_in(self.netns, self._family(), socket.SOCK_DGRAM)
        if source:
            s.bind((source, 0))
        s.connect((self.host, self.port))
        return s

    def exchange_udp(self, wire, source=None, timeout=3.0, match_id=True):
        """Send one datagram, return the reply bytes (None on timeout).

        With match_id, datagrams whose ID differs are skipped."""
        s = self.udp_socket(source)
        try:
            s.send(wire)
            return recv_reply(s, wire, timeout, match_id)
        finally:
            s.close()

    def tcp_connect(self, source=None, timeout=5.0):
        s = socket_in(self.netns, self._family(), socket.SOCK_STREAM)
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect((self.host, self.port))
        return s

    def exchange_tcp(self, wire, source=None, timeout=5.0):
        s = self.tcp_connect(source, timeout)
        try:
            s.sendall(tcp_frame(wire))
            return tcp_read_message(s)
        finally:
            s.close()

    # -- DNS queries -------------------------------------------------------
    def query(self, name, rdtype="A", source=None, tcp=False,
              want_dnssec=False, edns=None, payload=None, options=None,
              rdclass="IN", timeout=3.0):
        """Ask NAME/TYPE from SOURCE; returns the parsed dns.message.

        The reply's bytes are kept in ``.last_wire``.  A missing reply is
        an assertion failure."""
        q = make_query(name, rdtype, edns=edns, want_dnssec=want_dnssec,
                       payload=payload, options=options, rdclass=rdclass)
        wire = q.to_wire()
        if tcp:
            data = self.exchange_tcp(wire, source, timeout)
        else:
            data = self.exchange_udp(wire, source, timeout)
        assert data is not None, ("no reply to %s %s from %s over %s"
                                  % (name, rdtype, source,
                                     "TCP" if tcp else "UDP"))
        self.last_wire = data
        r = dns.message.from_wire(data)
        assert r.id == q.id, "reply ID %d != query ID %d" % (r.id, q.id)
        assert r.flags & dns.flags.QR, "QR not set in the reply"
        return r


@pytest.fixture
def linkdns():
    """Factory: ``d = linkdns(table, *extra_args)`` starts a daemon that is
    stopped (SIGTERM, exit 0 asserted) when the test ends."""
    yield from daemon_factory(Daemon)


def module_daemon(table, *extra_args, **kw):
    """Generator body for module-scoped daemon fixtures."""
    d = Daemon(table, extra_args, **kw)
    try:
        yield d
    except BaseException:
        d._cleanup()
        raise
    d.stop()


# -- network namespaces -------------------------------------------------------
def netns_path(name):
    """Where `ip netns add NAME` mounts the namespace."""
    return os.path.join(NETNS_DIR, name)


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def socket_in(ns, family, kind, proto=0):
    """A socket created inside network namespace NS (None: this one)."""
    if ns is None:
        return socket.socket(family, kind, proto)
    home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    fd = os.open(netns_path(ns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
        try:
            return socket.socket(family, kind, proto)
        finally:
            _setns(home)
    finally:
        os.close(fd)
        os.close(home)


class Namespaces:
    """Network namespaces made with `ip netns add`, named PREFIX<n>TAG; all
    removed by cleanup() (with their /etc/netns/NAME and the bind mounts
    listed in .mounts), whatever happened in between.

    Each test file has a prefix of its own (its NETNS_PREFIX): tests run in
    parallel with other runs on the same machine."""

    _serial = 0

    def __init__(self, prefix):
        require_root("the namespace tests (ip netns add, setns)")
        self.prefix = prefix
        self.names = []
        self.etc_dirs = []
        self.mounts = []
        self.etc_netns_made = not os.path.isdir(ETC_NETNS)

    def unique(self, tag):
        """A fresh name PREFIX<n>TAG (nothing is created)."""
        Namespaces._serial += 1
        return "%s%d%s" % (self.prefix, Namespaces._serial, tag)

    def add(self, tag, lo=True, resolv_conf=False):
        """Creates namespace PREFIX<n>TAG (lo up unless LO is false; with
        RESOLV_CONF, /etc/netns/NAME/resolv.conf names 127.0.0.11); returns
        its name."""
        name = self.unique(tag)
        self.names.append(name)
        run(["ip", "netns", "add", name])
        if lo:
            run(["ip", "-n", name, "link", "set", "lo", "up"])
        if resolv_conf:
            d = os.path.join(ETC_NETNS, name)
            os.makedirs(d, exist_ok=True)
            self.etc_dirs.append(d)
            with open(os.path.join(d, "resolv.conf"), "w") as f:
                f.write("nameserver 127.0.0.11\n")
        return name

    def add_many(self, tag, n):
        """n namespaces at once (one `ip -batch`), lo up in each."""
        names = [self.unique(tag) for _ in range(n)]
        self.names.extend(names)
        p = subprocess.run(["ip", "-batch", "-"], text=True,
                           input="".join("netns add %s\n" % x for x in names),
                           capture_output=True, timeout=300)
        assert p.returncode == 0, "ip -batch netns add: %s" % p.stderr
        for x in names:
            run(["ip", "-n", x, "link", "set", "lo", "up"])
        return names

    def delete(self, name):
        run(["ip", "netns", "del", name])

    def cleanup(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True,
                           stdin=subprocess.DEVNULL)
        left = [x for x in self.names if os.path.exists(netns_path(x))]
        if left:
            subprocess.run(["ip", "-force", "-batch", "-"], text=True,
                           input="".join("netns del %s\n" % x for x in left),
                           capture_output=True)
        for x in self.names:
            if os.path.exists(netns_path(x)):
                p = subprocess.run(["ip", "netns", "del", x], text=True,
                                   capture_output=True,
                                   stdin=subprocess.DEVNULL)
                if p.returncode != 0:
                    print("cleanup: ip netns del %s: %s" % (x, p.stderr),
                          file=sys.stderr)
        for d in self.etc_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if self.etc_netns_made:
            try:
                os.rmdir(ETC_NETNS)
            except OSError:
                pass


@pytest.fixture
def namespaces(request):
    """Namespaces for one test, named with its module's NETNS_PREFIX;
    removed when the test ends."""
    prefix = getattr(request.module, "NETNS_PREFIX", None)
    if prefix is None:
        pytest.fail("%s uses the namespaces fixture without a NETNS_PREFIX"
                    % request.module.__name__, pytrace=False)
    ns = Namespaces(prefix)
    try:
        yield ns
    finally:
        ns.cleanup()


# -- dig ---------------------------------------------------------------------
DIG = shutil.which("dig") or "/usr/bin/dig"


def dig(port, *args, source=None, server="127.0.0.1", timeout=10):
    """Run dig against the daemon as a user would; returns stdout.

    ``args`` are dig arguments (names, types, +options, -x ADDR)."""
    if not os.access(DIG, os.X_OK):
        pytest.fail("dig not found: apt-get install dnsutils", pytrace=False)
    argv = [DIG, "@" + server, "-p", str(port), "+time=2", "+tries=1"]
    if source:
        argv += ["-b", source]
    argv += list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.stdout


# -- helpers for asserting answers ---------------------------------------------
def rrset_texts(section):
    """Sorted rdata texts of every record in a section."""
    return sorted(rd.to_text() for rrset in section for rd in rrset)


def records(section, rdtype):
    return [rd for rrset in section if rrset.rdtype == dns.rdatatype.from_text(
        rdtype) for rd in rrset]


def addresses(msg, rdtype="A", section="answer"):
    return sorted(rd.address for rd in records(getattr(msg, section), rdtype))


def rcode_text(msg):
    return dns.rcode.to_text(msg.rcode())


def count(section):
    return sum(len(rrset) for rrset in section)


def reverse_name(addr):
    import dns.reversename
    return dns.reversename.from_address(addr).to_text()


def closed_within(s, seconds, drip=None, every=0.5):
    """Seconds until the server closed S (None if still open after SECONDS);
    with DRIP (bytes), one of them is sent every EVERY seconds meanwhile."""
    t0 = time.monotonic()
    next_drip = t0
    drip = list(drip or b"")
    s.settimeout(0.05)
    while time.monotonic() - t0 < seconds:
        if drip and time.monotonic() >= next_drip:
            try:
                s.send(bytes([drip.pop(0)]))
            except OSError:
                return time.monotonic() - t0
            next_drip += every
        try:
            if s.recv(100) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - t0
    return None


def status_kib(pid, key):
    """A /proc/PID/status field in KiB (VmRSS, VmHWM, ...)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("%s not in /proc/%d/status" % (key, pid))
