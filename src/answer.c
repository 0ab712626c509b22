/* answer: builds the reply to one parsed query from the view's prepared records, in wire
 * form, without allocation; decides what is authoritative here and what goes upstream. */
#include "answer.h"

#include "reverse.h"
#include "table.h"
#include "wire.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <string.h>

enum {
        T_A = 1,
        T_NS = 2,
        T_CNAME = 5,
        T_SOA = 6,
        T_PTR = 12,
        T_AAAA = 28,
        T_SRV = 33,
        T_ANY = 255
};
enum { T_IXFR = 251, T_AXFR = 252 };
enum { C_IN = 1, C_ANY = 255 };
enum { SEC_AN, SEC_NS, SEC_AR };
enum { ZONE_BARE = -2, ZONE_D = -1 };

/* What one name matched for a view: the view's own entry (its name, links), else the
 * entries of the asker's networks holding it (names win over aliases). The targets are
 * t[0..nt) and, when several networks hold the name as an alias, the holders of more[]
 * not already seen. */
struct match {
        const struct ld_container *asker;
        struct ld_container *const *t;
        size_t nt;
        const struct ld_nname *const *more;
        size_t nmore;
        bool plain;         /* no network involved: every address of t[] (match_plain) */
        const char *label;  /* the SRV target, under dom */
        const uint8_t *dom; /* NULL: D */
        uint8_t dom_len;
        struct ld_container *named; /* a network name's container (t points here) */
        const struct ld_nname *ne[LD_ATTACH_MAX];
};

/* The reply being written: bounded by limit, which leaves room for the OPT record. */
struct ans {
        const struct ld_answer_cfg *cfg;
        const struct ld_query *q;
        uint8_t *buf;
        size_t len, limit;
        uint16_t count[3];
        uint8_t rcode;
        bool aa, tc;
        size_t domain_off;   /* where the zone's apex stands in the reply, 0 until written */
        const uint8_t *zone; /* the zone asked: D, or a network's --domain */
        uint8_t zone_len, zone_labels;
        int zone_dom; /* ZONE_BARE, ZONE_D or a network domain's slot */
        uint32_t rotate;
        struct ld_container *defer; /* a remote whose peer must answer first */
        uint16_t defer_port;
        uint8_t defer_proto;
};

static bool put(struct ans *a, const void *p, size_t n)
{
        if (a->len + n > a->limit)
                return false;
        memcpy(a->buf + a->len, p, n);
        a->len += n;
        return true;
}

static bool put16(struct ans *a, uint16_t v)
{
        uint8_t b[2];

        ld_wr16(b, v);
        return put(a, b, 2);
}

static bool put32(struct ans *a, uint32_t v)
{
        return put16(a, (uint16_t)(v >> 16)) && put16(a, (uint16_t)v);
}

static bool put_ptr(struct ans *a, size_t off)
{
        return put16(a, (uint16_t)(0xc000 | off));
}

/* Type, class IN, TTL and RDLENGTH after an owner name. */
static bool put_rr(struct ans *a, uint16_t type, uint32_t ttl, uint16_t rdlen)
{
        return put16(a, type) && put16(a, C_IN) && put32(a, ttl) && put16(a, rdlen);
}

/* Ends one record: counted if it fitted, else rolled back. A dropped answer (or authority)
 * record sets TC; dropped additional records do not (RFC 2181 9). */
static bool rr_end(struct ans *a, int sec, size_t start, bool ok)
{
        if (ok && !a->tc) {
                a->count[sec]++;
                return true;
        }
        a->len = start;
        if (sec != SEC_AR)
                a->tc = true;
        return false;
}

/* The local domain D as an owner or RDATA name: a pointer once it stands in the reply. */
static bool put_domain(struct ans *a)
{
        if (a->domain_off)
                return put_ptr(a, a->domain_off);
        size_t off = a->len;
        if (!put(a, a->zone, a->zone_len))
                return false;
        if (off < 0x4000)
                a->domain_off = off;
        return true;
}

static bool put_label(struct ans *a, const char *label)
{
        uint8_t len = (uint8_t)strlen(label);
        return put(a, &len, 1) && put(a, label, len);
}

static void add_soa(struct ans *a, int sec)
{
        const struct ld_answer_cfg *c = a->cfg;
        size_t start = a->len, rdlen_at;
        bool ok = put_domain(a) && put_rr(a, T_SOA, c->ttl, 0);

        rdlen_at = a->len - 2;
        ok = ok && put_domain(a) && put_label(a, "hostmaster") && put_domain(a) &&
             put32(a, c->serial) && put32(a, c->ttl) && put32(a, c->ttl) && put32(a, 604800) &&
             put32(a, c->ttl);
        if (ok) {
                size_t rdlen = a->len - rdlen_at - 2;
                a->buf[rdlen_at] = (uint8_t)(rdlen >> 8);
                a->buf[rdlen_at + 1] = (uint8_t)rdlen;
        }
        rr_end(a, sec, start, ok);
}

