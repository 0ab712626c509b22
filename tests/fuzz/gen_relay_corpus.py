#!/usr/bin/python3
"""Writes tests/fuzz/corpus/relay (upstream answers) and corpus/cache (the same behind the
parameters of fuzz_cache.c), deterministic, for fuzz_relay and fuzz_cache."""
import os
import struct
import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rrset

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "relay")
os.makedirs(out, exist_ok=True)


def answer(name, rdtype, records, edns=True, extra=None, tc=False, cookie=False):
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else None)
    r = dns.message.make_response(q)
    if records:
        r.answer.append(dns.rrset.from_text(name, 300, "IN", rdtype, *records))
    if extra:
        r.additional.append(dns.rrset.from_text(*extra))
    if tc:
        r.flags |= dns.flags.TC
    if cookie and edns:
        r.use_edns(0, options=[dns.edns.GenericOption(10, b"0123456789abcdef")])
    return r.to_wire()


cases = {
    "a": answer("www.example.test.", "A", ["192.0.2.80"]),
    "a-noedns": answer("www.example.test.", "A", ["192.0.2.80"], edns=False),
    "a-cookie": answer("www.example.test.", "A", ["192.0.2.80"], cookie=True),
    "big": answer("big.example.test.", "A", ["198.51.100.%d" % i for i in range(1, 41)]),
    "mx": answer("example.test.", "MX", ["10 mail.example.test."],
                 extra=("mail.example.test.", 300, "IN", "A", "192.0.2.25")),
    "txt": answer("txt.example.test.", "TXT", ['"hello world"']),
    "tc": answer("big.example.test.", "A", [], tc=True),
    "nx": answer("nosuch.example.test.", "A", []),
    "cname": answer("docs.example.test.", "CNAME", ["www.example.test."]),
}
for k, v in cases.items():
    with open(os.path.join(out, k), "wb") as f:
        f.write(v)
for k, v in list(cases.items())[:4]:
    for cut in (5, 12, 20, len(v) - 3):
        with open(os.path.join(out, "%s-cut%d" % (k, cut)), "wb") as f:
            f.write(v[:cut])

# tests/fuzz/corpus/cache: FUZZ_HDR parameter octets (fuzz_cache.c), then an answer.
cache_out = os.path.join(os.path.dirname(out), "cache")
os.makedirs(cache_out, exist_ok=True)


def params(do=False, cd=False, edns=True, tcp=False, twice=False, fixed=False, half=False,
           elapsed=0, payload=1232, cid=0x1234, seed=0x5a, size=0, maxttl=0, fill=0,
           other=0, after=False, flush=0):
    """The harness's parameters: elapsed below 128 s, or a multiple of 256 s."""
    flags = (do, cd, edns, tcp, True, twice, fixed, half)
    e = elapsed if elapsed < 128 else 0x80 | elapsed // 256
    return bytes([sum(1 << i for i, f in enumerate(flags) if f), e, payload // 16,
                  cid >> 8, cid & 0xff, seed, size | maxttl << 2 | fill << 4,
                  other | (8 if after else 0) | flush << 4])


def wname(text):
    """A name in wire form, uncompressed, in the case given."""
    return b"".join(bytes([len(l)]) + l.encode() for l in text.split(".") if l) + b"\0"


def rr(owner, rdtype, ttl, rdata, rdclass=1):
    """A record; owner is wire form already (a name or a pointer)."""
    return owner + struct.pack("!HHIH", rdtype, rdclass, ttl, len(rdata)) + rdata


def raw(qname, qtype, an=(), ns=(), ar=(), rcode=0, tc=False):
    """An answer by hand, for the pointers and spellings dnspython will not write."""
    head = struct.pack("!HBBHHHH", 0xbeef, 0x81 | (2 if tc else 0), 0x80 | rcode, 1,
                       len(an), len(ns), len(ar))
    return head + wname(qname) + struct.pack("!HH", qtype, 1) + b"".join([*an, *ns, *ar])


def full(name, rdtype, answers=(), authority=(), additional=(), rcode=0, edns=True,
         dnssec=False):
    """An answer by dnspython: sections as (name, ttl, type, rdata...) tuples."""
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else None, want_dnssec=dnssec)
    q.id = 0x4242  # make_query draws one: fixed, so that the output is too
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    for sec, rrs in ((r.answer, answers), (r.authority, authority), (r.additional, additional)):
        for n, ttl, t, *rd in rrs:
            sec.append(dns.rrset.from_text(n, ttl, "IN", t, *rd))
    return r.to_wire()


SOA = ("example.test.", 3600, "SOA", "ns.example.test. host.example.test. 1 7200 900 86400 300")
PQ = b"\xc0\x0c"
ttl_ptr = raw("www.example.test", 1, an=[
    rr(PQ, 1, 0x01610000, bytes([192, 0, 2, 1])),  # its TTL octets read "\1a\0": a name
    rr(b"\xc0\x28", 1, 300, bytes([192, 0, 2, 2]))])
root_ptr = raw("www.example.test", 1, an=[
    rr(PQ, 1, 3600, bytes([192, 0, 2, 1])),  # a pointer to its first TTL octet: the root
    rr(b"\xc0\x28", 1, 300, bytes([192, 0, 2, 2]))])
