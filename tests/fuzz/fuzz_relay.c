/* fuzz_relay: arbitrary bytes as an upstream's answer, rewritten for a client; ldns, which
 * shares no code with relay.c, is the oracle. Whenever ldns reads the upstream's answer, it
 * must read the reply too, and the reply must say the same: the client's ID and spelling of
 * the name, the upstream's flags and RCODE, the same question, a prefix of the same records
 * (the upstream's OPT and what follows it dropped), TC when an answer or authority record
 * was cut, our OPT exactly when the client sent EDNS, and no more than the client's limit.
 * (ldns refuses some answers that relay.c may pass, such as an OPT after type-0 records:
 * those only get the size check.) */
#include "relay.h"

#include <ctype.h>
#include <ldns/ldns.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what, size_t n, size_t limit)
{
        fprintf(stderr, "fuzz_relay: %zu-byte reply (limit %zu): %s\n", n, limit, what);
        abort();
}

/* The records of the three sections in order, as one list (not owned). */
static size_t records(const ldns_pkt *p, const ldns_rr **out, size_t cap)
{
        const ldns_rr_list *sec[3] = {ldns_pkt_answer(p), ldns_pkt_authority(p),
                                      ldns_pkt_additional(p)};
        size_t n = 0;

        for (int s = 0; s < 3; s++)
                for (size_t i = 0; i < ldns_rr_list_rr_count(sec[s]) && n < cap; i++)
                        out[n++] = ldns_rr_list_rr(sec[s], i);
        return n;
}

/* Whether ldns reads every record of m to the end its RDLENGTH gives: for a known type it
 * reads the fields and trusts them, so a record whose RDATA is longer than its fields would
 * leave it reading the next one from the wrong place (and the reply, cut there, would not
 * read). Only such answers can be compared. */
static bool ldns_aligned(const uint8_t *m, size_t len)
{
        size_t pos = 12, nq = (size_t)(m[4] << 8 | m[5]);
        size_t nrr = (size_t)(m[6] << 8 | m[7]) + (size_t)(m[8] << 8 | m[9]) +
                     (size_t)(m[10] << 8 | m[11]);

        for (size_t i = 0; i < nq + nrr; i++) {
                size_t start = pos, end;
                ldns_rdf *owner = NULL;
                ldns_rr *rr = NULL;
                bool ok;

                if (ldns_wire2dname(&owner, m, len, &pos) != LDNS_STATUS_OK)
                        return false;
                ldns_rdf_deep_free(owner);
                if (i < nq) {
                        pos += 4;
                        continue;
                }
                if (pos + 10 > len)
                        return false;
                end = pos + 10 + (size_t)(m[pos + 8] << 8 | m[pos + 9]);
                pos = start;
                ok = ldns_wire2rr(&rr, m, len, &pos, LDNS_SECTION_ANSWER) == LDNS_STATUS_OK &&
                     pos == end;
                ldns_rr_free(rr);
                if (!ok)
                        return false;
        }
        return true;
}

/* Whether a and b are the same name but for the case of ASCII letters. */
static bool same_but_case(const ldns_rdf *a, const uint8_t *b, size_t len)
{
        if (ldns_rdf_size(a) != len)
                return false;
        for (size_t i = 0; i < len; i++)
                if (tolower(ldns_rdf_data(a)[i]) != tolower(b[i]))
                        return false;
        return true;
}

/* Whether an answer or authority record is an OPT: the relay stops there, without TC. */
static bool opt_before_additional(const ldns_rr **a, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (ldns_rr_get_type(a[i]) == LDNS_RR_TYPE_OPT)
                        return true;
        return false;
}

