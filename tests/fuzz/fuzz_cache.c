/* fuzz_cache: arbitrary bytes as an upstream's answer, kept by the answer cache and answered
 * again to a client later; ldns and a fresh relay of the same answer are the oracle.
 *
 * The input: FUZZ_HDR octets of parameters (below), then the answer. The question is the
 * answer's own (as ldns reads it, in its spelling: the upstream echoes our 0x20), or a fixed
 * one, so that most inputs reach the cache's scan of the answer. Checked: a hit answers only
 * the question kept (a changed name, type, class, DO, CD or set misses) and never from a TC
 * answer or an answer to another question; it fits the client's limit, carries its ID and
 * its exact spelling of the question; it is the fresh relay of the answer (same length,
 * flags, counts) and, when ldns reads the answer, holds the same records (owner but for
 * case, type, class, RDATA octet for octet, names in RDATA but for case) in the same
 * sections, each owner that is the question's name spelled octet by octet as the client or
 * as the fresh relay, each TTL the kept one (RFC 2181 8, at most max_ttl, an authority SOA's
 * at most its MINIMUM) less the whole seconds elapsed, floored at 0 (names that read TTL
 * octets, which the countdown changes, aside: ttl_names); only RCODEs the cache keeps, no
 * negative answer without an authority SOA (RFC 2308 5), no hit past the answer's smallest
 * TTL. A malformed answer and no answer at all are answered SERVFAIL with the client's
 * question for LD_CACHE_FAIL_TTL seconds; a flush at or above the name leaves nothing,
 * elsewhere nothing goes. Stores of the same key twice and fillers in a small cache drive
 * replacement and eviction (ASan watches). */
#include "cache.h"
#include "fuzz_msg.h"
#include "query.h"
#include "relay.h"
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parameters, one octet each:
 * 0: DO, CD, client EDNS, TCP, RD, store twice, the fixed question, half a second more;
 * 1: seconds elapsed (low 7 bits; the top bit counts them in 256 s);
 * 2: the client's EDNS payload / 16;  3, 4: the client's ID;  5: the seed of its spelling;
 * 6: cache size (2 bits), max TTL (2 bits), fillers (4 bits);
 * 7: the key changed for a miss (3 bits), fillers after the answer, the flush (2 bits). */
#define FUZZ_HDR 8
#define FUZZ_T0 1000.0

static double fake_now;

static double fake_clock(void)
{
        return fake_now;
}

/* A question: its name in wire form (lname: lower case), type and class. */
struct question {
        uint8_t name[LD_NAME_WIRE_MAX], lname[LD_NAME_WIRE_MAX];
        size_t len;
        uint16_t type, qclass;
};

/* What a client asks: a question in its spelling and the flags that are part of the key. */
struct client {
        struct question q;
        uint16_t id, payload; /* as sent: below 512 means 512 (RFC 6891 6.2.3) */
        bool edns, do_bit, cd, rd, tcp;
};

static void fail(const char *what, size_t n)
{
        fprintf(stderr, "fuzz_cache: %zu-byte reply: %s\n", n, what);
        abort();
}

/* The answer's question as ldns reads it, or www.example.test A IN. */
static void question_of(const uint8_t *a, size_t alen, bool fixed, struct question *q)
{
        static const uint8_t www[] = "\3www\7example\4test";
        ldns_rr *rr = NULL;
        size_t pos = LD_DNS_HEADER;

        if (!fixed && alen >= LD_DNS_HEADER &&
            ldns_wire2rr(&rr, a, alen, &pos, LDNS_SECTION_QUESTION) == LDNS_STATUS_OK) {
                q->len = ldns_rdf_size(ldns_rr_owner(rr));
                memcpy(q->name, ldns_rdf_data(ldns_rr_owner(rr)), q->len);
                q->type = ldns_rr_get_type(rr);
                q->qclass = ldns_rr_get_class(rr);
        } else {
                q->len = sizeof(www);
                memcpy(q->name, www, sizeof(www));
                q->type = 1;
                q->qclass = 1;
        }
        ldns_rr_free(rr);
        for (size_t i = 0; i < q->len; i++)
                q->lname[i] = (uint8_t)(q->name[i] >= 'A' && q->name[i] <= 'Z' ? q->name[i] | 0x20
                                                                               : q->name[i]);
}

