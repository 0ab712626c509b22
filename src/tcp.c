/* tcp: DNS over TCP connections (RFC 7766): pipelined queries, an idle timeout, a cap on
 * connections, and back-pressure so that one slow reader delays nobody else. */
#include "tcp.h"

#include "forward.h"
#include "listen.h"
#include "log.h"
#include "list.h"
#include "remote.h"
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Queries are small; a longer message is not a query we answer and ends the connection. */
#define TCP_IN_MAX 16384
#define TCP_ACCEPT_BATCH 32

struct tcp_conn {
        struct ld_tcp *t;
        struct tcp_conn *prev, *next;
        ev_io rw, ww;
        ev_timer idle;
        struct ld_origin origin;
        size_t inlen;
        uint8_t *pend; /* unsent reply bytes, only while the client reads slowly */
        size_t pendlen, pendoff;
        uint8_t in[TCP_IN_MAX + 2];
};

struct ld_tcp {
        struct ev_loop *loop;
        struct ld_server *srv;
        unsigned max, count;
        double idle;
        struct tcp_conn *head;
};

struct ld_tcp *ld_tcp_new(struct ev_loop *loop, struct ld_server *srv, unsigned max, double idle)
{
        struct ld_tcp *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->loop = loop;
        t->srv = srv;
        t->max = max;
        t->idle = idle;
        return t;
}

static void tcp_close(struct tcp_conn *c)
{
        struct ld_tcp *t = c->t;

        if (t->srv->forward)
                ld_forward_forget(t->srv->forward, c);
        if (t->srv->remote)
                ld_remote_forget(t->srv->remote, NULL, c);
        ev_io_stop(t->loop, &c->rw);
        ev_io_stop(t->loop, &c->ww);
        ev_timer_stop(t->loop, &c->idle);
        close(c->rw.fd);
        LD_LIST_REMOVE(t->head, c);
        t->count--;
        free(c->pend);
        free(c);
}

void ld_tcp_free(struct ld_tcp *t)
{
        if (!t)
                return;
        while (t->head)
                tcp_close(t->head);
        free(t);
}

void ld_tcp_close_listener(struct ld_tcp *t, struct ld_listener *l)
{
        for (struct tcp_conn *c = t->head, *next; c; c = next) {
                next = c->next;
                if (c->origin.l == l)
                        tcp_close(c);
        }
}

unsigned ld_tcp_count(const struct ld_tcp *t)
{
        return t->count;
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
        if ((size_t)n == len)
                return 0;
        c->pend = malloc(len - (size_t)n);
        if (!c->pend) {
                tcp_close(c);
                return -1;
        }
        memcpy(c->pend, buf + n, len - (size_t)n);
        c->pendlen = len - (size_t)n;
        c->pendoff = 0;
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
        (void)revents;

        n = recv(w->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                tcp_close(c);
                return;
        }
        if (n < 0)
                return;
        c->inlen += (size_t)n;
        ev_timer_again(loop, &c->idle);
        tcp_process(c);
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
        ev_timer_again(loop, &c->idle);
        if (c->pendoff < c->pendlen)
                return;
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

static void tcp_open(struct ld_tcp *t, int fd, struct ld_listener *l,
                     const struct sockaddr_storage *ss)
{
        struct tcp_conn *c = malloc(sizeof(*c));

        if (!c || ld_addr_from_sockaddr((const struct sockaddr *)ss, &c->origin.src) < 0) {
                free(c);
                close(fd);
                return;
        }
        c->t = t;
        c->origin.l = l;
        c->origin.conn = c;
        c->origin.peer = *ss;
        c->origin.peerlen = sizeof(*ss);
        c->inlen = 0;
        c->pend = NULL;
        LD_LIST_PUSH(t->head, c);
        t->count++;
        ev_io_init(&c->rw, tcp_read_cb, fd, EV_READ);
        ev_io_init(&c->ww, tcp_write_cb, fd, EV_WRITE);
        ev_init(&c->idle, tcp_idle_cb);
        c->idle.repeat = t->idle;
        c->rw.data = c->ww.data = c->idle.data = c;
        ev_io_start(t->loop, &c->rw);
        ev_timer_again(t->loop, &c->idle);
}

void ld_tcp_accept(struct ld_tcp *t, int lfd, struct ld_listener *l)
{
        for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE)
                                ld_warn("TCP accept: %s", strerror(errno));
                        return;
                }
                if (t->count >= t->max) {
                        /* Closed at once: the client learns now instead of hanging. */
                        t->srv->stats.tcp_refused++;
                        close(fd);
                        continue;
                }
                t->srv->stats.tcp_accepted++;
                tcp_open(t, fd, l, &ss);
        }
}

int ld_tcp_deliver(void *conn, const uint8_t *msg, size_t len)
{
        struct tcp_conn *c = conn;

        ev_timer_again(c->t->loop, &c->idle);
        return tcp_send(c, msg, len);
}
