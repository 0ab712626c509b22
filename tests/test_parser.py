"""The link table parser: every malformed line refused with FILE:LINE.

Each kind of malformed line sits at a known line K of a table file F:
``linkdnsd --check-config --state F`` exits 1 and prints one line
``linkdnsd: error: F:K: MESSAGE`` naming the offending token; starting the
daemon on F exits 1 with the same line and leaves F untouched.

Addresses: 127.54.0.0/16.
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile

import dns.flags
import pytest

from conftest import (REPO, addresses, free_port, linkdnsd_path, rcode_text,
                      records, run_linkdnsd)

PRELUDE = [
    "# parser test table",                                   # 1
    "add db --addr 127.54.0.2 --expose 5432/tcp",            # 2
    "",                                                      # 3
    "add web --addr 127.54.0.3   # web front end",           # 4
    "link web db",                                           # 5
    "   # an indented comment",                              # 6
]
BAD_LINE = len(PRELUDE) + 1                                  # 7
EPILOGUE = [
    "add after --addr 127.54.0.9",
    "link after db:database",
]

# (id, bad line, tokens that must appear quoted, keywords that must appear)
BAD = [
    ("unknown_command", "frob db", ["frob"], ["unknown command"]),
    ("missing_name", "add", [], ["missing", "name"]),
    ("missing_name_rm", "rm", [], ["missing", "name"]),
    ("invalid_name_dot", "add a.b --addr 127.54.0.7", ["a.b"],
     ["invalid name"]),
    ("invalid_name_char", "add we$b --addr 127.54.0.7", ["we$b"],
     ["invalid name"]),
    ("invalid_name_too_long", "add %s" % ("n" * 64), ["n" * 64],
     ["invalid name"]),
    ("duplicate_add", "add db --addr 127.54.0.7", ["db"], ["already exists"]),
    ("duplicate_add_other_case", "add Db --addr 127.54.0.7", ["Db"],
     ["already exists"]),
    ("unknown_option", "add x --foo 1", ["--foo"], ["unknown option"]),
    ("unknown_option_eq", "add x --colour=red", [("--colour", "--colour=red")],
     ["unknown option"]),
    ("option_missing_value", "add x --addr", ["--addr"], ["needs a value"]),
    ("option_missing_value_expose", "add x --addr 127.54.0.7 --expose",
     ["--expose"], ["needs a value"]),
    ("bad_ipv4_short", "add x --addr 1.2.3", ["1.2.3"], ["invalid address"]),
    ("bad_ipv4_octet", "add x --addr 127.54.0.256", ["127.54.0.256"],
     ["invalid address"]),
    ("bad_ipv6_double_gap", "add x --addr fd00::50::1", ["fd00::50::1"],
     ["invalid address"]),
    ("bad_ipv6_hex", "add x --addr fd00::g1", ["fd00::g1"],
     ["invalid address"]),
    ("bad_port_range", "add x --expose 70000/tcp", ["70000"],
     ["invalid port"]),
    ("bad_port_zero", "add x --expose 0/tcp", ["0"], ["invalid port"]),
    ("bad_port_text", "add x --expose http/tcp", ["http"], ["invalid port"]),
    ("bad_publish_hostport", "add x --publish 99999:80/tcp", ["99999"],
     ["invalid", "port"]),
    ("bad_publish_no_hostport", "add x --publish 80/tcp", ["80/tcp"], []),
    ("bad_proto", "add x --expose 80/xyz", ["xyz"], ["invalid protocol"]),
    ("bad_proto_publish", "add x --publish 8080:80/sctpx", ["sctpx"],
     ["invalid protocol"]),
    ("netns_and_pid", "add x --netns /run/netns/x --pid 1", [],
     ["--netns", "--pid", "exclude"]),
    ("bad_pid", "add x --pid abc", ["abc"], []),
    ("bad_dns", "add x --dns 1.2.3", ["1.2.3"], []),
    ("link_to_unknown", "link web nosuch", ["nosuch"], ["does not exist"]),
    ("link_from_unknown", "link nosuch db", ["nosuch"], ["does not exist"]),
    ("link_alias_own_name", "link web db:web", ["web"], ["own name"]),
    ("link_bad_alias", "link web db:a..b", ["a..b"], ["invalid"]),
    ("link_missing_target", "link web", [], ["missing"]),
    ("unlink_no_such_link", "unlink web nosuch", ["nosuch"], []),
    ("unlink_from_unknown", "unlink nosuch db", ["nosuch"],
     ["does not exist"]),
    ("rm_unknown", "rm nosuch", ["nosuch"], ["does not exist"]),
    ("trailing_rm", "rm db extra", ["extra"], ["unexpected argument"]),
    ("trailing_link", "link web db extra", ["extra"],
     ["unexpected argument"]),
    ("trailing_add", "add x --addr 127.54.0.7 stray", ["stray"],
     ["unexpected argument"]),
]


_TMP = tempfile.mkdtemp(prefix="ldnsp-")
atexit.register(shutil.rmtree, _TMP, True)


def tmpdir():
    return tempfile.mkdtemp(dir=_TMP)


def write_table(lines):
    d = tmpdir()
    path = os.path.join(d, "links")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def error_lines(stderr):
    return [ln for ln in stderr.splitlines() if " error: " in ln
            or ln.startswith("linkdnsd: error")]


def check_error(stderr, path, lineno, tokens, keywords):
    errs = error_lines(stderr)
    assert len(errs) == 1, "expected exactly one error line:\n" + stderr
    line = errs[0]
    assert line.startswith("linkdnsd: error: "), line
    where = "%s:%d:" % (path, lineno)
    assert where in line, "%r not in %r" % (where, line)
    for tok in tokens:
        alternatives = tok if isinstance(tok, tuple) else (tok,)
        assert any("'%s'" % t.lower() in line.lower() for t in alternatives), \
            "token %s not quoted in %r" % (" or ".join(alternatives), line)
    for kw in keywords:
        assert kw.lower() in line.lower(), "%r not in %r" % (kw, line)
    return line


def start_and_wait(path, timeout=10):
    d = os.path.dirname(path)
    argv = [linkdnsd_path(), "--state", path, "--listen",
            "127.0.0.1@%d" % free_port(), "--no-upstream",
            "--control", os.path.join(d, "control.sock")]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
        pytest.fail("linkdnsd kept running on a bad table", pytrace=False)
    return p.returncode, out + err


@pytest.mark.parametrize("case", BAD, ids=[b[0] for b in BAD])
def test_bad_line(case):
    _id, bad, tokens, keywords = case
    path = write_table(PRELUDE + [bad] + EPILOGUE)
    before = open(path, "rb").read()
    p = run_linkdnsd(["--check-config", "--state", path])
    assert p.returncode == 1, "exit %d for %r\n%s" % (p.returncode, bad,
                                                      p.stderr)
    msg = check_error(p.stderr, path, BAD_LINE, tokens, keywords)
    rc, err = start_and_wait(path)
    assert rc == 1, "daemon exit %d on %r\n%s" % (rc, bad, err)
    msg2 = check_error(err, path, BAD_LINE, tokens, keywords)
    assert msg2 == msg, "start-up says %r, --check-config said %r" % (msg2,
                                                                      msg)
    assert open(path, "rb").read() == before, "the bad table was rewritten"


def test_each_kind_has_its_own_message():
    """Different kinds of error do not share one vague message."""
    seen = {}
    for case_id, bad, tokens, _kw in BAD:
        path = write_table(PRELUDE + [bad])
        p = run_linkdnsd(["--check-config", "--state", path])
        assert p.returncode == 1, case_id
        line = error_lines(p.stderr)[0]
        msg = line.split("%s:%d:" % (path, BAD_LINE), 1)[-1]
        for tok in tokens:
            for t in (tok if isinstance(tok, tuple) else (tok,)):
                msg = msg.replace("'%s'" % t, "'TOKEN'")
        seen.setdefault(msg.strip().lower(), []).append(case_id)
    # a handful of kinds legitimately share a sentence (e.g. every invalid
    # port), so require many distinct messages rather than all distinct
    assert len(seen) >= 15, seen


def test_error_in_first_and_last_line():
    path = write_table(["frob"] + PRELUDE)
    p = run_linkdnsd(["--check-config", "--state", path])
    assert p.returncode == 1
    check_error(p.stderr, path, 1, ["frob"], ["unknown command"])
    path = write_table(PRELUDE + ["rm nosuch"])
    p = run_linkdnsd(["--check-config", "--state", path])
    assert p.returncode == 1
    check_error(p.stderr, path, BAD_LINE, ["nosuch"], ["does not exist"])


def test_line_numbers_count_comments_and_blank_lines():
    lines = ["", "# c", "", "   ", "\t# tabbed comment", "add a --addr 127.54.0.7",
             "", "link a nosuch"]
    path = write_table(lines)
    p = run_linkdnsd(["--check-config", "--state", path])
    assert p.returncode == 1
    check_error(p.stderr, path, 8, ["nosuch"], ["does not exist"])


def test_no_newline_at_end():
    d = tmpdir()
    path = os.path.join(d, "links")
    with open(path, "w") as f:
        f.write("add a --addr 127.54.0.7\nfrob")
    p = run_linkdnsd(["--check-config", "--state", path])
    assert p.returncode == 1
    check_error(p.stderr, path, 2, ["frob"], ["unknown command"])


# --- good tables ---------------------------------------------------------------------
GOOD = """\
# comments anywhere at token start, blank lines, tabs, options in any order

