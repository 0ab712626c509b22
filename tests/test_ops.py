"""Operations: the systemd unit, the man pages, `meson install`, sd_notify
readiness and reloads, --check-config, the logs, and the capabilities and
system calls the unit allows.

Needs: systemd-analyze (Debian `systemd`), mandoc, man (`man-db`), meson,
ninja, setpriv, strace, ip, nsenter, dig.  The capability test needs root.
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import (REPO, Daemon, linkdnsctl_path, linkdnsd_path,
                      make_query, run_linkdnsd, stop_cleanly)

import dns.message

UNIT = os.path.join(REPO, "systemd", "linkdnsd.service")
MAN = os.path.join(REPO, "man")
PAGES = {"linkdnsd.8": 8, "linkdnsctl.8": 8, "linkdns.links.5": 5,
         "linkdns-oci-hook.8": 8}
EXAMPLE = os.path.join(REPO, "zones", "example.links")
EXAMPLE_LARGE = os.path.join(REPO, "zones", "example-large.links")
# The cross-host options (linkdnsd(8), "Cross-host publishing"): each must be in the page.
CROSS_HOST_OPTIONS = ("--publish-zone", "--publish-address", "--transfer-allow",
                      "--notify", "--tsig", "--stale")
LOG_LINE = re.compile(r"^linkdnsd: (error|warning|info|debug): \S")
DEADLINE = 10.0


def tool(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") +
                        ":/usr/sbin:/sbin")
    if not path:
        pytest.fail("%s not found: run scripts/install-deps" % name,
                    pytrace=False)
    return path


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def unit_settings(path=UNIT):
    """[(key, value)] of the unit's assignments, in order."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and line[0] not in "#;[" and "=" in line:
                k, v = line.split("=", 1)
                out.append((k.strip(), v.strip()))
    return out


def man_tree(dest):
    """DEST/man{5,8}/PAGE, for MANPATH."""
    for page, section in PAGES.items():
        d = os.path.join(dest, "man%d" % section)
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(os.path.join(MAN, page), os.path.join(d, page))
    return dest


# -- 1. the unit ---------------------------------------------------------------
MISSING_BINARY = ("linkdnsd.service: Command /usr/sbin/linkdnsd is not "
                  "executable: No such file or directory")


def verify_unit(unit, manpath):
    """systemd-analyze verify: the lines it reports, less the binary's
    absence when /usr/sbin/linkdnsd is not installed."""
    env = dict(os.environ, MANPATH=manpath)
    p = run([tool("systemd-analyze"), "verify", unit], env=env)
    lines = [x for x in (p.stdout + p.stderr).splitlines() if x.strip()]
    if not os.path.exists("/usr/sbin/linkdnsd"):
        lines = [x for x in lines if x != MISSING_BINARY]
    return p, lines


def test_unit_verifies_clean():
    with tempfile.TemporaryDirectory() as tmp:
        # Documentation= names man pages: systemd-analyze runs man(1) on them.
        p, lines = verify_unit(UNIT, man_tree(os.path.join(tmp, "man")))
    assert lines == [], "systemd-analyze verify reported:\n" + "\n".join(lines)
    if os.path.exists("/usr/sbin/linkdnsd"):
        assert p.returncode == 0, p.stderr


