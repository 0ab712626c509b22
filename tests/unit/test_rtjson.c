/* test_rtjson: bounded JSON input: files, FIFOs, links and descriptors that never end. */
#include "clock.h"
#include "rtjson.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[32];

static const char *put(const char *name, const char *text)
{
        static char path[64];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        return path;
}

static void test_files(void)
{
        struct json_object *o = NULL;
        char err[256], path[64], *big;
        int rc;

        rc = ld_json_read_file(put("good.json", "{\"id\": \"abc\", \"pid\": 42, \"annotations\": "
                                                "{\"a\": \"b\"}, \"mounts\": [1]}\n"),
                               LD_JSON_MAX, &o, err, sizeof(err));
        TAP_OK(rc == 0 && o, "a good file: rc %d %s", rc, err);
        TAP_OK(ld_json_str(o, "id") && strcmp(ld_json_str(o, "id"), "abc") == 0, "a string member");
        TAP_OK(!ld_json_str(o, "pid") && !ld_json_str(o, "nosuch"), "other types and absent: NULL");
        TAP_OK(ld_json_obj(o, "annotations") && !ld_json_obj(o, "mounts"), "an object member");
        TAP_OK(ld_json_arr(o, "mounts") && !ld_json_arr(o, "id"), "an array member");
        TAP_OK(!ld_json_str(ld_json_arr(o, "mounts"), "x") && !ld_json_str(NULL, "x"),
               "members of a non-object: NULL");
        json_object_put(o);

        rc = ld_json_read_file(put("num.json", "42"), LD_JSON_MAX, &o, err, sizeof(err));
        TAP_OK(rc == 0 && json_object_is_type(o, json_type_int), "a top-level number: rc %d", rc);
        json_object_put(o);

        rc = ld_json_read_file(put("bad.json", "{\"id\": \"abc\",, }"), LD_JSON_MAX, &o, err,
                               sizeof(err));
        TAP_OK(rc == -EINVAL && !o && strstr(err, "offset 13") && strstr(err, "bad.json"),
               "malformed: '%s'", err);
        rc = ld_json_read_file(put("short.json", "{\"id\": \"ab"), LD_JSON_MAX, &o, err,
                               sizeof(err));
        TAP_OK(rc == -EINVAL && strstr(err, "offset"), "cut short: '%s'", err);
        rc = ld_json_read_file(put("trail.json", "{\"id\": 1} {\"id\": 2}\n"), LD_JSON_MAX, &o, err,
                               sizeof(err));
        TAP_OK(rc == -EINVAL && !o && strstr(err, "offset 10"), "trailing garbage: '%s'", err);
        rc = ld_json_read_file(put("empty.json", ""), LD_JSON_MAX, &o, err, sizeof(err));
        TAP_OK(rc == -EINVAL && !o, "empty: '%s'", err);

        big = malloc(70000);
        memset(big, ' ', 69999);
        big[0] = '[';
        big[69997] = ']';
        big[69999] = '\0';
        rc = ld_json_read_file(put("big.json", big), 65536, &o, err, sizeof(err));
        TAP_OK(rc == -E2BIG && !o && strstr(err, "65536"), "oversized: '%s'", err);
        rc = ld_json_read_file(put("big.json", big), 70000, &o, err, sizeof(err));
        TAP_OK(rc == 0, "the same within the bound: rc %d", rc);
        json_object_put(o);
        free(big);

        snprintf(path, sizeof(path), "%s/fifo", dir);
        mkfifo(path, 0600);
        rc = ld_json_read_file(path, LD_JSON_MAX, &o, err, sizeof(err));
        TAP_OK(rc == -EINVAL && strstr(err, "not a regular file"), "a FIFO, without blocking: '%s'",
               err);
        snprintf(path, sizeof(path), "%s/link", dir);
        symlink("good.json", path);
        rc = ld_json_read_file(path, LD_JSON_MAX, &o, err, sizeof(err));
        TAP_OK(rc == -ELOOP && strstr(err, "link"), "a symlink: '%s'", err);
        rc = ld_json_read_file(dir, LD_JSON_MAX, &o, err, sizeof(err));
        TAP_OK(rc < 0 && !o, "a directory: '%s'", err);
        rc = ld_json_read_file("/nonexistent/x.json", LD_JSON_MAX, &o, err, sizeof(err));
        TAP_OK(rc == -ENOENT && strstr(err, "/nonexistent/x.json"), "missing: '%s'", err);
}

