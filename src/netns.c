/* netns: a listener inside each registered network namespace, opened with setns(2) from
 * the daemon's thread, and closed as soon as the namespace or its container goes away. */
#include "netns.h"

#include "listen.h"
#include "nsfile.h"
#include "log.h"
#include "list.h"
#include "engine.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define NETNS_RETRY_INTERVAL 0.05 /* `ip netns add` creates the file, then mounts on it */
#define NETNS_RETRY_ROUNDS 100
#define NETNS_POLL_INTERVAL 1.0 /* for a directory that is not there yet */
#define NETNS_BOOT_ID "/proc/sys/kernel/random/boot_id"

/* What netns keeps of one container (by its address, in ld_netns.members): the namespace
 * whose listeners serve it, its process watch (--pid), and the refusal last logged. The
 * model (table.h) holds none of it; a registration leaving the table is forgotten here
 * (ld_netns_forget) before it is freed. */
struct nsl_member {
        struct ld_hash_node hn;
        struct ld_container *c;
        struct ld_nsl *nsl; /* NULL while not listening */
        int pidfd;
        ev_io pid_w;
        int said; /* the refusal last logged (negative errno), not repeated at each retry */
};

/* One namespace: its listeners, and the containers whose views they answer (a pod's
 * containers share one namespace and see the union of their views). */
struct ld_nsl {
        struct ld_netns *n;
        struct ld_nsl *prev, *next;
        uint64_t dev, ino;
        uint64_t cookie; /* 0 where the kernel has no SO_NETNS_COOKIE */
        struct nsl_member **members;
        struct ld_container **views;
        struct ld_viewset vs;
        struct ld_listener **listeners;
        size_t nlisteners;
};

struct netns_watch {
        struct netns_watch *next;
        int wd;
        char dir[];
};

struct ld_netns {
        struct ev_loop *loop;
        struct ld_engine *eng;
        struct ld_dispatch *d; /* what the listeners answer through */
        struct ld_tcp *tcp;
        const struct ld_endpoint *addrs;
        size_t naddrs;
        int selffd;
        uint64_t self_dev, self_ino;  /* the daemon's own namespace: never joined */
        char boot[LD_BOOTID_LEN + 1]; /* this boot's ID, "" if unreadable (no ids then) */
        ev_timer recorded_w;          /* tells the owner, from the loop, that ids were recorded */
        void (*recorded)(void *arg);
        void *recorded_arg;
        int inofd;
        ev_io ino_w;
        ev_timer retry;
        int retry_rounds;
        ev_timer poll; /* while a watched directory does not exist yet */
        struct netns_watch *watches;
        struct ld_nsl *head;
        size_t count;
        struct ld_hash members; /* struct nsl_member by container */
        bool syncing;           /* keep empty namespaces open until the sync has moved everyone */
};

static const char *netns_path(const struct ld_spec *spec, char *buf, size_t len)
{
        if (spec->netns)
                return spec->netns;
        snprintf(buf, len, "/proc/%d/ns/net", (int)spec->pid);
        return buf;
}

static bool netns_wanted(const struct ld_container *c)
{
        return c->spec.netns || c->spec.pid;
}

static struct nsl_member *netns_member(const struct ld_netns *n, const struct ld_container *c)
{
        return (struct nsl_member *)ld_hash_find_ptr(
            &n->members, c, offsetof(struct nsl_member, c) - offsetof(struct nsl_member, hn));
}

/* c's record, made on first use; NULL without memory. */
static struct nsl_member *netns_member_get(struct ld_netns *n, struct ld_container *c)
{
        struct nsl_member *m = netns_member(n, c);

        if (m)
                return m;
        if (!(m = calloc(1, sizeof(*m))))
                return NULL;
        m->c = c;
        m->pidfd = -1;
        if (ld_hash_insert(&n->members, &m->hn, ld_hash_ptr(c)) < 0) {
                free(m);
                return NULL;
        }
        return m;
}

static bool netns_listening(const struct ld_netns *n, const struct ld_container *c)
{
        const struct nsl_member *m = netns_member(n, c);

        return m && m->nsl;
}

