/* control: linkdnsctl's socket — peer credentials, table changes acknowledged only once
 * durable, read-only reports (ls, show, stats) and reload. */
#include "control.h"

#include "accept.h"
#include "cache.h"
#include "change.h"
#include "clock.h"
#include "command.h"
#include "frame.h"
#include "list.h"
#include "log.h"
#include "netns.h"
#include "report.h"
#include "engine.h"
#include "state.h"
#include "table.h"
#include "tcp.h"

#include <errno.h>
#include <grp.h>
#include <ldns/ldns.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_LINE_MAX 65536
#define CTL_BATCH_MAX (LD_BATCH_BYTES + 64) /* a batch's lines and its header */
#define CTL_COMPACT_MIN (64 * 1024)         /* compact once the appended part passes this... */
/* Connections at once: a client that connects and says nothing costs a descriptor, a timer
 * and a few hundred bytes; past the cap an old one makes room (ctl_make_room). */
#define CTL_CONN_MAX 64
#define CTL_TIMEOUT 10.0  /* seconds for the whole request, and again for the reply */
#define CTL_IN_FIRST 1024 /* the request buffer starts here and doubles as it fills */

struct ctl_conn {
        struct ld_control *ctl;
        struct ctl_conn *prev, *next; /* oldest first */
        ev_io rw, ww;
        ev_timer timer;     /* the request, then the reply, must be through within CTL_TIMEOUT */
        bool awaits_reload; /* answered once the reload ran */
        char *in;           /* allocated with the first byte, freed once the request is read */
        size_t inlen, incap;
        size_t scanned;      /* bytes of in looked at for line ends */
        size_t batch, lines; /* a batch: the lines announced (0: not one), the lines read */
        char *out;
        size_t outlen, outoff;
};

/* A change (one command, or a batch of them) validated against the shadow table, waiting
 * to be durable: written as one record, acknowledged once. */
struct ctl_item {
        struct ctl_item *next;
        struct ctl_conn *conn; /* NULL once the client went away */
        char *line;            /* the canonical lines, as written */
        size_t len;
        struct ld_cmd *cmds; /* the lines parsed: what is applied once they are durable */
        size_t ncmds;
};

struct ld_control {
        struct ld_control_env env;
        ev_io lw;
        int fd;
        gid_t gid;
        /* Every accepted change applied, durable or not: what the next change is checked
         * against. The server's table gets a change only once it is on disk. */
        struct ld_table *shadow;
        struct ld_state *state;
        struct ctl_item *queue, **qtail;
        struct ctl_item *inflight;
        bool compacting;
        bool compact_wanted; /* namespace ids were recorded: a snapshot writes them */
        bool reload_pending;
        bool must_compact; /* the file ends in a torn record: rewrite it before appending */
        struct ctl_conn *conns, *conns_tail;
        size_t nconns;
        struct ld_accept acc; /* rests the listener when accept fails (EMFILE...) */
        int64_t started;      /* ld_clock_ms at the start: the uptime */
        size_t snapshot_len;
};

static void ctl_item_free(struct ctl_item *i)
{
        free(i->line);
        for (size_t k = 0; k < i->ncmds; k++)
                ld_cmd_clear(&i->cmds[k]);
        free(i->cmds);
        free(i);
}

static void ctl_conn_close(struct ctl_conn *c)
{
        struct ld_control *ctl = c->ctl;

        for (struct ctl_item *i = ctl->queue; i; i = i->next)
                if (i->conn == c)
                        i->conn = NULL;
        for (struct ctl_item *i = ctl->inflight; i; i = i->next)
                if (i->conn == c)
                        i->conn = NULL;
        ev_io_stop(ctl->env.loop, &c->rw);
        ev_io_stop(ctl->env.loop, &c->ww);
        ev_timer_stop(ctl->env.loop, &c->timer);
        close(c->rw.fd);
        LD_LIST_REMOVE_TAIL(ctl->conns, ctl->conns_tail, c);
        ctl->nconns--;
        free(c->in);
        free(c->out);
        free(c);
}

static void ctl_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ctl_conn *c = w->data;
        ssize_t n;
        (void)loop;
        (void)revents;

        n = send(w->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n > 0)
                c->outoff += (size_t)n;
        if (n < 0 || c->outoff == c->outlen)
                ctl_conn_close(c);
}

