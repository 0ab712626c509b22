"""linkdns-oci-hook fed directly: the state JSON on stdin, a bundle dir with
config.json, as podman or CRI-O give them (linkdns-oci-hook(8)).

Each "container" is a network namespace the test makes (a veth pair
with a global address, lo left down for the hook to bring up) and a sleep
in it whose PID the state names; a real linkdnsd (conftest's factory)
registers it and answers at 127.0.0.11 inside.  Checked: createRuntime
registers in one batch (owner oci:ID, addresses from the namespace, expose,
publish, links), poststop removes what oci:ID owns (twice is fine, bundle
gone is fine), the name rules (hostname, short ID), the owner rules the
daemon keeps (a live container of another owner keeps its name, a dead one
is replaced, another route of the same ID merges), and every error: one
line on stderr, exit 1, nothing registered, within a bounded time even when
the daemon never answers.  Under the ASan build the hook is the ASan binary
and no sanitizer report may appear.

Addresses: 10.14.0.0/16, only inside the test's namespaces.  Runs as root.
"""

import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BUILD, SANITIZER_MARKERS, run

NETNS_PREFIX = "ldoh%d-" % os.getpid()
HOOK = os.path.join(BUILD, "linkdns-oci-hook")
ERR = "linkdns-oci-hook: error: "
DEADLINE = 15          # seconds a hook may take on a loaded machine
JSON_MAX = 4 << 20     # rtjson.h LD_JSON_MAX


def hook_path():
    if not os.access(HOOK, os.X_OK):
        pytest.fail("linkdns-oci-hook not found at %s: build it first"
                    % HOOK, pytrace=False)
    return HOOK


def new_id():
    return "%064x" % random.getrandbits(256)


def hook(control, stdin, args=None, timeout=DEADLINE):
    """Runs the hook with STDIN (bytes, str or a dict as JSON); returns the
    CompletedProcess (text) with .took in seconds.  A sanitizer report
    fails the test."""
    if isinstance(stdin, dict):
        stdin = json.dumps(stdin)
    if isinstance(stdin, str):
        stdin = stdin.encode()
    argv = [hook_path()] + (["--control", control] if args is None
                            else list(args))
    t0 = time.monotonic()
    p = subprocess.run(argv, input=stdin, capture_output=True,
                       timeout=timeout)
    p.took = time.monotonic() - t0
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    for m in SANITIZER_MARKERS:
        assert m not in p.stderr, "sanitizer report:\n" + p.stderr
    return p


def assert_error(p, *words):
    """Exit 1 and exactly one line on stderr, the hook's, with WORDS."""
    assert p.returncode == 1, "exit %d\n%s" % (p.returncode, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERR), p.stderr
    for w in words:
        assert w in lines[0], "%r not in %r" % (w, lines[0])


def assert_ok(p):
    assert p.returncode == 0 and p.stderr == "", \
        "exit %d\n%s" % (p.returncode, p.stderr)


class Container:
    """A namespace with ADDR on a veth interface (lo down), a sleep in it,
    a bundle dir with config.json (HOSTNAME, ANNOTATIONS) and an ID."""

    _n = 0

    def __init__(self, namespaces, annotations=None, hostname=None,
                 addr="auto", cid=None, config_annotations=None):
        Container._n += 1
        self.ns = namespaces.add("c", lo=False)
        self.id = cid or new_id()
        self.addr = ("10.14.%d.2" % Container._n) if addr == "auto" else addr
        if self.addr:
            # a veth pair with both ends inside (no dummy module here)
            run(["ip", "-n", self.ns, "link", "add", "e0", "type", "veth",
                 "peer", "name", "e1"])
            run(["ip", "-n", self.ns, "addr", "add", self.addr + "/24",
                 "dev", "e0"])
            for dev in ("e0", "e1"):
                run(["ip", "-n", self.ns, "link", "set", dev, "up"])
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns,
                                      "sleep", "100000"],
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        # the sleep is in the namespace once ip has exec'd it
        home = os.readlink("/proc/self/ns/net")
        for _ in range(500):
            try:
                if os.readlink("/proc/%d/ns/net" % self.pid) != home:
                    break
            except OSError:
                pass
            time.sleep(0.01)
        self.bundle = tempfile.mkdtemp(prefix="ldoh-bundle-")
        self.annotations = dict(annotations or {})
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump({"ociVersion": "1.0.2-dev",
                       "hostname": hostname if hostname is not None
                       else self.id[:12],
                       "annotations": dict(config_annotations
                                           if config_annotations is not None
                                           else self.annotations)}, f)

    def state(self, status="creating", **over):
        s = {"ociVersion": "1.0.2-dev", "id": self.id, "status": status,
             "bundle": self.bundle, "annotations": self.annotations}
        if status != "stopped":
            s["pid"] = self.pid
        s.update(over)
        return {k: v for k, v in s.items() if v is not None}

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.bundle, ignore_errors=True)


