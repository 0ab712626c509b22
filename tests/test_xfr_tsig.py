"""TSIG on zone transfers: the key, the MAC and the time are each checked, and
a refusal says which one failed, as RFC 8945 section 5.2 and Knot/NSD do.

    BADKEY  (17): a key name or algorithm other than --tsig's   NOTAUTH, unsigned
    BADSIG  (16): the MAC does not verify                        NOTAUTH, unsigned
    BADTIME (18): time signed outside the request's fudge       NOTAUTH, signed, with
                  the client's time signed and the server's time in Other Data

A NOTIFY is acknowledged only by a reply signed with the key, over the
NOTIFY's MAC and within the fudge: anything else leaves it retried.

The daemon listens on 127.0.0.1 (a free port) and allows transfers to
127.0.0.1; dnspython signs the requests, with a chosen time signed where the
test needs one (dnspython signs with time.time(), patched for that message).
"""

import base64
import os
import socket
import struct
import time
from unittest import mock

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import pytest

from conftest import free_port, tcp_frame, tcp_read_message, wait_for

ZONE = "a.test"
TABLE = "add db --addr 127.0.20.2 --publish 13306:3306/tcp\n"
KEY_NAME = "xfr-key."
SECRET = base64.b64encode(os.urandom(32)).decode()

BADSIG, BADKEY, BADTIME = 16, 17, 18


@pytest.fixture
def primary(linkdns):
    return linkdns(TABLE, "--publish-zone", ZONE, "--publish-address",
                   "192.0.2.10", "--transfer-allow", "127.0.0.1",
                   "--notify", "127.0.0.1@%d" % free_port(),
                   "--tsig", "%s:hmac-sha256:%s" % (KEY_NAME.rstrip("."),
                                                    SECRET))


def key(name=KEY_NAME, secret=SECRET, algorithm=dns.tsig.HMAC_SHA256):
    return dns.tsig.Key(name, secret, algorithm)


def signed_axfr(k, time_signed=None, fudge=300):
    """An AXFR for ZONE signed with key K at TIME_SIGNED (default now);
    (wire, request MAC)."""
    q = dns.message.make_query(ZONE, "AXFR")
    q.use_tsig(k, fudge=fudge)
    if time_signed is None:
        wire = q.to_wire()
    else:
        with mock.patch.object(dns.message.time, "time",
                               return_value=float(time_signed)):
            wire = q.to_wire()
    return wire, q.mac


def exchange(d, wire):
    """The first reply message to WIRE over TCP."""
    s = d.tcp_connect()
    try:
        s.sendall(tcp_frame(wire))
        return tcp_read_message(s)
    finally:
        s.close()


def _skip_name(wire, off):
    return off + dns.name.from_wire(wire, off)[1]


def tsig_of(wire):
    """(offset, owner, rdata) of the TSIG record ending WIRE, or None."""
    qd, an, ns, ar = struct.unpack("!HHHH", wire[4:12])
    off = 12
    for _ in range(qd):
        off = _skip_name(wire, off) + 4
    total = an + ns + ar
    for i in range(total):
        start = off
        off = _skip_name(wire, off)
        rtype, _rclass, _ttl, rdlen = struct.unpack("!HHIH", wire[off:off + 10])
        off += 10
        if i == total - 1 and rtype == dns.rdatatype.TSIG:
            owner = dns.name.from_wire(wire, start)[0]
            rd = dns.rdata.from_wire(dns.rdataclass.ANY, dns.rdatatype.TSIG,
                                     wire, off, rdlen)
            return start, owner, rd
        off += rdlen
    return None


def header(wire):
    """(rcode, ancount)"""
    flags, _qd, an = struct.unpack("!HHH", wire[2:8])
    return flags & 0xF, an


