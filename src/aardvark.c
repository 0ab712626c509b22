/* aardvark: main of `aardvark-dns` for netavark — podman's networks served by the system
 * linkdnsd, kept in step with netavark's network files through the control socket. */
#include "aardfile.h"
#include "aardsync.h"
#include "clock.h"
#include "ctlclient.h"
#include "durable.h"
#include "rtjson.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PROG "aardvark-dns"
/* Attempts of one re-sync: each refused line holds its unit (a network, a container) as it
 * is and the next attempt goes without it; a bound, as a daemon could refuse forever. */
#define SYNC_ATTEMPTS 16
#define LS_MAX (64u << 20) /* the ls reply of a very large table */
/* How long the parent waits for the network listeners to answer: netavark waits for it,
 * and a container's start with it. */
#define PROBE_MS 5000
#define LOCK_MS 2000 /* netavark's commit lock: it is held for a few writes */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000

struct aard {
        const char *dir;
        int dirfd;
        uint16_t port;
        const char *control;
        char domain[LD_DOMAIN_MAX + 1]; /* the networks' --domain */
        bool daemon;                    /* stderr is gone: syslog only */
        char pidpath[PATH_MAX];
};

static struct aard *g_aard; /* for the report callback's stderr/syslog choice */

static void say(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(int prio, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        syslog(prio, "%s", msg);
        if (!g_aard || !g_aard->daemon)
                fprintf(stderr, PROG ": %s%s\n", prio <= LOG_ERR ? "error: " : "", msg);
}

static void report(void *ctx, const char *msg)
{
        (void)ctx;
        say(LOG_WARNING, "%s", msg);
}

static void usage(FILE *f)
{
        fputs("usage: " PROG " [--config DIR] [--port PORT] [--control PATH] run | version\n"
              "  -c, --config DIR    netavark's network files (one per network)\n"
              "  -p, --port PORT     the listeners' port on each gateway (default 5533)\n"
              "  -f, --filter-search-domain DOMAIN   the networks' domain (default " LD_AARD_DOMAIN
              ")\n"
              "      --control PATH  linkdnsd's control socket (LINKDNS_CONTROL, "
              "default " LD_CTLC_DEFAULT_PATH ")\n",
              f);
}

/* ---- the directory ------------------------------------------------------------------ */

/* Shares netavark's commit lock (DIR/../aardvark.lock) while the files are read, so that
 * no half-written file is read; a lock held too long is not waited for. */
static int lock_commit(const struct aard *a)
{
        char path[PATH_MAX];
        struct timespec ts = {0, 10 * 1000 * 1000};
        int fd;

        snprintf(path, sizeof(path), "%s/../aardvark.lock", a->dir);
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -1;
        for (int i = 0; i < LOCK_MS / 10; i++) {
                if (flock(fd, LOCK_SH | LOCK_NB) == 0)
                        return fd;
                nanosleep(&ts, NULL);
        }
        close(fd);
        return -1;
}

static int read_dir(struct aard *a, struct ld_aard_dir *d)
{
        int lock = lock_commit(a);
        int rc = ld_aard_dir_read(a->dirfd, a->dir, d, report, NULL);

        if (lock >= 0)
                close(lock);
        if (rc < 0)
                say(LOG_ERR, "%s: %s", a->dir, strerror(-rc));
        return rc;
}

/* ---- the re-sync -------------------------------------------------------------------- */

/* The JSON reply of an ls request (req: its line); a refusal is -EPROTO. */
static int ls_json(struct aard *a, const char *req, struct json_object **out, char *err,
                   size_t errlen)
{
        int rc = ld_json_ask(a->control, req, strlen(req), LD_CTLC_TIMEOUT_MS,
                             LD_JSON_REPLY(LS_MAX), out, err, errlen);

        return rc == 1 ? -EPROTO : rc;
}

/* The line number a refusal names ("line N: ..."), 0 if none. */
static size_t refused_line(const char *err)
{
        const char *p = strstr(err, "line ");
        unsigned long n;

        if (!p || sscanf(p, "line %lu:", &n) != 1)
                return 0;
        return n;
}

static void hold(struct ld_aard_units *held, const struct ld_aard_line *l, const char *why)
{
        enum ld_aard_hold h = LD_AARD_KEEP;

        /* a name taken by another owner: the container answers by its short ID instead */
        if (l->kind == LD_AARD_CTR && strncmp(l->text, "add ", 4) == 0 &&
            strstr(why, "already exists") &&
            ld_aard_units_get(held, LD_AARD_CTR, l->key) < LD_AARD_SHORT)
                h = LD_AARD_SHORT;
        say(LOG_WARNING, "%s %s %s: %s", l->kind == LD_AARD_NET ? "network" : "container", l->key,
            h == LD_AARD_SHORT ? "registered under its short ID" : "left as it is", why);
        if (ld_aard_units_hold(held, l->kind, l->key, h) < 0)
                say(LOG_ERR, "out of memory");
}

/* Sends the plan in batches within LD_BATCH_LINES/BYTES: 0 when all applied, 1 when a line
 * was refused (its unit now held), or a negative errno (err set). */
static int send_plan(struct aard *a, const struct ld_aard_plan *p, struct ld_aard_units *held,
                     char *err, size_t errlen)
{
        struct ld_ctlc_batch b = {0};
        size_t first = 0; /* the plan's index of the batch's first line */
        int rc = 0;

        for (size_t i = 0; rc == 0 && i <= p->n; i++) {
                char why[512];
                if (i < p->n &&
                    (rc = ld_ctlc_batch_add(&b, why, sizeof(why), "%s", p->lines[i].text)) == 0)
                        continue;
                if (rc == -EINVAL) { /* a line of ours linkdns would not take */
                        hold(held, &p->lines[i], why);
                        rc = 1;
                        break;
                }
                if (rc == -E2BIG && b.lines == 0) { /* a line no batch holds */
                        hold(held, &p->lines[i], "longer than a batch may be");
                        rc = 1;
                        break;
                }
                if (rc != 0 && rc != -E2BIG)
                        break;
                rc = ld_ctlc_batch_send(a->control, &b, LD_CTLC_TIMEOUT_MS, err, errlen);
                if (rc == 1) {
                        size_t n = refused_line(err);
                        if (n < 1 || first + n - 1 >= p->n) {
                                rc = -EPROTO;
                                break;
                        }
                        hold(held, &p->lines[first + n - 1], err);
                        break;
                }
                ld_ctlc_batch_clear(&b);
                first = i;
                if (rc == 0 && i < p->n)
                        i--; /* the line that did not fit starts the next batch */
        }
        ld_ctlc_batch_clear(&b);
        return rc;
}

/* One re-sync of linkdnsd's aardvark:* entries with the files read: 0, or a negative errno
 * when linkdnsd could not be asked (logged). The listeners declared go to plan. */
static int resync(struct aard *a, const struct ld_aard_dir *d, struct ld_aard_plan *plan)
{
        struct ld_aard_units held = {0};
        struct json_object *all = NULL;
        char err[1024];
        int rc = 1;

        for (int attempt = 0; rc == 1 && attempt < SYNC_ATTEMPTS; attempt++) {
                struct json_object *cur = NULL;
                ld_aard_plan_clear(plan);
                if ((rc = ls_json(a, "ls --owner " LD_AARD_OWNER "* --json\n", &cur, err,
                                  sizeof(err))) == 0)
                        rc = ld_aard_plan_build(d, cur, all, a->port, a->domain, &held, plan,
                                                report, NULL, err, sizeof(err));
                json_object_put(cur);
                if (rc == 0)
                        rc = send_plan(a, plan, &held, err, sizeof(err));
                /* refused: other owners' names are learnt once (a whole ls), so that each
                 * container whose name a user chose to collide does not cost an attempt */
                if (rc == 1 && !all && ls_json(a, "ls --json\n", &all, err, sizeof(err)) < 0)
                        all = NULL;
        }
        json_object_put(all);
        if (rc == 1) {
                snprintf(err, sizeof(err), "linkdnsd refused %d attempts to re-sync",
                         SYNC_ATTEMPTS);
                rc = -EPROTO;
        }
        if (rc < 0)
                say(LOG_ERR, "%s", err);
        ld_aard_units_clear(&held);
        return rc;
}

/* ---- the listeners' first answer ---------------------------------------------------- */

/* Whether the listener at e answers a query (any reply) within ms. */
static bool probe_one(const struct ld_endpoint *e, int ms)
{
        /* "dns.podman. SOA": the listener answers it from its own table, to any host source */
        static const uint8_t q[] = {0,   0,   0, 0,   0,   1,   0,   0,   0,   0, 0, 0, 3, 'd',
                                    'n', 's', 6, 'p', 'o', 'd', 'm', 'a', 'n', 0, 0, 6, 0, 1};
        uint8_t m[sizeof(q)], r[512];
        struct sockaddr_storage ss;
        socklen_t sl = ld_endpoint_sockaddr(e, &ss);
        int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        bool ok = false;

        memcpy(m, q, sizeof(q));
        if (getrandom(m, 2, 0) != 2)
                m[0] = (uint8_t)getpid();
        if (fd < 0)
                return false;
        if (connect(fd, (struct sockaddr *)&ss, sl) == 0 && send(fd, m, sizeof(m), 0) > 0 &&
            poll(&pfd, 1, ms) == 1) {
                ssize_t n = recv(fd, r, sizeof(r), 0);
                ok = n >= 12 && r[0] == m[0] && r[1] == m[1];
        }
        close(fd);
        return ok;
}

static int probe(const struct ld_aard_plan *p)
{
        int64_t t0 = ld_clock_ms();

        for (size_t i = 0; i < p->nlisten; i++) {
                char buf[LD_ENDPOINT_STRLEN];
                while (!probe_one(&p->listen[i], 100)) {
                        if (ld_clock_ms() - t0 > PROBE_MS) {
                                ld_endpoint_format(&p->listen[i], buf, sizeof(buf));
                                say(LOG_ERR, "network listener %s does not answer", buf);
                                return -ETIMEDOUT;
                        }
                        /* a refused port fails at once: not a busy loop for PROBE_MS */
                        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000}, NULL);
                }
        }
        return 0;
}

