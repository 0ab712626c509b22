/* test_engine: the query engine in process — a table from text, crafted queries in, the
 * reply's bytes (parsed back with ldns) and the action out. Only the engine's public
 * interface (engine.h) is used. */
#include "engine.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdbool.h>
#include <string.h>

#include "tap.h"

static const char table_text[] = "add db --addr 127.0.10.2 --addr fd00::2 --expose 5432/tcp\n"
                                 "add web --addr 127.0.10.3\n"
                                 "add other --addr 127.0.10.9\n"
                                 "link web db\n";

static const struct ld_addr web_addr = {AF_INET, {127, 0, 10, 3}};
static const struct ld_addr stranger_addr = {AF_INET, {127, 9, 9, 9}};

static struct ld_engine eng;
static uint8_t out[65536];

/* A reply: the engine's result and, when there are bytes, ldns' reading of them. */
struct reply {
        struct ld_answer_result r;
        ldns_pkt *pkt; /* NULL when dropped or unparseable */
};

static void reply_free(struct reply *rp)
{
        ldns_pkt_free(rp->pkt);
        rp->pkt = NULL;
}

static bool engine_setup(bool upstream)
{
        char err[256] = "";
        struct ld_table *t;

        if (ld_engine_init(&eng, "link.internal", 10, upstream) < 0)
                return false;
        if (ld_table_load_buf(table_text, sizeof(table_text) - 1, "test", true, &t, err,
                              sizeof(err)) < 0) {
                printf("# table: %s\n", err);
                return false;
        }
        ld_engine_set_table(&eng, t);
        return true;
}

static struct reply handle_bytes(const struct ld_addr *from, const uint8_t *q, size_t len, bool tcp)
{
        struct ld_viewset vs = from ? ld_engine_views_of(&eng, from) : (struct ld_viewset){0};
        struct reply rp = {ld_engine_handle(&eng, vs, q, len, out, sizeof(out), tcp), NULL};

        if (rp.r.action != LD_ANSWER_DROP &&
            ldns_wire2pkt(&rp.pkt, out, rp.r.len) != LDNS_STATUS_OK)
                rp.pkt = NULL;
        return rp;
}

/* A query built by ldns: id 0x1234, RD; edns_udp 0 means no OPT record. */
static size_t make_query(const char *name, ldns_rr_type type, uint16_t edns_udp, uint8_t edns_ver,
                         bool edns_do, uint8_t *wire, size_t cap)
{
        ldns_pkt *p =
            ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN, LDNS_RD);
        uint8_t *w = NULL;
        size_t n = 0;

        ldns_pkt_set_id(p, 0x1234);
        if (edns_udp) {
                ldns_pkt_set_edns_udp_size(p, edns_udp);
                ldns_pkt_set_edns_version(p, edns_ver);
                ldns_pkt_set_edns_do(p, edns_do);
                ldns_pkt_set_edns_data(p, ldns_rdf_new_frm_str(LDNS_RDF_TYPE_UNKNOWN, "\\# 0"));
        }
        if (ldns_pkt2wire(&w, p, &n) != LDNS_STATUS_OK || n > cap)
                n = 0;
        else
                memcpy(wire, w, n);
        free(w);
        ldns_pkt_free(p);
        return n;
}

static struct reply ask(const struct ld_addr *from, const char *name, ldns_rr_type type,
                        uint16_t edns_udp, bool tcp)
{
        uint8_t q[512];
        size_t n = make_query(name, type, edns_udp, 0, false, q, sizeof(q));

        return handle_bytes(from, q, n, tcp);
}

/* The one answer record's rdata as text ("127.0.10.2", "0 0 5432 db.link.internal."). */
static bool answer_is(const ldns_pkt *p, ldns_rr_type type, const char *want)
{
        ldns_rr_list *an = ldns_pkt_answer(p);
        bool ok = false;

        if (ldns_rr_list_rr_count(an) != 1 || ldns_rr_get_type(ldns_rr_list_rr(an, 0)) != type)
                return false;
        ldns_rr *rr = ldns_rr_list_rr(an, 0);
        ldns_buffer *b = ldns_buffer_new(256);
        for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
                if (i)
                        ldns_buffer_printf(b, " ");
                ldns_rdf2buffer_str(b, ldns_rr_rdf(rr, i));
        }
        char *s = ldns_buffer_export2str(b);
        ok = s && strcmp(s, want) == 0;
        if (!ok)
                printf("# answer: %s, expected %s\n", s ? s : "?", want);
        free(s);
        ldns_buffer_free(b);
        return ok;
}

