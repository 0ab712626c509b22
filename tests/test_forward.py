"""Forwarding: to a real upstream, past dead ones, never what is ours, to a
container's own --dns, and under load.

linkdnsd runs *with* forwarding here (tests/upstream/harness.py FwdDaemon:
conftest's daemon without --no-upstream), on a free loopback port, with
`--upstream ADDR@PORT` pointing at servers the tests start:

- a real unbound (tests/upstream/harness.py Unbound: local-data for
  www/txt/MX/big.example.test and a redirect zone load.test),
- a recording dnspython server that answers every A question with its own
  address and remembers what it received (qname, transport, EDNS),
- a blackhole (sockets bound by the test that never answer) and ports where
  nothing listens.

Clients ask as containers from the shared listener (source address = the
container's address, 127.50.0.0/16) or from inside a network namespace
registered with --netns (tests/upstream/ask.py and dig, at 127.0.0.11).
"""

import os
import socket
import struct
import sys
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "upstream"))

from conftest import addresses, count, dig, make_query, rcode_text  # noqa
from conftest import _socket_inodes as conftest_socket_inodes
from conftest import in_threads
from harness import (Blackhole, Recorder, Unbound,  # noqa: F401
                     ask, dead_endpoint, exchange, fwd_linkdns, ns_ask,
                     ns_dig, ns_wait, rdata_wires)
# names the namespaces of conftest's namespaces fixture
from harness import NETNS_PREFIX  # noqa: F401

UPSTREAM_ADDR = "127.50.0.53"
BIG_COUNT = 40
LOCAL_ZONES = ['"example.test." static', '"load.test." redirect']
LOCAL_DATA = (
    ["www.example.test. 300 IN A 192.0.2.80",
     "www.example.test. 300 IN AAAA 2001:db8::80",
     'txt.example.test. 300 IN TXT "v=spf1 -all" "second string"',
     'txt.example.test. 300 IN TXT "caf\\195\\169 \\"quoted\\" \\000\\255"',
     "example.test. 300 IN MX 10 mail.example.test.",
     "example.test. 300 IN MX 20 mx2.elsewhere.example.",
     "mail.example.test. 300 IN A 192.0.2.25",
     "load.test. 60 IN A 192.0.2.99"]
    + ["big.example.test. 300 IN A 198.51.100.%d" % i
       for i in range(1, BIG_COUNT + 1)])


@pytest.fixture(scope="module")
def unbound():
    u = Unbound(UPSTREAM_ADDR, LOCAL_ZONES, LOCAL_DATA)
    try:
        yield u
    finally:
        u.close()


def direct(u, name, rdtype, **kw):
    r, wire = ask(u.addr, u.port, name, rdtype, **kw)
    assert r is not None, "unbound did not answer %s %s" % (name, rdtype)
    return r


def all_sections(msg):
    """Every record of answer and authority as (section, owner, ttl, type,
    rdata wire), sorted: what "the upstream's records byte for byte" means."""
    out = []
    for sec in ("answer", "authority"):
        for rrset in getattr(msg, sec):
            for rd in rrset:
                out.append((sec, rrset.name.to_text().lower(), rrset.ttl,
                            rrset.rdtype, rd.to_wire()))
    return sorted(out)


def has_opt(wire):
    return dns.message.from_wire(wire).opt is not None