def test_unit_settings():
    s = unit_settings()
    d = {}
    for k, v in s:
        d.setdefault(k, []).append(v)
    assert d["Type"] == ["notify"]
    assert d["ExecStartPre"][0].split()[:2] == ["/usr/sbin/linkdnsd",
                                                "--check-config"]
    assert d["ExecStart"][0].split()[0] == "/usr/sbin/linkdnsd"
    # the check sees the daemon's own options
    assert d["ExecStartPre"][0].split()[2:] == d["ExecStart"][0].split()[1:]
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert d["StateDirectory"] == ["linkdns"]
    assert d["RuntimeDirectory"] == ["linkdns"]
    assert int(d["LimitNOFILE"][0]) >= 65536
    assert d["CapabilityBoundingSet"] == [
        "CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_NET_BIND_SERVICE"]
    for key in ("ProtectSystem", "ProtectHome", "PrivateTmp", "NoNewPrivileges",
                "RestrictAddressFamilies", "SystemCallFilter",
                "LockPersonality", "MemoryDenyWriteExecute", "RestrictRealtime",
                "ProtectKernelModules", "ProtectKernelLogs",
                "ProtectControlGroups", "ProtectClock", "ProtectHostname",
                "RestrictSUIDSGID", "RestrictNamespaces"):
        assert key in d, "%s is not set" % key
    assert d["ProtectSystem"] == ["strict"]
    assert d["RestrictNamespaces"] == ["net"]   # setns(CLONE_NEWNET) only
    # joining the containers' namespaces needs the host's network and users
    for key in ("PrivateNetwork", "PrivateUsers", "User", "DynamicUser"):
        assert key not in d, "%s would break setns into containers" % key


def test_unit_security_exposure():
    p = run([tool("systemd-analyze"), "security", "--offline=true",
             "--no-pager", UNIT])
    m = re.search(r"Overall exposure level for linkdnsd\.service: "
                  r"([0-9.]+)", p.stdout + p.stderr)
    assert m, "no exposure level in:\n" + p.stdout + p.stderr
    exposure = float(m.group(1))
    print("systemd-analyze security --offline=true: exposure %.1f" % exposure)
    print("\n".join(x for x in p.stdout.splitlines() if x.startswith("\u2717")))
    assert exposure < 3.0, p.stdout


# -- 2. the man pages ------------------------------------------------------------
@pytest.mark.parametrize("page", sorted(PAGES))
def test_man_page_lints_clean(page):
    p = run([tool("mandoc"), "-Tlint", "-Wall", os.path.join(MAN, page)])
    out = (p.stdout + p.stderr).strip()
    assert p.returncode == 0 and out == "", "mandoc -Tlint -Wall:\n" + out


def rendered(page):
    """The page as text (no overstrike), and its sections by heading."""
    p = run([tool("mandoc"), "-Tascii", "-Owidth=200",
             os.path.join(MAN, page)])
    assert p.returncode == 0, p.stderr
    text = re.sub(r".\x08", "", p.stdout)
    sections, name = {}, None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z -]+$", line):
            name = line.strip()
            sections[name] = []
        elif name:
            sections[name].append(line)
    return text, {k: "\n".join(v) for k, v in sections.items()}


def tagged(section, word):
    """WORD starts an item (a tag line) in SECTION."""
    return re.search(r"^\s+" + re.escape(word) + r"(?![\w-])", section,
                     re.M) is not None


def help_options(argv):
    p = run(argv)
    assert p.returncode == 0, p.stderr
    return p.stdout, re.findall(r"^\s+(--[a-z][a-z0-9-]*)", p.stdout, re.M)


def test_every_linkdnsd_option_is_in_its_page():
    out, opts = help_options([linkdnsd_path(), "--help"])
    assert len(opts) >= 15, "cannot parse linkdnsd --help:\n" + out
    _, sec = rendered("linkdnsd.8")
    missing = [o for o in list(opts) + list(CROSS_HOST_OPTIONS)
               if not tagged(sec["OPTIONS"], o)]
    assert not missing, "not documented in linkdnsd.8 OPTIONS: %s" % missing
    for s in ("SIGNALS", "FILES", "EXIT STATUS", "ENVIRONMENT", "EXAMPLES"):
        assert s in sec, "linkdnsd.8 has no %s section" % s
    for sig in ("SIGHUP", "SIGTERM", "SIGINT"):
        assert sig in sec["SIGNALS"]
    for f in ("/var/lib/linkdns/links", "/run/linkdns/control.sock"):
        assert f in sec["FILES"]
    for status in ("0", "1", "2"):
        assert tagged(sec["EXIT STATUS"], status)


