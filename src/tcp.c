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
#include "answer.h"
#include "client.h"
#include "dispatch.h"
#include "log.h"
#include "list.h"
#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Queries are small; a longer message is not a query we answer and ends the connection. */
#define TCP_IN_MAX 16384
#define TCP_ACCEPT_BATCH 32
#define TCP_STRANGER_SHARE 8 /* strangers may hold 1/8 of --tcp-max (at least one) */

enum { TCP_KNOWN, TCP_STRANGER };

struct tcp_conn {
        struct ld_client client; /* the connection as replies see it; frees it at release */
        struct ld_tcp *t;
        struct tcp_conn *prev, *next;
        ev_io rw, ww;
        ev_timer idle;
        struct ld_client *via;    /* the listener's: views, and its key (held) */
        struct ld_request req;    /* every query's: this client, its source */
        struct ld_stream *stream; /* a transfer, pulled as pend drains */
        uint8_t *later;           /* replies that came during the transfer (prefixed) */
        size_t laterlen;
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
        struct ld_dispatch *d;
        unsigned max, share; /* share: what strangers may hold */
        double idle;
        struct tcp_lru lru[2]; /* TCP_KNOWN, TCP_STRANGER */
};

struct ld_tcp *ld_tcp_new(struct ev_loop *loop, struct ld_dispatch *d, unsigned max, double idle)
{
        struct ld_tcp *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->loop = loop;
        t->d = d;
        t->max = max;
        t->share = max / TCP_STRANGER_SHARE ? max / TCP_STRANGER_SHARE : 1;
        t->idle = idle;
        return t;
}

/* The socket closes now; the memory stays while replies in flight hold the client, which
 * drops them (it is gone). */
static void tcp_close(struct tcp_conn *c)
{
        struct ld_tcp *t = c->t;
        struct tcp_lru *k = &t->lru[c->stranger];

        if (c->client.gone)
                return;
        ev_io_stop(t->loop, &c->rw);
        ev_io_stop(t->loop, &c->ww);
        ev_timer_stop(t->loop, &c->idle);
        close(c->rw.fd);
        LD_LIST_REMOVE_TAIL(k->head, k->tail, c);
        k->count--;
        free(c->pend);
        c->pend = NULL;
        free(c->later);
        c->later = NULL;
        if (c->stream)
                c->stream->free(c->stream);
        c->stream = NULL;
        ld_client_gone(&c->client);
        ld_client_unref(&c->client);
}

