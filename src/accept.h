/* accept: accepting on a listening socket that pauses, instead of spinning, while the process
 * is out of descriptors or memory: the watcher stops, a timer starts it again. */
#ifndef LD_ACCEPT_H
#define LD_ACCEPT_H

#include <ev.h>
#include <sys/socket.h>

struct ld_accept {
        struct ev_loop *loop;
        ev_io *w; /* the listening socket's watcher: stopped during a pause */
        ev_timer resume;
        const char *what; /* names the listener in the log; the caller keeps it */
        double pause;     /* the next pause: doubles while pauses follow each other */
        double logged;    /* when a pause was last logged */
        unsigned quiet;   /* pauses since then, not logged */
};

/* For the listening watcher w (initialised, the caller starts it). */
void ld_accept_init(struct ld_accept *a, struct ev_loop *loop, ev_io *w, const char *what);
/* accept4 on w's socket, non-blocking and close-on-exec; sa may be NULL. Returns the new
 * descriptor or -errno (-EAGAIN: nothing waits). Out of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM), the listener pauses first and the caller should return to the loop. */
int ld_accept(struct ld_accept *a, struct sockaddr *sa, socklen_t *salen);
/* Pauses the listener as an accept failing with err would (a connection that cannot be
 * served for want of memory, say). */
void ld_accept_pause(struct ld_accept *a, int err);
/* Stops the pause timer: call before the watcher goes away. */
void ld_accept_fini(struct ld_accept *a);

#endif
