/* linkdnsctl: command-line client of linkdnsd's control socket. */
#include "command.h"
#include "ctlclient.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ctl_usage[] =
    "Usage: linkdnsctl [--control PATH] COMMAND [ARGUMENT]...\n"
    "Changes and inspects the link table of a running linkdnsd.\n"
    "\n"
    "Commands (each takes --help):\n"
    "  add NAME [OPTION]...        register a container\n"
    "  rm NAME [--owner TAG]       remove it, its links and its listener\n"
    "  link FROM TARGET[:ALIAS]    FROM's view gets ALIAS for TARGET\n"
    "  unlink FROM ALIAS [TARGET]  remove links of FROM under ALIAS\n"
    "  net NAME [OPTION]...        declare a network\n"
    "  unnet NAME                  remove a network nobody is attached to\n"
    "  attach CONTAINER NET [OPTION]...  put CONTAINER on NET\n"
    "  detach CONTAINER NET        take it off\n"
    "  ls [--owner TAG] [--json]   the table, in its canonical form\n"
    "  show NAME [--json]          what NAME's view resolves\n"
    "  show --net NAME [--json]    a network and its members\n"
    "  stats [--json]              counters\n"
    "  reload                      re-read the state file, as SIGHUP does\n"
    "  flush [DOMAIN]              empty the answer cache, or its entries at and below DOMAIN\n"
    "  batch                       changes read from stdin, applied as one (all or none)\n"
    "\n"
    "  --control PATH   the socket (default $LINKDNS_CONTROL or /run/linkdns/control.sock)\n"
    "  --help, --version\n"
    "Exit status: 0 done, 1 refused (one line 'linkdnsctl: error: ...'), 2 bad usage.\n";

static const struct {
        const char *cmd, *help;
} ctl_help[] = {
    {"add", "Usage: linkdnsctl add NAME [--replace] [--owner TAG] [--netns PATH | --pid PID]\n"
            "         [--addr IP]... [--expose PORT/PROTO]... [--publish HOSTPORT:PORT/PROTO]...\n"
            "         [--dns ADDR[@PORT]]... [--remote FQDN@ADDR[@PORT]]\n"
            "Registers a container. --replace swaps an existing registration, keeping its\n"
            "links. --owner records who registered it (e.g. oci:ID).\n"
            "Example: linkdnsctl add db --pid 4242 --addr 172.17.0.5 --expose 5432/tcp\n"},
    {"rm", "Usage: linkdnsctl rm NAME [--owner TAG]\nRemoves NAME, every link from or to it, "
           "and its listener;\nwith --owner only if TAG owns it.\nExample: linkdnsctl rm db\n"},
    {"link", "Usage: linkdnsctl link FROM TARGET[:ALIAS]\nFROM's view gets ALIAS (default "
             "TARGET) for TARGET, as docker run --link.\nExample: linkdnsctl link web db:db\n"},
    {"unlink", "Usage: linkdnsctl unlink FROM ALIAS [TARGET]\nRemoves FROM's links under "
               "ALIAS (only the one to TARGET if given).\nExample: linkdnsctl unlink web db\n"},
    {"net", "Usage: linkdnsctl net NAME [--replace] [--owner TAG] [--domain D]\n"
            "         [--listen ADDR[@PORT]]... [--dns ADDR[@PORT]]... [--internal]\n"
            "Declares a network: every container on it resolves the others. --replace keeps\n"
            "its attachments. Example: linkdnsctl net back --domain dns.podman\n"},
    {"unnet", "Usage: linkdnsctl unnet NAME [--owner TAG]\nRemoves a network; refused while "
              "containers are attached.\nExample: linkdnsctl unnet back\n"},
    {"attach", "Usage: linkdnsctl attach CONTAINER NET [--addr IP]... [--alias NAME]...\n"
               "Puts CONTAINER on NET with these addresses and network-scoped aliases.\n"
               "Example: linkdnsctl attach db back --addr 10.89.0.5 --alias pg\n"},
    {"detach", "Usage: linkdnsctl detach CONTAINER NET\nTakes CONTAINER off NET.\n"
               "Example: linkdnsctl detach db back\n"},
    {"ls", "Usage: linkdnsctl ls [--owner TAG] [--json]\nPrints the table in its canonical "
           "form; with --owner the entries TAG owns\n(PREFIX:* for all tags of a prefix).\n"},
    {"show", "Usage: linkdnsctl show NAME [--json] | show --net NAME [--json]\nPrints what "
             "NAME's view resolves, or a network and its members.\n"},
    {"stats", "Usage: linkdnsctl stats [--json]\nPrints queries by view and rcode, refused, "
              "truncated,\nTCP connections, table size, uptime, the answer cache's hits,\n"
              "misses, evictions, entries and bytes.\n"},
    {"flush", "Usage: linkdnsctl flush [DOMAIN]\nEmpties the cache of forwarded answers, or "
              "drops its entries for DOMAIN\nand the names below it; prints how many went.\n"
              "Example: linkdnsctl flush example.com\n"},
    {"reload", "Usage: linkdnsctl reload\nRe-reads the state file, as SIGHUP does; a bad "
               "file leaves the running table.\n"},
    {"batch",
     "Usage: linkdnsctl batch < FILE\nReads changes (add, rm, link, unlink, net, unnet,\nattach, "
     "detach), one a "
     "line, '#' comments and blank\nlines skipped, and applies them as one change: "
     "all or none, one durable\nwrite. At most " LD_STR(LD_BATCH_LINES) " lines and " LD_STR(
         LD_BATCH_BYTES) " bytes.\nExample: printf 'add db\\nlink web db\\n' | "
                         "linkdnsctl batch\n"},
};

