/* linkdnsd: the daemon — one process, one libev loop, serving every view. */
#include "cache.h"
#include "change.h"
#include "control.h"
#include "dispatch.h"
#include "forward.h"
#include "listen.h"
#include "log.h"
#include "netlisten.h"
#include "netns.h"
#include "ready.h"
#include "options.h"
#include "pubzone.h"
#include "random.h"
#include "remote.h"
#include "xfr.h"
#include "engine.h"
#include "tcp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct daemon {
        struct ev_loop *loop;
        struct ld_options opt;
        struct ld_engine eng;
        struct ld_dispatch disp; /* the forward, remote and xfr handles */
        struct ld_tcp *tcp;
        struct ld_netns *netns;
        struct ld_netlisten *netlisten; /* the networks' --listen */
        struct ld_control *control;
        struct ld_change change; /* every change of the served table, live or a reload */
        bool publish_dirty;      /* a change touched a published registration */
        bool republished;        /* the publish zone was rebuilt: its secondaries are told */
        struct ld_listener *listeners[LD_OPT_ENDPOINTS];
        size_t nlisteners;
        ev_signal sigterm, sigint, sighup;
};

/* Thousands of namespaces need two descriptors each. */
static void daemon_raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        ld_warn("cannot raise the open-file limit: %s", strerror(errno));
        }
}

/* The table and the static zones, both or neither. */
static int daemon_load(struct daemon *d, struct ld_table **out, struct ld_zones **zones, char *err,
                       size_t errlen)
{
        int rc = ld_table_load(d->opt.state, out, err, errlen);

        *zones = NULL;
        if (rc == 0)
                rc = ld_netns_check(*out, err, errlen);
        if (rc == 0 && d->opt.zones)
                rc = ld_zones_load(d->opt.zones, zones, err, errlen);
        if (rc < 0) {
                ld_table_free(*out);
                *out = NULL;
                ld_err("%s", err);
        }
        return rc;
}

/* Tells systemd (if it asks) the state and the table's size. */
static void daemon_status(struct daemon *d, const char *state)
{
        char buf[256];

        snprintf(buf, sizeof(buf), "%sSTATUS=%zu containers, %zu links, %zu namespaces", state,
                 d->eng.table->ncontainers, d->eng.table->nlinks, ld_netns_count(d->netns));
        ld_ready(buf);
}

static void daemon_upstreams(struct daemon *d)
{
        int n = ld_forward_set_upstreams(d->disp.forward, d->opt.upstream, d->opt.nupstream);

        if (n == 0)
                ld_warn("no upstream servers (none given, none in /etc/resolv.conf): other names "
                        "get SERVFAIL");
        else
                ld_info("%d upstream server%s", n, n == 1 ? "" : "s");
}

/* Called by control once no change is being written. */
static int daemon_reload(void *arg, char *err, size_t errlen)
{
        struct daemon *d = arg;
        struct ld_table *t;
        struct ld_zones *z;

        ld_info("reloading %s", d->opt.state);
        ld_ready("RELOADING=1");
        if (daemon_load(d, &t, &z, err, errlen) < 0) {
                ld_err("reload failed: the running table stays in force");
                daemon_status(d, "READY=1\n");
                return -EINVAL;
        }
        ld_engine_set_zones(&d->eng, z);
        if (d->disp.forward && !d->opt.nupstream)
                daemon_upstreams(d); /* the host's resolv.conf may have changed */
        ld_info("reloaded: %zu containers, %zu links", t->ncontainers, t->nlinks);
        ld_change_replace(&d->change, t); /* the observers below; status says READY=1 */
        return 0;
}

/* The observers of table changes (change.c), live or a reload, in this order. */

