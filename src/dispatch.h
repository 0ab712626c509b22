/* dispatch: what becomes of a query once the engine has answered it — sent now by the
 * transport, forwarded upstream, held for a remote container's peer and answered again,
 * or transferred as a zone — with the handles of the modules that do each. */
#ifndef LD_DISPATCH_H
#define LD_DISPATCH_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ld_forward;
struct ld_remote;
struct ld_request;
struct ld_engine;
struct ld_xfr;

struct ld_dispatch {
        struct ld_engine *eng;
        struct ld_forward *forward; /* NULL with --no-upstream */
        struct ld_remote *remote;   /* remote containers' peers (NULL: none yet) */
        struct ld_xfr *xfr;         /* zone transfers (NULL without --publish-zone) */
};

/* Answers pkt from rq (whose client gives the views): the length of an answer for the
 * transport to send now, written in out (cap bytes), or 0 — dropped, or the reply goes
 * later through rq's client (forwarded, held for a peer, a transfer). No allocation on the
 * way to an answer sent now. */
size_t ld_dispatch_query(struct ld_dispatch *d, const struct ld_request *rq, const uint8_t *pkt,
                         size_t len, uint8_t *out, size_t cap);
/* Whether src may transfer the zone. */
bool ld_dispatch_transfer_allowed(const struct ld_dispatch *d, const struct ld_addr *src);

#endif