/* Sends "ok\n" + body, or "error MESSAGE\n", then closes. */
static void ctl_reply(struct ctl_conn *c, const char *err, const char *body, size_t bodylen)
{
        FILE *f;

        if (!c)
                return;
        f = open_memstream(&c->out, &c->outlen);
        if (!f) {
                ctl_conn_close(c);
                return;
        }
        if (err)
                fprintf(f, "error %s\n", err);
        else
                fputs("ok\n", f);
        if (!err && body)
                fwrite(body, 1, bodylen, f);
        fclose(f);
        ev_io_stop(c->ctl->env.loop, &c->rw);
        ev_io_start(c->ctl->env.loop, &c->ww);
        ev_timer_stop(c->ctl->env.loop, &c->timer);
        ev_timer_set(&c->timer, CTL_TIMEOUT, 0.);
        ev_timer_start(c->ctl->env.loop, &c->timer);
}

static struct ld_table *ctl_copy(const struct ld_table *t)
{
        char *buf = NULL, err[512];
        size_t len = 0;
        struct ld_table *copy = NULL;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        ld_table_dump(t, f);
        fclose(f);
        if (ld_table_load_buf(buf, len, "shadow", false, &copy, err, sizeof(err)) < 0)
                ld_err("cannot copy the table: %s", err);
        free(buf);
        return copy;
}

static void ctl_shadow_reset(struct ld_control *ctl)
{
        struct ld_table *copy = ctl_copy(ctl->env.eng->table);

        if (!copy) {
                ld_err("out of memory copying the table; changes are refused until a reload");
                return;
        }
        ld_table_free(ctl->shadow);
        ctl->shadow = copy;
}

/* Applies a durable change through the one change path (change.c): the served table, then
 * its observers (namespaces, remote peers, the publish zone, NOTIFY). */
static void ctl_apply_live(struct ld_control *ctl, struct ld_cmd *cmd)
{
        char err[512];

        if (ld_change_apply(ctl->env.change, cmd, err, sizeof(err)) < 0)
                ld_err("applying a durable change failed: %s", err); /* shadow said it fits */
}

static void ctl_kick(struct ld_control *ctl);

/* The queued changes were checked against ones that are not kept: refuse them too. */
static void ctl_refuse_queue(struct ld_control *ctl, const char *err)
{
        for (struct ctl_item *i = ctl->queue, *next; i; i = next) {
                next = i->next;
                ctl_reply(i->conn, err, NULL, 0);
                ctl_item_free(i);
        }
        ctl->queue = NULL;
        ctl->qtail = &ctl->queue;
        ctl_shadow_reset(ctl);
}

static void ctl_state_done(void *arg, int rc)
{
        struct ld_control *ctl = arg;
        char err[600];

        snprintf(err, sizeof(err), "cannot write %s: %s; nothing changed", ctl->env.state_path,
                 strerror(-rc));
        if (ctl->compacting) {
                ctl->compacting = false;
                if (rc < 0)
                        ld_warn("compacting %s failed: %s", ctl->env.state_path, strerror(-rc));
                if (rc == 0)
                        ctl->must_compact = false;
                else if (ctl->must_compact) /* nothing may follow the torn record */
                        ctl_refuse_queue(ctl, err);
                ctl_kick(ctl);
                return;
        }
        for (struct ctl_item *i = ctl->inflight, *next; i; i = next) {
                next = i->next;
                for (size_t k = 0; rc == 0 && k < i->ncmds; k++)
                        ctl_apply_live(ctl, &i->cmds[k]);
                ctl_reply(i->conn, rc == 0 ? NULL : err, NULL, 0);
                ctl_item_free(i);
        }
        ctl->inflight = NULL;
        if (rc == 0)
                ld_change_commit(ctl->env.change);
        else
                ctl_refuse_queue(ctl, err);
        ctl_kick(ctl);
}