static int netns_said(const struct ld_netns *n, const struct ld_container *c)
{
        const struct nsl_member *m = netns_member(n, c);

        return m ? m->said : 0;
}

static void netns_set_said(struct ld_netns *n, struct ld_container *c, int rc)
{
        struct nsl_member *m = rc || netns_member(n, c) ? netns_member_get(n, c) : NULL;

        if (m)
                m->said = rc;
}

static void netns_close(struct ld_nsl *s)
{
        struct ld_netns *n = s->n;

        for (size_t i = 0; i < s->nlisteners; i++)
                ld_listener_free(s->listeners[i]);
        LD_LIST_REMOVE(n->head, s);
        n->count--;
        free(s->listeners);
        free(s->members);
        free(s->views);
        free(s);
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The current namespace's cookie, unique for the kernel's lifetime (Linux 5.14+). */
static uint64_t netns_cookie(void)
{
        uint64_t cookie = 0;
        socklen_t len = sizeof(cookie);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd >= 0) {
                if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
                        cookie = 0;
                close(fd);
        }
        return cookie;
}

static void netns_leave(struct ld_netns *n)
{
        if (setns(n->selffd, CLONE_NEWNET) < 0) {
                /* Serving from a container's namespace would be a leak: stop here. */
                ld_err("cannot return to the daemon's namespace: %s", strerror(errno));
                abort();
        }
}

/* The cookie of the namespace nsfd, for a probe that binds nothing. */
static int netns_cookie_of(struct ld_netns *n, int nsfd, uint64_t *cookie)
{
        if (setns(nsfd, CLONE_NEWNET) < 0)
                return -errno;
        *cookie = netns_cookie();
        netns_leave(n);
        return 0;
}

/* Binds every --netns-address inside the namespace nsfd, then returns home; nothing is
 * bound when the namespace's cookie is not want (0: any). */
static int netns_bind(struct ld_netns *n, struct ld_nsl *s, int nsfd, uint64_t want)
{
        int rc = 0;

        s->listeners = calloc(n->naddrs, sizeof(*s->listeners));
        if (!s->listeners)
                return -ENOMEM;
        if (setns(nsfd, CLONE_NEWNET) < 0)
                return -errno;
        s->cookie = netns_cookie();
        if (want && s->cookie && want != s->cookie)
                rc = -ESTALE; /* the same inode number, but another namespace */
        for (size_t i = 0; i < n->naddrs && rc == 0; i++) {
                int u, t;
                rc = ld_listen_sockets(&n->addrs[i], true, &u, &t);
                if (rc == 0)
                        rc = ld_listener_new(n->loop, n->d, n->tcp, &n->addrs[i], u, t, &s->vs,
                                             &s->listeners[s->nlisteners]);
                if (rc == 0)
                        s->nlisteners++;
        }
        netns_leave(n);
        return rc;
}

static struct ld_nsl *netns_find(struct ld_netns *n, uint64_t dev, uint64_t ino)
{
        for (struct ld_nsl *s = n->head; s; s = s->next)
                if (s->dev == dev && s->ino == ino)
                        return s;
        return NULL;
}

static int netns_open_nsl(struct ld_netns *n, int nsfd, uint64_t dev, uint64_t ino,
                          uint64_t want_cookie, struct ld_nsl **out)
{
        struct ld_nsl *s = calloc(1, sizeof(*s));
        int rc;

        if (!s)
                return -ENOMEM;
        s->n = n;
        s->dev = dev;
        s->ino = ino;
        LD_LIST_PUSH(n->head, s);
        n->count++;
        rc = netns_bind(n, s, nsfd, want_cookie);
        if (rc < 0) {
                netns_close(s);
                return rc;
        }
        *out = s;
        return 0;
}

static void netns_pid_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct nsl_member *m = w->data;
        struct ld_container *c = m->c;
        (void)loop;
        (void)revents;

        ld_info("process %d of '%s' exited: its namespace listener is closed", (int)c->spec.pid,
                c->spec.name);
        ld_netns_detach(m->nsl->n, c);
}

