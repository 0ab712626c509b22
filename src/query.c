/* query: parses a DNS query's header, question and EDNS(0) OPT, bounded and without
 * allocation (ldns would allocate per packet). */
#include "query.h"

#include <string.h>

#define TYPE_OPT 41

static uint16_t rd16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

/* The question name: plain labels only (a pointer there can only point back into the
 * header), lower-cased into q->lname. Returns the offset after it, or 0. */
static size_t query_qname(struct ld_query *q, size_t off)
{
        size_t wlen = 0;

        q->nlabels = 0;
        for (;;) {
                if (off >= q->len)
                        return 0;
                uint8_t l = q->pkt[off];
                if (l > 63 || wlen + 1 + l > LD_NAME_WIRE_MAX || off + 1 + l > q->len)
                        return 0;
                q->lname[wlen] = l;
                if (l == 0)
                        break;
                q->label_off[q->nlabels++] = (uint8_t)wlen;
                for (size_t i = 1; i <= l; i++) {
                        uint8_t c = q->pkt[off + i];
                        q->lname[wlen + i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
                }
                wlen += 1u + l;
                off += 1u + l;
        }
        q->qname_len = (uint8_t)(wlen + 1);
        return off + 1;
}

/* Skips a possibly compressed owner name; only its extent in this record matters. */
static size_t query_skip_name(const struct ld_query *q, size_t off)
{
        for (size_t n = 0; n < 128; n++) {
                if (off >= q->len)
                        return 0;
                uint8_t l = q->pkt[off];
                if ((l & 0xc0) == 0xc0)
                        return off + 2 <= q->len ? off + 2 : 0;
                if (l > 63)
                        return 0;
                off += 1u + l;
                if (l == 0)
                        return off <= q->len ? off : 0;
        }
        return 0;
}

/* OPT (RFC 6891): root owner, options that fit its RDATA; at most one. */
static int query_opt(struct ld_query *q, size_t owner, size_t rr)
{
        const uint8_t *p = q->pkt + rr;
        uint32_t ttl = (uint32_t)rd16(p + 4) << 16 | rd16(p + 6);
        size_t rdlen = rd16(p + 8), o = rr + 10, end = o + rdlen;

        if (q->edns || q->pkt[owner] != 0 || rr != owner + 1)
                return -1;
        for (; o < end; o += 4u + rd16(q->pkt + o + 2))
                if (o + 4 > end || o + 4 + rd16(q->pkt + o + 2) > end)
                        return -1;
        q->edns = true;
        q->edns_udp = rd16(p + 2) < 512 ? 512 : rd16(p + 2);
        q->edns_version = (uint8_t)(ttl >> 16);
        q->edns_do = (ttl & 0x8000) != 0;
        return 0;
}

/* Walks answer, authority and additional records to find the OPT. */
static int query_records(struct ld_query *q, size_t off, unsigned count, unsigned nadditional)
{
        for (unsigned i = 0; i < count; i++) {
                size_t owner = off, rr = query_skip_name(q, off);
                if (!rr || rr + 10 > q->len)
                        return -1;
                size_t rdlen = rd16(q->pkt + rr + 8);
                if (rr + 10 + rdlen > q->len)
                        return -1;
                if (i >= count - nadditional && rd16(q->pkt + rr) == TYPE_OPT &&
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
        q->id = rd16(pkt);
        q->opcode = (pkt[2] >> 3) & 0x0f;
        q->rd = pkt[2] & 0x01;
        q->flags2 = pkt[3];
        unsigned qd = rd16(pkt + 4), an = rd16(pkt + 6), ns = rd16(pkt + 8), ar = rd16(pkt + 10);
        if (qd != 1)
                return q->opcode ? LD_QUERY_NOTIMP : LD_QUERY_FORMERR;
        size_t off = query_qname(q, LD_DNS_HEADER);
        if (!off || off + 4 > len)
                return q->opcode ? LD_QUERY_NOTIMP : LD_QUERY_FORMERR;
        q->qtype = rd16(pkt + off);
        q->qclass = rd16(pkt + off + 2);
        q->qend = off + 4;
        q->has_question = true;
        if (query_records(q, q->qend, an + ns + ar, ar) < 0)
                return q->opcode ? LD_QUERY_NOTIMP : LD_QUERY_FORMERR;
        if (q->opcode != 0)
                return LD_QUERY_NOTIMP;
        return q->edns && q->edns_version > 0 ? LD_QUERY_BADVERS : LD_QUERY_OK;
}
