/* test_tcp_reply: tcp.c's way out for replies over a real loopback connection — the length
 * prefix and the message written with one sendmsg that the kernel may cut anywhere (in the
 * prefix, in the message), replies queued behind a cut one, a reply that comes during a
 * transfer sent after it, and a transfer that fails half-way ending the connection. dispatch
 * is a fake (the query's second byte says what to do); sendmsg is wrapped to cut a write. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "accept.h"
#include "client.h"
#include "dispatch.h"
#include "engine.h"
#include "tap.h"
#include "tcp.h"

#include <ev.h>

enum { Q_ECHO = 1, Q_STREAM = 2, Q_HOLD = 3, Q_STREAM_FAILS = 4 };

static size_t cut;             /* > 0: the next sendmsg writes at most this many bytes */
static struct ld_request held; /* Q_HOLD's, answered later */
static bool holding;
static int stream_left, stream_fail_at, streams_freed;

ssize_t sendmsg(int fd, const struct msghdr *mh, int flags)
{
        struct iovec iov[4];
        struct msghdr m = *mh;
        size_t room = cut;

        if (cut && mh->msg_iovlen <= 4) {
                m.msg_iov = iov;
                m.msg_iovlen = 0;
                for (size_t i = 0; i < mh->msg_iovlen && room; i++) {
                        iov[i] = mh->msg_iov[i];
                        if (iov[i].iov_len > room)
                                iov[i].iov_len = room;
                        room -= iov[i].iov_len;
                        m.msg_iovlen++;
                }
                cut = 0;
        }
        return syscall(SYS_sendmsg, fd, &m, flags);
}

/* Messages of 300 bytes: the first two bytes count down what is left. */
static ssize_t fake_next(struct ld_stream *s, uint8_t *buf, size_t cap)
{
        (void)s;
        (void)cap;
        if (stream_left == 0)
                return 0;
        if (stream_left == stream_fail_at)
                return -EIO;
        memset(buf, 0xab, 300);
        buf[0] = 'S';
        buf[1] = (uint8_t)--stream_left;
        return 300;
}

static void fake_free(struct ld_stream *s)
{
        (void)s;
        streams_freed++;
}

static struct ld_stream fake_stream = {fake_next, fake_free};

size_t ld_dispatch_query(struct ld_dispatch *d, const struct ld_request *rq, const uint8_t *pkt,
                         size_t len, uint8_t *out, size_t cap)
{
        (void)d;
        (void)cap;
        switch (len >= 2 ? pkt[1] : 0) {
        case Q_ECHO: /* the query back, padded to 1000 bytes */
                memset(out, 0x5a, 1000);
                memcpy(out, pkt, len);
                return 1000;
        case Q_STREAM_FAILS:
                stream_fail_at = 1;
                /* fall through */
        case Q_STREAM:
                stream_left = 3;
                ld_client_pull(rq->client, &fake_stream);
                return 0;
        case Q_HOLD:
                ld_request_hold(&held, rq);
                holding = true;
                return 0;
        }
        return 0;
}

bool ld_dispatch_transfer_allowed(const struct ld_dispatch *d, const struct ld_addr *src)
{
        (void)d;
        (void)src;
        return true;
}

/* The listener's client: no views, nothing to free. */
static struct ld_viewset via_views(struct ld_client *c, const struct ld_addr *src)
{
        (void)c;
        (void)src;
        return (struct ld_viewset){NULL, 0};
}

static void via_release(struct ld_client *c)
{
        (void)c;
}

static const struct ld_client_ops via_ops = {NULL, NULL, via_views, via_release};
static struct ld_client via;
static struct ld_tcp *tcp;
static struct ld_accept acc;

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        (void)loop;
        (void)w;
        (void)revents;
        ld_tcp_accept(tcp, &acc, &via);
}

static int client(uint16_t port)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = port};
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -1;
        fcntl(fd, F_SETFL, O_NONBLOCK);
        return fd;
}

static void ask(int fd, uint8_t what)
{
        uint8_t q[14] = {0, 12, 0x12, what};

        if (write(fd, q, sizeof(q)) != (ssize_t)sizeof(q))
                printf("# short write\n");
}

/* The next whole message from fd into buf (its length), -1 at EOF, -2 after a few seconds
 * without one; the loop runs meanwhile. */
