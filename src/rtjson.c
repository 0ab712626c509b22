/* rtjson: the runtime programs' JSON input (json-c), read within bounds. */
#include "rtjson.h"

#include "clock.h"
#include "ctlclient.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Waits until fd is readable or the deadline (end < 0: none) passes: 0 or -ETIMEDOUT. */
static int rtjson_wait(int fd, int64_t end)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left;
        int n;

        for (;;) {
                left = end < 0 ? -1 : end - ld_clock_ms();
                if (end >= 0 && left <= 0)
                        return -ETIMEDOUT;
                n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return -errno;
        }
}

/* fd to its end into *buf (NUL-terminated, *len bytes): 0 or -errno. A descriptor in
 * blocking mode is read only once poll says so, so the deadline holds for both kinds. */
static int rtjson_slurp(int fd, size_t max, int timeout_ms, char **buf, size_t *len)
{
        int64_t end = timeout_ms < 0 ? -1 : ld_clock_ms() + timeout_ms;
        size_t cap = 0, want;
        char *p = NULL, *q;
        ssize_t n;
        int rc = 0;

        *len = 0;
        for (;;) {
                if (*len + 1 >= cap) {
                        /* one byte over max shows that the input is longer */
                        cap = cap ? cap * 2 : 16384;
                        if (cap > max + 2)
                                cap = max + 2;
                        if (!(q = realloc(p, cap))) {
                                rc = -ENOMEM;
                                break;
                        }
                        p = q;
                }
                if ((rc = rtjson_wait(fd, end)) < 0)
                        break;
                want = cap - 1 - *len;
                n = read(fd, p + *len, want);
                if (n == 0)
                        break;
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                                continue;
                        rc = -errno;
                        break;
                }
                *len += (size_t)n;
                if (*len > max) {
                        rc = -E2BIG;
                        break;
                }
        }
        if (rc < 0) {
                free(p);
                return rc;
        }
        if (!p && !(p = malloc(1)))
                return -ENOMEM;
        p[*len] = '\0';
        *buf = p;
        return 0;
}

/* Where text has the escape "\u0000", or NULL: json-c cuts a key at it (so a member
 * "a\u0000x" stands for "a" and, coming last, wins over it, where the runtime, in Go, sees
 * two keys) and a string value's C string too. */
static const char *rtjson_nul_escape(const char *text)
{
        for (const char *p = text; (p = strchr(p, '\\')) && p[1]; p += 2)
                if (p[1] == 'u' && strncmp(p + 2, "0000", 4) == 0)
                        return p;
        return NULL;
}

/* How many values text holds, about: its objects, arrays and commas outside strings. A
 * json-c object costs hundreds of bytes: 4 MiB of "[{},{},...]" took 1 GB and seconds to
 * parse; a real config.json with a seccomp profile has a few thousand. */
static size_t rtjson_values(const char *text)
{
        size_t n = 1;
        bool in = false;

        for (const char *p = text; *p; p++) {
                if (in && *p == '\\' && p[1])
                        p++;
                else if (*p == '"')
                        in = !in;
                else if (!in && (*p == '{' || *p == '[' || *p == ','))
                        n++;
        }
        return n;
}

/* One JSON value within b, and nothing but white space after it (text NUL-terminated at len). */
static int rtjson_parse(const char *text, size_t len, struct ld_json_bound b,
                        struct json_object **out, char *err, size_t errlen)
{
        const char *nul = rtjson_nul_escape(text);
        struct json_tokener *tok;
        struct json_object *o;
        enum json_tokener_error e;
        size_t off;

        if (nul) {
                snprintf(err, errlen, "a NUL (\\u0000) at offset %zu", (size_t)(nul - text));
                return -EINVAL;
        }
        if (len > b.bytes || len > INT32_MAX) {
                snprintf(err, errlen, "longer than %zu bytes",
                         b.bytes < INT32_MAX ? b.bytes : (size_t)INT32_MAX);
                return -E2BIG;
        }
        if (rtjson_values(text) > b.values) {
                snprintf(err, errlen, "more than %zu values", b.values);
                return -E2BIG;
        }
        if (!(tok = json_tokener_new())) {
                snprintf(err, errlen, "%s", "out of memory");
                return -ENOMEM;
        }
        /* text[len] is the NUL that tells json-c the input ends (a number at the end
         * would otherwise wait for more) */
        o = json_tokener_parse_ex(tok, text, (int)len + 1);
        e = json_tokener_get_error(tok);
        off = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (e == json_tokener_continue) {
                snprintf(err, errlen, "not JSON: the input ends inside a value (at offset %zu)",
                         len);
                return -EINVAL;
        }
        if (!o || e != json_tokener_success) {
                json_object_put(o);
                snprintf(err, errlen, "not JSON: %s at offset %zu", json_tokener_error_desc(e),
                         off);
                return -EINVAL;
        }
        off += strspn(text + off, " \t\r\n");
        if (off < len) {
                json_object_put(o);
                snprintf(err, errlen, "not JSON: something after the value at offset %zu", off);
                return -EINVAL;
        }
        *out = o;
        return 0;
}

