/* test_rtnet: a namespace of the test's own (root only): lo brought up, addresses read back,
 * and files that are no network namespace refused. */
#include "rtnet.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child that sits in a new network namespace until killed; -1 when it cannot. */
static pid_t ns_child(void)
{
        int p[2];
        pid_t pid;
        char c = 0;

        if (pipe(p) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                close(p[0]);
                c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
                if (write(p[1], &c, 1) != 1)
                        _exit(1);
                pause();
                _exit(0);
        }
        close(p[1]);
        if (pid < 0 || read(p[0], &c, 1) != 1 || c != 'y') {
                if (pid > 0) {
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                }
                pid = -1;
        }
        close(p[0]);
        return pid;
}

/* Runs an ip(8) command in pid's namespace: its exit status. */
static int in_ns(pid_t pid, const char *cmd)
{
        char line[512];

        snprintf(line, sizeof(line), "nsenter --net=/proc/%d/ns/net sh -c '%s' >/dev/null 2>&1",
                 (int)pid, cmd);
        return system(line);
}

static void test_files(void)
{
        char dir[] = "/tmp/rtnet-XXXXXX", path[64];
        int fd;

        TAP_OK(ld_rtnet_open_path("/etc/passwd") == -ENOTTY, "a regular file refused");
        if (!mkdtemp(dir))
                return;
        snprintf(path, sizeof(path), "%s/fifo", dir);
        mkfifo(path, 0600);
        TAP_OK(ld_rtnet_open_path(path) == -ENOTTY, "a FIFO refused without blocking");
        unlink(path);
        snprintf(path, sizeof(path), "%s/link", dir);
        symlink("/proc/self/ns/net", path);
        TAP_OK(ld_rtnet_open_path(path) == -ELOOP, "a symbolic link refused");
        unlink(path);
        rmdir(dir);
        TAP_OK(ld_rtnet_open_path("/nonexistent/ns") == -ENOENT, "missing: -ENOENT");
        TAP_OK(ld_rtnet_open_pid(0) == -EINVAL, "pid 0 refused");
        fd = ld_rtnet_open_pid(getpid());
        TAP_OK(fd >= 0, "our own /proc/PID/ns/net opens: %d", fd);
        if (fd >= 0)
                close(fd);
}

static void test_namespace(void)
{
        char addrs[4][LD_RTNET_ADDRSTRLEN];
        struct stat before, after;
        pid_t pid;
        int fd, rc;

        if (geteuid() != 0) {
                printf("ok %d - # SKIP not root: no namespace of our own\n", ++tap_n);
                return;
        }
        pid = ns_child();
        if (pid < 0) {
                printf("ok %d - # SKIP unshare(CLONE_NEWNET) failed\n", ++tap_n);
                return;
        }
        stat("/proc/self/ns/net", &before);
        fd = ld_rtnet_open_pid(pid);
        TAP_OK(fd >= 0, "the child's namespace opens: %d", fd);
        TAP_OK(in_ns(pid, "ip -o link show lo | grep -q \"<LOOPBACK>\"") == 0, "lo down at first");
        rc = ld_rtnet_lo_up(fd);
        TAP_OK(rc == 0, "lo_up: %d", rc);
        TAP_OK(in_ns(pid, "ip -o link show lo | grep -q \"LOOPBACK,UP\"") == 0, "lo is up");
        TAP_OK(ld_rtnet_lo_up(fd) == 0, "lo_up again: nothing to do");
        stat("/proc/self/ns/net", &after);
        TAP_OK(before.st_ino == after.st_ino, "back in our own namespace");

        rc = ld_rtnet_addrs(fd, addrs, 4);
        TAP_OK(rc == 0, "no global address yet (127.0.0.1, ::1 are not): %d", rc);
        rc = in_ns(pid, "ip link add v0 type veth peer name v1 && ip link set v0 up && "
                        "ip link set v1 up && ip addr add 10.77.0.5/24 dev v0 && "
                        "ip addr add 169.254.7.7/16 dev v0 && "
                        "ip addr add fd77::5/64 dev v0 nodad && "
                        "ip addr add fd77::7/64 dev v0 nodad preferred_lft 0");
        TAP_OK(rc == 0, "addresses added with ip");
        rc = ld_rtnet_addrs(fd, addrs, 4);
        /* not: 169.254/16 (link-local by value), fd77::7 (deprecated), fe80:: (scope link) */
        TAP_OK(rc == 2 && strcmp(addrs[0], "10.77.0.5") == 0 && strcmp(addrs[1], "fd77::5") == 0,
               "global ones read back, IPv4 first: %d %s %s", rc, rc > 0 ? addrs[0] : "",
               rc > 1 ? addrs[1] : "");
        memset(addrs, 0, sizeof(addrs));
        rc = ld_rtnet_addrs(fd, addrs, 1);
        TAP_OK(rc == 2 && strcmp(addrs[0], "10.77.0.5") == 0 && addrs[1][0] == '\0',
               "n = 1: the count of all, one written");
        stat("/proc/self/ns/net", &after);
        TAP_OK(before.st_ino == after.st_ino, "back in our own namespace");
        close(fd);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

int main(void)
{
        test_files();
        test_namespace();
        return tap_done();
}
