/* rtnet: a container's network namespace seen from a runtime program (rtnetlink). */
#include "rtnet.h"

#include "clock.h"
#include "nsfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* A stuck or endless netlink conversation must not hang a container's start: each recv
 * waits at most this long, and one request reads at most so much. A container has a few
 * interfaces and addresses; a dump of thousands still fits. */
#define RTNET_MAX_BYTES (4u << 20)
#define RTNET_MAX_MSGS 65536u
#define RTNET_BUF 32768
/* One request's whole conversation, however the datagrams come (a dump of thousands of
 * addresses takes milliseconds). */
#define RTNET_TALK_MS 1500

int ld_rtnet_open_pid(pid_t pid)
{
        char path[64];
        struct stat st;

        if (pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        /* the kernel's own link: followed, and what it leads to checked */
        return ld_nsfile_open(path, false, &st);
}

int ld_rtnet_open_path(const char *path)
{
        struct stat st;

        return ld_nsfile_open(path, true, &st);
}

/* A route netlink socket of namespace nsfd: made inside it (a socket keeps the namespace
 * it was made in), then back in ours at once, on every path. */
static int rtnet_socket(int nsfd)
{
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
        int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd = -1, rc = 0;

        if (self < 0)
                return -errno;
        if (setns(nsfd, CLONE_NEWNET) < 0) {
                rc = -errno;
                close(self);
                return rc;
        }
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                rc = -errno;
        if (setns(self, CLONE_NEWNET) < 0) {
                /* still in the container's namespace: nothing more may run here (an error
                 * returned would let the caller go on there, as netns.c's leave says) */
                fprintf(stderr, "cannot return to our network namespace: %s\n", strerror(errno));
                abort();
        }
        close(self);
        if (rc < 0)
                return rc;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                rc = -errno;
                close(fd);
                return rc;
        }
        return fd;
}

/* Called for each answer message of a request; a negative errno stops the reading. */
typedef int (*rtnet_cb)(void *ctx, const struct nlmsghdr *h);

/* Sends req and reads the kernel's answers up to NLMSG_DONE or the NLMSG_ERROR (an ack:
 * error 0) that ends them, within the bounds: 0 or -errno. */
static int rtnet_talk(int fd, struct nlmsghdr *req, rtnet_cb cb, void *ctx)
{
        static uint32_t seq;
        int64_t end = ld_clock_ms() + RTNET_TALK_MS;
        struct sockaddr_nl to = {.nl_family = AF_NETLINK}, from;
        socklen_t fromlen;
        size_t total = 0, msgs = 0;
        char buf[RTNET_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
        ssize_t n;
        int rc;

        req->nlmsg_seq = ++seq;
        if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
                return -errno;
        for (;;) {
                /* each wait within what is left of the request's time, not a receive
                 * timeout on top of it */
                int64_t left = end - ld_clock_ms();
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                if (left <= 0 || (rc = poll(&pfd, 1, (int)left)) == 0)
                        return -ETIMEDOUT;
                if (rc < 0 && errno != EINTR)
                        return -errno;
                fromlen = sizeof(from);
                n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT,
                             (struct sockaddr *)&from, &fromlen);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        continue;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
                if ((size_t)n > sizeof(buf))
                        return -EMSGSIZE;
                /* every datagram counts, a process's too: one in the container's namespace
                 * may send to our port (our PID), empty ones without end, and while our
                 * buffer is over half full the kernel's dump does not go on */
                if ((total += (size_t)n) > RTNET_MAX_BYTES || ++msgs > RTNET_MAX_MSGS)
                        return -E2BIG;
                if (ld_clock_ms() > end)
                        return -ETIMEDOUT;
                if (from.nl_pid != 0)
                        continue; /* not from the kernel */
                /* NLMSG_OK/NLMSG_NEXT compare the header's unsigned length with an int,
                 * which clang's -Wsign-compare refuses: the same walk by offset */
                for (size_t off = 0, len = (size_t)n; len - off >= sizeof(struct nlmsghdr);) {
                        struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);

                        if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > len - off)
                                break;
                        off += NLMSG_ALIGN(h->nlmsg_len) < len - off ? NLMSG_ALIGN(h->nlmsg_len)
                                                                     : len - off;
                        if (h->nlmsg_seq != req->nlmsg_seq)
                                continue;
                        if (++msgs > RTNET_MAX_MSGS)
                                return -E2BIG;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);

                                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                        return -EPROTO;
                                return e->error > 0 ? -EPROTO : e->error;
                        }
                        if ((rc = cb(ctx, h)) < 0)
                                return rc;
                }
        }
}

struct rtnet_link {
        int index;
        unsigned flags;
};

static int rtnet_link_cb(void *ctx, const struct nlmsghdr *h)
{
        struct rtnet_link *l = ctx;
        const struct ifinfomsg *ifi = NLMSG_DATA(h);

        if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
                return 0;
        l->index = ifi->ifi_index;
        l->flags = ifi->ifi_flags;
        return 0;
}

