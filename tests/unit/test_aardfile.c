/* test_aardfile: netavark's network files (the format aardvark-dns 1.4 reads, its test
 * files' shapes), their bounds and hostile files; and the re-sync plan made from them
 * against an ls reply (aardsync). */
#include "aardfile.h"
#include "aardsync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

#define ID1 "68fb291b0318b54a71f6f3636e58bd0896f084e5ba4fa311ecf36e019c5e6e43"
#define ID2 "95655fb6832ba134efa66e9c80862a6c9b04f3cc6abf8adfdda8c38112c2c6fa"
#define ID3 "7b46c7ad93fcbcb945c35286a5ba19d6976093e2ce39d2cb38ba1eba636404ab"

static int parse(const char *text, struct ld_aard_net *n, char *err)
{
        return ld_aard_parse("podman", text, strlen(text), n, err, 256);
}

static void test_good(void)
{
        struct ld_aard_net n;
        char err[256] = "";
        int rc;

        /* aardvark-dns's own test file (podman/podman), names in mixed case */
        rc = parse("10.88.0.1\n" ID1 " 10.88.0.2  condescendingnash\n" ID2
                   " 10.88.0.3  HelloWorld,testdbctr\n",
                   &n, err);
        TAP_OK(rc == 0 && n.ngw == 1 && n.nctrs == 2 && n.ndns == 0, "two containers: %s", err);
        TAP_OK(rc == 0 && strcmp(n.ctrs[1].names[0], "helloworld") == 0 && n.ctrs[1].named &&
                   n.ctrs[1].nnames == 2,
               "names in lower case, the first the container's");
        ld_aard_net_clear(&n);

        /* network and per-container DNS servers, dual-stack gateway */
        rc = parse("10.88.0.1,fd00::1 127.0.0.1,::2\n" ID1
                   " 10.88.0.5  HelloWorld 3.3.3.3,1.1.1.1,::1\n",
                   &n, err);
        TAP_OK(rc == 0 && n.ngw == 2 && n.ndns == 2 && n.ctrs[0].ndns == 3,
               "DNS servers of the network and the container: %s", err);
        ld_aard_net_clear(&n);

        /* IPv4 and IPv6 on two lines of one container (podman_v6_entries) */
        rc = parse("10.89.0.1\n" ID3 " 10.89.0.2  test1,7b46c7ad93fc\n" ID3
                   "  fdfd:733b:dc3:220b::2 test1,7b46c7ad93fc\n",
                   &n, err);
        TAP_OK(rc == 0 && n.nctrs == 1 && n.ctrs[0].naddrs == 2 && n.ctrs[0].nnames == 2,
               "one container, two lines: addresses merged, names once: %s", err);
        ld_aard_net_clear(&n);

        /* a name that is no DNS name: dropped, the line kept */
        rc = parse("10.89.0.1\n\n" ID1 " 10.89.0.2  my+app,web\n", &n, err);
        TAP_OK(rc == 0 && !n.ctrs[0].named && n.ctrs[0].nnames == 1 &&
                   strcmp(n.ctrs[0].names[0], "web") == 0,
               "an invalid name is dropped, empty lines skipped: %s", err);
        ld_aard_net_clear(&n);
}

static void test_bad(void)
{
        static const struct {
                const char *text, *why;
        } bad[] = {
            {"10.88.0.1 dfdsfds\n", "1: invalid DNS server"}, /* podman_bad_config */
            {"10.88.0.1\n10.88.0.2  condescendingnash\n", "2: expected"},
            {"10.88.0.1\n" ID2 " hopefulmontalcini\n", "2: expected"},
            {"", "1: empty file"},
            {"nope\n", "1: invalid gateway"},
            {"10.88.0.1\n" ID1 " fd00::2  a\n", "2: invalid IPv4"},
            {"10.88.0.1\n" ID1 "  10.0.0.1 a\n", "2: invalid IPv6"},
            {"10.88.0.1\nshort 10.0.0.2  a\n", "2: invalid container ID"},
            /* the runtime programs' one rule (ld_rt_id_valid): hex, so a short ID is too */
            {"10.88.0.1\nzzzzzzzzzzzzzzzz 10.0.0.2  a\n", "2: invalid container ID"},
            {"10.88.0.1\nns-0123456789abcdef 10.0.0.2  a\n", "2: invalid container ID"},
            {"10.88.0.1\n" ID1 " 10.0.0.2  a 1.1.1.1 extra\n", "2: expected"},
            {"10.88.0.1 1.1.1.1 x\n", "1: more than two"},
        };
        struct ld_aard_net n;
        char err[256];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                int rc = parse(bad[i].text, &n, err);
                TAP_OK(rc == -EINVAL && strncmp(err, bad[i].why, strlen(bad[i].why)) == 0 &&
                           n.nctrs == 0,
                       "refused with '%s': %s", bad[i].why, err);
        }
        TAP_OK(ld_aard_parse("podman", "10.0.0.1\0x\n", 10, &n, err, sizeof(err)) == -EINVAL,
               "a NUL byte: %s", err);
        TAP_OK(ld_aard_parse("a/b", "10.0.0.1\n", 9, &n, err, sizeof(err)) == -EINVAL,
               "a file name that is no network name: %s", err);
}

