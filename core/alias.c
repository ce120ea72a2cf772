/* Topic alias tables (see alias.h).
 *
 * Inbound: a slot per alias, indexed by alias - 1, the array grown by doubling up to the
 * highest alias the client used; each slot owns a copy of its topic, reused when the next
 * topic of that alias fits.
 *
 * Outbound: entries indexed by alias, grown by doubling up to max, found through a chained
 * hash table (bucket heads and chain links are aliases, 0 ends a chain). Topics are chosen by
 * publishers, not by the client the table serves, so the hash is keyed with a secret of the
 * table's own (core/hash.h) and nobody can aim a run of topics at one chain. Recency is a
 * doubly linked list through the entries, newest at the head: a hit moves its entry to the
 * head, an eviction takes the tail. */
#include "core/alias.h"

#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/hash.h"
#include "proto/errors.h"

/* A topic copy owned by a table entry, kept for reuse when the entry changes topic. */
struct topic_buf {
    uint8_t *ptr; /* owned */
    uint32_t len, cap;
};

/* Copies topic into b, growing b's buffer only when topic does not fit. */
static void topic_buf_set(struct topic_buf *b, struct smq_span topic)
{
    if (b->cap < topic.len) {
        smq_free(b->ptr);
        b->ptr = smq_alloc(topic.len);
        b->cap = (uint32_t)topic.len;
    }
    memcpy(b->ptr, topic.ptr, topic.len);
    b->len = (uint32_t)topic.len;
}

static struct smq_span topic_buf_span(const struct topic_buf *b)
{
    return (struct smq_span){b->ptr, b->len};
}

/* ---- inbound ------------------------------------------------------------------------- */

struct smq_alias_in {
    uint16_t max;
    uint16_t cap;            /* slots allocated: aliases 1..cap */
    struct topic_buf *slots; /* owned: [alias - 1]; len 0 = never set */
};

struct smq_alias_in *smq_alias_in_new(uint16_t max)
{
    SMQ_ASSERT(max >= 1);
    struct smq_alias_in *t = smq_calloc(1, sizeof(*t));
    t->max = max;
    return t;
}

void smq_alias_in_free(struct smq_alias_in *t)
{
    if (t == NULL)
        return;
    for (uint16_t i = 0; i < t->cap; i++)
        smq_free(t->slots[i].ptr);
    smq_free(t->slots);
    smq_free(t);
}

int smq_alias_in_set(struct smq_alias_in *t, uint16_t alias, struct smq_span topic)
{
    if (alias == 0 || alias > t->max || topic.len == 0)
        return SMQ_EINVAL;
    if (alias > t->cap) {
        /* Doubled in 32 bits and capped at max: the double may not fit 16. */
        uint32_t cap = t->cap ? t->cap : 8u;
        while (cap < alias)
            cap *= 2;
        if (cap > t->max)
            cap = t->max;
        t->slots = smq_realloc(t->slots, cap * sizeof(*t->slots));
        memset(t->slots + t->cap, 0, (cap - t->cap) * sizeof(*t->slots));
        t->cap = (uint16_t)cap;
    }
    topic_buf_set(&t->slots[alias - 1], topic);
    return 0;
}

int smq_alias_in_get(const struct smq_alias_in *t, uint16_t alias, struct smq_span *topic)
{
    if (alias == 0 || alias > t->max)
        return SMQ_EINVAL;
    if (alias > t->cap || t->slots[alias - 1].len == 0)
        return SMQ_ENOENT;
    *topic = topic_buf_span(&t->slots[alias - 1]);
    return 0;
}

/* ---- outbound ------------------------------------------------------------------------ */

struct out_entry {
    struct topic_buf topic;
    uint64_t hash;
    uint16_t chain;        /* next alias in the same bucket, 0 = end */
    uint16_t newer, older; /* recency list, 0 = none */
};

struct smq_alias_out {
    struct smq_hash_key key;
    uint16_t max;
    uint16_t used; /* aliases handed out: 1..used */
    uint16_t cap;  /* entries allocated: aliases 1..cap */
    uint16_t newest, oldest;
    uint32_t n_buckets;        /* a power of two, at least cap */
    uint16_t *buckets;         /* owned: the first alias of each chain */
    struct out_entry *entries; /* owned: [alias]; [0] unused */
};

