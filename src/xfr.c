/* xfr: the publish zone to standard secondaries — AXFR (IXFR answered in full) over TCP to
 * --transfer-allow sources, NOTIFY on change from a socket of its own until acknowledged,
 * both signed and checked with --tsig through ldns (key, MAC and time, refused with RFC 8945's
 * BADKEY, BADSIG or BADTIME; a BADTIME reply is signed by hand, which ldns cannot do). */
#include "xfr.h"

#include "client.h"
#include "log.h"
#include "pubzone.h"
#include "engine.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define XFR_RRS_PER_MESSAGE 400 /* well inside 64 KiB for the records published here */
#define XFR_FUDGE 300
#define XFR_RETRY_MAX 60.0

/* TSIG errors (RFC 8945 5.2), carried in the TSIG record of a NOTAUTH reply. */
enum { XFR_BADSIG = 16, XFR_BADKEY = 17, XFR_BADTIME = 18 };

/* The algorithms --tsig takes, as ldns names them, and their digests. */
static const struct {
        const char *name, *digest;
} xfr_algs[] = {
    {"hmac-md5.sig-alg.reg.int.", "MD5"}, {"hmac-sha1.", "SHA1"},     {"hmac-sha224.", "SHA224"},
    {"hmac-sha256.", "SHA256"},           {"hmac-sha384.", "SHA384"}, {"hmac-sha512.", "SHA512"},
};

struct xfr_target {
        struct ld_xfr *x;
        struct ld_endpoint ep;
        ev_timer retry;
        double interval;
        uint16_t id;
        uint32_t serial;
        int pending;   /* an unacknowledged NOTIFY for serial */
        ldns_rdf *mac; /* with --tsig, the last NOTIFY's MAC: the reply is signed over it */
};

struct ld_xfr {
        struct ev_loop *loop;
        struct ld_engine *eng;
        struct ld_prefix *allow;
        size_t nallow;
        struct xfr_target *targets;
        size_t ntargets;
        char *key_name, *key_alg, *key_secret; /* NULL without --tsig */
        ldns_rdf *key_owner, *key_algname;     /* the same as names, to compare */
        ldns_rdf *key_raw;                     /* the secret decoded, for BADTIME's MAC */
        struct xfr_snap *snap;                 /* the zone of transfers running (not counted) */
        const EVP_MD *key_md;
        int sock[2]; /* IPv4 and IPv6, for NOTIFY and its replies */
        ev_io sock_w[2];
};

static bool xfr_allowed(const struct ld_xfr *x, const struct ld_addr *a)
{
        for (size_t i = 0; i < x->nallow; i++)
                if (ld_prefix_contains(&x->allow[i], a))
                        return true;
        return false;
}

bool ld_xfr_allowed(const struct ld_xfr *x, const struct ld_addr *src)
{
        return x && xfr_allowed(x, src);
}

/* NAME:ALG:SECRET into its three parts (malloc'd). */
static int xfr_tsig_split(const char *tsig, char **name, char **alg, char **secret)
{
        const char *a = strchr(tsig, ':'), *b = a ? strchr(a + 1, ':') : NULL;

        *name = *alg = *secret = NULL;
        if (!a || !b || a == tsig || b == a + 1 || !b[1])
                return -EINVAL;
        *name = strndup(tsig, (size_t)(a - tsig));
        *alg = malloc((size_t)(b - a) + 1); /* with the final dot ldns wants */
        *secret = strdup(b + 1);
        if (!*name || !*alg || !*secret)
                return -ENOMEM;
        snprintf(*alg, (size_t)(b - a) + 1, "%.*s.", (int)(b - a - 1), a + 1);
        return 0;
}

/* The digest of an algorithm --tsig takes; NULL for any other. */
static const EVP_MD *xfr_tsig_md(const char *alg)
{
        for (size_t i = 0; i < sizeof(xfr_algs) / sizeof(xfr_algs[0]); i++)
                if (strcasecmp(alg, xfr_algs[i].name) == 0)
                        return EVP_get_digestbyname(xfr_algs[i].digest);
        return NULL;
}

