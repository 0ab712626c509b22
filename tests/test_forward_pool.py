"""The forwarder's request slots: a bounded pool of --max-forwards slots,
allocated in chunks as forwards need them and reused, never freed while the
daemon runs (no allocation per forwarded query).

Exhausting it is the --max-forwards bound: a query beyond it gets SERVFAIL at
once (its own ID and question; counted in forward.overflow and forward.failed),
never a hang and never a crash; the held forwards end (here: SERVFAIL when
their upstream stays silent) and their slots serve the next queries. An
upstream failure (SERVFAIL, REFUSED) kept for the client is kept in the slot up
to 512 bytes and relayed as it came; a larger one gives the client that rcode
with its question.

The upstream is a UDP server of the test's own (a thread), switched between
holding every query unanswered, answering, and answering REFUSED.
"""

import os
import socket
import sys
import threading
import time

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "upstream"))

from conftest import free_port, make_query, rcode_text  # noqa: E402
from harness import fwd_linkdns  # noqa: E402,F401

UPSTREAM = "127.50.8.53"
SLOTS = 100        # --max-forwards: two chunks (64 + 36)
CONTAINERS = 20    # 5 held each: under each view's fair share (100 / 16 = 6)
PER_VIEW = SLOTS // CONTAINERS
ANSWER = "192.0.2.77"


class Upstream:
    """A UDP DNS server on UPSTREAM in a thread. mode: 'hold' (read and
    count, never answer), 'answer' (A ANSWER), 'refused-small' (REFUSED with
    one TXT record in the additional section), 'refused-big' (REFUSED with
    additional records past 512 bytes)."""

    def __init__(self):
        self.port = free_port(UPSTREAM)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((UPSTREAM, self.port))
        self.sock.settimeout(0.2)
        self.mode = "hold"
        self.held = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def endpoint(self):
        return "%s@%d" % (UPSTREAM, self.port)

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode

    def held_count(self):
        with self.lock:
            return self.held

    def _reply(self, q, mode):
        r = dns.message.make_response(q)
        qq = q.question[0]
        if mode == "answer":
            r.answer.append(dns.rrset.from_text(qq.name, 60, "IN", "A", ANSWER))
            return r.to_wire()
        r.set_rcode(dns.rcode.REFUSED)
        n = 1 if mode == "refused-small" else 12
        for i in range(n):
            r.additional.append(dns.rrset.from_text(
                "note%d.%s" % (i, qq.name.to_text()), 60, "IN", "TXT",
                '"%s"' % ("x" * 60)))
        return r.to_wire()

    def _run(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                mode = self.mode
                if mode == "hold":
                    self.held += 1
                    continue
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            self.sock.sendto(self._reply(q, mode), peer)

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def container_addr(i):
    return "127.50.8.%d" % (10 + i)


def table():
    return "".join("add c%d --addr %s\n" % (i, container_addr(i))
                   for i in range(CONTAINERS))


def read_reply(s, q, deadline):
    """The reply to q on s (its ID), within deadline seconds."""
    s.settimeout(deadline)
    while True:
        data = s.recv(65535)
        r = dns.message.from_wire(data)
        if r.id == q.id:
            return r


def exhaust(d, up, tag):
    """Every slot held by a silent upstream, then one query more from each
    container: those get SERVFAIL at once; the held ones SERVFAIL later
    (their attempt times out). Returns the overflow count."""
    up.set_mode("hold")
    held_before = up.held_count()
    pending = []
    for i in range(CONTAINERS):
        for k in range(PER_VIEW):
            s = d.udp_socket(container_addr(i))
            q = make_query("held-%s-%d-%d.pool.test." % (tag, i, k))
            s.send(q.to_wire())
            pending.append((s, q))
    # every slot is in use once the upstream has them all
    deadline = time.monotonic() + 10
    while up.held_count() - held_before < SLOTS:
        assert time.monotonic() < deadline, (
            "the upstream got %d of %d held queries"
            % (up.held_count() - held_before, SLOTS))
        time.sleep(0.01)
    over = 0
    for i in range(0, CONTAINERS, 4):
        q = make_query("over-%s-%d.pool.test." % (tag, i))
        t0 = time.monotonic()
        r = d.query(q.question[0].name.to_text(), source=container_addr(i))
        dt = time.monotonic() - t0
        assert rcode_text(r) == "SERVFAIL", "over the pool: %s" % r
        assert dt < 0.8, "SERVFAIL over the pool took %.3f s" % dt
        assert r.question[0].name == q.question[0].name
        over += 1
    for s, q in pending:
        r = read_reply(s, q, 10.0)
        assert rcode_text(r) == "SERVFAIL", "a held forward ended with %s" % r
        assert r.question[0].name == q.question[0].name
        s.close()
    return over


def recover(d, up, tag):
    """Every container is answered again (slots freed, nothing stuck)."""
    up.set_mode("answer")
    for i in range(CONTAINERS):
        name = "back-%s-%d.pool.test." % (tag, i)
        r = d.query(name, source=container_addr(i))
        assert rcode_text(r) == "NOERROR", "after the pool was full: %s" % r
        got = [rr.to_text() for rrset in r.answer for rr in rrset]
        assert got == [ANSWER], got


def test_pool_exhausted_servfail_at_once_then_recovers(fwd_linkdns):
    """All slots held: SERVFAIL at once beyond them, no crash, counted; the
    held ones end; every container is answered after; twice over, so the
    slots of the first round are the ones reused."""
    up = Upstream()
    try:
        d = fwd_linkdns(table(), "--upstream", up.endpoint(),
                        "--max-forwards", str(SLOTS))
        recover(d, up, "warm")
        for rnd in range(2):
            before = d.stats()
            over = exhaust(d, up, "r%d" % rnd)
            recover(d, up, "r%d" % rnd)
            after = d.stats()
            assert d.running()
            assert after["forward.overflow"] - before["forward.overflow"] == over
            # the overflow and the held forwards that timed out
            assert (after["forward.failed"] - before["forward.failed"]
                    == over + SLOTS)
            assert (after["forwarded"] - before["forwarded"]
                    == SLOTS + over + CONTAINERS)
    finally:
        up.close()


def test_upstream_failure_kept_or_its_rcode(fwd_linkdns):
    """REFUSED from the only upstream: a small answer reaches the client as it
    came (its additional record too), a large one (past 512 bytes) as
    REFUSED with the client's question."""
    up = Upstream()
    try:
        d = fwd_linkdns(table(), "--upstream", up.endpoint(),
                        "--max-forwards", str(SLOTS))
        src = container_addr(0)
        up.set_mode("refused-small")
        r = d.query("Small.Pool.Test.", source=src)
        assert rcode_text(r) == "REFUSED"
        assert r.question[0].name.to_text() == "Small.Pool.Test."
        assert [rr.rdtype for rr in r.additional
                if rr.rdtype != dns.rdatatype.OPT] == [dns.rdatatype.TXT]
        up.set_mode("refused-big")
        r = d.query("Big.Pool.Test.", source=src)
        assert rcode_text(r) == "REFUSED"
        assert r.question[0].name.to_text() == "Big.Pool.Test."
        assert not r.answer and not r.authority
        assert not [rr for rr in r.additional
                    if rr.rdtype != dns.rdatatype.OPT], r
        up.set_mode("answer")
        r = d.query("after.pool.test.", source=src)
        assert rcode_text(r) == "NOERROR"
    finally:
        up.close()