static int ctl_fail(int code, const char *fmt, const char *arg)
{
        fputs("linkdnsctl: error: ", stderr);
        fprintf(stderr, fmt, arg);
        fputc('\n', stderr);
        return code;
}

static int ctl_command_help(const char *cmd)
{
        for (size_t i = 0; i < sizeof(ctl_help) / sizeof(ctl_help[0]); i++) {
                if (strcmp(ctl_help[i].cmd, cmd) == 0) {
                        fputs(ctl_help[i].help, stdout);
                        return 0;
                }
        }
        return ctl_fail(2, "unknown command '%s'", cmd);
}

/* The reply after the verdict, streamed as it comes (ls can be many MB). */
static int ctl_out(void *ctx, const char *buf, size_t len)
{
        (void)ctx;
        fwrite(buf, 1, len, stdout);
        return 0;
}

/* Exit status and message of a ctlclient result (err: its line). */
static int ctl_verdict(int rc, const char *err)
{
        if (rc == 0)
                return 0;
        return ctl_fail(rc == -ENAMETOOLONG ? 2 : 1, "%s", err);
}

/* The reason a daemon gives is one line of up to 64 KiB. */
static char ctl_err[65536];

/* req: the whole request, its last line ended by a newline. No timeout: a person waits. */
static int ctl_send(const char *path, const char *req, size_t reqlen)
{
        int rc = ld_ctlc_request(path, req, reqlen, -1, ctl_out, NULL, ctl_err, sizeof(ctl_err));

        return ctl_verdict(rc, ctl_err);
}

/* "N: reason" for a refused line (static: used once, right away). */
static const char *ctl_line(size_t lineno, const char *why)
{
        static char buf[sizeof(ctl_err) + 32];

        snprintf(buf, sizeof(buf), "%zu: %s", lineno, why);
        return buf;
}

/* Reads stdin (at most LD_BATCH_BYTES) into the batch, line by line as given, so that
 * the daemon's "line N" is the line of stdin: 0, or an exit status (said on stderr). */
