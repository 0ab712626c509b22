"""DNS transports under abuse: a forwarded answer never goes out
through the descriptor of a listener that closed meanwhile; queries from
source port 0 cost the replies sent with theirs nothing; slow TCP clients
cannot shut containers out of TCP; accept errors at the descriptor limit
pause the listener instead of spinning.

linkdnsd runs with forwarding (tests/upstream/harness.py FwdDaemon) towards a
blackhole upstream (a socket that never answers: the forwarder gives up after
its budget and answers SERVFAIL), or without (conftest's Daemon) for the TCP
tests.  Namespaces are made with `ip netns add` (conftest's namespaces
fixture); a process inside one is `ip netns exec NS /usr/bin/python3 -c ...`.

Addresses: upstreams 127.51.0.0/16, containers 127.51.x.x on the shared
listener and 10.51.0.0/16 inside namespaces; the slow clients are 127.0.0.1
(no container's address: it only ever gets REFUSED).
"""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "upstream"))

from conftest import (Daemon, closed_within, linkdns, make_query, netns_path,  # noqa: F401
                      rcode_text, read_log, tcp_frame, wait_for)
from harness import Blackhole, fwd_linkdns, ns_ask, ns_wait  # noqa: F401

PYTHON = "/usr/bin/python3"
STRACE = "/usr/bin/strace"
NETNS_PREFIX = "ldx%d-" % os.getpid()   # for conftest's namespaces fixture


def ctl(d, *args):
    p = d.ctl(*args)
    assert p.returncode == 0, "linkdnsctl %s: %s%s" % (" ".join(args),
                                                      p.stdout, p.stderr)


# =============================================================================
# A forwarded answer whose listener closed is dropped, not sent on its old fd
# =============================================================================
# Inside namespace NS: binds UDP 127.0.0.1:PORT, says "ready", then prints (in
# hex) every datagram that arrives within SECONDS.
TRAP = r"""
import socket, sys
port, seconds = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
print("ready", flush=True)
s.settimeout(seconds)
try:
    while True:
        print(s.recv(65535).hex(), flush=True)
except socket.timeout:
    pass
"""

# Inside namespace NS: sends the query WIRE (hex) from 127.0.0.1:PORT to the
# daemon's listener there and exits without waiting for the answer.
SEND = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.sendto(bytes.fromhex(sys.argv[2]), ("127.0.0.11", 53))
"""


def in_ns(ns, script, *args, **kw):
    return ["ip", "netns", "exec", ns, PYTHON, "-c", script] + list(args)


def traced(pid):
    with open("/proc/%d/status" % pid) as f:
        return any(line.startswith("TracerPid:") and line.split()[1] != "0"
                   for line in f)


def test_forwarded_answer_never_goes_out_through_a_closed_listeners_fd(
        fwd_linkdns, namespaces, tmp_path):
    """Container a's query is forwarded (the upstream never answers); a is
    removed and b added in another namespace, so that b's listener may get
    a's descriptor numbers.  When the forwarder gives up, the SERVFAIL for a
    must go nowhere: no sendto of it at all (strace on the daemon), nothing
    reaches the address a's client had inside b's namespace, the daemon
    stays healthy and b is answered."""
    hole = Blackhole("127.51.0.53")
    strace = trap = None
    try:
        na, nb = namespaces.add("a"), namespaces.add("b")
        d = fwd_linkdns("add a --netns %s --addr 10.51.0.2\n" % netns_path(na),
                        "--upstream", hole.endpoint())
        ns_wait(na)
        hole.received()   # the readiness probes are ours, never forwarded
        out = str(tmp_path / "strace")
        strace = subprocess.Popen([STRACE, "-f", "-qq", "-xx", "-s", "128",
                                   "-e", "trace=sendto,sendmsg,sendmmsg", "-o", out,
                                   "-p", str(d.proc.pid)],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        wait_for("strace attaches", lambda: traced(d.proc.pid), 10,
                 interval=0.02)

        label = "orphan%d" % (os.getpid() % 100000)
        wire = make_query("%s.example.test." % label, "A").to_wire()
        port = 20000 + os.getpid() % 10000
        # a's client and, later, a socket at the same address in b's namespace
        trap = subprocess.Popen(in_ns(nb, TRAP, str(port), "12"),
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, text=True)
        assert trap.stdout.readline().strip() == "ready"
        subprocess.run(in_ns(na, SEND, str(port), wire.hex()), check=True,
                       timeout=20)
        wait_for("the query of a reaches the upstream",
                 lambda: hole.received() > 0, 10, interval=0.02)
        t_forwarded = time.monotonic()

        ctl(d, "rm", "a")
        ctl(d, "add", "b", "--netns", netns_path(nb), "--addr", "10.51.0.3")
        ns_wait(nb)
        # the forwarder's budget (under 5 s) is over: its answer was due
        time.sleep(max(0.0, t_forwarded + 6.0 - time.monotonic()))

        r, _ = ns_ask(nb, "localhost")
        assert r is not None and rcode_text(r) == "NOERROR", \
            "b is not answered after a's answer was due\nstderr:\n%s" % d.stderr
        strace.send_signal(signal.SIGTERM)   # detaches from the daemon
        strace.wait(10)
        strace = None
        trap.send_signal(signal.SIGTERM)
        stray, _ = trap.communicate(timeout=10)
        trap = None
        assert stray.strip() == "", (
            "a datagram reached a's client address in b's namespace: a's "
            "answer went out through b's listener:\n%s" % stray)
        # the query upstream carries the label too: only replies count (QR,
        # the third byte's high bit)
        hexlabel = "".join("\\x%02x" % c for c in label.encode())
        reply = re.compile(r'"(\\x[0-9a-f]{2}){2}\\x[89a-f]')
        lines = read_log(out).splitlines()
        probe = "".join("\\x%02x" % c for c in b"\x09localhost")
        assert any(probe in line for line in lines), (
            "strace did not see the answer to b's probe: nothing was "
            "observed\n%s" % "\n".join(lines[-20:]))
        sent = [line for line in lines
                if hexlabel in line and reply.search(line)]
        assert not sent, (
            "the answer to the removed container's query was sent (its "
            "listener's descriptor was closed, perhaps reused):\n%s"
            % "\n".join(sent))
        assert d.running()
    finally:
        for p in (strace, trap):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        hole.close()


# =============================================================================
# A query from source port 0 costs the others no reply
# =============================================================================
def ipv4_udp(src, sport, dst, dport, payload):
    """An IPv4 datagram carrying UDP, for a raw socket (the kernel fills the
    IP checksum; a UDP checksum of 0 means none over IPv4)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64,
                       socket.IPPROTO_UDP, 0, socket.inet_aton(src),
                       socket.inet_aton(dst)) + udp


