/* answer: builds the reply to one parsed query from the view's prepared records, in wire
 * form, without allocation; decides what is authoritative here and what goes upstream. */
#ifndef LD_ANSWER_H
#define LD_ANSWER_H

#include "query.h"
#include "services.h"
#include "zone.h"
#include "view.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What stays fixed between table changes. */
struct ld_answer_cfg {
        uint8_t domain[LD_NAME_WIRE_MAX]; /* lower case wire form */
        uint8_t domain_len;
        uint8_t domain_labels;
        uint32_t ttl;
        uint32_t serial;
        bool upstream; /* forwarding is configured: RA is set and misses go upstream */
        const struct ld_views *views;
        const struct ld_services *services;
        const struct ld_zones *zones;   /* NULL without --zones */
        const struct ld_zones *pubzone; /* --publish-zone, to every source; NULL without */
};

enum ld_answer_action {
        LD_ANSWER_SEND,    /* out holds the reply */
        LD_ANSWER_DROP,    /* no reply at all */
        LD_ANSWER_FORWARD, /* not ours: the forwarder takes it (len 0, rcode REFUSED) */
        LD_ANSWER_DEFER,   /* a remote container's peer must be asked first: retry then */
        LD_ANSWER_XFR,     /* AXFR or IXFR over TCP: the publisher streams it */
};

struct ld_answer_result {
        enum ld_answer_action action;
        size_t len;
        uint8_t rcode;
        bool truncated;
        /* LD_ANSWER_DEFER: the remote container to ask, and the SRV port if that is what
         * is missing (0: its addresses). */
        struct ld_container *remote;
        uint16_t remote_port;
        uint8_t remote_proto;
};

/* Builds the reply for q (parsed with status st) seen by vs into out. cap is the buffer;
 * the transport's size limit (512, EDNS payload or 65535 for TCP) is applied inside.
 * rotate picks the first address when several answer. */
struct ld_answer_result ld_answer_build(const struct ld_answer_cfg *cfg, const struct ld_query *q,
                                        enum ld_query_status st, struct ld_viewset vs, bool tcp,
                                        uint32_t rotate, uint8_t *out, size_t cap);

/* REFUSED for q, what a name to forward gets where no forwarder is: its length in out. */
size_t ld_answer_refused(const struct ld_answer_cfg *cfg, const struct ld_query *q, bool tcp,
                         uint8_t *out, size_t cap);

/* Domain text ("link.internal") into cfg's wire form, through ldns. */
int ld_answer_set_domain(struct ld_answer_cfg *cfg, const char *text);

#endif
