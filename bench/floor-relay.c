/* floor-relay: the least a forwarder's hop can cost, bench/forward's yardstick. Not a DNS
 * server: it checks nothing, keeps one upstream socket (one source port, IDs as the clients
 * sent them) and passes each answer back to whoever last sent a query with its ID. Two
 * descriptors on one epoll, four system calls per query besides the waits: what any
 * forwarder on this machine pays at the least, whatever its code.
 *
 *   floor-relay LISTEN_ADDR LISTEN_PORT UPSTREAM_ADDR UPSTREAM_PORT   (IPv4; runs until killed)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in clients[65536]; /* by query ID: who asked last */

static int floor_socket(const char *addr, const char *port,
                        int (*op)(int, const struct sockaddr *, socklen_t))
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

        if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
            op(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror(addr);
                exit(1);
        }
        return fd;
}

int main(int argc, char **argv)
{
        unsigned char buf[65536];
        struct epoll_event ev = {.events = EPOLLIN};
        int lfd, ufd, ep;

        if (argc != 5) {
                fprintf(stderr, "usage: floor-relay LISTEN_ADDR PORT UPSTREAM_ADDR PORT\n");
                return 2;
        }
        lfd = floor_socket(argv[1], argv[2], bind);
        ufd = floor_socket(argv[3], argv[4], connect);
        if ((ep = epoll_create1(0)) < 0)
                return 1;
        ev.data.fd = lfd;
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
        ev.data.fd = ufd;
        epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &ev);
        for (;;) {
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                ssize_t n;

                if (epoll_wait(ep, &ev, 1, -1) < 1)
                        continue;
                if (ev.data.fd == lfd) {
                        n = recvfrom(lfd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
                        if (n >= 12) {
                                clients[buf[0] << 8 | buf[1]] = from;
                                send(ufd, buf, (size_t)n, 0);
                        }
                } else if ((n = recv(ufd, buf, sizeof(buf), 0)) >= 12) {
                        const struct sockaddr_in *to = &clients[buf[0] << 8 | buf[1]];
                        sendto(lfd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to));
                }
        }
}