int ld_xfr_tsig_check(const char *tsig)
{
        char *name, *alg, *secret;
        int rc = xfr_tsig_split(tsig, &name, &alg, &secret);
        ldns_rdf *raw = NULL;

        if (rc == 0) {
                rc = xfr_tsig_md(alg) ? 0 : -EINVAL;
                if (rc == 0 && ldns_str2rdf_b64(&raw, secret) != LDNS_STATUS_OK)
                        rc = -EINVAL;
                if (raw)
                        ldns_rdf_deep_free(raw);
        }
        free(name);
        free(alg);
        free(secret);
        return rc;
}

/* p in wire form into buf: its length, or 0 if it does not fit (or no memory). */
static size_t xfr_wire(ldns_pkt *p, uint8_t *buf, size_t cap)
{
        uint8_t *wire = NULL;
        size_t len = 0;

        if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK || len > 65535 || len > cap)
                len = 0;
        else
                memcpy(buf, wire, len);
        free(wire);
        return len;
}

/* One message to the client now (a refusal). */
static void xfr_send_pkt(const struct ld_request *rq, ldns_pkt *p)
{
        static uint8_t buf[65535];
        size_t len = xfr_wire(p, buf, sizeof(buf));

        if (len)
                ld_request_reply(rq, buf, len);
}

static ldns_pkt *xfr_reply(const ldns_pkt *q, ldns_pkt_rcode rcode)
{
        ldns_pkt *r = ldns_pkt_new();
        ldns_rr_list *question = ldns_rr_list_clone(ldns_pkt_question(q));

        if (!r || !question) {
                ldns_pkt_free(r);
                ldns_rr_list_deep_free(question);
                return NULL;
        }
        ldns_pkt_set_id(r, ldns_pkt_id(q));
        ldns_pkt_set_qr(r, true);
        ldns_pkt_set_aa(r, rcode == LDNS_RCODE_NOERROR);
        ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
        ldns_pkt_set_rcode(r, rcode);
        ldns_pkt_push_rr_list(r, LDNS_SECTION_QUESTION, question);
        ldns_rr_list_free(question); /* the packet took the records, not the list */
        return r;
}

/* Signs message k of a reply: the first over the query's MAC, the next over the last one. */
static void xfr_sign(const struct ld_xfr *x, ldns_pkt *r, const ldns_rdf *mac, bool first)
{
        ldns_status st =
            first ? ldns_pkt_tsig_sign(r, x->key_name, x->key_secret, XFR_FUDGE, x->key_alg, mac)
                  : ldns_pkt_tsig_sign_next(r, x->key_name, x->key_secret, XFR_FUDGE, x->key_alg,
                                            mac, 0);
        if (st != LDNS_STATUS_OK)
                ld_warn("cannot sign a transfer: %s", ldns_get_errorstr_by_id(st));
}

static void xfr_refuse(const struct ld_request *rq, const ldns_pkt *q, ldns_pkt_rcode rcode,
                       const char *why)
{
        char src[LD_ADDR_STRLEN];
        ldns_pkt *r = xfr_reply(q, rcode);

        if (r)
                xfr_send_pkt(rq, r);
        ld_addr_format(&rq->src, src, sizeof(src));
        ld_warn("zone transfer to %s refused: %s", src, why);
        ldns_pkt_free(r);
}

static uint64_t xfr_time48(const ldns_rdf *d)
{
        const uint8_t *b = ldns_rdf_data(d);
        uint64_t v = 0;

        for (size_t i = 0; ldns_rdf_size(d) == 6 && i < 6; i++)
                v = v << 8 | b[i];
        return v;
}