static void add_ns(struct ans *a)
{
        size_t start = a->len;
        bool ok = put_ptr(a, LD_DNS_HEADER) && put_rr(a, T_NS, a->cfg->ttl, 2) && put_domain(a);
        rr_end(a, SEC_AN, start, ok);
}

/* The SOA of a local zone (localhost, RFC 6303) whose apex stands in the question. */
static void add_local_soa(struct ans *a, size_t apex, int sec)
{
        static const uint8_t rname[] = "\6nobody\7invalid";
        size_t start = a->len;
        bool ok = put_ptr(a, apex) && put_rr(a, T_SOA, a->cfg->ttl, 2 + sizeof(rname) + 20) &&
                  put_ptr(a, apex) && put(a, rname, sizeof(rname)) && put32(a, 1) &&
                  put32(a, 604800) && put32(a, 86400) && put32(a, 2419200) && put32(a, a->cfg->ttl);
        rr_end(a, sec, start, ok);
}

static void negative(struct ans *a, uint8_t rcode)
{
        a->rcode = rcode;
        a->aa = true;
        add_soa(a, SEC_NS);
}

/* Each walk over a match's targets has a stamp of its own: a target meets it once, so
 * that one held by several of the asker's networks counts once, in time linear in the
 * holders (a walk never starts inside another: the loop runs one answer at a time). */
static uint64_t match_walks;

/* body for each target tv of the match, once each. */
#define MATCH_EACH(m, tv, body)                                                                    \
        do {                                                                                       \
                uint64_t w_ = ++match_walks;                                                       \
                for (size_t k_ = 0; k_ < (m)->nt; k_++) {                                          \
                        struct ld_container *tv = (m)->t[k_];                                      \
                        tv->walk = w_;                                                             \
                        body                                                                       \
                }                                                                                  \
                for (size_t j_ = 0; j_ < (m)->nmore; j_++)                                         \
                        for (uint32_t k_ = 0; k_ < (m)->more[j_]->naliased; k_++) {                \
                                struct ld_container *tv = (m)->more[j_]->aliased[k_];              \
                                if (tv->walk == w_)                                                \
                                        continue;                                                  \
                                tv->walk = w_;                                                     \
                                body                                                               \
                        }                                                                          \
        } while (0)

/* body for each address of family the asker sees over the match's targets. */
#define MATCH_ADDRS(m, family, ad, body)                                                           \
        MATCH_EACH(m, t_, {                                                                        \
                size_t na_;                                                                        \
                const struct ld_addr *as_ = ld_container_addrs(t_, &na_);                          \
                bool sh_ = (m)->asker->natt && t_->natt && ld_container_share((m)->asker, t_);     \
                for (size_t i_ = 0; i_ < na_; i_++) {                                              \
                        const struct ld_addr *ad = &as_[i_];                                       \
                        if (ad->family != (family) ||                                              \
                            (sh_ && !ld_container_sees((m)->asker, t_, i_, sh_)))                  \
                                continue;                                                          \
                        body                                                                       \
                }                                                                                  \
        })

/* A match that no network touches: every address of every target (the links' case,
 * kept as lean as before networks: the hot path). */
static inline bool match_plain(const struct match *m)
{
        return m->plain;
}

static size_t plain_count(struct ld_container *const *t, size_t nt, uint8_t family)
{
        size_t n = 0;

        for (size_t k = 0; k < nt; k++) {
                size_t na;
                const struct ld_addr *addrs = ld_container_addrs(t[k], &na);
                for (size_t i = 0; i < na; i++)
                        n += addrs[i].family == family;
        }
        return n;
}

static inline size_t targets_count(const struct match *m, uint8_t family)
{
        size_t n = 0;

        if (match_plain(m))
                return plain_count(m->t, m->nt, family);
        MATCH_ADDRS(m, family, ad, {
                (void)ad;
                n++;
        });
        return n;
}

/* One A or AAAA record whose owner is the name at owner_off. */
static bool add_addr(struct ans *a, int sec, size_t owner_off, const struct ld_addr *ad)
{
        size_t start = a->len, alen = ld_addr_len(ad);
        bool ok = put_ptr(a, owner_off) &&
                  put_rr(a, ad->family == AF_INET ? T_A : T_AAAA, a->cfg->ttl, (uint16_t)alen) &&
                  put(a, ad->bytes, alen);
        return rr_end(a, sec, start, ok);
}

/* Every address of family over the targets, starting at a rotating one so that
 * clients spread over replicas and addresses. */
