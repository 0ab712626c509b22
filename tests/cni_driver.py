"""A CNI runtime for the tests: executes a network configuration list the way
libcni does (SPEC.md, "Section 3: Execution of Network Configurations", and
libcni's AddNetworkList/CheckNetworkList/DelNetworkList).

- ADD runs the plugins in order; each gets its own configuration object plus
  `name` and `cniVersion` of the list, `prevResult` (the previous plugin's
  result; none for the first) and `runtimeConfig`: the capability arguments
  the runtime gives, filtered by the plugin's `capabilities` (absent when that
  leaves nothing).  libcni keeps `capabilities` in the object it passes: so
  does this driver.  The last result is cached (as libcni does under
  /var/lib/cni/results, here in a directory of the test's own).
- CHECK runs the plugins in order with the cached result as `prevResult`.
- DEL runs them in reverse order with the cached result (none if the cache
  has nothing) and removes the cache entry.
- Environment: CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS
  ("K=V;K=V"), CNI_PATH, on top of the caller's environment (libcni passes
  os.Environ() too).  A plugin is found by `type` in the CNI_PATH
  directories.
- A plugin that exits non-zero fails the operation: CniError carries the
  error object it printed on stdout (code, msg, details) and its stderr.

HOSTNS: the runtime's "networking domain".  The plugins run under
`ip netns exec HOSTNS` so that the bridge plugin makes its bridge and the
host ends of its veth pairs in a namespace of the test's own, never in the
machine's.
"""

import ipaddress
import json
import os
import subprocess
import time

PLUGIN_TIMEOUT = 30.0   # seconds: a hung plugin fails the test, not the run


class CniError(Exception):
    """A plugin failed: .code/.msg/.details from its error object (None when
    it printed none), .rc, .stdout, .stderr, .plugin."""

    def __init__(self, plugin, command, rc, stdout, stderr):
        self.plugin, self.command, self.rc = plugin, command, rc
        self.stdout, self.stderr = stdout, stderr
        try:
            self.error = json.loads(stdout)
        except ValueError:
            self.error = None
        e = self.error if isinstance(self.error, dict) else {}
        self.code, self.msg = e.get("code"), e.get("msg")
        self.details = e.get("details")
        super().__init__("plugin %s failed (%s): exit %d, stdout %r, stderr "
                         "%r" % (plugin, command.lower(), rc, stdout[:500],
                                 stderr[-2000:]))


