/* fuzz_relay: arbitrary bytes as an upstream's answer; the rewritten reply must fit the
 * client's limit and be well formed: its counts match its records, every name stays in
 * bounds with pointers back to prior occurrences, nothing trails. (ldns is no oracle
 * here: it refuses some well-formed messages, such as an OPT after type-0 records.) */
#include "relay.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* The offset after the name at off, or 0 if it is malformed. */
static size_t name_end(const uint8_t *m, size_t len, size_t off)
{
        size_t end = 0, bound = len;

        for (int steps = 0; steps < 256; steps++) {
                if (off >= bound)
                        return 0;
                uint8_t l = m[off];
                if ((l & 0xc0) == 0xc0) {
                        if (off + 2 > bound)
                                return 0;
                        size_t to = (size_t)(l & 0x3f) << 8 | m[off + 1];
                        if (to < 12 || to >= off) /* names only, never the header */
                                return 0;
                        if (!end)
                                end = off + 2;
                        bound = off; /* a name reached by a pointer lies wholly before it */
                        off = to;
                        continue;
                }
                if (l > 63 || (off += 1u + l) > bound)
                        return 0;
                if (l == 0)
                        return end ? end : off;
        }
        return 0;
}

static bool well_formed(const uint8_t *m, size_t len)
{
        size_t off = 12;
        unsigned qd = (unsigned)(m[4] << 8 | m[5]);
        unsigned rrs = (unsigned)(m[6] << 8 | m[7]) + (unsigned)(m[8] << 8 | m[9]) +
                       (unsigned)(m[10] << 8 | m[11]);

        for (unsigned i = 0; i < qd; i++)
                if (!(off = name_end(m, len, off)) || (off += 4) > len)
                        return false;
        for (unsigned i = 0; i < rrs; i++) {
                if (!(off = name_end(m, len, off)) || off + 10 > len)
                        return false;
                off += 10u + (size_t)(m[off + 8] << 8 | m[off + 9]);
                if (off > len)
                        return false;
        }
        return off == len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t out[65535];
        static const size_t limits[] = {512, 1232, 65535};

        for (size_t i = 0; i < 3; i++) {
                size_t n = ld_relay_rewrite(data, size, 0x1234, i != 0, i == 1, limits[i], out,
                                            sizeof(out));
                if (n == 0)
                        continue;
                if (n > limits[i] || n < 12 || !well_formed(out, n)) {
                        fprintf(stderr, "fuzz_relay: %zu-byte reply (limit %zu) is malformed\n", n,
                                limits[i]);
                        abort();
                }
        }
        return 0;
}
