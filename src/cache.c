/* cache: forwarded answers kept in wire form and answered again without allocation.
 *
 * An entry holds the upstream's answer as the relay normalises it (relay.c: checked, its
 * OPT and what follows dropped), the offsets of its TTL fields, and where the question's
 * name is repeated in owner names as literal labels (most owners point at the question,
 * which a hit overwrites with the client's spelling anyway). A hit copies the message and
 * patches only those: ID, spelling, TTLs counted down; relay.c ends the message for the
 * client (flags, OPT, counts) as it ends a fresh one, or cuts it to the client's limit.
 *
 * Memory: every allocation is one entry (its header, key and message together) or the
 * bucket array made at creation, and each is counted as glibc's chunk for it, so the bytes
 * counted are the bytes taken; an insert first evicts least recently used entries until it
 * fits. The buckets are fixed (about one per 256 bytes of the bound) and the hash is keyed
 * at random (SipHash), so a flood of names finds no long chain to aim at and cannot grow
 * anything. */
#include "cache.h"

#include "list.h"
#include "query.h"
#include "relay.h"
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define CACHE_SET_BYTES 4 /* a server's number */
#define CACHE_KEY_MAX (LD_NAME_WIRE_MAX + 6 + LD_CACHE_SET_MAX * CACHE_SET_BYTES)
#define CACHE_KEY_BUF (CACHE_KEY_MAX + 8) /* zeros after the key: hashed a word at a time */
#define CACHE_PATCHES_MAX 32 /* literal copies of the question's labels: more, not kept */
#define CACHE_BYTES_PER_BUCKET 256

/* A literal label of an owner name that is the question's name: len octets at pos in the
 * message are the client's spelling from octet from of its question name. */
struct cache_patch {
        uint16_t pos;
        uint8_t from, len;
};

struct cache_entry {
        struct cache_entry *hnext;       /* its bucket's chain */
        struct cache_entry *prev, *next; /* recency: the head is the most recent */
        uint64_t hash;
        double stored, expires;
        size_t bytes; /* what it counts against the bound */
        uint16_t keylen, wirelen, nttl, npatch;
        bool fail; /* no answer at all: a SERVFAIL is built for each hit */
        /* nttl TTL offsets (uint16_t), npatch patches, the key, the message */
        _Alignas(8) uint8_t data[];
};

struct ld_cache {
        struct cache_entry **buckets;
        size_t mask;
        struct cache_entry *head, *tail;
        size_t limit;
        uint32_t max_ttl;
        uint64_t key[2]; /* the hash's, from the seed */
        double (*now)(void);
        struct ld_cache_stats st;
};

/* The bytes glibc takes for an allocation of n: its chunk (header, 16-byte alignment). */
static size_t cache_chunk(size_t n)
{
        size_t c = (n + sizeof(size_t) + 15) & ~(size_t)15;

        return c < 32 ? 32 : c;
}

