/* test_wire: the DNS primitives — fields, the name walker's RFC 1035 4.1.4 rule and bounds,
 * our OPT, the upstream query and the error reply (read back by query.c and by ldns). */
#include "query.h"
#include "wire.h"

#include <ldns/ldns.h>
#include <stdbool.h>
#include <string.h>

#include "tap.h"

/* A message: a 12-octet header (zeros), then the bytes given. */
static size_t msg(uint8_t *m, const void *body, size_t n)
{
        memset(m, 0, LD_DNS_HEADER);
        memcpy(m + LD_DNS_HEADER, body, n);
        return LD_DNS_HEADER + n;
}

static void test_fields(void)
{
        uint8_t b[4];

        ld_wr16(b, 0xbeef);
        TAP_OK(b[0] == 0xbe && b[1] == 0xef && ld_rd16(b) == 0xbeef, "wr16/rd16: network order");
        ld_wr32(b, 0x01020304);
        TAP_OK(b[0] == 1 && b[3] == 4 && ld_rd32(b) == 0x01020304, "wr32/rd32: network order");
}

static void test_names(void)
{
        uint8_t m[600], lname[LD_NAME_WIRE_MAX], loff[LD_LABELS_MAX];
        struct ld_name_copy c = {.lname = lname, .label_off = loff};
        size_t n;

        n = msg(m, "\3WwW\7Example\4TEST", 18);
        TAP_OK(ld_wire_name(m, n, 12, false, &c) == n, "a plain name ends after its root");
        TAP_OK(c.len == 18 && c.nlabels == 3 && loff[1] == 4 && loff[2] == 12 &&
                   memcmp(lname, "\3www\7example\4test", 18) == 0,
               "its copy is lower case, with label offsets");
        TAP_OK(ld_wire_name(m, n - 1, 12, true, NULL) == 0, "a name past the end is malformed");

        /* 12: "\3foo\0"; 17: "\3bar" then a pointer to 12 */
        n = msg(m, "\3foo\0\3bar\xc0\x0c", 11);
        TAP_OK(ld_wire_name(m, n, 17, true, NULL) == 23, "a pointer back: ends after the pointer");
        TAP_OK(ld_wire_name(m, n, 17, false, NULL) == 0, "no pointer where none is allowed");
        c.nlabels = 0;
        TAP_OK(ld_wire_name(m, n, 17, true, &c) == 23 && c.len == 9 && c.nlabels == 2 &&
                   memcmp(lname, "\3bar\3foo", 9) == 0,
               "the copy follows the pointer");

        n = msg(m, "\xc0\x0e\3foo\0", 7);
        TAP_OK(ld_wire_name(m, n, 12, true, NULL) == 0, "a pointer forward is refused");
        n = msg(m, "\3foo\xc0\x10", 6);
        TAP_OK(ld_wire_name(m, n, 12, true, NULL) == 0, "a pointer to itself is refused");
        /* 12: "\1a" + pointer to 17; 17: pointer to 12 — a loop whichever way in */
        n = msg(m, "\1a\xc0\x11\0\xc0\x0c", 7);
        TAP_OK(ld_wire_name(m, n, 12, true, NULL) == 0, "a loop entered forward is refused");
        TAP_OK(ld_wire_name(m, n, 17, true, NULL) == 0, "a loop entered backward is refused");
        n = msg(m, "\3foo\xc0\x05", 6);
        TAP_OK(ld_wire_name(m, n, 12, true, NULL) == 0, "a pointer into the header is refused");
        /* 12: "\3foo\3bar\0"; 21: "\1z" and a pointer to "\3bar" at 16 */
        n = msg(m, "\3foo\3bar\0\1z\xc0\x10", 13);
        TAP_OK(ld_wire_name(m, n, 21, true, NULL) == 25,
               "a pointer into the middle of a prior name is allowed");
        n = msg(m, "\1x\0\xc0\x0c\xc0\x0f", 7);
        TAP_OK(ld_wire_name(m, n, 17, true, NULL) == 19, "a pointer to a pointer back is allowed");

        uint8_t body[300];
        size_t k = 0;
        for (int i = 0; i < 3; i++) {
                body[k++] = 63;
                memset(body + k, 'a', 63);
                k += 63;
        }
        body[k++] = 61;
        memset(body + k, 'b', 61);
        k += 61;
        body[k++] = 0;
        n = msg(m, body, k);
        TAP_OK(k == 255 && ld_wire_name(m, n, 12, false, &c) == n && c.len == 255,
               "a 255-octet name is read");
        body[3 * 64] = 62;
        body[k - 1] = 'b';
        body[k++] = 0;
        n = msg(m, body, k);
        TAP_OK(ld_wire_name(m, n, 12, true, NULL) == 0, "a 256-octet name is refused");
        /* 255 octets only through a pointer: 12: 200 octets of labels + root; then 60 more
         * before a pointer to it */
        k = 0;
        for (int i = 0; i < 4; i++) {
                body[k++] = 49;
                memset(body + k, 'c', 49);
                k += 49;
        }
        body[k++] = 0; /* 201 octets */
        body[k++] = 59;
        memset(body + k, 'd', 59);
        k += 59;
        body[k++] = 0xc0;
        body[k++] = 12;
        n = msg(m, body, k);
        TAP_OK(ld_wire_name(m, n, 12 + 201, true, NULL) == 0,
               "a name over 255 octets through a pointer is refused");
        n = msg(m, "\x40xxx\0", 5);
        TAP_OK(ld_wire_name(m, n, 12, true, NULL) == 0, "a label of 64 octets is refused");
        n = msg(m, "\x80xxx\0", 5);
        TAP_OK(ld_wire_name(m, n, 12, true, NULL) == 0, "a label type 10 is refused");
}

