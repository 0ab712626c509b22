/* report: the read-only answers of the control socket — ls, show, stats — as text or JSON. */
#include "report.h"

#include "cache.h"
#include "engine.h"
#include "table.h"

#include <ctype.h>
#include <string.h>

/* Names are [A-Za-z0-9_-] and paths are checked absolute: only '"' and '\' need escaping. */
static void report_str(FILE *f, const char *s)
{
        fputc('"', f);
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        fputc('\\', f);
                if ((unsigned char)*s < 0x20)
                        fprintf(f, "\\u%04x", *s);
                else
                        fputc(*s, f);
        }
        fputc('"', f);
}

static void report_addrs(FILE *f, const struct ld_addr *a, size_t n)
{
        char buf[LD_ADDR_STRLEN];

        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
                ld_addr_format(&a[i], buf, sizeof(buf));
                fprintf(f, "%s\"%s\"", i ? "," : "", buf);
        }
        fputc(']', f);
}

static void report_spec_json(FILE *f, const struct ld_spec *s)
{
        char buf[LD_ENDPOINT_STRLEN];

        fputs("{\"name\":", f);
        report_str(f, s->name);
        fputs(",\"owners\":[", f);
        for (size_t i = 0; i < s->nowners; i++) {
                if (i)
                        fputc(',', f);
                report_str(f, s->owners[i]);
        }
        fputs("],\"netns\":", f);
        if (s->netns)
                report_str(f, s->netns);
        else
                fputs("null", f);
        fprintf(f, ",\"pid\":%d,\"ns_id\":", (int)s->pid);
        if (s->nsid.boot[0]) {
                fputc('"', f); /* a UUID and numbers: nothing to escape */
                ld_nsid_print(&s->nsid, f);
                fputc('"', f);
        } else
                fputs("null", f);
        fputs(",\"addrs\":", f);
        report_addrs(f, s->addrs, s->naddrs);
        fputs(",\"expose\":[", f);
        for (size_t i = 0; i < s->nexpose; i++)
                fprintf(f, "%s\"%u/%s\"", i ? "," : "", s->expose[i].port,
                        ld_proto_name(s->expose[i].proto));
        fputs("],\"publish\":[", f);
        for (size_t i = 0; i < s->npublish; i++)
                fprintf(f, "%s\"%u:%u/%s\"", i ? "," : "", s->publish[i].hostport,
                        s->publish[i].port.port, ld_proto_name(s->publish[i].port.proto));
        fputs("],\"dns\":[", f);
        for (size_t i = 0; i < s->ndns; i++) {
                ld_endpoint_format(&s->dns[i], buf, sizeof(buf));
                fprintf(f, "%s\"%s\"", i ? "," : "", buf);
        }
        fputs("],\"remote\":", f);
        if (s->remote_fqdn) {
                ld_endpoint_format(&s->remote_peer, buf, sizeof(buf));
                fprintf(f, "\"%s@%s\"", s->remote_fqdn, buf);
        } else {
                fputs("null", f);
        }
        fputc('}', f);
}

static void report_endpoints(FILE *f, const struct ld_endpoint *e, size_t n)
{
        char buf[LD_ENDPOINT_STRLEN];

        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
                ld_endpoint_format(&e[i], buf, sizeof(buf));
                fprintf(f, "%s\"%s\"", i ? "," : "", buf);
        }
        fputc(']', f);
}

static void report_net_json(FILE *f, const struct ld_netspec *n)
{
        fputs("{\"name\":", f);
        report_str(f, n->name);
        fputs(",\"owner\":", f);
        if (n->owner[0])
                report_str(f, n->owner);
        else
                fputs("null", f);
        fputs(",\"domain\":", f);
        if (n->domain[0])
                report_str(f, n->domain);
        else
                fputs("null", f);
        fputs(",\"listen\":", f);
        report_endpoints(f, n->listen, n->nlisten);
        fputs(",\"dns\":", f);
        report_endpoints(f, n->dns, n->ndns);
        fprintf(f, ",\"internal\":%s}", n->internal ? "true" : "false");
}