/* Compares what the reply must keep of the answer. */
static const char *differs(const ldns_pkt *in, const ldns_pkt *out, const struct ld_relay_ask *c)
{
        static const ldns_rr *a[65536], *b[65536];
        const ldns_rr *qi = ldns_rr_list_rr(ldns_pkt_question(in), 0);
        const ldns_rr *qo = ldns_rr_list_rr(ldns_pkt_question(out), 0);
        size_t na = records(in, a, 65536), nb = records(out, b, 65536);
        size_t an_in = ldns_pkt_ancount(in), an_out = ldns_pkt_ancount(out);
        size_t ns_in = ldns_pkt_nscount(in), ns_out = ldns_pkt_nscount(out);

        if (ldns_pkt_id(out) != c->id)
                return "not the client's ID";
        if (ldns_pkt_qr(out) != ldns_pkt_qr(in) ||
            ldns_pkt_get_opcode(out) != ldns_pkt_get_opcode(in) ||
            ldns_pkt_aa(out) != ldns_pkt_aa(in) || ldns_pkt_rd(out) != ldns_pkt_rd(in) ||
            ldns_pkt_ra(out) != ldns_pkt_ra(in) || ldns_pkt_ad(out) != ldns_pkt_ad(in) ||
            ldns_pkt_cd(out) != ldns_pkt_cd(in) ||
            (ldns_pkt_get_rcode(out) & 0x0f) != (ldns_pkt_get_rcode(in) & 0x0f))
                return "the upstream's flags or RCODE changed";
        if (ldns_pkt_qdcount(out) != 1 || !qi || !qo || ldns_rr_compare(qi, qo) != 0)
                return "another question";
        if (same_but_case(ldns_rr_owner(qi), c->name, c->namelen) &&
            memcmp(ldns_rdf_data(ldns_rr_owner(qo)), c->name, c->namelen) != 0)
                return "not the client's spelling of the name";
        if (nb > na)
                return "records added";
        for (size_t i = 0; i < nb; i++)
                if (ldns_rr_compare(a[i], b[i]) != 0)
                        return "records changed or reordered";
        if (an_out > an_in || (an_out < an_in && ns_out) || ns_out > ns_in)
                return "records moved between sections";
        if (ldns_pkt_tc(in) && !ldns_pkt_tc(out))
                return "the upstream's TC lost";
        if ((an_out < an_in || ns_out < ns_in) && !ldns_pkt_tc(out) &&
            !opt_before_additional(a, an_in + ns_in < na ? an_in + ns_in : na))
                return "an answer or authority record cut without TC";
        if (ldns_pkt_edns(out) != c->edns)
                return "OPT without EDNS from the client, or none with it";
        if (c->edns && (ldns_pkt_edns_udp_size(out) != 1232 || ldns_pkt_edns_version(out) != 0 ||
                        ldns_pkt_edns_do(out) != c->do_bit || ldns_pkt_edns_data(out)))
                return "not our OPT";
        return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t out[65535];
        static const uint8_t name[] = "\3WwW\7eXample\4TEST";
        static const size_t limits[] = {512, 1232, 65535};
        ldns_pkt *in = NULL;

        if (ldns_wire2pkt(&in, data, size) != LDNS_STATUS_OK || !ldns_aligned(data, size)) {
                ldns_pkt_free(in);
                in = NULL;
        }
        for (size_t i = 0; i < 3; i++) {
                struct ld_relay_ask c = {0x1234, name, sizeof(name), i != 0, i == 1, limits[i]};
                size_t n = ld_relay_rewrite(data, size, &c, out, sizeof(out));
                ldns_pkt *o = NULL;
                const char *why;
                ldns_status st;

                if (n == 0)
                        continue;
                if (n > limits[i] || n < 12)
                        fail("beyond the limit", n, limits[i]);
                if (!in)
                        continue;
                if ((st = ldns_wire2pkt(&o, out, n)) != LDNS_STATUS_OK)
                        fail(ldns_get_errorstr_by_id(st), n, limits[i]); /* reads ans, not out */
                if ((why = differs(in, o, &c)))
                        fail(why, n, limits[i]);
                ldns_pkt_free(o);
        }
        ldns_pkt_free(in);
        return 0;
}
