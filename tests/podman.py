"""Real podman for the end-to-end tests, touching nothing of the host's podman.

    from podman import Podman
    with Podman("ldpm", hooks_dir=HOOKS) as pm:     # skips if podman can't
        pm.run_detached("db", annotations={"io.linkdns.name": "db"})
        print(pm.exec("db", "ip", "addr").stdout)

Each Podman is a session of its own, removed by cleanup() (or leaving the
with block), also when a test failed half way:
- a tmp dir with containers.conf and storage.conf (runtime runc, cgroupfs,
  the file events logger, nofile/nproc ulimits, netavark with its
  network_config_dir here, storage driver vfs with graphroot/runroot here),
  named by CONTAINERS_CONF and CONTAINERS_STORAGE_CONF and, for podman's
  `container cleanup` that conmon runs at a container's exit, by podman's own
  global flags as well (podman copies those into that command line);
- a rootfs made from the static /bin/busybox with its applets linked, run
  with `podman run --rootfs`: no image, no registry;
- a network namespace of the test's own (ip netns add): podman, netavark
  and conmon run in it, so the bridge (podman0, 10.88.0.0/16), its iptables
  rules and ip_forward are that namespace's, never the host's;
- a mount namespace of its own, held by a `sleep` (the holder) in which /run
  is a private tmpfs: netavark's IPAM database (/run/containers/networks,
  fixed in podman 4.3), runc's state (/run/runc) and the containers'
  namespace files (/run/netns/netns-*) stay there and vanish with it.
  (`ip netns exec` is not used: it remounts /sys, which hides the cgroup
  hierarchies runc needs; nsenter enters the network namespace only.)

Only root can do all this.  When podman cannot run a container at all
(missing packages, no cgroups), the session calls pytest.skip with the
reason: tests/run counts and names every skip as a failure, so CI (which
can run podman) never passes with these tests skipped.

Hooks: HOOKS_DIR is passed as --hooks-dir.  Other configuration a caller
needs goes in CONF: {"engine": ["helper_binaries_dir = [\"/x\"]"], ...}
adds lines to the sections of containers.conf; NETWORK_BACKEND "cni" with
CNI_PLUGIN_DIRS for the CNI plugin's tests.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import Namespaces, require_root, wait_for

PODMAN = shutil.which("podman") or "/usr/bin/podman"
BUSYBOX = "/bin/busybox"
# busybox applets a container gets in /bin (the rest are left out: a
# shorter rootfs is quicker to make)
APPLETS = ("sh", "ash", "nslookup", "ip", "ifconfig", "sleep", "cat", "echo",
           "ls", "true", "false", "test", "[", "env", "hostname", "ping",
           "wget", "nc", "grep", "sed", "head", "tail", "wc", "kill", "ps",
           "mkdir", "rm", "touch", "id", "timeout", "printf", "tr", "cut",
           "awk", "date", "uname", "mount", "netstat", "route")
TIMEOUT = 120      # seconds for one podman command on a loaded machine


def busybox_rootfs(path):
    """Makes PATH a container rootfs: the static busybox in /bin with its
    APPLETS linked (also in /sbin, /usr/bin), and the /etc files a container
    expects; the mount points podman uses exist."""
    for d in ("bin", "sbin", "usr/bin", "etc", "proc", "sys", "dev", "tmp",
              "run", "root", "var/tmp"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(path, "bin", a))
    for d in ("sbin", "usr/bin"):
        os.symlink("../bin/busybox" if d == "sbin" else "../../bin/busybox",
                   os.path.join(path, d, "busybox"))
    etc = {
        "passwd": "root:x:0:0:root:/root:/bin/sh\n"
                  "nobody:x:65534:65534:nobody:/:/bin/false\n",
        "group": "root:x:0:\nnogroup:x:65534:\n",
        "hosts": "127.0.0.1 localhost\n",
        "resolv.conf": "",
        "hostname": "",
        "nsswitch.conf": "hosts: files dns\n",
    }
    for name, text in etc.items():
        with open(os.path.join(path, "etc", name), "w") as f:
            f.write(text)
    os.chmod(os.path.join(path, "tmp"), 0o1777)


class Podman:
    """One podman session (see the module's docstring): .cmd() runs any
    podman command in it, .run_detached()/.exec()/.stop()/.rm() the usual
    ones, .netns is the network namespace podman's networking lives in,
    .rootfs the busybox rootfs, .dir the session's tmp dir."""

    def __init__(self, prefix, hooks_dir=None, conf=None,
                 network_backend="netavark", cni_plugin_dirs=None,
                 check=True):
        require_root("the podman tests")
        self.dir = tempfile.mkdtemp(prefix="ldpodman-")
        self.namespaces = None
        self.holder = None
        self.ids = []
        try:
            self._setup(prefix, hooks_dir, conf or {}, network_backend,
                        cni_plugin_dirs)
            if check:
                self.check()
        except BaseException:
            self.cleanup()
            raise

    # -- set-up ---------------------------------------------------------------
    def _setup(self, prefix, hooks_dir, conf, backend, cni_dirs):
        for tool, package in ((PODMAN, "podman"), ("/usr/sbin/runc", "runc"),
                              (BUSYBOX, "busybox-static"),
                              ("/usr/bin/nsenter", "util-linux"),
                              ("/usr/bin/unshare", "util-linux")):
            if not os.access(tool, os.X_OK):
                pytest.skip("podman tests: %s missing (apt-get install %s)"
                            % (tool, package))
        with open(BUSYBOX, "rb") as f:
            if b"/ld-linux" in f.read(4096):   # an ELF interpreter: dynamic
                pytest.skip("podman tests: %s is not static (apt-get "
                            "install busybox-static)" % BUSYBOX)
        d = self.dir
        self.root = os.path.join(d, "root")
        self.runroot = os.path.join(d, "runroot")
        self.tmpdir = os.path.join(d, "tmp")
        self.netconf = os.path.join(d, "networks")
        self.rootfs = os.path.join(d, "rootfs")
        self.hooks_dir = hooks_dir
        for x in (self.root, self.runroot, self.tmpdir, self.netconf):
            os.makedirs(x)
        busybox_rootfs(self.rootfs)
        self.backend = backend
        self.conf_path = os.path.join(d, "containers.conf")
        self.storage_conf = os.path.join(d, "storage.conf")
        sections = {
            "containers": ['default_ulimits = ["nofile=1024:1024", '
                           '"nproc=1024:1024"]',
                           'log_driver = "k8s-file"'],
            "engine": ['runtime = "runc"', 'cgroup_manager = "cgroupfs"',
                       'events_logger = "file"',
                       'events_logfile_path = "%s/events.log"' % d,
                       'tmp_dir = "%s"' % self.tmpdir,
                       'static_dir = "%s/libpod"' % self.root,
                       'volume_path = "%s/volumes"' % self.root,
                       'hooks_dir = [%s]' % ('"%s"' % hooks_dir
                                             if hooks_dir else "")],
            "network": ['network_backend = "%s"' % backend,
                        'network_config_dir = "%s"' % self.netconf],
        }
        if cni_dirs:
            sections["network"].append("cni_plugin_dirs = [%s]" % ", ".join(
                '"%s"' % x for x in cni_dirs))
        for section, lines in conf.items():
            sections.setdefault(section, []).extend(lines)
        with open(self.conf_path, "w") as f:
            for section, lines in sections.items():
                f.write("[%s]\n%s\n\n" % (section, "\n".join(lines)))
        with open(self.storage_conf, "w") as f:
            f.write('[storage]\ndriver = "vfs"\ngraphroot = "%s"\n'
                    'runroot = "%s"\n' % (self.root, self.runroot))
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf_path,
                        CONTAINERS_STORAGE_CONF=self.storage_conf)
        self.env.pop("CONTAINERS_REGISTRIES_CONF", None)
        self.namespaces = Namespaces(prefix)
        self.netns = self.namespaces.add("pm")
        self._start_holder()

    def _start_holder(self):
        """The mount namespace podman runs in: /run a private tmpfs (mounts
        made there never reach the host: propagation slave), held by a sleep
        in the test's network namespace."""
        script = ("mount -t tmpfs -o mode=0755,size=64m linkdns-podman-run "
                  "/run && mkdir -p /run/netns /run/lock && echo ready && "
                  "exec sleep 100000")
        self.holder = subprocess.Popen(
            ["nsenter", "--net=/run/netns/" + self.netns, "unshare",
             "--mount", "--propagation", "slave", "sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            err = self.holder.stderr.read() if self.holder.poll() is not None \
                else ""
            pytest.fail("podman session: the mount namespace holder did not "
                        "start: %r %s" % (line, err), pytrace=False)
        self.mntns = os.readlink("/proc/%d/ns/mnt" % self.holder.pid)
        assert self.mntns != os.readlink("/proc/self/ns/mnt")

    # -- running podman -------------------------------------------------------
    def argv(self, *args):
        """The full command line of `podman ARGS` in this session."""
        g = [PODMAN, "--root", self.root, "--runroot", self.runroot,
             "--tmpdir", self.tmpdir, "--storage-driver", "vfs",
             "--runtime", "runc", "--cgroup-manager", "cgroupfs",
             "--events-backend", "file", "--network-backend", self.backend,
             "--network-config-dir", self.netconf]
        if self.hooks_dir:
            g += ["--hooks-dir", self.hooks_dir]
        return ["nsenter", "-t", str(self.holder.pid), "--mount", "--net"] \
            + g + [str(a) for a in args]

    def cmd(self, *args, check=True, timeout=TIMEOUT, input=None):
        """Runs `podman ARGS` in the session; returns the CompletedProcess
        (text). With CHECK a non-zero exit is an AssertionError with its
        output."""
        argv = self.argv(*args)
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, env=self.env, input=input,
                           stdin=None if input is not None
                           else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError("podman %s exited %d\nstdout:\n%s\nstderr:"
                                 "\n%s" % (" ".join(str(a) for a in args),
                                           p.returncode, p.stdout, p.stderr))
        return p

    def run_args(self, name=None, annotations=None, options=(),
                 command=("sleep", "100000")):
        """The arguments of `podman run` (after "run") for a busybox
        container: --name NAME, --annotation K=V for each of ANNOTATIONS,
        OPTIONS, --rootfs, COMMAND."""
        a = []
        if name:
            a += ["--name", name]
        for k, v in (annotations or {}).items():
            a += ["--annotation", "%s=%s" % (k, v)]
        return a + list(options) + ["--rootfs", self.rootfs] + list(command)

    def run_detached(self, name=None, annotations=None, options=(),
                     command=("sleep", "100000"), check=True):
        """`podman run -d` of a busybox container; returns the
        CompletedProcess, the container's full ID in .id (None if it
        failed)."""
        p = self.cmd("run", "-d", *self.run_args(name, annotations, options,
                                                 command), check=check)
        p.id = p.stdout.strip().splitlines()[-1] if p.returncode == 0 \
            else None
        if p.id:
            self.ids.append(p.id)
        return p

    def run(self, *command, name=None, annotations=None, options=(),
            check=True, rm=True):
        """`podman run [--rm]` of COMMAND in a busybox container, to its end;
        returns the CompletedProcess."""
        return self.cmd("run", *(["--rm"] if rm else []),
                        *self.run_args(name, annotations, options, command),
                        check=check)

    def exec(self, container, *command, check=True, timeout=TIMEOUT):
        """`podman exec CONTAINER COMMAND`."""
        return self.cmd("exec", container, *command, check=check,
                        timeout=timeout)

    def stop(self, container, seconds=0, check=True):
        """`podman stop -t SECONDS CONTAINER` (sleep ignores SIGTERM as pid
        1: the default would wait 10 s for nothing)."""
        return self.cmd("stop", "-t", str(seconds), container, check=check)

    def rm(self, container, force=True, check=True):
        return self.cmd("rm", *(["-f", "-t", "0"] if force else []),
                        container, check=check)

    def inspect(self, container, fmt):
        """`podman inspect --format FMT CONTAINER`, stripped."""
        return self.cmd("inspect", "--format", fmt, container).stdout.strip()

    def pid(self, container):
        return int(self.inspect(container, "{{.State.Pid}}"))

    def address(self, container):
        """The container's IPv4 address on the default network."""
        return self.inspect(container,
                            "{{range .NetworkSettings.Networks}}"
                            "{{.IPAddress}}{{end}}")

    def check(self):
        """Skips (with podman's own words) when podman cannot run a
        container here; returns the seconds one `podman run --rm` took."""
        t0 = time.monotonic()
        p = self.cmd("run", "--rm", "--rootfs", self.rootfs, "true",
                     check=False)
        took = time.monotonic() - t0
        if p.returncode != 0:
            err = (p.stderr.strip() or p.stdout.strip()).splitlines()
            pytest.skip("podman cannot run a container here: %s"
                        % (err[-1] if err else "exit %d" % p.returncode))
        return took

    # -- the end ----------------------------------------------------------------
    def _ns_pids(self):
        """Processes in this session's mount namespace (conmon, containers'
        runtimes), the holder excepted."""
        pids = []
        for x in os.listdir("/proc"):
            if not x.isdigit() or int(x) == self.holder.pid:
                continue
            try:
                if os.readlink("/proc/%s/ns/mnt" % x) == self.mntns:
                    pids.append(int(x))
            except OSError:
                pass
        return pids

    def cleanup(self):
        """Removes every container, the namespaces and the tmp dir; never
        raises (a failing test keeps its own error)."""
        if self.holder is not None and self.holder.poll() is None:
            try:
                self.cmd("rm", "-af", "-t", "0", check=False, timeout=60)
            except subprocess.TimeoutExpired:
                pass
            # whatever podman left (a conmon whose container failed to stop)
            for pid in self._ns_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                wait_for("the podman session's processes gone",
                         lambda: not self._ns_pids(), 10)
            except AssertionError:
                pass
            self.holder.kill()   # its mount namespace (and /run) go with it
            self.holder.wait()
        for cid in self.ids:    # cgroups of containers podman lost track of
            for h in os.listdir("/sys/fs/cgroup") \
                    if os.path.isdir("/sys/fs/cgroup") else ():
                try:
                    os.rmdir(os.path.join("/sys/fs/cgroup", h,
                                          "libpod_parent", "libpod-" + cid))
                except OSError:
                    pass
        if self.namespaces is not None:
            self.namespaces.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False
