/* exchange: one DNS query to one server over UDP, from a fresh random source port with a
 * random ID, and only the answer that matches it — what an off-path attacker would have
 * to guess. */
#ifndef LD_EXCHANGE_H
#define LD_EXCHANGE_H

#include "addr.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ld_exchange;
struct ld_xpool;
struct ld_xsock;

/* err 0: ans is the server's answer (valid during the call only; TC is the caller's to
 * judge); otherwise a negative errno (-ETIMEDOUT, -ECONNREFUSED...) and no answer: -EPROTO
 * is a timeout after an answer whose question differed only in case (a server that does
 * not keep the case of names, or a forger who guessed port and ID but not the case). The
 * exchange is over when this is called: the caller may start another or free it. */
typedef void (*ld_exchange_fn)(struct ld_exchange *x, int err, const uint8_t *ans, size_t len);

/* Embedded in the caller's request. */
struct ld_exchange {
        struct ld_xpool *pool;
        struct ld_xsock *s;              /* NULL: idle */
        struct ld_exchange *prev, *next; /* the pool's exchanges under way, by deadline */
        double deadline;
        struct sockaddr_storage server; /* answers come from there, or are dropped */
        const uint8_t *q;               /* the query as sent (the caller's, kept until the end) */
        size_t qend;                    /* where its question ends */
        bool case_seen;                 /* an answer differing only in the case of the name came */
        ld_exchange_fn cb;
};

/* The sockets exchanges borrow, on loop. Free it after every exchange has ended. */
int ld_xpool_new(struct ev_loop *loop, struct ld_xpool **out);
void ld_xpool_free(struct ld_xpool *p);

/* Makes x idle: ld_exchange_cancel is a no-op. */
void ld_exchange_init(struct ld_exchange *x, struct ld_xpool *pool);
/* Writes a fresh random ID into q (one question, names uncompressed: ours) and sends it to
 * server; cb follows, once. q must stay until then. 0, or a negative errno and no cb. */
int ld_exchange_start(struct ld_exchange *x, const struct ld_endpoint *server, uint8_t *q,
                      size_t qlen, double timeout, ld_exchange_fn cb);
/* Ends it without calling cb. */
void ld_exchange_cancel(struct ld_exchange *x);

#endif
