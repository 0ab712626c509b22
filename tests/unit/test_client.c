/* test_client: a client's reference count and gone state — a reply after the transport
 * closed is dropped without reaching it, and the memory goes with the last reference. */
#include <stdbool.h>
#include <string.h>

#include "answer.h"
#include "client.h"
#include "tap.h"

#include <errno.h>

/* A transport that counts what reaches it. */
struct fake {
        struct ld_client c;
        int sent, pulled, released, streams_freed;
        size_t last_len;
};

static int fake_send(struct ld_client *c, const struct sockaddr_storage *peer, socklen_t peerlen,
                     const uint8_t *msg, size_t len)
{
        struct fake *f = (struct fake *)c;
        (void)peer;
        (void)peerlen;
        (void)msg;
        f->sent++;
        f->last_len = len;
        return 0;
}

static void fake_pull(struct ld_client *c, struct ld_stream *s)
{
        ((struct fake *)c)->pulled++;
        s->free(s);
}

static struct ld_viewset fake_views(struct ld_client *c, const struct ld_addr *src)
{
        (void)c;
        (void)src;
        return (struct ld_viewset){NULL, 0};
}

static void fake_release(struct ld_client *c)
{
        ((struct fake *)c)->released++;
}

static const struct ld_client_ops fake_ops = {fake_send, fake_pull, fake_views, fake_release};
static const struct ld_client_ops fake_udp_ops = {fake_send, NULL, fake_views, fake_release};

static int stream_frees;

static ssize_t stream_next(struct ld_stream *s, uint8_t *buf, size_t cap)
{
        (void)s;
        (void)buf;
        (void)cap;
        return 0;
}

static void stream_free(struct ld_stream *s)
{
        (void)s;
        stream_frees++;
}

int main(void)
{
        static const uint8_t msg[12];
        struct fake f = {0};
        struct ld_request rq = {0}, held;
        struct ld_stream s = {stream_next, stream_free};

        ld_client_init(&f.c, &fake_ops);
        rq.client = &f.c;
        TAP_OK(ld_request_reply(&rq, msg, sizeof(msg)) == 0 && f.sent == 1 &&
                   f.last_len == sizeof(msg),
               "a reply reaches a live client");

        ld_request_hold(&held, &rq);
        TAP_OK(f.c.refs == 2, "holding a request takes a reference");
        ld_client_gone(&f.c);
        ld_client_unref(&f.c); /* the transport lets go: the held request keeps it */
        TAP_OK(f.released == 0, "the memory stays while a request holds it");
        TAP_OK(ld_request_reply(&held, msg, sizeof(msg)) == -EPIPE && f.sent == 1,
               "a reply after the transport closed is dropped, the send op not called");
        ld_client_pull(&f.c, &s);
        TAP_OK(f.pulled == 0 && stream_frees == 1, "a stream for a gone client is freed at once");
        ld_request_drop(&held);
        TAP_OK(f.released == 1 && held.client == NULL, "the last reference releases the client");
        ld_client_unref(NULL);
        TAP_OK(f.released == 1, "unref of NULL does nothing");

        struct fake u = {0};
        ld_client_init(&u.c, &fake_udp_ops);
        ld_client_pull(&u.c, &s);
        TAP_OK(stream_frees == 2 && u.pulled == 0, "a client without streams frees one at once");
        struct fake t = {0};
        ld_client_init(&t.c, &fake_ops);
        ld_client_pull(&t.c, &s);
        TAP_OK(t.pulled == 1, "a live client with streams takes one");
        ld_client_unref(&t.c);
        TAP_OK(t.released == 1, "the transport's own reference is the last one");
        return tap_done();
}
