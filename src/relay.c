/* relay: an upstream's answer made the client's — bounded, no allocation, fuzzed. */
#include "relay.h"

#include "wire.h"

#include <string.h>

/* Where the names are in the RDATA of the types whose names a decoder may follow pointers
 * in: *skip octets of fixed fields, then the number of names returned (0: none to check).
 * RFC 1035's types, whose names may be compressed; those RFC 3597 4 says a decoder may
 * still decompress (RP, AFSDB, RT, SIG, PX, NXT, SRV, NAPTR); and those more that a decoder
 * such as ldns reads names of with pointers (KX, DNAME, RRSIG, NSEC, HIP, TALINK, SVCB,
 * HTTPS, LP, TKEY, TSIG). A pointer there to a later octet, like one in an owner name, could land
 * in what the cut leaves out, and the client could not read the reply. */
static unsigned relay_rdata_layout(uint16_t type, size_t *skip)
{
        *skip = 0;
        switch (type) {
        case 2:
        case 3:
        case 4:
        case 5:
        case 7:
        case 8:
        case 9:
        case 12: /* NS..PTR */
        case 30:
        case 39:
        case 47:
        case 249:
        case 250: /* NXT, DNAME, NSEC, TKEY, TSIG */
                return 1;
        case 6:
        case 14:
        case 17:
        case 58: /* SOA, MINFO, RP, TALINK */
                return 2;
        case 15:
        case 18:
        case 21:
        case 36:
        case 64:
        case 65:
        case 107: /* MX..LP */
                *skip = 2;
                return 1;
        case 26: /* PX */
                *skip = 2;
                return 2;
        case 33: /* SRV */
                *skip = 6;
                return 1;
        case 35: /* NAPTR: ORDER, PREFERENCE; FLAGS, SERVICES, REGEXP follow */
                *skip = 4;
                return 1;
        case 24:
        case 46: /* SIG, RRSIG: the signer's name after 18 octets */
                *skip = 18;
                return 1;
        default:
                return 0;
        }
}

/* Checks the names inside the RDATA of those types: each within the RDATA, every pointer
 * back to a prior name. */
static bool relay_rdata_names(const uint8_t *m, size_t len, uint16_t type, size_t rd, size_t rdlen)
{
        size_t skip, p, end = rd + rdlen;
        unsigned names = relay_rdata_layout(type, &skip);

        p = rd + skip;
        if (type == 35) /* NAPTR's three character-strings */
                for (int k = 0; k < 3 && p < end; k++)
                        p += 1u + m[p];
        if (type == 55) { /* HIP: the HIT and key, their lengths first; then names to the end */
                if (rdlen < 4)
                        return false;
                for (p = rd + 4 + m[rd] + ld_rd16(m + rd + 2); p < end;)
                        if (!(p = ld_wire_name(m, len, p, true, NULL)) || p > end)
                                return false;
                return p == end;
        }
        while (names--)
                if (p >= end || !(p = ld_wire_name(m, len, p, true, NULL)) || p > end)
                        return false;
        return true;
}

/* Copies a prefix of the records only, so every compression pointer stays valid: each one
 * points back to a prior name (RFC 1035 4.1.4, checked by ld_wire_name) outside the header,
 * which is rewritten; a pointer forward could land in what is cut. */
size_t ld_relay_rewrite(const uint8_t *ans, size_t alen, const struct ld_relay_ask *c, uint8_t *out,
                        size_t cap)
{
        size_t reserve = c->edns ? LD_OPT_LEN : 0, limit = c->limit, off, len;
        unsigned an, ns, total;
        uint16_t count[3] = {0, 0, 0};
        bool tc;

        if (limit > cap)
                limit = cap;
        /* A message that is no answer to a QUERY (QR clear, another opcode) would reach the
         * client as a query or as nonsense: it is no answer at all. */
        if (alen < LD_DNS_HEADER || ld_rd16(ans + 4) != 1 || (ans[2] & 0xf8) != 0x80)
                return 0;
        an = ld_rd16(ans + 6);
        ns = ld_rd16(ans + 8);
        total = an + ns + ld_rd16(ans + 10);
        off = ld_wire_name(ans, alen, LD_DNS_HEADER, true, NULL);
        if (!off || off + 4 > alen || off + 4 + reserve > limit)
                return 0;
        memcpy(out, ans, off + 4);
        /* a question name is never compressed (a pointer would go into the header) */
        if (c->name && off - LD_DNS_HEADER == c->namelen &&
            ld_wire_same_name(out + LD_DNS_HEADER, c->name, c->namelen))
                memcpy(out + LD_DNS_HEADER, c->name, c->namelen);
        off += 4;
        len = off;
        tc = ans[2] & 0x02;
        for (unsigned i = 0; i < total; i++) {
                size_t start = off, p = ld_wire_name(ans, alen, off, true, NULL);
                int sec = i < an ? 0 : i < an + ns ? 1 : 2;

                if (!p || p + 10 > alen || p + 10 + ld_rd16(ans + p + 8) > alen ||
                    !relay_rdata_names(ans, alen, ld_rd16(ans + p), p + 10, ld_rd16(ans + p + 8)))
                        return 0;
                off = p + 10 + ld_rd16(ans + p + 8);
                if (ld_rd16(ans + p) == LD_TYPE_OPT)
                        break; /* hop-by-hop: ours replaces it; what follows it goes too */
                if (len + (off - start) + reserve > limit) {
                        tc = tc || sec < 2;
                        break;
                }
                memcpy(out + len, ans + start, off - start);
                len += off - start;
                count[sec]++;
        }
        return ld_relay_finish(ans, count, tc, c, out, len);
}

size_t ld_relay_finish(const uint8_t *ans, const uint16_t count[3], bool tc,
                       const struct ld_relay_ask *c, uint8_t *out, size_t len)
{
        uint16_t ar = count[2];

        ld_wr16(out, c->id);
        out[2] = (uint8_t)((ans[2] & ~0x02) | (tc ? 0x02 : 0));
        out[3] = ans[3];
        if (c->edns) {
                len += ld_wire_opt(out + len, 0, c->do_bit);
                ar++;
        }
        ld_wr16(out + 6, count[0]);
        ld_wr16(out + 8, count[1]);
        ld_wr16(out + 10, ar);
        return len;
}
