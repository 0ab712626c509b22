"""The CNI plugin `linkdns` under attack: what a pod's owner controls
(K8S_POD_NAME, aliases, port mappings), malformed runtime input, races of
concurrent ADD/DEL, GC input, a daemon that does not answer.  Reuses
test_cni's runtime (tests/cni_driver.py underneath).

Run as root.  Namespaces start with ``ldcnia<pid>-``.  Addresses (inside
the test's namespaces only): 10.232.0.0/16.
"""

import json
import os
import socket
import subprocess
import threading

from conftest import linkdnsctl_path
from test_cni import (DOMAIN, add_env, addrs, ask, assert_cni_error, hex_id,
                      linkdnsd, rt)  # noqa: F401 (fixtures)

NETNS_PREFIX = "ldcnia%d-" % os.getpid()


def conf_for(rt, netns, net="ldnet-atk", addr="10.232.0.5/24", **kw):
    c = {"cniVersion": "1.0.0", "name": net, "type": "linkdns",
         "control": rt.control,
         "prevResult": {"cniVersion": "1.0.0",
                        "interfaces": [{"name": "eth0", "sandbox": netns}],
                        "ips": [{"interface": 0, "address": addr}]}}
    c.update(kw)
    return c


def names(d):
    return sorted(c["name"] for c in d.ls_json()["containers"])