add db --expose 5432/tcp --addr 127.54.0.2     # trailing comment
add\tweb\t--addr=127.54.0.3\t--expose=80/tcp
  add cache --expose 6379/tcp --addr FD00:0050:0:0::5 --addr 127.54.0.5
add app_web_1 --addr 127.54.0.6 --publish 8080:80/tcp
add remote1 --remote db.example.test@127.54.0.200@5300
add ns1 --netns /run/netns/linkdns-test-missing-ns --addr 127.54.0.10
add pid1 --pid 999999999 --addr 127.54.0.11
add dnsuser --addr 127.54.0.12 --dns 127.54.0.53 --dns 127.54.0.54@5353
add Mixed-Case_1 --addr 127.54.0.13
add old --addr 127.54.0.20
add old --replace --addr 127.54.0.21
link web db
link web cache:kv # alias link
link web app_web_1:front
link app_web_1 old
link app_web_1 cache:tmp
unlink app_web_1 tmp
link mixed-case_1 db:DB2
add gone --addr 127.54.0.30
link web gone
rm gone
#
"""


def test_good_table_check_config():
    path = write_table(GOOD.splitlines())
    before = open(path, "rb").read()
    p = run_linkdnsd(["--check-config", "--state", path])
    assert p.returncode == 0, p.stderr
    assert not error_lines(p.stderr), p.stderr
    assert open(path, "rb").read() == before, "--check-config changed F"


def test_good_table_served(linkdns):
    d = linkdns(GOOD)
    web = "127.54.0.3"
    r = d.query("db", "A", source=web)
    assert rcode_text(r) == "NOERROR" and addresses(r) == ["127.54.0.2"], r
    r = d.query("kv", "AAAA", source=web)
    assert addresses(r, "AAAA") == ["fd00:50::5"], r
    r = d.query("front", "A", source=web)
    assert addresses(r) == ["127.54.0.6"], r
    r = d.query("_80._tcp.front", "SRV", source=web)
    assert [s.port for s in records(r.answer, "SRV")] == [80], r
    r = d.query("_http._tcp.web", "SRV", source=web)   # --expose=80/tcp
    assert [s.port for s in records(r.answer, "SRV")] == [80], r
    # --replace swapped the address and kept the link to it
    r = d.query("old", "A", source="127.54.0.6")
    assert addresses(r) == ["127.54.0.21"], r
    # unlink removed the alias, the link to the same target stays
    r = d.query("tmp", "A", source="127.54.0.6")
    assert rcode_text(r) == "REFUSED" and not r.answer, r
    # rm removed the container and the link to it
    r = d.query("gone", "A", source=web)
    assert rcode_text(r) == "REFUSED" and not r.answer, r
    r = d.query("gone.link.internal", "A", source=web)
    assert rcode_text(r) == "NXDOMAIN", r
    # the old address of a replaced container is no one's view any more
    r = d.query("old", "A", source="127.54.0.20")
    assert rcode_text(r) == "REFUSED", r
    # names are case-insensitive: mixed-case_1 is Mixed-Case_1
    r = d.query("db2", "A", source="127.54.0.13")
    assert addresses(r) == ["127.54.0.2"], r
    # a container whose namespace is missing still serves other views
    r = d.query("ns1.link.internal", "A", source="127.54.0.10")
    assert addresses(r) == ["127.54.0.10"], r


def test_missing_state_file_is_empty_table():
    d = tmpdir()
    path = os.path.join(d, "links")
    p = run_linkdnsd(["--check-config", "--state", path])
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(path), "--check-config created the state file"


def test_missing_state_file_daemon_serves_empty_table(linkdns):
    d = linkdns(None)
    r = d.query("db", "A", source="127.54.0.2")
    assert rcode_text(r) == "REFUSED" and not r.answer, r
    # "created on the first change": no change, no file
    assert not os.path.exists(d.state), "state file created without a change"


@pytest.mark.parametrize("name", ["example.links", "example-large.links"])
def test_example_tables_check_config(name):
    src = os.path.join(REPO, "zones", name)
    assert os.path.isfile(src), src
    path = write_table(open(src).read().splitlines())
    p = run_linkdnsd(["--check-config", "--state", path])
    assert p.returncode == 0, p.stderr
    assert not error_lines(p.stderr), p.stderr


def test_example_links_served(linkdns):
    d = linkdns(os.path.join(REPO, "zones", "example.links"))
    r = d.query("db", "A", source="127.0.10.3")
    assert rcode_text(r) == "NOERROR" and addresses(r) == ["127.0.10.2"], r
    assert r.flags & dns.flags.AA
    r = d.query("database", "A", source="127.0.10.4")
    assert addresses(r) == ["127.0.10.2"], r
    r = d.query("_postgresql._tcp.database", "SRV", source="127.0.10.4")
    srv = records(r.answer, "SRV")
    assert [(s.port, s.target.to_text()) for s in srv] == \
        [(5432, "database.link.internal.")], r
    r = d.query("web2", "AAAA", source="127.0.10.4")
    assert addresses(r, "AAAA") == ["fd00:10::4"], r
    r = d.query("database", "A", source="127.0.10.3")
    assert rcode_text(r) == "REFUSED", r


# --- command line --------------------------------------------------------------------
def test_unknown_option_exit_2():
    p = run_linkdnsd(["--no-such-option"])
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "--no-such-option" in p.stderr


def test_option_missing_value_exit_2():
    p = run_linkdnsd(["--check-config", "--state"])
    assert p.returncode == 2, (p.returncode, p.stderr)


@pytest.mark.parametrize("opt", ["--help", "--version"])
def test_help_version(opt):
    p = run_linkdnsd([opt])
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip(), "nothing printed on stdout"
    if opt == "--help":
        for word in ("--state", "--listen", "--check-config"):
            assert word in p.stdout


def test_bad_listen_address_exit():
    d = tmpdir()
    p = run_linkdnsd(["--state", os.path.join(d, "links"), "--listen",
                      "1.2.3@53", "--no-upstream", "--check-config"])
    assert p.returncode in (1, 2), (p.returncode, p.stderr)
    assert "1.2.3" in p.stderr


def test_bad_ttl_exit():
    d = tmpdir()
    p = run_linkdnsd(["--state", os.path.join(d, "links"), "--ttl", "abc",
                      "--check-config"])
    assert p.returncode in (1, 2), (p.returncode, p.stderr)
    assert re.search(r"abc", p.stderr), p.stderr
