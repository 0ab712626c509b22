/* listen: UDP and TCP listening sockets on the loop, shared (view by source address) or
 * bound inside a namespace (view fixed). */
#include "listen.h"

#include "dispatch.h"
#include "log.h"
#include "engine.h"
#include "sockopt.h"
#include "tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_UDP_BATCH 32 /* datagrams per wakeup, so that TCP and other sockets get turns */
#define LISTEN_UDP_MAX 4096 /* longer datagrams are no query of ours */
#define LISTEN_UDP_ROUNDS 4 /* batches per wakeup before others get a turn */

static int listen_socket(const struct ld_endpoint *ep, int type, bool freebind)
{
        struct sockaddr_storage ss;
        socklen_t sl = ld_endpoint_sockaddr(ep, &ss);
        int one = 1, fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (type == SOCK_DGRAM)
                ld_sockopt_rcvbuf(fd);
        if (ss.ss_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (freebind && ss.ss_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
        else if (freebind)
                setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
            (type == SOCK_STREAM && listen(fd, 128) < 0)) {
                int rc = -errno;
                close(fd);
                return rc;
        }
        return fd;
}

int ld_listen_sockets(const struct ld_endpoint *ep, bool freebind, int *udp_fd, int *tcp_fd)
{
        int u = listen_socket(ep, SOCK_DGRAM, freebind), t;

        if (u < 0)
                return u;
        t = listen_socket(ep, SOCK_STREAM, freebind);
        if (t < 0) {
                close(u);
                return t;
        }
        *udp_fd = u;
        *tcp_fd = t;
        return 0;
}

/* UDP replies of one wakeup, sent with one sendmmsg: fewer system calls under load. */
struct udp_batch {
        unsigned n;
        struct mmsghdr msgs[LISTEN_UDP_BATCH];
        struct iovec iov[LISTEN_UDP_BATCH];
        uint8_t buf[LISTEN_UDP_BATCH][LD_EDNS_PAYLOAD];
};

/* Appends a reply to b (the caller keeps it within LISTEN_UDP_BATCH): its bytes copied, its
 * peer's address pointed at (kept by the caller until the send). */
static void udp_batch_add(struct udp_batch *b, const uint8_t *msg, size_t len, void *peer,
                          socklen_t peerlen)
{
        memcpy(b->buf[b->n], msg, len);
        b->iov[b->n].iov_len = len;
        b->msgs[b->n].msg_hdr.msg_name = peer;
        b->msgs[b->n].msg_hdr.msg_namelen = peerlen;
        b->n++;
}

/* Answers a datagram: the reply queued in the batch (or, too long for it, sent now), or
 * left to dispatch to send later through the listener's client. */
static void listen_udp_answer(struct ld_listener *l, const struct ld_request *rq,
                              const uint8_t *pkt, size_t len, struct udp_batch *b)
{
        static uint8_t out[65535];
        size_t n = ld_dispatch_query(l->d, rq, pkt, len, out, sizeof(out));

        if (!n)
                return;
        if (n > sizeof(b->buf[0])) {
                sendto(l->udp_w.fd, out, n, 0, (const struct sockaddr *)&rq->peer, rq->peerlen);
                return;
        }
        udp_batch_add(b, out, n, (void *)&rq->peer, rq->peerlen);
}

/* Sends n queued replies through fd, as many per system call as the kernel takes. sendmmsg
 * stops at the first message it cannot send: one the kernel refuses (a peer it will not send
 * to, a firewall's EPERM) is skipped, so that it costs none of the replies after it their
 * turn; a full buffer ends the batch (the clients ask again). */
static void listen_udp_sendmmsg(int fd, struct mmsghdr *msgs, unsigned n)
{
        for (unsigned done = 0; done < n;) {
                int k = sendmmsg(fd, msgs + done, n - done, 0);
                if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
                        break;
                done += k > 0 ? (unsigned)k : 1;
        }
}

static void listen_udp_send(int fd, struct udp_batch *b)
{
        listen_udp_sendmmsg(fd, b->msgs, b->n);
        b->n = 0;
}

/* Replies that go out after their query's wakeup (an upstream's or a peer's answer came),
 * each through its listener's socket: kept until the loop is about to wait again and sent
 * then, a sendmmsg per run of one listener's replies, instead of a sendto each (a system
 * call costs about as much as the send itself here: under load, half the CPU of a reply).
 * The flush runs first among the loop's prepare watchers (EV_MAXPRI): before exchange.c
 * unbinds the sockets those answers came on, so that no system call is put between an
 * answer and its reply. A listener that closes flushes first, so that nothing queued for
 * its socket is sent through a descriptor number that another socket may take. */
struct udp_later {
        struct udp_batch b;
        int fd[LISTEN_UDP_BATCH];
        struct sockaddr_storage peer[LISTEN_UDP_BATCH]; /* the request is gone before the flush */
        ev_prepare flush;
        unsigned listeners; /* open listeners, all on one loop (the daemon's) */
};

static struct udp_later later;

static void listen_later_flush(void)
{
        for (unsigned i = 0, j; i < later.b.n; i = j) {
                for (j = i + 1; j < later.b.n && later.fd[j] == later.fd[i]; j++)
                        ;
                listen_udp_sendmmsg(later.fd[i], later.b.msgs + i, j - i);
        }
        later.b.n = 0;
}

static void listen_later_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
        (void)revents;
        listen_later_flush();
        ev_prepare_stop(loop, w);
}

