"""linkdns-oci-hook under real podman (issue 14, acceptance 1).

podman 4.3 with runc runs the hook from a hooks dir of the test's own
(linkdns.json naming the hook of the build under test and the daemon's
control socket), in a session of tests/podman.py: its own configuration
and storage, busybox-static containers (`run --rootfs`), networking in a
network namespace of the test's own.  The daemon is conftest's, in the
host's namespace; it listens at 127.0.0.11 inside each registered
container, which `--dns 127.0.0.11` puts in the container's resolv.conf.

Where podman cannot run a container, the tests are skipped with podman's
reason (tests/run counts a skip as a failure).  Runs as root.
"""

import json
import os
import shutil
import tempfile

import pytest

from conftest import BUILD, SANITIZER_MARKERS
from podman import Podman

NETNS_PREFIX = "ldph%d-" % os.getpid()
HOOK = os.path.join(BUILD, "linkdns-oci-hook")
DNS = ["--dns", "127.0.0.11"]


def write_hooks_dir(control):
    """A hooks dir whose linkdns.json is the installed one's, with the
    build's hook and CONTROL."""
    if not os.access(HOOK, os.X_OK):
        pytest.fail("linkdns-oci-hook not found at %s" % HOOK, pytrace=False)
    d = tempfile.mkdtemp(prefix="ldph-hooks-")
    with open(os.path.join(BUILD, "linkdns.json")) as f:
        conf = json.load(f)
    conf["hook"]["path"] = HOOK
    args = conf["hook"]["args"]
    args[args.index("--control") + 1] = control
    with open(os.path.join(d, "linkdns.json"), "w") as f:
        json.dump(conf, f)
    return d


@pytest.fixture
def session(linkdns):
    """(daemon, podman session) for one test."""
    d = linkdns("")
    hooks = write_hooks_dir(d.control)
    try:
        with Podman(NETNS_PREFIX, hooks_dir=hooks) as pm:
            yield d, pm
    finally:
        shutil.rmtree(hooks, ignore_errors=True)


def names(d):
    return sorted(c["name"] for c in json.loads(d.ok("ls", "--json"))
                  ["containers"])


def nslookup(pm, container, *args):
    """busybox nslookup ARGS inside CONTAINER: (exit status, output)."""
    p = pm.exec(container, "nslookup", *args, check=False, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_links_resolve_and_stop_removes(session):
    d, pm = session
    pm.run_detached("db", annotations={"io.linkdns.name": "db",
                                       "io.linkdns.expose": "5432/tcp"})
    pm.run_detached("cache", annotations={"io.linkdns.name": "cache"})
    # two links in one annotation, separated by a space
    pm.run_detached("web", annotations={
        "io.linkdns.name": "web",
        "io.linkdns.links": "db:database cache:kv"}, options=DNS)
    pm.run_detached("lonely", annotations={"io.linkdns.name": "lonely"},
                    options=DNS)
    assert names(d) == ["cache", "db", "lonely", "web"]
    db = json.loads(d.ok("ls", "--json"))["containers"]
    db = [c for c in db if c["name"] == "db"][0]
    cid = pm.inspect("db", "{{.Id}}")
    assert db["owners"] == ["oci:" + cid]
    addr = pm.address("db")
    assert db["addrs"] == [addr]

    rc, out = nslookup(pm, "web", "database")
    assert rc == 0 and addr in out, out
    rc, out = nslookup(pm, "web", "kv")
    assert rc == 0 and pm.address("cache") in out, out
    rc, out = nslookup(pm, "web", "-type=srv", "_5432._tcp.database")
    assert rc == 0 and "5432" in out, out
    # a container without links does not resolve db
    rc, out = nslookup(pm, "lonely", "db")
    assert addr not in out, out
    rc, out = nslookup(pm, "lonely", "database")
    assert addr not in out, out

    # podman stop: poststop removes the registration (and the links from it)
    pm.stop("web")
    assert names(d) == ["cache", "db", "lonely"]
    assert json.loads(d.ok("ls", "--json"))["links"] == []
    pm.rm("web")
    pm.rm("db")     # rm -f of a running container
    assert names(d) == ["cache", "lonely"]
    # started again: registered again
    pm.cmd("start", "lonely")   # already running: a no-op for podman
    pm.stop("lonely")
    pm.cmd("start", "lonely")
    assert names(d) == ["cache", "lonely"]
    assert not any(m in d.stderr for m in SANITIZER_MARKERS)


def test_link_to_missing_container_refuses_the_start(session):
    d, pm = session
    p = pm.run_detached("web", annotations={
        "io.linkdns.name": "web", "io.linkdns.links": "db:database"},
        options=DNS, check=False)
    assert p.returncode != 0
    lines = [x for x in p.stderr.splitlines()
             if "linkdns-oci-hook: error: " in x]
    assert len(lines) == 1 and "db" in lines[0], p.stderr
    assert names(d) == []
    # the container never ran
    state = pm.inspect("web", "{{.State.Status}}")
    assert state != "running", state


def test_name_of_a_live_container_refused(session):
    d, pm = session
    pm.run_detached("one", annotations={"io.linkdns.name": "db"})
    p = pm.run_detached("two", annotations={"io.linkdns.name": "db"},
                        check=False)
    assert p.returncode != 0
    assert "linkdns-oci-hook: error: " in p.stderr and "db" in p.stderr, \
        p.stderr
    assert names(d) == ["db"]
    owners = json.loads(d.ok("ls", "--json"))["containers"][0]["owners"]
    assert owners == ["oci:" + pm.inspect("one", "{{.Id}}")]


def test_default_name_is_the_short_id(session):
    d, pm = session
    p = pm.run_detached(annotations={"io.linkdns.expose": "80/tcp"})
    assert names(d) == [p.id[:12]]
    p2 = pm.run_detached(annotations={"io.linkdns.expose": "80/tcp"},
                         options=["--hostname", "api"])
    assert names(d) == sorted([p.id[:12], "api"])
    pm.rm(p.id)
    pm.rm(p2.id)
    assert names(d) == []