/* The name in a 0x20 spelling drawn from seed (letters of labels only). */
static void spell(struct question *q, uint32_t seed)
{
        for (size_t k = 0; k < q->len && q->lname[k]; k += 1u + q->lname[k])
                for (size_t i = k + 1; i <= k + q->lname[k]; i++) {
                        seed = seed * 1103515245u + 12345u;
                        q->name[i] = q->lname[i];
                        if (q->name[i] >= 'a' && q->name[i] <= 'z' && (seed >> 16 & 1))
                                q->name[i] ^= 0x20;
                }
}

/* The client's query, its header and question (and OPT), into out: its length. */
static size_t client_query(const struct client *c, uint8_t *out)
{
        size_t len = LD_DNS_HEADER + c->q.len;

        memset(out, 0, LD_DNS_HEADER);
        ld_wr16(out, c->id);
        out[2] = c->rd ? 1 : 0;
        out[3] = c->cd ? 0x10 : 0;
        out[5] = 1;
        out[11] = c->edns ? 1 : 0;
        memcpy(out + LD_DNS_HEADER, c->q.name, c->q.len);
        ld_wr16(out + len, c->q.type);
        ld_wr16(out + len + 2, c->q.qclass);
        len += 4;
        if (c->edns) {
                const uint8_t opt[11] = {0,
                                         0,
                                         41,
                                         (uint8_t)(c->payload >> 8),
                                         (uint8_t)c->payload,
                                         0,
                                         0,
                                         c->do_bit ? 0x80 : 0,
                                         0,
                                         0,
                                         0};
                memcpy(out + len, opt, sizeof(opt));
                len += sizeof(opt);
        }
        return len;
}

/* What the cache answers c with set at the fake clock's now: its length, 0 on a miss. */
static size_t lookup(struct ld_cache *cache, const struct client *c, const struct ld_cache_set *set,
                     uint8_t *out, size_t cap)
{
        uint8_t pkt[512];
        struct ld_query q;

        if (ld_query_parse(pkt, client_query(c, pkt), &q) != LD_QUERY_OK)
                fail("the harness's client query does not parse", 0);
        return ld_cache_answer(cache, &q, set, c->tcp, out, cap);
}

/* The SERVFAIL a failure answers c with, built here from RFC 1035 and 6891. */
static size_t servfail(const struct client *c, uint8_t *out)
{
        size_t len = client_query(c, out);

        out[2] = (uint8_t)(0x80 | (c->rd ? 1 : 0));
        out[3] = 0x80 | LD_RCODE_SERVFAIL;
        if (c->edns) { /* our OPT: payload 1232, DO copied, no options */
                out[len - 8] = 0x04;
                out[len - 7] = 0xd0;
        }
        return len;
}

/* An authority SOA's MINIMUM, or UINT32_MAX when ldns finds its RDATA too short for one. */
static uint32_t soa_minimum(const ldns_rr *rr, bool authority)
{
        if (!authority || ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 7)
                return UINT32_MAX;
        return ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
}

/* The TTL a record is kept with: RFC 2181 8, max_ttl, an authority SOA's MINIMUM. exact is
 * false for an SOA whose RDATA is too short for its fields: the cache may take a MINIMUM
 * from its last octets all the same, which can only lower the TTL. */
static uint32_t kept_ttl(const ldns_rr *rr, bool authority, uint32_t max_ttl, bool *exact)
{
        uint32_t t = ldns_rr_ttl(rr), min = soa_minimum(rr, authority);

        if (t > 0x7fffffff)
                t = 0;
        if (t > max_ttl)
                t = max_ttl;
        *exact = !authority || ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || min != UINT32_MAX;
        return min < t ? min : t;
}

/* Whether two fields are the same octets. */
static bool same_octets(const ldns_rdf *x, const ldns_rdf *y)
{
        return ldns_rdf_size(x) == ldns_rdf_size(y) &&
               memcmp(ldns_rdf_data(x), ldns_rdf_data(y), ldns_rdf_size(x)) == 0;
}

