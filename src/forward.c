/* forward: names that are not ours go upstream on the same libev loop, with linkdnsd's own
 * EDNS, a time budget under the client's, upstream health kept here, and a fair share of
 * the budget for every view.
 *
 * An answer that reaches a container must be the upstream's, not a blind forger's. Every
 * UDP attempt is an ld_exchange (exchange.c): a source port of its own, drawn at random
 * by the kernel from its ephemeral range (at least 16,384 ports); a fresh random ID
 * (getrandom, buffered); and only an answer from the server's address and port, with that
 * ID and our question byte for byte (case included), taken, anything else ignored while the
 * attempt waits on. A forger must guess port and ID at once (1 in 2^30 or less per
 * datagram) within the round trip. c-ares 1.18 cannot do that: it keeps the caller's ID and
 * (ARES_FLAG_STAYOPEN, or any burst) one socket and port per server, and several channels
 * would only give a few fixed ports. So UDP is ours, and cheap: pooled sockets, each bound
 * to a new random port by its one query's sendto and unbound after, so no socket, close or
 * epoll registration per query and no allocation (the exchange lives in the request).
 * The name goes up with each letter in a random case (0x20) which the answer must echo:
 * more to guess, a bit per letter; the client gets its own spelling back. A server that
 * answers in another case (its answer ignored, then the attempt's timeout) is asked again
 * with the name in lower case, and so for FWD_CAPS_OFF.
 * c-ares keeps what it does well: TCP (connections kept open, framing), for clients that
 * ask over TCP, which is how a truncated answer is completed: a TC answer goes to the
 * client as it is and the client asks again over TCP. The TCP query carries a random ID
 * too; a connection is not forged blind.
 *
 * The budget (--max-forwards) is shared fairly: a view (the asking container's) that holds
 * fewer than a sixteenth of it may use all of it, a view that holds more only while fewer
 * than three quarters are in use; the last quarter stays for the views that ask little, so
 * one container that floods a silent upstream cannot make the others' queries fail. */
#include "forward.h"

#include "cache.h"
#include "client.h"
#include "evares.h"
#include "exchange.h"
#include "log.h"
#include "list.h"
#include "query.h"
#include "random.h"
#include "relay.h"
#include "engine.h"
#include "table.h"
#include "wire.h"

#include <ares.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* glibc gives up on a server after 5 s: every attempt together stays well inside that. */
#define FWD_ATTEMPT_MS 1200
#define FWD_BUDGET 3.7
#define FWD_DEAD_FOR 30.0 /* a server that failed is tried last for this long */
#define FWD_MAX_SERVERS 8
#define FWD_CAPS_OFF 600.0     /* a server that lost the case of a name is asked without 0x20 */
#define FWD_NO_VIEW UINT32_MAX /* the share key of a client with no view (never forwarded) */
/* the upstream query: header, the name, type and class, our OPT */
#define FWD_QUERY_MAX (LD_DNS_HEADER + LD_NAME_WIRE_MAX + 4 + LD_OPT_LEN)
#define FWD_LAST_MAX 512 /* an upstream failure kept whole; a larger one by its rcode */
#define FWD_CHUNK 64     /* request slots allocated at a time, up to --max-forwards */

/* One upstream server: its TCP channel (UDP is ours: exchange.c), and how it has been
 * doing. */
struct fwd_server {
        struct ld_forward *f;
        struct fwd_server *next;
        struct ld_endpoint ep;
        struct ld_evares tcp;
        double dead_until;
        double caps_off_until; /* it answered in another case: no 0x20 till then */
        bool self;             /* one of linkdnsd's own listeners: never asked */
        uint32_t id;           /* its number in cache keys: never reused (never freed) */
};

/* A forward in flight, in a slot of the pool: taken per query, never freed till the end
 * (no allocation per query; the pool grows by FWD_CHUNK up to --max-forwards). */
