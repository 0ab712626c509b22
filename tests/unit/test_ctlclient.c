/* test_ctlclient: the control client against a fake linkdnsd in a forked child. */
#include "clock.h"
#include "command.h"
#include "ctlclient.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[32], sock[96];

enum srv_mode {
        SRV_OK,       /* reads the request, checks it, answers ok and a body */
        SRV_REFUSE,   /* reads the request, refuses */
        SRV_EARLY,    /* refuses at once and closes, reading nothing */
        SRV_SILENT,   /* accepts and never answers */
        SRV_LONGLINE, /* answers a line longer than the bound, no newline */
        SRV_GARBAGE,  /* answers something that is no verdict */
};

static const char *srv_expect; /* the request SRV_OK and SRV_REFUSE expect */

static int listen_at(const char *path, int backlog)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        unlink(path);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
                perror("listen_at");
                exit(99);
        }
        return fd;
}

static void write_all(int fd, const char *p, size_t len)
{
        ssize_t n;

        while (len && (n = send(fd, p, len, MSG_NOSIGNAL)) > 0) {
                p += n;
                len -= (size_t)n;
        }
}

/* The child: one connection served as mode says; exits 0 when what it read was right. */
static void srv_child(int lfd, enum srv_mode mode)
{
        static char req[1 << 20];
        size_t len = 0, want = srv_expect ? strlen(srv_expect) : 0;
        int cfd = accept(lfd, NULL, NULL), ok = 1;
        ssize_t n;

        if (cfd < 0)
                _exit(98);
        if (mode == SRV_OK || mode == SRV_REFUSE) {
                while (len < want && (n = read(cfd, req + len, sizeof(req) - len)) > 0)
                        len += (size_t)n;
                ok = len == want && memcmp(req, srv_expect, want) == 0;
        }
        switch (mode) {
        case SRV_OK:
                write_all(cfd, "ok\nhello\n", 9);
                write_all(cfd, "world\n", 6);
                break;
        case SRV_REFUSE:
                write_all(cfd, "error no such container\n", 24);
                break;
        case SRV_EARLY:
                write_all(cfd, "error request too long\n", 23);
                break;
        case SRV_SILENT:
                pause();
                break;
        case SRV_LONGLINE:
                memset(req, 'x', 70000);
                write_all(cfd, req, 70000);
                while (read(cfd, req, sizeof(req)) > 0)
                        ;
                break;
        case SRV_GARBAGE:
                write_all(cfd, "hello\n", 6);
                break;
        }
        close(cfd);
        _exit(ok ? 0 : 1);
}

static pid_t serve(enum srv_mode mode)
{
        int lfd = listen_at(sock, 4);
        pid_t pid = fork();

        if (pid == 0)
                srv_child(lfd, mode);
        close(lfd);
        return pid;
}

static int reap(pid_t pid)
{
        int st;

        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_accepted(void)
{
        struct ld_ctlc_buf b = {.max = 1 << 20};
        char err[256];
        pid_t pid;
        int rc;

        srv_expect = "ls\n";
        pid = serve(SRV_OK);
        rc = ld_ctlc_request(sock, "ls\n", 3, 2000, ld_ctlc_buf_sink, &b, err, sizeof(err));
        TAP_OK(rc == 0, "accepted: rc %d (%s)", rc, err);
        TAP_OK(b.data && strcmp(b.data, "hello\nworld\n") == 0, "the body after the verdict");
        waitpid(pid, &rc, 0);
        TAP_OK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "the server read the request whole");
        ld_ctlc_buf_clear(&b);
        ld_ctlc_buf_clear(&b);

        /* the buffer sink's bound */
        b.max = 4;
        pid = serve(SRV_OK);
        rc = ld_ctlc_request(sock, "ls\n", 3, 2000, ld_ctlc_buf_sink, &b, err, sizeof(err));
        TAP_OK(rc == -E2BIG && *err, "a body over the sink's max: rc %d (%s)", rc, err);
        reap(pid);
        ld_ctlc_buf_clear(&b);
}

