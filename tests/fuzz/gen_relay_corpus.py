#!/usr/bin/python3
"""Writes tests/fuzz/corpus/relay: upstream answers (deterministic) for fuzz_relay."""
import os
import dns.edns
import dns.flags
import dns.message
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
