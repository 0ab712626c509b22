/* state: the table file the daemon owns — change lines appended and fsync'd by a writer
 * thread so that queries never wait for the disk, and compaction into a canonical snapshot
 * (temporary file, fsync, rename, fsync of the directory). */
#include "state.h"

#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum state_job { JOB_NONE, JOB_APPEND, JOB_COMPACT, JOB_QUIT };

struct ld_state {
        struct ev_loop *loop;
        ev_async done_w;
        ld_state_done_fn done;
        void *arg;
        char *path;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        enum state_job job; /* set by the loop, cleared by the thread when finished */
        bool running;       /* a job was handed over and its result not yet delivered */
        char *text;
        size_t len;
        int rc;
        size_t appended;
};

/* A file edited by hand may lack its final newline: a change appended to it must still
 * start a line of its own. */
static int state_line_start(int fd, const struct stat *st)
{
        char last;

        if (st->st_size == 0)
                return 0;
        if (pread(fd, &last, 1, st->st_size - 1) != 1)
                return -EIO;
        return last == '\n' ? 0 : ld_durable_write_all(fd, "\n", 1);
}

/* Appends and syncs; on any failure the file is cut back to where it was. */
static int state_do_append(struct ld_state *s)
{
        int fd = open(s->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        struct stat st;
        int rc;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                rc = -errno;
                close(fd);
                return rc;
        }
        rc = state_line_start(fd, &st);
        if (rc == 0)
                rc = ld_durable_write_all(fd, s->text, s->len);
        if (rc == 0 && fdatasync(fd) < 0)
                rc = -errno;
        if (rc < 0 && ftruncate(fd, st.st_size) == 0)
                fdatasync(fd);
        if (close(fd) < 0 && rc == 0)
                rc = -errno;
        if (rc == 0 && st.st_size == 0)
                rc = ld_durable_sync_dir(s->path); /* the file may be new: its name too */
        return rc;
}

static int state_do_compact(struct ld_state *s)
{
        return ld_durable_replace(s->path, s->text, s->len);
}

static void *state_thread(void *arg)
{
        struct ld_state *s = arg;

        pthread_mutex_lock(&s->lock);
        for (;;) {
                while (s->job == JOB_NONE)
                        pthread_cond_wait(&s->cond, &s->lock);
                if (s->job == JOB_QUIT)
                        break;
                enum state_job job = s->job;
                pthread_mutex_unlock(&s->lock);
                int rc = job == JOB_APPEND ? state_do_append(s) : state_do_compact(s);
                pthread_mutex_lock(&s->lock);
                s->rc = rc;
                s->job = JOB_NONE;
                ev_async_send(s->loop, &s->done_w);
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static void state_done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
        struct ld_state *s = w->data;
        int rc;
        (void)loop;
        (void)revents;

        pthread_mutex_lock(&s->lock);
        if (!s->running || s->job != JOB_NONE) {
                pthread_mutex_unlock(&s->lock);
                return;
        }
        rc = s->rc;
        s->running = false;
        pthread_mutex_unlock(&s->lock);
        free(s->text);
        s->text = NULL;
        s->done(s->arg, rc);
}

static int state_submit(struct ld_state *s, enum state_job job, char *text, size_t len)
{
        if (s->running) {
                free(text);
                return -EBUSY;
        }
        if (job == JOB_APPEND)
                s->appended += len;
        else
                s->appended = 0;
        pthread_mutex_lock(&s->lock);
        s->text = text;
        s->len = len;
        s->job = job;
        s->running = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return 0;
}

int ld_state_append(struct ld_state *s, char *text, size_t len)
{
        return state_submit(s, JOB_APPEND, text, len);
}

int ld_state_compact(struct ld_state *s, char *snapshot, size_t len)
{
        return state_submit(s, JOB_COMPACT, snapshot, len);
}

bool ld_state_busy(const struct ld_state *s)
{
        return s->running;
}

size_t ld_state_appended(const struct ld_state *s)
{
        return s->appended;
}

int ld_state_new(struct ev_loop *loop, const char *path, ld_state_done_fn done, void *arg,
                 struct ld_state **out)
{
        struct ld_state *s = calloc(1, sizeof(*s));
        int rc = -ENOMEM;

        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->done = done;
        s->arg = arg;
        s->path = strdup(path);
        if (!s->path)
                goto fail;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        ev_async_init(&s->done_w, state_done_cb);
        s->done_w.data = s;
        ev_async_start(loop, &s->done_w);
        if (pthread_create(&s->thread, NULL, state_thread, s) != 0) {
                ev_async_stop(loop, &s->done_w);
                rc = -EAGAIN;
                goto fail;
        }
        *out = s;
        return 0;
fail:
        free(s->path);
        free(s);
        return rc;
}

void ld_state_free(struct ld_state *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        while (s->job != JOB_NONE) {
                pthread_mutex_unlock(&s->lock);
                usleep(1000);
                pthread_mutex_lock(&s->lock);
        }
        s->job = JOB_QUIT;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        ev_async_stop(s->loop, &s->done_w);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s->text);
        free(s->path);
        free(s);
}