static void listen_later_queue(struct ev_loop *loop, int fd, const struct sockaddr_storage *peer,
                               socklen_t peerlen, const uint8_t *msg, size_t len)
{
        unsigned i;

        if (later.b.n == LISTEN_UDP_BATCH)
                listen_later_flush();
        i = later.b.n;
        memcpy(&later.peer[i], peer, peerlen);
        later.fd[i] = fd;
        udp_batch_add(&later.b, msg, len, &later.peer[i], peerlen);
        ev_prepare_start(loop, &later.flush);
}

/* Receive side of a batch: buffers and headers set up once, reused at every wakeup. */
struct udp_in {
        uint8_t buf[LISTEN_UDP_BATCH][LISTEN_UDP_MAX];
        struct sockaddr_storage peers[LISTEN_UDP_BATCH];
        struct mmsghdr msgs[LISTEN_UDP_BATCH];
        struct iovec iov[LISTEN_UDP_BATCH];
        struct ld_request reqs[LISTEN_UDP_BATCH];
};

static void listen_udp_init_out(struct udp_batch *out)
{
        for (int i = 0; i < LISTEN_UDP_BATCH; i++) {
                out->iov[i] = (struct iovec){out->buf[i], 0};
                out->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &out->iov[i], .msg_iovlen = 1};
        }
}

static void listen_udp_init(struct udp_in *in, struct udp_batch *out)
{
        for (int i = 0; i < LISTEN_UDP_BATCH; i++) {
                in->iov[i] = (struct iovec){in->buf[i], sizeof(in->buf[i])};
                in->msgs[i].msg_hdr = (struct msghdr){.msg_name = &in->peers[i],
                                                      .msg_namelen = sizeof(in->peers[i]),
                                                      .msg_iov = &in->iov[i],
                                                      .msg_iovlen = 1};
        }
        listen_udp_init_out(out);
}

/* Who sent a datagram (its address in *src), or -1: no address of ours, or source port 0,
 * a raw socket's forgery to which no reply can go (the kernel refuses to send to port 0):
 * such a query is dropped unanswered. */
static int listen_peer(const struct sockaddr *sa, struct ld_addr *src)
{
        struct ld_endpoint ep;

        if (ld_endpoint_from_sockaddr(sa, &ep) < 0 || ep.port == 0)
                return -1;
        *src = ep.addr;
        return 0;
}

/* Reads what waits (a batch per system call, a few batches per wakeup while they come
 * full), answers, and sends each batch's replies together. */
static void listen_udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        static struct udp_in in;
        static struct udp_batch batch;
        static bool ready;
        struct ld_listener *l = w->data;
        int n = LISTEN_UDP_BATCH;
        (void)loop;
        (void)revents;

        if (!ready) {
                listen_udp_init(&in, &batch);
                ready = true;
        }
        for (int round = 0; round < LISTEN_UDP_ROUNDS && n == LISTEN_UDP_BATCH; round++) {
                n = recvmmsg(w->fd, in.msgs, LISTEN_UDP_BATCH, MSG_DONTWAIT, NULL);
                for (int i = 0; i < n; i++) {
                        struct ld_request *rq = &in.reqs[i];
                        struct msghdr *h = &in.msgs[i].msg_hdr;
                        bool ok = !(h->msg_flags & MSG_TRUNC) && /* no query is that long */
                                  listen_peer((struct sockaddr *)&in.peers[i], &rq->src) == 0;
                        rq->client = &l->client;
                        rq->peer = in.peers[i];
                        rq->peerlen = h->msg_namelen;
                        rq->tcp = false;
                        rq->reruns = 0;
                        h->msg_namelen = sizeof(in.peers[i]); /* for the next call */
                        if (ok)
                                listen_udp_answer(l, rq, in.buf[i], in.msgs[i].msg_len, &batch);
                }
                listen_udp_send(w->fd, &batch);
        }
}

