"""The CNI plugin `linkdns` (linkdns-cni(8)), chained after Debian's real
`bridge` and `host-local` plugins and run the way libcni runs a conflist
(tests/cni_driver.py).

Run as root.  Each test makes its own namespaces (names start with
``ldcni<pid>-``): HOSTNS, the runtime's networking domain, where the bridge
plugin makes its bridge and veth ends (the plugins run under
`ip netns exec HOSTNS`), and one namespace per container, made with lo down
as a runtime makes them.  host-local keeps its leases and the driver its
result cache in a temporary directory of the test.

The daemon has no --listen: it serves each registered container at
127.0.0.11@53 inside its namespace, where the tests ask (a socket made in
the namespace, or dig under `ip netns exec`).

Addresses (inside the test's namespaces only): 10.231.0.0/16.
"""

import ipaddress
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest

from cni_driver import CniDriver, CniError, validate_result
from conftest import (BUILD, REPO, Daemon, SANITIZER_MARKERS, daemon_factory,
                      netns_path, require_root, run, socket_in, wait_for)

PREFIX = "ldcni%d-" % os.getpid()
NETNS_PREFIX = PREFIX
SYSTEM_CNI = "/usr/lib/cni"
PLUGIN = os.path.join(BUILD, "linkdns")
DOMAIN = "link.internal"
ANSWER_DEADLINE = 10.0
BOUNDED = 6.0   # seconds: the plugin waits for linkdnsd 2 s at most


# -- the daemon -------------------------------------------------------------------
class CniDaemon(Daemon):
    """linkdnsd without --listen: it serves the containers' namespaces."""

    def __init__(self, table="", extra_args=(), **kw):
        super().__init__(table, extra_args, listen_host=None, **kw)

    def ls_json(self, *args):
        return json.loads(self.ok("ls", "--json", *args))


@pytest.fixture
def linkdnsd():
    yield from daemon_factory(CniDaemon)


# -- the runtime ------------------------------------------------------------------
def hex_id():
    return "%064x" % random.getrandbits(256)


class Runtime:
    """HOSTNS, container namespaces and conflists for one test."""

    def __init__(self, namespaces, daemon_control):
        if not (os.path.isfile(PLUGIN) and os.access(PLUGIN, os.X_OK)):
            pytest.fail("the CNI plugin is not built: %s" % PLUGIN,
                        pytrace=False)
        for p in ("bridge", "host-local"):
            if not os.access(os.path.join(SYSTEM_CNI, p), os.X_OK):
                pytest.fail("%s/%s missing: apt-get install "
                            "containernetworking-plugins" % (SYSTEM_CNI, p),
                            pytrace=False)
        self.ns = namespaces
        self.control = daemon_control
        self.dir = tempfile.mkdtemp(prefix="ldcni-")
        self.hostns = namespaces.add("host")
        self.drivers = []
        self.nbridges = 0

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def container(self, tag="c"):
        """A container's namespace, lo down (as runtimes make them):
        (name, path)."""
        name = self.ns.add(tag, lo=False)
        return name, netns_path(name)

    def conflist(self, net, subnet, version="1.0.0", control=None,
                 linkdns_extra=None):
        """bridge + host-local + linkdns, as a nerdctl/containerd user
        writes it (with the test's own control socket and lease dir)."""
        self.nbridges += 1
        ld = {"type": "linkdns", "control": control or self.control,
              "capabilities": {"aliases": True, "portMappings": True}}
        ld.update(linkdns_extra or {})
        return {
            "cniVersion": version,
            "name": net,
            "plugins": [
                {"type": "bridge", "bridge": "ldcni%d" % self.nbridges,
                 "isGateway": True, "ipMasq": False, "hairpinMode": True,
                 "ipam": {"type": "host-local",
                          "ranges": [[{"subnet": subnet}]],
                          "dataDir": os.path.join(self.dir, "ipam")}},
                ld,
            ],
        }

    def driver(self, conflist):
        d = CniDriver(conflist, [BUILD, SYSTEM_CNI],
                      os.path.join(self.dir, "cache"), hostns=self.hostns)
        self.drivers.append(d)
        return d

    def plugin(self, command, conf, env=None, stdin=None, timeout=30):
        """Runs linkdns alone (not under HOSTNS: it needs nothing there);
        (rc, parsed stdout or None, stdout, stderr, seconds)."""
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("CNI_"):
                del e[k]
        e["CNI_COMMAND"] = command
        e["CNI_PATH"] = BUILD
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        data = stdin if stdin is not None else json.dumps(conf).encode()
        t0 = time.monotonic()
        p = subprocess.run([PLUGIN], input=data, capture_output=True,
                           env=e, timeout=timeout)
        took = time.monotonic() - t0
        out = p.stdout.decode(errors="replace")
        try:
            parsed = json.loads(out)
        except ValueError:
            parsed = None
        err = p.stderr.decode(errors="replace")
        for m in SANITIZER_MARKERS:
            assert m not in err, "sanitizer report:\n" + err
        return p.returncode, parsed, out, err, took


