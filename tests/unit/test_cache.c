/* test_cache: the answer cache alone, with a fake clock — what it keeps and for how long,
 * TTLs counted down, the client's ID and spelling, keys apart by DO, CD and upstream set,
 * LRU order, the byte bound, flush of all and of a subtree. */
#include "cache.h"
#include "query.h"
#include "wire.h"

#include <stdbool.h>
#include <string.h>

#include "tap.h"

static double fake_now = 1000.0;

static double fake_clock(void)
{
        return fake_now;
}

/* A name in wire form from dotted text ("www.example.com"). */
static size_t wire_name(const char *text, uint8_t *out)
{
        size_t len = 0;

        while (*text) {
                size_t l = strcspn(text, ".");
                out[len] = (uint8_t)l;
                memcpy(out + len + 1, text, l);
                len += 1 + l;
                text += l + (text[l] == '.');
        }
        out[len++] = 0;
        return len;
}

/* A query as the forwarder sends it upstream (or a client asks): name, type, DO, CD. */
static size_t make_query(const char *name, uint16_t type, bool do_bit, bool cd, uint16_t id,
                         uint8_t *out)
{
        uint8_t n[256];
        struct ld_wire_question q = {n, wire_name(name, n), type, 1};
        size_t len = ld_wire_query(out, &q, cd, do_bit);

        ld_wr16(out, id);
        return len;
}

struct msg {
        uint8_t b[8192];
        size_t len;
        unsigned counts[3];
};

/* An answer's header and question: QR RD RA, rcode. */
static void msg_start(struct msg *m, const char *name, uint16_t type, uint8_t rcode, bool tc)
{
        memset(m, 0, sizeof(*m));
        ld_wr16(m->b, 0xbeef);
        m->b[2] = (uint8_t)(0x81 | (tc ? 0x02 : 0));
        m->b[3] = (uint8_t)(0x80 | rcode);
        ld_wr16(m->b + 4, 1);
        m->len = LD_DNS_HEADER + wire_name(name, m->b + LD_DNS_HEADER);
        ld_wr16(m->b + m->len, type);
        ld_wr16(m->b + m->len + 2, 1);
        m->len += 4;
}

/* A record in section sec: owner (NULL: a pointer to the question), type, TTL, RDATA. */
static void msg_rr(struct msg *m, int sec, const char *owner, uint16_t type, uint32_t ttl,
                   const uint8_t *rd, size_t rdlen)
{
        if (owner) {
                m->len += wire_name(owner, m->b + m->len);
        } else {
                m->b[m->len++] = 0xc0;
                m->b[m->len++] = 12;
        }
        ld_wr16(m->b + m->len, type);
        ld_wr16(m->b + m->len + 2, 1);
        ld_wr32(m->b + m->len + 4, ttl);
        ld_wr16(m->b + m->len + 8, (uint16_t)rdlen);
        memcpy(m->b + m->len + 10, rd, rdlen);
        m->len += 10 + rdlen;
        m->counts[sec]++;
        for (int s = 0; s < 3; s++)
                ld_wr16(m->b + 6 + 2 * s, (uint16_t)m->counts[s]);
}

static const uint8_t addr1[4] = {192, 0, 2, 1}, addr2[4] = {192, 0, 2, 2};

/* An SOA's RDATA (root MNAME and RNAME) with the given MINIMUM. */
static size_t soa_rdata(uint32_t minimum, uint8_t *rd)
{
        memset(rd, 0, 22);
        ld_wr32(rd + 2, 1);
        ld_wr32(rd + 6, 3600);
        ld_wr32(rd + 10, 600);
        ld_wr32(rd + 14, 86400);
        ld_wr32(rd + 18, minimum);
        return 22;
}

/* One server, numbered as the forwarder would: one number per address and port. */
static struct ld_cache_set set_of(const char *addr, uint16_t port)
{
        struct ld_cache_set s = {.n = 1};
        uint32_t h = 2166136261u;