static void listen_tcp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ld_listener *l = w->data;
        (void)loop;
        (void)revents;
        (void)w;
        ld_tcp_accept(l->tcp, &l->tcp_accept, &l->client);
}

/* A reply after the query's wakeup: queued for the flush (above), or sent now if too long
 * for the queue. */
static int listen_client_send(struct ld_client *c, const struct sockaddr_storage *peer,
                              socklen_t peerlen, const uint8_t *msg, size_t len)
{
        struct ld_listener *l = (struct ld_listener *)c;

        if (len <= sizeof(later.b.buf[0]) && peerlen <= sizeof(later.peer[0])) {
                listen_later_queue(l->loop, l->udp_w.fd, peer, peerlen, msg, len);
                return 0;
        }
        if (sendto(l->udp_w.fd, msg, len, 0, (const struct sockaddr *)peer, peerlen) < 0)
                return -errno;
        return 0;
}

/* A namespace listener's containers, or (shared) the containers owning src. */
static struct ld_viewset listen_client_views(struct ld_client *c, const struct ld_addr *src)
{
        struct ld_listener *l = (struct ld_listener *)c;

        if (l->views)
                return l->views(l->views_arg, src);
        return l->fixed ? *l->fixed : ld_engine_views_of(l->d->eng, src);
}

static void listen_client_release(struct ld_client *c)
{
        free(c); /* the listener: its sockets are closed */
}

static const struct ld_client_ops listen_client_ops = {
    listen_client_send,
    NULL, /* UDP: no streams */
    listen_client_views,
    listen_client_release,
};

int ld_listener_new(struct ev_loop *loop, struct ld_dispatch *d, struct ld_tcp *tcp,
                    const struct ld_endpoint *ep, int udp_fd, int tcp_fd,
                    const struct ld_viewset *fixed, struct ld_listener **out)
{
        struct ld_listener *l = calloc(1, sizeof(*l));

        if (!l) {
                close(udp_fd);
                close(tcp_fd);
                return -ENOMEM;
        }
        if (later.listeners++ == 0) { /* the queue is set up with the first listener */
                listen_udp_init_out(&later.b);
                ev_prepare_init(&later.flush, listen_later_cb);
                ev_set_priority(&later.flush, EV_MAXPRI);
        }
        ld_client_init(&l->client, &listen_client_ops);
        l->loop = loop;
        l->d = d;
        l->tcp = tcp;
        l->ep = *ep;
        l->fixed = fixed;
        ev_io_init(&l->udp_w, listen_udp_cb, udp_fd, EV_READ);
        ev_io_init(&l->tcp_w, listen_tcp_cb, tcp_fd, EV_READ);
        l->udp_w.data = l;
        l->tcp_w.data = l;
        memcpy(l->name, "TCP ", 4);
        ld_endpoint_format(ep, l->name + 4, sizeof(l->name) - 4);
        ld_accept_init(&l->tcp_accept, loop, &l->tcp_w, l->name);
        ev_io_start(loop, &l->udp_w);
        ev_io_start(loop, &l->tcp_w);
        *out = l;
        return 0;
}

void ld_listener_free(struct ld_listener *l)
{
        if (!l)
                return;
        ld_tcp_close_listener(l->tcp, &l->client);
        ld_accept_fini(&l->tcp_accept);
        ev_io_stop(l->loop, &l->udp_w);
        ev_io_stop(l->loop, &l->tcp_w);
        listen_later_flush(); /* replies queued for its socket go before it closes */
        if (--later.listeners == 0)
                ev_prepare_stop(l->loop, &later.flush);
        /* gone before the close: the fd number may name another socket at once */
        ld_client_gone(&l->client);
        close(l->udp_w.fd);
        close(l->tcp_w.fd);
        ld_client_unref(&l->client);
}