/* ---- the server's life -------------------------------------------------------------- */

/* The pid file is written as DIR/.aardvark.pid (its temporary .aardvark.pid.tmp) and renamed:
 * a dot name is no network's (podman's start with a letter or digit, and the reader skips
 * them), where "aardvark.pid.tmp" is a valid podman network whose file would be removed. */
static int write_pid(struct aard *a)
{
        char buf[32], tmp[PATH_MAX];
        int n = snprintf(buf, sizeof(buf), "%d", (int)getpid()); /* no newline: netavark 1.4 */
        int rc = 0;

        if ((size_t)snprintf(tmp, sizeof(tmp), "%s/." LD_AARD_PID_FILE, a->dir) >= sizeof(tmp))
                rc = -ENAMETOOLONG;
        if (rc == 0)
                rc = ld_durable_replace(tmp, buf, (size_t)n);
        if (rc == 0 && rename(tmp, a->pidpath) < 0)
                rc = -errno;
        if (rc == 0)
                rc = ld_durable_sync_dir(a->pidpath);
        if (rc < 0)
                say(LOG_ERR, "%s: %s", a->pidpath, strerror(-rc));
        return rc;
}

/* Removes the pid file if it still names this process (a later server may own it). */
static void remove_pid(struct aard *a)
{
        char buf[32] = "";
        int fd = open(a->pidpath, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

        if (fd >= 0)
                close(fd);
        if (n > 0 && atoi(buf) == (int)getpid())
                unlink(a->pidpath);
}

/* One round: read the files, re-sync. 1 when no network file is left (entries removed),
 * 0 when synced, a negative errno when linkdnsd could not be asked. */
static int round_trip(struct aard *a, struct ld_aard_plan *plan)
{
        struct ld_aard_dir d;
        int rc = read_dir(a, &d);

        if (rc < 0)
                return rc;
        rc = resync(a, &d, plan);
        if (rc == 0 && d.n == 0 && d.nbad == 0)
                rc = 1;
        ld_aard_dir_clear(&d);
        return rc;
}

static void detach_stdio(void)
{
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (fd < 0)
                return;
        for (int i = 0; i < 3; i++)
                if (i != fd)
                        dup2(fd, i);
        if (fd > 2)
                close(fd);
}

static int serve(struct aard *a, int sfd)
{
        int wait_ms = -1, backoff = RETRY_MIN_MS;

        for (;;) {
                struct pollfd pfd = {.fd = sfd, .events = POLLIN};
                struct signalfd_siginfo si;
                struct ld_aard_plan plan = {0};
                int rc = poll(&pfd, 1, wait_ms);

                if (rc < 0 && errno != EINTR)
                        return 1;
                if (rc > 0) {
                        if (read(sfd, &si, sizeof(si)) != sizeof(si))
                                continue;
                        if (si.ssi_signo != SIGHUP) {
                                remove_pid(a);
                                return 0;
                        }
                }
                if (rc == 0 || rc > 0) {
                        rc = round_trip(a, &plan);
                        ld_aard_plan_clear(&plan);
                        if (rc == 1) {
                                say(LOG_INFO, "no network left: exiting");
                                remove_pid(a);
                                return 0;
                        }
                        /* linkdnsd away (a restart): try again, less and less often */
                        wait_ms = rc < 0 ? backoff : -1;
                        backoff = rc < 0 ? (backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2)
                                         : RETRY_MIN_MS;
                }
        }
}

/* The child: the server. It tells the parent through ready (one byte) once its listeners
 * answer; an exit without it makes the parent exit with the child's status. */
static int child(struct aard *a, int ready)
{
        struct ld_aard_plan plan = {0};
        sigset_t set;
        int sfd, rc;

        setsid();
        sigemptyset(&set);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
                say(LOG_ERR, "signalfd: %s", strerror(errno));
                return 1;
        }
        /* the pid first: a change netavark makes during the first sync is signalled */
        if (write_pid(a) < 0)
                return 1;
        rc = round_trip(a, &plan);
        if (rc == 1) {
                remove_pid(a);
                ld_aard_plan_clear(&plan);
                return 0;
        }
        if (rc == 0)
                rc = probe(&plan);
        ld_aard_plan_clear(&plan);
        if (rc < 0) {
                remove_pid(a);
                return 1;
        }
        a->daemon = true;
        detach_stdio();
        if (write(ready, "1", 1) != 1)
                return 1;
        close(ready);
        return serve(a, sfd);
}

