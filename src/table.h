/* table: the link table — containers, their links and ports — and its text form. */
#ifndef LD_TABLE_H
#define LD_TABLE_H

#include "command.h"
#include "hash.h"
#include "view.h"

#include <stdbool.h>
#include <stdint.h>

struct ld_container;

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

struct ld_table {
        struct ld_hash names;
        struct ld_container *head, *tail;
        size_t ncontainers;
        struct ld_link *lhead, *ltail;
        size_t nlinks;
        uint32_t next_id;
        bool deferred; /* while loading: views are built once at the end */
        char *path;    /* the file it was loaded from, for messages */
        size_t line;   /* the line being replayed while loading */
        bool torn;     /* the load dropped a change cut short at the end: rewrite the file */
        struct ld_views views;
};

struct ld_table *ld_table_new(void);
void ld_table_free(struct ld_table *t);

/* Validates and applies one change (add, rm, link, unlink). Takes cmd->spec for add.
 * On refusal nothing changed and err holds one sentence. */
int ld_table_apply(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen);

/* Replays a table file into a new table; err holds "FILE:LINE: problem" on failure.
 * A missing file is an empty table. */
int ld_table_load(const char *path, struct ld_table **out, char *err, size_t errlen);
/* views false: the model alone (validation, no lookups), half the memory. */
/* The same from a buffer (fuzzing, tests); name is used in messages. */
int ld_table_load_buf(const char *buf, size_t len, const char *name, bool views,
                      struct ld_table **out, char *err, size_t errlen);

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

/* Rebuilds the views that show c's addresses (after a remote's changed). */
void ld_table_refresh(struct ld_table *t, struct ld_container *c);
struct ld_rsrv *ld_rcache_srv(const struct ld_container *c, uint16_t port, uint8_t proto);

/* The canonical snapshot: add lines in order of registration, then link lines; with the
 * namespace ids (--ns-id) for the state file, without them for `ls`. */
void ld_table_dump(const struct ld_table *t, FILE *f);
void ld_table_list(const struct ld_table *t, FILE *f);

struct ld_container *ld_table_find(const struct ld_table *t, const char *name);

#endif
