/* view: what each container may resolve, indexed for O(1) lookups by (view, name) and
 * (view, address); rebuilt per container when the table changes, never per query. */
#include "view.h"

#include "container.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t view_name_hash(uint32_t view, const char *lname, size_t len)
{
        return ld_hash_bytes(ld_hash_bytes(LD_HASH_SEED, &view, sizeof(view)), lname, len);
}

static uint64_t view_addr_hash(uint32_t view, const struct ld_addr *a)
{
        uint64_t h = ld_hash_bytes(LD_HASH_SEED, &view, sizeof(view));
        return ld_hash_bytes(h, a, 1 + ld_addr_len(a));
}

int ld_views_init(struct ld_views *v)
{
        memset(v, 0, sizeof(*v));
        if (ld_hash_init(&v->names) < 0 || ld_hash_init(&v->ptrs) < 0 ||
            ld_hash_init(&v->owners) < 0) {
                ld_views_fini(v);
                return -ENOMEM;
        }
        return 0;
}

void ld_views_fini(struct ld_views *v)
{
        ld_hash_fini(&v->names);
        ld_hash_fini(&v->ptrs);
        ld_hash_fini(&v->owners);
}

const struct ld_vname *ld_view_name(const struct ld_views *v, uint32_t view, const char *lname,
                                    size_t len)
{
        uint64_t h = view_name_hash(view, lname, len);

        for (struct ld_hash_node *n = ld_hash_bucket(&v->names, h); n; n = n->next) {
                const struct ld_vname *e = (const struct ld_vname *)n;
                if (n->hash == h && e->view == view && e->len == len &&
                    memcmp(e->lname, lname, len) == 0)
                        return e;
        }
        return NULL;
}

const struct ld_vptr *ld_view_ptr(const struct ld_views *v, uint32_t view, const struct ld_addr *a)
{
        uint64_t h = view_addr_hash(view, a);

        for (struct ld_hash_node *n = ld_hash_bucket(&v->ptrs, h); n; n = n->next) {
                const struct ld_vptr *e = (const struct ld_vptr *)n;
                if (n->hash == h && e->view == view && ld_addr_equal(&e->addr, a))
                        return e;
        }
        return NULL;
}

const struct ld_owner *ld_views_owner(const struct ld_views *v, const struct ld_addr *a)
{
        uint64_t h = view_addr_hash(0, a);

        for (struct ld_hash_node *n = ld_hash_bucket(&v->owners, h); n; n = n->next) {
                const struct ld_owner *e = (const struct ld_owner *)n;
                if (n->hash == h && ld_addr_equal(&e->addr, a))
                        return e;
        }
        return NULL;
}

void ld_view_drop(struct ld_views *v, struct ld_container *c)
{
        struct ld_cview *cv = &c->cview;

        for (size_t i = 0; i < cv->nnames; i++) {
                ld_hash_remove(&v->names, &cv->names[i].hn);
                free(cv->names[i].targets);
        }
        for (size_t i = 0; i < cv->nptrs; i++)
                ld_hash_remove(&v->ptrs, &cv->ptrs[i].hn);
        free(cv->names);
        free(cv->ptrs);
        *cv = (struct ld_cview){.queries = cv->queries}; /* rebuilt, still counting */
}

static int view_add_target(struct ld_vname *e, struct ld_container *t)
{
        struct ld_container **nt;

        for (uint32_t i = 0; i < e->ntargets; i++)
                if (e->targets[i] == t)
                        return 0;
        nt = realloc(e->targets, (e->ntargets + 1) * sizeof(*nt));
        if (!nt)
                return -ENOMEM;
        nt[e->ntargets++] = t;
        e->targets = nt;
        return 0;
}

/* Adds label -> t to c's view; an existing name gains t as a replica when alias is set,
 * and is left alone otherwise (an alias wins over a target's own name). */
static int view_put_name(struct ld_views *v, struct ld_container *c, const char *label,
                         struct ld_container *t, int alias)
{
        struct ld_cview *cv = &c->cview;
        struct ld_vname *e;
        size_t len = strlen(label);
        char lname[64];

        for (size_t i = 0; i < len; i++)
                lname[i] = (char)tolower((unsigned char)label[i]);
        e = (struct ld_vname *)ld_view_name(v, c->id, lname, len);
        if (e)
                return alias ? view_add_target(e, t) : 0;
        e = &cv->names[cv->nnames];
        memset(e, 0, sizeof(*e));
        e->view = c->id;
        e->len = (uint8_t)len;
        memcpy(e->lname, lname, len);
        e->label = label;
        if (view_add_target(e, t) < 0 ||
            ld_hash_insert(&v->names, &e->hn, view_name_hash(c->id, lname, len)) < 0) {
                free(e->targets);
                return -ENOMEM;
        }
        cv->nnames++;
        return 0;
}