int ld_json_parse(const char *text, size_t len, struct ld_json_bound b, struct json_object **out,
                  char *err, size_t errlen)
{
        *out = NULL;
        if (strlen(text) != len) {
                snprintf(err, errlen, "not JSON: a NUL byte at offset %zu", strlen(text));
                return -EINVAL;
        }
        return rtjson_parse(text, len, b, out, err, errlen);
}

int ld_json_ask(const char *control, const char *req, size_t len, int timeout_ms,
                struct ld_json_bound b, struct json_object **out, char *err, size_t errlen)
{
        /* the sink stops one byte past the bound: a reply of exactly b.bytes is read whole */
        struct ld_ctlc_buf buf = {.max = b.bytes < SIZE_MAX ? b.bytes + 1 : b.bytes};
        size_t shown = len && req[len - 1] == '\n' ? len - 1 : len;
        char why[256] = "";
        int rc;

        *out = NULL;
        rc = ld_ctlc_request(control, req, len, timeout_ms, ld_ctlc_buf_sink, &buf, err, errlen);
        if (rc == -E2BIG) /* only the sink says so */
                snprintf(why, sizeof(why), "longer than %zu bytes", b.bytes);
        else if (rc == 0)
                rc = ld_json_parse(buf.data ? buf.data : "", buf.len, b, out, why, sizeof(why));
        if (rc < 0 && why[0])
                snprintf(err, errlen, "%s: the reply to '%.*s': %s", control,
                         (int)(shown < 200 ? shown : 200), req, why);
        ld_ctlc_buf_clear(&buf);
        return rc;
}

int ld_json_read_fd(int fd, size_t max, int timeout_ms, struct json_object **out, char *err,
                    size_t errlen)
{
        char *text = NULL;
        size_t len;
        int rc;

        *out = NULL;
        if (errlen)
                err[0] = '\0';
        rc = rtjson_slurp(fd, max, timeout_ms, &text, &len);
        if (rc == -E2BIG)
                snprintf(err, errlen, "longer than %zu bytes", max);
        else if (rc == -ETIMEDOUT)
                snprintf(err, errlen, "not read to its end within %d ms", timeout_ms);
        else if (rc < 0)
                snprintf(err, errlen, "cannot read: %s", strerror(-rc));
        else
                rc = ld_json_parse(text, len, (struct ld_json_bound){max, LD_JSON_VALUES}, out, err,
                                   errlen);
        free(text);
        return rc;
}

int ld_json_read_file(const char *path, size_t max, struct json_object **out, char *err,
                      size_t errlen)
{
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY), rc;
        char why[256];
        struct stat st;

        *out = NULL;
        if (fd < 0) {
                rc = -errno;
                snprintf(err, errlen, "%s: %s", path,
                         rc == -ELOOP ? "a symbolic link, refused" : strerror(-rc));
                return rc;
        }
        if (fstat(fd, &st) < 0) {
                rc = -errno;
                snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        } else if (!S_ISREG(st.st_mode)) {
                /* a FIFO opened O_NONBLOCK never waits for a writer; it is not read */
                snprintf(err, errlen, "%s: not a regular file", path);
                rc = -EINVAL;
        } else if ((rc = ld_json_read_fd(fd, max, -1, out, why, sizeof(why))) < 0) {
                snprintf(err, errlen, "%s: %s", path, why);
        }
        close(fd);
        return rc;
}

static struct json_object *rtjson_member(struct json_object *o, const char *key,
                                         enum json_type type)
{
        struct json_object *v;

        if (!o || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

const char *ld_json_str(struct json_object *o, const char *key)
{
        struct json_object *v = rtjson_member(o, key, json_type_string);

        /* "\u0000" makes a NUL inside: its C string would be only the part before */
        if (!v || strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
                return NULL;
        return json_object_get_string(v);
}

struct json_object *ld_json_obj(struct json_object *o, const char *key)
{
        return rtjson_member(o, key, json_type_object);
}

struct json_object *ld_json_arr(struct json_object *o, const char *key)
{
        return rtjson_member(o, key, json_type_array);
}
