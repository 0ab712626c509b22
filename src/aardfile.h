/* aardfile: the network files netavark writes for aardvark-dns, read within bounds. */
#ifndef LD_AARDFILE_H
#define LD_AARDFILE_H

#include "addr.h"
#include "command.h"
#include "runtime.h"

#include <stddef.h>

/* The bounds of one directory of network files. netavark writes one file per network
 * with DNS, a header line and one line per container on that network (a container with
 * separate IPv4 and IPv6 entries may take two): beyond these a file is refused. */
#define LD_AARD_LINE_MAX 16384          /* bytes of one line */
#define LD_AARD_FILE_MAX (2u << 20)     /* bytes of one file */
#define LD_AARD_CTRS_MAX 1024           /* container lines of one file */
#define LD_AARD_FILES_MAX 256           /* network files of one directory */
#define LD_AARD_PID_FILE "aardvark.pid" /* the server's pid, in the same directory */

/* One container on a network: lower case, as aardvark-dns matches. */
struct ld_aard_ctr {
        char id[LD_RT_ID_MAX + 1];                 /* 12 to 64 letters or digits (podman: 64 hex) */
        struct ld_addr addrs[LD_ATTACH_ADDRS_MAX]; /* IPv4 first, as the file lists them */
        size_t naddrs;
        ld_alias names[LD_ATTACH_ALIASES_MAX]; /* its name (when named), then aliases */
        size_t nnames;
        bool named; /* whether names[0] is the container's own name (else it was no valid
                     * DNS name and was dropped: names holds aliases only) */
        struct ld_addr dns[LD_NET_ENDPOINTS_MAX]; /* its own DNS servers (port 53) */
        size_t ndns;
};

/* One network file: its name is the network's. */
struct ld_aard_net {
        char name[LD_NETNAME_MAX + 1];
        struct ld_addr gw[LD_NET_ENDPOINTS_MAX]; /* where the server listens */
        size_t ngw;
        struct ld_addr dns[LD_NET_ENDPOINTS_MAX]; /* the network's DNS servers */
        size_t ndns;
        struct ld_aard_ctr *ctrs;
        size_t nctrs;
};

/* Parses one file's text (len bytes; NULs refused). A name field that is no valid alias
 * (names are checked when mapped, not here) is dropped with the line kept, as are names past
 * LD_ATTACH_ALIASES_MAX. Returns 0, or
 * -EINVAL with "LINE: reason" in err (-ENOMEM: "out of memory"); out is left empty on
 * error. */
int ld_aard_parse(const char *name, const char *text, size_t len, struct ld_aard_net *out,
                  char *err, size_t errlen);
void ld_aard_net_clear(struct ld_aard_net *n);

/* The network files of a directory: the parsed ones, and the names of those that could
 * not be read or parsed (their networks are left as they are). */
struct ld_aard_dir {
        struct ld_aard_net *nets;
        size_t n;
        char (*bad)[LD_NETNAME_MAX + 1];
        size_t nbad;
};

/* Each message is one line, "FILE:LINE: reason" or "FILE: reason". */
typedef void (*ld_aard_report)(void *ctx, const char *msg);

/* Reads every network file of directory dirfd (path: for messages), skipping the pid file
 * and names starting with '.'. A file must be a regular file (opened O_NONBLOCK|O_NOFOLLOW,
 * checked with fstat) of at most LD_AARD_FILE_MAX bytes. Files past LD_AARD_FILES_MAX,
 * and names that are no network name, are reported and held as bad ones; past four times
 * that many entries the read fails with -EMFILE. Returns 0 or -ENOMEM, or
 * the errno of reading the directory itself. ld_aard_dir_clear frees. */
int ld_aard_dir_read(int dirfd, const char *path, struct ld_aard_dir *out, ld_aard_report report,
                     void *ctx);
void ld_aard_dir_clear(struct ld_aard_dir *d);
/* Whether the directory read names the network (parsed or bad). */
bool ld_aard_dir_has(const struct ld_aard_dir *d, const char *net);
bool ld_aard_dir_bad(const struct ld_aard_dir *d, const char *net);

#endif