static void test_opt(void)
{
        uint8_t o[LD_OPT_LEN];
        static const uint8_t want[LD_OPT_LEN] = {0, 0, 41, 0x04, 0xd0, 1, 0, 0x80, 0, 0, 0};

        TAP_OK(ld_wire_opt(o, 1, true) == LD_OPT_LEN && memcmp(o, want, LD_OPT_LEN) == 0,
               "OPT: root, payload 1232, extended RCODE, version 0, DO, no options");
        ld_wire_opt(o, 0, false);
        TAP_OK(o[5] == 0 && o[7] == 0, "OPT without DO");
}

static const struct ld_wire_question question = {(const uint8_t *)"\3WwW\7example\4test", 18, 28,
                                                 1};

static void test_query(void)
{
        uint8_t q[512];
        struct ld_query pq;
        size_t n = ld_wire_query(q, &question, true, true);

        TAP_OK(n == 12 + 18 + 4 + 11, "query: header, question, OPT");
        TAP_OK(ld_query_parse(q, n, &pq) == LD_QUERY_OK && pq.rd && (pq.flags2 & 0x10) &&
                   pq.qtype == 28 && pq.qclass == 1 && pq.edns && pq.edns_do &&
                   pq.edns_udp == LD_EDNS_PAYLOAD && memcmp(q + 12, question.name, 18) == 0,
               "query reads back: RD, CD, AAAA IN, the name as given, our OPT with DO");
        n = ld_wire_query(q, &question, false, false);
        TAP_OK(ld_query_parse(q, n, &pq) == LD_QUERY_OK && !(pq.flags2 & 0x10) && !pq.edns_do,
               "query without CD and DO");
}

static void test_error(void)
{
        uint8_t r[512];
        struct ld_wire_ask a = {.id = 0x4242,
                                .rd = true,
                                .cd = true,
                                .ra = true,
                                .edns = true,
                                .do_bit = true,
                                .question = &question};
        size_t n = ld_wire_error(&a, LD_RCODE_SERVFAIL, r, sizeof(r));
        ldns_pkt *p = NULL;

        TAP_OK(n == 12 + 18 + 4 + 11, "error reply: header, question, OPT");
        TAP_OK(ldns_wire2pkt(&p, r, n) == LDNS_STATUS_OK, "ldns reads it");
        if (p) {
                const ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
                TAP_OK(ldns_pkt_id(p) == 0x4242 && ldns_pkt_qr(p) && ldns_pkt_rd(p) &&
                           ldns_pkt_ra(p) && ldns_pkt_cd(p) && !ldns_pkt_aa(p) &&
                           ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL,
                       "ID, QR, RD, RA, CD, SERVFAIL");
                TAP_OK(ldns_pkt_qdcount(p) == 1 && ldns_pkt_ancount(p) == 0 &&
                           ldns_pkt_nscount(p) == 0 && ldns_pkt_arcount(p) == 0 &&
                           ldns_rr_get_type(qr) == LDNS_RR_TYPE_AAAA,
                       "the question and nothing else");
                TAP_OK(memcmp(r + 12, question.name, 18) == 0, "the question as asked (case kept)");
                TAP_OK(ldns_pkt_edns(p) && ldns_pkt_edns_do(p) && ldns_pkt_edns_udp_size(p) == 1232,
                       "our OPT, DO kept");
                ldns_pkt_free(p);
        }
        n = ld_wire_error(&a, 16, r, sizeof(r));
        TAP_OK(n && (r[3] & 0x0f) == 0 && r[n - 11 + 5] == 1, "BADVERS: upper bits in the OPT");
        a.opcode = 4;
        n = ld_wire_error(&a, LD_RCODE_NOTIMP, r, sizeof(r));
        TAP_OK(n && r[2] == (0x80 | 4 << 3) && r[3] == LD_RCODE_NOTIMP,
               "another opcode: only QR, the opcode and the RCODE");
        a.opcode = 0;
        a.edns = false;
        a.question = NULL;
        n = ld_wire_error(&a, LD_RCODE_FORMERR, r, sizeof(r));
        TAP_OK(n == 12 && ld_rd16(r + 4) == 0 && ld_rd16(r + 10) == 0 && (r[3] & 0x0f) == 1,
               "no question, no EDNS: the header alone");
        a.question = &question;
        TAP_OK(ld_wire_error(&a, LD_RCODE_REFUSED, r, 12 + 18 + 3) == 0, "too small: nothing");
        ld_wire_set_rcode(r, LD_RCODE_SERVFAIL);
        TAP_OK((r[3] & 0x0f) == LD_RCODE_SERVFAIL, "set_rcode");
}

int main(void)
{
        test_fields();
        test_names();
        test_opt();
        test_query();
        test_error();
        return tap_done();
}