/* Whether a name of the answer (read by ldns as m) reads a TTL octet: ldns reads it again
 * with every TTL octet changed. cache.c keeps such an answer by design when the names the
 * relay checks (owners, RDATA names of the types that may be compressed) read TTL octets
 * only as a label's content (cache_ttls_apart), and RDATA of other types is opaque to it
 * (names there must not be compressed: RFC 3597 4, 9460 2.2): such names are not compared,
 * and the hit may be one ldns cannot read. */
static bool ttl_names(const uint8_t *a, size_t alen, const struct fuzz_msg *m)
{
        static uint8_t probe[65535];
        static struct fuzz_msg pm;
        bool same;

        memcpy(probe, a, alen);
        for (size_t i = 0; i < m->n; i++)
                for (size_t j = 4; j < 8; j++)
                        probe[m->type[i] + j] ^= 0x5a;
        same = fuzz_msg_read(&pm, probe, alen) && pm.n == m->n;
        for (size_t i = 0; same && i < m->n; i++) {
                same = same_octets(ldns_rr_owner(pm.rr[i]), ldns_rr_owner(m->rr[i]));
                for (size_t k = 0; same && k < ldns_rr_rd_count(m->rr[i]); k++)
                        same = ldns_rdf_get_type(ldns_rr_rdf(m->rr[i], k)) != LDNS_RDF_TYPE_DNAME ||
                               same_octets(ldns_rr_rdf(pm.rr[i], k), ldns_rr_rdf(m->rr[i], k));
        }
        fuzz_msg_free(&pm);
        return !same;
}

/* Whether two records are the same but for TTL and the case of names (names not compared
 * when they read TTL octets). */
static bool same_record(const ldns_rr *a, const ldns_rr *b, bool names)
{
        if (ldns_rr_get_type(a) != ldns_rr_get_type(b) ||
            ldns_rr_get_class(a) != ldns_rr_get_class(b) ||
            (names && !fuzz_msg_same_but_case(ldns_rr_owner(a), ldns_rdf_data(ldns_rr_owner(b)),
                                              ldns_rdf_size(ldns_rr_owner(b)))) ||
            ldns_rr_rd_count(a) != ldns_rr_rd_count(b))
                return false;
        for (size_t i = 0; i < ldns_rr_rd_count(a); i++) {
                const ldns_rdf *x = ldns_rr_rdf(a, i), *y = ldns_rr_rdf(b, i);
                if (ldns_rdf_get_type(x) != ldns_rdf_get_type(y))
                        return false;
                if (ldns_rdf_get_type(x) == LDNS_RDF_TYPE_DNAME && !names)
                        continue;
                if (ldns_rdf_size(x) != ldns_rdf_size(y))
                        return false;
                if (ldns_rdf_get_type(x) == LDNS_RDF_TYPE_DNAME
                        ? !fuzz_msg_same_but_case(x, ldns_rdf_data(y), ldns_rdf_size(y))
                        : !same_octets(x, y))
                        return false;
        }
        return true;
}

/* Whether the owner o (the question's name) is spelled as the client spelled it, octet by
 * octet, or as the fresh relay's f (the cache respells only octets that stand in owner names:
 * one read through a pointer into RDATA keeps the upstream's spelling, as a fresh forward). */
static bool respelled(const ldns_rdf *o, const ldns_rdf *f, const uint8_t *client)
{
        for (size_t i = 0; i < ldns_rdf_size(o); i++)
                if (ldns_rdf_data(o)[i] != client[i] && ldns_rdf_data(o)[i] != ldns_rdf_data(f)[i])
                        return false;
        return true;
}

/* What is wrong with the records of the hit o against the fresh relay f of the answer a
 * (read by ldns whole, to its first OPT: kept of them), or NULL. */