/* NAME asked by web: one record of TYPE whose rdata reads WANT. */
static void expect_answer(const char *name, ldns_rr_type type, bool tcp, const char *want,
                          const char *what)
{
        struct reply rp = ask(&web_addr, name, type, 0, tcp);

        TAP_OK(rp.r.action == LD_ANSWER_SEND && rp.pkt && answer_is(rp.pkt, type, want), "%s",
               what);
        reply_free(&rp);
}

/* NAME asked from FROM: a reply to send with RCODE and no answer record. */
static void expect_empty(const struct ld_addr *from, const char *name, ldns_rr_type type,
                         ldns_pkt_rcode rcode, const char *what)
{
        struct reply rp = ask(from, name, type, 0, false);

        TAP_OK(rp.r.action == LD_ANSWER_SEND && rp.r.rcode == rcode && rp.pkt &&
                   ldns_pkt_get_rcode(rp.pkt) == rcode && ldns_pkt_ancount(rp.pkt) == 0,
               "%s", what);
        reply_free(&rp);
}

static void test_linked_names(void)
{
        struct reply rp = ask(&web_addr, "db.link.internal.", LDNS_RR_TYPE_A, 0, false);

        TAP_OK(rp.r.action == LD_ANSWER_SEND && rp.pkt, "A of a linked name: a reply to send");
        TAP_OK(rp.pkt && ldns_pkt_get_rcode(rp.pkt) == LDNS_RCODE_NOERROR && rp.r.rcode == 0,
               "A of a linked name: NOERROR");
        TAP_OK(rp.pkt && ldns_pkt_id(rp.pkt) == 0x1234 && ldns_pkt_qr(rp.pkt) &&
                   ldns_pkt_aa(rp.pkt) && ldns_pkt_rd(rp.pkt) && !ldns_pkt_ra(rp.pkt),
               "A: the id and RD echoed, QR and AA set, no RA without upstream");
        TAP_OK(rp.pkt && ldns_pkt_qdcount(rp.pkt) == 1 && ldns_pkt_ancount(rp.pkt) == 1 &&
                   ldns_pkt_nscount(rp.pkt) == 0 && ldns_pkt_arcount(rp.pkt) == 0,
               "A: counts 1/1/0/0");
        TAP_OK(rp.pkt && answer_is(rp.pkt, LDNS_RR_TYPE_A, "127.0.10.2"), "A: the address");
        TAP_OK(rp.pkt && ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(rp.pkt), 0)) == 10,
               "A: the configured TTL");
        reply_free(&rp);

        rp = ask(&web_addr, "DB.Link.Internal.", LDNS_RR_TYPE_AAAA, 0, false);
        TAP_OK(rp.pkt && answer_is(rp.pkt, LDNS_RR_TYPE_AAAA, "fd00::2"),
               "AAAA in mixed case: the IPv6 address");
        TAP_OK(rp.r.len >= 12 && memcmp(out + 12, "\002DB\004Link\010Internal", 17) == 0,
               "the question is echoed in the asker's case");
        reply_free(&rp);

        expect_answer("db.", LDNS_RR_TYPE_A, false, "127.0.10.2", "a bare link name answers too");
        expect_answer("_5432._tcp.db.link.internal.", LDNS_RR_TYPE_SRV, false,
                      "0 0 5432 db.link.internal.", "SRV by port of a linked name");
        expect_answer("_postgresql._tcp.db.", LDNS_RR_TYPE_SRV, true, "0 0 5432 db.link.internal.",
                      "SRV by service name, over TCP");
}

static void test_names_not_ours(void)
{
        struct reply rp = ask(&web_addr, "other.link.internal.", LDNS_RR_TYPE_A, 0, false);

        TAP_OK(rp.r.action == LD_ANSWER_SEND && rp.pkt &&
                   ldns_pkt_get_rcode(rp.pkt) == LDNS_RCODE_NXDOMAIN &&
                   ldns_pkt_ancount(rp.pkt) == 0,
               "a container not linked to the asker: NXDOMAIN");
        TAP_OK(rp.pkt && ldns_pkt_aa(rp.pkt) && ldns_pkt_nscount(rp.pkt) == 1 &&
                   ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(rp.pkt), 0)) ==
                       LDNS_RR_TYPE_SOA,
               "NXDOMAIN: authoritative, the SOA in the authority section");
        reply_free(&rp);

        expect_empty(&web_addr, "nosuch.link.internal.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN,
                     "a name no container has: NXDOMAIN");
        expect_empty(&stranger_addr, "db.link.internal.", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED,
                     "a source that is no container: REFUSED, nothing told");
        expect_empty(&web_addr, "example.com.", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED,
                     "a name outside the domain, no upstream: REFUSED");
        expect_empty(&web_addr, "db.link.internal.", LDNS_RR_TYPE_AXFR, LDNS_RCODE_REFUSED,
                     "AXFR over UDP: REFUSED");
}

