/* relay: an upstream's answer made the client's — bounded, no allocation, fuzzed. */
#include "relay.h"

#include "answer.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

/* The offset after a possibly compressed name at off, or 0 when malformed. Every pointer
 * must go back to a prior occurrence of a name (RFC 1035 4.1.4): only a prefix of the
 * message is kept and its header rewritten, so a pointer forward, or into the header, could
 * land in what changes. */
static size_t relay_skip_name(const uint8_t *m, size_t len, size_t off)
{
        size_t end = 0, bound = len; /* a name reached by a pointer lies wholly before it */

        for (int n = 0; n < 128; n++) {
                if (off >= bound)
                        return 0;
                uint8_t l = m[off];
                if ((l & 0xc0) == 0xc0) {
                        if (off + 2 > bound)
                                return 0;
                        size_t to = (size_t)(l & 0x3f) << 8 | m[off + 1];
                        if (to < 12 || to >= off) /* the header is rewritten: no name there */
                                return 0;
                        if (!end)
                                end = off + 2;
                        bound = off;
                        off = to;
                        continue;
                }
                if (l > 63 || (off += 1u + l) > bound)
                        return 0;
                if (l == 0)
                        return end ? end : off;
        }
        return 0;
}

/* Checks the names inside the RDATA of the types that may be compressed (RFC 3597 4). */
static bool relay_rdata_names(const uint8_t *m, size_t len, uint16_t type, size_t rd, size_t rdlen)
{
        size_t p = rd, names = 1;

        switch (type) {
        case 2:
        case 3:
        case 4:
        case 5:
        case 7:
        case 8:
        case 9:
        case 12: /* NS..PTR */
                break;
        case 6:
        case 14: /* SOA, MINFO: two names */
                names = 2;
                break;
        case 15: /* MX: preference, then a name */
                p += 2;
                break;
        default:
                return true;
        }
        while (names--) {
                if (p >= rd + rdlen || !(p = relay_skip_name(m, len, p)) || p > rd + rdlen)
                        return false;
        }
        return true;
}

/* Copies a prefix of the records only, so every compression pointer stays valid. */
size_t ld_relay_rewrite(const uint8_t *ans, size_t alen, uint16_t id, bool edns, bool do_bit,
                        size_t limit, uint8_t *out, size_t cap)
{
        size_t reserve = edns ? 11 : 0, off, len;
        unsigned an, ns, total;
        uint16_t count[3] = {0, 0, 0};
        bool tc;

        if (limit > cap)
                limit = cap;
        /* A message that is no answer to a QUERY (QR clear, another opcode) would reach the
         * client as a query or as nonsense: it is no answer at all. */
        if (alen < 12 || rd16(ans + 4) != 1 || (ans[2] & 0xf8) != 0x80)
                return 0;
        an = rd16(ans + 6);
        ns = rd16(ans + 8);
        total = an + ns + rd16(ans + 10);
        off = relay_skip_name(ans, alen, 12);
        if (!off || off + 4 > alen || off + 4 + reserve > limit)
                return 0;
        off += 4;
        memcpy(out, ans, off);
        len = off;
        tc = ans[2] & 0x02;
        for (unsigned i = 0; i < total; i++) {
                size_t start = off, p = relay_skip_name(ans, alen, off);
                int sec = i < an ? 0 : i < an + ns ? 1 : 2;

                if (!p || p + 10 > alen || p + 10 + rd16(ans + p + 8) > alen ||
                    !relay_rdata_names(ans, alen, rd16(ans + p), p + 10, rd16(ans + p + 8)))
                        return 0;
                off = p + 10 + rd16(ans + p + 8);
                if (rd16(ans + p) == 41)
                        break; /* hop-by-hop: ours replaces it; what follows it goes too */
                if (len + (off - start) + reserve > limit) {
                        tc = tc || sec < 2;
                        break;
                }
                memcpy(out + len, ans + start, off - start);
                len += off - start;
                count[sec]++;
        }
        out[0] = (uint8_t)(id >> 8);
        out[1] = (uint8_t)id;
        out[2] = (uint8_t)((ans[2] & ~0x02) | (tc ? 0x02 : 0));
        out[3] = ans[3];
        for (int s = 0; s < 3; s++) {
                out[6 + 2 * s] = (uint8_t)(count[s] >> 8);
                out[7 + 2 * s] = (uint8_t)count[s];
        }
        if (edns) {
                const uint8_t opt[11] = {
                    0, 0, 41, LD_EDNS_PAYLOAD >> 8, LD_EDNS_PAYLOAD & 0xff, 0, 0, do_bit ? 0x80 : 0,
                    0, 0, 0};
                memcpy(out + len, opt, sizeof(opt));
                len += sizeof(opt);
                count[2]++;
                out[10] = (uint8_t)(count[2] >> 8);
                out[11] = (uint8_t)count[2];
        }
        return len;
}