struct fwd_req {
        struct ld_forward *f;
        struct fwd_req *prev, *next; /* in flight; a free slot: next only */
        struct ld_request req;       /* where the answer goes: its client held */
        struct ld_exchange x;        /* the UDP attempt under way */
        uint32_t key;                /* whose share it counts in: the view */
        uint16_t id;
        bool rd, tcp, edns, do_bit;
        bool orphan; /* nobody waits any more (the daemon is stopping) */
        bool caps;   /* this attempt's name is in random case (0x20) */
        bool sent;   /* an attempt went out: else a failure is ours, not the servers' */
        size_t limit;
        double started;
        struct fwd_server *servers[FWD_MAX_SERVERS];
        int nservers, tried;
        uint8_t last_rcode; /* the last upstream failure's (SERVFAIL, REFUSED), 0: none... */
        size_t lastlen;     /* ...and that answer if it fit in last (0: it did not) */
        size_t qlen;
        size_t namelen;
        uint8_t q[FWD_QUERY_MAX];       /* the upstream query */
        uint8_t name[LD_NAME_WIRE_MAX]; /* the client's question name as asked */
        uint8_t last[FWD_LAST_MAX];
};

/* Slots allocated together. */
struct fwd_chunk {
        struct fwd_chunk *next;
        struct fwd_req slot[];
};

struct ld_forward {
        struct ev_loop *loop;
        struct ld_engine *eng;
        unsigned max, inflight;
        struct fwd_server *servers; /* every server ever used: health outlives reloads */
        uint32_t server_ids;        /* the last number given to a server */
        struct fwd_server *defaults[FWD_MAX_SERVERS];
        int ndefaults;
        struct ld_cache_set default_set; /* the defaults not ignored: every cache hit asks */
        struct fwd_req *reqs;
        struct fwd_req *free;     /* slots to reuse, the last freed first (warm) */
        struct fwd_chunk *chunks; /* every slot: nslots, never more than max */
        unsigned nslots;
        unsigned in_send;         /* inside ares_send: a failure called back now is ours */
        struct ld_xpool *pool;    /* the UDP sockets of exchanges */
        struct fwd_share *shares; /* forwards in flight by view: open addressing */
        uint32_t mask;
        struct ld_endpoint *self; /* the daemon's own listening addresses... */
        size_t nself;
        size_t nfixed; /* ...its --listen and --netns-address first, then its networks' */
};

/* A view's forwards in flight; n == 0: a free slot. */
struct fwd_share {
        uint32_t key, n;
};

/* Whether addr is one of the daemon's namespace's own (loopback, or an interface's). */
static bool fwd_local_addr(const struct ld_addr *addr)
{
        struct ifaddrs *ifs, *i;
        bool found = false;

        if ((addr->family == AF_INET && addr->bytes[0] == 127) ||
            (addr->family == AF_INET6 && ld_addr_len(addr) == 16 &&
             memcmp(addr->bytes, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0))
                return true;
        if (getifaddrs(&ifs) < 0)
                return false;
        for (i = ifs; i && !found; i = i->ifa_next) {
                struct ld_addr a;
                found = i->ifa_addr && ld_addr_from_sockaddr(i->ifa_addr, &a) == 0 &&
                        ld_addr_equal(&a, addr);
        }
        freeifaddrs(ifs);
        return found;
}

/* An upstream that is linkdnsd itself: one of its listening addresses, or reached by a
 * wildcard listener of its namespace on that port. Asked, it would loop. */
static bool fwd_is_self(const struct ld_forward *f, const struct ld_endpoint *ep)
{
        static const uint8_t zero[16];

        for (size_t i = 0; i < f->nself; i++) {
                const struct ld_endpoint *s = &f->self[i];
                if (s->port != ep->port)
                        continue;
                if (ld_addr_equal(&s->addr, &ep->addr))
                        return true;
                if (s->addr.family == ep->addr.family &&
                    memcmp(s->addr.bytes, zero, ld_addr_len(&s->addr)) == 0 &&
                    fwd_local_addr(&ep->addr))
                        return true;
        }
        return false;
}

static struct fwd_server *fwd_server_get(struct ld_forward *f, const struct ld_endpoint *ep)
{
        struct fwd_server *s;

        for (s = f->servers; s; s = s->next)
                if (s->ep.port == ep->port && ld_addr_equal(&s->ep.addr, &ep->addr))
                        return s;
        if (!(s = calloc(1, sizeof(*s))))
                return NULL;
        s->f = f;
        s->ep = *ep;
        s->id = ++f->server_ids;
        /* One try per channel: the forwarder picks the next server itself. */
        if (ld_evares_init(&s->tcp, f->loop, ep, true, 1, FWD_ATTEMPT_MS) < 0) {
                free(s);
                return NULL;
        }
        s->next = f->servers;
        f->servers = s;
        s->self = fwd_is_self(f, ep);
        if (s->self) {
                char buf[LD_ENDPOINT_STRLEN];
                ld_endpoint_format(ep, buf, sizeof(buf));
                ld_warn("upstream %s is one of linkdnsd's own listening addresses: ignored", buf);
        }
        return s;
}

static double fwd_now(struct ld_forward *f)
{
        return ev_now(f->loop);
}

/* Healthy servers first in the order given, then the ones that failed lately. */
static void fwd_order(struct fwd_req *r, struct fwd_server *const *s, int n)
{
        double now = fwd_now(r->f);

        r->nservers = 0;
        for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < n; i++)
                        if ((s[i]->dead_until > now) == (pass == 1))
                                r->servers[r->nservers++] = s[i];
}

