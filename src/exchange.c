/* exchange: one DNS query to one server over UDP, from a fresh random source port with a
 * random ID, and only the answer that matches it — what an off-path attacker would have
 * to guess.
 *
 * The port: sendto() on an unbound UDP socket binds it to a port of the kernel's ephemeral
 * range (ip_local_port_range) drawn with get_random_u32 (udp_lib_get_port), and
 * connect(AF_UNSPEC) unbinds a port so obtained. So a socket is borrowed from the pool,
 * sent one query from (a new random port), read, unbound (the port is free again) and
 * returned: every query has a port of its own, with sendto, recvfrom and connect per query
 * and no socket(), close() or epoll_ctl() — a socket per query costs those (file, inode,
 * dentry, epoll registration), and connect()ing to the server too (the 4-tuple hashing
 * and route of a connected socket): 1.4 times the CPU per forwarded query. The socket is
 * not connected, so the source of every datagram is compared here (address and port:
 * anything else is dropped), and IP_RECVERR brings the server's port unreachable, checked
 * the same way, for a fast fail-over. If the kernel's range holds fewer than
 * EXCHANGE_MIN_PORTS, a port of IANA's dynamic range is bound explicitly instead, and such
 * a socket (its port fixed) is closed after its one query.
 * The timeouts of a pool's exchanges share one ev_timer: they are kept in a list by
 * deadline, which a caller's constant timeout keeps in the order they start (an append),
 * and the timer waits for the first — no timer heap work per query. */
#include "exchange.h"

#include "list.h"
#include "log.h"
#include "random.h"
#include "wire.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXCHANGE_MIN_PORTS 16384 /* fewer, and a blind forger's odds grow too much */
#define EXCHANGE_BIND_TRIES 8    /* random ports in use; then the kernel picks one */
#define EXCHANGE_READS 16        /* datagrams read per wake-up: the rest wait their turn */
#define EXCHANGE_ERRORS 256      /* bounds the drain of a queue refilled as fast as it is read */
#define XPOOL_IDLE_MAX 256       /* idle sockets kept; a larger burst's are closed after */

/* A pooled UDP socket, its watcher always started: while idle it only drains. */
struct ld_xsock {
        ev_io io;
        struct ld_xpool *pool;
        struct ld_exchange *x; /* the exchange that has it; NULL: idle */
        struct ld_xsock *prev, *next;
        int family;
};

struct ld_xpool {
        struct ev_loop *loop;
        ev_timer timer;                          /* for the first deadline of... */
        struct ld_exchange *first, *last;        /* ...the exchanges under way, by deadline */
        struct ld_xsock *idle[2], *idle_tail[2]; /* IPv4, IPv6; taken oldest first */
        size_t nidle;
        struct ld_xsock *ended; /* ended this wakeup: unbound before the loop waits */
        ev_prepare release;
};

static uint16_t exchange_lo, exchange_hi;
static bool exchange_own_pick; /* the kernel's range is too narrow: ports drawn here */

/* The source ports drawn from (read once; a warning if the kernel's range is narrow). */
static void exchange_ports(uint16_t *lo, uint16_t *hi)
{
        if (!exchange_lo) {
                FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
                unsigned a = 0, b = 0;

                if (!fp || fscanf(fp, "%u %u", &a, &b) != 2 || a < 1024 || b > 65535 || a > b ||
                    b - a + 1 < EXCHANGE_MIN_PORTS) {
                        ld_warn("ip_local_port_range is narrower than %u ports (or unreadable): "
                                "upstream queries use ports 49152-65535",
                                EXCHANGE_MIN_PORTS);
                        a = 65536 - EXCHANGE_MIN_PORTS;
                        b = 65535;
                        exchange_own_pick = true;
                }
                if (fp)
                        fclose(fp);
                exchange_lo = (uint16_t)a;
                exchange_hi = (uint16_t)b;
        }
        *lo = exchange_lo;
        *hi = exchange_hi;
}

/* Binds fd to a port drawn at random from the range (the kernel's own is too narrow). */
static int exchange_bind(int fd, int family)
{
        struct ld_endpoint any = {.addr = {.family = (uint8_t)family}};
        struct sockaddr_storage ss;
        uint16_t lo, hi;

        exchange_ports(&lo, &hi);
        for (int i = 0; i < EXCHANGE_BIND_TRIES; i++) {
                any.port = (uint16_t)(lo + ld_random_below((uint32_t)(hi - lo) + 1));
                if (bind(fd, (struct sockaddr *)&ss, ld_endpoint_sockaddr(&any, &ss)) == 0)
                        return 0;
                if (errno != EADDRINUSE)
                        return -errno;
        }
        any.port = 0; /* the range is crowded: the kernel's own random pick */
        return bind(fd, (struct sockaddr *)&ss, ld_endpoint_sockaddr(&any, &ss)) < 0 ? -errno : 0;
}

