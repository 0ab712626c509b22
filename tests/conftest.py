"""Shared fixtures and helpers for the linkdns end-to-end tests.

Every test talks to a real ``linkdnsd`` started on a free loopback port with a
copy of a link table in a temporary directory:

    linkdnsd --state T --listen 127.0.0.1@PORT --no-upstream \
             --control TMP/control.sock [extra args]

Container addresses are in 127.0.0.0/8 so that a test can ask "as" a
container by binding its client socket to that address (``source=``).

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
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
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


class Daemon:
    """A running linkdnsd: .port, .query(), .stderr, .stop()."""

    # asked until the daemon answers; its own (not forwarded) answer counts
    READINESS_PROBE = "readiness.probe.invalid"

    def __init__(self, table, extra_args=(), start_deadline=START_DEADLINE,
                 listen_host="127.0.0.1"):
        self.binary = linkdnsd_path()
        self.dir = tempfile.mkdtemp(prefix="ldns-")
        self.state = os.path.join(self.dir, "links")
        self.control = os.path.join(self.dir, "control.sock")
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.host = listen_host
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        if table is not None:
            if isinstance(table, str) and "\n" not in table \
                    and os.path.isfile(table):
                shutil.copyfile(table, self.state)
            else:
                data = table if isinstance(table, bytes) else table.encode()
                with open(self.state, "wb") as f:
                    f.write(data)
        try:
            self._start(start_deadline)
        except BaseException:
            self._cleanup()   # the failure message already holds stderr
            raise

    # -- life cycle --------------------------------------------------------
    def _start(self, deadline_s):
        last = None
        for _attempt in range(5):
            self.port = free_port(self.host)
            self.argv = self._argv("%s@%d" % (self.host, self.port))
            if getattr(self, "_errf", None):
                self._errf.close()
            self._errf = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=self._errf,
                                         stderr=self._errf)
            t0 = time.monotonic()
            deadline = t0 + deadline_s
            raced = False
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self._answers():
                    held = _port_inodes(self.port)
                    try:
                        mine = _socket_inodes(self.proc.pid)
                    except OSError:
                        mine = set()
                    if held - mine:
                        raced = True   # someone else holds our port too
                        break
                    if len(held) >= 2:
                        self.ready_seconds = time.monotonic() - t0
                        return
                time.sleep(0.02)  # poll interval, not synchronisation
            if raced:
                self._kill()
                continue
            rc = self.proc.poll()
            if rc is None:
                self._kill()
                pytest.fail("linkdnsd did not answer a DNS query within "
                            "%.0f s\nargv: %s\nstderr:\n%s"
                            % (deadline_s, " ".join(self.argv), self.stderr),
                            pytrace=False)
            last = rc
            if "in use" not in self.stderr.lower():
                break  # a real start-up failure, not a port race
        pytest.fail("linkdnsd exited with %s before answering\nargv: %s\n"
                    "stderr:\n%s" % (last, " ".join(self.argv), self.stderr),
                    pytrace=False)

    def _argv(self, listen):
        """The command line, listening on LISTEN (ADDR@PORT)."""
        return [self.binary, "--state", self.state, "--listen", listen,
                "--no-upstream", "--control", self.control] + self.extra_args

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
            stop_cleanly(self.proc, self.stderr_path)
        finally:
            self._cleanup()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _cleanup(self):
        self._kill()
        try:
            self._errf.close()
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def stderr(self):
        return read_log(self.stderr_path)

    # -- raw exchanges -----------------------------------------------------
    def _family(self):
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def udp_socket(self, source=None):
        s = socket.socket(self._family(), socket.SOCK_DGRAM)
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
        s = socket.socket(self._family(), socket.SOCK_STREAM)
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
