/* test_dispatch: what dispatch does with the engine's answer — sent now, forwarded with a
 * held request, held for a remote peer and answered again through the client (SERVFAIL
 * once the peer keeps it waiting), a transfer handed to the client, nothing for a client
 * that is gone. forward, remote and xfr are fakes here: dispatch alone is under test. */
#include <stdbool.h>
#include <string.h>

#include "answer.h"
#include "client.h"
#include "dispatch.h"
#include "forward.h"
#include "remote.h"
#include "engine.h"
#include "tap.h"
#include "xfr.h"

static const char table_text[] = "add web --addr 127.0.10.3\n"
                                 "add far --remote far.example@127.0.0.9\n"
                                 "link web far\n";

/* The fakes record what reached them. */
static int forwarded, deferred, served;
static struct ld_request held; /* the request forward or remote kept */
static ld_remote_rerun_fn rerun_fn;
static void *rerun_arg;
static struct ld_stream fake_stream;

void ld_forward_query(struct ld_forward *f, const struct ld_query *q, struct ld_viewset vs,
                      const struct ld_request *rq)
{
        (void)f;
        (void)q;
        (void)vs;
        forwarded++;
        ld_request_hold(&held, rq);
}

/* The upstream set a cache hit is keyed by (no cache in these tests). */
void ld_forward_upstreams(struct ld_forward *f, struct ld_viewset vs, struct ld_cache_set *set)
{
        (void)f;
        (void)vs;
        set->n = 0;
}

void ld_remote_defer(struct ld_remote *r, struct ld_container *c, uint16_t port, uint8_t proto,
                     const struct ld_request *rq, const uint8_t *pkt, size_t len,
                     ld_remote_rerun_fn rerun, void *arg)
{
        (void)r;
        (void)c;
        (void)port;
        (void)proto;
        (void)pkt;
        (void)len;
        deferred++;
        ld_request_hold(&held, rq);
        rerun_fn = rerun;
        rerun_arg = arg;
}

struct ld_stream *ld_xfr_serve(struct ld_xfr *x, const uint8_t *pkt, size_t len,
                               const struct ld_request *rq)
{
        (void)x;
        (void)pkt;
        (void)len;
        (void)rq;
        served++;
        return &fake_stream;
}

bool ld_xfr_allowed(const struct ld_xfr *x, const struct ld_addr *src)
{
        (void)src;
        return x != NULL;
}

/* A client that sees web's views and records replies and streams. */
struct fake {
        struct ld_client c;
        struct ld_engine *eng;
        int sent, pulled;
        uint8_t rcode;
};

static int fake_send(struct ld_client *c, const struct sockaddr_storage *peer, socklen_t peerlen,
                     const uint8_t *msg, size_t len)
{
        struct fake *f = (struct fake *)c;
        (void)peer;
        (void)peerlen;
        f->sent++;
        f->rcode = len >= 4 ? msg[3] & 0x0f : 0xff;
        return 0;
}

static void fake_pull(struct ld_client *c, struct ld_stream *s)
{
        (void)s;
        ((struct fake *)c)->pulled++;
}

static struct ld_viewset fake_views(struct ld_client *c, const struct ld_addr *src)
{
        return ld_engine_views_of(((struct fake *)c)->eng, src);
}

static void fake_release(struct ld_client *c)
{
        (void)c;
}

static const struct ld_client_ops fake_ops = {fake_send, fake_pull, fake_views, fake_release};

/* A query for name (dotted, no final dot) of type qtype, RD set. */
static size_t query(const char *name, uint16_t qtype, uint8_t *out)
{
        size_t n = 12;

        memset(out, 0, 12);
        out[0] = 0x12;
        out[1] = 0x34;
        out[2] = 0x01;
        out[5] = 1;
        while (*name) {
                const char *dot = strchr(name, '.');
                size_t l = dot ? (size_t)(dot - name) : strlen(name);
                out[n++] = (uint8_t)l;
                memcpy(out + n, name, l);
                n += l;
                name += l + (dot ? 1 : 0);
        }
        out[n++] = 0;
        out[n++] = (uint8_t)(qtype >> 8);
        out[n++] = (uint8_t)qtype;
        out[n++] = 0;
        out[n++] = 1;
        return n;
}

