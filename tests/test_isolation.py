"""No view learns another view's names.

For every source container, every name that belongs to another view (and not
to its own), every type and several case variants, the reply must be exactly
what the daemon says for a name that was never registered at all (same
shape: same number of labels, same label lengths, same case pattern).  The
comparison covers rcode, flags and every section, with the asked name
replaced by a placeholder.

Addresses: 127.30.0.0/16.
"""

import random

import dns.flags
import dns.rdatatype
import pytest

from conftest import (addresses, count, module_daemon, rcode_text, records,
                      reverse_name)

CONTAINERS = {
    # name: (addresses, exposed (port, service or None))
    "db": (["127.30.0.2", "fd00:30::2"], [(5432, "postgresql")]),
    "web": (["127.30.0.3", "fd00:30::3"], [(80, "http")]),
    "app": (["127.30.0.4"], [(8080, None)]),
    "cache": (["127.30.0.5", "fd00:30::5"], [(6379, "redis")]),
    "lonely": (["127.30.0.6"], [(25, "smtp")]),
}
LINKS = [("web", "db", "db"), ("app", "cache", "kv"),
         ("app", "db", "database")]
UNREGISTERED = "127.30.99.99"
TYPES = ["A", "AAAA", "SRV", "PTR", "ANY", "TXT"]


def table():
    lines = ["# isolation matrix table"]
    for name, (addrs, ports) in CONTAINERS.items():
        opts = " ".join("--addr " + a for a in addrs)
        opts += " " + " ".join("--expose %d/tcp" % p for p, _ in ports)
        lines.append("add %s %s" % (name, opts))
    for frm, target, alias in LINKS:
        lines.append("link %s %s:%s" % (frm, target, alias))
    return "\n".join(lines) + "\n"


def view_names(c):
    """Lower-case labels that container c may resolve."""
    names = {c}
    for frm, target, alias in LINKS:
        if frm == c:
            names |= {target, alias}
    return names


def view_targets(c):
    targets = {c}
    for frm, target, _alias in LINKS:
        if frm == c:
            targets.add(target)
    return targets


def name_owner(label):
    """Which container a label names in the view that has it."""
    if label in CONTAINERS:
        return label
    for _frm, target, alias in LINKS:
        if alias == label:
            return target
    raise KeyError(label)


ALL_NAMES = sorted(set(CONTAINERS) | {a for _, _, a in LINKS})


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon(table())


def case_variants(label):
    mixed = "".join(ch.upper() if i % 2 else ch for i, ch in enumerate(label))
    return [label, label.upper(), mixed]


def same_shape(label, rng):
    """A never-registered label of the same length and case pattern."""
    while True:
        fresh = "".join(rng.choice("qxzjvwk") for _ in label)
        if fresh.lower() not in ALL_NAMES:
            break
    return "".join(f.upper() if o.isupper() else f
                   for f, o in zip(fresh, label))


def forms(label):
    """(template, type subset) pairs built around one view label."""
    owner = name_owner(label.lower())
    out = []
    for suffix in ("", ".link.internal", ".Link.INTERNAL"):
        out.append(("{n}" + suffix, TYPES))
        for port, service in CONTAINERS[owner][1]:
            out.append(("_%d._tcp.{n}%s" % (port, suffix), ["SRV", "ANY"]))
            if service:
                out.append(("_%s._tcp.{n}%s" % (service, suffix),
                            ["SRV", "TXT"]))
        out.append(("_tcp.{n}" + suffix, ["SRV", "A", "TXT"]))
        out.append(("x.{n}" + suffix, ["A", "ANY"]))
    return out


def shape(msg, qname):
    """Everything in a reply except the ID, with qname made a placeholder."""
    q = qname.lower().rstrip(".") + "."

    def norm(section):
        out = []
        for rrset in section:
            for line in rrset.to_text().splitlines():
                low = line.lower()
                out.append(low.replace(q, "QNAME."))
        return sorted(out)

    flags = msg.flags
    return (rcode_text(msg), dns.flags.to_text(flags), msg.edns,
            norm(msg.question), norm(msg.answer), norm(msg.authority),
            norm(msg.additional))


def assert_question_echo(r, asked):
    assert r.question and r.question[0].name.to_text() == asked + ".", \
        "question not echoed as asked: %r vs %r" % (r.question, asked)


def test_views_do_answer(daemon):
    """Sanity for the matrix: each view's own names do resolve."""
    checked = 0
    for c, (addrs, _) in CONTAINERS.items():
        src = addrs[0]
        for label in sorted(view_names(c)):
            owner = name_owner(label)
            want = sorted(a for a in CONTAINERS[owner][0] if ":" not in a)
            r = daemon.query(label, "A", source=src)
            assert rcode_text(r) == "NOERROR", (c, label, r)
            assert r.flags & dns.flags.AA, (c, label, r)
            assert addresses(r) == want, (c, label, r)
            checked += 1
    assert checked == len(CONTAINERS) + 2 * len(LINKS) - 1