# -- a real upstream ---------------------------------------------
def test_namespace_forwards_to_unbound(unbound, namespaces, fwd_linkdns):
    """From a registered namespace, dig and raw queries at 127.0.0.11 get
    what unbound answers: www A, TXT and MX RDATA byte for byte, and the
    40-record answer truncated (TC, whole records) over UDP without EDNS and
    complete over TCP."""
    ns = namespaces.add("c")
    d = fwd_linkdns("add nsc --netns /run/netns/%s --addr 127.50.1.3\n" % ns,
                    "--upstream", unbound.endpoint())
    ns_wait(ns)

    out = ns_dig(ns, "www.example.test", "+short")
    print("dig www.example.test in %s: %r" % (ns, out))
    assert out.split() == ["192.0.2.80"]

    for name, rdtype in (("www.example.test", "A"),
                         ("www.example.test", "AAAA"),
                         ("txt.example.test", "TXT"),
                         ("example.test", "MX"),
                         ("nosuch.example.test", "A")):
        want = direct(unbound, name, rdtype)
        got, wire = ns_ask(ns, name, rdtype)
        assert got is not None, "no reply in %s to %s %s" % (ns, name, rdtype)
        assert got.rcode() == want.rcode(), (name, rdtype)
        assert all_sections(got) == all_sections(want), (name, rdtype)
        assert got.opt is None, "OPT in a reply to a query without EDNS"

    # big: over UDP without EDNS the reply fits 512 bytes, has TC and only
    # whole records of the upstream's answer
    want = rdata_wires(direct(unbound, "big.example.test", "A", tcp=True), "A")
    assert len(want) == BIG_COUNT
    got, wire = ns_ask(ns, "big.example.test", "A")
    assert got is not None
    assert len(wire) <= 512, len(wire)
    assert got.flags & dns.flags.TC, "TC not set on a cut answer"
    part = rdata_wires(got, "A")
    assert 0 < len(part) < BIG_COUNT
    assert set(part) <= set(want)
    # over TCP: complete
    got, wire = ns_ask(ns, "big.example.test", "A", tcp=True)
    assert got is not None
    assert not got.flags & dns.flags.TC
    assert rdata_wires(got, "A") == want
    out = ns_dig(ns, "big.example.test", "+tcp", "+short")
    assert len(out.split()) == BIG_COUNT
    d.query("localhost")   # still alive


@pytest.mark.parametrize("name,rdtype", [
    ("www.example.test", "A"), ("www.example.test", "AAAA"),
    ("txt.example.test", "TXT"), ("example.test", "MX"),
    ("www.example.test", "MX"), ("nosuch.example.test", "TXT")])
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_shared_listener_rdata_byte_for_byte(unbound, fwd_linkdns, name,
                                             rdtype, tcp):
    d = fwd_linkdns("add web --addr 127.50.1.2\n",
                    "--upstream", unbound.endpoint())
    want = direct(unbound, name, rdtype, tcp=tcp)
    got = d.query(name, rdtype, source="127.50.1.2", tcp=tcp)
    assert got.rcode() == want.rcode()
    assert all_sections(got) == all_sections(want)
    assert bool(got.flags & dns.flags.AA) == bool(want.flags & dns.flags.AA)
    assert got.flags & dns.flags.RA
    assert got.question[0].name.to_text() == name + "."


def test_shared_listener_dig_answers_as_upstream(unbound, fwd_linkdns):
    d = fwd_linkdns("add web --addr 127.50.1.2\n",
                    "--upstream", unbound.endpoint())
    for args in (("www.example.test", "+short"),
                 ("txt.example.test", "TXT", "+short"),
                 ("example.test", "MX", "+short")):
        through = dig(d.port, *args, source="127.50.1.2")
        straight = dig(unbound.port, *args, server=unbound.addr)
        print("dig %s: %r" % (" ".join(args), through))
        assert through.strip(), "empty answer to dig %s" % " ".join(args)
        assert sorted(through.splitlines()) == sorted(straight.splitlines())


