/* netlisten: network listeners (net --listen), opened when a network names them, retried
 * while their address does not exist yet, closed when the network no longer names them.
 * At one, the view is the source's among the network's containers; a source that is an
 * address of the daemon's own namespace gets the network's host view (every container on
 * it, its --dns, REFUSED when --internal), as aardvark-dns gives the host; any other
 * source gets none (REFUSED: no open resolver on a LAN-facing gateway). */
#include "netlisten.h"

#include "dispatch.h"
#include "engine.h"
#include "forward.h"
#include "listen.h"
#include "log.h"
#include "table.h"

#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>

#define NL_RETRY 1.0       /* seconds between tries while the address does not exist */
#define NL_LOCAL_EVERY 2.0 /* seconds between reads of the namespace's own addresses */
#define NL_PICK_MAX 8      /* a source's containers on one network (a pod) */
#define NL_LOCAL_MAX 256   /* the namespace's own addresses kept */

struct nl_entry {
        struct ld_netlisten *nl;
        struct nl_entry *next;
        char net[LD_NETNAME_MAX + 1];
        struct ld_endpoint ep;
        const struct ld_net *n; /* in the served table */
        struct ld_listener *l;  /* NULL while waiting for the address */
        ev_timer retry;
        bool seen, warned;
        struct ld_container *pick[NL_PICK_MAX];
};

struct ld_netlisten {
        struct ev_loop *loop;
        struct ld_engine *eng;
        struct ld_dispatch *d;
        struct ld_tcp *tcp;
        struct nl_entry *entries;
        ev_timer local_w; /* rereads local[] while network listeners exist */
        struct ld_addr local[NL_LOCAL_MAX];
        size_t nlocal;
};

/* The daemon's namespace's own addresses, read off the query path. */
static void nl_read_local(struct ld_netlisten *nl)
{
        struct ifaddrs *ifs;

        if (getifaddrs(&ifs) < 0)
                return;
        nl->nlocal = 0;
        for (struct ifaddrs *i = ifs; i && nl->nlocal < NL_LOCAL_MAX; i = i->ifa_next)
                if (i->ifa_addr && ld_addr_from_sockaddr(i->ifa_addr, &nl->local[nl->nlocal]) == 0)
                        nl->nlocal++;
        freeifaddrs(ifs);
}

static void nl_local_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        nl_read_local(w->data);
}

static bool nl_is_local(const struct ld_netlisten *nl, const struct ld_addr *a)
{
        for (size_t i = 0; i < nl->nlocal; i++)
                if (ld_addr_equal(&nl->local[i], a))
                        return true;
        return false;
}

static struct ld_viewset nl_views(void *arg, const struct ld_addr *src)
{
        struct nl_entry *e = arg;
        struct ld_viewset all = ld_engine_views_of(e->nl->eng, src), vs = {e->pick, 0};
        size_t n = 0;

        if (!e->n)
                return vs;
        for (size_t i = 0; i < all.n && n < NL_PICK_MAX; i++)
                if (ld_container_on(all.v[i], e->n))
                        e->pick[n++] = all.v[i];
        vs.n = n;
        if (n == 0 && nl_is_local(e->nl, src)) {
                vs.v = &e->n->host;
                vs.n = 1;
        }
        return vs;
}

static void nl_open(struct nl_entry *e)
{
        char name[LD_ENDPOINT_STRLEN];
        int ufd, tfd, rc;

        ld_endpoint_format(&e->ep, name, sizeof(name));
        rc = ld_listen_sockets(&e->ep, false, &ufd, &tfd);
        if (rc == 0)
                rc = ld_listener_new(e->nl->loop, e->nl->d, e->nl->tcp, &e->ep, ufd, tfd, NULL,
                                     &e->l);
        if (rc < 0) {
                if (!e->warned)
                        ld_warn("network '%s': cannot listen on %s yet (%s): retrying", e->net,
                                name, strerror(-rc));
                e->warned = true;
                ev_timer_again(e->nl->loop, &e->retry);
                return;
        }
        e->l->views = nl_views;
        e->l->views_arg = e;
        ev_timer_stop(e->nl->loop, &e->retry);
        ld_info("network '%s': listening on %s (UDP and TCP)", e->net, name);
}

static void nl_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        nl_open(w->data);
}

