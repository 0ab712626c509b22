/* relay: an upstream's answer made the client's — bounded, no allocation, fuzzed. */
#ifndef LD_RELAY_H
#define LD_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the client asked, which its reply carries back. */
struct ld_relay_ask {
        uint16_t id;
        const uint8_t *name; /* its question name as it spelled it (NULL: the upstream's kept) */
        size_t namelen;
        bool edns, do_bit;
        size_t limit; /* its size limit: 512, its EDNS payload or 65535 */
};

/* Rewrites ans for the client c: its ID; its spelling of the name in the question (the
 * upstream echoes our 0x20 case) when the upstream's is the same name; the upstream's OPT
 * dropped and ours added when the client sent EDNS (LD_EDNS_PAYLOAD, DO copied); cut to
 * whole records with TC set when an answer or authority record does not fit in its limit.
 * Returns the length written to out, or 0 if ans is malformed or no answer to a QUERY. */
size_t ld_relay_rewrite(const uint8_t *ans, size_t alen, const struct ld_relay_ask *c, uint8_t *out,
                        size_t cap);

#endif