static void test_refused(void)
{
        char err[256], *big;
        size_t biglen = 4u << 20;
        pid_t pid;
        int rc;

        srv_expect = "rm db\n";
        pid = serve(SRV_REFUSE);
        rc = ld_ctlc_request(sock, "rm db\n", 6, 2000, NULL, NULL, err, sizeof(err));
        TAP_OK(rc == 1 && strcmp(err, "no such container") == 0, "refused: rc %d '%s'", rc, err);
        reap(pid);

        /* a daemon that refuses before reading and closes while we still write */
        big = malloc(biglen);
        memset(big, 'a', biglen - 1);
        big[biglen - 1] = '\n';
        pid = serve(SRV_EARLY);
        rc = ld_ctlc_request(sock, big, biglen, 2000, NULL, NULL, err, sizeof(err));
        TAP_OK(rc == 1 && strcmp(err, "request too long") == 0,
               "early refusal read while writing: rc %d '%s'", rc, err);
        reap(pid);
        free(big);

        pid = serve(SRV_GARBAGE);
        rc = ld_ctlc_request(sock, "ls\n", 3, 2000, NULL, NULL, err, sizeof(err));
        TAP_OK(rc == -EPROTO && strstr(err, sock), "no verdict line: rc %d '%s'", rc, err);
        reap(pid);
}

static void test_timeouts(void)
{
        char err[256];
        int64_t t0;
        int rc, lfd, fds[64], nfds = 0;
        pid_t pid;

        pid = serve(SRV_SILENT);
        t0 = ld_clock_ms();
        rc = ld_ctlc_request(sock, "ls\n", 3, 300, NULL, NULL, err, sizeof(err));
        t0 = ld_clock_ms() - t0;
        TAP_OK(rc == -ETIMEDOUT && strstr(err, sock), "silent server: rc %d '%s'", rc, err);
        TAP_OK(t0 >= 290 && t0 < 1500, "within the timeout: %lld ms", (long long)t0);
        reap(pid);

        /* a listening socket that never accepts: the connection is queued, no answer */
        lfd = listen_at(sock, 4);
        rc = ld_ctlc_request(sock, "ls\n", 3, 200, NULL, NULL, err, sizeof(err));
        TAP_OK(rc == -ETIMEDOUT && strstr(err, "cannot read"), "never accepted, queued: rc %d '%s'",
               rc, err);
        close(lfd);
        /* its backlog full: connect says EAGAIN until the deadline */
        lfd = listen_at(sock, 0);
        for (; nfds < 64; nfds++) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};

                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
                fds[nfds] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
                if (connect(fds[nfds], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                        close(fds[nfds]);
                        break;
                }
        }
        t0 = ld_clock_ms();
        rc = ld_ctlc_request(sock, "ls\n", 3, 300, NULL, NULL, err, sizeof(err));
        t0 = ld_clock_ms() - t0;
        TAP_OK(rc == -ETIMEDOUT && strstr(err, "cannot connect"),
               "never accepted, backlog full: rc %d '%s'", rc, err);
        TAP_OK(t0 >= 290 && t0 < 1500, "within the timeout: %lld ms", (long long)t0);
        while (nfds > 0)
                close(fds[--nfds]);
        close(lfd);
        unlink(sock);
}

static void test_errors(void)
{
        char err[256], path[200];
        pid_t pid;
        int rc;

        rc = ld_ctlc_request(sock, "ls\n", 3, 300, NULL, NULL, err, sizeof(err));
        TAP_OK(rc == -ENOENT && strstr(err, sock) && strstr(err, "cannot connect"),
               "no socket: rc %d '%s'", rc, err);
        memset(path, 'p', sizeof(path) - 1);
        path[sizeof(path) - 1] = '\0';
        rc = ld_ctlc_request(path, "ls\n", 3, 300, NULL, NULL, err, sizeof(err));
        TAP_OK(rc == -ENAMETOOLONG && strstr(err, "too long"), "path too long: rc %d", rc);

        pid = serve(SRV_LONGLINE);
        rc = ld_ctlc_request(sock, "ls\n", 3, 2000, NULL, NULL, err, sizeof(err));
        TAP_OK(rc == -EMSGSIZE && strstr(err, "longer"), "over-long verdict: rc %d '%s'", rc, err);
        reap(pid);
}

