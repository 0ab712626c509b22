/* table: the link table — containers, their links and ports — and its text form. */
#include "table.h"

#include "frame.h"
#include "log.h"
#include "list.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void table_lower(char *dst, const char *src)
{
        size_t i = 0;

        for (; src[i]; i++)
                dst[i] = (char)tolower((unsigned char)src[i]);
        dst[i] = '\0';
}

static uint64_t table_name_hash(const char *lname)
{
        return ld_hash_bytes(LD_HASH_SEED, lname, strlen(lname));
}

struct ld_container *ld_table_find(const struct ld_table *t, const char *name)
{
        char lname[LD_NAME_MAX + 1];
        uint64_t h;

        if (strlen(name) > LD_NAME_MAX)
                return NULL;
        table_lower(lname, name);
        h = table_name_hash(lname);
        for (struct ld_hash_node *n = ld_hash_bucket(&t->names, h); n; n = n->next) {
                struct ld_container *c = (struct ld_container *)n;
                if (n->hash == h && strcmp(c->lname, lname) == 0)
                        return c;
        }
        return NULL;
}

bool ld_table_net_listed(const struct ld_net *n, const char *owner)
{
        return !owner || (n->spec.owner[0] && ld_owner_tag_match(n->spec.owner, owner));
}

struct ld_net *ld_table_net(const struct ld_table *t, const char *name)
{
        uint64_t h = ld_hash_bytes(LD_HASH_SEED, name, strlen(name));

        for (struct ld_hash_node *n = ld_hash_bucket(&t->nets, h); n; n = n->next) {
                struct ld_net *net = (struct ld_net *)n;
                if (n->hash == h && strcmp(net->lname, name) == 0)
                        return net;
        }
        return NULL;
}

static int linkvec_push(struct ld_linkvec *v, struct ld_link *l)
{
        if (v->n == v->cap) {
                size_t ncap = v->cap ? v->cap * 2 : 4;
                struct ld_link **nv = realloc(v->v, ncap * sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                v->v = nv;
                v->cap = ncap;
        }
        v->v[v->n++] = l;
        return 0;
}

/* Keeps the order: a view's first link to a target names its PTR. */
static void linkvec_remove(struct ld_linkvec *v, const struct ld_link *l)
{
        for (size_t i = 0; i < v->n; i++) {
                if (v->v[i] == l) {
                        memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof(*v->v));
                        v->n--;
                        return;
                }
        }
}

/* Rebuilds the view of c unless the table is loading (then all are built at the end). */
static void table_rebuild(struct ld_table *t, struct ld_container *c)
{
        if (!t->deferred && ld_view_build(&t->views, c) < 0)
                ld_err("out of memory building the view of '%s'", c->spec.name);
}

/* Views that show c's addresses: its own and every view linking to it. */
static void table_rebuild_around(struct ld_table *t, struct ld_container *c)
{
        table_rebuild(t, c);
        for (size_t i = 0; i < c->to.n; i++)
                table_rebuild(t, c->to.v[i]->from);
}

void ld_table_refresh(struct ld_table *t, struct ld_container *c)
{
        table_rebuild_around(t, c);
}

struct ld_rsrv *ld_rcache_srv(const struct ld_container *c, uint16_t port, uint8_t proto)
{
        for (size_t i = 0; c->remote && i < c->remote->nsrv; i++)
                if (c->remote->srv[i].live && c->remote->srv[i].port == port &&
                    c->remote->srv[i].proto == proto)
                        return &c->remote->srv[i];
        return NULL;
}

static void table_rcache_free(struct ld_container *c)
{
        if (!c->remote)
                return;
        free(c->remote->addrs);
        free(c->remote->srv);
        free(c->remote);
        c->remote = NULL;
}

/* Frees c and everything it owns (its links' arrays, remote cache, spec); the links
 * themselves, the views and the name index are the caller's to undo. */
static void table_container_free(struct ld_container *c)
{
        free(c->addrs);
        free(c->addr_net);
        free(c->from.v);
        free(c->to.v);
        table_rcache_free(c);
        ld_spec_clear(&c->spec);
        free(c);
}

/* A remote container starts with nothing known, waiting for its peer. */
static int table_rcache_reset(struct ld_container *c)
{
        table_rcache_free(c);
        if (!c->spec.remote_fqdn)
                return 0;
        c->remote = calloc(1, sizeof(*c->remote));
        return c->remote ? 0 : -ENOMEM;
}