static void add_addrs(struct ans *a, int sec, size_t owner_off, const struct match *m,
                      uint8_t family)
{
        size_t total = targets_count(m, family), skip;
        bool plain;

        if (total == 0)
                return;
        skip = sec == SEC_AN ? a->rotate % total : 0;
        plain = match_plain(m);
        for (size_t pass = 0; pass < 2 && plain; pass++) {
                size_t k = 0;
                for (size_t t = 0; t < m->nt; t++) {
                        size_t na;
                        const struct ld_addr *addrs = ld_container_addrs(m->t[t], &na);
                        for (size_t i = 0; i < na; i++) {
                                if (addrs[i].family != family)
                                        continue;
                                bool mine = pass == 0 ? k >= skip : k < skip;
                                k++;
                                if (mine && !add_addr(a, sec, owner_off, &addrs[i]))
                                        return;
                        }
                }
        }
        for (size_t pass = 0; pass < 2 && !plain; pass++) {
                size_t k = 0;
                bool full = false;
                MATCH_ADDRS(m, family, ad, {
                        bool mine = pass == 0 ? k >= skip : k < skip;
                        k++;
                        if (!full && mine && !add_addr(a, sec, owner_off, ad))
                                full = true;
                });
                if (full)
                        return;
        }
}

enum srv_found { SRV_NONE, SRV_FOUND, SRV_WAIT, SRV_FAIL };

static bool exposes(const struct ld_container *c, uint16_t port, uint8_t proto)
{
        const struct ld_spec *s = &c->spec;

        for (size_t i = 0; i < s->nexpose; i++)
                if (s->expose[i].port == port && s->expose[i].proto == proto)
                        return true;
        for (size_t i = 0; i < s->npublish; i++)
                if (s->publish[i].port.port == port && s->publish[i].port.proto == proto)
                        return true;
        return false;
}

static bool target_exposes(const struct ld_container *t, uint16_t port, uint8_t proto)
{
        const struct ld_spec *s = &t->spec;

        if (t->remote)
                return true; /* what a peer publishes is asked port by port */
        if (port)
                return exposes(t, port, proto);
        for (size_t k = 0; k < s->nexpose; k++)
                if (s->expose[k].proto == proto)
                        return true;
        for (size_t k = 0; k < s->npublish; k++)
                if (s->publish[k].port.proto == proto)
                        return true;
        return false;
}

static bool any_exposes(const struct match *m, uint16_t port, uint8_t proto)
{
        bool found = false;

        MATCH_EACH(m, t, { found = found || target_exposes(t, port, proto); });
        return found;
}

/* The port an SRV answer names for port/proto: the port itself for a local target, the
 * peer's published host port for a remote one. */
static enum srv_found srv_port_of(struct ans *a, struct ld_container *t, uint16_t port,
                                  uint8_t proto, uint16_t *out)
{
        {
                struct ld_rsrv *r = t->remote ? ld_rcache_srv(t, port, proto) : NULL;
                if (r)
                        r->wanted = true; /* kept and refreshed only while asked for */
                if (!t->remote && exposes(t, port, proto)) {
                        *out = port;
                        return SRV_FOUND;
                }
                if (t->remote && (!r || r->state == LD_RSTATE_PENDING)) {
                        a->defer = t;
                        a->defer_port = port;
                        a->defer_proto = proto;
                        return SRV_WAIT;
                }
                if (r && r->state == LD_RSTATE_FAILED)
                        return SRV_FAIL;
                if (r && r->present) {
                        *out = r->hostport;
                        return SRV_FOUND;
                }
        }
        return SRV_NONE;
}

static enum srv_found srv_port(struct ans *a, const struct match *m, uint16_t port, uint8_t proto,
                               uint16_t *out)
{
        enum srv_found found = SRV_NONE;

        MATCH_EACH(m, t, {
                if (found == SRV_NONE)
                        found = srv_port_of(a, t, port, proto, out);
        });
        return found;
}

static const uint8_t *label_at(const struct ans *a, size_t i)
{
        return a->q->lname + a->q->label_off[i];
}

static bool label_is(const uint8_t *label, const char *s)
{
        return label[0] == strlen(s) && memcmp(label + 1, s, label[0]) == 0;
}

/* "_tcp" or "_udp" -> proto; -1 otherwise. */
static int label_proto(const uint8_t *label)
{
        if (label_is(label, "_tcp"))
                return LD_PROTO_TCP;
        return label_is(label, "_udp") ? LD_PROTO_UDP : -1;
}

/* "_5432" or "_postgresql" -> the port, 0 when neither. */
static uint16_t label_port(const struct ans *a, const uint8_t *label, uint8_t proto)
{
        uint16_t port;

        if (label[0] < 2 || label[1] != '_')
                return 0;
        if (ld_port_parse((const char *)label + 2, label[0] - 1u, &port) == 0)
                return port;
        return ld_services_port(a->cfg->services, proto, (const char *)label + 2, label[0] - 1u);
}

