/* test_net: networks in the table — one attach costs its own entries (no member's view is
 * rebuilt), refused changes change nothing, and the shared (network, name) entries. */
#include "command.h"
#include "table.h"
#include "table_apply.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dump(const struct ld_table *t)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ld_table_dump(t, f);
        fclose(f);
        return buf;
}

static const struct ld_nname *nname(const struct ld_table *t, const char *net, const char *name)
{
        uint8_t key[LD_KEY_MAX];
        size_t len = ld_view_key(name, key);

        return ld_view_nname(&t->views, ld_table_net(t, net)->id, key, len);
}

int main(void)
{
        struct ld_table *t;
        char err[256], line[256];
        enum { N = 500 };
        struct ld_vname *before[N];
        bool same = true;
        char *d0, *d1;

        ld_table_load_buf("net n\n", 6, "test", true, &t, err, sizeof(err));
        for (int i = 0; i < N; i++) {
                snprintf(line, sizeof(line), "add c%d", i);
                apply(t, line, err, sizeof(err));
                snprintf(line, sizeof(line), "attach c%d n --addr 10.1.%d.%d --alias svc", i,
                         i / 250, i % 250 + 1);
                apply(t, line, err, sizeof(err));
        }
        for (int i = 0; i < N; i++) {
                snprintf(line, sizeof(line), "c%d", i);
                before[i] = ld_table_find(t, line)->cview.names;
        }
        TAP_OK(apply(t, "add extra", err, sizeof(err)) == 0, "add extra");
        TAP_OK(apply(t, "attach extra n --addr 10.9.0.1 --alias svc --alias a.b.c", err,
                     sizeof(err)) == 0,
               "attach extra: %s", err);
        for (int i = 0; i < N; i++) {
                snprintf(line, sizeof(line), "c%d", i);
                same = same && ld_table_find(t, line)->cview.names == before[i];
        }
        TAP_OK(same, "no member's view was rebuilt by the attach");
        TAP_OK(nname(t, "n", "svc")->naliased == N + 1, "svc is held by every member");
        TAP_OK(nname(t, "n", "extra")->named == ld_table_find(t, "extra"), "extra by name");
        TAP_OK(nname(t, "n", "b.c") && nname(t, "n", "b.c")->ents == 1 &&
                   !nname(t, "n", "b.c")->named && !nname(t, "n", "b.c")->naliased,
               "b.c: the empty parent of a.b.c");

        TAP_OK(apply(t, "add x2", err, sizeof(err)) == 0, "add x2");
        d0 = dump(t);
        static const char *const refused[] = {
            "unnet n",
            "attach extra n",
            "attach x2 n --addr 10.9.0.1",
            "attach nosuch n",
            "attach extra nosuch",
            "detach extra nosuch",
            "net n --internal",
            "net m --internal --dns 10.0.0.1",
        };
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                int rc = apply(t, refused[i], err, sizeof(err));
                d1 = dump(t);
                TAP_OK(rc < 0 && strcmp(d0, d1) == 0, "refused, nothing changed: %s (%s)",
                       refused[i], err);
                free(d1);
        }
        free(d0);

        TAP_OK(apply(t, "detach extra n", err, sizeof(err)) == 0, "detach extra");
        TAP_OK(nname(t, "n", "svc")->naliased == N && !nname(t, "n", "b.c") &&
                   !nname(t, "n", "extra"),
               "its entries are gone, the others' stay");
        TAP_OK(apply(t, "rm c0", err, sizeof(err)) == 0 && nname(t, "n", "svc")->naliased == N - 1,
               "rm removes the attachment");
        ld_table_free(t);
        return tap_done();
}
