/* wakeup-cost: what one wake-up of a sleeping process costs on this machine, on the same CPU
 * and across CPUs: the floor under any forwarder's added latency (bench/forward). A client
 * and an echo process ping-pong one UDP datagram over loopback at RATE per second (each
 * round trip is two wake-ups), pinned to CPUs 0 and 0, then 0 and 1; prints the mean and
 * median round trip of each.
 *
 *   wakeup-cost [N (4000)] [RATE (2000)]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double wk_now(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void wk_pin(int cpu)
{
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0) {
                perror("sched_setaffinity");
                exit(1);
        }
}

static int wk_cmp(const void *a, const void *b)
{
        double d = *(const double *)a - *(const double *)b;

        return d < 0 ? -1 : d > 0;
}

/* One pairing: the echo process on echo_cpu, the client (this one) on CPU 0. */
static void wk_run(int echo_cpu, int n, int rate)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sa);
        int srv = socket(AF_INET, SOCK_DGRAM, 0), cl = socket(AF_INET, SOCK_DGRAM, 0);
        double *rtt = calloc((size_t)n, sizeof(double)), sum = 0;
        char b[64] = "ping";
        pid_t pid;

        if (srv < 0 || cl < 0 || !rtt || bind(srv, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            getsockname(srv, (struct sockaddr *)&sa, &sl) < 0 ||
            connect(cl, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror("socket");
                exit(1);
        }
        if ((pid = fork()) == 0) {
                struct sockaddr_in from;
                wk_pin(echo_cpu);
                for (;;) {
                        socklen_t fl = sizeof(from);
                        ssize_t k = recvfrom(srv, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
                        if (k > 0)
                                sendto(srv, b, (size_t)k, 0, (struct sockaddr *)&from, fl);
                }
        }
        wk_pin(0);
        for (int i = 0; i < n; i++) {
                double t0 = wk_now();
                long rest;
                if (send(cl, b, 16, 0) < 0 || recv(cl, b, sizeof(b), 0) < 0)
                        exit(1);
                rtt[i] = wk_now() - t0;
                sum += rtt[i];
                rest = (long)((1e6 / rate - (wk_now() - t0)) * 1000);
                if (rest > 0)
                        nanosleep(&(struct timespec){0, rest}, NULL);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        qsort(rtt, (size_t)n, sizeof(double), wk_cmp);
        printf("echo on CPU %d, client on CPU 0: round trip mean %6.1f us, p50 %6.1f us (%s)\n",
               echo_cpu, sum / n, rtt[n / 2],
               echo_cpu ? "two wake-ups across CPUs" : "two wake-ups on one CPU");
        close(srv);
        close(cl);
        free(rtt);
}

int main(int argc, char **argv)
{
        int n = argc > 1 ? atoi(argv[1]) : 4000, rate = argc > 2 ? atoi(argv[2]) : 2000;

        if (n < 1 || rate < 1 || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
                fprintf(stderr, "usage: wakeup-cost [N] [RATE] (two CPUs at least)\n");
                return 2;
        }
        wk_run(0, n, rate);
        wk_run(1, n, rate);
        return 0;
}