static const char *records_differ(const struct fuzz_msg *o, const struct fuzz_msg *f,
                                  const struct fuzz_msg *a, size_t kept, const uint8_t *ans,
                                  const struct client *c, uint32_t max_ttl, double elapsed)
{
        bool names = !ttl_names(ans, a->end, a);
        uint32_t el = (uint32_t)elapsed, life = UINT32_MAX;
        size_t nrec = o->n - (c->edns ? 1 : 0);
        uint8_t rcode = ans[3] & 0x0f;
        bool soa = false;

        if (o->n != f->n || o->an != f->an || o->ns != f->ns || o->ar != f->ar)
                return "not the fresh relay's records";
        for (size_t i = 0; i < o->n; i++) {
                bool auth = i >= o->an && i < o->an + o->ns, exact;
                uint32_t t = kept_ttl(f->rr[i], auth, max_ttl, &exact), got = ldns_rr_ttl(o->rr[i]);
                const ldns_rdf *owner = ldns_rr_owner(o->rr[i]);

                if (!same_record(o->rr[i], f->rr[i], names))
                        return "a record changed";
                if (names && fuzz_msg_same_but_case(owner, c->q.name, c->q.len) &&
                    !respelled(owner, ldns_rr_owner(f->rr[i]), c->q.name))
                        return "an owner not in the client's spelling";
                if (i >= nrec)
                        continue; /* our OPT */
                if (exact ? got != (t > el ? t - el : 0) : got > (t > el ? t - el : 0))
                        return "a TTL not counted down from the kept one";
                if (got > max_ttl)
                        return "a TTL above max_ttl";
                if (got > soa_minimum(o->rr[i], auth))
                        return "an authority SOA's TTL above its MINIMUM";
        }
        for (size_t i = 0; i < kept; i++) {
                bool auth = i >= a->an && i < a->an + a->ns, exact;
                uint32_t t = kept_ttl(a->rr[i], auth, max_ttl, &exact); /* at least the life's */
                life = t < life ? t : life;
                soa = soa || (auth && ldns_rr_get_type(a->rr[i]) == LDNS_RR_TYPE_SOA);
        }
        if (rcode == LD_RCODE_SERVFAIL || rcode == LD_RCODE_REFUSED)
                life = LD_CACHE_FAIL_TTL;
        else if (rcode != LD_RCODE_NOERROR && rcode != LD_RCODE_NXDOMAIN)
                return "an RCODE the cache does not keep";
        else if ((rcode == LD_RCODE_NXDOMAIN || a->an == 0 || kept == 0) && !soa) /* RFC 2308 5 */
                return "a negative answer without an authority SOA kept";
        if (elapsed >= life)
                return "a hit past the answer's life";
        return NULL;
}

/* Whether the answer a is one to the question q (the cache keeps nothing else) and no TC. */
static bool answers(const uint8_t *a, size_t alen, const struct question *q)
{
        size_t end = LD_DNS_HEADER + q->len;

        if (alen < end + 4 || ld_rd16(a + 4) != 1 || (a[2] & 0x02) || ld_rd16(a + end) != q->type ||
            ld_rd16(a + end + 2) != q->qclass)
                return false;
        for (size_t i = 0; i < q->len; i++)
                if ((a[LD_DNS_HEADER + i] >= 'A' && a[LD_DNS_HEADER + i] <= 'Z'
                         ? a[LD_DNS_HEADER + i] | 0x20
                         : a[LD_DNS_HEADER + i]) != q->lname[i])
                        return false;
        return true;
}