static void report_attach_json(FILE *f, const struct ld_attspec *a)
{
        fputs("{\"container\":", f);
        report_str(f, a->container);
        fputs(",\"net\":", f);
        report_str(f, a->net);
        fputs(",\"addrs\":", f);
        report_addrs(f, a->addrs, a->naddrs);
        fputs(",\"aliases\":[", f);
        for (size_t i = 0; i < a->naliases; i++) {
                fputs(i ? "," : "", f);
                report_str(f, a->aliases[i]);
        }
        fputs("]}", f);
}

/* show --net NAME: the network and its members in attach order. */
void ld_report_net(const struct ld_net *n, bool json, FILE *f)
{
        if (!json) {
                ld_netspec_format(&n->spec, false, f);
                for (size_t i = 0; i < n->members.n; i++)
                        ld_attspec_format(&n->members.v[i]->spec, f);
                return;
        }
        fputs("{\"net\":", f);
        report_net_json(f, &n->spec);
        fputs(",\"members\":[", f);
        for (size_t i = 0; i < n->members.n; i++) {
                fputs(i ? "," : "", f);
                report_attach_json(f, &n->members.v[i]->spec);
        }
        fputs("]}\n", f);
}

void ld_report_ls(const struct ld_engine *s, const char *owner, bool json, FILE *f)
{
        const struct ld_table *t = s->table;
        bool first = true;

        if (!json) {
                ld_table_list(t, owner, f);
                return;
        }
        fputs("{\"networks\":[", f);
        for (const struct ld_net *n = t->nhead; n; n = n->next) {
                if (!ld_table_net_listed(n, owner))
                        continue;
                fputs(first ? "" : ",", f);
                report_net_json(f, &n->spec);
                first = false;
        }
        fputs("],\"attachments\":[", f);
        first = true;
        for (const struct ld_attach *a = t->ahead; a; a = a->next) {
                if (owner && !ld_owner_match(&a->c->spec, owner))
                        continue;
                fputs(first ? "" : ",", f);
                report_attach_json(f, &a->spec);
                first = false;
        }
        first = true;
        fputs("],\"containers\":[", f);
        for (const struct ld_container *c = t->head; c; c = c->next) {
                if (owner && !ld_owner_match(&c->spec, owner))
                        continue;
                if (!first)
                        fputc(',', f);
                report_spec_json(f, &c->spec);
                first = false;
        }
        fputs("],\"links\":[", f);
        first = true;
        for (const struct ld_link *l = t->lhead; l; l = l->next) {
                if (owner && !ld_owner_match(&l->from->spec, owner))
                        continue;
                fputs(first ? "{\"from\":" : ",{\"from\":", f);
                first = false;
                report_str(f, l->from->spec.name);
                fputs(",\"target\":", f);
                report_str(f, l->target->spec.name);
                fputs(",\"alias\":", f);
                report_str(f, l->alias);
                fputc('}', f);
        }
        fputs("]}\n", f);
}

/* The addresses of targets that the asker sees (answer.c's rule). */
static void report_targets_addrs(FILE *f, const struct ld_container *asker,
                                 struct ld_container *const *targets, size_t n, bool json)
{
        char buf[LD_ADDR_STRLEN];
        bool first = true;

        for (uint32_t i = 0; i < n; i++) {
                size_t na;
                const struct ld_addr *addrs = ld_container_addrs(targets[i], &na);
                bool shared = ld_container_share(asker, targets[i]);
                for (size_t k = 0; k < na; k++) {
                        if (!ld_container_sees(asker, targets[i], k, shared))
                                continue;
                        ld_addr_format(&addrs[k], buf, sizeof(buf));
                        fprintf(f, json ? "%s\"%s\"" : "%s%s", first ? "" : json ? "," : " ", buf);
                        first = false;
                }
        }
}

static void report_name_addrs(FILE *f, const struct ld_container *asker, const struct ld_vname *e,
                              bool json)
{
        report_targets_addrs(f, asker, e->targets, e->ntargets, json);
}

