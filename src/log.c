/* log: one line per event on stderr, with a level (journald adds the time). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum ld_log_level log_level = LD_LOG_INFO;
static const char log_ident[] = "linkdnsd";
static const char *const log_names[] = {"error", "warning", "info", "debug"};

void ld_log_set_level(enum ld_log_level level)
{
        log_level = level;
}

int ld_log_parse_level(const char *s, enum ld_log_level *out)
{
        for (int i = LD_LOG_ERROR; i <= LD_LOG_DEBUG; i++) {
                if (strcmp(s, log_names[i]) == 0) {
                        *out = (enum ld_log_level)i;
                        return 0;
                }
        }
        return -EINVAL;
}

int ld_log_enabled(enum ld_log_level level)
{
        return level <= log_level;
}

void ld_log(enum ld_log_level level, const char *fmt, ...)
{
        char line[1024];
        va_list ap;

        if (!ld_log_enabled(level))
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        /* One write per line so that lines from a crash or a child never interleave. */
        fprintf(stderr, "%s: %s: %s\n", log_ident, log_names[level], line);
}