static void xfr_put48(uint8_t *b, uint64_t v)
{
        for (int i = 5; i >= 0; i--, v >>= 8)
                b[i] = (uint8_t)v;
}

/* RFC 8945 5.2, in its order: the key is ours (name and algorithm: BADKEY), the MAC
 * verifies (BADSIG), the time signed is within the message's fudge of ours (BADTIME).
 * request_mac: for a reply, the MAC of our request. 0 when all hold, else the TSIG error. */
static int xfr_tsig_verify(const struct ld_xfr *x, ldns_pkt *q, const uint8_t *pkt, size_t len,
                           const ldns_rdf *request_mac)
{
        const ldns_rr *t = ldns_pkt_tsig(q);
        int64_t skew;

        if (ldns_rr_rd_count(t) < 7 || ldns_dname_compare(ldns_rr_owner(t), x->key_owner) != 0 ||
            ldns_rdf_get_type(ldns_rr_rdf(t, 0)) != LDNS_RDF_TYPE_DNAME ||
            ldns_dname_compare(ldns_rr_rdf(t, 0), x->key_algname) != 0)
                return XFR_BADKEY;
        if (!ldns_pkt_tsig_verify(q, pkt, len, x->key_name, x->key_secret, request_mac))
                return XFR_BADSIG;
        skew = (int64_t)time(NULL) - (int64_t)xfr_time48(ldns_rr_rdf(t, 1));
        if (skew > ldns_rdf2native_int16(ldns_rr_rdf(t, 2)) ||
            -skew > ldns_rdf2native_int16(ldns_rr_rdf(t, 2)))
                return XFR_BADTIME;
        return 0;
}

/* BADTIME's MAC (RFC 8945 4.3): over the request's MAC, the reply without its TSIG record
 * (and with the original ID) and the TSIG variables of rr. Into mac (its size in *maclen). */
static int xfr_tsig_mac(const struct ld_xfr *x, ldns_pkt *r, const ldns_rr *rr,
                        const ldns_rdf *query_mac, uint8_t *mac, unsigned *maclen)
{
        ldns_buffer *b = ldns_buffer_new(4096);
        ldns_rdf *owner = ldns_rdf_clone(ldns_rr_owner(rr)),
                 *alg = ldns_rdf_clone(ldns_rr_rdf(rr, 0));
        uint16_t id = ldns_pkt_id(r);
        int rc = -ENOMEM;

        if (!b || !owner || !alg)
                goto out;
        ldns_dname2canonical(owner);
        ldns_dname2canonical(alg);
        ldns_buffer_write(b, ldns_rdf_data(query_mac), ldns_rdf_size(query_mac));
        ldns_pkt_set_id(r, ldns_rdf2native_int16(ldns_rr_rdf(rr, 4)));
        if (ldns_pkt2buffer_wire(b, r) != LDNS_STATUS_OK)
                goto out;
        ldns_buffer_write(b, ldns_rdf_data(owner), ldns_rdf_size(owner));
        ldns_buffer_write_u16(b, LDNS_RR_CLASS_ANY);
        ldns_buffer_write_u32(b, 0);
        ldns_buffer_write(b, ldns_rdf_data(alg), ldns_rdf_size(alg));
        ldns_buffer_write(b, ldns_rdf_data(ldns_rr_rdf(rr, 1)), 6); /* time signed */
        ldns_buffer_write(b, ldns_rdf_data(ldns_rr_rdf(rr, 2)), 2); /* fudge */
        ldns_buffer_write(b, ldns_rdf_data(ldns_rr_rdf(rr, 5)), 2); /* error */
        ldns_buffer_write(b, ldns_rdf_data(ldns_rr_rdf(rr, 6)), 8); /* other */
        if (ldns_buffer_status(b) == LDNS_STATUS_OK &&
            HMAC(x->key_md, ldns_rdf_data(x->key_raw), (int)ldns_rdf_size(x->key_raw),
                 ldns_buffer_begin(b), ldns_buffer_position(b), mac, maclen))
                rc = 0;
out:
        ldns_pkt_set_id(r, id);
        ldns_buffer_free(b);
        ldns_rdf_deep_free(owner);
        ldns_rdf_deep_free(alg);
        return rc;
}