static int netns_add_member(struct ld_nsl *s, struct ld_container *c, int pidfd)
{
        size_t n = s->vs.n;
        struct nsl_member **nm = realloc(s->members, (n + 1) * sizeof(*nm));
        struct ld_container **nv;

        if (nm)
                s->members = nm;
        nv = nm ? realloc(s->views, (n + 1) * sizeof(*nv)) : NULL;
        if (nv)
                s->views = nv;
        if (!nm || !nv || !(nm[n] = netns_member_get(s->n, c)))
                return -ENOMEM;
        nm[n]->nsl = s;
        nm[n]->pidfd = pidfd;
        if (pidfd >= 0) {
                ev_io_init(&nm[n]->pid_w, netns_pid_cb, pidfd, EV_READ);
                nm[n]->pid_w.data = nm[n];
                ev_io_start(s->n->loop, &nm[n]->pid_w);
        }
        nv[n] = c;
        s->vs.v = s->views;
        s->vs.n = n + 1;
        return 0;
}

/* Opens spec's namespace: a network namespace that is not the daemon's own (-EXDEV: its
 * 127.0.0.11 would answer every host process with one container's view). A link is
 * refused as what it points to (looked at with O_PATH too) when that is no network
 * namespace or the daemon's own, else as a link. */
static int netns_open_spec(const struct ld_netns *n, const struct ld_spec *spec, struct stat *st)
{
        char buf[64];
        const char *path = netns_path(spec, buf, sizeof(buf));
        int fd = ld_nsfile_open(path, spec->netns != NULL, st), rc = 0;

        if (fd == -ELOOP && (fd = ld_nsfile_open(path, false, st)) >= 0)
                rc = -ELOOP;
        if (fd >= 0 && st->st_dev == n->self_dev && st->st_ino == n->self_ino)
                rc = -EXDEV;
        if (rc < 0 && fd >= 0)
                close(fd);
        return rc < 0 ? rc : fd;
}

/* Whether the namespace found (inode ino, cookie; 0: not known yet) may serve spec: it has
 * no id, or one of another boot for a path (the first namespace that appears there), or
 * the same. A --pid id of another boot names a process that is gone: -ESTALE. */
static int netns_id_check(const struct ld_netns *n, const struct ld_spec *spec, uint64_t ino,
                          uint64_t cookie)
{
        const struct ld_nsid *id = &spec->nsid;

        if (!id->boot[0])
                return 0;
        if (strcmp(id->boot, n->boot) != 0)
                return spec->pid ? -ESTALE : 0;
        if (id->ino != ino || (id->cookie && cookie && id->cookie != cookie))
                return -ESTALE;
        return 0;
}

static bool netns_id_current(const struct ld_netns *n, const struct ld_spec *spec)
{
        return n->boot[0] && strcmp(spec->nsid.boot, n->boot) == 0;
}

/* Sets spec's id to this boot's namespace ino; false when it was that already. */
static bool netns_id_set(const struct ld_netns *n, struct ld_spec *spec, uint64_t ino,
                         uint64_t cookie)
{
        if (!n->boot[0] || (netns_id_current(n, spec) && spec->nsid.ino == ino))
                return false;
        memcpy(spec->nsid.boot, n->boot, sizeof(spec->nsid.boot));
        spec->nsid.ino = ino;
        spec->nsid.cookie = cookie;
        return true;
}

/* Records the namespace now serving a registered spec; the owner is told (from the loop,
 * once the change in hand is finished) so that the id reaches the state file. */
static void netns_id_record(struct ld_netns *n, struct ld_spec *spec, uint64_t ino, uint64_t cookie)
{
        if (netns_id_set(n, spec, ino, cookie) && !ev_is_active(&n->recorded_w))
                ev_timer_start(n->loop, &n->recorded_w);
}

/* A directory that does not exist yet (/run/netns before the first `ip netns add`) is
 * polled for until it does. */
static void netns_add_watch(struct ld_netns *n, struct netns_watch *w)
{
        w->wd = inotify_add_watch(n->inofd, w->dir,
                                  IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM);
        if (w->wd < 0 && !ev_is_active(&n->poll))
                ev_timer_again(n->loop, &n->poll);
}