/* Namespace listeners: the leaving registration's close, the new one's open. */
static void daemon_on_netns(void *arg, const struct ld_change_event *ev)
{
        struct daemon *d = arg;
        int rc;

        if (ev->kind == LD_CHANGE_LEAVING) {
                ld_netns_forget(d->netns, ev->c);
        } else if (ev->kind == LD_CHANGE_ENTERED && (ev->c->spec.netns || ev->c->spec.pid)) {
                if ((rc = ld_netns_attach(d->netns, ev->c)) < 0)
                        ld_warn("cannot listen in the namespace of '%s': %s", ev->c->spec.name,
                                strerror(-rc));
        } else if (ev->kind == LD_CHANGE_REPLACING) {
                ld_netns_sync(d->netns, ev->table, ev->old);
        }
}

/* Remote containers' peers: asked from their registration, carried over a reload. */
static void daemon_on_remote(void *arg, const struct ld_change_event *ev)
{
        struct daemon *d = arg;

        if (ev->kind == LD_CHANGE_LEAVING)
                ld_remote_detach(d->disp.remote, ev->c);
        else if (ev->kind == LD_CHANGE_ENTERED)
                ld_remote_attach(d->disp.remote, ev->c);
        else if (ev->kind == LD_CHANGE_REPLACING)
                ld_remote_sync(d->disp.remote, ev->table, ev->old);
}

/* The publish zone (a new serial): after a change to a published registration, or a reload. */
static void daemon_on_publish(void *arg, const struct ld_change_event *ev)
{
        struct daemon *d = arg;

        if ((ev->kind == LD_CHANGE_LEAVING || ev->kind == LD_CHANGE_ENTERED) &&
            ev->c->spec.npublish)
                d->publish_dirty = true;
        if ((ev->kind == LD_CHANGE_APPLIED && d->publish_dirty) || ev->kind == LD_CHANGE_REPLACED) {
                d->publish_dirty = false;
                d->republished = d->eng.pubzone && ld_engine_rebuild_pubzone(&d->eng) == 0;
        }
}

/* DNS NOTIFY to the secondaries once the publish zone was rebuilt. */
static void daemon_on_rebuilt(void *arg, const struct ld_change_event *ev)
{
        struct daemon *d = arg;

        if ((ev->kind == LD_CHANGE_APPLIED || ev->kind == LD_CHANGE_REPLACED) && d->republished) {
                d->republished = false;
                ld_xfr_notify(d->disp.xfr);
        }
}

/* sd_notify after a reload: READY=1 again, with the table's size. A live change sends
 * nothing (systemd's STATUS= is the size as of the last start or reload, as documented). */
static void daemon_on_status(void *arg, const struct ld_change_event *ev)
{
        if (ev->kind == LD_CHANGE_DONE && ev->reload)
                daemon_status(arg, "READY=1\n");
}

/* Network listeners follow the networks, live or at a reload. */
static void daemon_on_netlisten(void *arg, const struct ld_change_event *ev)
{
        struct daemon *d = arg;

        if (d->netlisten && (ev->kind == LD_CHANGE_APPLIED || ev->kind == LD_CHANGE_REPLACED))
                ld_netlisten_sync(d->netlisten, ev->table);
}

static void daemon_observe(struct daemon *d)
{
        ld_change_fn fns[] = {daemon_on_netns,   daemon_on_remote,    daemon_on_publish,
                              daemon_on_rebuilt, daemon_on_netlisten, daemon_on_status};

        ld_change_init(&d->change, &d->eng);
        for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
                ld_change_observe(&d->change, fns[i], d); /* fewer than LD_CHANGE_OBSERVERS */
}

/* Namespace ids recorded at attach reach the state file in a snapshot. */
static void daemon_recorded(void *arg)
{
        struct daemon *d = arg;

        if (d->control)
                ld_control_compact(d->control);
}

static void daemon_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
        struct daemon *d = w->data;
        (void)revents;

        if (w->signum == SIGHUP) {
                ld_control_reload(d->control);
                return;
        }
        ld_info("signal %d: stopping", w->signum);
        ev_break(loop, EVBREAK_ALL);
}

