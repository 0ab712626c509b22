/* linkdns-oci-hook: an OCI runtime hook (podman, CRI-O) that registers a container with
 * linkdnsd at createRuntime and removes it at poststop, from its io.linkdns.* annotations. */
#include "command.h"
#include "ctlclient.h"
#include "rtjson.h"
#include "rtnet.h"
#include "runtime.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOOK_ADDRS 64 /* addresses of one container registered, at most */
#define HOOK_ERRLEN 512
#define HOOK_ITEM_MAX 32 /* an expose or publish item: "65535:65535/tcp" is 15 */

static const char hook_usage[] =
    "Usage: linkdns-oci-hook [--control PATH]\n"
    "An OCI runtime hook (hooks.d, stages createRuntime and poststop): reads the\n"
    "container's state on stdin and registers it with linkdnsd (status creating)\n"
    "or removes what it registered (status stopped), from its io.linkdns.*\n"
    "annotations: io.linkdns.name, io.linkdns.links, io.linkdns.expose,\n"
    "io.linkdns.publish.\n"
    "  --control PATH   linkdnsd's control socket (default " LD_CTLC_DEFAULT_PATH ")\n"
    "  --help, --version\n"
    "Exit status: 0 done, 1 error (one line 'linkdns-oci-hook: error: ...'), 2 bad usage.\n";

struct hook {
        const char *control;
        struct json_object *state, *config; /* config: the bundle's, NULL at poststop */
        char id[LD_RT_ID_MAX + 1];
        char owner[LD_OWNER_LEN + 1];
        char err[HOOK_ERRLEN];
};

/* The hook's one line on stderr; returns the exit status 1. */
__attribute__((format(printf, 1, 2))) static int hook_fail(const char *fmt, ...)
{
        char line[2 * HOOK_ERRLEN];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        /* one line whatever the input held */
        for (char *p = line; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        fprintf(stderr, "linkdns-oci-hook: error: %s\n", line);
        return 1;
}

/* An annotation: the state's (podman and CRI-O pass them), else the bundle's config.json's.
 * NULL when absent or not a string. */
static const char *hook_annotation(const struct hook *h, const char *key)
{
        const char *v = ld_json_str(ld_json_obj(h->state, "annotations"), key);

        return v ? v : ld_json_str(ld_json_obj(h->config, "annotations"), key);
}

/* The entries oci:ID owns now, as `ls --owner oci:ID --json` gives them. */
static int hook_owned(struct hook *h, struct json_object **out)
{
        char req[LD_OWNER_LEN + 32];
        int n = snprintf(req, sizeof req, "ls --owner %s --json\n", h->owner);
        int rc = ld_json_ask(h->control, req, (size_t)n, LD_CTLC_TIMEOUT_MS,
                             (struct ld_json_bound){LD_JSON_MAX, LD_JSON_VALUES}, out, h->err,
                             sizeof h->err);

        if (rc == 0 && !ld_json_arr(*out, "containers")) {
                snprintf(h->err, sizeof h->err, "linkdnsd's ls --json reply is no table");
                json_object_put(*out);
                *out = NULL;
                rc = -EPROTO;
        } else if (rc == 1) {
                rc = -EPERM; /* err holds the daemon's reason */
        }
        return rc;
}

/* The reason in a refusal of a batch line: without linkdnsd's "line N: " (the batch's
 * internal numbering) or the batch builder's "'add ...': " (the hook's own add line, with
 * its owner and PID), which mean nothing to the runtime's user. */
static const char *hook_reason(const char *err)
{
        const char *p = err, *q;

        if (strncmp(p, "line ", 5) == 0 && strspn(p + 5, "0123456789") > 0) {
                q = p + 5 + strspn(p + 5, "0123456789");
                if (strncmp(q, ": ", 2) == 0)
                        p = q + 2;
        }
        /* the add line holds no quote (hook_word), so the first "': " ends it */
        if (strncmp(p, "'add ", 5) == 0 && (q = strstr(p, "': ")))
                p = q + 3;
        return p;
}

/* Sends batch b (what: "register NAME", "remove"); any failure is the hook's error line. */
static int hook_send(struct hook *h, const struct ld_ctlc_batch *b, const char *what)
{
        int rc = ld_ctlc_batch_send(h->control, b, LD_CTLC_TIMEOUT_MS, h->err, sizeof h->err);

        if (rc == 1)
                return hook_fail("linkdnsd refused to %s (container %.12s): %s", what, h->id,
                                 hook_reason(h->err));
        if (rc < 0)
                return hook_fail("%s", h->err);
        return 0;
}

/* Adds to b what removes or renews the entries oci:ID left (a container started again, or
 * one whose poststop never ran): each entry goes (only this owner of it), except the one
 * being registered again as keep, which add --replace renews; its links are dropped here so
 * that the annotation's links are the ones it has afterwards. */
static int hook_clear(struct hook *h, struct json_object *owned, const char *keep,
                      struct ld_ctlc_batch *b)
{
        struct json_object *cs = ld_json_arr(owned, "containers");
        struct json_object *ls = ld_json_arr(owned, "links");
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < json_object_array_length(cs); i++) {
                const char *name = ld_json_str(json_object_array_get_idx(cs, i), "name");
                if (name && (!keep || strcasecmp(name, keep) != 0))
                        rc = ld_ctlc_batch_add(b, h->err, sizeof h->err, "rm %s --owner %s", name,
                                               h->owner);
        }
        for (size_t i = 0; keep && rc == 0 && ls && i < json_object_array_length(ls); i++) {
                struct json_object *l = json_object_array_get_idx(ls, i);
                const char *from = ld_json_str(l, "from"), *target = ld_json_str(l, "target");
                const char *alias = ld_json_str(l, "alias");
                if (from && target && alias && strcasecmp(from, keep) == 0)
                        rc = ld_ctlc_batch_add(b, h->err, sizeof h->err, "unlink %s %s %s", from,
                                               alias, target);
        }
        return rc;
}

