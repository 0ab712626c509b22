"""Remote containers (add NAME --remote FQDN@PEER): what questions about them
make the daemon ask its peer is bounded, and what the peer says is checked.

- SRV questions name any port: thousands of distinct ones make at most a
  capped number of slots, a port the peer does not publish (NXDOMAIN/NODATA)
  is not asked again, and nothing nobody asks for is refreshed, so the peer's
  load decays to the address refreshes.  Counted at a real peer (a linkdnsd
  publishing a zone, its stats and --log-queries), and at a silent one (a UDP
  socket that never answers, which counts what arrives).
- Only records owned by the name asked are the container's data: a peer
  (ldns-testns, answering exactly what its entry file says) that adds records
  for other owners does not get them served.
- A reload keeps what the peers said, also for a remote with no answer yet
  (this once was a memcpy from NULL, seen by UBSan in build-asan).

The daemons listen on 127.0.0.1 at free ports; the ldns-testns test runs in a
network namespace of its own (ldns-testns binds the wildcard address).
"""

import json
import os
import re
import signal
import socket
import subprocess
import time

import dns.message
import dns.rcode
import pytest

from conftest import free_port, linkdnsctl_path, make_query, run, wait_for
# the namespace fixture (net), the daemon in a namespace and DNS helpers
from test_crosshost import (Linkdnsd, need_tool, net, query, rcode,  # noqa: F401
                            rdatas)

ZONE = "a.test"
PEER_TABLE = "add db --addr 127.0.51.2 --publish 13306:3306/tcp\n"
APP = "127.0.50.2"
NAMES = 2000                     # distinct SRV questions in a burst
FIRST_PORT = 20000               # _20000._tcp.db ... none published


def asker_table(peer, extra=""):
    return ("add app --addr %s\nadd db --remote db.%s@%s\nlink app db\n%s"
            % (APP, ZONE, peer, extra))


def stats(d):
    p = run([linkdnsctl_path(), "--control", d.control, "stats", "--json"])
    return json.loads(p.stdout)


def peer_queries(d):
    return stats(d)["queries"]


def burst(d, names):
    """Each of NAMES asked once (SRV) of D as app, as fast as the socket
    takes them, replies read and thrown away; the seconds it took."""
    s = d.udp_socket(APP)
    s.setblocking(False)
    t0 = time.monotonic()
    try:
        for i, name in enumerate(names):
            s.send(make_query(name, "SRV").to_wire())
            if i % 50 == 49:
                time.sleep(0.005)   # pacing: the daemon's socket buffer
            try:
                while True:
                    s.recv(65535)
            except BlockingIOError:
                pass
    finally:
        s.close()
    return time.monotonic() - t0


def distinct_names(n=NAMES):
    return ["_%d._tcp.db" % (FIRST_PORT + i) for i in range(n)]


def wait_db(d):
    wait_for("db resolves in app", lambda: (
        lambda r: r.rcode() == dns.rcode.NOERROR and r.answer)(
            d.query("db", "A", source=APP)), 10.0)


