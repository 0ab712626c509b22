/* ctlclient: the client side of linkdnsd's control socket, for linkdnsctl and the runtime programs.
 */
#include "ctlclient.h"

#include "clock.h"
#include "command.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The verdict line's bound: linkdnsd's reasons are one short line; a peer sending more
 * without a newline is not linkdnsd, and must not make us buffer without end. */
#define CTLC_VERDICT_MAX 65536
/* A full listen backlog on AF_UNIX gives EAGAIN at once (no waiting connect): retry. */
#define CTLC_CONNECT_RETRY_MS 10

struct ctlc_conn {
        const char *path;
        int fd;
        int64_t end; /* deadline in CLOCK_MONOTONIC ms; -1: none */
        int timeout_ms;
        char *err;
        size_t errlen;
};

/* Milliseconds left for poll: -1 without a deadline, 0 once it has passed. */
static int ctlc_left(const struct ctlc_conn *c)
{
        int64_t left;

        if (c->end < 0)
                return -1;
        left = c->end - ld_clock_ms();
        return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

static int ctlc_fail(struct ctlc_conn *c, int rc, const char *what)
{
        if (rc == -ETIMEDOUT)
                snprintf(c->err, c->errlen, "%s %s: no answer within %d ms", what, c->path,
                         c->timeout_ms);
        else
                snprintf(c->err, c->errlen, "%s %s: %s", what, c->path, strerror(-rc));
        return rc;
}

/* Waits for events on the socket until the deadline: the revents, or a negative errno. */
static int ctlc_wait(struct ctlc_conn *c, short events)
{
        struct pollfd p = {.fd = c->fd, .events = events};
        int left, n;

        for (;;) {
                left = ctlc_left(c);
                if (left == 0)
                        return -ETIMEDOUT;
                n = poll(&p, 1, left);
                if (n > 0)
                        return p.revents;
                if (n < 0 && errno != EINTR)
                        return -errno;
        }
}

static int ctlc_connect(struct ctlc_conn *c)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int left, rc;
        socklen_t sl = sizeof(rc);

        strcpy(sa.sun_path, c->path); /* length checked by the caller */
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->fd < 0)
                return ctlc_fail(c, -errno, "cannot connect to");
        while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                if (errno == EINTR)
                        continue;
                if (errno == EINPROGRESS) {
                        if ((rc = ctlc_wait(c, POLLOUT)) < 0)
                                return ctlc_fail(c, rc, "cannot connect to");
                        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &rc, &sl) < 0)
                                rc = errno;
                        return rc ? ctlc_fail(c, -rc, "cannot connect to") : 0;
                }
                if (errno != EAGAIN)
                        return ctlc_fail(c, -errno, "cannot connect to");
                if ((left = ctlc_left(c)) == 0)
                        return ctlc_fail(c, -ETIMEDOUT, "cannot connect to");
                usleep(1000u * (unsigned)(left < 0 || left > CTLC_CONNECT_RETRY_MS
                                              ? CTLC_CONNECT_RETRY_MS
                                              : left));
        }
        return 0;
}

/* Writes the request, stopping early when the daemon speaks first (an early refusal):
 * 0 when all was sent, 1 when the daemon spoke or closed first, -errno (err set) on a
 * timeout. A daemon that closed is no error here: its verdict is read after. */
static int ctlc_write(struct ctlc_conn *c, const char *req, size_t len)
{
        ssize_t n;
        int ev;

        while (len > 0) {
                n = send(c->fd, req, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                        req += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                        snprintf(c->err, c->errlen,
                                 "cannot send the request to %s: %s (linkdnsd closed the "
                                 "connection)",
                                 c->path, n < 0 ? strerror(errno) : "short write");
                        return 1;
                }
                if ((ev = ctlc_wait(c, POLLOUT | POLLIN)) < 0)
                        return ctlc_fail(c, ev, "cannot send the request to");
                if (ev & (POLLIN | POLLHUP | POLLERR))
                        return 1;
        }
        return 0;
}

/* Reads at most cap bytes when some are there, within the deadline: the count, 0 at the
 * end, or -errno (err set). */
static ssize_t ctlc_read(struct ctlc_conn *c, char *buf, size_t cap)
{
        ssize_t n;
        int ev;

        for (;;) {
                n = recv(c->fd, buf, cap, MSG_DONTWAIT);
                if (n >= 0)
                        return n;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return ctlc_fail(c, -errno, "cannot read the reply from");
                if ((ev = ctlc_wait(c, POLLIN)) < 0)
                        return ctlc_fail(c, ev, "cannot read the reply from");
        }
}