/* Remote targets: wait for a peer that has not answered yet; SERVFAIL when it is down past
 * --stale and nothing else answers. Returns false when the answer stops here. */
static bool remote_ready(struct ans *a, const struct match *m)
{
        bool failed = false, have = false;
        struct ld_container *pending = NULL;

        for (size_t k = 0; k < m->nt; k++) {
                const struct ld_rcache *r = m->t[k]->remote;
                if (r && r->state == LD_RSTATE_PENDING) {
                        a->defer = m->t[k];
                        return false;
                }
                failed = failed || (r && r->state == LD_RSTATE_FAILED);
                have = have || !r || r->state == LD_RSTATE_OK;
        }
        if (m->nmore)
                MATCH_EACH(m, t, {
                        const struct ld_rcache *r = t->remote;
                        if (r && r->state == LD_RSTATE_PENDING && !pending)
                                pending = t;
                        failed = failed || (r && r->state == LD_RSTATE_FAILED);
                        have = have || !r || r->state == LD_RSTATE_OK;
                });
        if (pending) {
                a->defer = pending;
                return false;
        }
        if (failed && !have) {
                a->rcode = LD_RCODE_SERVFAIL;
                return false;
        }
        return true;
}

static void answer_addresses(struct ans *a, const struct match *m)
{
        uint16_t qt = a->q->qtype;
        bool any = qt == T_ANY;

        if (!remote_ready(a, m))
                return;
        a->aa = true;
        if (qt == T_A || (any && targets_count(m, AF_INET)))
                add_addrs(a, SEC_AN, LD_DNS_HEADER, m, AF_INET);
        else if (qt == T_AAAA || any)
                add_addrs(a, SEC_AN, LD_DNS_HEADER, m, AF_INET6);
        if (a->count[SEC_AN] == 0 && !a->tc)
                negative(a, LD_RCODE_NOERROR);
}

/* Dotted text as wire labels (no root). */
static bool put_text(struct ans *a, const char *text)
{
        if (!strchr(text, '.'))
                return put_label(a, text);
        for (const char *p = text; *p;) {
                const char *dot = strchr(p, '.');
                size_t l = dot ? (size_t)(dot - p) : strlen(p);
                uint8_t len = (uint8_t)l;
                if (!put(a, &len, 1) || !put(a, p, l))
                        return false;
                p += l + (dot ? 1 : 0);
        }
        return true;
}

/* SRV 0 0 PORT N.D. with the targets' addresses in the additional section. */
static void answer_srv(struct ans *a, const struct match *m, uint16_t port)
{
        size_t start = a->len, target_off, rdlen_at;
        bool ok;

        a->aa = true;
        if (a->q->qtype != T_SRV && a->q->qtype != T_ANY) {
                negative(a, LD_RCODE_NOERROR);
                return;
        }
        /* RFC 2782: the target is never compressed; later owners may point at it. */
        ok = put_ptr(a, LD_DNS_HEADER) && put_rr(a, T_SRV, a->cfg->ttl, 0);
        rdlen_at = a->len - 2;
        ok = ok && put16(a, 0) && put16(a, 0) && put16(a, port);
        target_off = a->len;
        ok = ok && put_text(a, m->label) &&
             (m->dom ? put(a, m->dom, m->dom_len) : put(a, a->cfg->domain, a->cfg->domain_len));
        if (ok) {
                size_t rdlen = a->len - rdlen_at - 2;
                a->buf[rdlen_at] = (uint8_t)(rdlen >> 8);
                a->buf[rdlen_at + 1] = (uint8_t)rdlen;
        }
        if (!rr_end(a, SEC_AN, start, ok))
                return;
        if (target_off >= 0x4000)
                return;
        add_addrs(a, SEC_AR, target_off, m, AF_INET);
        add_addrs(a, SEC_AR, target_off, m, AF_INET6);
}

static const uint8_t *net_domain(const struct ans *a, const struct ld_net *n, uint8_t *len)
{
        if (n->dom < 0) {
                *len = a->cfg->domain_len;
                return a->cfg->domain;
        }
        *len = a->cfg->views->doms[n->dom].len;
        return a->cfg->views->doms[n->dom].wire;
}

/* A network whose --domain spells the daemon's own, asked under D. */
static bool net_in_d(const struct ans *a, const struct ld_net *n)
{
        const struct ld_vdom *d = n->dom >= 0 ? &a->cfg->views->doms[n->dom] : NULL;

        return a->zone_dom == ZONE_D && d && d->len == a->cfg->domain_len &&
               memcmp(d->wire, a->cfg->domain, d->len) == 0;
}

