"""Networks (linkdns.links(5), "NETWORKS"): names scoped by the networks two
containers share, aliases, PTR ranking, SRV, a network's own domain, and the
table rules of net, unnet, attach and detach.

Addresses: 127.61.0.0/16.
"""

import os
import sys

import dns.rcode
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "upstream"))

from conftest import addresses, module_daemon, rcode_text, records, reverse_name  # noqa
from harness import Recorder, fwd_linkdns  # noqa: F401

# front: web (front only), app (front and back); back: db (back only), db2 (replica)
WEB = "127.61.1.2"
APP_F = "127.61.1.3"
APP_B = "127.61.2.3"
DB = "127.61.2.4"
DB2 = "127.61.2.5"
LONE = "127.61.3.1"
POD = "127.61.4.1"
POD_B = "127.61.4.2"

TABLE = """\
net front
net back --domain dns.podman
add web
add app --expose 8080/tcp
add db --expose 5432/tcp
add db2 --expose 5432/tcp
add lone --addr %(LONE)s
add pod
attach web front --addr %(WEB)s --alias www
attach app front --addr %(APP_F)s --alias api.v2
attach app back --addr %(APP_B)s
attach db back --addr %(DB)s --alias store --alias pg.data
attach db2 back --addr %(DB2)s --alias store
attach pod front --addr %(POD)s
attach pod back --addr %(POD_B)s
link lone app
link web app:backend
""" % dict(WEB=WEB, APP_F=APP_F, APP_B=APP_B, DB=DB, DB2=DB2, LONE=LONE,
           POD=POD, POD_B=POD_B)


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon(TABLE)


def ask(d, name, rdtype="A", source=WEB):
    return d.query(name, rdtype, source=source)


def test_front_sees_front_names(daemon):
    assert addresses(ask(daemon, "app")) == [APP_F]
    assert addresses(ask(daemon, "app.link.internal")) == [APP_F]
    assert addresses(ask(daemon, "www", source=APP_F)) == [WEB]


def test_front_never_sees_back(daemon):
    # db is on back only: no name, no address, no PTR for web
    for name in ("db", "db.link.internal", "db.dns.podman", "store", "store.dns.podman"):
        r = ask(daemon, name)
        assert addresses(r) == [], name
        assert APP_B not in str(r)
    for name in ("app", "backend", "app.link.internal"):
        assert APP_B not in addresses(ask(daemon, name)), name
    r = ask(daemon, reverse_name(APP_B), "PTR")
    assert rcode_text(r) == "NXDOMAIN"
    r = ask(daemon, reverse_name(DB), "PTR")
    assert rcode_text(r) == "NXDOMAIN"


def test_both_networks_see_both(daemon):
    # app is on both: db on back, web on front; db sees app's back address only
    assert addresses(ask(daemon, "db", source=APP_F)) == [DB]
    assert addresses(ask(daemon, "web", source=APP_B)) == [WEB]
    assert addresses(ask(daemon, "app", source=DB)) == [APP_B]
    # pod shares both networks with app: both addresses
    assert addresses(ask(daemon, "app", source=POD)) == sorted([APP_F, APP_B])


def test_network_domain(daemon):
    assert addresses(ask(daemon, "db.dns.podman", source=DB2)) == [DB]
    assert addresses(ask(daemon, "app.dns.podman", source=DB2)) == [APP_B]
    r = ask(daemon, "nosuch.dns.podman", source=DB2)
    assert rcode_text(r) == "NXDOMAIN" and r.flags & 0x400
    r = ask(daemon, "dns.podman", "SOA", source=DB2)
    assert records(r.answer, "SOA")
    # front names are under link.internal, back names under dns.podman only
    assert rcode_text(ask(daemon, "db.link.internal", source=DB2)) == "NXDOMAIN"
    # every view gets NXDOMAIN for an unknown name under a network domain
    assert rcode_text(ask(daemon, "nosuch.dns.podman", source=LONE)) == "NXDOMAIN"


