/* command: the link-table grammar, one line into one command (shared with linkdnsctl). */
#include "command.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD_MAX_TOKENS 4096
#define CMD_MAX_LINE 65536

struct cmd_tokens {
        char *buf;
        char *v[CMD_MAX_TOKENS];
        size_t n;
};

static int cmd_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cmd_fail(char *err, size_t errlen, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Splits on blanks; '#' at the start of a token comments out the rest of the line. */
static int cmd_tokenize(const char *line, struct cmd_tokens *t, char *err, size_t errlen)
{
        size_t len = strlen(line);

        t->n = 0;
        if (len > CMD_MAX_LINE)
                return cmd_fail(err, errlen, "line longer than %d bytes", CMD_MAX_LINE);
        t->buf = strdup(line);
        if (!t->buf)
                return -ENOMEM;
        for (char *p = t->buf;;) {
                while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
                        p++;
                if (*p == '\0' || *p == '#')
                        return 0;
                if (t->n == CMD_MAX_TOKENS)
                        return cmd_fail(err, errlen, "too many words on one line");
                t->v[t->n++] = p;
                while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
                        p++;
                if (*p)
                        *p++ = '\0';
        }
}

bool ld_name_valid(const char *s, size_t len)
{
        if (len < 1 || len > LD_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!isalnum(c) && c != '-' && c != '_')
                        return false;
        }
        return true;
}

const char *ld_proto_name(uint8_t proto)
{
        return proto == LD_PROTO_UDP ? "udp" : "tcp";
}

static int cmd_name(const char *s, char *out, char *err, size_t errlen)
{
        if (!ld_name_valid(s, strlen(s)))
                return cmd_fail(err, errlen, "invalid name '%s' (1-63 letters, digits, '-' or '_')",
                                s);
        strcpy(out, s);
        return 0;
}

/* "PORT/PROTO" */
static int cmd_port(const char *s, struct ld_port *out, char *err, size_t errlen)
{
        const char *slash = strchr(s, '/');

        if (!slash)
                return cmd_fail(err, errlen, "invalid port '%s' (PORT/PROTO, e.g. 5432/tcp)", s);
        if (ld_port_parse(s, (size_t)(slash - s), &out->port) < 0)
                return cmd_fail(err, errlen, "invalid port '%.*s' in '%s'", (int)(slash - s), s, s);
        if (strcasecmp(slash + 1, "tcp") == 0)
                out->proto = LD_PROTO_TCP;
        else if (strcasecmp(slash + 1, "udp") == 0)
                out->proto = LD_PROTO_UDP;
        else
                return cmd_fail(err, errlen, "invalid protocol '%s' in '%s' (tcp or udp)",
                                slash + 1, s);
        return 0;
}

/* "HOSTPORT:PORT/PROTO" */
static int cmd_publish(const char *s, struct ld_publish *out, char *err, size_t errlen)
{
        const char *colon = strchr(s, ':');

        if (!colon)
                return cmd_fail(err, errlen,
                                "invalid publish '%s' (HOSTPORT:PORT/PROTO, e.g. 8080:80/tcp)", s);
        if (ld_port_parse(s, (size_t)(colon - s), &out->hostport) < 0)
                return cmd_fail(err, errlen, "invalid host port '%.*s' in '%s'", (int)(colon - s),
                                s, s);
        return cmd_port(colon + 1, &out->port, err, errlen);
}

/* A host name of letters, digits, '-' and '_' labels, at most 253 characters. */
/* The first len characters of s are dotted labels of 1-63 letters, digits, '-' or '_'. */
static bool cmd_labels_valid(const char *s, size_t len)
{
        size_t label = 0;

        for (size_t i = 0; i <= len; i++) {
                if (i == len || s[i] == '.') {
                        if (label == 0 || label > 63)
                                return false;
                        label = 0;
                } else if (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_') {
                        label++;
                } else {
                        return false;
                }
        }
        return true;
}

static bool cmd_fqdn_valid(const char *s)
{
        size_t len = strlen(s);

        if (len > 0 && s[len - 1] == '.')
                len--;
        return len > 0 && len <= 253 && cmd_labels_valid(s, len);
}

/* "FQDN@ADDR[@PORT]" */
static int cmd_remote(const char *s, struct ld_spec *spec, char *err, size_t errlen)
{
        const char *at = strchr(s, '@');

        if (!at || at == s)
                return cmd_fail(err, errlen, "invalid remote '%s' (FQDN@ADDR[@PORT])", s);
        spec->remote_fqdn = strndup(s, (size_t)(at - s));
        if (!spec->remote_fqdn)
                return -ENOMEM;
        if (!cmd_fqdn_valid(spec->remote_fqdn))
                return cmd_fail(err, errlen, "invalid remote name '%s' in '%s'", spec->remote_fqdn,
                                s);
        if (ld_endpoint_parse(at + 1, 53, &spec->remote_peer) < 0)
                return cmd_fail(err, errlen, "invalid remote address '%s' in '%s'", at + 1, s);
        return 0;
}

