/* log: one line per event on stderr, with a level (journald adds the time). */
#ifndef LD_LOG_H
#define LD_LOG_H

enum ld_log_level { LD_LOG_ERROR, LD_LOG_WARNING, LD_LOG_INFO, LD_LOG_DEBUG };

void ld_log_set_level(enum ld_log_level level);
/* Parses "error|warning|info|debug"; returns 0 or -EINVAL. */
int ld_log_parse_level(const char *s, enum ld_log_level *out);
int ld_log_enabled(enum ld_log_level level);
void ld_log(enum ld_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ld_err(...) ld_log(LD_LOG_ERROR, __VA_ARGS__)
#define ld_warn(...) ld_log(LD_LOG_WARNING, __VA_ARGS__)
#define ld_info(...) ld_log(LD_LOG_INFO, __VA_ARGS__)
#define ld_debug(...) ld_log(LD_LOG_DEBUG, __VA_ARGS__)

#endif
