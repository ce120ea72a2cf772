/* A growable byte buffer: a connection's pending output and its partial input packet.
 *
 * The zero value is a valid empty buffer. Reserve room, write into it, commit what was
 * written; consume from the front. Growth doubles, so appends are amortised O(1); the
 * callers bound how much they let accumulate. Allocation failure aborts. */
#ifndef SMQ_BENCH_BUF_H
#define SMQ_BENCH_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct smq_bench_buf {
    uint8_t *data; /* owned */
    size_t len;
    size_t cap;
};

/* Returns room for n more bytes at the end of b. */
static inline uint8_t *smq_bench_buf_reserve(struct smq_bench_buf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *data = realloc(b->data, cap);
        if (!data) {
            fprintf(stderr, "shardmq-bench: out of memory\n");
            abort();
        }
        b->data = data;
        b->cap = cap;
    }
    return b->data + b->len;
}

static inline void smq_bench_buf_append(struct smq_bench_buf *b, const void *src, size_t n)
{
    memcpy(smq_bench_buf_reserve(b, n), src, n);
    b->len += n;
}

/* Drops the first n bytes. */
static inline void smq_bench_buf_consume(struct smq_bench_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static inline void smq_bench_buf_free(struct smq_bench_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

#endif