/* The key at labels [from, rel) of the question, looked up in one view. */
static bool match_view(const struct ans *a, const struct ld_container *c, const uint8_t *key,
                       size_t len, struct match *m)
{
        const struct ld_vname *ve = NULL;
        size_t nn = 0;

        m->asker = c;
        m->nmore = 0;
        if (a->zone_dom < 0) { /* ZONE_BARE or ZONE_D: the view's own names */
                ve = ld_view_name(a->cfg->views, c->id, key, len);
                if (ve && ve->ntargets) {
                        m->plain = c->natt == 0;
                        m->t = ve->targets;
                        m->nt = ve->ntargets;
                        m->label = ve->label;
                        m->dom = NULL; /* D */
                        return true;
                }
        }
        m->nt = 0;
        m->named = NULL;
        m->plain = c->natt == 0; /* a link's empty parent, or nothing */
        for (size_t i = 0; i < c->natt; i++) {
                const struct ld_net *n = c->att[i]->net;
                const struct ld_nname *e;
                if (a->zone_dom != ZONE_BARE && n->dom != a->zone_dom && !net_in_d(a, n))
                        continue;
                if (!(e = ld_view_nname(a->cfg->views, n->id, key, len)))
                        continue;
                if (nn == 0 || (e->named && !m->named)) {
                        m->label = e->label;
                        m->dom = net_domain(a, n, &m->dom_len);
                }
                if (e->named && !m->named)
                        m->named = e->named;
                m->ne[nn++] = e;
        }
        if (m->named) { /* a container's name wins over others' aliases */
                m->t = &m->named;
                m->nt = 1;
        } else if (nn) {
                m->t = m->ne[0]->aliased;
                m->nt = m->ne[0]->naliased;
                m->more = m->ne + 1;
                m->nmore = nn - 1;
        } else if (ve) { /* the empty parent of a link's multi-label alias */
                m->label = ve->label;
                m->dom = NULL;
        }
        return nn || ve;
}

static bool view_lookup(const struct ans *a, struct ld_viewset vs, size_t from, size_t end,
                        struct match *m)
{
        size_t off = a->q->label_off[from];

        if (end - off > LD_KEY_MAX)
                return false;
        for (size_t i = 0; i < vs.n; i++)
                if (match_view(a, vs.v[i], a->q->lname + off, end - off, m))
                        return true;
        return false;
}

/* rel labels before the zone (or the whole name): the longest suffix the view holds is a
 * name; what stands before it is SRV labels or nothing of ours. */
static bool answer_view_name(struct ans *a, struct ld_viewset vs, size_t rel, bool under_domain)
{
        struct match m;
        size_t k = rel > a->cfg->views->max_labels ? rel - a->cfg->views->max_labels : 0;
        int proto;
        uint16_t port;

        size_t end = rel < a->q->nlabels ? a->q->label_off[rel] : a->q->qname_len - 1u;

        while (k < rel && !view_lookup(a, vs, k, end, &m))
                k++;
        if (k == rel) {
                if (under_domain)
                        negative(a, LD_RCODE_NXDOMAIN);
                return under_domain;
        }
        if (k == 0) {
                answer_addresses(a, &m);
                return true;
        }
        proto = k <= 2 ? label_proto(label_at(a, k - 1)) : -1;
        if (proto < 0) {
                negative(a, LD_RCODE_NXDOMAIN);
        } else if (k == 1) {
                negative(a,
                         any_exposes(&m, 0, (uint8_t)proto) ? LD_RCODE_NOERROR : LD_RCODE_NXDOMAIN);
        } else {
                uint16_t answer_port = 0;
                port = label_port(a, label_at(a, 0), (uint8_t)proto);
                switch (port ? srv_port(a, &m, port, (uint8_t)proto, &answer_port) : SRV_NONE) {
                case SRV_FOUND:
                        if (remote_ready(a, &m))
                                answer_srv(a, &m, answer_port);
                        break;
                case SRV_NONE:
                        negative(a, LD_RCODE_NXDOMAIN);
                        break;
                case SRV_FAIL:
                        a->rcode = LD_RCODE_SERVFAIL;
                        break;
                case SRV_WAIT:
                        break;
                }
        }
        return true;
}

static void answer_apex(struct ans *a)
{
        a->aa = true;
        if (a->q->qtype == T_SOA || a->q->qtype == T_ANY)
                add_soa(a, SEC_AN);
        else if (a->q->qtype == T_NS)
                add_ns(a);
        else
                negative(a, LD_RCODE_NOERROR);
}

static void answer_ptr(struct ans *a, const char *label, const uint8_t *dom, uint8_t dom_len)
{
        size_t start = a->len;
        uint16_t rdlen = (uint16_t)(1 + strlen(label) + dom_len);
        bool ok = put_ptr(a, LD_DNS_HEADER) && put_rr(a, T_PTR, a->cfg->ttl, rdlen) &&
                  put_text(a, label) && put(a, dom, dom_len);

        a->aa = true;
        rr_end(a, SEC_AN, start, ok);
}

