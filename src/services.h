/* services: /etc/services read once, so SRV names like _postgresql._tcp resolve without
 * touching files on the query path. */
#ifndef LD_SERVICES_H
#define LD_SERVICES_H

#include "hash.h"

#include <stddef.h>
#include <stdint.h>

struct ld_services {
        struct ld_hash byname;
        struct ld_hash byport;
        struct ld_service *all;
};

/* Loads path (normally /etc/services); a missing file leaves the table empty. */
int ld_services_load(struct ld_services *s, const char *path);
void ld_services_fini(struct ld_services *s);
/* Port of the lower-case service name for proto (enum ld_proto), or 0. */
uint16_t ld_services_port(const struct ld_services *s, uint8_t proto, const char *lname,
                          size_t len);

/* The first name of port/proto (lower case, NUL-terminated), or NULL. */
const char *ld_services_name(const struct ld_services *s, uint8_t proto, uint16_t port);

#endif
