/* change: the one path of a table change — a live command or a reload's new table — and
 * the observers told of it (namespaces, remote peers, the publish zone, NOTIFY, status). */
#ifndef LD_CHANGE_H
#define LD_CHANGE_H

#include <stdbool.h>
#include <stddef.h>

struct ld_cmd;
struct ld_container;
struct ld_engine;
struct ld_table;

/* What observers are told, in this order. A live change: LEAVING (if a registration goes),
 * the table applies it (views included), ENTERED (if one came), APPLIED; DONE once a batch
 * of them is in force. A reload: REPLACING, the served table swapped, REPLACED, DONE. */
enum ld_change_kind {
        LD_CHANGE_LEAVING,   /* c leaves: rm, or the old registration of add --replace */
        LD_CHANGE_ENTERED,   /* c is in the table: add, or add --replace's new one */
        LD_CHANGE_APPLIED,   /* one live change is in the table */
        LD_CHANGE_REPLACING, /* table replaces old, which is still served */
        LD_CHANGE_REPLACED,  /* table is served, old is freed */
        LD_CHANGE_DONE,      /* a batch of live changes, or a reload, is in force */
};

struct ld_change_event {
        enum ld_change_kind kind;
        struct ld_table *table; /* the one served (REPLACING: the one coming) */
        struct ld_table *old;   /* REPLACING only */
        struct ld_container *c; /* LEAVING, ENTERED */
        bool reload;            /* REPLACING, REPLACED, DONE: a reload, not live changes */
};

/* Observers log their own failures: the change is durable and stays (a namespace that
 * cannot be joined is waited for or retried, as it would be after a restart). */
typedef void (*ld_change_fn)(void *arg, const struct ld_change_event *ev);

#define LD_CHANGE_OBSERVERS 8

struct ld_change {
        struct ld_engine *eng;
        struct {
                ld_change_fn fn;
                void *arg;
        } obs[LD_CHANGE_OBSERVERS];
        size_t nobs;
};

void ld_change_init(struct ld_change *ch, struct ld_engine *eng);
/* Observers are told in the order they were added; -ENOSPC past LD_CHANGE_OBSERVERS. */
int ld_change_observe(struct ld_change *ch, ld_change_fn fn, void *arg);
/* Applies one change (checked, and durable) to the served table; takes cmd->spec of an add.
 * On refusal (which a check beforehand rules out) err says why and nothing changed. */
int ld_change_apply(struct ld_change *ch, struct ld_cmd *cmd, char *err, size_t errlen);
/* The changes applied since the last call are in force: the engine's serial grows. */
void ld_change_commit(struct ld_change *ch);
/* A reload: t (loaded, not yet served) replaces the served table, which is freed. */
void ld_change_replace(struct ld_change *ch, struct ld_table *t);

#endif
