/* listen: UDP and TCP listening sockets on the loop, shared (view by source address) or
 * bound inside a namespace (view fixed). */
#include "listen.h"

#include "forward.h"
#include "log.h"
#include "remote.h"
#include "xfr.h"
#include "server.h"
#include "tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_RCVBUF (4 << 20)
#define LISTEN_UDP_BATCH 64 /* datagrams per wakeup, so that TCP and other sockets get turns */

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

int ld_listener_answer(const struct ld_origin *o, const uint8_t *pkt, size_t len, int depth)
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
                out[2 + 3] = (uint8_t)((out[2 + 3] & 0xf0) | 2); /* a peer that never settles */
                break;
        case LD_ANSWER_SEND:
                break;
        }
        if (!tcp) {
                sendto(l->udp_w.fd, out + 2, r.len, 0, (const struct sockaddr *)&o->peer,
                       o->peerlen);
                return 0;
        }
        out[0] = (uint8_t)(r.len >> 8);
        out[1] = (uint8_t)r.len;
        return ld_tcp_deliver(o->conn, out, r.len + 2);
}

static void listen_udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ld_listener *l = w->data;
        static uint8_t in[65536];
        (void)loop;
        (void)revents;

        for (int i = 0; i < LISTEN_UDP_BATCH; i++) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                struct ld_addr src;
                ssize_t n = recvfrom(w->fd, in, sizeof(in), 0, (struct sockaddr *)&ss, &sl);

                if (n < 0)
                        return; /* EAGAIN, or an ICMP error for an earlier reply: nothing to do */
                if (ld_addr_from_sockaddr((struct sockaddr *)&ss, &src) < 0)
                        continue;
                struct ld_origin o = {l, NULL, src, ss, sl};
                ld_listener_answer(&o, in, (size_t)n, 0);
        }
}

static void listen_tcp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ld_listener *l = w->data;
        (void)loop;
        (void)revents;
        ld_tcp_accept(l->tcp, w->fd, l);
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
        if (l->srv->remote)
                ld_remote_forget(l->srv->remote, l, NULL);
        ev_io_stop(l->loop, &l->udp_w);
        ev_io_stop(l->loop, &l->tcp_w);
        close(l->udp_w.fd);
        close(l->tcp_w.fd);
        free(l);
}