def ctl_commands():
    out = run([linkdnsctl_path(), "--help"]).stdout
    body = out.split("Commands", 1)
    assert len(body) == 2, "cannot parse linkdnsctl --help:\n" + out
    cmds = []
    for line in body[1].splitlines()[1:]:
        m = re.match(r"^  ([a-z][a-z-]*)\b", line)
        if not m:
            break
        cmds.append(m.group(1))
    assert len(cmds) >= 8, "cannot parse linkdnsctl --help:\n" + out
    return out, cmds


def test_every_linkdnsctl_command_is_in_its_page_with_an_example():
    out, cmds = ctl_commands()
    _, sec = rendered("linkdnsctl.8")
    missing = [c for c in cmds if not tagged(sec["COMMANDS"], c)]
    assert not missing, "not documented in linkdnsctl.8 COMMANDS: %s" % missing
    no_example = [c for c in cmds if not re.search(
        r"^\s+(\$ )?linkdnsctl( --control \S+)? %s\b" % c, sec["EXAMPLES"],
        re.M)]
    assert not no_example, "no example in linkdnsctl.8: %s" % no_example
    # every option of linkdnsctl and of each command
    opts = set(re.findall(r"(--[a-z][a-z0-9-]*)", out))
    for c in cmds:
        p = run([linkdnsctl_path(), c, "--help"])
        assert p.returncode == 0, "linkdnsctl %s --help: %s" % (c, p.stderr)
        opts |= set(re.findall(r"(--[a-z][a-z0-9-]*)", p.stdout))
    text, _ = rendered("linkdnsctl.8")
    missing = sorted(o for o in opts if not re.search(
        re.escape(o) + r"(?![\w-])", text))
    assert not missing, "options not in linkdnsctl.8: %s" % missing
    assert "LINKDNS_CONTROL" in sec["ENVIRONMENT"]


def test_links_page_has_grammar_and_answer_rules():
    text, sec = rendered("linkdns.links.5")
    for cmd in ("add", "rm", "link", "unlink"):
        assert tagged(sec["FORMAT"], cmd), cmd
    for word in ("--replace", "--netns", "--pid", "--addr", "--expose",
                 "--publish", "--dns", "--remote"):
        assert word in sec["FORMAT"], word
    rules = sec["WHAT A VIEW RESOLVES"]
    for word in ("NODATA", "NXDOMAIN", "REFUSED", "SRV", "PTR", "SOA",
                 "Static zones", "Forwarding", "localhost"):
        assert word in rules, word
    assert "--publish-zone" in sec["CROSS-HOST ZONE"]