static void local_negative(struct ans *a, uint8_t rcode, size_t apex)
{
        a->rcode = rcode;
        a->aa = true;
        add_local_soa(a, LD_DNS_HEADER + apex, SEC_NS);
}

/* Reverse names: the view's own and linked addresses; container addresses of other views
 * and private ranges end here (NXDOMAIN), everything else is forwarded. */
static bool answer_reverse(struct ans *a, struct ld_viewset vs, const struct ld_reverse *r)
{
        for (size_t i = 0; r->full && i < vs.n; i++) {
                const struct ld_vptr *p = ld_view_ptr(a->cfg->views, vs.v[i]->id, &r->addr);
                const char *label = p ? p->label : NULL;
                const uint8_t *dom = a->cfg->domain;
                uint8_t dom_len = a->cfg->domain_len;
                /* else the first of its networks, in attach order, that reaches it */
                for (size_t k = 0; !label && k < vs.v[i]->natt; k++) {
                        const struct ld_net *n = vs.v[i]->att[k]->net;
                        const struct ld_nptr *np = ld_view_nptr(a->cfg->views, n->id, &r->addr);
                        if (np) {
                                label = np->att->c->spec.name;
                                dom = net_domain(a, n, &dom_len);
                        }
                }
                if (!label)
                        continue;
                if (a->q->qtype == T_PTR || a->q->qtype == T_ANY)
                        answer_ptr(a, label, dom, dom_len);
                else
                        negative(a, LD_RCODE_NOERROR);
                return true;
        }
        if (r->local) {
                if (r->apex && a->q->qtype == T_SOA) {
                        a->aa = true;
                        add_local_soa(a, LD_DNS_HEADER + r->apex_off, SEC_AN);
                } else {
                        local_negative(a, r->apex ? LD_RCODE_NOERROR : LD_RCODE_NXDOMAIN,
                                       r->apex_off);
                }
                return true;
        }
        if (r->full && ld_views_owner(a->cfg->views, &r->addr)) {
                a->rcode = LD_RCODE_NXDOMAIN;
                a->aa = true;
                return true;
        }
        return false;
}

/* Records prepared as TYPE..RDATA blobs, each behind an owner pointer. */
static void add_rrset(struct ans *a, int sec, size_t owner_off, const struct ld_rrset *s)
{
        for (const uint8_t *p = s->wire, *end = s->wire + s->len; p + 10 <= end;) {
                size_t n = 10u + (size_t)(p[8] << 8 | p[9]), start = a->len;
                bool ok = put_ptr(a, owner_off) && put(a, p, n);
                if (!rr_end(a, sec, start, ok))
                        return;
                p += n;
        }
}

/* Static zones: authoritative for every view, after link names, before forwarding. */
static bool answer_static(struct ans *a, const struct ld_zones *zones)
{
        const struct ld_query *q = a->q;
        const struct ld_zone *z = ld_zones_match(zones, q);
        const struct ld_zname *n;
        const struct ld_rrset *s = NULL;

        if (!z)
                return false;
        n = ld_zones_name(zones, q);
        a->aa = true;
        if (n && q->qtype == T_ANY)
                s = n->nsets ? &n->sets[0] : NULL;
        else if (n)
                s = ld_zname_rrset(n, q->qtype);
        if (n && !s && q->qtype != T_CNAME)
                s = ld_zname_rrset(n, T_CNAME);
        if (s) {
                add_rrset(a, SEC_AN, LD_DNS_HEADER, s);
                return true;
        }
        a->rcode = n ? LD_RCODE_NOERROR : LD_RCODE_NXDOMAIN;
        if (z->soa)
                add_rrset(a, SEC_NS,
                          LD_DNS_HEADER + (z->labels ? q->label_off[q->nlabels - z->labels]
                                                     : q->qname_len - 1u),
                          z->soa);
        return true;
}

