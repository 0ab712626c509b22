/* cni: the chained CNI plugin `linkdns`, registering containers with linkdnsd (linkdns-cni(8)). */
#include "clock.h"
#include "command.h"
#include "ctlclient.h"
#include "rtjson.h"
#include "rtnet.h"
#include "runtime.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A plugin configuration is a few KiB (prevResult included): far more is an attack or a
 * mistake, and is refused before json-c builds anything of it. */
#define CNI_CONF_MAX (1u << 20)
/* What linkdnsd's read-only answers may take: show --net of a network of thousands. */
#define CNI_REPLY_MAX (16u << 20)
/* A batch refused because the table changed between reading it and sending (a concurrent
 * ADD or DEL of another container on the same network): read again, at most this often,
 * after a pause (cni_backoff). */
#define CNI_TRIES 5
#define CNI_NAMESERVER "127.0.0.11"
#define CNI_SHORTID_LEN LD_RT_SHORT_ID

/* Error codes (CNI SPEC.md "Error"; 100+ are this plugin's). */
enum {
        CNI_E_VERSION = 1,
        CNI_E_ENV = 4,
        CNI_E_IO = 5,
        CNI_E_DECODE = 6,
        CNI_E_CONFIG = 7,
        CNI_E_AGAIN = 11,
        CNI_E_UNAVAILABLE = 50,
        CNI_E_REFUSED = 100, /* linkdnsd refused the change: details is its reason */
        CNI_E_CHECK = 101,   /* CHECK: the registration is not what ADD made */
};

static const char *const cni_versions[] = {"0.4.0", "1.0.0", "1.1.0"};

struct cni {
        const char *command, *cid, *netns;
        char owner[LD_OWNER_LEN + 1];      /* cni:ID */
        char name[LD_NAME_MAX + 1];        /* the name a new registration gets */
        char shortid[CNI_SHORTID_LEN + 1]; /* "" when CNI_CONTAINERID has no hex ID */
        struct json_object *conf;          /* stdin */
        const char *version;               /* the config's cniVersion, once known */
        const char *net;                   /* the config's name */
        char netowner[LD_OWNER_LEN + 1];   /* cni:net:NAME */
        const char *control;               /* the socket */
        struct json_object *prev;          /* prevResult (in conf) or NULL */
        int64_t start;                     /* ld_clock_ms when linkdnsd was first asked */
        /* the failure reported on stdout */
        int code;
        char msg[96];
        char details[1024];
        char refusal[512]; /* linkdnsd's last refusal */
};

/* What linkdnsd holds of this container (ls --owner cni:ID --json). */
struct cni_reg {
        struct json_object *ls;  /* the reply (owned) */
        const char *name;        /* NULL: not registered by this owner */
        const char *netns;       /* NULL: none */
        size_t natt;             /* its attachments */
        size_t nowners;          /* its owners (cni:ID and another route's: oci:ID) */
        struct json_object *att; /* its attachment to the config's network, or NULL */
};

__attribute__((format(printf, 4, 5))) static int cni_fail(struct cni *c, int code, const char *msg,
                                                          const char *fmt, ...)
{
        va_list ap;

        if (c->code)
                return -1; /* the first failure is the one reported */
        c->code = code;
        snprintf(c->msg, sizeof(c->msg), "%s", msg);
        va_start(ap, fmt);
        vsnprintf(c->details, sizeof(c->details), fmt, ap);
        va_end(ap);
        return -1;
}

static void cni_print(struct json_object *o)
{
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void cni_print_error(const struct cni *c)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "cniVersion",
                               json_object_new_string(c->version ? c->version : "1.0.0"));
        json_object_object_add(o, "code", json_object_new_int(c->code));
        json_object_object_add(o, "msg", json_object_new_string(c->msg));
        json_object_object_add(o, "details", json_object_new_string(c->details));
        cni_print(o);
        json_object_put(o);
        fprintf(stderr, "linkdns: %s: %s\n", c->msg, c->details);
}

/* -- talking to linkdnsd, all requests of one run within LD_CTLC_TIMEOUT_MS ------------ */

static int cni_left_ms(const struct cni *c)
{
        int64_t used = ld_clock_ms() - c->start;

        return used >= LD_CTLC_TIMEOUT_MS ? 0 : (int)(LD_CTLC_TIMEOUT_MS - used);
}

/* Before try number try + 1 after a refusal: linkdnsd checks a change against its table
 * with the changes still being written, but reports (ls) the table as written, so a
 * refusal caused by another container's change in flight (its rm, say) reads the same
 * again at once. 5 ms doubling each time leaves it time to land, within the deadline. */
static void cni_backoff(const struct cni *c, int try)
{
        int ms = 5 << try, left = cni_left_ms(c) / 2;
        struct timespec ts;

        ms = ms < left ? ms : left;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)ms * 1000000;
        nanosleep(&ts, NULL);
}

/* A request's outcome: 0 accepted, 1 refused (c->refusal), -1 failed (reported). */
static int cni_outcome(struct cni *c, int rc, const char *err)
{
        if (rc == 1) {
                snprintf(c->refusal, sizeof(c->refusal), "%s", err);
                return 1;
        }
        if (rc == 0)
                return 0;
        if (rc == -ENOMEM || rc == -E2BIG || rc == -EINVAL)
                return cni_fail(c, CNI_E_IO, "linkdnsd's answer could not be read", "%s", err);
        return cni_fail(c, CNI_E_AGAIN, "linkdnsd did not answer", "%s", err);
}

/* A read-only command (one line, no newline); *out: its JSON reply when accepted. */
static int cni_ask(struct cni *c, const char *cmd, struct json_object **out)
{
        char req[LD_OWNER_LEN + LD_NETNAME_MAX + 64], err[512];
        int n = snprintf(req, sizeof(req), "%s\n", cmd), left = cni_left_ms(c);

        *out = NULL;
        if (n < 0 || (size_t)n >= sizeof(req))
                return cni_fail(c, CNI_E_CONFIG, "request too long", "%.200s", cmd);
        if (!left)
                return cni_fail(c, CNI_E_AGAIN, "linkdnsd did not answer",
                                "no answer from %s within %d ms", c->control, LD_CTLC_TIMEOUT_MS);
        return cni_outcome(c,
                           ld_json_ask(c->control, req, (size_t)n, left,
                                       LD_JSON_REPLY(CNI_REPLY_MAX), out, err, sizeof(err)),
                           err);
}

