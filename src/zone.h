/* zone: static zones from --zones DIR, parsed with ldns when loaded and kept as wire-form
 * RRsets, served to every view after link names and before forwarding. */
#ifndef LD_ZONE_H
#define LD_ZONE_H

#include "hash.h"
#include "query.h"

#include <ldns/ldns.h>

#include <stddef.h>
#include <stdint.h>

/* The records of one type at one name, each as TYPE CLASS TTL RDLENGTH RDATA (no owner). */
struct ld_rrset {
        uint16_t type;
        uint16_t count;
        size_t len;
        uint8_t *wire;
};

struct ld_zone {
        uint8_t origin[LD_NAME_WIRE_MAX]; /* lower case wire form */
        uint8_t origin_len;
        uint8_t labels;
        const struct ld_rrset *soa;
};

struct ld_zname {
        struct ld_hash_node hn;
        struct ld_zname *next_all;
        const struct ld_zone *zone;
        uint8_t len;
        uint8_t lname[LD_NAME_WIRE_MAX];
        struct ld_rrset *sets; /* none: an empty non-terminal */
        size_t nsets;
};

struct ld_zones {
        struct ld_zone **zones;
        size_t nzones;
        struct ld_hash names;
        struct ld_zname *all;
};

struct ld_zones *ld_zones_new(void);
/* Adds a parsed zone (it needs an SOA); 0 or -ENOMEM. */
int ld_zones_add(struct ld_zones *z, const ldns_zone *lz);
/* Loads every *.zone file in dir; err holds "FILE:LINE: problem" on failure. */
int ld_zones_load(const char *dir, struct ld_zones **out, char *err, size_t errlen);
void ld_zones_free(struct ld_zones *z);

/* The deepest zone holding q's name (NULL: none), and the name itself (NULL: no such). */
const struct ld_zone *ld_zones_match(const struct ld_zones *z, const struct ld_query *q);
const struct ld_zname *ld_zones_name(const struct ld_zones *z, const struct ld_query *q);
const struct ld_rrset *ld_zname_rrset(const struct ld_zname *n, uint16_t type);

#endif