def test_query_from_port_zero_costs_the_others_no_reply(linkdns):
    """A container with a raw socket (CAP_NET_RAW, Docker's default) asks from
    source port 0, to which the kernel sends nothing: the replies of one
    wakeup go out in one sendmmsg, which stops at a message it cannot send,
    and the replies after it were lost.  30 such queries between 30 real ones,
    all waiting while the daemon is stopped, so that they are read together:
    every real one is answered."""
    d = linkdns("add pz --addr 127.51.7.2\n")
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s = d.udp_socket("127.51.7.2")
    n = 30
    try:
        os.kill(d.proc.pid, signal.SIGSTOP)
        try:
            for i in range(n):
                q = make_query("localhost.", "A", qid=1000 + i).to_wire()
                raw.sendto(ipv4_udp("127.51.7.2", 0, d.host, d.port, q),
                           (d.host, 0))
                s.send(make_query("localhost.", "A", qid=i + 1).to_wire())
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)
        got = set()
        s.settimeout(2.0)
        try:
            while len(got) < n:
                got.add(struct.unpack("!H", s.recv(4096)[:2])[0])
        except socket.timeout:
            pass
        assert got == set(range(1, n + 1)), (
            "%d of %d queries answered beside queries from port 0"
            % (len(got), n))
        assert d.running(), d.stderr
    finally:
        raw.close()
        s.close()


# =============================================================================
# Slow TCP clients: a whole query within --tcp-idle; strangers go first
# =============================================================================
CONTAINER = "127.51.1.2"
TARGET = "127.51.1.3"
STRANGER = "127.0.0.1"     # no container's address: only ever REFUSED
TCP_TABLE = ("add c --addr %s\nadd db --addr %s\nlink c db\n"
             % (CONTAINER, TARGET))


def tcp_query(d, source, timeout):
    """A TCP query for db from SOURCE; the addresses answered (None when the
    connection was closed or reset before the answer)."""
    try:
        r = d.query("db", "A", source=source, tcp=True, timeout=timeout)
    except (EOFError, OSError):
        return None
    return sorted(rd.address for rrset in r.answer for rd in rrset)