/* Sends the changes in b (no comment lines) as one change. A single line goes as a plain
 * command: as much one change, but linkdnsd applies a batch on a copy of what it touches,
 * which costs far more than the line on a big network (9 ms against 0.04 ms with 1000
 * members). The outcome as cni_outcome's. */
static int cni_send_quiet(struct cni *c, const struct ld_ctlc_batch *b, char *err, size_t errlen)
{
        int left = cni_left_ms(c);

        if (!left) {
                snprintf(err, errlen, "no answer from %s within %d ms", c->control,
                         LD_CTLC_TIMEOUT_MS);
                return -ETIMEDOUT;
        }
        if (b->lines == 1 && b->changes == 1)
                return ld_ctlc_request(c->control, b->text, b->len, left, NULL, NULL, err, errlen);
        return ld_ctlc_batch_send(c->control, b, left, err, errlen);
}

static int cni_send(struct cni *c, const struct ld_ctlc_batch *b)
{
        char err[512];

        return cni_outcome(c, cni_send_quiet(c, b, err, sizeof(err)), err);
}

/* One change line into b; a line ld_cmd_parse refuses is a bad configuration. */
__attribute__((format(printf, 3, 4))) static int cni_line(struct cni *c, struct ld_ctlc_batch *b,
                                                          const char *fmt, ...)
{
        char err[512];
        va_list ap;
        int rc;

        va_start(ap, fmt);
        rc = ld_ctlc_batch_vadd(b, err, sizeof(err), fmt, ap);
        va_end(ap);
        if (rc == -ENOMEM)
                return cni_fail(c, CNI_E_IO, "out of memory", "building the change");
        if (rc < 0)
                return cni_fail(c, CNI_E_CONFIG, "invalid registration", "%s", err);
        return 0;
}

static void cni_reg_clear(struct cni_reg *r)
{
        json_object_put(r->ls);
        memset(r, 0, sizeof(*r));
}

/* What linkdnsd holds under this container's owner tag. */
static int cni_reg_read(struct cni *c, struct cni_reg *r)
{
        char cmd[LD_OWNER_LEN + 32];
        struct json_object *cs, *as, *owners;
        int rc;

        cni_reg_clear(r);
        snprintf(cmd, sizeof(cmd), "ls --owner %s --json", c->owner);
        if ((rc = cni_ask(c, cmd, &r->ls)) != 0)
                return rc < 0 ? -1
                              : cni_fail(c, CNI_E_REFUSED, "linkdnsd refused", "%s", c->refusal);
        cs = ld_json_arr(r->ls, "containers");
        as = ld_json_arr(r->ls, "attachments");
        if (!cs || !as)
                return cni_fail(c, CNI_E_IO, "linkdnsd's answer could not be read",
                                "ls --json without containers or attachments");
        if (json_object_array_length(cs) == 0)
                return 0;
        /* one container per owner tag: this plugin never registers two */
        r->name = ld_json_str(json_object_array_get_idx(cs, 0), "name");
        r->netns = ld_json_str(json_object_array_get_idx(cs, 0), "netns");
        owners = ld_json_arr(json_object_array_get_idx(cs, 0), "owners");
        r->nowners = owners ? json_object_array_length(owners) : 0;
        for (size_t i = 0; r->name && i < json_object_array_length(as); i++) {
                struct json_object *a = json_object_array_get_idx(as, i);
                const char *who = ld_json_str(a, "container"), *net = ld_json_str(a, "net");
                if (!who || strcmp(who, r->name) != 0)
                        continue;
                r->natt++;
                if (net && strcmp(net, c->net) == 0)
                        r->att = a;
        }
        return r->name ? 0
                       : cni_fail(c, CNI_E_IO, "linkdnsd's answer could not be read",
                                  "a container without a name");
}

/* -- the parameters ---------------------------------------------------------------- */

/* CNI_CONTAINERID: a letter or digit, then letters, digits, '_', '.', '-' (SPEC.md). Wider
 * than the runtime programs' container ID (ld_rt_id_valid: hex only), because CNI leaves the
 * ID to the runtime (nerdctl writes NAMESPACE-ID, others a pod sandbox's name): the owner
 * tag takes its hex run when it has one (cni_owner_of), else the ID whole. */
static bool cni_cid_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 1024 || !isalnum((unsigned char)s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

/* The value of KEY in CNI_ARGS ("K=V;K=V") into out, or "" when absent or too long. */
static void cni_arg(const char *args, const char *key, char *out, size_t outlen)
{
        size_t klen = strlen(key);

        out[0] = '\0';
        for (const char *p = args; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
                const char *end = strchr(p, ';');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
                        if (len - klen - 1 < outlen) {
                                memcpy(out, p + klen + 1, len - klen - 1);
                                out[len - klen - 1] = '\0';
                        }
                        return;
                }
        }
}

/* The owner tag of a container ID: cni:ID, ID its container ID as the runtime programs
 * take it (ld_rt_container_id: nerdctl passes NAMESPACE-ID), else cid whole; shortid: that
 * ID's first 12 digits (when not NULL), "" without one. 0, or -1 when the tag would be too long. */
static int cni_owner_of(const char *cid, char owner[LD_OWNER_LEN + 1],
                        char shortid[CNI_SHORTID_LEN + 1])
{
        char id[LD_RT_ID_MAX + 1];
        const char *run = ld_rt_container_id(cid, id) == 0 ? id : cid;

        if (shortid)
                shortid[0] = '\0';
        if (shortid && run == id)
                snprintf(shortid, CNI_SHORTID_LEN + 1, "%.*s", CNI_SHORTID_LEN, id);
        if (strlen(run) + 4 > LD_OWNER_LEN)
                return -1;
        snprintf(owner, LD_OWNER_LEN + 1, "cni:%s", run);
        return 0;
}

/* Who the container is: its owner tag, and the name a new registration gets:
 * K8S_POD_NAME when that is a valid NAME, else the short ID (else the whole ID). Only ADD
 * needs the name (need_name): DEL and CHECK go by the owner tag, and a DEL failing for a
 * container ADD could not name would be retried by the runtime for ever. */
