/* listen: UDP and TCP listening sockets on the loop, shared (view by source address) or
 * bound inside a namespace (view fixed). */
#ifndef LD_LISTEN_H
#define LD_LISTEN_H

#include "accept.h"
#include "addr.h"
#include "answer.h"
#include "client.h"

#include <ev.h>
#include <sys/socket.h>
#include <stdbool.h>

struct ld_dispatch;
struct ld_tcp;

struct ld_listener {
        struct ld_client client; /* the UDP socket's; its TCP connections ask it for views */
        struct ev_loop *loop;
        struct ld_dispatch *d;
        struct ld_tcp *tcp;
        ev_io udp_w;
        ev_io tcp_w;
        struct ld_accept tcp_accept;       /* pauses tcp_w while descriptors run out */
        char name[LD_ENDPOINT_STRLEN + 4]; /* "TCP ADDR@PORT", for the log */
        struct ld_endpoint ep;
        /* NULL on a shared listener; a namespace listener's containers, kept current by netns */
        const struct ld_viewset *fixed;
        /* A network listener's choice (netlisten.c), instead of either */
        struct ld_viewset (*views)(void *arg, const struct ld_addr *src);
        void *views_arg;
};

/* Creates and binds a UDP and a TCP socket at ep in the calling thread's namespace.
 * freebind lets a namespace's listener bind before its lo is up. */
int ld_listen_sockets(const struct ld_endpoint *ep, bool freebind, int *udp_fd, int *tcp_fd);
/* Serves the two sockets (taking them); fixed NULL makes a shared listener. */
int ld_listener_new(struct ev_loop *loop, struct ld_dispatch *d, struct ld_tcp *tcp,
                    const struct ld_endpoint *ep, int udp_fd, int tcp_fd,
                    const struct ld_viewset *fixed, struct ld_listener **out);
/* Closes the sockets; the memory goes when the last reply in flight lets go of it. */
void ld_listener_free(struct ld_listener *l);

#endif
