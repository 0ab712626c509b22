/* container: the model's entities — a registered container, its links, what a remote
 * container's peer last said — below both the table that holds them and the views built
 * from them. */
#ifndef LD_CONTAINER_H
#define LD_CONTAINER_H

#include "command.h"
#include "hash.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ld_container;
struct ld_vname;
struct ld_vptr;

/* One container's share of the index, owned by the container (view.c builds it). */
struct ld_cview {
        struct ld_vname *names;
        size_t nnames;
        struct ld_vptr *ptrs;
        size_t nptrs;
        uint64_t queries; /* answered for this view (ld_engine_handle), for stats */
};

struct ld_link {
        struct ld_container *from;
        struct ld_container *target;
        char alias[LD_NAME_MAX + 1];
        struct ld_link *prev, *next; /* the table's links in order of creation */
};

/* A pointer array that grows; used for a container's links from and to it. */
struct ld_linkvec {
        struct ld_link **v;
        size_t n, cap;
};

/* What the peer of a remote container (--remote FQDN@PEER) last said, kept by remote.c.
 * The query path reads states (and marks SRV slots wanted); timers in remote.c move them. */
enum ld_rstate {
        LD_RSTATE_PENDING, /* never answered yet, a lookup is on its way: wait for it */
        LD_RSTATE_OK,      /* fresh, or stale within --stale */
        LD_RSTATE_FAILED,  /* the peer is down past --stale: SERVFAIL */
};

/* One SRV question about a remote container; remote.c bounds, refreshes and drops these. */
struct ld_rsrv {
        uint16_t port;
        uint8_t proto;
        uint8_t state; /* enum ld_rstate */
        bool present;  /* the peer publishes port/proto */
        bool live;     /* false: a free slot */
        bool wanted;   /* a question read it since remote.c last looked (the one write the
                          query path makes: what nobody asks for is not refreshed) */
        uint16_t hostport;
};

struct ld_rcache {
        uint8_t state; /* of the addresses: enum ld_rstate */
        struct ld_addr *addrs;
        size_t naddrs;
        struct ld_rsrv *srv;
        size_t nsrv;
};

struct ld_container {
        struct ld_hash_node hn; /* the table's name index */
        struct ld_spec spec;
        char lname[LD_NAME_MAX + 1];
        uint32_t id;                      /* its view; never reused while the daemon runs */
        struct ld_container *prev, *next; /* order of registration */
        struct ld_linkvec from, to;
        struct ld_cview cview; /* its view, and the queries answered for it (the engine's) */
        /* What a remote container's peer last said: read by the answer path with no lookup,
         * and carried with the registration across a reload, so it stays here; who asks
         * the peer, and when, is remote.c's (by container). A namespace's listeners and
         * the refusal last logged are netns.c's: nothing here is runtime state of a module
         * (its identity, spec.nsid, is part of the registration). */
        struct ld_rcache *remote; /* NULL for a local container */
        size_t line; /* where it was registered in the file loaded, for messages; 0 if live */
};

/* A container's addresses: its own, or what its peer said (none until then). */
static inline const struct ld_addr *ld_container_addrs(const struct ld_container *c, size_t *n)
{
        if (c->remote) {
                *n = c->remote->state == LD_RSTATE_OK ? c->remote->naddrs : 0;
                return c->remote->addrs;
        }
        *n = c->spec.naddrs;
        return c->spec.addrs;
}

#endif