@pytest.fixture
def rt(namespaces, linkdnsd):
    require_root("the CNI tests (namespaces, bridge)")
    d = linkdnsd("")
    r = Runtime(namespaces, d.control)
    r.daemon = d
    try:
        yield r
        # the plugin under a sanitizer build: no report in any run
        for drv in r.drivers:
            for cmd, plugin, err in drv.stderrs:
                for m in SANITIZER_MARKERS:
                    assert m not in err, "%s %s:\n%s" % (plugin, cmd, err)
    finally:
        r.cleanup()


# -- asking inside a container ----------------------------------------------------
def ask(ns, name, rdtype="A", deadline=ANSWER_DEADLINE):
    """NAME's answer from 127.0.0.11 inside namespace NS (retried until
    the listener is there)."""
    q = dns.message.make_query(name, rdtype)

    def once():
        s = socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(1.0)
            s.sendto(q.to_wire(), ("127.0.0.11", 53))
            data, _ = s.recvfrom(65535)
            return dns.message.from_wire(data)
        except OSError:
            return None
        finally:
            s.close()

    return wait_for("an answer to %s in %s" % (name, ns), once, deadline)[1]


def addrs(msg):
    return sorted(r.address for rrset in msg.answer for r in rrset
                  if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA))


def ip_of(result):
    """The container's address in an ADD result (no prefix)."""
    return str(ipaddress.ip_interface(result["ips"][0]["address"]).ip)


def lo_up(ns):
    out = run(["ip", "-n", ns, "-o", "link", "show", "lo"]).stdout
    return ",UP" in out or "<UP" in out or "state UNKNOWN" in out


def owned(d, tag):
    """The containers linkdnsd lists under owner TAG."""
    return [c["name"] for c in d.ls_json("--owner", tag)["containers"]]


def pod(name):
    """CNI_ARGS as CRI runtimes pass them (host-local refuses unknown keys
    without IgnoreUnknown)."""
    return {"IgnoreUnknown": "1", "K8S_POD_NAME": name}


# -- acceptance 1 -------------------------------------------------------------------
def test_version(rt):
    d = rt.driver(rt.conflist("ldnet-v", "10.231.9.0/24"))
    v = d.plugin_version("linkdns")
    assert v["cniVersion"] == "1.0.0"
    assert {"0.4.0", "1.0.0"} <= set(v["supportedVersions"])
    rc, out, _, _, _ = rt.plugin("VERSION", None, stdin=b"")
    assert rc == 0 and "1.0.0" in out["supportedVersions"]