static void netns_watch_dir(struct ld_netns *n, const char *path)
{
        char *copy = strdup(path), *dir;
        struct netns_watch *w;

        if (!copy)
                return;
        dir = dirname(copy);
        for (w = n->watches; w; w = w->next)
                if (strcmp(w->dir, dir) == 0)
                        break;
        if (!w && (w = malloc(sizeof(*w) + strlen(dir) + 1))) {
                strcpy(w->dir, dir);
                w->next = n->watches;
                n->watches = w;
                netns_add_watch(n, w);
        }
        free(copy);
}

int ld_netns_attach(struct ld_netns *n, struct ld_container *c)
{
        struct ld_nsl *s = NULL;
        struct stat st;
        int pidfd = -1, fd, rc;

        if (netns_listening(n, c))
                return 0;
        if (c->spec.netns)
                netns_watch_dir(n, c->spec.netns);
        else if ((pidfd = pidfd_open(c->spec.pid, 0)) < 0)
                return errno == ESRCH ? -ENOENT : -errno;
        fd = rc = netns_open_spec(n, &c->spec, &st);
        if (fd >= 0) { /* an open listener knows the cookie; a new one checks it in there */
                s = netns_find(n, st.st_dev, st.st_ino);
                rc = netns_id_check(n, &c->spec, st.st_ino, s ? s->cookie : 0);
        }
        if (rc < 0) {
                if (fd >= 0)
                        close(fd);
                if (pidfd >= 0)
                        close(pidfd);
                return rc;
        }
        if (!s)
                rc = netns_open_nsl(n, fd, st.st_dev, st.st_ino,
                                    netns_id_current(n, &c->spec) ? c->spec.nsid.cookie : 0, &s);
        close(fd);
        if (rc == 0)
                rc = netns_add_member(s, c, pidfd);
        if (rc < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                if (s && s->vs.n == 0)
                        netns_close(s);
                return rc;
        }
        netns_id_record(n, &c->spec, st.st_ino, s->cookie);
        return 0;
}

void ld_netns_detach(struct ld_netns *n, struct ld_container *c)
{
        struct nsl_member *m = netns_member(n, c);
        struct ld_nsl *s = m ? m->nsl : NULL;

        if (!s)
                return;
        for (size_t i = 0; i < s->vs.n; i++) {
                if (s->members[i] != m)
                        continue;
                memmove(&s->members[i], &s->members[i + 1],
                        (s->vs.n - i - 1) * sizeof(*s->members));
                memmove(&s->views[i], &s->views[i + 1], (s->vs.n - i - 1) * sizeof(*s->views));
                s->vs.n--;
                break;
        }
        if (m->pidfd >= 0) {
                ev_io_stop(n->loop, &m->pid_w);
                close(m->pidfd);
                m->pidfd = -1;
        }
        m->nsl = NULL;
        if (s->vs.n == 0 && !n->syncing)
                netns_close(s);
}

void ld_netns_forget(struct ld_netns *n, struct ld_container *c)
{
        struct nsl_member *m = netns_member(n, c);

        if (!m)
                return;
        ld_netns_detach(n, c);
        ld_hash_remove(&n->members, &m->hn);
        free(m);
}

/* Why a path is refused, for messages; NULL for errors that are not the path's fault. */
static const char *netns_refusal(int rc)
{
        switch (rc) {
        case -ENOTTY:
                return "is not a network namespace";
        case -ELOOP:
                return "is a symbolic link, not followed (name a bind mount, as `ip netns "
                       "attach` makes, or use --pid)";
        case -EXDEV:
                return "is the daemon's own network namespace (its 127.0.0.11 would answer "
                       "every host process): refused";
        default:
                return NULL;
        }
}