/* The answer to our question: our ID, a response to the same opcode, and our one question
 * byte for byte (case included: 0x20): 1. The same but for the case of the name: -1. */
static int exchange_match(const struct ld_exchange *x, const uint8_t *a, size_t n)
{
        size_t name = x->qend - 4;

        if (n < x->qend || a[0] != x->q[0] || a[1] != x->q[1] || !(a[2] & 0x80) ||
            (a[2] & 0x78) != (x->q[2] & 0x78) || a[4] != 0 || a[5] != 1 ||
            memcmp(a + name, x->q + name, 4) != 0)
                return 0;
        if (memcmp(a + 12, x->q + 12, name - 12) == 0)
                return 1;
        return ld_wire_same_name(a + 12, x->q + 12, name - 12) ? -1 : 0;
}

static void xsock_close(struct ld_xsock *s)
{
        ev_io_stop(s->pool->loop, &s->io);
        close(s->io.fd);
        free(s);
}

/* Back to the pool, its port unbound; or closed (a bound port, or enough idle). */
static void xsock_put(struct ld_xsock *s)
{
        struct ld_xpool *p = s->pool;
        struct sockaddr unspec = {.sa_family = AF_UNSPEC};
        int i = s->family == AF_INET6;

        s->x = NULL;
        if (exchange_own_pick || p->nidle >= XPOOL_IDLE_MAX ||
            connect(s->io.fd, &unspec, sizeof(unspec)) < 0) {
                xsock_close(s);
                return;
        }
        LD_LIST_APPEND(p->idle[i], p->idle_tail[i], s);
        p->nidle++;
}

static void exchange_untrack(struct ld_exchange *x);

/* The exchange is over before cb (which may start another on x). Its socket goes back to
 * the pool when the loop is about to wait again, after the clients' replies have gone out
 * (listen.c sends those then too, at a higher priority): the unbinding connect() is not
 * between an answer and its reply. What reaches it before then waits in it, and is drained
 * or refused (address, port, ID, question) by its next exchange.
 * A failed exchange's socket waits the same way. Returned at once instead, for a retry in
 * cb to take, questions to a peer just back up went unanswered now and then (seen in
 * test_peer_down_serves_stale_then_servfail_then_recovers, cause not found). The cost of
 * waiting: when many fail in one wakeup (a dead upstream, all timing out at once), their
 * retries open new sockets, so up to twice as many descriptors as exchanges under way (those
 * the forwarder and the peers' questions bound), and those past XPOOL_IDLE_MAX idle are
 * closed at the release. */
static void exchange_end(struct ld_exchange *x, int err, const uint8_t *ans, size_t len)
{
        struct ld_xsock *s = x->s;
        struct ld_xpool *p = x->pool;

        exchange_untrack(x);
        x->s = NULL;
        s->x = NULL;
        s->next = p->ended;
        p->ended = s;
        ev_prepare_start(p->loop, &p->release);
        x->cb(x, err, ans, len);
}

/* The sockets of the exchanges that ended back to the pool. */
static void xpool_release(struct ld_xpool *p)
{
        while (p->ended) {
                struct ld_xsock *s = p->ended;
                p->ended = s->next;
                xsock_put(s);
        }
}

static void xpool_release_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
        (void)revents;
        xpool_release(w->data);
        ev_prepare_stop(loop, w);
}

/* The address is the server's (address and port): what the socket of the family reports,
 * compared with what it was sent to (both written by ld_endpoint_sockaddr's rules, an
 * IPv6 socket for an IPv6 server: no mapped form on either side). */
static bool exchange_is_server(const struct ld_exchange *x, const struct sockaddr_storage *from)
{
        if (from->ss_family != x->server.ss_family)
                return false;
        if (from->ss_family == AF_INET) {
                const struct sockaddr_in *a = (const void *)from, *b = (const void *)&x->server;
                return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
        }
        const struct sockaddr_in6 *a = (const void *)from, *b = (const void *)&x->server;
        return from->ss_family == AF_INET6 && a->sin6_port == b->sin6_port &&
               memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
}