def test_replicas_and_multilabel_aliases(daemon):
    assert addresses(ask(daemon, "store", source=APP_B)) == sorted([DB, DB2])
    assert addresses(ask(daemon, "store.dns.podman", source=APP_B)) == sorted([DB, DB2])
    assert addresses(ask(daemon, "pg.data", source=DB2)) == [DB]
    r = ask(daemon, "data", source=DB2)  # parent of pg.data: an empty non-terminal
    assert rcode_text(r) == "NOERROR" and addresses(r) == []
    assert addresses(ask(daemon, "api.v2", source=WEB)) == [APP_F]
    r = ask(daemon, "v2", source=WEB)
    assert rcode_text(r) == "NOERROR" and addresses(r) == []


def test_links_next_to_networks(daemon):
    # lone shares no network with app: the link answers all of app's addresses
    assert addresses(ask(daemon, "app", source=LONE)) == sorted([APP_F, APP_B])
    # web links to app and shares front: the link answers front's address only
    assert addresses(ask(daemon, "backend", source=WEB)) == [APP_F]


def test_own_name_first(daemon):
    assert addresses(ask(daemon, "web", source=WEB)) == [WEB]


def test_ptr_ranking(daemon):
    def ptr(addr, source):
        r = ask(daemon, reverse_name(addr), "PTR", source=source)
        return [rd.target.to_text() for rd in records(r.answer, "PTR")]
    assert ptr(WEB, WEB) == ["web.link.internal."]              # own
    assert ptr(APP_F, WEB) == ["backend.link.internal."]        # link first
    assert ptr(WEB, APP_F) == ["web.link.internal."]            # network (front: D)
    assert ptr(DB, APP_B) == ["db.dns.podman."]                 # network's domain


def test_srv(daemon):
    r = ask(daemon, "_5432._tcp.db", "SRV", source=APP_B)
    srv = records(r.answer, "SRV")
    assert [(s.port, s.target.to_text()) for s in srv] == [(5432, "db.dns.podman.")]
    assert addresses(r, section="additional") == [DB]
    r = ask(daemon, "_8080._tcp.app", "SRV", source=WEB)
    assert [(s.port, s.target.to_text()) for s in records(r.answer, "SRV")] == \
        [(8080, "app.link.internal.")]
    assert addresses(r, section="additional") == [APP_F]


def test_table_rules(linkdns):
    d = linkdns("net n1\nadd a\nadd b\nattach a n1 --addr 127.61.9.1\n")
    p = d.ctl("net", "n2", "--internal", "--dns", "127.0.0.1")
    assert p.returncode == 2 and "excludes" in p.stderr
    p = d.ctl("unnet", "n1")
    assert p.returncode == 1 and "'a'" in p.stderr
    d.ok("net", "n1")  # identical: nothing to do
    p = d.ctl("net", "n1", "--internal")
    assert p.returncode == 1 and "exists" in p.stderr
    p = d.ctl("attach", "b", "n1", "--addr", "127.61.9.1")
    assert p.returncode == 1 and "already used" in p.stderr
    p = d.ctl("attach", "a", "n1")
    assert p.returncode == 1 and "already attached" in p.stderr
    d.ok("net", "n1", "--replace", "--domain", "n1.test")
    assert addresses(d.query("a.n1.test", source="127.61.9.1")) == ["127.61.9.1"]
    d.ok("detach", "a", "n1")
    assert addresses(d.query("a", source="127.61.9.1")) == []
    d.ok("unnet", "n1")
    p = d.ctl("unnet", "n1")
    assert p.returncode == 1 and "does not exist" in p.stderr


def test_owner_of_net(linkdns):
    d = linkdns("net n1 --owner cni:x\n")
    p = d.ctl("unnet", "n1", "--owner", "cni:y")
    assert p.returncode == 1 and "owned" in p.stderr
    d.ok("unnet", "n1", "--owner", "cni:x")


def test_rm_and_replace_keep_or_drop_attachments(linkdns):
    d = linkdns("net n\nadd a\nadd b\nattach a n --addr 127.61.8.1 --alias al\n"
                "attach b n --addr 127.61.8.2\n")
    d.ok("add", "a", "--replace", "--expose", "80/tcp")
    assert addresses(d.query("al", source="127.61.8.2")) == ["127.61.8.1"]
    d.ok("rm", "a")
    assert addresses(d.query("al", source="127.61.8.2")) == []
    assert "attach a" not in d.ok("ls")
    d.ok("rm", "b")
    d.ok("unnet", "n")


