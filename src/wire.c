/* wire: the DNS messages built whole — a query upstream and an error reply — from the
 * primitives in wire.h, so every writer lays out header, question and OPT the same way. */
#include "wire.h"

#include <string.h>

/* The question at p: name, type, class. */
static size_t wire_put_question(uint8_t *p, const struct ld_wire_question *q)
{
        memcpy(p, q->name, q->namelen);
        ld_wr16(p + q->namelen, q->qtype);
        ld_wr16(p + q->namelen + 2, q->qclass);
        return q->namelen + 4;
}

size_t ld_wire_query(uint8_t *out, const struct ld_wire_question *q, bool cd, bool do_bit)
{
        size_t len = LD_DNS_HEADER;

        memset(out, 0, LD_DNS_HEADER);
        out[2] = 0x01; /* RD */
        out[3] = cd ? 0x10 : 0;
        ld_wr16(out + 4, 1);
        ld_wr16(out + 10, 1);
        len += wire_put_question(out + len, q);
        return len + ld_wire_opt(out + len, 0, do_bit);
}

size_t ld_wire_error(const struct ld_wire_ask *a, uint16_t rcode, uint8_t *out, size_t cap)
{
        const struct ld_wire_question *q = a->question;
        bool query = a->opcode == 0;
        size_t len = LD_DNS_HEADER;

        if (cap < LD_DNS_HEADER + (q ? q->namelen + 4 : 0) + (a->edns ? LD_OPT_LEN : 0))
                return 0;
        ld_wr16(out, a->id);
        out[2] = (uint8_t)(0x80 | (a->opcode & 0x0f) << 3 | (query && a->rd ? 0x01 : 0));
        out[3] =
            (uint8_t)((query && a->ra ? 0x80 : 0) | (query && a->cd ? 0x10 : 0) | (rcode & 0x0f));
        ld_wr16(out + 4, q ? 1 : 0);
        ld_wr16(out + 6, 0);
        ld_wr16(out + 8, 0);
        ld_wr16(out + 10, a->edns ? 1 : 0);
        if (q)
                len += wire_put_question(out + len, q);
        if (a->edns)
                len += ld_wire_opt(out + len, (uint8_t)(rcode >> 4), a->do_bit);
        return len;
}