static int cni_identity(struct cni *c, bool need_name)
{
        char pod[LD_NAME_MAX + 2];

        if (cni_owner_of(c->cid, c->owner, c->shortid) < 0)
                return cni_fail(c, CNI_E_ENV, "invalid CNI_CONTAINERID",
                                "CNI_CONTAINERID: an ID of at most %d characters is needed",
                                LD_OWNER_LEN - 4);
        cni_arg(getenv("CNI_ARGS"), "K8S_POD_NAME", pod, sizeof(pod));
        /* the runtime programs' rule; an ID without a hex run has no short ID to fall back on */
        if (c->shortid[0] || ld_name_valid(pod, strlen(pod)))
                ld_rt_name(pod, c->shortid, c->name, NULL);
        else if (ld_name_valid(c->cid, strlen(c->cid)))
                snprintf(c->name, sizeof(c->name), "%s", c->cid);
        else if (need_name)
                return cni_fail(c, CNI_E_ENV, "invalid CNI_CONTAINERID",
                                "CNI_CONTAINERID '%.100s' has no 12-hex ID and is no valid name, "
                                "and CNI_ARGS has no valid K8S_POD_NAME",
                                c->cid);
        return 0;
}

static int cni_env(struct cni *c, bool need_netns)
{
        c->cid = getenv("CNI_CONTAINERID");
        c->netns = getenv("CNI_NETNS");
        if (!c->cid || !cni_cid_valid(c->cid))
                return cni_fail(c, CNI_E_ENV, "invalid CNI_CONTAINERID", "CNI_CONTAINERID is %s",
                                c->cid ? "not a valid ID" : "missing");
        if (!getenv("CNI_IFNAME") || !getenv("CNI_IFNAME")[0])
                return cni_fail(c, CNI_E_ENV, "invalid CNI_IFNAME", "CNI_IFNAME is missing");
        if (c->netns && !c->netns[0])
                c->netns = NULL;
        if (need_netns && !c->netns)
                return cni_fail(c, CNI_E_ENV, "invalid CNI_NETNS", "CNI_NETNS is missing");
        /* it goes on a table line: an absolute path of one word */
        if (c->netns && (c->netns[0] != '/' || strlen(c->netns) > 1024 ||
                         strpbrk(c->netns, " \t\r\n\v\f#\"'\\")))
                return cni_fail(c, CNI_E_ENV, "invalid CNI_NETNS",
                                "CNI_NETNS must be an absolute path without blanks, quotes or '#'");
        return cni_identity(c, need_netns); /* ADD and CHECK need both */
}

/* A network name (SPEC.md: a letter or digit, then letters, digits, '_', '.', '-'), short
 * enough for its owner tag cni:net:NAME. */