@pytest.fixture
def containers(namespaces):
    made = []

    def make(*a, **kw):
        c = Container(namespaces, *a, **kw)
        made.append(c)
        return c
    try:
        yield make
    finally:
        for c in made:
            c.cleanup()


@pytest.fixture
def daemon(linkdns):
    return linkdns("")


def ls_json(d):
    return json.loads(d.ok("ls", "--json"))


def entry(d, name):
    for c in ls_json(d)["containers"]:
        if c["name"].lower() == name.lower():
            return c
    return None


def resolve(ns, name, rdtype="A"):
    """What 127.0.0.11 answers inside NS (dig +short), as a list."""
    p = run(["ip", "netns", "exec", ns, "dig", "@127.0.0.11", "+time=2",
             "+tries=2", "+short", name, rdtype], check=False)
    return p.stdout.split("\n")[:-1] if p.stdout else []


def test_create_registers_and_links(daemon, containers):
    db = containers({"io.linkdns.name": "db",
                     "io.linkdns.expose": "5432/tcp 53/udp",
                     "io.linkdns.publish": "15432:5432/tcp"})
    other = containers({"io.linkdns.name": "other"})
    # the two links separated by a space, as users write them
    web = containers({"io.linkdns.name": "web",
                      "io.linkdns.links": "db:database other:x"})
    for c in (db, other, web):
        assert_ok(hook(daemon.control, c.state()))
    e = entry(daemon, "db")
    assert e["owners"] == ["oci:" + db.id]
    assert e["addrs"] == [db.addr] and e["pid"] == db.pid
    assert "5432/tcp" in e["expose"] and "53/udp" in e["expose"]
    assert "15432:5432/tcp" in e["publish"]
    links = {(l["from"], l["target"], l["alias"])
             for l in ls_json(daemon)["links"]}
    assert links == {("web", "db", "database"), ("web", "other", "x")}
    # lo was down in the namespace: the hook brought it up, and the daemon
    # answers there
    lo = run(["ip", "-n", web.ns, "link", "show", "lo"]).stdout
    assert "UP" in lo.split(">")[0]
    assert resolve(web.ns, "database") == [db.addr]
    assert resolve(web.ns, "x") == [other.addr]
    srv = resolve(web.ns, "_5432._tcp.database", "SRV")
    assert len(srv) == 1 and srv[0].split()[2] == "5432", srv
    # a container without links does not resolve db
    assert resolve(other.ns, "database") == []
    assert resolve(other.ns, "db") == []


def test_poststop_removes_and_is_idempotent(daemon, containers):
    db = containers({"io.linkdns.name": "db"})
    web = containers({"io.linkdns.name": "web", "io.linkdns.links": "db"})
    assert_ok(hook(daemon.control, db.state()))
    assert_ok(hook(daemon.control, web.state()))
    # poststop: the bundle may be gone, there is no pid
    shutil.rmtree(web.bundle)
    web.kill()
    assert_ok(hook(daemon.control, web.state("stopped")))
    assert entry(daemon, "web") is None and entry(daemon, "db") is not None
    assert ls_json(daemon)["links"] == []
    assert_ok(hook(daemon.control, web.state("stopped")))   # twice: fine
    # a container that was never registered: nothing to do
    assert_ok(hook(daemon.control, {"id": new_id(), "status": "stopped"}))
    assert_ok(hook(daemon.control, db.state("stopped")))
    assert ls_json(daemon)["containers"] == []


