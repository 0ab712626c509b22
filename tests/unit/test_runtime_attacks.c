/* test_runtime_attacks: what a hostile runtime input or peer can do to the runtime programs'
 * shared modules (ctlclient, rtjson, rtnet): each case a defect found in review. */
#include "clock.h"
#include "ctlclient.h"
#include "rtjson.h"
#include "rtnet.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A value given through a printf argument is one word: a blank, an empty value or a '#'
 * would make other options (or comment out the rest, e.g. rm's --owner) on a line that
 * still parses. */
static void test_batch_injection(void)
{
        struct ld_ctlc_batch b = {0};
        char err[512];
        int rc;

        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "unlink %s %s %s", "web", "db", "#pg");
        TAP_OK(rc == -EINVAL, "a '#' value cannot comment out the rest (rc %d)", rc);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "rm %s --owner %s", "db #", "oci:1");
        TAP_OK(rc == -EINVAL, "a ' #' value cannot comment out the rest (rc %d)", rc);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "add %s --owner oci:1", "db --addr 10.0.0.9");
        TAP_OK(rc == -EINVAL, "a value with a blank cannot add options (rc %d)", rc);
        rc =
            ld_ctlc_batch_add(&b, err, sizeof(err), "add %s --owner oci:1", "db\t--addr\t10.0.0.9");
        TAP_OK(rc == -EINVAL, "nor with a tab (rc %d)", rc);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "link web %s %s", "", "db");
        TAP_OK(rc == -EINVAL, "an empty value cannot shift the words after it (rc %d)", rc);
        TAP_OK(b.lines == 0, "none of them was added (%zu lines)", b.lines);
        /* what stays allowed: words with their values, a whole line as one "%s" */
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "link %s %s:%s", "web", "db", "pg");
        TAP_OK(rc == 0, "a value inside a word is fine (rc %d, '%s')", rc, err);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "%s", "add db --addr 10.0.0.5 --owner oci:1");
        TAP_OK(rc == 0, "a whole line as one %%s is checked as a line (rc %d, '%s')", rc, err);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "%s", "rm db # --owner oci:1");
        TAP_OK(rc == -EINVAL, "a whole line with a comment after its words is refused (rc %d)", rc);
        ld_ctlc_batch_clear(&b);
        /* linkdnsctl batch < a CRLF file: its lines took before ctlclient, and still do */
        rc = ld_ctlc_batch_line(&b, "add db --addr 10.0.0.5\r", err, sizeof(err));
        TAP_OK(rc == 0, "a batch line ending in CR is taken, as before (rc %d, '%s')", rc, err);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "add %s", "web\r--addr\r10.0.0.9");
        TAP_OK(rc == -EINVAL, "a CR inside a value is a blank to batch_add (rc %d)", rc);
        ld_ctlc_batch_clear(&b);
}

/* "\u0000": json-c cuts a key at it, so "io.linkdns.name\u0000x", coming last, stood for
 * io.linkdns.name and won over it (the runtime, in Go, sees two keys: a parser
 * differential); in a value, the C string a caller takes is only the part before. */
