/* The retained store (see retained.h): a trie of topic levels, read without locks under liburcu
 * QSBR and changed by one writer at a time.
 *
 * Each node is one topic level and holds at most one retained message. A node's children are
 * reachable two ways: by exact level through one hash table for the whole store, keyed by
 * (parent node, level), so `a/b/c` costs one probe sequence per level; and in order through an
 * RCU sibling list (first child, next sibling) that `+` and `#` walk. Writers, serialized by
 * store->lock, build a node completely and then publish it with release stores; readers load
 * with acquire. Unlinked nodes, replaced messages and outgrown tables are released by
 * call_rcu() after a grace period, so a writer never waits for readers.
 *
 * Memory per node, with 100k+ topics in mind: a liburcu cds_lfht per node costs ~700 bytes for
 * every node with children (measured with liburcu 0.13: the table struct holds 64 bucket-order
 * pointers), 70 MB of tables for 100k topics like `dev/<id>/state`. One cds_lfht for the whole
 * store would cost 16 bytes of bucket plus 16 of node per level, but its automatic resize in
 * liburcu 0.13 is not usable: with CDS_LFHT_ACCOUNTING the table was seen to stop growing for
 * good at 256 buckets (resize_initiated stays set while the resize worker idles, so 200k nodes
 * make 800-node chains), and without it the table overshot to 16M buckets for 200k nodes. So
 * the table here is a small open-addressing array of node pointers (linear probing, tombstones
 * for deletions) that the writer fills in place and rebuilds into a new array when it is 3/4
 * full or 1/8 used, publishing the new array by pointer swap: 8 bytes per slot at a load
 * between 1/8 and 3/4, plus a 64-byte node and its level (measured: 101 bytes per node in all
 * for 100k topics `dev/<id>/state`). Every shared access is a C11 atomic, so ThreadSanitizer
 * sees the publication order too. */
#include "core/retained.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/rcu.h"
#include "proto/errors.h"
#include "proto/topic.h"

/* ThreadSanitizer cannot see liburcu's call_rcu() queue (uninstrumented, inline-asm atomics),
 * so it would pair every callback's free with the writer's earlier accesses and report each
 * one; checking a report against tests/tsan.supp costs so much that a store of 100k topics
 * takes minutes to tear down. The writer therefore tells TSan about the hand-over: a release
 * on the object just before call_rcu(), an acquire at the top of its callback. (What TSan
 * still cannot see, a reader's accesses before its quiescent state, is suppressed.) */
#if defined(__SANITIZE_THREAD__)
#define SMQ_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SMQ_TSAN 1
#endif
#endif
#ifdef SMQ_TSAN
void __tsan_acquire(void *addr); /* the TSan runtime's annotation interface */
void __tsan_release(void *addr);
#define HANDOVER_RELEASE(p) __tsan_release(p)
#define HANDOVER_ACQUIRE(p) __tsan_acquire(p)
#else
#define HANDOVER_RELEASE(p) ((void)(p))
#define HANDOVER_ACQUIRE(p) ((void)(p))
#endif

/* A topic name is at most 65,535 bytes (a UTF-8 string of the wire format, 1.5.4). */
#define TOPIC_MAX 65535u

/* Frames a match keeps on its own stack before it moves the stack to the heap. */
#define INLINE_FRAMES 16

/* Smallest hash table (slots, a power of two). */
#define TABLE_MIN 16u

struct node {
    /* --- immutable once published; read by any thread --- */
    struct node *parent; /* borrowed: NULL for the root, else outlives its children */
    uint64_t hash;       /* of (parent, level): where the node sits in store->table */

    /* --- shared: atomics only; stored by the writer (under store->lock), loaded by
     * readers. Each store is release and each reader load acquire: they pair, so a reader
     * that reaches a node or message through one sees it fully built. Writers load them
     * relaxed (the lock orders writers). --- */
    _Atomic(struct node *) children; /* first child; new children go in front */
    _Atomic(struct node *) next;     /* next sibling; kept by an unlinked node for readers */
    _Atomic(struct smq_msg *) msg;   /* owned reference, or NULL for a level with none */

    /* --- writer only (under store->lock) --- */
    union {
        struct node *prev;   /* previous sibling, NULL for the first; while linked */
        struct rcu_head rcu; /* once unlinked, for call_rcu() */
    };