/* The TSIG record of an error reply: the request's key name, algorithm and original ID,
 * error err and no MAC (RFC 8945 5.2.1, 5.2.2: unsigned); for BADTIME the request's time
 * signed, ours in Other Data, and signed (5.2.3) — a client can check what it is told. */
static ldns_rr *xfr_tsig_error_rr(const struct ld_xfr *x, ldns_pkt *r, const ldns_rr *qt, int err)
{
        uint8_t when[6], other[8] = {0}, mac[2 + EVP_MAX_MD_SIZE] = {0};
        unsigned maclen = 0;
        uint64_t now = (uint64_t)time(NULL);
        ldns_rr *rr = ldns_rr_new();
        ldns_rdf *d[7];

        /* ldns takes a TSIG record cut short (RDLENGTH 0, say): it has no fields to echo */
        if (ldns_rr_rd_count(qt) < 7) {
                ldns_rr_free(rr);
                return NULL;
        }
        if (!rr)
                return NULL;
        xfr_put48(when, err == XFR_BADTIME ? xfr_time48(ldns_rr_rdf(qt, 1)) : now);
        if (err == XFR_BADTIME) {
                other[1] = 6;
                xfr_put48(other + 2, now);
        }
        ldns_rr_set_owner(rr, ldns_rdf_clone(ldns_rr_owner(qt)));
        ldns_rr_set_type(rr, LDNS_RR_TYPE_TSIG);
        ldns_rr_set_class(rr, LDNS_RR_CLASS_ANY);
        ldns_rr_set_ttl(rr, 0);
        d[0] = ldns_rdf_clone(ldns_rr_rdf(qt, 0));
        d[1] = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_TSIGTIME, sizeof(when), when);
        d[2] = ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, XFR_FUDGE);
        d[3] = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2, mac);
        d[4] = ldns_rdf_clone(ldns_rr_rdf(qt, 4));
        d[5] = ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, (uint16_t)err);
        d[6] = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2u + other[1], other);
        for (int i = 0; i < 7; i++) {
                if (!d[i] || !ldns_rr_push_rdf(rr, d[i])) {
                        for (int k = i; k < 7; k++)
                                ldns_rdf_deep_free(d[k]);
                        ldns_rr_free(rr);
                        return NULL;
                }
        }
        if (err == XFR_BADTIME &&
            xfr_tsig_mac(x, r, rr, ldns_rr_rdf(qt, 3), mac + 2, &maclen) == 0) {
                mac[0] = (uint8_t)(maclen >> 8);
                mac[1] = (uint8_t)maclen;
                ldns_rdf *m = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2 + maclen, mac);
                if (m)
                        ldns_rdf_deep_free(ldns_rr_set_rdf(rr, m, 3));
        }
        return rr;
}

/* NOTAUTH with the TSIG error err (RFC 8945 5.2). */
static void xfr_tsig_refuse(const struct ld_xfr *x, const struct ld_request *rq, const ldns_pkt *q,
                            int err)
{
        static const char *const why[] = {"TSIG: wrong MAC (BADSIG)",
                                          "TSIG: unknown key or algorithm (BADKEY)",
                                          "TSIG: time signed outside the fudge (BADTIME)"};
        char src[LD_ADDR_STRLEN];
        ldns_pkt *r = xfr_reply(q, LDNS_RCODE_NOTAUTH);
        ldns_rr *rr = r ? xfr_tsig_error_rr(x, r, ldns_pkt_tsig(q), err) : NULL;

        ld_addr_format(&rq->src, src, sizeof(src));
        ld_warn("zone transfer to %s refused: %s", src, why[err - XFR_BADSIG]);
        if (rr)
                ldns_pkt_set_tsig(r, rr); /* the packet owns it now */
        if (r) /* a malformed TSIG gets a plain NOTAUTH: there is nothing to echo */
                xfr_send_pkt(rq, r);
        ldns_pkt_free(r);
}

