"""Attacks on the aardvark-dns replacement (issue 15 review): names a podman
user chooses (container names, aliases, network names), the contents of
netavark's directory, signals. Files are written by hand, as in
test_aardvark.py's second half; linkdnsd is the test's own."""

import os
import signal
import time

from conftest import free_port, wait_for
from test_aardvark import (adir, cid, gone, start, stop,  # noqa: F401
                          tmp, write_net)


def pid_of(d):
    with open(os.path.join(d, "aardvark.pid")) as f:
        return int(f.read())


def test_many_names_taken_by_others_do_not_fail_the_sync(linkdns, adir):
    """Each container whose name another owner holds cost one whole attempt
    (an ls and a refused batch): 16 such names made the start fail, so one
    podman user could stop every podman network's DNS."""
    d = linkdns("")
    n = 20
    for i in range(n):
        d.ok("add", "taken%d" % i, "--addr", "127.0.8.%d" % (i + 1))
    lines = ["127.0.0.1"]
    for i in range(n):
        lines.append("%s 127.0.9.%d  taken%d" % (cid("t%d" % i), i + 1, i))
    lines.append("%s 127.0.9.200  innocent" % cid("innocent"))
    write_net(adir, "podnet", "\n".join(lines) + "\n")
    p = start(adir, free_port(), d.control)
    assert p.returncode == 0, p.stderr
    assert "'taken19' is another owner's" in p.stderr, p.stderr
    ls = d.ok("ls", "--owner", "aardvark:*")
    assert "attach innocent podnet --addr 127.0.9.200" in ls, ls
    for i in range(n):
        short = cid("t%d" % i)[:12]
        assert "add %s --owner aardvark:%s" % (short, cid("t%d" % i)) in ls
    # the hand-registered entries are untouched
    for i in range(n):
        assert "add taken%d --addr 127.0.8.%d" % (i, i + 1) in d.ok("ls")


def test_network_named_like_the_pid_files_temporary(linkdns, adir):
    """`podman network create aardvark.pid.tmp` is a valid network name: the
    pid file's temporary file must not delete that network's file."""
    d = linkdns("")
    write_net(adir, "aardvark.pid.tmp",
              "127.0.0.1\n%s 127.0.9.9  victim\n" % cid("victim"))
    p = start(adir, free_port(), d.control)
    assert p.returncode == 0, p.stderr
    assert os.path.exists(os.path.join(adir, "aardvark.pid.tmp"))
    ls = d.ok("ls", "--owner", "aardvark:*")
    assert "attach victim aardvark.pid.tmp" in ls, ls


def test_odd_directory_entries(linkdns, adir, tmp):
    """A FIFO, a symlink, a directory, a file over 2 MiB, CRLF lines and a
    line of 10,000 names: reported, never waited on; the good network
    serves."""
    d = linkdns("")
    os.mkfifo(os.path.join(adir, "fifo"))
    target = os.path.join(tmp, "target")
    write_net(tmp, "target", "127.0.0.1\n%s 127.0.9.20  linked\n" % cid("l"))
    os.symlink(target, os.path.join(adir, "link"))
    os.mkdir(os.path.join(adir, "subdir"))
    write_net(adir, "huge", "127.0.0.1\n" + "x" * (3 << 20))
    write_net(adir, "crlf", "127.0.0.1\r\n%s 127.0.9.21  crlf\r\n" % cid("c"))
    write_net(adir, "wide", "127.0.0.1\n%s 127.0.9.22  %s\n" % (
        cid("w"), ",".join("n%d" % i for i in range(10000))))
    write_net(adir, "good", "127.0.0.1\n%s 127.0.9.23  fine\n" % cid("f"))
    t0 = time.monotonic()
    p = start(adir, free_port(), d.control)
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - t0 < 10
    ls = d.ok("ls", "--owner", "aardvark:*")
    assert "attach fine good" in ls, ls
    assert "linked" not in ls
    for name in ("fifo", "link", "subdir", "huge", "wide"):
        assert "%s/%s" % (adir, name) in p.stderr, (name, p.stderr)


def test_sighup_storm_is_coalesced(linkdns, adir):
    """Hundreds of SIGHUPs: the server stays up, serves the last state and
    does not re-sync once per signal for long after the storm."""
    d = linkdns("")
    write_net(adir, "podnet", "127.0.0.1\n%s 127.0.9.30  one\n" % cid("one"))
    p = start(adir, free_port(), d.control)
    assert p.returncode == 0, p.stderr
    pid = pid_of(adir)
    write_net(adir, "podnet", "127.0.0.1\n%s 127.0.9.30  one\n"
              "%s 127.0.9.31  two\n" % (cid("one"), cid("two")))
    for _ in range(500):
        os.kill(pid, signal.SIGHUP)
    wait_for("two attached", lambda: "attach two podnet" in d.ok(
        "ls", "--owner", "aardvark:*"), 10.0)
    assert not gone(pid)
    os.kill(pid, signal.SIGTERM)
    wait_for("exit after the storm", lambda: gone(pid), 10.0)


