/* fuzz_relay: arbitrary bytes as an upstream's answer; the rewritten reply must parse and
 * fit the client's limit. */
#include "relay.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t out[65535];
        static const size_t limits[] = {512, 1232, 65535};

        for (size_t i = 0; i < 3; i++) {
                size_t n = ld_relay_rewrite(data, size, 0x1234, i != 0, i == 1, limits[i], out,
                                            sizeof(out));
                ldns_pkt *pkt = NULL;
                if (n == 0)
                        continue;
                if (n > limits[i] || n < 12) {
                        fprintf(stderr, "fuzz_relay: %zu bytes over limit %zu\n", n, limits[i]);
                        abort();
                }
                if (ldns_wire2pkt(&pkt, out, n) != LDNS_STATUS_OK) {
                        /* A compressed name may point past what was kept only if the
                         * upstream's own message was broken that way: accept only when
                         * the input itself does not parse. */
                        if (ldns_wire2pkt(&pkt, data, size) == LDNS_STATUS_OK) {
                                fprintf(stderr,
                                        "fuzz_relay: reply of a valid answer does not parse\n");
                                abort();
                        }
                }
                if (pkt)
                        ldns_pkt_free(pkt);
        }
        return 0;
}