def test_names(daemon, containers):
    # no io.linkdns.name: the hostname (podman: the 12-hex short ID)
    a = containers({"io.linkdns.expose": "80/tcp"})
    assert_ok(hook(daemon.control, a.state()))
    assert entry(daemon, a.id[:12]) is not None
    # a hostname that is no NAME: the short ID
    b = containers({"io.linkdns.expose": "80/tcp"}, hostname="web.example")
    assert_ok(hook(daemon.control, b.state()))
    assert entry(daemon, b.id[:12]) is not None
    c = containers({"io.linkdns.expose": "80/tcp"}, hostname="api")
    assert_ok(hook(daemon.control, c.state()))
    assert entry(daemon, "api")["owners"] == ["oci:" + c.id]
    # an explicit io.linkdns.name that is no NAME is refused
    d = containers({"io.linkdns.name": "no.dots"})
    assert_error(hook(daemon.control, d.state()), "io.linkdns.name",
                 "no.dots")
    # annotations only in config.json (a runtime that does not pass them
    # in the state) count too
    e = containers(config_annotations={"io.linkdns.name": "fromconfig"})
    assert_ok(hook(daemon.control, e.state()))
    assert entry(daemon, "fromconfig") is not None


def test_link_to_missing_container_refused_whole(daemon, containers):
    web = containers({"io.linkdns.name": "web",
                      "io.linkdns.links": "db:database"})
    before = ls_json(daemon)
    p = hook(daemon.control, web.state())
    assert_error(p, "db")
    assert ls_json(daemon) == before      # nothing half-registered


def test_owner_rules(daemon, containers, namespaces):
    first = containers({"io.linkdns.name": "db"})
    assert_ok(hook(daemon.control, first.state()))
    # a live container of another owner keeps the name: the start refused
    second = containers({"io.linkdns.name": "db"})
    assert_error(hook(daemon.control, second.state()), "db",
                 "oci:" + first.id)
    assert entry(daemon, "db")["owners"] == ["oci:" + first.id]
    # the first one died without its poststop: its namespace gone, the
    # name is taken over
    first.kill()
    namespaces.delete(first.ns)
    assert_ok(hook(daemon.control, second.state()))
    e = entry(daemon, "db")
    assert e["owners"] == ["oci:" + second.id] and e["addrs"] == [second.addr]


def test_same_id_other_route_merges(daemon, containers):
    c = containers({"io.linkdns.name": "db"})
    daemon.ok("add", "db", "--owner", "cni:" + c.id, "--pid", c.pid,
              "--addr", c.addr)
    assert_ok(hook(daemon.control, c.state()))
    assert sorted(entry(daemon, "db")["owners"]) == \
        sorted(["cni:" + c.id, "oci:" + c.id])
    # poststop takes only the hook's owner away
    assert_ok(hook(daemon.control, c.state("stopped")))
    assert entry(daemon, "db")["owners"] == ["cni:" + c.id]


def test_created_again_without_poststop(daemon, containers):
    """createRuntime twice for one ID (a restart whose poststop never ran,
    with other links now): the registration is renewed, not refused."""
    db = containers({"io.linkdns.name": "db"})
    cache = containers({"io.linkdns.name": "cache"})
    web = containers({"io.linkdns.name": "web", "io.linkdns.links": "db"})
    for c in (db, cache, web):
        assert_ok(hook(daemon.control, c.state()))
    web.annotations["io.linkdns.links"] = "cache:db"
    assert_ok(hook(daemon.control, web.state()))
    links = {(l["from"], l["target"], l["alias"])
             for l in ls_json(daemon)["links"]}
    assert links == {("web", "cache", "db")}
    # renamed on the way: the old name goes
    web.annotations["io.linkdns.name"] = "front"
    assert_ok(hook(daemon.control, web.state()))
    assert entry(daemon, "web") is None and entry(daemon, "front")


def test_no_global_address(daemon, containers):
    c = containers({"io.linkdns.name": "lonely"}, addr=None)
    assert_error(hook(daemon.control, c.state()), "no global address")
    assert ls_json(daemon)["containers"] == []


@pytest.mark.parametrize("case", [
    "not json", "truncated", "array", "no id", "bad id", "short id",
    "no status", "odd status", "no pid", "pid string", "pid zero",
    "no bundle", "relative bundle", "missing bundle", "bad config",
    "bad expose", "option in expose", "bad link", "newline in link"])
