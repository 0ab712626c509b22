/* aardsync: the changes that bring linkdnsd's aardvark:* entries in step with the network
 * files (the aardvark-dns replacement's re-sync), as batch lines. */
#include "aardsync.h"

#include "rtjson.h"
#include "runtime.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ld_aard_units_hold(struct ld_aard_units *u, enum ld_aard_kind kind, const char *key,
                       enum ld_aard_hold hold)
{
        struct ld_aard_unit *v;

        for (size_t i = 0; i < u->n; i++) {
                if (u->v[i].kind == kind && strcmp(u->v[i].key, key) == 0) {
                        if (u->v[i].hold < hold)
                                u->v[i].hold = hold;
                        return 0;
                }
        }
        if (!(v = realloc(u->v, (u->n + 1) * sizeof(*v))))
                return -ENOMEM;
        u->v = v;
        v[u->n].kind = kind;
        v[u->n].hold = hold;
        snprintf(v[u->n].key, sizeof(v[u->n].key), "%s", key);
        u->n++;
        return 0;
}

enum ld_aard_hold ld_aard_units_get(const struct ld_aard_units *u, enum ld_aard_kind kind,
                                    const char *key)
{
        for (size_t i = 0; u && i < u->n; i++)
                if (u->v[i].kind == kind && strcmp(u->v[i].key, key) == 0)
                        return u->v[i].hold;
        return 0;
}

void ld_aard_units_clear(struct ld_aard_units *u)
{
        free(u->v);
        u->v = NULL;
        u->n = 0;
}

void ld_aard_plan_clear(struct ld_aard_plan *p)
{
        for (size_t i = 0; i < p->n; i++)
                free(p->lines[i].text);
        free(p->lines);
        free(p->listen);
        memset(p, 0, sizeof(*p));
}

/* ---- what linkdnsd holds now (the ls reply) ---------------------------------------- */

struct cur_ctr {
        const char *id, *name;
        struct json_object *o;
        bool sole; /* aardvark:ID is its only owner */
        bool kept; /* attached to a network held as it is: neither removed nor renamed */
        bool gone; /* removed by this plan (then added again if wanted) */
};

struct sync {
        const struct ld_aard_dir *dir;
        const struct ld_aard_units *held;
        struct ld_aard_plan *plan;
        uint16_t port;
        const char *domain;
        ld_aard_report report;
        void *ctx;
        struct json_object *nets, *atts; /* ls's arrays */
        struct cur_ctr *ctrs;
        size_t nctrs;
        /* the names of other owners' containers (from the whole table), sorted */
        struct foreign {
                const char *name;
                struct json_object *owners;
        } * foreign;
        size_t nforeign;
        const char **fnets; /* the names of other owners' networks, sorted */
        size_t nfnets;
        /* the containers wanted: one per ID, its name, the first file line naming it */
        struct want {
                const char *id;
                char name[LD_NAME_MAX + 1];
                const struct ld_aard_ctr *c;
                bool live; /* attached to at least one network not held */
        } * want;
        size_t nwant;
};