    /* --- immutable once published; read by any thread --- */
    uint32_t level_len;
    char level[]; /* level_len bytes, no NUL */
};

/* The hash table: every node but the root, by (parent, level). */
struct table {
    struct rcu_head rcu; /* writer only: for call_rcu() once outgrown */
    size_t mask;         /* immutable: slots - 1, slots a power of two */
    /* Shared: the writer stores a node with release once it is built (pairs with the
     * acquire in lookup_child()) and a TOMBSTONE relaxed (nothing is read through one).
     * NULL ends a probe sequence; the writer keeps at least 1/4 of the slots NULL. */
    _Atomic(struct node *) slots[];
};

struct smq_retained {
    /* --- immutable after smq_retained_new() --- */
    struct node *root; /* owned; the empty prefix, never holds a message */
    struct smq_hash_key seed; /* topic levels come from clients: a keyed hash */

    /* --- shared: atomics only --- */
    /* The current table, owned. Stored with release by the writer when it rebuilds (pairs
     * with the acquire in lookup_child()): the new table is filled before. */
    _Atomic(struct table *) table;
    /* Topics with a message. Only writers change it (under lock); every access is relaxed:
     * it is a statistic and a limit checked under the lock, and orders nothing. */
    _Atomic uint64_t count;
    /* smq_msg_cost() of the stored messages, kept like count. */
    _Atomic uint64_t bytes;
    /* No stored message expires before this (loop clock ms; INT64_MAX: none known to). The
     * writer lowers it as it stores and sets it exactly after a purge, under lock; anyone
     * loads it relaxed to skip a purge that would find nothing (a stale value only makes
     * that check take the lock once more or later). */
    _Atomic int64_t next_expiry_ms;

    /* --- writers --- */
    pthread_mutex_t lock; /* serializes smq_retained_set(); readers never take it */
    uint64_t max_bytes;   /* set before any writer runs; 0 = no byte limit */
    size_t table_used;    /* under lock: slots of the current table not NULL */
    size_t table_live;    /* under lock: slots holding a node (not a tombstone) */
};

/* The mark of a deleted slot: probes go on past it; never dereferenced. */
static struct node tombstone;
#define TOMBSTONE (&tombstone)

/* A replaced or deleted message waiting for its grace period. */
struct retired_msg {
    struct rcu_head rcu;
    struct smq_msg *msg; /* owned: the store's reference */
};

/* A `+` level being walked: the child under consideration and where the filter goes on. */
struct frame {
    const struct node *node;
    size_t pos;       /* offset in the filter of the level after the `+` */
    bool skip_dollar; /* the `+` is the filter's first level [MQTT-4.7.2-1] */
};

struct frame_stack {
    struct frame *frames; /* inline storage of the caller, or owned heap storage */
    size_t top;
    size_t cap;
    bool on_heap;
};

/* --- hashing --------------------------------------------------------------------------- */

/* --- reading --------------------------------------------------------------------------- */

static uint64_t hash_level(const struct smq_retained *store, const struct node *parent,
                           const uint8_t *level, size_t len)
{
    return smq_hash_word_bytes(&store->seed, (uint64_t)(uintptr_t)parent, level, len);
}

/* Returns parent's child with the given level, or NULL. Any thread inside the read side:
 * the table and the nodes it reaches stay allocated until the caller's next quiescent
 * state. */
static struct node *lookup_child(const struct smq_retained *store, const struct node *parent,
                                 const uint8_t *level, size_t len)
{
    uint64_t hash = hash_level(store, parent, level, len);
    /* Acquire: pairs with the release store of table in rebuild(). */
    const struct table *t = atomic_load_explicit(&store->table, memory_order_acquire);
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        /* Acquire: pairs with the release store of the slot in put_slot(). */
        struct node *n = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (n == NULL)
            return NULL;
        if (n != TOMBSTONE && n->hash == hash && n->parent == parent && n->level_len == len &&
            (len == 0 || memcmp(n->level, level, len) == 0))
            return n;
    }
}

/* Returns the end (offset of the `/` or of the end) of the level starting at pos. */
static size_t level_end(struct smq_span s, size_t pos)
{
    const uint8_t *slash = pos < s.len ? memchr(s.ptr + pos, '/', s.len - pos) : NULL;
    return slash ? (size_t)(slash - s.ptr) : s.len;
}

