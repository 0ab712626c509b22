/* query: parses a DNS query's header, question and EDNS(0) OPT, bounded and without
 * allocation (ldns would allocate per packet). */
#include "query.h"

#include <string.h>

/* The question name: plain labels only (a pointer there could only point back into the
 * header), lower-cased into q->lname. Returns the offset after it, or 0. */
static size_t query_qname(struct ld_query *q, size_t off)
{
        struct ld_name_copy copy = {.lname = q->lname, .label_off = q->label_off};

        off = ld_wire_name(q->pkt, q->len, off, false, &copy);
        q->nlabels = copy.nlabels;
        q->qname_len = copy.len;
        return off;
}

/* OPT (RFC 6891): root owner, options that fit its RDATA; at most one. */
static int query_opt(struct ld_query *q, size_t owner, size_t rr)
{
        const uint8_t *p = q->pkt + rr;
        uint32_t ttl = ld_rd32(p + 4);
        size_t rdlen = ld_rd16(p + 8), o = rr + 10, end = o + rdlen;

        if (q->edns || q->pkt[owner] != 0 || rr != owner + 1)
                return -1;
        for (; o < end; o += 4u + ld_rd16(q->pkt + o + 2))
                if (o + 4 > end || o + 4 + ld_rd16(q->pkt + o + 2) > end)
                        return -1;
        q->edns = true;
        q->edns_udp = ld_rd16(p + 2) < 512 ? 512 : ld_rd16(p + 2);
        q->edns_version = (uint8_t)(ttl >> 16);
        q->edns_do = (ttl & 0x8000) != 0;
        return 0;
}

/* Walks answer, authority and additional records to find the OPT. */
static int query_records(struct ld_query *q, size_t off, unsigned count, unsigned nadditional)
{
        for (unsigned i = 0; i < count; i++) {
                size_t owner = off, rr = ld_wire_name(q->pkt, q->len, off, true, NULL);
                if (!rr || rr + 10 > q->len)
                        return -1;
                size_t rdlen = ld_rd16(q->pkt + rr + 8);
                if (rr + 10 + rdlen > q->len)
                        return -1;
                if (i >= count - nadditional && ld_rd16(q->pkt + rr) == LD_TYPE_OPT &&
                    query_opt(q, owner, rr) < 0)
                        return -1;
                off = rr + 10 + rdlen;
        }
        return 0;
}

enum ld_query_status ld_query_parse(const uint8_t *pkt, size_t len, struct ld_query *q)
{
        q->pkt = pkt;
        q->len = len;
        q->has_question = false;
        q->edns = false;
        q->edns_do = false;
        q->edns_version = 0;
        q->edns_udp = 512;
        if (len < LD_DNS_HEADER || (pkt[2] & 0x80))
                return LD_QUERY_DROP;
        q->id = ld_rd16(pkt);
        q->opcode = (pkt[2] >> 3) & 0x0f;
        q->rd = pkt[2] & 0x01;
        q->flags2 = pkt[3];
        unsigned qd = ld_rd16(pkt + 4), an = ld_rd16(pkt + 6), ns = ld_rd16(pkt + 8),
                 ar = ld_rd16(pkt + 10);
        if (qd != 1)
                return q->opcode ? LD_QUERY_NOTIMP : LD_QUERY_FORMERR;
        size_t off = query_qname(q, LD_DNS_HEADER);
        if (!off || off + 4 > len)
                return q->opcode ? LD_QUERY_NOTIMP : LD_QUERY_FORMERR;
        q->qtype = ld_rd16(pkt + off);
        q->qclass = ld_rd16(pkt + off + 2);
        q->qend = off + 4;
        q->has_question = true;
        if (query_records(q, q->qend, an + ns + ar, ar) < 0)
                return q->opcode ? LD_QUERY_NOTIMP : LD_QUERY_FORMERR;
        if (q->opcode != 0)
                return LD_QUERY_NOTIMP;
        return q->edns && q->edns_version > 0 ? LD_QUERY_BADVERS : LD_QUERY_OK;
}
