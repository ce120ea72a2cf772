/* An output batch: what one connection sends in one uv_write.
 *
 * Small packets (acks, PUBLISH headers) are appended to a byte arena; payloads are
 * referenced from their shared message, which the batch holds a reference to until the
 * write completes. Segments remember offsets, not pointers, so the arena may grow while the
 * batch fills; the uv_buf_t array is built once, when the batch is written. */
#ifndef SMQ_BROKER_WBATCH_H
#define SMQ_BROKER_WBATCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/msg.h"

struct smq_wseg {
    struct smq_msg *msg; /* owned reference when the segment is a payload, else NULL */
    uint32_t off, len;   /* arena range when msg is NULL */
};

struct smq_wbatch {
    uv_write_t req;
    uint8_t *arena;      /* owned */
    uint32_t arena_len, arena_cap;
    struct smq_wseg *segs; /* owned */
    uint32_t n_segs, segs_cap;
    uv_buf_t *bufs;      /* owned: built by smq_wbatch_bufs() */
    size_t bytes;        /* total bytes in the batch */
    void *owner;         /* borrowed: the connection writing it */
};

/* Returns an empty batch. */
struct smq_wbatch *smq_wbatch_new(void);

/* Releases the batch and the message references it holds. NULL is allowed. */
void smq_wbatch_free(struct smq_wbatch *b);

/* Returns room for len bytes appended to the arena (one segment with what precedes it). */
uint8_t *smq_wbatch_reserve(struct smq_wbatch *b, size_t len);

/* Appends msg's payload by reference (takes a reference). */
void smq_wbatch_add_payload(struct smq_wbatch *b, struct smq_msg *msg);

/* Builds and returns the uv_buf_t array; *n gets its length. */
uv_buf_t *smq_wbatch_bufs(struct smq_wbatch *b, unsigned *n);

#endif