def test_two_containers_resolve_each_other(rt):
    """Acceptance 1: names, aliases, SRV from a port mapping, PTR, lo up,
    a valid result with the nameserver, CHECK, DEL twice, ls."""
    d = rt.daemon
    drv = rt.driver(rt.conflist("ldnet-a", "10.231.1.0/24"))
    ns1, p1 = rt.container("db")
    ns2, p2 = rt.container("web")
    id1, id2 = hex_id(), hex_id()
    cid2 = "default-" + id2          # as nerdctl passes it
    short2 = id2[:12]
    r1 = drv.add(id1, p1, args=pod("db"),
                 capability_args={
                     "aliases": ["pg"],
                     "portMappings": [
                         {"hostPort": 15432, "containerPort": 5432,
                          "protocol": "tcp", "hostIP": ""},
                         {"hostPort": 15432, "containerPort": 5432,
                          "protocol": "tcp", "hostIP": "::"}]})
    # nerdctl passes the hostname (--hostname frontend), not the name
    r2 = drv.add(cid2, p2, args={"IgnoreUnknown": "1",
                                 "NERDCTL_CNI_DHCP_HOSTNAME": "frontend"},
                 capability_args={"aliases": {"ldnet-a": ["www", "api.v2"],
                                              "other": ["nope"]}})
    for r in (r1, r2):
        validate_result(r, "1.0.0")
        assert r["dns"]["nameservers"] == ["127.0.0.11"]
        assert r["dns"]["search"][0] == DOMAIN
        assert any(i.get("sandbox") for i in r["interfaces"])
    a1, a2 = ip_of(r1), ip_of(r2)
    assert lo_up(ns1) and lo_up(ns2)

    # each resolves the other by name and alias
    assert addrs(ask(ns2, "db")) == [a1]
    assert addrs(ask(ns2, "pg")) == [a1]
    assert addrs(ask(ns2, "db." + DOMAIN)) == [a1]
    assert addrs(ask(ns1, short2)) == [a2]
    assert addrs(ask(ns1, "www")) == [a2]
    assert addrs(ask(ns1, "frontend")) == [a2]
    assert addrs(ask(ns1, "api.v2")) == [a2]
    assert not addrs(ask(ns1, "nope"))   # another network's alias
    # SRV from the port mapping (once, though the runtime listed it twice)
    srv = ask(ns2, "_5432._tcp.db", "SRV")
    recs = [r for rrset in srv.answer for r in rrset]
    assert len(recs) == 1 and recs[0].port == 5432, srv
    assert recs[0].target.to_text() == "db.%s." % DOMAIN
    # PTR
    ptr = ask(ns2, dns.reversename.from_address(a1).to_text(), "PTR")
    assert [r.target.to_text() for rrset in ptr.answer for r in rrset] == \
        ["db.%s." % DOMAIN], ptr
    # dig in the namespace, as a user would
    out = run(["ip", "netns", "exec", ns1, "dig", "+short", "+time=2",
               "@127.0.0.11", short2]).stdout.split()
    assert out == [a2]

    # one registration each, owned by the plugin, attached with the address
    ls = d.ls_json()
    names = {c["name"]: c for c in ls["containers"]}
    assert names["db"]["owners"] == ["cni:" + id1]
    assert names[short2]["owners"] == ["cni:" + id2]
    assert names["db"]["netns"] == p1
    assert names["db"]["publish"] == ["15432:5432/tcp"]
    att = {a["container"]: a for a in ls["attachments"]}
    assert att["db"]["addrs"] == [a1]
    assert att["db"]["aliases"] == [id1[:12], "pg"]   # the short ID too
    assert att[short2]["aliases"] == ["frontend", "www", "api.v2"]
    assert [n["owner"] for n in ls["networks"]] == ["cni:net:ldnet-a"]

    # CHECK after ADD
    drv.check(id1, p1, args=pod("db"))
    drv.check(cid2, p2)

    # DEL twice; the other stays
    drv.delete(id1, p1)
    drv.delete(id1, p1)
    assert [c["name"] for c in d.ls_json()["containers"]] == [short2]
    assert owned(d, "cni:" + id1) == []
    assert not addrs(ask(ns2, "db"))
    # the last one takes the network with it
    drv.delete(cid2, p2)
    ls = d.ls_json()
    assert ls["containers"] == [] and ls["networks"] == [] \
        and ls["attachments"] == [], ls


