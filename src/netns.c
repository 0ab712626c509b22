/* netns: a listener inside each registered network namespace, opened with setns(2) from
 * the daemon's thread, and closed as soon as the namespace or its container goes away. */
#include "netns.h"

#include "listen.h"
#include "log.h"
#include "list.h"
#include "server.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define NETNS_RETRY_INTERVAL 0.05 /* `ip netns add` creates the file, then mounts on it */
#define NETNS_RETRY_ROUNDS 100
#define NETNS_POLL_INTERVAL 1.0 /* for a directory that is not there yet */

/* A container served by a namespace's listeners; a --pid one watches its process. */
struct nsl_member {
        struct ld_nsl *nsl;
        struct ld_container *c;
        int pidfd;
        ev_io pid_w;
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
        struct ld_server *srv;
        struct ld_tcp *tcp;
        const struct ld_endpoint *addrs;
        size_t naddrs;
        int selffd;
        int inofd;
        ev_io ino_w;
        ev_timer retry;
        int retry_rounds;
        ev_timer poll; /* while a watched directory does not exist yet */
        struct netns_watch *watches;
        struct ld_nsl *head;
        size_t count;
        bool syncing; /* keep empty namespaces open until the sync has moved everyone */
};

static const char *netns_path(const struct ld_container *c, char *buf, size_t len)
{
        if (c->spec.netns)
                return c->spec.netns;
        snprintf(buf, len, "/proc/%d/ns/net", (int)c->spec.pid);
        return buf;
}

static bool netns_wanted(const struct ld_container *c)
{
        return c->spec.netns || c->spec.pid;
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

/* Binds every --netns-address inside the namespace nsfd, then returns home. */
static int netns_bind(struct ld_netns *n, struct ld_nsl *s, int nsfd)
{
        int rc = 0;

        s->listeners = calloc(n->naddrs, sizeof(*s->listeners));
        if (!s->listeners)
                return -ENOMEM;
        if (setns(nsfd, CLONE_NEWNET) < 0)
                return -errno;
        s->cookie = netns_cookie();
        for (size_t i = 0; i < n->naddrs && rc == 0; i++) {
                int u, t;
                rc = ld_listen_sockets(&n->addrs[i], true, &u, &t);
                if (rc == 0)
                        rc = ld_listener_new(n->loop, n->srv, n->tcp, &n->addrs[i], u, t, &s->vs,
                                             &s->listeners[s->nlisteners]);
                if (rc == 0)
                        s->nlisteners++;
        }
        if (setns(n->selffd, CLONE_NEWNET) < 0) {
                /* Serving from a container's namespace would be a leak: stop here. */
                ld_err("cannot return to the daemon's namespace: %s", strerror(errno));
                abort();
        }
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
                          struct ld_nsl **out)
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
        rc = netns_bind(n, s, nsfd);
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
        if (!nm || !nv || !(nm[n] = calloc(1, sizeof(**nm))))
                return -ENOMEM;
        nm[n]->nsl = s;
        nm[n]->c = c;
        nm[n]->pidfd = pidfd;
        if (pidfd >= 0) {
                ev_io_init(&nm[n]->pid_w, netns_pid_cb, pidfd, EV_READ);
                nm[n]->pid_w.data = nm[n];
                ev_io_start(s->n->loop, &nm[n]->pid_w);
        }
        nv[n] = c;
        s->vs.v = s->views;
        s->vs.n = n + 1;
        c->nsl = s;
        return 0;
}

/* Opens path and checks that it is the network namespace registered for c. */
static int netns_open_checked(struct ld_container *c, const char *path, struct stat *st)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

        if (fd < 0)
                return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
        rc = ioctl(fd, NS_GET_NSTYPE);
        if (rc != CLONE_NEWNET || fstat(fd, st) < 0) {
                close(fd);
                return -ENOTTY;
        }
        if (c->ns_ino && (c->ns_ino != st->st_ino || c->ns_dev != st->st_dev)) {
                close(fd);
                return -ESTALE;
        }
        return fd;
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
        char buf[64];
        const char *path = netns_path(c, buf, sizeof(buf));
        struct ld_nsl *s;
        struct stat st;
        int pidfd = -1, fd, rc;

        if (c->nsl)
                return 0;
        if (c->spec.netns)
                netns_watch_dir(n, path);
        else if ((pidfd = pidfd_open(c->spec.pid, 0)) < 0)
                return errno == ESRCH ? -ENOENT : -errno;
        fd = netns_open_checked(c, path, &st);
        if (fd < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                return fd;
        }
        s = netns_find(n, st.st_dev, st.st_ino);
        rc = s ? 0 : netns_open_nsl(n, fd, st.st_dev, st.st_ino, &s);
        close(fd);
        if (rc == 0 && c->ns_cookie && s->cookie && c->ns_cookie != s->cookie)
                rc = -ESTALE; /* the same inode number, but another namespace */
        if (rc == 0)
                rc = netns_add_member(s, c, pidfd);
        if (rc < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                if (s && s->vs.n == 0)
                        netns_close(s);
                return rc;
        }
        c->ns_dev = st.st_dev;
        c->ns_ino = st.st_ino;
        c->ns_cookie = s->cookie;
        return 0;
}

void ld_netns_detach(struct ld_netns *n, struct ld_container *c)
{
        struct ld_nsl *s = c->nsl;

        if (!s)
                return;
        for (size_t i = 0; i < s->vs.n; i++) {
                struct nsl_member *m = s->members[i];
                if (m->c != c)
                        continue;
                if (m->pidfd >= 0) {
                        ev_io_stop(n->loop, &m->pid_w);
                        close(m->pidfd);
                }
                free(m);
                memmove(&s->members[i], &s->members[i + 1],
                        (s->vs.n - i - 1) * sizeof(*s->members));
                memmove(&s->views[i], &s->views[i + 1], (s->vs.n - i - 1) * sizeof(*s->views));
                s->vs.n--;
                break;
        }
        c->nsl = NULL;
        if (s->vs.n == 0 && !n->syncing)
                netns_close(s);
}

