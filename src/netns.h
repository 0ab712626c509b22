/* netns: a listener inside each registered network namespace, opened with setns(2) from
 * the daemon's thread, and closed as soon as the namespace or its container goes away. */
#ifndef LD_NETNS_H
#define LD_NETNS_H

#include "addr.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

struct ld_dispatch;
struct ld_engine;
struct ld_tcp;
struct ld_table;
struct ld_container;
struct ld_netns;

/* Opens the daemon's own namespace (to come back to) and the inotify watch. */
int ld_netns_new(struct ev_loop *loop, struct ld_engine *eng, struct ld_dispatch *d,
                 struct ld_tcp *tcp, const struct ld_endpoint *addrs, size_t naddrs,
                 struct ld_netns **out);
void ld_netns_free(struct ld_netns *n);

/* Moves the listeners from old's containers (NULL at start) to t's: carried-over
 * registrations keep their recorded namespace id; call before old is freed. */
void ld_netns_sync(struct ld_netns *n, struct ld_table *t, struct ld_table *old);
/* Opens c's namespace listener and records its id (spec.nsid) if it had none of this boot.
 * -ENOENT: the namespace is missing (c waits for it); -ENOTTY: the path is no network
 * namespace; -ELOOP: a --netns path is a symbolic link; -EXDEV: it is the daemon's own
 * namespace; -ESTALE: another namespace than the one registered stands there (or a --pid
 * of another boot); other errors from setns or bind. Nothing at the path is opened for I/O
 * before it is checked (a FIFO cannot block); the lookup itself can still wait on a FUSE or
 * automount file system. */
int ld_netns_attach(struct ld_netns *n, struct ld_container *c);
void ld_netns_detach(struct ld_netns *n, struct ld_container *c);
/* c leaves the table (rm, add --replace, a reload): detached, and all netns kept of it
 * (the refusal last logged) dropped; call before c is freed or reused. */
void ld_netns_forget(struct ld_netns *n, struct ld_container *c);
/* Refuses a table naming a path that exists but is no network namespace, a link, or the
 * daemon's own namespace (a missing one is waited for). */
int ld_netns_check(const struct ld_table *t, char *err, size_t errlen);
/* For a live add: refuses a namespace that is missing, no network namespace, the daemon's
 * own, or not the one a given --ns-id of this boot names; sets spec->nsid to the one found,
 * so that the line written carries it. */
struct ld_spec;
int ld_netns_probe(struct ld_netns *n, struct ld_spec *spec, char *err, size_t errlen);
/* fn(arg) runs from the loop after ids were recorded at attach: they belong in the state
 * file (the owner compacts it). */
void ld_netns_on_recorded(struct ld_netns *n, void (*fn)(void *arg), void *arg);
/* How many namespaces have listeners. */
size_t ld_netns_count(const struct ld_netns *n);

#endif
