/* aardsync: the changes that bring linkdnsd's aardvark:* entries in step with the network
 * files (the aardvark-dns replacement's re-sync), as batch lines. */
#ifndef LD_AARDSYNC_H
#define LD_AARDSYNC_H

#include "aardfile.h"

#include <json-c/json.h>
#include <stdint.h>

#define LD_AARD_DOMAIN "dns.podman"
#define LD_AARD_OWNER "aardvark:" /* + a network's name or a container's ID */

/* A unit of the re-sync: a network (by name) or a container (by ID). A change line that
 * linkdnsd refuses belongs to one; the next attempt leaves that unit as it is. */
enum ld_aard_kind { LD_AARD_NET, LD_AARD_CTR };
enum ld_aard_hold {
        LD_AARD_SHORT = 1, /* a container: registered under its short ID (its name is taken) */
        LD_AARD_KEEP = 2,  /* left exactly as it is */
};
struct ld_aard_unit {
        enum ld_aard_kind kind;
        enum ld_aard_hold hold;
        char key[LD_NETNAME_MAX + 1];
};
struct ld_aard_units {
        struct ld_aard_unit *v;
        size_t n;
};
/* Raises unit (kind, key) to at least hold: 0 or -ENOMEM. */
int ld_aard_units_hold(struct ld_aard_units *u, enum ld_aard_kind kind, const char *key,
                       enum ld_aard_hold hold);
enum ld_aard_hold ld_aard_units_get(const struct ld_aard_units *u, enum ld_aard_kind kind,
                                    const char *key);
void ld_aard_units_clear(struct ld_aard_units *u);

/* A change line and the unit it belongs to. */
struct ld_aard_line {
        char *text;
        enum ld_aard_kind kind;
        char key[LD_NETNAME_MAX + 1];
};

/* The plan: lines in the order they must apply (removals of containers and stale
 * attachments, networks, containers, attachments, removals of networks), and the network
 * listeners it declares. */
struct ld_aard_plan {
        struct ld_aard_line *lines;
        size_t n, cap;
        struct ld_endpoint *listen;
        size_t nlisten, listencap;
};
void ld_aard_plan_clear(struct ld_aard_plan *p);

/* Builds the plan from the files read (dir: its bad files' networks are held as they are),
 * linkdnsd's current aardvark:* entries (cur: the reply of `ls --owner aardvark:* --json`),
 * the whole table if known (all: the reply of `ls --json`, or NULL: a container whose name
 * another owner holds then answers by its short ID at once, not after a refusal each),
 * the listeners' port, the networks' domain (LD_AARD_DOMAIN unless aardvark-dns's
 * --filter-search-domain names another) and the units held. Messages (a container's name that
 * cannot be its DNS name, and the like) go to report. Returns 0, -ENOMEM, or -EINVAL when cur is
 * not the shape ls gives (err says what). */
int ld_aard_plan_build(const struct ld_aard_dir *dir, struct json_object *cur,
                       struct json_object *all, uint16_t port, const char *domain,
                       const struct ld_aard_units *held, struct ld_aard_plan *out,
                       ld_aard_report report, void *ctx, char *err, size_t errlen);

#endif