static void test_edns(void)
{
        uint8_t q[512];
        size_t n = make_query("db.link.internal.", LDNS_RR_TYPE_A, 4096, 0, true, q, sizeof(q));
        struct reply rp = handle_bytes(&web_addr, q, n, false);

        TAP_OK(rp.pkt && ldns_pkt_get_rcode(rp.pkt) == LDNS_RCODE_NOERROR &&
                   answer_is(rp.pkt, LDNS_RR_TYPE_A, "127.0.10.2"),
               "EDNS query: answered");
        TAP_OK(rp.r.len > 12 && out[10] == 0 && out[11] == 1, "EDNS: one additional record");
        TAP_OK(rp.pkt && ldns_pkt_edns(rp.pkt) &&
                   ldns_pkt_edns_udp_size(rp.pkt) == LD_EDNS_PAYLOAD &&
                   ldns_pkt_edns_version(rp.pkt) == 0 && ldns_pkt_edns_do(rp.pkt),
               "EDNS: an OPT with our payload size, version 0, DO copied");
        reply_free(&rp);

        n = make_query("db.link.internal.", LDNS_RR_TYPE_A, 4096, 1, false, q, sizeof(q));
        rp = handle_bytes(&web_addr, q, n, false);
        TAP_OK(rp.r.action == LD_ANSWER_SEND && rp.r.rcode == 16 && rp.pkt &&
                   ldns_pkt_ancount(rp.pkt) == 0 && ldns_pkt_edns_extended_rcode(rp.pkt) == 1,
               "EDNS version 1: BADVERS (16), no answer");
        reply_free(&rp);
}

static void test_malformed(void)
{
        uint8_t q[512];
        size_t n = make_query("db.link.internal.", LDNS_RR_TYPE_A, 0, 0, false, q, sizeof(q));
        uint64_t dropped = eng.stats.dropped;
        struct reply rp = handle_bytes(&web_addr, q, 11, false);

        TAP_OK(rp.r.action == LD_ANSWER_DROP, "shorter than a header: dropped");
        TAP_OK(eng.stats.dropped == dropped + 1, "a drop is counted");

        q[2] |= 0x80; /* QR: a reply, never answered (no reflection loops) */
        rp = handle_bytes(&web_addr, q, n, false);
        TAP_OK(rp.r.action == LD_ANSWER_DROP, "a message with QR set: dropped");
        q[2] &= 0x7f;

        rp = handle_bytes(&web_addr, q, n - 3, false); /* the question cut short */
        TAP_OK(rp.r.action == LD_ANSWER_SEND && rp.r.rcode == LDNS_RCODE_FORMERR,
               "a question cut short: FORMERR");
        TAP_OK(rp.r.len == 12 && out[0] == 0x12 && out[1] == 0x34 && (out[2] & 0x80) && out[5] == 0,
               "FORMERR without a question: the header alone, id kept");
        reply_free(&rp);

        /* a name whose compression pointer points at itself */
        static const uint8_t loop[] = {0x12, 0x34, 0x01, 0x00, 0,  1, 0, 0, 0,
                                       0,    0,    0,    0xc0, 12, 0, 1, 0, 1};
        rp = handle_bytes(&web_addr, loop, sizeof(loop), false);
        TAP_OK(rp.r.action == LD_ANSWER_DROP ||
                   (rp.r.action == LD_ANSWER_SEND && rp.r.rcode == LDNS_RCODE_FORMERR),
               "a compression pointer in the question: FORMERR or dropped, never followed");
        reply_free(&rp);

        uint8_t two[600];
        memcpy(two, q, n);
        memcpy(two + n, q + 12, n - 12);
        two[5] = 2; /* QDCOUNT 2 */
        rp = handle_bytes(&web_addr, two, n + n - 12, false);
        TAP_OK(rp.r.action == LD_ANSWER_SEND && rp.r.rcode == LDNS_RCODE_FORMERR,
               "two questions: FORMERR");
        reply_free(&rp);
}