static bool cni_net_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n + 8 > LD_OWNER_LEN || !isalnum((unsigned char)s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

static bool cni_version_supported(const char *v)
{
        for (size_t i = 0; i < sizeof(cni_versions) / sizeof(cni_versions[0]); i++)
                if (strcmp(v, cni_versions[i]) == 0)
                        return true;
        return false;
}

static int cni_read_conf(struct cni *c, bool need_prev)
{
        char err[256];
        struct json_object *v;
        int rc = ld_json_read_fd(0, CNI_CONF_MAX, LD_CTLC_TIMEOUT_MS, &c->conf, err, sizeof(err));

        if (rc == -ETIMEDOUT || rc == -EIO)
                return cni_fail(c, CNI_E_IO, "failed to read the configuration", "stdin: %s", err);
        if (rc < 0)
                return cni_fail(c, CNI_E_DECODE, "failed to decode the configuration", "stdin: %s",
                                err);
        if (!json_object_is_type(c->conf, json_type_object))
                return cni_fail(c, CNI_E_DECODE, "failed to decode the configuration",
                                "stdin: not a JSON object");
        if (!(c->version = ld_json_str(c->conf, "cniVersion")))
                return cni_fail(c, CNI_E_CONFIG, "invalid configuration", "no cniVersion");
        if (!cni_version_supported(c->version)) {
                const char *v = c->version;
                c->version = NULL;
                return cni_fail(c, CNI_E_VERSION, "incompatible CNI version",
                                "cniVersion %.40s: linkdns supports 0.4.0, 1.0.0 and 1.1.0", v);
        }
        c->net = ld_json_str(c->conf, "name");
        if (!c->net || !cni_net_valid(c->net))
                return cni_fail(c, CNI_E_CONFIG, "invalid configuration",
                                "name: a network name of 1-%d letters, digits, '_', '.' or '-' "
                                "is needed",
                                LD_OWNER_LEN - 8);
        snprintf(c->netowner, sizeof(c->netowner), "cni:net:%s", c->net);
        c->control = LD_CTLC_DEFAULT_PATH;
        if (json_object_object_get_ex(c->conf, "control", &v)) {
                c->control = json_object_get_string(v);
                if (!json_object_is_type(v, json_type_string) || c->control[0] != '/' ||
                    strlen(c->control) > 107)
                        return cni_fail(c, CNI_E_CONFIG, "invalid configuration",
                                        "control: an absolute socket path is needed");
        }
        c->prev = ld_json_obj(c->conf, "prevResult");
        if (need_prev && !c->prev)
                return cni_fail(c, CNI_E_CONFIG, "invalid configuration",
                                "no prevResult: linkdns is a chained plugin, after an interface "
                                "plugin such as bridge");
        return 0;
}

/* -- ADD --------------------------------------------------------------------------- */

/* The container's addresses from prevResult.ips (RFC 5952 text, at most n): those on no
 * interface, or on one inside the container (a "sandbox"); the prefix length goes. The
 * count, or -1. */
typedef char cni_addr[INET6_ADDRSTRLEN];

static int cni_addrs(struct cni *c, cni_addr *out, size_t max)
{
        struct json_object *ips = ld_json_arr(c->prev, "ips");
        struct json_object *ifs = ld_json_arr(c->prev, "interfaces");
        size_t n = 0;

        for (size_t i = 0; ips && i < json_object_array_length(ips); i++) {
                struct json_object *ip = json_object_array_get_idx(ips, i), *idx;
                const char *a = ld_json_str(ip, "address");
                char text[INET6_ADDRSTRLEN + 8], *slash;
                unsigned char bin[16];
                int af;

                if (json_object_object_get_ex(ip, "interface", &idx) && ifs) {
                        int k = json_object_get_int(idx);
                        struct json_object *f =
                            k >= 0 ? json_object_array_get_idx(ifs, (size_t)k) : NULL;
                        const char *sandbox = ld_json_str(f, "sandbox");
                        if (f && (!sandbox || !sandbox[0]))
                                continue; /* on the host's side of the link */
                }
                if (!a || strlen(a) >= sizeof(text))
                        return cni_fail(c, CNI_E_CONFIG, "invalid prevResult",
                                        "ips[%zu]: no address", i);
                strcpy(text, a);
                if ((slash = strchr(text, '/')))
                        *slash = '\0';
                af = strchr(text, ':') ? AF_INET6 : AF_INET;
                if (inet_pton(af, text, bin) != 1)
                        return cni_fail(c, CNI_E_CONFIG, "invalid prevResult",
                                        "ips[%zu]: '%.60s' is no address", i, a);
                if (n == max)
                        return cni_fail(c, CNI_E_CONFIG, "invalid prevResult",
                                        "more than %zu addresses", max);
                inet_ntop(af, bin, out[n++], sizeof(out[0]));
        }
        return (int)n;
}

/* runtimeConfig.aliases: a list, or a map by network name (this network's list). Invalid
 * aliases are skipped with a line on stderr, as a runtime's name that is no valid NAME
 * (the container must still start); more than the table takes is refused. */
static int cni_aliases(struct cni *c, const char *name, FILE *line)
{
        struct json_object *rc = ld_json_obj(c->conf, "runtimeConfig"), *al = NULL;
        ld_alias seen[LD_ATTACH_ALIASES_MAX];
        char host[LD_ALIAS_MAX + 2];
        size_t n = 0;

        if (c->shortid[0] && strcasecmp(c->shortid, name) != 0) {
                snprintf(seen[n++], sizeof(seen[0]), "%s", c->shortid);
                fprintf(line, " --alias %s", c->shortid);
        }
        /* nerdctl passes no container name, but the hostname (--hostname; else the short
         * ID): an alias, so that `nerdctl run --hostname db` is found as db */
        cni_arg(getenv("CNI_ARGS"), "NERDCTL_CNI_DHCP_HOSTNAME", host, sizeof(host));
        if (ld_alias_valid(host) && strcasecmp(host, name) != 0 &&
            (!n || strcasecmp(host, seen[0]) != 0)) {
                snprintf(seen[n++], sizeof(seen[0]), "%.*s", LD_ALIAS_MAX, host);
                fprintf(line, " --alias %s", host);
        }
        if (rc && json_object_object_get_ex(rc, "aliases", &al) &&
            json_object_is_type(al, json_type_object))
                al = ld_json_arr(al, c->net);
        if (!al || !json_object_is_type(al, json_type_array))
                return 0;
        for (size_t i = 0; i < json_object_array_length(al); i++) {
                struct json_object *v = json_object_array_get_idx(al, i);
                const char *a =
                    json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
                bool dup = a && strcasecmp(a, name) == 0;
                for (size_t k = 0; a && !dup && k < n; k++)
                        dup = strcasecmp(seen[k], a) == 0;
                if (!a || !ld_alias_valid(a)) {
                        fprintf(stderr, "linkdns: alias %zu skipped: not a valid alias\n", i);
                        continue;
                }
                if (dup)
                        continue;
                if (n == LD_ATTACH_ALIASES_MAX)
                        return cni_fail(c, CNI_E_CONFIG, "invalid runtimeConfig",
                                        "aliases: more than %d", LD_ATTACH_ALIASES_MAX);
                snprintf(seen[n++], sizeof(seen[0]), "%s", a);
                fprintf(line, " --alias %s", a);
        }
        return 0;
}

static bool cni_port(struct json_object *o, const char *key, int *out)
{
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        *out = json_object_get_int(v);
        return *out >= 1 && *out <= 65535;
}

/* runtimeConfig.portMappings as --publish HOSTPORT:PORT/PROTO, once per container port (a
 * runtime lists a mapping per host address family, and `-p 8080:80 -p 8081:80` maps one
 * port twice, while the table publishes a port once: the first mapping is its SRV); SCTP
 * has no place in the table and is skipped. */
static int cni_publish(struct cni *c, FILE *line)
{
        struct json_object *pm = ld_json_arr(ld_json_obj(c->conf, "runtimeConfig"), "portMappings");
        uint64_t seen[LD_LIST_MAX];
        size_t n = 0;

        for (size_t i = 0; pm && i < json_object_array_length(pm); i++) {
                struct json_object *m = json_object_array_get_idx(pm, i);
                const char *proto = ld_json_str(m, "protocol");
                int host, port;
                bool udp, dup = false;

                if (!cni_port(m, "hostPort", &host) || !cni_port(m, "containerPort", &port))
                        return cni_fail(c, CNI_E_CONFIG, "invalid runtimeConfig",
                                        "portMappings[%zu]: hostPort and containerPort must be "
                                        "1-65535",
                                        i);
                if (proto && strcasecmp(proto, "sctp") == 0)
                        continue;
                if (proto && strcasecmp(proto, "tcp") != 0 && strcasecmp(proto, "udp") != 0)
                        return cni_fail(c, CNI_E_CONFIG, "invalid runtimeConfig",
                                        "portMappings[%zu]: protocol must be tcp or udp", i);
                udp = proto && strcasecmp(proto, "udp") == 0;
                uint64_t key = (uint64_t)udp << 16 | (uint64_t)port;
                for (size_t k = 0; k < n && !dup; k++)
                        dup = seen[k] == key;
                if (dup)
                        continue;
                if (n == LD_LIST_MAX)
                        return cni_fail(c, CNI_E_CONFIG, "invalid runtimeConfig",
                                        "portMappings: more than %d", LD_LIST_MAX);
                seen[n++] = key;
                fprintf(line, " --publish %d:%d/%s", host, port, udp ? "udp" : "tcp");
        }
        return 0;
}

/* The lines of one ADD: the registration unless this owner has it in this namespace (a
 * stale one of the same ID elsewhere is replaced), the network unless it exists, and the
 * attachment (again, if ADD is repeated). A first try adds without --replace, so that an
 * entry another route registered for this container ID (oci:ID) gains the owner and keeps
 * its registration; after a refusal naming an entry with an owner (cni_may_replace),
 * --replace takes over a name whose container's namespace is gone (a DEL missed while
 * linkdnsd was down), which linkdnsd allows only then: a live container's name is still
 * refused. */
static int cni_add_lines(struct cni *c, struct ld_ctlc_batch *b, const struct cni_reg *reg,
                         bool have_net, bool replace)
{
        const char *name = reg->name ? reg->name : c->name;
        cni_addr addrs[LD_ATTACH_ADDRS_MAX];
        char *text = NULL;
        size_t len = 0;
        FILE *line = NULL;
        int rc = 0, n;

        if ((n = cni_addrs(c, addrs, LD_ATTACH_ADDRS_MAX)) < 0)
                return -1;
        if (!reg->name || (reg->netns && strcmp(reg->netns, c->netns) != 0)) {
                if (!(line = open_memstream(&text, &len)))
                        return cni_fail(c, CNI_E_IO, "out of memory", "building the change");
                fprintf(line, "add %s%s --owner %s --netns %s", name,
                        reg->name || replace ? " --replace" : "", c->owner, c->netns);
                rc = cni_publish(c, line);
                fclose(line);
                if (rc == 0)
                        rc = cni_line(c, b, "%s", text);
                free(text);
                text = NULL;
        }
        if (rc == 0 && !have_net)
                rc = cni_line(c, b, "net %s --owner %s", c->net, c->netowner);
        if (rc == 0 && reg->att)
                rc = cni_line(c, b, "detach %s %s", name, c->net);
        if (rc < 0)
                return -1;
        if (!(line = open_memstream(&text, &len)))
                return cni_fail(c, CNI_E_IO, "out of memory", "building the change");
        fprintf(line, "attach %s %s", name, c->net);
        for (int i = 0; i < n; i++)
                fprintf(line, " --addr %s", addrs[i]);
        rc = cni_aliases(c, name, line);
        fclose(line);
        if (rc == 0)
                rc = cni_line(c, b, "%s", text);
        free(text);
        return rc;
}

/* Whether a try after a refusal may send --replace: only when the refusal named this
 * container's name and the entry holding it has an owner (linkdnsd then lets --replace take
 * it only once that entry's namespace is gone). An entry without an owner is the
 * administrator's, never this plugin's (DESIGN: a runtime program changes only its own
 * tag's entries), and linkdnsd lets any --replace take it, live or static. 0 or -1. */
static int cni_may_replace(struct cni *c, bool *yes)
{
        char quoted[LD_NAME_MAX + 3];
        struct json_object *ls = NULL, *cs, *owners;
        int rc;

        *yes = false;
        snprintf(quoted, sizeof(quoted), "'%s'", c->name);
        if (!strstr(c->refusal, quoted))
                return 0;
        if ((rc = cni_ask(c, "ls --json", &ls)) != 0)
                return rc < 0 ? -1 : 0;
        cs = ld_json_arr(ls, "containers");
        for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
                struct json_object *o = json_object_array_get_idx(cs, i);
                const char *n = ld_json_str(o, "name");
                if (n && strcasecmp(n, c->name) == 0) {
                        owners = ld_json_arr(o, "owners");
                        *yes = owners && json_object_array_length(owners) > 0;
                        break;
                }
        }
        json_object_put(ls);
        return 0;
}