/* localhost and names below it (RFC 6761 6.3). */
static bool answer_localhost(struct ans *a)
{
        static const struct ld_addr lo4 = {AF_INET, {127, 0, 0, 1}};
        static const struct ld_addr lo6 = {AF_INET6,
                                           {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
        size_t last = a->q->nlabels - 1u;

        if (a->q->nlabels == 0 || !label_is(label_at(a, last), "localhost"))
                return false;
        a->aa = true;
        if (a->q->qtype == T_A || a->q->qtype == T_ANY)
                add_addr(a, SEC_AN, LD_DNS_HEADER, &lo4);
        else if (a->q->qtype == T_AAAA)
                add_addr(a, SEC_AN, LD_DNS_HEADER, &lo6);
        if (a->count[SEC_AN] == 0 && !a->tc)
                local_negative(a, LD_RCODE_NOERROR, a->q->label_off[last]);
        return true;
}

static bool under_zone(const struct ans *a, const uint8_t *zone, uint8_t len, uint8_t labels)
{
        const struct ld_query *q = a->q;

        if (q->nlabels < labels)
                return false;
        if (labels == 0)
                return true;
        size_t off = q->label_off[q->nlabels - labels];
        return q->qname_len - off == len && memcmp(q->lname + off, zone, len) == 0;
}

/* The zone the question is under: the most specific of D and the networks' domains. */
static bool under_domain(struct ans *a)
{
        const struct ld_answer_cfg *c = a->cfg;
        const struct ld_views *v = c->views;
        int best = -1;
        uint8_t best_labels = 0;
        bool found = under_zone(a, c->domain, c->domain_len, c->domain_labels);

        if (found)
                best_labels = c->domain_labels;
        if (found && v->ndoms == 0) { /* no network has a domain of its own */
                a->zone_dom = ZONE_D;
                a->zone_labels = best_labels;
                return true;
        }
        for (size_t i = 0; i < v->ndoms; i++) {
                const struct ld_vdom *d = &v->doms[i];
                if (d->refs && (!found || d->labels > best_labels) &&
                    under_zone(a, d->wire, d->len, d->labels)) {
                        found = true;
                        best = (int)i;
                        best_labels = d->labels;
                }
        }
        if (!found)
                return false;
        a->zone_dom = best < 0 ? ZONE_D : best;
        a->zone = best < 0 ? c->domain : v->doms[best].wire;
        a->zone_len = best < 0 ? c->domain_len : v->doms[best].len;
        a->zone_labels = best_labels;
        return true;
}

/* Returns false when the name is not ours: the caller forwards it. */
static bool answer_name(struct ans *a, struct ld_viewset vs)
{
        struct ld_reverse r;
        size_t rel;

        if (under_domain(a)) {
                rel = a->q->nlabels - a->zone_labels;
                a->domain_off = LD_DNS_HEADER + (rel ? a->q->label_off[rel] : 0);
                if (rel == 0)
                        answer_apex(a);
                else
                        answer_view_name(a, vs, rel, true);
                return true;
        }
        if (ld_reverse_parse(a->q, &r) && answer_reverse(a, vs, &r))
                return true;
        if (answer_localhost(a))
                return true;
        if (a->q->nlabels > 0 && answer_view_name(a, vs, a->q->nlabels, false))
                return true;
        return answer_static(a, a->cfg->pubzone) || answer_static(a, a->cfg->zones);
}

/* RD, RA and CD are QUERY's (RFC 1035, 4035): a reply to another opcode (NOTIMP) keeps
 * only QR, the opcode and the RCODE. */
static void finish_header(struct ans *a)
{
        const struct ld_query *q = a->q;
        bool query = q->opcode == 0;
        uint8_t *h = a->buf;

        h[0] = (uint8_t)(q->id >> 8);
        h[1] = (uint8_t)q->id;
        h[2] = (uint8_t)(0x80 | q->opcode << 3 | (a->aa ? 0x04 : 0) | (a->tc ? 0x02 : 0) |
                         (query && q->rd ? 0x01 : 0));
        h[3] = (uint8_t)((query && a->cfg->upstream ? 0x80 : 0) | (query ? q->flags2 & 0x10 : 0) |
                         (a->rcode & 0x0f));
        h[4] = 0;
        h[5] = q->has_question ? 1 : 0;
        for (int s = 0; s < 3; s++) {
                h[6 + 2 * s] = (uint8_t)(a->count[s] >> 8);
                h[7 + 2 * s] = (uint8_t)a->count[s];
        }
}

/* OPT: our payload size, version 0, DO copied (RFC 3225); no options. */
static void add_opt(struct ans *a, size_t hard_limit)
{
        a->limit = hard_limit;
        if (a->len + LD_OPT_LEN > a->limit)
                return;
        a->len += ld_wire_opt(a->buf + a->len, 0, a->q->edns_do);
        a->count[SEC_AR]++;
}

static size_t reply_limit(const struct ld_query *q, bool tcp, size_t cap)
{
        size_t limit = 512;

        if (tcp)
                limit = 65535;
        else if (q->edns)
                limit = q->edns_udp < LD_EDNS_PAYLOAD ? q->edns_udp : LD_EDNS_PAYLOAD;
        return limit < cap ? limit : cap;
}

/* The errors decided before any lookup: a query that did not parse, another opcode or EDNS
 * version, a class not ours, a transfer over UDP (RFC 5936 4.2) or with no zone to
 * transfer. -1: none. */
static int early_rcode(const struct ld_answer_cfg *cfg, const struct ld_query *q,
                       enum ld_query_status st, bool tcp)
{
        if (st == LD_QUERY_FORMERR)
                return LD_RCODE_FORMERR;
        if (st == LD_QUERY_NOTIMP)
                return LD_RCODE_NOTIMP;
        if (st == LD_QUERY_BADVERS)
                return 16; /* BADVERS: upper eight bits in the OPT, lower four 0 */
        if (q->qclass != C_IN && q->qclass != C_ANY)
                return LD_RCODE_REFUSED;
        if ((q->qtype == T_AXFR || q->qtype == T_IXFR) && !(tcp && cfg->pubzone))
                return LD_RCODE_REFUSED;
        return -1;
}

/* Those errors' reply: the header, the question if it parsed, our OPT if the query had one. */
static size_t error_reply(const struct ld_answer_cfg *cfg, const struct ld_query *q, uint16_t rcode,
                          uint8_t *out, size_t cap)
{
        struct ld_wire_question qn = {q->pkt + LD_DNS_HEADER, q->qend - LD_DNS_HEADER - 4, q->qtype,
                                      q->qclass};
        struct ld_wire_ask ask = {.id = q->id,
                                  .opcode = q->opcode,
                                  .rd = q->rd,
                                  .cd = q->flags2 & 0x10,
                                  .ra = cfg->upstream,
                                  .edns = q->edns,
                                  .do_bit = q->edns_do,
                                  .question = q->has_question ? &qn : NULL};

        return ld_wire_error(&ask, rcode, out, cap);
}

struct ld_answer_result ld_answer_build(const struct ld_answer_cfg *cfg, const struct ld_query *q,
                                        enum ld_query_status st, struct ld_viewset vs, bool tcp,
                                        uint32_t rotate, uint8_t *out, size_t cap)
{
        struct ld_answer_result res = {.action = LD_ANSWER_SEND};
        size_t hard = reply_limit(q, tcp, cap);
        struct ans a = {.cfg = cfg,
                        .q = q,
                        .buf = out,
                        .len = LD_DNS_HEADER,
                        .rotate = rotate,
                        .zone = cfg->domain,
                        .zone_len = cfg->domain_len,
                        .zone_dom = ZONE_BARE};
        int early;

        if (st == LD_QUERY_DROP || hard < LD_DNS_HEADER + LD_OPT_LEN) {
                res.action = LD_ANSWER_DROP;
                return res;
        }
        if ((early = early_rcode(cfg, q, st, tcp)) >= 0) {
                res.len = error_reply(cfg, q, (uint16_t)early, out, hard);
                res.action = res.len ? LD_ANSWER_SEND : LD_ANSWER_DROP;
                res.rcode = (uint8_t)early;
                return res;
        }
        a.limit = hard - (q->edns ? LD_OPT_LEN : 0);
        if (!put(&a, q->pkt + LD_DNS_HEADER, q->qend - LD_DNS_HEADER)) {
                res.action = LD_ANSWER_DROP;
                return res;
        }
        if (q->qtype == T_AXFR || q->qtype == T_IXFR) {
                res.action = LD_ANSWER_XFR; /* allowed sources are checked there */
        } else if (vs.n == 0) {
                if (!answer_static(&a, cfg->pubzone))
                        a.rcode =
                            LD_RCODE_REFUSED; /* no container's source: the publish zone only */
        } else if (!answer_name(&a, vs)) {
                a.rcode = LD_RCODE_REFUSED;
                /* a pod follows its first member's rule (forward.c) */
                if (cfg->upstream && !ld_container_internal(vs.v[0]))
                        res.action = LD_ANSWER_FORWARD;
        }
        if (a.defer) {
                res.action = LD_ANSWER_DEFER;
                res.remote = a.defer;
                res.remote_port = a.defer_port;
                res.remote_proto = a.defer_proto;
        }
        res.rcode = a.rcode;
        if (res.action == LD_ANSWER_FORWARD)
                return res; /* nothing to build: the cache's hit or the upstream's answer goes */
        if (q->edns)
                add_opt(&a, hard);
        finish_header(&a);
        res.len = a.len;
        res.truncated = a.tc;
        return res;
}

size_t ld_answer_refused(const struct ld_answer_cfg *cfg, const struct ld_query *q, bool tcp,
                         uint8_t *out, size_t cap)
{
        return error_reply(cfg, q, LD_RCODE_REFUSED, out, reply_limit(q, tcp, cap));
}

int ld_answer_set_domain(struct ld_answer_cfg *cfg, const char *text)
{
        ldns_rdf *rdf = NULL;
        size_t len;

        if (ldns_str2rdf_dname(&rdf, text) != LDNS_STATUS_OK)
                return -EINVAL;
        len = ldns_rdf_size(rdf);
        if (len > sizeof(cfg->domain)) {
                ldns_rdf_deep_free(rdf);
                return -EINVAL;
        }
        ldns_dname2canonical(rdf);
        memcpy(cfg->domain, ldns_rdf_data(rdf), len);
        cfg->domain_len = (uint8_t)len;
        cfg->domain_labels = (uint8_t)ldns_dname_label_count(rdf);
        ldns_rdf_deep_free(rdf);
        return 0;
}