def test_big_answer_tc_over_udp_complete_over_tcp(unbound, fwd_linkdns):
    d = fwd_linkdns("add web --addr 127.50.1.2\n",
                    "--upstream", unbound.endpoint())
    src = "127.50.1.2"
    want = rdata_wires(direct(unbound, "big.example.test", "A", tcp=True), "A")
    assert len(want) == BIG_COUNT

    # no EDNS: 512 bytes, TC, whole records, no OPT
    r = d.query("big.example.test", source=src)
    assert len(d.last_wire) <= 512
    assert r.flags & dns.flags.TC
    part = rdata_wires(r, "A")
    assert 0 < len(part) < BIG_COUNT and set(part) <= set(want)
    assert r.opt is None

    # EDNS 600: TC, at most 600 bytes, our OPT
    r = d.query("big.example.test", source=src, payload=600)
    assert len(d.last_wire) <= 600
    assert r.flags & dns.flags.TC
    part = rdata_wires(r, "A")
    assert 0 < len(part) < BIG_COUNT and set(part) <= set(want)
    assert r.opt is not None and r.payload == 1232

    # EDNS 1232 over UDP and TCP without EDNS: complete
    r = d.query("big.example.test", source=src, payload=1232)
    assert not r.flags & dns.flags.TC
    assert rdata_wires(r, "A") == want
    r = d.query("big.example.test", source=src, tcp=True)
    assert not r.flags & dns.flags.TC
    assert rdata_wires(r, "A") == want

    out = dig(d.port, "big.example.test", "+notcp", "+ignore", "+noedns",
              source=src)
    assert " tc" in out.split("flags:")[1].split(";")[0]
    out = dig(d.port, "big.example.test", "+tcp", "+short", source=src)
    assert len(out.split()) == BIG_COUNT


def test_edns_hop_by_hop_and_transport(fwd_linkdns):
    """Our own OPT upstream (payload 1232, DO carried, no options), the
    client's ID and our OPT (only if the client sent EDNS) back, TCP
    upstream when the client came over TCP."""
    rec = Recorder("127.50.1.53", "192.0.2.7")
    try:
        d = fwd_linkdns("add web --addr 127.50.1.2\n",
                        "--upstream", rec.endpoint())
        src = "127.50.1.2"
        import dns.edns
        cookie = dns.edns.GenericOption(10, b"\x01" * 8)
        r = d.query("e1.example.", source=src, want_dnssec=True,
                    options=[cookie])
        assert addresses(r) == ["192.0.2.7"]
        assert r.opt is not None, "no OPT to a client that sent one"
        assert r.payload == 1232
        assert r.ednsflags & dns.flags.DO, "DO not copied back"
        assert r.options == [] or list(r.options) == [], \
            "options passed back: %r" % (r.options,)
        r = d.query("e2.example.", source=src)
        assert r.opt is None, "OPT to a client that sent none"
        assert addresses(r) == ["192.0.2.7"]
        r = d.query("e3.example.", source=src, tcp=True)
        assert addresses(r) == ["192.0.2.7"]
        seen = {s["name"]: s for s in rec.seen}
        e1, e2, e3 = (seen["e%d.example." % i] for i in (1, 2, 3))
        for s in (e1, e2, e3):
            assert s["edns"] == 0 and s["payload"] == 1232, s
            assert s["options"] == [], "options passed upstream: %r" % s
        assert e1["do"] and not e2["do"]
        assert not e1["tcp"] and not e2["tcp"]
        assert e3["tcp"], "a TCP client's query went upstream over UDP"
    finally:
        rec.close()


# -- dead upstreams -------------------------------------------------------
def timed(d, name, source, tcp=False, timeout=6.0):
    t0 = time.monotonic()
    r = d.query(name, source=source, tcp=tcp, timeout=timeout)
    return r, time.monotonic() - t0


