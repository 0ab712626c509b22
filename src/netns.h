/* netns: a listener inside each registered network namespace, opened with setns(2) from
 * the daemon's thread, and closed as soon as the namespace or its container goes away. */
#ifndef LD_NETNS_H
#define LD_NETNS_H

#include "addr.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

struct ld_server;
struct ld_tcp;
struct ld_table;
struct ld_container;
struct ld_netns;

/* Opens the daemon's own namespace (to come back to) and the inotify watch. */
int ld_netns_new(struct ev_loop *loop, struct ld_server *srv, struct ld_tcp *tcp,
                 const struct ld_endpoint *addrs, size_t naddrs, struct ld_netns **out);
void ld_netns_free(struct ld_netns *n);

/* Moves the listeners from old's containers (NULL at start) to t's: carried-over
 * registrations keep their recorded inode; call before old is freed. */
void ld_netns_sync(struct ld_netns *n, struct ld_table *t, struct ld_table *old);
/* Opens c's namespace listener. -ENOENT: the namespace is missing (c waits for it);
 * -ENOTTY: the path is no network namespace; -ESTALE: another namespace than the one
 * registered stands there; other errors from setns or bind. */
int ld_netns_attach(struct ld_netns *n, struct ld_container *c);
void ld_netns_detach(struct ld_netns *n, struct ld_container *c);
/* Refuses a table naming a path that exists but is no network namespace. */
int ld_netns_check(const struct ld_table *t, char *err, size_t errlen);
/* For a live add: refuses a namespace that is missing or no network namespace. */
struct ld_spec;
int ld_netns_probe(const struct ld_spec *spec, char *err, size_t errlen);
/* How many namespaces have listeners. */
size_t ld_netns_count(const struct ld_netns *n);

#endif