int ld_netns_check(const struct ld_table *t, char *err, size_t errlen)
{
        struct ld_netns self = {.selffd = -1};
        struct stat st;

        if (stat("/proc/self/ns/net", &st) == 0) {
                self.self_dev = st.st_dev;
                self.self_ino = st.st_ino;
        }
        for (const struct ld_container *c = t->head; c; c = c->next) {
                const char *why;
                int fd;

                if (!c->spec.netns)
                        continue;
                fd = netns_open_spec(&self, &c->spec, &st);
                if (fd >= 0)
                        close(fd);
                why = netns_refusal(fd);
                if (why) { /* missing: waited for, not an error */
                        snprintf(err, errlen, "%s:%zu: %s of '%s' %s", t->path ? t->path : "table",
                                 c->line, c->spec.netns, c->spec.name, why);
                        return fd;
                }
        }
        return 0;
}

int ld_netns_probe(struct ld_netns *n, struct ld_spec *spec, char *err, size_t errlen)
{
        char buf[64];
        const char *path = netns_path(spec, buf, sizeof(buf)), *why;
        struct ld_nsl *s;
        struct stat st;
        uint64_t cookie = 0;
        int fd, rc;

        if (!spec->netns && !spec->pid)
                return 0;
        fd = rc = netns_open_spec(n, spec, &st);
        if (rc >= 0 && (s = netns_find(n, st.st_dev, st.st_ino)))
                cookie = s->cookie;
        else if (rc >= 0)
                rc = netns_cookie_of(n, fd, &cookie);
        /* An id given on a live add is checked; one of another boot is not this one's. */
        if (rc >= 0 && netns_id_current(n, spec))
                rc = netns_id_check(n, spec, st.st_ino, cookie);
        if (fd >= 0)
                close(fd);
        if (rc >= 0) {
                /* The line written carries the id of the namespace checked here. */
                memset(&spec->nsid, 0, sizeof(spec->nsid));
                netns_id_set(n, spec, st.st_ino, cookie);
                return 0;
        }
        if (spec->pid && rc == -ENOENT)
                snprintf(err, errlen, "process %d does not exist", (int)spec->pid);
        else if (rc == -ESTALE)
                snprintf(err, errlen, "%s is not the namespace --ns-id names", path);
        else if ((why = netns_refusal(rc)))
                snprintf(err, errlen, "%s %s", path, why);
        else
                snprintf(err, errlen, "namespace %s: %s", path, strerror(-rc));
        return rc;
}

size_t ld_netns_count(const struct ld_netns *n)
{
        return n->count;
}

/* One line per outcome, as the loader and reload report it. */
static void netns_report(const struct ld_netns *n, const struct ld_container *c, const char *where,
                         int rc)
{
        char buf[64];
        const char *path = netns_path(&c->spec, buf, sizeof(buf)), *why = netns_refusal(rc);

        if (rc == -ENOENT)
                ld_warn("%snamespace %s of '%s' does not exist (yet): its listener opens when "
                        "it appears",
                        where, path, c->spec.name);
        else if (rc == -ESTALE && !netns_id_current(n, &c->spec))
                ld_warn("%sprocess %d of '%s' was registered before a reboot: not joined until "
                        "it is registered again",
                        where, (int)c->spec.pid, c->spec.name);
        else if (rc == -ESTALE)
                ld_warn("%s%s is not the namespace registered for '%s' (recreated or recycled): "
                        "not joined; re-register it with add --replace",
                        where, path, c->spec.name);
        else if (rc == -EXDEV && c->spec.pid)
                ld_warn("%s%s of '%s' is the daemon's own network namespace: not joined", where,
                        path, c->spec.name);
        else if (why)
                ld_err("%s%s of '%s' %s", where, path, c->spec.name, why);
        else if (rc < 0)
                ld_err("%scannot listen in namespace %s of '%s': %s; retried at the next reload",
                       where, path, c->spec.name, strerror(-rc));
}

