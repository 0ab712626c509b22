/* test_cache_attacks: the answer cache from an attacker's side. It includes cache.c (its
 * hash and buckets are static): a container that floods names must not find keys that
 * collide whatever the random seed, nor pile its entries into one bucket's chain. */
#include "../../src/cache.c"

#include <stdbool.h>
#include <string.h>

#include "tap.h"

static double fake_now = 1000.0;

static double fake_clock(void)
{
        return fake_now;
}

/* Name bytes whose top bit, flipped in word 2k and at bits 31 and 63 of word 2k+1 (bytes
 * 16k+7; 16k+11 and 16k+15 of the key), cancel through an xor-multiply-xorshift step for
 * any seed: keys that differ only so collide unless the hash is really keyed. The name is
 * four labels of 62 octets; the pairs k chosen keep off its length octets (0, 63, 126, 189). */
static const unsigned pairs[] = {0, 1, 2, 4, 5, 6, 7, 8, 9, 10};
#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))
#define NAME_LEN 253

static void flood_name(unsigned variant, uint8_t *name)
{
        for (size_t i = 0; i < NAME_LEN - 1; i++)
                name[i] = (uint8_t)('a' + i % 26);
        for (int l = 0; l < 4; l++)
                name[63 * l] = 62;
        name[NAME_LEN - 1] = 0;
        for (unsigned b = 0; b < NPAIRS; b++)
                if (variant >> b & 1) {
                        unsigned k = pairs[b];
                        name[16 * k + 7] ^= 0x80;
                        name[16 * k + 11] ^= 0x80;
                        name[16 * k + 15] ^= 0x80;
                }
}

static size_t flood_query(unsigned variant, uint8_t *q)
{
        uint8_t name[NAME_LEN];
        struct ld_wire_question qn = {name, NAME_LEN, 1, 1};

        flood_name(variant, name);
        return ld_wire_query(q, &qn, false, false);
}

static struct ld_cache_set one_server(void)
{
        struct ld_cache_set s = {.n = 1, .id = {1}};

        return s;
}

/* Two keys that differ by the pattern: the same hash for how many of 64 seeds. */
static void test_seeded_collisions(void)
{
        struct ld_cache_set set = one_server();
        uint8_t a[CACHE_KEY_BUF], b[CACHE_KEY_BUF], na[NAME_LEN], nb[NAME_LEN];
        size_t la, lb;
        int same = 0;

        flood_name(0, na);
        flood_name(1, nb);
        la = cache_key(a, na, NAME_LEN, 1, 1, false, false, &set);
        lb = cache_key(b, nb, NAME_LEN, 1, 1, false, false, &set);
        TAP_OK(la == lb && memcmp(a, b, la) != 0, "two keys of one length");
        for (uint64_t seed = 1; seed <= 64; seed++)
                same += cache_hash((uint64_t[2]){seed, ~seed * 0x9e3779b97f4a7c15ULL}, a, la) ==
                        cache_hash((uint64_t[2]){seed, ~seed * 0x9e3779b97f4a7c15ULL}, b, lb);
        TAP_OK(same == 0,
               "keys with top bits flipped in step do not collide for any seed (%d of 64 did)",
               same);
}

/* 1024 names of the pattern, stored: the longest bucket chain stays short. */
static void test_flood_chain(void)
{
        struct ld_cache_set set = one_server();
        struct ld_cache *c;
        size_t longest = 0, stored;
        uint8_t q[512];

        ld_cache_new(8u << 20, 86400, 0x0123456789abcdefULL, &c);
        for (unsigned v = 0; v < 1u << NPAIRS; v++) {
                size_t qlen = flood_query(v, q);
                ld_cache_store(c, q, qlen, &set, NULL, 0); /* a failure: kept 5 s */
        }
        stored = ld_cache_stats(c).entries;
        for (size_t i = 0; i <= c->mask; i++) {
                size_t n = 0;
                for (struct cache_entry *e = c->buckets[i]; e; e = e->hnext)
                        n++;
                if (n > longest)
                        longest = n;
        }
        TAP_OK(stored == 1u << NPAIRS, "all %zu flooded names kept", stored);
        TAP_OK(longest <= 8, "the longest chain of %zu buckets holds %zu", c->mask + 1, longest);
        ld_cache_free(c);
}

/* An upstream's answer to x.example A whose CNAME target points into the TTL of the A
 * record before it: its last octet, 0 (the root) at TTL 256. A hit a second later counts
 * that TTL down to 255, and the target turns into 0xff 0x00, a pointer past the message:
 * the cache would serve a message the relay refuses. */
static void test_pointer_into_ttl(void)
{
        struct ld_cache_set set = one_server();
        static const uint8_t qname[] = "\1x\7example";
        uint8_t m[128], q[128], out[512];
        struct ld_wire_question qn = {qname, sizeof(qname), 1, 1};
        const struct ld_relay_ask keep = {0, NULL, 0, false, false, sizeof(out)};
        size_t qlen = ld_wire_query(q, &qn, false, false), len = LD_DNS_HEADER, n;
        struct ld_cache *c;
        struct ld_query pq;

        memset(m, 0, sizeof(m));
        memcpy(m + 2, "\x81\x80\0\1\0\2\0\0\0\0", 10); /* QR RD RA, 1 question, 2 answers */
        memcpy(m + len, qname, sizeof(qname));
        len += sizeof(qname);
        memcpy(m + len, "\0\1\0\1", 4);
        len += 4;
        memcpy(m + len, "\xc0\x0c\0\1\0\1\0\0\1\0\0\4\xc0\0\2\1", 16); /* A, TTL 256 */
        len += 16;
        memcpy(m + len, "\xc0\x0c\0\5\0\1\0\0\1\x2c\0\2\xc0", 13);           /* CNAME, TTL 300 */
        m[len + 13] = (uint8_t)(LD_DNS_HEADER + sizeof(qname) + 4 + 12 - 3); /* the TTL's last */
        len += 14;
        TAP_OK(ld_relay_rewrite(m, len, &keep, out, sizeof(out)) == len,
               "the answer is well formed");
        ld_cache_new(1 << 20, 86400, 42, &c);
        ld_cache_set_clock(c, fake_clock);
        ld_cache_store(c, q, qlen, &set, m, len);
        fake_now += 1;
        ld_query_parse(q, qlen, &pq);
        n = ld_cache_answer(c, &pq, &set, false, out, sizeof(out));
        TAP_OK(n == 0 || ld_relay_rewrite(out, n, &keep, m, sizeof(m)) == n,
               "a second on, the cache serves no message the relay refuses (%zu octets)", n);
        ld_cache_free(c);
}

int main(void)
{
        test_pointer_into_ttl();
        test_seeded_collisions();
        test_flood_chain();
        return tap_done();
}
