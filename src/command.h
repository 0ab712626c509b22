/* command: the link-table grammar, one line into one command (shared with linkdnsctl). */
#ifndef LD_COMMAND_H
#define LD_COMMAND_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#define LD_NAME_MAX 63
#define LD_LIST_MAX 1024 /* bound on each repeatable option of one container */

enum ld_cmd_kind {
        LD_CMD_ADD,
        LD_CMD_RM,
        LD_CMD_LINK,
        LD_CMD_UNLINK,
        /* read-only, control socket only */
        LD_CMD_LS,
        LD_CMD_SHOW,
        LD_CMD_STATS,
        LD_CMD_RELOAD,
};

enum ld_proto { LD_PROTO_TCP, LD_PROTO_UDP };

struct ld_port {
        uint16_t port;
        uint8_t proto; /* enum ld_proto */
};

struct ld_publish {
        uint16_t hostport;
        struct ld_port port;
};

#define LD_BOOTID_LEN 36 /* /proc/sys/kernel/random/boot_id: a UUID */

/* A namespace's identity (--ns-id BOOTID:INODE:COOKIE): inode numbers are reused, cookies
 * (SO_NETNS_COOKIE; 0 where the kernel has none) are not within one boot. The daemon
 * records it when it first opens the namespace, and writes it into the state file so that
 * a recycled PID or a recreated path is not joined after a restart either. */
struct ld_nsid {
        char boot[LD_BOOTID_LEN + 1]; /* "" when none is recorded */
        uint64_t ino;
        uint64_t cookie;
};

/* A container's registration as written on an `add` line. */
struct ld_spec {
        char name[LD_NAME_MAX + 1];
        char *netns; /* NULL when none */
        pid_t pid;   /* 0 when none */
        struct ld_nsid nsid;
        struct ld_addr *addrs;
        size_t naddrs;
        struct ld_port *expose;
        size_t nexpose;
        struct ld_publish *publish;
        size_t npublish;
        struct ld_endpoint *dns;
        size_t ndns;
        char *remote_fqdn; /* NULL when not remote */
        struct ld_endpoint remote_peer;
};

struct ld_cmd {
        enum ld_cmd_kind kind;
        bool replace;
        bool json;
        struct ld_spec spec;          /* add */
        char name[LD_NAME_MAX + 1];   /* rm, show; FROM of link and unlink */
        char target[LD_NAME_MAX + 1]; /* link; unlink's optional TARGET */
        char alias[LD_NAME_MAX + 1];  /* link (TARGET when omitted); unlink */
};

/* Parses one line. Returns 0 for a command, 1 for a blank or comment line, or -EINVAL
 * with one sentence in err naming the offending token. On error cmd holds nothing. */
int ld_cmd_parse(const char *line, struct ld_cmd *cmd, char *err, size_t errlen);
void ld_cmd_clear(struct ld_cmd *cmd);
bool ld_cmd_is_change(const struct ld_cmd *cmd);
const char *ld_cmd_word(enum ld_cmd_kind kind);

void ld_spec_clear(struct ld_spec *s);
/* Moves src into dst (dst cleared first); src is left empty. */
void ld_spec_move(struct ld_spec *dst, struct ld_spec *src);
bool ld_name_valid(const char *s, size_t len);
/* Writes cmd's canonical line (linkdns.links(5): options in grammar order, `:ALIAS` omitted
 * when equal to TARGET, RFC 5952 addresses), newline included. */
void ld_cmd_format(const struct ld_cmd *cmd, FILE *f);
/* ids false: without --ns-id (what `ls` shows: users never pass it). */
/* Writes a namespace id as BOOTID:INODE:COOKIE, its form in the grammar. */
void ld_nsid_print(const struct ld_nsid *id, FILE *f);
void ld_spec_format(const struct ld_spec *s, bool replace, bool ids, FILE *f);
const char *ld_proto_name(uint8_t proto);

#endif
