"""Networks read as an attacker would (issue 13's review): work that a hostile table
can make grow faster than the table, and the paths that refuse or undo.

Addresses: 127.66.0.0/16.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "upstream"))

from conftest import (addresses, free_port, rcode_text, records,  # noqa: E402
                      reverse_name, run_linkdnsd)
from harness import Recorder, fwd_linkdns  # noqa: E402,F401

ASKER = "127.66.0.1"
DUP_A = "127.66.1.1"
DUP_B = "127.66.1.2"

NETS = 32           # the asker is on as many networks as one container may be
HOLDERS = 1500      # containers holding the alias "x" on each of them


def crowded_alias_table():
    """An alias held by NETS * HOLDERS containers, HOLDERS on each of the asker's
    networks; "dup" holds it on two of them, with an address on each."""
    lines = ["net n%d" % i for i in range(NETS)]
    lines.append("add asker")
    lines.append("add dup")
    for i in range(NETS):
        for k in range(HOLDERS):
            lines.append("add h%d-%d" % (i, k))
    lines.append("attach asker n0 --addr %s" % ASKER)
    lines += ["attach asker n%d" % i for i in range(1, NETS)]
    lines.append("attach dup n0 --addr %s --alias x" % DUP_A)
    lines.append("attach dup n1 --addr %s --alias x" % DUP_B)
    for i in range(NETS):
        for k in range(HOLDERS):
            lines.append("attach h%d-%d n%d --alias x" % (i, k, i))
    return "\n".join(lines) + "\n"


def test_alias_held_by_many_answers_in_linear_time(linkdns):
    # Each holder of a name was looked for among the holders on the asker's earlier
    # networks: 48000 holders cost ~1e9 comparisons per walk, several walks a query.
    d = linkdns(crowded_alias_table(), start_deadline=120)
    start = time.monotonic()
    for rdtype in ("A", "AAAA", "A"):
        r = d.query("x", rdtype, source=ASKER, timeout=10)
        assert rcode_text(r) == "NOERROR"
    took = time.monotonic() - start
    # dup counts once, each of its addresses once
    assert addresses(d.query("x", source=ASKER)) == sorted([DUP_A, DUP_B])
    assert took < 1.5, "three queries took %.2f s" % took


def test_network_dns_naming_a_network_listener_is_not_asked(fwd_linkdns):
    # A network's --dns naming a network listener sent the query back to the daemon,
    # whose host view there forwarded it again (to its own listener, or to another
    # network's whose --dns names the first): a loop until the forward bound. Such an
    # upstream is ignored as the daemon's own --listen is: the defaults answer.
    default = Recorder("127.66.5.53", "192.0.2.66")
    try:
        pa, pb = free_port("127.66.2.1"), free_port("127.66.2.2")
        gwa, gwb = "127.66.2.1@%d" % pa, "127.66.2.2@%d" % pb
        d = fwd_linkdns("net a --listen %s --dns %s\nnet b --listen %s --dns %s\n"
                        "net c --dns %s\nadd x\nadd y\n"
                        "attach x a --addr 127.66.3.1\nattach y c --addr 127.66.3.2\n"
                        % (gwa, gwa, gwb, gwa, gwb), "--upstream", default.endpoint())
        d.wait_log(r"network 'a': listening on 127\.66\.2\.1@%d" % pa)
        d.wait_log(r"network 'b': listening on 127\.66\.2\.2@%d" % pb)
        for source in ("127.66.3.1", "127.66.3.2"):
            before = d.stats()["forwarded"]
            r = d.query("x.example.test", source=source, timeout=10)
            assert addresses(r) == ["192.0.2.66"], (source, rcode_text(r))
            # one forward: the query never came back to the daemon
            assert d.stats()["forwarded"] - before == 1, source
        # a listener named later (net --replace) is ignored from then on
        pc = free_port("127.66.2.3")
        gwc = "127.66.2.3@%d" % pc
        d.ok("net", "c", "--replace", "--listen", gwc, "--dns", gwc)
        d.wait_log(r"network 'c': listening on 127\.66\.2\.3@%d" % pc)
        before = d.stats()["forwarded"]
        r = d.query("y.example.test", source="127.66.3.2", timeout=10)
        assert addresses(r) == ["192.0.2.66"], rcode_text(r)
        assert d.stats()["forwarded"] - before == 1
    finally:
        default.close()


def listen_opts(base, n):
    return " ".join("--listen 127.66.%d.%d@5300" % (base, k + 1) for k in range(n))


def check_config(tmp_path, table):
    path = tmp_path / "links"
    path.write_text(table)
    return run_linkdnsd(["--check-config", "--state", str(path), "--no-upstream"])


def test_network_listeners_are_bounded_in_all(tmp_path):
    # Each --listen is two sockets and a retry timer, and every table change compares
    # them all: 4096 networks of 16 each were 65536 listeners (131072 descriptors).
    full = "".join("net n%d %s\n" % (i, listen_opts(10 + i, 16)) for i in range(16))
    p = check_config(tmp_path, full)
    assert p.returncode == 0, p.stderr
    p = check_config(tmp_path, full + "net one-more --listen 127.66.9.1@5300\n")
    assert p.returncode != 0
    assert "too many network listeners (at most 256" in p.stderr
    # a --replace gives back what the network had, an unnet all of it
    table = (full + "net n0 --replace --listen 127.66.7.1@5300\n"
             "net extra %s\n" % listen_opts(9, 15) + "unnet extra\n"
             "net extra2 %s\n" % listen_opts(8, 15))
    p = check_config(tmp_path, table)
    assert p.returncode == 0, p.stderr
    p = check_config(tmp_path, table + "net z --listen 127.66.9.200@5300\n")
    assert "too many network listeners" in p.stderr


def test_pod_member_keeps_the_address_when_the_first_leaves(linkdns):
    # Two members of a pod (one namespace) share an address on a network: the first
    # held its PTR entry, and when it left the address had none in the served table
    # (NXDOMAIN) while a reload gave the other member's: the table answered other than
    # it loads. The other member takes it over.
    pod, c, other = "127.66.40.1", "127.66.40.3", "127.66.40.9"
    d = linkdns("net n\nadd a --pid 1\nadd b --pid 1\nadd c\nadd p --pid 1\n"
                "attach a n --addr %s\nattach b n --addr %s\nattach p n --addr %s\n"
                "attach c n --addr %s\n" % (pod, pod, pod, c))

    def ptr():
        r = d.query(reverse_name(pod), "PTR", source=c)
        return rcode_text(r), [rd.target.to_text() for rd in records(r.answer, "PTR")]
    assert ptr() == ("NOERROR", ["a.link.internal."])
    d.ok("detach", "a", "n")
    assert ptr() == ("NOERROR", ["b.link.internal."])
    d.ok("rm", "b")
    assert ptr() == ("NOERROR", ["p.link.internal."])
    # the address stays taken on n for a container of another namespace
    d.ok("add", "e", "--addr", other)
    p = d.ctl("attach", "e", "n", "--addr", pod)
    assert p.returncode != 0 and "already used on 'n' by 'p'" in p.stderr
    d.ok("rm", "p")
    assert ptr()[0] == "NXDOMAIN"
    d.ok("attach", "e", "n", "--addr", pod)
    assert ptr() == ("NOERROR", ["e.link.internal."])