struct smq_alias_out *smq_alias_out_new(uint16_t max)
{
    SMQ_ASSERT(max >= 1);
    struct smq_alias_out *t = smq_calloc(1, sizeof(*t));
    smq_hash_seed(&t->key);
    t->max = max;
    return t;
}

void smq_alias_out_free(struct smq_alias_out *t)
{
    if (t == NULL)
        return;
    for (uint32_t a = 1; a <= t->used; a++)
        smq_free(t->entries[a].topic.ptr);
    smq_free(t->entries);
    smq_free(t->buckets);
    smq_free(t);
}

uint16_t smq_alias_out_count(const struct smq_alias_out *t)
{
    return t->used;
}

static uint16_t *bucket_of(struct smq_alias_out *t, uint64_t hash)
{
    return &t->buckets[hash & (t->n_buckets - 1)];
}

static void recency_unlink(struct smq_alias_out *t, uint16_t a)
{
    struct out_entry *e = &t->entries[a];
    if (e->newer)
        t->entries[e->newer].older = e->older;
    else
        t->newest = e->older;
    if (e->older)
        t->entries[e->older].newer = e->newer;
    else
        t->oldest = e->newer;
    e->newer = e->older = 0;
}

static void recency_push(struct smq_alias_out *t, uint16_t a)
{
    struct out_entry *e = &t->entries[a];
    e->newer = 0;
    e->older = t->newest;
    if (t->newest)
        t->entries[t->newest].newer = a;
    t->newest = a;
    if (t->oldest == 0)
        t->oldest = a;
}

uint16_t smq_alias_out_find(struct smq_alias_out *t, struct smq_span topic)
{
    if (t->used == 0)
        return 0;
    uint64_t hash = smq_hash_bytes(&t->key, topic.ptr, topic.len);
    for (uint16_t a = *bucket_of(t, hash); a != 0; a = t->entries[a].chain) {
        struct out_entry *e = &t->entries[a];
        if (e->hash == hash && smq_span_eq(topic_buf_span(&e->topic), topic)) {
            if (t->newest != a) {
                recency_unlink(t, a);
                recency_push(t, a);
            }
            return a;
        }
    }
    return 0;
}

/* Makes room for entry cap + 1, and keeps the buckets at least as many as the entries so
 * chains stay short. */
static void grow(struct smq_alias_out *t)
{
    uint32_t cap = t->cap ? t->cap * 2u : 8u;
    if (cap > t->max)
        cap = t->max;
    t->entries = smq_realloc(t->entries, (cap + 1) * sizeof(*t->entries));
    memset(t->entries + t->cap + 1, 0, (cap - t->cap) * sizeof(*t->entries));
    t->cap = (uint16_t)cap;
    if (t->n_buckets >= cap)
        return;
    uint32_t n = t->n_buckets ? t->n_buckets : 8u;
    while (n < cap)
        n *= 2;
    smq_free(t->buckets);
    t->buckets = smq_calloc(n, sizeof(*t->buckets));
    t->n_buckets = n;
    for (uint32_t a = 1; a <= t->used; a++) {
        uint16_t *head = bucket_of(t, t->entries[a].hash);
        t->entries[a].chain = *head;
        *head = (uint16_t)a;
    }
}

static void chain_remove(struct smq_alias_out *t, uint16_t a)
{
    uint16_t *link = bucket_of(t, t->entries[a].hash);
    while (*link != a) {
        SMQ_ASSERT(*link != 0);
        link = &t->entries[*link].chain;
    }
    *link = t->entries[a].chain;
    t->entries[a].chain = 0;
}

uint16_t smq_alias_out_assign(struct smq_alias_out *t, struct smq_span topic)
{
    SMQ_ASSERT(topic.len > 0);
    uint16_t a;
    if (t->used < t->max) {
        if (t->used == t->cap)
            grow(t);
        a = ++t->used;
    } else {
        a = t->oldest; /* least recently used: it now means the new topic */
        recency_unlink(t, a);
        chain_remove(t, a);
    }
    struct out_entry *e = &t->entries[a];
    topic_buf_set(&e->topic, topic);
    e->hash = smq_hash_bytes(&t->key, topic.ptr, topic.len);
    uint16_t *head = bucket_of(t, e->hash);
    e->chain = *head;
    *head = a;
    recency_push(t, a);
    return a;
}
