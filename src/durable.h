/* durable: replacing a file's content so that a crash leaves the old or the new one, never
 * a mix, and a planted link at the temporary name is never followed. */
#ifndef LD_DURABLE_H
#define LD_DURABLE_H

#include <stddef.h>

/* Writes data to PATH.tmp (created anew: O_EXCL|O_NOFOLLOW, mode 0600; a stale one is
 * removed first, a symlink as itself), fsyncs it, renames it over path and fsyncs the
 * directory. Returns 0 or a negative errno; on failure path is unchanged. */
int ld_durable_replace(const char *path, const char *data, size_t len);
/* write(2) until all of it is written (EINTR retried); 0 or a negative errno. */
int ld_durable_write_all(int fd, const char *p, size_t len);
/* fsyncs the directory holding path: makes a new name or a rename durable. */
int ld_durable_sync_dir(const char *path);

#endif