/* Maps each of t's addresses to label in c's view, unless an earlier entry has it. */
static int view_put_ptrs(struct ld_views *v, struct ld_container *c, struct ld_container *t,
                         const char *label)
{
        struct ld_cview *cv = &c->cview;

        size_t n;
        const struct ld_addr *addrs = ld_container_addrs(t, &n);

        for (size_t i = 0; i < n; i++) {
                const struct ld_addr *a = &addrs[i];
                struct ld_vptr *e;

                if (ld_view_ptr(v, c->id, a))
                        continue;
                e = &cv->ptrs[cv->nptrs];
                e->view = c->id;
                e->addr = *a;
                e->label = label;
                if (ld_hash_insert(&v->ptrs, &e->hn, view_addr_hash(c->id, a)) < 0)
                        return -ENOMEM;
                cv->nptrs++;
        }
        return 0;
}

static int view_fill(struct ld_views *v, struct ld_container *c)
{
        const struct ld_linkvec *links = &c->from;
        int rc = view_put_name(v, c, c->spec.name, c, 0);

        for (size_t i = 0; rc == 0 && i < links->n; i++)
                rc = view_put_name(v, c, links->v[i]->alias, links->v[i]->target, 1);
        for (size_t i = 0; rc == 0 && i < links->n; i++)
                rc = view_put_name(v, c, links->v[i]->target->spec.name, links->v[i]->target, 0);
        if (rc == 0)
                rc = view_put_ptrs(v, c, c, c->spec.name);
        for (size_t i = 0; rc == 0 && i < links->n; i++)
                rc = view_put_ptrs(v, c, links->v[i]->target, links->v[i]->alias);
        return rc;
}

int ld_view_build(struct ld_views *v, struct ld_container *c)
{
        struct ld_cview *cv = &c->cview;
        size_t naddrs, n;

        ld_container_addrs(c, &naddrs);
        ld_view_drop(v, c);
        for (size_t i = 0; i < c->from.n; i++) {
                ld_container_addrs(c->from.v[i]->target, &n);
                naddrs += n;
        }
        /* Sized for the worst case up front: the hash holds pointers into these arrays. */
        cv->names = calloc(1 + 2 * c->from.n, sizeof(*cv->names));
        cv->ptrs = calloc(naddrs ? naddrs : 1, sizeof(*cv->ptrs));
        if (!cv->names || !cv->ptrs || view_fill(v, c) < 0) {
                ld_view_drop(v, c);
                return -ENOMEM;
        }
        return 0;
}

static struct ld_owner *view_owner_get(struct ld_views *v, const struct ld_addr *a)
{
        struct ld_owner *o = (struct ld_owner *)ld_views_owner(v, a);

        if (o)
                return o;
        o = calloc(1, sizeof(*o));
        if (!o)
                return NULL;
        o->addr = *a;
        if (ld_hash_insert(&v->owners, &o->hn, view_addr_hash(0, a)) < 0) {
                free(o);
                return NULL;
        }
        return o;
}

static void view_owner_put(struct ld_views *v, struct ld_owner *o, const struct ld_container *c)
{
        for (uint32_t i = 0; i < o->nowners; i++) {
                if (o->owners[i] == c) {
                        o->owners[i] = o->owners[--o->nowners];
                        break;
                }
        }
        if (o->nowners == 0) {
                ld_hash_remove(&v->owners, &o->hn);
                free(o->owners);
                free(o);
        }
}

int ld_views_own(struct ld_views *v, struct ld_container *c)
{
        for (size_t i = 0; i < c->spec.naddrs; i++) {
                struct ld_owner *o = view_owner_get(v, &c->spec.addrs[i]);
                struct ld_container **no =
                    o ? realloc(o->owners, (o->nowners + 1) * sizeof(*no)) : NULL;
                if (!no) {
                        if (o)
                                view_owner_put(v, o, c);
                        ld_views_disown(v, c);
                        return -ENOMEM;
                }
                no[o->nowners++] = c;
                o->owners = no;
        }
        return 0;
}

void ld_views_disown(struct ld_views *v, struct ld_container *c)
{
        for (size_t i = 0; i < c->spec.naddrs; i++) {
                struct ld_owner *o = (struct ld_owner *)ld_views_owner(v, &c->spec.addrs[i]);
                if (o)
                        view_owner_put(v, o, c);
        }
}
