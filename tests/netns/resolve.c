/* resolve NAME: getaddrinfo(NAME) with AF_UNSPEC, as an application would, and print
 * each address on its own line.  Exit 0 when NAME resolved, 1 when it did not, 2 on
 * bad usage.  The namespace tests build it with `musl-gcc -static` to check that
 * musl's resolver (A and AAAA asked at once; an NXDOMAIN for either is fatal) gets
 * linkdns's answers. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
        struct addrinfo hints, *res, *ai;
        char text[INET6_ADDRSTRLEN];
        int rc;

        if (argc != 2) {
                fprintf(stderr, "usage: resolve NAME\n");
                return 2;
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM; /* one line per address, not per socket type */
        rc = getaddrinfo(argv[1], NULL, &hints, &res);
        if (rc != 0) {
                fprintf(stderr, "resolve: %s: %s\n", argv[1], gai_strerror(rc));
                return 1;
        }
        for (ai = res; ai; ai = ai->ai_next) {
                const void *a;
                if (ai->ai_family == AF_INET)
                        a = &((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
                else if (ai->ai_family == AF_INET6)
                        a = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
                else
                        continue;
                if (inet_ntop(ai->ai_family, a, text, sizeof(text)))
                        printf("%s\n", text);
        }
        freeaddrinfo(res);
        return 0;
}
