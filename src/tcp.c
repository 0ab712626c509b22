/* tcp: DNS over TCP connections (RFC 7766): pipelined queries, an idle timeout, a cap on
 * connections, and back-pressure so that one slow reader delays nobody else.
 *
 * Slow clients (RFC 7766 section 10): the idle timer restarts only on progress — a whole query
 * in, a whole reply out — never on a partial read or write, so a query dripped a byte at a time
 * must still arrive within --tcp-idle. At the cap the connection that made no progress for the
 * longest is closed to make room, instead of refusing the new one. Sources that are no
 * container's (nor a --transfer-allow secondary) get the publish zone at most: they have a small
 * share of the cap of their own and are closed first, so they cannot take containers' slots. */
#include "tcp.h"

#include "accept.h"
#include "forward.h"
#include "listen.h"
#include "log.h"
#include "list.h"
#include "remote.h"
#include "server.h"
#include "xfr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Queries are small; a longer message is not a query we answer and ends the connection. */
#define TCP_IN_MAX 16384
#define TCP_ACCEPT_BATCH 32
#define TCP_STRANGER_SHARE 8 /* strangers may hold 1/8 of --tcp-max (at least one) */

enum { TCP_KNOWN, TCP_STRANGER };

struct tcp_conn {
        struct ld_tcp *t;
        struct tcp_conn *prev, *next;
        ev_io rw, ww;
        ev_timer idle;
        struct ld_origin origin;
        size_t inlen;
        uint8_t *pend; /* unsent reply bytes, only while the client reads slowly */
        size_t pendlen, pendoff;
        size_t pendnext; /* where the next whole message in pend ends */
        bool stranger;
        uint8_t in[TCP_IN_MAX + 2];
};

/* The connections of one kind, the one that made no progress for the longest first. */
struct tcp_lru {
        struct tcp_conn *head, *tail;
        unsigned count;
};

struct ld_tcp {
        struct ev_loop *loop;
        struct ld_server *srv;
        unsigned max, share; /* share: what strangers may hold */
        double idle;
        struct tcp_lru lru[2]; /* TCP_KNOWN, TCP_STRANGER */
};

struct ld_tcp *ld_tcp_new(struct ev_loop *loop, struct ld_server *srv, unsigned max, double idle)
{
        struct ld_tcp *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->loop = loop;
        t->srv = srv;
        t->max = max;
        t->share = max / TCP_STRANGER_SHARE ? max / TCP_STRANGER_SHARE : 1;
        t->idle = idle;
        return t;
}

static void tcp_close(struct tcp_conn *c)
{
        struct ld_tcp *t = c->t;
        struct tcp_lru *k = &t->lru[c->stranger];

        if (t->srv->forward)
                ld_forward_forget(t->srv->forward, c, -1);
        if (t->srv->remote)
                ld_remote_forget(t->srv->remote, NULL, c);
        ev_io_stop(t->loop, &c->rw);
        ev_io_stop(t->loop, &c->ww);
        ev_timer_stop(t->loop, &c->idle);
        close(c->rw.fd);
        LD_LIST_REMOVE_TAIL(k->head, k->tail, c);
        k->count--;
        free(c->pend);
        free(c);
}

void ld_tcp_free(struct ld_tcp *t)
{
        if (!t)
                return;
        for (int k = 0; k < 2; k++)
                while (t->lru[k].head)
                        tcp_close(t->lru[k].head);
        free(t);
}

void ld_tcp_close_listener(struct ld_tcp *t, struct ld_listener *l)
{
        for (int k = 0; k < 2; k++) {
                for (struct tcp_conn *c = t->lru[k].head, *next; c; c = next) {
                        next = c->next;
                        if (c->origin.l == l)
                                tcp_close(c);
                }
        }
}

/* A whole query in or a whole reply out: the deadline starts again and the connection goes
 * last in line to be closed under pressure. */
static void tcp_progress(struct tcp_conn *c)
{
        struct tcp_lru *k = &c->t->lru[c->stranger];

        LD_LIST_REMOVE_TAIL(k->head, k->tail, c);
        LD_LIST_APPEND(k->head, k->tail, c);
        ev_timer_again(c->t->loop, &c->idle);
}

unsigned ld_tcp_count(const struct ld_tcp *t)
{
        return t->lru[TCP_KNOWN].count + t->lru[TCP_STRANGER].count;
}

/* Sends what it can now; keeps the rest and waits for the socket. Returns -1 if closed. */
static int tcp_send(struct tcp_conn *c, const uint8_t *buf, size_t len)
{
        if (c->pend) { /* behind an unsent reply: queue after it */
                uint8_t *np = realloc(c->pend, c->pendlen + len);
                if (!np) {
                        tcp_close(c);
                        return -1;
                }
                memcpy(np + c->pendlen, buf, len);
                c->pend = np;
                c->pendlen += len;
                return 0;
        }
        ssize_t n = send(c->rw.fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                tcp_close(c);
                return -1;
        }
        if (n < 0)
                n = 0;
        if ((size_t)n == len) {
                tcp_progress(c);
                return 0;
        }
        c->pend = malloc(len - (size_t)n);
        if (!c->pend) {
                tcp_close(c);
                return -1;
        }
        memcpy(c->pend, buf + n, len - (size_t)n);
        c->pendlen = len - (size_t)n;
        c->pendoff = 0;
        c->pendnext = c->pendlen; /* messages queued behind it extend pend past this */
        /* Back-pressure: read no further queries until this reply is gone. */
        ev_io_stop(c->t->loop, &c->rw);
        ev_io_start(c->t->loop, &c->ww);
        return 0;
}