static void test_bounds(void)
{
        size_t cap = (LD_AARD_CTRS_MAX + 2) * 100 + LD_AARD_LINE_MAX + 64, len = 0;
        char *text = malloc(cap), err[256];
        struct ld_aard_net n;
        int rc;

        len += (size_t)sprintf(text, "10.0.0.1\n");
        for (int i = 0; i <= LD_AARD_CTRS_MAX; i++)
                len += (size_t)sprintf(text + len, "%064x 10.0.%d.%d  c%d\n", i + 1, i / 250,
                                       i % 250 + 2, i);
        rc = ld_aard_parse("big", text, len, &n, err, sizeof(err));
        TAP_OK(rc == -EINVAL && strstr(err, "more than"), "containers per file bounded: %s", err);
        len = (size_t)sprintf(text, "10.0.0.1\n");
        memset(text + len, 'a', LD_AARD_LINE_MAX + 1);
        len += LD_AARD_LINE_MAX + 1;
        rc = ld_aard_parse("long", text, len, &n, err, sizeof(err));
        TAP_OK(rc == -EINVAL && strstr(err, "longer than"), "line length bounded: %s", err);
        len = (size_t)sprintf(text, "10.0.0.1\n" ID1 " ");
        for (int i = 0; i <= LD_ATTACH_ADDRS_MAX; i++)
                len += (size_t)sprintf(text + len, "%s10.1.0.%d", i ? "," : "", i + 1);
        len += (size_t)sprintf(text + len, "  a\n");
        rc = ld_aard_parse("addrs", text, len, &n, err, sizeof(err));
        TAP_OK(rc == -EINVAL && strstr(err, "more than"), "addresses bounded: %s", err);
        free(text);
}

static char reports[4096];

static void collect(void *ctx, const char *msg)
{
        (void)ctx;
        strncat(reports, msg, sizeof(reports) - strlen(reports) - 2);
        strcat(reports, " | ");
}

static void put(int dfd, const char *name, const char *text)
{
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (fd >= 0) {
                if (write(fd, text, strlen(text)) < 0)
                        perror("write");
                close(fd);
        }
}

