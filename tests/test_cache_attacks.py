"""The answer cache from an attacker's side, against the real daemon: a
hostile upstream's crafted answer, a container whose upstream set changes
while its query is in flight, the flush command's argument.

The unit side (tests/unit/test_cache_attacks.c) holds the hash: keys that
collided for every seed, piled in one bucket chain.
"""

import os
import sys
import threading
import time

import dns.message
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "upstream"))

from conftest import addresses  # noqa: E402
from harness import LoopbackServer, fwd_linkdns  # noqa: E402,F401
from test_cache import Zone, ask, cache_stats  # noqa: E402


class PointerIntoTtl(LoopbackServer):
    """Answers every A query with an A record of TTL 256 and a CNAME whose
    target is a compression pointer at the A record's last TTL octet (0:
    the root). Well formed, and the relay takes it; counted down to 255 by
    a cache, the target becomes 0xff 0x00, a pointer past the message."""

    def __init__(self, addr):
        self.asked = 0
        super().__init__(addr)

    def _answers(self, wire, tcp):
        if len(wire) < 17:
            return []
        end = 12
        while wire[end]:
            end += 1 + wire[end]
        qend = end + 5
        self.asked += 1
        ttl_last = qend + 6 + 3
        out = (wire[:2] + b"\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00"
               + wire[12:qend]
               + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x00\x00\x04"
               + b"\xc0\x00\x02\x01"
               + b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x01\x2c\x00\x02"
               + bytes([0xc0, ttl_last]))
        return [len(out).to_bytes(2, "big") + out if tcp else out]


def test_no_malformed_answer_from_the_cache(fwd_linkdns):
    up = PointerIntoTtl("127.52.0.53")
    try:
        d = fwd_linkdns("add c --addr 127.52.0.2\n", "--upstream",
                        up.endpoint(), "--cache-size", "1M")
        q = dns.message.make_query("ptr.attack.test", "A")
        for i in range(3):
            wire = d.exchange_udp(q.to_wire(), source="127.52.0.2")
            assert wire is not None, "no reply %d" % i
            try:
                dns.message.from_wire(wire)
            except Exception as e:
                pytest.fail("reply %d is malformed (%s): %s"
                            % (i, e, wire.hex()))
            time.sleep(1.1)     # the countdown changes the TTL octet
    finally:
        up.close()


class SlowZone(Zone):
    """A Zone that holds its answer to the names in .slow for .delay s."""

    def __init__(self, addr, names=None, slow=(), delay=0.6):
        self.slow, self.delay = set(slow), delay
        super().__init__(addr, names)

    def _answers(self, wire, tcp):
        out = super()._answers(wire, tcp)
        try:
            name = dns.message.from_wire(wire).question[0].name
            if name.to_text().lower() in self.slow:
                time.sleep(self.delay)
        except Exception:
            pass
        return out


def test_set_swapped_while_in_flight(fwd_linkdns):
    """b's query goes to the defaults; before their answer comes, the
    table gives b a --dns of its own. The answer is kept under the
    defaults' set (c, on the defaults, gets it from the cache), and b asks
    its new server."""
    name = "swap.attack.test"
    zone = SlowZone("127.52.1.53", {name + ".": dict(a=["192.0.2.42"])},
                    slow={name + "."})
    other = Zone("127.52.1.55", {name + ".": dict(a=["192.0.2.99"])})
    try:
        d = fwd_linkdns("add b --addr 127.52.1.2\n"
                        "add c --addr 127.52.1.3\n",
                        "--upstream", zone.endpoint(), "--cache-size", "1M")
        got = {}
        t = threading.Thread(target=lambda: got.update(
            r=ask(d, name, source="127.52.1.2")))
        t.start()
        deadline = time.monotonic() + 5
        while zone.count(name + ".") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        d.ok("add", "b", "--replace", "--addr", "127.52.1.2", "--dns",
             other.endpoint())
        t.join(10)
        assert addresses(got["r"]) == ["192.0.2.42"], "the query in flight"
        assert addresses(ask(d, name, source="127.52.1.2")) \
            == ["192.0.2.99"], "b got the defaults' answer after its change"
        assert other.count(name + ".") == 1
        assert addresses(ask(d, name, source="127.52.1.3")) \
            == ["192.0.2.42"]
        assert zone.count(name + ".") == 1, \
            "the answer was not kept under the set it came from"
    finally:
        zone.close()
        other.close()


def test_flush_refuses_bad_domains(fwd_linkdns):
    zone = Zone("127.52.2.53")
    try:
        d = fwd_linkdns("add c --addr 127.52.2.2\n", "--upstream",
                        zone.endpoint(), "--cache-size", "1M")
        ask(d, "keep.attack.test", source="127.52.2.2")
        for bad in ("a" * 64 + ".test", ".".join(["abcdefghi"] * 26),
                    "x" * 5000, "a..b", "-", "a b"):
            p = d.ctl("flush", bad)
            assert p.returncode != 0, "flush %r: %s" % (bad[:40], p.stdout)
        p = d.ctl("flush", "a", "b")
        assert p.returncode != 0
        assert cache_stats(d)["entries"] == 1, "a refused flush flushed"
        assert "flushed 1" in d.ok("flush", "TEST.")
    finally:
        zone.close()
