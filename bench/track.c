/* Per-subscriber sequence tracking (bench/track.h): a linear-probing hash table from
 * publisher id to a sliding 64-sequence window. It grows by doubling at 3/4 load, up to
 * SMQ_BENCH_TRACK_MAX_PUBS publishers, which bounds its memory at 32 MiB. */
#include "bench/track.h"

#include <stdio.h>
#include <stdlib.h>

static uint32_t slot_of(uint64_t key, uint32_t cap)
{
    /* Fibonacci hashing: consecutive ids, the common case, spread over the table. */
    return (uint32_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 40) & (cap - 1);
}

static struct smq_bench_seq *probe(struct smq_bench_seq *slots, uint32_t cap, uint64_t key)
{
    uint32_t i = slot_of(key, cap);
    while (slots[i].used && slots[i].key != key)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void grow(struct smq_bench_track *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 8;
    struct smq_bench_seq *slots = calloc(cap, sizeof(*slots));
    if (!slots) {
        fprintf(stderr, "shardmq-bench: out of memory\n");
        abort();
    }
    for (uint32_t i = 0; i < t->cap; i++) {
        if (t->slots[i].used)
            *probe(slots, cap, t->slots[i].key) = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
}

static struct smq_bench_seq *lookup(struct smq_bench_track *t, uint64_t key)
{
    if (t->cap) {
        struct smq_bench_seq *s = probe(t->slots, t->cap, key);
        if (s->used)
            return s;
    }
    if (t->count >= SMQ_BENCH_TRACK_MAX_PUBS)
        return NULL;
    if ((uint64_t)(t->count + 1) * 4 > (uint64_t)t->cap * 3)
        grow(t);
    struct smq_bench_seq *s = probe(t->slots, t->cap, key);
    s->used = true;
    s->key = key;
    t->count++;
    return s;
}

enum smq_bench_seen smq_bench_track_see(struct smq_bench_track *t, uint64_t key, uint64_t seq)
{
    struct smq_bench_seq *s = lookup(t, key);
    if (!s)
        return SMQ_SEEN_UNTRACKED;
    if (seq >= s->next) {
        uint64_t shift = seq - s->next + 1;
        bool gap = seq > s->next;
        s->window = shift >= 64 ? 0 : s->window << shift;
        s->window |= 1; /* bit 0 is the new highest, seq itself */
        s->next = seq + 1;
        s->unique++;
        return gap ? SMQ_SEEN_GAP : SMQ_SEEN_NEXT;
    }
    uint64_t back = s->next - 1 - seq;
    if (back < 64) {
        uint64_t bit = UINT64_C(1) << back;
        if (s->window & bit)
            return SMQ_SEEN_DUP;
        s->window |= bit;
    }
    s->unique++;
    return SMQ_SEEN_LATE;
}

uint64_t smq_bench_track_gaps(const struct smq_bench_track *t)
{
    uint64_t gaps = 0;
    for (uint32_t i = 0; i < t->cap; i++) {
        const struct smq_bench_seq *s = &t->slots[i];
        if (s->used && s->next > s->unique)
            gaps += s->next - s->unique;
    }
    return gaps;
}

uint64_t smq_bench_track_unique(const struct smq_bench_track *t)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < t->cap; i++)
        n += t->slots[i].used ? t->slots[i].unique : 0;
    return n;
}

void smq_bench_track_dispose(struct smq_bench_track *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = 0;
    t->count = 0;
}
