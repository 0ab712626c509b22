/* engine: the answering engine — table, views, configuration, counters — and the one entry
 * point from packet in to packet out; it never sees a socket (transports and dispatch do). */
#include "engine.h"

#include "cache.h"
#include "log.h"
#include "pubzone.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <string.h>
#include <time.h>

int ld_engine_init(struct ld_engine *s, const char *domain, uint32_t ttl, bool upstream)
{
        int rc;

        memset(s, 0, sizeof(*s));
        if ((rc = ld_answer_set_domain(&s->cfg, domain)) < 0)
                return rc;
        s->cfg.ttl = ttl;
        s->cfg.upstream = upstream;
        s->cfg.serial = (uint32_t)time(NULL);
        s->cfg.services = &s->services;
        return ld_services_load(&s->services, "/etc/services");
}

void ld_engine_fini(struct ld_engine *s)
{
        ld_table_free(s->table);
        s->table = NULL;
        ld_engine_set_zones(s, NULL);
        ld_pubzone_free(s->pubzone);
        s->pubzone = NULL;
        s->cfg.pubzone = NULL;
        ld_services_fini(&s->services);
        ld_cache_free(s->cache);
        s->cache = NULL;
}

void ld_engine_set_table(struct ld_engine *s, struct ld_table *t)
{
        ld_table_free(s->table);
        s->table = t;
        s->cfg.views = &t->views;
        ld_engine_bump_serial(s);
}

void ld_engine_set_zones(struct ld_engine *s, struct ld_zones *z)
{
        ld_zones_free(s->zones);
        s->zones = z;
        s->cfg.zones = z;
}

int ld_engine_rebuild_pubzone(struct ld_engine *s)
{
        int rc;

        if (!s->pubzone)
                return 0;
        rc = ld_pubzone_build(s->pubzone, s->table);
        if (rc < 0)
                ld_err("cannot rebuild the publish zone: %s", strerror(-rc));
        s->cfg.pubzone = s->pubzone->zones;
        return rc;
}

void ld_engine_bump_serial(struct ld_engine *s)
{
        s->cfg.serial++;
}

/* --log-queries: one line per query, never on the path otherwise; what says how it was
 * answered when the rcode does not (NULL: the rcode). */
static void engine_log_query(const struct ld_query *q, struct ld_viewset vs,
                             struct ld_answer_result res, const char *what)
{
        static const char *const rcodes[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                             "NXDOMAIN", "NOTIMP",  "REFUSED"};
        char name[LD_NAME_WIRE_MAX * 4 + 2], *p = name;

        if (!q->has_question) {
                ld_info("query from %s: (no question) -> rcode %u", vs.n ? vs.v[0]->spec.name : "-",
                        res.rcode);
                return;
        }
        for (size_t off = 0; q->lname[off]; off += 1u + q->lname[off]) {
                for (size_t i = 1; i <= q->lname[off]; i++) {
                        uint8_t c = q->pkt[LD_DNS_HEADER + off + i];
                        p += (c > 32 && c < 127 && c != '.' && c != '\\') ? sprintf(p, "%c", c)
                                                                          : sprintf(p, "\\%03u", c);
                }
                *p++ = '.';
        }
        if (p == name)
                *p++ = '.';
        *p = '\0';
        ld_info("query from %s: %s type %u -> %s%s", vs.n ? vs.v[0]->spec.name : "unknown source",
                name, q->qtype,
                what            ? what
                : res.rcode < 6 ? rcodes[res.rcode]
                                : "BADVERS",
                res.truncated ? " (truncated)" : "");
}

void ld_engine_log_forward(const struct ld_engine *s, const struct ld_query *q,
                           struct ld_viewset vs, const struct ld_answer_result *res,
                           const char *what)
{
        if (s->log_queries)
                engine_log_query(q, vs, *res, what);
}

struct ld_viewset ld_engine_views_of(const struct ld_engine *s, const struct ld_addr *src)
{
        const struct ld_owner *o = ld_views_owner(s->cfg.views, src);
        struct ld_viewset vs = {o ? o->owners : NULL, o ? o->nowners : 0};

        /* A pod (one namespace) sees the union of its members' views; containers of two
         * namespaces behind one address make it ambiguous: no view, as a stranger gets. */
        for (size_t i = 1; i < vs.n; i++)
                if (!ld_spec_same_ns(&vs.v[0]->spec, &vs.v[i]->spec))
                        return (struct ld_viewset){NULL, 0};
        return vs;
}

struct ld_answer_result ld_engine_handle(struct ld_engine *s, struct ld_viewset vs,
                                         const uint8_t *pkt, size_t len, uint8_t *out, size_t cap,
                                         bool tcp)
{
        struct ld_query q;

        return ld_engine_handle_parsed(s, vs, pkt, len, out, cap, tcp, &q);
}

struct ld_answer_result ld_engine_handle_parsed(struct ld_engine *s, struct ld_viewset vs,
                                                const uint8_t *pkt, size_t len, uint8_t *out,
                                                size_t cap, bool tcp, struct ld_query *q)
{
        enum ld_query_status st = ld_query_parse(pkt, len, q);
        struct ld_answer_result res;

        res = ld_answer_build(&s->cfg, q, st, vs, tcp, s->rotate++, out, cap);
        /* a name to forward is logged once it is known whether the cache answers it */
        if (s->log_queries && res.action != LD_ANSWER_DROP && res.action != LD_ANSWER_FORWARD)
                engine_log_query(q, vs, res, NULL);
        if (res.action == LD_ANSWER_DROP) {
                s->stats.dropped++;
                return res;
        }
        if (res.action == LD_ANSWER_DEFER || res.action == LD_ANSWER_XFR)
                return res; /* counted when answered again, or as a transfer */
        s->stats.queries++;
        if (vs.n)
                vs.v[0]->cview.queries++;
        if (res.action == LD_ANSWER_FORWARD)
                return res; /* its rcode is the upstream's: counted as forwarded */
        s->stats.rcode[res.rcode < 24 ? res.rcode : 23]++;
        s->stats.truncated += res.truncated;
        return res;
}
