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
/* A bound's macro as a string literal, for the messages that name it. */
#define LD_STR_(x) #x
#define LD_STR(x) LD_STR_(x)
/* What a batch may hold (ld_cmd_is_change), for messages. */
#define LD_BATCH_KINDS "add, rm, link, unlink, net, unnet, attach, detach"
#define LD_ALIAS_MAX 127   /* a (multi-label) alias: labels of 1-63, dotted */
#define LD_NETNAME_MAX 255 /* a network's name */
#define LD_DOMAIN_MAX 253  /* a network's --domain, as text */
/* Bounds on what networks add (linkdns.links(5)): every one applies per line or table. */
#define LD_NET_MAX 4096          /* networks in one table */
#define LD_NET_ENDPOINTS_MAX 16  /* --listen and --dns options of one network, each */
#define LD_ATTACH_MAX 32         /* networks one container is attached to */
#define LD_ATTACH_ADDRS_MAX 16   /* --addr options of one attach */
#define LD_ATTACH_ALIASES_MAX 64 /* --alias options of one attach */
/* --listen options of all networks: each is two sockets and, while its address does not
 * exist, a timer trying it again */
#define LD_NET_LISTEN_MAX 256

enum ld_cmd_kind {
        LD_CMD_ADD,
        LD_CMD_RM,
        LD_CMD_LINK,
        LD_CMD_UNLINK,
        LD_CMD_NET,
        LD_CMD_UNNET,
        LD_CMD_ATTACH,
        LD_CMD_DETACH,
        /* read-only, control socket only */
        LD_CMD_LS,
        LD_CMD_SHOW,
        LD_CMD_STATS,
        LD_CMD_RELOAD,
        LD_CMD_FLUSH, /* the answer cache */
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

/* A network as written on a `net` line (owner also serves `unnet NAME --owner TAG`). */
struct ld_netspec {
        char name[LD_NETNAME_MAX + 1];
        char owner[LD_OWNER_LEN + 1];   /* "" when none */
        char domain[LD_DOMAIN_MAX + 1]; /* lower case, no final dot; "" for the daemon's */
        struct ld_endpoint *listen;
        size_t nlisten;
        struct ld_endpoint *dns;
        size_t ndns;
        bool internal;
};

/* One alias (of a link or an attachment): dotted labels as written. */
typedef char ld_alias[LD_ALIAS_MAX + 1];

/* An attachment as written on an `attach` line (net holds NET on `detach` too). */
struct ld_attspec {
        char container[LD_NAME_MAX + 1];
        char net[LD_NETNAME_MAX + 1];
        struct ld_addr *addrs;
        size_t naddrs;
        ld_alias *aliases;
        size_t naliases;
};

struct ld_cmd {
        enum ld_cmd_kind kind;
        bool replace;
        bool json;
        struct ld_spec spec;          /* add */
        char name[LD_NAME_MAX + 1];   /* rm, show; FROM of link and unlink */
        char target[LD_NAME_MAX + 1]; /* link; unlink's optional TARGET */
        char owner[LD_OWNER_LEN + 1]; /* rm --owner, ls --owner ("" when none) */
        /* Not in the grammar: set by the control socket for a live add --replace of an
         * entry of another owner whose namespace it found gone (ld_table_apply allows it). */
        bool ns_gone;
        ld_alias alias;        /* link (TARGET when omitted); unlink */
        struct ld_netspec net; /* net, unnet (name, owner); show --net (name) */
        struct ld_attspec att; /* attach, detach (container, net) */
        /* flush: lower case, no final dot; "" for all */
        char domain[LD_DOMAIN_MAX + 1];
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
/* Dotted labels of 1-63 letters, digits, '-' or '_', at most LD_ALIAS_MAX in all. */
bool ld_alias_valid(const char *s);
void ld_netspec_clear(struct ld_netspec *n);
void ld_attspec_clear(struct ld_attspec *a);
/* Whether two net lines say the same (a repeated identical `net` is a no-op). */
bool ld_netspec_equal(const struct ld_netspec *a, const struct ld_netspec *b);
void ld_netspec_format(const struct ld_netspec *n, bool replace, FILE *f);
void ld_attspec_format(const struct ld_attspec *a, FILE *f);
/* Writes cmd's canonical line (linkdns.links(5): options in grammar order, `:ALIAS` omitted
 * when equal to TARGET, RFC 5952 addresses), newline included. */
void ld_cmd_format(const struct ld_cmd *cmd, FILE *f);
/* ids false: without --ns-id (what `ls` shows: users never pass it). */
/* Writes a namespace id as BOOTID:INODE:COOKIE, its form in the grammar. */
void ld_nsid_print(const struct ld_nsid *id, FILE *f);
/* Whether two registrations are in one namespace (a pod): the same recorded namespace id,
 * else the same --netns path or --pid; two plain endpoints (no namespace) count as one. */
bool ld_spec_same_ns(const struct ld_spec *a, const struct ld_spec *b);
void ld_spec_format(const struct ld_spec *s, bool replace, bool ids, FILE *f);
const char *ld_proto_name(uint8_t proto);

/* Owners (--owner TAG). Whether TAG is one (pattern: also "PREFIX:*", for ls). */
bool ld_owner_valid(const char *tag, bool pattern);
/* Whether spec has an owner that pattern names (equal, or "PREFIX:*" by prefix). */
bool ld_owner_match(const struct ld_spec *s, const char *pattern);
/* One tag against TAG or PREFIX:*. */
bool ld_owner_tag_match(const char *tag, const char *pattern);
bool ld_owner_has(const struct ld_spec *s, const char *tag);
/* Adds tag unless spec has it: 0, or -ENOSPC past LD_OWNERS_MAX, -ENOMEM. */
int ld_owner_add(struct ld_spec *s, const char *tag);
void ld_owner_remove(struct ld_spec *s, const char *tag);
/* The container ID of a tag: what follows its first ':' ("" when none). Two routes
 * registering one container (oci:ID, cni:ID) name the same ID. */
const char *ld_owner_id(const char *tag);

#endif
