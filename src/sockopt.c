/* sockopt: socket options shared by modules that would otherwise not know each other. */
#include "sockopt.h"

#include <sys/socket.h>

#define SOCKOPT_RCVBUF (4 << 20)

void ld_sockopt_rcvbuf(int fd)
{
        int size = SOCKOPT_RCVBUF;

        /* A burst of a thousand queries overflows the default (~208 KiB) and the kernel
         * drops them silently; only a cap, the memory is used as datagrams wait. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}
