/* engine: the answering engine — table, views, configuration, counters — and the one entry
 * point from packet in to packet out; it never sees a socket (transports and dispatch do). */
#ifndef LD_ENGINE_H
#define LD_ENGINE_H

#include "answer.h"
#include "services.h"
#include "table.h"

#include <stdbool.h>
#include <stdint.h>

struct ld_cache;
struct ld_pubzone;
struct ld_query;

struct ld_stats {
        uint64_t queries;
        uint64_t rcode[24]; /* by RCODE, extended ones included (BADVERS = 16) */
        uint64_t dropped;
        uint64_t truncated;
        uint64_t forwarded;
        uint64_t transfers;
        uint64_t forward_failed;   /* answered SERVFAIL: every upstream failed */
        uint64_t forward_overflow; /* beyond --max-forwards */
        uint64_t tcp_accepted;
        uint64_t tcp_refused; /* closed to make room at --tcp-max or the strangers' share */
};

struct ld_engine {
        struct ld_table *table;
        struct ld_services services;
        struct ld_answer_cfg cfg;
        uint32_t rotate;
        struct ld_stats stats;
        struct ld_zones *zones;     /* NULL without --zones */
        struct ld_pubzone *pubzone; /* NULL without --publish-zone */
        struct ld_cache *cache;     /* forwarded answers (NULL: --cache-size 0); owned */
        bool log_queries;
};

int ld_engine_init(struct ld_engine *s, const char *domain, uint32_t ttl, bool upstream);
void ld_engine_fini(struct ld_engine *s);
/* Takes t and frees the previous table: a query sees the old table or the new one. */
void ld_engine_set_table(struct ld_engine *s, struct ld_table *t);
/* Takes z (NULL: none) and frees the previous zones. */
void ld_engine_set_zones(struct ld_engine *s, struct ld_zones *z);
/* Rebuilds the publish zone from the table (a new serial); 0 or a negative errno. */
int ld_engine_rebuild_pubzone(struct ld_engine *s);
/* The table changed in place: the zone's serial grows. */
void ld_engine_bump_serial(struct ld_engine *s);

/* Answers one message from a client that sees the views vs (none: an unknown source). */
struct ld_answer_result ld_engine_handle(struct ld_engine *s, struct ld_viewset vs,
                                         const uint8_t *pkt, size_t len, uint8_t *out, size_t cap,
                                         bool tcp);
/* --log-queries' line for a query that went to the forwarder (handle does not log it: the
 * cache may answer it): what says how ("forwarded", "answered from the cache"), or NULL for
 * res's rcode (no upstream: REFUSED). */
void ld_engine_log_forward(const struct ld_engine *s, const struct ld_query *q,
                           struct ld_viewset vs, const struct ld_answer_result *res,
                           const char *what);
/* The same, with the parsed query left in q (the answer cache reads it for a query to
 * forward, rather than parsing it again). */
struct ld_answer_result ld_engine_handle_parsed(struct ld_engine *s, struct ld_viewset vs,
                                                const uint8_t *pkt, size_t len, uint8_t *out,
                                                size_t cap, bool tcp, struct ld_query *q);
/* The views of a client at src on a shared listener: the containers owning src. */
struct ld_viewset ld_engine_views_of(const struct ld_engine *s, const struct ld_addr *src);

#endif
