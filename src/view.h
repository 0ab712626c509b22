/* view: what each container may resolve, indexed for O(1) lookups by (view, name) and
 * (view, address); rebuilt per container when the table changes, never per query. */
#ifndef LD_VIEW_H
#define LD_VIEW_H

#include "addr.h"
#include "hash.h"

#include <stddef.h>
#include <stdint.h>

struct ld_container;

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
        char lname[64];    /* lower case, the key */
        const char *label; /* as written in the table: the SRV target and PTR label */
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

struct ld_views {
        struct ld_hash names;
        struct ld_hash ptrs;
        struct ld_hash owners;
};

int ld_views_init(struct ld_views *v);
void ld_views_fini(struct ld_views *v);

/* (Re)builds c's view from its links; on failure c's view is empty and -ENOMEM returned. */
int ld_view_build(struct ld_views *v, struct ld_container *c);
void ld_view_drop(struct ld_views *v, struct ld_container *c);
/* Registers or unregisters c's addresses as owned by c. */
int ld_views_own(struct ld_views *v, struct ld_container *c);
void ld_views_disown(struct ld_views *v, struct ld_container *c);

const struct ld_vname *ld_view_name(const struct ld_views *v, uint32_t view, const char *lname,
                                    size_t len);
const struct ld_vptr *ld_view_ptr(const struct ld_views *v, uint32_t view, const struct ld_addr *a);
const struct ld_owner *ld_views_owner(const struct ld_views *v, const struct ld_addr *a);

#endif