def test_restart_same_answers(linkdns):
    d = linkdns(TABLE)
    names = [("app", WEB), ("store", APP_B), ("db.dns.podman", DB2), ("backend", WEB),
             ("app", LONE), ("pg.data", DB2)]
    before = [addresses(d.query(n, source=s)) for n, s in names]
    listing = d.ok("ls")
    assert listing.index("net front") < listing.index("add web") < \
        listing.index("attach web front") < listing.index("link lone app")
    d.ok("attach", "lone", "front", "--addr", "127.61.3.9")
    d.ok("detach", "lone", "front")
    with open(d.state) as f:
        state = f.read()
    d.stop()
    d = linkdns(state)
    assert d.ok("ls") == listing
    assert [addresses(d.query(n, source=s)) for n, s in names] == before


# -- forwarding order: own --dns, networks' --dns in attach order, defaults ------
def test_dns_precedence_and_internal(fwd_linkdns):
    default = Recorder("127.61.5.53", "192.0.2.1")
    n1 = Recorder("127.61.5.54", "192.0.2.2")
    n2 = Recorder("127.61.5.55", "192.0.2.3")
    own = Recorder("127.61.5.56", "192.0.2.4")
    try:
        d = fwd_linkdns(
            "net n1 --dns %s\nnet n2 --dns %s --dns %s\nnet plain\nnet inner --internal\n"
            "add a\nadd b\nadd c --dns %s\nadd p\nadd i\nadd o\n"
            "attach a n2 --addr 127.61.6.1\nattach a n1\n"
            "attach b n1 --addr 127.61.6.2\nattach b n2\n"
            "attach c n1 --addr 127.61.6.3\n"
            "attach p plain --addr 127.61.6.4\n"
            "attach i inner --addr 127.61.6.5\n"
            "attach o inner --addr 127.61.6.6\nattach o plain\n"
            % (n1.endpoint(), n2.endpoint(), n1.endpoint(), own.endpoint()),
            "--upstream", default.endpoint())
        ask = lambda src: addresses(d.query("x.example.test", source=src))  # noqa
        assert ask("127.61.6.1") == ["192.0.2.3"]   # n2 first (attach order)
        assert ask("127.61.6.2") == ["192.0.2.2"]   # n1 first
        assert ask("127.61.6.3") == ["192.0.2.4"]   # its own --dns wins
        assert ask("127.61.6.4") == ["192.0.2.1"]   # no --dns anywhere: defaults
        assert ask("127.61.6.6") == ["192.0.2.1"]   # not only internal: defaults
        before = [len(u.seen) for u in (default, n1, n2, own)]
        r = d.query("y.example.test", source="127.61.6.5")
        assert rcode_text(r) == "REFUSED"
        assert [len(u.seen) for u in (default, n1, n2, own)] == before
        # the internal container's own names still answer
        assert addresses(d.query("i", source="127.61.6.5")) == ["127.61.6.5"]
    finally:
        for u in (default, n1, n2, own):
            u.close()


def test_ls_show_stats(daemon):
    import json
    ls = json.loads(daemon.ok("ls", "--json"))
    assert [n["name"] for n in ls["networks"]] == ["front", "back"]
    assert ls["networks"][1]["domain"] == "dns.podman"
    assert {"container": "db", "net": "back", "addrs": [DB],
            "aliases": ["store", "pg.data"]} in ls["attachments"]
    out = daemon.ok("show", "--net", "back")
    assert out.splitlines()[0] == "net back --domain dns.podman"
    assert "attach db back --addr %s --alias store --alias pg.data" % DB in out
    j = json.loads(daemon.ok("show", "--net", "back", "--json"))
    assert [m["container"] for m in j["members"]] == ["app", "db", "db2", "pod"]
    p = daemon.ctl("show", "--net", "nosuch")
    assert p.returncode == 1 and "does not exist" in p.stderr
    show = json.loads(daemon.ok("show", "web", "--json"))
    names = {(n["name"], n.get("net")): n["addresses"] for n in show["names"]}
    assert names[("app", "front")] == [APP_F]
    assert names[("backend", None)] == [APP_F]
    assert APP_B not in daemon.ok("show", "web")
    st = json.loads(daemon.ok("stats", "--json"))
    assert st["networks"] == 2 and st["attachments"] == 7
    assert "networks 2\n" in daemon.ok("stats")