/* The home slot of a view's count. */
static uint32_t fwd_home(const struct ld_forward *f, uint32_t key)
{
        return (key * 0x9e3779b1u) & f->mask;
}

/* The view's count, or the free slot it would take: the table has room for twice the
 * budget, so there always is one. */
static struct fwd_share *fwd_share(struct ld_forward *f, uint32_t key)
{
        uint32_t i = fwd_home(f, key);

        while (f->shares[i].n && f->shares[i].key != key)
                i = (i + 1) & f->mask;
        return &f->shares[i];
}

/* One forward of the view less; an emptied slot is refilled from its run (linear probing
 * without tombstones). */
static void fwd_share_release(struct ld_forward *f, uint32_t key)
{
        struct fwd_share *e = fwd_share(f, key);
        uint32_t i = (uint32_t)(e - f->shares), j = i;

        if (--e->n)
                return;
        for (;;) {
                j = (j + 1) & f->mask;
                if (!f->shares[j].n)
                        break;
                uint32_t k = fwd_home(f, f->shares[j].key);
                if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                        continue; /* its home lies after the hole: it stays */
                f->shares[i] = f->shares[j];
                i = j;
        }
        f->shares[i].n = 0;
}

/* The fair share: under a sixteenth of the budget a view may use it all; above, only while
 * a quarter stays free for the others. */
static bool fwd_admit(const struct ld_forward *f, const struct fwd_share *e)
{
        unsigned share = f->max / 16 ? f->max / 16 : 1;

        if (f->inflight >= f->max)
                return false;
        return e->n < share || f->inflight < f->max - f->max / 4;
}

/* A slot: a free one, or a new chunk's while the pool is under the budget. NULL: out of
 * memory (the caller answers SERVFAIL). */
static struct fwd_req *fwd_slot_get(struct ld_forward *f)
{
        struct fwd_req *r = f->free;

        if (!r && f->nslots < f->max) {
                unsigned n = f->max - f->nslots < FWD_CHUNK ? f->max - f->nslots : FWD_CHUNK;
                struct fwd_chunk *c = malloc(sizeof(*c) + n * sizeof(c->slot[0]));
                if (!c)
                        return NULL;
                c->next = f->chunks;
                f->chunks = c;
                f->nslots += n;
                for (unsigned i = n; i-- > 0;) {
                        c->slot[i].next = f->free;
                        f->free = &c->slot[i];
                }
                r = f->free;
        }
        if (r)
                f->free = r->next;
        return r;
}

static void fwd_slot_put(struct ld_forward *f, struct fwd_req *r)
{
        r->next = f->free;
        f->free = r;
}

/* An error to the client (rcode): its ID and question as it asked, our OPT if it sent one. */
static size_t fwd_error(uint16_t id, bool rd, bool edns, bool do_bit,
                        const struct ld_wire_question *qn, uint16_t rcode, uint8_t *out, size_t cap)
{
        struct ld_wire_ask ask = {
            .id = id, .rd = rd, .ra = true, .edns = edns, .do_bit = do_bit, .question = qn};

        return ld_wire_error(&ask, rcode, out, cap);
}

/* The same for a request in flight. */
static size_t fwd_req_error(const struct fwd_req *r, uint16_t rcode, uint8_t *out, size_t cap)
{
        const uint8_t *type = r->q + LD_DNS_HEADER + r->namelen;
        struct ld_wire_question qn = {r->name, r->namelen, ld_rd16(type), ld_rd16(type + 2)};

        return fwd_error(r->id, r->rd, r->edns, r->do_bit, &qn, rcode, out, cap);
}

