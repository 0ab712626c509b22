/* forward: names that are not ours go upstream through c-ares on the same libev loop, with
 * linkdnsd's own EDNS, a time budget under the client's, and upstream health kept here. */
#ifndef LD_FORWARD_H
#define LD_FORWARD_H

#include "addr.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ld_server;
struct ld_viewset;
struct ld_forward;

/* Where a forwarded answer goes: a UDP client (fd, peer) or a TCP connection (owner). */
struct ld_fwd_origin {
        void *owner; /* the TCP connection; NULL for UDP */
        int fd;
        struct sockaddr_storage peer;
        socklen_t peerlen;
};

/* Delivers an answer to a TCP owner; UDP answers are sent by the forwarder itself. */
typedef int (*ld_forward_tcp_fn)(void *owner, const uint8_t *msg, size_t len);

int ld_forward_new(struct ev_loop *loop, struct ld_server *srv, unsigned max_inflight,
                   ld_forward_tcp_fn tcp_reply, struct ld_forward **out);
void ld_forward_free(struct ld_forward *f);
/* The default upstreams: given ones, or (none given) the host's resolv.conf, re-read by
 * calling again. Returns how many there are. */
int ld_forward_set_upstreams(struct ld_forward *f, const struct ld_endpoint *eps, size_t n);
/* Sends the query pkt (already parsed as ours to forward) upstream for views vs; the
 * answer, or SERVFAIL, reaches the origin later. */
void ld_forward_query(struct ld_forward *f, const uint8_t *pkt, size_t len, struct ld_viewset vs,
                      bool tcp, const struct ld_fwd_origin *o);
/* The origin is closing, its pending answers are dropped: the TCP connection owner, or
 * (owner NULL) the listener's UDP socket fd, whose number may name another socket (another
 * container's) by the time they come. */
void ld_forward_forget(struct ld_forward *f, const void *owner, int fd);

#endif
