"""linkdnsctl batch and the --owner rules (linkdns.links(5), linkdnsctl(8)).

- a batch is one change: all or none, one record in the state file, one
  acknowledgement; a refused line refuses it whole ("line N: ..."), and a
  SIGKILL around its append leaves all of it or none after a restart;
- a batch is bounded (lines, bytes) and a request that lies about its count
  fails cleanly; read-only commands are refused in it;
- --owner: recorded and kept across a restart, rm --owner removes only what
  TAG owns, ls --owner (PREFIX:*), add --replace across owners only once
  the old namespace is gone, two routes of one container ID merge.

Each test runs its own daemon in its own directory (test_control's
CtlDaemon).  Container addresses: 127.47.0.0/16 (no other file uses it).
Runs as root (namespaces).
"""

import json
import os
import random
import socket
import subprocess
import threading
import time

from conftest import linkdnsctl_path, netns_path, run_linkdnsd
# the work directory and the daemon factory of the control tests
from test_control import assert_refused, daemons, work  # noqa: F401

NETNS_PREFIX = "ldbo%d-" % os.getpid()
BATCH_LINES = 1024          # command.h LD_BATCH_LINES
BATCH_BYTES = 262144        # command.h LD_BATCH_BYTES
RECORD = b"#linkdns-record "


def batch(d, text, timeout=60):
    """`linkdnsctl batch` with TEXT on stdin; CompletedProcess."""
    return subprocess.run([linkdnsctl_path(), "--control", d.control,
                           "batch"], input=text, capture_output=True,
                          text=True, timeout=timeout)


