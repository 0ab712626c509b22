/* frame: how the daemon's appended changes are framed in the state file, so that a change
 * cut short by a crash is recognised instead of loading as a wrong value. */
#include "frame.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define FRAME_HEADER_MAX 64 /* tag, a length and a checksum fit well within */

/* CRC-32 (IEEE 802.3, reflected): a torn or zero-filled tail fails it. Bitwise: records
 * are small and written once per change, never on the query path. */
static uint32_t frame_crc32(const char *p, size_t len)
{
        uint32_t crc = 0xffffffffu;

        for (size_t i = 0; i < len; i++) {
                crc ^= (unsigned char)p[i];
                for (int k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
        return ~crc;
}

void ld_frame_write(FILE *f, const char *text, size_t len)
{
        fprintf(f, LD_FRAME_TAG " %zu %08x\n", len, (unsigned)frame_crc32(text, len));
        fwrite(text, 1, len, f);
}

/* "LEN CRC" exactly as ld_frame_write puts it: digits, one blank, eight hex digits. */
static bool frame_header(const char *s, size_t n, size_t *reclen, uint32_t *crc)
{
        size_t i = 0, v = 0;
        uint32_t c = 0;

        if (n == 0 || s[0] < '0' || s[0] > '9')
                return false;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
                if (v > (SIZE_MAX - 9) / 10)
                        return false;
                v = v * 10 + (size_t)(s[i] - '0');
        }
        if (i + 9 != n || s[i] != ' ')
                return false;
        for (i++; i < n; i++) {
                char h = s[i];
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
                if (d < 0)
                        return false;
                c = c << 4 | (uint32_t)d;
        }
        *reclen = v;
        *crc = c;
        return true;
}

/* Whether a record header starts a line in buf[0..len) (its first line included). */
static bool frame_more_records(const char *buf, size_t len)
{
        const size_t taglen = sizeof(LD_FRAME_TAG) - 1;

        for (size_t pos = 0; pos < len;) {
                const char *nl = memchr(buf + pos, '\n', len - pos);
                if (len - pos > taglen && memcmp(buf + pos, LD_FRAME_TAG " ", taglen + 1) == 0)
                        return true;
                if (!nl)
                        break;
                pos = (size_t)(nl - buf) + 1;
        }
        return false;
}

enum ld_frame_kind ld_frame_parse(const char *buf, size_t len, size_t pos, size_t *body,
                                  size_t *bodylen, size_t *next)
{
        const size_t taglen = sizeof(LD_FRAME_TAG) - 1;
        const char *nl;
        size_t hdr, reclen;
        uint32_t crc;

        if (len - pos < taglen && memcmp(buf + pos, LD_FRAME_TAG, len - pos) == 0)
                return LD_FRAME_TORN; /* the file ends inside the tag */
        if (len - pos < taglen || memcmp(buf + pos, LD_FRAME_TAG, taglen) != 0 ||
            (len - pos > taglen && buf[pos + taglen] != ' ' && buf[pos + taglen] != '\n'))
                return LD_FRAME_NONE;
        nl = memchr(buf + pos, '\n', len - pos);
        if (!nl)
                return LD_FRAME_TORN; /* the file ends inside the header */
        hdr = (size_t)(nl - buf) + 1;
        if (hdr - pos > FRAME_HEADER_MAX || buf[pos + taglen] != ' ' ||
            !frame_header(buf + pos + taglen + 1, hdr - pos - taglen - 2, &reclen, &crc))
                return LD_FRAME_DAMAGED;
        /* A crash cuts only the end: with another record after it (a damaged LEN), dropping
         * it as torn would drop every acknowledged change that follows. */
        if (reclen > len - hdr)
                return frame_more_records(buf + hdr, len - hdr) ? LD_FRAME_DAMAGED : LD_FRAME_TORN;
        if (frame_crc32(buf + hdr, reclen) != crc || (reclen && buf[hdr + reclen - 1] != '\n'))
                return hdr + reclen == len ? LD_FRAME_TORN : LD_FRAME_DAMAGED;
        *body = hdr;
        *bodylen = reclen;
        *next = hdr + reclen;
        return LD_FRAME_OK;
}