/* The cache key's upstream set of servers s. */
static void fwd_set_of(struct fwd_server *const *s, int n, struct ld_cache_set *set)
{
        set->n = 0;
        for (int i = 0; i < n && i < LD_CACHE_SET_MAX; i++)
                set->id[set->n++] = s[i]->id;
}

/* What the upstream set said, for the cache to keep or not (cache.c): not our own refusal
 * (the budget, no server), a failure to send (out of descriptors or ports: nothing was
 * asked) nor the end of a daemon stopping. */
static void fwd_cache(const struct fwd_req *r, const uint8_t *ans, size_t alen)
{
        struct ld_cache_set set;

        if (r->orphan || !r->sent || !r->f->eng->cache)
                return;
        fwd_set_of(r->servers, r->nservers, &set);
        ld_cache_store(r->f->eng->cache, r->q, r->qlen, &set, ans, alen);
}

static void fwd_finish(struct fwd_req *r, const uint8_t *ans, size_t alen)
{
        struct ld_forward *f = r->f;
        uint8_t out[65535 + 2];
        struct ld_relay_ask c = {r->id, r->name, r->namelen, r->edns, r->do_bit, r->limit};
        size_t n = 0;

        ld_exchange_cancel(&r->x);
        /* the question as the client asked it: the same name in another case (not over one
         * that a TCP upstream changed: c-ares checks TCP answers loosely) */
        if (ans)
                n = ld_relay_rewrite(ans, alen, &c, out + 2, sizeof(out) - 2);
        if (n == 0) { /* every server failed: SERVFAIL (or the rcode of the last upstream
                       * failure, too large to keep) with the question */
                n = fwd_req_error(r, !ans && r->last_rcode ? r->last_rcode : LD_RCODE_SERVFAIL,
                                  out + 2, sizeof(out) - 2);
                f->eng->stats.forward_failed++;
        }
        if (!r->orphan) /* dropped by the client if it is gone */
                ld_request_reply(&r->req, out + 2, n);
        fwd_cache(r, ans, alen); /* after the reply: the client does not wait for it */
        ld_request_drop(&r->req);
        LD_LIST_REMOVE(f->reqs, r);
        f->inflight--;
        fwd_share_release(f, r->key);
        fwd_slot_put(f, r);
}

static void fwd_try(struct fwd_req *r);

/* What the last server tried said (ans NULL: nothing usable came). */
static void fwd_result(struct fwd_req *r, const uint8_t *ans, size_t alen)
{
        struct fwd_server *s = r->servers[r->tried - 1];
        uint8_t rcode = (ans && alen >= 12) ? ans[3] & 0x0f : 0xff;

        if (rcode != 0xff && rcode != 2 && rcode != 5) { /* SERVFAIL, REFUSED: next server */
                s->dead_until = 0;
                fwd_finish(r, ans, alen);
                return;
        }
        if (rcode == 0xff) {
                s->dead_until = fwd_now(r->f) + FWD_DEAD_FOR;
        } else { /* relayed if no server does better */
                r->last_rcode = rcode;
                r->lastlen = alen <= sizeof(r->last) ? alen : 0;
                memcpy(r->last, ans, r->lastlen);
        }
        fwd_try(r);
}

static void fwd_udp_cb(struct ld_exchange *x, int err, const uint8_t *ans, size_t len)
{
        struct fwd_req *r = (struct fwd_req *)(void *)((char *)x - offsetof(struct fwd_req, x));

        if (err == -EPROTO && r->caps) { /* the case was lost: the same server without 0x20 */
                r->servers[r->tried - 1]->caps_off_until = fwd_now(r->f) + FWD_CAPS_OFF;
                r->tried--;
                fwd_try(r);
                return;
        }
        if (err)
                ld_debug("upstream attempt failed: %s", strerror(-err));
        fwd_result(r, err ? NULL : ans, len);
}

static void fwd_tcp_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
        struct fwd_req *r = arg;
        (void)timeouts;

        if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
                r->orphan = true; /* the daemon is stopping */
                fwd_finish(r, NULL, 0);
                return;
        }
        if (status != ARES_SUCCESS && r->f->in_send) {
                /* called back inside ares_send: c-ares could not send (no descriptor), our
                 * failure, not the server's: the next server, and nothing for the cache */
                ld_debug("upstream attempt not sent: %s", ares_strerror(status));
                fwd_try(r);
                return;
        }
        r->sent = true;
        if (status != ARES_SUCCESS)
                ld_debug("upstream attempt failed: %s", ares_strerror(status));
        fwd_result(r, status == ARES_SUCCESS ? abuf : NULL,
                   status == ARES_SUCCESS ? (size_t)alen : 0);
}

