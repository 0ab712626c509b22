/* test_runtime: container IDs, registration names and annotation lists (src/runtime.c). */
#include "command.h"
#include "runtime.h"
#include "tap.h"

#include <stdbool.h>
#include <string.h>

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_container_id(void)
{
        char id[LD_RT_ID_MAX + 1];

        TAP_OK(ld_rt_container_id(ID64, id) == 0 && strcmp(id, ID64) == 0, "a 64-hex ID");
        TAP_OK(ld_rt_container_id("default-" ID64, id) == 0 && strcmp(id, ID64) == 0,
               "nerdctl's <namespace>- prefix removed");
        TAP_OK(ld_rt_container_id("0123456789ab", id) == 0, "12 hex digits suffice");
        TAP_OK(ld_rt_container_id("0123456789a", id) < 0, "11 are too few");
        TAP_OK(ld_rt_container_id(ID64 "0", id) < 0, "65 are too many");
        TAP_OK(ld_rt_container_id(ID64 "-x", id) < 0, "the hex run must end the ID");
        TAP_OK(ld_rt_container_id("0123456789ABCDEF", id) < 0, "uppercase is no runtime ID");
        TAP_OK(ld_rt_container_id("", id) < 0 && ld_rt_container_id(NULL, id) < 0, "empty, NULL");
        TAP_OK(ld_rt_id_valid(ID64) && ld_rt_id_valid("0123456789ab"), "a whole ID");
        TAP_OK(!ld_rt_id_valid("default-" ID64) && !ld_rt_id_valid("zzzzzzzzzzzz") &&
                   !ld_rt_id_valid("0123456789ABCDEF") && !ld_rt_id_valid(""),
               "a prefix, other letters, uppercase, empty: no whole ID");
}

static void test_name(void)
{
        char name[LD_NAME_MAX + 1], alias[LD_ALIAS_MAX + 1];

        ld_rt_name("db", ID64, name, alias);
        TAP_OK(strcmp(name, "db") == 0 && alias[0] == '\0', "a valid NAME is kept");
        ld_rt_name("web.example", ID64, name, alias);
        TAP_OK(strcmp(name, "0123456789ab") == 0 && strcmp(alias, "web.example") == 0,
               "a dotted name: the short ID, the name as alias");
        ld_rt_name("no way", ID64, name, alias);
        TAP_OK(strcmp(name, "0123456789ab") == 0 && alias[0] == '\0',
               "neither NAME nor alias: the short ID alone");
        ld_rt_name(NULL, ID64, name, NULL);
        TAP_OK(strcmp(name, "0123456789ab") == 0, "no name: the short ID");
        ld_rt_name("", ID64, name, alias);
        TAP_OK(strcmp(name, "0123456789ab") == 0 && alias[0] == '\0', "empty: the short ID");
        char long_name[LD_NAME_MAX + 2];
        memset(long_name, 'a', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = '\0';
        ld_rt_name(long_name, ID64, name, alias);
        TAP_OK(strcmp(name, "0123456789ab") == 0, "64 characters: too long for a NAME");
}

/* The items of list joined by '|'. */
static const char *items(const char *list)
{
        static char out[256];
        const char *cur = list, *item;
        size_t len, n = 0;

        out[0] = '\0';
        while ((item = ld_rt_item(&cur, &len)) && n + len + 2 < sizeof out) {
                if (n)
                        out[n++] = '|';
                memcpy(out + n, item, len);
                n += len;
                out[n] = '\0';
        }
        return out;
}

static void test_items(void)
{
        TAP_OK(strcmp(items("db:database other:x"), "db:database|other:x") == 0, "spaces");
        TAP_OK(strcmp(items("db:database,other:x"), "db:database|other:x") == 0, "commas");
        TAP_OK(strcmp(items("  a ,, b\t\nc,"), "a|b|c") == 0, "runs of separators, ends");
        TAP_OK(strcmp(items(""), "") == 0 && strcmp(items(" , "), "") == 0, "empty lists");
        TAP_OK(strcmp(items("one"), "one") == 0, "one item");
}

int main(void)
{
        test_container_id();
        test_name();
        test_items();
        return tap_done();
}
