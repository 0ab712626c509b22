/* aardfile: the network files netavark writes for aardvark-dns, read within bounds. */
#include "aardfile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The owner tag of a network is "aardvark:NAME", at most LD_OWNER_LEN: the name must fit. */
#define AARD_NETNAME_MAX (LD_OWNER_LEN - 9)
/* aard_slurp's answer for a FIFO, device, directory or socket */
#define AARD_ENOTREG EMEDIUMTYPE

static int aard_fail(char *err, size_t errlen, size_t lineno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int aard_fail(char *err, size_t errlen, size_t lineno, const char *fmt, ...)
{
        va_list ap;
        int n = snprintf(err, errlen, "%zu: ", lineno);

        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < errlen)
                vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Splits s (NUL-terminated, modified) at single spaces into at most max fields: the count,
 * or max + 1 when there are more. An empty field (two spaces) counts. */
static size_t aard_fields(char *s, char **f, size_t max)
{
        size_t n = 0;

        for (;;) {
                char *sp = strchr(s, ' ');
                if (n == max)
                        return max + 1;
                f[n++] = s;
                if (!sp)
                        return n;
                *sp = '\0';
                s = sp + 1;
        }
}

/* A comma-separated list of addresses of one family (0: either) into a[*n..max): 0, or
 * -EINVAL with err set. An empty field is an empty list. */
static int aard_addrs(char *s, int family, struct ld_addr *a, size_t *n, size_t max,
                      const char *what, size_t lineno, char *err, size_t errlen)
{
        while (*s) {
                char *comma = strchr(s, ',');
                struct ld_addr x;
                size_t j;

                if (comma)
                        *comma = '\0';
                if (ld_addr_parse(s, &x) < 0 || (family && x.family != family))
                        return aard_fail(err, errlen, lineno, "invalid %s '%.64s'", what, s);
                for (j = 0; j < *n && !ld_addr_equal(&a[j], &x); j++)
                        ;
                if (j == *n) {
                        if (*n == max)
                                return aard_fail(err, errlen, lineno, "more than %zu %ss", max,
                                                 what);
                        a[(*n)++] = x;
                }
                if (!comma)
                        break;
                s = comma + 1;
        }
        return 0;
}

static void aard_lower(char *s)
{
        for (; *s; s++)
                *s = (char)tolower((unsigned char)*s);
}

static int aard_header(char *line, struct ld_aard_net *out, char *err, size_t errlen)
{
        char *f[3];
        size_t n = aard_fields(line, f, 2);
        int rc;

        if (n > 2)
                return aard_fail(err, errlen, 1, "more than two fields (GATEWAYS [DNS])");
        rc = aard_addrs(f[0], 0, out->gw, &out->ngw, LD_NET_ENDPOINTS_MAX, "gateway", 1, err,
                        errlen);
        if (rc == 0 && out->ngw == 0)
                rc = aard_fail(err, errlen, 1, "no gateway address");
        if (rc == 0 && n == 2)
                rc = aard_addrs(f[1], 0, out->dns, &out->ndns, LD_NET_ENDPOINTS_MAX, "DNS server",
                                1, err, errlen);
        return rc;
}

static struct ld_aard_ctr *aard_ctr(struct ld_aard_net *out, const char *id, size_t *cap)
{
        struct ld_aard_ctr *c;

        for (size_t i = 0; i < out->nctrs; i++)
                if (strcmp(out->ctrs[i].id, id) == 0)
                        return &out->ctrs[i]; /* IPv4 and IPv6 on separate lines */
        if (out->nctrs == *cap) {
                size_t ncap = *cap ? *cap * 2 : 8;
                struct ld_aard_ctr *v = realloc(out->ctrs, ncap * sizeof(*v));
                if (!v)
                        return NULL;
                out->ctrs = v;
                *cap = ncap;
        }
        c = &out->ctrs[out->nctrs++];
        memset(c, 0, sizeof(*c));
        strcpy(c->id, id);
        return c;
}

static int aard_names(char *s, struct ld_aard_ctr *c)
{
        bool first = c->nnames == 0 && !c->named;

        aard_lower(s);
        while (*s) {
                char *comma = strchr(s, ',');
                size_t j;

                if (comma)
                        *comma = '\0';
                /* a name no DNS name can carry is no name here; the others still answer */
                if (first)
                        c->named = ld_alias_valid(s); /* names[0] is the container's own */
                first = false;
                if (ld_alias_valid(s)) {
                        for (j = 0; j < c->nnames && strcmp(c->names[j], s) != 0; j++)
                                ;
                        /* names past the bound are dropped, the line kept: refusing the
                         * file would freeze the network for all its containers */
                        if (j == c->nnames && c->nnames < LD_ATTACH_ALIASES_MAX)
                                strcpy(c->names[c->nnames++], s);
                }
                if (!comma)
                        break;
                s = comma + 1;
        }
        return 0; /* no usable name at all: the container still answers by its short ID */
}

/* "ID IPV4S IPV6S NAMES[ DNS]" */
static int aard_line(char *line, size_t lineno, struct ld_aard_net *out, size_t *cap, char *err,
                     size_t errlen)
{
        char *f[6];
        size_t n = aard_fields(line, f, 5);
        struct ld_aard_ctr *c;
        int rc;

        if (n < 4 || n > 5)
                return aard_fail(err, errlen, lineno,
                                 "expected 'ID IPV4S IPV6S NAMES[ DNS]' (%s fields)",
                                 n < 4 ? "too few" : "too many");
        aard_lower(f[0]); /* podman's IDs are lowercase hex; a file written by hand may not be */
        if (!ld_rt_id_valid(f[0]))
                return aard_fail(err, errlen, lineno, "invalid container ID '%.80s'", f[0]);
        if (!(c = aard_ctr(out, f[0], cap))) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        if (out->nctrs > LD_AARD_CTRS_MAX)
                return aard_fail(err, errlen, lineno, "more than %d containers", LD_AARD_CTRS_MAX);
        rc = aard_addrs(f[1], AF_INET, c->addrs, &c->naddrs, LD_ATTACH_ADDRS_MAX, "IPv4 address",
                        lineno, err, errlen);
        if (rc == 0)
                rc = aard_addrs(f[2], AF_INET6, c->addrs, &c->naddrs, LD_ATTACH_ADDRS_MAX,
                                "IPv6 address", lineno, err, errlen);
        if (rc == 0)
                rc = aard_names(f[3], c);
        if (rc == 0 && n == 5)
                rc = aard_addrs(f[4], 0, c->dns, &c->ndns, LD_NET_ENDPOINTS_MAX, "DNS server",
                                lineno, err, errlen);
        return rc;
}

static bool aard_netname_valid(const char *s)
{
        size_t len = strlen(s);

        if (len < 1 || len > AARD_NETNAME_MAX)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
                        return false;
        return true;
}

int ld_aard_parse(const char *name, const char *text, size_t len, struct ld_aard_net *out,
                  char *err, size_t errlen)
{
        char buf[LD_AARD_LINE_MAX + 1];
        size_t lineno = 0, cap = 0;
        bool header = true;
        int rc = 0;

        memset(out, 0, sizeof(*out));
        if (!aard_netname_valid(name)) {
                snprintf(err, errlen, "not a network name (1-%d letters, digits, '-', '_', '.')",
                         AARD_NETNAME_MAX);
                return -EINVAL;
        }
        strcpy(out->name, name);
        if (memchr(text, '\0', len)) {
                snprintf(err, errlen, "a NUL byte in the file");
                return -EINVAL;
        }
        while (rc == 0 && len) {
                const char *nl = memchr(text, '\n', len);
                size_t n = nl ? (size_t)(nl - text) : len;

                lineno++;
                if (n > LD_AARD_LINE_MAX) {
                        rc = aard_fail(err, errlen, lineno, "line longer than %d bytes",
                                       LD_AARD_LINE_MAX);
                        break;
                }
                memcpy(buf, text, n);
                buf[n] = '\0';
                text += nl ? n + 1 : n;
                len -= nl ? n + 1 : n;
                if (n == 0)
                        continue; /* aardvark-dns skips empty lines too */
                rc = header ? aard_header(buf, out, err, errlen)
                            : aard_line(buf, lineno, out, &cap, err, errlen);
                header = false;
        }
        if (rc == 0 && header)
                rc = aard_fail(err, errlen, 1, "empty file (no gateway line)");
        if (rc < 0)
                ld_aard_net_clear(out);
        return rc;
}

void ld_aard_net_clear(struct ld_aard_net *n)
{
        if (!n)
                return;
        free(n->ctrs);
        memset(n, 0, sizeof(*n));
}

static void aard_say(ld_aard_report report, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void aard_say(ld_aard_report report, void *ctx, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (report)
                report(ctx, msg);
}

/* Reads a regular file of at most LD_AARD_FILE_MAX bytes without following a link or
 * waiting on a FIFO: the buffer (malloc'd) and its length, or a negative errno. */
static int aard_slurp(int dirfd, const char *name, char **out, size_t *outlen)
{
        int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        char *buf = NULL;
        size_t len = 0;
        int rc = 0;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                rc = -errno;
        else if (!S_ISREG(st.st_mode))
                rc = -AARD_ENOTREG;
        else if (!(buf = malloc(LD_AARD_FILE_MAX + 1)))
                rc = -ENOMEM;
        while (rc == 0) {
                ssize_t r = read(fd, buf + len, LD_AARD_FILE_MAX + 1 - len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        rc = -errno;
                else if (r == 0)
                        break;
                else if ((len += (size_t)r) > LD_AARD_FILE_MAX)
                        rc = -EFBIG;
        }
        close(fd);
        if (rc < 0) {
                free(buf);
                return rc;
        }
        *out = buf;
        *outlen = len;
        return 0;
}

static int aard_bad(struct ld_aard_dir *d, const char *name, size_t *cap)
{
        if (d->nbad == *cap) {
                size_t ncap = *cap ? *cap * 2 : 4;
                void *v = realloc(d->bad, ncap * sizeof(*d->bad));
                if (!v)
                        return -ENOMEM;
                d->bad = v;
                *cap = ncap;
        }
        snprintf(d->bad[d->nbad++], sizeof(*d->bad), "%s", name);
        return 0;
}

static int aard_file(int dirfd, const char *path, const char *name, struct ld_aard_dir *d,
                     size_t *badcap, ld_aard_report report, void *ctx)
{
        char err[512], *text = NULL;
        size_t len = 0;
        int rc = aard_slurp(dirfd, name, &text, &len);

        if (rc == -ENOMEM)
                return rc;
        if (rc == -ENOENT)
                return 0; /* removed while we read the directory */
        if (rc < 0) {
                aard_say(report, ctx, "%s/%s: %s", path, name,
                         rc == -AARD_ENOTREG ? "not a regular file"
                         : rc == -EFBIG      ? "larger than 2 MiB"
                         : rc == -ELOOP      ? "a symbolic link"
                                             : strerror(-rc));
                return aard_bad(d, name, badcap);
        }
        rc = ld_aard_parse(name, text, len, &d->nets[d->n], err, sizeof(err));
        free(text);
        if (rc == -ENOMEM)
                return rc;
        if (rc < 0) {
                aard_say(report, ctx, "%s/%s:%s", path, name, err);
                return aard_bad(d, name, badcap);
        }
        d->n++;
        return 0;
}

static int aard_cmp(const void *a, const void *b)
{
        return strcmp(((const struct ld_aard_net *)a)->name, ((const struct ld_aard_net *)b)->name);
}

int ld_aard_dir_read(int dirfd, const char *path, struct ld_aard_dir *out, ld_aard_report report,
                     void *ctx)
{
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        size_t badcap = 0, files = 0;
        struct dirent *de;
        DIR *dir;
        int rc = 0;

        memset(out, 0, sizeof(*out));
        if (fd < 0)
                return -errno;
        if (!(dir = fdopendir(fd))) {
                rc = -errno;
                close(fd);
                return rc;
        }
        if (!(out->nets = calloc(LD_AARD_FILES_MAX, sizeof(*out->nets))))
                rc = -ENOMEM;
        while (rc == 0 && (errno = 0, de = readdir(dir))) {
                if (de->d_name[0] == '.' || strcmp(de->d_name, LD_AARD_PID_FILE) == 0)
                        continue;
                if (++files > 4 * LD_AARD_FILES_MAX) {
                        rc = -EMFILE; /* no netavark's: the whole round changes nothing */
                        break;
                }
                if (files > LD_AARD_FILES_MAX) {
                        /* held as it is, not removed: which files are past the bound is the
                         * file system's order, so a flood must not drop another's network */
                        aard_say(report, ctx, "%s/%s: more than %d network files, skipped", path,
                                 de->d_name, LD_AARD_FILES_MAX);
                        rc = aard_bad(out, de->d_name, &badcap);
                        continue;
                }
                rc = aard_file(dirfd, path, de->d_name, out, &badcap, report, ctx);
        }
        if (rc == 0 && errno)
                rc = -errno;
        closedir(dir);
        if (rc < 0) {
                ld_aard_dir_clear(out);
                return rc;
        }
        /* the order of the directory is the file system's: sorted, a re-sync is stable */
        qsort(out->nets, out->n, sizeof(*out->nets), aard_cmp);
        return 0;
}

void ld_aard_dir_clear(struct ld_aard_dir *d)
{
        if (!d)
                return;
        for (size_t i = 0; d->nets && i < d->n; i++)
                ld_aard_net_clear(&d->nets[i]);
        free(d->nets);
        free(d->bad);
        memset(d, 0, sizeof(*d));
}

bool ld_aard_dir_bad(const struct ld_aard_dir *d, const char *net)
{
        for (size_t i = 0; i < d->nbad; i++)
                if (strcmp(d->bad[i], net) == 0)
                        return true;
        return false;
}

bool ld_aard_dir_has(const struct ld_aard_dir *d, const char *net)
{
        for (size_t i = 0; i < d->n; i++)
                if (strcmp(d->nets[i].name, net) == 0)
                        return true;
        return ld_aard_dir_bad(d, net);
}