/* A copy of the zone as it was at one serial, shared by every transfer of that serial: a
 * change meanwhile does not tear a transfer, and --tcp-max transfers of an unchanged zone
 * hold one copy, not one each. */
struct xfr_snap {
        unsigned refs; /* the transfers' */
        uint32_t serial;
        struct ld_xfr *x; /* whose snap it is while it lasts (NULL: it outlived x) */
        ldns_rr_list *rrs;
        ldns_rr *soa;
};

static void xfr_snap_unref(struct xfr_snap *z)
{
        if (!z || --z->refs > 0)
                return;
        if (z->x && z->x->snap == z)
                z->x->snap = NULL;
        ldns_rr_list_deep_free(z->rrs);
        ldns_rr_free(z->soa);
        free(z);
}

static uint32_t xfr_serial(const ldns_rr *soa)
{
        return ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
}

/* The zone as it is now, counted for the caller; NULL without memory. */
static struct xfr_snap *xfr_snap_get(struct ld_xfr *x)
{
        const ldns_zone *lz = x->eng->pubzone->lz;
        struct xfr_snap *z = x->snap;

        if (z && z->serial == xfr_serial(ldns_zone_soa(lz))) {
                z->refs++;
                return z;
        }
        if (!(z = calloc(1, sizeof(*z))))
                return NULL;
        z->refs = 1;
        z->rrs = ldns_rr_list_clone(ldns_zone_rrs(lz));
        z->soa = ldns_rr_clone(ldns_zone_soa(lz));
        if (!z->rrs || !z->soa) {
                xfr_snap_unref(z);
                return NULL;
        }
        z->serial = xfr_serial(z->soa);
        if (x->snap) /* an older serial: its transfers keep it while they run */
                x->snap->x = NULL;
        z->x = x;
        x->snap = z;
        return z;
}

/* A transfer in progress: SOA, every record, SOA again, over as many messages as it
 * takes, built one message at a time as the client drains them, from the zone's copy. */
struct xfr_stream {
        struct ld_stream base;
        const struct ld_xfr *x;
        ldns_pkt *q;
        struct xfr_snap *z;
        ldns_rdf *mac; /* with --tsig: the query's MAC, then the last message's */
        size_t total, done;
};

static void xfr_stream_free(struct ld_stream *base)
{
        struct xfr_stream *s = (struct xfr_stream *)base;

        ldns_pkt_free(s->q);
        xfr_snap_unref(s->z);
        if (s->mac)
                ldns_rdf_deep_free(s->mac);
        free(s);
}

static ssize_t xfr_stream_next(struct ld_stream *base, uint8_t *buf, size_t cap)
{
        struct xfr_stream *s = (struct xfr_stream *)base;
        const struct ld_xfr *x = s->x;
        ldns_pkt *r;
        size_t len;

        if (s->done >= s->total)
                return 0;
        if (!(r = xfr_reply(s->q, LDNS_RCODE_NOERROR)))
                return -ENOMEM;
        for (size_t k = 0; k < XFR_RRS_PER_MESSAGE && s->done < s->total; k++, s->done++) {
                const ldns_rr *rr = (s->done == 0 || s->done == s->total - 1)
                                        ? s->z->soa
                                        : ldns_rr_list_rr(s->z->rrs, s->done - 1);
                ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, ldns_rr_clone(rr));
        }
        if (x->key_name) {
                xfr_sign(x, r, s->mac, s->done <= XFR_RRS_PER_MESSAGE);
                if (s->mac)
                        ldns_rdf_deep_free(s->mac);
                s->mac = ldns_pkt_tsig(r) ? ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(r), 3)) : NULL;
        }
        len = xfr_wire(r, buf, cap);
        ldns_pkt_free(r);
        return len ? (ssize_t)len : -EMSGSIZE;
}