static void tcp_release(struct ld_client *cl)
{
        struct tcp_conn *c = (struct tcp_conn *)cl;

        ld_client_unref(c->via);
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

void ld_tcp_close_listener(struct ld_tcp *t, const struct ld_client *via)
{
        for (int k = 0; k < 2; k++) {
                for (struct tcp_conn *c = t->lru[k].head, *next; c; c = next) {
                        next = c->next;
                        if (c->via == via)
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

/* Appends the bytes of iov past skip to pend; -1 (closed) without memory. */
static int tcp_queue(struct tcp_conn *c, const struct iovec *iov, size_t skip)
{
        size_t len = iov[0].iov_len + iov[1].iov_len - skip;
        uint8_t *np = realloc(c->pend, c->pendlen + len);

        if (!np) {
                tcp_close(c);
                return -1;
        }
        for (int i = 0; i < 2; i++) {
                size_t from = skip < iov[i].iov_len ? skip : iov[i].iov_len;
                memcpy(np + c->pendlen, (const uint8_t *)iov[i].iov_base + from,
                       iov[i].iov_len - from);
                c->pendlen += iov[i].iov_len - from;
                skip -= from;
        }
        c->pend = np;
        return 0;
}

/* Sends one message (its length prefix added) as far as it goes now; keeps the rest and
 * waits for the socket. Returns -1 if closed. */
static int tcp_send(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
        uint8_t pre[2] = {(uint8_t)(len >> 8), (uint8_t)len};
        struct iovec iov[2] = {{pre, 2}, {(void *)msg, len}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t n;

        if (c->pend) /* behind an unsent reply: queue after it */
                return tcp_queue(c, iov, 0);
        n = sendmsg(c->rw.fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                tcp_close(c);
                return -1;
        }
        if (n < 0)
                n = 0;
        if ((size_t)n == len + 2) {
                tcp_progress(c);
                return 0;
        }
        c->pendlen = c->pendoff = 0;
        if (tcp_queue(c, iov, (size_t)n) < 0)
                return -1;
        c->pendnext = c->pendlen; /* messages queued behind it extend pend past this */
        /* Back-pressure: read no further queries until this reply is gone. */
        ev_io_stop(c->t->loop, &c->rw);
        ev_io_start(c->t->loop, &c->ww);
        return 0;
}

/* The replies that waited for the transfer to end, in order. */
static void tcp_flush_later(struct tcp_conn *c)
{
        uint8_t *b = c->later;
        size_t len = c->laterlen;

        c->later = NULL;
        c->laterlen = 0;
        for (size_t off = 0; off + 2 <= len && !c->client.gone;) {
                size_t m = (size_t)b[off] << 8 | b[off + 1];
                tcp_send(c, b + off + 2, m);
                off += 2 + m;
        }
        free(b);
}

/* Pulls the transfer's next message whenever nothing waits to be written: a transfer is
 * never more than one message ahead of the socket. */
static void tcp_pump(struct tcp_conn *c)
{
        static uint8_t buf[65535];

        while (c->stream && !c->pend && !c->client.gone) {
                ssize_t n = c->stream->next(c->stream, buf, sizeof(buf));
                if (n < 0) { /* cut short: the end (EOF) says so, not a wait for the rest */
                        tcp_close(c);
                        return;
                }
                if (n == 0) {
                        c->stream->free(c->stream);
                        c->stream = NULL;
                        tcp_flush_later(c);
                        return;
                }
                tcp_send(c, buf, (size_t)n);
        }
}

/* Answers every whole query in the input buffer while replies go out at once. */
static void tcp_process(struct tcp_conn *c)
{
        static uint8_t out[65535];
        size_t off = 0;

        ld_client_ref(&c->client); /* it may close while answering */
        while (!c->client.gone && !c->pend && !c->stream && c->inlen - off >= 2) {
                size_t mlen = (size_t)c->in[off] << 8 | c->in[off + 1], n;
                if (mlen > TCP_IN_MAX) {
                        tcp_close(c);
                        break;
                }
                if (c->inlen - off < 2 + mlen)
                        break;
                tcp_progress(c);
                n = ld_dispatch_query(c->t->d, &c->req, c->in + off + 2, mlen, out, sizeof(out));
                if (n && !c->client.gone)
                        tcp_send(c, out, n);
                off += 2 + mlen;
        }
        if (!c->client.gone) {
                memmove(c->in, c->in + off, c->inlen - off);
                c->inlen -= off;
        }
        ld_client_unref(&c->client);
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
        ld_client_ref(&c->client);
        tcp_pump(c); /* the transfer's next message, if one is under way */
        if (!c->client.gone && !c->pend) {
                ev_io_stop(loop, &c->ww);
                ev_io_start(loop, &c->rw);
                tcp_process(c);
        }
        ld_client_unref(&c->client);
}

static void tcp_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct tcp_conn *c = w->data;
        (void)loop;
        (void)revents;
        tcp_close(c);
}

static int tcp_client_send(struct ld_client *cl, const struct sockaddr_storage *peer,
                           socklen_t peerlen, const uint8_t *msg, size_t len)
{
        struct tcp_conn *c = (struct tcp_conn *)cl;
        uint8_t *np;
        (void)peer;
        (void)peerlen;

        if (!c->stream)
                return tcp_send(c, msg, len);
        /* after the transfer, not inside it */
        if (!(np = realloc(c->later, c->laterlen + 2 + len))) {
                tcp_close(c); /* as for a reply that cannot be queued: not one lost silently */
                return -ENOMEM;
        }
        np[c->laterlen] = (uint8_t)(len >> 8);
        np[c->laterlen + 1] = (uint8_t)len;
        memcpy(np + c->laterlen + 2, msg, len);
        c->later = np;
        c->laterlen += 2 + len;
        return 0;
}

static void tcp_client_pull(struct ld_client *cl, struct ld_stream *s)
{
        struct tcp_conn *c = (struct tcp_conn *)cl;

        if (c->stream) { /* one at a time: the query loop waits for the first to end */
                s->free(s);
                return;
        }
        c->stream = s;
        tcp_pump(c);
}

static struct ld_viewset tcp_client_views(struct ld_client *cl, const struct ld_addr *src)
{
        struct tcp_conn *c = (struct tcp_conn *)cl;

        return c->via->ops->views(c->via, src);
}

static const struct ld_client_ops tcp_client_ops = {
    tcp_client_send,
    tcp_client_pull,
    tcp_client_views,
    tcp_release,
};

/* Whether a client at src is a stranger: no container's (every client of a namespace
 * listener is its containers') and no secondary that may transfer the zone. */
static bool tcp_stranger(const struct ld_tcp *t, struct ld_client *via, const struct ld_addr *src)
{
        return via->ops->views(via, src).n == 0 && !ld_dispatch_transfer_allowed(t->d, src);
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
        t->d->eng->stats.tcp_refused++;
        tcp_close(victim);
        return true;
}

/* Serves the accepted fd; -ENOMEM when out of memory (the listener should rest). */
static int tcp_open(struct ld_tcp *t, int fd, struct ld_client *via,
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
        stranger = tcp_stranger(t, via, &src);
        if (!tcp_make_room(t, stranger)) {
                t->d->eng->stats.tcp_refused++;
                free(c);
                close(fd);
                return 0;
        }
        k = &t->lru[stranger];
        ld_client_init(&c->client, &tcp_client_ops);
        c->t = t;
        c->stranger = stranger;
        c->via = via;
        ld_client_ref(via);
        c->req = (struct ld_request){
            .client = &c->client, .src = src, .peer = *ss, .peerlen = sizeof(*ss), .tcp = true};
        c->stream = NULL;
        c->later = NULL;
        c->laterlen = 0;
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

void ld_tcp_accept(struct ld_tcp *t, struct ld_accept *acc, struct ld_client *via)
{
        for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                int fd = ld_accept(acc, (struct sockaddr *)&ss, &sl);

                if (fd == -ECONNABORTED)
                        continue;
                if (fd < 0)
                        return; /* nothing waits, or paused (out of descriptors) */
                t->d->eng->stats.tcp_accepted++;
                if (tcp_open(t, fd, via, &ss) == -ENOMEM) {
                        ld_accept_pause(acc, ENOMEM);
                        return;
                }
        }
}