/* One try: read the registration, then send. The first try always sends this plugin's
 * `net` line (a no-op when the network is there as this plugin makes it): no read of the
 * network, whose answer grows with its members. After a refusal, show --net says whether
 * the network exists (made by someone else, or with options: then no `net` line, and
 * *net keeps it for its domain). 0, 1 refused, -1. */
static int cni_add_once(struct cni *c, struct cni_reg *reg, struct json_object **net, int try)
{
        struct ld_ctlc_batch b = {0};
        char cmd[LD_NETNAME_MAX + 32];
        bool replace = false;
        int rc;

        if (cni_reg_read(c, reg) < 0)
                return -1;
        json_object_put(*net);
        *net = NULL;
        /* before show --net, whose refusal would take the place of the last try's */
        if (try > 0 && !reg->name && cni_may_replace(c, &replace) < 0)
                return -1;
        snprintf(cmd, sizeof(cmd), "show --net %s --json", c->net);
        if (try > 0 && cni_ask(c, cmd, net) < 0)
                return -1; /* refused: no such network (yet) */
        rc = cni_add_lines(c, &b, reg, *net != NULL, replace);
        if (rc == 0)
                rc = cni_send(c, &b);
        ld_ctlc_batch_clear(&b);
        return rc;
}

/* The search domain: the network's own --domain, else the daemon's (stats). */
static int cni_domain(struct cni *c, struct json_object *net, char *out, size_t len)
{
        const char *d = ld_json_str(ld_json_obj(net, "net"), "domain");
        struct json_object *st = NULL;
        int rc;

        if (!d) {
                if ((rc = cni_ask(c, "stats --json", &st)) != 0)
                        return rc < 0 ? -1
                                      : cni_fail(c, CNI_E_REFUSED, "linkdnsd refused", "%s",
                                                 c->refusal);
                if (!(d = ld_json_str(st, "domain"))) {
                        json_object_put(st);
                        return cni_fail(c, CNI_E_IO, "linkdnsd's answer could not be read",
                                        "stats --json names no domain (linkdnsd older than "
                                        "this plugin?)");
                }
        }
        snprintf(out, len, "%s", d);
        json_object_put(st);
        return 0;
}

/* prevResult with dns: linkdnsd as the only nameserver (it forwards what is not its own),
 * the domain first among the search domains; domain and options kept. */