static void table_unlink_one(struct ld_table *t, struct ld_link *l);
static void table_detach_one(struct ld_table *t, struct ld_attach *a);

/* Whether spec and c's entry name the same container: a common owner, or owners of two
 * routes with one container ID (oci:ID, cni:ID). */
static bool table_owner_shared(const struct ld_spec *spec, const struct ld_container *c,
                               bool *same_tag)
{
        bool shared = false;

        *same_tag = false;
        for (size_t i = 0; i < spec->nowners; i++) {
                const char *id = ld_owner_id(spec->owners[i]);
                *same_tag = *same_tag || ld_owner_has(&c->spec, spec->owners[i]);
                for (size_t k = 0; id[0] && k < c->spec.nowners; k++)
                        shared = shared || strcmp(id, ld_owner_id(c->spec.owners[k])) == 0;
        }
        return shared || *same_tag;
}

/* An add without --replace of an entry that another route of the same container
 * registered: the entry gains the owner and keeps its registration. */
static bool table_merges(const struct ld_container *c, const struct ld_cmd *cmd)
{
        bool same_tag;

        return c && cmd->kind == LD_CMD_ADD && !cmd->replace && c->spec.nowners &&
               table_owner_shared(&cmd->spec, c, &same_tag) && !same_tag;
}

static int table_owners_union(struct ld_spec *dst, const struct ld_spec *src, char *err,
                              size_t errlen)
{
        for (size_t i = 0; i < src->nowners; i++) {
                int rc = ld_owner_add(dst, src->owners[i]);
                if (rc < 0) {
                        snprintf(err, errlen,
                                 rc == -ENOSPC ? "'%s' has too many owners (at most %d)"
                                               : "out of memory",
                                 dst->name, LD_OWNERS_MAX);
                        return rc;
                }
        }
        return 0;
}

/* The owner rules of an add of an existing entry c: 0 when done (merged), 1 to go on with
 * the add (cmd->spec then carries the owners the entry keeps), or a refusal. */
static int table_add_owned(struct ld_table *t, struct ld_container *c, struct ld_cmd *cmd,
                           char *err, size_t errlen)
{
        bool same_tag;
        int rc;

        /* An entry without owners (registered by hand) is replaced freely by hand; a route
         * (an add with --owner) takes it only as it takes another owner's, below. */
        if (!c->spec.nowners && (!cmd->replace || !cmd->spec.nowners))
                return 1;
        if (table_merges(c, cmd)) {
                /* all or nothing: the room is checked first */
                if (c->spec.nowners + cmd->spec.nowners > LD_OWNERS_MAX) {
                        snprintf(err, errlen, "'%s' has too many owners (at most %d)", c->spec.name,
                                 LD_OWNERS_MAX);
                        return -ENOSPC;
                }
                return table_owners_union(&c->spec, &cmd->spec, err, errlen) < 0 ? -ENOMEM : 0;
        }
        if (!cmd->replace)
                return 1; /* "already exists" */
        if (table_owner_shared(&cmd->spec, c, &same_tag))
                return (rc = table_owners_union(&cmd->spec, &c->spec, err, errlen)) < 0 ? rc : 1;
        /* Another owner's entry (or, for a route, one without owner): only a dead container's
         * name is taken over (a file being replayed holds only what was checked so when it
         * was live). */
        if (!t->loading && (!(c->spec.netns || c->spec.pid) || !cmd->ns_gone)) {
                snprintf(
                    err, errlen, "'%s' is %s%s%s%s: it is replaced only once its namespace is gone",
                    c->spec.name, c->spec.nowners ? "owned by '" : "registered by hand (no owner",
                    c->spec.nowners ? c->spec.owners[0] : "", c->spec.nowners ? "'" : ")",
                    c->spec.netns || c->spec.pid ? "" : " and has no namespace");
                return -EPERM;
        }
        /* the dead container's links from it and its attachments go; links to it stay */
        while (c->from.n)
                table_unlink_one(t, c->from.v[c->from.n - 1]);
        while (c->natt)
                table_detach_one(t, c->att[c->natt - 1]);
        return 1;
}

