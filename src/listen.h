/* listen: UDP and TCP listening sockets on the loop, shared (view by source address) or
 * bound inside a namespace (view fixed). */
#ifndef LD_LISTEN_H
#define LD_LISTEN_H

#include "accept.h"
#include "addr.h"
#include "answer.h"

#include <ev.h>
#include <sys/socket.h>
#include <stdbool.h>

struct ld_server;
struct ld_tcp;

struct ld_listener {
        struct ev_loop *loop;
        struct ld_server *srv;
        struct ld_tcp *tcp;
        ev_io udp_w;
        ev_io tcp_w;
        struct ld_accept tcp_accept;       /* pauses tcp_w while descriptors run out */
        char name[LD_ENDPOINT_STRLEN + 4]; /* "TCP ADDR@PORT", for the log */
        struct ld_endpoint ep;
        /* NULL on a shared listener; a namespace listener's containers, kept current by netns */
        const struct ld_viewset *fixed;
};

/* Where a query came from and where its answer goes: the listener (its view, its UDP
 * socket) and the TCP connection (NULL for UDP). */
struct ld_origin {
        struct ld_listener *l;
        void *conn;
        struct ld_addr src;
        struct sockaddr_storage peer;
        socklen_t peerlen;
};

/* Answers pkt: at once, or through the forwarder, a remote container's peer or a zone
 * transfer. depth counts re-runs after a peer answered. Returns -1 if the TCP connection
 * closed meanwhile. */
int ld_listener_answer(const struct ld_origin *o, const uint8_t *pkt, size_t len, int depth);

/* Creates and binds a UDP and a TCP socket at ep in the calling thread's namespace.
 * freebind lets a namespace's listener bind before its lo is up. */
int ld_listen_sockets(const struct ld_endpoint *ep, bool freebind, int *udp_fd, int *tcp_fd);
/* Raises a UDP socket's receive buffer so bursts are not dropped. */
void ld_listen_rcvbuf(int fd);
/* The view set a listener answers for a client at src. */
struct ld_viewset ld_listener_views(const struct ld_listener *l, const struct ld_addr *src);
/* Serves the two sockets (taking them); fixed NULL makes a shared listener. */
int ld_listener_new(struct ev_loop *loop, struct ld_server *srv, struct ld_tcp *tcp,
                    const struct ld_endpoint *ep, int udp_fd, int tcp_fd,
                    const struct ld_viewset *fixed, struct ld_listener **out);
void ld_listener_free(struct ld_listener *l);

#endif
