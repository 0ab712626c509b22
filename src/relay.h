/* relay: an upstream's answer made the client's — bounded, no allocation, fuzzed. */
#ifndef LD_RELAY_H
#define LD_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rewrites ans for the client: its ID; the upstream's OPT dropped and ours added when the
 * client sent EDNS (payload 1232, DO copied); cut to whole records with TC set when an
 * answer or authority record does not fit in limit. Returns the length written to out, or
 * 0 if ans is malformed or no answer to a QUERY. */
size_t ld_relay_rewrite(const uint8_t *ans, size_t alen, uint16_t id, bool edns, bool do_bit,
                        size_t limit, uint8_t *out, size_t cap);

#endif
