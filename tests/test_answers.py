"""What a view answers (linkdns.links(5), "WHAT A VIEW RESOLVES"), asked over
UDP and again over TCP.

Addresses: 127.20.0.0/16.
"""

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from conftest import (addresses, count, dig, make_query, module_daemon,
                      rcode_text, records, reverse_name, tcp_frame,
                      tcp_read_message)

DB = "127.20.0.2"
WEB = "127.20.0.3"
MULTI4 = ["127.20.1.1", "127.20.1.2", "127.20.1.3", "127.20.1.4"]
MULTI6 = ["fd00:20::1:1", "fd00:20::1:2"]
WEB1 = "127.20.2.1"
WEB2 = "127.20.2.2"
LB = "127.20.2.10"
TWICE = "127.20.3.1"
DOMAIN = "link.internal"

TABLE = """\
# test table for test_answers.py
add db --addr %(DB)s --expose 5432/tcp
add web --addr %(WEB)s --expose 80/tcp
add multi %(MULTI)s --expose 80/tcp
add web1 --addr %(WEB1)s --expose 80/tcp
add web2 --addr %(WEB2)s --expose 80/tcp
add lb --addr %(LB)s
add twice --addr %(TWICE)s
link web db
link web multi
link lb web1:www
link lb web2:www
link twice db:first
link twice db:second
""" % dict(DB=DB, WEB=WEB, WEB1=WEB1, WEB2=WEB2, LB=LB, TWICE=TWICE,
           MULTI=" ".join("--addr " + a for a in MULTI4 + MULTI6))

DEFAULT_TTL = 10


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon(TABLE)


@pytest.fixture(params=[False, True], ids=["udp", "tcp"])
def tcp(request):
    return request.param


def ask(daemon, name, rdtype="A", source=WEB, **kw):
    return daemon.query(name, rdtype, source=source, **kw)


def assert_question(r, name, rdtype):
    """One question, echoed byte for byte (case kept)."""
    assert len(r.question) == 1, r.question
    q = r.question[0]
    assert q.name.to_text() == name.rstrip(".") + ".", \
        "question case not kept: asked %r, got %r" % (name, q.name.to_text())
    assert q.rdtype == dns.rdatatype.from_text(rdtype)


def assert_soa_authority(r, domain=DOMAIN, minimum=DEFAULT_TTL):
    soas = [rs for rs in r.authority if rs.rdtype == dns.rdatatype.SOA]
    assert len(soas) == 1, "expected the SOA in authority:\n%s" % r
    soa = soas[0]
    assert soa.name.to_text().lower() == domain + ".", soa.name
    assert len(soa) == 1
    assert soa[0].minimum == minimum, soa
    assert soa.ttl <= minimum, "negative TTL above --ttl: %s" % soa


def assert_nodata(r, name, rdtype):
    assert rcode_text(r) == "NOERROR", r
    assert r.flags & dns.flags.AA, "NODATA without AA:\n%s" % r
    assert count(r.answer) == 0, r
    assert_question(r, name, rdtype)


def check_nodata(daemon, tcp, name, rdtype):
    """NAME/TYPE asked from web is NODATA; a name under the domain also
    carries the domain's SOA in authority."""
    r = ask(daemon, name, rdtype, tcp=tcp)
    assert_nodata(r, name, rdtype)
    if name.lower().endswith("." + DOMAIN):
        assert_soa_authority(r)


def assert_nxdomain(r, name, rdtype="A"):
    assert rcode_text(r) == "NXDOMAIN", r
    assert r.flags & dns.flags.AA, "NXDOMAIN without AA:\n%s" % r
    assert count(r.answer) == 0, r
    assert_soa_authority(r)
    assert_question(r, name, rdtype)