def parallel(d, names, source, tcp=False):
    """Ask NAMES at once (one thread each); [(name, msg, seconds)]."""
    out = [None] * len(names)

    def one(i):
        r, dt = timed(d, names[i], source, tcp=tcp)
        out[i] = (names[i], r, dt)

    in_threads(one, len(names), 20)
    assert all(o is not None for o in out), out
    return out


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("kind", ["nothing-listening", "blackhole"])
def test_dead_first_upstream(fwd_linkdns, kind, tcp):
    """The first server is dead (port unreachable, or never answers): the
    first clients (several at once, over UDP or TCP) get the second's answer
    well inside the budget, and later queries do not wait for the dead one."""
    good = Recorder("127.50.2.53", "192.0.2.22")
    hole = Blackhole("127.50.2.1") if kind == "blackhole" else None
    how = "%s/%s" % (kind, "tcp" if tcp else "udp")
    try:
        first = hole.endpoint() if hole else dead_endpoint("127.50.2.1")
        d = fwd_linkdns("add web --addr 127.50.2.10\n",
                        "--upstream", first, "--upstream", good.endpoint())
        src = "127.50.2.10"
        # several clients at once while the first server is still believed
        # healthy
        res = parallel(d, ["p%d.dead.example." % i for i in range(5)], src,
                       tcp=tcp)
        for name, r, dt in res:
            print("%s: first queries: %s answered in %.3f s" % (how, name, dt))
        for name, r, dt in res:
            assert rcode_text(r) == "NOERROR", (name, rcode_text(r))
            assert addresses(r) == ["192.0.2.22"], name
            assert dt < 3.0, "%s took %.3f s (budget: well under 5)" % (
                name, dt)
        # later queries, both transports, do not pay the dead server's
        # timeout again
        for i in range(4):
            for later_tcp in (tcp, not tcp):
                name = "later%d%s.dead.example." % (i, "t" if later_tcp
                                                     else "u")
                r, dt = timed(d, name, src, tcp=later_tcp)
                print("%s: later query %s answered in %.3f s" % (how, name,
                                                                 dt))
                assert addresses(r) == ["192.0.2.22"]
                assert dt < 0.5, ("%s took %.3f s: the dead server's timeout "
                                  "was paid again" % (name, dt))
        out = dig(d.port, "viadig.dead.example.", "+short", source=src)
        assert out.split() == ["192.0.2.22"]
    finally:
        good.close()
        if hole:
            hole.close()


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_all_upstreams_dead_servfail_within_budget(fwd_linkdns, tcp):
    holes = [Blackhole("127.50.2.%d" % (101 + i)) for i in range(4)]
    try:
        d = fwd_linkdns("add web --addr 127.50.2.11\n",
                        *sum((["--upstream", h.endpoint()] for h in holes),
                             []) + ["--upstream", dead_endpoint("127.50.2.99")])
        src = "127.50.2.11"
        res = parallel(d, ["s%d.dead.example." % i for i in range(4)], src,
                       tcp=tcp)
        for i in range(2):
            r, dt = timed(d, "again%d.dead.example." % i, src, tcp=tcp)
            res.append(("again%d" % i, r, dt))
        for name, r, dt in res:
            print("all dead (%s): %s SERVFAIL in %.3f s"
                  % ("tcp" if tcp else "udp", name, dt))
            assert rcode_text(r) == "SERVFAIL", (name, rcode_text(r))
            assert dt < 4.5, "%s took %.3f s" % (name, dt)
    finally:
        for h in holes:
            h.close()


# -- never forwarded -----------------------------------------------------
NEVER_FORWARDED = [
    # (name, type, expected rcode)
    ("nosuch.link.internal", "A", "NXDOMAIN"),
    ("NoSuch.Link.Internal", "AAAA", "NXDOMAIN"),
    ("x.db", "A", "NXDOMAIN"),
    ("X.DB", "TXT", "NXDOMAIN"),
    ("_9999._tcp.db", "SRV", "NXDOMAIN"),
    ("localhost", "A", "NOERROR"),
    ("www.localhost", "A", "NOERROR"),
    ("3.2.1.10.in-addr.arpa", "PTR", "NXDOMAIN"),
    ("5.5.168.192.in-addr.arpa", "PTR", "NXDOMAIN"),
    ("3.3.50.127.in-addr.arpa", "PTR", "NOERROR"),   # db's address
]


