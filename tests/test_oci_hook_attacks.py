"""linkdns-oci-hook under attack (issue 14's review): what a container's
user, a podman user with annotations, or a hostile bundle can make the hook
do.  Fed directly, as in test_oci_hook.py, whose helpers this reuses.

Checked: a name registered by hand (no owner) for a live container refuses
the start instead of being replaced silently (the daemon's owner rule, as
DESIGN.md's "Registration by container runtimes" says); a refusal is one
line without the batch's internal line number; annotations over the
bounds name the annotation, not the hook's internal add line; items that
look like options, comments or extra lines never reach the daemon; a
config.json that is a FIFO or a symlink is refused at once; poststop of
one container never touches another's entries, and does not fail when its
entry is taken over between its listing and its removal.

Addresses: 10.14.0.0/16, only inside the test's namespaces.  Runs as root.
"""

import json
import os
import socket
import threading
import time

from test_oci_hook import (assert_error, assert_ok, containers,  # noqa: F401
                           daemon, entry, hook, ls_json, new_id)

NETNS_PREFIX = "ldoa%d-" % os.getpid()


def test_hand_registered_live_name_refuses_start(daemon, containers,
                                                 namespaces):
    """An entry without an owner (linkdnsctl add by hand) whose namespace is
    alive is a live container of another owner: the hook's add --replace
    must not take it over.  Once its namespace is gone it may."""
    hand = containers({"io.linkdns.name": "hand"})
    daemon.ok("add", "hand", "--pid", hand.pid, "--addr", hand.addr)
    before = ls_json(daemon)
    other = containers({"io.linkdns.name": "hand"})
    assert_error(hook(daemon.control, other.state()), "'hand'", "owner")
    assert ls_json(daemon) == before
    # a hand-registered plain endpoint (no namespace) is never taken over
    daemon.ok("add", "static", "--addr", "10.14.200.1")
    st = containers({"io.linkdns.name": "static"})
    assert_error(hook(daemon.control, st.state()), "'static'")
    assert entry(daemon, "static")["addrs"] == ["10.14.200.1"]
    # the hand-registered container died: its name is taken over
    hand.kill()
    namespaces.delete(hand.ns)
    assert_ok(hook(daemon.control, other.state()))
    e = entry(daemon, "hand")
    assert e["owners"] == ["oci:" + other.id] and e["addrs"] == [other.addr]
    # by hand, without --owner, replacing an entry without owner stays
    # as it was (linkdnsctl add --replace of one's own registration)
    daemon.ok("add", "static", "--replace", "--addr", "10.14.200.2")


def test_refusal_is_one_line_without_batch_line_number(daemon, containers):
    web = containers({"io.linkdns.name": "web",
                      "io.linkdns.links": "nosuch:db"})
    p = hook(daemon.control, web.state())
    assert_error(p, "'nosuch' does not exist")
    assert "line " not in p.stderr, p.stderr


def test_too_many_items_name_the_annotation(daemon, containers):
    """Thousands of exposes or publishes: refused with the annotations'
    names, not the hook's internal add line with its owner and PID."""
    many = " ".join("%d/tcp" % i for i in range(1, 6000))
    c = containers({"io.linkdns.name": "many", "io.linkdns.expose": many})
    p = hook(daemon.control, c.state())
    assert_error(p, "io.linkdns.expose")
    assert "--owner" not in p.stderr and "--pid" not in p.stderr, p.stderr
    pub = " ".join("%d:%d/tcp" % (i + 1000, i) for i in range(1, 4000))
    c = containers({"io.linkdns.name": "pubs", "io.linkdns.publish": pub})
    p = hook(daemon.control, c.state())
    assert_error(p, "io.linkdns.publish")
    assert "--owner" not in p.stderr, p.stderr
    links = " ".join("x%d" % i for i in range(3000))
    c = containers({"io.linkdns.name": "links", "io.linkdns.links": links})
    assert_error(hook(daemon.control, c.state()), "io.linkdns.links")
    assert ls_json(daemon)["containers"] == []


