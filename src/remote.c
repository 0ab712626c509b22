/* remote: containers on other hosts (add NAME --remote FQDN@PEER) — their addresses and SRV
 * ports asked of the peer (exchange.c: a random source port and ID per question and the
 * answer checked, as for forwarded queries, for these answers become container addresses),
 * cached for their TTL, refreshed before expiry, served stale for --stale seconds while the
 * peer is down, then SERVFAIL.
 *
 * SRV questions name any port, so what they make is bounded: at most REMOTE_MAX_SRV slots
 * per remote and REMOTE_MAX_SRV_ALL in all (a new one evicts the least recently asked slot
 * that no question waits on, else the question is dropped); a slot is refreshed only if a
 * question read it since the peer's last answer, a negative answer (the peer does not
 * publish the port) is never refreshed, and what nobody asks for is dropped when it
 * expires. A failed slot is retried with a growing delay, and only while asked for. */
#include "remote.h"

#include "client.h"
#include "exchange.h"
#include "log.h"
#include "list.h"
#include "engine.h"
#include "table.h"
#include "wire.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REMOTE_TICK 0.25
#define REMOTE_RETRY 0.5
#define REMOTE_NEG_TTL 10
#define REMOTE_MAX_HELD 1024
#define REMOTE_RETRY_MAX 30.0   /* a failing SRV slot's retries back off up to this */
#define REMOTE_MAX_SRV 64       /* SRV slots of one remote container */
#define REMOTE_MAX_SRV_ALL 4096 /* SRV slots of every remote container together */
#define REMOTE_TIMEOUT_MS                                                                          \
        500 /* one try: the retry tick asks again, so a peer back is seen soon                     \
             */

/* When each cached piece expires, is refreshed and goes stale; for an SRV slot also when a
 * question last read it, when the peer last answered (or failed to) and how often in a row
 * it failed. */
struct rtimes {
        double expires, refresh, stale_until;
        double used, got;
        unsigned tries;
        bool asking;
        bool woken; /* the peer answered while this was asked: a failure is not backed off */
};

struct rheld {
        struct rheld *next;
        struct ld_request req; /* its client held */
        ld_remote_rerun_fn rerun;
        void *arg;
        size_t len;
        uint8_t pkt[];
};

/* The peer of one remote container, found by the container's address in ld_remote.byc:
 * the model (table.h) keeps what the peer said (ld_rcache), not who asks it. */
struct rpeer {
        struct ld_hash_node hn;
        struct ld_remote *r;
        struct rpeer *prev, *next;
        struct ld_container *c;
        struct rask *asks; /* questions on their way */
        struct rtimes addr;
        struct rtimes *srv; /* parallel to c->remote->srv */
        size_t nlive;       /* live SRV slots */
        /* addresses being collected from the A and AAAA answers */
        struct ld_addr *fresh;
        size_t nfresh;
        int answers, failures;
        uint32_t min_ttl;
        struct rheld *held;
        size_t nheld;
};

/* One question to the peer. */
struct rask {
        struct ld_exchange x;
        struct rask *prev, *next;
        struct rpeer *p;
        int kind; /* LDNS_RR_TYPE_A, _AAAA or _SRV */
        size_t srv;
        size_t qlen;
        uint8_t q[]; /* the query as sent */
};

struct ld_remote {
        struct ev_loop *loop;
        struct ld_engine *eng;
        double stale;
        struct rpeer *peers;
        struct ld_hash byc;    /* the peers by container */
        size_t nsrv_all;       /* live SRV slots of every peer */
        struct ld_xpool *pool; /* the UDP sockets of the questions */
        ev_timer tick;
};

static struct rpeer *remote_peer(const struct ld_remote *r, const struct ld_container *c)
{
        return r ? (struct rpeer *)ld_hash_find_ptr(
                       &r->byc, c, offsetof(struct rpeer, c) - offsetof(struct rpeer, hn))
                 : NULL;
}

static double remote_now(const struct ld_remote *r)
{
        return ev_now(r->loop);
}

static void remote_times_ok(const struct ld_remote *r, struct rtimes *t, uint32_t ttl)
{
        double now = remote_now(r), refresh = ttl * 0.8;

        t->expires = now + ttl;
        t->refresh = now + (refresh < 1 ? 1 : refresh);
        t->stale_until = t->expires + r->stale;
}

/* The answer section's records of type IN owned by name: a record for another owner is not
 * the container's, whatever the peer put there. NULL when there are none. */