static void cni_print_result(struct cni *c, const char *domain)
{
        struct json_object *old = ld_json_obj(c->prev, "dns");
        struct json_object *dns = json_object_new_object();
        struct json_object *ns = json_object_new_array(), *search = json_object_new_array();
        struct json_object *was = ld_json_arr(old, "search"), *v;

        json_object_array_add(ns, json_object_new_string(CNI_NAMESERVER));
        json_object_array_add(search, json_object_new_string(domain));
        for (size_t i = 0; was && i < json_object_array_length(was); i++) {
                v = json_object_array_get_idx(was, i);
                if (json_object_is_type(v, json_type_string) &&
                    strcasecmp(json_object_get_string(v), domain) != 0)
                        json_object_array_add(search, json_object_get(v));
        }
        json_object_object_add(dns, "nameservers", ns);
        if (old && json_object_object_get_ex(old, "domain", &v))
                json_object_object_add(dns, "domain", json_object_get(v));
        json_object_object_add(dns, "search", search);
        if (old && json_object_object_get_ex(old, "options", &v))
                json_object_object_add(dns, "options", json_object_get(v));
        json_object_object_add(c->prev, "dns", dns);
        json_object_object_add(c->prev, "cniVersion", json_object_new_string(c->version));
        cni_print(c->prev);
}

static int cni_add(struct cni *c)
{
        struct cni_reg reg = {0};
        struct json_object *net = NULL;
        char domain[4 * 256];
        int rc, fd;

        /* lo first (the bridge plugin leaves it down, and 127.0.0.11 lives there): a
         * namespace that cannot be used fails before anything is registered */
        if ((fd = ld_rtnet_open_path(c->netns)) < 0)
                return cni_fail(c, CNI_E_ENV, "invalid CNI_NETNS", "%s: %s", c->netns,
                                strerror(-fd));
        rc = ld_rtnet_lo_up(fd);
        close(fd);
        if (rc < 0)
                return cni_fail(c, CNI_E_IO, "could not bring lo up", "in %s: %s", c->netns,
                                strerror(-rc));
        for (int i = 0; (rc = cni_add_once(c, &reg, &net, i)) == 1 && i + 1 < CNI_TRIES; i++)
                cni_backoff(c, i);
        if (rc == 1)
                rc = cni_fail(c, CNI_E_REFUSED, "linkdnsd refused the registration", "%s",
                              c->refusal);
        if (rc == 0 && (rc = cni_domain(c, net, domain, sizeof(domain))) == 0)
                cni_print_result(c, domain);
        cni_reg_clear(&reg);
        json_object_put(net);
        return rc;
}

/* -- DEL, CHECK --------------------------------------------------------------------- */

/* Off this network; the registration goes with its last attachment (rm --owner: if
 * another route registered it too, only this owner goes, so the attachment is detached
 * first; else rm takes the attachment with it, one line). *detached: only a detach was
 * sent, the caller reads again (a DEL of another network of this container, at the same
 * time, read two attachments too and detached only: the later of the two must see none). */
static int cni_del_once(struct cni *c, struct cni_reg *reg, bool *detached)
{
        struct ld_ctlc_batch b = {0};
        bool last;
        int rc = 0;

        *detached = false;
        if (cni_reg_read(c, reg) < 0)
                return -1;
        if (!reg->name)
                return 0; /* unknown, or deleted already: done (SPEC.md) */
        last = reg->natt == (reg->att ? 1u : 0u);
        if (reg->att && (!last || reg->nowners > 1))
                rc = cni_line(c, &b, "detach %s %s", reg->name, c->net);
        if (rc == 0 && last)
                rc = cni_line(c, &b, "rm %s --owner %s", reg->name, c->owner);
        if (rc == 0)
                rc = cni_send(c, &b);
        *detached = rc == 0 && !last && reg->att;
        ld_ctlc_batch_clear(&b);
        return rc;
}

/* The network goes with its last attachment if this plugin made it. linkdnsd refuses
 * unnet while anyone is attached, atomically: no read first, and the refusal is the
 * ordinary outcome (so is "no such network"), never an error of DEL. */
static void cni_unnet(struct cni *c)
{
        struct ld_ctlc_batch b = {0};
        char err[512];

        if (ld_ctlc_batch_add(&b, err, sizeof(err), "unnet %s --owner %s", c->net, c->netowner) ==
            0)
                cni_send_quiet(c, &b, err, sizeof(err));
        ld_ctlc_batch_clear(&b);
}

static int cni_del(struct cni *c)
{
        struct cni_reg reg = {0};
        bool again = false;
        int rc;

        /* a refusal (a concurrent change) reads again, and so does a detach; one more try
         * for that read */
        for (int i = 0; ((rc = cni_del_once(c, &reg, &again)) == 1 || again) && i < CNI_TRIES; i++)
                if (rc == 1)
                        cni_backoff(c, i);
        if (rc == 1)
                rc = cni_fail(c, CNI_E_REFUSED, "linkdnsd refused the removal", "%s", c->refusal);
        if (rc == 0)
                cni_unnet(c);
        cni_reg_clear(&reg);
        return rc;
}

static bool cni_same_addr(const char *a, const char *b)
{
        unsigned char x[16] = {0}, y[16] = {0};
        int af = strchr(a, ':') ? AF_INET6 : AF_INET;

        return (strchr(b, ':') ? AF_INET6 : AF_INET) == af && inet_pton(af, a, x) == 1 &&
               inet_pton(af, b, y) == 1 && memcmp(x, y, sizeof(x)) == 0;
}

/* CHECK: registered by this owner, in CNI_NETNS, attached to this network with every
 * address of prevResult. */
