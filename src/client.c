/* client: where a reply goes, counted, and dropped once the transport is gone. */
#include "client.h"

#include <errno.h>

void ld_client_init(struct ld_client *c, const struct ld_client_ops *ops)
{
        c->ops = ops;
        c->refs = 1;
        c->gone = false;
}

void ld_client_ref(struct ld_client *c)
{
        c->refs++;
}

void ld_client_unref(struct ld_client *c)
{
        if (c && --c->refs == 0)
                c->ops->release(c);
}

void ld_client_gone(struct ld_client *c)
{
        c->gone = true;
}

int ld_client_send(struct ld_client *c, const struct sockaddr_storage *peer, socklen_t peerlen,
                   const uint8_t *msg, size_t len)
{
        if (c->gone)
                return -EPIPE;
        return c->ops->send(c, peer, peerlen, msg, len);
}

void ld_client_pull(struct ld_client *c, struct ld_stream *s)
{
        if (!s)
                return;
        if (c->gone || !c->ops->pull) {
                s->free(s);
                return;
        }
        c->ops->pull(c, s);
}

void ld_request_hold(struct ld_request *dst, const struct ld_request *src)
{
        *dst = *src;
        ld_client_ref(dst->client);
}

void ld_request_drop(struct ld_request *r)
{
        ld_client_unref(r->client);
        r->client = NULL;
}

int ld_request_reply(const struct ld_request *r, const uint8_t *msg, size_t len)
{
        return ld_client_send(r->client, &r->peer, r->peerlen, msg, len);
}
