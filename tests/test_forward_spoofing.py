"""Forwarded answers cannot be forged blind, and one container cannot use up
the forwarding budget.

- The upstream sees a random ID and a random source port per query: a
  recording responder on loopback counts the distinct IDs and source ports
  of 1,000 forwarded queries.
- An off-path spoofer (a raw socket: it forges the upstream's address and
  port, it sees no traffic) floods forged answers at every port of the
  source port range while the upstream answers only after 1 s and a
  container asks 200 questions: none of the forged answers reaches it.  The
  daemon, the upstream and the spoofer run in a network namespace of their
  own, so the flood reaches nothing else on the machine.

Addresses: 127.52.0.0/16 (containers and upstreams on the host's loopback).
- A container that floods a silent upstream does not make another
  container's forwarded query fail.

Numbers are printed (run with -s to see them).
"""

import heapq
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time

import dns.message

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "upstream"))

from conftest import (addresses, make_query, rcode_text,  # noqa: E402
                      socket_in)
from harness import FwdDaemon, fwd_linkdns  # noqa: E402,F401

NETNS_PREFIX = "ldsp%d-" % os.getpid()
FORGED = "6.6.6.6"
FORGED_TTL = 86400
REAL = "192.0.2.1"


def question_end(wire):
    """Offset after the (uncompressed) question of a query."""
    off = 12
    while wire[off]:
        off += 1 + wire[off]
    return off + 5


