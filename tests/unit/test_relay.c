/* test_relay: an upstream's answer rewritten for the client — its ID and spelling back,
 * the records kept byte for byte, our OPT for the upstream's, whole records cut with TC,
 * and malformed answers refused. */
#include "relay.h"
#include "wire.h"

#include <stdbool.h>
#include <string.h>

#include "tap.h"

/* The upstream's answer: the name in its 0x20 spelling, two A records and an NS, then its
 * own OPT (payload 4096, DO, a cookie). */
static const uint8_t upstream[] = {
    0xbe, 0xef, 0x81, 0x80, 0, 1,   0,   2,    0,   1,   0,   1,             /* header: RD RA */
    3,    'W',  'w',  'W',  7, 'e', 'X', 'a',  'm', 'p', 'l', 'e', 4,   't', /* 12: question */
    'E',  's',  'T',  0,    0, 1,   0,   1,                                  /* A IN */
    0xc0, 12,   0,    1,    0, 1,   0,   0,    1,   44,  0,   4,   192, 0,   2,   1, /* 34: A */
    0xc0, 12,   0,    1,    0, 1,   0,   0,    1,   44,  0,   4,   192, 0,   2,   2, /* 50: A */
    0xc0, 16,   0,    2,    0, 1,   0,   0,    1,   44,  0,   5,   2,   'n', 's', 0xc0, 16, /* 66:
                                                                                               NS */
    0,    0,    41,   0x10, 0, 0,   0,   0x80, 0,   0,   12,  0,   10,  0,   8,   1,    2,  3,
    4,    5,    6,    7,    8, /* 83: OPT */
};
#define RECORDS_AT 34
#define OPT_AT 83

static const uint8_t client_name[] = "\3www\7EXAMPLE\4test"; /* the root too: 18 octets */

static struct ld_relay_ask ask(bool edns, size_t limit)
{
        return (struct ld_relay_ask){0x1234, client_name, sizeof(client_name), edns, true, limit};
}

static void test_rewrite(void)
{
        uint8_t out[1024];
        struct ld_relay_ask c = ask(true, 1232);
        size_t n = ld_relay_rewrite(upstream, sizeof(upstream), &c, out, sizeof(out));

        TAP_OK(n == OPT_AT + LD_OPT_LEN, "EDNS client: the records, then our OPT");
        TAP_OK(ld_rd16(out) == 0x1234, "the client's ID");
        TAP_OK(out[2] == 0x81 && out[3] == 0x80, "the upstream's flags and RCODE");
        TAP_OK(memcmp(out + 12, client_name, sizeof(client_name)) == 0,
               "the client's spelling of the name");
        TAP_OK(ld_rd16(out + 4) == 1 && ld_rd16(out + 6) == 2 && ld_rd16(out + 8) == 1 &&
                   ld_rd16(out + 10) == 1,
               "counts: 1 question, 2 answers, 1 authority, our OPT");
        TAP_OK(memcmp(out + RECORDS_AT - 4, upstream + RECORDS_AT - 4, OPT_AT - RECORDS_AT + 4) ==
                   0,
               "type, class and records byte for byte");
        TAP_OK(out[OPT_AT + 2] == 41 && ld_rd16(out + OPT_AT + 3) == LD_EDNS_PAYLOAD &&
                   out[OPT_AT + 7] == 0x80 && ld_rd16(out + OPT_AT + 9) == 0,
               "our OPT: 1232, DO, no cookie");

        c = ask(false, 512);
        n = ld_relay_rewrite(upstream, sizeof(upstream), &c, out, sizeof(out));
        TAP_OK(n == OPT_AT && ld_rd16(out + 10) == 0, "no EDNS from the client: no OPT");

        c.name = (const uint8_t *)"\3www\7example\3org";
        c.namelen = 18;
        n = ld_relay_rewrite(upstream, sizeof(upstream), &c, out, sizeof(out));
        TAP_OK(n && memcmp(out + 12, upstream + 12, 19) == 0,
               "another name asked: the upstream's question kept");
}

static void test_cut(void)
{
        uint8_t out[1024];
        struct ld_relay_ask c = ask(true, 50 + LD_OPT_LEN);
        size_t n = ld_relay_rewrite(upstream, sizeof(upstream), &c, out, sizeof(out));

        TAP_OK(n == 50 + LD_OPT_LEN, "cut after the first answer, room kept for our OPT");
        TAP_OK((out[2] & 0x02) && ld_rd16(out + 6) == 1 && ld_rd16(out + 8) == 0 &&
                   ld_rd16(out + 10) == 1,
               "TC, one answer, no authority, our OPT");
        c = ask(true, 30);
        TAP_OK(ld_relay_rewrite(upstream, sizeof(upstream), &c, out, sizeof(out)) == 0,
               "no room for the question and OPT: nothing");
}