static ldns_rr_list *remote_records(const ldns_pkt *p, const char *name, uint16_t type)
{
        const ldns_rr_list *an = ldns_pkt_answer(p);
        ldns_rdf *owner = ldns_dname_new_frm_str(name);
        ldns_rr_list *out = NULL;

        for (size_t i = 0; owner && i < ldns_rr_list_rr_count(an); i++) {
                const ldns_rr *rr = ldns_rr_list_rr(an, i);
                if (ldns_rr_get_type(rr) != type || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
                    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
                        continue;
                ldns_rr *copy = ldns_rr_clone(rr);
                if (!out)
                        out = ldns_rr_list_new();
                if (!copy || !out || !ldns_rr_list_push_rr(out, copy)) {
                        ldns_rr_free(copy);
                        break;
                }
        }
        if (owner)
                ldns_rdf_deep_free(owner);
        return out;
}

/* The answer's records of type for the question's name, and the smallest TTL; a negative
 * answer has none and the SOA's TTL. Returns -1 for a failure (no answer, SERVFAIL...). */
static int remote_parse(const uint8_t *abuf, int alen, const char *name, uint16_t type,
                        ldns_rr_list **out, uint32_t *ttl)
{
        ldns_pkt *p = NULL;
        ldns_pkt_rcode rc;

        *out = NULL;
        *ttl = REMOTE_NEG_TTL;
        if (!abuf || ldns_wire2pkt(&p, abuf, (size_t)alen) != LDNS_STATUS_OK)
                return -1;
        rc = ldns_pkt_get_rcode(p);
        if (rc != LDNS_RCODE_NOERROR && rc != LDNS_RCODE_NXDOMAIN) {
                ldns_pkt_free(p);
                return -1;
        }
        *out = remote_records(p, name, type);
        for (size_t i = 0; *out && i < ldns_rr_list_rr_count(*out); i++) {
                uint32_t t = ldns_rr_ttl(ldns_rr_list_rr(*out, i));
                if (i == 0 || t < *ttl)
                        *ttl = t;
        }
        if (!*out && ldns_rr_list_rr_count(ldns_pkt_authority(p)))
                *ttl = ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(p), 0));
        ldns_pkt_free(p);
        return 0;
}

/* The peer did not answer: try again soon; past --stale (or never known), SERVFAIL. */
static void remote_failed(const struct ld_remote *r, struct rtimes *t, uint8_t *state)
{
        t->refresh = remote_now(r) + REMOTE_RETRY;
        if (*state != LD_RSTATE_OK || remote_now(r) >= t->stale_until)
                *state = LD_RSTATE_FAILED;
}

static void remote_ask_addrs(struct rpeer *p);
static void remote_ask_srv(struct rpeer *p, size_t i);

/* The peer answered: whatever had failed and is still asked for is asked again now, not
 * at its next retry. */
static void remote_wake(struct rpeer *p)
{
        struct ld_rcache *rc = p->c->remote;

        if (rc->state == LD_RSTATE_FAILED)
                remote_ask_addrs(p);
        for (size_t i = 0; i < rc->nsrv; i++)
                if (rc->srv[i].live && (rc->srv[i].state == LD_RSTATE_FAILED || p->srv[i].tries) &&
                    (rc->srv[i].wanted || p->srv[i].used >= p->srv[i].got)) {
                        p->srv[i].woken = p->srv[i].asking;
                        remote_ask_srv(p, i);
                }
}

static void remote_release(struct rpeer *p)
{
        struct rheld *h = p->held;

        p->held = NULL;
        p->nheld = 0;
        while (h) {
                struct rheld *next = h->next;
                h->rerun(h->arg, &h->req, h->pkt, h->len);
                ld_request_drop(&h->req);
                free(h);
                h = next;
        }
}

static void remote_addrs_done(struct rpeer *p)
{
        struct ld_rcache *rc = p->c->remote;
        struct ld_remote *r = p->r;

        p->addr.asking = false;
        if (p->failures == 2) { /* neither A nor AAAA: the peer is down */
                free(p->fresh);
                p->fresh = NULL;
                remote_failed(r, &p->addr, &rc->state);
        } else {
                free(rc->addrs);
                rc->addrs = p->fresh;
                rc->naddrs = p->nfresh;
                p->fresh = NULL;
                rc->state = LD_RSTATE_OK;
                remote_times_ok(r, &p->addr, p->min_ttl);
                ld_table_refresh(r->eng->table, p->c);
                remote_wake(p);
        }
        remote_release(p);
}