/* What is wrong with the hit out (n octets) for c of the answer a, or NULL. */
static const char *hit_differs(const uint8_t *a, size_t alen, const struct client *c,
                               const uint8_t *out, size_t n, uint32_t max_ttl, double elapsed)
{
        static uint8_t keep[65535], fresh[65535];
        static struct fuzz_msg am, fm, om;
        const struct ld_relay_ask k = {0, NULL, 0, false, false, sizeof(keep)};
        const struct ld_relay_ask ask = {
            c->id,     c->q.name,
            c->q.len,  c->edns,
            c->do_bit, ld_relay_limit(c->tcp, c->edns, c->payload < 512 ? 512 : c->payload)};
        const char *why = NULL;
        size_t fn, kept = 0;

        if (!answers(a, alen, &c->q))
                return "a TC answer or one to another question kept";
        if (n > ask.limit || n < LD_DNS_HEADER + c->q.len + 4)
                return "beyond the client's limit, or no question";
        if (ld_rd16(out) != c->id)
                return "not the client's ID";
        if (ld_rd16(out + 4) != 1 || memcmp(out + LD_DNS_HEADER, c->q.name, c->q.len) != 0 ||
            ld_rd16(out + LD_DNS_HEADER + c->q.len) != c->q.type ||
            ld_rd16(out + LD_DNS_HEADER + c->q.len + 2) != c->q.qclass)
                return "not the client's question in its spelling";
        if (ld_relay_rewrite(a, alen, &k, keep, sizeof(keep)) == 0) {
                uint8_t sf[512];
                if (n != servfail(c, sf) || memcmp(out, sf, n) != 0)
                        return "a malformed answer not answered SERVFAIL";
                return elapsed >= LD_CACHE_FAIL_TTL ? "a failure past its life" : NULL;
        }
        fn = ld_relay_rewrite(a, alen, &ask, fresh, sizeof(fresh));
        if (fn != n || memcmp(out, fresh, LD_DNS_HEADER) != 0)
                return "not the fresh relay's length, flags or counts";
        if (!fuzz_msg_read(&am, a, alen)) {
                fuzz_msg_free(&am); /* what it read before it could not */
                return NULL;        /* ldns cannot say what the answer holds */
        }
        while (kept < am.n && ldns_rr_get_type(am.rr[kept]) != LDNS_RR_TYPE_OPT)
                kept++;
        /* A name in opaque RDATA may point forward into octets after the records, which the
         * relay drops: then ldns cannot read the fresh relay either (the relay's matter, not
         * the cache's), and the hit was checked against its length, flags and counts. */
        if (!fuzz_msg_read(&fm, fresh, fn))
                why = NULL;
        else if (!fuzz_msg_read(&om, out, n) || om.end != n)
                why = ttl_names(a, am.end, &am) ? NULL : "ldns reads the fresh relay, not the hit";
        else
                why = records_differ(&om, &fm, &am, kept, a, c, max_ttl, elapsed);
        fuzz_msg_free(&am);
        fuzz_msg_free(&fm);
        fuzz_msg_free(&om);
        return why;
}