static double cache_clock(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint16_t *entry_ttls(struct cache_entry *e)
{
        return (uint16_t *)(void *)e->data;
}

static struct cache_patch *entry_patches(struct cache_entry *e)
{
        return (struct cache_patch *)(void *)(e->data + e->nttl * sizeof(uint16_t));
}

static uint8_t *entry_key(struct cache_entry *e)
{
        return (uint8_t *)(entry_patches(e) + e->npatch);
}

static uint8_t *entry_wire(struct cache_entry *e)
{
        return entry_key(e) + e->keylen;
}

int ld_cache_new(size_t bytes, uint32_t max_ttl, uint64_t seed, struct ld_cache **out)
{
        struct ld_cache *c;
        size_t nb = 16;

        *out = NULL;
        if (bytes == 0)
                return 0;
        while (nb * 2 * CACHE_BYTES_PER_BUCKET <= bytes)
                nb *= 2;
        if (!(c = calloc(1, sizeof(*c))))
                return -ENOMEM;
        if (!(c->buckets = calloc(nb, sizeof(*c->buckets)))) {
                free(c);
                return -ENOMEM;
        }
        c->mask = nb - 1;
        c->limit = bytes;
        c->max_ttl = max_ttl;
        c->key[0] = seed;
        c->key[1] = (seed ^ (seed >> 31)) * 0x94d049bb133111ebULL + 0x9e3779b97f4a7c15ULL;
        c->now = cache_clock;
        c->st.bytes = cache_chunk(sizeof(*c)) + cache_chunk(nb * sizeof(*c->buckets));
        *out = c;
        return 0;
}

void ld_cache_free(struct ld_cache *c)
{
        if (!c)
                return;
        ld_cache_flush(c, NULL, 0);
        free(c->buckets);
        free(c);
}

void ld_cache_set_clock(struct ld_cache *c, double (*now)(void))
{
        if (c)
                c->now = now;
}

/* The key: the name in lower case, type, class, DO and CD, and the set's servers in one
 * order (sorted, duplicates once), so any order of the same servers is the same key.
 * k holds CACHE_KEY_BUF octets: the key is followed by zeros to a whole word. */
static size_t cache_key(uint8_t *k, const uint8_t *lname, size_t namelen, uint16_t qtype,
                        uint16_t qclass, bool do_bit, bool cd, const struct ld_cache_set *set)
{
        size_t len = namelen, n = 0;
        uint8_t *servers;

        memcpy(k, lname, namelen);
        ld_wr16(k + len, qtype);
        ld_wr16(k + len + 2, qclass);
        k[len + 4] = (uint8_t)((do_bit ? 1 : 0) | (cd ? 2 : 0));
        len += 6;
        servers = k + len;
        for (size_t i = 0; i < set->n && i < LD_CACHE_SET_MAX; i++) {
                uint32_t id = set->id[i];
                size_t j;

                for (j = 0; j < n && ld_rd32(servers + j * CACHE_SET_BYTES) < id; j++)
                        ; /* insertion: a set has a few servers */
                if (j < n && ld_rd32(servers + j * CACHE_SET_BYTES) == id)
                        continue;
                if (j < n) /* (one server, the usual set, moves nothing) */
                        memmove(servers + (j + 1) * CACHE_SET_BYTES, servers + j * CACHE_SET_BYTES,
                                (n - j) * CACHE_SET_BYTES);
                ld_wr32(servers + j * CACHE_SET_BYTES, id);
                n++;
        }
        k[len - 1] = (uint8_t)n;
        len += n * CACHE_SET_BYTES;
        memset(k + len, 0, 8);
        return len;
}

/* SipHash-1-3 (Aumasson and Bernstein's keyed PRF, one round per word, three to finish)
 * of a key from cache_key, a word at a time over its zero padding, its length in a last
 * word. A keyed PRF, not a mix with the seed: with an xor-multiply step a difference in a
 * word's top bit passes unchanged whatever the seed, so a flood of names built to cancel
 * it lands in one chain. */
#define CACHE_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define CACHE_SIPROUND                                                                             \
        do {                                                                                       \
                v0 += v1;                                                                          \
                v1 = CACHE_ROTL(v1, 13) ^ v0;                                                      \
                v0 = CACHE_ROTL(v0, 32);                                                           \
                v2 += v3;                                                                          \
                v3 = CACHE_ROTL(v3, 16) ^ v2;                                                      \
                v0 += v3;                                                                          \
                v3 = CACHE_ROTL(v3, 21) ^ v0;                                                      \
                v2 += v1;                                                                          \
                v1 = CACHE_ROTL(v1, 17) ^ v2;                                                      \
                v2 = CACHE_ROTL(v2, 32);                                                           \
        } while (0)

static uint64_t cache_hash(const uint64_t k[2], const uint8_t *p, size_t len)
{
        uint64_t v0 = k[0] ^ 0x736f6d6570736575ULL, v1 = k[1] ^ 0x646f72616e646f6dULL;
        uint64_t v2 = k[0] ^ 0x6c7967656e657261ULL, v3 = k[1] ^ 0x7465646279746573ULL, w;

        for (size_t i = 0; i < len; i += 8) {
                memcpy(&w, p + i, 8);
                v3 ^= w;
                CACHE_SIPROUND;
                v0 ^= w;
        }
        w = (uint64_t)len << 56;
        v3 ^= w;
        CACHE_SIPROUND;
        v0 ^= w;
        v2 ^= 0xff;
        CACHE_SIPROUND;
        CACHE_SIPROUND;
        CACHE_SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

static struct cache_entry *cache_find(const struct ld_cache *c, const uint8_t *key, size_t keylen,
                                      uint64_t hash)
{
        for (struct cache_entry *e = c->buckets[hash & c->mask]; e; e = e->hnext)
                if (e->hash == hash && e->keylen == keylen &&
                    memcmp(entry_key(e), key, keylen) == 0)
                        return e;
        return NULL;
}

static void cache_unlink(struct ld_cache *c, struct cache_entry *e)
{
        struct cache_entry **pp = &c->buckets[e->hash & c->mask];

        while (*pp != e)
                pp = &(*pp)->hnext;
        *pp = e->hnext;
        LD_LIST_REMOVE_TAIL(c->head, c->tail, e);
        c->st.entries--;
        c->st.bytes -= e->bytes;
        free(e);
}

static void cache_to_front(struct ld_cache *c, struct cache_entry *e)
{
        if (c->head == e)
                return;
        LD_LIST_REMOVE_TAIL(c->head, c->tail, e);
        LD_LIST_PUSH(c->head, e);
}

/* Whether the len octets at off all stand in owner names (the bits of owners). */
static bool cache_in_owners(const uint8_t *owners, size_t off, size_t len)
{
        for (size_t i = off; i < off + len; i++)
                if (!(owners[i >> 3] & 1u << (i & 7)))
                        return false;
        return true;
}

/* The patches that give the owner name at off the client's spelling if it is the
 * question's name (lname, namelen), appended to p[*np]; labels inside the question (below
 * qend) need none. Only labels that stand in owner names (owners: a bit per octet) are
 * patched: a pointer may reach the name's labels in another record's RDATA or even its TYPE,
 * CLASS or RDLENGTH, whose octets a letter's case would change; such a label keeps the
 * upstream's spelling, as in a fresh forward. Returns false when the patches would be too
 * many. The message is checked already (relay): pointers go strictly backwards. */
static bool cache_owner(const uint8_t *m, size_t off, size_t qend, const uint8_t *owners,
                        const uint8_t *lname, size_t namelen, struct cache_patch *p, size_t *np)
{
        size_t k = 0, n = *np;

        for (;;) {
                uint8_t l = m[off];
                if ((l & 0xc0) == 0xc0) {
                        off = (size_t)(l & 0x3f) << 8 | m[off + 1];
                        continue;
                }
                if (k + 1u + l > namelen || lname[k] != l)
                        return true; /* another name */
                if (l == 0)
                        break;
                for (size_t i = 1; i <= l; i++)
                        if (ld_wire_lower(m[off + i]) != lname[k + i])
                                return true;
                if (off >= qend && cache_in_owners(owners, off, 1u + l)) {
                        bool dup = false;
                        for (size_t j = 0; j < n && !dup; j++)
                                dup = p[j].pos == off;
                        if (!dup) {
                                if (n == CACHE_PATCHES_MAX)
                                        return false;
                                p[n++] = (struct cache_patch){(uint16_t)off, (uint8_t)k,
                                                              (uint8_t)(1 + l)};
                        }
                }
                k += 1u + l;
                off += 1u + l;
        }
        *np = n;
        return true;
}

/* What a normalised answer says about itself: its TTL fields (capped at max_ttl, an
 * authority SOA's at its MINIMUM), its lifetime, the owner names to respell. */
struct cache_scan {
        uint16_t ttl[LD_CACHE_MAX_WIRE / 11];
        size_t nttl;
        struct cache_patch patch[CACHE_PATCHES_MAX];
        size_t npatch;
        uint32_t min_ttl;
        bool soa;
        uint8_t
            owners[(LD_CACHE_MAX_WIRE + 7) / 8]; /* a bit per octet that stands in an owner name */
};

static bool cache_scan(uint8_t *m, size_t len, const struct ld_query *q, uint32_t max_ttl,
                       struct cache_scan *s)
{
        unsigned an = ld_rd16(m + 6), ns = ld_rd16(m + 8), total = an + ns + ld_rd16(m + 10);
        size_t off = q->qend;

        s->nttl = s->npatch = 0;
        s->min_ttl = UINT32_MAX;
        s->soa = false;
        memset(s->owners, 0, (len + 7) / 8); /* len is at most LD_CACHE_MAX_WIRE (the caller) */
        for (unsigned i = 0; i < total; i++) {
                size_t p = ld_wire_name(m, len, off, true, NULL);
                uint16_t type, rdlen;
                uint32_t ttl;

                if (!p || p + 10 > len || s->nttl == sizeof(s->ttl) / sizeof(s->ttl[0]))
                        return false;
                type = ld_rd16(m + p);
                ttl = ld_rd32(m + p + 4);
                rdlen = ld_rd16(m + p + 8);
                if (ttl > 0x7fffffff) /* RFC 2181 8: as if zero */
                        ttl = 0;
                if (ttl > max_ttl)
                        ttl = max_ttl;
                if (i >= an && i < an + ns && type == 6 && rdlen >= 20) {
                        uint32_t minimum = ld_rd32(m + p + 10 + rdlen - 4);
                        s->soa = true;
                        if (minimum < ttl) /* RFC 2308 5 */
                                ttl = minimum;
                }
                ld_wr32(m + p + 4, ttl);
                s->ttl[s->nttl++] = (uint16_t)(p + 4);
                if (ttl < s->min_ttl)
                        s->min_ttl = ttl;
                for (size_t j = off; j < p; j++) /* its own octets: a pointer reaches only before */
                        s->owners[j >> 3] |= (uint8_t)(1u << (j & 7));
                if (!cache_owner(m, off, q->qend, s->owners, q->lname, q->qname_len, s->patch,
                                 &s->npatch))
                        return false;
                off = p + 10 + rdlen;
        }
        return true;
}

/* Whether the message's names read no TTL octet as a length or pointer: a compression
 * pointer may aim anywhere before it, the capping and the countdown of a TTL rewrite its
 * octets, and a name made of them would turn malformed in the client's reply. Checked with
 * every TTL octet 0xff, which read so is a pointer past any message we keep: the relay
 * refuses the message. Read as a label's content, a TTL octet changes nothing but it. */
static bool cache_ttls_apart(const uint8_t *wire, size_t len, const struct cache_scan *s)
{
        static uint8_t probe[LD_CACHE_MAX_WIRE], out[LD_CACHE_MAX_WIRE];
        const struct ld_relay_ask keep = {0, NULL, 0, false, false, sizeof(out)};

        memcpy(probe, wire, len);
        for (size_t i = 0; i < s->nttl; i++)
                memset(probe + s->ttl[i], 0xff, 4);
        return ld_relay_rewrite(probe, len, &keep, out, sizeof(out)) == len;
}

/* Room for need more bytes: the least recently used entries go. */
static bool cache_room(struct ld_cache *c, size_t need)
{
        while (c->st.bytes + need > c->limit && c->tail) {
                cache_unlink(c, c->tail);
                c->st.evictions++;
        }
        return c->st.bytes + need <= c->limit;
}

static void cache_insert(struct ld_cache *c, const uint8_t *key, size_t keylen, const uint8_t *wire,
                         size_t wirelen, const struct cache_scan *s, uint32_t life, bool fail)
{
        size_t data =
            s->nttl * sizeof(uint16_t) + s->npatch * sizeof(struct cache_patch) + keylen + wirelen;
        size_t bytes = cache_chunk(sizeof(struct cache_entry) + data);
        uint64_t hash = cache_hash(c->key, key, keylen);
        struct cache_entry *e = cache_find(c, key, keylen, hash);
        double now = c->now();

        if (e)
                cache_unlink(c, e); /* two forwards of one question: the later answer */
        if (bytes > c->limit / 8 || !cache_room(c, bytes) ||
            !(e = malloc(sizeof(struct cache_entry) + data)))
                return;
        e->hash = hash;
        e->stored = now;
        e->expires = now + life;
        e->bytes = bytes;
        e->keylen = (uint16_t)keylen;
        e->wirelen = (uint16_t)wirelen;
        e->nttl = (uint16_t)s->nttl;
        e->npatch = (uint16_t)s->npatch;
        e->fail = fail;
        memcpy(entry_ttls(e), s->ttl, s->nttl * sizeof(uint16_t));
        memcpy(entry_patches(e), s->patch, s->npatch * sizeof(struct cache_patch));
        memcpy(entry_key(e), key, keylen);
        if (wirelen) /* a failure has none (wire NULL) */
                memcpy(entry_wire(e), wire, wirelen);
        e->hnext = c->buckets[hash & c->mask];
        c->buckets[hash & c->mask] = e;
        if (!c->head)
                c->tail = e;
        LD_LIST_PUSH(c->head, e);
        c->st.entries++;
        c->st.bytes += bytes;
}

/* Whether ans answers q's question (the forwarder checked UDP answers byte for byte; c-ares
 * checks TCP ones loosely). */
static bool cache_same_question(const uint8_t *ans, size_t alen, const struct ld_query *q)
{
        size_t nl = q->qname_len;

        return alen >= LD_DNS_HEADER + nl + 4 && ld_rd16(ans + 4) == 1 &&
               ld_wire_same_name(ans + LD_DNS_HEADER, q->lname, nl) &&
               ld_rd16(ans + LD_DNS_HEADER + nl) == q->qtype &&
               ld_rd16(ans + LD_DNS_HEADER + nl + 2) == q->qclass;
}

void ld_cache_store(struct ld_cache *c, const uint8_t *query, size_t qlen,
                    const struct ld_cache_set *set, const uint8_t *ans, size_t alen)
{
        static uint8_t wire[65535];
        static struct cache_scan s;
        const struct ld_relay_ask keep = {0, NULL, 0, false, false, sizeof(wire)};
        uint8_t key[CACHE_KEY_BUF];
        struct ld_query q;
        size_t keylen, len = 0;
        uint32_t life = LD_CACHE_FAIL_TTL;
        uint8_t rcode;

        if (!c || !set->n || ld_query_parse(query, qlen, &q) != LD_QUERY_OK || !q.has_question)
                return;
        keylen = cache_key(key, q.lname, q.qname_len, q.qtype, q.qclass, q.edns_do, q.flags2 & 0x10,
                           set);
        s.nttl = s.npatch = 0;
        if (ans) {
                if (alen < LD_DNS_HEADER || (ans[2] & 0x02) || !cache_same_question(ans, alen, &q))
                        return; /* TC: the client asks again over TCP; not ours: nothing */
                len = ld_relay_rewrite(ans, alen, &keep, wire, sizeof(wire));
        }
        if (len == 0) { /* no answer, or a malformed one: SERVFAIL, as the forwarder says */
                cache_insert(c, key, keylen, NULL, 0, &s, life, true);
                return;
        }
        if (len > LD_CACHE_MAX_WIRE || !cache_scan(wire, len, &q, c->max_ttl, &s) ||
            !cache_ttls_apart(wire, len, &s))
                return;
        rcode = wire[3] & 0x0f;
        if (rcode == LD_RCODE_NOERROR || rcode == LD_RCODE_NXDOMAIN) {
                bool negative = rcode == LD_RCODE_NXDOMAIN || ld_rd16(wire + 6) == 0;
                if ((negative && !s.soa) || s.min_ttl == 0 || s.nttl == 0)
                        return; /* RFC 2308 5: without an SOA a negative answer is not kept */
                life = s.min_ttl;
        } else if (rcode != LD_RCODE_SERVFAIL && rcode != LD_RCODE_REFUSED) {
                return;
        }
        cache_insert(c, key, keylen, wire, len, &s, life, false);
}

/* The entry's message for the client ask: copied whole when it fits, else cut by the relay;
 * then its spelling and TTLs. */
static size_t cache_reply(struct cache_entry *e, const struct ld_relay_ask *ask, uint32_t elapsed,
                          uint8_t *out, size_t cap)
{
        const uint8_t *wire = entry_wire(e);
        const uint16_t *ttl = entry_ttls(e);
        const struct cache_patch *p = entry_patches(e);
        size_t n, end;

        if ((size_t)e->wirelen + (ask->edns ? LD_OPT_LEN : 0) <=
            (ask->limit < cap ? ask->limit : cap)) {
                uint16_t count[3] = {ld_rd16(wire + 6), ld_rd16(wire + 8), ld_rd16(wire + 10)};
                memcpy(out, wire, e->wirelen);
                memcpy(out + LD_DNS_HEADER, ask->name, ask->namelen);
                n = ld_relay_finish(wire, count, false, ask, out, e->wirelen);
                end = e->wirelen;
        } else if ((n = ld_relay_rewrite(wire, e->wirelen, ask, out, cap)) > 0) {
                end = n - (ask->edns ? LD_OPT_LEN : 0);
        } else {
                return 0;
        }
        for (uint16_t i = 0; i < e->npatch; i++)
                if (p[i].pos + p[i].len <= end)
                        memcpy(out + p[i].pos, ask->name + p[i].from, p[i].len);
        for (uint16_t i = 0; i < e->nttl && ttl[i] + 4u <= end; i++) {
                uint32_t t = ld_rd32(wire + ttl[i]);
                ld_wr32(out + ttl[i], t > elapsed ? t - elapsed : 0);
        }
        return n;
}

size_t ld_cache_answer(struct ld_cache *c, const struct ld_query *q, const struct ld_cache_set *set,
                       bool tcp, uint8_t *out, size_t cap)
{
        uint8_t key[CACHE_KEY_BUF];
        struct cache_entry *e;
        size_t keylen;
        double now;

        if (!c || !q->has_question)
                return 0;
        keylen = cache_key(key, q->lname, q->qname_len, q->qtype, q->qclass, q->edns_do,
                           q->flags2 & 0x10, set);
        e = cache_find(c, key, keylen, cache_hash(c->key, key, keylen));
        if (!e) {
                c->st.misses++;
                return 0;
        }
        now = c->now();
        if (now >= e->expires) {
                cache_unlink(c, e);
                c->st.misses++;
                return 0;
        }
        cache_to_front(c, e);
        c->st.hits++;
        if (e->fail) {
                struct ld_wire_question qn = {q->pkt + LD_DNS_HEADER, q->qname_len, q->qtype,
                                              q->qclass};
                struct ld_wire_ask a = {.id = q->id,
                                        .rd = q->rd,
                                        .ra = true,
                                        .edns = q->edns,
                                        .do_bit = q->edns_do,
                                        .question = &qn};
                return ld_wire_error(&a, LD_RCODE_SERVFAIL, out, cap);
        }
        struct ld_relay_ask ask = {q->id,        q->pkt + LD_DNS_HEADER,
                                   q->qname_len, q->edns,
                                   q->edns_do,   ld_relay_limit(tcp, q->edns, q->edns_udp)};
        return cache_reply(e, &ask, (uint32_t)(now - e->stored), out, cap);
}

/* Whether the name is name or below it (both lower case, wire form). */
static bool cache_under(const uint8_t *name, size_t len, const uint8_t *dom, size_t domlen)
{
        for (size_t k = 0; k < len && len - k >= domlen; k += 1u + name[k])
                if (len - k == domlen && memcmp(name + k, dom, domlen) == 0)
                        return true;
        return false;
}

size_t ld_cache_flush(struct ld_cache *c, const uint8_t *name, size_t namelen)
{
        size_t n = 0;

        if (!c)
                return 0;
        for (struct cache_entry *e = c->head, *next; e; e = next) {
                next = e->next;
                uint8_t *k = entry_key(e);
                size_t len = 0;
                while (k[len]) /* the key opens with the name */
                        len += 1u + k[len];
                if (!name || cache_under(k, len + 1, name, namelen)) {
                        cache_unlink(c, e);
                        n++;
                }
        }
        return n;
}

struct ld_cache_stats ld_cache_stats(const struct ld_cache *c)
{
        return c ? c->st : (struct ld_cache_stats){0};
}