/* An annotation item that may go into a control line as one word: letters, digits and
 * ":/._-", starting with a letter or digit (never an option, a comment or a quote). */
static bool hook_word(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                char l = (char)(s[i] | 0x20);
                bool alnum = (s[i] >= '0' && s[i] <= '9') || (l >= 'a' && l <= 'z');
                if (!alnum && (i == 0 || !strchr(":/._-", s[i])))
                        return false;
        }
        return len > 0;
}

/* Appends " OPTION ITEM" to f for each item of annotation key: 0 or the hook's exit 1.
 * At most LD_LIST_MAX items (the daemon's bound) of HOOK_ITEM_MAX bytes, so that the add
 * line stays within the daemon's line bound whatever the annotation holds. */
static int hook_list_option(const struct hook *h, const char *key, const char *option, FILE *f)
{
        const char *cur = hook_annotation(h, key), *item;
        size_t len, n = 0;

        while (cur && (item = ld_rt_item(&cur, &len))) {
                if (++n > LD_LIST_MAX)
                        return hook_fail("annotation %s: more than %d items", key, LD_LIST_MAX);
                if (len > HOOK_ITEM_MAX || !hook_word(item, len))
                        return hook_fail("annotation %s: invalid item '%.*s'", key,
                                         (int)(len > 64 ? 64 : len), item);
                fprintf(f, " %s %.*s", option, (int)len, item);
        }
        return 0;
}

/* Whether namespace fd is the hook's own (the runtime's: a container run with --network
 * host), where registering would put 127.0.0.11 and its links in the host's namespace. */