static int ctl_do_reload(struct ld_control *ctl)
{
        char err[1024], msg[1100];
        int rc;

        ctl->reload_pending = false;
        rc = ctl->env.reload(ctl->env.arg, err, sizeof(err));
        if (rc == 0) {
                ctl_shadow_reset(ctl);
                ctl->must_compact = ctl->env.eng->table->torn;
        }
        snprintf(msg, sizeof(msg), "reload failed, the running table stays: %s", err);
        for (struct ctl_conn *c = ctl->conns, *next; c; c = next) {
                next = c->next;
                if (c->awaits_reload) {
                        c->awaits_reload = false;
                        ctl_reply(c, rc == 0 ? NULL : msg, NULL, 0);
                }
        }
        return rc;
}

static void ctl_compact(struct ld_control *ctl)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return;
        ld_table_dump(ctl->env.eng->table, f);
        fclose(f);
        ctl->snapshot_len = len;
        ctl->compacting = true;
        ld_state_compact(ctl->state, text, len);
}

/* Starts the next disk job: the changes queued so far as one write (after a rewrite when
 * the file ends in a torn record), else a pending reload, else a compaction when the
 * appended part has grown past the snapshot. */
static void ctl_kick(struct ld_control *ctl)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f;

        if (ld_state_busy(ctl->state))
                return;
        if (!ctl->queue) {
                /* A failed reload leaves the file as the user wrote it, ids or not. */
                if (ctl->reload_pending && (ctl_do_reload(ctl) < 0 || !ctl->compact_wanted))
                        return;
                size_t appended = ld_state_appended(ctl->state);
                if (ctl->compact_wanted ||
                    (appended >= CTL_COMPACT_MIN && appended >= ctl->snapshot_len)) {
                        ctl->compact_wanted = false;
                        ctl_compact(ctl);
                }
                return;
        }
        if (ctl->must_compact) {
                ctl_compact(ctl);
                return;
        }
        if (!(f = open_memstream(&text, &len)))
                return;
        /* One record per change (a batch is one): each stands or falls whole on a crash. */
        for (struct ctl_item *i = ctl->queue; i; i = i->next)
                ld_frame_write(f, i->line, i->len);
        fclose(f);
        ctl->inflight = ctl->queue;
        ctl->queue = NULL;
        ctl->qtail = &ctl->queue;
        ld_state_append(ctl->state, text, len);
}

/* The line as it will be stored, and that line parsed again: the file must read back what
 * is acknowledged (a request within limits can grow past them once canonical), and the
 * parse (stored) is what the server applies once the line is durable. */
static int ctl_canonical(const struct ld_cmd *cmd, char **line, size_t *len, struct ld_cmd *stored,
                         char *err, size_t errlen)
{
        char *again = NULL, perr[512];
        size_t againlen = 0;
        bool same;
        FILE *f;

        if (!(f = open_memstream(line, len)))
                return -ENOMEM;
        ld_cmd_format(cmd, f);
        if (fclose(f) != 0)
                return -ENOMEM;
        if (ld_cmd_parse(*line, stored, perr, sizeof(perr)) != 0) {
                snprintf(err, errlen, "the change as stored would not load back (%zu bytes): %s",
                         *len, perr);
                return -EINVAL;
        }
        stored->ns_gone = cmd->ns_gone;
        if (!(f = open_memstream(&again, &againlen)))
                return -ENOMEM;
        ld_cmd_format(stored, f);
        if (fclose(f) != 0) {
                free(again);
                return -ENOMEM;
        }
        same = againlen == *len && memcmp(again, *line, againlen) == 0;
        free(again);
        if (!same) {
                snprintf(err, errlen, "the change as stored would not load back as given");
                return -EINVAL;
        }
        return 0;
}

/* For add --replace of an entry with owners, or by an owner of one without: whether the
 * namespace it was registered with is gone (missing, or another one stands at its path),
 * which lets another owner take the name over (table.c decides). */
static void ctl_ns_gone(struct ld_control *ctl, const struct ld_table *t, struct ld_cmd *cmd)
{
        const struct ld_container *old;
        struct ld_spec probe;
        char err[256];
        int rc;

        if (cmd->kind != LD_CMD_ADD || !cmd->replace || !(old = ld_table_find(t, cmd->spec.name)) ||
            !(old->spec.nowners || cmd->spec.nowners) || !(old->spec.netns || old->spec.pid))
                return;
        memset(&probe, 0, sizeof(probe));
        probe.netns = old->spec.netns; /* borrowed: the probe reads it, sets only nsid */
        probe.pid = old->spec.pid;
        probe.nsid = old->spec.nsid;
        rc = ld_netns_probe(ctl->env.netns, &probe, err, sizeof(err));
        cmd->ns_gone = rc == -ENOENT || rc == -ESTALE;
}