void ld_netns_sync(struct ld_netns *n, struct ld_table *t, struct ld_table *old)
{
        n->syncing = true;
        for (struct ld_container *c = t->head; c; c = c->next) {
                struct ld_container *oc = old ? ld_table_find(old, c->spec.name) : NULL;
                /* A file written before the id was recorded (or by hand) keeps the one in
                 * memory for the same registration. */
                if (oc && oc->spec.pid == c->spec.pid && !netns_id_current(n, &c->spec) &&
                    oc->spec.nsid.boot[0] &&
                    (oc->spec.netns == c->spec.netns ||
                     (oc->spec.netns && c->spec.netns && !strcmp(oc->spec.netns, c->spec.netns))))
                        c->spec.nsid = oc->spec.nsid;
        }
        for (struct ld_container *c = old ? old->head : NULL; c; c = c->next)
                ld_netns_forget(n, c); /* old is freed next */
        for (struct ld_container *c = t->head; c; c = c->next) {
                char where[512] = "";
                if (!netns_wanted(c))
                        continue;
                if (c->line)
                        snprintf(where, sizeof(where), "%s:%zu: ", t->path ? t->path : "table",
                                 c->line);
                int rc = ld_netns_attach(n, c);
                netns_set_said(n, c, rc);
                netns_report(n, c, where, rc);
        }
        n->syncing = false;
        for (struct ld_nsl *s = n->head, *next; s; s = next) {
                next = s->next;
                if (s->vs.n == 0)
                        netns_close(s);
        }
}

/* Namespaces waiting to appear are tried again for a while after each change in a
 * watched directory; `ip netns add` mounts the namespace just after creating the file. */
/* Tries every container whose namespace is awaited; true while some are still missing. */
static bool netns_try_pending(struct ld_netns *n)
{
        struct ld_table *t = n->eng->table;
        bool pending = false;

        for (struct ld_container *c = t ? t->head : NULL; c; c = c->next) {
                if (!c->spec.netns || netns_listening(n, c))
                        continue;
                int rc = ld_netns_attach(n, c);
                if (rc == 0)
                        ld_info("namespace %s of '%s' appeared: listening in it", c->spec.netns,
                                c->spec.name);
                else if (rc == -ENOENT || rc == -ENOTTY) /* `ip netns add` mounts on a file */
                        pending = true;
                else if (rc != netns_said(n, c)) /* once: it is tried again at every event */
                        netns_report(n, c, "", rc);
                netns_set_said(n, c, rc);
        }
        return pending;
}

static void netns_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct ld_netns *n = w->data;
        (void)revents;

        if (!netns_try_pending(n) || --n->retry_rounds <= 0)
                ev_timer_stop(loop, w);
}

static void netns_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct ld_netns *n = w->data;
        bool missing = false;
        (void)revents;

        for (struct netns_watch *wt = n->watches; wt; wt = wt->next) {
                if (wt->wd < 0)
                        netns_add_watch(n, wt);
                missing = missing || wt->wd < 0;
        }
        netns_try_pending(n);
        if (!missing)
                ev_timer_stop(loop, w);
}

static void netns_deleted(struct ld_netns *n, const char *path)
{
        for (struct ld_nsl *s = n->head, *next; s; s = next) {
                next = s->next;
                for (size_t i = s->vs.n; i-- > 0;) {
                        struct ld_container *c = s->views[i];
                        if (c->spec.netns && strcmp(c->spec.netns, path) == 0) {
                                ld_info("namespace %s of '%s' was deleted: its listener is closed",
                                        path, c->spec.name);
                                ld_netns_detach(n, c);
                        }
                }
        }
}

static void netns_inotify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ld_netns *n = w->data;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t len;
        (void)revents;

        while ((len = read(w->fd, buf, sizeof(buf))) > 0) {
                for (char *p = buf; p < buf + len;) {
                        const struct inotify_event *e = (const struct inotify_event *)p;
                        p += sizeof(*e) + e->len;
                        struct netns_watch *wt = n->watches;
                        while (wt && wt->wd != e->wd)
                                wt = wt->next;
                        if (wt && (e->mask & IN_IGNORED)) { /* the directory went away */
                                wt->wd = -1;
                                ev_timer_again(loop, &n->poll);
                                continue;
                        }
                        if (!wt || !e->len)
                                continue;
                        if (e->mask & (IN_DELETE | IN_MOVED_FROM)) {
                                char path[4096];
                                snprintf(path, sizeof(path), "%s/%s", wt->dir, e->name);
                                netns_deleted(n, path);
                        } else {
                                n->retry_rounds = NETNS_RETRY_ROUNDS;
                                if (!ev_is_active(&n->retry))
                                        ev_timer_again(loop, &n->retry);
                        }
                }
        }
}