/* The transfer of the zone for q, taking q; NULL (q left to the caller) without memory. */
static struct ld_stream *xfr_stream(struct ld_xfr *x, ldns_pkt *q, const ldns_rdf *query_mac)
{
        struct xfr_stream *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->base.next = xfr_stream_next;
        s->base.free = xfr_stream_free;
        s->x = x;
        s->z = xfr_snap_get(x);
        s->mac = query_mac ? ldns_rdf_clone(query_mac) : NULL;
        if (!s->z || (query_mac && !s->mac)) {
                xfr_stream_free(&s->base); /* s->q is still NULL: q stays the caller's */
                return NULL;
        }
        s->q = q;
        s->total = ldns_rr_list_rr_count(s->z->rrs) + 2;
        return &s->base;
}

struct ld_stream *ld_xfr_serve(struct ld_xfr *x, const uint8_t *pkt, size_t len,
                               const struct ld_request *rq)
{
        ldns_pkt *q = NULL;
        const ldns_rr *qrr;
        const ldns_rdf *query_mac = NULL;
        ldns_rdf *zone = NULL;
        struct ld_stream *s = NULL;
        int err = 0;

        if (!x || ldns_wire2pkt(&q, pkt, len) != LDNS_STATUS_OK)
                return NULL;
        qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
        zone = ldns_dname_new_frm_str(x->eng->pubzone->zone);
        if (!qrr || !zone || ldns_dname_compare(ldns_rr_owner(qrr), zone) != 0)
                xfr_refuse(rq, q, LDNS_RCODE_NOTAUTH, "not the publish zone");
        else if (!xfr_allowed(x, &rq->src))
                xfr_refuse(rq, q, LDNS_RCODE_REFUSED, "source not in --transfer-allow");
        else if (x->key_name && !ldns_pkt_tsig(q))
                xfr_refuse(rq, q, LDNS_RCODE_NOTAUTH, "TSIG missing");
        else if (x->key_name && (err = xfr_tsig_verify(x, q, pkt, len, NULL)) != 0)
                xfr_tsig_refuse(x, rq, q, err);
        else {
                if (x->key_name)
                        query_mac = ldns_rr_rdf(ldns_pkt_tsig(q), 3);
                if ((s = xfr_stream(x, q, query_mac)))
                        x->eng->stats.transfers++;
        }
        if (zone)
                ldns_rdf_deep_free(zone);
        if (!s)
                ldns_pkt_free(q); /* else the stream's */
        return s;
}

static void xfr_send_notify(struct xfr_target *t)
{
        struct ld_xfr *x = t->x;
        ldns_rdf *zone = ldns_dname_new_frm_str(x->eng->pubzone->zone);
        ldns_pkt *p =
            zone ? ldns_pkt_query_new(zone, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, LDNS_AA) : NULL;
        struct sockaddr_storage ss;
        socklen_t sl = ld_endpoint_sockaddr(&t->ep, &ss);
        uint8_t *wire = NULL;
        size_t len = 0;

        if (!p)
                return;
        ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
        ldns_pkt_set_id(p, t->id);
        ldns_pkt_set_rd(p, false);
        ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, ldns_rr_clone(ldns_zone_soa(x->eng->pubzone->lz)));
        if (x->key_name) {
                xfr_sign(x, p, NULL, true);
                ldns_rdf_deep_free(t->mac);
                t->mac = ldns_pkt_tsig(p) ? ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3)) : NULL;
        }
        if (ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK)
                sendto(x->sock[t->ep.addr.family == AF_INET6], wire, len, 0, (struct sockaddr *)&ss,
                       sl);
        free(wire);
        ldns_pkt_free(p);
}