/* c's addresses: add --addr ones, then each attachment's in attach order, once each. */
static int table_addrs(struct ld_container *c)
{
        size_t max = c->spec.naddrs, n = 0;
        struct ld_addr *addrs;
        const struct ld_net **nets;

        for (size_t i = 0; i < c->natt; i++)
                max += c->att[i]->spec.naddrs;
        addrs = malloc((max ? max : 1) * sizeof(*addrs));
        nets = malloc((max ? max : 1) * sizeof(*nets));
        if (!addrs || !nets) {
                free(addrs);
                free(nets);
                return -ENOMEM;
        }
        for (size_t i = 0; i <= c->natt; i++) {
                const struct ld_addr *src = i == 0 ? c->spec.addrs : c->att[i - 1]->spec.addrs;
                size_t ns = i == 0 ? c->spec.naddrs : c->att[i - 1]->spec.naddrs;
                for (size_t k = 0; k < ns; k++) {
                        size_t j = 0;
                        while (j < n && !ld_addr_equal(&addrs[j], &src[k]))
                                j++;
                        if (j < n)
                                continue;
                        addrs[n] = src[k];
                        nets[n++] = i == 0 ? NULL : c->att[i - 1]->net;
                }
        }
        free(c->addrs);
        free(c->addr_net);
        c->addrs = addrs;
        c->addr_net = nets;
        c->naddrs = n;
        return 0;
}

/* After c's addresses changed: who owns what, and the views that show them. */
static int table_readdress(struct ld_table *t, struct ld_container *c)
{
        int rc;

        ld_views_disown(&t->views, c);
        rc = table_addrs(c);
        if (ld_views_own(&t->views, c) < 0)
                rc = -ENOMEM;
        table_rebuild_around(t, c);
        return rc;
}