static bool is_dollar(const struct node *n)
{
    return n->level_len > 0 && n->level[0] == '$';
}

/* Returns n or the first sibling after it that the walk may visit: with skip_dollar, levels
 * starting with `$` are left out [MQTT-4.7.2-1]. */
static const struct node *eligible(const struct node *n, bool skip_dollar)
{
    /* Acquire: pairs with the release store of prev->next in unlink_node() (a first next
     * was set before its node was published). */
    while (n != NULL && skip_dollar && is_dollar(n))
        n = atomic_load_explicit(&n->next, memory_order_acquire);
    return n;
}

static const struct node *first_child(const struct node *n, bool skip_dollar)
{
    /* Acquire: pairs with the release store of children in add_child() and unlink_node(). */
    return eligible(atomic_load_explicit(&n->children, memory_order_acquire), skip_dollar);
}

static const struct node *next_sibling(const struct node *n, bool skip_dollar)
{
    /* Acquire: as in eligible(). */
    return eligible(atomic_load_explicit(&n->next, memory_order_acquire), skip_dollar);
}

static void report(const struct node *n, smq_retained_match_cb cb, void *ctx)
{
    /* Acquire: pairs with the release store of msg in store_msg(). */
    struct smq_msg *msg = atomic_load_explicit(&n->msg, memory_order_acquire);
    if (msg != NULL)
        cb(ctx, msg);
}

/* Reports every message below top (not top's own), in pre-order, without a stack: down to
 * the first child, else across to the next sibling, else up until an ancestor has one.
 * Parents never change and siblings only point to older siblings, so a walk racing with a
 * writer still ends and visits each node at most once. */
static void report_subtree(const struct node *top, bool skip_dollar, smq_retained_match_cb cb,
                           void *ctx)
{
    const struct node *n = first_child(top, skip_dollar);
    while (n != NULL) {
        report(n, cb, ctx);
        const struct node *child = first_child(n, false);
        if (child != NULL) {
            n = child;
            continue;
        }
        for (;;) {
            const struct node *parent = n->parent;
            const struct node *sibling = next_sibling(n, skip_dollar && parent == top);
            if (sibling != NULL) {
                n = sibling;
                break;
            }
            n = parent;
            if (n == top) {
                n = NULL;
                break;
            }
        }
    }
}

static void push(struct frame_stack *st, struct frame f)
{
    if (st->top == st->cap) {
        size_t cap = st->cap * 2;
        if (st->on_heap) {
            st->frames = smq_realloc(st->frames, cap * sizeof(*st->frames));
        } else {
            struct frame *heap = smq_calloc(cap, sizeof(*heap));
            memcpy(heap, st->frames, st->top * sizeof(*heap));
            st->frames = heap;
            st->on_heap = true;
        }
        st->cap = cap;
    }
    st->frames[st->top++] = f;
}

/* Follows filter from its level at pos down from n until the filter ends, a level is
 * missing or `#` takes the rest. Every `+` on the way continues with the first child and
 * pushes a frame so the caller comes back for its siblings. */
static void walk(const struct smq_retained *store, struct smq_span filter, const struct node *n,
                 size_t pos, struct frame_stack *st, smq_retained_match_cb cb, void *ctx)
{
    while (n != NULL) {
        if (pos > filter.len) {
            report(n, cb, ctx);
            return;
        }
        size_t end = level_end(filter, pos);
        const uint8_t *level = filter.ptr + pos;
        size_t len = end - pos;
        /* Only a filter's first level can meet `$` topics, and there a wildcard must not
         * match them [MQTT-4.7.2-1]. */
        bool skip_dollar = pos == 0;
        if (len == 1 && level[0] == '#') {
            /* [MQTT-4.7.1-2] `#` also matches the parent level: `a/#` matches `a`. */
            report(n, cb, ctx);
            report_subtree(n, skip_dollar, cb, ctx);
            return;
        }
        if (len == 1 && level[0] == '+') {
            n = first_child(n, skip_dollar);
            if (n != NULL)
                push(st, (struct frame){n, end + 1, skip_dollar});
        } else {
            n = lookup_child(store, n, level, len);
        }
        pos = end + 1;
    }
}