        for (const char *p = addr; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        s.id[0] = (h ^ port) * 16777619u;
        return s;
}

static struct ld_cache_set set1;

/* Stores ans for the upstream query of name/type (DO, CD) with set s. */
static void store(struct ld_cache *c, const char *name, uint16_t type, bool do_bit, bool cd,
                  const struct ld_cache_set *s, const struct msg *ans)
{
        uint8_t q[512];
        size_t qlen = make_query(name, type, do_bit, cd, 0x4242, q);

        ld_cache_store(c, q, qlen, s, ans ? ans->b : NULL, ans ? ans->len : 0);
}

/* A client's question, answered from the cache into out: its length (0: a miss). */
static size_t lookup(struct ld_cache *c, const char *name, uint16_t type, bool do_bit, bool cd,
                     const struct ld_cache_set *s, uint16_t id, uint8_t *out)
{
        static uint8_t q[512];
        struct ld_query pq;
        size_t qlen = make_query(name, type, do_bit, cd, id, q);

        if (!do_bit) { /* no EDNS at all: the reply has no OPT either */
                ld_wr16(q + 10, 0);
                qlen -= LD_OPT_LEN;
        }
        if (ld_query_parse(q, qlen, &pq) != LD_QUERY_OK)
                return 0;
        return ld_cache_answer(c, &pq, s, false, out, 65535);
}

/* The TTL of the first record after the question of a reply to name. */
static uint32_t first_ttl(const uint8_t *m, const char *name)
{
        size_t off = LD_DNS_HEADER + strlen(name) + 2 + 4;

        off = ld_wire_name(m, 65535, off, true, NULL);
        return ld_rd32(m + off + 4);
}

static struct ld_cache *new_cache(size_t bytes)
{
        struct ld_cache *c;