static void nl_close(struct nl_entry *e)
{
        char name[LD_ENDPOINT_STRLEN];

        ev_timer_stop(e->nl->loop, &e->retry);
        if (e->l) {
                ld_endpoint_format(&e->ep, name, sizeof(name));
                ld_info("network '%s': closed %s", e->net, name);
        }
        ld_listener_free(e->l);
        free(e);
}

static struct nl_entry *nl_find(struct ld_netlisten *nl, const char *net,
                                const struct ld_endpoint *ep)
{
        for (struct nl_entry *e = nl->entries; e; e = e->next)
                if (strcmp(e->net, net) == 0 && ld_endpoint_equal(&e->ep, ep))
                        return e;
        return NULL;
}

static void nl_add(struct ld_netlisten *nl, const struct ld_net *n, const struct ld_endpoint *ep)
{
        struct nl_entry *e = calloc(1, sizeof(*e));

        if (!e) {
                ld_err("network '%s': out of memory for its listener", n->spec.name);
                return;
        }
        e->nl = nl;
        snprintf(e->net, sizeof(e->net), "%s", n->spec.name);
        e->ep = *ep;
        e->n = n;
        e->seen = true;
        ev_timer_init(&e->retry, nl_retry_cb, NL_RETRY, NL_RETRY);
        e->retry.data = e;
        e->next = nl->entries;
        nl->entries = e;
        nl_open(e);
}

/* Forwarding never asks a network listener (a network's --dns naming one would send the
 * query back to the daemon, whose host view forwards it again: a loop). */
static void nl_tell_forward(struct ld_netlisten *nl)
{
        struct ld_endpoint *eps;
        size_t n = 0;

        if (!nl->d->forward)
                return;
        for (struct nl_entry *e = nl->entries; e; e = e->next)
                n++;
        if (!(eps = malloc((n ? n : 1) * sizeof(*eps)))) {
                ld_err("network listeners: out of memory");
                return;
        }
        n = 0;
        for (struct nl_entry *e = nl->entries; e; e = e->next)
                eps[n++] = e->ep;
        if (ld_forward_set_net_self(nl->d->forward, eps, n) < 0)
                ld_err("network listeners: out of memory");
        free(eps);
}

void ld_netlisten_sync(struct ld_netlisten *nl, const struct ld_table *t)
{
        for (struct nl_entry *e = nl->entries; e; e = e->next)
                e->seen = false;
        for (const struct ld_net *n = t->nhead; n; n = n->next) {
                for (size_t i = 0; i < n->spec.nlisten; i++) {
                        struct nl_entry *e = nl_find(nl, n->spec.name, &n->spec.listen[i]);
                        if (e) {
                                e->n = n; /* the served table's: a reload makes new ones */
                                e->seen = true;
                        } else {
                                nl_add(nl, n, &n->spec.listen[i]);
                        }
                }
        }
        for (struct nl_entry **p = &nl->entries; *p;) {
                struct nl_entry *e = *p;
                if (e->seen) {
                        p = &e->next;
                        continue;
                }
                *p = e->next;
                nl_close(e);
        }
        if (nl->entries && !ev_is_active(&nl->local_w)) {
                nl_read_local(nl);
                ev_timer_again(nl->loop, &nl->local_w);
        } else if (!nl->entries) {
                ev_timer_stop(nl->loop, &nl->local_w);
        }
        nl_tell_forward(nl);
}

int ld_netlisten_new(struct ev_loop *loop, struct ld_engine *eng, struct ld_dispatch *d,
                     struct ld_tcp *tcp, struct ld_netlisten **out)
{
        struct ld_netlisten *nl = calloc(1, sizeof(*nl));

        if (!nl)
                return -ENOMEM;
        nl->loop = loop;
        nl->eng = eng;
        nl->d = d;
        nl->tcp = tcp;
        ev_timer_init(&nl->local_w, nl_local_cb, NL_LOCAL_EVERY, NL_LOCAL_EVERY);
        nl->local_w.data = nl;
        *out = nl;
        return 0;
}

void ld_netlisten_free(struct ld_netlisten *nl)
{
        if (!nl)
                return;
        ev_timer_stop(nl->loop, &nl->local_w);
        while (nl->entries) {
                struct nl_entry *e = nl->entries;
                nl->entries = e->next;
                nl_close(e);
        }
        free(nl);
}
