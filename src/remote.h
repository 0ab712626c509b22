/* remote: containers on other hosts (add NAME --remote FQDN@PEER) — their addresses and SRV
 * ports asked of the peer through c-ares, cached for their TTL, refreshed before expiry,
 * served stale for --stale seconds while the peer is down, then SERVFAIL. */
#ifndef LD_REMOTE_H
#define LD_REMOTE_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

struct ld_engine;
struct ld_table;
struct ld_container;
struct ld_request;
struct ld_remote;

/* A held question, to be answered again now that the peer has answered (or failed). */
typedef void (*ld_remote_rerun_fn)(void *arg, const struct ld_request *rq, const uint8_t *pkt,
                                   size_t len);

int ld_remote_new(struct ev_loop *loop, struct ld_engine *eng, double stale,
                  struct ld_remote **out);
void ld_remote_free(struct ld_remote *r);
/* After a load or reload: old's caches carry over to t's same registrations. */
void ld_remote_sync(struct ld_remote *r, struct ld_table *t, struct ld_table *old);
/* A live add or rm (r may be NULL; c may be local: nothing to do). */
void ld_remote_attach(struct ld_remote *r, struct ld_container *c);
void ld_remote_detach(struct ld_remote *r, struct ld_container *c);
/* Holds the query (and a reference on rq's client) until c's peer has answered for its
 * addresses (port 0) or for the SRV of port/proto, then calls rerun with it. */
void ld_remote_defer(struct ld_remote *r, struct ld_container *c, uint16_t port, uint8_t proto,
                     const struct ld_request *rq, const uint8_t *pkt, size_t len,
                     ld_remote_rerun_fn rerun, void *arg);

#endif