def test_second_network_isolated_and_multi_network(rt):
    d = rt.daemon
    a = rt.driver(rt.conflist("ldnet-a", "10.231.2.0/24"))
    b = rt.driver(rt.conflist("ldnet-b", "10.231.3.0/24"))
    nsx, px = rt.container("x")
    nsy, py = rt.container("y")
    nsz, pz = rt.container("z")
    ix, iy, iz = hex_id(), hex_id(), hex_id()
    rx = a.add(ix, px, args=pod("xa"))
    ry = b.add(iy, py, args=pod("yb"))
    # z is on both networks: one registration, one attachment each
    rza = a.add(iz, pz, args=pod("zab"))
    rzb = b.add(iz, pz, ifname="eth1", args=pod("zab"))
    za, zb = ip_of(rza), ip_of(rzb)
    assert owned(d, "cni:" + iz) == ["zab"]
    ls = d.ls_json("--owner", "cni:" + iz)
    assert sorted(x["net"] for x in ls["attachments"]) == ["ldnet-a",
                                                            "ldnet-b"]
    # isolation: x (a) and y (b) do not see each other; z sees both
    assert not addrs(ask(nsx, "yb"))
    assert not addrs(ask(nsy, "xa"))
    assert addrs(ask(nsx, "zab")) == [za]
    assert addrs(ask(nsy, "zab")) == [zb]
    assert addrs(ask(nsz, "xa")) == [ip_of(rx)]
    assert addrs(ask(nsz, "yb")) == [ip_of(ry)]
    a.check(iz, pz)
    b.check(iz, pz, ifname="eth1")
    # DEL on a: still registered, on b only
    a.delete(iz, pz)
    assert owned(d, "cni:" + iz) == ["zab"]
    ls = d.ls_json("--owner", "cni:" + iz)
    assert [x["net"] for x in ls["attachments"]] == ["ldnet-b"]
    assert not addrs(ask(nsx, "zab"))
    b.delete(iz, pz, ifname="eth1")
    assert owned(d, "cni:" + iz) == []
    a.delete(ix, px)
    b.delete(iy, py)
    assert d.ls_json() == {"networks": [], "attachments": [],
                           "containers": [], "links": []}


def test_cni_0_4_0(rt):
    drv = rt.driver(rt.conflist("ldnet-old", "10.231.4.0/24",
                                version="0.4.0"))
    ns, p = rt.container()
    i = hex_id()
    r = drv.add(i, p)
    validate_result(r, "0.4.0")
    assert r["dns"]["nameservers"] == ["127.0.0.11"]
    drv.check(i, p)
    drv.delete(i, p)
    drv.delete(i, p)
    assert rt.daemon.ls_json()["containers"] == []


def test_check_fails_when_not_registered(rt):
    drv = rt.driver(rt.conflist("ldnet-c", "10.231.5.0/24"))
    ns, p = rt.container()
    i = hex_id()
    drv.add(i, p)
    rt.daemon.ok("rm", i[:12])
    with pytest.raises(CniError) as e:
        drv.check(i, p)
    assert e.value.plugin == "linkdns" and e.value.code == 101, e.value
    drv.delete(i, p)


def test_no_prev_result(rt):
    """A config without prevResult (linkdns first in a chain): CNI error
    JSON, nothing registered."""
    ns, p = rt.container()
    conf = {"cniVersion": "1.0.0", "name": "ldnet-np", "type": "linkdns",
            "control": rt.control}
    rc, err, _, _, _ = rt.plugin("ADD", conf, env={
        "CNI_CONTAINERID": hex_id(), "CNI_NETNS": p, "CNI_IFNAME": "eth0"})
    assert rc != 0
    assert set(err) == {"cniVersion", "code", "msg", "details"}, err
    assert err["code"] == 7 and "prevResult" in err["details"]
    assert err["cniVersion"] == "1.0.0"
    assert rt.daemon.ls_json()["containers"] == []


