/* runtime: container IDs, registration names and annotation lists of the runtime programs. */
#include "runtime.h"

#include "command.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool rt_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int ld_rt_container_id(const char *raw, char out[LD_RT_ID_MAX + 1])
{
        size_t end = raw ? strlen(raw) : 0, start = end;

        while (start > 0 && rt_hex(raw[start - 1]))
                start--;
        if (end - start < LD_RT_SHORT_ID || end - start > LD_RT_ID_MAX)
                return -EINVAL;
        memcpy(out, raw + start, end - start);
        out[end - start] = '\0';
        return 0;
}

bool ld_rt_id_valid(const char *s)
{
        char id[LD_RT_ID_MAX + 1];

        return ld_rt_container_id(s, id) == 0 && strlen(id) == strlen(s);
}

void ld_rt_name(const char *want, const char *id, char *name, char *alias)
{
        size_t n = want ? strlen(want) : 0;

        if (alias)
                alias[0] = '\0';
        if (n && ld_name_valid(want, n)) {
                memcpy(name, want, n + 1);
                return;
        }
        memcpy(name, id, LD_RT_SHORT_ID);
        name[LD_RT_SHORT_ID] = '\0';
        if (alias && n && n <= LD_ALIAS_MAX && ld_alias_valid(want))
                memcpy(alias, want, n + 1);
}

static bool rt_sep(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',';
}

const char *ld_rt_item(const char **cur, size_t *len)
{
        const char *p = *cur, *start;

        while (*p && rt_sep(*p))
                p++;
        if (!*p) {
                *cur = p;
                return NULL;
        }
        start = p;
        while (*p && !rt_sep(*p))
                p++;
        *len = (size_t)(p - start);
        *cur = p;
        return start;
}
