/* view: what each container may resolve, indexed for O(1) lookups by (view, name) and
 * (view, address); rebuilt per container when the table changes, never per query. */
#ifndef LD_VIEW_H
#define LD_VIEW_H

#include "addr.h"
#include "command.h"
#include "hash.h"

#include <stddef.h>
#include <stdint.h>

struct ld_container;
struct ld_attach;
struct ld_net;

/* Names are keyed in wire form, lower case, without the root: "\3api\2v2". */
#define LD_KEY_MAX (LD_ALIAS_MAX + 1)

/* The containers whose views a client sees (one, or a pod's several); none = unknown. */
struct ld_viewset {
        struct ld_container *const *v;
        size_t n;
};

/* A name of one view: a link alias, a linked target's name or the container's own name.
 * Several targets under one alias are replicas. */
struct ld_vname {
        struct ld_hash_node hn;
        uint32_t view;
        uint8_t len;
        uint8_t key[LD_KEY_MAX]; /* see LD_KEY_MAX */
        const char *label;       /* as written in the table: the SRV target and PTR label */
        struct ld_container **targets;
        uint32_t ntargets;
};

/* An address a view can reverse-resolve, and the label it answers. */
struct ld_vptr {
        struct ld_hash_node hn;
        uint32_t view;
        struct ld_addr addr;
        const char *label;
};

/* Every container owning an address: picks the view on shared listeners, and keeps
 * reverse names of container addresses from ever being forwarded. */
struct ld_owner {
        struct ld_hash_node hn;
        struct ld_addr addr;
        struct ld_container **owners;
        uint32_t nowners;
};

/* A name on a network, shared by every view of its members (so that one attach costs
 * its own entries, not a rebuild of each member's view): the container named so (at most
 * one: names are unique), those holding it as an alias there, and how many multi-label
 * aliases make it their parent (an empty non-terminal when nothing else holds it). */
struct ld_nname {
        struct ld_hash_node hn;
        uint32_t net;
        uint8_t len;
        uint8_t key[LD_KEY_MAX];
        char label[LD_ALIAS_MAX + 1]; /* as first written: the SRV target */
        const struct ld_net *netp;
        struct ld_container *named;
        struct ld_container **aliased;
        uint32_t naliased;
        uint32_t ents;
};

/* An address on a network: the attachment it reverse-resolves to (T.D_N). */
struct ld_nptr {
        struct ld_hash_node hn;
        uint32_t net;
        struct ld_addr addr;
        const struct ld_attach *att;
        uint32_t shared; /* pod members with the address too: one takes over when att leaves */
};

/* A network --domain other than the daemon's: where its names also live. */
struct ld_vdom {
        uint8_t wire[256];
        uint8_t len, labels;
        uint32_t refs; /* 0: a free slot */
};

struct ld_views {
        struct ld_hash names;
        struct ld_hash ptrs;
        struct ld_hash owners;
        struct ld_hash nnames;
        struct ld_hash nptrs;
        struct ld_vdom *doms;
        size_t ndoms;
        /* The most labels any name key has had (1 until a multi-label alias): a question
         * is looked up by its last this-many labels at most. Only grows. */
        size_t max_labels;
};

int ld_views_init(struct ld_views *v);
void ld_views_fini(struct ld_views *v);

/* (Re)builds c's view from its links; on failure c's view is empty and -ENOMEM returned. */
int ld_view_build(struct ld_views *v, struct ld_container *c);
void ld_view_drop(struct ld_views *v, struct ld_container *c);
/* Registers or unregisters c's addresses as owned by c. */
int ld_views_own(struct ld_views *v, struct ld_container *c);
void ld_views_disown(struct ld_views *v, struct ld_container *c);

const struct ld_vname *ld_view_name(const struct ld_views *v, uint32_t view, const uint8_t *key,
                                    size_t len);
/* Writes alias (dotted text) as a key; returns its length, 0 if it does not fit. */
size_t ld_view_key(const char *alias, uint8_t *key);

/* A network's domain slot (net->dom), and its entries for one attachment. */
int ld_views_net_add(struct ld_views *v, struct ld_net *n);
void ld_views_net_drop(struct ld_views *v, struct ld_net *n);
int ld_views_join(struct ld_views *v, struct ld_attach *a);
void ld_views_leave(struct ld_views *v, struct ld_attach *a);
const struct ld_nname *ld_view_nname(const struct ld_views *v, uint32_t net, const uint8_t *key,
                                     size_t len);
const struct ld_nptr *ld_view_nptr(const struct ld_views *v, uint32_t net, const struct ld_addr *a);
const struct ld_vptr *ld_view_ptr(const struct ld_views *v, uint32_t view, const struct ld_addr *a);
const struct ld_owner *ld_views_owner(const struct ld_views *v, const struct ld_addr *a);

#endif