static void test_fds(void)
{
        struct json_object *o = NULL;
        char err[256];
        int64_t t0;
        int p[2], rc;

        /* a writer that never closes: the deadline holds, in blocking mode too */
        if (pipe(p) < 0)
                return;
        write(p[1], "{\"a\": 1}", 8);
        t0 = ld_clock_ms();
        rc = ld_json_read_fd(p[0], LD_JSON_MAX, 300, &o, err, sizeof(err));
        t0 = ld_clock_ms() - t0;
        TAP_OK(rc == -ETIMEDOUT && !o, "a writer that never closes: rc %d '%s'", rc, err);
        TAP_OK(t0 >= 290 && t0 < 1500, "within the timeout: %lld ms", (long long)t0);
        close(p[1]);
        close(p[0]);

        if (pipe(p) < 0)
                return;
        write(p[1], "{\"a\": [true, null]}\n", 20);
        close(p[1]);
        rc = ld_json_read_fd(p[0], LD_JSON_MAX, 1000, &o, err, sizeof(err));
        TAP_OK(rc == 0 && ld_json_arr(o, "a"), "a pipe read to its end: rc %d '%s'", rc, err);
        json_object_put(o);
        close(p[0]);

        if (pipe(p) < 0)
                return;
        write(p[1], "{\"a\": \"x\0y\"}", 12);
        close(p[1]);
        rc = ld_json_read_fd(p[0], LD_JSON_MAX, 1000, &o, err, sizeof(err));
        TAP_OK(rc == -EINVAL && strstr(err, "NUL"), "a NUL byte: '%s'", err);
        close(p[0]);
}

/* Asks a fake linkdnsd (a child serving one connection) that answers "ok" and body. */
static int ask(const char *body, size_t len, struct ld_json_bound b, struct json_object **o,
               char *err, size_t errlen)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc, st;
        pid_t pid;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", dir);
        unlink(sa.sun_path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
                exit(99);
        if ((pid = fork()) == 0) {
                char req[256];
                int c = accept(fd, NULL, NULL);
                ssize_t n;
                if (c < 0 || read(c, req, sizeof(req)) <= 0 || write(c, "ok\n", 3) != 3)
                        _exit(1);
                /* a reader that stops at the bound closes: EPIPE is no failure here */
                for (size_t off = 0; off < len && (n = write(c, body + off, len - off)) > 0;)
                        off += (size_t)n;
                _exit(0);
        }
        close(fd);
        rc = ld_json_ask(sa.sun_path, "ls --json\n", 10, 2000, b, o, err, errlen);
        waitpid(pid, &st, 0);
        return rc;
}

/* linkdnsd's replies go through the same bounded parser as the runtime's input. */
static void test_replies(void)
{
        struct ld_json_bound b = {4096, 64};
        struct json_object *o = NULL;
        char err[512], *big;
        int rc;

        rc = ask("{\"containers\": []}\n", 18, b, &o, err, sizeof(err));
        TAP_OK(rc == 0 && ld_json_arr(o, "containers"), "a reply within the bound: rc %d '%s'", rc,
               err);
        json_object_put(o);

        big = malloc(8192);
        memset(big, ' ', 8192);
        big[0] = '[';
        big[8190] = ']';
        rc = ask(big, 8192, b, &o, err, sizeof(err));
        TAP_OK(rc == -E2BIG && !o && strstr(err, "longer than 4096 bytes") &&
                   strstr(err, "ctl.sock") && strstr(err, "'ls --json'"),
               "a reply over the byte bound: '%s'", err);
        for (size_t i = 0; i < 200; i += 2)
                memcpy(big + 1 + i, "1,", 2);
        memcpy(big + 201, "1]", 2);
        rc = ask(big, 203, b, &o, err, sizeof(err));
        TAP_OK(rc == -E2BIG && !o && strstr(err, "more than 64 values"),
               "a reply over the value bound: '%s'", err);
        free(big);

        rc = ask("{\"a\": 1} {\"a\": 2}", 17, b, &o, err, sizeof(err));
        TAP_OK(rc == -EINVAL && !o && strstr(err, "after the value"), "something after it: '%s'",
               err);
        rc = ask("{\"a\\u0000x\": 1}", 15, b, &o, err, sizeof(err));
        TAP_OK(rc == -EINVAL && !o && strstr(err, "(\\u0000)"), "a \\u0000: '%s'", err);
        rc = ask("", 0, b, &o, err, sizeof(err));
        TAP_OK(rc == -EINVAL && !o && strstr(err, "not JSON"), "no reply after ok: '%s'", err);
}

int main(void)
{
        char cmd[64];

        snprintf(dir, sizeof(dir), "/tmp/rtjson-XXXXXX");
        if (!mkdtemp(dir))
                return 99;
        test_files();
        test_fds();
        signal(SIGPIPE, SIG_IGN);
        test_replies();
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                printf("# could not remove %s\n", dir);
        return tap_done();
}