static void test_dir(void)
{
        char dir[] = "/tmp/ld-aardfile-XXXXXX";
        struct ld_aard_dir d;
        int dfd, rc;

        if (!mkdtemp(dir))
                return;
        dfd = open(dir, O_RDONLY | O_DIRECTORY);
        put(dfd, "podman", "10.88.0.1\n" ID1 " 10.88.0.2  web\n");
        put(dfd, "other", "10.89.0.1\n" ID1 " 10.89.0.2  web\n");
        put(dfd, "broken", "10.90.0.1\nbad line\n");
        put(dfd, "aardvark.pid", "123");
        put(dfd, ".hidden", "x");
        symlinkat("/etc/passwd", dfd, "link");
        mkfifoat(dfd, "fifo", 0600);
        rc = ld_aard_dir_read(dfd, dir, &d, collect, NULL);
        TAP_OK(rc == 0 && d.n == 2 && strcmp(d.nets[0].name, "other") == 0,
               "two good files, sorted by name");
        TAP_OK(d.nbad == 3 && ld_aard_dir_bad(&d, "broken") && ld_aard_dir_bad(&d, "link") &&
                   ld_aard_dir_bad(&d, "fifo") && !ld_aard_dir_has(&d, "aardvark.pid"),
               "a bad line, a symlink and a FIFO are bad files; the pid file no file");
        TAP_OK(strstr(reports, "/broken:2: ") && strstr(reports, "/link: a symbolic link") &&
                   strstr(reports, "/fifo: not a regular file"),
               "reported as FILE:LINE or FILE: %s", reports);

        /* the plan against an empty table: net, add, attach in that order */
        struct json_object *cur = json_tokener_parse(
            "{\"networks\":[],\"attachments\":[],\"containers\":[],\"links\":[]}");
        struct ld_aard_plan p;
        char err[256];
        rc = ld_aard_plan_build(&d, cur, NULL, 53, LD_AARD_DOMAIN, NULL, &p, collect, NULL, err,
                                sizeof(err));
        TAP_OK(rc == 0 && p.n == 5 && strncmp(p.lines[0].text, "net other --replace", 19) == 0 &&
                   strncmp(p.lines[1].text, "net podman", 10) == 0 &&
                   strncmp(p.lines[2].text, "add web --owner aardvark:" ID1, 25 + 64) == 0 &&
                   strncmp(p.lines[3].text,
                           "attach web other --addr 10.89.0.2 --alias 68fb291b0318", 54) == 0 &&
                   p.nlisten == 2,
               "nets, one add for two networks, two attaches: %zu lines", p.n);
        ld_aard_plan_clear(&p);
        json_object_put(cur);

        /* the same table now: nothing to do; an entry gone from the files: removed first */
        cur = json_tokener_parse(
            "{\"networks\":["
            "{\"name\":\"other\",\"owner\":\"aardvark:other\",\"domain\":\"dns.podman\","
            "\"listen\":[\"10.89.0.1@53\"],\"dns\":[],\"internal\":false},"
            "{\"name\":\"podman\",\"owner\":\"aardvark:podman\",\"domain\":\"dns.podman\","
            "\"listen\":[\"10.88.0.1@53\"],\"dns\":[],\"internal\":false},"
            "{\"name\":\"old\",\"owner\":\"aardvark:old\",\"domain\":\"dns.podman\","
            "\"listen\":[\"10.91.0.1@53\"],\"dns\":[],\"internal\":false}],"
            "\"attachments\":["
            "{\"container\":\"web\",\"net\":\"other\",\"addrs\":[\"10.89.0.2\"],"
            "\"aliases\":[\"68fb291b0318\"]},"
            "{\"container\":\"web\",\"net\":\"podman\",\"addrs\":[\"10.88.0.2\"],"
            "\"aliases\":[\"68fb291b0318\"]},"
            "{\"container\":\"gone\",\"net\":\"old\",\"addrs\":[\"10.91.0.2\"],\"aliases\":[]},"
            "{\"container\":\"kept\",\"net\":\"broken\",\"addrs\":[\"10.90.0.2\"],"
            "\"aliases\":[]}],"
            "\"containers\":["
            "{\"name\":\"web\",\"owners\":[\"aardvark:" ID1 "\"],\"dns\":[]},"
            "{\"name\":\"gone\",\"owners\":[\"aardvark:" ID2 "\"],\"dns\":[]},"
            "{\"name\":\"kept\",\"owners\":[\"aardvark:" ID3 "\"],\"dns\":[]}],\"links\":[]}");
        rc = ld_aard_plan_build(&d, cur, NULL, 53, LD_AARD_DOMAIN, NULL, &p, collect, NULL, err,
                                sizeof(err));
        TAP_OK(rc == 0 && p.n == 2 &&
                   strcmp(p.lines[0].text, "rm gone --owner aardvark:" ID2) == 0 &&
                   strcmp(p.lines[1].text, "unnet old --owner aardvark:old") == 0,
               "in step: only the stale container, then its network, go; the broken file's "
               "container stays (%zu lines%s%s)",
               p.n, p.n ? ": " : "", p.n ? p.lines[0].text : "");
        ld_aard_plan_clear(&p);
        json_object_put(cur);

        ld_aard_dir_clear(&d);
        close(dfd);
        for (const char *const *f =
                 (const char *const[]){"podman", "other", "broken", "aardvark.pid", ".hidden",
                                       "link", "fifo", NULL};
             *f; f++) {
                char path[128];
                snprintf(path, sizeof(path), "%s/%s", dir, *f);
                unlink(path);
        }
        rmdir(dir);
}

int main(void)
{
        test_good();
        test_bad();
        test_bounds();
        test_dir();
        return tap_done();
}
