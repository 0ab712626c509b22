/* table_apply: one line of the table grammar applied to a table, for the unit tests. */
#ifndef LD_TABLE_APPLY_H
#define LD_TABLE_APPLY_H

#include "command.h"
#include "table.h"

/* Parses line and applies it to t: 0, or a negative errno with the reason in err. */
static inline int apply(struct ld_table *t, const char *line, char *err, size_t errlen)
{
        struct ld_cmd cmd;
        int rc = ld_cmd_parse(line, &cmd, err, errlen);

        if (rc == 0)
                rc = ld_table_apply(t, &cmd, err, errlen);
        ld_cmd_clear(&cmd);
        return rc;
}

#endif
