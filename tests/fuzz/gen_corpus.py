#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer harnesses (deterministic).

  tests/fuzz/corpus/query/  raw DNS messages as a client sends them over UDP
                            (no TCP length prefix): q-* are real queries,
                            bad-* malformed packets, rnd-* seeded random bytes.
  tests/fuzz/corpus/table/  link-table texts: ok-* valid tables (zones/*.links
                            copied, every option form), bad-* one malformed
                            line of each kind after a few good ones,
                            edge-* lines whose acceptance is the parser's call.

Run from anywhere: /usr/bin/python3 tests/fuzz/gen_corpus.py
The output is committed; rerunning rewrites it byte for byte.
"""

import os
import random
import shutil
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.reversename

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
QUERY_DIR = os.path.join(HERE, "corpus", "query")
TABLE_DIR = os.path.join(HERE, "corpus", "table")

D = "link.internal"


# ---------------------------------------------------------------- queries

class Ids:
    """Fixed, distinct message IDs so that the output is deterministic."""

    def __init__(self):
        self.n = 0x1000

    def __call__(self):
        self.n += 1
        return self.n


next_id = Ids()


def query(name, rdtype="A", rdclass="IN", edns=None, payload=1232,
          options=None, dnssec=False, rd=True):
    """Wire form of a query built by dnspython. edns=None means no OPT."""
    q = dns.message.make_query(name, rdtype, rdclass)
    if edns is None and (dnssec or options):
        edns = 0
    if edns is None:
        q.use_edns(False)
    else:
        q.use_edns(edns, ednsflags=dns.flags.DO if dnssec else 0,
                   payload=payload, options=options or [])
    q.id = next_id()
    if not rd:
        q.flags &= ~dns.flags.RD
    return q.to_wire()


def set_flags(wire, set_mask=0, clear_mask=0, opcode=None, rcode=None):
    (flags,) = struct.unpack_from("!H", wire, 2)
    flags = (flags | set_mask) & ~clear_mask
    if opcode is not None:
        flags = (flags & ~0x7800) | ((opcode & 0xF) << 11)
    if rcode is not None:
        flags = (flags & ~0x000F) | (rcode & 0xF)
    return wire[:2] + struct.pack("!H", flags) + wire[4:]


def set_counts(wire, qd=None, an=None, ns=None, ar=None):
    counts = list(struct.unpack_from("!4H", wire, 4))
    for i, v in enumerate((qd, an, ns, ar)):
        if v is not None:
            counts[i] = v
    return wire[:4] + struct.pack("!4H", *counts) + wire[12:]


def header(qd=1, an=0, ns=0, ar=0, flags=0x0100, qid=None):
    return struct.pack("!6H", qid if qid is not None else next_id(), flags,
                       qd, an, ns, ar)


def wname(text):
    """Uncompressed wire form of a name given as text."""
    return dns.name.from_text(text).to_wire()


def question(name_wire, qtype=1, qclass=1):
    return name_wire + struct.pack("!HH", qtype, qclass)


def opt_rr(payload=1232, ext_rcode=0, version=0, do=False, rdata=b"",
           owner=b"\x00", rdlen=None):
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return owner + struct.pack("!HHIH", 41, payload, ttl,
                               len(rdata) if rdlen is None else rdlen) + rdata


def edns_option(code, data):
    return struct.pack("!HH", code, len(data)) + data


def ptr6(addr):
    return dns.reversename.from_address(addr).to_text()


def real_queries():
    """At least 30 well-formed queries, valid and odd."""
    q = {}
    # The example table's names (zones/example.links), as web asks them.
    q["q-a-db"] = query("db", "A")
    q["q-aaaa-db"] = query("db", "AAAA")
    q["q-a-db-fqdn"] = query("db." + D, "A")
    q["q-a-db-mixed-case"] = query("DB.Link.Internal", "A")
    q["q-a-db-upper"] = query("DB", "A")
    q["q-a-web"] = query("web", "A")
    q["q-a-web-fqdn"] = query("web." + D, "A")
    q["q-aaaa-web2"] = query("web2", "AAAA")
    q["q-a-database"] = query("database", "A")
    q["q-srv-5432-tcp-db"] = query("_5432._tcp.db", "SRV")
    q["q-srv-5432-tcp-db-fqdn"] = query("_5432._tcp.db." + D, "SRV")
    q["q-srv-postgresql-tcp-db"] = query("_postgresql._tcp.db", "SRV")
    q["q-srv-postgresql-tcp-db-case"] = query("_PostgreSQL._TCP.Db", "SRV")
    q["q-srv-5432-udp-db"] = query("_5432._udp.db", "SRV")
    q["q-srv-9999-tcp-db"] = query("_9999._tcp.db", "SRV")
    q["q-srv-5000-tcp-web"] = query("_5000._tcp.web", "SRV")
    q["q-a-x-db"] = query("x.db", "A")
    q["q-a-tcp-db"] = query("_tcp.db", "A")
    q["q-srv-tcp-db"] = query("_tcp.db", "SRV")
    q["q-a-nosuch-domain"] = query("nosuch." + D, "A")
    q["q-a-nosuch-single-label"] = query("nosuch", "A")
    q["q-a-localhost"] = query("localhost", "A")
    q["q-aaaa-localhost"] = query("localhost", "AAAA")
    q["q-a-sub-localhost"] = query("foo.localhost", "A")
    q["q-ptr-db"] = query("2.10.0.127.in-addr.arpa", "PTR")
    q["q-ptr-web-own"] = query("3.10.0.127.in-addr.arpa", "PTR")
    q["q-ptr-unknown-127"] = query("99.10.0.127.in-addr.arpa", "PTR")
    q["q-ptr-rfc6303-10"] = query("1.2.3.10.in-addr.arpa", "PTR")
    q["q-ptr-rfc6303-192-168"] = query("1.1.168.192.in-addr.arpa", "PTR")
    q["q-ptr-in-addr-partial"] = query("10.0.127.in-addr.arpa", "PTR")
    q["q-ptr-ip6-web2"] = query(ptr6("fd00:10::4"), "PTR")
    q["q-ptr-ip6-loopback"] = query(ptr6("::1"), "PTR")
    q["q-ptr-ip6-partial"] = query("0.0.d.f.ip6.arpa", "PTR")
    q["q-any-db"] = query("db", "ANY")
    q["q-txt-db"] = query("db", "TXT")
    q["q-mx-db"] = query("db", "MX")
    q["q-soa-domain"] = query(D, "SOA")
    q["q-ns-domain"] = query(D, "NS")
    q["q-soa-db"] = query("db", "SOA")
    q["q-a-domain-apex"] = query(D, "A")
    q["q-any-domain"] = query(D, "ANY")
    q["q-a-root"] = query(".", "A")
    q["q-ns-root"] = query(".", "NS")
    q["q-a-example-com"] = query("example.com", "A")
    q["q-type0-db"] = query("db", dns.rdatatype.RdataType.make(0))
    q["q-type65535-db"] = query("db", dns.rdatatype.RdataType.make(65535))
    q["q-axfr-domain"] = query(D, "AXFR")
    q["q-ixfr-domain"] = query(D, "IXFR")
    q["q-a-db-norec"] = query("db", "A", rd=False)
    # EDNS variants.
    q["q-a-db-edns"] = query("db", "A", edns=0)
    q["q-a-db-edns-512"] = query("db", "A", edns=0, payload=512)
    q["q-a-db-edns-0"] = query("db", "A", edns=0, payload=0)
    q["q-a-db-edns-65535"] = query("db", "A", edns=0, payload=65535)
    q["q-a-db-edns-do"] = query("db", "A", edns=0, dnssec=True)
    q["q-a-db-edns-v1"] = query("db", "A", edns=1)
    q["q-a-db-edns-v255-do"] = query("db", "A", edns=255, dnssec=True)
    q["q-a-db-edns-opt100"] = query(
        "db", "A", edns=0, options=[dns.edns.GenericOption(100, b"\xab\xcd")])
    q["q-a-db-edns-cookie"] = query(
        "db", "A", edns=0,
        options=[dns.edns.GenericOption(10, bytes(range(1, 9)))])
    q["q-a-db-edns-ecs"] = query(
        "db", "A", edns=0,
        options=[dns.edns.ECSOption("127.0.10.0", 24)])
    q["q-a-db-edns-padding"] = query(
        "db", "A", edns=0, options=[dns.edns.GenericOption(12, bytes(400))])
    q["q-a-db-edns-many-options"] = query(
        "db", "A", edns=0,
        options=[dns.edns.GenericOption(65000 + i, bytes([i]) * i)
                 for i in range(8)])
    q["q-srv-5432-tcp-db-edns-do"] = query("_5432._tcp.db", "SRV", edns=0,
                                           dnssec=True)
    q["q-a-db-edns-ext-rcode-set"] = set_counts(query("db", "A"), ar=1) \
        + opt_rr(ext_rcode=1)
    # Header oddities on otherwise good queries.
    base = query("db", "A")
    q["q-a-db-opcode15"] = set_flags(base, opcode=15)
    q["q-a-db-opcode-iquery"] = set_flags(query("db", "A"), opcode=1)
    q["q-a-db-opcode-status"] = set_flags(query("db", "A"), opcode=2)
    q["q-soa-domain-opcode-notify"] = set_flags(query(D, "SOA"), opcode=4,
                                                clear_mask=0x0100 | 0x8000,
                                                set_mask=0x0400)
    q["q-soa-domain-opcode-update"] = set_flags(query(D, "SOA"), opcode=5)
    q["q-a-db-qr-set"] = set_flags(query("db", "A"), set_mask=0x8000)
    q["q-a-db-tc-set"] = set_flags(query("db", "A"), set_mask=0x0200)
    q["q-a-db-aa-set"] = set_flags(query("db", "A"), set_mask=0x0400)
    q["q-a-db-z-ad-cd-set"] = set_flags(query("db", "A"),
                                        set_mask=0x0040 | 0x0020 | 0x0010)
    q["q-a-db-rcode-set"] = set_flags(query("db", "A"), rcode=5)
    q["q-a-db-opcode15-edns"] = set_flags(query("db", "A", edns=0), opcode=15)
    # Classes.
    q["q-txt-version-bind-ch"] = query("version.bind", "TXT", rdclass="CH")
    q["q-a-db-ch"] = query("db", "A", rdclass="CH")
    q["q-a-db-hs"] = query("db", "A", rdclass="HS")
    q["q-a-db-class-any"] = query("db", "A", rdclass="ANY")
    q["q-a-db-class-none"] = query("db", "A", rdclass="NONE")
    # Counts other than one question.
    two = header(qd=2) + question(wname("db")) + question(wname("web"))
    q["q-two-questions"] = two
    q["q-two-questions-compressed"] = (
        header(qd=2) + question(wname("db." + D))
        + question(b"\x03web\xc0\x0f"))
    q["q-zero-questions"] = header(qd=0)
    q["q-zero-questions-edns"] = header(qd=0, ar=1) + opt_rr()
    # Names at the edges of what is legal.
    max_name = b"".join(bytes([63]) + b"a" * 63 for _ in range(3)) \
        + bytes([61]) + b"b" * 61 + b"\x00"
    assert len(max_name) == 255
    q["q-a-name-255-bytes"] = header() + question(max_name)
    q["q-a-label-63"] = header() + question(bytes([63]) + b"c" * 63 + b"\x00")
    q["q-a-label-with-dot"] = header() + question(b"\x04db.x\x00")
    q["q-a-label-with-nul"] = header() + question(b"\x03d\x00b\x00")
    q["q-a-label-binary"] = header() + question(b"\x04\xff\x80\x7f\x01\x00")
    return q


# ---------------------------------------------------------------- malformed

def malformed_queries():
    """At least 30 malformed packets."""
    m = {}
    good = query("db", "A")
    m["bad-empty"] = b""
    for n in range(1, 12):
        m["bad-short-%02d" % n] = good[:n]
    m["bad-header-only-qd1"] = header(qd=1)
    m["bad-question-no-type"] = header() + wname("db")
    m["bad-question-half-type"] = header() + wname("db") + b"\x00"
    m["bad-question-no-class"] = header() + wname("db") + b"\x00\x01"
    m["bad-question-half-class"] = header() + wname("db") + b"\x00\x01\x00"
    m["bad-name-cut-in-label"] = header() + b"\x05db"
    m["bad-name-no-terminator"] = header() + b"\x02db\x04link"
    m["bad-label-64"] = header() + question(bytes([64]) + b"x" * 64 + b"\x00")
    m["bad-label-type-01"] = header() + question(b"\x42db\x00")
    m["bad-label-type-10"] = header() + question(b"\x82db\x00")
    long_name = b"".join(bytes([63]) + b"a" * 63 for _ in range(5)) + b"\x00"
    m["bad-name-320-bytes"] = header() + question(long_name)
    name256 = b"".join(bytes([63]) + b"a" * 63 for _ in range(3)) \
        + bytes([62]) + b"b" * 62 + b"\x00"
    assert len(name256) == 256
    m["bad-name-256-bytes"] = header() + question(name256)
    many_labels = b"\x01a" * 128 + b"\x00"
    m["bad-name-128-labels"] = header() + question(many_labels)
    # Compression pointers in the question (offset 12 is the name's start).
    m["bad-ptr-self"] = header() + question(b"\xc0\x0c")
    # name at 12 points to 14, which points back to 12
    m["bad-ptr-loop-two"] = header() + b"\xc0\x0e\xc0\x0c\x00\x01"
    m["bad-ptr-loop-after-label"] = header() + question(b"\x02db\xc0\x0c")
    m["bad-ptr-forward"] = (header() + question(b"\xc0\x12") + b"\x02db\x00")
    m["bad-ptr-past-end"] = header() + question(b"\xc0\xff")
    m["bad-ptr-to-header"] = header() + question(b"\xc0\x00")
    m["bad-ptr-cut"] = header() + b"\xc0"
    # 100 forward pointers, each to the next, then the root: legal-looking
    # but a cost bomb for a parser without a jump bound.
    m["bad-ptr-chain-long"] = (
        header() + b"".join(struct.pack("!H", 0xC000 | (12 + 2 * (i + 1)))
                            for i in range(100))
        + b"\x00" + struct.pack("!HH", 1, 1))
    # OPT records that break RFC 6891.
    q = query("db", "A")
    q1 = set_counts(q, ar=1)
    m["bad-opt-rdlen-too-long"] = q1 + opt_rr(rdata=b"", rdlen=10)
    m["bad-opt-rdlen-cuts-option"] = q1 + opt_rr(
        rdata=edns_option(100, b"\xab\xcd")[:5])
    m["bad-opt-option-len-too-long"] = q1 + opt_rr(
        rdata=struct.pack("!HH", 100, 50) + b"\xab\xcd")
    m["bad-opt-option-header-cut"] = q1 + opt_rr(rdata=b"\x00\x64\x00")
    m["bad-opt-not-root-owner"] = q1 + opt_rr(owner=wname("db"))
    m["bad-opt-owner-ptr-to-qname"] = q1 + opt_rr(owner=b"\xc0\x0c")
    m["bad-opt-two"] = set_counts(q, ar=2) + opt_rr() + opt_rr(do=True)
    m["bad-opt-in-answer"] = set_counts(q, an=1) + opt_rr()
    m["bad-opt-in-authority"] = set_counts(q, ns=1) + opt_rr()
    m["bad-opt-cut-fixed-part"] = q1 + opt_rr()[:7]
    m["bad-ar-count-no-data"] = set_counts(q, ar=1)
    m["bad-ar-rr-before-opt-cut"] = set_counts(q, ar=2) + wname("x") \
        + struct.pack("!HHIH", 16, 1, 0, 200) + b"abc"
    m["bad-tsig-garbage"] = q1 + wname("key.") + struct.pack(
        "!HHIH", 250, 255, 0, 4) + b"\x00\x00\x00\x00"
    # Counts that promise far more than the packet holds.
    m["bad-qdcount-65535"] = set_counts(q, qd=65535)
    m["bad-ancount-65535"] = set_counts(q, an=65535)
    m["bad-nscount-65535"] = set_counts(q, ns=65535)
    m["bad-arcount-65535"] = set_counts(q, ar=65535)
    m["bad-all-counts-65535"] = set_counts(q, qd=65535, an=65535, ns=65535,
                                           ar=65535)
    m["bad-qdcount-0-with-question"] = set_counts(q, qd=0)
    m["bad-trailing-garbage"] = q + b"\xde\xad\xbe\xef" * 8
    m["bad-trailing-nul"] = q + b"\x00"
    m["bad-edns-trailing-garbage"] = query("db", "A", edns=0) + b"garbage"
    m["bad-oversize-udp-4096"] = q + bytes(4096 - len(q))
    m["bad-oversize-1500-ff"] = q + b"\xff" * (1500 - len(q))
    m["bad-all-ff-12"] = b"\xff" * 12
    m["bad-all-ff-64"] = b"\xff" * 64
    m["bad-all-zero-512"] = bytes(512)
    # A TCP length prefix sent as if it were the message itself.
    m["bad-tcp-framed"] = struct.pack("!H", len(q)) + q
    # Seeded random bytes: fully random, and random after a good header.
    rng = random.Random(20240601)
    for i in range(8):
        n = rng.choice([12, 13, 17, 31, 64, 100, 300, 512, 1232, 1500])
        m["rnd-bytes-%02d" % i] = bytes(rng.getrandbits(8) for _ in range(n))
    for i in range(6):
        n = rng.randrange(1, 200)
        tail = bytes(rng.getrandbits(8) for _ in range(n))
        m["rnd-after-header-%02d" % i] = header(qd=1, ar=rng.randrange(0, 3)) \
            + tail
    for i in range(6):
        w = bytearray(query("_5432._tcp.db", "SRV", edns=0, dnssec=True))
        for _ in range(rng.randrange(1, 6)):
            w[rng.randrange(len(w))] = rng.getrandbits(8)
        m["rnd-flipped-%02d" % i] = bytes(w)
    # Shapes the list above lacked (test_protocol.py replays this corpus
    # against the daemon; these were its own list once).  Last, so that the
    # IDs of the seeds above do not move.
    db_q = question(wname("db"))

    def ptr(off):
        return struct.pack("!H", 0xC000 | off)
    m["bad-name-ends-after-label"] = header() + b"\x02db"
    m["bad-name-257-bytes"] = header() + question(
        b"".join(bytes([63]) + b"b" * 63 for _ in range(4)) + b"\x00")
    m["bad-ptr-loop-via-label"] = (header() + b"\x01a" + ptr(16) + ptr(12)
                                   + b"\x00\x01\x00\x01")
    m["bad-ptr-beyond-500"] = header() + question(ptr(500))
    m["bad-ptr-to-header-2"] = header() + question(ptr(2))
    m["bad-ptr-cut-after-label"] = header() + b"\x02db\xc0"
    m["bad-ptr-chain-120"] = (
        header() + b"".join(ptr(12 + 2 * (i + 1)) for i in range(120))
        + b"\x00" + struct.pack("!HH", 1, 1))
    m["bad-opt-cut-after-type"] = header(ar=1) + db_q + b"\x00\x00\x29"
    m["bad-answer-rdlen-too-long"] = (header(an=1) + db_q + ptr(12)
                                      + struct.pack("!HHIH", 1, 1, 10, 200)
                                      + b"\x01")
    m["bad-ar-name-cut"] = header(ar=1) + db_q + b"\x02db"
    m["bad-z-set"] = header(flags=0x0140) + db_q
    m["bad-qtype-opt"] = header() + question(wname("db"), 41)
    m["bad-qclass-0"] = header() + question(wname("db"), 1, 0)
    m["bad-name-127-labels"] = header() + question(b"\x01a" * 127 + b"\x00")
    m["bad-oversize-60000"] = header() + db_q + bytes(60000)
    return m


# ---------------------------------------------------------------- tables

# A few good lines so that the bad one sits on a later line.
PRELUDE = """\
# linkdns fuzz seed
add db --addr 127.20.0.2 --expose 5432/tcp
add web --addr 127.20.0.3 --publish 8080:80/tcp
link web db
"""

OK_TABLES = {
    "ok-every-option": """\
# every command and option form of the table grammar
add db --addr 127.20.0.2 --addr 127.20.0.22 --addr fd00:20::2 --expose 5432/tcp --expose 5432/udp
add cache_1 --netns /run/netns/cache_1 --addr 127.20.0.5 --expose 6379/tcp
add app-2 --pid 1 --addr 127.20.0.6 --publish 8080:80/tcp --publish 5353:53/udp
add web --addr 127.20.0.3 --addr 2001:db8::3 --expose 80/tcp --publish 49154:5000/tcp --dns 127.0.0.53 --dns 127.0.0.54@5353 --dns ::1 --dns ::1@5300
add remote_db --remote db.pub.example@127.20.99.10
add remote_web --remote web.pub.example@127.20.99.11@5353 --expose 80/tcp
add plain
add db --replace --addr 127.20.0.7 --expose 5432/tcp
add WEB2 --addr 127.20.0.4

link web db
link web db:database
link web cache_1:cache
link app-2 remote_db:db
link app-2 remote_web
link WEB2 DB:Primary
unlink web database db
unlink web cache
rm plain
""",
    "ok-replicas": """\
add a1 --addr 127.20.1.1 --expose 80/tcp
add a2 --addr 127.20.1.2 --expose 80/tcp
add a3 --addr 127.20.1.3 --addr fd00:20:1::3
add client --addr 127.20.1.10
link client a1:app
link client a2:app
link client a3:app
link client a1
""",
    "ok-whitespace-comments": (
        "   # indented comment\n"
        "\n"
        "\t\n"
        "add\tdb   --addr\t127.20.2.2  \n"
        "add web --addr 127.20.2.3\t\t\n"
        "#add ghost --addr 127.20.2.9\n"
        "link   web    db\n"),
    "ok-empty": "",
    "ok-only-comments": "# nothing here\n#\n# add x --addr 1.2.3.4\n",
    "ok-canonical-v6": """\
add v6 --addr 2001:db8::1 --addr fd00::a:b:c:d --addr ::1 --addr fe80::1
add v6b --addr 2001:0db8:0000:0000:0000:0000:0000:0002 --addr ::ffff:127.20.3.2
add c --addr 127.20.3.3
link c v6
link c v6b:other
""",
    "ok-max-name": (
        "add " + "n" * 63 + " --addr 127.20.4.1\n"
        "add c --addr 127.20.4.2\n"
        "link c " + "n" * 63 + ":" + "A" * 63 + "\n"),
    "ok-no-final-newline": "add db --addr 127.20.5.2\nadd web --addr 127.20.5.3\nlink web db",
    "ok-crlf": "add db --addr 127.20.6.2\r\nadd web --addr 127.20.6.3\r\nlink web db\r\n",
    "ok-owners": """\
# owners (--owner): merges of two routes, rm of one owner, replace across owners
add web --owner oci:aaaa --netns /run/netns/web --addr 127.20.7.1
add db --owner cni:k8s.pod-1_x --addr 127.20.7.2
add web --owner cni:aaaa --netns /run/netns/web --addr 127.20.7.1
link web db
add cache --owner=aardvark:net1 --owner aardvark:net2 --addr 127.20.7.3
rm web --owner oci:aaaa
add db --replace --owner cni:k8s.pod-1_x --addr 127.20.7.4
add cache --replace --owner oci:bbbb --pid 1 --addr 127.20.7.5
rm cache --owner oci:bbbb
rm db --owner=cni:k8s.pod-1_x
""",
}

BAD_LINES = {
    # Each kind of error named in CONVENTIONS.md, and their relatives.
    "bad-invalid-address": "add x --addr 1.2.3\n",
    "bad-invalid-address-v6": "add x --addr fd00::1::2\n",
    "bad-invalid-address-word": "add x --addr localhost\n",
    "bad-invalid-address-cidr": "add x --addr 127.20.9.1/24\n",
    "bad-invalid-address-octet": "add x --addr 127.20.9.256\n",
    "bad-unknown-option": "add x --foo --addr 127.20.9.1\n",
    "bad-unknown-option-single-dash": "add x -a 127.20.9.1\n",
    "bad-unknown-command": "frob db\n",
    "bad-unknown-command-case": "ADD x --addr 127.20.9.1\n",
    "bad-link-target-missing": "link web nosuch\n",
    "bad-link-from-missing": "link nosuch db\n",
    "bad-rm-missing": "rm nosuch\n",
    "bad-unlink-missing": "unlink web nosuch\n",
    "bad-unlink-target-mismatch": "unlink web db web\n",
    "bad-already-exists": "add db --addr 127.20.9.9\n",
    "bad-already-exists-case": "add DB --addr 127.20.9.9\n",
    "bad-invalid-name-dot": "add a.b --addr 127.20.9.1\n",
    "bad-invalid-name-64": "add " + "n" * 64 + " --addr 127.20.9.1\n",
    "bad-invalid-name-chars": "add db! --addr 127.20.9.1\n",
    "bad-invalid-name-utf8": "add d\u00e9j\u00e0 --addr 127.20.9.1\n",
    "bad-invalid-alias": "link web db:a.b\n",
    "bad-invalid-alias-empty": "link web db:\n",
    "bad-invalid-port-70000": "add x --expose 70000/tcp\n",
    "bad-invalid-port-zero": "add x --expose 0/tcp\n",
    "bad-invalid-port-word": "add x --expose http/tcp\n",
    "bad-invalid-port-no-proto": "add x --expose 80\n",
    "bad-invalid-protocol": "add x --expose 80/xyz\n",
    "bad-invalid-publish-hostport": "add x --publish 99999:80/tcp\n",
    "bad-invalid-publish-form": "add x --publish 80/tcp\n",
    "bad-invalid-publish-proto": "add x --publish 8080:80/sctp\n",
    "bad-needs-value-addr": "add x --addr\n",
    "bad-needs-value-expose": "add x --addr 127.20.9.1 --expose\n",
    "bad-needs-value-netns": "add x --netns\n",
    "bad-needs-value-dns": "add x --dns\n",
    "bad-alias-equals-own-name": "link web db:web\n",
    "bad-netns-and-pid": "add x --netns /run/netns/x --pid 1\n",
    "bad-pid-twice": "add x --pid 1 --pid 2\n",
    "bad-invalid-pid": "add x --pid abc\n",
    "bad-invalid-pid-negative": "add x --pid -5\n",
    "bad-ns-id-without-namespace": "add x --ns-id "
    "0ecf5037-6c90-444c-b59b-af773838dbfb:4026532000:4096\n",
    "bad-ns-id-form": "add x --pid 7 --ns-id 0ecf5037-6c90-444c:1:2\n",
    "bad-ns-id-twice": "add x --pid 7 --ns-id 0ecf5037-6c90-444c-b59b-af773838dbfb:1:2"
    " --ns-id 0ecf5037-6c90-444c-b59b-af773838dbfb:1:2\n",
    "bad-invalid-dns": "add x --dns 1.2.3@99999\n",
    "bad-invalid-dns-port-word": "add x --dns 127.0.0.1@dns\n",
    "bad-invalid-remote-no-addr": "add x --remote db.pub.example\n",
    "bad-invalid-remote-bad-addr": "add x --remote db.pub.example@1.2.3\n",
    "bad-invalid-remote-fqdn": "add x --remote bad..name@127.20.99.1\n",
    "bad-missing-name-add": "add\n",
    "bad-missing-name-add-options": "add --addr 127.20.9.1\n",
    "bad-missing-name-rm": "rm\n",
    "bad-missing-target-link": "link web\n",
    "bad-missing-alias-unlink": "unlink web\n",
    "bad-unexpected-argument-add": "add x y --addr 127.20.9.1\n",
    "bad-unexpected-argument-rm": "rm db x\n",
    "bad-unexpected-argument-link": "link web db x\n",
    "bad-unexpected-argument-unlink": "unlink web db db x\n",
    "bad-replace-flag-on-link": "link web db --replace\n",
    "bad-readonly-ls-in-file": "ls\n",
    "bad-readonly-show-in-file": "show web\n",
    "bad-readonly-reload-in-file": "reload\n",
    "bad-nul-byte": "add x\0 --addr 127.20.9.1\n",
    "bad-control-chars": "add x --addr 127.20.9.1\x1b[0m\n",
    "bad-long-token": "add " + "x" * 5000 + " --addr 127.20.9.1\n",
    "bad-too-many-addrs": "add x" + "".join(
        " --addr 127.21.%d.%d" % (i // 250, i % 250 + 1) for i in range(1100))
    + "\n",
    "bad-invalid-utf8": b"add x --addr 127.20.9.1 \xff\xfe\n",
    "bad-owner-chars": "add x --owner oci:a/b\n",
    "bad-owner-empty": "add x --owner=\n",
    "bad-owner-long": "add x --owner " + "o" * 129 + "\n",
    "bad-owner-pattern-in-add": "add x --owner oci:*\n",
    "bad-owner-duplicate": "add x --owner oci:1 --owner oci:1\n",
    "bad-owner-too-many": "add x" + "".join(" --owner o%d:1" % i for i in range(9)) + "\n",
    "bad-owner-needs-value": "add x --owner\n",
    "bad-rm-owner-mismatch": "add x --owner oci:1\nrm x --owner oci:2\n",
    "bad-rm-owner-twice": "rm db --owner a:1 --owner a:2\n",
    "bad-rm-owner-unowned": "rm db --owner oci:1\n",
    "bad-owner-merge-other-id": "add x --owner oci:1\nadd x --owner cni:2\n",
}

# Lines a parser may accept or refuse; seeds either way.
EDGE_TABLES = {
    "edge-inline-comment": PRELUDE + "add x --addr 127.20.9.1 # trailing comment\n",
    "edge-duplicate-link": PRELUDE + "link web db\n",
    "edge-duplicate-addr": PRELUDE + "add x --addr 127.20.9.1 --addr 127.20.9.1\n",
    "edge-same-addr-two-containers": PRELUDE + "add x --addr 127.20.0.2\n",
    "edge-replace-missing": PRELUDE + "add nosuch --replace --addr 127.20.9.1\n",
    "edge-self-link": PRELUDE + "link web web\n",
    "edge-rm-then-link": PRELUDE + "rm db\nlink web db\n",
    "edge-readd-after-rm": PRELUDE + "rm db\nadd db --addr 127.20.0.2\nlink web db\n",
    "edge-publish-and-expose": PRELUDE + "add x --expose 80/tcp --publish 8080:80/tcp\n",
    "edge-netns-missing": PRELUDE + "add x --netns /nonexistent/linkdns-fuzz-ns\n",
    "edge-pid-missing": PRELUDE + "add x --pid 2147483647\n",
    "edge-ns-id": PRELUDE + "add x --pid 2147483647 --ns-id "
    "0ECF5037-6c90-444c-b59b-af773838dbfb:4026532000:18446744073709551615\n",
    "edge-remote-with-addr": PRELUDE + "add x --remote x.pub.example@127.20.99.1 --addr 127.20.9.1\n",
    "edge-option-equals": PRELUDE + "add x --addr=127.20.9.1\n",
    "edge-json-flag": PRELUDE + "ls --json\n",
    "edge-lone-cr": "add db --addr 127.20.0.2\radd web --addr 127.20.0.3\n",
    "edge-owner-max": PRELUDE + "add x --owner " + "o:" * 64 + " --owner " + "p" * 128 + "\n",
    "edge-owner-ls-pattern": PRELUDE + "ls --owner oci:*\n",
    "edge-owner-no-colon": PRELUDE + "add x --owner plain\nadd x --owner other\n",
    "edge-owner-merge-max": PRELUDE + "add x" + "".join(" --owner o%d:1" % i for i in range(8))
    + "\nadd x --owner z:1\n",
}


# Networks (linkdns.links(5), NETWORKS): net, unnet, attach, detach, multi-label aliases.
NET_TABLES = {
    'net-basic': 'net front\nnet back --domain dns.podman --dns 192.0.2.53@5353 --listen 10.89.0.1\nnet iso --internal --owner cni:abc\nadd web\nadd db --addr 127.0.0.5 --expose 5432/tcp\nattach web front --addr 10.89.0.2 --alias www --alias api.v2\nattach db back --addr 10.89.1.3 --addr fd00::3 --alias store\nattach db front\nlink web db:pg.main\n',
    'net-changes': 'net n\nadd a\nadd b\nattach a n --addr 10.0.0.1 --alias x.y.z\nattach b n --addr 10.0.0.2 --alias x.y.z\ndetach a n\nadd b --replace --addr 10.0.0.9\nrm a\nnet n --replace --domain n.test\nnet n --domain n.test\nunnet n --owner t\n',
    'bad-net-unnet-attached': 'net n\nadd a\nadd b\nattach a n\nunnet n\n',
    'bad-net-internal-dns': 'net n --internal --dns 10.0.0.1\n',
    'bad-net-addr-in-use': 'net n\nadd a\nadd b\nattach a n --addr 10.0.0.1\nattach b n --addr 10.0.0.1\n',
    'bad-net-exists': 'net n\nnet n --internal\n',
    'bad-net-attach-unknown': 'add a\nattach a nosuch\n',
    'bad-net-alias': 'net n\nadd a\nattach a n --alias a..b\n',
    'bad-net-name': 'net n/x\n',
    'bad-net-owner': 'net n --owner a\nnet n --replace --owner b --internal\n',
}


def table_files():
    t = {}
    zones = os.path.join(REPO, "zones")
    for f in sorted(os.listdir(zones)) if os.path.isdir(zones) else []:
        if f.endswith(".links"):
            with open(os.path.join(zones, f), "rb") as fh:
                t["ok-zones-" + f[:-len(".links")]] = fh.read()
    for k, v in OK_TABLES.items():
        t[k] = v
    for k, v in BAD_LINES.items():
        t[k] = (PRELUDE.encode() + v) if isinstance(v, bytes) else PRELUDE + v
    for k, v in EDGE_TABLES.items():
        t[k] = v
    for k, v in NET_TABLES.items():
        t[k] = v
    return {k: (v.encode() if isinstance(v, str) else v) for k, v in t.items()}


# ---------------------------------------------------------------- output

def write_dir(path, files, suffix=""):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    for name, data in sorted(files.items()):
        with open(os.path.join(path, name + suffix), "wb") as fh:
            fh.write(data)


def main():
    real = real_queries()
    bad = malformed_queries()
    assert len(real) >= 30 and len(bad) >= 30
    assert not set(real) & set(bad)
    # Every real query must parse with dnspython, except those whose header
    # makes it refuse on purpose (more than one question, unknown opcode...).
    for name, wire in real.items():
        try:
            dns.message.from_wire(wire)
        except Exception as e:  # noqa: BLE001 - report which seed and why
            if not any(k in name for k in ("two-questions", "opcode", "label-")):
                sys.exit("gen_corpus: %s does not parse: %s" % (name, e))
    queries = dict(real)
    queries.update(bad)
    tables = table_files()
    assert len(tables) >= 20
    write_dir(QUERY_DIR, queries)
    write_dir(TABLE_DIR, tables, ".links")
    print("gen_corpus: %d queries (%d real, %d malformed) in %s; %d tables in %s"
          % (len(queries), len(real), len(bad), os.path.relpath(QUERY_DIR, REPO),
             len(tables), os.path.relpath(TABLE_DIR, REPO)))


if __name__ == "__main__":
    main()