# -- a real peer ------------------------------------------------------------------
def test_distinct_srv_questions_about_a_remote_are_not_kept_asked(linkdns):
    peer = linkdns(PEER_TABLE, "--publish-zone", ZONE, "--publish-address",
                   "192.0.2.10", "--ttl", "2", "--log-queries")
    d = linkdns(asker_table("127.0.0.1@%d" % peer.port))
    wait_db(d)
    r = d.query("_3306._tcp.db", "SRV", source=APP)
    assert rdatas(r, "SRV") == ["0 0 13306 db.link.internal."], r

    took = burst(d, distinct_names())
    time.sleep(3.0)   # the negative answers (TTL 2) expire
    log_mark = len(peer.stderr)
    samples = []
    for _ in range(3):
        q0, t0 = peer_queries(peer), time.monotonic()
        end = t0 + 3.0
        while time.monotonic() < end:   # the published port stays asked for
            r = d.query("_3306._tcp.db", "SRV", source=APP)
            assert rdatas(r, "SRV") == ["0 0 13306 db.link.internal."], r
            time.sleep(0.5)
        samples.append((peer_queries(peer) - q0) / (time.monotonic() - t0))
    later = peer.stderr[log_mark:]
    reasked = re.findall(r"_2\d{4}\._tcp\.db\.a\.test\.", later)
    print("\n%d distinct SRV questions sent in %.2f s; then the peer was "
          "asked %s queries/s (3 s windows)" % (
              NAMES, took, ", ".join("%.1f" % x for x in samples)))
    # db's A and AAAA every 1.6 s (80 % of 2 s) and _3306's SRV: ~2/s
    assert max(samples) <= 6.0, (samples, later[-500:])
    assert not reasked, "unpublished ports asked again: %s" % reasked[:10]
    # every unpublished port was asked at most once in all
    counts = {}
    for name in re.findall(r"_2\d{4}\._tcp\.db\.a\.test\.", peer.stderr):
        counts[name] = counts.get(name, 0) + 1
    assert max(counts.values(), default=0) <= 1, sorted(
        counts.items(), key=lambda kv: -kv[1])[:5]


# -- a silent peer ----------------------------------------------------------------
class SilentPeer:
    """A UDP socket on 127.0.0.1 that never answers: count() says how many
    datagrams arrived since the last call."""

    def __init__(self):
        self.port = free_port()
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.s.bind(("127.0.0.1", self.port))
        self.s.setblocking(False)

    def count(self):
        n = 0
        try:
            while True:
                self.s.recv(65535)
                n += 1
        except BlockingIOError:
            return n

    def close(self):
        self.s.close()


@pytest.fixture
def silent():
    p = SilentPeer()
    yield p
    p.close()


def test_srv_questions_to_a_silent_peer_are_capped_and_decay(linkdns, silent):
    d = linkdns(asker_table("127.0.0.1@%d" % silent.port))
    time.sleep(1.0)
    silent.count()
    t0 = time.monotonic()
    took = burst(d, distinct_names())
    during = silent.count()
    burst_s = time.monotonic() - t0
    # at most 64 SRV slots of one remote asked at once, each waits 0.5 s
    bound = 64 * (burst_s / 0.5 + 2) + 4 * (burst_s + 1)
    time.sleep(3.0)
    silent.count()
    windows = []
    for _ in range(2):
        time.sleep(2.5)
        windows.append(silent.count() / 2.5)
    print("\nsilent peer: %d distinct SRV questions in %.2f s brought %d "
          "queries (bound %.0f); then %s queries/s" % (
              NAMES, took, during, bound,
              ", ".join("%.1f" % w for w in windows)))
    assert during <= bound, (during, bound)
    # only db's addresses, retried about once a second (A and AAAA)
    assert max(windows) <= 8.0, windows
    r = d.query("_3306._tcp.db", "SRV", source=APP, timeout=5)
    assert dns.rcode.to_text(r.rcode()) == "SERVFAIL", r


# -- a reload ---------------------------------------------------------------------
def test_reload_keeps_answers_and_survives_a_remote_with_none(linkdns, silent):
    peer = linkdns(PEER_TABLE, "--publish-zone", ZONE, "--publish-address",
                   "192.0.2.10", "--ttl", "60")
    # ghost: a remote whose peer never answered (no addresses, no SRV yet)
    d = linkdns(asker_table("127.0.0.1@%d" % peer.port,
                            "add ghost --remote ghost.%s@127.0.0.1@%d\n"
                            "link app ghost\n" % (ZONE, silent.port)))
    wait_db(d)
    r = d.query("_3306._tcp.db", "SRV", source=APP)
    assert rdatas(r, "SRV") == ["0 0 13306 db.link.internal."], r
    before = peer_queries(peer)
    for n in (1, 2):
        mark = d.stderr.count("reloaded:")
        d.proc.send_signal(signal.SIGHUP)
        wait_for("reload %d" % n,
                 lambda: d.stderr.count("reloaded:") > mark, 10.0)
        # what the peer said is still there, not asked again
        r = d.query("db", "A", source=APP)
        assert [rd.address for rrset in r.answer for rd in rrset] == \
            ["192.0.2.10"], r
        r = d.query("_3306._tcp.db", "SRV", source=APP)
        assert rdatas(r, "SRV") == ["0 0 13306 db.link.internal."], r
        r = d.query("ghost", "A", source=APP, timeout=5)
        assert dns.rcode.to_text(r.rcode()) == "SERVFAIL", r
    time.sleep(0.5)
    assert peer_queries(peer) == before, "the peer was asked again on reload"
    # the stop (by the fixture) asserts exit 0 and no sanitizer report


