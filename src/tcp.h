/* tcp: DNS over TCP connections (RFC 7766): pipelined queries, an idle timeout, a cap on
 * connections, and back-pressure so that one slow reader delays nobody else. */
#ifndef LD_TCP_H
#define LD_TCP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

struct ld_accept;
struct ld_client;
struct ld_dispatch;
struct ld_tcp;

struct ld_tcp *ld_tcp_new(struct ev_loop *loop, struct ld_dispatch *d, unsigned max, double idle);
void ld_tcp_free(struct ld_tcp *t);
/* Accepts what waits on a listening socket through acc (pausing it when descriptors run
 * out); via is the listener's client: the views its connections see, and the key that
 * closes them (held by each). */
void ld_tcp_accept(struct ld_tcp *t, struct ld_accept *acc, struct ld_client *via);
/* Closes the connections that came through via, whose listener is going away. */
void ld_tcp_close_listener(struct ld_tcp *t, const struct ld_client *via);
unsigned ld_tcp_count(const struct ld_tcp *t);

#endif
