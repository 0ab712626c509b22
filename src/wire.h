/* wire: the DNS primitives every packet reader and writer shares — 16/32-bit fields, one
 * name walker (RFC 1035 4.1.4's pointer rule), our OPT record, upstream queries and error
 * replies — bounded and without allocation. The readers are inline: they are the per-query
 * hot path. */
#ifndef LD_WIRE_H
#define LD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LD_DNS_HEADER 12
#define LD_NAME_WIRE_MAX 255
#define LD_LABELS_MAX 128
#define LD_EDNS_PAYLOAD 1232 /* ours, in every OPT we write (DNS flag day 2020) */
#define LD_OPT_LEN 11        /* our OPT: root owner, no options */
#define LD_TYPE_OPT 41

enum {
        LD_RCODE_NOERROR = 0,
        LD_RCODE_FORMERR = 1,
        LD_RCODE_SERVFAIL = 2,
        LD_RCODE_NXDOMAIN = 3,
        LD_RCODE_NOTIMP = 4,
        LD_RCODE_REFUSED = 5,
};

static inline uint16_t ld_rd16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t ld_rd32(const uint8_t *p)
{
        return (uint32_t)ld_rd16(p) << 16 | ld_rd16(p + 2);
}

static inline void ld_wr16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static inline void ld_wr32(uint8_t *p, uint32_t v)
{
        ld_wr16(p, (uint16_t)(v >> 16));
        ld_wr16(p + 2, (uint16_t)v);
}

/* An ASCII letter in lower case; any other octet as it is (names are compared that way). */
static inline uint8_t ld_wire_lower(uint8_t c)
{
        return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

/* Whether the len octets at a and b are equal but for the case of ASCII letters (a wire
 * name and its 0x20 spelling). */
static inline bool ld_wire_same_name(const uint8_t *a, const uint8_t *b, size_t len)
{
        for (size_t i = 0; i < len; i++) /* equal, or the same letter in the other case */
                if (a[i] != b[i] && ((a[i] ^ b[i]) != 0x20 || (uint8_t)((a[i] | 0x20) - 'a') >= 26))
                        return false;
        return true;
}

/* Where ld_wire_name copies the name it walks, in lower case and wire form. */
struct ld_name_copy {
        uint8_t *lname;     /* LD_NAME_WIRE_MAX octets */
        uint8_t *label_off; /* LD_LABELS_MAX: each label's length byte, as an offset in lname */
        uint8_t nlabels;    /* labels before the root */
        uint8_t len;        /* wire length, root included */
};

/* The name at off in m[0, len): the offset just after it where it stands (after its first
 * pointer, if any), or 0 when it is malformed. A label is at most 63 octets, the whole name
 * at most 255 (so at most 127 labels and the root). With pointers false a compression
 * pointer is malformed (a question is written in full); otherwise every pointer must point
 * strictly backwards (RFC 1035 4.1.4: "a prior occurrence"), past the header (a name never
 * stands there; the relay rewrites it), and the name it reaches must end before the pointer:
 * each pointer lowers the bound, so no loop can form and the walk ends within len steps,
 * which LD_LABELS_MAX hops bound further. copy (may be NULL) receives the name in lower
 * case. */
static inline size_t ld_wire_name(const uint8_t *m, size_t len, size_t off, bool pointers,
                                  struct ld_name_copy *copy)
{
        uint8_t *lname = copy ? copy->lname : NULL, *label_off = copy ? copy->label_off : NULL;
        size_t end = 0, bound = len, wlen = 0;
        unsigned hops = 0, nlabels = 0;

        for (;;) {
                if (off >= bound)
                        return 0;
                uint8_t l = m[off];
                if (l > 63) { /* a pointer (0b11), or a label type that is not (0b01, 0b10) */
                        if (!pointers || (l & 0xc0) != 0xc0 || off + 2 > bound ||
                            ++hops > LD_LABELS_MAX)
                                return 0;
                        size_t to = (size_t)(l & 0x3f) << 8 | m[off + 1];
                        if (to < LD_DNS_HEADER || to >= off)
                                return 0;
                        if (!end)
                                end = off + 2;
                        bound = off; /* the name reached lies wholly before the pointer */
                        off = to;
                        continue;
                }
                if (wlen + 1u + l > LD_NAME_WIRE_MAX || off + 1u + l > bound)
                        return 0;
                if (l == 0)
                        break;
                if (copy) {
                        label_off[nlabels++] = (uint8_t)wlen;
                        lname[wlen] = l;
                        const uint8_t *from = m + off + 1;
                        uint8_t *to = lname + wlen + 1;
                        for (unsigned i = 0; i < l; i++)
                                to[i] = ld_wire_lower(from[i]);
                }
                wlen += 1u + l;
                off += 1u + l;
        }
        if (copy) {
                lname[wlen] = 0;
                copy->nlabels = (uint8_t)nlabels;
                copy->len = (uint8_t)(wlen + 1);
        }
        return end ? end : off + 1;
}

/* Writes our OPT record (RFC 6891) at p, LD_OPT_LEN octets: root owner, payload
 * LD_EDNS_PAYLOAD, the extended RCODE's upper bits, version 0, DO as given (RFC 3225), no
 * options. */
static inline size_t ld_wire_opt(uint8_t *p, uint8_t ext_rcode, bool do_bit)
{
        p[0] = 0;
        ld_wr16(p + 1, LD_TYPE_OPT);
        ld_wr16(p + 3, LD_EDNS_PAYLOAD);
        p[5] = ext_rcode;
        p[6] = 0;
        p[7] = do_bit ? 0x80 : 0;
        p[8] = 0;
        ld_wr16(p + 9, 0);
        return LD_OPT_LEN;
}

/* Sets the RCODE of the message m (its header is there). */
static inline void ld_wire_set_rcode(uint8_t *m, uint8_t rcode)
{
        m[3] = (uint8_t)((m[3] & 0xf0) | (rcode & 0x0f));
}

/* The question of a message: name (wire form, uncompressed), type and class. */
struct ld_wire_question {
        const uint8_t *name;
        size_t namelen;
        uint16_t qtype, qclass;
};

/* A query upstream, into out (LD_DNS_HEADER + namelen + 4 + LD_OPT_LEN octets): ID 0 (the
 * sender draws one), RD, CD as given, the question, and always our OPT with DO as given:
 * EDNS is hop by hop, between us and the upstream. Returns its length. */
size_t ld_wire_query(uint8_t *out, const struct ld_wire_question *q, bool cd, bool do_bit);

/* What an error reply repeats of its query. */
struct ld_wire_ask {
        uint16_t id;
        uint8_t opcode;
        bool rd, cd; /* QUERY's flags: repeated for opcode 0 only (RFC 1035, 4035) */
        bool ra;     /* we recurse for this client */
        bool edns, do_bit;
        const struct ld_wire_question *question; /* NULL: it did not parse */
};

/* An error reply with rcode (its upper bits in the OPT) into out: the header, the question
 * echoed as asked, our OPT if the query had one. Returns its length, or 0 if cap is too
 * small. */
size_t ld_wire_error(const struct ld_wire_ask *a, uint16_t rcode, uint8_t *out, size_t cap);

#endif
