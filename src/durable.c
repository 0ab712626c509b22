/* durable: replacing a file's content so that a crash leaves the old or the new one, never
 * a mix, and a planted link at the temporary name is never followed. */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ld_durable_write_all(int fd, const char *p, size_t len)
{
        while (len) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int ld_durable_sync_dir(const char *path)
{
        char *copy = strdup(path);
        int fd, rc = 0;

        if (!copy)
                return -ENOMEM;
        fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(copy);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                rc = -errno;
        close(fd);
        return rc;
}

int ld_durable_replace(const char *path, const char *data, size_t len)
{
        char tmp[4096];
        int fd, rc;

        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
                return -ENAMETOOLONG;
        /* unlink removes a planted symlink itself, never its target; whatever appears at the
         * name after this makes the O_EXCL open fail rather than be written through. */
        if (unlink(tmp) < 0 && errno != ENOENT)
                return -errno;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        rc = ld_durable_write_all(fd, data, len);
        if (rc == 0 && fsync(fd) < 0)
                rc = -errno;
        if (close(fd) < 0 && rc == 0)
                rc = -errno;
        if (rc == 0 && rename(tmp, path) < 0)
                rc = -errno;
        if (rc < 0) {
                unlink(tmp);
                return rc;
        }
        return ld_durable_sync_dir(path);
}