/* The A or AAAA answer (rc < 0: none came); both in, the addresses are replaced. */
static void remote_got_addrs(struct rpeer *p, int kind, int rc, ldns_rr_list *rrs, uint32_t ttl)
{
        if (rc < 0) {
                p->failures++;
        } else {
                size_t n = rrs ? ldns_rr_list_rr_count(rrs) : 0;
                struct ld_addr *na = realloc(p->fresh, (p->nfresh + n + 1) * sizeof(*na));
                if (na) {
                        p->fresh = na;
                        for (size_t i = 0; i < n; i++) {
                                const ldns_rdf *d = ldns_rr_rdf(ldns_rr_list_rr(rrs, i), 0);
                                struct ld_addr *ad = &p->fresh[p->nfresh++];
                                memset(ad, 0, sizeof(*ad));
                                ad->family = kind == LDNS_RR_TYPE_A ? AF_INET : AF_INET6;
                                memcpy(ad->bytes, ldns_rdf_data(d), ld_addr_len(ad));
                        }
                }
                if (ttl < p->min_ttl)
                        p->min_ttl = ttl;
        }
        if (++p->answers == 2)
                remote_addrs_done(p);
}

static void remote_cb(struct ld_exchange *x, int err, const uint8_t *ans, size_t len);

/* The query for name and kind: RD, and our OPT (a peer's many addresses need its payload). */
static struct rask *remote_query(const char *name, int kind)
{
        ldns_rdf *dn = ldns_dname_new_frm_str(name);
        struct rask *a = NULL;

        if (!dn)
                return NULL;
        /* in lower case: the answer must repeat the question byte for byte (exchange.c), and
         * a peer that does not keep the case of names would never be believed */
        ldns_dname2canonical(dn);
        struct ld_wire_question qn = {ldns_rdf_data(dn), ldns_rdf_size(dn), (uint16_t)kind,
                                      LDNS_RR_CLASS_IN};
        if ((a = calloc(1, sizeof(*a) + LD_DNS_HEADER + qn.namelen + 4 + LD_OPT_LEN)))
                a->qlen = ld_wire_query(a->q, &qn, false, false);
        ldns_rdf_deep_free(dn);
        return a;
}

/* The name asked for SRV entry i: _PORT._PROTO.FQDN. */
static void remote_srv_name(const struct rpeer *p, size_t i, char *name, size_t len)
{
        const struct ld_rsrv *s = &p->c->remote->srv[i];

        snprintf(name, len, "_%u._%s.%s", s->port, ld_proto_name(s->proto), p->c->spec.remote_fqdn);
}

static void remote_got(struct rpeer *p, int kind, size_t srv, int rc, ldns_rr_list *rrs,
                       uint32_t ttl);

static void remote_ask(struct rpeer *p, const char *name, int kind, size_t srv)
{
        struct rask *a = remote_query(name, kind);
        int rc;

        if (!a) { /* as if unanswered, so the lookup is not left "asking" for ever */
                remote_got(p, kind, srv, -ENOMEM, NULL, 0);
                return;
        }
        a->p = p;
        a->kind = kind;
        a->srv = srv;
        ld_exchange_init(&a->x, p->r->pool);
        LD_LIST_PUSH(p->asks, a);
        rc = ld_exchange_start(&a->x, &p->c->spec.remote_peer, a->q, a->qlen,
                               REMOTE_TIMEOUT_MS / 1000.0, remote_cb);
        if (rc < 0)
                remote_cb(&a->x, rc, NULL, 0); /* as if unanswered: asked again later */
}

static void remote_ask_addrs(struct rpeer *p)
{
        if (p->addr.asking)
                return;
        p->addr.asking = true;
        p->answers = p->failures = 0;
        p->nfresh = 0;
        p->min_ttl = UINT32_MAX;
        remote_ask(p, p->c->spec.remote_fqdn, LDNS_RR_TYPE_A, 0);
        remote_ask(p, p->c->spec.remote_fqdn, LDNS_RR_TYPE_AAAA, 0);
}

