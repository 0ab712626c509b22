/* nsfile: opening a network namespace file safely, for the daemon's listeners and the runtime
 * programs. */
#include "nsfile.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

int ld_nsfile_open(const char *path, bool nofollow, struct stat *st)
{
        int pfd = open(path, O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0)), fd, rc = 0;
        struct statfs sfs;
        char self[64];

        if (pfd < 0)
                return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
        if (fstat(pfd, st) < 0)
                rc = -errno;
        else if (S_ISLNK(st->st_mode))
                rc = -ELOOP;
        else if (fstatfs(pfd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC)
                rc = -ENOTTY;
        if (rc < 0) {
                close(pfd);
                return rc;
        }
        snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
        fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        close(pfd);
        if (fd < 0)
                return -errno;
        if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
                close(fd);
                return -ENOTTY;
        }
        return fd;
}