# -- 3. meson install ------------------------------------------------------------
def test_meson_install_puts_files_where_debian_does():
    tmp = tempfile.mkdtemp(prefix="ldops-install-")
    try:
        b, dest = os.path.join(tmp, "build"), os.path.join(tmp, "dest")
        p = run([tool("meson"), "setup", "--prefix=/usr", "--sysconfdir=/etc",
                 b, REPO], timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        p = run([tool("meson"), "install", "-C", b, "--destdir", dest],
                timeout=600)
        assert p.returncode == 0, p.stdout[-4000:] + p.stderr
        unitdirs = ["lib/systemd/system", "usr/lib/systemd/system"]
        units = [os.path.join(dest, d, "linkdnsd.service") for d in unitdirs]
        units = [u for u in units if os.path.isfile(u)]
        assert units, "no linkdnsd.service under %s" % unitdirs
        with open(units[0]) as f, open(UNIT) as g:
            assert f.read() == g.read()
        for exe in ("usr/sbin/linkdnsd", "usr/sbin/linkdnsctl"):
            path = os.path.join(dest, exe)
            assert os.access(path, os.X_OK), exe
        assert run([os.path.join(dest, "usr/sbin/linkdnsd"),
                    "--version"]).returncode == 0
        for page, section in PAGES.items():
            base = os.path.join(dest, "usr/share/man/man%d" % section, page)
            assert os.path.isfile(base) or os.path.isfile(base + ".gz"), base
        ex = os.path.join(dest, "usr/share/doc/linkdns/examples/example.links")
        assert os.path.isfile(ex)
        # the OCI hook, and the hooks.d file naming its installed path
        hook = "/usr/libexec/linkdns/linkdns-oci-hook"
        assert os.access(dest + hook, os.X_OK)
        with open(os.path.join(dest, "usr/share/containers/oci/hooks.d/"
                               "linkdns.json")) as f:
            assert json.load(f)["hook"]["path"] == hook
        # the installed unit and pages check out together
        _, lines = verify_unit(units[0], os.path.join(dest, "usr/share/man"))
        assert lines == [], "\n".join(lines)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- 4. sd_notify ----------------------------------------------------------------
class NotifyDaemon(Daemon):
    """conftest's Daemon with a NOTIFY_SOCKET of its own: ready when it
    says so there (.first, the message); .recv() returns the next one.
    LISTEN=False: no --listen."""

    def __init__(self, table, extra=(), prefix=(), listen=True, env=None):
        super().__init__(table, extra, listen_host="127.0.0.1" if listen
                         else None, prefix=prefix, start=False)
        self.sockpath = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sockpath)
        # the sender's PID, as systemd checks it (NotifyAccess=main)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.pid = None
        self.env = dict(os.environ, NOTIFY_SOCKET=self.sockpath, **(env or {}))
        try:
            self.start(DEADLINE)
        except BaseException:
            self.sock.close()
            raise
        self.pid = self.sender
        if not prefix:
            assert self.pid == self.proc.pid, \
                "notification not from the main process"

    def _ready(self):
        """READY=1 (or any first message) on the notify socket, which is
        what these tests check; not conftest's DNS probe."""
        self.first = self.recv(0.2, fail=False)
        if self.first is not None:
            return "ready"
        return "exited" if self.proc.poll() is not None else False

    def recv(self, timeout=DEADLINE, fail=True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            self.sock.settimeout(min(0.2, max(0.01, deadline - time.monotonic())))
            try:
                data, anc, _, _ = self.sock.recvmsg(
                    4096, socket.CMSG_SPACE(struct.calcsize("3i")))
            except socket.timeout:
                continue
            self.sender = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    self.sender = struct.unpack("3i", value[:12])[0]
            if self.pid is not None:
                assert self.sender == self.pid, \
                    "notification from PID %s, not %s" % (self.sender, self.pid)
            return data.decode()
        if fail:
            pytest.fail("no notification within %.0f s\nstderr:\n%s"
                        % (timeout, self.stderr), pytrace=False)
        return None

    def ask_once(self, name, source, rdtype="A", timeout=1.0):
        """One UDP query, one attempt: the reply or None."""
        q = make_query(name, rdtype)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((source, 0))
            s.settimeout(timeout)
            s.sendto(q.to_wire(), ("127.0.0.1", self.port))
            return dns.message.from_wire(s.recv(65535))
        except socket.timeout:
            return None
        finally:
            s.close()

    def signal(self, sig):
        os.kill(self.pid, sig)

    def stop(self):
        """SIGTERM to linkdnsd itself (not to a PREFIX in front of it);
        exit 0 and no sanitizer report asserted; returns its stderr."""
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            pass   # stop_cleanly says so
        stop_cleanly(self.proc, self.stderr_path, DEADLINE)
        return self.stderr

    def close(self):
        self._cleanup()
        self.sock.close()


@pytest.fixture
def notified():
    made = []

    def start(*a, **kw):
        d = NotifyDaemon(*a, **kw)
        made.append(d)
        return d
    yield start
    for d in made:
        d.close()


STATUS = re.compile(r"^STATUS=(\d+) containers, (\d+) links, (\d+) namespaces$",
                    re.M)


def ready_status(msg):
    lines = msg.split("\n")
    assert "READY=1" in lines, "not READY=1: %r" % msg
    m = STATUS.search(msg)
    assert m, "no STATUS=N containers, M links, K namespaces in %r" % msg
    return int(m.group(1)), int(m.group(2))


def test_ready_means_answering_then_reload_notifications(notified):
    d = notified(EXAMPLE)
    # The first notification is READY=1, and a query sent at that moment is
    # answered at once (one attempt).
    assert ready_status(d.first) == (3, 2)
    r = d.ask_once("db", "127.0.10.3")
    assert r is not None, "READY=1 sent before a listener answers"
    assert [rd.address for rrset in r.answer for rd in rrset] == ["127.0.10.2"]
    assert os.path.exists(d.control), "READY=1 before the control socket"
    assert d.ctl("ls").returncode == 0

    # SIGHUP: RELOADING=1, then READY=1 with the new size.
    with open(d.state, "a") as f:
        f.write("add cache --addr 127.0.10.9\nlink web cache\n")
    d.signal(signal.SIGHUP)
    assert d.recv() == "RELOADING=1"
    assert ready_status(d.recv()) == (4, 3)
    r = d.ask_once("cache", "127.0.10.3")
    assert r is not None and r.answer, "reloaded table not in force"

    # linkdnsctl reload: the same pair
    p = d.ctl("reload")
    assert p.returncode == 0, p.stderr
    assert d.recv() == "RELOADING=1"
    assert ready_status(d.recv()) == (4, 3)

    # a bad file: the pair still comes, the running table stays
    with open(d.state, "a") as f:
        f.write("add broken --addr 1.2.3\n")
    d.signal(signal.SIGHUP)
    assert d.recv() == "RELOADING=1"
    assert ready_status(d.recv()) == (4, 3)
    assert d.ask_once("db", "127.0.10.3").answer
    err = d.stop()
    assert re.search(r"error: %s:\d+: .*'1\.2\.3'" % re.escape(d.state), err), err
    assert "running table stays" in err


# -- 5. --check-config -----------------------------------------------------------
@pytest.mark.parametrize("table", [EXAMPLE, EXAMPLE_LARGE])
def test_check_config_examples(table, tmp_path):
    state = tmp_path / "links"
    shutil.copyfile(table, state)
    ctl = tmp_path / "control.sock"
    p = run_linkdnsd(["--state", str(state), "--control", str(ctl),
                      "--check-config"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert not ctl.exists(), "--check-config opened the control socket"
    with open(table, "rb") as f, open(state, "rb") as g:
        assert f.read() == g.read(), "--check-config changed the table"


def test_check_config_static_zones(tmp_path):
    state = tmp_path / "links"
    shutil.copyfile(EXAMPLE, state)
    p = run_linkdnsd(["--state", str(state), "--zones",
                      os.path.join(REPO, "zones", "static"), "--check-config"])
    assert p.returncode == 0, p.stdout + p.stderr
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "bad.zone").write_text(
        "$ORIGIN bad.test.\n$TTL 300\n"
        "@ IN SOA ns hostmaster 1 3600 600 86400 300\n"
        "www IN A 999.1.1.1\n")
    p = run_linkdnsd(["--state", str(state), "--zones", str(zones),
                      "--check-config"])
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"bad\.zone:4\b", p.stderr), p.stderr


@pytest.mark.parametrize("lines,bad_line,token", [
    ("add db --addr 127.0.10.2\nadd web --addr 1.2.3\n", 2, "1.2.3"),
    ("# comment\n\nadd db\nlink web db\n", 4, "web"),
    ("add db\nfrob db\n", 2, "frob"),
])
def test_check_config_bad_table(tmp_path, lines, bad_line, token):
    state = tmp_path / "links"
    state.write_text(lines)
    p = run_linkdnsd(["--state", str(state), "--check-config"])
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"^linkdnsd: error: %s:%d: .*'%s'"
                     % (re.escape(str(state)), bad_line, re.escape(token)),
                     p.stderr, re.M), p.stderr