/* Checks one change against table (the shadow, or a batch's trial copy of it) and applies
 * it there; its canonical line goes to out, its parse to stored. */
static int ctl_check(struct ld_control *ctl, struct ld_table *table, struct ld_cmd *cmd, FILE *out,
                     struct ld_cmd *stored, char *err, size_t errlen)
{
        char *line = NULL;
        size_t len = 0;
        int rc;

        /* A live add naming a missing namespace is refused; the probe records the id of the
         * one there, which the stored line carries. Then the table decides. */
        rc = cmd->kind == LD_CMD_ADD ? ld_netns_probe(ctl->env.netns, &cmd->spec, err, errlen) : 0;
        if (rc == 0) {
                ctl_ns_gone(ctl, table, cmd);
                if ((rc = ctl_canonical(cmd, &line, &len, stored, err, errlen)) == -ENOMEM)
                        snprintf(err, errlen, "out of memory");
        }
        if (rc == 0)
                rc = ld_table_apply(table, cmd, err, errlen);
        if (rc == 0)
                fwrite(line, 1, len, out);
        else
                ld_cmd_clear(stored); /* a batch counts only the changes that passed */
        free(line);
        return rc;
}

static void ctl_enqueue(struct ld_control *ctl, struct ctl_conn *c, struct ctl_item *item)
{
        item->conn = c; /* its clock stopped with the read: the wait is the daemon's */
        *ctl->qtail = item;
        ctl->qtail = &item->next;
        ctl_kick(ctl);
}

static struct ctl_item *ctl_item_new(size_t ncmds)
{
        struct ctl_item *item = calloc(1, sizeof(*item));

        if (item && !(item->cmds = calloc(ncmds, sizeof(*item->cmds)))) {
                free(item);
                return NULL;
        }
        return item;
}

static void ctl_change(struct ld_control *ctl, struct ctl_conn *c, struct ld_cmd *cmd)
{
        struct ctl_item *item = ctl_item_new(1);
        char err[700];
        FILE *f;
        int rc;

        if (!item || !(f = open_memstream(&item->line, &item->len))) {
                if (item)
                        ctl_item_free(item);
                ctl_reply(c, "out of memory", NULL, 0);
                return;
        }
        item->ncmds = 1;
        rc = ctl_check(ctl, ctl->shadow, cmd, f, &item->cmds[0], err, sizeof(err));
        if (fclose(f) != 0 && rc == 0) {
                rc = -ENOMEM;
                snprintf(err, sizeof(err), "out of memory");
        }
        if (rc < 0) {
                ctl_reply(c, err, NULL, 0);
                ctl_item_free(item);
                return;
        }
        ctl_enqueue(ctl, c, item);
}

/* Checks line number lineno of a batch against trial; 1 for a blank or comment line. */
static int ctl_batch_line(struct ld_control *ctl, struct ld_table *trial, const char *line,
                          size_t lineno, FILE *out, struct ctl_item *item, char *err, size_t errlen)
{
        struct ld_cmd cmd;
        char msg[700];
        int rc = ld_cmd_parse(line, &cmd, msg, sizeof(msg));

        if (rc > 0)
                return 1;
        if (rc == 0 && !ld_cmd_is_change(&cmd)) {
                snprintf(msg, sizeof(msg),
                         "'%s' cannot be part of a batch (only " LD_BATCH_KINDS ")",
                         ld_cmd_word(cmd.kind));
                rc = -EINVAL;
        }
        if (rc == 0 && (rc = ctl_check(ctl, trial, &cmd, out, &item->cmds[item->ncmds], msg,
                                       sizeof(msg))) == 0)
                item->ncmds++;
        ld_cmd_clear(&cmd);
        if (rc < 0)
                snprintf(err, errlen, "line %zu: %s", lineno, msg);
        return rc;
}

/* A batch: body holds nlines lines (NUL-terminated ones). Every change is checked against
 * a copy of the shadow as changed by the ones before it; all pass, or nothing happened. */