@pytest.mark.parametrize("source", sorted(CONTAINERS))
def test_no_foreign_name_leaks(daemon, source):
    src = CONTAINERS[source][0][0]
    own = view_names(source)
    rng = random.Random("isolation-" + source)
    leaks = []
    asked = 0
    for label in ALL_NAMES:
        if label in own:
            continue
        for variant in case_variants(label):
            fresh = same_shape(variant, rng)
            for template, types in forms(label):
                name = template.format(n=variant)
                ref = template.format(n=fresh)
                for rdtype in types:
                    r = daemon.query(name, rdtype, source=src)
                    base = daemon.query(ref, rdtype, source=src)
                    asked += 1
                    assert_question_echo(r, name)
                    if count(r.answer) or shape(r, name) != shape(base, ref):
                        leaks.append("%s %s from %s:\n%s\n-- vs never "
                                     "registered %s:\n%s"
                                     % (name, rdtype, source, r, ref, base))
    assert asked > 100
    assert not leaks, ("%d of %d queries differ from a never-registered name;"
                       " first:\n%s" % (len(leaks), asked, leaks[0]))


@pytest.mark.parametrize("source", sorted(CONTAINERS))
def test_no_reverse_leaks(daemon, source):
    """Another view's address reverses like an address nobody has."""
    src = CONTAINERS[source][0][0]
    visible = view_targets(source)
    leaks = []
    asked = 0
    for other, (addrs, _) in CONTAINERS.items():
        if other in visible:
            continue
        for addr in addrs:
            fresh = ("fd00:30::99:%x" % (int(addr.split(":")[-1], 16))
                     if ":" in addr else
                     "127.30.99." + addr.split(".")[-1])
            name, ref = reverse_name(addr), reverse_name(fresh)
            for rdtype in ("PTR", "ANY", "TXT"):
                for n, rf in ((name, ref), (name.upper(), ref.upper())):
                    r = daemon.query(n, rdtype, source=src)
                    base = daemon.query(rf, rdtype, source=src)
                    asked += 1
                    if count(r.answer) or shape(r, n) != shape(base, rf):
                        leaks.append("%s %s from %s:\n%s\n-- vs %s:\n%s"
                                     % (n, rdtype, source, r, rf, base))
    assert asked > 0
    assert not leaks, ("%d of %d reverse queries leak; first:\n%s"
                       % (len(leaks), asked, leaks[0]))


def test_reverse_of_visible_addresses_answer(daemon):
    """Sanity for the reverse matrix: app sees cache as kv, db as
    database."""
    src = CONTAINERS["app"][0][0]
    for addr, want in (("127.30.0.5", "kv"), ("fd00:30::5", "kv"),
                       ("127.30.0.2", "database"), ("127.30.0.4", "app")):
        r = daemon.query(reverse_name(addr), "PTR", source=src)
        ptrs = [p.target.to_text().lower() for p in records(r.answer, "PTR")]
        assert ptrs == [want + ".link.internal."], (addr, r)


def test_db_does_not_see_web_aliases(daemon):
    src = CONTAINERS["db"][0][0]
    for name in ("web", "kv", "database", "cache", "app",
                 "kv.link.internal", "database.link.internal"):
        r = daemon.query(name, "A", source=src)
        assert rcode_text(r) in ("NXDOMAIN", "REFUSED"), (name, r)
        assert count(r.answer) == 0
    # db still resolves itself
    r = daemon.query("db", "A", source=src)
    assert addresses(r) == ["127.30.0.2"]


NAMES_FOR_UNREGISTERED = (
    ["db", "web", "kv", "database", "cache", "app", "lonely", "nosuch",
     "db.link.internal", "DB.Link.Internal", "nosuch.link.internal",
     "_5432._tcp.db", "_postgresql._tcp.database", "_tcp.db", "x.db",
     "link.internal", "localhost", "example.com"]
    + [reverse_name(a) for c in CONTAINERS.values() for a in c[0]]
    + [reverse_name("127.30.99.1")])


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_unregistered_source_refused(daemon, tcp):
    leaks = []
    for name in NAMES_FOR_UNREGISTERED:
        for rdtype in TYPES + ["SOA", "NS"]:
            r = daemon.query(name, rdtype, source=UNREGISTERED, tcp=tcp)
            if (rcode_text(r) != "REFUSED" or count(r.answer)
                    or count(r.authority) or count(r.additional)
                    or r.flags & dns.flags.AA):
                leaks.append("%s %s:\n%s" % (name, rdtype, r))
            assert_question_echo(r, name.rstrip("."))
    assert not leaks, "%d answers to an unregistered source; first:\n%s" % (
        len(leaks), leaks[0])


def test_unregistered_source_ipv6_loopback(linkdns):
    """A shared listener on ::1: ::1 is no container's address."""
    d = linkdns(table(), listen_host="::1")
    r = d.query("db", "A", source="::1")
    assert rcode_text(r) == "REFUSED", r
    assert count(r.answer) == 0
