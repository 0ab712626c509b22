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
#define LD_OWNER_LEN 128 /* an owner tag: 1-128 letters, digits, ':', '-', '_', '.' */
#define LD_OWNERS_MAX 8  /* owners of one entry: one per route that registered it */
/* A batch (linkdnsctl batch): at most this many lines (comments and blank ones included)
 * and bytes of them; on the wire "batch LINES\n" and the lines. */
#define LD_BATCH_LINES 1024
#define LD_BATCH_BYTES 262144 /* 256 KiB */

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
        char **owners; /* --owner TAGs, in the order they came; none for a manual entry */
        size_t nowners;
};

struct ld_cmd {
        enum ld_cmd_kind kind;
        bool replace;
        bool json;
        struct ld_spec spec;          /* add */
        char name[LD_NAME_MAX + 1];   /* rm, show; FROM of link and unlink */
        char target[LD_NAME_MAX + 1]; /* link; unlink's optional TARGET */
        char alias[LD_NAME_MAX + 1];  /* link (TARGET when omitted); unlink */
        char owner[LD_OWNER_LEN + 1]; /* rm --owner, ls --owner ("" when none) */
        /* Not in the grammar: set by the control socket for a live add --replace of an
         * entry of another owner whose namespace it found gone (ld_table_apply allows it). */
        bool ns_gone;
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

/* Owners (--owner TAG). Whether TAG is one (pattern: also "PREFIX:*", for ls). */
bool ld_owner_valid(const char *tag, bool pattern);
/* Whether spec has an owner that pattern names (equal, or "PREFIX:*" by prefix). */
bool ld_owner_match(const struct ld_spec *s, const char *pattern);
bool ld_owner_has(const struct ld_spec *s, const char *tag);
/* Adds tag unless spec has it: 0, or -ENOSPC past LD_OWNERS_MAX, -ENOMEM. */
int ld_owner_add(struct ld_spec *s, const char *tag);
void ld_owner_remove(struct ld_spec *s, const char *tag);
/* The container ID of a tag: what follows its first ':' ("" when none). Two routes
 * registering one container (oci:ID, cni:ID) name the same ID. */
const char *ld_owner_id(const char *tag);

#endif