/* The verdict line, then the rest to sink. */
static int ctlc_reply(struct ctlc_conn *c, ld_ctlc_sink sink, void *ctx, int unsent)
{
        char *buf = malloc(CTLC_VERDICT_MAX), *nl = NULL;
        size_t len = 0, rest;
        ssize_t n = 0;
        int rc;

        if (!buf)
                return ctlc_fail(c, -ENOMEM, "cannot read the reply from");
        while (!nl && len < CTLC_VERDICT_MAX &&
               (n = ctlc_read(c, buf + len, CTLC_VERDICT_MAX - len)) > 0) {
                nl = memchr(buf + len, '\n', (size_t)n);
                len += (size_t)n;
        }
        if (n < 0) {
                rc = (int)n;
        } else if (!nl && len == CTLC_VERDICT_MAX) {
                snprintf(c->err, c->errlen, "reply from %s: verdict line longer than %d bytes",
                         c->path, CTLC_VERDICT_MAX);
                rc = -EMSGSIZE;
        } else if (!nl) {
                /* unsent: the write said why (err), unless it stopped at a hangup or
                 * early data, where it says nothing */
                if (!unsent || (c->errlen && !c->err[0]))
                        snprintf(c->err, c->errlen, "no answer from linkdnsd at %s", c->path);
                rc = unsent ? -EPIPE : -ECONNRESET;
        } else if (strncmp(buf, "error ", 6) == 0) {
                *nl = '\0';
                snprintf(c->err, c->errlen, "%s", buf + 6);
                rc = 1;
        } else if (strncmp(buf, "ok", 2) == 0 && (buf + 2 == nl || buf[2] == ' ')) {
                rest = len - (size_t)(nl + 1 - buf);
                rc = rest && sink ? sink(ctx, nl + 1, rest) : 0;
                while (rc == 0 && (n = ctlc_read(c, buf, CTLC_VERDICT_MAX)) > 0)
                        rc = sink ? sink(ctx, buf, (size_t)n) : 0;
                if (rc == 0 && n < 0)
                        rc = (int)n;
                else if (rc < 0 && n >= 0)
                        snprintf(c->err, c->errlen, "reply from %s: %s", c->path, strerror(-rc));
        } else {
                snprintf(c->err, c->errlen, "reply from %s: not a verdict line", c->path);
                rc = -EPROTO;
        }
        free(buf);
        return rc;
}

int ld_ctlc_request(const char *path, const char *req, size_t len, int timeout_ms,
                    ld_ctlc_sink sink, void *ctx, char *err, size_t errlen)
{
        struct ctlc_conn c = {
            .path = path, .fd = -1, .timeout_ms = timeout_ms, .err = err, .errlen = errlen};
        int rc;

        if (errlen)
                err[0] = '\0';
        c.end = timeout_ms < 0 ? -1 : ld_clock_ms() + timeout_ms;
        if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return ctlc_fail(&c, -ENAMETOOLONG, "control path too long:");
        if ((rc = ctlc_connect(&c)) == 0 && (rc = ctlc_write(&c, req, len)) >= 0)
                rc = ctlc_reply(&c, sink, ctx, rc);
        if (c.fd >= 0)
                close(c.fd);
        return rc;
}

