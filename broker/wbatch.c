/* Output batches (see wbatch.h). */
#include "broker/wbatch.h"

#include <string.h>

#include "core/alloc.h"

struct smq_wbatch *smq_wbatch_new(void)
{
    return smq_calloc(1, sizeof(struct smq_wbatch));
}

void smq_wbatch_free(struct smq_wbatch *b)
{
    if (b == NULL)
        return;
    for (uint32_t i = 0; i < b->n_segs; i++)
        smq_msg_unref(b->segs[i].msg);
    smq_free(b->arena);
    smq_free(b->segs);
    smq_free(b->bufs);
    smq_free(b);
}

static struct smq_wseg *add_seg(struct smq_wbatch *b)
{
    if (b->n_segs == b->segs_cap) {
        b->segs_cap = b->segs_cap ? b->segs_cap * 2 : 8;
        b->segs = smq_realloc(b->segs, b->segs_cap * sizeof(*b->segs));
    }
    return &b->segs[b->n_segs++];
}

uint8_t *smq_wbatch_reserve(struct smq_wbatch *b, size_t len)
{
    if (b->arena_len + len > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap : 256;
        while (cap < b->arena_len + len)
            cap *= 2;
        b->arena = smq_realloc(b->arena, cap);
        b->arena_cap = (uint32_t)cap;
    }
    struct smq_wseg *last = b->n_segs ? &b->segs[b->n_segs - 1] : NULL;
    if (last && last->msg == NULL && last->off + last->len == b->arena_len) {
        last->len += (uint32_t)len;
    } else {
        struct smq_wseg *seg = add_seg(b);
        *seg = (struct smq_wseg){NULL, b->arena_len, (uint32_t)len};
    }
    uint8_t *p = b->arena + b->arena_len;
    b->arena_len += (uint32_t)len;
    b->bytes += len;
    return p;
}

void smq_wbatch_add_payload(struct smq_wbatch *b, struct smq_msg *msg)
{
    if (msg->payload.len == 0)
        return;
    struct smq_wseg *seg = add_seg(b);
    *seg = (struct smq_wseg){smq_msg_ref(msg), 0, (uint32_t)msg->payload.len};
    b->bytes += msg->payload.len;
}

uv_buf_t *smq_wbatch_bufs(struct smq_wbatch *b, unsigned *n)
{
    b->bufs = smq_realloc(b->bufs, (b->n_segs ? b->n_segs : 1) * sizeof(uv_buf_t));
    for (uint32_t i = 0; i < b->n_segs; i++) {
        const struct smq_wseg *s = &b->segs[i];
        const uint8_t *base = s->msg ? s->msg->payload.ptr : b->arena + s->off;
        b->bufs[i] = uv_buf_init((char *)base, s->len);
    }
    *n = b->n_segs;
    return b->bufs;
}
