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
struct ld_nptr;

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
        ld_alias alias;
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

struct ld_net;
struct ld_nname;

/* A container on a network: its addresses and aliases there. */
struct ld_attach {
        struct ld_container *c;
        struct ld_net *net;
        struct ld_attspec spec;
        struct ld_attach *prev, *next; /* the table's attachments in order of creation */
        /* The network's name entries it holds (view.c): its name, its aliases, and the
         * parents of multi-label aliases; and its (network, address) PTR entries. */
        struct ld_nname **held;
        size_t nheld;
        struct ld_nptr *ptrs;
        size_t nptrs;
        size_t njoined; /* its addresses looked at by ld_views_join (all, once it succeeded) */
};

/* A pointer array that grows, for a network's members. */
struct ld_attvec {
        struct ld_attach **v;
        size_t n, cap;
};

struct ld_net {
        struct ld_hash_node hn; /* the table's network index */
        struct ld_netspec spec;
        char lname[LD_NETNAME_MAX + 1];
        uint32_t id;                /* its name entries' key; never reused */
        struct ld_net *prev, *next; /* order of creation */
        struct ld_attvec members;   /* in attach order */
        int dom;                    /* its --domain's slot in the views, -1: the daemon's */
        /* Who asks from the host at a network listener: no name, no address, attached to
         * this network only (every container on it, its --dns, REFUSED when --internal). */
        struct ld_container *host;
        struct ld_attach *host_att;
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
        /* Its networks in attach order, and every address it has: add --addr ones, then
         * each attachment's (net[i] names the network of addrs[i], NULL for add's). */
        struct ld_attach *att[LD_ATTACH_MAX];
        size_t natt;
        struct ld_addr *addrs;
        const struct ld_net **addr_net;
        size_t naddrs;
        size_t line; /* where it was registered in the file loaded, for messages; 0 if live */
        /* answer.c's stamp of the last walk over a name's holders that met it: one walk
         * counts it once (a mark with no meaning outside that walk) */
        uint64_t walk;
};

/* A container's addresses: its own, or what its peer said (none until then). */
static inline const struct ld_addr *ld_container_addrs(const struct ld_container *c, size_t *n)
{
        if (c->remote) {
                *n = c->remote->state == LD_RSTATE_OK ? c->remote->naddrs : 0;
                return c->remote->addrs;
        }
        *n = c->naddrs;
        return c->addrs;
}

/* Whether c is attached to net. */
static inline bool ld_container_on(const struct ld_container *c, const struct ld_net *net)
{
        for (size_t i = 0; i < c->natt; i++)
                if (c->att[i]->net == net)
                        return true;
        return false;
}

/* Whether c and t share a network. */
static inline bool ld_container_share(const struct ld_container *c, const struct ld_container *t)
{
        for (size_t i = 0; i < t->natt; i++)
                if (ld_container_on(c, t->att[i]->net))
                        return true;
        return false;
}

/* A container on networks that are all --internal, with no --dns of its own: never
 * forwarded for. */
static inline bool ld_container_internal(const struct ld_container *c)
{
        if (c->spec.ndns || c->natt == 0)
                return false;
        for (size_t i = 0; i < c->natt; i++)
                if (!c->att[i]->net->spec.internal)
                        return false;
        return true;
}

/* Whether the asker sees t's i-th address: its own, all of them; a container it shares no
 * network with (a link), all of them; else those on networks the two share. */
static inline bool ld_container_sees(const struct ld_container *asker, const struct ld_container *t,
                                     size_t i, bool shared)
{
        if (asker == t || !shared || t->remote)
                return true;
        return t->addr_net[i] && ld_container_on(asker, t->addr_net[i]);
}

#endif