static int run(struct aard *a)
{
        int pipefd[2], status;
        char c;
        pid_t pid;
        ssize_t n;

        a->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (a->dirfd < 0) {
                say(LOG_ERR, "%s: %s", a->dir, strerror(errno));
                return 1;
        }
        if ((size_t)snprintf(a->pidpath, sizeof(a->pidpath), "%s/" LD_AARD_PID_FILE, a->dir) >=
            sizeof(a->pidpath)) {
                say(LOG_ERR, "%s: path too long", a->dir);
                return 1;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
                say(LOG_ERR, "fork: %s", strerror(errno));
                return 1;
        }
        if (pid == 0) {
                close(pipefd[0]);
                _exit(child(a, pipefd[1]));
        }
        close(pipefd[1]);
        do
                n = read(pipefd[0], &c, 1);
        while (n < 0 && errno == EINTR);
        if (n == 1)
                return 0; /* serving */
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (WIFEXITED(status))
                return WEXITSTATUS(status); /* the child said why */
        /* killed before it could say anything: netavark still gets one line */
        say(LOG_ERR, "the server died before it served (signal %d)",
            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        return 1;
}

/* aardvark-dns's --filter-search-domain (".dns.podman" by default) as a network's domain,
 * checked by the grammar itself. */
static int set_domain(struct aard *a, const char *v)
{
        char line[LD_DOMAIN_MAX + 32], err[256];
        struct ld_cmd cmd;
        int rc;

        while (*v == '.')
                v++;
        if (strlen(v) > LD_DOMAIN_MAX)
                return -EINVAL;
        snprintf(line, sizeof(line), "net probe --domain %s", v);
        if ((rc = ld_cmd_parse(line, &cmd, err, sizeof(err))) != 0)
                return -EINVAL;
        snprintf(a->domain, sizeof(a->domain), "%s", cmd.net.domain);
        ld_cmd_clear(&cmd);
        return 0;
}

/* "--opt VALUE", "--opt=VALUE" or "-o VALUE": the value, or NULL (*i unchanged). */
static const char *opt_value(int argc, char **argv, int *i, const char *s, const char *l)
{
        size_t ll = strlen(l);

        if (strncmp(argv[*i], l, ll) == 0 && argv[*i][ll] == '=')
                return argv[*i] + ll + 1;
        if ((strcmp(argv[*i], s) == 0 || strcmp(argv[*i], l) == 0) && *i + 1 < argc)
                return argv[++*i];
        return NULL;
}

int main(int argc, char **argv)
{
        struct aard a = {
            .port = 5533, .control = LD_CTLC_DEFAULT_PATH, .dirfd = -1, .domain = LD_AARD_DOMAIN};
        const char *cmd = NULL, *v;

        g_aard = &a;
        if ((v = getenv("LINKDNS_CONTROL")) && *v)
                a.control = v; /* as linkdnsctl: --control wins */
        openlog(PROG, LOG_PID, LOG_DAEMON);
        /* netavark's descriptors are none of ours (aardvark-dns closes them too) */
        close_range(3, ~0U, 0);
        for (int i = 1; i < argc; i++) {
                if ((v = opt_value(argc, argv, &i, "-c", "--config"))) {
                        a.dir = v;
                } else if ((v = opt_value(argc, argv, &i, "-p", "--port"))) {
                        if (ld_port_parse(v, strlen(v), &a.port) < 0) {
                                fprintf(stderr, PROG ": error: invalid port '%s'\n", v);
                                return 2;
                        }
                } else if ((v = opt_value(argc, argv, &i, "-f", "--filter-search-domain"))) {
                        /* aardvark-dns answers names under it without it: the domain */
                        if (set_domain(&a, v) < 0) {
                                fprintf(stderr, PROG ": error: invalid domain '%s'\n", v);
                                return 2;
                        }
                } else if ((v = opt_value(argc, argv, &i, "--control", "--control"))) {
                        a.control = v;
                } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
                        cmd = "version";
                } else if (argv[i][0] != '-' && !cmd) {
                        cmd = argv[i];
                } else {
                        fprintf(stderr, PROG ": error: unexpected '%s'\n", argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (cmd && !strcmp(cmd, "version")) {
                printf(PROG " (linkdns %s)\n", LINKDNS_VERSION);
                return 0;
        }
        if (!cmd || strcmp(cmd, "run") != 0 || !a.dir) {
                fprintf(stderr, PROG ": error: %s\n",
                        !cmd                 ? "no command (run or version)"
                        : strcmp(cmd, "run") ? "unknown command"
                                             : "run needs --config DIR");
                usage(stderr);
                return 2;
        }
        return run(&a);
}