# -- acceptance 2 -------------------------------------------------------------------
def prev_result(netns, addr="10.231.6.5/24"):
    return {"cniVersion": "1.0.0",
            "interfaces": [{"name": "eth0", "sandbox": netns}],
            "ips": [{"interface": 0, "address": addr}]}


def add_env(netns, cid=None):
    return {"CNI_CONTAINERID": cid or hex_id(), "CNI_NETNS": netns,
            "CNI_IFNAME": "eth0"}


def conf_of(rt, netns, **kw):
    c = {"cniVersion": "1.0.0", "name": "ldnet-bad", "type": "linkdns",
         "control": rt.control, "prevResult": prev_result(netns)}
    c.update(kw)
    return c


def assert_cni_error(res, code, word=None):
    rc, err, out, stderr, took = res
    assert rc != 0, out
    assert isinstance(err, dict) and err.get("code") == code, \
        (out, stderr)
    assert isinstance(err["msg"], str) and isinstance(err["details"], str)
    assert "cniVersion" in err
    if word:
        assert word in err["details"] or word in err["msg"], err
    assert took < BOUNDED, took


def test_bad_stdin(rt):
    ns, p = rt.container()
    env = add_env(p)
    for data in (b"", b"{", b"[1, 2]", b"\x00\xff garbage", b"{} {}",
                 b'{"cniVersion": "1.0.0", "name": "x", ' * 1000):
        assert_cni_error(rt.plugin("ADD", None, env=env, stdin=data), 6)
    big = json.dumps(conf_of(rt, p, pad="x" * (2 << 20))).encode()
    assert_cni_error(rt.plugin("ADD", None, env=env, stdin=big), 6)
    # valid JSON, invalid config
    assert_cni_error(rt.plugin("ADD", conf_of(rt, p, cniVersion="9.9.9"),
                               env=env), 1)
    assert_cni_error(rt.plugin("ADD", conf_of(rt, p, name="bad name"),
                               env=env), 7, "name")
    assert_cni_error(rt.plugin("ADD", conf_of(rt, p, control="rel/path"),
                               env=env), 7, "control")
    bad_ip = conf_of(rt, p)
    bad_ip["prevResult"]["ips"][0]["address"] = "10.231.6.999/24"
    assert_cni_error(rt.plugin("ADD", bad_ip, env=env), 7, "no address")
    bad_port = conf_of(rt, p, runtimeConfig={"portMappings": [
        {"hostPort": 70000, "containerPort": 80, "protocol": "tcp"}]})
    assert_cni_error(rt.plugin("ADD", bad_port, env=env), 7, "portMappings")
    assert rt.daemon.ls_json() == {"networks": [], "attachments": [],
                                   "containers": [], "links": []}


def test_missing_env(rt):
    ns, p = rt.container()
    conf = conf_of(rt, p)
    full = add_env(p)
    for var in ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"):
        res = rt.plugin("ADD", conf, env=dict(full, **{var: None}))
        assert_cni_error(res, 4, var)
    for var, value in (("CNI_COMMAND", "FROB"),
                       ("CNI_CONTAINERID", "-bad id"),
                       ("CNI_NETNS", "relative/path"),
                       ("CNI_NETNS", p + " --replace"),
                       ("CNI_NETNS", "/nonexistent/netns")):
        env = dict(full, **{var: value})
        res = rt.plugin(value if var == "CNI_COMMAND" else "ADD", conf,
                        env=env)
        assert_cni_error(res, 4, var)
    # DEL needs no CNI_NETNS, and DEL of an unknown container succeeds
    env = dict(full, CNI_NETNS=None)
    rc, _, out, err, _ = rt.plugin("DEL", conf, env=env)
    assert rc == 0 and out == "", err
    assert rt.daemon.ls_json()["containers"] == []


