/* fuzz_table: arbitrary bytes as a link table; it loads or is refused with a message, and
 * what loads gives the same canonical snapshot once written and read back (a restart). */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_dump(const struct ld_table *t, size_t *len)
{
        char *buf = NULL;
        FILE *f = open_memstream(&buf, len);

        if (!f)
                abort();
        ld_table_dump(t, f);
        fclose(f);
        return buf;
}

/* The snapshot read back is the same table: its own snapshot is byte for byte the same. */
static void fuzz_round_trip(const struct ld_table *t)
{
        struct ld_table *t2 = NULL;
        char err[512] = "";
        size_t len1, len2;
        char *s1 = fuzz_dump(t, &len1), *s2;

        if (ld_table_load_buf(s1, len1, "fuzz", false, &t2, err, sizeof(err)) < 0) {
                fprintf(stderr, "fuzz_table: the snapshot does not load: %s\n%s", err, s1);
                abort();
        }
        s2 = fuzz_dump(t2, &len2);
        if (len1 != len2 || memcmp(s1, s2, len1) != 0) {
                fprintf(stderr, "fuzz_table: the snapshot changed on reload:\n%s---\n%s", s1, s2);
                abort();
        }
        free(s1);
        free(s2);
        ld_table_free(t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ld_table *t = NULL;
        char err[512] = "";
        int rc = ld_table_load_buf((const char *)data, size, "fuzz", true, &t, err, sizeof(err));

        if (rc < 0 && (t || strncmp(err, "fuzz:", 5) != 0)) {
                fprintf(stderr, "fuzz_table: refusal without a file:line message: '%s'\n", err);
                abort();
        }
        if (t)
                fuzz_round_trip(t);
        ld_table_free(t);
        return 0;
}