def test_server_killed_before_ready_gives_one_line(adir, tmp):
    """The server (child) killed while the parent waits for it: the parent
    exits 1 with one line, as netavark reports it, not silently."""
    import socket
    import subprocess
    from test_aardvark import BIN
    write_net(adir, "n1", "127.0.0.1\n%s 127.0.9.40  c1\n" % cid("c1"))
    path = os.path.join(tmp, "silent.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    pidfile = os.path.join(adir, "aardvark.pid")
    try:
        p = subprocess.Popen([BIN, "--config", adir, "-p", str(free_port()),
                              "--control", path, "run"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        wait_for("pid file", lambda: os.path.exists(pidfile), 5.0)
        os.kill(pid_of(adir), signal.SIGKILL)
        out, err = p.communicate(timeout=10)
    finally:
        s.close()
        if os.path.exists(pidfile):
            os.unlink(pidfile)  # the killed server's: adir's teardown reads it
    assert p.returncode == 1, (p.returncode, err)
    assert len(err.strip().splitlines()) == 1, err


def test_files_past_the_bound_keep_their_networks(linkdns, adir):
    """Past 256 network files the rest are skipped: a skipped network must
    be left as it is, not removed (which files are skipped is the file
    system's order, so a flood of files made a user's network vanish)."""
    d = linkdns("")
    names = ["f%03d" % i for i in range(300)]
    for n in names:  # malformed: no listener, no network, only files
        write_net(adir, n, "not-an-address\n")
    # the server reads in the directory's order (ext4: by the names' hash)
    order = [n for n in os.listdir(adir) if n in names]
    victim = order[-1]
    for n in names:
        if n != victim:
            os.unlink(os.path.join(adir, n))
    write_net(adir, victim, "127.0.0.1\n%s 127.0.9.50  keeper\n" % cid("k"))
    p = start(adir, free_port(), d.control)
    assert p.returncode == 0, p.stderr
    assert "attach keeper %s" % victim in d.ok("ls", "--owner", "aardvark:*")
    for n in names:
        if n != victim:
            write_net(adir, n, "not-an-address\n")
    os.kill(pid_of(adir), signal.SIGHUP)
    time.sleep(1.0)
    ls = d.ok("ls", "--owner", "aardvark:*")
    assert "attach keeper %s" % victim in ls, ls


def test_many_aliases_do_not_freeze_the_network(linkdns, adir):
    """A container with more --network-alias than an attach holds: its
    extra names are dropped, the network's other containers still synced
    (the whole file was refused, so one user's aliases froze the network
    for everyone on it)."""
    d = linkdns("")
    many = ",".join(["greedy"] + ["a%d" % i for i in range(80)])
    write_net(adir, "podnet", "127.0.0.1\n%s 127.0.9.60  %s\n"
              "%s 127.0.9.61  other\n" % (cid("g"), many, cid("o")))
    p = start(adir, free_port(), d.control)
    assert p.returncode == 0, p.stderr
    ls = d.ok("ls", "--owner", "aardvark:*")
    assert "attach other podnet --addr 127.0.9.61" in ls, (ls, p.stderr)
    assert "attach greedy podnet --addr 127.0.9.60 --alias a0" in ls, ls


def test_many_network_names_taken_by_others(linkdns, adir):
    """Podman networks named like networks another route (CNI, by hand)
    made: each cost an attempt, and 16 made the start fail for every
    network."""
    d = linkdns("")
    n = 20
    for i in range(n):
        d.ok("net", "other%d" % i)
        write_net(adir, "other%d" % i, "127.0.0.1\n%s 127.0.9.%d  c%d\n" % (
            cid("o%d" % i), i + 1, i))
    write_net(adir, "good", "127.0.0.1\n%s 127.0.9.100  fine\n" % cid("f"))
    p = start(adir, free_port(), d.control)
    assert p.returncode == 0, p.stderr
    ls = d.ok("ls")
    assert "attach fine good --addr 127.0.9.100" in ls, (ls, p.stderr)
    for i in range(n):  # the others' networks are untouched
        assert "net other%d\n" % i in ls, ls