static void ctl_batch(struct ld_control *ctl, struct ctl_conn *c, char *body, size_t nlines)
{
        struct ctl_item *item = ctl_item_new(nlines);
        struct ld_table *trial = ctl_copy(ctl->shadow);
        char err[800] = "out of memory";
        FILE *f = item ? open_memstream(&item->line, &item->len) : NULL;
        int rc = f && trial ? 0 : -ENOMEM;

        for (size_t i = 0; rc >= 0 && i < nlines; i++) {
                char *nl = strchr(body, '\n');
                *nl = '\0';
                rc = ctl_batch_line(ctl, trial, body, i + 1, f, item, err, sizeof(err));
                body = nl + 1;
        }
        if (f && fclose(f) != 0 && rc >= 0) {
                rc = -ENOMEM;
                snprintf(err, sizeof(err), "out of memory");
        }
        if (rc >= 0 && item->ncmds == 0) {
                rc = -EINVAL;
                snprintf(err, sizeof(err), "batch: no commands");
        }
        if (rc < 0) {
                ld_table_free(trial);
                ctl_reply(c, err, NULL, 0);
                if (item)
                        ctl_item_free(item);
                return;
        }
        ld_table_free(ctl->shadow);
        ctl->shadow = trial;
        ctl_enqueue(ctl, c, item);
}

static void ctl_report(struct ld_control *ctl, struct ctl_conn *c, const struct ld_cmd *cmd)
{
        struct ld_engine *eng = ctl->env.eng;
        struct ld_report_extra x = {0, 0, 0};
        const struct ld_container *k = NULL;
        const struct ld_net *net = NULL;
        char *buf = NULL, err[LD_NETNAME_MAX + 64];
        size_t len = 0;
        FILE *f;

        if (cmd->kind == LD_CMD_SHOW && cmd->net.name[0] &&
            !(net = ld_table_net(eng->table, cmd->net.name))) {
                snprintf(err, sizeof(err), "network '%s' does not exist", cmd->net.name);
                ctl_reply(c, err, NULL, 0);
                return;
        }
        if (cmd->kind == LD_CMD_SHOW && !net && !(k = ld_table_find(eng->table, cmd->name))) {
                snprintf(err, sizeof(err), "'%s' does not exist", cmd->name);
                ctl_reply(c, err, NULL, 0);
                return;
        }
        if (!(f = open_memstream(&buf, &len))) {
                ctl_reply(c, "out of memory", NULL, 0);
                return;
        }
        x.uptime = (double)(ld_clock_ms() - ctl->started) / 1000;
        x.tcp_connections = ld_tcp_count(ctl->env.tcp);
        x.namespaces = ld_netns_count(ctl->env.netns);
        if (cmd->kind == LD_CMD_LS)
                ld_report_ls(eng, cmd->owner[0] ? cmd->owner : NULL, cmd->json, f);
        else if (net)
                ld_report_net(net, cmd->json, f);
        else if (cmd->kind == LD_CMD_SHOW)
                ld_report_show(k, cmd->json, f);
        else
                ld_report_stats(eng, &x, cmd->json, f);
        fclose(f);
        ctl_reply(c, NULL, buf, len);
        free(buf);
}

/* flush [DOMAIN]: the answer cache's entries at and below DOMAIN (checked dotted labels,
 * lower case), or all; the reply says how many went. */
static void ctl_flush(struct ld_control *ctl, struct ctl_conn *c, const struct ld_cmd *cmd)
{
        ldns_rdf *dn = NULL;
        size_t n;
        char body[48];

        if (cmd->domain[0] && ldns_str2rdf_dname(&dn, cmd->domain) != LDNS_STATUS_OK) {
                ctl_reply(c, "the domain cannot be read as a name", NULL, 0);
                return;
        }
        if (dn)
                ldns_dname2canonical(dn);
        n = ld_cache_flush(ctl->env.eng->cache, dn ? ldns_rdf_data(dn) : NULL,
                           dn ? ldns_rdf_size(dn) : 0);
        ldns_rdf_deep_free(dn);
        snprintf(body, sizeof(body), "flushed %zu\n", n);
        ctl_reply(c, NULL, body, strlen(body));
}

