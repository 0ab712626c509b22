/* test_exchange_clock: an upstream exchange times out after its timeout whatever the wall
 * clock does. The test stands in for libc's clock_gettime and gettimeofday (libev reads the
 * wall clock through them; the executable's definitions come first) and steps the wall
 * clock while an exchange waits on a server that never answers. */
#include "exchange.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

static double wall_offset; /* seconds added to the wall clock */

int clock_gettime(clockid_t id, struct timespec *ts)
{
        int rc = (int)syscall(SYS_clock_gettime, id, ts);

        if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
                double t = (double)ts->tv_sec + (double)ts->tv_nsec / 1e9 + wall_offset;
                ts->tv_sec = (time_t)t;
                ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
        }
        return rc;
}

int gettimeofday(struct timeval *tv, void *tz)
{
        struct timespec ts;
        (void)tz;

        clock_gettime(CLOCK_REALTIME, &ts);
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
        return 0;
}

static int ended, ended_err;

static void done_cb(struct ld_exchange *x, int err, const uint8_t *ans, size_t len)
{
        (void)x;
        (void)ans;
        (void)len;
        ended++;
        ended_err = err;
}

static void step_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        wall_offset += *(double *)w->data;
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)w;
        (void)revents;
        ev_break(loop, EVBREAK_ALL);
}

/* An exchange of timeout 1.2 s (the forwarder's) with a silent server; 0.1 s in, the wall
 * clock steps by step seconds (libev's loop time follows it within a second). It must end
 * with -ETIMEDOUT about 1.2 s in (the watchdog stops at 4 s). */
static void run(double step, const char *what)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct ld_xpool *pool;
        struct ld_exchange x;
        struct ld_endpoint server;
        struct sockaddr_storage ss;
        uint8_t q[64] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'x', 0, 0, 1, 0, 1};
        ev_timer step_t, watchdog;
        double t0;
        int silent = socket(AF_INET, SOCK_DGRAM, 0);
        socklen_t sl = sizeof(ss);

        ld_endpoint_parse("127.0.0.1", 0, &server);
        bind(silent, (struct sockaddr *)&ss, ld_endpoint_sockaddr(&server, &ss));
        getsockname(silent, (struct sockaddr *)&ss, &sl);
        server.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        ended = 0;
        ld_xpool_new(loop, &pool);
        ld_exchange_init(&x, pool);
        TAP_OK(ld_exchange_start(&x, &server, q, 19, 1.2, done_cb) == 0, "%s: sent", what);
        ev_timer_init(&step_t, step_cb, 0.1, 0.);
        step_t.data = &step;
        ev_timer_start(loop, &step_t);
        ev_timer_init(&watchdog, watchdog_cb, 4., 0.);
        ev_timer_start(loop, &watchdog);
        ev_unref(loop); /* the watchdog alone does not keep the loop running */
        t0 = ev_time() - wall_offset;
        while (!ended && ev_is_active(&watchdog))
                ev_run(loop, EVRUN_ONCE);
        TAP_OK(ended == 1 && ended_err == -ETIMEDOUT, "%s: timed out (%d, %d)", what, ended,
               ended_err);
        double took = ev_time() - wall_offset - t0;
        TAP_OK(took > 1.1 && took < 2.5, "%s: after its timeout (%.2f s)", what, took);
        ev_ref(loop);
        ev_timer_stop(loop, &watchdog);
        ev_timer_stop(loop, &step_t);
        ld_exchange_cancel(&x);
        ld_xpool_free(pool);
        ev_loop_destroy(loop);
        close(silent);
        wall_offset = 0;
}

int main(void)
{
        run(0, "a steady clock");
        run(-3600, "the wall clock an hour back");
        run(3600, "the wall clock an hour on");
        return tap_done();
}