cache_cases = {
    "a": (params(), raw("www.example.test", 1, an=[  # by hand: dnspython orders a set at random
        rr(PQ, 1, 300, bytes([192, 0, 2, 1])), rr(PQ, 1, 60, bytes([192, 0, 2, 2]))])),
    "a-later": (params(elapsed=127, half=True, other=1, flush=1),
                full("www.example.test.", "A", [("www.example.test.", 128, "A", "192.0.2.1")])),
    "a-expired": (params(elapsed=100, other=2), full("www.example.test.", "A", [
        ("www.example.test.", 100, "A", "192.0.2.1")])),
    "ttls": (params(elapsed=30, do=True, other=3, flush=2), full("www.example.test.", "A", [
        ("www.example.test.", 3600, "CNAME", "web.example.test."),
        ("web.example.test.", 60, "A", "192.0.2.80")], additional=[
        ("ns.example.test.", 86400, "A", "192.0.2.53")])),
    "maxttl": (params(elapsed=256 * 4, maxttl=1, other=4), full("www.example.test.", "A", [
        ("www.example.test.", 2000000, "A", "192.0.2.1")])),
    "maxttl-300": (params(elapsed=100, maxttl=2, other=5), full("www.example.test.", "MX", [
        ("www.example.test.", 3600, "MX", "10 mail.example.test.")], additional=[
        ("mail.example.test.", 7200, "A", "192.0.2.25")])),
    "ttl-zero": (params(), full("www.example.test.", "A", [
        ("www.example.test.", 0, "A", "192.0.2.1")])),
    "ttl-huge": (params(), raw("www.example.test", 1, an=[
        rr(PQ, 1, 0x80000000, bytes([192, 0, 2, 1]))])),
    "cname-chain": (params(elapsed=5, cd=True, other=6, flush=3), full("a.example.test.", "A", [
        ("a.example.test.", 3600, "CNAME", "b.example.test."),
        ("b.example.test.", 600, "CNAME", "c.other.test."),
        ("c.other.test.", 120, "A", "198.51.100.7")])),
    "nx-soa": (params(elapsed=10), full("nosuch.example.test.", "A", authority=[SOA],
                                        rcode=dns.rcode.NXDOMAIN)),
    "nx-nosoa": (params(), full("nosuch.example.test.", "A", rcode=dns.rcode.NXDOMAIN)),
    "nodata-soa": (params(elapsed=256, twice=True), full("www.example.test.", "AAAA",
                                                          authority=[SOA])),
    "nodata-nosoa": (params(twice=True), full("www.example.test.", "AAAA")),
    "servfail": (params(elapsed=4), full("www.example.test.", "A", rcode=dns.rcode.SERVFAIL)),
    "refused": (params(elapsed=5), full("www.example.test.", "A", rcode=dns.rcode.REFUSED)),
    "formerr": (params(), full("www.example.test.", "A", rcode=dns.rcode.FORMERR)),
    "tc": (params(), raw("big.example.test", 1, tc=True)),
    "cut": (params(), full("www.example.test.", "A", [
        ("www.example.test.", 300, "A", "192.0.2.1")])[:-3]),
    "other-question": (params(fixed=True), full("else.example.test.", "A", [
        ("else.example.test.", 300, "A", "192.0.2.1")])),
    "cases": (params(seed=0xa7, edns=False), raw("WwW.ExAmPle.TeSt", 1, an=[
        rr(wname("www.EXAMPLE.test"), 1, 300, bytes([192, 0, 2, 1])),
        rr(wname("WWW") + b"\xc0\x10", 1, 300, bytes([192, 0, 2, 2]))])),
    "ptr-question": (params(seed=3), raw("www.example.test", 15, an=[
        rr(PQ, 15, 300, b"\0\x0a\4mail\xc0\x10"),  # into the question's example.test
        rr(b"\xc0\x30", 1, 300, bytes([192, 0, 2, 25]))])),
    "ptr-ttl": (params(maxttl=1), ttl_ptr),
    "ptr-ttl-root": (params(elapsed=20), root_ptr),
    "patches": (params(), raw("p.example.test", 1, an=[
        rr(wname("p.example.test"), 1, 300, bytes([192, 0, 2, i])) for i in range(40)])),
    "dnssec": (params(do=True, edns=True), full("www.example.test.", "A", [
        ("www.example.test.", 300, "A", "192.0.2.1"),
        ("www.example.test.", 300, "RRSIG",
         "A 13 3 300 20300101000000 20200101000000 12345 example.test. AAAA")],
        dnssec=True)),
    "opt-middle": (params(), raw("www.example.test", 1, an=[
        rr(PQ, 1, 300, bytes([192, 0, 2, 1])), rr(b"\0", 41, 0, b"", 1232),
        rr(PQ, 1, 300, bytes([192, 0, 2, 2]))])),
    "big": (params(payload=1232), raw("big.example.test", 1, an=[
        rr(PQ, 1, 300 + i, bytes([198, 51, 100, i])) for i in range(250)])),
    "big-udp512": (params(edns=False, fill=3), raw("big.example.test", 1, an=[
        rr(PQ, 1, 300, bytes([198, 51, 100, i])) for i in range(200)])),
    "big-tcp": (params(tcp=True, fill=15, after=True), raw("big.example.test", 16, an=[
        rr(PQ, 16, 300, bytes([255]) + bytes([65 + i % 26]) * 255) for i in range(15)])),
    "too-big": (params(tcp=True), raw("big.example.test", 1, an=[
        rr(PQ, 1, 300, bytes([198, 51, 100, i % 256])) for i in range(260)])),
    "evict": (params(fill=15, size=3, after=True, twice=True), raw("www.example.test", 1, an=[
        rr(PQ, 1, 300, bytes([192, 0, 2, i])) for i in range(20)])),
    "evict-before": (params(fill=14, size=3), raw("www.example.test", 1, an=[
        rr(PQ, 1, 300, bytes([192, 0, 2, i])) for i in range(20)])),
    "root": (params(), full(".", "NS", [(".", 518400, "NS", "a.root-servers.net.")])),
}
for k, (p, v) in cache_cases.items():
    with open(os.path.join(cache_out, k), "wb") as f:
        f.write(p + v)
