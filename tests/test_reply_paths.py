"""Replies that travel later (client.c, dispatch.c, tcp.c, xfr.c's stream):
zone transfers pulled by the TCP writer while the secondary reads slowly.

The daemon runs inside a namespace of the test's own whose TCP buffers are
made tiny (net.ipv4.tcp_wmem and tcp_rmem are per namespace), so that a
secondary that does not read stalls a transfer in the daemon, not in the
kernel, with a zone of a few thousand records.

Addresses: 127.56.0.0/16 (inside the namespace only): containers
127.56.1.x and up, the secondary 127.56.0.1.
"""

import os
import socket
import time

import dns.message
import dns.rdatatype

from conftest import (linkdns, rss_env, run, socket_in, status_kib,  # noqa: F401
                      tcp_frame, tcp_read_message)

NETNS_PREFIX = "ldr%d-" % os.getpid()   # for conftest's namespaces fixture
ZONE = "z.test"
SECONDARY = "127.56.0.1"


def table(n, first=0):
    return "".join("add c%d --addr 127.56.%d.%d --publish %d:80/tcp\n"
                   % (i, 1 + i // 250, 1 + i % 250, 10000 + i)
                   for i in range(first, first + n))


def tiny_tcp_buffers(ns):
    for key in ("net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem"):
        run(["ip", "netns", "exec", ns, "sysctl", "-qw",
             "%s=4096 4096 4096" % key])


def publisher(linkdns, namespaces, n, **kw):  # noqa: F811
    ns = namespaces.add("x")
    tiny_tcp_buffers(ns)
    d = linkdns(table(n), "--publish-zone", ZONE, "--publish-address",
                "192.0.2.10", "--transfer-allow", SECONDARY, "--tcp-max",
                "256", "--tcp-idle", "60", netns=ns, **kw)
    return ns, d


def stalled_axfr(ns, d):
    """A connection that asked for the zone and reads nothing (yet)."""
    s = socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20)
    s.bind((SECONDARY, 0))
    s.connect(("127.0.0.1", d.port))
    s.sendall(tcp_frame(dns.message.make_query(ZONE, "AXFR").to_wire()))
    return s


def read_axfr(s):
    """Every record of the transfer on s, up to the closing SOA."""
    rrs = []
    while True:
        m = dns.message.from_wire(tcp_read_message(s), one_rr_per_rrset=True)
        assert m.rcode() == 0, m.to_text()
        rrs += m.answer
        if len(rrs) > 1 and rrs[-1].rdtype == dns.rdatatype.SOA:
            return rrs


def settled_rss(pid):
    """VmRSS once it stopped moving (the daemon caught up with the
    connections just opened)."""
    last, t_end = status_kib(pid, "VmRSS"), time.monotonic() + 10
    while time.monotonic() < t_end:
        time.sleep(0.5)
        now = status_kib(pid, "VmRSS")
        if abs(now - last) < 64:
            return now
        last = now
    return last


def test_stalled_transfers_share_one_copy_of_the_zone(linkdns, namespaces):  # noqa: F811
    """Regression caught on 19d2b1d: every transfer under way held a deep
    copy of the zone (ldns records, several times the wire size), so
    --tcp-max secondaries that ask and read slowly held --tcp-max copies
    (3.3 MB each for 3,000 published containers here, ten times what the
    transfer before it held).  Transfers of the same serial now share one
    copy: thirty more stalled transfers cost less than two more copies."""
    ns, d = publisher(linkdns, namespaces, 3000, env=rss_env())
    pid = d.proc.pid
    socks = []
    try:
        r0 = settled_rss(pid)
        socks.append(stalled_axfr(ns, d))
        r1 = settled_rss(pid)
        for _ in range(30):
            socks.append(stalled_axfr(ns, d))
        r2 = settled_rss(pid)
        one, more = r1 - r0, r2 - r1
        print("VmRSS %d KiB; one stalled transfer +%d KiB, 30 more +%d KiB"
              % (r0, one, more))
        assert one > 500, "the first transfer did not stall (+%d KiB)" % one
        assert more < 2 * one, (one, more)
        # and each still gets the whole zone once it reads
        for s in socks[:3]:
            rrs = read_axfr(s)
            assert len(rrs) == 3 * 3000 + 4, len(rrs)
    finally:
        for s in socks:
            s.close()
    assert d.running()


def test_transfer_under_way_keeps_its_serial_while_the_zone_changes(
        linkdns, namespaces):  # noqa: F811
    """A transfer started before a change is the zone as it was (its
    serial, none of the new records), whole and unchanged even though a
    copy is shared; a transfer started after gets the new serial and the
    new container."""
    ns, d = publisher(linkdns, namespaces, 1500)
    old = stalled_axfr(ns, d)
    try:
        time.sleep(0.5)      # under way: its copy taken
        d.ok("add", "late", "--addr", "127.56.100.1", "--publish",
             "9999:80/tcp")
        new = stalled_axfr(ns, d)
        try:
            after = read_axfr(new)
        finally:
            new.close()
        before = read_axfr(old)
    finally:
        old.close()
    names = lambda rrs: {r.name.to_text() for r in rrs}  # noqa: E731
    serial = lambda rrs: (rrs[0][0].serial, rrs[-1][0].serial)  # noqa: E731
    assert "late.%s." % ZONE not in names(before)
    assert "late.%s." % ZONE in names(after)
    assert len(before) == 3 * 1500 + 4 and len(after) == 3 * 1501 + 4
    s_before, s_after = serial(before), serial(after)
    assert s_before[0] == s_before[1] and s_after[0] == s_after[1]
    assert s_after[0] > s_before[0], (s_before, s_after)
    assert d.running()
