"""A reply to an opcode other than QUERY (NOTIMP) keeps only QR, the ID, the
opcode and the RCODE: RD and CD are defined for QUERY alone (RFC 1035 4.1.1,
RFC 4035 3.1.6), so they are not copied back."""

import struct

import dns.rcode
import pytest

from conftest import make_query, module_daemon

TABLE = "add db --addr 127.0.40.2\nadd web --addr 127.0.40.3\nlink web db\n"
ASKER = "127.0.40.3"

QR, AA, TC, RD, RA, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020, 0x0010


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon(TABLE)


def ask(daemon, opcode, qid):
    """db/A with opcode OPCODE and RD, CD and AD set; the reply's bytes."""
    wire = bytearray(make_query("db", "A", qid=qid).to_wire())
    flags = (struct.unpack("!H", wire[2:4])[0] & ~0x7800) | (opcode << 11)
    wire[2:4] = struct.pack("!H", flags | RD | CD | AD)
    return daemon.exchange_udp(bytes(wire), ASKER)


@pytest.mark.parametrize("opcode", [2, 3, 4, 5, 15])
def test_notimp_reply_clears_rd_and_cd(daemon, opcode):
    # QUERY: RD and CD come back
    data = ask(daemon, 0, 0x5b5b)
    assert data is not None
    _qid, rflags = struct.unpack("!HH", data[:4])
    assert rflags & 0xF == dns.rcode.NOERROR
    assert rflags & RD and rflags & CD, "flags %#06x" % rflags

    data = ask(daemon, opcode, 0x5a5a)
    assert data is not None, "no reply to opcode %d" % opcode
    qid, rflags = struct.unpack("!HH", data[:4])
    assert qid == 0x5a5a
    assert rflags & 0x000F == dns.rcode.NOTIMP, "rcode %d" % (rflags & 15)
    assert (rflags >> 11) & 0xF == opcode, "opcode not copied back"
    assert rflags & QR, "QR not set"
    for name, bit in (("RD", RD), ("CD", CD), ("AD", AD), ("RA", RA),
                      ("AA", AA), ("TC", TC)):
        assert not rflags & bit, "%s set in the NOTIMP reply (flags %#06x)" % (
            name, rflags)