static void test_batch(void)
{
        struct ld_ctlc_batch b = {0};
        char err[512], dom[254];
        pid_t pid;
        int rc;

        TAP_OK(ld_ctlc_batch_send(sock, &b, 300, err, sizeof(err)) == 0,
               "an empty batch asks nobody");
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "add %s --addr %s", "db", "10.0.0.5");
        TAP_OK(rc == 0 && b.lines == 1 && b.changes == 1, "a change line added");
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "add web --bogus");
        TAP_OK(rc == -EINVAL && strstr(err, "add web --bogus") && strstr(err, "--bogus"),
               "a bad line refused, naming it: '%s'", err);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "ls");
        TAP_OK(rc == -EINVAL && strstr(err, "cannot be part of a batch"), "ls refused: '%s'", err);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "# a comment");
        TAP_OK(rc == -EINVAL, "a comment is no change for batch_add: '%s'", err);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "add x\nrm db");
        TAP_OK(rc == -EINVAL && strstr(err, "line break"), "a line break refused");
        rc = ld_ctlc_batch_line(&b, "# kept for the line numbers", err, sizeof(err));
        TAP_OK(rc == 1 && b.lines == 2 && b.changes == 1, "batch_line keeps a comment");
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "link %s %s", "web", "db");
        TAP_OK(rc == 0 && b.lines == 3, "second change");

        srv_expect = "batch 3\nadd db --addr 10.0.0.5\n# kept for the line numbers\nlink web db\n";
        pid = serve(SRV_OK);
        rc = ld_ctlc_batch_send(sock, &b, 2000, err, sizeof(err));
        TAP_OK(rc == 0, "batch sent: rc %d '%s'", rc, err);
        waitpid(pid, &rc, 0);
        TAP_OK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "as 'batch N' and its lines");
        ld_ctlc_batch_clear(&b);
        ld_ctlc_batch_clear(&b);

        for (int i = 0; i < LD_BATCH_LINES; i++)
                if ((rc = ld_ctlc_batch_add(&b, err, sizeof(err), "add n%d", i)) != 0)
                        break;
        TAP_OK(rc == 0 && b.lines == LD_BATCH_LINES, "LD_BATCH_LINES lines fit");
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "add one-more");
        TAP_OK(rc == -E2BIG && b.lines == LD_BATCH_LINES, "one more line: E2BIG '%s'", err);
        ld_ctlc_batch_clear(&b);
        /* lines of about 400 bytes: the byte bound comes first */
        memset(dom, 'a', 253);
        dom[63] = dom[127] = dom[191] = '.';
        dom[253] = '\0';
        for (int i = 0; i < LD_BATCH_LINES; i++) {
                rc = ld_ctlc_batch_add(&b, err, sizeof(err), "net n%d --owner %0120d --domain %s",
                                       i, i, dom);
                if (rc != 0)
                        break;
        }
        TAP_OK(rc == -E2BIG && b.len <= LD_BATCH_BYTES, "over LD_BATCH_BYTES: E2BIG '%s'", err);
        ld_ctlc_batch_clear(&b);
}

int main(void)
{
        snprintf(dir, sizeof(dir), "/tmp/ctlc-XXXXXX");
        if (!mkdtemp(dir))
                return 99;
        snprintf(sock, sizeof(sock), "%s/control.sock", dir);
        test_accepted();
        test_refused();
        test_timeouts();
        test_errors();
        test_batch();
        unlink(sock);
        rmdir(dir);
        return tap_done();
}
