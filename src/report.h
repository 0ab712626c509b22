/* report: the read-only answers of the control socket — ls, show, stats — as text or JSON. */
#ifndef LD_REPORT_H
#define LD_REPORT_H

#include <stdbool.h>
#include <stdio.h>

struct ld_engine;
struct ld_container;
struct ld_net;

struct ld_report_extra {
        double uptime;
        unsigned tcp_connections;
        size_t namespaces;
};

/* owner: only the entries it names (ls --owner; NULL: all). */
void ld_report_ls(const struct ld_engine *s, const char *owner, bool json, FILE *f);
void ld_report_show(const struct ld_container *c, bool json, FILE *f);
void ld_report_net(const struct ld_net *n, bool json, FILE *f);
void ld_report_stats(const struct ld_engine *s, const struct ld_report_extra *x, bool json,
                     FILE *f);

#endif
