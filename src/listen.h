/* listen: UDP and TCP listening sockets on the loop, shared (view by source address) or
 * bound inside a namespace (view fixed). */
#ifndef LD_LISTEN_H
#define LD_LISTEN_H

#include "addr.h"
#include "answer.h"

#include <ev.h>
#include <stdbool.h>

struct ld_server;
struct ld_tcp;

struct ld_listener {
        struct ev_loop *loop;
        struct ld_server *srv;
        struct ld_tcp *tcp;
        ev_io udp_w;
        ev_io tcp_w;
        struct ld_endpoint ep;
        bool shared;
        struct ld_viewset fixed; /* namespace listeners: the containers of that namespace */
};

/* Creates and binds a UDP and a TCP socket at ep in the calling thread's namespace. */
int ld_listen_sockets(const struct ld_endpoint *ep, int *udp_fd, int *tcp_fd);
/* Serves the two sockets (taking them); fixed NULL makes a shared listener. */
int ld_listener_new(struct ev_loop *loop, struct ld_server *srv, struct ld_tcp *tcp,
                    const struct ld_endpoint *ep, int udp_fd, int tcp_fd,
                    const struct ld_viewset *fixed, struct ld_listener **out);
void ld_listener_free(struct ld_listener *l);

#endif