static int daemon_listen(struct daemon *d)
{
        for (size_t i = 0; i < d->opt.nlisten; i++) {
                const struct ld_endpoint *ep = &d->opt.listen[i];
                char name[LD_ENDPOINT_STRLEN];
                int ufd, tfd, rc;

                ld_endpoint_format(ep, name, sizeof(name));
                rc = ld_listen_sockets(ep, false, &ufd, &tfd);
                if (rc == 0)
                        rc = ld_listener_new(d->loop, &d->disp, d->tcp, ep, ufd, tfd, NULL,
                                             &d->listeners[d->nlisteners]);
                if (rc < 0) {
                        ld_err("cannot listen on %s: %s", name, strerror(-rc));
                        return rc;
                }
                d->nlisteners++;
                ld_info("listening on %s (UDP and TCP)", name);
        }
        return 0;
}

static void daemon_signals(struct daemon *d)
{
        ev_signal *ws[] = {&d->sigterm, &d->sigint, &d->sighup};
        int sigs[] = {SIGTERM, SIGINT, SIGHUP};

        signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < 3; i++) {
                ev_signal_init(ws[i], daemon_signal_cb, sigs[i]);
                ws[i]->data = d;
                ev_signal_start(d->loop, ws[i]);
        }
}

/* Remote containers' peers; the publish zone, its transfers and NOTIFY. */
static int daemon_cross_host(struct daemon *d)
{
        char serial_path[4096];
        int rc = ld_remote_new(d->loop, &d->eng, d->opt.stale, &d->disp.remote);

        if (rc == 0)
                ld_remote_sync(d->disp.remote, d->eng.table, NULL);
        if (rc < 0 || !d->opt.publish_zone)
                return rc;
        snprintf(serial_path, sizeof(serial_path), "%s.serial", d->opt.state);
        rc = ld_pubzone_new(d->opt.publish_zone, d->opt.publish_address, d->opt.npublish_address,
                            d->opt.ttl, serial_path, &d->eng.services, &d->eng.pubzone);
        if (rc == 0)
                rc = ld_engine_rebuild_pubzone(&d->eng);
        if (rc == 0)
                rc = ld_xfr_new(d->loop, &d->eng, d->opt.transfer_allow, d->opt.ntransfer_allow,
                                d->opt.notify, d->opt.nnotify, d->opt.tsig, &d->disp.xfr);
        if (rc < 0) {
                ld_err("cannot set up the publish zone %s: %s", d->opt.publish_zone, strerror(-rc));
                return rc;
        }
        ld_info("publishing %s (serial %u)", d->eng.pubzone->zone, d->eng.pubzone->serial);
        ld_xfr_notify(d->disp.xfr);
        return 0;
}

static void daemon_fini(struct daemon *d)
{
        ld_control_free(d->control);
        ld_forward_free(d->disp.forward);
        d->disp.forward = NULL;
        ld_netns_free(d->netns);
        ld_netlisten_free(d->netlisten);
        d->netlisten = NULL;
        for (size_t i = 0; i < d->nlisteners; i++)
                ld_listener_free(d->listeners[i]);
        ld_tcp_free(d->tcp);
        ld_remote_free(d->disp.remote); /* its held questions let go of their clients */
        d->disp.remote = NULL;
        ld_xfr_free(d->disp.xfr);
        d->disp.xfr = NULL;
        ld_engine_fini(&d->eng);
}