/* The most a request may hold: one line, or a batch's header and lines. */
static size_t ctl_in_max(const struct ctl_conn *c)
{
        return c->batch ? CTL_BATCH_MAX : CTL_LINE_MAX;
}

/* Room for more of the request: grown as it arrives, so an idle client costs nothing. */
static int ctl_in_grow(struct ctl_conn *c)
{
        size_t cap = c->incap ? c->incap * 2 : CTL_IN_FIRST;
        char *in;

        if (cap > ctl_in_max(c))
                cap = ctl_in_max(c);
        if (!(in = realloc(c->in, cap)))
                return -ENOMEM;
        c->in = in;
        c->incap = cap;
        return 0;
}

/* The first line "batch LINES" announces a batch: 1 (c->batch set), 0 for any other
 * request, or -EINVAL with why. */
static int ctl_batch_header(struct ctl_conn *c, const char *line, size_t len, const char **why)
{
        static const char word[] = "batch";
        size_t n = 0, i = sizeof(word);

        if (len < sizeof(word) - 1 || memcmp(line, word, sizeof(word) - 1) != 0 ||
            (len > sizeof(word) - 1 && line[sizeof(word) - 1] != ' '))
                return 0;
        for (; i < len && line[i] >= '0' && line[i] <= '9' && n <= LD_BATCH_LINES; i++)
                n = n * 10 + (size_t)(line[i] - '0');
        if (len <= sizeof(word) || i != len || n == 0 || n > LD_BATCH_LINES) {
                *why =
                    "batch: the header must be 'batch LINES', LINES 1 to " LD_STR(LD_BATCH_LINES);
                return -EINVAL;
        }
        c->batch = n;
        return 1;
}

/* Looks for the end of the request: 1 when it is whole (c->scanned is its length), 0 when
 * more must come, -EINVAL with why. */
static int ctl_scan(struct ctl_conn *c, const char **why)
{
        char *nl;

        while ((nl = memchr(c->in + c->scanned, '\n', c->inlen - c->scanned))) {
                size_t start = c->scanned;
                int rc;

                c->scanned = (size_t)(nl - c->in) + 1;
                if (start == 0 && (rc = ctl_batch_header(c, c->in, c->scanned - 1, why)) <= 0)
                        return rc < 0 ? rc : 1;
                if (start == 0)
                        continue;
                if (++c->lines < c->batch)
                        continue;
                if (c->scanned != c->inlen) {
                        *why = "batch: more lines than its header announced";
                        return -EINVAL;
                }
                return 1;
        }
        c->scanned = c->inlen;
        if (c->inlen == ctl_in_max(c) - 1) {
                *why = c->batch ? "batch longer than " LD_STR(LD_BATCH_BYTES) " bytes"
                                : "request too long";
                return -EINVAL;
        }
        return 0;
}

static void ctl_request(struct ld_control *ctl, struct ctl_conn *c, char *req)
{
        struct ld_cmd cmd;
        char err[512];
        int rc;

        if (c->batch) {
                if (!ctl->shadow)
                        ctl_reply(c, "the table cannot be changed until a reload", NULL, 0);
                else
                        ctl_batch(ctl, c, strchr(req, '\n') + 1, c->batch);
                return;
        }
        req[strcspn(req, "\n")] = '\0';
        if ((rc = ld_cmd_parse(req, &cmd, err, sizeof(err))) != 0) {
                ctl_reply(c, rc > 0 ? "empty request" : err, NULL, 0);
                return;
        }
        if (ld_cmd_is_change(&cmd)) {
                if (!ctl->shadow)
                        ctl_reply(c, "the table cannot be changed until a reload", NULL, 0);
                else
                        ctl_change(ctl, c, &cmd);
        } else if (cmd.kind == LD_CMD_FLUSH) {
                ctl_flush(ctl, c, &cmd);
        } else if (cmd.kind == LD_CMD_RELOAD) {
                c->awaits_reload = true;
                ctl->reload_pending = true;
                ctl_kick(ctl);
        } else {
                ctl_report(ctl, c, &cmd);
        }
        ld_cmd_clear(&cmd);
}