/* The name upstream: each letter in a random case (0x20: a bit more for a forger to guess
 * per letter, which the answer must echo), or, for a server that does not echo the case,
 * in lower case (what such a server answers: the question still matches byte for byte).
 * A length byte (at most 63) is never a letter, so the name is walked as plain octets, a
 * random bit drawn per octet. */
static void fwd_caps(struct fwd_req *r, bool on)
{
        uint8_t *p = r->q + LD_DNS_HEADER;
        uint32_t bits = 0;

        for (size_t k = 0; k < r->namelen; k++) {
                uint8_t c = r->name[k], low = c | 0x20;
                if ((k & 31) == 0)
                        bits = on ? ld_random_u32() : 0;
                if ((uint8_t)(low - 'a') < 26)
                        c = (uint8_t)(low ^ ((bits & 1u) << 5));
                p[k] = c;
                bits >>= 1;
        }
}

static void fwd_try(struct fwd_req *r)
{
        for (;;) {
                double left;

                if (r->tried) /* the last attempt may have taken a while */
                        ev_now_update(r->f->loop);
                left = FWD_BUDGET - (fwd_now(r->f) - r->started);
                if (r->tried >= r->nservers || left < FWD_ATTEMPT_MS / 1000.0) {
                        fwd_finish(r, r->lastlen ? r->last : NULL, r->lastlen);
                        return;
                }
                struct fwd_server *s = r->servers[r->tried++];
                if (r->tcp) {
                        uint32_t id = ld_random_u32();
                        r->q[0] = (uint8_t)(id >> 8);
                        r->q[1] = (uint8_t)id;
                        struct ld_forward *f = r->f; /* r may end inside ares_send */
                        f->in_send++;
                        ares_send(s->tcp.ch, r->q, (int)r->qlen, fwd_tcp_cb, r);
                        f->in_send--;
                        ld_evares_arm(&s->tcp);
                        return;
                }
                r->caps = s->caps_off_until <= fwd_now(r->f);
                fwd_caps(r, r->caps);
                int rc = ld_exchange_start(&r->x, &s->ep, r->q, r->qlen, FWD_ATTEMPT_MS / 1000.0,
                                           fwd_udp_cb);
                if (rc == 0) {
                        r->sent = true;
                        return;
                }
                /* out of descriptors or ports, no route: ours, not the server's fault */
                ld_debug("upstream attempt not sent: %s", strerror(-rc));
        }
}

/* Our query upstream: the client's question, RD and CD, and always our own OPT (DO carried,
 * no options): hop-by-hop EDNS is between us and the upstream. */
static size_t fwd_build(const struct ld_query *q, uint8_t *out)
{
        struct ld_wire_question qn = {q->pkt + LD_DNS_HEADER, q->qend - LD_DNS_HEADER - 4, q->qtype,
                                      q->qclass};

        return ld_wire_query(out, &qn, q->flags2 & 0x10, q->edns_do);
}

/* Appends the servers of eps not already in out (duplicates removed, order kept). */
static int fwd_servers_add(struct ld_forward *f, const struct ld_endpoint *eps, size_t neps,
                           struct fwd_server **out, int n)
{
        for (size_t k = 0; k < neps && n < FWD_MAX_SERVERS; k++) {
                struct fwd_server *sv = fwd_server_get(f, &eps[k]);
                bool dup = false;
                for (int j = 0; j < n && !dup; j++)
                        dup = out[j] == sv;
                if (sv && !dup && !sv->self)
                        out[n++] = sv;
        }
        return n;
}

/* Whether no view of vs names a server of its own, nor a network of the first: the usual
 * container, which the defaults serve (checked first: every cache hit asks). */
static bool fwd_defaults_serve(struct ld_viewset vs)
{
        for (size_t i = 0; i < vs.n; i++)
                if (vs.v[i]->spec.ndns)
                        return false;
        for (size_t i = 0; vs.n && i < vs.v[0]->natt; i++)
                if (vs.v[0]->att[i]->net->spec.ndns)
                        return false;
        return true;
}

/* A container's own --dns servers serve its view; else the --dns of its networks in attach
 * order (a pod: its first member's); the defaults serve everyone else. */