def test_check_config_missing_table_is_empty(tmp_path):
    state = tmp_path / "links"
    p = run_linkdnsd(["--state", str(state), "--check-config"])
    assert p.returncode == 0, p.stderr
    assert not state.exists()


# -- logs ----------------------------------------------------------------------
def sync_log(d):
    """Every query sent so far has been handled once a reload is logged."""
    before = d.stderr.count("reloaded:")
    d.signal(signal.SIGHUP)
    assert d.recv() == "RELOADING=1"
    d.recv()
    deadline = time.monotonic() + DEADLINE
    while d.stderr.count("reloaded:") == before:
        assert time.monotonic() < deadline, d.stderr
        time.sleep(0.01)


@pytest.mark.parametrize("log_queries", [False, True])
def test_logs_one_line_per_event(notified, log_queries):
    d = notified(EXAMPLE, ["--log-queries"] if log_queries else [])
    names = ["db", "web", "nosuch.link.internal", "x.db", "_5432._tcp.db"]
    for n in names:
        assert d.ask_once(n, "127.0.10.3") is not None, n
    # over TCP too
    q = make_query("db.link.internal", "A")
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        s.sendall(len(q.to_wire()).to_bytes(2, "big") + q.to_wire())
        assert len(s.recv(65535)) > 2
    names.append("db.link.internal")
    sync_log(d)
    err = d.stop()
    lines = err.splitlines()
    bad = [x for x in lines if not LOG_LINE.match(x)]
    assert not bad, "lines not 'linkdnsd: LEVEL: message':\n" + "\n".join(bad)
    qlines = [x for x in lines if "query" in x.lower()]
    if not log_queries:
        assert qlines == [], "query lines without --log-queries:\n" + err
        assert len(lines) < 15, err
        return
    assert len(qlines) == len(names), err
    for n in names:
        hits = [x for x in qlines if re.search(r" %s\.? " % re.escape(n), x)]
        assert len(hits) == 1, "%s logged %d times:\n%s" % (n, len(hits), err)