# -- a peer that says more than it was asked ---------------------------------------
TESTNS_PORT = 5300
def peer_entry(question, *answers):
    """An ldns-testns entry: QUESTION (owner, class, type) answered
    authoritatively with the records ANSWERS, the query's ID copied."""
    return ("ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\n"
            "REPLY QR AA NOERROR\nSECTION QUESTION\n%s\nSECTION ANSWER\n"
            "%sENTRY_END\n" % (question, "".join(a + "\n" for a in answers)))


TESTNS_ENTRIES = "\n".join([
    peer_entry("db.a.test. IN A",
                 "DB.a.test. 60 IN A 192.0.2.1",
                 "www.elsewhere.test. 60 IN A 203.0.113.66",
                 "db.a.test.evil. 60 IN A 203.0.113.67",
                 "a.test. 60 IN A 203.0.113.68"),
    peer_entry("db.a.test. IN AAAA",
                 "other.a.test. 60 IN AAAA 2001:db8::66"),
    peer_entry("_80._tcp.db.a.test. IN SRV",
                 "_443._tcp.db.a.test. 60 IN SRV 0 0 8443 db.a.test."),
    peer_entry("_81._tcp.db.a.test. IN SRV",
                 "_81._tcp.other.a.test. 60 IN SRV 0 0 9999 db.a.test.",
                 "_81._tcp.db.a.test. 60 IN SRV 0 0 8081 db.a.test."),
])


def test_peer_records_for_other_owners_are_not_the_containers(net):
    ldns_testns = need_tool("ldns-testns", "ldnsutils")
    ns = net.ns("own")
    d = net.tmpdir()
    entries = os.path.join(d, "entries")
    with open(entries, "w") as f:
        f.write(TESTNS_ENTRIES)
    log = open(os.path.join(d, "testns.log"), "wb")
    net.popen(["ip", "netns", "exec", ns, ldns_testns, "-p",
               str(TESTNS_PORT), entries], stdout=log,
              stderr=subprocess.STDOUT)
    wait_for("ldns-testns answers", lambda: query(
        ns, "127.0.0.1", "db.a.test", port=TESTNS_PORT, timeout=0.3), 10.0)
    r = query(ns, "127.0.0.1", "db.a.test", port=TESTNS_PORT)
    assert len(r.answer) >= 3, r   # the peer does say all that

    b = Linkdnsd(net, ns, "127.0.0.2",
                 asker_table("127.0.0.1@%d" % TESTNS_PORT))
    b.start()
    try:
        def ask(name, rdtype):
            return query(ns, "127.0.0.2", name, rdtype, source=APP)
        _, r = wait_for("db resolves in app", lambda: (
            lambda r: r if r is not None and rdatas(r, "A") else None)(
                ask("db", "A")), 10.0)
        assert rdatas(r, "A") == ["192.0.2.1"], r.to_text()
        r = ask("db", "AAAA")
        assert rcode(r) == "NOERROR" and rdatas(r, "AAAA") == [], r.to_text()
        r = ask("_80._tcp.db", "SRV")
        assert rcode(r) == "NXDOMAIN" and not r.answer, r.to_text()
        r = ask("_81._tcp.db", "SRV")
        assert rdatas(r, "SRV") == ["0 0 8081 db.link.internal."], r.to_text()
    finally:
        b.stop()