/* The SRV answer for entry i (rc < 0: none came). */
static void remote_got_srv(struct rpeer *p, size_t i, int rc, ldns_rr_list *rrs, uint32_t ttl)
{
        struct ld_rsrv *s = &p->c->remote->srv[i];
        struct rtimes *t = &p->srv[i];
        double backoff = REMOTE_RETRY;
        bool woken = t->woken;

        t->asking = t->woken = false;
        t->got = remote_now(p->r);
        if (s->wanted) /* asked for before this answer; the held questions below do not count */
                t->used = t->got;
        if (rc < 0) {
                remote_failed(p->r, t, &s->state);
                /* a question sent while the peer was down fails after it is back: the next
                 * retry is the first, not one backed off (a restarted peer seen late) */
                if (woken)
                        t->tries = 0;
                for (unsigned k = 0; k < t->tries && backoff < REMOTE_RETRY_MAX; k++)
                        backoff *= 2;
                t->refresh = t->got + (backoff < REMOTE_RETRY_MAX ? backoff : REMOTE_RETRY_MAX);
                t->tries++;
        } else {
                t->tries = 0;
                s->present = rrs && ldns_rr_list_rr_count(rrs);
                if (s->present)
                        s->hostport =
                            ldns_rdf2native_int16(ldns_rr_rdf(ldns_rr_list_rr(rrs, 0), 2));
                s->state = LD_RSTATE_OK;
                remote_times_ok(p->r, t, ttl);
                if (!s->present)
                        t->refresh = t->expires; /* negative: kept for its TTL, not refreshed */
                remote_wake(p);
        }
        remote_release(p);
        /* Not through s: the questions released may have grown (moved) the slots. (Slot i may
         * hold another port by now: its defer set its time.) */
        if (i < p->c->remote->nsrv)
                p->c->remote->srv[i].wanted = false;
}

static void remote_got(struct rpeer *p, int kind, size_t srv, int rc, ldns_rr_list *rrs,
                       uint32_t ttl)
{
        if (kind == LDNS_RR_TYPE_SRV)
                remote_got_srv(p, srv, rc, rrs, ttl);
        else
                remote_got_addrs(p, kind, rc, rrs, ttl);
}

/* Every answer from a peer: parsed once, then to the addresses or the SRV entry. */
static void remote_cb(struct ld_exchange *x, int err, const uint8_t *ans, size_t len)
{
        struct rask *ask = (struct rask *)(void *)((char *)x - offsetof(struct rask, x));
        struct rask a = *ask;
        ldns_rr_list *rrs = NULL;
        uint32_t ttl = 0;
        char name[512];
        int rc;

        LD_LIST_REMOVE(a.p->asks, ask);
        free(ask);
        if (a.kind == LDNS_RR_TYPE_SRV)
                remote_srv_name(a.p, a.srv, name, sizeof(name));
        else
                snprintf(name, sizeof(name), "%s", a.p->c->spec.remote_fqdn);
        rc = remote_parse(err ? NULL : ans, (int)len, name, (uint16_t)a.kind, &rrs, &ttl);
        remote_got(a.p, a.kind, a.srv, rc, rrs, ttl);
        if (rrs)
                ldns_rr_list_deep_free(rrs);
}

static void remote_ask_srv(struct rpeer *p, size_t i)
{
        char name[512];

        if (p->srv[i].asking)
                return;
        p->srv[i].asking = true;
        remote_srv_name(p, i, name, sizeof(name));
        remote_ask(p, name, LDNS_RR_TYPE_SRV, i);
}

/* Frees SRV entry i (never one being asked: its index is in a question in flight). */
static void remote_srv_drop(struct rpeer *p, size_t i)
{
        struct ld_rcache *rc = p->c->remote;

        memset(&rc->srv[i], 0, sizeof(rc->srv[i]));
        memset(&p->srv[i], 0, sizeof(p->srv[i]));
        p->nlive--;
        p->r->nsrv_all--;
        while (rc->nsrv > 0 && !rc->srv[rc->nsrv - 1].live)
                rc->nsrv--;
}

/* The least recently asked SRV entry that no question waits on: of only, or of every peer
 * (only NULL). False when every one is being asked. */
static bool remote_srv_lru(struct ld_remote *r, struct rpeer *only, struct rpeer **vp, size_t *vi)
{
        bool found = false;

        for (struct rpeer *p = only ? only : r->peers; p; p = only ? NULL : p->next) {
                for (size_t i = 0; i < p->c->remote->nsrv; i++) {
                        if (!p->c->remote->srv[i].live || p->srv[i].asking ||
                            (found && p->srv[i].used >= (*vp)->srv[*vi].used))
                                continue;
                        found = true;
                        *vp = p;
                        *vi = i;
                }
        }
        return found;
}