def test_never_forwarded(fwd_linkdns):
    rec = Recorder("127.50.3.53", "192.0.2.33")
    try:
        d = fwd_linkdns("add web --addr 127.50.3.2\nadd db --addr 127.50.3.3"
                        "\nlink web db\n", "--upstream", rec.endpoint())
        src = "127.50.3.2"
        for name, rdtype, rcode in NEVER_FORWARDED:
            for tcp in (False, True):
                r = d.query(name, rdtype, source=src, tcp=tcp)
                assert rcode_text(r) == rcode, (name, rdtype, rcode_text(r))
        out = dig(d.port, "-x", "10.1.2.3", source=src)
        assert "status: NXDOMAIN" in out, out
        out = dig(d.port, "localhost", "+short", source=src)
        assert out.split() == ["127.0.0.1"]
        # a source that is no container: REFUSED, never forwarded
        for tcp in (False, True):
            r = d.query("stranger.example.", source="127.50.3.99", tcp=tcp)
            assert rcode_text(r) == "REFUSED"
        # the control name, last: once it is answered, anything forwarded
        # before it has arrived
        r = d.query("control.example.", source=src)
        assert addresses(r) == ["192.0.2.33"]
        r = d.query("singlelabel", source=src)   # unknown single label: out
        assert addresses(r) == ["192.0.2.33"]
        names = rec.names()
        print("the upstream received: %s" % names)
        assert "control.example." in names
        assert "singlelabel." in names
        leaked = [n for n in names if n not in ("control.example.",
                                                 "singlelabel.")]
        assert leaked == [], "forwarded but ours: %s" % leaked
    finally:
        rec.close()


def test_never_forwarded_unbound_log(fwd_linkdns):
    """The same with unbound's own query log (log-queries: yes)."""
    u = Unbound("127.50.3.54", LOCAL_ZONES, LOCAL_DATA)
    try:
        d = fwd_linkdns("add web --addr 127.50.3.4\nadd db --addr 127.50.3.5"
                        "\nlink web db\n", "--upstream", u.endpoint())
        src = "127.50.3.4"
        for args in (("nosuch.link.internal",), ("x.db",), ("localhost",),
                     ("-x", "10.1.2.3")):
            out = dig(d.port, *args, source=src)
            assert "status: NOERROR" in out or "status: NXDOMAIN" in out, out
        out = dig(d.port, "www.example.test", "+short", source=src)
        assert out.split() == ["192.0.2.80"]
        # unbound writes its log line before answering; flushes per line
        names = u.logged_names()
        print("unbound logged: %s" % names)
        assert "www.example.test." in names
        for bad in ("nosuch.link.internal.", "x.db.", "localhost.",
                    "3.2.1.10.in-addr.arpa."):
            assert bad not in names, "%s reached the upstream" % bad
    finally:
        u.close()


# -- a container's own --dns ---------------------------------------------
def test_container_dns_serves_its_view_only(fwd_linkdns):
    default = Recorder("127.50.4.53", "192.0.2.41")
    own = Recorder("127.50.4.54", "192.0.2.42")
    try:
        d = fwd_linkdns("add a --addr 127.50.4.2 --dns %s\n"
                        "add b --addr 127.50.4.3\n"
                        "link b a\nlink a b\n" % own.endpoint(),
                        "--upstream", default.endpoint())
        for tcp in (False, True):
            ra = d.query("same.example.test", source="127.50.4.2", tcp=tcp)
            rb = d.query("same.example.test", source="127.50.4.3", tcp=tcp)
            assert addresses(ra) == ["192.0.2.42"], "a did not use its --dns"
            assert addresses(rb) == ["192.0.2.41"], "b used a's --dns"
        assert own.names() == ["same.example.test."] * 2
        assert default.names() == ["same.example.test."] * 2
        assert [s["tcp"] for s in own.seen] == [False, True]
        out = dig(d.port, "same.example.test", "+short", source="127.50.4.2")
        assert out.split() == ["192.0.2.42"]
        out = dig(d.port, "same.example.test", "+short", source="127.50.4.3")
        assert out.split() == ["192.0.2.41"]
    finally:
        default.close()
        own.close()