static int table_add(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_container *c = ld_table_find(t, cmd->spec.name);
        int rc;

        if (c && (rc = table_add_owned(t, c, cmd, err, errlen)) <= 0)
                return rc;
        if (c && !cmd->replace) {
                snprintf(err, errlen, "'%s' already exists (use --replace)", cmd->spec.name);
                return -EEXIST;
        }
        if (c) {
                ld_views_disown(&t->views, c);
                ld_spec_move(&c->spec, &cmd->spec);
                c->line = t->line;
                if (table_rcache_reset(c) < 0 || table_addrs(c) < 0 ||
                    ld_views_own(&t->views, c) < 0)
                        goto nomem;
                table_rebuild_around(t, c);
                return 0;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                goto nomem;
        ld_spec_move(&c->spec, &cmd->spec);
        c->line = t->line;
        table_lower(c->lname, c->spec.name);
        c->id = ++t->next_id;
        if (table_rcache_reset(c) < 0 || table_addrs(c) < 0 ||
            ld_hash_insert(&t->names, &c->hn, table_name_hash(c->lname)) < 0) {
                table_container_free(c);
                goto nomem;
        }
        if (ld_views_own(&t->views, c) < 0) {
                ld_hash_remove(&t->names, &c->hn);
                table_container_free(c);
                goto nomem;
        }
        LD_LIST_APPEND(t->head, t->tail, c);
        t->ncontainers++;
        table_rebuild(t, c);
        return 0;
nomem:
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
}

static void table_unlink_one(struct ld_table *t, struct ld_link *l)
{
        linkvec_remove(&l->from->from, l);
        linkvec_remove(&l->target->to, l);
        LD_LIST_REMOVE_TAIL(t->lhead, t->ltail, l);
        t->nlinks--;
        free(l);
}

/* rm --owner TAG: refused unless TAG owns c; 0 when only that owner goes, 1 to remove c. */
static int table_rm_owned(struct ld_container *c, const struct ld_cmd *cmd, char *err,
                          size_t errlen)
{
        if (!cmd->owner[0])
                return 1;
        if (!ld_owner_has(&c->spec, cmd->owner)) {
                snprintf(err, errlen, "'%s' is not owned by '%s'%s%s%s", c->spec.name, cmd->owner,
                         c->spec.nowners ? " but by '" : "",
                         c->spec.nowners ? c->spec.owners[0] : "", c->spec.nowners ? "'" : "");
                return -EPERM;
        }
        if (c->spec.nowners == 1)
                return 1;
        ld_owner_remove(&c->spec, cmd->owner);
        return 0;
}

bool ld_table_owner_only(const struct ld_table *t, const struct ld_cmd *cmd)
{
        const struct ld_container *c;

        if (cmd->kind == LD_CMD_ADD)
                return table_merges(ld_table_find(t, cmd->spec.name), cmd);
        if (cmd->kind != LD_CMD_RM || !cmd->owner[0] || !(c = ld_table_find(t, cmd->name)))
                return false;
        return c->spec.nowners > 1 && ld_owner_has(&c->spec, cmd->owner);
}

static void table_attach_free(struct ld_attach *a)
{
        ld_attspec_clear(&a->spec);
        free(a);
}

/* Takes a off its network and container; c's addresses are the caller's to redo. */
static void table_detach_one(struct ld_table *t, struct ld_attach *a)
{
        struct ld_container *c = a->c;
        struct ld_attvec *m = &a->net->members;
        size_t i = 0;

        ld_views_leave(&t->views, a);
        while (i < m->n && m->v[i] != a)
                i++;
        memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
        m->n--;
        for (i = 0; i < c->natt && c->att[i] != a; i++)
                ;
        memmove(&c->att[i], &c->att[i + 1], (c->natt - i - 1) * sizeof(*c->att));
        c->natt--;
        LD_LIST_REMOVE_TAIL(t->ahead, t->atail, a);
        t->natts--;
        table_attach_free(a);
}

static int table_rm(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_container *c = ld_table_find(t, cmd->name);
        int rc;

        if (!c) {
                snprintf(err, errlen, "'%s' does not exist", cmd->name);
                return -ENOENT;
        }
        if ((rc = table_rm_owned(c, cmd, err, errlen)) <= 0)
                return rc;
        while (c->natt)
                table_detach_one(t, c->att[c->natt - 1]);
        while (c->from.n)
                table_unlink_one(t, c->from.v[c->from.n - 1]);
        while (c->to.n) {
                struct ld_container *from = c->to.v[c->to.n - 1]->from;
                table_unlink_one(t, c->to.v[c->to.n - 1]);
                table_rebuild(t, from);
        }
        ld_view_drop(&t->views, c);
        ld_views_disown(&t->views, c);
        ld_hash_remove(&t->names, &c->hn);
        LD_LIST_REMOVE_TAIL(t->head, t->tail, c);
        t->ncontainers--;
        table_container_free(c);
        return 0;
}

static struct ld_container *table_need(struct ld_table *t, const char *name, char *err,
                                       size_t errlen)
{
        struct ld_container *c = ld_table_find(t, name);

        if (!c)
                snprintf(err, errlen, "'%s' does not exist", name);
        return c;
}

static int table_link(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_container *from = table_need(t, cmd->name, err, errlen);
        struct ld_container *target = from ? table_need(t, cmd->target, err, errlen) : NULL;
        struct ld_link *l;

        if (!target)
                return -ENOENT;
        for (size_t i = 0; i < from->from.n; i++) {
                l = from->from.v[i];
                if (l->target == target && strcasecmp(l->alias, cmd->alias) == 0) {
                        snprintf(err, errlen, "'%s' already links to '%s' as '%s'", from->spec.name,
                                 target->spec.name, l->alias);
                        return -EEXIST;
                }
        }
        l = calloc(1, sizeof(*l));
        if (!l || linkvec_push(&from->from, l) < 0) {
                free(l);
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        if (linkvec_push(&target->to, l) < 0) {
                from->from.n--;
                free(l);
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        l->from = from;
        l->target = target;
        strcpy(l->alias, cmd->alias);
        LD_LIST_APPEND(t->lhead, t->ltail, l);
        t->nlinks++;
        table_rebuild(t, from);
        return 0;
}

static int table_unlink(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_container *from = table_need(t, cmd->name, err, errlen);
        size_t removed = 0;

        if (!from)
                return -ENOENT;
        for (size_t i = from->from.n; i-- > 0;) {
                struct ld_link *l = from->from.v[i];
                if (strcasecmp(l->alias, cmd->alias) != 0)
                        continue;
                if (cmd->target[0] && strcasecmp(l->target->spec.name, cmd->target) != 0)
                        continue;
                table_unlink_one(t, l);
                removed++;
        }
        if (!removed) {
                if (cmd->target[0])
                        snprintf(err, errlen, "'%s' has no link '%s' to '%s'", cmd->name,
                                 cmd->alias, cmd->target);
                else
                        snprintf(err, errlen, "'%s' has no link '%s'", cmd->name, cmd->alias);
                return -ENOENT;
        }
        table_rebuild(t, from);
        return 0;
}

static bool table_owner_ok(const struct ld_net *n, const char *owner, char *err, size_t errlen)
{
        if (!owner[0] || strcmp(n->spec.owner, owner) == 0)
                return true;
        snprintf(err, errlen, "network '%s' is owned by '%s', not '%s'", n->spec.name,
                 n->spec.owner[0] ? n->spec.owner : "nobody", owner);
        return false;
}

static void table_net_free(struct ld_net *n)
{
        free(n->members.v);
        free(n->host);
        free(n->host_att);
        ld_netspec_clear(&n->spec);
        free(n);
}

/* The host's pseudo-container of a network (container.h): a view id of its own, on n alone. */
static int table_net_host(struct ld_table *t, struct ld_net *n)
{
        n->host = calloc(1, sizeof(*n->host));
        n->host_att = calloc(1, sizeof(*n->host_att));
        if (!n->host || !n->host_att)
                return -ENOMEM;
        n->host->id = ++t->next_id;
        n->host_att->c = n->host;
        n->host_att->net = n;
        n->host->att[0] = n->host_att;
        n->host->natt = 1;
        return 0;
}

/* Whether the networks' listeners, with old's replaced by n's, stay within the bound. */
static bool table_listen_room(const struct ld_table *t, size_t old, const struct ld_netspec *n,
                              char *err, size_t errlen)
{
        if (t->nlisten - old + n->nlisten <= LD_NET_LISTEN_MAX)
                return true;
        snprintf(err, errlen, "too many network listeners (at most %d --listen in all)",
                 LD_NET_LISTEN_MAX);
        return false;
}

static int table_net_new(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_net *n;

        if (t->nnets >= LD_NET_MAX) {
                snprintf(err, errlen, "too many networks (at most %d)", LD_NET_MAX);
                return -ENOSPC;
        }
        if (!table_listen_room(t, 0, &cmd->net, err, errlen))
                return -ENOSPC;
        n = calloc(1, sizeof(*n));
        if (!n)
                goto nomem;
        n->spec = cmd->net;
        memset(&cmd->net, 0, sizeof(cmd->net));
        strcpy(n->lname, n->spec.name);
        n->id = ++t->next_net_id;
        if (table_net_host(t, n) < 0 || ld_views_net_add(&t->views, n) < 0) {
                table_net_free(n);
                goto nomem;
        }
        if (ld_hash_insert(&t->nets, &n->hn,
                           ld_hash_bytes(LD_HASH_SEED, n->lname, strlen(n->lname))) < 0) {
                ld_views_net_drop(&t->views, n);
                table_net_free(n);
                goto nomem;
        }
        LD_LIST_APPEND(t->nhead, t->ntail, n);
        t->nnets++;
        t->nlisten += n->spec.nlisten;
        return 0;
nomem:
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
}

/* A net line: new, the same again (nothing to do), or --replace (attachments kept). */
static int table_net(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_net *n = ld_table_net(t, cmd->net.name);
        struct ld_netspec old;

        if (!n)
                return table_net_new(t, cmd, err, errlen);
        if (ld_netspec_equal(&n->spec, &cmd->net))
                return 0;
        if (!cmd->replace) {
                snprintf(err, errlen, "network '%s' already exists (use --replace)", cmd->net.name);
                return -EEXIST;
        }
        if (!table_owner_ok(n, cmd->net.owner, err, errlen))
                return -EPERM;
        if (!table_listen_room(t, n->spec.nlisten, &cmd->net, err, errlen))
                return -ENOSPC;
        old = n->spec;
        ld_views_net_drop(&t->views, n);
        n->spec = cmd->net;
        if (ld_views_net_add(&t->views, n) < 0) {
                n->spec = old;
                if (ld_views_net_add(&t->views, n) < 0)
                        n->dom = -1; /* the slot it had was freed: it is the only user */
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        t->nlisten = t->nlisten - old.nlisten + n->spec.nlisten;
        cmd->net = old; /* the command frees the old spec */
        return 0;
}

static int table_unnet(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_net *n = ld_table_net(t, cmd->net.name);

        if (!n) {
                snprintf(err, errlen, "network '%s' does not exist", cmd->net.name);
                return -ENOENT;
        }
        if (!table_owner_ok(n, cmd->net.owner, err, errlen))
                return -EPERM;
        if (n->members.n) {
                snprintf(err, errlen, "network '%s' has %zu container(s) attached ('%s' first)",
                         n->spec.name, n->members.n, n->members.v[0]->c->spec.name);
                return -EBUSY;
        }
        ld_views_net_drop(&t->views, n);
        ld_hash_remove(&t->nets, &n->hn);
        LD_LIST_REMOVE_TAIL(t->nhead, t->ntail, n);
        t->nnets--;
        t->nlisten -= n->spec.nlisten;
        table_net_free(n);
        return 0;
}

/* One network namespace: the same --netns path, the same --pid, or the same recorded id. */
static bool table_same_ns(const struct ld_spec *a, const struct ld_spec *b)
{
        if (a->nsid.boot[0] && b->nsid.boot[0])
                return strcmp(a->nsid.boot, b->nsid.boot) == 0 && a->nsid.ino == b->nsid.ino;
        if (a->netns && b->netns)
                return strcmp(a->netns, b->netns) == 0;
        return a->pid && a->pid == b->pid;
}

static int table_attach_check(struct ld_table *t, const struct ld_container *c,
                              const struct ld_net *n, const struct ld_attspec *as, char *err,
                              size_t errlen)
{
        char buf[LD_ADDR_STRLEN];

        if (ld_container_on(c, n)) {
                snprintf(err, errlen, "'%s' is already attached to '%s' (detach it first)",
                         c->spec.name, n->spec.name);
                return -EEXIST;
        }
        if (c->natt >= LD_ATTACH_MAX) {
                snprintf(err, errlen, "'%s' is on too many networks (at most %d)", c->spec.name,
                         LD_ATTACH_MAX);
                return -ENOSPC;
        }
        for (size_t i = 0; i < as->naddrs; i++) {
                const struct ld_nptr *p = ld_view_nptr(&t->views, n->id, &as->addrs[i]);
                if (p && !table_same_ns(&p->att->c->spec, &c->spec)) {
                        ld_addr_format(&as->addrs[i], buf, sizeof(buf));
                        snprintf(err, errlen, "address %s is already used on '%s' by '%s'", buf,
                                 n->spec.name, p->att->c->spec.name);
                        return -EADDRINUSE;
                }
        }
        return 0;
}

static struct ld_net *table_need_net(struct ld_table *t, const char *name, char *err, size_t errlen)
{
        struct ld_net *n = ld_table_net(t, name);

        if (!n)
                snprintf(err, errlen, "network '%s' does not exist", name);
        return n;
}

static int table_attach(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_container *c = table_need(t, cmd->att.container, err, errlen);
        struct ld_net *n = c ? table_need_net(t, cmd->att.net, err, errlen) : NULL;
        struct ld_attach *a;
        struct ld_attvec *m;
        int rc;

        if (!n)
                return -ENOENT;
        if ((rc = table_attach_check(t, c, n, &cmd->att, err, errlen)) < 0)
                return rc;
        m = &n->members;
        if (m->n == m->cap) {
                size_t ncap = m->cap ? m->cap * 2 : 4;
                struct ld_attach **nv = realloc(m->v, ncap * sizeof(*nv));
                if (!nv)
                        goto nomem;
                m->v = nv;
                m->cap = ncap;
        }
        a = calloc(1, sizeof(*a));
        if (!a)
                goto nomem;
        a->c = c;
        a->net = n;
        a->spec = cmd->att;
        memset(&cmd->att, 0, sizeof(cmd->att));
        strcpy(a->spec.container, c->spec.name); /* as registered, for the snapshot */
        if (ld_views_join(&t->views, a) < 0) {
                table_attach_free(a);
                goto nomem;
        }
        m->v[m->n++] = a;
        c->att[c->natt++] = a;
        LD_LIST_APPEND(t->ahead, t->atail, a);
        t->natts++;
        if (table_readdress(t, c) < 0)
                goto nomem;
        return 0;
nomem:
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
}

static int table_detach(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_container *c = table_need(t, cmd->att.container, err, errlen);
        struct ld_net *n = c ? table_need_net(t, cmd->att.net, err, errlen) : NULL;

        if (!n)
                return -ENOENT;
        for (size_t i = 0; i < c->natt; i++) {
                if (c->att[i]->net != n)
                        continue;
                table_detach_one(t, c->att[i]);
                if (table_readdress(t, c) < 0) {
                        snprintf(err, errlen, "out of memory");
                        return -ENOMEM;
                }
                return 0;
        }
        snprintf(err, errlen, "'%s' is not attached to '%s'", c->spec.name, n->spec.name);
        return -ENOENT;
}

int ld_table_apply(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        switch (cmd->kind) {
        case LD_CMD_ADD:
                return table_add(t, cmd, err, errlen);
        case LD_CMD_RM:
                return table_rm(t, cmd, err, errlen);
        case LD_CMD_LINK:
                return table_link(t, cmd, err, errlen);
        case LD_CMD_UNLINK:
                return table_unlink(t, cmd, err, errlen);
        case LD_CMD_NET:
                return table_net(t, cmd, err, errlen);
        case LD_CMD_UNNET:
                return table_unnet(t, cmd, err, errlen);
        case LD_CMD_ATTACH:
                return table_attach(t, cmd, err, errlen);
        case LD_CMD_DETACH:
                return table_detach(t, cmd, err, errlen);
        default:
                snprintf(err, errlen, "'%s' is not a table change", ld_cmd_word(cmd->kind));
                return -EINVAL;
        }
}

struct ld_table *ld_table_new(void)
{
        struct ld_table *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        if (ld_hash_init(&t->names) < 0 || ld_hash_init(&t->nets) < 0 ||
            ld_views_init(&t->views) < 0) {
                ld_table_free(t);
                return NULL;
        }
        return t;
}

void ld_table_free(struct ld_table *t)
{
        if (!t)
                return;
        for (struct ld_link *l = t->lhead, *next; l; l = next) {
                next = l->next;
                free(l);
        }
        for (struct ld_net *n = t->nhead; n; n = n->next)
                n->members.n = 0; /* freed below: no leaving member hands its PTRs over */
        for (struct ld_attach *a = t->ahead, *next; a; a = next) {
                next = a->next;
                ld_views_leave(&t->views, a);
                table_attach_free(a);
        }
        for (struct ld_net *n = t->nhead, *next; n; n = next) {
                next = n->next;
                table_net_free(n);
        }
        for (struct ld_container *c = t->head, *next; c; c = next) {
                next = c->next;
                ld_view_drop(&t->views, c);
                ld_views_disown(&t->views, c);
                table_container_free(c);
        }
        ld_views_fini(&t->views);
        ld_hash_fini(&t->names);
        ld_hash_fini(&t->nets);
        free(t->path);
        free(t);
}

/* Applies one line during a load; a read-only command is not part of a table. */
static int table_load_line(struct ld_table *t, const char *line, char *err, size_t errlen)
{
        struct ld_cmd cmd;
        int rc = ld_cmd_parse(line, &cmd, err, errlen);

        if (rc != 0)
                return rc < 0 ? rc : 0;
        if (!ld_cmd_is_change(&cmd)) {
                snprintf(err, errlen,
                         "'%s' is not a table command (add, rm, link, unlink, net, unnet, "
                         "attach, detach)",
                         ld_cmd_word(cmd.kind));
                rc = -EINVAL;
        } else {
                rc = ld_table_apply(t, &cmd, err, errlen);
        }
        ld_cmd_clear(&cmd);
        return rc;
}

static int table_finish(struct ld_table *t)
{
        t->deferred = false;
        for (struct ld_container *c = t->head; c; c = c->next)
                if (ld_view_build(&t->views, c) < 0)
                        return -ENOMEM;
        return 0;
}

/* Replays the lines of buf[pos..end); *lineno counts them. */
static int table_load_lines(struct ld_table *t, const char *buf, size_t pos, size_t end,
                            size_t *lineno, char *msg, size_t msglen)
{
        int rc = 0;

        while (pos < end && rc == 0) {
                const char *nl = memchr(buf + pos, '\n', end - pos);
                size_t stop = nl ? (size_t)(nl - buf) : end;
                char *line = strndup(buf + pos, stop - pos);

                t->line = ++*lineno;
                if (!line) {
                        rc = -ENOMEM;
                        snprintf(msg, msglen, "out of memory");
                } else if (strlen(line) != stop - pos) {
                        rc = -EINVAL;
                        snprintf(msg, msglen, "NUL byte in line");
                } else {
                        rc = table_load_line(t, line, msg, msglen);
                }
                free(line);
                pos = stop + 1;
        }
        return rc;
}

/* Lines the daemon appended come framed (frame.h); a torn record at the end was never
 * acknowledged and is dropped, anything else is replayed as written. */
static int table_load_text(struct ld_table *t, const char *buf, size_t len, size_t *lineno,
                           char *msg, size_t msglen)
{
        int rc = 0;

        for (size_t pos = 0; pos < len && rc == 0;) {
                const char *nl = memchr(buf + pos, '\n', len - pos);
                size_t body, bodylen, next = nl ? (size_t)(nl - buf) + 1 : len;

                switch (ld_frame_parse(buf, len, pos, &body, &bodylen, &next)) {
                case LD_FRAME_NONE:
                        rc = table_load_lines(t, buf, pos, next, lineno, msg, msglen);
                        break;
                case LD_FRAME_OK:
                        t->line = ++*lineno;
                        rc = table_load_lines(t, buf, body, body + bodylen, lineno, msg, msglen);
                        break;
                case LD_FRAME_TORN:
                        ld_warn("%s:%zu: the last change was cut short (a crash while it was "
                                "written, never acknowledged): dropped",
                                t->path, *lineno + 1);
                        t->torn = true;
                        return 0;
                case LD_FRAME_DAMAGED:
                        t->line = ++*lineno;
                        snprintf(msg, msglen,
                                 "a damaged " LD_FRAME_TAG " (header, length or checksum does "
                                 "not match what follows)");
                        return -EINVAL;
                }
                pos = next;
        }
        return rc;
}

int ld_table_load_buf(const char *buf, size_t len, const char *name, bool views,
                      struct ld_table **out, char *err, size_t errlen)
{
        struct ld_table *t = ld_table_new();
        char msg[512];
        size_t lineno = 0;
        int rc;

        *out = NULL;
        if (!t) {
                snprintf(err, errlen, "%s: out of memory", name);
                return -ENOMEM;
        }
        t->deferred = true;
        t->path = strdup(name);
        if (!t->path) {
                ld_table_free(t);
                snprintf(err, errlen, "%s: out of memory", name);
                return -ENOMEM;
        }
        t->loading = true;
        rc = table_load_text(t, buf, len, &lineno, msg, sizeof(msg));
        t->loading = false;
        t->line = 0;
        if (rc == 0 && views && (rc = table_finish(t)) < 0)
                snprintf(err, errlen, "%s: out of memory", name);
        else if (rc < 0)
                snprintf(err, errlen, "%s:%zu: %s", name, lineno, msg);
        if (rc < 0) {
                ld_table_free(t);
                return rc;
        }
        *out = t;
        return 0;
}

int ld_table_load(const char *path, struct ld_table **out, char *err, size_t errlen)
{
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t len = 0;
        int rc;

        if (!f && errno == ENOENT)
                return ld_table_load_buf("", 0, path, true, out, err, errlen);
        if (!f) {
                rc = -errno;
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                return rc;
        }
        FILE *mem = open_memstream(&buf, &len);
        char chunk[65536];
        size_t n;
        while (mem && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, n, mem);
        rc = ferror(f) ? -EIO : 0;
        fclose(f);
        if (!mem || fclose(mem) != 0) {
                free(buf);
                snprintf(err, errlen, "%s: out of memory", path);
                return -ENOMEM;
        }
        if (rc < 0)
                snprintf(err, errlen, "%s: read error", path);
        else
                rc = ld_table_load_buf(buf, len, path, true, out, err, errlen);
        free(buf);
        return rc;
}

static void table_dump(const struct ld_table *t, bool ids, const char *owner, FILE *f)
{
        for (const struct ld_net *n = t->nhead; n; n = n->next)
                if (ld_table_net_listed(n, owner))
                        ld_netspec_format(&n->spec, false, f);
        for (const struct ld_container *c = t->head; c; c = c->next)
                if (!owner || ld_owner_match(&c->spec, owner))
                        ld_spec_format(&c->spec, false, ids, f);
        for (const struct ld_attach *a = t->ahead; a; a = a->next)
                if (!owner || ld_owner_match(&a->c->spec, owner))
                        ld_attspec_format(&a->spec, f);
        for (const struct ld_link *l = t->lhead; l; l = l->next) {
                if (owner && !ld_owner_match(&l->from->spec, owner))
                        continue;
                if (strcmp(l->alias, l->target->spec.name) == 0)
                        fprintf(f, "link %s %s\n", l->from->spec.name, l->target->spec.name);
                else
                        fprintf(f, "link %s %s:%s\n", l->from->spec.name, l->target->spec.name,
                                l->alias);
        }
}

void ld_table_dump(const struct ld_table *t, FILE *f)
{
        table_dump(t, true, NULL, f);
}

void ld_table_list(const struct ld_table *t, const char *owner, FILE *f)
{
        table_dump(t, false, owner, f);
}