int ld_ctlc_buf_sink(void *ctx, const char *buf, size_t len)
{
        struct ld_ctlc_buf *b = ctx;
        size_t cap;
        char *p;

        if (len > b->max || b->len > b->max - len)
                return -E2BIG;
        if (b->len + len + 1 > b->cap) {
                cap = b->cap ? b->cap : 4096;
                while (cap < b->len + len + 1)
                        cap *= 2;
                if (!(p = realloc(b->data, cap)))
                        return -ENOMEM;
                b->data = p;
                b->cap = cap;
        }
        memcpy(b->data + b->len, buf, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
}

void ld_ctlc_buf_clear(struct ld_ctlc_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

/* 0 for a change line, 1 for a blank or comment one, -EINVAL (err says why) else. */
static int ctlc_batch_check(const char *line, char *err, size_t errlen)
{
        char why[512];
        struct ld_cmd cmd;
        int rc = ld_cmd_parse(line, &cmd, why, sizeof(why));

        if (rc == 0 && !ld_cmd_is_change(&cmd)) {
                snprintf(why, sizeof(why),
                         "'%s' cannot be part of a batch (only " LD_BATCH_KINDS ")",
                         ld_cmd_word(cmd.kind));
                rc = -EINVAL;
        }
        ld_cmd_clear(&cmd);
        if (rc >= 0)
                return rc;
        snprintf(err, errlen, "'%.200s': %s", line, why);
        return -EINVAL;
}

static int ctlc_batch_grow(struct ld_ctlc_batch *b, size_t more)
{
        size_t cap = b->cap ? b->cap : 1024;
        char *p;

        if (b->len + more <= b->cap)
                return 0;
        while (cap < b->len + more)
                cap *= 2;
        if (!(p = realloc(b->text, cap)))
                return -ENOMEM;
        b->text = p;
        b->cap = cap;
        return 0;
}

/* Appends line (no newline in it): as ld_ctlc_batch_line; a blank or comment line is
 * refused (-EINVAL) unless blank_ok. */
static int ctlc_batch_append(struct ld_ctlc_batch *b, const char *line, bool blank_ok, char *err,
                             size_t errlen)
{
        size_t n = strlen(line);
        int rc;

        if (errlen)
                err[0] = '\0';
        if (b->lines >= LD_BATCH_LINES) {
                snprintf(err, errlen, "%s", "batch of more than " LD_STR(LD_BATCH_LINES) " lines");
                return -E2BIG;
        }
        if (n + 1 > LD_BATCH_BYTES - b->len) {
                snprintf(err, errlen, "%s", "batch longer than " LD_STR(LD_BATCH_BYTES) " bytes");
                return -E2BIG;
        }
        /* '\n' alone ends a line for linkdnsd; a '\r' is a blank there (a CRLF file's
         * lines, which linkdnsctl batch always took; batch_add counts it as a blank) */
        if (strchr(line, '\n')) {
                snprintf(err, errlen, "'%.200s': a line break in a batch line", line);
                return -EINVAL;
        }
        if ((rc = ctlc_batch_check(line, err, errlen)) < 0)
                return rc;
        if (rc > 0 && !blank_ok) {
                snprintf(err, errlen, "'%.200s': no command", line);
                return -EINVAL;
        }
        if (ctlc_batch_grow(b, n + 1) < 0) {
                snprintf(err, errlen, "%s", "out of memory");
                return -ENOMEM;
        }
        memcpy(b->text + b->len, line, n);
        b->len += n;
        b->text[b->len++] = '\n';
        b->lines++;
        b->changes += rc == 0;
        return rc;
}

int ld_ctlc_batch_line(struct ld_ctlc_batch *b, const char *line, char *err, size_t errlen)
{
        return ctlc_batch_append(b, line, true, err, errlen);
}

/* Counts s's blanks (as ld_cmd_parse splits), words and words that start with '#'. */
static void ctlc_words(const char *s, size_t *blanks, size_t *words, size_t *hashes)
{
        bool in = false;

        *blanks = *words = *hashes = 0;
        for (; *s; s++) {
                if (strchr(" \t\r\n", *s)) {
                        ++*blanks;
                        in = false;
                } else if (!in) {
                        in = true;
                        ++*words;
                        *hashes += *s == '#';
                }
        }
}

/* A printf argument is a value, never words of its own: the line has the blanks and words
 * of its format (a blank or an empty value would move or add options), and no word of it
 * starts a comment ("unlink A B #x" parses as "unlink A B"). A format that is a lone "%s"
 * passes a whole line, whose words are its own. */
static int ctlc_batch_words(const char *fmt, const char *line, char *err, size_t errlen)
{
        size_t fb, fw, fh, lb, lw, lh;

        ctlc_words(fmt, &fb, &fw, &fh);
        ctlc_words(line, &lb, &lw, &lh);
        if (lh > 0) {
                snprintf(err, errlen, "'%.200s': a word starting with '#' in a batch line", line);
                return -EINVAL;
        }
        if (strcmp(fmt, "%s") != 0 && (lb != fb || lw != fw)) {
                snprintf(err, errlen, "'%.200s': a value with a blank in it, or an empty one",
                         line);
                return -EINVAL;
        }
        return 0;
}

int ld_ctlc_batch_vadd(struct ld_ctlc_batch *b, char *err, size_t errlen, const char *fmt,
                       va_list ap)
{
        char *line = NULL;
        int n, rc;

        if ((n = vasprintf(&line, fmt, ap)) < 0) {
                snprintf(err, errlen, "%s", "out of memory");
                return -ENOMEM;
        }
        if ((size_t)n != strlen(line)) {
                snprintf(err, errlen, "%s", "a NUL byte in a batch line");
                rc = -EINVAL;
        } else if ((rc = ctlc_batch_words(fmt, line, err, errlen)) == 0) {
                rc = ctlc_batch_append(b, line, false, err, errlen);
        }
        free(line);
        return rc;
}

int ld_ctlc_batch_add(struct ld_ctlc_batch *b, char *err, size_t errlen, const char *fmt, ...)
{
        va_list ap;
        int rc;

        va_start(ap, fmt);
        rc = ld_ctlc_batch_vadd(b, err, errlen, fmt, ap);
        va_end(ap);
        return rc;
}

int ld_ctlc_batch_send(const char *path, const struct ld_ctlc_batch *b, int timeout_ms, char *err,
                       size_t errlen)
{
        char head[32], *req;
        int n, rc;

        if (errlen)
                err[0] = '\0';
        if (b->changes == 0)
                return 0;
        n = snprintf(head, sizeof(head), "batch %zu\n", b->lines);
        if (!(req = malloc((size_t)n + b->len))) {
                snprintf(err, errlen, "%s", "out of memory");
                return -ENOMEM;
        }
        memcpy(req, head, (size_t)n);
        memcpy(req + n, b->text, b->len);
        rc = ld_ctlc_request(path, req, (size_t)n + b->len, timeout_ms, NULL, NULL, err, errlen);
        free(req);
        return rc;
}

void ld_ctlc_batch_clear(struct ld_ctlc_batch *b)
{
        free(b->text);
        b->text = NULL;
        b->len = b->cap = b->lines = b->changes = 0;
}