static int json_from(const char *text, struct json_object **o, char *err, size_t errlen)
{
        FILE *f = tmpfile();
        int rc;

        if (!f)
                return -errno;
        if (fputs(text, f) < 0 || fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
                rc = -EIO;
        else
                rc = ld_json_read_fd(fileno(f), LD_JSON_MAX, 1000, o, err, errlen);
        fclose(f);
        return rc;
}

static void test_json_nul(void)
{
        struct json_object *o = NULL;
        char err[256];
        int rc;

        rc = json_from("{\"io.linkdns.name\": \"web\", \"io.linkdns.name\\u0000x\": \"db\"}", &o,
                       err, sizeof(err));
        TAP_OK(rc == -EINVAL, "a key with \\u0000 is refused (rc %d, '%s', name %s)", rc, err,
               ld_json_str(o, "io.linkdns.name") ? ld_json_str(o, "io.linkdns.name") : "-");
        json_object_put(o);
        o = NULL;
        rc = json_from("{\"netns\": \"/run/netns/a\\u0000/b\"}", &o, err, sizeof(err));
        TAP_OK(rc == -EINVAL, "a value with \\u0000 is refused (rc %d)", rc);
        json_object_put(o);
        o = NULL;
        rc = json_from("{\"a\": \"x\\\\u0000\", \"b\": \"\\u0001\"}", &o, err, sizeof(err));
        TAP_OK(rc == 0 && strcmp(ld_json_str(o, "a"), "x\\u0000") == 0,
               "an escaped backslash before u0000 is no NUL (rc %d, '%s')", rc, err);
        json_object_put(o);
        /* an object json-c parsed elsewhere: ld_json_str still gives no cut string */
        o = json_tokener_parse("{\"a\": \"x\\u0000 --owner y\", \"b\": \"ok\"}");
        TAP_OK(o && ld_json_str(o, "a") == NULL, "a string with a NUL inside is no string member");
        TAP_OK(ld_json_str(o, "b") && strcmp(ld_json_str(o, "b"), "ok") == 0,
               "a plain one still is");
        json_object_put(o);
}

/* 4 MiB of empty objects took json-c 1 GB and seconds: the values are bounded, and a
 * document of many is refused before json-c sees it. */
static void test_json_values(void)
{
        size_t n = 2 * LD_JSON_VALUES, len = 0;
        char *text = malloc(3 * n + 2), err[256];
        struct json_object *o = NULL;
        int rc;

        if (!text)
                return;
        text[len++] = '[';
        for (size_t i = 0; i < n; i++)
                len += (size_t)sprintf(text + len, "%s{}", i ? "," : "");
        text[len++] = ']';
        text[len] = '\0';
        rc = json_from(text, &o, err, sizeof(err));
        TAP_OK(rc == -E2BIG && !o, "%zu empty objects are refused (rc %d, '%s')", n, rc, err);
        json_object_put(o);
        o = NULL;
        /* commas and brackets inside strings are no values */
        memset(text, ',', 2 * n);
        memcpy(text, "[\"", 2);
        memcpy(text + 2 * n - 2, "\"]", 3);
        rc = json_from(text, &o, err, sizeof(err));
        TAP_OK(rc == 0, "a long string of commas is one value (rc %d, '%s')", rc, err);
        json_object_put(o);
        free(text);
}

/* A process in the container's namespace may send datagrams to our netlink socket (its
 * port is our PID, tried first): not the kernel's, they were skipped without counting or
 * a deadline (empty ones add no bytes), and the kernel's dump goes on only while our
 * buffer is at most half full. This machine's flood did not stall a dump (the test passed
 * before the bound too); it checks that spoofed datagrams change nothing and that the
 * reading ends, with the whole answer or a bounded error. */
static void test_netlink_flood(void)
{
        pid_t caller, flooder, ns;
        int p[2], status = -1, rc = 1;
        char path[64], cmd[512];
        struct timespec t0, t1;

        if (geteuid() != 0) {
                TAP_OK(true, "# SKIP netlink flood: needs root");
                return;
        }
        if ((ns = fork()) == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(1);
                pause();
                _exit(0);
        }
        usleep(100000);
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)ns);
        /* addresses enough for a dump of several messages (the kernel's go on one by one) */
        snprintf(cmd, sizeof(cmd),
                 "nsenter --net=%s sh -c 'ip link set lo up && "
                 "for i in $(seq 1 8); do for j in $(seq 1 250); do "
                 "echo addr add 10.9.$i.$j/32 dev lo; done; done | ip -batch -' >/dev/null 2>&1",
                 path);
        if (system(cmd) != 0) {
                TAP_OK(false, "addresses in the namespace");
                kill(ns, SIGKILL);
                waitpid(ns, NULL, 0);
                return;
        }
        if (pipe(p) < 0)
                return;
        if ((caller = fork()) == 0) { /* waits for the flood to run, then asks */
                char c, addrs[4][LD_RTNET_ADDRSTRLEN];
                int fd = ld_rtnet_open_pid(ns), n;

                close(p[1]);
                if (fd < 0 || read(p[0], &c, 1) != 1)
                        _exit(3);
                usleep(100000);
                for (int i = 0; i < 20; i++) /* 20 sockets, 20 chances for the flood */
                        if ((n = ld_rtnet_addrs(fd, addrs, 4)) != 2000 && n != -E2BIG &&
                            n != -ETIMEDOUT && n != -ENOBUFS)
                                _exit(2);
                _exit(0);
        }
        close(p[0]);
        if ((flooder = fork()) == 0) {
                struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = (unsigned)caller};
                struct nlmsghdr h = {.nlmsg_len = sizeof(h), .nlmsg_type = 0x7777};
                int nsfd = open(path, O_RDONLY), fd;

                if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0 ||
                    (fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)) < 0)
                        _exit(1);
                if (write(p[1], "x", 1) != 1)
                        _exit(1);
                for (;;)
                        sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&to, sizeof(to));
        }
        close(p[1]);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
                usleep(20000);
                rc = waitpid(caller, &status, WNOHANG);
                clock_gettime(CLOCK_MONOTONIC, &t1);
        } while (rc == 0 && t1.tv_sec - t0.tv_sec < 10);
        if (rc == 0) {
                kill(caller, SIGKILL);
                waitpid(caller, &status, 0);
        }
        kill(flooder, SIGKILL);
        waitpid(flooder, NULL, 0);
        kill(ns, SIGKILL);
        waitpid(ns, NULL, 0);
        TAP_OK(rc == caller && WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "a flood of foreign netlink datagrams: the 2000 addresses or a bound (%s, %ld s)",
               rc == 0 ? "still reading after 10 s" : "returned", (long)(t1.tv_sec - t0.tv_sec));
}

