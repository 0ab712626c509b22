/* dispatch: what becomes of a query once the engine has answered it. A question held for a
 * remote peer is answered again when the peer has answered, through the request's client;
 * a peer that keeps sending it back (it never settles) gets SERVFAIL after a few re-runs. */
#include "dispatch.h"

#include "answer.h"
#include "cache.h"
#include "client.h"
#include "forward.h"
#include "remote.h"
#include "engine.h"
#include "query.h"
#include "wire.h"
#include "xfr.h"

#define DISPATCH_RERUNS 3 /* a question answered again this often is not held again */

static void dispatch_rerun(void *arg, const struct ld_request *rq, const uint8_t *pkt, size_t len);

/* The answer from the cache for the upstream set the views forward to (0: a miss). */
static size_t dispatch_cached(struct ld_dispatch *d, struct ld_viewset vs, const struct ld_query *q,
                              bool tcp, uint8_t *out, size_t cap)
{
        struct ld_cache_set set;

        if (!d->eng->cache)
                return 0;
        ld_forward_upstreams(d->forward, vs, &set);
        return set.n ? ld_cache_answer(d->eng->cache, q, &set, tcp, out, cap) : 0;
}

size_t ld_dispatch_query(struct ld_dispatch *d, const struct ld_request *rq, const uint8_t *pkt,
                         size_t len, uint8_t *out, size_t cap)
{
        struct ld_viewset vs = rq->client->ops->views(rq->client, &rq->src);
        struct ld_query q;
        struct ld_answer_result r =
            ld_engine_handle_parsed(d->eng, vs, pkt, len, out, cap, rq->tcp, &q);
        size_t n;

        switch (r.action) {
        case LD_ANSWER_DROP:
                return 0;
        case LD_ANSWER_FORWARD:
                if (!d->forward) {
                        ld_engine_log_forward(d->eng, &q, vs, &r, NULL);
                        return ld_answer_refused(&d->eng->cfg, &q, rq->tcp, out, cap);
                }
                if ((n = dispatch_cached(d, vs, &q, rq->tcp, out, cap)) > 0) {
                        ld_engine_log_forward(d->eng, &q, vs, &r, "answered from the cache");
                        return n;
                }
                ld_engine_log_forward(d->eng, &q, vs, &r, "forwarded");
                ld_forward_query(d->forward, &q, vs, rq);
                return 0;
        case LD_ANSWER_XFR:
                ld_client_pull(rq->client, ld_xfr_serve(d->xfr, pkt, len, rq));
                return 0;
        case LD_ANSWER_DEFER:
                if (d->remote && rq->reruns < DISPATCH_RERUNS) {
                        ld_remote_defer(d->remote, r.remote, r.remote_port, r.remote_proto, rq, pkt,
                                        len, dispatch_rerun, d);
                        return 0;
                }
                ld_wire_set_rcode(out, LD_RCODE_SERVFAIL); /* a peer that never settles */
                break;
        case LD_ANSWER_SEND:
                break;
        }
        return r.len;
}

/* The peer answered: the question again, its reply through the client (if still there). */
static void dispatch_rerun(void *arg, const struct ld_request *rq, const uint8_t *pkt, size_t len)
{
        static uint8_t out[65535];
        struct ld_request again = *rq;
        size_t n;

        if (rq->client->gone)
                return;
        again.reruns++;
        if ((n = ld_dispatch_query(arg, &again, pkt, len, out, sizeof(out))) > 0)
                ld_request_reply(&again, out, n);
}

bool ld_dispatch_transfer_allowed(const struct ld_dispatch *d, const struct ld_addr *src)
{
        return ld_xfr_allowed(d->xfr, src);
}