static int ctl_batch_read(struct ld_ctlc_batch *b)
{
        char *text = malloc(LD_BATCH_BYTES + 2);
        size_t len = 0, lineno = 0, n;
        int rc = 0;

        if (!text)
                return ctl_fail(1, "%s", "out of memory");
        while (len <= LD_BATCH_BYTES && (n = fread(text + len, 1, LD_BATCH_BYTES + 1 - len, stdin)))
                len += n;
        if (len > LD_BATCH_BYTES)
                rc = ctl_fail(2, "%s", "batch longer than " LD_STR(LD_BATCH_BYTES) " bytes");
        else if (memchr(text, '\0', len))
                rc = ctl_fail(2, "%s", "NUL byte in the batch");
        if (rc == 0 && len && text[len - 1] != '\n')
                text[len++] = '\n';
        text[len] = '\0';
        for (char *p = text, *nl; rc == 0 && (nl = strchr(p, '\n')); p = nl + 1) {
                *nl = '\0';
                lineno++;
                rc = ld_ctlc_batch_line(b, p, ctl_err, sizeof(ctl_err));
                if (rc == -EINVAL)
                        rc = ctl_fail(2, "line %s", ctl_line(lineno, ctl_err));
                else if (rc == -E2BIG)
                        rc = ctl_fail(2, "%s", ctl_err);
                else if (rc < 0)
                        rc = ctl_fail(1, "%s", ctl_err);
                else
                        rc = 0;
        }
        if (rc == 0 && b->changes == 0)
                rc = ctl_fail(2, "%s", "batch: no commands on stdin");
        free(text);
        return rc;
}
/* linkdnsctl batch: stdin, checked here line by line, sent as one change. */
static int ctl_batch(const char *path)
{
        struct ld_ctlc_batch b = {0};
        int rc = ctl_batch_read(&b);

        if (rc == 0)
                rc = ctl_verdict(ld_ctlc_batch_send(path, &b, -1, ctl_err, sizeof(ctl_err)),
                                 ctl_err);
        ld_ctlc_batch_clear(&b);
        return rc;
}

int main(int argc, char **argv)
{
        const char *path = getenv("LINKDNS_CONTROL");
        char *line = NULL, *req, err[512];
        size_t len = 0;
        struct ld_cmd cmd;
        int i = 1, rc;
        FILE *f;

        /* stdout closed early (ls | head) must not kill us silently; the socket itself
         * is written with MSG_NOSIGNAL by ctlclient. */
        signal(SIGPIPE, SIG_IGN);
        if (!path || !*path)
                path = LD_CTLC_DEFAULT_PATH;
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--help") == 0) {
                        fputs(ctl_usage, stdout);
                        return 0;
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("linkdnsctl %s\n", LINKDNS_VERSION);
                        return 0;
                } else if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) {
                        path = argv[++i];
                } else if (strncmp(argv[i], "--control=", 10) == 0) {
                        path = argv[i] + 10;
                } else {
                        return ctl_fail(2, "unknown option '%s' (see linkdnsctl --help)", argv[i]);
                }
        }
        if (i == argc)
                return ctl_fail(2, "%s", "missing COMMAND (see linkdnsctl --help)");
        for (int k = i + 1; k < argc; k++)
                if (strcmp(argv[k], "--help") == 0)
                        return ctl_command_help(argv[i]);
        if (strcmp(argv[i], "batch") == 0)
                return i + 1 == argc ? ctl_batch(path)
                                     : ctl_fail(2, "%s", "batch takes no argument (stdin)");
        if (!(f = open_memstream(&line, &len)))
                return ctl_fail(1, "%s", "out of memory");
        for (int k = i; k < argc; k++) {
                if (strpbrk(argv[k], " \t\r\n#")) {
                        fclose(f);
                        free(line);
                        return ctl_fail(2, "argument '%s' holds a blank or '#'", argv[k]);
                }
                fprintf(f, "%s%s", k > i ? " " : "", argv[k]);
        }
        fclose(f);
        /* Checked here first, so that bad usage never reaches the daemon. */
        rc = ld_cmd_parse(line, &cmd, err, sizeof(err));
        ld_cmd_clear(&cmd);
        if (rc != 0) {
                free(line);
                return ctl_fail(2, "%s", rc > 0 ? "missing COMMAND" : err);
        }
        /* The newline that ends the request (the parse above measured the line alone). */
        if (!(req = realloc(line, len + 1))) {
                free(line);
                return ctl_fail(1, "%s", "out of memory");
        }
        line = req;
        line[len++] = '\n';
        rc = ctl_send(path, line, len);
        free(line);
        return rc;
}
