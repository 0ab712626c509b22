/* pubzone: the publish zone, of published ports (--publish-zone) built from the table with ldns
 * when it changes — NAME.Z A/AAAA, SRV by port and service, SOA whose serial only grows, even
 * across restarts — for other hosts and standard secondaries. */
#include "pubzone.h"

#include "durable.h"
#include "log.h"
#include "services.h"
#include "table.h"
#include "zone.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUBLISH_RESERVE 1000 /* serials reserved per write of the high-water mark */

static int publish_save_ceiling(struct ld_pubzone *p, uint32_t ceiling)
{
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%u\n", ceiling);
        int rc = ld_durable_replace(p->serial_path, buf, (size_t)n);

        if (rc == 0)
                p->ceiling = ceiling;
        return rc;
}

/* The next serial: above every one handed out before (RFC 1982: a secondary ignores a
 * lower one), and at least the time, so that a lost mark still moves forward. */
static uint32_t publish_next_serial(struct ld_pubzone *p)
{
        uint32_t now = (uint32_t)time(NULL), s = p->serial + 1;
        int rc;

        if (s < now)
                s = now;
        if (s >= p->ceiling && (rc = publish_save_ceiling(p, s + PUBLISH_RESERVE)) < 0)
                ld_warn("cannot save the zone serial to %s: %s", p->serial_path, strerror(-rc));
        p->serial = s;
        return s;
}

static int publish_rr(ldns_zone *lz, bool soa, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int publish_rr(ldns_zone *lz, bool soa, const char *fmt, ...)
{
        char line[1024];
        ldns_rr *rr = NULL;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL) != LDNS_STATUS_OK)
                return -EINVAL;
        if (soa) {
                ldns_zone_set_soa(lz, rr);
                return 0;
        }
        if (!ldns_zone_push_rr(lz, rr)) {
                ldns_rr_free(rr);
                return -ENOMEM;
        }
        return 0;
}

static int publish_addrs(struct ld_pubzone *p, ldns_zone *lz, const char *owner)
{
        char a[LD_ADDR_STRLEN];
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < p->naddrs; i++) {
                ld_addr_format(&p->addrs[i], a, sizeof(a));
                rc = publish_rr(lz, false, "%s %u IN %s %s", owner, p->ttl,
                                p->addrs[i].family == AF_INET ? "A" : "AAAA", a);
        }
        return rc;
}

/* NAME.Z, and an SRV by port and by service name for each published port. */
static int publish_container(struct ld_pubzone *p, ldns_zone *lz, const struct ld_container *c)
{
        const struct ld_spec *s = &c->spec;
        char owner[512];
        int rc;

        snprintf(owner, sizeof(owner), "%s.%s", s->name, p->zone);
        rc = publish_addrs(p, lz, owner);
        for (size_t i = 0; rc == 0 && i < s->npublish; i++) {
                const char *proto = ld_proto_name(s->publish[i].port.proto);
                const char *svc = ld_services_name(p->services, s->publish[i].port.proto,
                                                   s->publish[i].port.port);
                rc =
                    publish_rr(lz, false, "_%u._%s.%s %u IN SRV 0 0 %u %s", s->publish[i].port.port,
                               proto, owner, p->ttl, s->publish[i].hostport, owner);
                if (rc == 0 && svc)
                        rc = publish_rr(lz, false, "_%s._%s.%s %u IN SRV 0 0 %u %s", svc, proto,
                                        owner, p->ttl, s->publish[i].hostport, owner);
        }
        return rc;
}

int ld_pubzone_build(struct ld_pubzone *p, const struct ld_table *t)
{
        ldns_zone *lz = ldns_zone_new();
        struct ld_zones *z = ld_zones_new();
        int rc;

        if (!lz || !z) {
                rc = -ENOMEM;
                goto fail;
        }
        rc = publish_rr(lz, true, "%s %u IN SOA %s hostmaster.%s %u 300 60 604800 %u", p->zone,
                        p->ttl, p->zone, p->zone, publish_next_serial(p), p->ttl);
        if (rc == 0)
                rc = publish_rr(lz, false, "%s %u IN NS %s", p->zone, p->ttl, p->zone);
        if (rc == 0)
                rc = publish_addrs(p, lz, p->zone); /* the NS name's own address */
        for (const struct ld_container *c = t->head; rc == 0 && c; c = c->next)
                if (c->spec.npublish && !c->spec.remote_fqdn)
                        rc = publish_container(p, lz, c);
        if (rc == 0)
                rc = ld_zones_add(z, lz);
        if (rc < 0)
                goto fail;
        if (p->lz)
                ldns_zone_deep_free(p->lz);
        ld_zones_free(p->zones);
        p->lz = lz;
        p->zones = z;
        return 0;
fail:
        if (lz)
                ldns_zone_deep_free(lz);
        ld_zones_free(z);
        return rc;
}

int ld_pubzone_new(const char *zone, const struct ld_addr *addrs, size_t naddrs, uint32_t ttl,
                   const char *serial_path, const struct ld_services *services,
                   struct ld_pubzone **out)
{
        struct ld_pubzone *p = calloc(1, sizeof(*p));
        size_t len = strlen(zone);
        FILE *f;

        if (!p || naddrs > sizeof(p->addrs) / sizeof(p->addrs[0]))
                goto fail;
        p->zone = malloc(len + 2);
        p->serial_path = strdup(serial_path);
        if (!p->zone || !p->serial_path)
                goto fail;
        snprintf(p->zone, len + 2, "%s%s", zone, len && zone[len - 1] == '.' ? "" : ".");
        memcpy(p->addrs, addrs, naddrs * sizeof(*addrs));
        p->naddrs = naddrs;
        p->ttl = ttl;
        p->services = services;
        if ((f = fopen(serial_path, "re"))) {
                unsigned long v = 0;
                if (fscanf(f, "%lu", &v) == 1 && v <= UINT32_MAX)
                        p->serial = p->ceiling = (uint32_t)v;
                fclose(f);
        }
        *out = p;
        return 0;
fail:
        ld_pubzone_free(p);
        return -ENOMEM;
}

void ld_pubzone_free(struct ld_pubzone *p)
{
        if (!p)
                return;
        if (p->lz)
                ldns_zone_deep_free(p->lz);
        ld_zones_free(p->zones);
        free(p->zone);
        free(p->serial_path);
        free(p);
}
