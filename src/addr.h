/* addr: IP addresses and ADDR[@PORT] endpoints, parsed and printed (RFC 5952). */
#ifndef LD_ADDR_H
#define LD_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address in network byte order; family is AF_INET or AF_INET6. */
struct ld_addr {
        uint8_t family;
        uint8_t bytes[16];
};

struct ld_endpoint {
        struct ld_addr addr;
        uint16_t port;
};

#define LD_ADDR_STRLEN 46
#define LD_ENDPOINT_STRLEN (LD_ADDR_STRLEN + 7)

int ld_addr_parse(const char *s, struct ld_addr *out);
/* The same for the first len characters of s (ADDR in "ADDR@PORT" or "ADDR/LEN"). */
int ld_addr_parse_len(const char *s, size_t len, struct ld_addr *out);
/* Writes the canonical text form (RFC 5952 for IPv6). */
void ld_addr_format(const struct ld_addr *a, char *buf, size_t len);
size_t ld_addr_len(const struct ld_addr *a);
bool ld_addr_equal(const struct ld_addr *a, const struct ld_addr *b);
/* From a socket address; IPv4-mapped IPv6 becomes IPv4. */
int ld_addr_from_sockaddr(const struct sockaddr *sa, struct ld_addr *out);

/* "ADDR[@PORT]" as Knot and NSD write it; default_port when no @PORT. */
int ld_endpoint_parse(const char *s, uint16_t default_port, struct ld_endpoint *out);
void ld_endpoint_format(const struct ld_endpoint *e, char *buf, size_t len);
socklen_t ld_endpoint_sockaddr(const struct ld_endpoint *e, struct sockaddr_storage *ss);
/* From a socket address (address as ld_addr_from_sockaddr, and port). */
int ld_endpoint_from_sockaddr(const struct sockaddr *sa, struct ld_endpoint *out);
bool ld_endpoint_equal(const struct ld_endpoint *a, const struct ld_endpoint *b);

/* An address prefix, ADDR/LEN. */
struct ld_prefix {
        struct ld_addr addr;
        uint8_t len; /* bits */
};

/* "ADDR[/LEN]"; without /LEN the address alone. */
int ld_prefix_parse(const char *s, struct ld_prefix *out);
bool ld_prefix_contains(const struct ld_prefix *p, const struct ld_addr *a);

/* A decimal port 1..65535 without sign or leading zero. */
int ld_port_parse(const char *s, size_t len, uint16_t *out);

#endif
