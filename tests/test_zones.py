"""Static zones from --zones DIR.

Every DIR/*.zone (RFC 1035, parsed with ldns) is served authoritatively to
every view, after link names (an alias of the same name wins) and before
forwarding; negative answers carry the zone's SOA; a broken zone file stops
the daemon at start with `linkdnsd: error: FILE:LINE: ...` (exit 1).

The zones used: a copy of zones/static/example.test.zone, and `cache.`, a
zone whose origin is a single label that one container also links to as an
alias.  Containers (shared listener, source address = container address;
this file's addresses are 127.55.0.0/16):

    web    127.55.5.2   links redis as `cache`
    redis  127.55.5.3
    other  127.55.5.4   no links
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import dns.flags
import dns.rdatatype
import dns.rrset
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "upstream"))

import conftest  # noqa: E402
from conftest import (addresses, assert_no_sanitizer_report,  # noqa
                      dig, free_port, linkdnsd_path, rcode_text, records,
                      run_linkdnsd)
from harness import (Recorder, fwd_linkdns,  # noqa: F401
                     ns_ask, ns_dig, ns_wait)
# names the namespaces of conftest's namespaces fixture
from harness import NETNS_PREFIX  # noqa: F401

REPO = conftest.REPO
EXAMPLE_ZONE = os.path.join(REPO, "zones", "static", "example.test.zone")
WEB, REDIS, OTHER, STRANGER = ("127.55.5.2", "127.55.5.3", "127.55.5.4",
                               "127.55.5.99")
VIEWS = (WEB, REDIS, OTHER)
TABLE = ("add web --addr %s\nadd redis --addr %s\nadd other --addr %s\n"
         "link web redis:cache\n" % (WEB, REDIS, OTHER))

CACHE_ZONE = """\
; origin equal to a link alias (web links redis as `cache`)
$ORIGIN cache.
$TTL 60
@       IN SOA  ns.cache. hostmaster.cache. 7 3600 600 86400 30
@       IN NS   ns.cache.
@       IN A    192.0.2.200
ns      IN A    192.0.2.201
www     IN A    192.0.2.202
"""

EXAMPLE_SOA = ("ns.example.test. hostmaster.example.test. 2026112701 3600 "
               "600 86400 300")


@pytest.fixture
def zones_dir():
    d = tempfile.mkdtemp(prefix="ldt-zones-")
    shutil.copy(EXAMPLE_ZONE, os.path.join(d, "example.test.zone"))
    with open(os.path.join(d, "cache.zone"), "w") as f:
        f.write(CACHE_ZONE)
    # not *.zone: never read (it would not parse)
    with open(os.path.join(d, "README"), "w") as f:
        f.write("this is not a zone file {\n")
    with open(os.path.join(d, "old.zone.bak"), "w") as f:
        f.write("www IN A not-an-address\n")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def soa_of(msg, section="authority"):
    out = [(rrset.name.to_text().lower(), rd.to_text())
           for rrset in getattr(msg, section)
           if rrset.rdtype == dns.rdatatype.SOA for rd in rrset]
    return out


def texts(msg, rdtype, section="answer"):
    return sorted(rd.to_text() for rd in records(getattr(msg, section),
                                                 rdtype))


# -- served to every view, authoritatively -----------------------------------------
def test_zone_answers_every_view(zones_dir, linkdns):
    d = linkdns(TABLE, "--zones", zones_dir)
    for src in VIEWS:
        for tcp in (False, True):
            r = d.query("www.example.test", source=src, tcp=tcp)
            assert rcode_text(r) == "NOERROR"
            assert r.flags & dns.flags.AA, "static zone answer without AA"
            assert addresses(r) == ["192.0.2.80"]
            assert r.answer[0].ttl == 300
        r = d.query("www.example.test", "AAAA", source=src)
        assert addresses(r, "AAAA") == ["2001:db8::80"]
        r = d.query("example.test", "MX", source=src)
        assert texts(r, "MX") == ["10 mail.example.test."]
        r = d.query("info.example.test", "TXT", source=src)
        assert texts(r, "TXT") == ['"static zones are parsed with ldns"']
        r = d.query("_http._tcp.www.example.test", "SRV", source=src)
        assert texts(r, "SRV") == ["0 0 80 www.example.test."]
        r = d.query("example.test", "SOA", source=src)
        assert texts(r, "SOA") == [EXAMPLE_SOA]
        assert r.flags & dns.flags.AA
        r = d.query("example.test", "NS", source=src)
        assert texts(r, "NS") == ["ns.example.test."]
        r = d.query("docs.example.test", "A", source=src)
        assert texts(r, "CNAME") == ["www.example.test."]
        assert r.flags & dns.flags.AA
        # the other zone, from views without a `cache` alias
        if src != WEB:
            r = d.query("cache", source=src)
            assert addresses(r) == ["192.0.2.200"] and r.flags & dns.flags.AA
            r = d.query("www.cache", source=src)
            assert addresses(r) == ["192.0.2.202"]
    out = dig(d.port, "www.example.test", source=OTHER)
    assert re.search(r"flags:[^;]*\baa\b", out), out
    assert "192.0.2.80" in out


def test_zone_names_match_case_insensitively_echoed(zones_dir, linkdns):
    d = linkdns(TABLE, "--zones", zones_dir)
    r = d.query("WwW.ExAmple.TEST", source=OTHER)
    assert addresses(r) == ["192.0.2.80"]
    assert r.question[0].name.to_text() == "WwW.ExAmple.TEST."
    assert r.answer[0].name.to_text() == "WwW.ExAmple.TEST."


def test_zone_answers_in_namespace(zones_dir, fwd_linkdns, namespaces):
    ns = namespaces.add("z")
    fwd_linkdns("add nsz --netns /run/netns/%s --addr 127.55.5.20\n" % ns,
                "--zones", zones_dir, "--no-upstream")
    ns_wait(ns)
    out = ns_dig(ns, "www.example.test")
    assert re.search(r"flags:[^;]*\baa\b", out), out
    assert "192.0.2.80" in out
    r, _ = ns_ask(ns, "nosuch.example.test")
    assert rcode_text(r) == "NXDOMAIN"
    assert soa_of(r) == [("example.test.", EXAMPLE_SOA)]


def test_zone_not_for_strangers(zones_dir, linkdns):
    """A source that is no container's gets REFUSED, static zones included
    (no open resolver, no leak)."""
    d = linkdns(TABLE, "--zones", zones_dir)
    for tcp in (False, True):
        r = d.query("www.example.test", source=STRANGER, tcp=tcp)
        assert rcode_text(r) == "REFUSED"
        assert not r.answer


# -- negative answers --------------------------------------------------------------
@pytest.mark.parametrize("name,rdtype,rcode,apex", [
    ("nosuch.example.test", "A", "NXDOMAIN", "example.test."),
    ("deep.nosuch.example.test", "AAAA", "NXDOMAIN", "example.test."),
    ("www.example.test", "TXT", "NOERROR", "example.test."),
    ("mail.example.test", "AAAA", "NOERROR", "example.test."),
    ("example.test", "A", "NOERROR", "example.test."),
    ("nosuch.cache", "A", "NXDOMAIN", "cache."),
    ("www.cache", "MX", "NOERROR", "cache."),
])
def test_zone_negative_answers_carry_soa(zones_dir, linkdns, name, rdtype,
                                         rcode, apex):
    d = linkdns(TABLE, "--zones", zones_dir)
    for tcp in (False, True):
        r = d.query(name, rdtype, source=OTHER, tcp=tcp)
        assert rcode_text(r) == rcode
        assert not r.answer, r.answer
        assert r.flags & dns.flags.AA
        soa = soa_of(r)
        assert len(soa) == 1 and soa[0][0] == apex, r.authority
        if apex == "example.test.":
            assert soa[0][1] == EXAMPLE_SOA
        ttl = r.authority[0].ttl
        assert ttl <= (300 if apex == "example.test." else 60)


def test_zone_edns(zones_dir, linkdns):
    d = linkdns(TABLE, "--zones", zones_dir)
    r = d.query("www.example.test", source=OTHER, want_dnssec=True)
    assert r.opt is not None and r.ednsflags & dns.flags.DO
    r = d.query("www.example.test", source=OTHER)
    assert r.opt is None


# -- link names win -----------------------------------------------------------------
def test_link_alias_beats_zone_of_same_name(zones_dir, linkdns):
    d = linkdns(TABLE, "--zones", zones_dir)
    for tcp in (False, True):
        # web links redis as `cache`: the alias answers, not the zone
        r = d.query("cache", source=WEB, tcp=tcp)
        assert addresses(r) == [REDIS], "the zone beat the link alias"
        r = d.query("CACHE", source=WEB, tcp=tcp)
        assert addresses(r) == [REDIS]
        # a type the alias lacks: NODATA from the link, not the zone's SOA
        r = d.query("cache", "SOA", source=WEB, tcp=tcp)
        assert not texts(r, "SOA"), "the zone's SOA answered for the alias"
        r = d.query("cache", "MX", source=WEB, tcp=tcp)
        assert rcode_text(r) == "NOERROR" and not r.answer
        # names below the alias are the link's (NXDOMAIN), not the zone's
        r = d.query("www.cache", source=WEB, tcp=tcp)
        assert rcode_text(r) == "NXDOMAIN" and not r.answer
        # the other views still see the zone
        r = d.query("cache", source=OTHER, tcp=tcp)
        assert addresses(r) == ["192.0.2.200"]
        r = d.query("cache", source=REDIS, tcp=tcp)
        assert addresses(r) == ["192.0.2.200"]
    assert dig(d.port, "cache", "+short", source=WEB).split() == [REDIS]
    assert dig(d.port, "cache", "+short", source=OTHER).split() == \
        ["192.0.2.200"]


def test_zone_before_forwarding(zones_dir, fwd_linkdns):
    """Zone names never reach the upstream; other names do."""
    rec = Recorder("127.55.5.53", "192.0.2.55")
    try:
        d = fwd_linkdns(TABLE, "--zones", zones_dir,
                        "--upstream", rec.endpoint())
        for name, rdtype in (("www.example.test", "A"),
                             ("nosuch.example.test", "A"),
                             ("www.example.test", "TXT"),
                             ("www.cache", "A"), ("nosuch.cache", "A")):
            r = d.query(name, rdtype, source=OTHER)
            assert r.flags & dns.flags.AA, name
        r = d.query("elsewhere.test", source=OTHER)   # not in any zone
        assert addresses(r) == ["192.0.2.55"]
        assert rec.names() == ["elsewhere.test."], rec.names()
    finally:
        rec.close()


# -- bad zone files ----------------------------------------------------------------
BAD_ZONES = [
    # (id, text, line of the error or None when several are defensible)
    ("bad-address", "$ORIGIN bad.test.\n$TTL 60\n"
     "@ IN SOA ns hm 1 2 3 4 5\n@ IN NS ns\nwww IN A 1.2.3\n", 5),
    ("bad-type", "$ORIGIN bad.test.\n$TTL 60\n"
     "@ IN SOA ns hm 1 2 3 4 5\nwww IN FROB 1.2.3.4\n", 4),
    ("bad-ttl", "$ORIGIN bad.test.\n$TTL sixty\n"
     "@ IN SOA ns hm 1 2 3 4 5\n", 2),
    ("bad-rr-ttl", "$ORIGIN bad.test.\n$TTL 60\n"
     "@ IN SOA ns hm 1 2 3 4 5\nwww sixty IN A 192.0.2.1\n", 4),
    ("unclosed-paren", "$ORIGIN bad.test.\n$TTL 60\n"
     "@ IN SOA ns hm ( 1 2 3 4 5\nwww IN A 192.0.2.1\n", None),
]


def write_bad(zones_dir, text):
    path = os.path.join(zones_dir, "broken.zone")
    with open(path, "w") as f:
        f.write(text)
    return path


def assert_zone_error(p, path, line):
    err = p.stderr
    print("exit %s, stderr: %s" % (p.returncode, err))
    assert p.returncode == 1, "exit %s, expected 1\n%s" % (p.returncode, err)
    lines = [x for x in err.splitlines() if x.startswith("linkdnsd: error: ")]
    assert lines, "no `linkdnsd: error:` line:\n" + err
    pat = re.escape(os.path.basename(path)) + r":(\d+): \S"
    m = [re.search(pat, x) for x in lines]
    m = [x for x in m if x]
    assert m, "no FILE:LINE: naming %s in:\n%s" % (path, err)
    if line is not None:
        assert int(m[0].group(1)) == line, (
            "error at line %s, expected %d:\n%s" % (m[0].group(1), line, err))


def check_config(tmp, zones):
    """`linkdnsd --check-config --zones ZONES` with the state file TMP/links
    (it need not exist); the CompletedProcess."""
    return run_linkdnsd(["--state", os.path.join(tmp, "links"),
                         "--no-upstream", "--zones", zones, "--check-config"])


@pytest.mark.parametrize("case", BAD_ZONES, ids=[c[0] for c in BAD_ZONES])
def test_bad_zone_stops_daemon_at_start(zones_dir, case, tmp_path):
    _, text, line = case
    path = write_bad(zones_dir, text)
    tmp = str(tmp_path)
    state = os.path.join(tmp, "links")
    with open(state, "w") as f:
        f.write(TABLE)
    port = free_port()
    argv = [linkdnsd_path(), "--state", state, "--listen",
            "127.0.0.1@%d" % port, "--no-upstream", "--control",
            os.path.join(tmp, "control.sock"), "--zones", zones_dir]
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=10, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("linkdnsd kept running with a broken zone file %s"
                    % path, pytrace=False)
    assert_zone_error(p, path, line)
    assert_no_sanitizer_report(p.stderr)
    # --check-config says the same
    assert_zone_error(check_config(tmp, zones_dir), path, line)


def test_missing_zones_dir_is_a_configuration_error(tmp_path):
    tmp = str(tmp_path)
    p = check_config(tmp, os.path.join(tmp, "nonexistent"))
    print(p.stderr)
    assert p.returncode == 1
    assert "linkdnsd: error: " in p.stderr and "nonexistent" in p.stderr


def test_example_zone_passes_check_config(tmp_path):
    p = check_config(str(tmp_path), os.path.dirname(EXAMPLE_ZONE))
    assert p.returncode == 0, p.stderr


# -- reload re-reads the zones ----------------------------------------------------
def test_reload_rereads_zones(zones_dir, fwd_linkdns):
    d = fwd_linkdns(TABLE, "--zones", zones_dir, "--no-upstream")
    assert addresses(d.query("www.cache", source=OTHER)) == ["192.0.2.202"]
    with open(os.path.join(zones_dir, "cache.zone"), "w") as f:
        f.write(CACHE_ZONE.replace("192.0.2.202", "192.0.2.212"))
    p = d.ctl("reload")
    assert p.returncode == 0, p.stderr
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if addresses(d.query("www.cache", source=OTHER)) == ["192.0.2.212"]:
            break
        time.sleep(0.05)   # poll interval
    assert addresses(d.query("www.cache", source=OTHER)) == ["192.0.2.212"]
    # a broken zone at reload: refused, the running zones stay
    write_bad(zones_dir, BAD_ZONES[0][1])
    p = d.ctl("reload")
    print("reload with a broken zone: exit %d %s%s" % (p.returncode, p.stdout,
                                                       p.stderr))
    # the error is logged with FILE:LINE (reload is asynchronous: poll)
    pat = re.compile(r"linkdnsd: error: .*broken\.zone:5: ")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not pat.search(d.stderr):
        time.sleep(0.05)   # poll interval
    assert pat.search(d.stderr), "no broken.zone:5 error logged at reload:\n" \
        + d.stderr
    assert d.running()
    assert addresses(d.query("www.cache", source=OTHER)) == ["192.0.2.212"]
    assert addresses(d.query("www.example.test", source=OTHER)) == \
        ["192.0.2.80"]
    os.unlink(os.path.join(zones_dir, "broken.zone"))