/* The client c with one part of the key changed (which: 0 to 6), and the set for it. */
static void other_key(struct client *c, struct ld_cache_set *set, unsigned which)
{
        switch (which % 7) {
        case 0:
                c->q.type++;
                break;
        case 1:
                c->q.qclass++;
                break;
        case 2:
                c->do_bit = !c->do_bit;
                c->edns = true;
                break;
        case 3:
                c->cd = !c->cd;
                break;
        case 4:
                *set = (struct ld_cache_set){1, {3}};
                break;
        case 5:
                *set = (struct ld_cache_set){3, {3, 7, 9}};
                break;
        default: /* a label more, or one less where there is no room */
                if (c->q.len + 2 <= LD_NAME_WIRE_MAX) {
                        memmove(c->q.name + 2, c->q.name, c->q.len);
                        memcpy(c->q.name, "\1x", 2);
                        c->q.len += 2;
                } else {
                        size_t first = 1u + c->q.name[0];
                        c->q.len -= first;
                        memmove(c->q.name, c->q.name + first, c->q.len);
                }
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const size_t sizes[] = {1 << 16, 1 << 14, 1 << 13, 1 << 12};
        static const uint32_t max_ttls[] = {86400, 604800, 300, 1};
        static const struct ld_cache_set set = {2, {7, 3}}, same = {3, {3, 7, 3}};
        static const struct ld_cache_set failed = {1, {77}};
        static uint8_t out[65535];
        const uint8_t *a = data + FUZZ_HDR;
        size_t alen = size - FUZZ_HDR, n, qlen;
        uint8_t query[LD_DNS_HEADER + LD_NAME_WIRE_MAX + 4 + LD_OPT_LEN], sf[512];
        struct ld_cache_set oset = set;
        struct client c, o;
        struct ld_cache *cache;
        ldns_rdf *flush, *qname;
        double elapsed;
        uint32_t max_ttl;
        unsigned nfill;
        bool under;
        const char *why;

        if (size < FUZZ_HDR || alen > 65535)
                return 0;
        memset(&c, 0, sizeof(c));
        question_of(a, alen, data[0] & 0x40, &c.q);
        c.edns = data[0] & 0x04;
        c.do_bit = c.edns && (data[0] & 0x01);
        c.cd = data[0] & 0x02;
        c.tcp = data[0] & 0x08;
        c.rd = data[0] & 0x10;
        elapsed =
            (double)((data[1] & 0x7fu) << (data[1] & 0x80 ? 8 : 0)) + (data[0] & 0x80 ? 0.5 : 0);
        c.payload = (uint16_t)(data[2] * 16);
        c.id = ld_rd16(data + 3);
        max_ttl = max_ttls[data[6] >> 2 & 3];
        nfill = data[6] >> 4;

        /* our upstream query, in the answer's spelling; the client's, in its own */
        {
                struct ld_wire_question wq = {c.q.name, c.q.len, c.q.type, c.q.qclass};
                qlen = ld_wire_query(query, &wq, c.cd, c.do_bit);
        }
        spell(&c.q, data[5]);
        if (ld_cache_new(sizes[data[6] & 3], max_ttl, 0x6c696e6b646e73ULL, &cache) != 0)
                return 0;
        ld_cache_set_clock(cache, fake_clock);
        fake_now = FUZZ_T0 - 1;
        for (unsigned i = 0; i < nfill && !(data[7] & 0x08); i++) /* older: evicted first */
                ld_cache_store(cache, query, qlen, &(struct ld_cache_set){1, {100 + i}},
                               i & 1 ? NULL : a, alen);
        if (data[0] & 0x20) /* the same key again replaces it */
                ld_cache_store(cache, query, qlen, &set, a, alen);
        fake_now = FUZZ_T0;
        ld_cache_store(cache, query, qlen, &set, a, alen);
        for (unsigned i = 0; i < nfill && (data[7] & 0x08); i++) /* may push it out */
                ld_cache_store(cache, query, qlen, &(struct ld_cache_set){1, {100 + i}},
                               i & 1 ? NULL : a, alen);
        ld_cache_store(cache, query, qlen, &failed, NULL, 0);
        if (ld_cache_stats(cache).bytes > sizes[data[6] & 3])
                fail("the cache past its bound", 0);

        fake_now = FUZZ_T0 + elapsed;
        n = lookup(cache, &c, &same, out, sizeof(out));
        if (n && (why = hit_differs(a, alen, &c, out, n, max_ttl, elapsed)))
                fail(why, n);
        n = lookup(cache, &c, &failed, out, sizeof(out));
        if (!n != (elapsed >= LD_CACHE_FAIL_TTL))
                fail(n ? "a failure past its life" : "a failure not kept", n);
        if (n && (n != servfail(&c, sf) || memcmp(out, sf, n) != 0))
                fail("a failure not answered SERVFAIL with the client's question", n);
        o = c;
        other_key(&o, &oset, data[7]);
        if ((n = lookup(cache, &o, &oset, out, sizeof(out))))
                fail("an answer to another key", n);

        /* the flush: the name, its parent, the root, or a name elsewhere */
        qname = ldns_dname_new_frm_data((uint16_t)c.q.len, c.q.lname);
        switch (data[7] >> 4 & 3) {
        case 0:
                flush = ldns_rdf_clone(qname);
                break;
        case 1:
                flush = c.q.len > 1 ? ldns_dname_left_chop(qname) : ldns_rdf_clone(qname);
                break;
        case 2:
                flush = ldns_dname_new_frm_data(1, "");
                break;
        default:
                flush = ldns_dname_new_frm_data(9, "\7nowhere");
                break;
        }
        under = ldns_dname_compare(qname, flush) == 0 || ldns_dname_is_subdomain(qname, flush);
        n = ld_cache_flush(cache, ldns_rdf_data(flush), ldns_rdf_size(flush));
        if (under && ld_cache_stats(cache).entries != 0)
                fail("entries left under a flushed name", n);
        if (!under && n != 0)
                fail("entries flushed elsewhere", n);
        if (under && (lookup(cache, &c, &same, out, sizeof(out)) ||
                      lookup(cache, &c, &failed, out, sizeof(out))))
                fail("a hit after its name was flushed", 0);
        ldns_rdf_deep_free(qname);
        ldns_rdf_deep_free(flush);
        ld_cache_free(cache);
        return 0;
}
