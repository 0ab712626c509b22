/* pubzone: the publish zone, of published ports (--publish-zone) built from the table with ldns
 * when it changes — NAME.Z A/AAAA, SRV by port and service, SOA whose serial only grows, even
 * across restarts — for other hosts and standard secondaries. */
#ifndef LD_PUBZONE_H
#define LD_PUBZONE_H

#include "addr.h"

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ld_table;
struct ld_zones;
struct ld_services;

struct ld_pubzone {
        char *zone; /* text, with the final dot */
        struct ld_addr addrs[16];
        size_t naddrs;
        uint32_t ttl;
        uint32_t serial;
        uint32_t ceiling; /* serials up to this are reserved in serial_path */
        char *serial_path;
        const struct ld_services *services;
        ldns_zone *lz;          /* the current zone, for AXFR */
        struct ld_zones *zones; /* the same in wire form, for queries */
};

/* serial_path keeps the serial's high-water mark, so that a restart never lowers it. */
int ld_pubzone_new(const char *zone, const struct ld_addr *addrs, size_t naddrs, uint32_t ttl,
                   const char *serial_path, const struct ld_services *services,
                   struct ld_pubzone **out);
void ld_pubzone_free(struct ld_pubzone *p);
/* Rebuilds the zone from t with the next serial. */
int ld_pubzone_build(struct ld_pubzone *p, const struct ld_table *t);

#endif
