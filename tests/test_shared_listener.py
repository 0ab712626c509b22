"""Who a source address is at a shared listener (--listen): the containers
that own it. A pod (one namespace) sees the union of its members' views;
containers of two namespaces behind one address make the address ambiguous:
REFUSED, never a union. Addresses: 127.63/16."""
import dns.rcode

from conftest import linkdns, rcode_text  # noqa: F401

TABLE = """\
add db --addr 127.63.0.9
add p1 --netns /run/netns/ld-test-nosuch-pod --addr 127.63.0.1
add p2 --netns /run/netns/ld-test-nosuch-pod --addr 127.63.0.1
add x1 --netns /run/netns/ld-test-nosuch-x1 --addr 127.63.0.2
add x2 --netns /run/netns/ld-test-nosuch-x2 --addr 127.63.0.2
link p1 db
link x1 db
"""


def test_pod_sees_union_two_namespaces_are_refused(linkdns):
    d = linkdns(TABLE)
    # the pod's address: p1's link answers (p2 shares p1's namespace)
    r = d.query("db", "A", source="127.63.0.1")
    assert r.rcode() == dns.rcode.NOERROR, rcode_text(r)
    assert [a.to_text() for rr in r.answer for a in rr] == ["127.63.0.9"]
    r = d.query("p2", "A", source="127.63.0.1")
    assert [a.to_text() for rr in r.answer for a in rr] == ["127.63.0.1"]
    # x1 and x2 are in two namespaces: their address is nobody's to answer
    for name in ("db", "x1", "x2", "db.link.internal"):
        r = d.query(name, "A", source="127.63.0.2")
        assert r.rcode() == dns.rcode.REFUSED, (name, rcode_text(r))
    # once x2 goes, the address is x1's alone again
    d.ok("rm", "x2")
    r = d.query("db", "A", source="127.63.0.2")
    assert [a.to_text() for rr in r.answer for a in rr] == ["127.63.0.9"]
