/* test_table: the table's apply and its undo, refusals that change nothing, and the one
 * change path (change.c) telling its observers the same way for a live change and a reload. */
#include <stdbool.h>

#include "change.h"
#include "command.h"
#include "engine.h"
#include "table.h"
#include "table_apply.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BASE[] = "add db --addr 10.0.0.2 --expose 5432/tcp\n"
                           "add web --addr 10.0.0.3 --publish 8080:80/tcp\n"
                           "add web2 --addr 10.0.0.4 --addr fd00::4\n"
                           "add cache --addr 10.0.0.5 --addr 10.0.0.6\n"
                           "link web db\n"
                           "link web2 db:database\n"
                           "link web cache:kv\n"
                           "link web2 cache:kv\n";

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything a client could see of t, independent of view ids and build order: the
 * canonical dump (names, links in order), then per container its view's names with their
 * targets, its reverse names and who owns its addresses, as sorted lines. */
static char *fingerprint(const struct ld_table *t)
{
        char *lines[4096], *out = NULL;
        size_t n = 0, outlen = 0;
        FILE *f = open_memstream(&out, &outlen);

        ld_table_dump(t, f);
        for (const struct ld_container *c = t->head; c; c = c->next) {
                const struct ld_cview *cv = &c->cview;
                for (size_t i = 0; i < cv->nnames && n < 4096; i++) {
                        char *l = NULL;
                        size_t ll = 0;
                        FILE *g = open_memstream(&l, &ll);
                        fprintf(g, "%s: %s ->", c->spec.name, cv->names[i].label);
                        for (uint32_t k = 0; k < cv->names[i].ntargets; k++)
                                fprintf(g, " %s", cv->names[i].targets[k]->spec.name);
                        fclose(g);
                        lines[n++] = l;
                }
                for (size_t i = 0; i < cv->nptrs && n < 4096; i++) {
                        char a[64], *l = NULL;
                        size_t ll = 0;
                        FILE *g = open_memstream(&l, &ll);
                        ld_addr_format(&cv->ptrs[i].addr, a, sizeof(a));
                        fprintf(g, "%s: ptr %s %s", c->spec.name, a, cv->ptrs[i].label);
                        fclose(g);
                        lines[n++] = l;
                }
                for (size_t i = 0; i < c->spec.naddrs && n < 4096; i++) {
                        const struct ld_owner *o = ld_views_owner(&t->views, &c->spec.addrs[i]);
                        char a[64], *l = NULL;
                        size_t ll = 0;
                        FILE *g = open_memstream(&l, &ll);
                        ld_addr_format(&c->spec.addrs[i], a, sizeof(a));
                        fprintf(g, "owner %s:", a);
                        for (uint32_t k = 0; o && k < o->nowners; k++)
                                fprintf(g, " %s", o->owners[k]->spec.name);
                        fclose(g);
                        lines[n++] = l;
                }
        }
        qsort(lines, n, sizeof(*lines), cmp_str);
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s\n", lines[i]);
                free(lines[i]);
        }
        fclose(f);
        return out;
}

static struct ld_table *load(const char *text)
{
        struct ld_table *t = NULL;
        char err[512];

        if (ld_table_load_buf(text, strlen(text), "test", true, &t, err, sizeof(err)) < 0)
                printf("# load: %s\n", err);
        return t;
}

/* Applies each of lines, then each of undo, and compares the table with the one before. */
static void check_undo(const char *what, const char *const *lines, const char *const *undo)
{
        struct ld_table *t = load(BASE);
        char *before = fingerprint(t), *middle, *after, err[512];
        bool ok = true;

        for (; *lines; lines++)
                ok = ok && apply(t, *lines, err, sizeof(err)) == 0;
        middle = fingerprint(t);
        for (; *undo; undo++)
                ok = ok && apply(t, *undo, err, sizeof(err)) == 0;
        after = fingerprint(t);
        TAP_OK(ok, "%s: applied and undone", what);
        TAP_OK(strcmp(before, middle) != 0, "%s: changed the table", what);
        TAP_OK(strcmp(before, after) == 0, "%s: its undo leaves names, links and views as before",
               what);
        if (strcmp(before, after) != 0)
                printf("# before:\n%s# after:\n%s", before, after);
        free(before);
        free(middle);
        free(after);
        ld_table_free(t);
}