def assert_refused(d, wire, error):
    """A NOTAUTH reply with no record of the zone and a TSIG record with
    ERROR; returns (TSIG offset, owner, rdata)."""
    reply = exchange(d, wire)
    rcode, an = header(reply)
    assert rcode == dns.rcode.NOTAUTH, (dns.rcode.to_text(rcode), reply)
    assert an == 0, "zone records in a refusal"
    t = tsig_of(reply)
    assert t is not None, "no TSIG record in the refusal"
    _off, owner, rd = t
    assert rd.error == error, "TSIG error %d, expected %d" % (rd.error, error)
    return reply, t


def test_axfr_signed_in_2001_is_badtime_signed_with_both_times(primary):
    then = int(time.mktime((2001, 9, 9, 12, 0, 0, 0, 0, 0)))
    wire, request_mac = signed_axfr(key(), then)
    reply, (off, owner, rd) = assert_refused(primary, wire, BADTIME)
    assert owner == dns.name.from_text(KEY_NAME)
    assert rd.algorithm == dns.tsig.HMAC_SHA256
    # the client's own time comes back, the server's is in Other Data
    assert rd.time_signed == then, rd.time_signed
    assert len(rd.other) == 6, rd.other
    server_time = int.from_bytes(rd.other, "big")
    assert abs(server_time - time.time()) < 60, server_time
    # signed with the key, over the request's MAC (RFC 8945 5.2.3)
    assert rd.mac, "BADTIME reply not signed"
    (ar,) = struct.unpack("!H", reply[10:12])
    unsigned = reply[:10] + struct.pack("!H", ar - 1) + reply[12:off]
    ctx = dns.tsig._digest(unsigned, key(), rd, None, request_mac)
    assert ctx.sign() == rd.mac, "BADTIME reply MAC does not verify"
    assert "BADTIME" in primary.stderr


@pytest.mark.parametrize("skew", [-3600, -400, 400, 3600])
def test_axfr_outside_the_fudge_is_badtime_inside_gets_the_zone(primary,
                                                                 skew):
    wire, _ = signed_axfr(key(), int(time.time()) + skew, fudge=300)
    assert_refused(primary, wire, BADTIME)
    # a clock 100 s off the same way, inside the 300 s fudge: the zone
    wire, _ = signed_axfr(key(), int(time.time()) + (100 if skew > 0 else -100))
    reply = exchange(primary, wire)
    rcode, an = header(reply)
    assert rcode == dns.rcode.NOERROR and an > 0, dns.rcode.to_text(rcode)


def test_axfr_with_hmac_md5_and_the_same_secret_is_badkey(primary):
    # with the configured algorithm: the zone, every message verified by
    # dnspython
    msgs = list(dns.query.xfr("127.0.0.1", ZONE, port=primary.port,
                              keyring=key(), keyname=KEY_NAME,
                              keyalgorithm=dns.tsig.HMAC_SHA256, timeout=10,
                              relativize=False))
    names = {rrset.name.to_text() for m in msgs for rrset in m.answer}
    assert "_3306._tcp.db.%s." % ZONE in names, names
    # the same secret under hmac-md5: BADKEY, unsigned
    wire, _ = signed_axfr(key(algorithm=dns.tsig.HMAC_MD5))
    _reply, (_off, owner, rd) = assert_refused(primary, wire, BADKEY)
    assert rd.mac == b"", "BADKEY reply signed"
    assert rd.algorithm == dns.tsig.HMAC_MD5   # the request's, echoed
    assert owner == dns.name.from_text(KEY_NAME)


def test_axfr_with_another_key_name_is_badkey(primary):
    wire, _ = signed_axfr(key(name="other-key."))
    _reply, (_off, _owner, rd) = assert_refused(primary, wire, BADKEY)
    assert rd.mac == b""


def test_axfr_with_a_wrong_secret_is_badsig_unsigned(primary):
    wrong = base64.b64encode(os.urandom(32)).decode()
    wire, _ = signed_axfr(key(secret=wrong))
    _reply, (_off, _owner, rd) = assert_refused(primary, wire, BADSIG)
    assert rd.mac == b"", "BADSIG reply signed"


@pytest.mark.parametrize("rdata", [b"", b"\x0bhmac-sha256\x00"],
                         ids=["empty", "algorithm-only"])