static int cni_check(struct cni *c)
{
        struct cni_reg reg = {0};
        cni_addr addrs[LD_ATTACH_ADDRS_MAX];
        int rc = -1, n;

        if ((n = cni_addrs(c, addrs, LD_ATTACH_ADDRS_MAX)) < 0 || cni_reg_read(c, &reg) < 0)
                goto out;
        if (!reg.name) {
                cni_fail(c, CNI_E_CHECK, "not registered", "linkdnsd has no container owned %s",
                         c->owner);
                goto out;
        }
        if (reg.netns && strcmp(reg.netns, c->netns) != 0) {
                cni_fail(c, CNI_E_CHECK, "registered elsewhere",
                         "'%s' is registered in %s, not in CNI_NETNS %s", reg.name, reg.netns,
                         c->netns);
                goto out;
        }
        if (!reg.att) {
                cni_fail(c, CNI_E_CHECK, "not attached", "'%s' is not attached to network %s",
                         reg.name, c->net);
                goto out;
        }
        struct json_object *have = ld_json_arr(reg.att, "addrs");
        for (int i = 0; i < n; i++) {
                bool found = false;
                for (size_t k = 0; have && !found && k < json_object_array_length(have); k++)
                        found = cni_same_addr(
                            addrs[i], json_object_get_string(json_object_array_get_idx(have, k)));
                if (!found) {
                        cni_fail(c, CNI_E_CHECK, "address missing", "'%s' on network %s lacks %s",
                                 reg.name, c->net, addrs[i]);
                        goto out;
                }
        }
        rc = 0;
out:
        cni_reg_clear(&reg);
        return rc;
}

/* -- STATUS, GC (1.1.0), VERSION -------------------------------------------------------- */

static int cni_status(struct cni *c)
{
        char err[512];
        int rc = ld_ctlc_request(c->control, "stats\n", 6, LD_CTLC_TIMEOUT_MS, NULL, NULL, err,
                                 sizeof(err));

        if (rc != 0)
                return cni_fail(c, CNI_E_UNAVAILABLE, "linkdnsd is not available", "%s", err);
        return 0;
}

/* cni.dev/valid-attachments into *valid: an array of objects with a containerID each, or
 * null (libcni's nil list: no attachment is valid; *valid NULL). Absent or anything else is
 * an error, never "nothing is valid" (which removes the whole network). 0 or -1. */
static int cni_gc_valid_list(struct cni *c, struct json_object **valid)
{
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(c->conf, "cni.dev/valid-attachments", &v) ||
            (v && !json_object_is_type(v, json_type_array)))
                return cni_fail(c, CNI_E_CONFIG, "invalid configuration",
                                "GC needs cni.dev/valid-attachments, a list");
        for (size_t i = 0; v && i < json_object_array_length(v); i++)
                if (!ld_json_str(json_object_array_get_idx(v, i), "containerID"))
                        return cni_fail(c, CNI_E_CONFIG, "invalid configuration",
                                        "cni.dev/valid-attachments[%zu]: no containerID", i);
        *valid = v;
        return 0;
}

/* Sends the removals gathered in b (GC's may exceed one batch: it goes in several). */
static int cni_gc_flush(struct cni *c, struct ld_ctlc_batch *b)
{
        int rc = cni_send(c, b);

        ld_ctlc_batch_clear(b);
        return rc == 1
                   ? cni_fail(c, CNI_E_REFUSED, "linkdnsd refused the removal", "%s", c->refusal)
                   : rc;
}

/* GC's view of the ls reply and of the valid list, sorted for bsearch: a scan of the reply
 * for each attachment made GC quadratic, seconds past the deadline with a few thousand
 * registrations. */
struct cni_gc_ctr {
        const char *name, *tag; /* a container and its cni:ID owner tag */
        size_t natt;            /* its attachments, on any network */
};
struct cni_gc {
        char (*valid)[LD_OWNER_LEN + 1]; /* the cni:ID tags of the valid attachments */
        size_t nvalid;
        struct cni_gc_ctr *ctrs; /* the containers with a cni:ID tag, by name */
        size_t nctrs;
};

static int cni_gc_ctr_cmp(const void *a, const void *b)
{
        return strcmp(((const struct cni_gc_ctr *)a)->name, ((const struct cni_gc_ctr *)b)->name);
}

static int cni_gc_tag_cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

static struct cni_gc_ctr *cni_gc_ctr(const struct cni_gc *g, const char *name)
{
        struct cni_gc_ctr key = {.name = name};

        return name && g->nctrs ? bsearch(&key, g->ctrs, g->nctrs, sizeof(key), cni_gc_ctr_cmp)
                                : NULL;
}

static bool cni_gc_valid(const struct cni_gc *g, const char *tag)
{
        return g->nvalid &&
               bsearch(tag, g->valid, g->nvalid, sizeof(*g->valid), cni_gc_tag_cmp) != NULL;
}

/* The cni:ID owner tag of a container of ls --json (not cni:net:), or NULL. */
static const char *cni_gc_tag(struct json_object *ctr)
{
        struct json_object *owners = ld_json_arr(ctr, "owners");

        for (size_t k = 0; owners && k < json_object_array_length(owners); k++) {
                struct json_object *t = json_object_array_get_idx(owners, k);
                const char *s =
                    json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
                if (s && strncmp(s, "cni:", 4) == 0 && strncmp(s, "cni:net:", 8) != 0)
                        return s;
        }
        return NULL;
}

/* GC's work is bounded by the command's deadline, as its requests are: checked every 256
 * entries. 0, or -1 once it has passed (reported). */
static int cni_gc_late(struct cni *c, size_t i)
{
        if ((i & 255) != 255 || cni_left_ms(c) > 0)
                return 0;
        return cni_fail(c, CNI_E_AGAIN, "GC did not finish", "not within %d ms",
                        LD_CTLC_TIMEOUT_MS);
}

static void cni_gc_clear(struct cni_gc *g)
{
        free(g->valid);
        free(g->ctrs);
        memset(g, 0, sizeof(*g));
}

/* The valid tags and ls's containers, sorted, and each container's attachments counted. */
static int cni_gc_index(struct cni *c, struct json_object *valid, struct json_object *ls,
                        struct cni_gc *g)
{
        struct json_object *cs = ld_json_arr(ls, "containers"),
                           *as = ld_json_arr(ls, "attachments");
        size_t nv = valid ? json_object_array_length(valid) : 0;
        size_t nc = cs ? json_object_array_length(cs) : 0,
               na = as ? json_object_array_length(as) : 0;