        ld_cache_new(bytes, 86400, 12345, &c);
        ld_cache_set_clock(c, fake_clock);
        return c;
}

static void test_positive(void)
{
        struct ld_cache *c = new_cache(1 << 20);
        struct msg m;
        uint8_t out[65535];
        size_t n;

        msg_start(&m, "WwW.eXample.com", 1, 0, false);
        msg_rr(&m, 0, NULL, 1, 300, addr1, 4);
        msg_rr(&m, 0, NULL, 1, 60, addr2, 4);
        TAP_OK(lookup(c, "www.example.com", 1, false, false, &set1, 1, out) == 0, "empty: a miss");
        store(c, "www.example.com", 1, false, false, &set1, &m);
        n = lookup(c, "WWW.Example.COM", 1, false, false, &set1, 0x1111, out);
        TAP_OK(n == m.len, "a hit, the whole message (%zu)", n);
        TAP_OK(ld_rd16(out) == 0x1111, "the client's ID");
        TAP_OK(memcmp(out + 13, "WWW", 3) == 0 && memcmp(out + 17, "Example", 7) == 0,
               "the client's spelling of the question");
        TAP_OK(ld_rd16(out + 6) == 2 && ld_rd16(out + 10) == 0, "two answers, no OPT");
        TAP_OK(first_ttl(out, "www.example.com") == 300, "TTL as stored");
        fake_now += 10.5;
        n = lookup(c, "www.example.com", 1, false, false, &set1, 2, out);
        TAP_OK(n && first_ttl(out, "www.example.com") == 290, "TTL counts down (290)");
        fake_now += 49;
        n = lookup(c, "www.example.com", 1, false, false, &set1, 2, out);
        TAP_OK(n && first_ttl(out, "www.example.com") == 241, "59 s on: still there (241)");
        fake_now += 1;
        TAP_OK(lookup(c, "www.example.com", 1, false, false, &set1, 2, out) == 0,
               "gone at the smallest TTL (60 s)");
        TAP_OK(ld_cache_stats(c).entries == 0, "and dropped");
        ld_cache_free(c);
}

static void test_edns_and_case(void)
{
        struct ld_cache *c = new_cache(1 << 20);
        struct msg m;
        uint8_t out[65535], q[512];
        struct ld_query pq;
        size_t n, qlen;

        /* an owner name written out in the upstream's spelling, not a pointer */
        msg_start(&m, "case.example", 1, 0, false);
        msg_rr(&m, 0, "CaSe.ExAmPlE", 1, 100, addr1, 4);
        store(c, "case.example", 1, true, false, &set1, &m);
        qlen = make_query("cASE.example", 1, true, false, 7, q);
        ld_query_parse(q, qlen, &pq);
        n = ld_cache_answer(c, &pq, &set1, false, out, sizeof(out));
        TAP_OK(n == m.len + LD_OPT_LEN, "EDNS asked: our OPT added");
        TAP_OK(ld_rd16(out + 10) == 1 && out[n - LD_OPT_LEN + 7] == 0x80, "one OPT, DO set");
        TAP_OK(memcmp(out + 31, "cASE", 4) == 0, "the literal owner name respelled as asked");
        ld_cache_free(c);
}

static void test_negative(void)
{
        struct ld_cache *c = new_cache(1 << 20);
        struct msg m;
        uint8_t out[65535], rd[32];
        size_t n;

        msg_start(&m, "nx.example", 1, LD_RCODE_NXDOMAIN, false);
        store(c, "nx.example", 1, false, false, &set1, &m);
        TAP_OK(lookup(c, "nx.example", 1, false, false, &set1, 1, out) == 0,
               "NXDOMAIN without SOA: not kept");
        msg_rr(&m, 1, "example", 6, 3600, rd, soa_rdata(30, rd));
        store(c, "nx.example", 1, false, false, &set1, &m);
        n = lookup(c, "nx.example", 1, false, false, &set1, 1, out);
        TAP_OK(n && (out[3] & 15) == 3, "NXDOMAIN with SOA: kept");
        TAP_OK(first_ttl(out, "nx.example") == 30, "the SOA's TTL is min(TTL, MINIMUM)");
        fake_now += 12;
        n = lookup(c, "nx.example", 1, false, false, &set1, 1, out);
        TAP_OK(n && first_ttl(out, "nx.example") == 18, "and counts down");
        fake_now += 18;
        TAP_OK(lookup(c, "nx.example", 1, false, false, &set1, 1, out) == 0, "gone after 30 s");

        msg_start(&m, "nodata.example", 28, 0, false);
        store(c, "nodata.example", 28, false, false, &set1, &m);
        TAP_OK(lookup(c, "nodata.example", 28, false, false, &set1, 1, out) == 0,
               "NODATA without SOA: not kept");
        msg_rr(&m, 1, "example", 6, 20, rd, soa_rdata(300, rd));
        store(c, "nodata.example", 28, false, false, &set1, &m);
        TAP_OK(lookup(c, "nodata.example", 28, false, false, &set1, 1, out) > 0,
               "NODATA with SOA: kept");
        ld_cache_free(c);
}

static void test_failures(void)
{
        struct ld_cache *c = new_cache(1 << 20);
        struct msg m;
        uint8_t out[65535];
        size_t n;

        store(c, "dead.example", 1, false, false, &set1, NULL);
        n = lookup(c, "Dead.example", 1, false, false, &set1, 9, out);
        TAP_OK(n && (out[3] & 15) == LD_RCODE_SERVFAIL && ld_rd16(out) == 9 && out[13] == 'D',
               "no answer: SERVFAIL with the client's ID and spelling");
        fake_now += LD_CACHE_FAIL_TTL - 0.1;
        TAP_OK(lookup(c, "dead.example", 1, false, false, &set1, 9, out) > 0, "kept under 5 s");
        fake_now += 0.2;
        TAP_OK(lookup(c, "dead.example", 1, false, false, &set1, 9, out) == 0, "gone at 5 s");

        msg_start(&m, "sf.example", 1, LD_RCODE_SERVFAIL, false);
        store(c, "sf.example", 1, false, false, &set1, &m);
        n = lookup(c, "sf.example", 1, false, false, &set1, 9, out);
        TAP_OK(n && (out[3] & 15) == LD_RCODE_SERVFAIL, "an upstream's SERVFAIL is kept");

        msg_start(&m, "tc.example", 1, 0, true);
        msg_rr(&m, 0, NULL, 1, 100, addr1, 4);
        store(c, "tc.example", 1, false, false, &set1, &m);
        TAP_OK(lookup(c, "tc.example", 1, false, false, &set1, 9, out) == 0, "TC: never kept");

        msg_start(&m, "other.example", 1, 0, false);
        msg_rr(&m, 0, NULL, 1, 100, addr1, 4);
        store(c, "not-the-question.example", 1, false, false, &set1, &m);
        TAP_OK(lookup(c, "not-the-question.example", 1, false, false, &set1, 9, out) == 0,
               "an answer to another question: not kept");

        msg_start(&m, "zero.example", 1, 0, false);
        msg_rr(&m, 0, NULL, 1, 0, addr1, 4);
        store(c, "zero.example", 1, false, false, &set1, &m);
        TAP_OK(lookup(c, "zero.example", 1, false, false, &set1, 9, out) == 0, "TTL 0: not kept");

        msg_start(&m, "big.example", 16, 0, false);
        static uint8_t txt[256];
        memset(txt, 'x', sizeof(txt));
        txt[0] = 255;
        for (int i = 0; i < 20; i++)
                msg_rr(&m, 0, NULL, 16, 100, txt, sizeof(txt));
        store(c, "big.example", 16, false, false, &set1, &m);
        TAP_OK(lookup(c, "big.example", 16, false, false, &set1, 9, out) == 0,
               "over LD_CACHE_MAX_WIRE (%zu octets): not kept", m.len);
        ld_cache_free(c);
}

static void test_keys(void)
{
        struct ld_cache *c = new_cache(1 << 20);
        struct ld_cache_set other = set_of("192.0.2.53", 53), two = set_of("192.0.2.53", 53),
                            two_rev = set_of("127.0.0.1", 5353);
        struct msg a, b;
        uint8_t out[65535];

        two.n = 2;
        two.id[1] = two_rev.id[0];
        two_rev.n = 2;
        two_rev.id[1] = other.id[0];
        msg_start(&a, "k.example", 1, 0, false);
        msg_rr(&a, 0, NULL, 1, 100, addr1, 4);
        msg_start(&b, "k.example", 1, 0, false);
        msg_rr(&b, 0, NULL, 1, 100, addr2, 4);
        store(c, "k.example", 1, false, false, &set1, &a);
        store(c, "k.example", 1, false, false, &other, &b);
        TAP_OK(lookup(c, "k.example", 1, false, false, &set1, 1, out) &&
                   memcmp(out + a.len - 4, addr1, 4) == 0,
               "set 1 gets its own upstream's answer");
        TAP_OK(lookup(c, "k.example", 1, false, false, &other, 1, out) &&
                   memcmp(out + b.len - 4, addr2, 4) == 0,
               "another set gets its own");
        TAP_OK(lookup(c, "k.example", 1, false, false, &two, 1, out) == 0,
               "a set holding both: neither");
        store(c, "k.example", 1, false, false, &two, &a);
        TAP_OK(lookup(c, "k.example", 1, false, false, &two_rev, 1, out) > 0,
               "the same servers in another order: the same set");
        TAP_OK(lookup(c, "k.example", 1, true, false, &set1, 1, out) == 0, "DO: another key");
        TAP_OK(lookup(c, "k.example", 1, false, true, &set1, 1, out) == 0, "CD: another key");
        TAP_OK(lookup(c, "k.example", 28, false, false, &set1, 1, out) == 0,
               "another type: another key");
        store(c, "k.example", 1, true, true, &set1, &b);
        TAP_OK(lookup(c, "K.EXAMPLE", 1, true, true, &set1, 1, out) &&
                   memcmp(out + b.len - 4, addr2, 4) == 0,
               "DO+CD kept apart, found in any case");
        TAP_OK(lookup(c, "k.example", 1, false, false, &set1, 1, out) &&
                   memcmp(out + a.len - 4, addr1, 4) == 0,
               "the plain one untouched");
        ld_cache_free(c);
}

/* name i of a flood */
static const char *flood_name(int i)
{
        static char buf[64];
        snprintf(buf, sizeof(buf), "n%05d.flood.example", i);
        return buf;
}

static void store_a(struct ld_cache *c, const char *name)
{
        struct msg m;

        msg_start(&m, name, 1, 0, false);
        msg_rr(&m, 0, NULL, 1, 3600, addr1, 4);
        store(c, name, 1, false, false, &set1, &m);
}

static void test_bound_and_lru(void)
{
        size_t bound = 16 * 1024;
        struct ld_cache *c = new_cache(bound);
        uint8_t out[65535];
        struct ld_cache_stats st;
        bool within = true;
        int kept;

        store_a(c, "hot.example");
        for (int i = 0; i < 5000; i++) {
                store_a(c, flood_name(i));
                if (i % 10 == 0) /* the hot name keeps being asked */
                        lookup(c, "hot.example", 1, false, false, &set1, 1, out);
                within = within && ld_cache_stats(c).bytes <= bound;
        }
        st = ld_cache_stats(c);
        TAP_OK(within, "5000 names into 16 KiB: never over the bound (%zu bytes, %zu entries)",
               st.bytes, st.entries);
        TAP_OK(st.entries > 20 && st.evictions == 5000 + 1 - st.entries,
               "each insert evicted only what it needed (%llu evictions)",
               (unsigned long long)st.evictions);
        TAP_OK(lookup(c, "hot.example", 1, false, false, &set1, 1, out) > 0,
               "the name asked all along survived the flood");
        kept = 0;
        for (int i = 0; i < 5000; i++)
                kept += lookup(c, flood_name(i), 1, false, false, &set1, 1, out) > 0;
        TAP_OK(kept > 0 && lookup(c, flood_name(4999), 1, false, false, &set1, 1, out) &&
                   !lookup(c, flood_name(0), 1, false, false, &set1, 1, out),
               "the newest kept, the oldest gone (%d kept)", kept);
        ld_cache_free(c);

        c = new_cache(bound);
        store_a(c, "a00000.flood.example");
        store_a(c, "b00000.flood.example");
        lookup(c, "a00000.flood.example", 1, false, false, &set1, 1,
               out); /* a is now the most recent */
        for (int i = 0; !ld_cache_stats(c).evictions; i++)
                store_a(c, flood_name(i));
        TAP_OK(!lookup(c, "b00000.flood.example", 1, false, false, &set1, 1, out) &&
                   lookup(c, "a00000.flood.example", 1, false, false, &set1, 1, out),
               "LRU: the least recently used went first, not the oldest stored");
        ld_cache_free(c);
}

static void test_flush(void)
{
        struct ld_cache *c = new_cache(1 << 20);
        uint8_t out[65535], dom[256];
        size_t n;

        store_a(c, "example.com");
        store_a(c, "www.example.com");
        store_a(c, "a.b.example.com");
        store_a(c, "notexample.com");
        store_a(c, "example.org");
        n = ld_cache_flush(c, dom, wire_name("example.com", dom));
        TAP_OK(n == 3, "flush example.com: it and below (%zu)", n);
        TAP_OK(lookup(c, "notexample.com", 1, false, false, &set1, 1, out) > 0 &&
                   lookup(c, "example.org", 1, false, false, &set1, 1, out) > 0,
               "not a sibling that ends alike, nor another domain");
        TAP_OK(lookup(c, "www.example.com", 1, false, false, &set1, 1, out) == 0, "below: gone");
        TAP_OK(ld_cache_flush(c, NULL, 0) == 2 && ld_cache_stats(c).entries == 0, "flush all");
        ld_cache_free(c);
        TAP_OK(ld_cache_flush(NULL, NULL, 0) == 0 && ld_cache_stats(NULL).hits == 0,
               "no cache: nothing to do");
}

static void test_truncated_to_limit(void)
{
        struct ld_cache *c = new_cache(1 << 20);
        struct msg m;
        uint8_t out[65535], q[512], txt[200];
        struct ld_query pq;
        size_t n, qlen;

        memset(txt, 'y', sizeof(txt));
        txt[0] = 199;
        msg_start(&m, "long.example", 16, 0, false);
        for (int i = 0; i < 4; i++)
                msg_rr(&m, 0, NULL, 16, 100, txt, sizeof(txt));
        store(c, "long.example", 16, false, false, &set1, &m);
        qlen = make_query("long.example", 16, false, false, 5, q);
        ld_wr16(q + 10, 0); /* no OPT: the 512-octet limit */
        qlen -= LD_OPT_LEN;
        ld_query_parse(q, qlen, &pq);
        n = ld_cache_answer(c, &pq, &set1, false, out, sizeof(out));
        TAP_OK(n > 0 && n <= 512 && (out[2] & 0x02) && ld_rd16(out + 6) == 2,
               "over 512 without EDNS: cut to whole records, TC (%zu)", n);
        TAP_OK(first_ttl(out, "long.example") == 100, "TTLs of what is kept patched");
        n = ld_cache_answer(c, &pq, &set1, true, out, sizeof(out));
        TAP_OK(n == m.len && !(out[2] & 0x02), "over TCP: whole");
        ld_cache_free(c);
}

/* Owner names that read the question's name through a pointer into another record's RDATA
 * or fixed fields: the client's spelling goes only where owner names stand, never into opaque
 * RDATA or a TYPE (which a letter's case changes). */
static void test_spelling_only_in_owners(void)
{
        static const uint8_t b_example[] = {1, 'b', 0xc0, 14}; /* b + the question's example.test */
        struct ld_cache *c = new_cache(1 << 20);
        struct msg m;
        uint8_t out[65535];
        size_t n, rec, rdata;

        msg_start(&m, "b.example.test", 1, 0, false);
        rdata = m.len + 12;
        msg_rr(&m, 0, NULL, 171, 300, b_example, sizeof(b_example)); /* opaque to everyone */
        rec = m.len;
        msg_rr(&m, 0, NULL, 1, 300, addr1, 4);
        m.b[rec + 1] = (uint8_t)rdata; /* its owner: the name read from that RDATA */
        store(c, "b.example.test", 1, false, false, &set1, &m);
        n = lookup(c, "B.EXAMPLE.TEST", 1, false, false, &set1, 3, out);
        TAP_OK(n == m.len && memcmp(out + rdata, b_example, sizeof(b_example)) == 0,
               "opaque RDATA an owner points into kept as the upstream wrote it");

        msg_start(&m, "b.example.test", 1, 0, false);
        rec = m.len;
        msg_rr(&m, 0, NULL, 1, 300, addr1, 4);
        memcpy(m.b + rec + 2, b_example, sizeof(b_example)); /* TYPE 0x0162, CLASS a pointer */
        msg_rr(&m, 0, NULL, 1, 300, addr2, 4);
        m.b[m.len - 15] = (uint8_t)(rec + 2); /* an owner reading b.example.test from them */
        store(c, "b.example.test", 1, false, false, &set1, &m);
        n = lookup(c, "B.EXAMPLE.TEST", 1, false, false, &set1, 3, out);
        TAP_OK(n == m.len && ld_rd16(out + rec + 2) == 0x0162,
               "a TYPE an owner points into kept (%04x)", n ? ld_rd16(out + rec + 2) : 0);
        ld_cache_free(c);
}

int main(void)
{
        set1 = set_of("127.0.0.1", 53);
        test_positive();
        test_edns_and_case();
        test_negative();
        test_failures();
        test_keys();
        test_bound_and_lru();
        test_flush();
        test_truncated_to_limit();
        test_spelling_only_in_owners();
        return tap_done();
}
