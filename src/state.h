/* state: the table file the daemon owns — change lines appended and fsync'd by a writer
 * thread so that queries never wait for the disk, and compaction into a canonical snapshot
 * (temporary file, fsync, rename, fsync of the directory). */
#ifndef LD_STATE_H
#define LD_STATE_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

struct ld_state;

/* Called on the loop when the job finishes: 0, or a negative errno (nothing was kept). */
typedef void (*ld_state_done_fn)(void *arg, int rc);

int ld_state_new(struct ev_loop *loop, const char *path, ld_state_done_fn done, void *arg,
                 struct ld_state **out);
/* Waits for the job in progress, then stops the thread. */
void ld_state_free(struct ld_state *s);

/* One job at a time: both return -EBUSY while one runs. They take text (malloc'd). */
int ld_state_append(struct ld_state *s, char *text, size_t len);
int ld_state_compact(struct ld_state *s, char *snapshot, size_t len);
bool ld_state_busy(const struct ld_state *s);
/* Bytes appended since the last snapshot: when to compact. */
size_t ld_state_appended(const struct ld_state *s);

#endif
