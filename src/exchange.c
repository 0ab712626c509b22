/* exchange: one DNS query to one server over UDP, from a fresh socket on a random source
 * port with a random ID, and only the answer that matches it — what an off-path attacker
 * would have to guess. */
#include "exchange.h"

#include "log.h"
#include "random.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXCHANGE_MIN_PORTS 16384 /* fewer, and a blind forger's odds grow too much */
#define EXCHANGE_BIND_TRIES 8    /* random ports in use; then the kernel picks one */
#define EXCHANGE_READS 16        /* datagrams read per wake-up: the rest wait their turn */

static uint16_t exchange_lo, exchange_hi;

/* The kernel's ephemeral range is the one kept free for outgoing sockets; narrowed below
 * EXCHANGE_MIN_PORTS, IANA's dynamic range (49152-65535, exactly that many) instead. */
void ld_exchange_ports(uint16_t *lo, uint16_t *hi)
{
        if (!exchange_lo) {
                FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
                unsigned a = 0, b = 0;

                if (!fp || fscanf(fp, "%u %u", &a, &b) != 2 || a < 1024 || b > 65535 || a > b ||
                    b - a + 1 < EXCHANGE_MIN_PORTS) {
                        ld_warn("ip_local_port_range is narrower than %u ports (or unreadable): "
                                "upstream queries use ports 49152-65535",
                                EXCHANGE_MIN_PORTS);
                        a = 65536 - EXCHANGE_MIN_PORTS;
                        b = 65535;
                }
                if (fp)
                        fclose(fp);
                exchange_lo = (uint16_t)a;
                exchange_hi = (uint16_t)b;
        }
        *lo = exchange_lo;
        *hi = exchange_hi;
}

void ld_exchange_init(struct ld_exchange *x, struct ev_loop *loop)
{
        memset(x, 0, sizeof(*x));
        x->loop = loop;
        ev_io_init(&x->io, NULL, -1, EV_READ);
}

/* Binds fd to a port drawn at random, not the kernel's next one (whose choice differs by
 * kernel version). */
static int exchange_bind(int fd, int family)
{
        struct sockaddr_storage ss;
        uint16_t lo, hi, *port;
        socklen_t sl;

        memset(&ss, 0, sizeof(ss));
        ss.ss_family = (sa_family_t)family;
        if (family == AF_INET6) {
                port = &((struct sockaddr_in6 *)&ss)->sin6_port;
                sl = sizeof(struct sockaddr_in6);
        } else {
                port = &((struct sockaddr_in *)&ss)->sin_port;
                sl = sizeof(struct sockaddr_in);
        }
        ld_exchange_ports(&lo, &hi);
        for (int i = 0; i < EXCHANGE_BIND_TRIES; i++) {
                *port = htons((uint16_t)(lo + ld_random_below((uint32_t)(hi - lo) + 1)));
                if (bind(fd, (struct sockaddr *)&ss, sl) == 0)
                        return 0;
                if (errno != EADDRINUSE)
                        return -errno;
        }
        *port = 0; /* the range is crowded: the kernel's own random pick */
        return bind(fd, (struct sockaddr *)&ss, sl) < 0 ? -errno : 0;
}

/* The answer to our question: our ID, a response to the same opcode, and our one question
 * byte for byte (case included). The source address and port the kernel has checked: the
 * socket is connected. */
static bool exchange_match(const struct ld_exchange *x, const uint8_t *a, size_t n)
{
        return n >= x->qend && a[0] == x->q[0] && a[1] == x->q[1] && (a[2] & 0x80) &&
               (a[2] & 0x78) == (x->q[2] & 0x78) && a[4] == 0 && a[5] == 1 &&
               memcmp(a + 12, x->q + 12, x->qend - 12) == 0;
}

static void exchange_end(struct ld_exchange *x, int err, const uint8_t *ans, size_t len)
{
        ld_exchange_cancel(x);
        x->cb(x, err, ans, len);
}

static void exchange_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ld_exchange *x = w->data;
        uint8_t buf[65535];
        (void)loop;
        (void)revents;

        for (int i = 0; i < EXCHANGE_READS; i++) {
                ssize_t n = recv(w->fd, buf, sizeof(buf), 0);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n < 0) { /* ECONNREFUSED: nothing listens there */
                        exchange_end(x, -errno, NULL, 0);
                        return;
                }
                if (exchange_match(x, buf, (size_t)n)) {
                        exchange_end(x, 0, buf, (size_t)n);
                        return;
                }
                /* not ours (late, forged or garbled): wait on for the real one */
        }
}

static void exchange_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        exchange_end(w->data, -ETIMEDOUT, NULL, 0);
}

static size_t exchange_qend(const uint8_t *q, size_t qlen)
{
        size_t off = 12;

        while (off < qlen && q[off])
                off += 1u + q[off];
        return off + 5 <= qlen ? off + 5 : 0;
}

int ld_exchange_start(struct ld_exchange *x, const struct ld_endpoint *server, uint8_t *q,
                      size_t qlen, double timeout, ld_exchange_fn cb)
{
        struct sockaddr_storage ss;
        socklen_t sl = ld_endpoint_sockaddr(server, &ss);
        uint32_t id = ld_random_u32();
        int fd, rc;

        if (!(x->qend = exchange_qend(q, qlen)))
                return -EINVAL;
        q[0] = (uint8_t)(id >> 8);
        q[1] = (uint8_t)id;
        fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* connect: the kernel drops datagrams from any other address or port */
        if ((rc = exchange_bind(fd, ss.ss_family)) < 0 ||
            (connect(fd, (struct sockaddr *)&ss, sl) < 0 && (rc = -errno)) ||
            (send(fd, q, qlen, 0) < 0 && (rc = -errno))) {
                close(fd);
                return rc;
        }
        x->q = q;
        x->cb = cb;
        ev_io_init(&x->io, exchange_read_cb, fd, EV_READ);
        x->io.data = x;
        ev_io_start(x->loop, &x->io);
        ev_timer_init(&x->timer, exchange_timer_cb, timeout, 0.);
        x->timer.data = x;
        ev_timer_start(x->loop, &x->timer);
        return 0;
}

void ld_exchange_cancel(struct ld_exchange *x)
{
        if (x->io.fd < 0)
                return;
        ev_io_stop(x->loop, &x->io);
        ev_timer_stop(x->loop, &x->timer);
        close(x->io.fd);
        ev_io_set(&x->io, -1, EV_READ);
}