void smq_retained_match(struct smq_retained *store, struct smq_span filter,
                        smq_retained_match_cb cb, void *ctx)
{
    /* The stack holds one frame per `+` on the current path: as deep as the filter at
     * most (32,768 levels), on the heap only past INLINE_FRAMES. */
    struct frame inline_frames[INLINE_FRAMES];
    struct frame_stack st = {inline_frames, 0, INLINE_FRAMES, false};
    walk(store, filter, store->root, 0, &st, cb, ctx);
    while (st.top > 0) {
        struct frame *f = &st.frames[st.top - 1];
        const struct node *sibling = next_sibling(f->node, f->skip_dollar);
        if (sibling == NULL) {
            st.top--;
            continue;
        }
        f->node = sibling;
        walk(store, filter, sibling, f->pos, &st, cb, ctx);
    }
    if (st.on_heap)
        smq_free(st.frames);
}

/* --- writing (under store->lock) ------------------------------------------------------- */

static void retained_node_free_cb(struct rcu_head *head)
{
    struct node *n = caa_container_of(head, struct node, rcu);
    HANDOVER_ACQUIRE(n);
    smq_free(n);
}

static void retained_msg_release_cb(struct rcu_head *head)
{
    struct retired_msg *r = caa_container_of(head, struct retired_msg, rcu);
    HANDOVER_ACQUIRE(r);
    smq_msg_unref(r->msg);
    smq_free(r);
}

static void retained_table_free_cb(struct rcu_head *head)
{
    struct table *t = caa_container_of(head, struct table, rcu);
    HANDOVER_ACQUIRE(t);
    smq_free(t);
}

/* Takes ownership of msg (a store reference) and drops it after a grace period. */
static void retire_msg(struct smq_msg *msg)
{
    struct retired_msg *r = smq_alloc(sizeof(*r));
    r->msg = msg;
    HANDOVER_RELEASE(r);
    call_rcu(&r->rcu, retained_msg_release_cb);
}

static struct table *table_new(size_t slots)
{
    struct table *t = smq_calloc(1, sizeof(*t) + slots * sizeof(t->slots[0]));
    t->mask = slots - 1;
    for (size_t i = 0; i < slots; i++)
        atomic_init(&t->slots[i], NULL);
    return t;
}

/* Returns the table size that holds live nodes at a load of at most 1/2. */
static size_t table_size_for(size_t live)
{
    size_t slots = TABLE_MIN;
    while (slots < 2 * live)
        slots *= 2;
    return slots;
}

/* Puts n in the first free slot of its probe sequence (t has one). Returns true when that
 * slot was NULL rather than a tombstone. */
static bool put_slot(struct table *t, struct node *n)
{
    size_t i = n->hash & t->mask;
    struct node *s;
    while ((s = atomic_load_explicit(&t->slots[i], memory_order_relaxed)) != NULL && s != TOMBSTONE)
        i = (i + 1) & t->mask;
    /* Release: pairs with the acquire in lookup_child(); n is built. */
    atomic_store_explicit(&t->slots[i], n, memory_order_release);
    return s == NULL;
}

/* Moves the live nodes into a new table of the given size, publishes it and frees the old
 * one after a grace period (readers may still probe it: it no longer changes). */
static void rebuild(struct smq_retained *store, size_t slots)
{
    struct table *old = atomic_load_explicit(&store->table, memory_order_relaxed);
    struct table *t = table_new(slots);
    for (size_t i = 0; i <= old->mask; i++) {
        struct node *n = atomic_load_explicit(&old->slots[i], memory_order_relaxed);
        if (n != NULL && n != TOMBSTONE)
            put_slot(t, n);
    }
    store->table_used = store->table_live;
    /* Release: pairs with the acquire in lookup_child(); t is filled. */
    atomic_store_explicit(&store->table, t, memory_order_release);
    HANDOVER_RELEASE(old);
    call_rcu(&old->rcu, retained_table_free_cb);
}

static void table_insert(struct smq_retained *store, struct node *n)
{
    struct table *t = atomic_load_explicit(&store->table, memory_order_relaxed);
    if ((store->table_used + 1) * 4 > (t->mask + 1) * 3) {
        rebuild(store, table_size_for(store->table_live + 1));
        t = atomic_load_explicit(&store->table, memory_order_relaxed);
    }
    if (put_slot(t, n))
        store->table_used++;
    store->table_live++;
}