int main(void)
{
        static struct ld_engine eng;
        static uint8_t pkt[512], out[65535];
        struct ld_dispatch d = {&eng, NULL, NULL, NULL};
        struct ld_table *t;
        struct fake f = {.eng = &eng};
        struct ld_request rq = {0};
        char err[256];
        size_t len, n;

        if (ld_engine_init(&eng, "link.internal", 10, true) < 0 ||
            ld_table_load_buf(table_text, sizeof(table_text) - 1, "test", true, &t, err,
                              sizeof(err)) < 0) {
                printf("Bail out! setup: %s\n", err);
                return 1;
        }
        ld_engine_set_table(&eng, t);
        ld_client_init(&f.c, &fake_ops);
        rq.client = &f.c;
        ld_addr_parse("127.0.10.3", &rq.src);

        len = query("web.link.internal", 1, pkt);
        n = ld_dispatch_query(&d, &rq, pkt, len, out, sizeof(out));
        TAP_OK(n > 12 && (out[3] & 0x0f) == 0 && f.sent == 0,
               "an answer of ours is returned to the transport to send");

        len = query("example.com", 1, pkt);
        n = ld_dispatch_query(&d, &rq, pkt, len, out, sizeof(out));
        TAP_OK(n > 12 && (out[3] & 0x0f) == 5, "without a forwarder a name upstream is REFUSED");
        d.forward = (struct ld_forward *)&d; /* any handle: the fake ignores it */
        n = ld_dispatch_query(&d, &rq, pkt, len, out, sizeof(out));
        TAP_OK(n == 0 && forwarded == 1 && f.c.refs == 2,
               "a name upstream is forwarded with the client held");
        ld_request_drop(&held);

        len = query("far.link.internal", 1, pkt);
        n = ld_dispatch_query(&d, &rq, pkt, len, out, sizeof(out));
        TAP_OK(n > 12 && (out[3] & 0x0f) == 2,
               "without remote peers a remote's name is SERVFAIL now");
        d.remote = (struct ld_remote *)&d;
        n = ld_dispatch_query(&d, &rq, pkt, len, out, sizeof(out));
        TAP_OK(n == 0 && deferred == 1 && f.c.refs == 2, "a remote's name waits for its peer");
        /* the peer answered but the remote is still pending: held again, up to the bound */
        for (int i = 0; i < 3; i++) {
                struct ld_request again = held;
                rerun_fn(rerun_arg, &again, pkt, len);
                ld_client_unref(again.client);
        }
        TAP_OK(deferred == 3 && f.sent == 1 && f.rcode == 2 && f.c.refs == 1,
               "a question answered again three times is SERVFAIL through the client");

        n = ld_dispatch_query(&d, &rq, pkt, len, out, sizeof(out));
        ld_client_gone(&f.c);
        rerun_fn(rerun_arg, &held, pkt, len);
        TAP_OK(n == 0 && deferred == 4 && f.sent == 1, "a client gone meanwhile gets nothing");
        ld_request_drop(&held);
        TAP_OK(f.c.refs == 1, "every hold was let go");

        struct ld_zones *publish = ld_zones_new(); /* an empty publish zone will do */
        len = query("pub.example", 252, pkt);      /* AXFR */
        eng.cfg.pubzone = publish;
        d.xfr = (struct ld_xfr *)&d;
        f.c.gone = false;
        rq.tcp = true;
        n = ld_dispatch_query(&d, &rq, pkt, len, out, sizeof(out));
        TAP_OK(n == 0 && served == 1 && f.pulled == 1, "a transfer goes to the client to pull");
        eng.cfg.pubzone = NULL;
        ld_zones_free(publish);
        ld_engine_fini(&eng);
        return tap_done();
}
