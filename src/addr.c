/* addr: IP addresses and ADDR[@PORT] endpoints, parsed and printed (RFC 5952). */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ld_addr_parse(const char *s, struct ld_addr *out)
{
        memset(out, 0, sizeof(*out));
        if (strchr(s, ':')) {
                if (inet_pton(AF_INET6, s, out->bytes) != 1)
                        return -EINVAL;
                out->family = AF_INET6;
                return 0;
        }
        /* inet_pton accepts only the dotted quad, which is what a table should hold. */
        if (inet_pton(AF_INET, s, out->bytes) != 1)
                return -EINVAL;
        out->family = AF_INET;
        return 0;
}

int ld_addr_parse_len(const char *s, size_t len, struct ld_addr *out)
{
        char buf[LD_ADDR_STRLEN];

        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        return ld_addr_parse(buf, out);
}

void ld_addr_format(const struct ld_addr *a, char *buf, size_t len)
{
        /* glibc's inet_ntop already prints RFC 5952's form: lowercase, longest zero run. */
        if (!inet_ntop(a->family, a->bytes, buf, (socklen_t)len))
                snprintf(buf, len, "?");
}

size_t ld_addr_len(const struct ld_addr *a)
{
        return a->family == AF_INET ? 4 : 16;
}

bool ld_addr_equal(const struct ld_addr *a, const struct ld_addr *b)
{
        return a->family == b->family && memcmp(a->bytes, b->bytes, ld_addr_len(a)) == 0;
}

int ld_addr_from_sockaddr(const struct sockaddr *sa, struct ld_addr *out)
{
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        memset(out, 0, sizeof(*out));
        if (sa->sa_family == AF_INET) {
                out->family = AF_INET;
                memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
                return 0;
        }
        if (sa->sa_family != AF_INET6)
                return -EAFNOSUPPORT;
        const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (memcmp(b, mapped, 12) == 0) {
                out->family = AF_INET;
                memcpy(out->bytes, b + 12, 4);
        } else {
                out->family = AF_INET6;
                memcpy(out->bytes, b, 16);
        }
        return 0;
}

int ld_port_parse(const char *s, size_t len, uint16_t *out)
{
        unsigned long v = 0;

        if (len == 0 || len > 5 || s[0] == '0')
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned long)(s[i] - '0');
        }
        if (v < 1 || v > 65535)
                return -EINVAL;
        *out = (uint16_t)v;
        return 0;
}

int ld_endpoint_parse(const char *s, uint16_t default_port, struct ld_endpoint *out)
{
        const char *at = strchr(s, '@');

        if (ld_addr_parse_len(s, at ? (size_t)(at - s) : strlen(s), &out->addr) < 0)
                return -EINVAL;
        out->port = default_port;
        if (at && ld_port_parse(at + 1, strlen(at + 1), &out->port) < 0)
                return -EINVAL;
        return 0;
}

void ld_endpoint_format(const struct ld_endpoint *e, char *buf, size_t len)
{
        char a[LD_ADDR_STRLEN];

        ld_addr_format(&e->addr, a, sizeof(a));
        snprintf(buf, len, "%s@%u", a, e->port);
}

socklen_t ld_endpoint_sockaddr(const struct ld_endpoint *e, struct sockaddr_storage *ss)
{
        memset(ss, 0, sizeof(*ss));
        if (e->addr.family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *)ss;
                sin->sin_family = AF_INET;
                sin->sin_port = htons(e->port);
                memcpy(&sin->sin_addr, e->addr.bytes, 4);
                return sizeof(*sin);
        }
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(e->port);
        memcpy(&sin6->sin6_addr, e->addr.bytes, 16);
        return sizeof(*sin6);
}

int ld_endpoint_from_sockaddr(const struct sockaddr *sa, struct ld_endpoint *out)
{
        int rc = ld_addr_from_sockaddr(sa, &out->addr);

        if (rc == 0)
                out->port =
                    ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                                   : ((const struct sockaddr_in6 *)sa)->sin6_port);
        return rc;
}

bool ld_endpoint_equal(const struct ld_endpoint *a, const struct ld_endpoint *b)
{
        return a->port == b->port && ld_addr_equal(&a->addr, &b->addr);
}

int ld_prefix_parse(const char *s, struct ld_prefix *out)
{
        const char *slash = strchr(s, '/');
        char *end;
        long len;

        if (ld_addr_parse_len(s, slash ? (size_t)(slash - s) : strlen(s), &out->addr) < 0)
                return -EINVAL;
        len = (long)ld_addr_len(&out->addr) * 8;
        if (slash) {
                long v = strtol(slash + 1, &end, 10);
                if (*end || end == slash + 1 || v < 0 || v > len)
                        return -EINVAL;
                len = v;
        }
        out->len = (uint8_t)len;
        return 0;
}

bool ld_prefix_contains(const struct ld_prefix *p, const struct ld_addr *a)
{
        size_t full = p->len / 8, rest = p->len % 8;

        if (p->addr.family != a->family || memcmp(p->addr.bytes, a->bytes, full) != 0)
                return false;
        return rest == 0 || ((p->addr.bytes[full] ^ a->bytes[full]) & (0xff << (8 - rest))) == 0;
}
