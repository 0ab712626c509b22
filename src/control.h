/* control: linkdnsctl's socket — peer credentials, table changes acknowledged only once
 * durable, read-only reports (ls, show, stats) and reload. */
#ifndef LD_CONTROL_H
#define LD_CONTROL_H

#include <ev.h>
#include <stddef.h>

struct ld_change;
struct ld_engine;
struct ld_netns;
struct ld_tcp;
struct ld_table;
struct ld_control;

struct ld_control_env {
        struct ev_loop *loop;
        struct ld_engine *eng;
        struct ld_change *change; /* the path every change of the served table takes */
        struct ld_netns *netns;
        struct ld_tcp *tcp;
        const char *state_path;
        const char *socket_path;
        const char *group; /* NULL: root only */
        /* Re-reads the state file into the server; 0, or a negative errno and why in err. */
        int (*reload)(void *arg, char *err, size_t errlen);
        void *arg;
};

int ld_control_new(const struct ld_control_env *env, struct ld_control **out);
void ld_control_free(struct ld_control *c);
/* SIGHUP: reload once no write is in flight. */
void ld_control_reload(struct ld_control *c);
/* Writes a new snapshot of the served table once no change is being written: namespace
 * ids recorded at attach belong in the state file. */
void ld_control_compact(struct ld_control *c);

#endif