static void test_undo(void)
{
        check_undo("add", (const char *const[]){"add queue --addr 10.0.0.9", NULL},
                   (const char *const[]){"rm queue", NULL});
        check_undo("add and link",
                   (const char *const[]){"add queue --addr 10.0.0.9", "link queue db:store",
                                         "link web queue", NULL},
                   (const char *const[]){"unlink web queue", "rm queue", NULL});
        check_undo("link as a replica", (const char *const[]){"link web db:kv", NULL},
                   (const char *const[]){"unlink web kv db", NULL});
        /* Links keep their order of creation: the undo of unlinking the last one is exact
         * (an earlier one would come back last). */
        check_undo("unlink", (const char *const[]){"unlink web2 kv", NULL},
                   (const char *const[]){"link web2 cache:kv", NULL});
        /* rm of a target: its links go too; re-adding it and its links (in their order)
         * gives the same table (the dump's link order is part of it). */
        check_undo("rm", (const char *const[]){"rm cache", NULL},
                   (const char *const[]){"add cache --addr 10.0.0.5 --addr 10.0.0.6",
                                         "link web cache:kv", "link web2 cache:kv", NULL});
        check_undo(
            "add --replace", (const char *const[]){"add db --replace --addr 10.0.0.7", NULL},
            (const char *const[]){"add db --replace --addr 10.0.0.2 --expose 5432/tcp", NULL});
        check_undo("shared address",
                   (const char *const[]){"add twin --addr 10.0.0.2", "link twin web", NULL},
                   (const char *const[]){"rm twin", NULL});
}

static void check_refused(const char *line, const char *why)
{
        struct ld_table *t = load(BASE);
        char *before = fingerprint(t), *after, err[512] = "";
        int rc = apply(t, line, err, sizeof(err));

        after = fingerprint(t);
        TAP_OK(rc < 0 && strstr(err, why), "refused: %s (%s)", line, err);
        TAP_OK(strcmp(before, after) == 0, "refused: %s leaves nothing changed", line);
        free(before);
        free(after);
        ld_table_free(t);
}

static void test_refused(void)
{
        check_refused("add db --addr 10.0.0.8", "already exists");
        check_refused("rm nobody", "does not exist");
        check_refused("link web nobody", "does not exist");
        check_refused("link nobody db", "does not exist");
        check_refused("link web db", "already links");
        check_refused("unlink web nothing", "has no link");
        check_refused("unlink web kv web2", "has no link");
}

/* --- the change path ---------------------------------------------------------------- */

struct seen {
        char log[4096];
        size_t len;
        struct ld_table *old; /* REPLACING's */
};

static void observe(void *arg, const struct ld_change_event *ev)
{
        static const char *const kinds[] = {"leaving",   "entered",  "applied",
                                            "replacing", "replaced", "done"};
        struct seen *s = arg;

        s->len += (size_t)snprintf(s->log + s->len, sizeof(s->log) - s->len, "%s%s%s%s;",
                                   kinds[ev->kind], ev->c ? " " : "", ev->c ? ev->c->spec.name : "",
                                   ev->reload ? " reload" : "");
        if (ev->kind == LD_CHANGE_REPLACING)
                s->old = ev->old;
}

static int change(struct ld_change *ch, const char *line)
{
        struct ld_cmd cmd;
        char err[512];
        int rc = ld_cmd_parse(line, &cmd, err, sizeof(err));

        if (rc == 0)
                rc = ld_change_apply(ch, &cmd, err, sizeof(err));
        ld_cmd_clear(&cmd);
        return rc;
}

