/* forward: names that are not ours go upstream through c-ares on the same libev loop, with
 * linkdnsd's own EDNS, a time budget under the client's, and upstream health kept here. */
#ifndef LD_FORWARD_H
#define LD_FORWARD_H

#include "addr.h"
#include "cache.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ld_query;
struct ld_request;
struct ld_engine;
struct ld_viewset;
struct ld_forward;

int ld_forward_new(struct ev_loop *loop, struct ld_engine *eng, unsigned max_inflight,
                   struct ld_forward **out);
void ld_forward_free(struct ld_forward *f);
/* The default upstreams: given ones, or (none given) the host's resolv.conf, re-read by
 * calling again. Returns how many there are. */
int ld_forward_set_upstreams(struct ld_forward *f, const struct ld_endpoint *eps, size_t n);
/* The daemon's own listening addresses (--listen, --netns-address), before any upstream is
 * set: an upstream equal to one, or reaching a wildcard one, is ignored with a warning. */
int ld_forward_add_self(struct ld_forward *f, const struct ld_endpoint *eps, size_t n);
/* The networks' listeners (net --listen), open or waiting for their address: the same
 * rule, replacing the ones given before (a network's --dns naming one would loop). */
int ld_forward_set_net_self(struct ld_forward *f, const struct ld_endpoint *eps, size_t n);
/* Sends the query q (parsed with a question, ours to forward: the engine forwards no other;
 * its packet is read only during the call)
 * upstream for views vs; the answer, or SERVFAIL, goes later through rq's client (held
 * meanwhile; dropped if gone). */
void ld_forward_query(struct ld_forward *f, const struct ld_query *q, struct ld_viewset vs,
                      const struct ld_request *rq);

/* The upstream set views vs forward to (the servers a query would be sent to, in any
 * order): what the answer cache keys their answers by. */
void ld_forward_upstreams(struct ld_forward *f, struct ld_viewset vs, struct ld_cache_set *set);

#endif