def test_example_table(linkdns):
    """zones/example-networks.links, as README's "Networks" shows it."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "zones", "example-networks.links")
    with open(path) as f:
        d = linkdns(f.read())
    proxy, api_f, api_b, db, db2 = ("127.0.20.1", "127.0.20.2", "127.0.20.12",
                                    "127.0.20.13", "127.0.20.14")
    assert addresses(d.query("api", source=proxy)) == [api_f]
    assert addresses(d.query("upstream", source=proxy)) == [api_f]
    assert addresses(d.query("api.v2", source=proxy)) == [api_f]
    assert addresses(d.query("store", source=proxy)) == []
    assert addresses(d.query("api", source=db)) == [api_b]
    assert addresses(d.query("store.dns.podman", source=api_b)) == sorted([db, db2])
    assert addresses(d.query("proxy", source=api_f)) == [proxy]


def test_domain_spelled_as_the_daemons(linkdns):
    d = linkdns("net n --domain Link.Internal.\nadd a\nadd b\n"
                "attach a n --addr 127.61.7.1\nattach b n --addr 127.61.7.2\n")
    assert addresses(d.query("b.link.internal", source="127.61.7.1")) == ["127.61.7.2"]
    assert "net n --domain link.internal\n" in d.ok("ls")


def test_upstream_that_is_linkdnsd_is_ignored(fwd_linkdns):
    default = Recorder("127.61.5.57", "192.0.2.9")
    try:
        d = fwd_linkdns("net n --dns 127.0.0.11\nadd a\nattach a n --addr 127.61.6.9\n",
                        "--upstream", default.endpoint())
        d.ok("add", "b", "--addr", "127.61.6.10", "--dns", "127.0.0.1@%d" % d.port)
        # a's network names 127.0.0.11@53 (linkdnsd inside a container); b names the
        # daemon's own --listen: both ignored, the defaults answer
        assert addresses(d.query("x.example.test", source="127.61.6.9")) == ["192.0.2.9"]
        assert addresses(d.query("x.example.test", source="127.61.6.10")) == ["192.0.2.9"]
        d.wait_log(r"127\.0\.0\.1@%d is one of linkdnsd's own listening addresses" % d.port)
        d.wait_log(r"127\.0\.0\.11@53 is one of linkdnsd's own listening addresses")
    finally:
        default.close()


# -- network listeners (net --listen): at run time, the view by source --------------
def test_network_listener(linkdns):
    import socket
    from conftest import free_port
    port = free_port("127.61.30.1")
    gw = "127.61.30.1@%d" % port
    d = linkdns("net n --listen %s\nnet other\nadd a\nadd b\nadd x\n"
                "attach a n --addr 127.61.31.1 --alias al\nattach b n --addr 127.61.31.2\n"
                "attach x other --addr 127.61.31.9\n" % gw)
    d.wait_log(r"network 'n': listening on 127\.61\.30\.1@%d" % port)

    def ask(name, source, rdtype="A"):
        import dns.message
        import dns.query
        q = dns.message.make_query(name, rdtype)
        return dns.query.udp(q, "127.61.30.1", port=port, source=source, timeout=3)

    # a container of n: its view
    assert addresses(ask("b", "127.61.31.1")) == ["127.61.31.2"]
    # the host (127.0.0.1 is an address of the daemon's namespace): every container on n
    assert addresses(ask("al", "127.0.0.1")) == ["127.61.31.1"]
    assert addresses(ask("b.link.internal", "127.0.0.1")) == ["127.61.31.2"]
    # a source that is no container of n and no address of the host: REFUSED
    assert rcode_text(ask("b", "127.61.31.200")) == "REFUSED"
    # a container of another network is no container of n
    assert rcode_text(ask("b", "127.61.31.9")) == "REFUSED"
    # the shared listener keeps answering meanwhile; the network listener goes with --replace
    d.ok("net", "n", "--replace")
    d.wait_log(r"network 'n': closed 127\.61\.30\.1@%d" % port)
    assert addresses(d.query("b", source="127.61.31.1")) == ["127.61.31.2"]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.61.30.1", port))  # free again
    s.close()
    mark = len(d.stderr)
    d.ok("net", "n", "--replace", "--listen", gw)
    d.wait_log(r"network 'n': listening on 127\.61\.30\.1@%d" % port, after=mark)
    assert addresses(ask("b", "127.61.31.1")) == ["127.61.31.2"]


def test_network_listener_internal_host_refused(fwd_linkdns):
    from conftest import free_port
    import dns.message
    import dns.query
    default = Recorder("127.61.5.58", "192.0.2.10")
    try:
        port = free_port("127.61.32.1")
        d = fwd_linkdns("net n --internal --listen 127.61.32.1@%d\nadd a\n"
                        "attach a n --addr 127.61.33.1\n" % port,
                        "--upstream", default.endpoint())
        d.wait_log(r"network 'n': listening")
        q = dns.message.make_query("x.example.test", "A")
        r = dns.query.udp(q, "127.61.32.1", port=port, source="127.0.0.1", timeout=3)
        assert rcode_text(r) == "REFUSED" and default.seen == []
        q = dns.message.make_query("a", "A")
        r = dns.query.udp(q, "127.61.32.1", port=port, source="127.0.0.1", timeout=3)
        assert addresses(r) == ["127.61.33.1"]
    finally:
        default.close()


def test_network_listeners_come_and_go_undisturbing(linkdns):
    import threading
    from conftest import free_port
    port = free_port("127.61.34.1")
    d = linkdns("net n\nadd a\nattach a n --addr 127.61.35.1\n")
    stop, lost, asked = threading.Event(), [], []

    def loop():
        while not stop.is_set():
            asked.append(1)
            try:
                if addresses(d.query("a", source="127.61.35.1")) != ["127.61.35.1"]:
                    lost.append("wrong")
            except Exception as e:  # noqa: BLE001 - a lost query is what we count
                lost.append(repr(e))

    th = threading.Thread(target=loop)
    th.start()
    try:
        for _ in range(100):
            d.ok("net", "n", "--replace", "--listen", "127.61.34.1@%d" % port)
            d.ok("net", "n", "--replace")
    finally:
        stop.set()
        th.join()
    assert asked and not lost, lost[:5]
    assert d.stderr.count("network 'n': listening on") == 100
    assert d.stderr.count("network 'n': closed") == 100


NETNS_PREFIX = "ldnw%d-" % os.getpid()   # for conftest's namespaces fixture


def test_network_listener_waits_for_its_address(linkdns, namespaces):  # noqa: F811
    """A bridge comes up after its network is declared: the listener is
    retried until the gateway address exists, then answers, while the
    daemon's other listener answered all along (daemon in a namespace of the
    test's own, where 10.61.0.1 is nobody's until the test adds it)."""
    import socket
    import time
    import dns.message
    from conftest import run, socket_in
    ns = namespaces.add("gw")
    d = linkdns("net n\nadd a\nattach a n --addr 10.61.0.7\n", netns=ns)
    d.ok("net", "n", "--replace", "--listen", "10.61.0.1@53")
    time.sleep(1.5)
    assert "network 'n': cannot listen on 10.61.0.1@53 yet" in d.stderr
    assert "network 'n': listening on" not in d.stderr
    run(["ip", "netns", "exec", ns, "ip", "addr", "add", "10.61.0.1/24", "dev", "lo"])

    def ask():
        s = socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(0.5)
            s.bind(("10.61.0.1", 0))   # an address of the daemon's namespace: the host
            s.sendto(dns.message.make_query("a", "A").to_wire(), ("10.61.0.1", 53))
            return dns.message.from_wire(s.recv(4096))
        except OSError:
            return None
        finally:
            s.close()

    deadline = time.monotonic() + 10
    r = ask()
    while r is None and time.monotonic() < deadline:
        time.sleep(0.2)
        r = ask()
    assert r is not None, "no answer at 10.61.0.1@53\n" + d.stderr[-2000:]
    assert addresses(r) == ["10.61.0.7"], rcode_text(r)
    assert "network 'n': listening on 10.61.0.1@53" in d.stderr