def test_container_dns_in_namespace(fwd_linkdns, namespaces):
    default = Recorder("127.50.4.55", "192.0.2.43")
    own = Recorder("127.50.4.56", "192.0.2.44")
    try:
        na, nb = namespaces.add("a"), namespaces.add("b")
        fwd_linkdns("add a --netns /run/netns/%s --addr 127.50.4.12 --dns %s\n"
                    "add b --netns /run/netns/%s --addr 127.50.4.13\n"
                    % (na, own.endpoint(), nb),
                    "--upstream", default.endpoint())
        ns_wait(na)
        ns_wait(nb)
        assert ns_dig(na, "same.example.test", "+short").split() == \
            ["192.0.2.44"]
        assert ns_dig(nb, "same.example.test", "+short").split() == \
            ["192.0.2.43"]
    finally:
        default.close()
        own.close()


# -- 10,000 forwarded queries, 1,000 in flight -------------------------
def blast(host, port, source, names, in_flight, deadline_s=60.0,
          retry_after=2.0):
    """Send every name (A) from SOURCE over UDP keeping IN_FLIGHT queries
    outstanding, each with its own ID; a query unanswered for RETRY_AFTER
    seconds is sent again, as a stub resolver would.  Returns
    ({index: rcode text}, answers with the wrong address, resends, seconds)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((source, 0))
    s.connect((host, port))
    s.setblocking(False)
    wires = {}
    pending = {}        # id -> (index, sent at)
    free_ids = list(range(1, 65536))
    import random
    random.Random(5).shuffle(free_ids)
    answered = {}
    wrong = 0
    resends = 0
    nxt = 0
    t0 = time.monotonic()
    import select
    while len(answered) < len(names):
        now = time.monotonic()
        if now - t0 > deadline_s:
            break
        while len(pending) < in_flight and nxt < len(names):
            qid = free_ids.pop()
            q = make_query(names[nxt], "A", qid=qid)
            wires[qid] = q.to_wire()
            pending[qid] = (nxt, now)
            try:
                s.send(wires[qid])
            except BlockingIOError:
                pass
            nxt += 1
        select.select([s], [], [], 0.05)
        while True:
            try:
                data = s.recv(65535)
            except BlockingIOError:
                break
            qid = struct.unpack("!H", data[:2])[0]
            if qid not in pending:
                continue
            idx, _ = pending.pop(qid)
            free_ids.insert(0, qid)
            r = dns.message.from_wire(data)
            assert r.question[0].name == dns.name.from_text(names[idx]), \
                "answer to another question under ID %d" % qid
            answered[idx] = rcode_text(r)
            if answered[idx] == "NOERROR" and \
                    addresses(r) != ["192.0.2.99"]:
                wrong += 1
        now = time.monotonic()
        for qid, (idx, sent) in list(pending.items()):
            if now - sent > retry_after:
                pending[qid] = (idx, now)
                resends += 1
                try:
                    s.send(wires[qid])
                except BlockingIOError:
                    pass
    s.close()
    return answered, wrong, resends, time.monotonic() - t0


def daemon_udp_drops(pid):
    """{local address: kernel drop count} of the daemon's UDP sockets."""
    inodes = conftest_socket_inodes(pid)
    out = {}
    for proto in ("udp", "udp6"):
        try:
            with open("/proc/net/" + proto) as f:
                next(f)
                for line in f:
                    fl = line.split()
                    if fl[9] in inodes:
                        out[fl[1]] = out.get(fl[1], 0) + int(fl[-1])
        except OSError:
            pass
    return out