def test_axfr_with_a_cut_short_tsig_is_notauth_and_the_daemon_lives(primary,
                                                                    rdata):
    """A TSIG record that ldns parses but that has fewer than its seven
    fields (RDLENGTH 0, or the algorithm name only) must not reach code that
    echoes its fields: the daemon aborted on an assertion in ldns."""
    q = dns.message.make_query(ZONE, "AXFR").to_wire()
    q = q[:10] + b"\x00\x01" + q[12:]               # ARCOUNT 1
    q += dns.name.from_text(KEY_NAME).to_wire()
    q += struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata
    reply = exchange(primary, q)
    rcode, an = header(reply)
    assert rcode in (dns.rcode.NOTAUTH, dns.rcode.FORMERR), rcode
    assert an == 0, "zone records for a malformed TSIG"
    assert primary.running(), primary.stderr
    assert primary.query(ZONE, "SOA").rcode() == dns.rcode.NOERROR


# -- NOTIFY: only a reply signed with the key acknowledges it ----------------------
class Secondary:
    """A UDP socket at the --notify address that plays the secondary: it
    receives the daemon's NOTIFYs (verified with the key) and answers as the
    test says."""

    def __init__(self):
        self.port = free_port()
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", self.port))

    def notify(self, timeout):
        """The next NOTIFY (parsed and its TSIG verified) and its sender, or
        (None, None) when none comes within TIMEOUT."""
        self.s.settimeout(timeout)
        try:
            data, peer = self.s.recvfrom(65535)
        except socket.timeout:
            return None, None
        msg = dns.message.from_wire(data, keyring={
            dns.name.from_text(KEY_NAME): key()})
        assert msg.opcode() == dns.opcode.NOTIFY, msg
        return msg, peer

    def reply(self, msg, peer, k=None, time_signed=None):
        """Acknowledges MSG: unsigned (K None) or signed with K at
        TIME_SIGNED (default now) over MSG's MAC."""
        r = dns.message.make_response(msg)
        r.flags |= dns.flags.AA
        if k is None:
            r.keyring = None
            r.tsig = None
            wire = r.to_wire()
        else:
            r.use_tsig(k)
            r.request_mac = msg.mac
            with mock.patch.object(dns.message.time, "time",
                                   return_value=float(time_signed or
                                                      time.time())):
                wire = r.to_wire()
        self.s.sendto(wire, peer)

    def close(self):
        self.s.close()


def test_notify_is_acknowledged_only_by_a_signed_reply(linkdns):
    sec = Secondary()
    try:
        d = linkdns(TABLE, "--publish-zone", ZONE, "--publish-address",
                    "192.0.2.10", "--transfer-allow", "127.0.0.1",
                    "--notify", "127.0.0.1@%d" % sec.port, "--tsig",
                    "%s:hmac-sha256:%s" % (KEY_NAME.rstrip("."), SECRET))
        msg, peer = sec.notify(10)
        assert msg is not None, "no NOTIFY at start-up\n" + d.stderr
        # unsigned, then signed in 2001, then with hmac-md5: not taken
        then = int(time.mktime((2001, 9, 9, 12, 0, 0, 0, 0, 0)))
        for how in ({}, {"k": key(), "time_signed": then},
                    {"k": key(algorithm=dns.tsig.HMAC_MD5)}):
            sec.reply(msg, peer, **how)
            msg, peer = sec.notify(10)
            assert msg is not None, ("a reply %r stopped the NOTIFYs\n%s"
                                     % (how, d.stderr))
        assert "acknowledged" not in d.stderr, d.stderr
        # signed with the key, now: acknowledged, no more NOTIFYs
        sec.reply(msg, peer, k=key())
        wait_for("NOTIFY acknowledged",
                 lambda: "acknowledged" in d.stderr, 10.0)
        more, _ = sec.notify(3)
        assert more is None, "NOTIFY sent again after a signed reply"
    finally:
        sec.close()
