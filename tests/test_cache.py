"""The answer cache for forwarded names, against the real daemon and real
upstreams on loopback.

- Zone: a dnspython server (tests/upstream/harness.py LoopbackServer) whose
  answers the test sets per name: TTLs, NXDOMAIN or NODATA with or without
  an SOA, SERVFAIL, silence; it counts what reaches it, so a hit is a query
  the upstream never saw.
- nsd: a real authoritative server with a zone file (TTL countdown and an
  RFC 2308 negative answer from a real implementation).

linkdnsd is tests/upstream/harness.py FwdDaemon with --cache-size set.
Clients ask from the shared listener as containers (source address = the
container's address, 127.51.0.0/16).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "upstream"))

from conftest import (addresses, free_port, make_query, rcode_text,  # noqa
                      is_asan_build, rss_env, status_kib, wait_for)
from harness import (Blackhole, LoopbackServer, exchange,  # noqa: F401
                     fwd_linkdns, wait_answers)

CLIENT = "127.51.0.2"
NSD = shutil.which("nsd") or "/usr/sbin/nsd"


class Zone(LoopbackServer):
    """Answers as .names says: name (lower-case text, final dot) -> dict(
    a=[addresses], ttl=N, rcode="NXDOMAIN"/"SERVFAIL"/..., soa=(ttl, minimum)
    or None, silent=True, by_flags={(do, cd): address}). Unknown names: A
    192.0.2.1 TTL 300. .seen: (name, type, do, cd) of every query."""

    def __init__(self, addr, names=None):
        self.names = names or {}
        self.seen = []
        self.lock = threading.Lock()
        super().__init__(addr)

    def count(self, name):
        with self.lock:
            return sum(1 for s in self.seen if s[0] == name)

    def _answers(self, wire, tcp):
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return []
        qq = q.question[0]
        name = qq.name.to_text().lower()
        do = bool(q.ednsflags & dns.flags.DO)
        cd = bool(q.flags & dns.flags.CD)
        with self.lock:
            self.seen.append((name, qq.rdtype, do, cd))
        spec = self.names.get(name, {})
        if spec.get("silent"):
            return []
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        r.set_rcode(dns.rcode.from_text(spec.get("rcode", "NOERROR")))
        addrs = spec.get("a", ["192.0.2.1"])
        if "by_flags" in spec:
            addrs = [spec["by_flags"][(do, cd)]]
        if qq.rdtype == dns.rdatatype.A and r.rcode() == 0 and addrs:
            r.answer.append(dns.rrset.from_text(qq.name, spec.get("ttl", 300),
                                                "IN", "A", *addrs))
        if spec.get("soa"):
            ttl, minimum = spec["soa"]
            r.authority.append(dns.rrset.from_text(
                "cache.test.", ttl, "IN", "SOA",
                "ns.cache.test. host.cache.test. 1 3600 600 86400 %d"
                % minimum))
        out = r.to_wire()
        return [len(out).to_bytes(2, "big") + out if tcp else out]


@pytest.fixture
def zone():
    z = Zone("127.51.0.53")
    yield z
    z.close()


def ask(d, name, rdtype="A", source=CLIENT, **kw):
    return d.query(name, rdtype, source=source, **kw)


def cache_stats(d):
    s = d.stats()
    return {k[len("cache."):]: v for k, v in s.items()
            if k.startswith("cache.")}


def table(*extra):
    return "add c --addr %s\n" % CLIENT + "".join(extra)


# -- hits, TTLs, ID and case ------------------------------------------------------
def test_hit_counts_down_and_keeps_id_and_case(fwd_linkdns, zone):
    zone.names["www.cache.test."] = dict(a=["192.0.2.10"], ttl=100)
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M")
    r1 = ask(d, "www.cache.test")
    assert addresses(r1) == ["192.0.2.10"] and r1.answer[0].ttl == 100
    time.sleep(2.1)
    q = make_query("WwW.CaChE.tEsT", "A")
    q.id = 0x5a5a
    wire = d.exchange_udp(q.to_wire(), source=CLIENT)
    r2 = dns.message.from_wire(wire)
    assert r2.id == 0x5a5a, "not the client's ID"
    assert str(r2.question[0].name) == "WwW.CaChE.tEsT.", "question not as asked"
    assert str(r2.answer[0].name) == "WwW.CaChE.tEsT.", "owner not as asked"
    assert addresses(r2) == ["192.0.2.10"]
    assert 96 <= r2.answer[0].ttl <= 98, "TTL did not count down: %d" \
        % r2.answer[0].ttl
    assert zone.count("www.cache.test.") == 1, "the hit went upstream"
    st = cache_stats(d)
    assert st["hits"] == 1 and st["misses"] == 1 and st["entries"] == 1
    assert 0 < st["bytes"] <= 1 << 20
    js = json.loads(d.ok("stats", "--json"))["cache"]
    assert (js["hits"], js["misses"], js["evictions"], js["entries"]) \
        == (1, 1, 0, 1) and js["bytes"] == st["bytes"], js


def test_edns_of_the_client_applies(fwd_linkdns, zone):
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M")
    ask(d, "e.cache.test", edns=0)               # cached (DO clear)
    r = ask(d, "e.cache.test")                   # no EDNS: no OPT back
    assert r.edns < 0
    r = ask(d, "e.cache.test", edns=0, payload=4096)
    assert r.edns == 0 and r.payload == 1232, "not our OPT"
    assert zone.count("e.cache.test.") == 1


def test_expiry_asks_again(fwd_linkdns, zone):
    zone.names["short.cache.test."] = dict(a=["192.0.2.11"], ttl=2)
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M")
    ask(d, "short.cache.test")
    ask(d, "short.cache.test")
    assert zone.count("short.cache.test.") == 1
    time.sleep(2.2)
    ask(d, "short.cache.test")
    assert zone.count("short.cache.test.") == 2, "kept beyond its TTL"


def test_max_ttl_caps(fwd_linkdns, zone):
    zone.names["long.cache.test."] = dict(a=["192.0.2.12"], ttl=86400)
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M", "--cache-max-ttl", "2")
    ask(d, "long.cache.test")
    r = ask(d, "long.cache.test")
    assert r.answer[0].ttl <= 2, "TTL over --cache-max-ttl"
    time.sleep(2.2)
    ask(d, "long.cache.test")
    assert zone.count("long.cache.test.") == 2


# -- negative answers ----------------------------------------------------------------
def test_negative_with_soa_and_none_without(fwd_linkdns, zone):
    zone.names["nx.cache.test."] = dict(rcode="NXDOMAIN", soa=(3600, 30))
    zone.names["nodata.cache.test."] = dict(a=[], soa=(20, 300))
    zone.names["nosoa.cache.test."] = dict(rcode="NXDOMAIN")
    zone.names["nodata-nosoa.cache.test."] = dict(a=[])
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M")
    for name in ("nx", "nodata", "nosoa", "nodata-nosoa"):
        for _ in range(2):
            ask(d, name + ".cache.test")
    assert zone.count("nx.cache.test.") == 1, "NXDOMAIN+SOA not cached"
    assert zone.count("nodata.cache.test.") == 1, "NODATA+SOA not cached"
    assert zone.count("nosoa.cache.test.") == 2, "NXDOMAIN without SOA cached"
    assert zone.count("nodata-nosoa.cache.test.") == 2, \
        "NODATA without SOA cached"
    time.sleep(1.1)
    r = ask(d, "nx.cache.test")
    assert rcode_text(r) == "NXDOMAIN"
    assert r.authority[0].rdtype == dns.rdatatype.SOA
    assert 27 <= r.authority[0].ttl <= 29, \
        "the SOA's TTL is not min(TTL, MINIMUM) counting down: %d" \
        % r.authority[0].ttl
    r = ask(d, "nodata.cache.test")
    assert rcode_text(r) == "NOERROR" and not r.answer
    assert 17 <= r.authority[0].ttl <= 19


# -- failures ------------------------------------------------------------------------
def test_servfail_cached_five_seconds(fwd_linkdns, zone):
    zone.names["sf.cache.test."] = dict(rcode="SERVFAIL")
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M")
    assert rcode_text(ask(d, "sf.cache.test")) == "SERVFAIL"
    t0 = time.monotonic()
    assert rcode_text(ask(d, "sf.cache.test")) == "SERVFAIL"
    assert zone.count("sf.cache.test.") == 1, "a SERVFAIL was not cached"
    # RFC 9520: at least 1 s; ours is 5 s
    wait_for("the failure to expire",
             lambda: (ask(d, "sf.cache.test"),
                      zone.count("sf.cache.test.") == 2)[1], 10.0,
             interval=0.25)
    took = time.monotonic() - t0
    assert 4.0 <= took <= 7.5, "failure kept %.1f s, not 5" % took


def test_timeout_cached_then_upstream_back(fwd_linkdns):
    hole = Blackhole("127.51.0.54")
    try:
        d = fwd_linkdns(table(), "--upstream", hole.endpoint(),
                        "--cache-size", "1M")
        r = ask(d, "dead.cache.test", timeout=6)
        assert rcode_text(r) == "SERVFAIL"
        t0 = time.monotonic()
        r = ask(d, "dead.cache.test", timeout=6)
        assert rcode_text(r) == "SERVFAIL"
        assert time.monotonic() - t0 < 0.5, "the timeout was not cached"
        assert cache_stats(d)["hits"] == 1
    finally:
        hole.close()


def test_own_send_failure_not_cached(fwd_linkdns, zone):
    """Out of descriptors, linkdnsd cannot ask: a SERVFAIL of its own, which
    says nothing of the upstream and must not be answered again from the
    cache once it can ask (it was, for 5 s)."""
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M")
    pid = str(d.proc.pid)
    # no descriptor above those open: the first upstream socket cannot be made
    # (nothing was forwarded yet, so the socket pool is empty)
    top = max(int(fd) for fd in os.listdir("/proc/%s/fd" % pid))
    soft = subprocess.run(["prlimit", "--pid", pid, "--nofile", "--raw",
                           "--noheadings", "--output=SOFT"], check=True,
                          capture_output=True, text=True).stdout.strip()
    subprocess.run(["prlimit", "--pid", pid, "--nofile=%d:" % (top + 1)],
                   check=True)
    try:
        assert rcode_text(ask(d, "fds.cache.test")) == "SERVFAIL"
        assert zone.count("fds.cache.test.") == 0
    finally:
        subprocess.run(["prlimit", "--pid", pid, "--nofile=%s:" % soft],
                       check=True)
    r = ask(d, "fds.cache.test")
    assert rcode_text(r) == "NOERROR" and addresses(r) == ["192.0.2.1"], \
        "our own failure to send was answered from the cache"
    assert zone.count("fds.cache.test.") == 1


def test_query_log_tells_a_hit_from_a_forward(fwd_linkdns, zone):
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M", "--log-queries")
    for _ in range(2):
        assert addresses(ask(d, "logged.cache.test")) == ["192.0.2.1"]
    lines = [ln for ln in d.stderr.splitlines() if "logged.cache.test" in ln]
    assert len(lines) == 2, lines
    assert lines[0].endswith("type 1 -> forwarded"), lines
    assert lines[1].endswith("type 1 -> answered from the cache"), lines


def test_cached_answers_outlive_a_dead_upstream(fwd_linkdns, zone):
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M")
    assert addresses(ask(d, "up.cache.test")) == ["192.0.2.1"]
    zone.names["up.cache.test."] = dict(silent=True)
    assert addresses(ask(d, "up.cache.test")) == ["192.0.2.1"]


# -- keys: upstream set, DO, CD ----------------------------------------------------
def test_upstream_sets_apart(fwd_linkdns, zone):
    other = Zone("127.51.0.55", {"same.cache.test.": dict(a=["192.0.2.99"])})
    try:
        zone.names["same.cache.test."] = dict(a=["192.0.2.42"])
        d = fwd_linkdns("add a --addr 127.51.1.2 --dns %s\n"
                        "add b --addr 127.51.1.3\n"
                        "add c --addr 127.51.1.4 --dns %s\n"
                        % (other.endpoint(), other.endpoint()),
                        "--upstream", zone.endpoint(), "--cache-size", "1M")
        for _ in range(2):
            assert addresses(ask(d, "same.cache.test", source="127.51.1.2")) \
                == ["192.0.2.99"], "a got another set's answer"
            assert addresses(ask(d, "same.cache.test", source="127.51.1.3")) \
                == ["192.0.2.42"], "b got a's --dns answer"
        assert addresses(ask(d, "same.cache.test", source="127.51.1.4")) \
            == ["192.0.2.99"]
        assert other.count("same.cache.test.") == 1, \
            "a and c (same --dns) did not share the entry"
        assert zone.count("same.cache.test.") == 1
        # the table changes b's set: its answers come from the new set
        d.ok("add", "b", "--replace", "--addr", "127.51.1.3", "--dns",
             other.endpoint())
        assert addresses(ask(d, "same.cache.test", source="127.51.1.3")) \
            == ["192.0.2.99"], "b kept the old set's answer"
    finally:
        other.close()


def test_default_turned_own_listener_leaves_the_key(fwd_linkdns, zone):
    """A default upstream that a network's --listen names later is ignored (it
    would be linkdnsd asking itself), and the cache's key follows at once: the
    answer that server gave is not served under the set without it."""
    other = Zone("127.51.0.56", {"turn.cache.test.": dict(a=["192.0.2.77"])})
    try:
        zone.names["turn.cache.test."] = dict(a=["192.0.2.66"])
        d = fwd_linkdns(table(), "--upstream", zone.endpoint(), "--upstream",
                        other.endpoint(), "--cache-size", "1M")
        assert addresses(ask(d, "turn.cache.test")) == ["192.0.2.66"]
        d.ok("net", "n", "--listen", zone.endpoint())
        d.wait_log(r"upstream %s is one of linkdnsd's own listening addresses"
                   % zone.endpoint().replace(".", r"\."))
        assert addresses(ask(d, "turn.cache.test")) == ["192.0.2.77"], \
            "the ignored server's answer came from the cache"
        assert other.count("turn.cache.test.") == 1
    finally:
        other.close()


def test_do_and_cd_are_keys(fwd_linkdns, zone):
    zone.names["flags.cache.test."] = dict(by_flags={
        (False, False): "192.0.2.20", (True, False): "192.0.2.21",
        (False, True): "192.0.2.22", (True, True): "192.0.2.23"})
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M")

    def q(do, cd):
        m = make_query("flags.cache.test", "A", want_dnssec=do)
        if cd:
            m.flags |= dns.flags.CD
        return dns.message.from_wire(d.exchange_udp(m.to_wire(),
                                                    source=CLIENT))
    for _ in range(2):
        for (do, cd), want in ((k, v) for k, v in
                               zone.names["flags.cache.test."]
                               ["by_flags"].items()):
            assert addresses(q(do, cd)) == [want], (do, cd)
    assert zone.count("flags.cache.test.") == 4


# -- flush ---------------------------------------------------------------------------
def test_flush_all_and_subtree(fwd_linkdns, zone):
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "1M")
    names = ["cache.test", "a.cache.test", "b.a.cache.test",
             "xcache.test", "other.test"]
    for n in names:
        ask(d, n)
    p = d.ctl("flush", "A.Cache.Test.")
    assert p.returncode == 0 and "flushed 2" in p.stdout, p.stdout + p.stderr
    for n in names:
        ask(d, n)
    assert [zone.count(n + ".") for n in names] == [1, 2, 2, 1, 1]
    p = d.ctl("flush")
    assert p.returncode == 0 and "flushed 5" in p.stdout
    assert cache_stats(d)["entries"] == 0
    ask(d, "other.test")
    assert zone.count("other.test.") == 2
    p = d.ctl("flush", "bad..name")
    assert p.returncode != 0 and "invalid domain" in p.stderr


# -- bound, eviction, a flood --------------------------------------------------------
def test_flood_stays_within_the_bound(fwd_linkdns, zone):
    size = 64 * 1024
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", str(size // 1024) + "K", env=rss_env())
    ask(d, "hot.cache.test")
    rss0 = None
    for i in range(4000):
        ask(d, "n%d.flood.cache.test" % i)
        if i % 20 == 0:
            ask(d, "hot.cache.test")    # the name everyone asks
        if i == 1000:
            rss0 = status_kib(d.proc.pid, "VmRSS")
    st = cache_stats(d)
    rss1 = status_kib(d.proc.pid, "VmRSS")
    assert st["bytes"] <= size, st
    assert st["evictions"] > 2000, st
    assert st["evictions"] <= 4001 + 1 - st["entries"], \
        "evicted faster than one LRU entry per insert: %s" % st
    assert zone.count("hot.cache.test.") == 1, \
        "the name asked all along was evicted by the flood"
    # after the cache filled (1,000 names), 3,000 more cost no memory
    # 3,000 entries kept would be 600 KiB; AddressSanitizer's allocator
    # takes fresh regions per size class (its LeakSanitizer checks leaks)
    slack = 4096 if is_asan_build() else 512
    assert rss1 - rss0 < slack, "RSS grew %d KiB under the flood" \
        % (rss1 - rss0)


def test_cache_size_zero_is_off(fwd_linkdns, zone):
    d = fwd_linkdns(table(), "--upstream", zone.endpoint(),
                    "--cache-size", "0")
    ask(d, "off.cache.test")
    ask(d, "off.cache.test")
    assert zone.count("off.cache.test.") == 2
    assert cache_stats(d)["entries"] == 0


def test_bad_cache_options(tmp_path):
    from conftest import linkdnsd_path
    for args in (["--cache-size", "12Q"], ["--cache-size", "-1"],
                 ["--cache-size", "2G"], ["--cache-max-ttl", "x"]):
        p = subprocess.run([linkdnsd_path(), "--check-config", "--state",
                            str(tmp_path / "none")] + args,
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, (args, p.stderr)


# -- a real authoritative upstream: nsd ------------------------------------------------
@pytest.fixture
def nsd():
    if not os.access(NSD, os.X_OK):
        pytest.skip("nsd not installed")
    tmp = tempfile.mkdtemp(prefix="ldt-nsd-")
    port = free_port("127.51.0.56")
    with open(os.path.join(tmp, "auth.test.zone"), "w") as f:
        f.write("$ORIGIN auth.test.\n$TTL 120\n"
                "@ 3600 IN SOA ns host 1 3600 600 86400 45\n"
                "@ IN NS ns\nns IN A 192.0.2.53\n"
                "www 100 IN A 192.0.2.80\n")
    with open(os.path.join(tmp, "nsd.conf"), "w") as f:
        f.write('server:\n  ip-address: 127.51.0.56@%d\n  port: %d\n'
                '  username: ""\n  chroot: ""\n  zonesdir: "%s"\n'
                '  database: ""\n  pidfile: "%s/nsd.pid"\n'
                '  xfrdfile: "%s/xfrd.state"\n  zonelistfile: "%s/zl"\n'
                '  logfile: "%s/nsd.log"\n  server-count: 1\n'
                '  verbosity: 0\nremote-control:\n  control-enable: no\n'
                'zone:\n  name: auth.test\n  zonefile: auth.test.zone\n'
                % (port, port, tmp, tmp, tmp, tmp, tmp))
    p = subprocess.Popen([NSD, "-d", "-c", os.path.join(tmp, "nsd.conf")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_answers("127.51.0.56", port, "www.auth.test", proc=p,
                     what="nsd")
        yield p, "127.51.0.56@%d" % port
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def test_nsd_ttl_and_negative(fwd_linkdns, nsd):
    proc, ep = nsd
    d = fwd_linkdns(table(), "--upstream", ep, "--cache-size", "1M")
    assert ask(d, "www.auth.test").answer[0].ttl == 100
    r = ask(d, "missing.auth.test")
    assert rcode_text(r) == "NXDOMAIN" and r.authority[0].ttl == 45, \
        "nsd's SOA TTL: %s" % r.authority[0].ttl
    time.sleep(2.1)
    proc.send_signal(signal.SIGSTOP)      # the upstream gone silent
    try:
        r = ask(d, "www.auth.test")
        assert 96 <= r.answer[0].ttl <= 98
        r = ask(d, "missing.auth.test")
        assert rcode_text(r) == "NXDOMAIN" and 41 <= r.authority[0].ttl <= 43
    finally:
        proc.send_signal(signal.SIGCONT)
    assert cache_stats(d)["hits"] == 2
