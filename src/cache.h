/* cache: forwarded answers kept in wire form, answered again without allocation, bounded
 * in bytes (every byte it allocates counts), keyed by what may change the answer. */
#ifndef LD_CACHE_H
#define LD_CACHE_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ld_query;
struct ld_cache;

#define LD_CACHE_SET_MAX 8     /* servers in an upstream set (the forwarder's own bound) */
#define LD_CACHE_FAIL_TTL 5    /* seconds a failure is answered from the cache (RFC 9520) */
#define LD_CACHE_MAX_WIRE 4096 /* a larger answer is not kept (nor one over an eighth) */

/* The servers a view forwards to, in any order: part of the key, so a view never gets an
 * answer from servers it does not use, and two views with the same servers share. A server
 * is its forwarder's number for it (one per address and port, never given to another for
 * the daemon's life): four octets in the key instead of an endpoint's nineteen, which
 * keeps a hit's key short to build and to hash. */
struct ld_cache_set {
        size_t n;
        uint32_t id[LD_CACHE_SET_MAX];
};

struct ld_cache_stats {
        uint64_t hits, misses, evictions;
        size_t entries, bytes;
};

/* A cache bounded by bytes (its index included) that keeps TTLs at most max_ttl; seed
 * keys the hash (random: a flood of names cannot aim at one chain). bytes 0: *out = NULL,
 * no cache, and every function below takes NULL as "no cache". */
int ld_cache_new(size_t bytes, uint32_t max_ttl, uint64_t seed, struct ld_cache **out);
void ld_cache_free(struct ld_cache *c);
/* The clock in seconds (default: CLOCK_MONOTONIC_COARSE); tests set a fake one. */
void ld_cache_set_clock(struct ld_cache *c, double (*now)(void));

/* Keeps what the upstream set answered to query (our upstream query, as sent): ans (the
 * accepted answer) or NULL when every server failed. Positive answers live their smallest
 * TTL, negative ones min(SOA TTL, SOA MINIMUM) of the authority SOA (none: not kept),
 * failures (SERVFAIL, REFUSED, no answer) LD_CACHE_FAIL_TTL; TC, other RCODEs, malformed
 * or too large answers are not kept. May allocate; never on the hit path. */
void ld_cache_store(struct ld_cache *c, const uint8_t *query, size_t qlen,
                    const struct ld_cache_set *set, const uint8_t *ans, size_t alen);
/* The answer for the parsed query q forwarded to set, from the cache, as a fresh forward
 * would give it (the client's ID, spelling and EDNS; TTLs counted down; cut with TC to its
 * limit): its length in out, or 0 on a miss. No allocation. */
size_t ld_cache_answer(struct ld_cache *c, const struct ld_query *q, const struct ld_cache_set *set,
                       bool tcp, uint8_t *out, size_t cap);
/* Drops every entry (name NULL), or those at and below name (lower case, wire form).
 * Returns how many went. */
size_t ld_cache_flush(struct ld_cache *c, const uint8_t *name, size_t namelen);
struct ld_cache_stats ld_cache_stats(const struct ld_cache *c);

#endif
