/* view: what each container may resolve, indexed for O(1) lookups by (view, name) and
 * (view, address); rebuilt per container when the table changes, never per query. */
#include "view.h"

#include "container.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t view_name_hash(uint32_t view, const uint8_t *key, size_t len)
{
        return ld_hash_bytes(ld_hash_bytes(LD_HASH_SEED, &view, sizeof(view)), key, len);
}

size_t ld_view_key(const char *alias, uint8_t *key)
{
        size_t len = strlen(alias), out = 0, start = 0;

        if (len == 0 || len + 1 > LD_KEY_MAX)
                return 0;
        for (size_t i = 0; i <= len; i++) {
                if (i < len && alias[i] != '.')
                        continue;
                if (i == start || i - start > 63)
                        return 0;
                key[out++] = (uint8_t)(i - start);
                for (size_t k = start; k < i; k++)
                        key[out++] = (uint8_t)tolower((unsigned char)alias[k]);
                start = i + 1;
        }
        return out;
}

static uint64_t view_addr_hash(uint32_t view, const struct ld_addr *a)
{
        uint64_t h = ld_hash_bytes(LD_HASH_SEED, &view, sizeof(view));
        return ld_hash_bytes(h, a, 1 + ld_addr_len(a));
}

int ld_views_init(struct ld_views *v)
{
        memset(v, 0, sizeof(*v));
        v->max_labels = 1;
        if (ld_hash_init(&v->names) < 0 || ld_hash_init(&v->ptrs) < 0 ||
            ld_hash_init(&v->owners) < 0 || ld_hash_init(&v->nnames) < 0 ||
            ld_hash_init(&v->nptrs) < 0) {
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
        ld_hash_fini(&v->nnames);
        ld_hash_fini(&v->nptrs);
        free(v->doms);
        v->doms = NULL;
        v->ndoms = 0;
}

const struct ld_vname *ld_view_name(const struct ld_views *v, uint32_t view, const uint8_t *key,
                                    size_t len)
{
        uint64_t h = view_name_hash(view, key, len);

        for (struct ld_hash_node *n = ld_hash_bucket(&v->names, h); n; n = n->next) {
                const struct ld_vname *e = (const struct ld_vname *)n;
                if (n->hash == h && e->view == view && e->len == len &&
                    memcmp(e->key, key, len) == 0)
                        return e;
        }
        return NULL;
}

const struct ld_nname *ld_view_nname(const struct ld_views *v, uint32_t net, const uint8_t *key,
                                     size_t len)
{
        uint64_t h = view_name_hash(net, key, len);

        for (struct ld_hash_node *n = ld_hash_bucket(&v->nnames, h); n; n = n->next) {
                const struct ld_nname *e = (const struct ld_nname *)n;
                if (n->hash == h && e->net == net && e->len == len && memcmp(e->key, key, len) == 0)
                        return e;
        }
        return NULL;
}

const struct ld_nptr *ld_view_nptr(const struct ld_views *v, uint32_t net, const struct ld_addr *a)
{
        uint64_t h = view_addr_hash(net, a);

        for (struct ld_hash_node *n = ld_hash_bucket(&v->nptrs, h); n; n = n->next) {
                const struct ld_nptr *e = (const struct ld_nptr *)n;
                if (n->hash == h && e->net == net && ld_addr_equal(&e->addr, a))
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
 * and is left alone otherwise (an alias wins over a target's own name). t NULL: an empty
 * non-terminal (the parent of a multi-label alias), which any real name fills. */
static void view_note_labels(struct ld_views *v, const uint8_t *key, size_t len)
{
        size_t n = 0;

        for (size_t off = 0; off < len; off += 1u + key[off])
                n++;
        if (n > v->max_labels)
                v->max_labels = n;
}

static int view_put_key(struct ld_views *v, struct ld_container *c, const uint8_t *key, size_t len,
                        const char *label, struct ld_container *t, int alias)
{
        struct ld_cview *cv = &c->cview;
        struct ld_vname *e = (struct ld_vname *)ld_view_name(v, c->id, key, len);

        view_note_labels(v, key, len);
        if (e) {
                if (e->ntargets == 0 && t)
                        e->label = label;
                return t && (alias || e->ntargets == 0) ? view_add_target(e, t) : 0;
        }
        e = &cv->names[cv->nnames];
        memset(e, 0, sizeof(*e));
        e->view = c->id;
        e->len = (uint8_t)len;
        memcpy(e->key, key, len);
        e->label = label;
        if ((t && view_add_target(e, t) < 0) ||
            ld_hash_insert(&v->names, &e->hn, view_name_hash(c->id, key, len)) < 0) {
                free(e->targets);
                return -ENOMEM;
        }
        cv->nnames++;
        return 0;
}

static int view_put_name(struct ld_views *v, struct ld_container *c, const char *label,
                         struct ld_container *t, int alias)
{
        uint8_t key[LD_KEY_MAX];
        size_t len = ld_view_key(label, key);

        return len ? view_put_key(v, c, key, len, label, t, alias) : 0;
}

/* The parents of a multi-label alias: empty non-terminals unless something holds them. */
static int view_put_parents(struct ld_views *v, struct ld_container *c, const char *label)
{
        uint8_t key[LD_KEY_MAX];
        size_t len = ld_view_key(label, key);
        int rc = 0;

        for (size_t off = 1u + key[0]; rc == 0 && len && off < len; off += 1u + key[off])
                rc = view_put_key(v, c, key + off, len - off, label, NULL, 0);
        return rc;
}

static size_t view_dots(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += *s == '.';
        return n;
}

/* Maps each of t's addresses to label in c's view, unless an earlier entry has it. */
static int view_put_ptrs(struct ld_views *v, struct ld_container *c, struct ld_container *t,
                         const char *label)
{
        struct ld_cview *cv = &c->cview;

        size_t n;
        const struct ld_addr *addrs = ld_container_addrs(t, &n);
        bool shared = ld_container_share(c, t);

        for (size_t i = 0; i < n; i++) {
                const struct ld_addr *a = &addrs[i];
                struct ld_vptr *e;

                if (!ld_container_sees(c, t, i, shared) || ld_view_ptr(v, c->id, a))
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
        for (size_t i = 0; rc == 0 && i < links->n; i++)
                rc = view_put_parents(v, c, links->v[i]->alias);
        if (rc == 0)
                rc = view_put_ptrs(v, c, c, c->spec.name);
        for (size_t i = 0; rc == 0 && i < links->n; i++)
                rc = view_put_ptrs(v, c, links->v[i]->target, links->v[i]->alias);
        return rc;
}

int ld_view_build(struct ld_views *v, struct ld_container *c)
{
        struct ld_cview *cv = &c->cview;
        size_t naddrs, n, nnames = 1 + 2 * c->from.n;

        ld_container_addrs(c, &naddrs);
        ld_view_drop(v, c);
        for (size_t i = 0; i < c->from.n; i++) {
                ld_container_addrs(c->from.v[i]->target, &n);
                naddrs += n;
                nnames += view_dots(c->from.v[i]->alias);
        }
        /* Sized for the worst case up front: the hash holds pointers into these arrays. */
        cv->names = calloc(nnames, sizeof(*cv->names));
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
        for (size_t i = 0; i < c->naddrs; i++) {
                struct ld_owner *o = view_owner_get(v, &c->addrs[i]);
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
        for (size_t i = 0; i < c->naddrs; i++) {
                struct ld_owner *o = (struct ld_owner *)ld_views_owner(v, &c->addrs[i]);
                if (o)
                        view_owner_put(v, o, c);
        }
}

/* Network domains: a slot per distinct --domain, shared by the networks naming it. */
int ld_views_net_add(struct ld_views *v, struct ld_net *n)
{
        uint8_t wire[256], labels;
        size_t len, free_slot = v->ndoms;

        n->dom = -1;
        if (!n->spec.domain[0])
                return 0;
        /* Domains up to 253 characters: longer than LD_KEY_MAX, so written here. */
        len = 0;
        labels = 0;
        for (const char *p = n->spec.domain; *p;) {
                const char *dot = strchr(p, '.');
                size_t l = dot ? (size_t)(dot - p) : strlen(p);
                wire[len++] = (uint8_t)l;
                memcpy(wire + len, p, l);
                len += l;
                labels++;
                p += l + (dot ? 1 : 0);
        }
        wire[len++] = 0;
        for (size_t i = 0; i < v->ndoms; i++) {
                struct ld_vdom *d = &v->doms[i];
                if (d->refs && d->len == len && memcmp(d->wire, wire, len) == 0) {
                        d->refs++;
                        n->dom = (int)i;
                        return 0;
                }
                if (!d->refs && free_slot == v->ndoms)
                        free_slot = i;
        }
        if (free_slot == v->ndoms) {
                struct ld_vdom *nd = realloc(v->doms, (v->ndoms + 1) * sizeof(*nd));
                if (!nd)
                        return -ENOMEM;
                v->doms = nd;
                v->ndoms++;
        }
        struct ld_vdom *d = &v->doms[free_slot];
        memcpy(d->wire, wire, len);
        d->len = (uint8_t)len;
        d->labels = labels;
        d->refs = 1;
        n->dom = (int)free_slot;
        return 0;
}

void ld_views_net_drop(struct ld_views *v, struct ld_net *n)
{
        if (n->dom >= 0)
                v->doms[n->dom].refs--;
        n->dom = -1;
}

enum { NN_NAMED, NN_ALIAS, NN_ENT, NN_NONE /* held by nothing yet: freed if empty */ };

static struct ld_nname *view_nname_get(struct ld_views *v, const struct ld_net *net,
                                       const uint8_t *key, size_t len, const char *label)
{
        struct ld_nname *e = (struct ld_nname *)ld_view_nname(v, net->id, key, len);

        view_note_labels(v, key, len);
        if (e)
                return e;
        e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->net = net->id;
        e->netp = net;
        e->len = (uint8_t)len;
        memcpy(e->key, key, len);
        snprintf(e->label, sizeof(e->label), "%s", label);
        if (ld_hash_insert(&v->nnames, &e->hn, view_name_hash(net->id, key, len)) < 0) {
                free(e);
                return NULL;
        }
        return e;
}

static void view_nname_put(struct ld_views *v, struct ld_nname *e, struct ld_container *c, int role)
{
        if (role == NN_NAMED && e->named == c)
                e->named = NULL;
        else if (role == NN_ENT)
                e->ents--;
        for (uint32_t i = 0; role == NN_ALIAS && i < e->naliased; i++) {
                if (e->aliased[i] == c) {
                        memmove(&e->aliased[i], &e->aliased[i + 1],
                                (e->naliased - i - 1) * sizeof(*e->aliased));
                        e->naliased--;
                        break;
                }
        }
        if (!e->named && !e->naliased && !e->ents) {
                ld_hash_remove(&v->nnames, &e->hn);
                free(e->aliased);
                free(e);
        }
}

static int view_nname_hold(struct ld_views *v, struct ld_attach *a, const uint8_t *key, size_t len,
                           const char *label, int role)
{
        struct ld_nname *e = view_nname_get(v, a->net, key, len, label);

        if (!e)
                return -ENOMEM;
        if (role == NN_ALIAS) {
                struct ld_container **na =
                    realloc(e->aliased, (e->naliased + 1) * sizeof(*e->aliased));
                if (!na) {
                        view_nname_put(v, e, a->c, NN_NONE);
                        return -ENOMEM;
                }
                e->aliased = na;
                e->aliased[e->naliased++] = a->c;
        } else if (role == NN_ENT) {
                e->ents++;
        } else {
                e->named = a->c;
        }
        a->held[a->nheld++] = e;
        return 0;
}

/* The entries of a, in the order ld_views_leave gives them back: its name, then each alias
 * followed by its parents. */
static int view_join_names(struct ld_views *v, struct ld_attach *a)
{
        uint8_t key[LD_KEY_MAX];
        size_t len = ld_view_key(a->c->spec.name, key);
        int rc = view_nname_hold(v, a, key, len, a->c->spec.name, NN_NAMED);

        for (size_t i = 0; rc == 0 && i < a->spec.naliases; i++) {
                const char *al = a->spec.aliases[i];
                len = ld_view_key(al, key);
                rc = view_nname_hold(v, a, key, len, al, NN_ALIAS);
                for (size_t off = 1u + key[0]; rc == 0 && off < len; off += 1u + key[off])
                        rc = view_nname_hold(v, a, key + off, len - off, al, NN_ENT);
        }
        return rc;
}

int ld_views_join(struct ld_views *v, struct ld_attach *a)
{
        size_t nheld = 1;

        for (size_t i = 0; i < a->spec.naliases; i++)
                nheld += 1 + view_dots(a->spec.aliases[i]);
        a->held = calloc(nheld, sizeof(*a->held));
        a->ptrs = calloc(a->spec.naddrs ? a->spec.naddrs : 1, sizeof(*a->ptrs));
        a->nheld = a->nptrs = a->njoined = 0;
        if (!a->held || !a->ptrs || view_join_names(v, a) < 0)
                goto fail;
        for (size_t i = 0; i < a->spec.naddrs; i++) {
                const struct ld_addr *ad = &a->spec.addrs[i];
                struct ld_nptr *p = (struct ld_nptr *)ld_view_nptr(v, a->net->id, ad);
                if (p) { /* a pod member's: the first keeps it, the others take over */
                        p->shared++;
                        a->njoined = i + 1;
                        continue;
                }
                p = &a->ptrs[a->nptrs];
                memset(p, 0, sizeof(*p));
                p->net = a->net->id;
                p->addr = *ad;
                p->att = a;
                if (ld_hash_insert(&v->nptrs, &p->hn, view_addr_hash(a->net->id, ad)) < 0)
                        goto fail;
                a->nptrs++;
                a->njoined = i + 1;
        }
        return 0;
fail:
        ld_views_leave(v, a);
        return -ENOMEM;
}

/* p's attachment leaves: another member of its network with the address keeps it (only a
 * pod's: p->shared says whether there is one, so a network's size costs nothing else). */
static void view_nptr_handover(struct ld_views *v, const struct ld_attach *a,
                               const struct ld_nptr *p)
{
        const struct ld_attvec *m = &a->net->members;

        for (size_t k = 0; k < m->n; k++) {
                struct ld_attach *b = m->v[k];
                for (size_t j = 0; b != a && j < b->njoined; j++) {
                        struct ld_nptr *q = &b->ptrs[b->nptrs];
                        if (!ld_addr_equal(&b->spec.addrs[j], &p->addr))
                                continue;
                        *q = (struct ld_nptr){
                            .net = p->net, .addr = p->addr, .att = b, .shared = p->shared - 1};
                        if (ld_hash_insert(&v->nptrs, &q->hn, view_addr_hash(q->net, &q->addr)) ==
                            0)
                                b->nptrs++; /* room: b skipped this address when it joined */
                        return;
                }
        }
}

void ld_views_leave(struct ld_views *v, struct ld_attach *a)
{
        size_t k = 0;

        for (size_t i = 0; i < a->njoined; i++) { /* the addresses a pod member keeps */
                struct ld_nptr *p =
                    (struct ld_nptr *)ld_view_nptr(v, a->net->id, &a->spec.addrs[i]);
                if (p && p->att != a && p->shared)
                        p->shared--;
        }
        for (size_t i = 0; i < a->nptrs; i++) {
                ld_hash_remove(&v->nptrs, &a->ptrs[i].hn);
                if (a->ptrs[i].shared)
                        view_nptr_handover(v, a, &a->ptrs[i]);
        }
        if (k < a->nheld)
                view_nname_put(v, a->held[k++], a->c, NN_NAMED);
        for (size_t i = 0; i < a->spec.naliases && k < a->nheld; i++) {
                const char *al = a->spec.aliases[i];
                view_nname_put(v, a->held[k++], a->c, NN_ALIAS);
                for (size_t d = view_dots(al); d > 0 && k < a->nheld; d--)
                        view_nname_put(v, a->held[k++], a->c, NN_ENT);
        }
        free(a->held);
        free(a->ptrs);
        a->held = NULL;
        a->ptrs = NULL;
        a->nheld = a->nptrs = a->njoined = 0;
}