static bool hook_own_netns(int fd)
{
        struct stat a, b;

        return fstat(fd, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

/* The add line of the container (name, pid, addresses read from its namespace, exposes,
 * publishes) in *line (malloc'd): 0 or the hook's exit 1. */
static int hook_add_line(struct hook *h, const char *name, long long pid, char **line)
{
        static char addrs[HOOK_ADDRS][LD_RTNET_ADDRSTRLEN];
        size_t size = 0;
        int fd, n, rc;
        FILE *f;

        *line = NULL;
        if ((fd = ld_rtnet_open_pid((pid_t)pid)) < 0)
                return hook_fail("container %s: cannot open the network namespace of pid %lld: %s",
                                 h->id, pid, strerror(-fd));
        if (hook_own_netns(fd)) {
                close(fd);
                return hook_fail("container %s (%s) shares the runtime's network namespace "
                                 "(--network host): linkdns needs one of its own",
                                 name, h->id);
        }
        rc = ld_rtnet_lo_up(fd);
        n = rc < 0 ? rc : ld_rtnet_addrs(fd, addrs, HOOK_ADDRS);
        close(fd);
        if (rc < 0)
                return hook_fail("container %s: cannot bring lo up in its namespace: %s", h->id,
                                 strerror(-rc));
        if (n < 0)
                return hook_fail("container %s: cannot read its addresses: %s", h->id,
                                 strerror(-n));
        if (n == 0)
                return hook_fail("container %s (%s) has no global address: linkdns needs a "
                                 "network (not --network none or host)",
                                 name, h->id);
        if (!(f = open_memstream(line, &size)))
                return hook_fail("out of memory");
        fprintf(f, "add %s --replace --owner %s --pid %lld", name, h->owner, pid);
        for (int i = 0; i < n && i < HOOK_ADDRS; i++)
                fprintf(f, " --addr %s", addrs[i]);
        rc = hook_list_option(h, "io.linkdns.expose", "--expose", f);
        if (rc == 0)
                rc = hook_list_option(h, "io.linkdns.publish", "--publish", f);
        if (fclose(f) != 0 && rc == 0)
                rc = hook_fail("out of memory");
        if (rc != 0) {
                free(*line);
                *line = NULL;
        }
        return rc;
}

/* The link lines of io.linkdns.links ("TARGET[:ALIAS] ..."): 0 or the hook's exit 1. */
static int hook_links(struct hook *h, const char *name, struct ld_ctlc_batch *b)
{
        const char *key = "io.linkdns.links", *cur = hook_annotation(h, key), *item;
        size_t len;

        while (cur && (item = ld_rt_item(&cur, &len))) {
                const char *colon = memchr(item, ':', len);
                size_t tlen = colon ? (size_t)(colon - item) : len;
                if (!hook_word(item, len) || !ld_name_valid(item, tlen))
                        return hook_fail("annotation %s: invalid link '%.*s' (TARGET[:ALIAS])", key,
                                         (int)(len > 64 ? 64 : len), item);
                if (ld_ctlc_batch_add(b, h->err, sizeof h->err, "link %s %.*s", name, (int)len,
                                      item) != 0)
                        return hook_fail("annotation %s: %s", key, h->err);
        }
        return 0;
}

/* createRuntime: one batch that clears what oci:ID left, adds the container, its links. */
static int hook_register(struct hook *h)
{
        struct json_object *pidv = NULL, *owned = NULL;
        struct ld_ctlc_batch b = {0};
        char path[4096], name[LD_NAME_MAX + 1], *line = NULL;
        const char *bundle = ld_json_str(h->state, "bundle"), *want;
        long long pid;
        int rc;

        if (!json_object_object_get_ex(h->state, "pid", &pidv) ||
            !json_object_is_type(pidv, json_type_int) || (pid = json_object_get_int64(pidv)) <= 0 ||
            pid > 0x3fffffff)
                return hook_fail("state of container %s: no valid \"pid\"", h->id);
        if (!bundle || bundle[0] != '/' ||
            (size_t)snprintf(path, sizeof path, "%s/config.json", bundle) >= sizeof path)
                return hook_fail("state of container %s: no valid \"bundle\" (an absolute path)",
                                 h->id);
        if (ld_json_read_file(path, LD_JSON_MAX, &h->config, h->err, sizeof h->err) < 0)
                return hook_fail("container %s: %s", h->id, h->err);
        want = hook_annotation(h, "io.linkdns.name");
        if (want && !ld_name_valid(want, strlen(want)))
                return hook_fail("annotation io.linkdns.name: invalid name '%.64s' (1-63 letters, "
                                 "digits, '-' or '_')",
                                 want);
        ld_rt_name(want ? want : ld_json_str(h->config, "hostname"), h->id, name, NULL);
        if ((rc = hook_add_line(h, name, pid, &line)) != 0)
                return rc;
        if ((rc = hook_owned(h, &owned)) < 0) {
                rc = hook_fail("%s", h->err);
                goto out;
        }
        if (hook_clear(h, owned, name, &b) != 0 ||
            ld_ctlc_batch_add(&b, h->err, sizeof h->err, "%s", line) != 0) {
                rc = hook_fail("container %s: %s", name, hook_reason(h->err));
                goto out;
        }
        if ((rc = hook_links(h, name, &b)) == 0) {
                char what[LD_NAME_MAX + 16];
                snprintf(what, sizeof what, "register %s", name);
                rc = hook_send(h, &b, what);
        }
out:
        json_object_put(owned);
        ld_ctlc_batch_clear(&b);
        free(line);
        return rc;
}

/* poststop: remove every entry oci:ID owns (none: done). The bundle may be gone. An entry
 * taken over between the listing and the removal (a container of the same name started
 * once this one's namespace was gone) makes linkdnsd refuse the batch: listed again, once,
 * so that a poststop never fails for what is no longer its own. */
static int hook_unregister(struct hook *h)
{
        for (int tries = 0;; tries++) {
                struct json_object *owned = NULL;
                struct ld_ctlc_batch b = {0};
                int rc = hook_owned(h, &owned);

                if (rc == 0 && (rc = hook_clear(h, owned, NULL, &b)) == 0)
                        rc = ld_ctlc_batch_send(h->control, &b, LD_CTLC_TIMEOUT_MS, h->err,
                                                sizeof h->err);
                json_object_put(owned);
                ld_ctlc_batch_clear(&b);
                if (rc == 1 && tries == 0)
                        continue;
                if (rc == 1)
                        return hook_fail("linkdnsd refused to remove its entries (container "
                                         "%.12s): %s",
                                         h->id, hook_reason(h->err));
                return rc < 0 ? hook_fail("%s", h->err) : 0;
        }
}

static int hook_args(int argc, char **argv, struct hook *h)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--control") == 0 && i + 1 < argc && argv[i + 1][0]) {
                        h->control = argv[++i];
                } else if (strncmp(argv[i], "--control=", 10) == 0 && argv[i][10]) {
                        h->control = argv[i] + 10;
                } else if (strcmp(argv[i], "--help") == 0) {
                        fputs(hook_usage, stdout);
                        exit(0);
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("linkdns-oci-hook %s\n", LINKDNS_VERSION);
                        exit(0);
                } else {
                        fprintf(stderr, "linkdns-oci-hook: error: unknown argument '%.64s'\n%s",
                                argv[i], hook_usage);
                        return 2;
                }
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct hook h = {.control = LD_CTLC_DEFAULT_PATH};
        const char *id, *status;
        int rc;

        if ((rc = hook_args(argc, argv, &h)) != 0)
                return rc;
        /* the runtime writes the state and closes stdin; a bounded wait all the same */
        if (ld_json_read_fd(STDIN_FILENO, LD_JSON_MAX, LD_CTLC_TIMEOUT_MS, &h.state, h.err,
                            sizeof h.err) < 0)
                return hook_fail("the state on stdin: %s", h.err);
        id = ld_json_str(h.state, "id");
        status = ld_json_str(h.state, "status");
        if (!id || !ld_rt_id_valid(id))
                rc = hook_fail("the state on stdin has no valid container \"id\" (12 to 64 "
                               "hex digits)");
        else if (snprintf(h.id, sizeof h.id, "%s", id) < 0 ||
                 snprintf(h.owner, sizeof h.owner, "oci:%s", h.id) < 0 || !status)
                rc = hook_fail("the state of container %s has no \"status\"", h.id);
        else if (strcmp(status, "creating") == 0 || strcmp(status, "created") == 0)
                rc = hook_register(&h);
        else if (strcmp(status, "stopped") == 0)
                rc = hook_unregister(&h);
        else
                rc = hook_fail("container %s: status '%.32s' is neither creating (createRuntime) "
                               "nor stopped (poststop)",
                               h.id, status);
        json_object_put(h.config);
        json_object_put(h.state);
        return rc;
}
