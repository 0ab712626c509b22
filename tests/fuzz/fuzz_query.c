/* fuzz_query: arbitrary bytes into the query handler, bytes out; every reply must be a
 * well-formed DNS message within the transport's size limit. */
#include "answer.h"
#include "engine.h"
#include "query.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char fuzz_table[] =
    "add db --addr 127.0.10.2 --addr fd00::2 --expose 5432/tcp --expose 53/udp\n"
    "add web --addr 127.0.10.3 --publish 8080:80/tcp\n"
    "add r1 --addr 127.0.10.5 --expose 80/tcp\n"
    "add r2 --addr 127.0.10.6 --addr 10.0.0.6 --expose 80/tcp\n"
    "add many --addr 127.0.10.7 --addr 127.0.10.8 --addr 127.0.10.9 --addr 127.0.10.10\n"
    "link web db\n"
    "link web r1:api\nlink web r2:api\nlink web many:m\nlink db web:front\n";

/* The engine, without forwarding or (upstream) with: a name not ours is then forwarded. */
static struct ld_engine *fuzz_server(bool upstream)
{
        static struct ld_engine engines[2];
        static int ready[2];
        struct ld_engine *eng = &engines[upstream];
        char err[256];
        struct ld_table *t;

        if (ready[upstream])
                return eng;
        if (ld_engine_init(eng, "link.internal", 10, upstream) < 0 ||
            ld_table_load_buf(fuzz_table, sizeof(fuzz_table) - 1, "fuzz", true, &t, err,
                              sizeof(err)) < 0) {
                fprintf(stderr, "fuzz_query: setup failed: %s\n", err);
                abort();
        }
        ld_engine_set_table(eng, t);
        ready[upstream] = 1;
        return eng;
}

static void fuzz_check(const uint8_t *out, struct ld_answer_result r, size_t limit)
{
        ldns_pkt *pkt = NULL;

        if (r.action == LD_ANSWER_DROP)
                return;
        if (r.len > limit || r.len < 12) {
                fprintf(stderr, "fuzz_query: reply of %zu bytes (limit %zu)\n", r.len, limit);
                abort();
        }
        if (ldns_wire2pkt(&pkt, out, r.len) != LDNS_STATUS_OK) {
                fprintf(stderr, "fuzz_query: reply does not parse\n");
                abort();
        }
        ldns_pkt_free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t out[65536];
        struct ld_engine *eng = fuzz_server(false), *up = fuzz_server(true);
        struct ld_query q;
        static const struct ld_addr sources[] = {
            {AF_INET, {127, 0, 10, 3}}, {AF_INET, {127, 0, 10, 2}}, {AF_INET, {127, 9, 9, 9}}};

        for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
                struct ld_answer_result r = ld_engine_handle(
                    eng, ld_engine_views_of(eng, &sources[i]), data, size, out, sizeof(out), false);
                fuzz_check(out, r, 1232);
        }
        struct ld_answer_result r = ld_engine_handle(eng, ld_engine_views_of(eng, &sources[0]),
                                                     data, size, out, sizeof(out), true);
        fuzz_check(out, r, 65535);
        /* forwarding on: a name to forward has no reply built, and the REFUSED that
         * dispatch sends without a forwarder is well formed */
        r = ld_engine_handle_parsed(up, ld_engine_views_of(up, &sources[0]), data, size, out,
                                    sizeof(out), false, &q);
        if (r.action == LD_ANSWER_FORWARD) {
                if (r.len != 0) {
                        fprintf(stderr, "fuzz_query: a reply built for a name to forward\n");
                        abort();
                }
                r.len = ld_answer_refused(&up->cfg, &q, false, out, sizeof(out));
                r.action = LD_ANSWER_SEND;
        }
        fuzz_check(out, r, 1232);
        return 0;
}
