/* table: the link table — containers, their links and ports — and its text form. */
#ifndef LD_TABLE_H
#define LD_TABLE_H

#include "container.h"
#include "view.h"

#include <stdbool.h>
#include <stdint.h>

struct ld_table {
        struct ld_hash names;
        struct ld_container *head, *tail;
        size_t ncontainers;
        struct ld_link *lhead, *ltail;
        size_t nlinks;
        struct ld_hash nets;
        struct ld_net *nhead, *ntail;
        size_t nnets;
        size_t nlisten;                  /* the networks' --listen options, in all */
        struct ld_attach *ahead, *atail; /* attachments in order of creation */
        size_t natts;
        uint32_t next_id;
        uint32_t next_net_id;
        bool deferred; /* while loading: views are built once at the end */
        bool loading;  /* replaying a file: an add --replace across owners was checked live */
        char *path;    /* the file it was loaded from, for messages */
        size_t line;   /* the line being replayed while loading */
        bool torn;     /* the load dropped a change cut short at the end: rewrite the file */
        struct ld_views views;
};

struct ld_table *ld_table_new(void);
void ld_table_free(struct ld_table *t);

/* Validates and applies one change (add, rm, link, unlink, net, unnet, attach, detach). Takes
 * cmd->spec for add. On refusal nothing changed and err holds one sentence. */
int ld_table_apply(struct ld_table *t, struct ld_cmd *cmd, char *err, size_t errlen);

/* Replays a table file into a new table; err holds "FILE:LINE: problem" on failure.
 * A missing file is an empty table. */
int ld_table_load(const char *path, struct ld_table **out, char *err, size_t errlen);
/* views false: the model alone (validation, no lookups), half the memory. */
/* The same from a buffer (fuzzing, tests); name is used in messages. */
int ld_table_load_buf(const char *buf, size_t len, const char *name, bool views,
                      struct ld_table **out, char *err, size_t errlen);

/* Rebuilds the views that show c's addresses (after a remote's changed). */
void ld_table_refresh(struct ld_table *t, struct ld_container *c);
struct ld_rsrv *ld_rcache_srv(const struct ld_container *c, uint16_t port, uint8_t proto);

/* The canonical snapshot: add lines in order of registration, then link lines; with the
 * namespace ids (--ns-id) for the state file, without them for `ls`. */
void ld_table_dump(const struct ld_table *t, FILE *f);
/* owner: only entries with an owner it names (ld_owner_match) and their links; NULL: all. */
void ld_table_list(const struct ld_table *t, const char *owner, FILE *f);
/* Whether cmd changes only an entry's owners (an add merging a second route's owner, an rm
 * of one owner of several): no registration leaves or enters. */
bool ld_table_owner_only(const struct ld_table *t, const struct ld_cmd *cmd);

struct ld_container *ld_table_find(const struct ld_table *t, const char *name);
struct ld_net *ld_table_net(const struct ld_table *t, const char *name);
/* Whether ls --owner PATTERN lists network n (owner NULL: every network). */
bool ld_table_net_listed(const struct ld_net *n, const char *owner);

#endif
