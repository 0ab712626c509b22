/* hash: an intrusive chained hash table; lookups never allocate. */
#include "hash.h"

#include <errno.h>
#include <stdlib.h>

int ld_hash_init(struct ld_hash *h)
{
        h->mask = 63;
        h->count = 0;
        h->buckets = calloc(h->mask + 1, sizeof(*h->buckets));
        return h->buckets ? 0 : -ENOMEM;
}

void ld_hash_fini(struct ld_hash *h)
{
        free(h->buckets);
        h->buckets = NULL;
        h->count = 0;
}

static int hash_grow(struct ld_hash *h)
{
        size_t nmask = h->mask * 2 + 1;
        struct ld_hash_node **nb = calloc(nmask + 1, sizeof(*nb));

        if (!nb)
                return -ENOMEM;
        for (size_t i = 0; i <= h->mask; i++) {
                struct ld_hash_node *n = h->buckets[i], *next;
                for (; n; n = next) {
                        next = n->next;
                        n->next = nb[n->hash & nmask];
                        nb[n->hash & nmask] = n;
                }
        }
        free(h->buckets);
        h->buckets = nb;
        h->mask = nmask;
        return 0;
}

int ld_hash_insert(struct ld_hash *h, struct ld_hash_node *n, uint64_t hash)
{
        if (h->count >= h->mask && hash_grow(h) < 0)
                return -ENOMEM;
        n->hash = hash;
        n->next = h->buckets[hash & h->mask];
        h->buckets[hash & h->mask] = n;
        h->count++;
        return 0;
}

void ld_hash_remove(struct ld_hash *h, struct ld_hash_node *n)
{
        struct ld_hash_node **pp = &h->buckets[n->hash & h->mask];

        for (; *pp; pp = &(*pp)->next) {
                if (*pp == n) {
                        *pp = n->next;
                        h->count--;
                        return;
                }
        }
}