def load(d, lines):
    """Registers table lines with linkdnsctl batch, 1000 lines a change."""
    for start in range(0, len(lines), 1000):
        chunk = "\n".join(lines[start:start + 1000]) + "\n"
        p = subprocess.run([linkdnsctl_path(), "--control", d.control,
                            "batch"], input=chunk, text=True,
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr


# -- (a) what a pod's owner controls -----------------------------------------------
def test_pod_name_does_not_take_an_unowned_entry(rt):
    """An entry the administrator registered without --owner (a live
    container, or a static endpoint) is not the plugin's: a pod named like
    it must not replace it (the retry with --replace took any entry without
    an owner, live or not)."""
    d = rt.daemon
    _, held = rt.container("admin")
    d.ok("add", "db", "--netns", held)
    d.ok("add", "gw", "--addr", "10.9.9.9")
    for name in ("db", "gw"):
        _, p = rt.container()
        env = dict(add_env(p), CNI_ARGS="K8S_POD_NAME=" + name)
        assert_cni_error(rt.plugin("ADD", conf_for(rt, p), env=env), 100,
                         name)
    ls = d.ls_json()
    assert {c["name"]: c.get("owners", []) for c in ls["containers"]} == \
        {"db": [], "gw": []}, ls
    db = [c for c in ls["containers"] if c["name"] == "db"][0]
    assert db["netns"] == held
    assert ls["attachments"] == [] and ls["networks"] == []


def test_injection_through_names_aliases_and_ports(rt):
    """Option or line injection through K8S_POD_NAME, the hostname and the
    aliases, and out-of-range port numbers: never an extra option or line,
    a clear error for ports."""
    d = rt.daemon
    _, p = rt.container()
    i = hex_id()
    env = dict(add_env(p, i), CNI_ARGS="K8S_POD_NAME=x --owner oci:1;"
               "NERDCTL_CNI_DHCP_HOSTNAME=h\nunnet ldnet-atk")
    conf = conf_for(rt, p, runtimeConfig={"aliases": [
        "a --replace", "b\nrm x", "#c", "d#e", "ok"]})
    rc, _, out, err, _ = rt.plugin("ADD", conf, env=env)
    assert rc == 0, out + err
    ls = d.ls_json()
    assert [(c["name"], c["owners"]) for c in ls["containers"]] == \
        [(i[:12], ["cni:" + i])]
    assert ls["attachments"][0]["aliases"] == ["ok"]
    for bad in (0, 65536, -1, 80.5, "80", 2 ** 63, True, None):
        c = conf_for(rt, p, runtimeConfig={"portMappings": [
            {"hostPort": bad, "containerPort": 80, "protocol": "tcp"}]})
        assert_cni_error(rt.plugin("ADD", c, env=add_env(p)), 7,
                         "portMappings")
    rc, _, out, err, _ = rt.plugin("DEL", conf, env=add_env(p, i))
    assert rc == 0, out + err
    assert d.ls_json()["containers"] == []


# -- (c) odd runtime input ----------------------------------------------------------
def test_odd_netns_ids_and_json(rt):
    """CNI_NETNS a FIFO, a regular file, a symlink to a namespace; huge
    environment values; deeply nested JSON; duplicated keys (the last one
    counts, as for Go's encoding/json): errors within the bound, nothing
    registered."""
    d = rt.daemon
    ns, p = rt.container()
    fifo = os.path.join(rt.dir, "fifo")
    os.mkfifo(fifo)
    reg = os.path.join(rt.dir, "file")
    open(reg, "w").close()
    link = os.path.join(rt.dir, "link")
    os.symlink(p, link)
    for path in (fifo, reg, link, "/proc/self/ns/net/.."):
        assert_cni_error(rt.plugin("ADD", conf_for(rt, path),
                                   env=add_env(path)), 4, "CNI_NETNS")
    for var, value in (("CNI_CONTAINERID", "a" * 100000),
                       ("CNI_NETNS", "/" + "a" * 100000),
                       ("CNI_CONTAINERID", "abc;rm"),
                       ("CNI_CONTAINERID", "net:x")):
        assert_cni_error(rt.plugin("ADD", conf_for(rt, p),
                                   env=dict(add_env(p), **{var: value})), 4,
                         var)
    rc, _, out, err, _ = rt.plugin(
        "ADD", conf_for(rt, p), env=dict(add_env(p),
                                         CNI_ARGS="K8S_POD_NAME=" + "p" * 100000))
    assert rc == 0, out + err   # an invalid pod name: the short ID
    nested = b'{"cniVersion":"1.0.0","name":"n","x":' + b"[" * 5000 + \
        b"]" * 5000 + b"}"
    assert_cni_error(rt.plugin("ADD", None, env=add_env(p), stdin=nested), 6)
    dup = json.dumps(conf_for(rt, p))[:-1] + ', "name": "bad name"}'
    assert_cni_error(rt.plugin("ADD", None, env=add_env(p),
                               stdin=dup.encode()), 7, "name")
    assert len(d.ls_json()["containers"]) == 1


# -- (b) races ----------------------------------------------------------------------
def test_concurrent_dels_on_two_networks_leave_nothing(rt):
    """A container on two networks DELeted from both at once: each DEL read
    two attachments and only detached, so the registration stayed with no
    attachment (its name held). Repeated: a race."""
    d = rt.daemon
    for round_ in range(12):
        _, p = rt.container("r%d" % round_)
        i = hex_id()
        for k, net in enumerate(("ldnet-r1", "ldnet-r2")):
            conf = conf_for(rt, p, net=net, addr="10.232.%d.%d/24"
                            % (k + 1, round_ + 2))
            rc, _, out, err, _ = rt.plugin("ADD", conf, env=add_env(p, i))
            assert rc == 0, out + err
        res = [None, None]

        def one(k, net):
            res[k] = rt.plugin("DEL", conf_for(rt, p, net=net),
                               env=add_env(p, i))

        ts = [threading.Thread(target=one, args=(k, net))
              for k, net in enumerate(("ldnet-r1", "ldnet-r2"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        for r in res:
            assert r[0] == 0, r[2] + r[3]
        ls = d.ls_json()
        assert ls["containers"] == [] and ls["attachments"] == [], \
            (round_, ls)


# -- (d) GC -------------------------------------------------------------------------
def test_gc_without_a_valid_list_removes_nothing(rt):
    """GC's cni.dev/valid-attachments missing, of the wrong type, or with an
    entry without containerID: a CNI error, not "nothing is valid" (which
    removed every container of the network). null is libcni's empty list
    (a Go nil slice): nothing is valid."""
    d = rt.daemon
    ids = [hex_id(), hex_id()]
    for k, i in enumerate(ids):
        _, p = rt.container()
        rc, _, out, err, _ = rt.plugin(
            "ADD", conf_for(rt, p, net="ldnet-gc", addr="10.232.9.%d/24"
                            % (k + 2)), env=add_env(p, i))
        assert rc == 0, out + err
    base = {"cniVersion": "1.1.0", "name": "ldnet-gc", "type": "linkdns",
            "control": rt.control}
    for bad in ({},
                {"cni.dev/valid-attachments": {"containerID": ids[0]}},
                {"cni.dev/valid-attachments": "all"},
                {"cni.dev/valid-attachments": [{"containerID": ids[0]}, {}]},
                {"cni.dev/valid-attachments": [{"containerID": ids[0]},
                                               {"containerID": 7}]}):
        assert_cni_error(rt.plugin("GC", dict(base, **bad)), 7,
                         "valid-attachments")
        assert names(d) == sorted(i[:12] for i in ids)
    rc, _, out, err, _ = rt.plugin("GC", dict(
        base, **{"cni.dev/valid-attachments": [{"containerID": ids[1],
                                                "ifname": "eth0"}]}))
    assert rc == 0, out + err
    assert names(d) == [ids[1][:12]]
    rc, _, out, err, _ = rt.plugin("GC", dict(
        base, **{"cni.dev/valid-attachments": None}))
    assert rc == 0, out + err
    assert d.ls_json() == {"networks": [], "attachments": [],
                           "containers": [], "links": []}


def test_gc_of_many_stale_attachments(rt):
    """More stale attachments than one batch holds (LD_BATCH_LINES 1024,
    two lines each): GC removes them all, in several changes, instead of
    failing on every run."""
    d = rt.daemon
    n = 700
    lines = ["net ldnet-many --owner cni:net:ldnet-many"]
    for k in range(n):
        i = "%064x" % (k + 1)
        lines.append("add s%d --owner cni:%s" % (k, i))
        lines.append("attach s%d ldnet-many --addr 10.232.%d.%d"
                     % (k, 100 + k // 250, k % 250 + 1))
    load(d, lines)
    assert len(d.ls_json()["containers"]) == n
    gc = {"cniVersion": "1.1.0", "name": "ldnet-many", "type": "linkdns",
          "control": rt.control, "cni.dev/valid-attachments": []}
    rc, _, out, err, _ = rt.plugin("GC", gc)
    assert rc == 0, out + err
    ls = d.ls_json()
    assert ls["containers"] == [] and ls["networks"] == [], len(
        ls["containers"])


def test_gc_of_thousands_within_the_deadline(rt):
    """GC over 3,000 registrations, half of them valid: it matches the ls
    reply against the valid list in n log n, within the plugin's 2 s (it
    compared every attachment with every container and valid entry, and
    then found no time left to send the removals)."""
    d = rt.daemon
    n = 3000
    lines = ["net ldnet-big --owner cni:net:ldnet-big"]
    for k in range(n):
        lines.append("add b%d --owner cni:%064x" % (k, k + 1))
        lines.append("attach b%d ldnet-big --addr 10.233.%d.%d"
                     % (k, k // 250, k % 250 + 1))
    load(d, lines)
    valid = [{"containerID": "%064x" % (k + 1), "ifname": "eth0"}
             for k in range(0, n, 2)]
    gc = {"cniVersion": "1.1.0", "name": "ldnet-big", "type": "linkdns",
          "control": rt.control, "cni.dev/valid-attachments": valid}
    rc, _, out, err, _ = rt.plugin("GC", gc)
    assert rc == 0, out + err
    assert names(d) == sorted("b%d" % k for k in range(0, n, 2))


def test_alias_does_not_shadow_another_pods_name(rt):
    """A pod's aliases (and hostname) are its owner's choice: an alias equal
    to another pod's name, or to that name under the domain, must not take
    or share its answer."""
    _, pv = rt.container("victim")
    nsw, pw = rt.container("witness")
    _, pa = rt.container("attacker")
    for p, name, addr, aliases in (
            (pv, "victim", "10.232.4.2/24", []),
            (pw, "witness", "10.232.4.3/24", []),
            (pa, "attacker", "10.232.4.4/24",
             ["victim", "victim." + DOMAIN, "witness." + DOMAIN])):
        conf = conf_for(rt, p, addr=addr,
                        runtimeConfig={"aliases": aliases})
        env = dict(add_env(p), CNI_ARGS="K8S_POD_NAME=" + name)
        rc, _, out, err, _ = rt.plugin("ADD", conf, env=env)
        assert rc == 0, out + err
    assert addrs(ask(nsw, "victim")) == ["10.232.4.2"]
    assert addrs(ask(nsw, "victim." + DOMAIN)) == ["10.232.4.2"]
    assert addrs(ask(nsw, "witness." + DOMAIN)) == ["10.232.4.3"]


class GarbageSocket:
    """A Unix socket that answers every request with REPLY and closes."""

    def __init__(self, path, reply):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.bind(path)
        self.s.listen(64)
        self.s.settimeout(0.2)
        self.path, self.reply, self.stop = path, reply, False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            try:
                c = self.s.accept()[0]
            except OSError:
                continue
            try:
                c.settimeout(1)
                c.recv(65536)
                c.sendall(self.reply)
            except OSError:
                pass
            c.close()

    def close(self):
        self.stop = True
        self.t.join(5)
        self.s.close()


# -- (e) a daemon answering garbage ------------------------------------------------
def test_daemon_answering_garbage(rt):
    """Garbage after "ok", a verdict that is none, JSON of the wrong shape:
    a CNI error (5, or 11 for what is no answer at all) within the bound."""
    _, p = rt.container()
    for k, (reply, codes) in enumerate((
            (b"ok\n{garbage", (5,)),
            (b"ok\n" + b"[" * 100000, (5,)),
            (b"hello\n", (11,)),
            (b"ok\n{\"containers\": [{}], \"attachments\": []}", (5,)),
            (b"ok\n{\"containers\": 7}", (5,)))):
        g = GarbageSocket(os.path.join(rt.dir, "g%d.sock" % k), reply)
        try:
            conf = conf_for(rt, p, control=g.path)
            for cmd in ("ADD", "DEL", "CHECK"):
                res = rt.plugin(cmd, conf, env=add_env(p))
                assert res[1] and res[1].get("code") in codes, (cmd, res)
                assert_cni_error(res, res[1]["code"])
        finally:
            g.close()


def test_daemon_reply_past_the_bounds(rt):
    """A reply of more values or bytes than the plugin reads (rtjson's bound on
    linkdnsd's replies: 16 MiB, a value per 12 bytes) is refused, saying
    which bound, before json-c builds it: CNI error 5."""
    _, p = rt.container()
    head = b'ok\n{"containers": [], "attachments": [], "pad": ['
    for k, (reply, why) in enumerate((
            (head + b"1," * 1500000 + b"1]}", "more than 1398101 values"),
            (head + b"]}" + b" " * (17 << 20), "longer than 16777216 bytes"))):
        g = GarbageSocket(os.path.join(rt.dir, "b%d.sock" % k), reply)
        try:
            res = rt.plugin("ADD", conf_for(rt, p, control=g.path), env=add_env(p))
            assert res[1] and res[1].get("code") == 5, res
            assert why in res[1]["details"], res
            assert_cni_error(res, 5)
        finally:
            g.close()


# -- (f) DEL ------------------------------------------------------------------------
def test_del_of_an_id_add_could_not_name(rt):
    """DEL needs no name: a container ID without a 12-hex run that is no
    valid NAME (SPEC.md allows '.') and no K8S_POD_NAME failed DEL with
    error 4 (the runtime retries such a DEL for ever); it is unknown:
    success."""
    _, p = rt.container()
    conf = conf_for(rt, p)
    for cid in ("a.b", "pod.1"):
        rc, _, out, err, _ = rt.plugin("DEL", conf, env=add_env(p, cid))
        assert rc == 0 and out == "", out + err
    # ADD still says why it cannot name it
    assert_cni_error(rt.plugin("ADD", conf, env=add_env(p, "a.b")), 4,
                     "CNI_CONTAINERID")


def test_bounds_of_what_a_pod_lists(rt):
    """As many port mappings and aliases as the table takes register; one
    more is a clear CNI error 7 and nothing registered."""
    d = rt.daemon
    _, p = rt.container()
    many = [{"hostPort": 10000 + k, "containerPort": 20000 + k,
             "protocol": "tcp"} for k in range(1024)]
    # LD_ATTACH_ALIASES_MAX of 126 bytes (the name is the short ID: no
    # alias for it)
    aliases = ["a%02d.%s.%s" % (k, "x" * 60, "y" * 61) for k in range(64)]
    i = hex_id()
    conf = conf_for(rt, p, runtimeConfig={"portMappings": many,
                                          "aliases": aliases})
    rc, _, out, err, _ = rt.plugin("ADD", conf, env=add_env(p, i))
    assert rc == 0, out[:500] + err[:500]
    ls = d.ls_json()
    assert len(ls["containers"][0]["publish"]) == 1024
    assert len(ls["attachments"][0]["aliases"]) == 64
    rc, _, out, err, _ = rt.plugin("DEL", conf, env=add_env(p, i))
    assert rc == 0, out + err
    for rtc, word in (
            ({"portMappings": many + [{"hostPort": 9, "containerPort": 9}]},
             "portMappings"),
            ({"aliases": aliases + ["one-more"]}, "aliases")):
        assert_cni_error(rt.plugin("ADD", conf_for(rt, p, runtimeConfig=rtc),
                                   env=add_env(p)), 7, word)
    assert d.ls_json()["containers"] == []


def test_one_port_mapped_from_two_host_ports(rt):
    """`nerdctl run -p 8080:80 -p 8081:80`: one container port from two host
    ports (and the same again per address family). The table publishes a
    port once: the first mapping; ADD failed with "duplicate publish"."""
    d = rt.daemon
    _, p = rt.container()
    i = hex_id()
    conf = conf_for(rt, p, runtimeConfig={"portMappings": [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 8081, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp",
         "hostIP": "::"},
        {"hostPort": 8081, "containerPort": 80, "protocol": "udp"}]})
    rc, _, out, err, _ = rt.plugin("ADD", conf, env=add_env(p, i))
    assert rc == 0, out + err
    assert d.ls_json()["containers"][0]["publish"] == \
        ["8080:80/tcp", "8081:80/udp"]
