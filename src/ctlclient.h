/* ctlclient: the client side of linkdnsd's control socket, for linkdnsctl and the runtime programs.
 */
#ifndef LD_CTLCLIENT_H
#define LD_CTLCLIENT_H

#include <stdarg.h>
#include <stddef.h>

#define LD_CTLC_DEFAULT_PATH "/run/linkdns/control.sock"
/* What a runtime program waits for linkdnsd, at most: it must never hang a container's
 * start (the aardvark-dns replacement's contract says 2 s). */
#define LD_CTLC_TIMEOUT_MS 2000

/* Receives the reply after its verdict line, in pieces as they come; a negative errno
 * stops the reading and is returned by ld_ctlc_request. */
typedef int (*ld_ctlc_sink)(void *ctx, const char *buf, size_t len);

/* Sends req (len bytes, its last line ended by '\n') to the socket at path and reads the
 * reply, all within timeout_ms (< 0: no limit), never blocking past it. The verdict line
 * is consumed; the rest goes to sink (NULL: dropped).
 * Returns 0 when linkdnsd accepted, 1 when it refused (err: its one-line reason), or a
 * negative errno when it could not be asked or did not answer in time (err: what failed,
 * naming the path). err is always a NUL-terminated line without the newline. */
int ld_ctlc_request(const char *path, const char *req, size_t len, int timeout_ms,
                    ld_ctlc_sink sink, void *ctx, char *err, size_t errlen);

/* A sink that keeps the reply in memory, NUL-terminated, up to max bytes (-E2BIG past). */
struct ld_ctlc_buf {
        char *data;
        size_t len, cap, max;
};
int ld_ctlc_buf_sink(void *ctx, const char *buf, size_t len);
void ld_ctlc_buf_clear(struct ld_ctlc_buf *b); /* frees data; the struct may be reused */

/* A batch: change lines, each checked with ld_cmd_parse as it is added (so bad input is
 * refused here, naming the line, and never reaches the daemon), within LD_BATCH_LINES
 * and LD_BATCH_BYTES. Zero-initialise; ld_ctlc_batch_clear frees. */
struct ld_ctlc_batch {
        char *text;
        size_t len, cap, lines;
        size_t changes; /* lines that are changes (not blank or comments) */
};
/* Appends one line (printf format, no newline): 0, -EINVAL (not a change line: err says
 * why), -E2BIG (over the bounds) or -ENOMEM. Each argument must stay inside its word: the
 * line has as many blanks and words as fmt (so no value with a blank, and no empty one,
 * adds or moves an option), and no word starts with '#' (a comment would drop the rest,
 * e.g. an --owner); fmt "%s" alone passes a whole line, still without a '#' word. */
int ld_ctlc_batch_add(struct ld_ctlc_batch *b, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int ld_ctlc_batch_vadd(struct ld_ctlc_batch *b, char *err, size_t errlen, const char *fmt,
                       va_list ap);
/* Appends one line as it is: 0 for a change, 1 for a blank or '#' comment line (kept, so
 * that linkdnsd's "line N" in a refusal counts the caller's lines, as linkdnsctl batch
 * reads them from stdin), else ld_ctlc_batch_add's errors. */
int ld_ctlc_batch_line(struct ld_ctlc_batch *b, const char *line, char *err, size_t errlen);
/* Sends the batch as one change ("batch N\n" and its lines): as ld_ctlc_request. A batch
 * without changes returns 0 without asking the daemon. */
int ld_ctlc_batch_send(const char *path, const struct ld_ctlc_batch *b, int timeout_ms, char *err,
                       size_t errlen);
void ld_ctlc_batch_clear(struct ld_ctlc_batch *b);

#endif