static void ctl_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ctl_conn *c = w->data;
        const char *why = NULL;
        char *req, msg[96];
        ssize_t n;
        int rc;
        (void)revents;

        if (c->inlen + 1 >= c->incap && ctl_in_grow(c) < 0) {
                ctl_reply(c, "out of memory", NULL, 0);
                return;
        }
        n = recv(w->fd, c->in + c->inlen, c->incap - 1 - c->inlen, 0);
        if (n == 0 && c->batch) { /* a batch that lied about its count is told so */
                snprintf(msg, sizeof(msg), "batch: ended after %zu of the %zu lines announced",
                         c->lines, c->batch);
                ctl_reply(c, msg, NULL, 0);
                return;
        }
        if (n <= 0) {
                if (n == 0 || (errno != EAGAIN && errno != EINTR))
                        ctl_conn_close(c);
                return;
        }
        c->inlen += (size_t)n;
        if ((rc = ctl_scan(c, &why)) <= 0) {
                if (rc < 0)
                        ctl_reply(c, why, NULL, 0);
                return;
        }
        if (memchr(c->in, '\0', c->scanned)) {
                ctl_reply(c, "NUL byte in the request", NULL, 0);
                return;
        }
        c->in[c->scanned] = '\0';
        ev_io_stop(loop, w);
        ev_timer_stop(loop, &c->timer);
        /* The request is read: its buffer goes now, the reply may close the connection. */
        req = c->in;
        c->in = NULL;
        c->inlen = c->incap = 0;
        ctl_request(c->ctl, c, req);
        free(req);
}

static void ctl_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct ctl_conn *c = w->data;
        (void)loop;
        (void)revents;

        ld_debug("control: a client took longer than %.0f s: closed", CTL_TIMEOUT);
        ctl_conn_close(c);
}

/* Root, or a member of --control-group; anyone else is told why and refused. */
static bool ctl_allowed(const struct ld_control *ctl, int fd, char *why, size_t len)
{
        struct ucred cr;
        socklen_t sl = sizeof(cr);
        char path[64], line[4096];
        bool ok = false;
        FILE *f;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) < 0)
                return false;
        if (cr.uid == 0)
                return true;
        if (ctl->env.group) {
                snprintf(path, sizeof(path), "/proc/%d/status", (int)cr.pid);
                if ((f = fopen(path, "re"))) {
                        while (!ok && fgets(line, sizeof(line), f)) {
                                if (strncmp(line, "Groups:", 7) != 0)
                                        continue;
                                for (char *p = line + 7, *e; *p; p = e) {
                                        unsigned long g = strtoul(p, &e, 10);
                                        if (e == p)
                                                break;
                                        ok = ok || g == ctl->gid;
                                }
                        }
                        fclose(f);
                }
                ok = ok || cr.gid == ctl->gid;
        }
        if (!ok)
                snprintf(why, len, "permission denied: uid %u is not root%s%s", (unsigned)cr.uid,
                         ctl->env.group ? " nor in group " : "",
                         ctl->env.group ? ctl->env.group : "");
        return ok;
}

/* At the cap the oldest client still sending its request makes room, else the oldest
 * not reading its reply; one waiting on the daemon (a change, a reload) is never dropped. */
static bool ctl_make_room(struct ld_control *ctl)
{
        if (ctl->nconns < CTL_CONN_MAX)
                return true;
        for (int pass = 0; pass < 2; pass++) {
                for (struct ctl_conn *c = ctl->conns; c; c = c->next) {
                        /* one waiting for its change or reload has neither started */
                        if (ev_is_active(pass == 0 ? &c->rw : &c->ww)) {
                                ctl_conn_close(c);
                                return true;
                        }
                }
        }
        return false;
}