/* A free index in c->remote->srv and p->srv (both grown if none); -1 without memory. */
static long remote_srv_free_index(struct rpeer *p)
{
        struct ld_rcache *rc = p->c->remote;
        struct ld_rsrv *ns;
        struct rtimes *nt;

        for (size_t i = 0; i < rc->nsrv; i++)
                if (!rc->srv[i].live)
                        return (long)i;
        ns = realloc(rc->srv, (rc->nsrv + 1) * sizeof(*ns));
        if (ns)
                rc->srv = ns;
        nt = ns ? realloc(p->srv, (rc->nsrv + 1) * sizeof(*nt)) : NULL;
        if (!nt)
                return -1;
        p->srv = nt;
        memset(&ns[rc->nsrv], 0, sizeof(*ns));
        memset(&nt[rc->nsrv], 0, sizeof(*nt));
        return (long)rc->nsrv++;
}

/* The SRV entry for port/proto, made (pending) if new: past a cap, the least recently asked
 * entry goes; -1 when none can (all being asked) or without memory. */
static long remote_srv_slot(struct rpeer *p, uint16_t port, uint8_t proto)
{
        struct ld_remote *r = p->r;
        struct ld_rcache *rc = p->c->remote;
        bool full = p->nlive >= REMOTE_MAX_SRV;
        struct rpeer *vp = NULL;
        size_t vi = 0;
        long i;

        for (size_t k = 0; k < rc->nsrv; k++)
                if (rc->srv[k].live && rc->srv[k].port == port && rc->srv[k].proto == proto)
                        return (long)k;
        if (full || r->nsrv_all >= REMOTE_MAX_SRV_ALL) {
                if (!remote_srv_lru(r, full ? p : NULL, &vp, &vi))
                        return -1;
                remote_srv_drop(vp, vi);
        }
        if ((i = remote_srv_free_index(p)) < 0)
                return -1;
        rc->srv[i].port = port;
        rc->srv[i].proto = proto;
        rc->srv[i].live = true;
        p->srv[i].used = remote_now(r);
        p->nlive++;
        r->nsrv_all++;
        return i;
}

/* SRV entry i at its refresh time: asked again only when a question read it since the
 * peer's last answer (or failure) and it was no negative answer; otherwise dropped, a
 * positive one when it expires. */
static void remote_tick_srv(struct rpeer *p, size_t i, double now)
{
        struct ld_rsrv *s = &p->c->remote->srv[i];
        struct rtimes *t = &p->srv[i];

        if (!s->live)
                return;
        if (s->wanted) {
                t->used = now;
                s->wanted = false;
        }
        if (s->state == LD_RSTATE_OK && now >= t->stale_until)
                s->state = LD_RSTATE_FAILED;
        if (t->asking || now < t->refresh)
                return;
        if (t->used >= t->got && (s->present || t->tries))
                remote_ask_srv(p, i);
        else if (!s->present || t->tries || now >= t->expires)
                remote_srv_drop(p, i);
}

/* Refreshes what is due and marks what has gone stale. */
static void remote_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct ld_remote *r = w->data;
        double now = ev_now(loop);
        (void)revents;

        for (struct rpeer *p = r->peers; p; p = p->next) {
                struct ld_rcache *rc = p->c->remote;
                if (rc->state == LD_RSTATE_OK && now >= p->addr.stale_until)
                        rc->state = LD_RSTATE_FAILED;
                if (now >= p->addr.refresh)
                        remote_ask_addrs(p);
                for (size_t i = 0; i < rc->nsrv; i++)
                        remote_tick_srv(p, i, now);
        }
}

void ld_remote_attach(struct ld_remote *r, struct ld_container *c)
{
        struct rpeer *p;

        if (!r || !c->remote || remote_peer(r, c))
                return;
        if (!(p = calloc(1, sizeof(*p))))
                return;
        p->r = r;
        p->c = c;
        if (ld_hash_insert(&r->byc, &p->hn, ld_hash_ptr(c)) < 0) {
                free(p);
                return;
        }
        /* A registration attached afresh has no SRV slots yet: questions make them (one
         * carried over a reload keeps its peer, remote_carry, and never comes here). */
        c->remote->nsrv = 0;
        LD_LIST_PUSH(r->peers, p);
        remote_ask_addrs(p);
}