static void table_remove(struct smq_retained *store, struct node *n)
{
    struct table *t = atomic_load_explicit(&store->table, memory_order_relaxed);
    size_t i = n->hash & t->mask;
    while (atomic_load_explicit(&t->slots[i], memory_order_relaxed) != n)
        i = (i + 1) & t->mask;
    /* Relaxed: a reader meeting the tombstone reads nothing through it. */
    atomic_store_explicit(&t->slots[i], TOMBSTONE, memory_order_relaxed);
    store->table_live--;
    if (t->mask + 1 > TABLE_MIN && store->table_live * 8 < t->mask + 1)
        rebuild(store, table_size_for(store->table_live));
}

/* Returns a new child of parent, built, then published in the hash table and at the front
 * of parent's children. */
static struct node *add_child(struct smq_retained *store, struct node *parent, const uint8_t *level,
                              size_t len)
{
    struct node *n = smq_alloc(sizeof(*n) + len);
    n->parent = parent;
    n->hash = hash_level(store, parent, level, len);
    n->level_len = (uint32_t)len;
    if (len > 0)
        memcpy(n->level, level, len);
    struct node *head = atomic_load_explicit(&parent->children, memory_order_relaxed);
    atomic_init(&n->children, NULL);
    atomic_init(&n->next, head);
    atomic_init(&n->msg, NULL);
    n->prev = NULL;

    table_insert(store, n);
    if (head != NULL)
        head->prev = n;
    /* Release: pairs with the acquire in first_child(); n is built. */
    atomic_store_explicit(&parent->children, n, memory_order_release);
    return n;
}

/* Unlinks n (no message, no children) from its parent and frees it after a grace period.
 * Readers standing on n keep following its next pointer, which still leads on. */
static void unlink_node(struct smq_retained *store, struct node *n)
{
    struct node *next = atomic_load_explicit(&n->next, memory_order_relaxed);
    struct node *prev = n->prev;
    /* Release: pairs with the acquire in next_sibling()/first_child(); next was built by a
     * writer before this one, ordered by the lock. */
    if (prev != NULL)
        atomic_store_explicit(&prev->next, next, memory_order_release);
    else
        atomic_store_explicit(&n->parent->children, next, memory_order_release);
    if (next != NULL)
        next->prev = prev;
    table_remove(store, n);
    HANDOVER_RELEASE(n);
    call_rcu(&n->rcu, retained_node_free_cb); /* n->prev is dead from here: rcu reuses it */
}

/* Removes n and then each ancestor left with neither a message nor children. */
static void prune(struct smq_retained *store, struct node *n)
{
    while (n != store->root && atomic_load_explicit(&n->msg, memory_order_relaxed) == NULL &&
           atomic_load_explicit(&n->children, memory_order_relaxed) == NULL) {
        struct node *parent = n->parent;
        unlink_node(store, n);
        n = parent;
    }
}

/* Follows topic from the root as far as its nodes exist. Returns the deepest node reached
 * and sets *pos to the offset of the first level without a node (topic.len + 1 when every
 * level has one). */
static struct node *find_path(struct smq_retained *store, struct smq_span topic, size_t *pos)
{
    struct node *n = store->root;
    size_t at = 0;
    while (at <= topic.len) {
        size_t end = level_end(topic, at);
        struct node *child = lookup_child(store, n, topic.ptr + at, end - at);
        if (child == NULL)
            break;
        n = child;
        at = end + 1;
    }
    *pos = at;
    return n;
}

/* Adds delta (which may be negative) to the stored bytes. Under lock. */
static void add_bytes(struct smq_retained *store, int64_t delta)
{
    uint64_t bytes = atomic_load_explicit(&store->bytes, memory_order_relaxed);
    atomic_store_explicit(&store->bytes, bytes + (uint64_t)delta, memory_order_relaxed);
}

/* True when bytes would stay within max_bytes after replacing `freed` bytes by `added`. */
static bool bytes_fit(const struct smq_retained *store, size_t freed, size_t added)
{
    uint64_t bytes = atomic_load_explicit(&store->bytes, memory_order_relaxed);
    return store->max_bytes == 0 || bytes - freed + added <= store->max_bytes;
}

