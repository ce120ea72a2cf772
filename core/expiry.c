/* The deadline heap (see expiry.h): a binary min-heap ordered by (deadline, seq), each node
 * remembering its slot so it can be moved or removed in place. */
#include "core/expiry.h"

#include "core/alloc.h"
#include "core/assert.h"

static bool earlier(const struct smq_expiry_node *a, const struct smq_expiry_node *b)
{
    if (a->deadline_ms != b->deadline_ms)
        return a->deadline_ms < b->deadline_ms;
    return a->seq < b->seq;
}

static void place(struct smq_expiry *q, uint32_t i, struct smq_expiry_node *n)
{
    q->heap[i] = n;
    n->pos = i + 1;
}

/* Moves the node at i towards the root while it is earlier than its parent. */
static void sift_up(struct smq_expiry *q, uint32_t i)
{
    struct smq_expiry_node *n = q->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!earlier(n, q->heap[parent]))
            break;
        place(q, i, q->heap[parent]);
        i = parent;
    }
    place(q, i, n);
}

/* Moves the node at i towards the leaves while a child is earlier. */
static void sift_down(struct smq_expiry *q, uint32_t i)
{
    struct smq_expiry_node *n = q->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= q->len)
            break;
        if (child + 1 < q->len && earlier(q->heap[child + 1], q->heap[child]))
            child++;
        if (!earlier(q->heap[child], n))
            break;
        place(q, i, q->heap[child]);
        i = child;
    }
    place(q, i, n);
}

/* Restores the order around slot i after its node's key changed either way. */
static void fix(struct smq_expiry *q, uint32_t i)
{
    if (i > 0 && earlier(q->heap[i], q->heap[(i - 1) / 2]))
        sift_up(q, i);
    else
        sift_down(q, i);
}

void smq_expiry_init(struct smq_expiry *q)
{
    q->heap = NULL;
    q->len = q->cap = 0;
    q->next_seq = 0;
}

void smq_expiry_dispose(struct smq_expiry *q)
{
    for (uint32_t i = 0; i < q->len; i++)
        q->heap[i]->pos = 0;
    smq_free(q->heap);
    smq_expiry_init(q);
}

void smq_expiry_schedule(struct smq_expiry *q, struct smq_expiry_node *n, int64_t deadline_ms)
{
    n->deadline_ms = deadline_ms;
    n->seq = q->next_seq++;
    if (n->pos != 0) {
        SMQ_ASSERT(n->pos <= q->len && q->heap[n->pos - 1] == n);
        fix(q, n->pos - 1);
        return;
    }
    if (q->len == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->heap = smq_realloc(q->heap, (size_t)q->cap * sizeof(*q->heap));
    }
    place(q, q->len++, n);
    sift_up(q, q->len - 1);
}

void smq_expiry_cancel(struct smq_expiry *q, struct smq_expiry_node *n)
{
    if (n->pos == 0)
        return;
    uint32_t i = n->pos - 1;
    SMQ_ASSERT(i < q->len && q->heap[i] == n);
    n->pos = 0;
    struct smq_expiry_node *last = q->heap[--q->len];
    if (i == q->len)
        return;
    place(q, i, last);
    fix(q, i);
}

struct smq_expiry_node *smq_expiry_pop_due(struct smq_expiry *q, int64_t now_ms)
{
    if (q->len == 0 || q->heap[0]->deadline_ms > now_ms)
        return NULL;
    struct smq_expiry_node *n = q->heap[0];
    smq_expiry_cancel(q, n);
    return n;
}

int64_t smq_expiry_next(const struct smq_expiry *q)
{
    return q->len ? q->heap[0]->deadline_ms : INT64_MAX;
}
