/* rtnet: a container's network namespace seen from a runtime program (rtnetlink). */
#ifndef LD_RTNET_H
#define LD_RTNET_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/types.h>

/* Opens the network namespace of a process (/proc/PID/ns/net) or at a path (a bind
 * mount such as /run/netns/NAME, CNI_NETNS), refusing anything that is not a namespace
 * file (O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC, then checked): a descriptor or a negative errno. */
int ld_rtnet_open_pid(pid_t pid);
int ld_rtnet_open_path(const char *path);

/* Brings the loopback interface of namespace nsfd up if it is down (linkdnsd's
 * 127.0.0.11 lives there), then returns to the caller's namespace: 0 or -errno. The
 * caller must be single-threaded (setns). */
int ld_rtnet_lo_up(int nsfd);

/* The global addresses (scope universe; no loopback, link-local or tentative/deprecated
 * ones) of namespace nsfd's interfaces, IPv4 first, as text in out (n slots): the count
 * found (which may exceed n; only n are written) or -errno. */
#define LD_RTNET_ADDRSTRLEN INET6_ADDRSTRLEN
int ld_rtnet_addrs(int nsfd, char (*out)[LD_RTNET_ADDRSTRLEN], size_t n);

#endif
