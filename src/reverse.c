/* reverse: in-addr.arpa and ip6.arpa names, and the local zones of RFC 6303 / RFC 7793
 * that are answered here instead of leaking private reverse lookups upstream. */
#include "reverse.h"

#include <string.h>

/* A local zone: the first k-1 parts (octets or nibbles, most significant first) equal
 * prefix, the k-th lies in lo..hi. */
struct reverse_zone {
        uint8_t k;
        uint8_t prefix[31];
        uint8_t lo, hi;
};

static const struct reverse_zone reverse_v4[] = {
    {1, {0}, 10, 10},        {2, {172}, 16, 31},
    {2, {192}, 168, 168},    {1, {0}, 0, 0},
    {1, {0}, 127, 127},      {2, {169}, 254, 254},
    {3, {192, 0}, 2, 2},     {3, {198, 51}, 100, 100},
    {3, {203, 0}, 113, 113}, {4, {255, 255, 255}, 255, 255},
    {2, {100}, 64, 127}, /* RFC 7793 */
};

static const struct reverse_zone reverse_v6[] = {
    {32, {0}, 0, 1},                                    /* :: and ::1 */
    {2, {0xf}, 0xd, 0xd},                               /* fd00::/8 */
    {3, {0xf, 0xe}, 0x8, 0xb},                          /* fe80::/10 */
    {8, {0x2, 0x0, 0x0, 0x1, 0x0, 0xd, 0xb}, 0x8, 0x8}, /* 2001:db8::/32 */
};

static const uint8_t reverse_in_addr[] = "\7in-addr\4arpa";
static const uint8_t reverse_ip6[] = "\3ip6\4arpa";

static bool reverse_suffix(const struct ld_query *q, const uint8_t *suffix, size_t len)
{
        if (q->nlabels < 2)
                return false;
        size_t off = q->label_off[q->nlabels - 2];
        return q->qname_len - 1 - off == len && memcmp(q->lname + off, suffix, len) == 0;
}

/* One label as a part: a decimal octet without leading zeros, or one hex nibble. */
static int reverse_part(const uint8_t *label, bool v6)
{
        uint8_t len = label[0];
        int v = 0;

        if (v6) {
                uint8_t c = label[1];
                if (len != 1)
                        return -1;
                if (c >= '0' && c <= '9')
                        return c - '0';
                return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        }
        if (len < 1 || len > 3 || (len > 1 && label[1] == '0'))
                return -1;
        for (uint8_t i = 1; i <= len; i++) {
                if (label[i] < '0' || label[i] > '9')
                        return -1;
                v = v * 10 + label[i] - '0';
        }
        return v <= 255 ? v : -1;
}

static void reverse_local(const struct ld_query *q, const uint8_t *parts, size_t nvalid,
                          size_t nlabels, bool v6, struct ld_reverse *r)
{
        const struct reverse_zone *z = v6 ? reverse_v6 : reverse_v4;
        size_t nz = v6 ? sizeof(reverse_v6) / sizeof(*z) : sizeof(reverse_v4) / sizeof(*z);

        for (size_t i = 0; i < nz; i++, z++) {
                if (nvalid < z->k || memcmp(parts, z->prefix, z->k - 1u) != 0 ||
                    parts[z->k - 1] < z->lo || parts[z->k - 1] > z->hi)
                        continue;
                r->local = true;
                r->apex = nlabels == z->k;
                r->apex_off = q->label_off[nlabels - z->k];
                return;
        }
}

bool ld_reverse_parse(const struct ld_query *q, struct ld_reverse *r)
{
        bool v6;
        uint8_t parts[32];
        size_t nlabels, nvalid = 0, full;

        if (reverse_suffix(q, reverse_in_addr, sizeof(reverse_in_addr) - 1))
                v6 = false;
        else if (reverse_suffix(q, reverse_ip6, sizeof(reverse_ip6) - 1))
                v6 = true;
        else
                return false; /* most names: r is not read */
        memset(r, 0, sizeof(*r));
        full = v6 ? 32 : 4;
        nlabels = q->nlabels - 2u;
        /* Parts run from the label next to in-addr/ip6 down to the first label. */
        while (nvalid < nlabels && nvalid < full) {
                int p = reverse_part(q->lname + q->label_off[nlabels - 1 - nvalid], v6);
                if (p < 0)
                        break;
                parts[nvalid++] = (uint8_t)p;
        }
        reverse_local(q, parts, nvalid, nlabels, v6, r);
        if (nvalid != full || nlabels != full)
                return true;
        r->full = true;
        r->addr.family = v6 ? AF_INET6 : AF_INET;
        for (size_t i = 0; i < (v6 ? 16u : 4u); i++)
                r->addr.bytes[i] = v6 ? (uint8_t)(parts[2 * i] << 4 | parts[2 * i + 1]) : parts[i];
        return true;
}