def test_malformed_state(daemon, containers, case):
    c = containers({"io.linkdns.name": "db"})
    s = c.state()
    ann = dict(s["annotations"])
    stdin = None
    if case == "not json":
        stdin = "this is { not json"
    elif case == "truncated":
        stdin = json.dumps(s)[:-5]
    elif case == "array":
        stdin = json.dumps([s])
    elif case == "no id":
        del s["id"]
    elif case == "bad id":
        s["id"] = "../../etc/passwd" + c.id
    elif case == "short id":
        s["id"] = c.id[:8]
    elif case == "no status":
        del s["status"]
    elif case == "odd status":
        s["status"] = "running"
    elif case == "no pid":
        del s["pid"]
    elif case == "pid string":
        s["pid"] = str(c.pid)
    elif case == "pid zero":
        s["pid"] = 0
    elif case == "no bundle":
        del s["bundle"]
    elif case == "relative bundle":
        s["bundle"] = "bundle"
    elif case == "missing bundle":
        s["bundle"] = c.bundle + "-gone"
    elif case == "bad config":
        with open(os.path.join(c.bundle, "config.json"), "w") as f:
            f.write("{\"hostname\": ")
    elif case == "bad expose":
        ann["io.linkdns.expose"] = "5432/tcp nonsense"
    elif case == "option in expose":
        ann["io.linkdns.expose"] = "53/udp --netns /etc/passwd"
    elif case == "bad link":
        ann["io.linkdns.links"] = "db:bad..alias"
    elif case == "newline in link":
        ann["io.linkdns.links"] = "x\nadd evil --addr 10.14.250.1"
    s["annotations"] = ann
    p = hook(daemon.control, stdin if stdin is not None else s)
    assert_error(p)
    assert ls_json(daemon)["containers"] == []


def test_oversized_and_endless_input(daemon):
    # one byte over the bound: refused without reading it all into memory
    big = b'{"id": "' + b"a" * JSON_MAX + b'"}'
    assert_error(hook(daemon.control, big), "stdin")
    # deep nesting
    assert_error(hook(daemon.control, b"[" * 100000))
    # a writer that never closes stdin: the hook gives up in bounded time
    p = subprocess.Popen([hook_path(), "--control", daemon.control],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    t0 = time.monotonic()
    try:
        p.stdin.write(b'{"id": "')
        p.stdin.flush()
        p.wait(timeout=DEADLINE)
        took = time.monotonic() - t0
        err = p.stderr.read().decode()
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdin.close()
    assert p.returncode == 1 and err.startswith(ERR), err
    assert took < 6, took


def test_daemon_that_never_answers(containers, tmp_path):
    """A control socket that accepts and never replies, and none at all:
    the hook fails in bounded time (container start never hangs)."""
    c = containers({"io.linkdns.name": "db"})
    path = str(tmp_path / "mute.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        for status in ("creating", "stopped"):
            p = hook(path, c.state(status))
            assert_error(p, "mute.sock")
            assert p.took < 8, p.took
    finally:
        stop.set()
        t.join(5)
        for s in held:
            s.close()
        srv.close()
    p = hook(str(tmp_path / "none.sock"), c.state())
    assert_error(p, "none.sock")
    assert p.took < 3


def test_usage():
    p = hook(None, b"", args=["--help"])
    assert p.returncode == 0 and "--control" in p.stdout
    p = hook(None, b"", args=["--bogus"])
    assert p.returncode == 2 and p.stderr.startswith(ERR)


def test_hooks_d_file():
    """The hooks.d file meson generates: version 1.0.0, the stages, the
    annotation condition, the hook's path and --control in its args."""
    with open(os.path.join(BUILD, "linkdns.json")) as f:
        h = json.load(f)
    assert h["version"] == "1.0.0"
    assert sorted(h["stages"]) == ["createRuntime", "poststop"]
    assert h["when"] == {"annotations": {"^io\\.linkdns\\.": ".*"}}
    assert h["hook"]["path"].endswith("/linkdns/linkdns-oci-hook")
    assert os.path.isabs(h["hook"]["path"])
    assert h["hook"]["args"][0] == "linkdns-oci-hook"
    assert "--control" in h["hook"]["args"]

