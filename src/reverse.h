/* reverse: in-addr.arpa and ip6.arpa names, and the local zones of RFC 6303 / RFC 7793
 * that are answered here instead of leaking private reverse lookups upstream. */
#ifndef LD_REVERSE_H
#define LD_REVERSE_H

#include "addr.h"
#include "query.h"

#include <stdbool.h>

struct ld_reverse {
        bool full; /* the name is one whole address: addr is set */
        struct ld_addr addr;
        bool local;       /* under a local (private range) zone */
        bool apex;        /* the name is that zone's apex */
        uint8_t apex_off; /* offset of the zone's apex in the question name */
};

/* Returns true when the question is under in-addr.arpa or ip6.arpa. */
bool ld_reverse_parse(const struct ld_query *q, struct ld_reverse *r);

#endif
