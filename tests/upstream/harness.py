"""Helpers for the forwarding and static-zone tests (tests/test_forward.py,
tests/test_zones.py): upstream servers started by the test, and linkdnsd
started *with* forwarding (conftest.Daemon always passes --no-upstream).

- Unbound: a real unbound on loopback (`unbound -d -c CONF`), local-data only,
  queries logged to a file.
- Recorder: a tiny dnspython server (UDP + TCP, one thread) that answers every
  A question with its own address and records (qname, qtype, transport, DO,
  EDNS payload, option codes) of everything it receives.
- Blackhole: a UDP socket and a TCP listener bound by the test that never
  answer.
- FwdDaemon: conftest.Daemon without --no-upstream (its extra arguments give
  --upstream / --zones / --max-forwards ...).
- NETNS_PREFIX: the names of the namespaces these tests make (conftest's
  namespaces fixture); ns_ask() asks from inside one.
"""

import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

import conftest
from conftest import (Daemon, daemon_factory, free_port, make_query,
                      wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
ASK = os.path.join(HERE, "ask.py")
PYTHON = "/usr/bin/python3"
UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
NETNS_PREFIX = "ldf%d-" % os.getpid()


# -- DNS exchanges with any server ---------------------------------------------
def exchange(host, port, wire, tcp=False, source=None, timeout=3.0):
    """Send WIRE to host:port; reply bytes or None on timeout."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    if tcp:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            if source:
                s.bind((source, 0))
            s.connect((host, port))
            s.sendall(conftest.tcp_frame(wire))
            return conftest.tcp_read_message(s)
        except (socket.timeout, EOFError, ConnectionError):
            return None
        finally:
            s.close()
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        if source:
            s.bind((source, 0))
        s.connect((host, port))
        s.send(wire)
        try:
            return conftest.recv_reply(s, wire, timeout)
        except ConnectionRefusedError:
            return None      # nothing listens there
    finally:
        s.close()


def ask(host, port, name, rdtype="A", tcp=False, source=None, timeout=3.0,
        **kw):
    """(parsed reply, wire) or (None, None)."""
    q = make_query(name, rdtype, **kw)
    data = exchange(host, port, q.to_wire(), tcp=tcp, source=source,
                    timeout=timeout)
    if data is None:
        return None, None
    r = dns.message.from_wire(data)
    assert r.id == q.id
    return r, data


def rdata_wires(msg, rdtype, section="answer"):
    """Sorted (owner, ttl, rdata wire) of every TYPE record of a section:
    the RDATA as bytes, uncompressed, exactly as the server sent it."""
    t = dns.rdatatype.from_text(rdtype)
    out = []
    for rrset in getattr(msg, section):
        if rrset.rdtype != t:
            continue
        for rd in rrset:
            out.append((rrset.name.to_text().lower(), rrset.ttl,
                        rd.to_wire()))
    return sorted(out)


def wait_answers(host, port, name="ready.probe.invalid", deadline=10.0,
                 proc=None, what="server"):
    """Until the server at HOST@PORT answers NAME (conftest.wait_for); an
    AssertionError when PROC exits first."""
    def answers():
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s exited %s before answering"
                                 % (what, proc.returncode))
        return ask(host, port, name, timeout=0.2)[0] is not None

    wait_for("%s at %s@%d answering" % (what, host, port), answers, deadline)


# -- unbound ---------------------------------------------------------------------
class Unbound:
    """unbound -d on ADDR@PORT serving local data; .log_path has its query log."""

    def __init__(self, addr, local_zones, local_data, threads=1,
                 log_queries=True):
        if not os.access(UNBOUND, os.X_OK):
            pytest.fail("unbound not found: apt-get install unbound",
                        pytrace=False)
        self.addr = addr
        self.dir = tempfile.mkdtemp(prefix="ldt-unbound-")
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.log_path = os.path.join(self.dir, "unbound.log")
        self.proc = None
        lines = [
            "server:",
            '  username: ""',
            '  chroot: ""',
            '  directory: "%s"' % self.dir,
            '  pidfile: ""',
            "  do-daemonize: no",
            "  use-syslog: no",
            '  logfile: "%s"' % self.log_path,
            "  log-queries: %s" % ("yes" if log_queries else "no"),
            "  verbosity: 0",
            "  num-threads: %d" % threads,
            '  module-config: "iterator"',
            "  do-ip6: no",
            "  so-rcvbuf: 4m",
            "  so-sndbuf: 4m",
            "  num-queries-per-thread: 4096",
            "  outgoing-range: 8192",
            "  access-control: 127.0.0.0/8 allow",
            "  minimal-responses: no",
        ]
        for z in local_zones:
            lines.append('  local-zone: %s' % z)
        for d in local_data:
            q = "'" if '"' in d else '"'
            lines.append("  local-data: %s%s%s" % (q, d, q))
        for attempt in range(5):
            self.port = free_port(addr)
            text = "\n".join(lines + ["  interface: %s@%d" % (addr, self.port)]
                             ) + "\n"
            with open(self.conf, "w") as f:
                f.write(text)
            self.errf = open(os.path.join(self.dir, "stderr"), "wb")
            self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf],
                                         stdin=subprocess.DEVNULL,
                                         stdout=self.errf, stderr=self.errf)
            try:
                wait_answers(addr, self.port, "www.example.test",
                             proc=self.proc, what="unbound")
                return
            except AssertionError:
                self._kill()
                if attempt == 4:
                    err = self.stderr()
                    self.close()
                    raise AssertionError("unbound did not start:\n" + err)

    def stderr(self):
        out = ""
        for p in (os.path.join(self.dir, "stderr"), self.log_path):
            try:
                with open(p, errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def endpoint(self):
        return "%s@%d" % (self.addr, self.port)

    def logged_names(self):
        """Lower-cased qnames in unbound's query log (lines
        `info: ADDR NAME. TYPE IN`)."""
        names = []
        try:
            with open(self.log_path, errors="replace") as f:
                for line in f:
                    parts = line.split()
                    if "info:" in parts:
                        i = parts.index("info:")
                        if len(parts) >= i + 5 and parts[-1] == "IN":
                            names.append(parts[i + 2].lower())
        except OSError:
            pass
        return names

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            self.errf.close()
        except Exception:
            pass

    def close(self):
        self._kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- test servers: a recording upstream and a blackhole ------------------------
def bind_udp_tcp(addr, reuse_addr=False):
    """(port, udp, tcp): a UDP socket and a listening TCP socket bound to the
    same free port on ADDR (with REUSE_ADDR, SO_REUSEADDR on the TCP one)."""
    for _ in range(20):
        port = free_port(addr)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if reuse_addr:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            udp.bind((addr, port))
            tcp.bind((addr, port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(64)
        return port, udp, tcp
    raise RuntimeError("no free UDP+TCP port on %s" % addr)


class LoopbackServer:
    """A UDP+TCP DNS server on ADDR (a free port) in a thread; a subclass
    says what it sends: _answers(wire, tcp) -> list of wires, sent as they
    are (TCP ones framed by _answers, so that it can also send bad framing).
    A subclass sets its own fields before calling __init__ (the thread
    starts there)."""

    def __init__(self, addr):
        self.addr = addr
        self.stopping = False
        self.port, self.udp, self.tcp = bind_udp_tcp(addr, reuse_addr=True)
        self.wake_r, self.wake_w = os.pipe()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def endpoint(self):
        return "%s@%d" % (self.addr, self.port)

    def _answers(self, wire, tcp):
        raise NotImplementedError

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ, "udp")
        sel.register(self.tcp, selectors.EVENT_READ, "listen")
        sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        bufs = {}
        while not self.stopping:
            for key, _ in sel.select():
                kind = key.data
                if kind == "wake":
                    for c in bufs:
                        c.close()
                    return
                if kind == "udp":
                    data, peer = self.udp.recvfrom(65535)
                    for out in self._answers(data, False):
                        self.udp.sendto(out, peer)
                elif kind == "listen":
                    c, _ = self.tcp.accept()
                    bufs[c] = b""
                    sel.register(c, selectors.EVENT_READ, "conn")
                else:
                    c = key.fileobj
                    try:
                        chunk = c.recv(65535)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        sel.unregister(c)
                        bufs.pop(c, None)
                        c.close()
                        continue
                    msgs, bufs[c] = conftest.tcp_split(bufs[c] + chunk)
                    for msg in msgs:
                        try:
                            for out in self._answers(msg, True):
                                c.sendall(out)
                        except OSError:
                            pass

    def close(self):
        self.stopping = True
        os.write(self.wake_w, b"x")
        self.thread.join(5)
        for s in (self.udp, self.tcp):
            s.close()
        os.close(self.wake_r)
        os.close(self.wake_w)


class Recorder(LoopbackServer):
    """UDP+TCP DNS server on ADDR (free port) in a thread: every A question is
    answered with ANSWER (TTL 60), other types NODATA. .seen lists what
    arrived: dicts with name (lower-case text), type, tcp, edns, payload, do,
    options."""

    def __init__(self, addr, answer, ttl=60):
        self.answer = answer
        self.ttl = ttl
        self.seen = []
        self.lock = threading.Lock()
        super().__init__(addr)

    def names(self):
        with self.lock:
            return [s["name"] for s in self.seen]

    def _reply(self, wire):
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return None
        if not q.question:
            return None
        qq = q.question[0]
        with self.lock:
            self.seen.append(dict(
                name=qq.name.to_text().lower(), type=qq.rdtype,
                tcp=self._tcp_now, edns=q.edns, payload=q.payload,
                do=bool(q.ednsflags & dns.flags.DO),
                options=[o.otype for o in q.options]))
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        if qq.rdtype == dns.rdatatype.A:
            r.answer.append(dns.rrset.from_text(qq.name, self.ttl, "IN", "A",
                                                self.answer))
        return r.to_wire()

    def _answers(self, wire, tcp):
        self._tcp_now = tcp
        out = self._reply(wire)
        if not out:
            return []
        return [conftest.tcp_frame(out) if tcp else out]


class Blackhole:
    """A UDP socket and a TCP listener on ADDR (free port) that never answer
    (TCP connections complete in the kernel's backlog and then hang)."""

    def __init__(self, addr):
        self.addr = addr
        self.port, self.udp, self.tcp = bind_udp_tcp(addr)

    def endpoint(self):
        return "%s@%d" % (self.addr, self.port)

    def received(self):
        """Datagrams waiting in the UDP socket (read and counted)."""
        n = 0
        self.udp.setblocking(False)
        while True:
            try:
                self.udp.recv(65535)
                n += 1
            except BlockingIOError:
                return n

    def close(self):
        self.udp.close()
        self.tcp.close()


def dead_endpoint(addr):
    """ADDR@PORT where nothing listens (UDP gets port unreachable)."""
    return "%s@%d" % (addr, free_port(addr))


# -- linkdnsd with forwarding ----------------------------------------------------------
class FwdDaemon(Daemon):
    """conftest.Daemon started without --no-upstream: extra_args carry
    --upstream, --zones, --max-forwards ... A start-up failure is a test
    failure with the daemon's stderr."""

    # The readiness probe must not be forwarded: localhost is ours.
    READINESS_PROBE = "localhost"

    def _argv(self, listen):
        # The answer cache off unless the test sets it: the forwarding tests
        # count what reaches the upstream (tests/test_cache.py tests it).
        cache = [] if any(a.startswith("--cache-size") for a in self.extra_args) \
            else ["--cache-size", "0"]
        return [self.binary, "--state", self.state, "--listen", listen,
                "--control", self.control] + cache + self.extra_args

    def stats(self):
        """`linkdnsctl stats` as {key: int}."""
        p = self.ctl("stats")
        assert p.returncode == 0, "linkdnsctl stats: %s" % p.stderr
        out = {}
        for line in p.stdout.splitlines():
            k, _, v = line.partition(" ")
            try:
                out[k] = int(float(v))
            except ValueError:
                pass
        return out


@pytest.fixture
def fwd_linkdns():
    """Factory like conftest's linkdns, but forwarding: the daemons are
    stopped (SIGTERM, exit 0, no sanitizer report) when the test ends."""
    yield from daemon_factory(FwdDaemon)


# -- asking from inside a network namespace ------------------------------------------
def ns_ask(ns, name, rdtype="A", tcp=False, edns=False, server="127.0.0.11",
           port=53, timeout=3.0):
    """Ask from inside namespace NS (tests/upstream/ask.py); (msg, wire) or
    (None, None)."""
    argv = ["ip", "netns", "exec", ns, PYTHON, ASK, server, str(port), name,
            rdtype, "tcp" if tcp else "udp", "edns" if edns else "noedns",
            str(timeout)]
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout + 20, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, PYTHONPATH=os.path.dirname(HERE)))
    assert p.returncode == 0, "ask.py in %s: %s" % (ns, p.stderr)
    out = p.stdout.strip()
    if out == "timeout":
        return None, None
    wire = bytes.fromhex(out)
    return dns.message.from_wire(wire), wire


def ns_wait(ns, deadline=15.0):
    """Until linkdnsd's listener inside NS answers (localhost A)."""
    wait_for("a listener answering in namespace %s" % ns,
             lambda: ns_ask(ns, "localhost", timeout=0.3)[0] is not None,
             deadline, interval=0.1)


def ns_dig(ns, *args, timeout=15):
    p = subprocess.run(["ip", "netns", "exec", ns, conftest.DIG,
                        "@127.0.0.11", "+time=3", "+tries=1"] + list(args),
                       capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.stdout