def test_slow_loris_of_strangers_leaves_tcp_to_containers(linkdns):
    """300 connections (more than --tcp-max, 256) from a source that is no
    container's, each dripping a byte of a query that never completes: they
    hold at most the strangers' share of the cap (256/8), and a container's
    TCP query is still answered at once."""
    d = linkdns(TCP_TABLE)
    loris = []
    try:
        for i in range(300):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((STRANGER, 0))
            s.connect((d.host, d.port))
            s.setblocking(False)
            loris.append(s)
            try:
                s.send(b"\x01\x00")  # a 256-byte query follows, byte by byte
            except OSError:
                pass               # closed to make room: fine
        for rnd in range(2):       # drip: the connections stay busy
            for s in loris:
                try:
                    s.send(b"\x00")
                except OSError:
                    pass           # closed to make room: fine
            t0 = time.monotonic()
            assert tcp_query(d, CONTAINER, 3.0) == [TARGET], \
                "a container's TCP query was not answered under the loris"
            took = time.monotonic() - t0
            print("round %d: container answered over TCP in %.3f s"
                  % (rnd, took))
            assert took < 2.0
            held = json.loads(d.ctl("stats", "--json", check=True).stdout)[
                "tcp_connections"]
            assert held <= 256 // 8 + 1, (
                "%d connections held: the strangers' share is 32" % held)
        assert d.running()
    finally:
        for s in loris:
            s.close()


def test_query_dripped_slower_than_tcp_idle_is_closed(linkdns):
    """--tcp-idle 2: a query whose bytes come one every 0.5 s (it would take
    some 10 s) is cut within the bound, although bytes keep coming; a query
    sent slowly but whole within the bound is answered."""
    d = linkdns(TCP_TABLE, "--tcp-idle", "2")
    wire = tcp_frame(make_query("db", "A").to_wire())
    s = d.tcp_connect(CONTAINER)
    try:
        took = closed_within(s, 8.0, drip=wire, every=0.5)
        assert took is not None, \
            "a query dripped over 10 s kept its connection past --tcp-idle 2"
        print("dripping connection closed after %.2f s" % took)
        assert took >= 1.5
    finally:
        s.close()
    assert tcp_query(d, CONTAINER, 3.0) == [TARGET]
    # a slow client inside the bound is still served, query after query
    s = d.tcp_connect(CONTAINER)
    try:
        for qid in (1, 2):
            q = make_query("db", "A", qid=qid)
            frame = tcp_frame(q.to_wire())
            for i in range(0, len(frame), 8):    # about 0.6 s each
                s.sendall(frame[i:i + 8])
                time.sleep(0.2)  # pacing of the slow client
            s.settimeout(3.0)
            (n,) = struct.unpack("!H", s.recv(2))
            data = b""
            while len(data) < n:
                data += s.recv(n - len(data))
            assert data[:2] == q.to_wire()[:2]
    finally:
        s.close()


# =============================================================================
# Out of descriptors: the TCP listener pauses instead of spinning
# =============================================================================
NOFILE = 48


class LowNofileDaemon(Daemon):
    """conftest's Daemon under `prlimit --nofile=NOFILE:NOFILE` (soft and
    hard: the daemon raises its soft limit to the hard one)."""

    def _argv(self, listen):
        return (["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE), "--"]
                + Daemon._argv(self, listen))


def cpu_seconds(pid):
    """User plus system CPU time of process PID, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def accept_lines(text):
    return [x for x in text.splitlines() if "accept" in x.lower()]


def test_out_of_descriptors_pauses_tcp_accept_not_spins(tmp_path):
    """The daemon runs with NOFILE descriptors; twice as many TCP
    connections come.  Over 3 s while accept fails: a bounded number of log
    lines and little CPU (a spinning accept loop takes a whole core and logs
    millions of lines); UDP is answered meanwhile; once the clients close,
    TCP answers again."""
    d = LowNofileDaemon(TCP_TABLE)
    conns = []
    try:
        for _ in range(2 * NOFILE):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((CONTAINER, 0))
            s.settimeout(5)
            s.connect((d.host, d.port))   # completes in the kernel's backlog
            conns.append(s)
        time.sleep(0.5)   # the daemon reaches its limit
        lines0, cpu0 = len(accept_lines(d.stderr)), cpu_seconds(d.proc.pid)
        t0 = time.monotonic()
        time.sleep(3.0)
        cpu = cpu_seconds(d.proc.pid) - cpu0
        lines = accept_lines(d.stderr)
        spent = time.monotonic() - t0
        print("over %.1f s: %.2f s of CPU, %d accept lines (%d before): %s"
              % (spent, cpu, len(lines) - lines0, lines0, lines[-1:]))
        assert lines, "accept failures are not logged at all"
        assert len(lines) <= 5, "%d accept lines logged" % len(lines)
        assert cpu < 0.5, "%.2f s of CPU in %.1f s while out of " \
            "descriptors: the accept loop spins" % (cpu, spent)
        r = d.query("db", "A", source=CONTAINER)   # UDP
        assert sorted(rd.address for rrset in r.answer for rd in rrset) == \
            [TARGET]
        for s in conns:
            s.close()
        conns = []
        wait_for("TCP answers again once the clients closed\nstderr:\n%s"
                 % d.stderr[-3000:],
                 lambda: tcp_query(d, CONTAINER, 1.0) == [TARGET], 10,
                 interval=0.02)
    finally:
        for s in conns:
            s.close()
        d.stop()
