"""The module structure of src/: no cycle among modules, neither by #include nor by the
symbols their object files use (nm), and only the allowed files send on a socket or write
to a descriptor (the allow-list is at the top of scripts/check-structure).

The checks run scripts/check-structure against $LINKDNS_BUILD.  The last tests run the same
script on small made-up trees, so that a checker that finds nothing cannot pass unseen."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import BUILD, REPO, run

SCRIPT = os.path.join(REPO, "scripts", "check-structure")


def check(*args, build=BUILD, src=None):
    """Run the checker; CompletedProcess."""
    argv = ["/usr/bin/python3", SCRIPT, "--build", build] + list(args)
    if src:
        argv += ["--src", src]
    return run(argv, check=False, timeout=120)


def assert_passes(p):
    assert p.returncode == 0, "check-structure found:\n%s%s" % (p.stdout, p.stderr)


@pytest.fixture(scope="module")
def built():
    """The build must have the objects of src/ (a missing build fails, never skips)."""
    if not os.path.isdir(os.path.join(BUILD, "meson-info")):
        pytest.fail("no meson build at %s (set LINKDNS_BUILD)" % BUILD, pytrace=False)
    return BUILD


def test_no_include_cycle():
    assert_passes(check("--only", "includes"))


def test_no_symbol_cycle_between_object_files(built):
    assert_passes(check("--only", "symbols", build=built))


def test_only_allowed_files_send_or_write(built):
    assert_passes(check("--only", "sends", build=built))


def test_modules_have_a_bottom_up_order(built):
    p = check("--order", build=built)
    assert_passes(p)
    order = p.stdout.split()
    names = {os.path.splitext(f)[0] for f in os.listdir(os.path.join(REPO, "src"))}
    assert sorted(order) == sorted(names)


# --- the checker itself, on made-up trees -----------------------------------------------
def check_tree(tmp_path, changes, *args):
    """Write CYCLE with CHANGES ({path: text}) under TMP_PATH, compile its src/*.c into
    build/prog.p/src_NAME.c.o as meson would, and run the checker on it."""
    root = str(tmp_path)
    tree = dict(CYCLE, **changes)
    for rel, text in tree.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    cc = shutil.which("cc") or pytest.fail("no C compiler", pytrace=False)
    out = os.path.join(root, "build", "prog.p")
    os.makedirs(out)
    for rel in tree:
        stem, ext = os.path.splitext(os.path.basename(rel))
        if ext == ".c":
            subprocess.run([cc, "-c", "-o", os.path.join(out, "src_%s.c.o" % stem),
                            os.path.join(root, rel)], check=True)
    return check(*args, build=os.path.join(root, "build"), src=os.path.join(root, "src"))


def assert_fails_with(p, line):
    assert p.returncode == 1 and line in p.stdout, p.stdout + p.stderr


# a.c uses b, b.c uses c, c.c uses a (by symbol); includes only go downwards
CYCLE = {
    "src/a.h": "int a(void);\n",
    "src/b.h": "int b(void);\n",
    "src/c.h": "int c(void);\n",
    "src/a.c": '#include "a.h"\n#include "b.h"\nint a(void) { return b(); }\n',
    "src/b.c": '#include "b.h"\n#include "c.h"\nint b(void) { return c(); }\n',
    "src/c.c": '#include "c.h"\nint a(void);\nint c(void) { return a(); }\n',
}


def test_checker_reports_a_symbol_cycle_as_a_path(tmp_path):
    p = check_tree(tmp_path, {}, "--only", "symbols")
    assert_fails_with(p, "symbol cycle: a -> b -> c -> a")
    assert "c -> a: a" in p.stdout


def test_checker_reports_an_include_cycle(tmp_path):
    p = check_tree(tmp_path, {"src/c.h": '#include "a.h"\nint c(void);\n'},
                   "--only", "includes")
    assert_fails_with(p, "include cycle: a -> b -> c -> a")
    assert 'c.h includes "a.h"' in p.stdout


def test_checker_orders_an_acyclic_tree_bottom_up(tmp_path):
    p = check_tree(tmp_path, {"src/c.c": '#include "c.h"\nint c(void) { return 0; }\n',
                              "src/list.h": "#define LIST 1\n"}, "--order")
    assert_passes(p)
    assert p.stdout.split() == ["c", "list", "b", "a"]


def test_checker_finds_a_send_outside_the_allow_list(tmp_path):
    p = check_tree(tmp_path, {"src/c.c": '#include <sys/socket.h>\n#include "c.h"\n'
                              'int c(void) { return (int)sendto(0, "", 0, 0, 0, 0); }\n'},
                   "--only", "sends")
    assert_fails_with(p, "send outside the allow-list: c.c uses sendto")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