# -- the unit's capabilities and system calls, outside systemd -----------------
def unit_caps():
    caps = dict(unit_settings())["CapabilityBoundingSet"].split()
    return [c.lower().replace("cap_", "") for c in caps]


def expand_filter_groups():
    """{'@group': set of syscalls}, groups expanded."""
    p = run([tool("systemd-analyze"), "syscall-filter", "--no-pager"])
    groups, cur = {}, None
    for line in p.stdout.splitlines():
        if line.startswith("@"):
            cur = line.strip()
            groups[cur] = set()
        elif cur and line.strip() and not line.strip().startswith("#"):
            groups[cur].add(line.strip())

    def expand(g, seen=()):
        out = set()
        for x in groups[g]:
            out |= expand(x, seen + (g,)) if x.startswith("@") else {x}
        return out
    return {g: expand(g) for g in groups}


def allowed_syscalls():
    groups = expand_filter_groups()
    allowed = set(groups["@default"])
    for k, v in unit_settings():
        if k != "SystemCallFilter":
            continue
        deny = v.startswith("~")
        for item in v.lstrip("~").split():
            s = groups[item] if item.startswith("@") else {item}
            allowed = allowed - s if deny else allowed | s
    return allowed


class NetnsFixture:
    def __init__(self):
        if os.geteuid() != 0:
            pytest.fail("needs root (ip netns add, setns)", pytrace=False)
        self.name = "ldops%d" % os.getpid()
        self.procs = []
        run(["ip", "netns", "del", self.name])
        assert run(["ip", "netns", "add", self.name]).returncode == 0
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])

    def container_process(self):
        """A root process with every capability in a new network namespace."""
        p = subprocess.Popen([tool("unshare"), "--net", "sleep", "300"],
                             stdin=subprocess.DEVNULL)
        self.procs.append(p)
        mine = os.stat("/proc/self/ns/net").st_ino
        deadline = time.monotonic() + DEADLINE
        while os.stat("/proc/%d/ns/net" % p.pid).st_ino == mine:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        run([tool("nsenter"), "--net=/proc/%d/ns/net" % p.pid,
             "ip", "link", "set", "lo", "up"])
        return p.pid

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        run(["ip", "netns", "del", self.name])


