/* hash: an intrusive chained hash table; lookups never allocate. */
#ifndef LD_HASH_H
#define LD_HASH_H

#include <stddef.h>
#include <stdint.h>

struct ld_hash_node {
        struct ld_hash_node *next;
        uint64_t hash;
};

struct ld_hash {
        struct ld_hash_node **buckets;
        size_t mask;
        size_t count;
};

int ld_hash_init(struct ld_hash *h);
void ld_hash_fini(struct ld_hash *h);
/* Grows the table when it gets full: the only allocation, and never on the query path. */
int ld_hash_insert(struct ld_hash *h, struct ld_hash_node *n, uint64_t hash);
void ld_hash_remove(struct ld_hash *h, struct ld_hash_node *n);
/* The first node in hash's bucket; walk ->next and compare n->hash and the key. */
static inline struct ld_hash_node *ld_hash_bucket(const struct ld_hash *h, uint64_t hash)
{
        return h->buckets[hash & h->mask];
}

/* FNV-1a over bytes, continued from seed (start with LD_HASH_SEED). */
#define LD_HASH_SEED 0xcbf29ce484222325ULL
static inline uint64_t ld_hash_bytes(uint64_t seed, const void *data, size_t len)
{
        const uint8_t *p = data;
        for (size_t i = 0; i < len; i++)
                seed = (seed ^ p[i]) * 0x100000001b3ULL;
        return seed;
}

/* A key that is an object's address (runtime state kept beside the model, by container). */
static inline uint64_t ld_hash_ptr(const void *p)
{
        return ld_hash_bytes(LD_HASH_SEED, &p, sizeof(p));
}

/* The node keyed by the object address p (inserted with ld_hash_ptr(p)), where each node's
 * key is the pointer key_off bytes after the node (offsetof(key) - offsetof(node)). */
static inline struct ld_hash_node *ld_hash_find_ptr(const struct ld_hash *h, const void *p,
                                                    size_t key_off)
{
        uint64_t hv = ld_hash_ptr(p);

        for (struct ld_hash_node *n = ld_hash_bucket(h, hv); n; n = n->next)
                if (n->hash == hv && *(const void *const *)((const char *)n + key_off) == p)
                        return n;
        return NULL;
}

#endif