static int fwd_servers_for(struct ld_forward *f, struct ld_viewset vs, struct fwd_server **out)
{
        int n = 0;

        if (fwd_defaults_serve(vs))
                goto defaults;
        for (size_t i = 0; i < vs.n && n == 0; i++) { /* n stays 0 if all are ignored */
                const struct ld_spec *s = &vs.v[i]->spec;
                n = fwd_servers_add(f, s->dns, s->ndns, out, 0);
        }
        if (n)
                return n;
        for (size_t i = 0; vs.n && i < vs.v[0]->natt; i++) {
                const struct ld_netspec *ns = &vs.v[0]->att[i]->net->spec;
                n = fwd_servers_add(f, ns->dns, ns->ndns, out, n);
        }
        if (n)
                return n;
defaults:
        for (int i = 0; i < f->ndefaults; i++) /* one may have become a network listener */
                if (!f->defaults[i]->self)
                        out[n++] = f->defaults[i];
        return n;
}

/* SERVFAIL now, without a slot: the budget or the view's share is spent (or no memory for
 * a slot). Never a hang. */
static void fwd_refuse(struct ld_forward *f, const struct ld_query *q, const struct ld_request *rq)
{
        struct ld_wire_question qn = {q->pkt + LD_DNS_HEADER, q->qend - LD_DNS_HEADER - 4, q->qtype,
                                      q->qclass};
        uint8_t out[LD_DNS_HEADER + LD_NAME_WIRE_MAX + 4 + LD_OPT_LEN];
        size_t n =
            fwd_error(q->id, q->rd, q->edns, q->edns_do, &qn, LD_RCODE_SERVFAIL, out, sizeof(out));

        f->eng->stats.forwarded++;
        f->eng->stats.forward_overflow++;
        f->eng->stats.forward_failed++; /* a SERVFAIL of ours, as when every server failed */
        if (n)
                ld_request_reply(rq, out, n);
}

void ld_forward_query(struct ld_forward *f, const struct ld_query *q, struct ld_viewset vs,
                      const struct ld_request *rq)
{
        bool tcp = rq->tcp;
        struct fwd_server *servers[FWD_MAX_SERVERS];
        uint32_t key = vs.n ? vs.v[0]->id : FWD_NO_VIEW;
        struct fwd_share *share;
        struct fwd_req *r;
        int n;

        share = fwd_share(f, key);
        /* the bound, or the view's share: SERVFAIL now, never a hang */
        if (!fwd_admit(f, share) || !(r = fwd_slot_get(f))) {
                fwd_refuse(f, q, rq);
                return;
        }
        r->f = f;
        ld_request_hold(&r->req, rq);
        ld_exchange_init(&r->x, f->pool);
        r->id = q->id;
        r->rd = q->rd;
        r->tcp = tcp;
        r->edns = q->edns;
        r->do_bit = q->edns_do;
        r->orphan = false;
        r->caps = false;
        r->sent = false;
        r->limit = tcp                             ? 65535
                   : !q->edns                      ? 512
                   : q->edns_udp < LD_EDNS_PAYLOAD ? q->edns_udp
                                                   : LD_EDNS_PAYLOAD;
        r->qlen = fwd_build(q, r->q);
        r->namelen = q->qend - LD_DNS_HEADER - 4;
        memcpy(r->name, r->q + LD_DNS_HEADER, r->namelen);
        r->last_rcode = 0;
        r->lastlen = 0;
        r->tried = 0;
        r->started = fwd_now(f);
        share->key = key;
        share->n++;
        r->key = key;
        LD_LIST_PUSH(f->reqs, r);
        f->inflight++;
        f->eng->stats.forwarded++;
        n = fwd_servers_for(f, vs, servers);
        fwd_order(r, servers, n);
        fwd_try(r);
}

void ld_forward_upstreams(struct ld_forward *f, struct ld_viewset vs, struct ld_cache_set *set)
{
        struct fwd_server *s[FWD_MAX_SERVERS];
        int n;

        if (fwd_defaults_serve(vs)) {
                *set = f->default_set;
                return;
        }
        n = fwd_servers_for(f, vs, s);
        fwd_set_of(s, n, set);
}

