/* frame: how the daemon's appended changes are framed in the state file, so that a change
 * cut short by a crash is recognised instead of loading as a wrong value. */
#ifndef LD_FRAME_H
#define LD_FRAME_H

#include <stddef.h>
#include <stdio.h>

/* A record is the header line "#linkdns-record LEN CRC32\n" (LEN decimal, CRC32 eight hex
 * digits, IEEE) followed by exactly LEN bytes of whole lines: one change, or a batch that
 * stands or falls together. To other readers the header is a comment. */
#define LD_FRAME_TAG "#linkdns-record"

/* Writes text (whole lines, newline-terminated) as one record. */
void ld_frame_write(FILE *f, const char *text, size_t len);

enum ld_frame_kind {
        LD_FRAME_NONE,    /* the line at pos is no record header: an ordinary line */
        LD_FRAME_OK,      /* a whole record: body..body+bodylen, the next line at *next */
        LD_FRAME_TORN,    /* a record the file ends inside of, or whose last bytes do not
                             match: a write a crash cut short, never acknowledged */
        LD_FRAME_DAMAGED, /* a bad header or checksum with more of the file after it */
};

/* Looks at the line starting at pos in buf[0..len). */
enum ld_frame_kind ld_frame_parse(const char *buf, size_t len, size_t pos, size_t *body,
                                  size_t *bodylen, size_t *next);

#endif
