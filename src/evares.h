/* evares: one c-ares channel driven by the libev loop — its sockets as ev_io watchers, its
 * timeouts as an ev_timer. */
#ifndef LD_EVARES_H
#define LD_EVARES_H

#include "addr.h"

#include <ares.h>
#include <ev.h>
#include <stdbool.h>

struct ld_evares_sock;

struct ld_evares {
        struct ev_loop *loop;
        ares_channel ch;
        ev_timer timer;
        struct ld_evares_sock *socks;
};

/* A channel asking only server (tries, timeout_ms per try); tcp: always over TCP. */
int ld_evares_init(struct ld_evares *e, struct ev_loop *loop, const struct ld_endpoint *server,
                   bool tcp, int tries, int timeout_ms);
/* Pending queries end with ARES_EDESTRUCTION first. */
void ld_evares_fini(struct ld_evares *e);
/* Re-arms the timer after a query was sent. */
void ld_evares_arm(struct ld_evares *e);

#endif