/* Answers every whole query in the input buffer while replies go out at once. */
static int tcp_process(struct tcp_conn *c)
{
        size_t off = 0;

        while (!c->pend && c->inlen - off >= 2) {
                size_t mlen = (size_t)c->in[off] << 8 | c->in[off + 1];
                if (mlen > TCP_IN_MAX) {
                        tcp_close(c);
                        return -1;
                }
                if (c->inlen - off < 2 + mlen)
                        break;
                tcp_progress(c);
                if (ld_listener_answer(&c->origin, c->in + off + 2, mlen, 0) < 0)
                        return -1;
                off += 2 + mlen;
        }
        memmove(c->in, c->in + off, c->inlen - off);
        c->inlen -= off;
        return 0;
}

static void tcp_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct tcp_conn *c = w->data;
        ssize_t n;
        (void)loop;
        (void)revents;

        n = recv(w->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                tcp_close(c);
                return;
        }
        if (n < 0)
                return;
        c->inlen += (size_t)n;
        tcp_process(c); /* the timer restarts on whole queries only, not here */
}

static void tcp_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct tcp_conn *c = w->data;
        ssize_t n;
        (void)revents;

        n = send(w->fd, c->pend + c->pendoff, c->pendlen - c->pendoff, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
                tcp_close(c);
                return;
        }
        if (n > 0)
                c->pendoff += (size_t)n;
        /* Each whole message out is progress (a secondary reading a large transfer steadily
         * is not cut off); a reader that drains a byte at a time makes none. Every message
         * in pend is ours, with its length prefix. */
        while (c->pendnext <= c->pendoff && c->pendnext + 2 <= c->pendlen) {
                tcp_progress(c);
                c->pendnext += 2 + ((size_t)c->pend[c->pendnext] << 8 | c->pend[c->pendnext + 1]);
        }
        if (c->pendoff < c->pendlen)
                return;
        tcp_progress(c);
        free(c->pend);
        c->pend = NULL;
        ev_io_stop(loop, &c->ww);
        ev_io_start(loop, &c->rw);
        tcp_process(c);
}

static void tcp_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct tcp_conn *c = w->data;
        (void)loop;
        (void)revents;
        tcp_close(c);
}

/* Whether a client at src is a stranger: no container's (every client of a namespace
 * listener is its containers') and no secondary that may transfer the zone. */
static bool tcp_stranger(const struct ld_tcp *t, const struct ld_listener *l,
                         const struct ld_addr *src)
{
        return ld_listener_views(l, src).n == 0 && !ld_xfr_allowed(t->srv->xfr, src);
}

/* Room for one more connection: at the strangers' share (for a stranger) or at the cap, the
 * connection without progress for the longest goes, a stranger's before a container's. False
 * when only containers' connections could go for a stranger's: it is refused instead. */
static bool tcp_make_room(struct ld_tcp *t, bool stranger)
{
        struct tcp_lru *s = &t->lru[TCP_STRANGER];
        struct tcp_conn *victim;

        if (stranger && s->count >= t->share)
                victim = s->head;
        else if (ld_tcp_count(t) < t->max)
                return true;
        else if (s->head)
                victim = s->head;
        else if (!stranger)
                victim = t->lru[TCP_KNOWN].head;
        else
                return false;
        t->srv->stats.tcp_refused++;
        tcp_close(victim);
        return true;
}

/* Serves the accepted fd; -ENOMEM when out of memory (the listener should rest). */
static int tcp_open(struct ld_tcp *t, int fd, struct ld_listener *l,
                    const struct sockaddr_storage *ss)
{
        struct ld_addr src;
        struct tcp_conn *c;
        struct tcp_lru *k;
        bool stranger;

        if (ld_addr_from_sockaddr((const struct sockaddr *)ss, &src) < 0) {
                close(fd);
                return 0;
        }
        /* allocated first: no connection is closed for room that cannot be used */
        if (!(c = malloc(sizeof(*c)))) {
                close(fd);
                return -ENOMEM;
        }
        stranger = tcp_stranger(t, l, &src);
        if (!tcp_make_room(t, stranger)) {
                t->srv->stats.tcp_refused++;
                free(c);
                close(fd);
                return 0;
        }
        k = &t->lru[stranger];
        c->t = t;
        c->stranger = stranger;
        c->origin.src = src;
        c->origin.l = l;
        c->origin.conn = c;
        c->origin.peer = *ss;
        c->origin.peerlen = sizeof(*ss);
        c->inlen = 0;
        c->pend = NULL;
        LD_LIST_APPEND(k->head, k->tail, c);
        k->count++;
        ev_io_init(&c->rw, tcp_read_cb, fd, EV_READ);
        ev_io_init(&c->ww, tcp_write_cb, fd, EV_WRITE);
        ev_init(&c->idle, tcp_idle_cb);
        c->idle.repeat = t->idle;
        c->rw.data = c->ww.data = c->idle.data = c;
        ev_io_start(t->loop, &c->rw);
        ev_timer_again(t->loop, &c->idle);
        return 0;
}

void ld_tcp_accept(struct ld_tcp *t, struct ld_listener *l)
{
        for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                int fd = ld_accept(&l->tcp_accept, (struct sockaddr *)&ss, &sl);

                if (fd == -ECONNABORTED)
                        continue;
                if (fd < 0)
                        return; /* nothing waits, or paused (out of descriptors) */
                t->srv->stats.tcp_accepted++;
                if (tcp_open(t, fd, l, &ss) == -ENOMEM) {
                        ld_accept_pause(&l->tcp_accept, ENOMEM);
                        return;
                }
        }
}

int ld_tcp_deliver(void *conn, const uint8_t *msg, size_t len)
{
        return tcp_send(conn, msg, len);
}