static void test_change_path(void)
{
        struct ld_engine eng;
        struct ld_change ch;
        struct seen a = {.len = 0}, b = {.len = 0};
        struct ld_table *old, *next;
        char *before, *after;
        uint32_t serial;

        if (ld_engine_init(&eng, "docker", 60, false) < 0) {
                TAP_OK(false, "server set up");
                return;
        }
        ld_engine_set_table(&eng, load(BASE));
        ld_change_init(&ch, &eng);
        TAP_OK(ld_change_observe(&ch, observe, &a) == 0 && ld_change_observe(&ch, observe, &b) == 0,
               "observers registered");

        TAP_OK(change(&ch, "add queue --addr 10.0.0.9") == 0, "live add");
        TAP_OK(change(&ch, "link web queue") == 0, "live link");
        TAP_OK(change(&ch, "add db --replace --addr 10.0.0.7") == 0, "live replace");
        TAP_OK(change(&ch, "rm cache") == 0, "live rm");
        TAP_OK(strcmp(a.log, "entered queue;applied;applied;leaving db;entered db;applied;"
                             "leaving cache;applied;") == 0,
               "live changes: what left, what entered, each applied (%s)", a.log);
        TAP_OK(strcmp(a.log, b.log) == 0, "every observer is told the same, in order");

        /* A refusal tells nobody and leaves the served table as it was. */
        a.len = 0;
        a.log[0] = '\0';
        before = fingerprint(eng.table);
        TAP_OK(change(&ch, "add web --addr 10.0.0.8") < 0, "live add of an existing name refused");
        TAP_OK(change(&ch, "rm nobody") < 0, "live rm of a missing name refused");
        after = fingerprint(eng.table);
        TAP_OK(a.len == 0, "a refused change tells no observer (%s)", a.log);
        TAP_OK(strcmp(before, after) == 0, "a refused change leaves the served table as it was");
        free(before);
        free(after);

        serial = eng.cfg.serial;
        ld_change_commit(&ch);
        TAP_OK(eng.cfg.serial == serial + 1, "a commit grows the engine's serial");
        TAP_OK(strcmp(a.log, "done;") == 0, "a commit tells done (%s)", a.log);

        /* A reload: the new table replaces the served one, observers see both. */
        a.len = 0;
        old = eng.table;
        next = load("add solo --addr 10.0.1.1\n");
        serial = eng.cfg.serial;
        ld_change_replace(&ch, next);
        TAP_OK(a.old == old, "replacing: the observers see the old table");
        TAP_OK(eng.table == next && eng.cfg.views == &next->views, "the new table is served");
        TAP_OK(eng.cfg.serial != serial, "a reload grows the engine's serial");
        TAP_OK(strcmp(a.log, "replacing reload;replaced reload;done reload;") == 0,
               "a reload: replacing, replaced, done (%s)", a.log);
        TAP_OK(ld_table_find(eng.table, "solo") && !ld_table_find(eng.table, "web"),
               "the reloaded table is the one loaded");
        ld_engine_fini(&eng);
}

/* A reload-like replace of a table by a copy loaded from its own dump: the same table. */
static void test_reload_copy(void)
{
        struct ld_table *t = load(BASE), *copy = NULL;
        char *text = NULL, *a, *b, err[512];
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        apply(t, "unlink web kv", err, sizeof(err));
        apply(t, "link web cache:kv", err, sizeof(err));
        ld_table_dump(t, f);
        fclose(f);
        TAP_OK(ld_table_load_buf(text, len, "copy", true, &copy, err, sizeof(err)) == 0,
               "a table's dump loads back");
        a = fingerprint(t);
        b = copy ? fingerprint(copy) : strdup("");
        TAP_OK(strcmp(a, b) == 0, "and gives the same names, links and views");
        free(a);
        free(b);
        free(text);
        ld_table_free(copy);
        ld_table_free(t);
}

int main(void)
{
        test_undo();
        test_refused();
        test_change_path();
        test_reload_copy();
        return tap_done();
}