/* Drains the ICMP errors queued (IP_RECVERR), all of them: a socket stays readable while its
 * error queue holds one, so one left behind would wake the loop for ever, and the socket may
 * go to another exchange next. Returns the errno of one about our query, or 0. An error
 * counts only if it quotes our query's ID (Linux quotes up to 576 bytes): an ICMP message is
 * as easy to forge as the port is to guess, and it would fail the attempt and mark the
 * server dead. */
static int xsock_errors(struct ld_xsock *s)
{
        int err = 0;

        for (int i = 0; i < EXCHANGE_ERRORS; i++) {
                struct sockaddr_storage to; /* where the datagram the error is about went */
                uint8_t cbuf[256], quote[2];
                struct iovec iov = {.iov_base = quote, .iov_len = sizeof(quote)};
                struct msghdr m = {.msg_name = &to,
                                   .msg_namelen = sizeof(to),
                                   .msg_iov = &iov,
                                   .msg_iovlen = 1,
                                   .msg_control = cbuf,
                                   .msg_controllen = sizeof(cbuf)};
                ssize_t n;

                memset(&to, 0, sizeof(to));
                if ((n = recvmsg(s->io.fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT)) < 0)
                        break;
                if (!s->x || n < 2 || quote[0] != s->x->q[0] || quote[1] != s->x->q[1] ||
                    !exchange_is_server(s->x, &to))
                        continue;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
                        const struct sock_extended_err *ee = (const void *)CMSG_DATA(c);
                        if (((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                             (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) &&
                            ee->ee_errno)
                                err = -(int)ee->ee_errno;
                }
        }
        return err;
}

static void xsock_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ld_xsock *s = w->data;
        struct sockaddr_storage from;
        uint8_t buf[65535];
        (void)loop;
        (void)revents;

        for (int i = 0; i < EXCHANGE_READS; i++) {
                socklen_t fl = sizeof(from);
                ssize_t n = recvfrom(w->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
                int err;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) { /* an ICMP error (the server's port unreachable?), or nothing
                              * left to read: either way the error queue is emptied */
                        if ((err = xsock_errors(s)) < 0 && s->x)
                                exchange_end(s->x, err, NULL, 0);
                        return;
                }
                /* from the server (the kernel does not filter: the socket is not connected),
                 * with our ID and question; anything else is late, forged or garbled */
                if (!s->x || !exchange_is_server(s->x, &from))
                        continue;
                int m = exchange_match(s->x, buf, (size_t)n);
                if (m > 0) {
                        exchange_end(s->x, 0, buf, (size_t)n);
                        return;
                }
                if (m < 0) /* not taken; said at the timeout, if nothing better comes */
                        s->x->case_seen = true;
        }
}

/* An idle socket of the family, or a new one. */
static struct ld_xsock *xsock_get(struct ld_xpool *p, int family)
{
        int i = family == AF_INET6, fd, one = 1;
        struct ld_xsock *s = p->idle[i];

        if (s) {
                LD_LIST_REMOVE_TAIL(p->idle[i], p->idle_tail[i], s);
                p->nidle--;
                return s;
        }
        fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return NULL;
        /* ICMP errors (port unreachable) reach an unconnected socket only so */
        if (family == AF_INET6)
                setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
        else
                setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
        if ((exchange_own_pick && exchange_bind(fd, family) < 0) || !(s = calloc(1, sizeof(*s)))) {
                close(fd);
                return NULL;
        }
        s->pool = p;
        s->family = family;
        ev_io_init(&s->io, xsock_read_cb, fd, EV_READ);
        s->io.data = s;
        ev_io_start(p->loop, &s->io);
        return s;
}

/* The clock of deadlines: monotonic. libev's loop time (ev_now) follows the wall clock,
 * and an absolute deadline in it would wait an hour longer after the clock is set back an
 * hour (an ev_timer, relative, does not), or end every exchange at once after a step on. */
static double exchange_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pool's timer waits for its first deadline (none: stopped). */
static void xpool_arm(struct ld_xpool *p)
{
        double after;

        ev_timer_stop(p->loop, &p->timer);
        if (!p->first)
                return;
        after = p->first->deadline - exchange_now();
        ev_timer_set(&p->timer, after > 0 ? after : 0., 0.);
        ev_timer_start(p->loop, &p->timer);
}