class CniDriver:
    """Runs CONFLIST (a dict, as a .conflist file holds) with plugins from
    CNI_PATH (a list of directories); CACHE_DIR keeps the ADD results."""

    def __init__(self, conflist, cni_path, cache_dir, hostns=None, env=None):
        self.conf = conflist
        self.name = conflist["name"]
        self.version = conflist["cniVersion"]
        self.cni_path = list(cni_path)
        self.cache_dir = cache_dir
        self.hostns = hostns
        self.env = dict(os.environ if env is None else env)
        self.timings = []   # (command, plugin type, seconds) of each run
        self.stderrs = []   # (command, plugin type, stderr) of each run
        os.makedirs(cache_dir, exist_ok=True)

    # -- one plugin -------------------------------------------------------
    def find(self, plugin_type):
        for d in self.cni_path:
            p = os.path.join(d, plugin_type)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
        raise FileNotFoundError("failed to find plugin %r in path %s"
                                % (plugin_type, self.cni_path))

    def exec_plugin(self, plugin_type, command, stdin, env_extra,
                    timeout=PLUGIN_TIMEOUT):
        """Runs one plugin; returns (rc, stdout, stderr).  STDIN: bytes,
        str or a dict (sent as JSON)."""
        if isinstance(stdin, dict):
            stdin = json.dumps(stdin)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        env = dict(self.env)
        env["CNI_COMMAND"] = command
        env["CNI_PATH"] = os.pathsep.join(self.cni_path)
        for k, v in env_extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        argv = [self.find(plugin_type)]
        if self.hostns:
            argv = ["ip", "netns", "exec", self.hostns] + argv
        t0 = time.monotonic()
        p = subprocess.run(argv, input=stdin, capture_output=True, env=env,
                           timeout=timeout)
        self.timings.append((command, plugin_type, time.monotonic() - t0))
        err = p.stderr.decode(errors="replace")
        self.stderrs.append((command, plugin_type, err))
        return p.returncode, p.stdout.decode(errors="replace"), err

    def plugin_config(self, plugin, prev_result, capability_args):
        """The request configuration for one plugin (libcni's
        buildOneConfig and injectRuntimeConfig)."""
        conf = json.loads(json.dumps(plugin))
        conf["name"] = self.name
        conf["cniVersion"] = self.version
        if prev_result is not None:
            conf["prevResult"] = prev_result
        rc = {cap: capability_args[cap]
              for cap, on in (plugin.get("capabilities") or {}).items()
              if on and cap in (capability_args or {})}
        if rc:
            conf["runtimeConfig"] = rc
        return conf

    @staticmethod
    def cni_args(args):
        """CNI_ARGS from a dict or list of pairs: "K=V;K=V"."""
        if args is None:
            return ""
        items = args.items() if isinstance(args, dict) else args
        return ";".join("%s=%s" % (k, v) for k, v in items)

    def attachment_env(self, container_id, netns, ifname, args):
        return {"CNI_CONTAINERID": container_id,
                "CNI_NETNS": netns or "",
                "CNI_IFNAME": ifname,
                "CNI_ARGS": self.cni_args(args)}

    def _run(self, plugin, command, prev, caps, env):
        conf = self.plugin_config(plugin, prev, caps)
        rc, out, err = self.exec_plugin(plugin["type"], command, conf, env)
        if rc != 0:
            raise CniError(plugin["type"], command, rc, out, err)
        return out, err

    # -- the cache (libcni: results/NAME-CONTAINERID-IFNAME) -----------------
    def _cache_path(self, container_id, ifname):
        return os.path.join(self.cache_dir, "%s-%s-%s" % (self.name,
                                                         container_id, ifname))

    def cached(self, container_id, ifname="eth0"):
        try:
            with open(self._cache_path(container_id, ifname)) as f:
                return json.load(f)["result"]
        except (OSError, ValueError, KeyError):
            return None

    # -- the operations on a list ----------------------------------------------
    def add(self, container_id, netns, ifname="eth0", args=None,
            capability_args=None):
        """ADD through every plugin; returns the final result (a dict)."""
        env = self.attachment_env(container_id, netns, ifname, args)
        result = None
        for plugin in self.conf["plugins"]:
            out, _ = self._run(plugin, "ADD", result, capability_args, env)
            result = json.loads(out)
        with open(self._cache_path(container_id, ifname), "w") as f:
            json.dump({"kind": "cniCacheV1", "containerId": container_id,
                       "ifName": ifname, "networkName": self.name,
                       "result": result}, f)
        return result

    def check(self, container_id, netns, ifname="eth0", args=None,
              capability_args=None):
        if self.conf.get("disableCheck"):
            return
        prev = self.cached(container_id, ifname)
        if prev is None:
            raise LookupError("no cached result for %s %s" % (container_id,
                                                              ifname))
        env = self.attachment_env(container_id, netns, ifname, args)
        for plugin in self.conf["plugins"]:
            self._run(plugin, "CHECK", prev, capability_args, env)

    def delete(self, container_id, netns, ifname="eth0", args=None,
               capability_args=None):
        prev = self.cached(container_id, ifname)
        env = self.attachment_env(container_id, netns, ifname, args)
        for plugin in reversed(self.conf["plugins"]):
            self._run(plugin, "DEL", prev, capability_args, env)
        try:
            os.unlink(self._cache_path(container_id, ifname))
        except FileNotFoundError:
            pass

    def plugin_version(self, plugin_type, version=None):
        """VERSION of one plugin: its answer (a dict)."""
        rc, out, err = self.exec_plugin(
            plugin_type, "VERSION",
            {"cniVersion": version or self.version}, {})
        if rc != 0:
            raise CniError(plugin_type, "VERSION", rc, out, err)
        return json.loads(out)


def validate_result(result, version):
    """Raises AssertionError unless RESULT is a valid CNI ADD result of
    VERSION (SPEC.md, "ADD Success"; 0.4.0's ips carry "version")."""
    assert isinstance(result, dict), result
    assert result.get("cniVersion") == version, result
    ifaces = result.get("interfaces", [])
    assert isinstance(ifaces, list)
    for i in ifaces:
        assert isinstance(i.get("name"), str) and i["name"], i
        for k in ("mac", "sandbox"):
            assert k not in i or isinstance(i[k], str), i
    ips = result.get("ips", [])
    assert isinstance(ips, list)
    for ip in ips:
        ipaddress.ip_interface(ip["address"])   # CIDR notation
        if "gateway" in ip:
            ipaddress.ip_address(ip["gateway"])
        if "interface" in ip:
            assert isinstance(ip["interface"], int)
            assert 0 <= ip["interface"] < len(ifaces), ip
        if version == "0.4.0":
            assert ip.get("version") in ("4", "6"), ip
    for r in result.get("routes", []):
        ipaddress.ip_network(r["dst"], strict=False)
    dns = result.get("dns", {})
    assert isinstance(dns, dict)
    for k in ("nameservers", "search", "options"):
        v = dns.get(k, [])
        assert isinstance(v, list) and all(isinstance(x, str) for x in v), dns
    for ns in dns.get("nameservers", []):
        ipaddress.ip_address(ns)
    assert "domain" not in dns or isinstance(dns["domain"], str)
