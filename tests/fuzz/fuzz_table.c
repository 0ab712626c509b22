/* fuzz_table: arbitrary bytes as a link table; it loads or is refused with a message. */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ld_table *t = NULL;
        char err[512] = "";
        int rc = ld_table_load_buf((const char *)data, size, "fuzz", true, &t, err, sizeof(err));

        if (rc < 0 && (t || strncmp(err, "fuzz:", 5) != 0)) {
                fprintf(stderr, "fuzz_table: refusal without a file:line message: '%s'\n", err);
                abort();
        }
        ld_table_free(t);
        return 0;
}
