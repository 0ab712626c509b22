/* zone: static zones from --zones DIR, parsed with ldns when loaded and kept as wire-form
 * RRsets, served to every view after link names and before forwarding. */
#include "zone.h"

#include <dirent.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t zone_hash(const uint8_t *lname, size_t len)
{
        return ld_hash_bytes(LD_HASH_SEED, lname, len);
}

static struct ld_zname *zone_find(const struct ld_zones *z, const uint8_t *lname, size_t len)
{
        uint64_t h = zone_hash(lname, len);

        for (struct ld_hash_node *n = ld_hash_bucket(&z->names, h); n; n = n->next) {
                struct ld_zname *e = (struct ld_zname *)n;
                if (n->hash == h && e->len == len && memcmp(e->lname, lname, len) == 0)
                        return e;
        }
        return NULL;
}

const struct ld_zname *ld_zones_name(const struct ld_zones *z, const struct ld_query *q)
{
        return zone_find(z, q->lname, q->qname_len);
}

const struct ld_zone *ld_zones_match(const struct ld_zones *z, const struct ld_query *q)
{
        const struct ld_zone *best = NULL;

        for (size_t i = 0; z && i < z->nzones; i++) {
                const struct ld_zone *zn = z->zones[i];
                if (zn->labels > q->nlabels || (best && best->labels >= zn->labels))
                        continue;
                size_t off =
                    zn->labels == 0 ? q->qname_len - 1u : q->label_off[q->nlabels - zn->labels];
                if (q->qname_len - off == zn->origin_len &&
                    memcmp(q->lname + off, zn->origin, zn->origin_len) == 0)
                        best = zn;
        }
        return best;
}

const struct ld_rrset *ld_zname_rrset(const struct ld_zname *n, uint16_t type)
{
        for (size_t i = 0; i < n->nsets; i++)
                if (n->sets[i].type == type)
                        return &n->sets[i];
        return NULL;
}

static struct ld_zname *zone_name_get(struct ld_zones *z, const struct ld_zone *zone,
                                      const uint8_t *lname, size_t len)
{
        struct ld_zname *e = zone_find(z, lname, len);

        if (e)
                return e;
        if (!(e = calloc(1, sizeof(*e))))
                return NULL;
        e->zone = zone;
        e->len = (uint8_t)len;
        memcpy(e->lname, lname, len);
        if (ld_hash_insert(&z->names, &e->hn, zone_hash(lname, len)) < 0) {
                free(e);
                return NULL;
        }
        e->next_all = z->all;
        z->all = e;
        return e;
}

/* Appends rr (wire form after its owner) to its name's RRset of its type. */
static int zone_add_rr(struct ld_zones *z, const struct ld_zone *zone, ldns_rr *rr)
{
        ldns_rdf *owner = ldns_rdf_clone(ldns_rr_owner(rr));
        uint8_t *wire = NULL;
        size_t size = 0, olen;
        struct ld_zname *e;
        struct ld_rrset *set;
        int rc = -ENOMEM;

        if (!owner)
                return -ENOMEM;
        ldns_dname2canonical(owner);
        olen = ldns_rdf_size(owner);
        e = zone_name_get(z, zone, ldns_rdf_data(owner), olen);
        if (!e || ldns_rr2wire(&wire, rr, LDNS_SECTION_ANSWER, &size) != LDNS_STATUS_OK)
                goto out;
        set = (struct ld_rrset *)ld_zname_rrset(e, ldns_rr_get_type(rr));
        if (!set) {
                struct ld_rrset *ns = realloc(e->sets, (e->nsets + 1) * sizeof(*ns));
                if (!ns)
                        goto out;
                e->sets = ns;
                set = &ns[e->nsets++];
                memset(set, 0, sizeof(*set));
                set->type = ldns_rr_get_type(rr);
        }
        uint8_t *nw = realloc(set->wire, set->len + size - olen);
        if (!nw)
                goto out;
        memcpy(nw + set->len, wire + olen, size - olen);
        set->wire = nw;
        set->len += size - olen;
        set->count++;
        rc = 0;
out:
        free(wire);
        ldns_rdf_deep_free(owner);
        return rc;
}

/* Every name between a record's owner and the apex exists (empty non-terminals). */
static int zone_add_ents(struct ld_zones *z, const struct ld_zone *zone)
{
        for (struct ld_zname *e = z->all; e; e = e->next_all) {
                if (e->zone != zone)
                        continue;
                for (size_t off = 0; e->len - off > zone->origin_len;) {
                        off += 1u + e->lname[off];
                        if (!zone_name_get(z, zone, e->lname + off, e->len - off))
                                return -ENOMEM;
                }
        }
        return 0;
}

int ld_zones_add(struct ld_zones *z, const ldns_zone *lz)
{
        struct ld_zone **nz = realloc(z->zones, (z->nzones + 1) * sizeof(*nz)), *zone;
        ldns_rdf *origin;
        int rc;

        if (!nz)
                return -ENOMEM;
        z->zones = nz;
        if (!(zone = calloc(1, sizeof(*zone))))
                return -ENOMEM;
        nz[z->nzones++] = zone;
        if (!(origin = ldns_rdf_clone(ldns_rr_owner(ldns_zone_soa(lz)))))
                return -ENOMEM;
        ldns_dname2canonical(origin);
        zone->origin_len = (uint8_t)ldns_rdf_size(origin);
        memcpy(zone->origin, ldns_rdf_data(origin), zone->origin_len);
        zone->labels = (uint8_t)ldns_dname_label_count(origin);
        ldns_rdf_deep_free(origin);
        rc = zone_add_rr(z, zone, ldns_zone_soa(lz));
        for (size_t i = 0; rc == 0 && i < ldns_zone_rr_count(lz); i++)
                rc = zone_add_rr(z, zone, ldns_rr_list_rr(ldns_zone_rrs(lz), i));
        if (rc == 0)
                rc = zone_add_ents(z, zone);
        if (rc == 0) {
                const struct ld_zname *apex = zone_find(z, zone->origin, zone->origin_len);
                zone->soa = apex ? ld_zname_rrset(apex, LDNS_RR_TYPE_SOA) : NULL;
        }
        return rc;
}

