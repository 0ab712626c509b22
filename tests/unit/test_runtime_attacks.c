/* test_runtime_attacks: what a hostile runtime input or peer can do to the runtime programs'
 * shared modules (ctlclient, rtjson, rtnet): each case a defect found in review. */
#include "ctlclient.h"
#include "rtjson.h"
#include "rtnet.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A value given through a printf argument is one word: a blank, an empty value or a '#'
 * would make other options (or comment out the rest, e.g. rm's --owner) on a line that
 * still parses. */
static void test_batch_injection(void)
{
        struct ld_ctlc_batch b = {0};
        char err[512];
        int rc;

        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "unlink %s %s %s", "web", "db", "#pg");
        TAP_OK(rc == -EINVAL, "a '#' value cannot comment out the rest (rc %d)", rc);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "rm %s --owner %s", "db #", "oci:1");
        TAP_OK(rc == -EINVAL, "a ' #' value cannot comment out the rest (rc %d)", rc);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "add %s --owner oci:1", "db --addr 10.0.0.9");
        TAP_OK(rc == -EINVAL, "a value with a blank cannot add options (rc %d)", rc);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "add %s --owner oci:1", "db\t--addr\t10.0.0.9");
        TAP_OK(rc == -EINVAL, "nor with a tab (rc %d)", rc);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "link web %s %s", "", "db");
        TAP_OK(rc == -EINVAL, "an empty value cannot shift the words after it (rc %d)", rc);
        TAP_OK(b.lines == 0, "none of them was added (%zu lines)", b.lines);
        /* what stays allowed: words with their values, a whole line as one "%s" */
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "link %s %s:%s", "web", "db", "pg");
        TAP_OK(rc == 0, "a value inside a word is fine (rc %d, '%s')", rc, err);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "%s", "add db --addr 10.0.0.5 --owner oci:1");
        TAP_OK(rc == 0, "a whole line as one %%s is checked as a line (rc %d, '%s')", rc, err);
        rc = ld_ctlc_batch_add(&b, err, sizeof(err), "%s", "rm db # --owner oci:1");
        TAP_OK(rc == -EINVAL, "a whole line with a comment after its words is refused (rc %d)", rc);
        ld_ctlc_batch_clear(&b);
}

/* A string with "\u0000" in it is no C string: json-c keeps the length, a caller taking
 * the C string would see only its start ("/run/netns/a\u0000b" would name /run/netns/a). */
static void test_json_nul(void)
{
        static const char text[] = "{\"a\": \"x\\u0000 --owner y\", \"b\": \"ok\"}";
        struct json_object *o = NULL;
        char err[256];
        int p[2], rc;

        if (pipe(p) < 0 || write(p[1], text, sizeof(text) - 1) != (ssize_t)sizeof(text) - 1) {
                TAP_OK(false, "pipe");
                return;
        }
        close(p[1]);
        rc = ld_json_read_fd(p[0], LD_JSON_MAX, 1000, &o, err, sizeof(err));
        close(p[0]);
        TAP_OK(rc == 0, "the JSON parses (rc %d, '%s')", rc, err);
        TAP_OK(ld_json_str(o, "a") == NULL, "a string with a NUL inside is no string member");
        TAP_OK(ld_json_str(o, "b") && strcmp(ld_json_str(o, "b"), "ok") == 0,
               "a plain one still is");
        json_object_put(o);
}

int main(void)
{
        test_batch_injection();
        test_json_nul();
        return tap_done();
}
