/* rtjson: the runtime programs' JSON input (json-c): files, descriptors, replies, bounded. */
#ifndef LD_RTJSON_H
#define LD_RTJSON_H

#include <json-c/json.h>
#include <stddef.h>

/* A runtime's state or config JSON is a few KiB; an OCI config.json with many mounts and
 * environment variables stays well under this. */
#define LD_JSON_MAX (4u << 20)
/* and at most this many values (objects, arrays, members, elements): json-c spends
 * hundreds of bytes on each, and 4 MiB of empty objects would be a GB */
#define LD_JSON_VALUES 65536u

/* What one input may hold: its bytes, and its values (as LD_JSON_VALUES counts them), which
 * bound what json-c builds of it. */
struct ld_json_bound {
        size_t bytes, values;
};
/* linkdnsd's replies (ls --json, show --net --json) of at most max bytes: ls writes some 14
 * bytes a value (bench/load's 10,000 containers and 50,000 links: 5.2 MB, 362,000 values),
 * so a value per 12 bytes takes whatever real reply the byte bound takes, and refuses input
 * of 2 or 3 bytes a value ("[{},{},...]", which json-c holds at 800 bytes a value) 4 to 6
 * times sooner. */
#define LD_JSON_REPLY(max) ((struct ld_json_bound){(max), (max) / 12})

/* Reads fd to its end (at most max bytes, within timeout_ms; < 0: no limit) and parses
 * it: 0 or a negative errno (-E2BIG: longer than max or LD_JSON_VALUES, -EINVAL: not
 * JSON or a NUL in it, raw or "\u0000", which json-c would cut keys and strings at,
 * -ETIMEDOUT); err says what is wrong in one line (for bad JSON, json-c's reason and the offset).
 * The caller puts *out with json_object_put. */
int ld_json_read_fd(int fd, size_t max, int timeout_ms, struct json_object **out, char *err,
                    size_t errlen);
/* The same from text in memory (len bytes, NUL-terminated at len) within b. */
int ld_json_parse(const char *text, size_t len, struct ld_json_bound b, struct json_object **out,
                  char *err, size_t errlen);
/* Asks linkdnsd at control for a JSON reply (req: len bytes of lines, as ld_ctlc_request) and
 * parses it within b, all within timeout_ms: 0 with *out, 1 when linkdnsd refused (err: its
 * reason), or a negative errno: ld_ctlc_request's, -E2BIG (more than b allows), -EINVAL (no
 * JSON, or a NUL in it), -ENOMEM; err names the socket and the request. The caller puts *out. */
int ld_json_ask(const char *control, const char *req, size_t len, int timeout_ms,
                struct ld_json_bound b, struct json_object **out, char *err, size_t errlen);
/* The same from a file, which must be a regular file (no FIFO, device or symlink as the
 * last component: opened O_NONBLOCK|O_NOFOLLOW, checked with fstat before reading). */
int ld_json_read_file(const char *path, size_t max, struct json_object **out, char *err,
                      size_t errlen);

/* Members of an object, or NULL when o is no object, the key is absent or the member has
 * another type (ld_json_str: or a NUL inside, "\u0000", which a C string would cut). */
const char *ld_json_str(struct json_object *o, const char *key);
struct json_object *ld_json_obj(struct json_object *o, const char *key);
struct json_object *ld_json_arr(struct json_object *o, const char *key);

#endif