        g->valid = calloc(nv ? nv : 1, sizeof(*g->valid));
        g->ctrs = calloc(nc ? nc : 1, sizeof(*g->ctrs));
        if (!g->valid || !g->ctrs)
                return cni_fail(c, CNI_E_IO, "out of memory", "GC of %zu containers", nc);
        for (size_t i = 0; i < nv; i++) {
                const char *cid = ld_json_str(json_object_array_get_idx(valid, i), "containerID");
                if (cid && cni_owner_of(cid, g->valid[g->nvalid], NULL) == 0)
                        g->nvalid++;
                if (cni_gc_late(c, i) < 0)
                        return -1;
        }
        for (size_t i = 0; i < nc; i++) {
                struct json_object *o = json_object_array_get_idx(cs, i);
                struct cni_gc_ctr *e = &g->ctrs[g->nctrs];
                if ((e->name = ld_json_str(o, "name")) && (e->tag = cni_gc_tag(o)))
                        g->nctrs++;
        }
        if (g->nvalid)
                qsort(g->valid, g->nvalid, sizeof(*g->valid), cni_gc_tag_cmp);
        if (g->nctrs)
                qsort(g->ctrs, g->nctrs, sizeof(*g->ctrs), cni_gc_ctr_cmp);
        for (size_t i = 0; i < na; i++) {
                struct cni_gc_ctr *e =
                    cni_gc_ctr(g, ld_json_str(json_object_array_get_idx(as, i), "container"));
                if (e)
                        e->natt++;
                if (cni_gc_late(c, i) < 0)
                        return -1;
        }
        return 0;
}

/* GC: every attachment of this network whose cni:ID is not a valid attachment goes (and
 * its container with its last attachment), then the network if it is empty and ours. */
static int cni_gc(struct cni *c)
{
        struct json_object *valid = NULL, *ls = NULL, *as;
        struct ld_ctlc_batch b = {0};
        struct cni_gc g = {0};
        int rc;

        if (cni_gc_valid_list(c, &valid) < 0)
                return -1;
        if ((rc = cni_ask(c, "ls --owner cni:* --json", &ls)) != 0)
                return rc < 0 ? -1
                              : cni_fail(c, CNI_E_REFUSED, "linkdnsd refused", "%s", c->refusal);
        rc = cni_gc_index(c, valid, ls, &g);
        as = ld_json_arr(ls, "attachments");
        for (size_t i = 0; rc == 0 && as && i < json_object_array_length(as); i++) {
                struct json_object *a = json_object_array_get_idx(as, i);
                const char *net = ld_json_str(a, "net");
                struct cni_gc_ctr *e = cni_gc_ctr(&g, ld_json_str(a, "container"));
                if ((rc = cni_gc_late(c, i)) < 0 || !net || strcmp(net, c->net) != 0 || !e ||
                    cni_gc_valid(&g, e->tag))
                        continue;
                /* two lines of at most ~200 bytes each must fit */
                if (b.lines + 2 > LD_BATCH_LINES || b.len + 512 > LD_BATCH_BYTES)
                        rc = cni_gc_flush(c, &b);
                if (rc == 0)
                        rc = cni_line(c, &b, "detach %s %s", e->name, c->net);
                if (rc == 0 && e->natt == 1)
                        rc = cni_line(c, &b, "rm %s --owner %s", e->name, e->tag);
        }
        if (rc == 0)
                rc = cni_gc_flush(c, &b);
        if (rc == 0)
                cni_unnet(c);
        ld_ctlc_batch_clear(&b);
        cni_gc_clear(&g);
        json_object_put(ls);
        return rc;
}

/* VERSION answers whatever stdin holds: the version asked (1.0.0 if none) and ours. */
static int cni_version(struct cni *c)
{
        struct json_object *o = json_object_new_object(), *list = json_object_new_array();
        char err[256];
        const char *v = NULL;

        if (ld_json_read_fd(0, CNI_CONF_MAX, LD_CTLC_TIMEOUT_MS, &c->conf, err, sizeof(err)) == 0)
                v = ld_json_str(c->conf, "cniVersion");
        for (size_t i = 0; i < sizeof(cni_versions) / sizeof(cni_versions[0]); i++)
                json_object_array_add(list, json_object_new_string(cni_versions[i]));
        json_object_object_add(o, "cniVersion", json_object_new_string(v ? v : "1.0.0"));
        json_object_object_add(o, "supportedVersions", list);
        cni_print(o);
        json_object_put(o);
        return 0;
}

static int cni_run(struct cni *c, const char *cmd)
{
        static const struct {
                const char *name;
                int (*run)(struct cni *c);
                bool env, netns, prev;
        } ops[] = {
            {"ADD", cni_add, true, true, true},     {"DEL", cni_del, true, false, false},
            {"CHECK", cni_check, true, true, true}, {"STATUS", cni_status, false, false, false},
            {"GC", cni_gc, false, false, false},
        };

        if (!cmd)
                return cni_fail(c, CNI_E_ENV, "invalid CNI_COMMAND", "CNI_COMMAND is missing");
        if (strcmp(cmd, "VERSION") == 0)
                return cni_version(c);
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
                if (strcmp(cmd, ops[i].name) != 0)
                        continue;
                if ((ops[i].env && cni_env(c, ops[i].netns) < 0) ||
                    cni_read_conf(c, ops[i].prev) < 0)
                        return -1;
                c->start = ld_clock_ms(); /* linkdnsd's time starts now */
                return ops[i].run(c);
        }
        return cni_fail(c, CNI_E_ENV, "invalid CNI_COMMAND",
                        "CNI_COMMAND '%.20s': ADD, DEL, CHECK, STATUS, GC or VERSION", cmd);
}

int main(int argc, char **argv)
{
        struct cni c = {0};
        int rc;

        if (argc > 1) {
                fputs(strcmp(argv[1], "--version") == 0
                          ? "linkdns CNI plugin " LINKDNS_VERSION ", CNI spec 0.4.0, 1.0.0, 1.1.0\n"
                          : "Usage: a CNI plugin, run by a container runtime (CNI_COMMAND and "
                            "a JSON\nconfiguration on stdin). See linkdns-cni(8).\n",
                      stdout);
                return strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "--help") == 0 ? 0 : 2;
        }
        signal(SIGPIPE, SIG_IGN);
        rc = cni_run(&c, getenv("CNI_COMMAND"));
        if (rc < 0 || c.code)
                cni_print_error(&c);
        json_object_put(c.conf);
        return rc < 0 || c.code ? 1 : 0;
}
