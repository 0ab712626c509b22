/* test_xfr_stream: a zone transfer as a stream — every record between two SOAs, one copy of
 * the zone shared by the transfers of a serial (a new serial, a new copy), and nothing freed
 * twice when the copy cannot be made. ldns_rr_list_clone is wrapped here to count the copies
 * and to fail one on demand. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "pubzone.h"
#include "engine.h"
#include "table.h"
#include "tap.h"
#include "xfr.h"

#include <ev.h>
#include <ldns/ldns.h>

static const char table_text[] = "add web --addr 127.0.10.3 --publish 8080:80/tcp\n"
                                 "add db --addr 127.0.10.4 --publish 5432:5432/tcp\n";

static int clones;     /* lists copied (the zone's, and others') */
static bool fail_next; /* the next copy fails, as without memory */

ldns_rr_list *ldns_rr_list_clone(const ldns_rr_list *l)
{
        static ldns_rr_list *(*real)(const ldns_rr_list *);

        if (!real)
                *(void **)&real = dlsym(RTLD_NEXT, "ldns_rr_list_clone");
        if (fail_next) {
                fail_next = false;
                return NULL;
        }
        clones++;
        return real(l);
}

/* A client that keeps the refusals sent to it. */
struct fake {
        struct ld_client c;
        int sent;
};

static int fake_send(struct ld_client *c, const struct sockaddr_storage *peer, socklen_t peerlen,
                     const uint8_t *msg, size_t len)
{
        (void)peer;
        (void)peerlen;
        (void)msg;
        (void)len;
        ((struct fake *)c)->sent++;
        return 0;
}

static void fake_release(struct ld_client *c)
{
        (void)c;
}

static const struct ld_client_ops fake_ops = {fake_send, NULL, NULL, fake_release};

/* The records of a whole stream (-1 if it failed), its first and last SOA's serials. */
static long drain(struct ld_stream *s, uint32_t *first, uint32_t *last)
{
        static uint8_t buf[65535];
        long total = 0;
        ssize_t n;

        *first = *last = 0;
        while ((n = s->next(s, buf, sizeof(buf))) > 0) {
                ldns_pkt *p = NULL;
                if (ldns_wire2pkt(&p, buf, (size_t)n) != LDNS_STATUS_OK)
                        return -1;
                ldns_rr_list *an = ldns_pkt_answer(p);
                for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++, total++) {
                        ldns_rr *rr = ldns_rr_list_rr(an, i);
                        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA)
                                continue;
                        *last = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
                        if (total == 0)
                                *first = *last;
                }
                ldns_pkt_free(p);
        }
        return n < 0 ? -1 : total;
}

int main(void)
{
        static struct ld_engine eng;
        struct ld_table *t;
        struct ld_prefix allow;
        struct ld_addr pub;
        struct ld_xfr *x = NULL;
        struct fake f = {0};
        struct ld_request rq = {0};
        struct ld_stream *s1, *s2, *s3;
        char err[256], serial_path[] = "/tmp/test_xfr_stream.XXXXXX";
        uint8_t *wire = NULL;
        size_t len = 0;
        uint32_t a, b;
        long n1, n2;
        int fd = mkstemp(serial_path);
        ldns_pkt *q = NULL;

        if (fd >= 0)
                close(fd);
        ld_addr_parse("192.0.2.10", &pub);
        ld_prefix_parse("127.0.0.1", &allow);
        if (fd < 0 || ld_engine_init(&eng, "link.internal", 10, false) < 0 ||
            ld_table_load_buf(table_text, sizeof(table_text) - 1, "test", true, &t, err,
                              sizeof(err)) < 0 ||
            (ld_engine_set_table(&eng, t), 0) ||
            ld_pubzone_new("z.test", &pub, 1, 10, serial_path, &eng.services, &eng.pubzone) < 0 ||
            ld_engine_rebuild_pubzone(&eng) < 0 ||
            ld_xfr_new(EV_DEFAULT, &eng, &allow, 1, NULL, 0, NULL, &x) < 0 ||
            ldns_pkt_query_new_frm_str(&q, "z.test.", LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN, 0) !=
                LDNS_STATUS_OK ||
            ldns_pkt2wire(&wire, q, &len) != LDNS_STATUS_OK) {
                printf("Bail out! setup\n");
                return 1;
        }
        ldns_pkt_free(q);
        ld_client_init(&f.c, &fake_ops);
        rq.client = &f.c;
        rq.tcp = true;
        ld_addr_parse("127.0.0.1", &rq.src);

        clones = 0;
        s1 = ld_xfr_serve(x, wire, len, &rq);
        s2 = ld_xfr_serve(x, wire, len, &rq);
        TAP_OK(s1 && s2 && clones == 1 && eng.stats.transfers == 2,
               "two transfers of one serial share one copy of the zone");
        n1 = drain(s1, &a, &b);
        TAP_OK(n1 > 4 && a && a == b, "a transfer is every record between two SOAs (%ld)", n1);
        s1->free(s1);

        ld_engine_rebuild_pubzone(&eng); /* a new serial while s2 is under way */
        clones = 0;
        s3 = ld_xfr_serve(x, wire, len, &rq);
        TAP_OK(s3 && clones == 1, "a new serial, a new copy");
        n2 = drain(s2, &a, &b);
        TAP_OK(n2 == n1 && a == b, "the transfer under way keeps the zone of its serial");
        n2 = drain(s3, &a, &b);
        TAP_OK(n2 == n1 && a == b && a > 0, "the new transfer has the new serial");
        s2->free(s2);

        ld_engine_rebuild_pubzone(&eng);
        fail_next = true;
        TAP_OK(ld_xfr_serve(x, wire, len, &rq) == NULL && eng.stats.transfers == 3 && f.sent == 0,
               "without memory for the copy: no transfer, none counted, nothing freed twice");
        clones = 0;
        s1 = ld_xfr_serve(x, wire, len, &rq);
        TAP_OK(s1 && clones == 1, "the next one makes its copy");
        TAP_OK(drain(s1, &a, &b) == n1, "and is whole");
        s1->free(s1);
        s3->free(s3);
        ld_xfr_free(x);

        free(wire);
        unlink(serial_path);
        ld_engine_fini(&eng);
        return tap_done();
}
