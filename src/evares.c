/* evares: one c-ares channel driven by the libev loop — its sockets as ev_io watchers, its
 * timeouts as an ev_timer. */
#include "evares.h"

#include "sockopt.h"
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ld_evares_sock {
        struct ld_evares_sock *next;
        struct ld_evares *e;
        ev_io w;
};

void ld_evares_arm(struct ld_evares *e)
{
        struct timeval tv, *tvp = ares_timeout(e->ch, NULL, &tv);

        ev_timer_stop(e->loop, &e->timer);
        if (tvp) {
                ev_timer_set(&e->timer, (double)tv.tv_sec + tv.tv_usec / 1e6, 0.);
                ev_timer_start(e->loop, &e->timer);
        }
}

static void evares_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct ld_evares_sock *s = w->data;
        struct ld_evares *e = s->e;
        (void)loop;

        ares_process_fd(e->ch, (revents & EV_READ) ? w->fd : ARES_SOCKET_BAD,
                        (revents & EV_WRITE) ? w->fd : ARES_SOCKET_BAD);
        ld_evares_arm(e);
}

static void evares_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct ld_evares *e = w->data;
        (void)loop;
        (void)revents;

        ares_process_fd(e->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        ld_evares_arm(e);
}

/* c-ares says which of its sockets want reading or writing. */
static void evares_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
        struct ld_evares *e = data;
        struct ld_evares_sock **pp = &e->socks, *s;

        while (*pp && (*pp)->w.fd != fd)
                pp = &(*pp)->next;
        s = *pp;
        if (!readable && !writable) {
                if (s) {
                        ev_io_stop(e->loop, &s->w);
                        *pp = s->next;
                        free(s);
                }
                return;
        }
        if (!s) {
                if (!(s = calloc(1, sizeof(*s))))
                        return;
                s->e = e;
                s->next = e->socks;
                e->socks = s;
                ev_init(&s->w, evares_io_cb);
                s->w.data = s;
        }
        ev_io_stop(e->loop, &s->w);
        ev_io_set(&s->w, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
        ev_io_start(e->loop, &s->w);
}

/* A thousand answers arrive at once: the same receive buffer as the listeners (c-ares's own
 * option cannot pass rmem_max). */
static int evares_configure_cb(ares_socket_t fd, int type, void *data)
{
        (void)data;
        if (type == SOCK_DGRAM)
                ld_sockopt_rcvbuf(fd);
        return 0;
}

int ld_evares_init(struct ld_evares *e, struct ev_loop *loop, const struct ld_endpoint *server,
                   bool tcp, int tries, int timeout_ms)
{
        struct ares_options o;
        struct ares_addr_port_node node;
        struct in_addr dummy = {0};
        int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
                   ARES_OPT_SERVERS | ARES_OPT_EDNSPSZ;

        memset(e, 0, sizeof(*e));
        memset(&o, 0, sizeof(o));
        memset(&node, 0, sizeof(node));
        e->loop = loop;
        /* ARES_FLAG_EDNS: c-ares keeps UDP answers past 512 bytes (and adds an OPT to the
         * queries it builds; ares_send leaves ours alone). TC and SERVFAIL come back to the
         * caller to judge. */
        o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_STAYOPEN |
                  (tcp ? ARES_FLAG_USEVC : ARES_FLAG_IGNTC);
        o.ednspsz = LD_EDNS_PAYLOAD;
        o.timeout = timeout_ms;
        o.tries = tries;
        o.sock_state_cb = evares_sock_state_cb;
        o.sock_state_cb_data = e;
        o.servers = &dummy; /* keeps c-ares from reading resolv.conf; replaced below */
        o.nservers = 1;
        if (ares_init_options(&e->ch, &o, mask) != ARES_SUCCESS)
                return -ENOMEM;
        node.family = server->addr.family;
        memcpy(&node.addr, server->addr.bytes, ld_addr_len(&server->addr));
        node.udp_port = node.tcp_port = server->port;
        if (ares_set_servers_ports(e->ch, &node) != ARES_SUCCESS) {
                ares_destroy(e->ch);
                return -EINVAL;
        }
        ares_set_socket_configure_callback(e->ch, evares_configure_cb, NULL);
        ev_init(&e->timer, evares_timer_cb);
        e->timer.data = e;
        return 0;
}

void ld_evares_fini(struct ld_evares *e)
{
        ares_destroy(e->ch);
        ev_timer_stop(e->loop, &e->timer);
        while (e->socks) {
                struct ld_evares_sock *s = e->socks;
                e->socks = s->next;
                ev_io_stop(e->loop, &s->w);
                free(s);
        }
}
