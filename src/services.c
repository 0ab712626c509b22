/* services: /etc/services read once, so SRV names like _postgresql._tcp resolve without
 * touching files on the query path. */
#include "services.h"

#include "command.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ld_service {
        struct ld_hash_node hn;
        struct ld_hash_node hn_port; /* in byport, for the first name of each port */
        struct ld_service *next_all;
        uint16_t port;
        uint8_t proto;
        uint8_t len;
        char lname[64];
};

static uint64_t services_hash(uint8_t proto, const char *lname, size_t len)
{
        return ld_hash_bytes(ld_hash_bytes(LD_HASH_SEED, &proto, 1), lname, len);
}

static uint64_t services_port_hash(uint8_t proto, uint16_t port)
{
        return ld_hash_bytes(ld_hash_bytes(LD_HASH_SEED, &proto, 1), &port, sizeof(port));
}

const char *ld_services_name(const struct ld_services *s, uint8_t proto, uint16_t port)
{
        uint64_t h = services_port_hash(proto, port);

        for (struct ld_hash_node *n = ld_hash_bucket(&s->byport, h); n; n = n->next) {
                const struct ld_service *e =
                    (const struct ld_service *)((const char *)n -
                                                offsetof(struct ld_service, hn_port));
                if (n->hash == h && e->proto == proto && e->port == port)
                        return e->lname;
        }
        return NULL;
}

uint16_t ld_services_port(const struct ld_services *s, uint8_t proto, const char *lname, size_t len)
{
        uint64_t h = services_hash(proto, lname, len);

        for (struct ld_hash_node *n = ld_hash_bucket(&s->byname, h); n; n = n->next) {
                const struct ld_service *e = (const struct ld_service *)n;
                if (n->hash == h && e->proto == proto && e->len == len &&
                    memcmp(e->lname, lname, len) == 0)
                        return e->port;
        }
        return 0;
}

static int services_put(struct ld_services *s, const char *name, uint16_t port, uint8_t proto)
{
        size_t len = strlen(name);
        struct ld_service *e;

        if (len == 0 || len > 63)
                return 0;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++)
                e->lname[i] = (char)tolower((unsigned char)name[i]);
        e->len = (uint8_t)len;
        if (ld_services_port(s, proto, e->lname, len)) { /* first entry wins, as getservbyname */
                free(e);
                return 0;
        }
        e->port = port;
        e->proto = proto;
        if (ld_hash_insert(&s->byname, &e->hn, services_hash(proto, e->lname, len)) < 0) {
                free(e);
                return -ENOMEM;
        }
        e->next_all = s->all;
        s->all = e;
        if (!ld_services_name(s, proto, port) &&
            ld_hash_insert(&s->byport, &e->hn_port, services_port_hash(proto, port)) < 0)
                return -ENOMEM;
        return 0;
}

/* "name port/proto [aliases...] [# comment]" */
static int services_line(struct ld_services *s, char *line)
{
        char *save, *name, *pp, *slash, *alias;
        uint16_t port;
        uint8_t proto;
        int rc;

        if ((pp = strchr(line, '#')))
                *pp = '\0';
        name = strtok_r(line, " \t\r\n", &save);
        pp = name ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        if (!pp || !(slash = strchr(pp, '/')))
                return 0;
        if (ld_port_parse(pp, (size_t)(slash - pp), &port) < 0)
                return 0;
        if (strcmp(slash + 1, "tcp") == 0)
                proto = LD_PROTO_TCP;
        else if (strcmp(slash + 1, "udp") == 0)
                proto = LD_PROTO_UDP;
        else
                return 0;
        rc = services_put(s, name, port, proto);
        while (rc == 0 && (alias = strtok_r(NULL, " \t\r\n", &save)))
                rc = services_put(s, alias, port, proto);
        return rc;
}

int ld_services_load(struct ld_services *s, const char *path)
{
        char line[1024];
        FILE *f;
        int rc = ld_hash_init(&s->byname);

        s->all = NULL;
        if (rc == 0 && (rc = ld_hash_init(&s->byport)) < 0)
                ld_hash_fini(&s->byname);
        if (rc < 0)
                return rc;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (rc == 0 && fgets(line, sizeof(line), f))
                rc = services_line(s, line);
        fclose(f);
        return rc;
}

void ld_services_fini(struct ld_services *s)
{
        for (struct ld_service *e = s->all, *next; e; e = next) {
                next = e->next_all;
                free(e);
        }
        s->all = NULL;
        ld_hash_fini(&s->byname);
        ld_hash_fini(&s->byport);
}