/* The upstream's answer with the bytes at off replaced; 0 if the relay refuses it. */
static size_t rewrite_with(size_t off, const void *bytes, size_t n)
{
        static uint8_t m[sizeof(upstream)], out[1024];
        struct ld_relay_ask c = ask(true, 1232);

        memcpy(m, upstream, sizeof(m));
        memcpy(m + off, bytes, n);
        return ld_relay_rewrite(m, sizeof(m), &c, out, sizeof(out));
}

static void test_refused(void)
{
        uint8_t out[1024];
        struct ld_relay_ask c = ask(true, 1232);

        TAP_OK(rewrite_with(0, "", 0) != 0, "the unchanged answer passes");
        TAP_OK(rewrite_with(34, "\xc0\x30", 2) == 0, "an owner pointing forward is refused");
        TAP_OK(rewrite_with(34, "\xc0\x22", 2) == 0, "an owner pointing to itself is refused");
        TAP_OK(rewrite_with(34, "\xc0\x02", 2) == 0, "an owner pointing into the header");
        TAP_OK(rewrite_with(81, "\xc0\x53", 2) == 0, "an NS target pointing forward");
        TAP_OK(rewrite_with(60, "\x01\x00", 2) == 0, "RDLENGTH past the end");
        TAP_OK(rewrite_with(2, "\x01", 1) == 0, "QR clear: a query, not an answer");
        TAP_OK(rewrite_with(2, "\xa1", 1) == 0, "opcode NOTIFY");
        TAP_OK(rewrite_with(4, "\x00\x02", 2) == 0 && rewrite_with(4, "\x00\x00", 2) == 0,
               "two questions, or none");
        TAP_OK(rewrite_with(16, "\x48", 1) == 0, "a label over 63 octets");
        TAP_OK(ld_relay_rewrite(upstream, 11, &c, out, sizeof(out)) == 0, "no whole header");
        TAP_OK(ld_relay_rewrite(upstream, 60, &c, out, sizeof(out)) == 0, "a record cut short");
        TAP_OK(ld_relay_rewrite(upstream, OPT_AT, &c, out, sizeof(out)) == 0,
               "more records counted than there are");
}

/* The NS record at 66 as another type (at 68) whose RDATA starts with a name, its target
 * pointer (at 81) replaced by ptr; 0 if the relay refuses it. */
static size_t rewrite_as(uint16_t type, const char *ptr)
{
        static uint8_t m[sizeof(upstream)], out[1024];
        struct ld_relay_ask c = ask(true, 1232);

        memcpy(m, upstream, sizeof(m));
        ld_wr16(m + 68, type);
        memcpy(m + 81, ptr, 2);
        return ld_relay_rewrite(m, sizeof(m), &c, out, sizeof(out));
}

static void test_rdata_names(void)
{
        /* a decoder may follow pointers in these types' names too (RFC 3597 4; ldns does) */
        TAP_OK(rewrite_as(30, "\xc0\x10") != 0, "NXT: its name pointing back passes");
        TAP_OK(rewrite_as(30, "\xc0\x53") == 0, "NXT: its name pointing forward is refused");
        TAP_OK(rewrite_as(47, "\xc0\x53") == 0, "NSEC: the same");
        TAP_OK(rewrite_as(39, "\xc0\x53") == 0, "DNAME: the same");
        TAP_OK(rewrite_as(250, "\xc0\x53") == 0, "TSIG: the same");
        TAP_OK(rewrite_as(33, "\xc0\x10") == 0, "SRV: RDATA too short for its fields");
        TAP_OK(rewrite_as(55, "\xc0\x10") == 0, "HIP: its fields' lengths past the RDATA");
        TAP_OK(rewrite_as(99, "\xc0\x53") != 0, "SPF: no name inside, RDATA passed as is");
}

static void test_after_opt(void)
{
        uint8_t m[sizeof(upstream) + 16], out[1024];
        struct ld_relay_ask c = ask(true, 1232);
        static const uint8_t a[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 3};

        memcpy(m, upstream, sizeof(upstream));
        memcpy(m + sizeof(upstream), a, sizeof(a));
        m[11] = 2;
        TAP_OK(ld_relay_rewrite(m, sizeof(m), &c, out, sizeof(out)) == OPT_AT + LD_OPT_LEN &&
                   ld_rd16(out + 10) == 1,
               "what follows the upstream's OPT goes with it");
}

int main(void)
{
        test_rewrite();
        test_cut();
        test_refused();
        test_rdata_names();
        test_after_opt();
        return tap_done();
}
