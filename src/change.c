/* change: the one path of a table change — a live command or a reload's new table — and
 * the observers told of it (namespaces, remote peers, the publish zone, NOTIFY, status). */
#include "change.h"

#include "command.h"
#include "engine.h"
#include "table.h"

#include <errno.h>
#include <stdio.h>

void ld_change_init(struct ld_change *ch, struct ld_engine *eng)
{
        ch->eng = eng;
        ch->nobs = 0;
}

int ld_change_observe(struct ld_change *ch, ld_change_fn fn, void *arg)
{
        if (ch->nobs == LD_CHANGE_OBSERVERS)
                return -ENOSPC;
        ch->obs[ch->nobs].fn = fn;
        ch->obs[ch->nobs].arg = arg;
        ch->nobs++;
        return 0;
}

static void change_tell(const struct ld_change *ch, enum ld_change_kind kind,
                        struct ld_table *table, struct ld_table *old, struct ld_container *c,
                        bool reload)
{
        struct ld_change_event ev = {kind, table, old, c, reload};

        for (size_t i = 0; i < ch->nobs; i++)
                ch->obs[i].fn(ch->obs[i].arg, &ev);
}

/* The registration an add or rm names: it leaves before the table changes. */
static const char *change_subject(const struct ld_cmd *cmd)
{
        if (cmd->kind == LD_CMD_RM)
                return cmd->name;
        return cmd->kind == LD_CMD_ADD ? cmd->spec.name : NULL;
}

int ld_change_apply(struct ld_change *ch, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_table *t = ch->eng->table;
        /* A change of owners alone: no registration leaves or enters. */
        const char *subject = ld_table_owner_only(t, cmd) ? NULL : change_subject(cmd);
        char name[LD_NAME_MAX + 1] = "";
        struct ld_container *c;
        bool left = false;
        int rc;

        /* The name is copied: the apply takes the spec of an add. */
        if (subject)
                snprintf(name, sizeof(name), "%s", subject);
        /* A refusal must leave everything as it was: an add without --replace of an
         * existing name is refused before anything leaves. */
        if (name[0] && (c = ld_table_find(t, name)) && (cmd->kind == LD_CMD_RM || cmd->replace)) {
                change_tell(ch, LD_CHANGE_LEAVING, t, NULL, c, false);
                left = true;
        }
        rc = ld_table_apply(t, cmd, err, errlen);
        if (rc < 0 && !left)
                return rc;
        /* Even after a failure (out of memory in add --replace), what the table holds now
         * is what the observers serve. */
        if (cmd->kind == LD_CMD_ADD && name[0] && (c = ld_table_find(t, name)))
                change_tell(ch, LD_CHANGE_ENTERED, t, NULL, c, false);
        change_tell(ch, LD_CHANGE_APPLIED, t, NULL, NULL, false);
        return rc;
}

void ld_change_commit(struct ld_change *ch)
{
        ld_engine_bump_serial(ch->eng);
        change_tell(ch, LD_CHANGE_DONE, ch->eng->table, NULL, NULL, false);
}

void ld_change_replace(struct ld_change *ch, struct ld_table *t)
{
        change_tell(ch, LD_CHANGE_REPLACING, t, ch->eng->table, NULL, true);
        ld_engine_set_table(ch->eng, t); /* frees the old table */
        change_tell(ch, LD_CHANGE_REPLACED, t, NULL, NULL, true);
        change_tell(ch, LD_CHANGE_DONE, t, NULL, NULL, true);
}