def test_ten_thousand_forwards_thousand_in_flight(unbound, fwd_linkdns):
    """10,000 forwarded queries through unbound, 1,000 in flight: every one
    answered NOERROR with the upstream's address, none lost (a lost query is
    resent after 2 s so the run ends, but counts as a failure, as dnsperf
    counts it lost).  The daemon then exits 0 at SIGTERM with no sanitizer
    report (under LINKDNS_BUILD=build-asan: no leak)."""
    d = fwd_linkdns("add load --addr 127.50.6.2\n",
                    "--upstream", unbound.endpoint(),
                    "--max-forwards", "4096")
    names = ["q%d.load.test." % i for i in range(10000)]
    answered, wrong, resends, secs = blast(d.host, d.port, "127.50.6.2",
                                           names, 1000)
    rcodes = {}
    for v in answered.values():
        rcodes[v] = rcodes.get(v, 0) + 1
    drops = daemon_udp_drops(d.proc.pid)
    print("10000 queries, 1000 in flight: %d answered in %.2f s (%.0f q/s), "
          "%d resent, rcodes %s; kernel drops at the daemon's UDP sockets "
          "(local address: count): %s" % (
              len(answered), secs, len(answered) / secs, resends, rcodes,
              drops))
    assert len(answered) == len(names), "%d unanswered" % (
        len(names) - len(answered))
    assert wrong == 0
    assert rcodes == {"NOERROR": len(names)}, (
        "not all NOERROR: %s; kernel drops at the daemon's UDP sockets: %s"
        % (rcodes, drops))
    assert resends == 0, (
        "%d queries were lost and had to be resent; kernel drops at the "
        "daemon's UDP sockets: %s" % (resends, drops))


def test_stats_count_forwards(fwd_linkdns):
    rec = Recorder("127.50.6.54", "192.0.2.66")
    try:
        d = fwd_linkdns("add web --addr 127.50.6.4\n",
                        "--upstream", rec.endpoint())
        before = d.stats()
        for i in range(10):
            r = d.query("s%d.example." % i, source="127.50.6.4", tcp=i % 2)
            assert addresses(r) == ["192.0.2.66"]
        st = d.stats()
        text = d.ctl("stats").stdout
        print(text)
        assert "forwarded" in st, (
            "`linkdnsctl stats` has no 'forwarded' counter:\n%s" % text)
        assert st["forwarded"] - before.get("forwarded", 0) == 10
        assert st["queries"] - before["queries"] >= 10, (
            "forwarded queries are not counted in 'queries':\n%s" % text)
        assert st["view.web.queries"] - before["view.web.queries"] == 10, (
            "forwarded queries are not counted in the view:\n%s" % text)
    finally:
        rec.close()


def test_max_forwards_bound_servfail_at_once(fwd_linkdns):
    """Beyond --max-forwards: SERVFAIL at once, never a hang; counted."""
    hole = Blackhole("127.50.6.53")
    try:
        d = fwd_linkdns("add load --addr 127.50.6.3\n",
                        "--upstream", hole.endpoint(),
                        "--max-forwards", "5")
        src = "127.50.6.3"
        socks = []
        for i in range(5):   # five held by the blackhole
            s = d.udp_socket(src)
            s.send(make_query("held%d.example." % i).to_wire())
            socks.append(s)
        # the listener handles datagrams in order: the sixth one counts
        t0 = time.monotonic()
        r = d.query("over.example.", source=src)
        dt = time.monotonic() - t0
        print("over the bound: %s in %.3f s" % (rcode_text(r), dt))
        assert rcode_text(r) == "SERVFAIL"
        assert dt < 0.5
        for s in socks:
            s.close()
        st = d.stats()
        assert any(k.startswith("forward") and v >= 1 and k != "forwarded"
                   for k, v in st.items()), (
            "`linkdnsctl stats` does not count forwards refused at the "
            "bound:\n%s" % d.ctl("stats").stdout)
    finally:
        hole.close()