def dig_in(nsenter_arg, name, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while True:
        p = run([tool("nsenter"), nsenter_arg, tool("dig"), "@127.0.0.11",
                 "+time=1", "+tries=1", "+short", name])
        if p.stdout.strip() or time.monotonic() > end:
            return p.stdout.strip()
        time.sleep(0.05)


@pytest.mark.parametrize("drop", [None, "sys_ptrace", "sys_admin",
                                  "net_bind_service"])
def test_unit_capabilities_are_enough_and_each_is_needed(notified, drop):
    """linkdnsd with exactly the unit's capability bounding set (less DROP),
    no new privileges: a /run/netns namespace and a --pid container of
    another process with full capabilities.  Without a drop, traced: every
    system call it makes must pass the unit's SystemCallFilter."""
    caps = [c for c in unit_caps() if c != drop]
    ns = NetnsFixture()
    trace = os.path.join(tempfile.gettempdir(), "ldops-strace-%d" % os.getpid())
    try:
        table = ("add web --netns /run/netns/%s --addr 127.0.31.3\n"
                 "add db --addr 127.0.31.2 --expose 5432/tcp\n"
                 "link web db\n" % ns.name)
        prefix = [tool("setpriv"), "--bounding-set",
                  "-all," + ",".join("+" + c for c in caps), "--no-new-privs",
                  "--"]
        env = {}
        if drop is None:
            prefix = [tool("strace"), "-f", "-qq", "-o", trace] + prefix
            # LeakSanitizer (build-asan) cannot run under ptrace
            env["ASAN_OPTIONS"] = ":".join(
                x for x in (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0") if x)
        d = notified(table, prefix=prefix, listen=False, env=env)
        pid = ns.container_process()
        add = d.ctl("add", "app", "--pid", str(pid), "--addr", "127.0.31.4")
        if drop is not None:
            err = d.stop()
            print("without CAP_%s: linkdnsctl add --pid: %s%s"
                  % (drop.upper(), add.stderr, err))
            if drop == "sys_ptrace":   # /proc/PID/ns/net of a root process
                assert add.returncode == 1, add.stderr
                assert "Permission denied" in add.stderr
            elif drop == "sys_admin":  # setns(2)
                assert re.search(r"cannot listen in namespace \S+%s of 'web'"
                                 r".*Operation not permitted" % ns.name, err)
            else:                      # port 53
                assert re.search(r"cannot listen in namespace \S+%s of 'web'"
                                 r".*Permission denied" % ns.name, err)
            return
        assert add.returncode == 0, add.stderr
        assert d.ctl("link", "app", "db").returncode == 0
        assert dig_in("--net=/run/netns/" + ns.name, "db") == "127.0.31.2", \
            d.stderr
        assert dig_in("--net=/proc/%d/ns/net" % pid, "db") == "127.0.31.2", \
            d.stderr
        d.signal(signal.SIGHUP)
        assert d.recv() == "RELOADING=1"
        ready_status(d.recv())
        d.stop()
        with open(trace) as f:
            lines = f.read().splitlines()
        # from the exec of linkdnsd on (setpriv's own calls do not count)
        start = next(i for i, x in enumerate(lines)
                     if re.search(r'execve\("%s"' % re.escape(linkdnsd_path()), x))
        used = set()
        for x in lines[start + 1:]:
            m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", x)
            if m and m.group(1) not in ("exited", "killed"):
                used.add(m.group(1))
        print("system calls made: %s" % " ".join(sorted(used)))
        assert {"setns", "pidfd_open", "inotify_add_watch"} <= used, sorted(used)
        denied = sorted(used - allowed_syscalls())
        assert not denied, "system calls the unit's filter denies: %s" % denied
    finally:
        ns.close()
        if os.path.exists(trace):
            os.unlink(trace)