static void xfr_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct xfr_target *t = w->data;
        (void)revents;

        if (!t->pending)
                return;
        xfr_send_notify(t);
        t->interval = t->interval * 2 < XFR_RETRY_MAX ? t->interval * 2 : XFR_RETRY_MAX;
        ev_timer_set(w, t->interval, 0.);
        ev_timer_start(loop, w);
}

void ld_xfr_notify(struct ld_xfr *x)
{
        if (!x || !x->eng->pubzone || !x->eng->pubzone->lz)
                return;
        for (size_t i = 0; i < x->ntargets; i++) {
                struct xfr_target *t = &x->targets[i];
                getrandom(&t->id, sizeof(t->id), 0);
                t->serial = x->eng->pubzone->serial;
                t->pending = 1;
                t->interval = 1.0;
                xfr_send_notify(t);
                ev_timer_stop(x->loop, &t->retry);
                ev_timer_set(&t->retry, t->interval, 0.);
                ev_timer_start(x->loop, &t->retry);
        }
}

/* With --tsig, only a reply signed with the key over our NOTIFY's MAC, within the fudge,
 * acknowledges it: a forged one cannot stop the retries. */
static bool xfr_notify_reply_ok(const struct ld_xfr *x, const struct xfr_target *t,
                                const uint8_t *buf, size_t n)
{
        ldns_pkt *p = NULL;
        int err = -1;

        if (!x->key_name)
                return true;
        if (!t->mac || ldns_wire2pkt(&p, buf, n) != LDNS_STATUS_OK)
                return false;
        /* a signed error (a secondary's BADTIME, REFUSED) is no acknowledgement either */
        if (ldns_pkt_tsig(p) && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR &&
            ldns_rr_rd_count(ldns_pkt_tsig(p)) >= 7 &&
            ldns_rdf2native_int16(ldns_rr_rdf(ldns_pkt_tsig(p), 5)) == 0)
                err = xfr_tsig_verify(x, p, buf, n, t->mac);
        ldns_pkt_free(p);
        return err == 0;
}

/* Replies to our NOTIFYs: QR set, opcode NOTIFY, our ID, from the target itself, signed
 * with --tsig. */
static void xfr_sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ld_xfr *x = w->data;
        uint8_t buf[4096];
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        struct ld_addr from;
        ssize_t n;
        (void)revents;

        while ((n = recvfrom(w->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl)) >= 12) {
                uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
                if (!(buf[2] & 0x80) || ((buf[2] >> 3) & 0x0f) != LDNS_PACKET_NOTIFY ||
                    ld_addr_from_sockaddr((struct sockaddr *)&ss, &from) < 0)
                        continue;
                for (size_t i = 0; i < x->ntargets; i++) {
                        struct xfr_target *t = &x->targets[i];
                        char ep[LD_ENDPOINT_STRLEN];
                        if (!t->pending || t->id != id || !ld_addr_equal(&t->ep.addr, &from))
                                continue;
                        ld_endpoint_format(&t->ep, ep, sizeof(ep));
                        if (!xfr_notify_reply_ok(x, t, buf, (size_t)n)) {
                                ld_warn("reply to NOTIFY from %s ignored: no NOERROR signed with "
                                        "the key",
                                        ep);
                                continue;
                        }
                        t->pending = 0;
                        ev_timer_stop(loop, &t->retry);
                        ld_info("NOTIFY of serial %u acknowledged by %s", t->serial, ep);
                }
                sl = sizeof(ss);
        }
}

