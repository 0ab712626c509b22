"""Podman networks served by linkdns (issue 15, acceptance 2): real podman 4.3
with netavark 1.4 finds linkdns's aardvark-dns through helper_binaries_dir
(the build's program dir first, then /usr/lib/podman for netavark), and the
names of a `podman network create` network resolve inside busybox containers
run on it.

The session (tests/podman.py) keeps everything in a network and mount
namespace of its own; linkdnsd runs in that network namespace, where the
bridge's gateway is, and aardvark-dns finds its control socket through
LINKDNS_CONTROL, which podman passes on to netavark and netavark to it.
"""

import re

from conftest import BUILD, wait_for
from podman import Podman

NETNS_PREFIX = "aardpm"


def resolved(pm, ctr, name):
    """The addresses busybox nslookup prints for NAME inside CTR."""
    p = pm.exec(ctr, "nslookup", name, check=False, timeout=30)
    text = p.stdout.split("Name:", 1)[-1] if "Name:" in p.stdout else ""
    return sorted(set(re.findall(r"Address(?: \d+)?:\s*([0-9.]+)", text)))


def test_podman_network_names_resolve(linkdns):
    conf = {"engine": ['helper_binaries_dir = ["%s", "/usr/lib/podman"]'
                       % BUILD]}
    with Podman(NETNS_PREFIX, conf=conf, check=False) as pm:
        d = linkdns("", netns=pm.netns)
        pm.env["LINKDNS_CONTROL"] = d.control
        pm.check()
        pm.cmd("network", "create", "--subnet", "10.89.31.0/24", "appnet")
        db = pm.run_detached("db", options=["--network", "appnet",
                                            "--network-alias", "database"])
        web = pm.run_detached("web", options=["--network", "appnet"])
        db_ip = pm.inspect("db", "{{range .NetworkSettings.Networks}}"
                                 "{{.IPAddress}}{{end}}")
        web_ip = pm.inspect("web", "{{range .NetworkSettings.Networks}}"
                                   "{{.IPAddress}}{{end}}")
        ls = d.ok("ls", "--owner", "aardvark:*")
        assert "net appnet --owner aardvark:appnet --domain dns.podman " \
               "--listen 10.89.31.1@53" in ls, ls
        for name in ("db", "database", "db.dns.podman", db.id[:12]):
            assert resolved(pm, "web", name) == [db_ip], (name, ls)
        assert resolved(pm, "db", "web") == [web_ip]
        # the container's resolv.conf names the gateway: linkdnsd answers
        conf_text = pm.exec("web", "cat", "/etc/resolv.conf").stdout
        assert "nameserver 10.89.31.1" in conf_text, conf_text
        pm.rm("web")
        pm.rm("db")
        wait_for("aardvark:* entries gone", lambda: d.ok(
            "ls", "--owner", "aardvark:*") == "", 10.0)
