/* relay: an upstream's answer made the client's — bounded, no allocation, fuzzed. */
#ifndef LD_RELAY_H
#define LD_RELAY_H

#include "wire.h"

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

/* The end of a rewrite, for a message whose records (count[] of them, answer, authority,
 * additional) are already in out[0, len) behind its question in the client's spelling: the
 * client's ID, the flags and RCODE of ans (TC as given), our OPT when the client sent EDNS,
 * the counts. Returns the length. The answer cache (cache.c) ends its replies here too. */
size_t ld_relay_finish(const uint8_t *ans, const uint16_t count[3], bool tc,
                       const struct ld_relay_ask *c, uint8_t *out, size_t len);

/* A client's size limit for a reply: 65535 over TCP, 512 without EDNS, else its payload
 * up to ours. */
static inline size_t ld_relay_limit(bool tcp, bool edns, uint16_t edns_udp)
{
        return tcp ? 65535 : !edns ? 512 : edns_udp < LD_EDNS_PAYLOAD ? edns_udp : LD_EDNS_PAYLOAD;
}

#endif