/* Lowers the store's earliest expiry to msg's, if msg expires sooner. Under lock. */
static void note_expiry(struct smq_retained *store, const struct smq_msg *msg)
{
    if (msg->has_expiry &&
        msg->expires_at_ms < atomic_load_explicit(&store->next_expiry_ms, memory_order_relaxed))
        atomic_store_explicit(&store->next_expiry_ms, msg->expires_at_ms, memory_order_relaxed);
}

static int store_msg(struct smq_retained *store, struct smq_msg *msg, uint64_t max_messages)
{
    size_t pos, cost = smq_msg_cost(msg);
    struct node *n = find_path(store, msg->topic, &pos);
    if (pos > msg->topic.len) {
        struct smq_msg *old = atomic_load_explicit(&n->msg, memory_order_relaxed);
        if (old != NULL) {
            /* Replacing is allowed as long as the bytes stay within the limit. */
            size_t old_cost = smq_msg_cost(old);
            if (!bytes_fit(store, old_cost, cost))
                return SMQ_ELIMIT;
            /* Release: pairs with the acquire in report(). */
            atomic_store_explicit(&n->msg, smq_msg_ref(msg), memory_order_release);
            add_bytes(store, (int64_t)cost - (int64_t)old_cost);
            note_expiry(store, msg);
            retire_msg(old);
            return 0;
        }
    }
    uint64_t count = atomic_load_explicit(&store->count, memory_order_relaxed);
    if ((max_messages != 0 && count >= max_messages) || !bytes_fit(store, 0, cost))
        return SMQ_ELIMIT;
    while (pos <= msg->topic.len) {
        size_t end = level_end(msg->topic, pos);
        n = add_child(store, n, msg->topic.ptr + pos, end - pos);
        pos = end + 1;
    }
    /* Release: pairs with the acquire in report(). */
    atomic_store_explicit(&n->msg, smq_msg_ref(msg), memory_order_release);
    atomic_store_explicit(&store->count, count + 1, memory_order_relaxed);
    add_bytes(store, (int64_t)cost);
    note_expiry(store, msg);
    return 0;
}