def test_injection_through_annotations(daemon, containers):
    """Items that would be options, comments, quotes or extra batch lines
    are refused by the hook; nothing reaches the daemon."""
    db = containers({"io.linkdns.name": "db"})
    assert_ok(hook(daemon.control, db.state()))
    before = ls_json(daemon)
    for key, value in [
            ("io.linkdns.links", "db --owner oci:" + db.id),
            ("io.linkdns.links", "db:#x"),
            ("io.linkdns.links", "db:'a b'"),
            ("io.linkdns.links", "db\rrm db"),
            ("io.linkdns.expose", "80/tcp\n--addr 10.14.250.9"),
            ("io.linkdns.publish", "80:80/tcp --netns=/proc/1/ns/net"),
            ("io.linkdns.name", "x\nrm db"),
            ("io.linkdns.name", "db --owner oci:" + db.id)]:
        c = containers({"io.linkdns.name": "inj", key: value})
        assert_error(hook(daemon.control, c.state()))
        assert ls_json(daemon) == before, (key, value)


def test_hostile_config_json(daemon, containers):
    """config.json as a FIFO nobody writes, or a symlink to another file:
    refused at once (the hook never waits on a bundle)."""
    c = containers({"io.linkdns.name": "fifo"})
    cfg = os.path.join(c.bundle, "config.json")
    os.unlink(cfg)
    os.mkfifo(cfg)
    t0 = time.monotonic()
    assert_error(hook(daemon.control, c.state()), "config.json")
    assert time.monotonic() - t0 < 5
    os.unlink(cfg)
    os.symlink("/etc/hostname", cfg)
    assert_error(hook(daemon.control, c.state()), "config.json")
    assert ls_json(daemon)["containers"] == []


def test_poststop_touches_only_its_own_id(daemon, containers):
    """Another container's ID as a prefix, a suffix, the short ID, an ID
    with a route prefix or a pattern: nothing of the first is removed."""
    db = containers({"io.linkdns.name": "db"})
    assert_ok(hook(daemon.control, db.state()))
    for bad in (db.id[:12], db.id[:63], db.id[1:], "oci:" + db.id,
                db.id + "*", "*", db.id.upper(), "x" + db.id):
        p = hook(daemon.control, {"id": bad, "status": "stopped"})
        assert p.returncode in (0, 1), p.stderr
        assert entry(daemon, "db")["owners"] == ["oci:" + db.id], bad
    # a stranger's poststop of a valid ID: nothing owned, nothing done
    assert_ok(hook(daemon.control, {"id": new_id(), "status": "stopped"}))
    assert entry(daemon, "db") is not None


def test_poststop_entry_taken_over_meanwhile(tmp_path):
    """poststop lists what oci:ID owns, then removes it; a container of the
    same name that took the entry over in between (this one's namespace was
    gone) makes linkdnsd refuse the removal.  The hook lists again and
    finds nothing of its own: done, exit 0.  A fake control socket plays
    the race."""
    cid = new_id()
    owned = {"networks": [], "attachments": [], "links": [],
             "containers": [{"name": "db", "owners": ["oci:" + cid]}]}
    empty = dict(owned, containers=[])
    replies = [b"ok\n" + json.dumps(owned).encode(),
               b"error line 1: 'db' is not owned by 'oci:%s' but by 'oci:%s'\n"
               % (cid.encode(), new_id().encode()),
               b"ok\n" + json.dumps(empty).encode()]
    asked = []
    path = str(tmp_path / "race.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    srv.settimeout(10)

    def serve():
        for reply in replies:
            try:
                c = srv.accept()[0]
            except OSError:
                return
            with c:
                c.settimeout(5)
                data = b""
                while True:   # a request: "ls ...\n" or "batch N\n" + N lines
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    lines = data.split(b"\n")
                    if data.startswith(b"batch "):
                        if len(lines) > int(lines[0].split()[1]) + 1:
                            break
                    elif len(lines) > 1:
                        break
                asked.append(data.decode())
                c.sendall(reply)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        p = hook(path, {"id": cid, "status": "stopped"})
    finally:
        t.join(10)
        srv.close()
    assert_ok(p)
    assert asked[0].startswith("ls --owner oci:" + cid)
    assert asked[1] == "batch 1\nrm db --owner oci:%s\n" % cid
    assert asked[2].startswith("ls --owner oci:" + cid)