class SilentSocket:
    """A Unix socket that accepts and never answers."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.bind(path)
        self.s.listen(64)
        self.held = []
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.s.settimeout(0.2)
        while not self.stop:
            try:
                self.held.append(self.s.accept()[0])
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join(5)
        for c in self.held:
            c.close()
        self.s.close()


def test_daemon_not_answering(rt):
    """A socket that accepts and never replies, and none at all: error 11
    (try again later) within a bounded time; DEL too (the runtime retries
    it)."""
    ns, p = rt.container()
    silent = SilentSocket(os.path.join(rt.dir, "silent.sock"))
    try:
        for control in (silent.path, os.path.join(rt.dir, "none.sock")):
            conf = conf_of(rt, p, control=control)
            for cmd in ("ADD", "DEL", "CHECK"):
                assert_cni_error(rt.plugin(cmd, conf, env=add_env(p)), 11)
            st = dict(conf, cniVersion="1.1.0")
            assert_cni_error(rt.plugin("STATUS", st), 50)
    finally:
        silent.close()
    assert rt.daemon.ls_json()["containers"] == []


def test_refused_registration_is_all_or_nothing(rt):
    """A name held by a live container of another owner refuses the ADD;
    neither the network nor an attachment is left behind."""
    d = rt.daemon
    holder, hp = rt.container("holder")
    d.ok("add", "db", "--netns", hp, "--owner", "oci:" + hex_id())
    ns, p = rt.container()
    env = dict(add_env(p), CNI_ARGS="K8S_POD_NAME=db")
    res = rt.plugin("ADD", conf_of(rt, p), env=env)
    assert_cni_error(res, 100, "db")
    ls = d.ls_json()
    assert ls["networks"] == [] and ls["attachments"] == []
    assert [c["name"] for c in ls["containers"]] == ["db"]


def test_aliases_invalid_skipped(rt):
    ns, p = rt.container()
    i = hex_id()
    conf = conf_of(rt, p, runtimeConfig={"aliases": [
        "good", "bad alias", "", "x" * 64, "under_score", 7, "GOOD"]})
    # nerdctl's default hostname is the short ID, the name already
    env = dict(add_env(p, i), CNI_ARGS="NERDCTL_CNI_DHCP_HOSTNAME=" + i[:12])
    rc, res, out, err, _ = rt.plugin("ADD", conf, env=env)
    assert rc == 0, out + err
    att = rt.daemon.ls_json()["attachments"]
    assert att[0]["aliases"] == ["good", "under_score"], att
    assert "skipped" in err
    rc, _, out, err, _ = rt.plugin("DEL", conf, env=add_env(p, i))
    assert rc == 0, out + err


def test_concurrent_adds_and_dels(rt):
    """Eight containers ADDed at once on one network the first of them
    creates, then DELeted at once: every one registered, then none, and
    the network goes with the last."""
    d = rt.daemon
    n = 8
    conts = [rt.container("k%d" % i) for i in range(n)]
    ids = [hex_id() for _ in range(n)]
    errors = []

    def one(cmd, i):
        ns, p = conts[i]
        conf = conf_of(rt, p, name="ldnet-conc")
        conf["prevResult"]["ips"][0]["address"] = "10.231.7.%d/24" % (i + 2)
        res = rt.plugin(cmd, conf, env=dict(
            add_env(p, ids[i]), CNI_ARGS="K8S_POD_NAME=k%d" % i))
        if res[0] != 0:
            errors.append(res[2] + res[3])

    def all_at_once(cmd):
        threads = [threading.Thread(target=one, args=(cmd, i))
                   for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors

    all_at_once("ADD")
    ls = d.ls_json()
    assert sorted(c["name"] for c in ls["containers"]) == \
        sorted("k%d" % i for i in range(n))
    assert len(ls["attachments"]) == n and len(ls["networks"]) == 1
    assert addrs(ask(conts[0][0], "k7")) == ["10.231.7.9"]
    errors.clear()
    all_at_once("DEL")
    assert d.ls_json() == {"networks": [], "attachments": [],
                           "containers": [], "links": []}


def test_gc_and_status(rt):
    """1.1.0: GC removes what no valid attachment names; STATUS is 0 while
    linkdnsd answers."""
    d = rt.daemon
    keep, drop = hex_id(), hex_id()
    for i, cid in enumerate((keep, drop)):
        ns, p = rt.container()
        conf = conf_of(rt, p, name="ldnet-gc")
        conf["prevResult"]["ips"][0]["address"] = "10.231.8.%d/24" % (i + 2)
        rc, _, out, err, _ = rt.plugin("ADD", conf, env=add_env(p, cid))
        assert rc == 0, out + err
    d.ok("add", "manual")
    gc = {"cniVersion": "1.1.0", "name": "ldnet-gc", "type": "linkdns",
          "control": rt.control,
          "cni.dev/valid-attachments": [{"containerID": "default-" + keep,
                                         "ifname": "eth0"}]}
    rc, _, out, err, _ = rt.plugin("GC", gc)
    assert rc == 0, out + err
    assert [c["name"] for c in d.ls_json()["containers"]] == \
        [keep[:12], "manual"]
    rc, _, out, err, _ = rt.plugin("STATUS", gc)
    assert rc == 0 and out == "", err
    gc["cni.dev/valid-attachments"] = []
    rc, _, out, err, _ = rt.plugin("GC", gc)
    assert rc == 0, out + err
    ls = d.ls_json()
    assert [c["name"] for c in ls["containers"]] == ["manual"]
    assert ls["networks"] == []


def test_stats_domain(linkdnsd):
    d = linkdnsd("", "--domain", "Corp.Example")
    assert json.loads(d.ok("stats", "--json"))["domain"] == "corp.example"
    assert d.ok("stats").splitlines()[0] == "domain corp.example"


def test_search_domain_from_daemon(namespaces, linkdnsd):
    d = linkdnsd("", "--domain", "cni.test")
    r = Runtime(namespaces, d.control)
    try:
        ns, p = r.container()
        conf = conf_of(r, p)
        conf["prevResult"]["dns"] = {"nameservers": ["10.0.0.1"],
                                     "search": ["corp", "cni.test"],
                                     "options": ["ndots:2"]}
        rc, res, out, err, _ = r.plugin("ADD", conf, env=add_env(p))
        assert rc == 0, out + err
        assert res["dns"] == {"nameservers": ["127.0.0.11"],
                              "search": ["cni.test", "corp"],
                              "options": ["ndots:2"]}
        name = d.ls_json()["containers"][0]["name"]
        assert addrs(ask(ns, name + ".cni.test")) == ["10.231.6.5"]
    finally:
        r.cleanup()


def test_network_made_by_someone_else(rt):
    """A network the administrator declared (here with a domain of its
    own): ADD attaches to it and gives its domain as the search domain;
    DEL leaves it."""
    d = rt.daemon
    d.ok("net", "ldnet-d", "--domain", "dns.test")
    ns, p = rt.container()
    i = hex_id()
    conf = conf_of(rt, p, name="ldnet-d")
    rc, res, out, err, _ = rt.plugin("ADD", conf, env=add_env(p, i))
    assert rc == 0, out + err
    assert res["dns"]["search"] == ["dns.test"]
    assert addrs(ask(ns, i[:12] + ".dns.test")) == ["10.231.6.5"]
    rc, _, out, err, _ = rt.plugin("DEL", conf, env=add_env(p, i))
    assert rc == 0, out + err
    ls = d.ls_json()
    assert ls["containers"] == [] and \
        [n["name"] for n in ls["networks"]] == ["ldnet-d"]


# -- installation and the man page ----------------------------------------------
def test_installed_in_lib_cni_with_its_man_page():
    """meson installs the plugin in PREFIX/lib/cni (not the multiarch
    libdir) and linkdns-cni(8); the page lints clean, lines <= 80."""
    inst = json.loads(run(["meson", "introspect", "--installed",
                           BUILD]).stdout)
    opts = json.loads(run(["meson", "introspect", "--buildoptions",
                           BUILD]).stdout)
    prefix = [o["value"] for o in opts if o["name"] == "prefix"][0]
    assert inst[os.path.join(BUILD, "linkdns")] == \
        os.path.join(prefix, "lib", "cni", "linkdns")
    page = os.path.join(REPO, "man", "linkdns-cni.8")
    assert inst[page].endswith("/man8/linkdns-cni.8"), inst[page]
    p = run(["mandoc", "-Tlint", "-Wall", page], check=False)
    assert p.returncode == 0 and (p.stdout + p.stderr).strip() == "", \
        p.stdout + p.stderr
    with open(page) as f:
        long_lines = [i + 1 for i, x in enumerate(f) if len(x) > 81]
    assert not long_lines, long_lines


def test_stale_name_taken_over(rt):
    """A registration whose DEL was missed (its namespace is gone) does not
    block the name: the next ADD of that name replaces it."""
    d = rt.daemon
    old_ns, old_p = rt.container("old")
    old = hex_id()
    rc, _, out, err, _ = rt.plugin("ADD", conf_of(rt, old_p), env=dict(
        add_env(old_p, old), CNI_ARGS="K8S_POD_NAME=db"))
    assert rc == 0, out + err
    rt.ns.delete(old_ns)            # no DEL: linkdnsd was down, say
    ns, p = rt.container("new")
    new = hex_id()
    conf = conf_of(rt, p)
    conf["prevResult"]["ips"][0]["address"] = "10.231.6.6/24"
    rc, _, out, err, _ = rt.plugin("ADD", conf, env=dict(
        add_env(p, new), CNI_ARGS="K8S_POD_NAME=db"))
    assert rc == 0, out + err
    ls = d.ls_json()
    assert [(c["name"], c["owners"]) for c in ls["containers"]] == \
        [("db", ["cni:" + new])]
    assert [(a["container"], a["addrs"]) for a in ls["attachments"]] == \
        [("db", ["10.231.6.6"])]
    assert addrs(ask(ns, "db")) == ["10.231.6.6"]


def test_merges_with_the_oci_hooks_registration(rt):
    """The OCI hook registered the container (oci:ID) under the same name:
    ADD adds its owner and attachment to that entry, DEL takes them away
    and leaves the hook's registration."""
    d = rt.daemon
    ns, p = rt.container()
    i = hex_id()
    d.ok("add", "web", "--netns", p, "--owner", "oci:" + i,
         "--expose", "80/tcp")
    env = dict(add_env(p, "k8s.io-" + i), CNI_ARGS="K8S_POD_NAME=web")
    rc, _, out, err, _ = rt.plugin("ADD", conf_of(rt, p), env=env)
    assert rc == 0, out + err
    ls = d.ls_json()
    assert [(c["name"], c["owners"], c["expose"]) for c in ls["containers"]] \
        == [("web", ["oci:" + i, "cni:" + i], ["80/tcp"])]
    assert len(ls["attachments"]) == 1
    rc, _, out, err, _ = rt.plugin("CHECK", conf_of(rt, p), env=env)
    assert rc == 0, out + err
    rc, _, out, err, _ = rt.plugin("DEL", conf_of(rt, p), env=env)
    assert rc == 0, out + err
    ls = d.ls_json()
    assert [(c["name"], c["owners"]) for c in ls["containers"]] == \
        [("web", ["oci:" + i])]
    assert ls["attachments"] == [] and ls["networks"] == []
