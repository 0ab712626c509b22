/* query: parses a DNS query's header, question and EDNS(0) OPT, bounded and without
 * allocation (ldns would allocate per packet). */
#ifndef LD_QUERY_H
#define LD_QUERY_H

#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ld_query_status {
        LD_QUERY_OK,
        LD_QUERY_DROP,    /* no reply: too short for a header, or QR set */
        LD_QUERY_FORMERR, /* reply FORMERR; the question is echoed when it parsed */
        LD_QUERY_NOTIMP,  /* an opcode other than QUERY */
        LD_QUERY_BADVERS, /* EDNS version above 0 */
};

struct ld_query {
        const uint8_t *pkt;
        size_t len;
        uint16_t id;
        uint8_t opcode;
        uint8_t flags2; /* the header's second flags byte, for CD */
        bool rd;
        bool has_question;                /* qname..qclass parsed */
        size_t qend;                      /* offset just past the question */
        uint8_t qname_len;                /* wire length, root label included */
        uint8_t nlabels;                  /* labels before the root */
        uint8_t label_off[LD_LABELS_MAX]; /* offset of each label's length byte in lname */
        uint8_t lname[LD_NAME_WIRE_MAX];  /* the question name in lower case, wire form */
        uint16_t qtype;
        uint16_t qclass;
        bool edns;
        bool edns_do;
        uint8_t edns_version;
        uint16_t edns_udp; /* requestor's payload size, at least 512 */
};

enum ld_query_status ld_query_parse(const uint8_t *pkt, size_t len, struct ld_query *q);

#endif