/* One name of c's networks: the container (or the alias holder) and what c sees of it. */
static void report_net_name(FILE *f, const struct ld_container *c, const struct ld_net *n,
                            const char *name, struct ld_container *t, bool json, bool *first)
{
        if (json) {
                fprintf(f, "%s{\"name\":", *first ? "" : ",");
                report_str(f, name);
                fputs(",\"net\":", f);
                report_str(f, n->spec.name);
                fputs(",\"targets\":[", f);
                report_str(f, t->spec.name);
                fputs("],\"addresses\":[", f);
                report_targets_addrs(f, c, &t, 1, true);
                fputs("]}", f);
        } else {
                fprintf(f, "%s (net %s) -> %s: ", name, n->spec.name, t->spec.name);
                report_targets_addrs(f, c, &t, 1, false);
                fputc('\n', f);
        }
        *first = false;
}

static void report_show_nets(FILE *f, const struct ld_container *c, bool json, bool first)
{
        for (size_t i = 0; i < c->natt; i++) {
                const struct ld_net *n = c->att[i]->net;
                for (size_t k = 0; k < n->members.n; k++) {
                        const struct ld_attach *a = n->members.v[k];
                        report_net_name(f, c, n, a->c->spec.name, a->c, json, &first);
                        for (size_t j = 0; j < a->spec.naliases; j++)
                                report_net_name(f, c, n, a->spec.aliases[j], a->c, json, &first);
                }
        }
}

/* What c's view resolves: each name, its targets' addresses and SRV ports. */
void ld_report_show(const struct ld_container *c, bool json, FILE *f)
{
        const struct ld_cview *cv = &c->cview;

        if (json) {
                fputs("{\"name\":", f);
                report_str(f, c->spec.name);
                fputs(",\"names\":[", f);
        }
        for (size_t i = 0; i < cv->nnames; i++) {
                const struct ld_vname *e = &cv->names[i];
                if (json) {
                        fprintf(f, "%s{\"name\":\"%s\",\"targets\":[", i ? "," : "", e->label);
                        for (uint32_t k = 0; k < e->ntargets; k++)
                                fprintf(f, "%s\"%s\"", k ? "," : "", e->targets[k]->spec.name);
                        fputs("],\"addresses\":[", f);
                        report_name_addrs(f, c, e, true);
                        fputs("]}", f);
                        continue;
                }
                fprintf(f, "%s ->", e->label);
                for (uint32_t k = 0; k < e->ntargets; k++)
                        fprintf(f, " %s", e->targets[k]->spec.name);
                fputs(": ", f);
                report_name_addrs(f, c, e, false);
                fputc('\n', f);
        }
        report_show_nets(f, c, json, cv->nnames == 0);
        if (json)
                fputs("]}\n", f);
}

/* The daemon's --domain in presentation form (the runtime programs give it to containers as
 * their search domain): a byte other than a letter, digit, '-' or '_' as \DDD, so that the
 * text is ASCII and a '.' inside a label stays distinct. */
static void report_domain(FILE *f, const struct ld_answer_cfg *cfg, bool json)
{
        char text[4 * LD_NAME_WIRE_MAX + 1];
        size_t n = 0;

        for (size_t off = 0; off < cfg->domain_len && cfg->domain[off];
             off += cfg->domain[off] + 1) {
                if (n)
                        text[n++] = '.';
                for (size_t i = 1; i <= cfg->domain[off] && off + i < cfg->domain_len; i++) {
                        unsigned char c = cfg->domain[off + i];
                        if (isalnum(c) || c == '-' || c == '_')
                                text[n++] = (char)c;
                        else
                                n += (size_t)snprintf(text + n, 5, "\\%03u", c);
                }
        }
        text[n] = '\0';
        if (json) {
                fputs("\"domain\":", f);
                report_str(f, text);
                fputc(',', f);
        } else {
                fprintf(f, "domain %s\n", text);
        }
}