static void sync_say(struct sync *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sync_say(struct sync *s, const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (s->report)
                s->report(s->ctx, msg);
}

static int sync_line(struct sync *s, enum ld_aard_kind kind, const char *key, char *text)
{
        struct ld_aard_plan *p = s->plan;
        struct ld_aard_line *l;

        if (!text)
                return -ENOMEM;
        if (p->n == p->cap) {
                size_t ncap = p->cap ? p->cap * 2 : 32;
                if (!(l = realloc(p->lines, ncap * sizeof(*l)))) {
                        free(text);
                        return -ENOMEM;
                }
                p->lines = l;
                p->cap = ncap;
        }
        l = &p->lines[p->n++];
        l->text = text;
        l->kind = kind;
        snprintf(l->key, sizeof(l->key), "%s", key);
        return 0;
}

/* A line in linkdns's canonical form (what ls's reply turns back into compares equal),
 * or NULL (not a line we write, or no memory). */
static char *sync_canon(const char *line)
{
        struct ld_cmd cmd;
        char err[256], *out = NULL;
        size_t len = 0;
        FILE *f;

        if (ld_cmd_parse(line, &cmd, err, sizeof(err)) != 0)
                return NULL;
        if ((f = open_memstream(&out, &len))) {
                ld_cmd_format(&cmd, f);
                if (fclose(f) != 0) {
                        free(out);
                        out = NULL;
                }
        }
        ld_cmd_clear(&cmd);
        return out;
}

/* sync_canon of a line we made (freed here); NULL in, NULL out. */
static char *sync_canon_free(char *line)
{
        char *canon = line ? sync_canon(line) : NULL;

        free(line);
        return canon;
}

/* Appends " OPT VALUE" for each string of array a. */
static void sync_opts(FILE *f, const char *opt, struct json_object *a)
{
        size_t n = a ? json_object_array_length(a) : 0;

        for (size_t i = 0; i < n; i++) {
                const char *v = json_object_get_string(json_object_array_get_idx(a, i));
                if (v)
                        fprintf(f, " %s %s", opt, v);
        }
}

/* The canonical line of an ls network or attachment object. */
static char *sync_cur_canon(struct json_object *o, bool net)
{
        char *text = NULL, *canon;
        size_t len = 0;
        FILE *f;
        struct json_object *internal;

        if (!ld_json_str(o, net ? "name" : "container") || (!net && !ld_json_str(o, "net")))
                return NULL; /* not the shape ls gives: never equal to what we want */
        if (!(f = open_memstream(&text, &len)))
                return NULL;
        if (net) {
                fprintf(f, "net %s", ld_json_str(o, "name"));
                if (ld_json_str(o, "owner"))
                        fprintf(f, " --owner %s", ld_json_str(o, "owner"));
                if (ld_json_str(o, "domain"))
                        fprintf(f, " --domain %s", ld_json_str(o, "domain"));
                sync_opts(f, "--listen", ld_json_arr(o, "listen"));
                sync_opts(f, "--dns", ld_json_arr(o, "dns"));
                if (json_object_object_get_ex(o, "internal", &internal) &&
                    json_object_get_boolean(internal))
                        fputs(" --internal", f);
        } else {
                fprintf(f, "attach %s %s", ld_json_str(o, "container"), ld_json_str(o, "net"));
                sync_opts(f, "--addr", ld_json_arr(o, "addrs"));
                sync_opts(f, "--alias", ld_json_arr(o, "aliases"));
        }
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        canon = sync_canon(text);
        free(text);
        return canon;
}

static int sync_str_cmp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether net is another owner's network (known from the whole table): never ours to
 * declare, so it is held rather than refused, an attempt each. */
static bool sync_net_foreign(const struct sync *s, const char *net)
{
        return s->nfnets && bsearch(&net, s->fnets, s->nfnets, sizeof(*s->fnets), sync_str_cmp);
}

static bool sync_net_held(const struct sync *s, const char *net)
{
        return ld_aard_dir_bad(s->dir, net) || sync_net_foreign(s, net) ||
               ld_aard_units_get(s->held, LD_AARD_NET, net) == LD_AARD_KEEP;
}

static struct cur_ctr *sync_cur_by_name(struct sync *s, const char *name)
{
        for (size_t i = 0; i < s->nctrs; i++)
                if (strcasecmp(s->ctrs[i].name, name) == 0)
                        return &s->ctrs[i];
        return NULL;
}

static struct cur_ctr *sync_cur_by_id(struct sync *s, const char *id)
{
        for (size_t i = 0; i < s->nctrs; i++)
                if (strcmp(s->ctrs[i].id, id) == 0)
                        return &s->ctrs[i];
        return NULL;
}

/* The container ID of our owner tag among owners (LD_AARD_OWNER + ID), or NULL. */
static const char *sync_our_id(struct json_object *owners)
{
        size_t n = owners ? json_object_array_length(owners) : 0;

        for (size_t k = 0; k < n; k++) {
                const char *t = json_object_get_string(json_object_array_get_idx(owners, k));
                if (t && strncmp(t, LD_AARD_OWNER, strlen(LD_AARD_OWNER)) == 0)
                        return t + strlen(LD_AARD_OWNER);
        }
        return NULL;
}

static int sync_read_cur(struct sync *s, struct json_object *cur, char *err, size_t errlen)
{
        struct json_object *ctrs = ld_json_arr(cur, "containers");
        size_t n;

        s->nets = ld_json_arr(cur, "networks");
        s->atts = ld_json_arr(cur, "attachments");
        if (!ctrs || !s->nets || !s->atts) {
                snprintf(err, errlen, "ls reply: no networks, attachments or containers list");
                return -EINVAL;
        }
        n = json_object_array_length(ctrs);
        if (!(s->ctrs = calloc(n ? n : 1, sizeof(*s->ctrs))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(ctrs, i);
                struct json_object *owners = ld_json_arr(o, "owners");
                size_t no = owners ? json_object_array_length(owners) : 0;
                const char *name = ld_json_str(o, "name"), *id = sync_our_id(owners);

                if (!name || !id)
                        continue; /* not ours after all */
                s->ctrs[s->nctrs++] =
                    (struct cur_ctr){.id = id, .name = name, .o = o, .sole = no == 1};
        }
        /* a container attached to a network held as it is stays as it is there */
        n = json_object_array_length(s->atts);
        for (size_t i = 0; i < n; i++) {
                struct json_object *a = json_object_array_get_idx(s->atts, i);
                const char *net = ld_json_str(a, "net"), *c = ld_json_str(a, "container");
                struct cur_ctr *k = c ? sync_cur_by_name(s, c) : NULL;
                if (k && net && sync_net_held(s, net))
                        k->kept = true;
        }
        for (size_t i = 0; i < s->nctrs; i++)
                if (ld_aard_units_get(s->held, LD_AARD_CTR, s->ctrs[i].id) == LD_AARD_KEEP)
                        s->ctrs[i].kept = true;
        return 0;
}

static int sync_foreign_cmp(const void *a, const void *b)
{
        return strcasecmp(((const struct foreign *)a)->name, ((const struct foreign *)b)->name);
}

/* The networks of the whole table that are not ours. */
static int sync_read_fnets(struct sync *s, struct json_object *all)
{
        struct json_object *nets = all ? ld_json_arr(all, "networks") : NULL;
        size_t n = nets ? json_object_array_length(nets) : 0;

        if (!n)
                return 0;
        if (!(s->fnets = calloc(n, sizeof(*s->fnets))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(nets, i);
                const char *name = ld_json_str(o, "name"), *owner = ld_json_str(o, "owner");
                if (name && (!owner || strncmp(owner, LD_AARD_OWNER, strlen(LD_AARD_OWNER)) != 0))
                        s->fnets[s->nfnets++] = name;
        }
        qsort(s->fnets, s->nfnets, sizeof(*s->fnets), sync_str_cmp);
        return 0;
}

/* The containers and networks of the whole table (all may be NULL) that are not ours. */
static int sync_read_foreign(struct sync *s, struct json_object *all)
{
        struct json_object *ctrs = all ? ld_json_arr(all, "containers") : NULL;
        size_t n = ctrs ? json_object_array_length(ctrs) : 0;
        int rc = sync_read_fnets(s, all);

        if (rc < 0 || !n)
                return rc;
        if (!(s->foreign = calloc(n, sizeof(*s->foreign))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(ctrs, i);
                struct json_object *owners = ld_json_arr(o, "owners");
                const char *name = ld_json_str(o, "name");
                if (name && !sync_our_id(owners))
                        s->foreign[s->nforeign++] = (struct foreign){name, owners};
        }
        qsort(s->foreign, s->nforeign, sizeof(*s->foreign), sync_foreign_cmp);
        return 0;
}

/* Whether another owner's container holds name, not one with container ID id (an add of
 * that would merge into it). */
static bool sync_foreign_taken(const struct sync *s, const char *name, const char *id)
{
        struct foreign key = {.name = name};
        const struct foreign *f =
            s->nforeign ? bsearch(&key, s->foreign, s->nforeign, sizeof(key), sync_foreign_cmp)
                        : NULL;
        size_t n = f && f->owners ? json_object_array_length(f->owners) : 0;

        if (!f)
                return false;
        for (size_t k = 0; k < n; k++) {
                const char *t = json_object_get_string(json_object_array_get_idx(f->owners, k));
                if (t && strcmp(ld_owner_id(t), id) == 0)
                        return false;
        }
        return true;
}

/* ---- what the files want ---------------------------------------------------------- */

static struct want *sync_want(struct sync *s, const char *id)
{
        for (size_t i = 0; i < s->nwant; i++)
                if (strcmp(s->want[i].id, id) == 0)
                        return &s->want[i];
        return NULL;
}

static bool sync_name_taken(struct sync *s, const char *name, const char *id)
{
        for (size_t i = 0; i < s->nwant; i++)
                if (strcmp(s->want[i].id, id) != 0 && s->want[i].name[0] &&
                    strcasecmp(s->want[i].name, name) == 0)
                        return true;
        for (size_t i = 0; i < s->nctrs; i++) /* a kept entry keeps its name */
                if (s->ctrs[i].kept && strcmp(s->ctrs[i].id, id) != 0 &&
                    strcasecmp(s->ctrs[i].name, name) == 0)
                        return true;
        return sync_foreign_taken(s, name, id);
}

/* The name of a container: its own when it is a valid NAME and free, else its short ID
 * (ld_rt_name: a runtime's name that is no valid NAME is registered under its short ID). */
static void sync_name(struct sync *s, struct want *w)
{
        const struct ld_aard_ctr *c = w->c;
        struct cur_ctr *k = sync_cur_by_id(s, w->id);
        char shortid[LD_NAME_MAX + 1];

        ld_rt_name(NULL, w->id, shortid, NULL);
        if (k && k->kept) {
                snprintf(w->name, sizeof(w->name), "%s", k->name);
                return;
        }
        if (ld_aard_units_get(s->held, LD_AARD_CTR, w->id) != LD_AARD_SHORT && c->named) {
                ld_rt_name(c->names[0], w->id, w->name, NULL);
                if (strcmp(w->name, shortid) != 0 && !sync_name_taken(s, w->name, w->id))
                        return;
                if (strcmp(w->name, shortid) == 0)
                        sync_say(s, "container %s: '%s' is no valid name, it answers as %s", w->id,
                                 c->names[0], shortid);
                else if (sync_foreign_taken(s, w->name, w->id))
                        sync_say(s, "container %s: '%s' is another owner's, it answers as %s",
                                 w->id, w->name, shortid);
        }
        w->name[0] = '\0';
        if (sync_name_taken(s, shortid, w->id)) {
                sync_say(s, "container %s: its name and its short ID are taken; not registered",
                         w->id);
                return;
        }
        snprintf(w->name, sizeof(w->name), "%s", shortid);
}

static int sync_read_want(struct sync *s)
{
        size_t total = 0;

        for (size_t i = 0; i < s->dir->n; i++)
                total += s->dir->nets[i].nctrs;
        if (!(s->want = calloc(total ? total : 1, sizeof(*s->want))))
                return -ENOMEM;
        for (size_t i = 0; i < s->dir->n; i++) {
                const struct ld_aard_net *n = &s->dir->nets[i];
                bool live = !sync_net_held(s, n->name);
                for (size_t j = 0; j < n->nctrs; j++) {
                        struct want *w = sync_want(s, n->ctrs[j].id);
                        if (!w) {
                                w = &s->want[s->nwant++];
                                w->id = n->ctrs[j].id;
                                w->c = &n->ctrs[j];
                        }
                        w->live |= live;
                }
        }
        for (size_t i = 0; i < s->nwant; i++)
                sync_name(s, &s->want[i]);
        return 0;
}

/* ---- the lines -------------------------------------------------------------------- */

static char *sync_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *sync_printf(const char *fmt, ...)
{
        char *out = NULL;
        va_list ap;
        int rc;

        va_start(ap, fmt);
        rc = vasprintf(&out, fmt, ap);
        va_end(ap);
        return rc < 0 ? NULL : out;
}

static void sync_addr_opts(FILE *f, const char *opt, const struct ld_addr *a, size_t n, int port)
{
        char buf[LD_ENDPOINT_STRLEN];

        for (size_t i = 0; i < n; i++) {
                if (port) {
                        struct ld_endpoint e = {.addr = a[i], .port = (uint16_t)port};
                        ld_endpoint_format(&e, buf, sizeof(buf));
                } else {
                        ld_addr_format(&a[i], buf, sizeof(buf));
                }
                fprintf(f, " %s %s", opt, buf);
        }
}

static char *sync_net_line(const struct sync *s, const struct ld_aard_net *n, bool replace)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return NULL;
        fprintf(f, "net %s%s --owner " LD_AARD_OWNER "%s --domain %s", n->name,
                replace ? " --replace" : "", n->name, s->domain);
        sync_addr_opts(f, "--listen", n->gw, n->ngw, s->port);
        sync_addr_opts(f, "--dns", n->dns, n->ndns, 53);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

static char *sync_attach_line(const struct want *w, const struct ld_aard_ctr *c, const char *net)
{
        char *text = NULL, shortid[LD_RT_SHORT_ID + 1];
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        bool has_short = false;

        if (!f)
                return NULL;
        snprintf(shortid, sizeof(shortid), "%s", w->id);
        fprintf(f, "attach %s %s", w->name, net);
        sync_addr_opts(f, "--addr", c->addrs, c->naddrs, 0);
        for (size_t i = 0; i < c->nnames; i++) {
                has_short |= strcmp(c->names[i], shortid) == 0;
                if (strcasecmp(c->names[i], w->name) != 0)
                        fprintf(f, " --alias %s", c->names[i]);
        }
        /* the short ID answers too, as podman's own aliases have it */
        if (!has_short && strcasecmp(shortid, w->name) != 0 && c->nnames < LD_ATTACH_ALIASES_MAX)
                fprintf(f, " --alias %s", shortid);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

static char *sync_add_line(const struct want *w, bool replace)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return NULL;
        fprintf(f, "add %s%s --owner " LD_AARD_OWNER "%s", w->name, replace ? " --replace" : "",
                w->id);
        sync_addr_opts(f, "--dns", w->c->dns, w->c->ndns, 53);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

/* The current attachment of container name to net, as a canonical line (NULL if none). */
static char *sync_cur_att(const struct sync *s, const char *name, const char *net)
{
        size_t n = json_object_array_length(s->atts);

        for (size_t i = 0; i < n; i++) {
                struct json_object *a = json_object_array_get_idx(s->atts, i);
                const char *c = ld_json_str(a, "container"), *an = ld_json_str(a, "net");
                if (c && an && strcasecmp(c, name) == 0 && strcmp(an, net) == 0)
                        return sync_cur_canon(a, false);
        }
        return NULL;
}

static struct json_object *sync_cur_net(const struct sync *s, const char *name)
{
        size_t n = json_object_array_length(s->nets);

        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(s->nets, i);
                const char *nn = ld_json_str(o, "name");
                if (nn && strcmp(nn, name) == 0)
                        return o;
        }
        return NULL;
}

static bool sync_same(char *a, char *b)
{
        bool same = a && b && strcmp(a, b) == 0;

        free(a);
        free(b);
        return same;
}

/* Whether the container's current --dns are the wanted ones. */
static bool sync_dns_same(const struct cur_ctr *k, const struct ld_aard_ctr *c)
{
        struct json_object *dns = ld_json_arr(k->o, "dns");
        size_t n = dns ? json_object_array_length(dns) : 0;
        char buf[LD_ENDPOINT_STRLEN];

        if (n != c->ndns)
                return false;
        for (size_t i = 0; i < n; i++) {
                struct ld_endpoint e = {.addr = c->dns[i], .port = 53};
                const char *v = json_object_get_string(json_object_array_get_idx(dns, i));
                ld_endpoint_format(&e, buf, sizeof(buf));
                if (!v || strcmp(v, buf) != 0)
                        return false;
        }
        return true;
}

/* 1. containers no file has any more, or renamed; 2. attachments that changed or went */
static int sync_removals(struct sync *s)
{
        size_t na = json_object_array_length(s->atts);
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < s->nctrs; i++) {
                struct cur_ctr *k = &s->ctrs[i];
                const struct want *w = sync_want(s, k->id);
                if (k->kept || (w && w->name[0] && strcasecmp(w->name, k->name) == 0))
                        continue;
                if (w && !w->live)
                        continue; /* only on networks held as they are */
                k->gone = true;
                rc = sync_line(s, LD_AARD_CTR, k->id,
                               sync_printf("rm %s --owner " LD_AARD_OWNER "%s", k->name, k->id));
        }
        for (size_t i = 0; rc == 0 && i < na; i++) {
                struct json_object *a = json_object_array_get_idx(s->atts, i);
                const char *c = ld_json_str(a, "container"), *net = ld_json_str(a, "net");
                struct cur_ctr *k = c ? sync_cur_by_name(s, c) : NULL;
                const struct want *w;
                bool want_it = false;

                if (!k || !net || k->gone || sync_net_held(s, net) ||
                    ld_aard_units_get(s->held, LD_AARD_CTR, k->id) == LD_AARD_KEEP)
                        continue;
                if (!sync_cur_net(s, net) && !ld_aard_dir_has(s->dir, net))
                        continue; /* another route's network: not ours to change */
                w = sync_want(s, k->id);
                for (size_t j = 0; w && j < s->dir->n && !want_it; j++) {
                        const struct ld_aard_net *n = &s->dir->nets[j];
                        if (strcmp(n->name, net) != 0)
                                continue;
                        for (size_t m = 0; m < n->nctrs && !want_it; m++)
                                if (strcmp(n->ctrs[m].id, k->id) == 0)
                                        want_it = sync_same(
                                            sync_cur_canon(a, false),
                                            sync_canon_free(sync_attach_line(w, &n->ctrs[m], net)));
                }
                if (!want_it)
                        rc = sync_line(s, LD_AARD_CTR, k->id,
                                       sync_printf("detach %s %s", k->name, net));
        }
        return rc;
}

/* 3. networks new or changed */
static int sync_nets(struct sync *s)
{
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < s->dir->n; i++) {
                const struct ld_aard_net *n = &s->dir->nets[i];
                struct json_object *o;
                char *line;

                if (sync_net_foreign(s, n->name))
                        sync_say(s, "network %s: another owner's network has its name; not served",
                                 n->name);
                if (sync_net_held(s, n->name))
                        continue;
                for (size_t g = 0; g < n->ngw; g++) {
                        struct ld_aard_plan *p = s->plan;
                        if (p->nlisten == p->listencap) {
                                size_t ncap = p->listencap ? p->listencap * 2 : 8;
                                struct ld_endpoint *v = realloc(p->listen, ncap * sizeof(*v));
                                if (!v)
                                        return -ENOMEM;
                                p->listen = v;
                                p->listencap = ncap;
                        }
                        p->listen[p->nlisten++] = (struct ld_endpoint){n->gw[g], s->port};
                }
                /* compared as ls shows it (no --replace), sent with it: --replace keeps
                 * the attachments of a network whose gateway or DNS servers changed */
                o = sync_cur_net(s, n->name);
                if (o &&
                    sync_same(sync_canon_free(sync_net_line(s, n, false)), sync_cur_canon(o, true)))
                        continue;
                if (!(line = sync_net_line(s, n, true)))
                        return -ENOMEM;
                rc = sync_line(s, LD_AARD_NET, n->name, line);
        }
        return rc;
}

/* 4. containers new, renamed or with other DNS servers; 5. their attachments */
static int sync_adds(struct sync *s)
{
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < s->nwant; i++) {
                const struct want *w = &s->want[i];
                struct cur_ctr *k = sync_cur_by_id(s, w->id);

                if (!w->name[0] || !w->live || (k && k->kept))
                        continue;
                if (!k || k->gone)
                        rc = sync_line(s, LD_AARD_CTR, w->id, sync_add_line(w, false));
                else if (k->sole && !sync_dns_same(k, w->c))
                        rc = sync_line(s, LD_AARD_CTR, w->id, sync_add_line(w, true));
        }
        for (size_t i = 0; rc == 0 && i < s->dir->n; i++) {
                const struct ld_aard_net *n = &s->dir->nets[i];
                if (sync_net_held(s, n->name))
                        continue;
                for (size_t j = 0; rc == 0 && j < n->nctrs; j++) {
                        const struct want *w = sync_want(s, n->ctrs[j].id);
                        struct cur_ctr *k = sync_cur_by_id(s, w->id);
                        char *line;

                        if (!w->name[0] ||
                            ld_aard_units_get(s->held, LD_AARD_CTR, w->id) == LD_AARD_KEEP)
                                continue;
                        if (!(line = sync_attach_line(w, &n->ctrs[j], n->name)))
                                return -ENOMEM;
                        if (k && !k->gone &&
                            sync_same(sync_canon(line), sync_cur_att(s, w->name, n->name))) {
                                free(line);
                                continue;
                        }
                        rc = sync_line(s, LD_AARD_CTR, w->id, line);
                }
        }
        return rc;
}

/* 6. networks no file has any more (their containers went in 1.) */
static int sync_unnets(struct sync *s)
{
        size_t n = json_object_array_length(s->nets);
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < n; i++) {
                struct json_object *o = json_object_array_get_idx(s->nets, i);
                const char *name = ld_json_str(o, "name"), *owner = ld_json_str(o, "owner");
                if (!name || !owner || ld_aard_dir_has(s->dir, name) || sync_net_held(s, name))
                        continue;
                rc = sync_line(s, LD_AARD_NET, name,
                               sync_printf("unnet %s --owner %s", name, owner));
        }
        return rc;
}

int ld_aard_plan_build(const struct ld_aard_dir *dir, struct json_object *cur,
                       struct json_object *all, uint16_t port, const char *domain,
                       const struct ld_aard_units *held, struct ld_aard_plan *out,
                       ld_aard_report report, void *ctx, char *err, size_t errlen)
{
        struct sync s = {.dir = dir,
                         .held = held,
                         .plan = out,
                         .port = port,
                         .domain = domain,
                         .report = report,
                         .ctx = ctx};
        int rc;

        memset(out, 0, sizeof(*out));
        rc = sync_read_foreign(&s, all);
        if (rc == 0)
                rc = sync_read_cur(&s, cur, err, errlen);
        if (rc == 0)
                rc = sync_read_want(&s);
        if (rc == 0)
                rc = sync_removals(&s);
        if (rc == 0)
                rc = sync_nets(&s);
        if (rc == 0)
                rc = sync_adds(&s);
        if (rc == 0)
                rc = sync_unnets(&s);
        if (rc == -ENOMEM)
                snprintf(err, errlen, "out of memory");
        if (rc < 0)
                ld_aard_plan_clear(out);
        free(s.ctrs);
        free(s.foreign);
        free(s.fnets);
        free(s.want);
        return rc;
}
