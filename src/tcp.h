/* tcp: DNS over TCP connections (RFC 7766): pipelined queries, an idle timeout, a cap on
 * connections, and back-pressure so that one slow reader delays nobody else. */
#ifndef LD_TCP_H
#define LD_TCP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

struct ld_server;
struct ld_listener;
struct ld_tcp;

struct ld_tcp *ld_tcp_new(struct ev_loop *loop, struct ld_server *srv, unsigned max, double idle);
void ld_tcp_free(struct ld_tcp *t);
/* Accepts what waits on listener l's TCP socket (pausing it when descriptors run out). */
void ld_tcp_accept(struct ld_tcp *t, struct ld_listener *l);
/* Closes the connections that came through l, which is going away. */
void ld_tcp_close_listener(struct ld_tcp *t, struct ld_listener *l);
unsigned ld_tcp_count(const struct ld_tcp *t);
/* An answer (length-prefixed) for connection conn; -1 if it closed. */
int ld_tcp_deliver(void *conn, const uint8_t *msg, size_t len);

#endif