static void delete_topic(struct smq_retained *store, struct smq_span topic)
{
    size_t pos;
    struct node *n = find_path(store, topic, &pos);
    if (pos <= topic.len)
        return;
    struct smq_msg *old = atomic_load_explicit(&n->msg, memory_order_relaxed);
    if (old == NULL)
        return;
    /* Release for symmetry with store_msg(); a reader seeing NULL reads nothing through it. */
    atomic_store_explicit(&n->msg, NULL, memory_order_release);
    atomic_store_explicit(&store->count,
                          atomic_load_explicit(&store->count, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    add_bytes(store, -(int64_t)smq_msg_cost(old));
    retire_msg(old);
    prune(store, n);
}

/* --- expiry (under store->lock) -------------------------------------------------------- */

/* What a purge walk gathers: the expired messages (borrowed: the store's references) and the
 * earliest expiry among the others. */
struct expired {
    struct smq_msg **msgs;
    size_t n, cap;
    int64_t now_ms;
    int64_t next_ms;
};

static void gather_expired(void *ctx, struct smq_msg *msg)
{
    struct expired *e = ctx;
    if (!msg->has_expiry)
        return;
    if (!smq_msg_is_expired(msg, e->now_ms)) {
        if (msg->expires_at_ms < e->next_ms)
            e->next_ms = msg->expires_at_ms;
        return;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 16;
        e->msgs = smq_realloc(e->msgs, e->cap * sizeof(*e->msgs));
    }
    e->msgs[e->n++] = msg;
}

/* Deletes every message expired at now_ms and sets the earliest expiry left. One walk of
 * the whole store, then one deletion per expired topic: nothing changes under the walk. */
static size_t purge_locked(struct smq_retained *store, int64_t now_ms)
{
    struct expired e = {.now_ms = now_ms, .next_ms = INT64_MAX};
    report_subtree(store->root, false, gather_expired, &e);
    /* The store still holds each gathered message: delete_topic() retires it only after
     * its topic span was read. */
    for (size_t i = 0; i < e.n; i++)
        delete_topic(store, e.msgs[i]->topic);
    smq_free(e.msgs);
    atomic_store_explicit(&store->next_expiry_ms, e.next_ms, memory_order_relaxed);
    return e.n;
}

static bool purge_may_find(const struct smq_retained *store, int64_t now_ms)
{
    return now_ms >= atomic_load_explicit(&((struct smq_retained *)store)->next_expiry_ms,
                                          memory_order_relaxed);
}

/* call_rcu() wants an online QSBR thread: a caller that is offline (a worker between two
 * polls) is put online for the call. Returns whether it was online. */
static bool enter_writer(struct smq_retained *store)
{
    bool was_online = rcu_read_ongoing();
    if (!was_online)
        rcu_thread_online();
    pthread_mutex_lock(&store->lock);
    return was_online;
}

static void leave_writer(struct smq_retained *store, bool was_online)
{
    pthread_mutex_unlock(&store->lock);
    if (!was_online)
        rcu_thread_offline();
}

int smq_retained_set(struct smq_retained *store, struct smq_msg *msg, uint64_t max_messages,
                     int64_t now_ms)
{
    /* The wildcard check keeps a stored `a/+` from being taken for a filter level later. */
    if (msg->topic.len > TOPIC_MAX || !smq_topic_name_is_valid(msg->topic))
        return SMQ_EINVAL;
    /* The writer itself needs no read side: it only touches linked nodes and the current
     * table, which nothing frees under the lock. */
    bool was_online = enter_writer(store);
    int rc = 0;
    if (msg->payload.len == 0) {
        delete_topic(store, msg->topic); /* [MQTT-3.3.1-6] */
    } else {
        rc = store_msg(store, msg, max_messages);
        /* Expired messages must not keep a live one out [MQTT-3.3.2-5]. */
        if (rc == SMQ_ELIMIT && purge_may_find(store, now_ms) && purge_locked(store, now_ms) > 0)
            rc = store_msg(store, msg, max_messages);
    }
    leave_writer(store, was_online);
    return rc;
}

size_t smq_retained_purge_expired(struct smq_retained *store, int64_t now_ms)
{
    if (!purge_may_find(store, now_ms))
        return 0;
    bool was_online = enter_writer(store);
    size_t n = purge_locked(store, now_ms);
    leave_writer(store, was_online);
    return n;
}

/* --- lifecycle ------------------------------------------------------------------------- */

struct smq_retained *smq_retained_new(void)
{
    struct smq_retained *store = smq_calloc(1, sizeof(*store));
    store->root = smq_calloc(1, sizeof(*store->root));
    atomic_init(&store->root->children, NULL);
    atomic_init(&store->root->next, NULL);
    atomic_init(&store->root->msg, NULL);
    smq_hash_seed(&store->seed);
    atomic_init(&store->table, table_new(TABLE_MIN));
    atomic_init(&store->count, 0);
    atomic_init(&store->bytes, 0);
    atomic_init(&store->next_expiry_ms, INT64_MAX);
    pthread_mutex_init(&store->lock, NULL);
    return store;
}

void smq_retained_free(struct smq_retained *store)
{
    if (store == NULL)
        return;
    /* Free the trie bottom up without a stack: descend through first children, free a
     * leaf, make its next sibling its parent's first child, go back up. */
    struct node *n = store->root;
    for (;;) {
        struct node *child = atomic_load_explicit(&n->children, memory_order_relaxed);
        if (child != NULL) {
            n = child;
            continue;
        }
        struct node *parent = n->parent;
        if (parent != NULL)
            atomic_store_explicit(&parent->children,
                                  atomic_load_explicit(&n->next, memory_order_relaxed),
                                  memory_order_relaxed);
        smq_msg_unref(atomic_load_explicit(&n->msg, memory_order_relaxed));
        smq_free(n);
        if (parent == NULL)
            break;
        n = parent;
    }
    smq_free(atomic_load_explicit(&store->table, memory_order_relaxed));
    pthread_mutex_destroy(&store->lock);
    smq_free(store);
}

void smq_retained_set_max_bytes(struct smq_retained *store, uint64_t max_bytes)
{
    store->max_bytes = max_bytes;
}

uint64_t smq_retained_bytes(const struct smq_retained *store)
{
    return atomic_load_explicit(&((struct smq_retained *)store)->bytes, memory_order_relaxed);
}

uint64_t smq_retained_count(const struct smq_retained *store)
{
    return atomic_load_explicit(&((struct smq_retained *)store)->count, memory_order_relaxed);
}