static void test_notimp(void)
{
        uint8_t q[512];
        size_t n = make_query("db.link.internal.", LDNS_RR_TYPE_A, 0, 0, false, q, sizeof(q));

        q[2] = (uint8_t)((q[2] & ~0x78) | 2 << 3); /* opcode STATUS, RD still set */
        struct reply rp = handle_bytes(&web_addr, q, n, false);
        TAP_OK(rp.r.action == LD_ANSWER_SEND && rp.pkt &&
                   ldns_pkt_get_rcode(rp.pkt) == LDNS_RCODE_NOTIMPL &&
                   ldns_pkt_get_opcode(rp.pkt) == LDNS_PACKET_STATUS &&
                   ldns_pkt_ancount(rp.pkt) == 0,
               "opcode STATUS: NOTIMP, the opcode kept");
        TAP_OK(rp.pkt && !ldns_pkt_rd(rp.pkt), "NOTIMP: RD is QUERY's and not copied");
        reply_free(&rp);
}

/* With upstream configured, a name outside ours goes to the forwarder. */
static void test_forward(void)
{
        struct reply rp = ask(&web_addr, "db.link.internal.", LDNS_RR_TYPE_A, 0, false);

        TAP_OK(rp.pkt && ldns_pkt_ra(rp.pkt), "upstream configured: RA set");
        reply_free(&rp);
        rp = ask(&web_addr, "example.com.", LDNS_RR_TYPE_A, 0, false);
        TAP_OK(rp.r.action == LD_ANSWER_FORWARD && rp.r.len == 0,
               "a name outside the domain: forward action, no reply built (the cache's or the "
               "upstream's goes)");
        TAP_OK(rp.r.rcode == LDNS_RCODE_REFUSED,
               "its rcode is REFUSED (what dispatch sends without a forwarder)");
        reply_free(&rp);

        uint64_t forwarded_rcode = eng.stats.rcode[LDNS_RCODE_REFUSED];
        rp = ask(&web_addr, "example.com.", LDNS_RR_TYPE_A, 0, false);
        TAP_OK(eng.stats.rcode[LDNS_RCODE_REFUSED] == forwarded_rcode,
               "a forwarded query is not counted by its placeholder RCODE");
        reply_free(&rp);

        expect_answer("db.link.internal.", LDNS_RR_TYPE_A, false, "127.0.10.2",
                      "a linked name is still answered here");
        expect_empty(&web_addr, "other.link.internal.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN,
                     "a name in our domain is never forwarded");
}

/* Who a source address is at a shared listener: a pod's members (one namespace) share their
 * views; containers of two namespaces behind one address get none (REFUSED, no union). */
static void test_shared_address(void)
{
        static const char text[] = "add p1 --netns /run/netns/pod --addr 127.9.0.1\n"
                                   "add p2 --netns /run/netns/pod --addr 127.9.0.1\n"
                                   "add x1 --netns /run/netns/x1 --addr 127.9.0.2\n"
                                   "add x2 --pid 4242 --addr 127.9.0.2\n"
                                   "add s1 --addr 127.9.0.3\nadd s2 --addr 127.9.0.3\n";
        struct ld_addr pod, two, plain;
        struct ld_table *t;
        char err[256];

        ld_addr_parse("127.9.0.1", &pod);
        ld_addr_parse("127.9.0.2", &two);
        ld_addr_parse("127.9.0.3", &plain);
        if (ld_table_load_buf(text, sizeof(text) - 1, "pods", true, &t, err, sizeof(err)) < 0) {
                TAP_OK(false, "the pods table loads: %s", err);
                return;
        }
        ld_engine_set_table(&eng, t);
        TAP_OK(ld_engine_views_of(&eng, &pod).n == 2, "a pod's shared address: both views");
        TAP_OK(ld_engine_views_of(&eng, &two).n == 0,
               "one address in two namespaces: ambiguous, no view");
        TAP_OK(ld_engine_views_of(&eng, &plain).n == 2,
               "two plain endpoints (no namespace) sharing an address: both views");
}

int main(void)
{
        bool ok = engine_setup(false);

        TAP_OK(ok, "an engine with a table from text");
        if (!ok)
                return tap_done();
        uint64_t queries = eng.stats.queries;
        test_linked_names();
        TAP_OK(eng.stats.queries > queries, "answered queries are counted");
        test_names_not_ours();
        test_edns();
        test_malformed();
        test_notimp();
        test_shared_address();
        ld_engine_fini(&eng);

        ok = engine_setup(true);
        TAP_OK(ok, "an engine with upstream forwarding configured");
        if (ok) {
                test_forward();
                ld_engine_fini(&eng);
        }
        return tap_done();
}