/* The defaults or the servers' self marks changed: the set of the usual view again. */
static void fwd_defaults_changed(struct ld_forward *f)
{
        struct fwd_server *s[FWD_MAX_SERVERS];

        fwd_set_of(s, fwd_servers_for(f, (struct ld_viewset){0}, s), &f->default_set);
}

static int fwd_resolv_conf(struct ld_endpoint *eps, size_t max)
{
        FILE *fp = fopen("/etc/resolv.conf", "re");
        char line[512], addr[128];
        size_t n = 0;

        if (!fp)
                return 0;
        while (n < max && fgets(line, sizeof(line), fp))
                if (sscanf(line, "nameserver %127s", addr) == 1 &&
                    ld_endpoint_parse(addr, 53, &eps[n]) == 0)
                        n++;
        fclose(fp);
        return (int)n;
}

int ld_forward_set_upstreams(struct ld_forward *f, const struct ld_endpoint *eps, size_t n)
{
        struct ld_endpoint conf[FWD_MAX_SERVERS];

        if (n == 0) {
                n = (size_t)fwd_resolv_conf(conf, FWD_MAX_SERVERS);
                eps = conf;
        }
        f->ndefaults = 0;
        for (size_t i = 0; i < n && i < FWD_MAX_SERVERS; i++)
                if ((f->defaults[f->ndefaults] = fwd_server_get(f, &eps[i])) &&
                    !f->defaults[f->ndefaults]->self)
                        f->ndefaults++;
        fwd_defaults_changed(f);
        return f->ndefaults;
}

/* The own addresses become the first at of them, then eps. */
static int fwd_self_put(struct ld_forward *f, size_t at, const struct ld_endpoint *eps, size_t n)
{
        struct ld_endpoint *ns = realloc(f->self, (at + n + 1) * sizeof(*ns));

        if (!ns)
                return -ENOMEM;
        memcpy(ns + at, eps, n * sizeof(*eps));
        f->self = ns;
        f->nself = at + n;
        return 0;
}

int ld_forward_add_self(struct ld_forward *f, const struct ld_endpoint *eps, size_t n)
{
        int rc = fwd_self_put(f, f->nself, eps, n);

        if (rc == 0)
                f->nfixed = f->nself;
        return rc;
}

int ld_forward_set_net_self(struct ld_forward *f, const struct ld_endpoint *eps, size_t n)
{
        int rc = fwd_self_put(f, f->nfixed, eps, n);

        if (rc < 0)
                return rc;
        for (struct fwd_server *s = f->servers; s; s = s->next) {
                bool self = fwd_is_self(f, &s->ep);
                if (self && !s->self) {
                        char buf[LD_ENDPOINT_STRLEN];
                        ld_endpoint_format(&s->ep, buf, sizeof(buf));
                        ld_warn("upstream %s is one of linkdnsd's own listening addresses: "
                                "ignored",
                                buf);
                }
                s->self = self;
        }
        fwd_defaults_changed(f);
        return 0;
}

int ld_forward_new(struct ev_loop *loop, struct ld_engine *eng, unsigned max_inflight,
                   struct ld_forward **out)
{
        struct ld_forward *f = calloc(1, sizeof(*f));
        uint32_t cap = 2;
        int rc;

        if (!f)
                return -ENOMEM;
        while (cap < 2 * (max_inflight + 1)) /* every view in flight, at most half full */
                cap *= 2;
        if ((rc = ld_xpool_new(loop, &f->pool)) < 0 ||
            !(f->shares = calloc(cap, sizeof(*f->shares))) ||
            ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
                ld_xpool_free(f->pool);
                free(f->shares);
                free(f);
                return rc < 0 ? rc : -ENOMEM;
        }
        f->mask = cap - 1;
        f->loop = loop;
        f->eng = eng;
        f->max = max_inflight;
        *out = f;
        return 0;
}

void ld_forward_free(struct ld_forward *f)
{
        if (!f)
                return;
        while (f->servers) {
                struct fwd_server *s = f->servers;
                f->servers = s->next;
                ld_evares_fini(&s->tcp);
                free(s);
        }
        while (f->reqs) { /* never sent (no server): nothing else will end them */
                f->reqs->orphan = true;
                fwd_finish(f->reqs, NULL, 0);
        }
        while (f->chunks) {
                struct fwd_chunk *c = f->chunks;
                f->chunks = c->next;
                free(c);
        }
        ares_library_cleanup();
        ld_xpool_free(f->pool);
        free(f->shares);
        free(f->self);
        free(f);
}