/* Appends one element to a bounded array that grows by doubling. */
static void *cmd_push(void *arr, size_t *n, size_t max, size_t size, const char *opt, char *err,
                      size_t errlen, int *rc)
{
        if (*n >= max) {
                *rc = cmd_fail(err, errlen, "too many %s options (at most %zu)", opt, max);
                return NULL;
        }
        if ((*n & (*n - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
                void *na = realloc(arr, (*n ? *n * 2 : 1) * size);
                if (!na) {
                        *rc = -ENOMEM;
                        return NULL;
                }
                arr = na;
        }
        (*n)++;
        *rc = 0;
        return arr;
}

#define CMD_PUSH_MAX(arr, n, max, opt)                                                             \
        do {                                                                                       \
                void *na_ = cmd_push((arr), &(n), (max), sizeof(*(arr)), (opt), err, errlen, &rc); \
                if (!na_)                                                                          \
                        return rc;                                                                 \
                (arr) = na_;                                                                       \
        } while (0)
#define CMD_PUSH(arr, n, opt) CMD_PUSH_MAX(arr, n, LD_LIST_MAX, opt)

static int cmd_add_addr(struct ld_spec *s, const char *v, char *err, size_t errlen)
{
        struct ld_addr a;
        int rc;

        if (ld_addr_parse(v, &a) < 0)
                return cmd_fail(err, errlen, "invalid address '%s'", v);
        for (size_t i = 0; i < s->naddrs; i++)
                if (ld_addr_equal(&s->addrs[i], &a))
                        return cmd_fail(err, errlen, "duplicate address '%s'", v);
        CMD_PUSH(s->addrs, s->naddrs, "--addr");
        s->addrs[s->naddrs - 1] = a;
        return 0;
}

static int cmd_add_expose(struct ld_spec *s, const char *v, char *err, size_t errlen)
{
        struct ld_port p;
        int rc = cmd_port(v, &p, err, errlen);

        if (rc < 0)
                return rc;
        for (size_t i = 0; i < s->nexpose; i++)
                if (s->expose[i].port == p.port && s->expose[i].proto == p.proto)
                        return cmd_fail(err, errlen, "duplicate expose '%s'", v);
        CMD_PUSH(s->expose, s->nexpose, "--expose");
        s->expose[s->nexpose - 1] = p;
        return 0;
}

static int cmd_add_publish(struct ld_spec *s, const char *v, char *err, size_t errlen)
{
        struct ld_publish p;
        int rc = cmd_publish(v, &p, err, errlen);

        if (rc < 0)
                return rc;
        for (size_t i = 0; i < s->npublish; i++)
                if (s->publish[i].port.port == p.port.port &&
                    s->publish[i].port.proto == p.port.proto)
                        return cmd_fail(err, errlen, "duplicate publish of port '%s'", v);
        CMD_PUSH(s->publish, s->npublish, "--publish");
        s->publish[s->npublish - 1] = p;
        return 0;
}

static int cmd_add_dns(struct ld_spec *s, const char *v, char *err, size_t errlen)
{
        struct ld_endpoint e;
        int rc;

        if (ld_endpoint_parse(v, 53, &e) < 0)
                return cmd_fail(err, errlen, "invalid DNS server '%s' (ADDR[@PORT])", v);
        CMD_PUSH(s->dns, s->ndns, "--dns");
        s->dns[s->ndns - 1] = e;
        return 0;
}

static int cmd_add_pid(struct ld_spec *s, const char *v, char *err, size_t errlen)
{
        char *end;
        long pid;

        errno = 0;
        pid = strtol(v, &end, 10);
        if (errno || *end || end == v || pid < 1 || pid > INT_MAX || v[0] == '+')
                return cmd_fail(err, errlen, "invalid PID '%s'", v);
        s->pid = (pid_t)pid;
        return 0;
}

static int cmd_add_netns(struct ld_spec *s, const char *v, char *err, size_t errlen)
{
        if (v[0] != '/')
                return cmd_fail(err, errlen, "invalid namespace path '%s' (absolute path)", v);
        s->netns = strdup(v);
        return s->netns ? 0 : -ENOMEM;
}

/* Digits only, no overflow (strtoull also takes signs and blanks). */
static bool cmd_u64(const char *s, size_t len, uint64_t *out)
{
        uint64_t v = 0;

        if (len == 0 || len > 20)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        *out = v;
        return true;
}

/* "BOOTID:INODE:COOKIE", BOOTID as /proc/sys/kernel/random/boot_id writes it. */
static int cmd_add_nsid(struct ld_spec *s, const char *v, char *err, size_t errlen)
{
        const char *c1 = strchr(v, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        bool ok = c1 && c2 && c1 - v == LD_BOOTID_LEN;

        for (size_t i = 0; ok && i < LD_BOOTID_LEN; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                ok = dash ? v[i] == '-' : isxdigit((unsigned char)v[i]) != 0;
                s->nsid.boot[i] = (char)tolower((unsigned char)v[i]);
        }
        ok = ok && cmd_u64(c1 + 1, (size_t)(c2 - c1 - 1), &s->nsid.ino) && s->nsid.ino != 0 &&
             cmd_u64(c2 + 1, strlen(c2 + 1), &s->nsid.cookie);
        if (!ok) {
                memset(&s->nsid, 0, sizeof(s->nsid));
                return cmd_fail(err, errlen, "invalid namespace id '%s' (BOOTID:INODE:COOKIE)", v);
        }
        s->nsid.boot[LD_BOOTID_LEN] = '\0';
        return 0;
}

static int cmd_add_remote(struct ld_spec *s, const char *v, char *err, size_t errlen)
{
        if (s->remote_fqdn)
                return cmd_fail(err, errlen, "'--remote' given twice");
        return cmd_remote(v, s, err, errlen);
}

bool ld_owner_valid(const char *tag, bool pattern)
{
        size_t len = strlen(tag);

        if (pattern && len >= 2 && strcmp(tag + len - 2, ":*") == 0)
                len -= 1; /* "PREFIX:*": the prefix keeps its ':' */
        if (len < 1 || len > LD_OWNER_LEN)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)tag[i];
                if (!isalnum(c) && c != ':' && c != '-' && c != '_' && c != '.')
                        return false;
        }
        return true;
}

bool ld_owner_has(const struct ld_spec *s, const char *tag)
{
        for (size_t i = 0; i < s->nowners; i++)
                if (strcmp(s->owners[i], tag) == 0)
                        return true;
        return false;
}

bool ld_owner_tag_match(const char *tag, const char *pattern)
{
        size_t len = strlen(pattern);

        if (len >= 2 && strcmp(pattern + len - 2, ":*") == 0)
                return strncmp(tag, pattern, len - 1) == 0;
        return strcmp(tag, pattern) == 0;
}

bool ld_owner_match(const struct ld_spec *s, const char *pattern)
{
        for (size_t i = 0; i < s->nowners; i++)
                if (ld_owner_tag_match(s->owners[i], pattern))
                        return true;
        return false;
}

const char *ld_owner_id(const char *tag)
{
        const char *colon = strchr(tag, ':');

        return colon ? colon + 1 : "";
}

int ld_owner_add(struct ld_spec *s, const char *tag)
{
        char **no, *copy;

        if (ld_owner_has(s, tag))
                return 0;
        if (s->nowners >= LD_OWNERS_MAX)
                return -ENOSPC;
        if (!(copy = strdup(tag)))
                return -ENOMEM;
        if (!(no = realloc(s->owners, (s->nowners + 1) * sizeof(*no)))) {
                free(copy);
                return -ENOMEM;
        }
        s->owners = no;
        s->owners[s->nowners++] = copy;
        return 0;
}

void ld_owner_remove(struct ld_spec *s, const char *tag)
{
        for (size_t i = 0; i < s->nowners; i++) {
                if (strcmp(s->owners[i], tag) != 0)
                        continue;
                free(s->owners[i]);
                memmove(&s->owners[i], &s->owners[i + 1], (s->nowners - i - 1) * sizeof(char *));
                s->nowners--;
                return;
        }
}

static int cmd_owner(const char *v, bool pattern, char *err, size_t errlen)
{
        if (!ld_owner_valid(v, pattern))
                return cmd_fail(err, errlen,
                                "invalid owner '%.*s' (1-%d letters, digits, ':', '-', '_' or "
                                "'.'%s)",
                                LD_OWNER_LEN + 8, v, LD_OWNER_LEN,
                                pattern ? "; PREFIX:* for all of a prefix" : "");
        return 0;
}

static int cmd_add_owner(struct ld_spec *s, const char *v, char *err, size_t errlen)
{
        int rc = cmd_owner(v, false, err, errlen);

        if (rc < 0)
                return rc;
        if (ld_owner_has(s, v))
                return cmd_fail(err, errlen, "duplicate owner '%s'", v);
        rc = ld_owner_add(s, v);
        if (rc == -ENOSPC)
                return cmd_fail(err, errlen, "too many --owner options (at most %d)",
                                LD_OWNERS_MAX);
        return rc;
}

typedef int (*cmd_opt_fn)(struct ld_spec *, const char *, char *, size_t);

static const struct cmd_option {
        const char *name;
        cmd_opt_fn fn;
} cmd_add_options[] = {
    {"--netns", cmd_add_netns}, {"--pid", cmd_add_pid},       {"--ns-id", cmd_add_nsid},
    {"--addr", cmd_add_addr},   {"--expose", cmd_add_expose}, {"--publish", cmd_add_publish},
    {"--dns", cmd_add_dns},     {"--remote", cmd_add_remote}, {"--owner", cmd_add_owner},
};

/* Finds option tok (as "--opt" or "--opt=value"); *value is set for the second form. */
static const struct cmd_option *cmd_find_option(const char *tok, const char **value)
{
        for (size_t i = 0; i < sizeof(cmd_add_options) / sizeof(cmd_add_options[0]); i++) {
                size_t n = strlen(cmd_add_options[i].name);
                if (strncmp(tok, cmd_add_options[i].name, n) != 0)
                        continue;
                if (tok[n] == '\0' || tok[n] == '=') {
                        *value = tok[n] == '=' ? tok + n + 1 : NULL;
                        return &cmd_add_options[i];
                }
        }
        return NULL;
}

static int cmd_check_add(const struct ld_spec *s, char *err, size_t errlen)
{
        if (s->netns && s->pid)
                return cmd_fail(err, errlen, "--netns and --pid exclude each other");
        if (s->nsid.boot[0] && !s->netns && !s->pid)
                return cmd_fail(err, errlen, "--ns-id needs --netns or --pid");
        if (s->remote_fqdn && (s->netns || s->pid))
                return cmd_fail(err, errlen,
                                "--remote excludes --netns and --pid (a remote container has no "
                                "namespace here)");
        if (s->remote_fqdn && s->naddrs)
                return cmd_fail(err, errlen,
                                "--remote excludes --addr (its addresses come from the peer)");
        return 0;
}

static int cmd_parse_add(struct cmd_tokens *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_spec *s = &cmd->spec;
        bool have_name = false;
        int rc;

        for (size_t i = 1; i < t->n; i++) {
                const char *tok = t->v[i], *value;
                const struct cmd_option *opt;

                if (strcmp(tok, "--replace") == 0) {
                        cmd->replace = true;
                        continue;
                }
                if (tok[0] != '-' || tok[1] == '\0') {
                        if (have_name)
                                return cmd_fail(err, errlen, "unexpected argument '%s'", tok);
                        if ((rc = cmd_name(tok, s->name, err, errlen)) < 0)
                                return rc;
                        have_name = true;
                        continue;
                }
                opt = cmd_find_option(tok, &value);
                if (!opt)
                        return cmd_fail(err, errlen, "unknown option '%s'", tok);
                if (!value) {
                        if (i + 1 >= t->n)
                                return cmd_fail(err, errlen, "option '%s' needs a value", tok);
                        value = t->v[++i];
                }
                if ((opt->fn == cmd_add_netns && s->netns) || (opt->fn == cmd_add_pid && s->pid) ||
                    (opt->fn == cmd_add_nsid && s->nsid.boot[0]))
                        return cmd_fail(err, errlen, "'%s' given twice", opt->name);
                if ((rc = opt->fn(s, value, err, errlen)) < 0)
                        return rc;
        }
        if (!have_name)
                return cmd_fail(err, errlen, "add: missing NAME");
        return cmd_check_add(s, err, errlen);
}

/* Commands with positional arguments only: [--json] and NAME-like words. */
static int cmd_positional(struct cmd_tokens *t, struct ld_cmd *cmd, size_t min, size_t max,
                          const char *usage, char *words[], char *err, size_t errlen)
{
        size_t n = 0;

        for (size_t i = 1; i < t->n; i++) {
                if (strcmp(t->v[i], "--json") == 0 && cmd->kind >= LD_CMD_LS) {
                        cmd->json = true;
                        continue;
                }
                if (t->v[i][0] == '-')
                        return cmd_fail(err, errlen, "unknown option '%s'", t->v[i]);
                if (n == max)
                        return cmd_fail(err, errlen, "unexpected argument '%s'", t->v[i]);
                words[n++] = t->v[i];
        }
        if (n < min)
                return cmd_fail(err, errlen, "%s: missing %s", t->v[0], usage);
        for (size_t i = n; i < max; i++)
                words[i] = NULL;
        return 0;
}

bool ld_alias_valid(const char *s)
{
        size_t len = strlen(s);

        return len > 0 && len <= LD_ALIAS_MAX && cmd_labels_valid(s, len);
}

static int cmd_alias(const char *s, char *out, char *err, size_t errlen)
{
        if (!ld_alias_valid(s))
                return cmd_fail(err, errlen,
                                "invalid alias '%s' (dotted labels of 1-63 letters, digits, '-' "
                                "or '_', at most %d in all)",
                                s, LD_ALIAS_MAX);
        strcpy(out, s);
        return 0;
}

/* Network names: their own namespace, one word of letters, digits, '-', '_' and '.'. */
static int cmd_netname(const char *s, char *out, char *err, size_t errlen)
{
        size_t len = strlen(s);
        bool ok = len >= 1 && len <= LD_NETNAME_MAX;

        for (size_t i = 0; ok && i < len; i++)
                ok = isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.';
        if (!ok)
                return cmd_fail(err, errlen,
                                "invalid network name '%s' (1-%d letters, digits, '-', '_' or '.')",
                                s, LD_NETNAME_MAX);
        strcpy(out, s);
        return 0;
}

/* Reads "--opt VALUE" or "--opt=VALUE" at t->v[*i] for opt; NULL (and *matched false) when
 * the token is another option. */
static const char *cmd_opt_value(struct cmd_tokens *t, size_t *i, const char *opt, bool *matched)
{
        const char *tok = t->v[*i];
        size_t n = strlen(opt);

        *matched = strncmp(tok, opt, n) == 0 && (tok[n] == '\0' || tok[n] == '=');
        if (!*matched)
                return NULL;
        if (tok[n] == '=')
                return tok + n + 1;
        if (*i + 1 >= t->n)
                return NULL;
        return t->v[++*i];
}

static int cmd_endpoint_push(struct ld_endpoint **arr, size_t *n, const char *opt, const char *v,
                             char *err, size_t errlen)
{
        struct ld_endpoint e;
        int rc;

        if (ld_endpoint_parse(v, 53, &e) < 0)
                return cmd_fail(err, errlen, "invalid %s '%s' (ADDR[@PORT])", opt, v);
        for (size_t k = 0; k < *n; k++)
                if (ld_endpoint_equal(&(*arr)[k], &e))
                        return cmd_fail(err, errlen, "duplicate %s '%s'", opt, v);
        CMD_PUSH_MAX(*arr, *n, LD_NET_ENDPOINTS_MAX, opt);
        (*arr)[*n - 1] = e;
        return 0;
}

/* A checked domain as kept: lower case, no final dot (out holds LD_DOMAIN_MAX + 1). */
static void cmd_domain_copy(char *out, const char *v)
{
        size_t len = strlen(v);

        if (len > 0 && v[len - 1] == '.')
                len--;
        for (size_t i = 0; i < len; i++)
                out[i] = (char)tolower((unsigned char)v[i]);
        out[len] = '\0';
}

static int cmd_net_domain(struct ld_netspec *n, const char *v, char *err, size_t errlen)
{
        if (n->domain[0])
                return cmd_fail(err, errlen, "'--domain' given twice");
        if (!cmd_fqdn_valid(v) || strlen(v) > LD_DOMAIN_MAX)
                return cmd_fail(err, errlen, "invalid domain '%s'", v);
        cmd_domain_copy(n->domain, v);
        return 0;
}

/* One option of a net line at t->v[*i]; 1 when tok is none of them. */
static int cmd_net_option(struct cmd_tokens *t, size_t *i, struct ld_cmd *cmd, char *err,
                          size_t errlen)
{
        struct ld_netspec *n = &cmd->net;
        const char *v;
        bool m;

        if (strcmp(t->v[*i], "--replace") == 0 && cmd->kind == LD_CMD_NET) {
                cmd->replace = true;
                return 0;
        }
        if (strcmp(t->v[*i], "--internal") == 0 && cmd->kind == LD_CMD_NET) {
                n->internal = true;
                return 0;
        }
        if ((v = cmd_opt_value(t, i, "--owner", &m)) || m) {
                if (!v)
                        return cmd_fail(err, errlen, "option '--owner' needs a value");
                if (n->owner[0])
                        return cmd_fail(err, errlen, "'--owner' given twice");
                if (cmd_owner(v, false, err, errlen) < 0)
                        return -EINVAL;
                strcpy(n->owner, v); /* fits: ld_owner_valid bounds it */
                return 0;
        }
        if (cmd->kind != LD_CMD_NET)
                return 1;
        if ((v = cmd_opt_value(t, i, "--domain", &m)) || m)
                return v ? cmd_net_domain(n, v, err, errlen)
                         : cmd_fail(err, errlen, "option '--domain' needs a value");
        if ((v = cmd_opt_value(t, i, "--listen", &m)) || m)
                return v ? cmd_endpoint_push(&n->listen, &n->nlisten, "--listen", v, err, errlen)
                         : cmd_fail(err, errlen, "option '--listen' needs a value");
        if ((v = cmd_opt_value(t, i, "--dns", &m)) || m)
                return v ? cmd_endpoint_push(&n->dns, &n->ndns, "--dns", v, err, errlen)
                         : cmd_fail(err, errlen, "option '--dns' needs a value");
        return 1;
}

/* net NAME [--replace] [--owner TAG] [--domain D] [--listen ADDR[@PORT]]...
 *     [--dns ADDR[@PORT]]... [--internal]; unnet NAME [--owner TAG] */
static int cmd_parse_net(struct cmd_tokens *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        bool have_name = false;
        int rc;

        for (size_t i = 1; i < t->n; i++) {
                const char *tok = t->v[i];

                if (tok[0] != '-' || tok[1] == '\0') {
                        if (have_name)
                                return cmd_fail(err, errlen, "unexpected argument '%s'", tok);
                        if ((rc = cmd_netname(tok, cmd->net.name, err, errlen)) < 0)
                                return rc;
                        have_name = true;
                        continue;
                }
                rc = cmd_net_option(t, &i, cmd, err, errlen);
                if (rc > 0)
                        return cmd_fail(err, errlen, "unknown option '%s'", tok);
                if (rc < 0)
                        return rc;
        }
        if (!have_name)
                return cmd_fail(err, errlen, "%s: missing NAME", t->v[0]);
        if (cmd->net.internal && cmd->net.ndns)
                return cmd_fail(err, errlen,
                                "--internal excludes --dns (an internal network is never "
                                "forwarded for)");
        return 0;
}

static int cmd_att_addr(struct ld_attspec *a, const char *v, char *err, size_t errlen)
{
        struct ld_addr ad;
        int rc;

        if (ld_addr_parse(v, &ad) < 0)
                return cmd_fail(err, errlen, "invalid address '%s'", v);
        for (size_t i = 0; i < a->naddrs; i++)
                if (ld_addr_equal(&a->addrs[i], &ad))
                        return cmd_fail(err, errlen, "duplicate address '%s'", v);
        CMD_PUSH_MAX(a->addrs, a->naddrs, LD_ATTACH_ADDRS_MAX, "--addr");
        a->addrs[a->naddrs - 1] = ad;
        return 0;
}

static int cmd_att_alias(struct ld_attspec *a, const char *v, char *err, size_t errlen)
{
        ld_alias al;
        int rc = cmd_alias(v, al, err, errlen);

        if (rc < 0)
                return rc;
        for (size_t i = 0; i < a->naliases; i++)
                if (strcasecmp(a->aliases[i], al) == 0)
                        return cmd_fail(err, errlen, "duplicate alias '%s'", v);
        CMD_PUSH_MAX(a->aliases, a->naliases, LD_ATTACH_ALIASES_MAX, "--alias");
        strcpy(a->aliases[a->naliases - 1], al);
        return 0;
}

/* attach CONTAINER NET [--addr IP]... [--alias NAME]...; detach CONTAINER NET */
static int cmd_parse_attach(struct cmd_tokens *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct ld_attspec *a = &cmd->att;
        size_t npos = 0;
        int rc;

        for (size_t i = 1; i < t->n; i++) {
                const char *tok = t->v[i], *v;
                bool m;

                if (tok[0] != '-' || tok[1] == '\0') {
                        if (npos == 2)
                                return cmd_fail(err, errlen, "unexpected argument '%s'", tok);
                        rc = npos++ == 0 ? cmd_name(tok, a->container, err, errlen)
                                         : cmd_netname(tok, a->net, err, errlen);
                        if (rc < 0)
                                return rc;
                        continue;
                }
                if (cmd->kind == LD_CMD_ATTACH && ((v = cmd_opt_value(t, &i, "--addr", &m)) || m))
                        rc = v ? cmd_att_addr(a, v, err, errlen)
                               : cmd_fail(err, errlen, "option '--addr' needs a value");
                else if (cmd->kind == LD_CMD_ATTACH &&
                         ((v = cmd_opt_value(t, &i, "--alias", &m)) || m))
                        rc = v ? cmd_att_alias(a, v, err, errlen)
                               : cmd_fail(err, errlen, "option '--alias' needs a value");
                else
                        rc = cmd_fail(err, errlen, "unknown option '%s'", tok);
                if (rc < 0)
                        return rc;
        }
        if (npos < 2)
                return cmd_fail(err, errlen, "%s: missing CONTAINER NET", t->v[0]);
        return 0;
}

static int cmd_parse_link(struct cmd_tokens *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        char *w[2], *colon;
        int rc = cmd_positional(t, cmd, 2, 2, "FROM TARGET[:ALIAS]", w, err, errlen);

        if (rc < 0)
                return rc;
        if ((rc = cmd_name(w[0], cmd->name, err, errlen)) < 0)
                return rc;
        colon = strchr(w[1], ':');
        if (colon)
                *colon = '\0';
        if ((rc = cmd_name(w[1], cmd->target, err, errlen)) < 0)
                return rc;
        if ((rc = cmd_alias(colon ? colon + 1 : w[1], cmd->alias, err, errlen)) < 0)
                return rc;
        if (strcasecmp(cmd->alias, cmd->name) == 0)
                return cmd_fail(err, errlen, "alias '%s' equals the container's own name",
                                cmd->alias);
        if (strcasecmp(cmd->target, cmd->name) == 0)
                return cmd_fail(err, errlen, "'%s' cannot link to itself", cmd->name);
        return 0;
}

static int cmd_parse_unlink(struct cmd_tokens *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        char *w[3];
        int rc = cmd_positional(t, cmd, 2, 3, "FROM ALIAS [TARGET]", w, err, errlen);

        if (rc < 0)
                return rc;
        if ((rc = cmd_name(w[0], cmd->name, err, errlen)) < 0 ||
            (rc = cmd_alias(w[1], cmd->alias, err, errlen)) < 0)
                return rc;
        if (w[2] && (rc = cmd_name(w[2], cmd->target, err, errlen)) < 0)
                return rc;
        return 0;
}

/* rm and ls take one "--owner TAG" (or --owner=TAG): taken out of the words here. */
static int cmd_take_owner(struct cmd_tokens *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        for (size_t i = 1; i < t->n; i++) {
                const char *v = NULL;
                size_t used = 1;
                int rc;

                if (strcmp(t->v[i], "--owner") == 0) {
                        if (i + 1 >= t->n)
                                return cmd_fail(err, errlen, "option '--owner' needs a value");
                        v = t->v[i + 1];
                        used = 2;
                } else if (strncmp(t->v[i], "--owner=", 8) == 0) {
                        v = t->v[i] + 8;
                } else {
                        continue;
                }
                if (cmd->owner[0])
                        return cmd_fail(err, errlen, "'--owner' given twice");
                if ((rc = cmd_owner(v, cmd->kind == LD_CMD_LS, err, errlen)) < 0)
                        return rc;
                strcpy(cmd->owner, v);
                memmove(&t->v[i], &t->v[i + used], (t->n - i - used) * sizeof(t->v[0]));
                t->n -= used;
                i--;
        }
        return 0;
}

static int cmd_parse_named(struct cmd_tokens *t, struct ld_cmd *cmd, size_t min, char *err,
                           size_t errlen)
{
        char *w[1];
        int rc = cmd->kind == LD_CMD_RM || cmd->kind == LD_CMD_LS
                     ? cmd_take_owner(t, cmd, err, errlen)
                     : 0;

        if (rc == 0)
                rc = cmd_positional(t, cmd, min, min, "NAME", w, err, errlen);

        if (rc < 0 || min == 0)
                return rc;
        return cmd_name(w[0], cmd->name, err, errlen);
}

/* flush [DOMAIN]: the answer cache's entries at and below DOMAIN, or all of them */
static int cmd_parse_flush(struct cmd_tokens *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        char *w[1] = {NULL};
        int rc = cmd_positional(t, cmd, 0, 1, "DOMAIN", w, err, errlen);

        if (rc < 0 || !w[0])
                return rc;
        if (!cmd_fqdn_valid(w[0]))
                return cmd_fail(err, errlen, "invalid domain '%s'", w[0]);
        cmd_domain_copy(cmd->domain, w[0]);
        return 0;
}

/* show NAME | show --net NAME, each with --json */
static int cmd_parse_show(struct cmd_tokens *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        for (size_t i = 1; i < t->n; i++) {
                const char *v;
                bool m;

                if ((v = cmd_opt_value(t, &i, "--net", &m)) || m) {
                        if (!v)
                                return cmd_fail(err, errlen, "option '--net' needs a value");
                        for (size_t k = i + 1; k < t->n; k++)
                                if (strcmp(t->v[k], "--json") == 0)
                                        cmd->json = true;
                                else
                                        return cmd_fail(err, errlen, "unexpected argument '%s'",
                                                        t->v[k]);
                        for (size_t k = 1; k + 1 < i; k++)
                                if (strcmp(t->v[k], "--json") == 0)
                                        cmd->json = true;
                                else
                                        return cmd_fail(err, errlen, "unexpected argument '%s'",
                                                        t->v[k]);
                        return cmd_netname(v, cmd->net.name, err, errlen);
                }
        }
        return cmd_parse_named(t, cmd, 1, err, errlen);
}

static const struct {
        const char *word;
        enum ld_cmd_kind kind;
} cmd_words[] = {
    {"add", LD_CMD_ADD},       {"rm", LD_CMD_RM},         {"link", LD_CMD_LINK},
    {"unlink", LD_CMD_UNLINK}, {"net", LD_CMD_NET},       {"unnet", LD_CMD_UNNET},
    {"attach", LD_CMD_ATTACH}, {"detach", LD_CMD_DETACH}, {"ls", LD_CMD_LS},
    {"show", LD_CMD_SHOW},     {"stats", LD_CMD_STATS},   {"reload", LD_CMD_RELOAD},
    {"flush", LD_CMD_FLUSH},
};

static int cmd_dispatch(struct cmd_tokens *t, struct ld_cmd *cmd, char *err, size_t errlen)
{
        for (size_t i = 0; i < sizeof(cmd_words) / sizeof(cmd_words[0]); i++) {
                if (strcmp(t->v[0], cmd_words[i].word) != 0)
                        continue;
                cmd->kind = cmd_words[i].kind;
                switch (cmd->kind) {
                case LD_CMD_ADD:
                        return cmd_parse_add(t, cmd, err, errlen);
                case LD_CMD_LINK:
                        return cmd_parse_link(t, cmd, err, errlen);
                case LD_CMD_UNLINK:
                        return cmd_parse_unlink(t, cmd, err, errlen);
                case LD_CMD_NET:
                case LD_CMD_UNNET:
                        return cmd_parse_net(t, cmd, err, errlen);
                case LD_CMD_ATTACH:
                case LD_CMD_DETACH:
                        return cmd_parse_attach(t, cmd, err, errlen);
                case LD_CMD_SHOW:
                        return cmd_parse_show(t, cmd, err, errlen);
                case LD_CMD_RM:
                        return cmd_parse_named(t, cmd, 1, err, errlen);
                case LD_CMD_FLUSH:
                        return cmd_parse_flush(t, cmd, err, errlen);
                default:
                        return cmd_parse_named(t, cmd, 0, err, errlen);
                }
        }
        return cmd_fail(err, errlen, "unknown command '%s'", t->v[0]);
}

int ld_cmd_parse(const char *line, struct ld_cmd *cmd, char *err, size_t errlen)
{
        struct cmd_tokens *t = malloc(sizeof(*t));
        int rc;

        memset(cmd, 0, sizeof(*cmd));
        if (!t)
                return -ENOMEM;
        t->buf = NULL;
        rc = cmd_tokenize(line, t, err, errlen);
        if (rc == 0 && t->n == 0)
                rc = 1;
        else if (rc == 0)
                rc = cmd_dispatch(t, cmd, err, errlen);
        if (rc == -ENOMEM)
                snprintf(err, errlen, "out of memory");
        if (rc < 0)
                ld_cmd_clear(cmd);
        free(t->buf);
        free(t);
        return rc;
}

const char *ld_cmd_word(enum ld_cmd_kind kind)
{
        for (size_t i = 0; i < sizeof(cmd_words) / sizeof(cmd_words[0]); i++)
                if (cmd_words[i].kind == kind)
                        return cmd_words[i].word;
        return "?";
}

bool ld_cmd_is_change(const struct ld_cmd *cmd)
{
        return cmd->kind <= LD_CMD_DETACH;
}

void ld_spec_clear(struct ld_spec *s)
{
        free(s->netns);
        free(s->addrs);
        free(s->expose);
        free(s->publish);
        free(s->dns);
        free(s->remote_fqdn);
        for (size_t i = 0; i < s->nowners; i++)
                free(s->owners[i]);
        free(s->owners);
        memset(s, 0, sizeof(*s));
}

void ld_spec_move(struct ld_spec *dst, struct ld_spec *src)
{
        ld_spec_clear(dst);
        *dst = *src;
        memset(src, 0, sizeof(*src));
}

void ld_netspec_clear(struct ld_netspec *n)
{
        free(n->listen);
        free(n->dns);
        memset(n, 0, sizeof(*n));
}

void ld_attspec_clear(struct ld_attspec *a)
{
        free(a->addrs);
        free(a->aliases);
        memset(a, 0, sizeof(*a));
}

static bool cmd_endpoints_equal(const struct ld_endpoint *a, size_t na, const struct ld_endpoint *b,
                                size_t nb)
{
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (!ld_endpoint_equal(&a[i], &b[i]))
                        return false;
        return true;
}

bool ld_netspec_equal(const struct ld_netspec *a, const struct ld_netspec *b)
{
        return strcmp(a->name, b->name) == 0 && strcmp(a->owner, b->owner) == 0 &&
               strcmp(a->domain, b->domain) == 0 && a->internal == b->internal &&
               cmd_endpoints_equal(a->listen, a->nlisten, b->listen, b->nlisten) &&
               cmd_endpoints_equal(a->dns, a->ndns, b->dns, b->ndns);
}

void ld_netspec_format(const struct ld_netspec *n, bool replace, FILE *f)
{
        char buf[LD_ENDPOINT_STRLEN];

        fprintf(f, "net %s", n->name);
        if (replace)
                fputs(" --replace", f);
        if (n->owner[0])
                fprintf(f, " --owner %s", n->owner);
        if (n->domain[0])
                fprintf(f, " --domain %s", n->domain);
        for (size_t i = 0; i < n->nlisten; i++) {
                ld_endpoint_format(&n->listen[i], buf, sizeof(buf));
                fprintf(f, " --listen %s", buf);
        }
        for (size_t i = 0; i < n->ndns; i++) {
                ld_endpoint_format(&n->dns[i], buf, sizeof(buf));
                fprintf(f, " --dns %s", buf);
        }
        if (n->internal)
                fputs(" --internal", f);
        fputc('\n', f);
}

void ld_attspec_format(const struct ld_attspec *a, FILE *f)
{
        char buf[LD_ADDR_STRLEN];

        fprintf(f, "attach %s %s", a->container, a->net);
        for (size_t i = 0; i < a->naddrs; i++) {
                ld_addr_format(&a->addrs[i], buf, sizeof(buf));
                fprintf(f, " --addr %s", buf);
        }
        for (size_t i = 0; i < a->naliases; i++)
                fprintf(f, " --alias %s", a->aliases[i]);
        fputc('\n', f);
}

void ld_cmd_clear(struct ld_cmd *cmd)
{
        ld_spec_clear(&cmd->spec);
        ld_netspec_clear(&cmd->net);
        ld_attspec_clear(&cmd->att);
        memset(cmd, 0, sizeof(*cmd));
}

bool ld_spec_same_ns(const struct ld_spec *a, const struct ld_spec *b)
{
        bool ans = a->netns || a->pid, bns = b->netns || b->pid;

        if (!ans || !bns)
                return !ans && !bns;
        if (a->nsid.boot[0] && b->nsid.boot[0])
                return strcmp(a->nsid.boot, b->nsid.boot) == 0 && a->nsid.ino == b->nsid.ino &&
                       a->nsid.cookie == b->nsid.cookie;
        if (a->netns && b->netns)
                return strcmp(a->netns, b->netns) == 0;
        return a->pid && a->pid == b->pid;
}

void ld_nsid_print(const struct ld_nsid *id, FILE *f)
{
        fprintf(f, "%s:%llu:%llu", id->boot, (unsigned long long)id->ino,
                (unsigned long long)id->cookie);
}

void ld_spec_format(const struct ld_spec *s, bool replace, bool ids, FILE *f)
{
        char buf[LD_ENDPOINT_STRLEN];

        fprintf(f, "add %s", s->name);
        if (replace)
                fputs(" --replace", f);
        for (size_t i = 0; i < s->nowners; i++)
                fprintf(f, " --owner %s", s->owners[i]);
        if (s->netns)
                fprintf(f, " --netns %s", s->netns);
        if (s->pid)
                fprintf(f, " --pid %d", (int)s->pid);
        if (ids && s->nsid.boot[0]) {
                fputs(" --ns-id ", f);
                ld_nsid_print(&s->nsid, f);
        }
        for (size_t i = 0; i < s->naddrs; i++) {
                ld_addr_format(&s->addrs[i], buf, sizeof(buf));
                fprintf(f, " --addr %s", buf);
        }
        for (size_t i = 0; i < s->nexpose; i++)
                fprintf(f, " --expose %u/%s", s->expose[i].port, ld_proto_name(s->expose[i].proto));
        for (size_t i = 0; i < s->npublish; i++)
                fprintf(f, " --publish %u:%u/%s", s->publish[i].hostport, s->publish[i].port.port,
                        ld_proto_name(s->publish[i].port.proto));
        for (size_t i = 0; i < s->ndns; i++) {
                ld_endpoint_format(&s->dns[i], buf, sizeof(buf));
                fprintf(f, " --dns %s", buf);
        }
        if (s->remote_fqdn) {
                ld_endpoint_format(&s->remote_peer, buf, sizeof(buf));
                fprintf(f, " --remote %s@%s", s->remote_fqdn, buf);
        }
        fputc('\n', f);
}

void ld_cmd_format(const struct ld_cmd *cmd, FILE *f)
{
        switch (cmd->kind) {
        case LD_CMD_ADD:
                ld_spec_format(&cmd->spec, cmd->replace, true, f);
                return;
        case LD_CMD_LINK:
                if (strcmp(cmd->alias, cmd->target) == 0)
                        fprintf(f, "link %s %s\n", cmd->name, cmd->target);
                else
                        fprintf(f, "link %s %s:%s\n", cmd->name, cmd->target, cmd->alias);
                return;
        case LD_CMD_UNLINK:
                fprintf(f, "unlink %s %s%s%s\n", cmd->name, cmd->alias, cmd->target[0] ? " " : "",
                        cmd->target);
                return;
        case LD_CMD_NET:
                ld_netspec_format(&cmd->net, cmd->replace, f);
                return;
        case LD_CMD_UNNET:
                fprintf(f, "unnet %s%s%s\n", cmd->net.name, cmd->net.owner[0] ? " --owner " : "",
                        cmd->net.owner);
                return;
        case LD_CMD_ATTACH:
                ld_attspec_format(&cmd->att, f);
                return;
        case LD_CMD_DETACH:
                fprintf(f, "detach %s %s\n", cmd->att.container, cmd->att.net);
                return;
        case LD_CMD_SHOW:
                if (cmd->net.name[0]) {
                        fprintf(f, "show --net %s%s\n", cmd->net.name, cmd->json ? " --json" : "");
                        return;
                }
                fprintf(f, "show %s%s\n", cmd->name, cmd->json ? " --json" : "");
                return;
        case LD_CMD_FLUSH:
                fprintf(f, "flush%s%s\n", cmd->domain[0] ? " " : "", cmd->domain);
                return;
        default:
                fprintf(f, "%s%s%s%s%s\n", ld_cmd_word(cmd->kind), cmd->name[0] ? " " : "",
                        cmd->name, cmd->owner[0] ? " --owner " : "", cmd->owner);
                return;
        }
}
