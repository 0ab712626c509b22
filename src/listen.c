/* listen: UDP and TCP listening sockets on the loop, shared (view by source address) or
 * bound inside a namespace (view fixed). */
#include "listen.h"

#include "forward.h"
#include "log.h"
#include "remote.h"
#include "xfr.h"
#include "server.h"
#include "tcp.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_RCVBUF (4 << 20)
#define LISTEN_UDP_BATCH 32 /* datagrams per wakeup, so that TCP and other sockets get turns */
#define LISTEN_UDP_MAX 4096 /* longer datagrams are no query of ours */
#define LISTEN_UDP_ROUNDS 4 /* batches per wakeup before others get a turn */

void ld_listen_rcvbuf(int fd)
{
        int size = LISTEN_RCVBUF;

        /* A burst of a thousand queries overflows the default (~208 KiB) and the kernel
         * drops them silently; only a cap, the memory is used as datagrams wait. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static int listen_socket(const struct ld_endpoint *ep, int type, bool freebind)
{
        struct sockaddr_storage ss;
        socklen_t sl = ld_endpoint_sockaddr(ep, &ss);
        int one = 1, fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (type == SOCK_DGRAM)
                ld_listen_rcvbuf(fd);
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

struct ld_viewset ld_listener_views(const struct ld_listener *l, const struct ld_addr *src)
{
        return l->fixed ? *l->fixed : ld_server_views_of(l->srv, src);
}

/* UDP replies of one wakeup, sent with one sendmmsg: fewer system calls under load. */
struct udp_batch {
        unsigned n;
        struct mmsghdr msgs[LISTEN_UDP_BATCH];
        struct iovec iov[LISTEN_UDP_BATCH];
        uint8_t buf[LISTEN_UDP_BATCH][LD_EDNS_PAYLOAD];
};

static int listen_answer(const struct ld_origin *o, const uint8_t *pkt, size_t len, int depth,
                         struct udp_batch *batch);

int ld_listener_answer(const struct ld_origin *o, const uint8_t *pkt, size_t len, int depth)
{
        return listen_answer(o, pkt, len, depth, NULL);
}

/* Queues a UDP reply in the batch, or sends it now without one. */
static void listen_udp_reply(const struct ld_origin *o, const uint8_t *msg, size_t len,
                             struct udp_batch *b)
{
        if (!b || len > sizeof(b->buf[0])) {
                sendto(o->l->udp_w.fd, msg, len, 0, (const struct sockaddr *)&o->peer, o->peerlen);
                return;
        }
        memcpy(b->buf[b->n], msg, len);
        b->iov[b->n].iov_len = len;
        b->msgs[b->n].msg_hdr.msg_name = (void *)&o->peer;
        b->msgs[b->n].msg_hdr.msg_namelen = o->peerlen;
        b->n++;
}

static int listen_answer(const struct ld_origin *o, const uint8_t *pkt, size_t len, int depth,
                         struct udp_batch *batch)
{
        static uint8_t out[2 + 65535]; /* room for TCP's length prefix */
        struct ld_listener *l = o->l;
        struct ld_server *srv = l->srv;
        bool tcp = o->conn != NULL;
        struct ld_viewset vs = ld_listener_views(l, &o->src);
        struct ld_answer_result r =
            ld_server_handle(srv, vs, pkt, len, out + 2, sizeof(out) - 2, tcp);

        switch (r.action) {
        case LD_ANSWER_DROP:
                return 0;
        case LD_ANSWER_FORWARD: {
                struct ld_fwd_origin fo = {o->conn, l->udp_w.fd, o->peer, o->peerlen};
                ld_forward_query(srv->forward, pkt, len, vs, tcp, &fo);
                return 0;
        }
        case LD_ANSWER_XFR:
                return ld_xfr_serve(srv->xfr, pkt, len, o);
        case LD_ANSWER_DEFER:
                if (srv->remote && depth < 3) {
                        ld_remote_defer(srv->remote, r.remote, r.remote_port, r.remote_proto, o,
                                        pkt, len, depth);
                        return 0;
                }
                ld_wire_set_rcode(out + 2, LD_RCODE_SERVFAIL); /* a peer that never settles */
                break;
        case LD_ANSWER_SEND:
                break;
        }
        if (!tcp) {
                listen_udp_reply(o, out + 2, r.len, batch);
                return 0;
        }
        out[0] = (uint8_t)(r.len >> 8);
        out[1] = (uint8_t)r.len;
        return ld_tcp_deliver(o->conn, out, r.len + 2);
}

static void listen_udp_send(int fd, struct udp_batch *b)
{
        for (unsigned done = 0; done < b->n;) {
                int n = sendmmsg(fd, b->msgs + done, b->n - done, 0);
                if (n <= 0)
                        break; /* the socket buffer is full: the clients ask again */
                done += (unsigned)n;
        }
        b->n = 0;
}

/* Receive side of a batch: buffers and headers set up once, reused at every wakeup. */
struct udp_in {
        uint8_t buf[LISTEN_UDP_BATCH][LISTEN_UDP_MAX];
        struct sockaddr_storage peers[LISTEN_UDP_BATCH];
        struct mmsghdr msgs[LISTEN_UDP_BATCH];
        struct iovec iov[LISTEN_UDP_BATCH];
        struct ld_origin origins[LISTEN_UDP_BATCH];
};

static void listen_udp_init(struct udp_in *in, struct udp_batch *out)
{
        for (int i = 0; i < LISTEN_UDP_BATCH; i++) {
                in->iov[i] = (struct iovec){in->buf[i], sizeof(in->buf[i])};
                in->msgs[i].msg_hdr = (struct msghdr){.msg_name = &in->peers[i],
                                                      .msg_namelen = sizeof(in->peers[i]),
                                                      .msg_iov = &in->iov[i],
                                                      .msg_iovlen = 1};
                out->iov[i] = (struct iovec){out->buf[i], 0};
                out->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &out->iov[i], .msg_iovlen = 1};
        }
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
                        struct ld_origin *o = &in.origins[i];
                        struct msghdr *h = &in.msgs[i].msg_hdr;
                        bool ok =
                            !(h->msg_flags & MSG_TRUNC) && /* no query is that long */
                            ld_addr_from_sockaddr((struct sockaddr *)&in.peers[i], &o->src) == 0;
                        o->l = l;
                        o->conn = NULL;
                        o->peer = in.peers[i];
                        o->peerlen = h->msg_namelen;
                        h->msg_namelen = sizeof(in.peers[i]); /* for the next call */
                        if (ok)
                                listen_answer(o, in.buf[i], in.msgs[i].msg_len, 0, &batch);
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
        ld_tcp_accept(l->tcp, l);
}

int ld_listener_new(struct ev_loop *loop, struct ld_server *srv, struct ld_tcp *tcp,
                    const struct ld_endpoint *ep, int udp_fd, int tcp_fd,
                    const struct ld_viewset *fixed, struct ld_listener **out)
{
        struct ld_listener *l = calloc(1, sizeof(*l));

        if (!l) {
                close(udp_fd);
                close(tcp_fd);
                return -ENOMEM;
        }
        l->loop = loop;
        l->srv = srv;
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
        ld_tcp_close_listener(l->tcp, l);
        if (l->srv->forward) /* before the close: the fd number may be reused at once */
                ld_forward_forget(l->srv->forward, NULL, l->udp_w.fd);
        if (l->srv->remote)
                ld_remote_forget(l->srv->remote, l, NULL);
        ld_accept_fini(&l->tcp_accept);
        ev_io_stop(l->loop, &l->udp_w);
        ev_io_stop(l->loop, &l->tcp_w);
        close(l->udp_w.fd);
        close(l->tcp_w.fd);
        free(l);
}