/* Under way: into the list by deadline, from the end (where a constant timeout puts it). */
static void exchange_track(struct ld_exchange *x, double timeout)
{
        struct ld_xpool *p = x->pool;
        struct ld_exchange *at = p->last;

        x->deadline = exchange_now() + timeout;
        while (at && at->deadline > x->deadline)
                at = at->prev;
        x->prev = at;
        x->next = at ? at->next : p->first;
        if (x->next)
                x->next->prev = x;
        else
                p->last = x;
        if (at)
                at->next = x;
        else
                p->first = x;
        if (!at || !ev_is_active(&p->timer)) /* a new first deadline */
                xpool_arm(p);
}

/* Out of the list; the timer is left to fire for a deadline gone (then re-armed). */
static void exchange_untrack(struct ld_exchange *x)
{
        struct ld_xpool *p = x->pool;

        LD_LIST_REMOVE_TAIL(p->first, p->last, x);
        x->prev = x->next = NULL;
}

/* Every exchange whose deadline came ends (libev's timer may fire a hair before the
 * deadline by our clock: a microsecond's grace). */
static void xpool_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct ld_xpool *p = w->data;
        double now = exchange_now();
        (void)loop;
        (void)revents;

        while (p->first && p->first->deadline <= now + 1e-6) {
                struct ld_exchange *x = p->first;
                exchange_end(x, x->case_seen ? -EPROTO : -ETIMEDOUT, NULL, 0);
        }
        xpool_arm(p);
}

static size_t exchange_qend(const uint8_t *q, size_t qlen)
{
        size_t off = 12;

        while (off < qlen && q[off])
                off += 1u + q[off];
        return off + 5 <= qlen ? off + 5 : 0;
}

void ld_exchange_init(struct ld_exchange *x, struct ld_xpool *pool)
{
        memset(x, 0, sizeof(*x));
        x->pool = pool;
}

int ld_exchange_start(struct ld_exchange *x, const struct ld_endpoint *server, uint8_t *q,
                      size_t qlen, double timeout, ld_exchange_fn cb)
{
        struct sockaddr_storage ss;
        socklen_t sl = ld_endpoint_sockaddr(server, &ss);
        uint32_t id = ld_random_u32();
        struct ld_xsock *s;

        if (!(x->qend = exchange_qend(q, qlen)))
                return -EINVAL;
        q[0] = (uint8_t)(id >> 8);
        q[1] = (uint8_t)id;
        if (!(s = xsock_get(x->pool, ss.ss_family)))
                return errno ? -errno : -ENOMEM;
        /* An ICMP error that came for the socket's last query, after its end, fails the
         * next send once: drain it and send again. */
        if (sendto(s->io.fd, q, qlen, 0, (struct sockaddr *)&ss, sl) < 0) {
                int rc = -errno;
                if (rc != -EAGAIN) {
                        xsock_errors(s);
                        rc = sendto(s->io.fd, q, qlen, 0, (struct sockaddr *)&ss, sl) < 0 ? -errno
                                                                                          : 0;
                }
                if (rc < 0) {
                        xsock_put(s);
                        return rc;
                }
        }
        s->x = x;
        x->s = s;
        x->case_seen = false;
        x->server = ss;
        x->q = q;
        x->cb = cb;
        exchange_track(x, timeout);
        return 0;
}

void ld_exchange_cancel(struct ld_exchange *x)
{
        if (!x->s)
                return;
        exchange_untrack(x);
        xsock_put(x->s);
        x->s = NULL;
}

int ld_xpool_new(struct ev_loop *loop, struct ld_xpool **out)
{
        struct ld_xpool *p;
        uint16_t lo, hi;
        int rc;

        /* IDs are drawn from the first query on: a generator that cannot be read is a failed
         * start, not an abort later */
        if ((rc = ld_random_init()) < 0)
                return rc;
        if (!(p = calloc(1, sizeof(*p))))
                return -ENOMEM;
        p->loop = loop;
        ev_init(&p->timer, xpool_timer_cb);
        p->timer.data = p;
        ev_prepare_init(&p->release, xpool_release_cb);
        ev_set_priority(&p->release, EV_MINPRI);
        p->release.data = p;
        exchange_ports(&lo, &hi); /* read (and any warning said) at start */
        *out = p;
        return 0;
}

void ld_xpool_free(struct ld_xpool *p)
{
        if (!p)
                return;
        ev_timer_stop(p->loop, &p->timer);
        ev_prepare_stop(p->loop, &p->release);
        xpool_release(p); /* then closed with the idle ones */
        for (int i = 0; i < 2; i++)
                while (p->idle[i]) {
                        struct ld_xsock *s = p->idle[i];
                        p->idle[i] = s->next;
                        xsock_close(s);
                }
        free(p);
}
