/* xfr: the publish zone to standard secondaries — AXFR (IXFR answered in full) over TCP to
 * --transfer-allow sources, NOTIFY on change from a socket of its own until acknowledged,
 * both signed and checked with --tsig through ldns (key, MAC and time, refused with RFC 8945's
 * BADKEY, BADSIG or BADTIME; a BADTIME reply is signed by hand, which ldns cannot do). */
#ifndef LD_XFR_H
#define LD_XFR_H

#include "addr.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ld_request;
struct ld_engine;
struct ld_stream;
struct ld_xfr;

/* tsig is "NAME:ALG:SECRET" or NULL; notify NULL/0: each single allowed address, port 53. */
int ld_xfr_new(struct ev_loop *loop, struct ld_engine *eng, const struct ld_prefix *allow,
               size_t nallow, const struct ld_endpoint *notify, size_t nnotify, const char *tsig,
               struct ld_xfr **out);
void ld_xfr_free(struct ld_xfr *x);
/* An AXFR or IXFR query over TCP: the transfer as a stream of messages (of the zone as it is
 * now) for the client to pull, or NULL — refused (the refusal sent through rq's client) or
 * nothing to transfer. */
struct ld_stream *ld_xfr_serve(struct ld_xfr *x, const uint8_t *pkt, size_t len,
                               const struct ld_request *rq);
/* Whether src may transfer the zone (x NULL: nobody may). */
bool ld_xfr_allowed(const struct ld_xfr *x, const struct ld_addr *src);
/* The zone changed: NOTIFY every target (x may be NULL). */
void ld_xfr_notify(struct ld_xfr *x);
/* Checks a --tsig value; 0 or -EINVAL. */
int ld_xfr_tsig_check(const char *tsig);

#endif