# --- names, SRV, PTR, NXDOMAIN and NODATA in one view ------------------------
def test_a_db(daemon, tcp):
    r = ask(daemon, "db", "A", tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert r.flags & dns.flags.AA, "no AA on an answer from the table:\n%s" % r
    assert not r.flags & dns.flags.TC
    assert_question(r, "db", "A")
    assert len(r.answer) == 1, r
    rrset = r.answer[0]
    assert rrset.name.to_text() == "db."
    assert rrset.rdtype == dns.rdatatype.A
    assert [rd.address for rd in rrset] == [DB]
    assert rrset.ttl == DEFAULT_TTL


def test_a_db_fqdn(daemon, tcp):
    r = ask(daemon, "db.link.internal", "A", tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert r.flags & dns.flags.AA
    assert addresses(r) == [DB]
    assert r.answer[0].name.to_text() == "db.link.internal."


def test_aaaa_db_nodata(daemon, tcp):
    check_nodata(daemon, tcp, "db", "AAAA")


def test_aaaa_db_fqdn_nodata_with_soa(daemon, tcp):
    check_nodata(daemon, tcp, "db.link.internal", "AAAA")


def test_empty_non_terminal_tcp_db(daemon, tcp):
    check_nodata(daemon, tcp, "_tcp.db", "A")
    check_nodata(daemon, tcp, "_tcp.db.link.internal", "SRV")


def test_nxdomain_unknown_under_domain(daemon, tcp):
    r = ask(daemon, "nosuch.link.internal", "A", tcp=tcp)
    assert_nxdomain(r, "nosuch.link.internal")


def test_nxdomain_below_view_name(daemon, tcp):
    for name, rdtype in (("x.db", "A"),
                         ("x.db.link.internal", "A"),
                         ("_9999._tcp.db", "SRV"),
                         ("_5432._udp.db", "SRV"),     # only tcp exposed
                         ("_nosuchservice._tcp.db", "SRV")):
        r = ask(daemon, name, rdtype, tcp=tcp)
        assert_nxdomain(r, name, rdtype)


def check_srv_db(r, qname, target="db.link.internal.", port=5432,
                 addrs=(DB,)):
    assert rcode_text(r) == "NOERROR", r
    assert r.flags & dns.flags.AA
    assert_question(r, qname, "SRV")
    srvs = records(r.answer, "SRV")
    assert len(srvs) == 1 and count(r.answer) == 1, r
    srv = srvs[0]
    assert (srv.priority, srv.weight, srv.port) == (0, 0, port), srv
    assert srv.target.to_text().lower() == target, srv
    assert r.answer[0].name.to_text() == qname.rstrip(".") + "."
    extra = [rs for rs in r.additional if rs.rdtype == dns.rdatatype.A]
    assert len(extra) == 1, "target's A not in additional:\n%s" % r
    assert extra[0].name.to_text().lower() == target
    assert sorted(rd.address for rd in extra[0]) == sorted(addrs)


def test_srv_by_port(daemon, tcp):
    r = ask(daemon, "_5432._tcp.db", "SRV", tcp=tcp)
    check_srv_db(r, "_5432._tcp.db")


def test_srv_by_service_name(daemon, tcp):
    r = ask(daemon, "_postgresql._tcp.db", "SRV", tcp=tcp)
    check_srv_db(r, "_postgresql._tcp.db")


def test_srv_fqdn_and_own_name(daemon, tcp):
    r = ask(daemon, "_5432._tcp.db.link.internal", "SRV", tcp=tcp)
    check_srv_db(r, "_5432._tcp.db.link.internal")
    r = ask(daemon, "_http._tcp.web", "SRV", tcp=tcp)
    check_srv_db(r, "_http._tcp.web", target="web.link.internal.", port=80,
                 addrs=(WEB,))


@pytest.mark.parametrize("addr,target", [(DB, "db.link.internal."),
                                         (WEB, "web.link.internal.")],
                         ids=["linked_target", "own_address"])
def test_ptr(daemon, tcp, addr, target):
    """web reverses a linked target's address and its own."""
    r = ask(daemon, reverse_name(addr), "PTR", tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert r.flags & dns.flags.AA
    ptrs = records(r.answer, "PTR")
    assert [p.target.to_text().lower() for p in ptrs] == [target], r


def test_ptr_ipv6_linked_target(daemon, tcp):
    r = ask(daemon, reverse_name(MULTI6[1]), "PTR", tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert [p.target.to_text().lower() for p in records(r.answer, "PTR")] \
        == ["multi.link.internal."], r


def test_ptr_first_link_alias(daemon):
    """A target linked twice reverses to the alias of the first link."""
    r = ask(daemon, reverse_name(DB), "PTR", source=TWICE)
    assert rcode_text(r) == "NOERROR", r
    assert [p.target.to_text().lower() for p in records(r.answer, "PTR")] \
        == ["first.link.internal."], r
    assert addresses(ask(daemon, "second", "A", source=TWICE)) == [DB]
    assert addresses(ask(daemon, "first", "A", source=TWICE)) == [DB]


@pytest.mark.parametrize("addr", ["10.1.2.3", "172.16.0.1", "192.168.7.9",
                                  "169.254.1.1", "192.0.2.1", "127.20.99.99",
                                  "fd00:20::99", "fe80::1"])
def test_private_reverse_nxdomain_locally(daemon, addr):
    """RFC 6303 ranges that are no container's: NXDOMAIN, not REFUSED
    (which is what forwarding gives with --no-upstream)."""
    r = ask(daemon, reverse_name(addr), "PTR")
    assert rcode_text(r) == "NXDOMAIN", r
    assert count(r.answer) == 0


def test_public_reverse_not_answered_locally(daemon):
    r = ask(daemon, reverse_name("192.88.99.1"), "PTR")
    assert rcode_text(r) == "REFUSED", r
    assert count(r.answer) == 0


@pytest.mark.parametrize("qname", ["DB.Link.Internal", "dB", "_5432._TCP.Db",
                                   "Db.LINK.internal"])
def test_case_kept(daemon, tcp, qname):
    rdtype = "SRV" if qname.startswith("_") else "A"
    r = ask(daemon, qname, rdtype, tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert r.flags & dns.flags.AA
    assert_question(r, qname, rdtype)
    assert count(r.answer) == 1, r
    assert r.answer[0].name.to_text() == qname + ".", \
        "answer owner should echo the question's case"
    if rdtype == "A":
        assert addresses(r) == [DB]


def test_case_kept_nxdomain(daemon, tcp):
    r = ask(daemon, "NoSuch.LINK.Internal", "A", tcp=tcp)
    assert_nxdomain(r, "NoSuch.LINK.Internal")


def test_pipelined_tcp(daemon):
    """Ten queries written in one send on one connection: ten answers."""
    asked = [("db", "A"), ("db", "AAAA"), ("_5432._tcp.db", "SRV"),
             ("web", "A"), (reverse_name(DB), "PTR"),
             ("nosuch.link.internal", "A"), ("DB.link.internal", "A"),
             ("_tcp.db", "TXT"), ("link.internal", "SOA"),
             ("multi", "AAAA")]
    queries = {}
    payload = b""
    for i, (name, rdtype) in enumerate(asked):
        q = make_query(name, rdtype, qid=1000 + i)
        queries[q.id] = (name, rdtype)
        payload += tcp_frame(q.to_wire())
    s = daemon.tcp_connect(WEB)
    try:
        s.sendall(payload)
        got = {}
        for _ in asked:
            r = dns.message.from_wire(tcp_read_message(s))
            assert r.id in queries and r.id not in got, r.id
            got[r.id] = r
    finally:
        s.close()
    assert sorted(got) == sorted(queries)
    for qid, (name, rdtype) in queries.items():
        r = got[qid]
        assert_question(r, name, rdtype)
    assert addresses(got[1000]) == [DB]
    assert rcode_text(got[1001]) == "NOERROR" and not got[1001].answer
    assert len(records(got[1002].answer, "SRV")) == 1
    assert addresses(got[1003]) == [WEB]
    assert rcode_text(got[1005]) == "NXDOMAIN"
    assert addresses(got[1009], "AAAA") == sorted(MULTI6)


@pytest.mark.parametrize("plus_tcp", [False, True], ids=["udp", "tcp"])
def test_dig_as_user(daemon, plus_tcp):
    """`dig -b web db` as a person in web's container would."""
    out = dig(daemon.port, "db", *(["+tcp"] if plus_tcp else []), source=WEB)
    assert "status: NOERROR" in out, out
    flags = out.split("flags:")[1].split(";")[0].split()
    assert "aa" in flags and "qr" in flags, out
    answer = [ln.split() for ln in out.splitlines()
              if ln and not ln.startswith(";")]
    assert ["db.", str(DEFAULT_TTL), "IN", "A", DB] in answer, out
    out = dig(daemon.port, "-x", WEB, *(["+tcp"] if plus_tcp else []),
              source=WEB)
    assert "web.link.internal." in out and "status: NOERROR" in out, out


# --- more of "What a view answers" -------------------------------------------
def test_a_rotation(daemon):
    """Several addresses rotate: the first record changes across queries,
    and every answer holds all of them."""
    firsts = set()
    for _ in range(12):
        r = ask(daemon, "multi", "A")
        assert rcode_text(r) == "NOERROR"
        assert sorted(rd.address for rd in r.answer[0]) == sorted(MULTI4)
        firsts.add(r.answer[0][0].address)
    assert len(firsts) > 1, "the first A record never changed: %s" % firsts


def test_aaaa_rotation(daemon):
    firsts = set()
    for _ in range(8):
        r = ask(daemon, "multi", "AAAA")
        assert addresses(r, "AAAA") == sorted(MULTI6)
        firsts.add(r.answer[0][0].address)
    assert len(firsts) > 1, firsts


def test_replicas_under_one_alias(daemon, tcp):
    r = ask(daemon, "www", "A", source=LB, tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert r.flags & dns.flags.AA
    assert addresses(r) == sorted([WEB1, WEB2]), r
    # the targets' own names are in lb's view too, each with one address
    assert addresses(ask(daemon, "web1", "A", source=LB)) == [WEB1]
    assert addresses(ask(daemon, "web2.link.internal", "A", source=LB)) \
        == [WEB2]


def test_replicas_srv(daemon):
    r = ask(daemon, "_80._tcp.www", "SRV", source=LB)
    assert rcode_text(r) == "NOERROR", r
    srvs = records(r.answer, "SRV")
    assert srvs, r
    assert {(s.port, s.target.to_text().lower()) for s in srvs} == \
        {(80, "www.link.internal.")}, r
    assert addresses(r, "A", "additional") == sorted([WEB1, WEB2]), r


def test_soa_at_domain(daemon, tcp):
    r = ask(daemon, "link.internal", "SOA", tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert r.flags & dns.flags.AA
    soas = records(r.answer, "SOA")
    assert len(soas) == 1, r
    assert r.answer[0].name.to_text() == "link.internal."
    assert soas[0].minimum == DEFAULT_TTL
    assert soas[0].serial > 0 and soas[0].refresh == DEFAULT_TTL


def test_ns_at_domain(daemon, tcp):
    r = ask(daemon, "Link.Internal", "NS", tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert r.flags & dns.flags.AA
    assert_question(r, "Link.Internal", "NS")
    assert len(records(r.answer, "NS")) >= 1, r


def test_domain_apex_a_is_nodata(daemon):
    r = ask(daemon, "link.internal", "A")
    assert_nodata(r, "link.internal", "A")
    assert_soa_authority(r)


@pytest.mark.parametrize("name", ["localhost", "LocalHost"])
def test_localhost(daemon, tcp, name):
    r = ask(daemon, name, "A", tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert addresses(r) == ["127.0.0.1"], r
    assert_question(r, name, "A")
    r = ask(daemon, name, "AAAA", tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert addresses(r, "AAAA") == ["::1"], r


def test_localhost_subdomain(daemon):
    """RFC 6761 6.3: names below localhost. are loopback names too."""
    r = ask(daemon, "foo.localhost", "A")
    assert rcode_text(r) == "NOERROR", r
    assert addresses(r) == ["127.0.0.1"], r


def test_localhost_other_type_negative(daemon):
    """RFC 6761 6.3: non-address queries for localhost get a negative
    answer, not REFUSED, not forwarded."""
    r = ask(daemon, "localhost", "MX")
    assert rcode_text(r) in ("NOERROR", "NXDOMAIN"), r
    assert count(r.answer) == 0


def test_any_minimal(daemon, tcp):
    """RFC 8482: ANY gets a small non-empty answer, not every RRset."""
    r = ask(daemon, "multi", "ANY", source=WEB, tcp=tcp)
    assert rcode_text(r) == "NOERROR", r
    assert count(r.answer) >= 1, "ANY must not look like NODATA:\n%s" % r
    assert count(r.answer) < len(MULTI4) + len(MULTI6), \
        "ANY answered with everything:\n%s" % r
    assert_question(r, "multi", "ANY")


def test_any_single_address(daemon):
    r = ask(daemon, "db", "ANY")
    assert rcode_text(r) == "NOERROR", r
    assert 1 <= count(r.answer) <= 1, r


def test_txt_nodata(daemon, tcp):
    check_nodata(daemon, tcp, "db", "TXT")
    check_nodata(daemon, tcp, "db.link.internal", "TXT")


def test_mx_and_cname_nodata(daemon):
    for rdtype in ("MX", "CNAME", "NS", "SOA", "HINFO"):
        r = ask(daemon, "db", rdtype)
        assert_nodata(r, "db", rdtype)


def test_outside_authority_refused_without_upstream(daemon):
    """--no-upstream: names outside the view's authority are REFUSED and
    nothing is made up; single-label unknowns included."""
    for name in ("example.com", "nosuchcontainer", "lb"):
        r = ask(daemon, name, "A")
        assert rcode_text(r) == "REFUSED", (name, r)
        assert count(r.answer) == 0


def test_default_ttl_on_every_record(daemon):
    r = ask(daemon, "_5432._tcp.db", "SRV")
    for section in (r.answer, r.additional):
        for rs in section:
            if rs.rdtype != dns.rdatatype.OPT:
                assert rs.ttl == DEFAULT_TTL, rs
    r = ask(daemon, reverse_name(DB), "PTR")
    assert r.answer[0].ttl == DEFAULT_TTL


# --- --domain and --ttl --------------------------------------------------------
def test_domain_and_ttl_options(linkdns):
    d = linkdns(TABLE, "--domain", "Corp.Test", "--ttl", "42")
    r = d.query("db", "A", source=WEB)
    assert addresses(r) == [DB] and r.answer[0].ttl == 42, r
    r = d.query("db.corp.test", "A", source=WEB)
    assert rcode_text(r) == "NOERROR" and r.flags & dns.flags.AA, r
    assert addresses(r) == [DB] and r.answer[0].ttl == 42
    r = d.query("corp.test", "SOA", source=WEB)
    soas = records(r.answer, "SOA")
    assert rcode_text(r) == "NOERROR" and len(soas) == 1, r
    assert soas[0].minimum == 42 and soas[0].refresh == 42, soas[0]
    assert r.answer[0].ttl == 42
    r = d.query("nosuch.corp.test", "A", source=WEB)
    assert rcode_text(r) == "NXDOMAIN" and r.flags & dns.flags.AA, r
    assert_soa_authority(r, domain="corp.test", minimum=42)
    r = d.query("_5432._tcp.db", "SRV", source=WEB)
    srv = records(r.answer, "SRV")
    assert [s.target.to_text().lower() for s in srv] == ["db.corp.test."], r
    assert r.answer[0].ttl == 42
    r = d.query(reverse_name(DB), "PTR", source=WEB)
    assert [p.target.to_text().lower() for p in records(r.answer, "PTR")] \
        == ["db.corp.test."], r
    # the default domain is no longer ours: outside authority -> REFUSED
    r = d.query("db.link.internal", "A", source=WEB)
    assert rcode_text(r) == "REFUSED", r
    assert count(r.answer) == 0