def a_answer(query, addr, ttl):
    """The wire answer to QUERY (its ID and question byte for byte) with one
    A record ADDR, TTL."""
    end = question_end(query)
    return (query[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
            + query[12:end]
            + struct.pack("!HHHIH", 0xC00C, 1, 1, ttl, 4)
            + socket.inet_aton(addr))


class Responder:
    """A UDP upstream in a thread on ADDR:PORT (inside namespace NS, None:
    here): answers every question with A REAL after DELAY seconds, except
    names starting with IGNORE (never answered), TTL TTL; .seen lists (source
    address, source port, ID) of every datagram received."""

    def __init__(self, addr, port=0, delay=0.0, ignore=None, ns=None, ttl=60,
                 decoys=None, lower=False):
        self.sock = socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((addr, port))
        self.addr, self.port = self.sock.getsockname()
        self.delay = delay
        self.ignore = ignore
        self.ttl = ttl
        self.decoys = decoys   # query wire -> [(socket, forged answer)]
        self.lower = lower     # answers with the name in lower case
        self.names = []        # the question names received, wire form
        self.seen = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def endpoint(self):
        return "%s@%d" % (self.addr, self.port)

    def _run(self):
        due = []        # (time, seq, reply, peer)
        seq = 0
        while not self.stopping:
            wait = 0.05
            if due:
                wait = max(0.0, min(wait, due[0][0] - time.monotonic()))
            r, _, _ = select.select([self.sock], [], [], wait)
            if r:
                for _ in range(256):
                    try:
                        wire, peer = self.sock.recvfrom(65535,
                                                        socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    if len(wire) < 17:
                        continue
                    self.seen.append((peer[0], peer[1],
                                      struct.unpack("!H", wire[:2])[0]))
                    self.names.append(wire[12:question_end(wire) - 4])
                    name = wire[13:13 + wire[12]]
                    if self.ignore and name.startswith(self.ignore):
                        continue
                    for sock, forged in (self.decoys(self, wire)
                                         if self.decoys else ()):
                        sock.sendto(forged, peer)
                    seq += 1
                    if self.lower:
                        end = question_end(wire)
                        wire = wire[:12] + wire[12:end].lower() + wire[end:]
                    heapq.heappush(due, (time.monotonic() + self.delay, seq,
                                         a_answer(wire, REAL, self.ttl), peer))
            now = time.monotonic()
            while due and due[0][0] <= now:
                _, _, reply, peer = heapq.heappop(due)
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def ask_all(sock, wires, pace=0.0, tail=3.0):
    """Sends WIRES on the connected SOCK (PACE seconds apart) and collects
    the replies until every one came or TAIL seconds after the last was sent:
    {ID: reply message}."""
    want = {struct.unpack("!H", w[:2])[0] for w in wires}
    got = {}
    sock.setblocking(False)
    t0 = time.monotonic()
    nxt = 0
    end = None
    while end is None or time.monotonic() < end:
        now = time.monotonic()
        while nxt < len(wires) and now >= t0 + nxt * pace:
            try:
                sock.send(wires[nxt])
            except ConnectionRefusedError:
                pass   # an earlier one met no listener: this one is lost
            nxt += 1
            if nxt == len(wires):
                end = time.monotonic() + tail
        if len(got) == len(want):
            break
        select.select([sock], [], [], 0.01)
        while True:
            try:
                data = sock.recv(65535)
            except BlockingIOError:
                break
            except ConnectionRefusedError:
                continue   # sent before the daemon listened
            qid = struct.unpack("!H", data[:2])[0]
            if qid in want and qid not in got:
                got[qid] = dns.message.from_wire(data)
    return got


def queries(names, rdtype="A"):
    ids = random.sample(range(1, 65536), len(names))
    return [make_query(n, rdtype, qid=i).to_wire() for n, i in zip(names, ids)]


# -- the upstream sees random IDs and source ports -------------------------------
def test_forwarded_queries_use_random_ids_and_source_ports(fwd_linkdns):
    """1,000 forwarded queries: >= 980 distinct IDs and >= 950 distinct
    source ports as the upstream sees them (by chance, over 65,536 IDs and
    the ~28,000 ports of the ephemeral range, ~992 and ~982)."""
    up = Responder("127.52.11.53")
    try:
        d = fwd_linkdns("add rnd --addr 127.52.11.2\n",
                        "--upstream", up.endpoint())
        s = d.udp_socket("127.52.11.2")
        wires = queries(["r%d.example.test." % i for i in range(1000)])
        got = {}
        for i in range(0, len(wires), 100):   # 100 in flight at a time
            got.update(ask_all(s, wires[i:i + 100]))
        s.close()
        seen = up.seen[:]
        ids = {x[2] for x in seen}
        ports = {x[1] for x in seen}
        ok = sum(1 for r in got.values() if addresses(r) == [REAL])
        print("1000 forwarded queries: the upstream saw %d, %d distinct IDs, "
              "%d distinct source ports (%d..%d); %d answered with its "
              "address" % (len(seen), len(ids), len(ports), min(ports),
                           max(ports), ok))
        assert len(seen) >= 1000, "the upstream saw only %d queries" % len(
            seen)
        assert len(ids) >= 980, "only %d distinct IDs" % len(ids)
        assert len(ports) >= 950, "only %d distinct source ports" % len(
            ports)
        assert ok == 1000, "%d of 1000 answered with the upstream's address" % ok
    finally:
        up.close()


def test_remote_peer_questions_use_random_ids_and_source_ports(fwd_linkdns):
    """The questions about a remote container (--remote FQDN@PEER, asked
    again as the TTL of 1 s runs out) leave from a new random port with a
    random ID each, and the peer's answers are taken: a linked container
    gets the address."""
    peer = Responder("127.52.13.53", ttl=1)
    try:
        d = fwd_linkdns("add db --remote db.example.test@%s\n"
                        "add app --addr 127.52.13.2\nlink app db\n"
                        % peer.endpoint())
        deadline = time.monotonic() + 20
        while len(peer.seen) < 12 and time.monotonic() < deadline:
            time.sleep(0.2)
        seen = peer.seen[:]
        r = d.query("db", source="127.52.13.2")
        ids = {x[2] for x in seen}
        ports = {x[1] for x in seen}
        print("%d questions to the peer: %d distinct IDs, %d distinct source "
              "ports; db -> %s" % (len(seen), len(ids), len(ports),
                                   addresses(r)))
        assert len(seen) >= 12, "the peer was asked only %d times" % len(seen)
        assert len(ports) >= len(seen) - 1, "source ports repeat: %s" % sorted(
            x[1] for x in seen)
        assert len(ids) >= len(seen) - 1, "IDs repeat: %s" % sorted(ids)
        assert addresses(r) == [REAL]
    finally:
        peer.close()


def test_only_the_matching_answer_is_taken(fwd_linkdns):
    """Before its real answer, the upstream sends for every query answers
    with A 6.6.6.6 that differ in one thing: another source port, another
    ID, the question name in another case, another type, not a response
    (QR clear).  The container gets the real answer, every time."""
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.52.14.53", 0))

    def decoys(up, q):
        end = question_end(q)
        wrong_id = struct.pack("!H", struct.unpack("!H", q[:2])[0] ^ 0x5a5a)
        upper = q[:12] + q[12:end - 4].upper() + q[end - 4:]
        aaaa = q[:end - 4] + b"\x00\x1c" + q[end - 2:]
        forged = a_answer(q, FORGED, FORGED_TTL)
        return [(other, forged),
                (up.sock, wrong_id + forged[2:]),
                (up.sock, a_answer(upper, FORGED, FORGED_TTL)),
                (up.sock, a_answer(aaaa, FORGED, FORGED_TTL)),
                (up.sock, forged[:2] + bytes([forged[2] & 0x7f])
                 + forged[3:])]

    up = Responder("127.52.14.53", decoys=decoys)
    try:
        d = fwd_linkdns("add m --addr 127.52.14.2\n",
                        "--upstream", up.endpoint())
        s = d.udp_socket("127.52.14.2")
        got = ask_all(s, queries(["m%d.example.test." % i
                                  for i in range(50)]))
        s.close()
        results = sorted(str(addresses(r)) for r in got.values())
        forged = sum(1 for r in got.values() if FORGED in addresses(r))
        print("50 queries, each answered 5 times wrongly first: %d replies, "
              "%d forged" % (len(got), forged))
        assert forged == 0, results
        assert len(got) == 50
        assert all(addresses(r) == [REAL] for r in got.values()), results
    finally:
        up.close()
        other.close()


def test_name_case_randomized_upstream_restored_for_the_client(fwd_linkdns):
    """0x20: the upstream sees each letter of the name in a random case, the
    client gets its question back as it asked it; an upstream that answers
    in lower case is asked again without 0x20, and still answers."""
    up = Responder("127.52.15.53")
    low = Responder("127.52.15.54", lower=True)
    try:
        d = fwd_linkdns("add c --addr 127.52.15.2\nadd l --addr 127.52.15.3 "
                        "--dns %s\n" % low.endpoint(),
                        "--upstream", up.endpoint())
        s = d.udp_socket("127.52.15.2")
        names = ["mixed%d.example.test." % i for i in range(100)]
        wires = queries(names)
        got = ask_all(s, wires)
        s.close()
        mixed = sum(1 for n in up.names if n.lower() != n and n.upper() != n)
        asked = {n.lower() for n in up.names}
        same = 0
        for w in wires:
            r = got.get(struct.unpack("!H", w[:2])[0])
            if r is not None and r.to_wire()[12:question_end(w)] == \
                    w[12:question_end(w)] and addresses(r) == [REAL]:
                same += 1
        variants = len(set(up.names))
        print("100 names in lower case: the upstream saw %d, %d in mixed case "
              "(%d distinct spellings of %d names); %d replies carry the "
              "question as asked" % (len(up.names), mixed, variants,
                                     len(asked), same))
        assert same == 100
        assert mixed >= 95, "only %d names in mixed case upstream" % mixed
        assert asked == {dns.name.from_text(n).to_wire() for n in names}

        sl = d.udp_socket("127.52.15.3")
        t0 = time.monotonic()
        got = ask_all(sl, queries(["Low%d.Example.TEST." % i
                                   for i in range(5)]), tail=5.0)
        dt = time.monotonic() - t0
        sl.close()
        print("an upstream answering in lower case: %d of 5 answered in "
              "%.2f s" % (sum(1 for r in got.values()
                              if addresses(r) == [REAL]), dt))
        assert len(got) == 5
        assert all(addresses(r) == [REAL] for r in got.values())
    finally:
        up.close()
        low.close()


# -- an off-path spoofer wins nothing ---------------------------------------------
SPOOFER = r"""
import os, random, socket, struct, sys, time
fd, src, sport, dst, lo, hi, qhex, rate, secs = sys.argv[1:]
sport, lo, hi, rate, secs = int(sport), int(lo), int(hi), int(rate), float(secs)
s = socket.socket(fileno=int(fd))
question = bytes.fromhex(qhex)
dns_ = (b"\0\0\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question
        + struct.pack("!HHHIH", 0xC00C, 1, 1, %(ttl)d, 4)
        + socket.inet_aton("%(forged)s"))
udp_len = 8 + len(dns_)
pkt = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 64,
                            17, 0, socket.inet_aton(src), socket.inet_aton(dst))
                + struct.pack("!HHHH", sport, 0, udp_len, 0) + dns_)
nports = hi - lo + 1
port = random.randrange(nports)
sent = 0
t0 = time.monotonic()
end = t0 + secs
batch = 100
rnd = random.getrandbits
while True:
    now = time.monotonic()
    if now >= end:
        break
    ahead = t0 + sent / rate - now
    if ahead > 0:
        time.sleep(ahead)
    for _ in range(batch):
        port += 1
        if port >= nports:
            port = 0
        r = rnd(18)
        # Three guesses in four are ID 0, the others a random ID: against an
        # ID drawn at random any guess wins 1 in 65,536, whatever the
        # guesser's choice (the odds below hold); against a fixed ID (0,
        # as in 465116f) a fixed guess wins.
        struct.pack_into("!H", pkt, 22, lo + port)
        struct.pack_into("!H", pkt, 28, 0 if r & 3 else r >> 2)
        try:
            s.sendto(pkt, (dst, 0))
            sent += 1
        except OSError:
            pass
print(sent, time.monotonic() - t0)
""" % {"ttl": FORGED_TTL, "forged": FORGED}


def test_off_path_spoofer_forges_no_answer(namespaces):
    """In a namespace of its own: linkdnsd forwards to an upstream that
    answers after 1 s; a spoofer forging the upstream's address and port
    sends 20,000 answers a second for 10 s (A 6.6.6.6 TTL 86400 for the
    question asked, with ID 0 or a random ID, sweeping every port of
    ip_local_port_range, the daemon's source ports) while the container asks 200 questions, 20
    a second.  Not one forged answer is accepted; the test prints the
    attempts and the number expected by chance."""
    ns = namespaces.add("s")
    rate, secs, victims = 20000, 10.0, 200
    up = Responder("127.0.0.53", 53, delay=1.0, ns=ns)
    d = None
    spoofer = None
    raw = None
    try:
        d = FwdDaemon("add victim --addr 127.0.0.2\n",
                      ["--upstream", up.endpoint()], port=53, netns=ns)
        client = socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.2", 0))
        client.connect(("127.0.0.1", 53))
        # until the daemon forwards: also tells the daemon's own address
        deadline = time.monotonic() + 10
        while not up.seen:
            assert d.running(), d.stderr
            assert time.monotonic() < deadline, (
                "no query reached the upstream\n" + d.stderr)
            ask_all(client, queries(["warm.example.test."]), tail=0.3)
        daemon_addr = up.seen[0][0]
        rng = subprocess.run(["ip", "netns", "exec", ns, "cat",
                              "/proc/sys/net/ipv4/ip_local_port_range"],
                             capture_output=True, text=True, check=True)
        lo, hi = map(int, rng.stdout.split())
        nports = hi - lo + 1

        victim = b"\x06victim\x07example\x04test\x00\x00\x01\x00\x01"
        raw = socket_in(ns, socket.AF_INET, socket.SOCK_RAW,
                        socket.IPPROTO_RAW)
        spoofer = subprocess.Popen(
            [sys.executable, "-c", SPOOFER, str(raw.fileno()), up.addr,
             str(up.port), daemon_addr, str(lo), str(hi), victim.hex(),
             str(rate), str(secs)],
            pass_fds=[raw.fileno()], stdout=subprocess.PIPE, text=True)
        time.sleep(0.2)   # under way before the first question
        t0 = time.monotonic()
        got = ask_all(client, queries(["victim.example.test."] * victims),
                      pace=(secs - 2.0) / victims, tail=3.0)
        asked_for = time.monotonic() - t0
        out, _ = spoofer.communicate(timeout=30)
        sent, spoof_secs = out.split()
        sent, spoof_secs = int(sent), float(spoof_secs)
        assert d.running(), "linkdnsd died:\n" + d.stderr

        forged = sum(1 for r in got.values()
                     if FORGED in addresses(r) or any(
                         rr.ttl == FORGED_TTL for rr in r.answer))
        real = sum(1 for r in got.values() if addresses(r) == [REAL])
        rcodes = {}
        for r in got.values():
            rcodes[rcode_text(r)] = rcodes.get(rcode_text(r), 0) + 1
        # every victim query is open about 1 s (the upstream's delay)
        exposure = victims * up.delay
        achieved = sent / spoof_secs
        chance = achieved * exposure / (nports * 65536)
        print("spoofer: %d forged answers in %.1f s (%.0f/s) at %s from "
              "%s:%d over ports %d-%d (%d); %d questions asked in %.1f s, "
              "%d replies %s, %d with the upstream's address, %d forged "
              "accepted; expected by chance: %.0f/s x %.0f query-seconds / "
              "(%d ports x 65,536 IDs) = %.5f" % (
                  sent, spoof_secs, achieved, daemon_addr, up.addr, up.port,
                  lo, hi, nports, victims, asked_for, len(got), rcodes,
                  real, forged, achieved, exposure, nports, chance))
        assert forged == 0, "%d forged answers reached the container" % forged
        assert sent >= rate * secs / 2, (
            "the spoofer sent only %d datagrams (machine too slow?)" % sent)
        assert real >= victims // 2, (
            "only %d of %d questions got the upstream's answer" % (real,
                                                                   victims))
    finally:
        if spoofer is not None and spoofer.poll() is None:
            spoofer.kill()
            spoofer.wait()
        if raw is not None:
            raw.close()
        up.close()
        if d is not None:
            d.stop()


# -- a fair share of the forwarding budget ---------------------------------------
def test_flooding_container_leaves_others_their_forwards(fwd_linkdns):
    """Container a sends 1,500 queries the upstream never answers (default
    --max-forwards 1024); container b's forwarded query, asked during the
    flood, is answered with the upstream's address, not SERVFAIL."""
    up = Responder("127.52.12.53", delay=0.2, ignore=b"flood")
    try:
        d = fwd_linkdns("add a --addr 127.52.12.2\nadd b --addr 127.52.12.3\n",
                        "--upstream", up.endpoint())
        fa = d.udp_socket("127.52.12.2")
        fa.setblocking(False)
        for w in queries(["flood%d.example.test." % i for i in range(1500)]):
            fa.send(w)
        time.sleep(0.3)   # the flood is in
        flooded = len(up.seen)
        sb = d.udp_socket("127.52.12.3")
        t0 = time.monotonic()
        got = ask_all(sb, queries(["fair.example.test."]), tail=5.0)
        dt = time.monotonic() - t0
        r = next(iter(got.values()), None)
        print("after 1500 queries from a (%d reached the upstream): b got %s "
              "in %.2f s" % (flooded, r and rcode_text(r), dt))
        assert r is not None, "no reply to b"
        assert rcode_text(r) == "NOERROR", rcode_text(r)
        assert addresses(r) == [REAL]
        fa.close()
        sb.close()
    finally:
        up.close()


# -- ICMP errors about an upstream query -----------------------------------------
def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def icmp_port_unreachable(src, dst, quoted_src, quoted_sport, quoted_dst,
                          quoted_dport, payload):
    """An IPv4 datagram from SRC to DST: ICMP port unreachable about a UDP
    datagram QUOTED_SRC:QUOTED_SPORT -> QUOTED_DST:QUOTED_DPORT carrying
    PAYLOAD (as Linux quotes it: headers and the start of the data)."""
    udp = struct.pack("!HHHH", quoted_sport, quoted_dport, 8 + len(payload),
                      0) + payload
    inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000,
                        64, socket.IPPROTO_UDP, 0,
                        socket.inet_aton(quoted_src),
                        socket.inet_aton(quoted_dst))
    inner = inner[:10] + struct.pack("!H", inet_checksum(inner)) + inner[12:]
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + inner + udp
    icmp = icmp[:2] + struct.pack("!H", inet_checksum(icmp)) + icmp[4:]
    outer = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64,
                        socket.IPPROTO_ICMP, 0, socket.inet_aton(src),
                        socket.inet_aton(dst))
    return outer + icmp


