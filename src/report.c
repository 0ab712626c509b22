/* report: the read-only answers of the control socket — ls, show, stats — as text or JSON. */
#include "report.h"

#include "engine.h"
#include "table.h"

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

void ld_report_ls(const struct ld_engine *s, const char *owner, bool json, FILE *f)
{
        const struct ld_table *t = s->table;
        bool first = true;

        if (!json) {
                ld_table_list(t, owner, f);
                return;
        }
        fputs("{\"containers\":[", f);
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

static void report_name_addrs(FILE *f, const struct ld_vname *e, bool json)
{
        char buf[LD_ADDR_STRLEN];
        bool first = true;

        for (uint32_t i = 0; i < e->ntargets; i++) {
                size_t na;
                const struct ld_addr *addrs = ld_container_addrs(e->targets[i], &na);
                for (size_t k = 0; k < na; k++) {
                        ld_addr_format(&addrs[k], buf, sizeof(buf));
                        fprintf(f, json ? "%s\"%s\"" : "%s%s", first ? "" : json ? "," : " ", buf);
                        first = false;
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
                        report_name_addrs(f, e, true);
                        fputs("]}", f);
                        continue;
                }
                fprintf(f, "%s ->", e->label);
                for (uint32_t k = 0; k < e->ntargets; k++)
                        fprintf(f, " %s", e->targets[k]->spec.name);
                fputs(": ", f);
                report_name_addrs(f, e, false);
                fputc('\n', f);
        }
        if (json)
                fputs("]}\n", f);
}

void ld_report_stats(const struct ld_engine *s, const struct ld_report_extra *x, bool json, FILE *f)
{
        static const char *const rcodes[] = {"noerror",  "formerr", "servfail",
                                             "nxdomain", "notimp",  "refused"};
        const struct ld_stats *st = &s->stats;
        const struct ld_table *t = s->table;

        if (json) {
                fprintf(f,
                        "{\"uptime\":%.0f,\"containers\":%zu,\"links\":%zu,\"namespaces\":%zu,"
                        "\"queries\":%llu,\"dropped\":%llu,\"truncated\":%llu,"
                        "\"tcp_connections\":%u,\"tcp_accepted\":%llu,\"tcp_refused\":%llu,"
                        "\"forwarded\":%llu,\"forward_failed\":%llu,\"forward_overflow\":%llu,"
                        "\"transfers\":%llu,\"rcode\":{",
                        x->uptime, t->ncontainers, t->nlinks, x->namespaces,
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
                fputs("}}\n", f);
                return;
        }
        fprintf(f, "uptime %.0f\ncontainers %zu\nlinks %zu\nnamespaces %zu\nqueries %llu\n",
                x->uptime, t->ncontainers, t->nlinks, x->namespaces,
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
        for (const struct ld_container *c = t->head; c; c = c->next)
                fprintf(f, "view.%s.queries %llu\n", c->spec.name,
                        (unsigned long long)c->cview.queries);
}
