/* client: where a reply goes — a listener's UDP socket or a TCP connection — behind send,
 * pull and views operations, with a reference count and a gone state, so that work in
 * flight (forwards, held questions, transfers) never touches a transport's socket and is
 * never told by hand that the transport died. */
#ifndef LD_CLIENT_H
#define LD_CLIENT_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ld_client;
struct ld_viewset; /* answer.h */

/* A reply of several messages (a zone transfer), pulled one message at a time. */
struct ld_stream {
        /* Writes the next message into buf: its length, 0 when done, or a negative errno. */
        ssize_t (*next)(struct ld_stream *s, uint8_t *buf, size_t cap);
        void (*free)(struct ld_stream *s);
};

struct ld_client_ops {
        /* One message to peer (UDP; ignored over TCP). 0 or a negative errno. */
        int (*send)(struct ld_client *c, const struct sockaddr_storage *peer, socklen_t peerlen,
                    const uint8_t *msg, size_t len);
        /* Takes a stream and sends its messages as the client drains them; NULL: no streams
         * (UDP). */
        void (*pull)(struct ld_client *c, struct ld_stream *s);
        /* The views a source address sees through this client. */
        struct ld_viewset (*views)(struct ld_client *c, const struct ld_addr *src);
        /* The last reference is gone: free the client's memory. */
        void (*release)(struct ld_client *c);
};

/* Embedded in the transport's own structure. Single-threaded: plain counts. */
struct ld_client {
        const struct ld_client_ops *ops;
        unsigned refs;
        bool gone; /* the transport closed: replies are dropped */
};

/* A question in flight: the client it came from (a counted reference once held), the
 * source, where the reply goes, and how many times it was answered again. */
struct ld_request {
        struct ld_client *client;
        struct ld_addr src;
        struct sockaddr_storage peer;
        socklen_t peerlen;
        bool tcp;
        uint8_t reruns; /* answered again after a remote peer answered (dispatch bounds it) */
};

/* With one reference, the transport's. */
void ld_client_init(struct ld_client *c, const struct ld_client_ops *ops);
void ld_client_ref(struct ld_client *c);
/* The last reference calls release. */
void ld_client_unref(struct ld_client *c);
/* The transport is closing: every reply from now on is dropped. */
void ld_client_gone(struct ld_client *c);
/* 0, or -EPIPE (gone: nothing sent) or the transport's error. */
int ld_client_send(struct ld_client *c, const struct sockaddr_storage *peer, socklen_t peerlen,
                   const uint8_t *msg, size_t len);
/* Hands s to the client, which frees it (at once when gone or without streams). */
void ld_client_pull(struct ld_client *c, struct ld_stream *s);

/* Copies a request that will outlive the call, with a reference on its client. */
void ld_request_hold(struct ld_request *dst, const struct ld_request *src);
/* Lets a held request go. */
void ld_request_drop(struct ld_request *r);
/* The reply to a request, through its client. */
int ld_request_reply(const struct ld_request *r, const uint8_t *msg, size_t len);

#endif