def test_forged_icmp_error_does_not_fail_an_upstream_query(fwd_linkdns):
    """An attacker who guessed (here: was told) the source port of an upstream
    query, but not its ID, forges "port unreachable" from the upstream: the
    query is not failed (no SERVFAIL, the upstream is not marked dead); the
    real answer comes.  The same ICMP quoting the right ID, as the kernel of
    a host whose port is closed sends it, does fail the attempt at once."""
    up = Responder("127.52.15.53", delay=1.0)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        d = fwd_linkdns("add m --addr 127.52.15.2\n",
                        "--upstream", up.endpoint())
        results = {}
        for tag, flip in (("wrong-id", 0x5A5A), ("right-id", 0)):
            s = d.udp_socket("127.52.15.2")
            q = make_query("%s.example.test." % tag, "A")
            n = len(up.seen)
            t0 = time.monotonic()
            s.send(q.to_wire())
            deadline = t0 + 5
            while len(up.seen) == n:
                assert time.monotonic() < deadline, "nothing reached the upstream"
                time.sleep(0.005)  # poll interval
            src, sport, qid = up.seen[n]
            sent = up.names[n]
            payload = struct.pack("!H", qid ^ flip) + b"\x01\x00\x00\x01" \
                + b"\x00" * 6 + sent + b"\x00\x01\x00\x01"
            raw.sendto(icmp_port_unreachable(up.addr, src, src, sport,
                                             up.addr, up.port, payload),
                       (src, 0))
            s.settimeout(5)
            r = dns.message.from_wire(s.recv(65535))
            results[tag] = (rcode_text(r), addresses(r),
                            time.monotonic() - t0)
            s.close()
            time.sleep(1.2)   # the upstream's late answer, if any, is gone
        print("forged port unreachable about a query: %s" % results)
        rc, addrs, _took = results["wrong-id"]
        assert (rc, addrs) == ("NOERROR", [REAL]), results
        rc, _addrs, took = results["right-id"]
        assert rc == "SERVFAIL" and took < 0.9, results
    finally:
        raw.close()
        up.close()