/* This boot's ID, as --ns-id writes it; "" when unreadable (then no id is recorded). */
static void netns_boot_id(char out[LD_BOOTID_LEN + 1])
{
        char buf[LD_BOOTID_LEN + 2] = "";
        int fd = open(NETNS_BOOT_ID, O_RDONLY | O_CLOEXEC);
        ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

        if (fd >= 0)
                close(fd);
        out[0] = '\0';
        if (len >= LD_BOOTID_LEN && (len == LD_BOOTID_LEN || buf[LD_BOOTID_LEN] == '\n')) {
                memcpy(out, buf, LD_BOOTID_LEN);
                out[LD_BOOTID_LEN] = '\0';
        } else {
                ld_warn("cannot read %s: namespace ids are not recorded in the state file",
                        NETNS_BOOT_ID);
        }
}

static void netns_recorded_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct ld_netns *n = w->data;
        (void)loop;
        (void)revents;

        if (n->recorded)
                n->recorded(n->recorded_arg);
}

void ld_netns_on_recorded(struct ld_netns *n, void (*fn)(void *arg), void *arg)
{
        n->recorded = fn;
        n->recorded_arg = arg;
}

int ld_netns_new(struct ev_loop *loop, struct ld_engine *eng, struct ld_dispatch *d,
                 struct ld_tcp *tcp, const struct ld_endpoint *addrs, size_t naddrs,
                 struct ld_netns **out)
{
        struct ld_netns *n = calloc(1, sizeof(*n));
        struct stat st;

        if (!n)
                return -ENOMEM;
        n->loop = loop;
        n->eng = eng;
        n->d = d;
        n->tcp = tcp;
        n->addrs = addrs;
        n->naddrs = naddrs;
        n->selffd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        n->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (ld_hash_init(&n->members) < 0) {
                ld_netns_free(n);
                return -ENOMEM;
        }
        if (n->selffd < 0 || n->inofd < 0 || fstat(n->selffd, &st) < 0) {
                int rc = -errno;
                ld_netns_free(n);
                return rc;
        }
        n->self_dev = st.st_dev;
        n->self_ino = st.st_ino;
        netns_boot_id(n->boot);
        ev_timer_init(&n->recorded_w, netns_recorded_cb, 0, 0);
        n->recorded_w.data = n;
        ev_io_init(&n->ino_w, netns_inotify_cb, n->inofd, EV_READ);
        n->ino_w.data = n;
        ev_io_start(loop, &n->ino_w);
        ev_init(&n->retry, netns_retry_cb);
        n->retry.repeat = NETNS_RETRY_INTERVAL;
        n->retry.data = n;
        ev_init(&n->poll, netns_poll_cb);
        n->poll.repeat = NETNS_POLL_INTERVAL;
        n->poll.data = n;
        *out = n;
        return 0;
}

void ld_netns_free(struct ld_netns *n)
{
        if (!n)
                return;
        n->syncing = true;
        for (struct ld_nsl *s = n->head; s; s = s->next)
                while (s->vs.n)
                        ld_netns_detach(n, s->views[s->vs.n - 1]);
        while (n->head)
                netns_close(n->head);
        for (size_t i = 0; n->members.buckets && i <= n->members.mask; i++) {
                while (n->members.buckets[i]) {
                        struct ld_hash_node *hn = n->members.buckets[i];
                        ld_hash_remove(&n->members, hn);
                        free(hn);
                }
        }
        ld_hash_fini(&n->members);
        if (n->inofd >= 0) {
                ev_io_stop(n->loop, &n->ino_w);
                close(n->inofd);
        }
        ev_timer_stop(n->loop, &n->retry);
        ev_timer_stop(n->loop, &n->poll);
        ev_timer_stop(n->loop, &n->recorded_w);
        while (n->watches) {
                struct netns_watch *w = n->watches;
                n->watches = w->next;
                free(w);
        }
        if (n->selffd >= 0)
                close(n->selffd);
        free(n);
}
