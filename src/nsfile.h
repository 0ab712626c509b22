/* nsfile: opening a network namespace file safely, for the daemon's listeners and the runtime
 * programs. */
#ifndef LD_NSFILE_H
#define LD_NSFILE_H

#include <stdbool.h>
#include <sys/stat.h>

/* Opens a namespace file without blocking and without opening anything else: O_PATH
 * first (no open(2) of a FIFO, device or socket runs, nothing waits for a writer), the
 * file must be on nsfs, and only then is it opened (O_RDONLY|O_NONBLOCK|O_CLOEXEC, for
 * setns) through /proc/self/fd, and checked with NS_GET_NSTYPE. With nofollow (a --netns
 * PATH) a symbolic link as the last component is refused: whoever can write PATH's
 * directory could point it at any /proc/PID/ns/net; `ip netns add` and `ip netns attach`
 * make bind mounts, which are no links. /proc/PID/ns/net is the kernel's own link and is
 * followed (nofollow false). st: the file's stat. Returns the descriptor, -ENOENT
 * (missing), -ELOOP (a link), -ENOTTY (not a network namespace) or another error. */
int ld_nsfile_open(const char *path, bool nofollow, struct stat *st);

#endif