void ld_remote_detach(struct ld_remote *r, struct ld_container *c)
{
        struct rpeer *p = remote_peer(r, c);

        if (!p)
                return;
        while (p->asks) {
                struct rask *a = p->asks;
                p->asks = a->next;
                ld_exchange_cancel(&a->x);
                free(a);
        }
        while (p->held) {
                struct rheld *h = p->held;
                p->held = h->next;
                ld_request_drop(&h->req);
                free(h);
        }
        LD_LIST_REMOVE(r->peers, p);
        ld_hash_remove(&r->byc, &p->hn);
        r->nsrv_all -= p->nlive;
        free(p->fresh);
        free(p->srv);
        free(p);
}

/* A reload's registration of the same remote takes over the old one's caches and peer, its
 * times and the questions in flight with it: nothing is copied or asked again. */
static void remote_carry(struct ld_remote *r, struct ld_table *t, struct ld_container *c,
                         struct ld_container *oc)
{
        struct ld_rcache *n = c->remote, *o = oc->remote;
        struct rpeer *p = remote_peer(r, oc);

        if (!o || !n || remote_peer(r, c) ||
            strcmp(oc->spec.remote_fqdn, c->spec.remote_fqdn) != 0 ||
            !ld_addr_equal(&oc->spec.remote_peer.addr, &c->spec.remote_peer.addr) ||
            oc->spec.remote_peer.port != c->spec.remote_peer.port)
                return;
        free(n->addrs);
        free(n->srv);
        *n = *o;
        memset(o, 0, sizeof(*o));
        if (p) { /* found by its new container from now on */
                ld_hash_remove(&r->byc, &p->hn);
                p->c = c;
                /* cannot fail: one node out, one in, so the table does not grow */
                (void)ld_hash_insert(&r->byc, &p->hn, ld_hash_ptr(c));
        }
        if (n->naddrs)
                ld_table_refresh(t, c); /* the views were built before it had addresses */
}

void ld_remote_sync(struct ld_remote *r, struct ld_table *t, struct ld_table *old)
{
        if (!r)
                return;
        for (struct ld_container *c = old ? old->head : NULL; c; c = c->next) {
                struct ld_container *nc = c->remote ? ld_table_find(t, c->spec.name) : NULL;
                if (nc && nc->remote)
                        remote_carry(r, t, nc, c);
                ld_remote_detach(r, c);
        }
        for (struct ld_container *c = t->head; c; c = c->next)
                ld_remote_attach(r, c);
}

void ld_remote_defer(struct ld_remote *r, struct ld_container *c, uint16_t port, uint8_t proto,
                     const struct ld_request *rq, const uint8_t *pkt, size_t len,
                     ld_remote_rerun_fn rerun, void *arg)
{
        struct rpeer *p = remote_peer(r, c);
        struct rheld *h;
        long i;

        if (!p || p->nheld >= REMOTE_MAX_HELD || !(h = malloc(sizeof(*h) + len)))
                return; /* dropped: the client asks again */
        if (port) {
                if ((i = remote_srv_slot(p, port, proto)) < 0) {
                        free(h);
                        return;
                }
                remote_ask_srv(p, (size_t)i);
        } else {
                remote_ask_addrs(p);
        }
        ld_request_hold(&h->req, rq);
        h->rerun = rerun;
        h->arg = arg;
        h->len = len;
        memcpy(h->pkt, pkt, len);
        h->next = p->held;
        p->held = h;
        p->nheld++;
}

int ld_remote_new(struct ev_loop *loop, struct ld_engine *eng, double stale, struct ld_remote **out)
{
        struct ld_remote *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        if (ld_hash_init(&r->byc) < 0 || ld_xpool_new(loop, &r->pool) < 0) {
                ld_hash_fini(&r->byc);
                free(r);
                return -ENOMEM;
        }
        r->loop = loop;
        r->eng = eng;
        r->stale = stale;
        ev_timer_init(&r->tick, remote_tick_cb, REMOTE_TICK, REMOTE_TICK);
        r->tick.data = r;
        ev_timer_start(loop, &r->tick);
        *out = r;
        return 0;
}

void ld_remote_free(struct ld_remote *r)
{
        if (!r)
                return;
        while (r->peers)
                ld_remote_detach(r, r->peers->c);
        ev_timer_stop(r->loop, &r->tick);
        ld_xpool_free(r->pool);
        ld_hash_fini(&r->byc);
        free(r);
}