/* $TTL must be a number (with BIND's units): ldns takes "$TTL sixty" as 0. */
static int zone_check_ttls(FILE *f, const char *path, char *err, size_t errlen)
{
        char line[4096];
        int n = 0;

        while (fgets(line, sizeof(line), f)) {
                char tok[64] = "";
                const char *end;
                n++;
                if (strncmp(line, "$TTL", 4) != 0)
                        continue;
                if (sscanf(line + 4, "%63s", tok) != 1 || tok[0] < '0' || tok[0] > '9' ||
                    (ldns_str2period(tok, &end), *end != '\0')) {
                        snprintf(err, errlen, "%s:%d: invalid $TTL '%s'", path, n, tok);
                        return -EINVAL;
                }
        }
        rewind(f);
        return 0;
}

/* Record by record: ldns_zone_new_frm_fp_l leaks what it read when a later line is bad. */
static int zone_read(FILE *f, ldns_zone *lz, int *line)
{
        uint32_t ttl = 3600;
        ldns_rdf *origin = NULL, *prev = NULL;
        int rc = 0;

        while (rc == 0 && !feof(f)) {
                ldns_rr *rr = NULL;
                ldns_status st = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, line);
                if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
                    st == LDNS_STATUS_SYNTAX_ORIGIN)
                        continue;
                if (st != LDNS_STATUS_OK) {
                        rc = (int)st;
                } else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && !ldns_zone_soa(lz)) {
                        ldns_zone_set_soa(lz, rr);
                } else if (!ldns_zone_push_rr(lz, rr)) {
                        ldns_rr_free(rr);
                        rc = LDNS_STATUS_MEM_ERR;
                }
        }
        if (origin)
                ldns_rdf_deep_free(origin);
        if (prev)
                ldns_rdf_deep_free(prev);
        return rc;
}

static int zone_load_file(struct ld_zones *z, const char *path, char *err, size_t errlen)
{
        FILE *f = fopen(path, "re");
        ldns_zone *lz = ldns_zone_new();
        int line = 0, rc, st;

        if (!f || !lz) {
                rc = f ? -ENOMEM : -errno;
                snprintf(err, errlen, "%s: %s", path, strerror(-rc));
                if (f)
                        fclose(f);
                if (lz)
                        ldns_zone_deep_free(lz);
                return rc;
        }
        rc = zone_check_ttls(f, path, err, errlen);
        st = rc == 0 ? zone_read(f, lz, &line) : 0;
        fclose(f);
        if (rc == 0 && (st != 0 || !ldns_zone_soa(lz))) {
                snprintf(err, errlen, "%s:%d: %s", path, line,
                         st ? ldns_get_errorstr_by_id((ldns_status)st) : "no SOA record");
                rc = -EINVAL;
        }
        if (rc == 0 && (rc = ld_zones_add(z, lz)) < 0)
                snprintf(err, errlen, "%s: out of memory", path);
        ldns_zone_deep_free(lz);
        return rc;
}

static int zone_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

struct ld_zones *ld_zones_new(void)
{
        struct ld_zones *z = calloc(1, sizeof(*z));

        if (z && ld_hash_init(&z->names) < 0) {
                free(z);
                return NULL;
        }
        return z;
}

int ld_zones_load(const char *dir, struct ld_zones **out, char *err, size_t errlen)
{
        struct ld_zones *z = ld_zones_new();
        DIR *d = opendir(dir);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        int rc = 0;

        *out = NULL;
        if (!z || !d) {
                snprintf(err, errlen, "%s: %s", dir, d ? "out of memory" : strerror(errno));
                if (d)
                        closedir(d);
                ld_zones_free(z);
                return -EINVAL;
        }
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                char **nn;
                if (len < 6 || strcmp(de->d_name + len - 5, ".zone") != 0 || de->d_name[0] == '.')
                        continue;
                if (!(nn = realloc(names, (n + 1) * sizeof(*nn))))
                        break;
                names = nn;
                if (asprintf(&names[n], "%s/%s", dir, de->d_name) >= 0)
                        n++;
        }
        closedir(d);
        qsort(names, n, sizeof(*names), zone_cmp);
        for (size_t i = 0; i < n; i++) {
                if (rc == 0)
                        rc = zone_load_file(z, names[i], err, errlen);
                free(names[i]);
        }
        free(names);
        if (rc < 0) {
                ld_zones_free(z);
                return -EINVAL;
        }
        *out = z;
        return 0;
}

void ld_zones_free(struct ld_zones *z)
{
        if (!z)
                return;
        for (struct ld_zname *e = z->all, *next; e; e = next) {
                next = e->next_all;
                for (size_t i = 0; i < e->nsets; i++)
                        free(e->sets[i].wire);
                free(e->sets);
                free(e);
        }
        ld_hash_fini(&z->names);
        for (size_t i = 0; i < z->nzones; i++)
                free(z->zones[i]);
        free(z->zones);
        free(z);
}