static long next_msg(int fd, uint8_t *buf, size_t cap)
{
        static uint8_t in[1 << 16];
        static size_t have;
        double until = ev_time() + 3;

        for (;;) {
                if (have >= 2 && have >= 2 + (size_t)(in[0] << 8 | in[1])) {
                        size_t m = (size_t)(in[0] << 8 | in[1]);
                        memcpy(buf, in + 2, m < cap ? m : cap);
                        memmove(in, in + 2 + m, have - 2 - m);
                        have -= 2 + m;
                        return (long)m;
                }
                ssize_t n = recv(fd, in + have, sizeof(in) - have, 0);
                if (n == 0) {
                        have = 0;
                        return -1;
                }
                if (n > 0)
                        have += (size_t)n;
                else if (ev_time() > until)
                        return -2;
                ev_run(EV_DEFAULT, EVRUN_NOWAIT);
                usleep(1000);
        }
}

int main(void)
{
        static struct ld_engine eng;
        static uint8_t buf[65535];
        struct ld_dispatch d = {&eng, NULL, NULL, NULL};
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t sl = sizeof(sa);
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), fd;
        ev_io lw;
        long n, a, b, c;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
            getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0 ||
            !(tcp = ld_tcp_new(EV_DEFAULT, &d, 16, 10))) {
                printf("Bail out! setup\n");
                return 1;
        }
        ld_client_init(&via, &via_ops);
        ev_io_init(&lw, accept_cb, lfd, EV_READ);
        ld_accept_init(&acc, EV_DEFAULT, &lw, "test");
        ev_io_start(EV_DEFAULT, &lw);

        fd = client(sa.sin_port);
        for (size_t at = 1; at <= 4; at += 3) { /* in the prefix, then in the message */
                cut = at;
                ask(fd, Q_ECHO);
                ask(fd, Q_ECHO); /* queued behind the cut one */
                a = next_msg(fd, buf, sizeof(buf));
                TAP_OK(cut == 0 && a == 1000 && buf[1] == Q_ECHO && buf[999] == 0x5a,
                       "a reply whose write was cut after %zu bytes arrives whole (%ld)", at, a);
                b = next_msg(fd, buf, sizeof(buf));
                TAP_OK(b == 1000 && buf[1] == Q_ECHO && buf[999] == 0x5a,
                       "and the reply queued behind it too (%ld)", b);
        }

        ask(fd, Q_HOLD);
        next_msg(fd, buf, 0); /* nothing comes: the loop runs until the hold is taken */
        cut = 5;              /* the transfer's first message stays in the writer */
        ask(fd, Q_STREAM);
        for (int i = 0; i < 3000 && stream_left != 2; i++) { /* its first message cut */
                ev_run(EV_DEFAULT, EVRUN_NOWAIT);
                usleep(1000);
        }
        TAP_OK(holding && stream_left == 2 && cut == 0 &&
                   ld_request_reply(&held, (const uint8_t *)"late", 4) == 0,
               "a reply for an earlier question comes while the transfer is under way");
        ld_request_drop(&held);
        a = next_msg(fd, buf, sizeof(buf));
        b = next_msg(fd, buf + 300, sizeof(buf) - 300);
        c = next_msg(fd, buf + 600, sizeof(buf) - 600);
        TAP_OK(a == 300 && b == 300 && c == 300 && buf[1] == 2 && buf[301] == 1 && buf[601] == 0,
               "the transfer's messages, whole and in order (%ld %ld %ld: %d %d %d)", a, b, c,
               buf[1], buf[301], buf[601]);
        n = next_msg(fd, buf, sizeof(buf));
        TAP_OK(n == 4 && memcmp(buf, "late", 4) == 0, "then the reply that came meanwhile (%ld)",
               n);
        TAP_OK(streams_freed == 1, "the transfer is let go when done");
        close(fd);

        fd = client(sa.sin_port);
        ask(fd, Q_STREAM_FAILS);
        a = next_msg(fd, buf, sizeof(buf));
        b = next_msg(fd, buf, sizeof(buf));
        c = next_msg(fd, buf, sizeof(buf));
        TAP_OK(a == 300 && b == 300 && c == -1,
               "a transfer that fails half-way ends the connection (%ld %ld %ld)", a, b, c);
        TAP_OK(streams_freed == 2 && ld_tcp_count(tcp) == 0, "and is let go with it");
        close(fd);

        ld_tcp_free(tcp);
        ld_accept_fini(&acc);
        ev_io_stop(EV_DEFAULT, &lw);
        close(lfd);
        TAP_OK(via.refs == 1, "the connections let go of their listener");
        return tap_done();
}
