/* rtnet: a container's network namespace seen from a runtime program (rtnetlink). */
#ifndef LD_RTNET_H
#define LD_RTNET_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/types.h>

/* Opens the network namespace of a process (/proc/PID/ns/net, the kernel's link followed)
 * or at a path (a bind mount such as /run/netns/NAME, CNI_NETNS; a symbolic link there is
 * refused), refusing anything that is not a network namespace file without opening it for
 * I/O (ld_nsfile_open: O_PATH, nsfs, NS_GET_NSTYPE; O_RDONLY|O_NONBLOCK|O_CLOEXEC): a
 * descriptor, or -ENOENT (missing), -ELOOP (a link), -ENOTTY (no network namespace) or
 * another negative errno. */
int ld_rtnet_open_pid(pid_t pid);
int ld_rtnet_open_path(const char *path);

/* Brings the loopback interface of namespace nsfd up if it is down (linkdnsd's
 * 127.0.0.11 lives there): 0 or -errno. Both functions enter nsfd only to make their
 * netlink socket and return to the caller's namespace at once, on every path (abort()
 * when setns back fails: the caller must not go on in the container's); a request's
 * reading, every wait included, stops after 1.5 s (-ETIMEDOUT) and
 * reads a bounded amount (-E2BIG), foreign datagrams included. The caller must
 * be single-threaded (setns). */
int ld_rtnet_lo_up(int nsfd);

/* The global addresses (scope universe; no loopback, link-local or tentative/deprecated
 * ones) of namespace nsfd's interfaces, IPv4 first, as text in out (n slots): the count
 * found (which may exceed n; only n are written) or -errno. */
#define LD_RTNET_ADDRSTRLEN INET6_ADDRSTRLEN
int ld_rtnet_addrs(int nsfd, char (*out)[LD_RTNET_ADDRSTRLEN], size_t n);

#endif