int main(int argc, char **argv)
{
        static struct daemon d;
        struct ld_table *t;
        struct ld_zones *z;
        int rc = ld_options_parse(argc, argv, &d.opt);

        if (rc != 0)
                return rc > 0 ? 0 : 2;
        ld_log_set_level(d.opt.log_level);
        if ((rc = ld_engine_init(&d.eng, d.opt.domain, d.opt.ttl, !d.opt.no_upstream)) < 0) {
                ld_err("%s", rc == -EINVAL ? "invalid --domain" : strerror(-rc));
                ld_engine_fini(&d.eng);
                return 1;
        }
        char err[1024];

        if (daemon_load(&d, &t, &z, err, sizeof(err)) < 0) {
                ld_engine_fini(&d.eng);
                return 1;
        }
        ld_engine_set_table(&d.eng, t);
        ld_engine_set_zones(&d.eng, z);
        d.eng.log_queries = d.opt.log_queries;
        if (d.opt.check_config) {
                printf("%s: %zu containers, %zu links, %zu networks, %zu attachments: OK\n",
                       d.opt.state, t->ncontainers, t->nlinks, t->nnets, t->natts);
                ld_engine_fini(&d.eng);
                return 0;
        }
        daemon_raise_nofile();
        d.loop = EV_DEFAULT;
        d.disp.eng = &d.eng;
        d.tcp = ld_tcp_new(d.loop, &d.disp, d.opt.tcp_max, d.opt.tcp_idle);
        if (!d.opt.no_upstream) {
                if (ld_forward_new(d.loop, &d.eng, d.opt.max_forwards, &d.disp.forward) < 0 ||
                    ld_forward_add_self(d.disp.forward, d.opt.listen, d.opt.nlisten) < 0 ||
                    ld_forward_add_self(d.disp.forward, d.opt.netns_address, d.opt.nnetns_address) <
                        0) {
                        ld_err("cannot set up forwarding");
                        daemon_fini(&d);
                        return 1;
                }
                daemon_upstreams(&d);
                if (ld_cache_new(d.opt.cache_size, d.opt.cache_max_ttl,
                                 (uint64_t)ld_random_u32() << 32 | ld_random_u32(),
                                 &d.eng.cache) < 0) {
                        ld_err("cannot set up the answer cache");
                        daemon_fini(&d);
                        return 1;
                }
        }
        if (!d.tcp || daemon_listen(&d) < 0) {
                daemon_fini(&d);
                return 1;
        }
        if ((rc = ld_netns_new(d.loop, &d.eng, &d.disp, d.tcp, d.opt.netns_address,
                               d.opt.nnetns_address, &d.netns)) < 0) {
                ld_err("cannot set up namespaces: %s", strerror(-rc));
                daemon_fini(&d);
                return 1;
        }
        ld_netns_sync(d.netns, t, NULL);
        if ((rc = ld_netlisten_new(d.loop, &d.eng, &d.disp, d.tcp, &d.netlisten)) < 0) {
                ld_err("cannot set up network listeners: %s", strerror(-rc));
                daemon_fini(&d);
                return 1;
        }
        ld_netlisten_sync(d.netlisten, t);
        if (daemon_cross_host(&d) < 0) {
                daemon_fini(&d);
                return 1;
        }
        daemon_observe(&d);
        struct ld_control_env env = {.loop = d.loop,
                                     .eng = &d.eng,
                                     .change = &d.change,
                                     .netns = d.netns,
                                     .tcp = d.tcp,
                                     .state_path = d.opt.state,
                                     .socket_path = d.opt.control,
                                     .group = d.opt.control_group,
                                     .reload = daemon_reload,
                                     .arg = &d};
        if ((rc = ld_control_new(&env, &d.control)) < 0) {
                ld_err("cannot open the control socket %s: %s", d.opt.control, strerror(-rc));
                daemon_fini(&d);
                return 1;
        }
        ld_netns_on_recorded(d.netns, daemon_recorded, &d);
        daemon_signals(&d);
        ld_info("ready: %zu containers, %zu links, %zu namespaces", t->ncontainers, t->nlinks,
                ld_netns_count(d.netns));
        daemon_status(&d, "READY=1\n"); /* listeners and control socket are up */
        ev_run(d.loop, 0);
        daemon_fini(&d);
        return 0;
}