static int xfr_targets(struct ld_xfr *x, const struct ld_endpoint *notify, size_t nnotify)
{
        x->targets = calloc(nnotify + x->nallow + 1, sizeof(*x->targets));
        if (!x->targets)
                return -ENOMEM;
        for (size_t i = 0; i < nnotify; i++)
                x->targets[x->ntargets++].ep = notify[i];
        for (size_t i = 0; nnotify == 0 && i < x->nallow; i++) {
                if (x->allow[i].len != ld_addr_len(&x->allow[i].addr) * 8)
                        continue; /* a range: no single secondary to tell */
                x->targets[x->ntargets].ep.addr = x->allow[i].addr;
                x->targets[x->ntargets++].ep.port = 53;
        }
        for (size_t i = 0; i < x->ntargets; i++) {
                x->targets[i].x = x;
                ev_init(&x->targets[i].retry, xfr_retry_cb);
                x->targets[i].retry.data = &x->targets[i];
        }
        return 0;
}

/* --tsig's key as ldns signs with it, and as names and bytes to check and sign by hand. */
static int xfr_tsig_keys(struct ld_xfr *x, const char *tsig)
{
        int rc = xfr_tsig_split(tsig, &x->key_name, &x->key_alg, &x->key_secret);

        if (rc < 0)
                return rc;
        if (!(x->key_md = xfr_tsig_md(x->key_alg)) ||
            ldns_str2rdf_b64(&x->key_raw, x->key_secret) != LDNS_STATUS_OK)
                return -EINVAL;
        x->key_owner = ldns_dname_new_frm_str(x->key_name);
        x->key_algname = ldns_dname_new_frm_str(x->key_alg);
        return x->key_owner && x->key_algname ? 0 : -EINVAL;
}

int ld_xfr_new(struct ev_loop *loop, struct ld_engine *eng, const struct ld_prefix *allow,
               size_t nallow, const struct ld_endpoint *notify, size_t nnotify, const char *tsig,
               struct ld_xfr **out)
{
        struct ld_xfr *x = calloc(1, sizeof(*x));
        int rc = -ENOMEM;

        if (!x)
                return -ENOMEM;
        x->loop = loop;
        x->eng = eng;
        x->sock[0] = x->sock[1] = -1;
        x->allow = malloc((nallow ? nallow : 1) * sizeof(*allow));
        if (!x->allow)
                goto fail;
        memcpy(x->allow, allow, nallow * sizeof(*allow));
        x->nallow = nallow;
        if (tsig && (rc = xfr_tsig_keys(x, tsig)) < 0)
                goto fail;
        if ((rc = xfr_targets(x, notify, nnotify)) < 0)
                goto fail;
        /* Sockets of its own: the replies to our NOTIFYs come back there, nowhere else. */
        for (int i = 0; i < 2; i++) {
                x->sock[i] =
                    socket(i ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (x->sock[i] < 0)
                        continue; /* no IPv6 here: IPv6 targets will not hear from us */
                ev_io_init(&x->sock_w[i], xfr_sock_cb, x->sock[i], EV_READ);
                x->sock_w[i].data = x;
                ev_io_start(loop, &x->sock_w[i]);
        }
        if (x->sock[0] < 0) {
                rc = -errno;
                goto fail;
        }
        *out = x;
        return 0;
fail:
        ld_xfr_free(x);
        return rc;
}

void ld_xfr_free(struct ld_xfr *x)
{
        if (!x)
                return;
        for (size_t i = 0; i < x->ntargets; i++) {
                ev_timer_stop(x->loop, &x->targets[i].retry);
                ldns_rdf_deep_free(x->targets[i].mac);
        }
        for (int i = 0; i < 2; i++) {
                if (x->sock[i] >= 0) {
                        ev_io_stop(x->loop, &x->sock_w[i]);
                        close(x->sock[i]);
                }
        }
        if (x->snap) /* transfers still running keep it */
                x->snap->x = NULL;
        free(x->targets);
        free(x->allow);
        free(x->key_name);
        free(x->key_alg);
        free(x->key_secret);
        ldns_rdf_deep_free(x->key_owner);
        ldns_rdf_deep_free(x->key_algname);
        ldns_rdf_deep_free(x->key_raw);
        free(x);
}