/* A peer that trickles its verdict a byte at a time, never ending the line, or that
 * answers ok and then streams without end: the deadline holds for the whole request. */
static void test_ctlc_trickle(void)
{
        static const char *const modes[] = {"trickled verdict", "endless reply after ok"};
        char dir[] = "/tmp/rtatk-XXXXXX", path[64], err[256];
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int64_t ms;
        int lfd, rc;
        pid_t pid;

        if (!mkdtemp(dir))
                return;
        snprintf(path, sizeof(path), "%s/s", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
                TAP_OK(false, "listen");
                return;
        }
        for (int m = 0; m < 2; m++) {
                if ((pid = fork()) == 0) {
                        int c = accept(lfd, NULL, NULL);
                        char buf[256];

                        if (c < 0 || read(c, buf, sizeof(buf)) <= 0)
                                _exit(1);
                        if (m == 1 && write(c, "ok\n", 3) != 3)
                                _exit(1);
                        for (;;) {
                                if (write(c, m == 0 ? "o" : "x\n", m == 0 ? 1 : 2) < 0)
                                        _exit(0);
                                usleep(20000);
                        }
                }
                ms = ld_clock_ms();
                rc = ld_ctlc_request(path, "stats\n", 6, 500, NULL, NULL, err, sizeof(err));
                ms = ld_clock_ms() - ms;
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                TAP_OK(rc == -ETIMEDOUT && ms < 1500, "%s: -ETIMEDOUT after %lld ms of 500 (rc %d)",
                       modes[m], (long long)ms, rc);
        }
        close(lfd);
        unlink(path);
        rmdir(dir);
}

int main(void)
{
        test_batch_injection();
        test_json_nul();
        test_json_values();
        test_ctlc_trickle();
        test_netlink_flood();
        return tap_done();
}
