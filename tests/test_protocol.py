"""Protocol behaviour: EDNS(0), opcodes, FORMERR,
QR, truncation, malformed packets, TCP limits.

Addresses: 127.42.0.0/16.
"""

import os
import random
import socket
import struct
import time

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from conftest import (addresses, closed_within, count, dig, make_query, module_daemon,
                      rcode_text, records, tcp_frame, tcp_read_message)

ASKER = "127.42.0.1"
DB = "127.42.0.2"
BIG = ["127.42.1.%d" % i for i in range(1, 41)]          # 40 addresses
WIDE = ["127.42.2.%d" % i for i in range(1, 41)]         # 40, exposes 80
HUGE = ["127.42.%d.%d" % (3 + i // 200, 1 + i % 200) for i in range(100)]

TABLE = "\n".join([
    "add asker --addr %s" % ASKER,
    "add db --addr %s --expose 5432/tcp" % DB,
    "add big " + " ".join("--addr " + a for a in BIG),
    "add wide --expose 80/tcp " + " ".join("--addr " + a for a in WIDE),
    "add huge " + " ".join("--addr " + a for a in HUGE),
    "link asker db",
    "link asker big",
    "link asker wide",
    "link asker huge",
]) + "\n"

HEADER = 12
A_RR_COMPRESSED = 2 + 2 + 2 + 4 + 2 + 4   # pointer, type, class, ttl, len, ip
OPT_RR = 1 + 2 + 2 + 4 + 2                 # root, type, class, ttl, rdlen


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon(TABLE)


def qsize(name):
    """Wire size of a question for an uncompressed NAME (no trailing dot)."""
    return sum(1 + len(lb) for lb in name.split(".")) + 1 + 4


def header(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def qname_wire(name):
    out = b""
    for lb in name.split("."):
        out += bytes([len(lb)]) + lb.encode()
    return out + b"\0"


def question(name="db", qtype=1, qclass=1):
    return qname_wire(name) + struct.pack("!HH", qtype, qclass)


def assert_alive(daemon):
    assert daemon.running(), "linkdnsd died:\n" + daemon.stderr
    r = daemon.query("db", "A", source=ASKER, timeout=3)
    assert rcode_text(r) == "NOERROR" and addresses(r) == [DB], r


# --- EDNS(0) with dig ---------------------------------------------------------
def dig_header_status(out):
    for line in out.splitlines():
        if "->>HEADER<<-" in line:
            return line.split("status:")[1].split(",")[0].strip()
    raise AssertionError("no header in dig output:\n" + out)


def dig_edns_line(out):
    lines = [ln for ln in out.splitlines() if ln.startswith("; EDNS:")]
    return lines[0] if lines else None


def test_dig_badvers(daemon):
    out = dig(daemon.port, "+edns=1", "+noednsneg", "db", source=ASKER)
    assert dig_header_status(out) == "BADVERS", out
    edns = dig_edns_line(out)
    assert edns is not None and "version: 0" in edns, out
    assert "ANSWER: 0" in out, out


def test_dig_edns_version_renegotiated(daemon):
    """Without +noednsneg dig retries with version 0 and gets the answer."""
    out = dig(daemon.port, "+edns=1", "db", source=ASKER)
    assert dig_header_status(out) == "NOERROR", out
    assert DB in out, out


def test_dig_unknown_option_not_echoed(daemon):
    out = dig(daemon.port, "+ednsopt=100:abcd", "db", source=ASKER)
    assert dig_header_status(out) == "NOERROR", out
    assert DB in out
    assert dig_edns_line(out) is not None, out
    assert "OPT=100" not in out, out


def test_dig_dnssec_do_copied(daemon):
    out = dig(daemon.port, "+dnssec", "db", source=ASKER)
    assert dig_header_status(out) == "NOERROR", out
    edns = dig_edns_line(out)
    assert edns is not None, out
    flags = edns.split("flags:")[1].split(";")[0].split()
    assert "do" in flags, out
    out = dig(daemon.port, "+nodnssec", "db", source=ASKER)
    flags = dig_edns_line(out).split("flags:")[1].split(";")[0].split()
    assert "do" not in flags, out


def test_dig_payload_1232(daemon):
    out = dig(daemon.port, "db", source=ASKER)
    assert "udp: 1232" in dig_edns_line(out), out


def test_dig_noedns_no_opt(daemon):
    out = dig(daemon.port, "+noedns", "db", source=ASKER)
    assert dig_header_status(out) == "NOERROR", out
    assert dig_edns_line(out) is None and "OPT PSEUDOSECTION" not in out, out


# --- EDNS(0) with dnspython ------------------------------------------------------
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("name,rcode", [("db", "NOERROR"),
                                        ("nosuch.link.internal", "NXDOMAIN"),
                                        ("example.com", "REFUSED")])
def test_opt_iff_query_had_one(daemon, tcp, name, rcode):
    r = daemon.query(name, "A", source=ASKER, tcp=tcp)
    assert rcode_text(r) == rcode and r.edns == -1, r
    r = daemon.query(name, "A", source=ASKER, tcp=tcp, edns=0, payload=4096)
    assert rcode_text(r) == rcode, r
    assert r.edns == 0 and r.payload == 1232, r


def test_do_bit_and_unknown_option(daemon):
    opt = dns.edns.GenericOption(100, b"\xab\xcd")
    r = daemon.query("db", "A", source=ASKER, want_dnssec=True,
                     options=[opt])
    assert r.edns == 0 and r.ednsflags & dns.flags.DO, r
    assert all(o.otype != 100 for o in r.options), r.options
    r = daemon.query("db", "A", source=ASKER, edns=0)
    assert r.edns == 0 and not r.ednsflags & dns.flags.DO, r


def test_badvers_raw(daemon):
    q = make_query("db", "A", edns=2)
    r = dns.message.from_wire(daemon.exchange_udp(q.to_wire(), ASKER))
    assert r.rcode() == dns.rcode.BADVERS, r
    assert r.edns == 0 and count(r.answer) == 0, r


# --- opcodes, counts, QR -------------------------------------------------------
@pytest.mark.parametrize("opcode", [1, 2, 3, 4, 5, 15])
def test_other_opcodes_notimp(daemon, opcode):
    q = make_query("db", "A", qid=0x4242)
    wire = bytearray(q.to_wire())
    flags = (struct.unpack("!H", wire[2:4])[0] & ~0x7800) | (opcode << 11)
    wire[2:4] = struct.pack("!H", flags)
    data = daemon.exchange_udp(bytes(wire), ASKER)
    assert data is not None, "no reply to opcode %d" % opcode
    qid, rflags = struct.unpack("!HH", data[:4])
    assert qid == 0x4242
    assert rflags & 0x8000, "QR not set"
    assert rflags & 0x000F == dns.rcode.NOTIMP, "rcode %d" % (rflags & 15)
    assert (rflags >> 11) & 0xF == opcode, "opcode not copied back"
    (ancount,) = struct.unpack("!H", data[6:8])
    assert ancount == 0
    assert_alive(daemon)


@pytest.mark.parametrize("qd", [0, 2])
def test_qdcount_not_one_formerr(daemon, qd):
    wire = header(qid=0x5151, qd=qd) + question("db") * qd
    data = daemon.exchange_udp(wire, ASKER)
    assert data is not None, "no reply to QDCOUNT=%d" % qd
    qid, rflags = struct.unpack("!HH", data[:4])
    assert qid == 0x5151 and rflags & 0x8000
    assert rflags & 0xF == dns.rcode.FORMERR, "rcode %d" % (rflags & 15)
    (ancount,) = struct.unpack("!H", data[6:8])
    assert ancount == 0


def test_two_questions_formerr_dnspython(daemon):
    q = make_query("db", "A")
    q.question.append(make_query("db", "AAAA").question[0])
    data = daemon.exchange_udp(q.to_wire(), ASKER)
    assert data is not None
    r = dns.message.from_wire(data, question_only=True)
    assert r.rcode() == dns.rcode.FORMERR and r.id == q.id


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_qr_set_dropped(daemon, tcp):
    q = make_query("db", "A")
    q.flags |= dns.flags.QR
    if tcp:
        s = daemon.tcp_connect(ASKER, timeout=1.0)
        try:
            s.sendall(tcp_frame(q.to_wire()))
            try:
                data = tcp_read_message(s)
            except (socket.timeout, EOFError, ConnectionError):
                data = None
        finally:
            s.close()
    else:
        data = daemon.exchange_udp(q.to_wire(), ASKER, timeout=1.0)
    assert data is None, "a message with QR set was answered: %r" % data
    assert_alive(daemon)


# --- truncation ------------------------------------------------------------------
def parse_counts(data):
    return struct.unpack("!HHHHHH", data[:12])


def udp_reply(daemon, q, limit):
    """Q asked over UDP from ASKER: asserts a reply of at most LIMIT bytes
    came; returns it and its header (id, flags, qd, an, ns, ar)."""
    data = daemon.exchange_udp(q.to_wire(), ASKER)
    assert data is not None
    assert len(data) <= limit, len(data)
    return data, parse_counts(data)


def test_udp_truncation_without_edns(daemon):
    q = make_query("big", "A", qid=0x7777)
    data, (qid, flags, qd, an, ns, ar) = udp_reply(daemon, q, 512)
    assert flags & 0x0200, "TC not set though answer records were dropped"
    expected = (512 - HEADER - qsize("big")) // A_RR_COMPRESSED
    assert an == expected, "ANCOUNT %d, %d whole A records fit in 512 bytes" \
        % (an, expected)
    r = dns.message.from_wire(data)
    got = addresses(r)
    assert len(got) == expected and set(got) <= set(BIG), r
    assert r.edns == -1


@pytest.mark.parametrize("payload,name,total",
                         [(1232, "huge", len(HUGE)), (600, "big", len(BIG)),
                          (4096, "huge", len(HUGE)), (100, "big", len(BIG))])
def test_udp_truncation_with_edns(daemon, payload, name, total):
    """The limit is the client's payload (at most the server's 1232, and
    at least 512, RFC 6891 6.2.5); the OPT record stays in a truncated
    reply."""
    q = make_query(name, "A", edns=0, payload=payload)
    limit = max(512, min(payload, 1232))
    data, (_qid, flags, _qd, an, _ns, ar) = udp_reply(daemon, q, limit)
    assert flags & 0x0200, "TC not set"
    expected = (limit - HEADER - qsize(name) - OPT_RR) // A_RR_COMPRESSED
    assert expected < total
    assert an == expected, (an, expected)
    r = dns.message.from_wire(data)
    assert r.edns == 0, "OPT missing from a truncated reply"
    assert len(addresses(r)) == expected


def test_forty_fit_with_edns(daemon):
    r = daemon.query("big", "A", source=ASKER, edns=0, payload=1232)
    assert not r.flags & dns.flags.TC, r
    assert addresses(r) == sorted(BIG)


def test_forty_over_tcp(daemon):
    r = daemon.query("big", "A", source=ASKER, tcp=True)
    assert rcode_text(r) == "NOERROR"
    assert not r.flags & dns.flags.TC
    assert addresses(r) == sorted(BIG)
    r = daemon.query("huge", "A", source=ASKER, tcp=True)
    assert addresses(r) == sorted(HUGE)


def test_no_tc_when_only_additional_dropped(daemon):
    q = make_query("_80._tcp.wide", "SRV", qid=0x2121)
    data, (_qid, flags, _qd, an, _ns, ar) = udp_reply(daemon, q, 512)
    assert not flags & 0x0200, "TC set though only additional records " \
        "were dropped"
    assert an == 1
    r = dns.message.from_wire(data)
    srv = records(r.answer, "SRV")
    assert len(srv) == 1 and srv[0].port == 80
    assert srv[0].target.to_text().lower() == "wide.link.internal."
    extra = addresses(r, "A", "additional")
    assert len(extra) < len(WIDE) and set(extra) <= set(WIDE)
    # over TCP every address comes along
    r = daemon.query("_80._tcp.wide", "SRV", source=ASKER, tcp=True)
    assert addresses(r, "A", "additional") == sorted(WIDE)


# --- malformed corpus --------------------------------------------------------------
# The fuzz harness's seed corpus is the one list of packets: test_malformed_*
# send every one of them (real queries, malformed and random) to the daemon.
QUERY_CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "fuzz", "corpus", "query")


def malformed_udp_corpus():
    """{file name: bytes} of tests/fuzz/corpus/query (gen_corpus.py)."""
    c = {}
    for name in sorted(os.listdir(QUERY_CORPUS)):
        with open(os.path.join(QUERY_CORPUS, name), "rb") as f:
            c[name] = f.read()
    return c


def test_malformed_corpus_size():
    corpus = malformed_udp_corpus()
    assert sum(k.startswith("bad-") for k in corpus) >= 40, sorted(corpus)


def test_malformed_udp_corpus(daemon):
    replies = {}
    for kind, wire in malformed_udp_corpus().items():
        data = daemon.exchange_udp(wire, ASKER, timeout=0.3, match_id=False)
        if data is not None:
            replies[kind] = data
            assert len(data) >= 12, (kind, data)
            assert data[2] & 0x80, "%s: reply without QR" % kind
            if len(wire) >= 2:
                assert data[:2] == wire[:2], "%s: reply ID differs" % kind
        assert daemon.running(), "linkdnsd died on %s:\n%s" % (
            kind, daemon.stderr)
    # packets too short to hold a header get no reply at all
    for kind in ["bad-empty"] + ["bad-short-%02d" % n for n in range(1, 12)]:
        assert kind not in replies, "%s was answered: %r" % (kind,
                                                              replies[kind])
    assert_alive(daemon)


def test_malformed_formerr_cases(daemon):
    """Packets with a whole header but a broken question get FORMERR."""
    corpus = malformed_udp_corpus()
    for kind in ("bad-label-64", "bad-name-320-bytes", "bad-ptr-self",
                 "bad-ptr-loop-via-label", "bad-question-no-class"):
        data = daemon.exchange_udp(corpus[kind], ASKER, timeout=1.0)
        if data is None:
            continue  # dropping is allowed too; answering data is not
        assert data[3] & 0xF == dns.rcode.FORMERR, (kind, data)
        assert struct.unpack("!H", data[6:8])[0] == 0, kind
    assert_alive(daemon)


def test_random_bytes(daemon):
    rng = random.Random(20240611)
    for i in range(300):
        n = rng.choice([1, 5, 12, 13, 17, 30, 64, 200, 512, 1500])
        wire = bytes(rng.getrandbits(8) for _ in range(n))
        if i % 3 == 0 and n > 12:
            # keep a plausible header so the question parser is reached
            wire = header(qid=i) + wire[12:]
        daemon.exchange_udp(wire, ASKER, timeout=0.02, match_id=False)
    assert daemon.running(), daemon.stderr
    assert_alive(daemon)


def test_random_mutations_of_real_queries(daemon):
    rng = random.Random(7)
    seeds = [make_query(n, t, edns=e).to_wire()
             for n, t, e in [("db", "A", None), ("_5432._tcp.db", "SRV", 0),
                             ("big", "AAAA", 0), ("x.db.link.internal", "A",
                                                  None)]]
    for i in range(300):
        w = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            w[rng.randrange(len(w))] = rng.getrandbits(8)
        if rng.random() < 0.3:
            w = w[:rng.randrange(len(w))]
        daemon.exchange_udp(bytes(w), ASKER, timeout=0.02, match_id=False)
    assert_alive(daemon)


def tcp_send_and_close(daemon, payload, read=True):
    s = daemon.tcp_connect(ASKER, timeout=1.0)
    try:
        s.sendall(payload)
        if read:
            try:
                s.recv(65535)
            except OSError:
                pass
    finally:
        s.close()


def test_malformed_tcp(daemon):
    cases = {
        "prefix_ffff_then_close": (b"\xff\xff", False),
        "prefix_ffff_partial_body": (b"\xff\xff" + b"\x00" * 1000, False),
        "prefix_zero": (b"\x00\x00", True),
        "one_byte_prefix": (b"\x00", False),
        "prefix_100_body_50": (b"\x00\x64" + b"\x01" * 50, False),
        "prefix_5_short_message": (b"\x00\x05" + b"\x12\x34\x01\x00\x00",
                                   True),
        "prefix_then_garbage": (b"\x00\x20" + bytes(range(32)), True),
        "formerr_then_query": (tcp_frame(header(qd=2) + question("db") * 2)
                               + tcp_frame(make_query("db", "A").to_wire()),
                               True),
    }
    corpus = malformed_udp_corpus()
    for kind in ("bad-label-64", "bad-ptr-loop-via-label",
                 "bad-opt-rdlen-too-long", "bad-all-counts-65535",
                 "bad-name-320-bytes", "bad-short-11"):
        cases["framed_" + kind] = (tcp_frame(corpus[kind]), True)
    for kind, (payload, read) in cases.items():
        tcp_send_and_close(daemon, payload, read)
        assert daemon.running(), "died on tcp %s:\n%s" % (kind,
                                                          daemon.stderr)
    # a 65 KiB prefix followed by the whole 65535 bytes of garbage
    s = daemon.tcp_connect(ASKER, timeout=2.0)
    try:
        s.sendall(b"\xff\xff" + bytes(65535))
        try:
            s.recv(100)
        except OSError:
            pass
    finally:
        s.close()
    assert_alive(daemon)
    r = daemon.query("db", "A", source=ASKER, tcp=True)
    assert addresses(r) == [DB]


# --- TCP limits ------------------------------------------------------------------
def tcp_ask(s, name="db", qid=None):
    q = make_query(name, "A", qid=qid)
    s.sendall(tcp_frame(q.to_wire()))
    r = dns.message.from_wire(tcp_read_message(s))
    assert r.id == q.id
    return r


def no_answer_within(s, seconds):
    """True if the server closes/resets s or stays silent for SECONDS."""
    s.settimeout(seconds)
    try:
        q = make_query("db", "A")
        s.sendall(tcp_frame(q.to_wire()))
        data = s.recv(65535)
        return data == b""
    except socket.timeout:
        return True
    except OSError:
        return True


def test_tcp_max_connections(linkdns):
    """At --tcp-max a new connection is served and the one that made no
    progress for the longest is closed to make room (never more than the
    cap open), unless the newcomer is no container's."""
    d = linkdns(TABLE, "--tcp-max", "2")
    c1 = d.tcp_connect(ASKER)
    c2 = d.tcp_connect(ASKER)
    opened = [c1, c2]
    try:
        assert addresses(tcp_ask(c1)) == [DB]
        assert addresses(tcp_ask(c2)) == [DB]   # c1 is now the idlest
        c3 = d.tcp_connect(ASKER)
        opened.append(c3)
        assert addresses(tcp_ask(c3)) == [DB]
        assert closed_within(c1, 5.0) is not None, \
            "the idlest connection was not closed at the cap"
        assert addresses(tcp_ask(c2)) == [DB]
        assert addresses(tcp_ask(c3)) == [DB]
        # a source that is no container's never takes a container's slot
        try:
            c4 = d.tcp_connect("127.0.0.1", timeout=2.0)
            opened.append(c4)
            assert no_answer_within(c4, 2.0), \
                "a stranger was served by closing a container's connection"
        except OSError:
            pass  # refused outright: fine
        assert addresses(tcp_ask(c2)) == [DB]
        assert addresses(tcp_ask(c3)) == [DB]
        # UDP is not affected by the TCP cap
        assert addresses(d.query("db", "A", source=ASKER)) == [DB]
    finally:
        for s in opened:
            s.close()


def test_tcp_idle_timeout(linkdns):
    d = linkdns(TABLE, "--tcp-idle", "1")
    used = d.tcp_connect(ASKER)
    silent = d.tcp_connect(ASKER)
    try:
        assert addresses(tcp_ask(used)) == [DB]
        t_used = closed_within(used, 6.0)
        t_silent = closed_within(silent, 6.0)
        assert t_used is not None, "idle connection not closed within 6 s"
        assert t_silent is not None, "silent connection not closed"
        assert t_used >= 0.5, "closed after %.2f s: not an idle timeout" \
            % t_used
    finally:
        used.close()
        silent.close()
    assert_alive(d)


def test_tcp_active_connection_kept(linkdns):
    """A connection that keeps asking is not cut by the idle timeout."""
    d = linkdns(TABLE, "--tcp-idle", "1")
    s = d.tcp_connect(ASKER)
    try:
        t_end = time.monotonic() + 2.5
        n = 0
        while time.monotonic() < t_end:
            assert addresses(tcp_ask(s, qid=n)) == [DB]
            n += 1
            time.sleep(0.2)  # pacing of the client, not synchronisation
        assert n >= 10
    finally:
        s.close()


def test_slow_tcp_client_does_not_delay_others(daemon):
    slow = daemon.tcp_connect(ASKER)
    try:
        slow.sendall(b"\x00")            # half a length prefix, then nothing
        slow2 = daemon.tcp_connect(ASKER)
        slow2.sendall(b"\x00\x40\x12\x34")  # a promise of 64 bytes, 2 sent
        try:
            for tcp in (False, True):
                t0 = time.monotonic()
                r = daemon.query("db", "A", source=ASKER, tcp=tcp, timeout=1)
                assert addresses(r) == [DB]
                assert time.monotonic() - t0 < 1.0
        finally:
            slow2.close()
    finally:
        slow.close()


# --- process ------------------------------------------------------------------------
def test_open_file_limit_raised(daemon):
    """linkdnsd raises its open-file soft limit to the hard limit."""
    with open("/proc/%d/limits" % daemon.proc.pid) as f:
        line = [ln for ln in f if ln.startswith("Max open files")][0]
    soft, hard = line.split()[3:5]
    assert soft == hard, line


def test_several_listeners(linkdns):
    from conftest import free_port
    extra = free_port()
    d = linkdns(TABLE, "--listen", "127.0.0.1@%d" % extra)
    for port in (d.port, extra):
        for tcp in (False, True):
            q = make_query("db", "A")
            wire = q.to_wire()
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp
                              else socket.SOCK_DGRAM)
            s.settimeout(3)
            try:
                s.bind((ASKER, 0))
                s.connect(("127.0.0.1", port))
                if tcp:
                    s.sendall(tcp_frame(wire))
                    data = tcp_read_message(s)
                else:
                    s.send(wire)
                    data = s.recv(65535)
            finally:
                s.close()
            r = dns.message.from_wire(data)
            assert r.id == q.id and addresses(r) == [DB], (port, tcp, r)