static void ctl_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ld_control *ctl = w->data;
        static const char busy[] = "error too many control connections\n";
        char why[256];
        (void)revents;

        for (;;) {
                int fd = ld_accept(&ctl->acc, NULL, NULL);
                struct ctl_conn *c;

                if (fd == -EINTR || fd == -ECONNABORTED)
                        continue;
                if (fd < 0)
                        return; /* nothing waits, or the socket rests (ld_accept) */
                if (!ctl_make_room(ctl)) {
                        if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                                ld_debug("control: cannot refuse a client: %s", strerror(errno));
                        close(fd);
                        continue;
                }
                if (!(c = calloc(1, sizeof(*c)))) {
                        close(fd);
                        ld_accept_pause(&ctl->acc, ENOMEM);
                        return;
                }
                c->ctl = ctl;
                LD_LIST_APPEND(ctl->conns, ctl->conns_tail, c);
                ctl->nconns++;
                ev_io_init(&c->rw, ctl_read_cb, fd, EV_READ);
                ev_io_init(&c->ww, ctl_write_cb, fd, EV_WRITE);
                ev_timer_init(&c->timer, ctl_timeout_cb, CTL_TIMEOUT, 0.);
                c->rw.data = c->ww.data = c->timer.data = c;
                if (!ctl_allowed(ctl, fd, why, sizeof(why))) {
                        ld_warn("control: %s", why);
                        ctl_reply(c, why, NULL, 0);
                        continue;
                }
                ev_io_start(loop, &c->rw);
                ev_timer_start(loop, &c->timer);
        }
}

/* Binds the socket: a stale file from a crash is replaced, a live daemon's is not. */
static int ctl_listen(struct ld_control *ctl)
{
        const char *path = ctl->env.socket_path;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char *copy;
        mode_t old;
        int fd, rc;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        if ((copy = strdup(path))) {
                mkdir(dirname(copy), 0755);
                free(copy);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
                close(fd);
                return -EADDRINUSE;
        }
        unlink(path);
        old = umask(0177);
        rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (rc < 0 || listen(fd, 128) < 0) {
                rc = -errno;
                close(fd);
                return rc;
        }
        if (ctl->env.group && (chown(path, 0, ctl->gid) < 0 || chmod(path, 0660) < 0)) {
                rc = -errno;
                close(fd);
                return rc;
        }
        return fd;
}

int ld_control_new(const struct ld_control_env *env, struct ld_control **out)
{
        struct ld_control *ctl = calloc(1, sizeof(*ctl));
        int rc;

        if (!ctl)
                return -ENOMEM;
        ctl->env = *env;
        ctl->fd = -1;
        ctl->qtail = &ctl->queue;
        ctl->started = ld_clock_ms();
        if (env->group) {
                struct group *g = getgrnam(env->group);
                if (!g) {
                        ld_err("control group '%s' does not exist", env->group);
                        free(ctl);
                        return -ENOENT;
                }
                ctl->gid = g->gr_gid;
        }
        ctl_shadow_reset(ctl);
        ctl->must_compact = env->eng->table->torn;
        ld_accept_init(&ctl->acc, env->loop, &ctl->lw, "control");
        rc = ctl->shadow
                 ? ld_state_new(env->loop, env->state_path, ctl_state_done, ctl, &ctl->state)
                 : -ENOMEM;
        if (rc == 0 && (rc = ctl_listen(ctl)) >= 0) {
                ctl->fd = rc;
                rc = 0;
        }
        if (rc < 0) {
                ld_control_free(ctl);
                return rc;
        }
        ev_io_init(&ctl->lw, ctl_accept_cb, ctl->fd, EV_READ);
        ctl->lw.data = ctl;
        ev_io_start(env->loop, &ctl->lw);
        *out = ctl;
        return 0;
}

void ld_control_compact(struct ld_control *ctl)
{
        ctl->compact_wanted = true;
        ctl_kick(ctl);
}

void ld_control_reload(struct ld_control *ctl)
{
        ctl->reload_pending = true;
        ctl_kick(ctl);
}

void ld_control_free(struct ld_control *ctl)
{
        if (!ctl)
                return;
        ld_state_free(ctl->state); /* waits for a write in flight: nothing acknowledged is lost */
        while (ctl->conns)
                ctl_conn_close(ctl->conns);
        for (struct ctl_item *i = ctl->queue, *next; i; i = next) {
                next = i->next;
                ctl_item_free(i);
        }
        for (struct ctl_item *i = ctl->inflight, *next; i; i = next) {
                next = i->next;
                ctl_item_free(i);
        }
        ld_accept_fini(&ctl->acc);
        if (ctl->fd >= 0) {
                ev_io_stop(ctl->env.loop, &ctl->lw);
                close(ctl->fd);
                unlink(ctl->env.socket_path);
        }
        ld_table_free(ctl->shadow);
        free(ctl);
}