int ld_netns_check(const struct ld_table *t, char *err, size_t errlen)
{
        for (const struct ld_container *c = t->head; c; c = c->next) {
                int fd;

                if (!c->spec.netns)
                        continue;
                fd = open(c->spec.netns, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue; /* missing: waited for, not an error */
                bool ok = ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
                close(fd);
                if (!ok) {
                        snprintf(err, errlen, "%s:%zu: %s of '%s' is not a network namespace",
                                 t->path ? t->path : "table", c->line, c->spec.netns, c->spec.name);
                        return -ENOTTY;
                }
        }
        return 0;
}

int ld_netns_probe(const struct ld_spec *spec, char *err, size_t errlen)
{
        char buf[64];
        const char *path = spec->netns;
        int fd, rc = 0;

        if (!spec->netns && !spec->pid)
                return 0;
        if (!path) {
                snprintf(buf, sizeof(buf), "/proc/%d/ns/net", (int)spec->pid);
                path = buf;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                rc = errno == ENOENT ? -ENOENT : -errno;
                if (spec->pid && rc == -ENOENT)
                        snprintf(err, errlen, "process %d does not exist", (int)spec->pid);
                else
                        snprintf(err, errlen, "namespace %s: %s", path, strerror(-rc));
                return rc;
        }
        if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
                snprintf(err, errlen, "%s is not a network namespace", path);
                rc = -ENOTTY;
        }
        close(fd);
        return rc;
}

size_t ld_netns_count(const struct ld_netns *n)
{
        return n->count;
}

/* One line per outcome, as the loader and reload report it. */
static void netns_report(const struct ld_container *c, const char *where, int rc)
{
        char buf[64];
        const char *path = netns_path(c, buf, sizeof(buf));

        if (rc == -ENOENT)
                ld_warn("%snamespace %s of '%s' does not exist (yet): its listener opens when "
                        "it appears",
                        where, path, c->spec.name);
        else if (rc == -ESTALE)
                ld_warn("%s%s is not the namespace registered for '%s' (recreated or recycled): "
                        "not joined; re-register it with add --replace",
                        where, path, c->spec.name);
        else if (rc == -ENOTTY)
                ld_err("%s%s of '%s' is not a network namespace", where, path, c->spec.name);
        else if (rc < 0)
                ld_err("%scannot listen in namespace %s of '%s': %s; retried at the next reload",
                       where, path, c->spec.name, strerror(-rc));
}

void ld_netns_sync(struct ld_netns *n, struct ld_table *t, struct ld_table *old)
{
        n->syncing = true;
        for (struct ld_container *c = t->head; c; c = c->next) {
                struct ld_container *oc = old ? ld_table_find(old, c->spec.name) : NULL;
                if (oc && oc->spec.pid == c->spec.pid &&
                    (oc->spec.netns == c->spec.netns ||
                     (oc->spec.netns && c->spec.netns && !strcmp(oc->spec.netns, c->spec.netns)))) {
                        c->ns_dev = oc->ns_dev;
                        c->ns_ino = oc->ns_ino;
                        c->ns_cookie = oc->ns_cookie;
                }
        }
        for (struct ld_container *c = old ? old->head : NULL; c; c = c->next)
                ld_netns_detach(n, c);
        for (struct ld_container *c = t->head; c; c = c->next) {
                char where[512] = "";
                if (!netns_wanted(c))
                        continue;
                if (c->line)
                        snprintf(where, sizeof(where), "%s:%zu: ", t->path ? t->path : "table",
                                 c->line);
                netns_report(c, where, ld_netns_attach(n, c));
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
        struct ld_table *t = n->srv->table;
        bool pending = false;

        for (struct ld_container *c = t ? t->head : NULL; c; c = c->next) {
                if (!c->spec.netns || c->nsl)
                        continue;
                int rc = ld_netns_attach(n, c);
                if (rc == 0)
                        ld_info("namespace %s of '%s' appeared: listening in it", c->spec.netns,
                                c->spec.name);
                else if (rc == -ENOENT || rc == -ENOTTY)
                        pending = true;
                else if (!c->ns_refused) /* once: it is tried again at every event */
                        netns_report(c, "", rc);
                c->ns_refused = rc == -ESTALE;
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

int ld_netns_new(struct ev_loop *loop, struct ld_server *srv, struct ld_tcp *tcp,
                 const struct ld_endpoint *addrs, size_t naddrs, struct ld_netns **out)
{
        struct ld_netns *n = calloc(1, sizeof(*n));

        if (!n)
                return -ENOMEM;
        n->loop = loop;
        n->srv = srv;
        n->tcp = tcp;
        n->addrs = addrs;
        n->naddrs = naddrs;
        n->selffd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        n->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (n->selffd < 0 || n->inofd < 0) {
                int rc = -errno;
                ld_netns_free(n);
                return rc;
        }
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
        if (n->inofd >= 0) {
                ev_io_stop(n->loop, &n->ino_w);
                close(n->inofd);
        }
        ev_timer_stop(n->loop, &n->retry);
        ev_timer_stop(n->loop, &n->poll);
        while (n->watches) {
                struct netns_watch *w = n->watches;
                n->watches = w->next;
                free(w);
        }
        if (n->selffd >= 0)
                close(n->selffd);
        free(n);
}
