/* accept: accepting on a listening socket that pauses, instead of spinning, while the process
 * is out of descriptors or memory: the watcher stops, a timer starts it again. */
#include "accept.h"

#include "log.h"

#include <errno.h>
#include <string.h>

/* A level-triggered watcher on a socket whose accept fails wakes the loop at once, forever:
 * waiting a little lets connections close and descriptors come back. */
#define ACCEPT_PAUSE_MIN 0.1
#define ACCEPT_PAUSE_MAX 1.0
#define ACCEPT_LOG_EVERY 10.0 /* one line per this many seconds, however many pauses */

static void accept_resume_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
        struct ld_accept *a = t->data;
        (void)revents;

        ev_io_start(loop, a->w);
}

void ld_accept_init(struct ld_accept *a, struct ev_loop *loop, ev_io *w, const char *what)
{
        a->loop = loop;
        a->w = w;
        a->what = what;
        a->pause = ACCEPT_PAUSE_MIN;
        a->logged = -ACCEPT_LOG_EVERY;
        a->quiet = 0;
        ev_init(&a->resume, accept_resume_cb);
        a->resume.data = a;
}

void ld_accept_pause(struct ld_accept *a, int err)
{
        double now = ev_now(a->loop);

        ev_io_stop(a->loop, a->w);
        ev_timer_set(&a->resume, a->pause, 0.);
        ev_timer_start(a->loop, &a->resume);
        if (now - a->logged >= ACCEPT_LOG_EVERY) {
                if (a->quiet)
                        ld_warn("%s: accept: %s: paused for %.1f s (and %u times since the "
                                "last message)",
                                a->what, strerror(err), a->pause, a->quiet);
                else
                        ld_warn("%s: accept: %s: paused for %.1f s", a->what, strerror(err),
                                a->pause);
                a->logged = now;
                a->quiet = 0;
        } else {
                a->quiet++;
        }
        if (a->pause < ACCEPT_PAUSE_MAX)
                a->pause = a->pause * 2 < ACCEPT_PAUSE_MAX ? a->pause * 2 : ACCEPT_PAUSE_MAX;
}

int ld_accept(struct ld_accept *a, struct sockaddr *sa, socklen_t *salen)
{
        int fd = accept4(a->w->fd, sa, salen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd >= 0) {
                a->pause = ACCEPT_PAUSE_MIN;
                return fd;
        }
        int err = errno == EWOULDBLOCK ? EAGAIN : errno;

        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
                ld_accept_pause(a, err);
        return -err;
}

void ld_accept_fini(struct ld_accept *a)
{
        ev_timer_stop(a->loop, &a->resume);
}