def raw(d, data, shut=True, timeout=15.0):
    """DATA sent as is on the control socket (write side shut with SHUT);
    everything the daemon answers."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(d.control)
    try:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass    # refused before the whole request was read: the verdict
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode()
            out += chunk
    finally:
        s.close()


def names(text):
    return [l.split()[1] for l in text.splitlines() if l.startswith("add ")]


# -- batch ----------------------------------------------------------------------
def test_batch_applied_whole(daemons):
    d = daemons()
    d.ok("add", "pre", "--addr", "127.47.0.1")
    before = d.read_state()
    text = ("# the web tier\n"
            "add web --owner oci:aa --addr 127.47.1.1\n"
            "\n"
            "add db --owner oci:aa --addr 127.47.1.2 --expose 5432/tcp\n"
            "link web db:database   # a comment after a command\n"
            "rm pre\n")
    p = batch(d, text)
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", p
    assert d.ls() == ("add web --owner oci:aa --addr 127.47.1.1\n"
                      "add db --owner oci:aa --addr 127.47.1.2 "
                      "--expose 5432/tcp\n"
                      "link web db:database\n")
    appended = d.read_state()[len(before):]
    # one record: one durable append, framed whole
    assert appended.count(RECORD) == 1, appended
    assert appended.startswith(RECORD)
    # the batch's names answer right away
    r = d.ask("database.link.internal", "127.47.1.1")
    assert [a.to_text() for rr in r.answer for a in rr] == ["127.47.1.2"]


def test_batch_bad_line_changes_nothing(daemons):
    d = daemons()
    d.ok("add", "a", "--addr", "127.47.2.1")
    ls, state = d.ls(), d.read_state()
    # line 4 refers to a name only line 2 would have made: checked in order;
    # line 5 fails against the table as changed by lines 1-4
    p = batch(d, "add b --addr 127.47.2.2\nadd c --addr 127.47.2.3\n"
                 "# c is there now\nlink b c\nlink b nosuch\nadd e\n")
    assert_refused(p, 1, "line 5", "nosuch")
    assert d.ls() == ls
    assert d.read_state() == state
    # a later line may use what an earlier one made, rm included
    p = batch(d, "rm a\nadd a --addr 127.47.2.9\nadd a --addr 127.47.2.8\n")
    assert_refused(p, 1, "line 3", "already exists")
    assert d.ls() == ls and d.read_state() == state
    # the daemon is fine afterwards: the next change goes through
    d.ok("add", "after")
    assert names(d.ls()) == ["a", "after"]


def test_batch_refuses_read_only_and_usage(daemons):
    d = daemons()
    d.ok("add", "a")
    state = d.read_state()
    for cmd in ("ls", "show a", "stats", "reload", "ls --json"):
        p = batch(d, "add b\n%s\n" % cmd)
        assert_refused(p, 2, "line 2", "batch")
    p = batch(d, "add b\nadd c --bogus\n")
    assert_refused(p, 2, "line 2", "--bogus")
    p = batch(d, "# nothing\n\n")
    assert_refused(p, 2, "no commands")
    # the daemon refuses them too, for clients other than linkdnsctl
    out = raw(d, b"batch 2\nadd b\nls\n")
    assert out.startswith("error line 2: 'ls' cannot be part of a batch"), out
    assert d.read_state() == state and names(d.ls()) == ["a"]


def test_batch_bounds(daemons):
    d = daemons()
    p = batch(d, "".join("add n%d\n" % i for i in range(BATCH_LINES + 1)))
    assert_refused(p, 2, "more than %d lines" % BATCH_LINES)
    long_line = "add big " + "--expose 1/tcp " * 1 + "#" * 60000 + "\n"
    p = batch(d, long_line * 5)
    assert_refused(p, 2, "longer than %d bytes" % BATCH_BYTES)
    # exactly at the line bound: fine
    p = batch(d, "".join("add n%d\n" % i for i in range(BATCH_LINES)))
    assert p.returncode == 0, p.stderr
    assert len(names(d.ls())) == BATCH_LINES
    state = d.read_state()

    # the wire form, from a client that lies
    cases = [
        (b"batch 0\nadd x\n", "header"),
        (b"batch %d\nadd x\n" % (BATCH_LINES + 1), "header"),
        (b"batch -1\nadd x\n", "header"),
        (b"batch 99999999999999999999999\nadd x\n", "header"),
        (b"batch\nadd x\n", "header"),
        (b"batch 2\nadd x\nadd y\nadd z\n", "more lines than"),
        (b"batch 3\nadd x\n", "ended after 1 of the 3"),
        (b"batch 2\nadd x\n\0\n", "NUL byte"),
        # exactly what the daemon holds (control.c CTL_BATCH_MAX - 1), no end:
        # the verdict comes with nothing left unread
        (b"batch 5\n" + b"#" * (BATCH_BYTES + 63 - 8), "longer than"),
    ]
    for data, token in cases:
        out = raw(d, data)
        assert out.startswith("error ") and token in out, (data[:40], out)
        assert out.count("\n") == 1, out
    assert d.read_state() == state
    d.ok("add", "still-fine")


def test_batch_sigkill_all_or_nothing(daemons):
    """SIGKILL at moments around a big batch's append (a few hundred KB, so
    the write takes a while): after a restart the batch is there whole or
    not at all, and a batch acknowledged before the kill is there."""
    seed = int(os.environ.get("LINKDNS_CRASH_SEED", time.time_ns() % 10**9))
    rng = random.Random(seed)
    print("batch kill seed %d (LINKDNS_CRASH_SEED)" % seed)
    pad = " ".join("--expose %d/tcp" % (1000 + i) for i in range(70))
    outcomes = []
    for round_ in range(8):
        d = daemons()
        before = set(names(d.ls()))
        prefix = "r%d-" % round_
        text = "".join("add %s%d --addr 127.47.3.%d %s\n"
                       % (prefix, i, i + 1, pad) for i in range(160))
        assert len(text) < BATCH_BYTES
        result = {}
        t = threading.Thread(target=lambda: result.update(p=batch(d, text)))
        t.start()
        time.sleep(rng.uniform(0.0, 0.25))
        d.sigkill()
        t.join(60)
        p = result["p"]
        chk = run_linkdnsd(["--check-config", "--state", d.state,
                            "--no-upstream"])
        assert chk.returncode == 0, chk.stderr
        d = daemons()
        now = set(names(d.ls()))
        got = {n for n in now - before if n.startswith(prefix)}
        assert now >= before, "lost: %s" % (before - now)
        assert len(got) in (0, 160), (
            "seed %d round %d: %d of the batch's 160 entries after the kill"
            % (seed, round_, len(got)))
        if p.returncode == 0:
            assert len(got) == 160, "an acknowledged batch was lost"
        outcomes.append(len(got))
        d.stop()
    print("batch kill outcomes (entries kept per round): %s" % outcomes)


# -- owners -----------------------------------------------------------------------
def test_owner_recorded_and_kept_across_restart(daemons):
    d = daemons()
    d.ok("add", "a", "--addr", "127.47.4.1", "--owner", "oci:0123abcd")
    d.ok("add", "b", "--owner=cni:k8s-pod.x_1")
    # grammar order: --replace, --owner, then the rest
    d.ok("add", "b", "--addr", "127.47.4.2", "--replace",
         "--owner", "cni:k8s-pod.x_1")
    want = ("add a --owner oci:0123abcd --addr 127.47.4.1\n"
            "add b --owner cni:k8s-pod.x_1 --addr 127.47.4.2\n")
    assert d.ls() == want
    doc = json.loads(d.ok("ls", "--json"))
    assert [c["owners"] for c in doc["containers"]] == [
        ["oci:0123abcd"], ["cni:k8s-pod.x_1"]]
    d.stop()
    d = daemons()
    assert d.ls() == want
    d.ok("reload")
    assert d.ls() == want


def test_owner_tag_grammar(daemons):
    d = daemons()
    for bad in ("", "a b", "oci:x/y", "oci:*", "x" * 129, "é", "a;b", "*"):
        p = d.ctl("add", "a", "--owner", bad)
        assert p.returncode == 2, (bad, p)
    d.ok("add", "a", "--owner", "x" * 128)
    assert_refused(d.ctl("add", "b", "--owner", "o:1", "--owner", "o:1"), 2,
                   "duplicate owner")
    assert_refused(d.ctl("rm", "a", "--owner", "o:*"), 2, "invalid owner")
    assert_refused(d.ctl("rm", "a", "--owner", "o:1", "--owner", "o:2"), 2,
                   "twice")
    # a raw request is checked by the daemon too
    out = raw(d, b"add c --owner oci:a$b\n")
    assert out.startswith("error invalid owner"), out


def test_rm_owner(daemons):
    d = daemons()
    d.ok("add", "a", "--owner", "oci:1", "--addr", "127.47.5.1")
    d.ok("add", "b", "--addr", "127.47.5.2")
    d.ok("link", "b", "a")
    state = d.read_state()
    assert_refused(d.ctl("rm", "a", "--owner", "oci:2"), 1,
                   "not owned by 'oci:2'", "oci:1")
    assert_refused(d.ctl("rm", "b", "--owner", "oci:1"), 1, "not owned")
    assert d.read_state() == state
    d.ok("rm", "a", "--owner", "oci:1")
    assert d.ls() == "add b --addr 127.47.5.2\n"
    # plain rm ignores owners (the administrator's)
    d.ok("add", "c", "--owner", "oci:3")
    d.ok("rm", "c")
    assert names(d.ls()) == ["b"]


def test_ls_owner(daemons):
    d = daemons()
    p = batch(d, "add a1 --owner aardvark:net1 --addr 127.47.6.1\n"
                 "add a2 --owner aardvark:net2 --addr 127.47.6.2\n"
                 "add o1 --owner oci:ff --addr 127.47.6.3\n"
                 "add m --addr 127.47.6.4\n"
                 "link a1 a2\nlink o1 a1\nlink m a1\n")
    assert p.returncode == 0, p.stderr
    assert d.ok("ls", "--owner", "aardvark:*") == (
        "add a1 --owner aardvark:net1 --addr 127.47.6.1\n"
        "add a2 --owner aardvark:net2 --addr 127.47.6.2\n"
        "link a1 a2\n")
    assert d.ok("ls", "--owner", "oci:ff") == (
        "add o1 --owner oci:ff --addr 127.47.6.3\nlink o1 a1\n")
    assert d.ok("ls", "--owner", "oci:f") == ""
    doc = json.loads(d.ok("ls", "--owner", "aardvark:*", "--json"))
    assert [c["name"] for c in doc["containers"]] == ["a1", "a2"]
    assert doc["links"] == [{"from": "a1", "target": "a2", "alias": "a2"}]
    doc = json.loads(d.ok("ls", "--owner", "nobody:*", "--json"))
    assert doc == {"networks": [], "attachments": [], "containers": [], "links": []}
    assert len(names(d.ls())) == 4


def test_replace_across_owners_waits_for_the_namespace(daemons, namespaces):
    d = daemons()
    ns = namespaces.add("r")
    d.ok("add", "web", "--owner", "oci:1111", "--netns", netns_path(ns),
         "--addr", "127.47.7.1")
    d.ok("add", "db", "--addr", "127.47.7.2")
    d.ok("add", "cli", "--addr", "127.47.7.3")
    d.ok("link", "web", "db")      # from web
    d.ok("link", "cli", "web")     # to web
    state = d.read_state()
    # another owner, the namespace alive: refused, nothing changed
    p = d.ctl("add", "web", "--replace", "--owner", "oci:2222",
              "--addr", "127.47.7.9")
    assert_refused(p, 1, "owned by 'oci:1111'", "gone")
    p = d.ctl("add", "web", "--replace", "--addr", "127.47.7.9")
    assert_refused(p, 1, "owned by 'oci:1111'")
    assert d.read_state() == state
    # the same owner may replace it (a restarted container)
    d.ok("add", "web", "--replace", "--owner", "oci:1111", "--netns",
         netns_path(ns), "--addr", "127.47.7.4")
    assert "link web db\n" in d.ls()
    # an entry with owners but no namespace is never taken over
    d.ok("add", "static", "--owner", "oci:3333", "--addr", "127.47.7.5")
    assert_refused(d.ctl("add", "static", "--replace", "--owner", "oci:4444"),
                   1, "no namespace")
    # the namespace gone: the new owner takes the name; links to it stay,
    # links from it go
    namespaces.delete(ns)
    d.ok("add", "web", "--replace", "--owner", "oci:2222",
         "--addr", "127.47.7.9")
    want = ("add db --addr 127.47.7.2\n"
            "add cli --addr 127.47.7.3\n"
            "add static --owner oci:3333 --addr 127.47.7.5\n"
            "link cli web\n")
    assert d.ls() == ("add web --owner oci:2222 --addr 127.47.7.9\n" + want)
    r = d.ask("web.link.internal", "127.47.7.3")
    assert [a.to_text() for rr in r.answer for a in rr] == ["127.47.7.9"]
    # the file replays to the same table
    d.stop()
    d = daemons()
    assert d.ls() == ("add web --owner oci:2222 --addr 127.47.7.9\n" + want)


def test_two_routes_merge(daemons):
    d = daemons()
    cid = "ab" * 32
    d.ok("add", "app", "--owner", "oci:" + cid, "--addr", "127.47.8.1")
    d.ok("add", "peer", "--addr", "127.47.8.2")
    d.ok("link", "app", "peer")
    # the same container by another route: merged, its registration stays
    d.ok("add", "app", "--owner", "cni:" + cid, "--addr", "127.47.8.1")
    assert d.ls() == ("add app --owner oci:%s --owner cni:%s "
                      "--addr 127.47.8.1\n"
                      "add peer --addr 127.47.8.2\nlink app peer\n"
                      % (cid, cid))
    # the same route again is an ordinary duplicate; another ID is refused
    assert_refused(d.ctl("add", "app", "--owner", "cni:" + cid), 1,
                   "already exists")
    assert_refused(d.ctl("add", "app", "--owner", "cni:" + "cd" * 32), 1,
                   "already exists")
    # one owner goes: the entry stays, with the other
    d.ok("rm", "app", "--owner", "oci:" + cid)
    assert d.ls() == ("add app --owner cni:%s --addr 127.47.8.1\n"
                      "add peer --addr 127.47.8.2\nlink app peer\n" % cid)
    r = d.ask("peer.link.internal", "127.47.8.1")
    assert [a.to_text() for rr in r.answer for a in rr] == ["127.47.8.2"]
    d.stop()
    d = daemons()                       # the merge and the rm replay
    assert d.ls() == ("add app --owner cni:%s --addr 127.47.8.1\n"
                      "add peer --addr 127.47.8.2\nlink app peer\n" % cid)
    # the last owner goes: so does the entry, with its links
    d.ok("rm", "app", "--owner", "cni:" + cid)
    assert d.ls() == "add peer --addr 127.47.8.2\n"


def test_batch_with_owners_is_one_registration(daemons):
    """What the runtime programs do: register a container with its links in
    one batch; a name held by another owner refuses the whole of it."""
    d = daemons()
    d.ok("add", "db", "--owner", "oci:1", "--addr", "127.47.9.1")
    state = d.read_state()
    p = batch(d, "add web --owner oci:2 --addr 127.47.9.2\n"
                 "link web db\n"
                 "add db --replace --owner oci:2 --addr 127.47.9.3\n")
    assert_refused(p, 1, "line 3", "owned by 'oci:1'")
    assert d.read_state() == state
    p = batch(d, "add web --owner oci:2 --addr 127.47.9.2\nlink web db\n")
    assert p.returncode == 0, p.stderr
    d.ok("rm", "web", "--owner", "oci:2")
    assert d.ls() == "add db --owner oci:1 --addr 127.47.9.1\n"


def test_networks_in_a_batch_and_owned(daemons, namespaces):
    """A runtime registers a network, its container and the attachment in one
    batch; ls --owner lists the owner's networks and attachments; a takeover
    of a dead container's name drops its attachments (DESIGN: such a
    replacement keeps the links to it, drops its links from it and its
    attachments)."""
    d = daemons()
    ns = namespaces.add("nb")
    p = batch(d, "net podnet --owner aardvark:podnet --domain dns.podman\n"
                 "add web --owner oci:5555 --netns %s\n"
                 "attach web podnet --addr 127.47.8.1 --alias www\n"
                 "add other --addr 127.47.8.2\n" % netns_path(ns))
    assert p.returncode == 0, p.stderr
    assert d.ok("ls", "--owner", "oci:5555") == (
        "add web --owner oci:5555 --netns %s\n"
        "attach web podnet --addr 127.47.8.1 --alias www\n" % netns_path(ns))
    assert d.ok("ls", "--owner", "aardvark:*") == (
        "net podnet --owner aardvark:podnet --domain dns.podman\n")
    doc = json.loads(d.ok("ls", "--owner", "oci:*", "--json"))
    assert [a["container"] for a in doc["attachments"]] == ["web"]
    assert doc["networks"] == []
    # a bad line at the end: the network and its attachment are not made
    p = batch(d, "net n2\nattach other n2 --addr 127.47.8.3\nlink nosuch other\n")
    assert p.returncode != 0 and "line 3" in p.stderr
    assert "n2" not in d.ls()
    # the namespace gone, another owner takes the name: attachments go
    namespaces.delete(ns)
    d.ok("add", "web", "--replace", "--owner", "oci:6666",
         "--addr", "127.47.8.9")
    assert "attach web" not in d.ls()
    assert d.ok("show", "--net", "podnet") == (
        "net podnet --owner aardvark:podnet --domain dns.podman\n")
