/* fuzz_relay: arbitrary bytes as an upstream's answer, rewritten for a client; ldns, which
 * shares no code with relay.c, is the oracle. Whenever ldns reads the upstream's answer
 * record by record (ldns_wire2rr, each to the end its RDLENGTH gives), it must read the
 * reply the same way, to its last byte, and the reply must say the same: the client's ID
 * and spelling of the name, the upstream's flags and RCODE, the same question, a prefix of
 * the same records in the same sections (up to the upstream's first OPT, which goes with
 * what follows it), cut only where the next record would pass the client's limit and with
 * TC when that record is an answer or authority, and our OPT exactly when the client sent
 * EDNS. ldns reads both as fuzz_msg.c does. */
#include "fuzz_msg.h"
#include "relay.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What is wrong with the reply o (n octets, raw w) to the answer i (raw a), or NULL. */
static const char *differs(const struct fuzz_msg *i, const uint8_t *a, const struct fuzz_msg *o,
                           const uint8_t *w, size_t n, const struct ld_relay_ask *c)
{
        size_t opt = 0, kept = o->n - (c->edns ? 1 : 0), used = n - (c->edns ? 11 : 0);
        bool cut, tc;

        while (opt < i->n && ldns_rr_get_type(i->rr[opt]) != LDNS_RR_TYPE_OPT)
                opt++;
        if (o->end != n)
                return "bytes after the records";
        if ((w[0] << 8 | w[1]) != c->id)
                return "not the client's ID";
        if ((w[2] & ~0x02) != (a[2] & ~0x02) || w[3] != a[3])
                return "the upstream's flags or RCODE changed";
        if (ldns_rr_compare(i->q, o->q) != 0)
                return "another question";
        if (fuzz_msg_same_but_case(ldns_rr_owner(i->q), c->name, c->namelen) &&
            memcmp(ldns_rdf_data(ldns_rr_owner(o->q)), c->name, c->namelen) != 0)
                return "not the client's spelling of the name";
        if (c->edns) {
                const ldns_rr *our = o->n ? o->rr[o->n - 1] : NULL;
                if (!our || ldns_rr_get_type(our) != LDNS_RR_TYPE_OPT ||
                    ldns_rr_get_class(our) != 1232 ||
                    ldns_rr_ttl(our) != (c->do_bit ? 0x8000u : 0) ||
                    ldns_rdf_size(ldns_rr_owner(our)) != 1 || ldns_rr_rd_count(our) != 0 ||
                    o->wire[o->n - 1] != 11)
                        return "not our OPT last";
        }
        if (kept > opt)
                return "records past the upstream's OPT, or added";
        for (size_t k = 0; k < kept; k++)
                if (ldns_rr_compare(i->rr[k], o->rr[k]) != 0)
                        return "records changed or reordered";
        if (o->an != (kept < i->an ? kept : i->an) ||
            o->ns != (kept < i->an           ? 0
                      : kept - i->an < i->ns ? kept - i->an
                                             : i->ns) ||
            o->ar != kept - o->an - o->ns + (c->edns ? 1 : 0))
                return "records moved between sections";
        cut = kept < opt;
        if (cut && used + i->wire[kept] + (c->edns ? 11 : 0) <= c->limit)
                return "a record cut that fitted";
        tc = (a[2] & 0x02) || (cut && kept < i->an + i->ns);
        if (!!(w[2] & 0x02) != tc)
                return tc ? "an answer or authority record cut without TC" : "TC without a cut";
        return NULL;
}

static void fail(const char *what, size_t n, size_t limit)
{
        fprintf(stderr, "fuzz_relay: %zu-byte reply (limit %zu): %s\n", n, limit, what);
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t out[65535];
        static const uint8_t name[] = "\3WwW\7eXample\4TEST";
        static const size_t limits[] = {512, 1232, 65535};
        static struct fuzz_msg in, o;
        bool readable = fuzz_msg_read(&in, data, size);

        for (size_t i = 0; i < 3; i++) {
                struct ld_relay_ask c = {0x1234, name, sizeof(name), i != 0, i == 1, limits[i]};
                size_t n = ld_relay_rewrite(data, size, &c, out, sizeof(out));
                const char *why;

                if (n == 0)
                        continue;
                if (n > limits[i] || n < 12)
                        fail("beyond the limit", n, limits[i]);
                if (!readable)
                        continue;
                if (!fuzz_msg_read(&o, out, n))
                        fail("ldns reads the answer, not the reply", n, limits[i]);
                if ((why = differs(&in, data, &o, out, n, &c)))
                        fail(why, n, limits[i]);
                fuzz_msg_free(&o);
        }
        fuzz_msg_free(&in);
        return 0;
}