void ld_report_stats(const struct ld_engine *s, const struct ld_report_extra *x, bool json, FILE *f)
{
        static const char *const rcodes[] = {"noerror",  "formerr", "servfail",
                                             "nxdomain", "notimp",  "refused"};
        const struct ld_stats *st = &s->stats;
        const struct ld_table *t = s->table;
        const struct ld_cache_stats cs = ld_cache_stats(s->cache);

        if (json)
                fputc('{', f);
        report_domain(f, &s->cfg, json);
        if (json) {
                fprintf(f,
                        "\"uptime\":%.0f,\"containers\":%zu,\"links\":%zu,\"networks\":%zu,"
                        "\"attachments\":%zu,\"namespaces\":%zu,"
                        "\"queries\":%llu,\"dropped\":%llu,\"truncated\":%llu,"
                        "\"tcp_connections\":%u,\"tcp_accepted\":%llu,\"tcp_refused\":%llu,"
                        "\"forwarded\":%llu,\"forward_failed\":%llu,\"forward_overflow\":%llu,"
                        "\"transfers\":%llu,\"rcode\":{",
                        x->uptime, t->ncontainers, t->nlinks, t->nnets, t->natts, x->namespaces,
                        (unsigned long long)st->queries, (unsigned long long)st->dropped,
                        (unsigned long long)st->truncated, x->tcp_connections,
                        (unsigned long long)st->tcp_accepted, (unsigned long long)st->tcp_refused,
                        (unsigned long long)st->forwarded, (unsigned long long)st->forward_failed,
                        (unsigned long long)st->forward_overflow,
                        (unsigned long long)st->transfers);
                for (int i = 0; i < 6; i++)
                        fprintf(f, "%s\"%s\":%llu", i ? "," : "", rcodes[i],
                                (unsigned long long)st->rcode[i]);
                fprintf(f, ",\"badvers\":%llu},\"views\":{", (unsigned long long)st->rcode[16]);
                for (const struct ld_container *c = t->head; c; c = c->next)
                        fprintf(f, "\"%s\":%llu%s", c->spec.name,
                                (unsigned long long)c->cview.queries, c->next ? "," : "");
                fprintf(f,
                        "},\"cache\":{\"hits\":%llu,\"misses\":%llu,\"evictions\":%llu,"
                        "\"entries\":%zu,\"bytes\":%zu}}\n",
                        (unsigned long long)cs.hits, (unsigned long long)cs.misses,
                        (unsigned long long)cs.evictions, cs.entries, cs.bytes);
                return;
        }
        fprintf(f,
                "uptime %.0f\ncontainers %zu\nlinks %zu\nnetworks %zu\nattachments %zu\n"
                "namespaces %zu\nqueries %llu\n",
                x->uptime, t->ncontainers, t->nlinks, t->nnets, t->natts, x->namespaces,
                (unsigned long long)st->queries);
        for (int i = 0; i < 6; i++)
                fprintf(f, "rcode.%s %llu\n", rcodes[i], (unsigned long long)st->rcode[i]);
        fprintf(f, "rcode.badvers %llu\n", (unsigned long long)st->rcode[16]);
        fprintf(f, "refused %llu\ntruncated %llu\ndropped %llu\n", (unsigned long long)st->rcode[5],
                (unsigned long long)st->truncated, (unsigned long long)st->dropped);
        fprintf(f, "tcp.connections %u\ntcp.accepted %llu\ntcp.refused %llu\n", x->tcp_connections,
                (unsigned long long)st->tcp_accepted, (unsigned long long)st->tcp_refused);
        fprintf(f, "forwarded %llu\nforward.failed %llu\nforward.overflow %llu\ntransfers %llu\n",
                (unsigned long long)st->forwarded, (unsigned long long)st->forward_failed,
                (unsigned long long)st->forward_overflow, (unsigned long long)st->transfers);
        fprintf(f,
                "cache.hits %llu\ncache.misses %llu\ncache.evictions %llu\ncache.entries %zu\n"
                "cache.bytes %zu\n",
                (unsigned long long)cs.hits, (unsigned long long)cs.misses,
                (unsigned long long)cs.evictions, cs.entries, cs.bytes);
        for (const struct ld_container *c = t->head; c; c = c->next)
                fprintf(f, "view.%s.queries %llu\n", c->spec.name,
                        (unsigned long long)c->cview.queries);
}