static int rtnet_ignore_cb(void *ctx, const struct nlmsghdr *h)
{
        (void)ctx;
        (void)h;
        return 0;
}

int ld_rtnet_lo_up(int nsfd)
{
        struct {
                struct nlmsghdr h;
                struct ifinfomsg ifi;
                char attrs[64];
        } req;
        struct rtnet_link lo = {0};
        struct rtattr *rta;
        int fd = rtnet_socket(nsfd), rc;

        if (fd < 0)
                return fd;
        /* lo by name: its index is 1 in every namespace today, but that is no contract */
        memset(&req, 0, sizeof(req));
        req.h.nlmsg_type = RTM_GETLINK;
        req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        req.ifi.ifi_family = AF_UNSPEC;
        rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(req.ifi))));
        rta->rta_type = IFLA_IFNAME;
        rta->rta_len = RTA_LENGTH(sizeof("lo"));
        memcpy(RTA_DATA(rta), "lo", sizeof("lo"));
        req.h.nlmsg_len = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(req.ifi))) + RTA_ALIGN(rta->rta_len);
        rc = rtnet_talk(fd, &req.h, rtnet_link_cb, &lo);
        if (rc == 0 && lo.index <= 0)
                rc = -ENODEV;
        if (rc == 0 && !(lo.flags & IFF_UP)) {
                memset(&req, 0, sizeof(req));
                req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
                req.h.nlmsg_type = RTM_NEWLINK;
                req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
                req.ifi.ifi_family = AF_UNSPEC;
                req.ifi.ifi_index = lo.index;
                req.ifi.ifi_flags = IFF_UP;
                req.ifi.ifi_change = IFF_UP;
                rc = rtnet_talk(fd, &req.h, rtnet_ignore_cb, NULL);
        }
        close(fd);
        return rc;
}

struct rtnet_addrs {
        char (*out)[LD_RTNET_ADDRSTRLEN];
        size_t n, found;
};

/* Global: not loopback or link-local by its value, whatever scope it was given. */
static bool rtnet_global(int family, const void *a)
{
        const uint8_t *b = a;

        if (family == AF_INET)
                return b[0] != 127 && !(b[0] == 169 && b[1] == 254) && b[0] != 0;
        return !IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a) &&
               !IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)a) &&
               !IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)a) &&
               !IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a);
}

static int rtnet_addr_cb(void *ctx, const struct nlmsghdr *h)
{
        struct rtnet_addrs *r = ctx;
        const struct ifaddrmsg *ifa = NLMSG_DATA(h);
        const void *local = NULL, *address = NULL, *a;
        uint32_t flags;
        size_t alen;
        int len;

        if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
                return 0;
        if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
                return 0;
        alen = ifa->ifa_family == AF_INET ? 4 : 16;
        flags = ifa->ifa_flags;
        len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifa)));
        for (const struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
                if (rta->rta_type == IFA_FLAGS && RTA_PAYLOAD(rta) >= sizeof(uint32_t))
                        memcpy(&flags, RTA_DATA(rta), sizeof(flags));
                else if (rta->rta_type == IFA_LOCAL && RTA_PAYLOAD(rta) == alen)
                        local = RTA_DATA(rta);
                else if (rta->rta_type == IFA_ADDRESS && RTA_PAYLOAD(rta) == alen)
                        address = RTA_DATA(rta);
        }
        /* IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer's on a
         * point-to-point link (the same otherwise) */
        a = local ? local : address;
        if (!a || ifa->ifa_scope != RT_SCOPE_UNIVERSE ||
            (flags & (IFA_F_TENTATIVE | IFA_F_DEPRECATED | IFA_F_DADFAILED)) ||
            !rtnet_global(ifa->ifa_family, a))
                return 0;
        if (r->found < r->n &&
            !inet_ntop(ifa->ifa_family, a, r->out[r->found], LD_RTNET_ADDRSTRLEN))
                return -errno;
        r->found++;
        return 0;
}

int ld_rtnet_addrs(int nsfd, char (*out)[LD_RTNET_ADDRSTRLEN], size_t n)
{
        struct {
                struct nlmsghdr h;
                struct ifaddrmsg ifa;
        } req;
        static const int families[] = {AF_INET, AF_INET6}; /* IPv4 first */
        struct rtnet_addrs r = {.out = out, .n = n};
        int fd = rtnet_socket(nsfd), rc = 0;

        if (fd < 0)
                return fd;
        for (size_t i = 0; rc == 0 && i < sizeof(families) / sizeof(families[0]); i++) {
                memset(&req, 0, sizeof(req));
                req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
                req.h.nlmsg_type = RTM_GETADDR;
                req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
                req.ifa.ifa_family = (unsigned char)families[i];
                rc = rtnet_talk(fd, &req.h, rtnet_addr_cb, &r);
        }
        close(fd);
        if (rc < 0)
                return rc;
        return r.found > INT32_MAX ? INT32_MAX : (int)r.found;
}
