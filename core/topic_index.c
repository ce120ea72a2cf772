/* The subscription index (see topic_index.h): a trie of filter levels read without locks.
 *
 * Shape. One node per filter level. A node keeps its literal children in a small
 * open-addressing hash table (struct ktable: linear probing, keyed SipHash-1-3 of the level
 * with a per-index random key, so crafted level names cannot build long probe chains), its
 * `+` and `#` children in two pointers, its plain subscribers in a slot array (struct subarr)
 * and its shared groups in a second ktable keyed by group name. A group keeps its members in
 * a subarr and a round-robin cursor. A leaf node with no children and no groups pays for no
 * table at all; tables and arrays are allocated on first use and dropped when they empty.
 *
 * Publication. Writers hold index->lock. Everything a reader can reach is either immutable
 * once published (node and group names, struct sub, a table's or array's capacity) or a
 * C11 atomic: a new object is filled in first and then made reachable by one release store
 * (a table or array slot, a child pointer, the table or array pointer of its owner), which
 * the reader's acquire load pairs with; storing NULL or a tombstone publishes nothing and is
 * relaxed. The writer reads these atomics with relaxed order: the lock orders writers among
 * themselves. Tables and arrays are changed in place only in ways a concurrent reader
 * tolerates (filling an unused slot, replacing or clearing a slot); anything else (growth,
 * shrinking, compaction) builds a new table or array and swaps the owner's pointer.
 * Replaced memory is collected per write operation and freed by ONE call_rcu() at its end
 * (struct retire), after a grace period; the writer never waits.
 *
 * What a match may see. A subscription present during the whole match is reported exactly
 * once (a replaced one with its old or its new options); one added or removed meanwhile may
 * or may not be. A plain subscription removed and added again during one match may be
 * reported twice (old slot, new slot); a shared group always yields one member at most.
 *
 * Complexity. Match: O(levels of topic x matching nodes), each node visited at most once,
 * iteratively with a stack bounded by the trie depth (<= SMQ_INDEX_MAX_LEVELS). Subscribe
 * and unsubscribe: O(levels of filter) plus amortized O(1) on the node: tables and arrays
 * are rebuilt only after a number of changes proportional to their size, and a subarr with
 * more than SUBS_SMALL slots keeps a writer-only session map, so building a 100,000-member
 * fan-out (or tearing it down) costs O(n) overall, not O(n^2).
 *
 * Memory (x86_64). A node is 64 bytes plus its level name in one allocation, plus its slot
 * in the parent's table (8 bytes at a load of 3/8 to 3/4). A subscription is a 24-byte
 * struct sub plus one 8-byte array slot (arrays hold 1 to ~6 slots per live entry, plus a
 * 24-byte header per node). Empty groups and nodes are pruned on unsubscribe. */
#include "core/topic_index.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/hash.h"
#include "core/rcu.h"
#include "proto/errors.h"
#include "proto/topic.h"

/* A subarr with at most this many slots is searched linearly by the writer. */
#define SUBS_SMALL 8u
/* Frames of the match stack: a DFS that pushes at most two children per node holds at most
 * depth + 1 frames, and the trie is at most SMQ_INDEX_MAX_LEVELS deep below the root. */
#define MATCH_STACK (2u * (SMQ_INDEX_MAX_LEVELS + 1u))
/* MQTT strings are at most 65,535 bytes. */
#define FILTER_MAX_BYTES 65535u

/* ---------------------------------------------------------------------------------------- */
/* Objects                                                                                  */

/* The name of a node (one filter level) or of a shared group. Immutable once published. */
struct keyed {
    uint32_t hash;       /* level_hash() of name; 0 for `+`, `#` and the root (never hashed) */
    uint32_t len;        /* bytes of name */
    const uint8_t *name; /* owned: the tail of the allocation that holds this struct */
};

/* String-keyed hash table of struct keyed (children of a node, groups of a node). Linear
 * probing; a slot goes NULL -> entry -> TOMB -> entry ..., never back to NULL, so a probe
 * chain a reader is following never breaks. Replaced whole when it grows or shrinks. */
struct ktable {
    uint32_t mask; /* immutable: capacity - 1, capacity a power of two */
    uint32_t live; /* writer only: entries */
    uint32_t used; /* writer only: entries + tombstones (slots that are not NULL) */
    /* --- shared: atomics only --- */
    /* Writer: release store of an entry (publishes the entry and its name, pairs with the
     * reader's acquire load), relaxed store of TOMB (publishes nothing). Reader: acquire. */
    _Atomic(struct keyed *) slot[];
};

/* One subscription. Immutable once published except `slot`, which readers never touch. */
struct sub {
    struct smq_sub_target target; /* immutable once published */
    uint32_t slot;                /* writer only: index in the owning subarr */
};

/* The subscribers of a node or the members of a group. Entries are appended at len; removal
 * clears a slot to NULL; replacing options swaps the slot's pointer. A slot never goes from
 * NULL back to a sub within one array, so a reader never sees an entry twice or skips one
 * that stayed. Compaction (more NULL slots than live ones) and growth build a new array. */
struct subarr {
    uint32_t cap;            /* immutable: slots */
    uint32_t live;           /* writer only: non-NULL slots */
    struct sub **by_session; /* writer only, owned: session -> sub, open addressing with
                              * 2 * cap entries; NULL when cap <= SUBS_SMALL */
    /* --- shared: atomics only --- */
    /* Slots [0, len) have been written. Writer: release store after writing slot[len]
     * (pairs with the reader's acquire load, which then reads only slots below it). */
    _Atomic uint32_t len;
    /* Writer: release store of a sub (publishes its target, pairs with the reader's acquire
     * load), relaxed store of NULL (publishes nothing). Reader: acquire. */
    _Atomic(struct sub *) slot[];
};

/* A trie node: one filter level. The root has an empty name and no parent. */
struct node {
    struct keyed key;    /* immutable: the level; a child of its parent by this name */
    struct node *parent; /* writer only: NULL for the root */
    /* --- shared: atomics only. Writer stores a new object with release (it publishes the
     * object, pairs with the reader's acquire load) and NULL with relaxed. --- */
    _Atomic(struct ktable *) kids;   /* literal-level children; NULL when none */
    _Atomic(struct node *) plus;     /* the `+` child */
    _Atomic(struct node *) pound;    /* the `#` child, always a leaf */
    _Atomic(struct ktable *) groups; /* struct group by share name; NULL when none */
    _Atomic(struct subarr *) subs;   /* plain subscriptions; NULL when none */
};

/* A shared subscription group `$share/{name}/{path of its node}`. */
struct group {
    struct keyed key; /* immutable: the share name */
    /* --- shared: atomics only --- */
    /* Round-robin cursor (group_pick). Readers fetch_add with relaxed order: every match
     * takes a distinct ticket, and nothing else is ordered by it, so no acquire/release is
     * needed; a pick that stepped over a hole moves it on with a relaxed compare-and-swap. */
    _Atomic uint64_t next;
    _Atomic(struct subarr *) members; /* as node.subs */
};

/* Pointers a write operation replaced, freed together after one grace period. */
struct retire {
    struct rcu_head rcu; /* passed to call_rcu(), which hands the batch to free_retired_cb */
    size_t n, cap;       /* writer only until call_rcu(), then the callback's */
    void *ptr[];         /* owned: each freed with smq_free() by the callback */
};

struct smq_index {
    struct node *root; /* owned; immutable pointer, the root itself is never pruned */
    struct smq_hash_key key; /* immutable: keys the hash of level and group names */
    pthread_mutex_t lock;
    /* --- writer only: under lock --- */
    struct retire *retired; /* owned until handed to call_rcu() at the end of an operation */
    /* --- shared: atomics only --- */
    /* Writer: relaxed store under lock. Readers: relaxed load (a statistic; orders nothing). */
    _Atomic uint64_t count;
};

/* A session id no session has: group_pick() skips nobody. */
#define NO_SESSION UINT64_MAX

/* Its address marks a removed ktable slot. */
static struct keyed tombstone;
#define TOMB (&tombstone)

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---------------------------------------------------------------------------------------- */
/* Hashing                                                                                  */

/* A keyed hash (core/hash.h): level names are chosen by clients. */
static uint32_t level_hash(const struct smq_hash_key *key, const uint8_t *p, size_t len)
{
    uint64_t h = smq_hash_bytes(key, p, len);
    return (uint32_t)(h ^ (h >> 32));
}

/* Session ids are assigned by the broker, not chosen by peers: a plain mixer will do
 * (the splitmix64 finalizer). */
static uint32_t session_hash(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (uint32_t)x;
}

/* ---------------------------------------------------------------------------------------- */
/* Deferred freeing                                                                         */

/* Queues p to be freed after the grace period that follows the current write operation. */
static void retire(struct smq_index *index, void *p)
{
    struct retire *r = index->retired;
    if (r == NULL || r->n == r->cap) {
        size_t cap = r ? 2 * r->cap : 16;
        r = smq_realloc(r, sizeof(*r) + cap * sizeof(void *));
        if (index->retired == NULL)
            r->n = 0;
        r->cap = cap;
        index->retired = r;
    }
    r->ptr[r->n++] = p;
}

static void free_retired_cb(struct rcu_head *head)
{
    struct retire *r = CONTAINER(head, struct retire, rcu);
    for (size_t i = 0; i < r->n; i++)
        smq_free(r->ptr[i]);
    smq_free(r);
}

/* Ends a write operation: one call_rcu() for everything it replaced. */
static void flush_retired(struct smq_index *index)
{
    if (index->retired == NULL)
        return;
    call_rcu(&index->retired->rcu, free_retired_cb);
    index->retired = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* ktable: children and groups by name                                                      */

static bool keyed_is(const struct keyed *k, const uint8_t *name, size_t len, uint32_t hash)
{
    return k->hash == hash && k->len == len && (len == 0 || memcmp(k->name, name, len) == 0);
}

/* Returns the entry called name, or NULL. Readers and the writer; t may be NULL. */
static struct keyed *ktable_find(const struct ktable *t, const uint8_t *name, size_t len,
                                 uint32_t hash)
{
    if (t == NULL)
        return NULL;
    uint32_t i = hash & t->mask;
    for (uint32_t probes = 0; probes <= t->mask; probes++, i = (i + 1) & t->mask) {
        struct keyed *k = atomic_load_explicit(&t->slot[i], memory_order_acquire);
        if (k == NULL)
            return NULL;
        if (k != TOMB && keyed_is(k, name, len, hash))
            return k;
    }
    return NULL;
}

/* Capacity for n entries at a load of at most 1/2. */
static uint32_t ktable_capacity(uint32_t n)
{
    uint32_t cap = 2;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

/* Writer: replaces *owner (which may be NULL) by a table of cap slots holding the same
 * entries, and returns it. */
static struct ktable *ktable_rebuild(struct smq_index *index, _Atomic(struct ktable *) *owner,
                                     uint32_t cap)
{
    struct ktable *old = atomic_load_explicit(owner, memory_order_relaxed);
    struct ktable *t = smq_calloc(1, sizeof(*t) + cap * sizeof(t->slot[0]));
    t->mask = cap - 1;
    for (uint32_t i = 0; i < cap; i++)
        atomic_init(&t->slot[i], NULL);
    for (uint32_t j = 0; old != NULL && j <= old->mask; j++) {
        struct keyed *k = atomic_load_explicit(&old->slot[j], memory_order_relaxed);
        if (k == NULL || k == TOMB)
            continue;
        uint32_t i = k->hash & t->mask;
        while (atomic_load_explicit(&t->slot[i], memory_order_relaxed) != NULL)
            i = (i + 1) & t->mask;
        /* Unpublished table: the release store of the table itself publishes this. */
        atomic_store_explicit(&t->slot[i], k, memory_order_relaxed);
        t->live++;
    }
    t->used = t->live;
    atomic_store_explicit(owner, t, memory_order_release); /* pairs: acquire in readers */
    if (old != NULL)
        retire(index, old);
    return t;
}

/* Writer: adds k, which the table does not hold. */
static void ktable_insert(struct smq_index *index, _Atomic(struct ktable *) *owner, struct keyed *k)
{
    struct ktable *t = atomic_load_explicit(owner, memory_order_relaxed);
    if (t == NULL || (t->used + 1) * 4 > (t->mask + 1) * 3)
        t = ktable_rebuild(index, owner, ktable_capacity(t ? t->live + 1 : 1));
    /* The first tombstone of the chain may be reused: k is not further down the chain. */
    uint32_t i = k->hash & t->mask;
    struct keyed *s;
    while ((s = atomic_load_explicit(&t->slot[i], memory_order_relaxed)) != NULL && s != TOMB)
        i = (i + 1) & t->mask;
    if (s == NULL)
        t->used++;
    t->live++;
    atomic_store_explicit(&t->slot[i], k, memory_order_release); /* pairs: ktable_find */
}

/* Writer: removes k, which the table holds; drops the table when it empties and shrinks it
 * when it is mostly empty. k itself is the caller's to retire. */
static void ktable_remove(struct smq_index *index, _Atomic(struct ktable *) *owner, struct keyed *k)
{
    struct ktable *t = atomic_load_explicit(owner, memory_order_relaxed);
    uint32_t i = k->hash & t->mask;
    while (atomic_load_explicit(&t->slot[i], memory_order_relaxed) != k)
        i = (i + 1) & t->mask;
    atomic_store_explicit(&t->slot[i], TOMB, memory_order_relaxed);
    t->live--;
    if (t->live == 0) {
        atomic_store_explicit(owner, NULL, memory_order_relaxed);
        retire(index, t);
    } else if (t->mask + 1 > 8 && t->live * 8 < t->mask + 1) {
        ktable_rebuild(index, owner, ktable_capacity(t->live));
    }
}

/* ---------------------------------------------------------------------------------------- */
/* subarr: subscribers of a node, members of a group                                        */

static void map_put(struct sub **map, uint32_t mask, struct sub *s)
{
    uint32_t i = session_hash(s->target.session_id) & mask;
    while (map[i] != NULL && map[i]->target.session_id != s->target.session_id)
        i = (i + 1) & mask;
    map[i] = s;
}

/* Removes session from a linear-probing map by shifting later entries back (no tombstones:
 * the map is the writer's alone). */
static void map_del(struct sub **map, uint32_t mask, uint64_t session)
{
    uint32_t i = session_hash(session) & mask;
    while (map[i]->target.session_id != session)
        i = (i + 1) & mask;
    for (uint32_t j = i;;) {
        map[i] = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (map[j] == NULL)
                return;
            uint32_t home = session_hash(map[j]->target.session_id) & mask;
            /* map[j] may move to i unless its home lies cyclically in (i, j]. */
            bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays)
                break;
        }
        map[i] = map[j];
        i = j;
    }
}

/* Returns the session's sub in a (which may be NULL), or NULL. Writer only. */
static struct sub *subarr_find(const struct subarr *a, uint64_t session)
{
    if (a == NULL)
        return NULL;
    if (a->by_session != NULL) {
        uint32_t mask = 2 * a->cap - 1;
        for (uint32_t i = session_hash(session) & mask; a->by_session[i]; i = (i + 1) & mask) {
            if (a->by_session[i]->target.session_id == session)
                return a->by_session[i];
        }
        return NULL;
    }
    uint32_t len = atomic_load_explicit(&a->len, memory_order_relaxed);
    for (uint32_t i = 0; i < len; i++) {
        struct sub *s = atomic_load_explicit(&a->slot[i], memory_order_relaxed);
        if (s != NULL && s->target.session_id == session)
            return s;
    }
    return NULL;
}

/* Slots for n entries: room for n/2 more appends before the next rebuild. */
static uint32_t subarr_capacity(uint32_t n)
{
    uint32_t cap = 1;
    while (cap < n + n / 2)
        cap *= 2;
    return cap;
}

/* Writer: replaces *owner (which may be NULL) by a compacted array of cap slots holding the
 * same subs in the same order, and returns it. */
static struct subarr *subarr_rebuild(struct smq_index *index, _Atomic(struct subarr *) *owner,
                                     uint32_t cap)
{
    struct subarr *old = atomic_load_explicit(owner, memory_order_relaxed);
    struct subarr *a = smq_calloc(1, sizeof(*a) + cap * sizeof(a->slot[0]));
    a->cap = cap;
    if (cap > SUBS_SMALL)
        a->by_session = smq_calloc(2 * (size_t)cap, sizeof(a->by_session[0]));
    uint32_t n = 0;
    uint32_t old_len = old ? atomic_load_explicit(&old->len, memory_order_relaxed) : 0;
    for (uint32_t i = 0; i < old_len; i++) {
        struct sub *s = atomic_load_explicit(&old->slot[i], memory_order_relaxed);
        if (s == NULL)
            continue;
        s->slot = n;
        /* Unpublished array: the release store of the array itself publishes this. */
        atomic_init(&a->slot[n++], s);
        if (a->by_session != NULL)
            map_put(a->by_session, 2 * cap - 1, s);
    }
    for (uint32_t i = n; i < cap; i++)
        atomic_init(&a->slot[i], NULL);
    a->live = n;
    atomic_init(&a->len, n);
    atomic_store_explicit(owner, a, memory_order_release); /* pairs: acquire in readers */
    if (old != NULL) {
        smq_free(old->by_session); /* the writer's alone: no grace period needed */
        retire(index, old);
    }
    return a;
}

/* Writer: adds target to the list, or replaces the options of the session's entry. Returns
 * 1 when replaced, 0 when added. flags are stored in place of target->flags. */
static int subarr_put(struct smq_index *index, _Atomic(struct subarr *) *owner,
                      const struct smq_sub_target *target, uint8_t flags)
{
    struct subarr *a = atomic_load_explicit(owner, memory_order_relaxed);
    struct sub *old = subarr_find(a, target->session_id);
    struct sub *s = smq_alloc(sizeof(*s));
    s->target = *target;
    s->target.flags = flags;
    if (old != NULL) {
        s->slot = old->slot;
        if (a->by_session != NULL)
            map_put(a->by_session, 2 * a->cap - 1, s);
        /* A reader sees the old options or the new ones, never neither. */
        atomic_store_explicit(&a->slot[s->slot], s, memory_order_release);
        retire(index, old);
        return 1;
    }
    if (a == NULL || atomic_load_explicit(&a->len, memory_order_relaxed) == a->cap)
        a = subarr_rebuild(index, owner, subarr_capacity(a ? a->live + 1 : 1));
    uint32_t len = atomic_load_explicit(&a->len, memory_order_relaxed);
    s->slot = len;
    atomic_store_explicit(&a->slot[len], s, memory_order_release); /* pairs: report_* */
    atomic_store_explicit(&a->len, len + 1, memory_order_release); /* pairs: report_* */
    a->live++;
    if (a->by_session != NULL)
        map_put(a->by_session, 2 * a->cap - 1, s);
    return 0;
}

/* Writer: removes the session's entry. Returns false when there was none. Drops the array
 * when it empties and compacts it when most of its slots are cleared. */
static bool subarr_remove(struct smq_index *index, _Atomic(struct subarr *) *owner,
                          uint64_t session)
{
    struct subarr *a = atomic_load_explicit(owner, memory_order_relaxed);
    struct sub *s = subarr_find(a, session);
    if (s == NULL)
        return false;
    atomic_store_explicit(&a->slot[s->slot], NULL, memory_order_relaxed);
    if (a->by_session != NULL)
        map_del(a->by_session, 2 * a->cap - 1, session);
    a->live--;
    retire(index, s);
    uint32_t len = atomic_load_explicit(&a->len, memory_order_relaxed);
    if (a->live == 0) {
        atomic_store_explicit(owner, NULL, memory_order_relaxed);
        smq_free(a->by_session);
        retire(index, a);
    } else if (len - a->live > a->live) {
        subarr_rebuild(index, owner, subarr_capacity(a->live));
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Nodes and groups (writer side)                                                           */

/* Returns a zeroed allocation of size bytes followed by a copy of name, with key set. */
static void *keyed_new(size_t size, size_t key_offset, const uint8_t *name, size_t len,
                       uint32_t hash)
{
    char *obj = smq_calloc(1, size + len);
    uint8_t *tail = (uint8_t *)obj + size;
    if (len > 0)
        memcpy(tail, name, len);
    *(struct keyed *)(void *)(obj + key_offset) = (struct keyed){hash, (uint32_t)len, tail};
    return obj;
}

static struct node *node_new(const uint8_t *name, size_t len, uint32_t hash, struct node *parent)
{
    struct node *n = keyed_new(sizeof(*n), offsetof(struct node, key), name, len, hash);
    n->parent = parent;
    atomic_init(&n->kids, NULL);
    atomic_init(&n->plus, NULL);
    atomic_init(&n->pound, NULL);
    atomic_init(&n->groups, NULL);
    atomic_init(&n->subs, NULL);
    return n;
}

/* Returns n's child for one filter level, creating it when create; NULL when absent. The
 * writer calls it with create either way; a reader (smq_index_pick) with create false only,
 * which is why the loads acquire: they pair with the release stores that published the
 * child or the table. */
static struct node *node_child(struct smq_index *index, struct node *n, const uint8_t *level,
                               size_t len, bool create)
{
    _Atomic(struct node *) *wild = NULL;
    if (len == 1 && level[0] == '+')
        wild = &n->plus;
    else if (len == 1 && level[0] == '#')
        wild = &n->pound;
    if (wild != NULL) {
        struct node *c = atomic_load_explicit(wild, memory_order_acquire);
        if (c == NULL && create) {
            c = node_new(level, 1, 0, n);
            atomic_store_explicit(wild, c, memory_order_release); /* pairs: smq_index_match */
        }
        return c;
    }
    uint32_t hash = level_hash(&index->key, level, len);
    struct keyed *k =
        ktable_find(atomic_load_explicit(&n->kids, memory_order_acquire), level, len, hash);
    if (k != NULL)
        return CONTAINER(k, struct node, key);
    if (!create)
        return NULL;
    struct node *c = node_new(level, len, hash, n);
    ktable_insert(index, &n->kids, &c->key);
    return c;
}

/* Returns the end of the level that starts at pos: the next '/' or the end of s. */
static size_t level_end(struct smq_span s, size_t pos)
{
    if (pos >= s.len)
        return s.len;
    const uint8_t *slash = memchr(s.ptr + pos, '/', s.len - pos);
    return slash ? (size_t)(slash - s.ptr) : s.len;
}

/* Returns the node of a filter path (no `$share/` prefix), creating the missing levels when
 * create (writer only); NULL when absent. The caller has checked the number of levels. */
static struct node *node_walk(struct smq_index *index, struct smq_span path, bool create)
{
    struct node *n = index->root;
    for (size_t pos = 0;; pos++) {
        size_t end = level_end(path, pos);
        n = node_child(index, n, path.ptr + pos, end - pos, create);
        if (n == NULL || end == path.len)
            return n;
        pos = end;
    }
}

static bool node_is_empty(struct node *n)
{
    return atomic_load_explicit(&n->kids, memory_order_relaxed) == NULL &&
           atomic_load_explicit(&n->plus, memory_order_relaxed) == NULL &&
           atomic_load_explicit(&n->pound, memory_order_relaxed) == NULL &&
           atomic_load_explicit(&n->groups, memory_order_relaxed) == NULL &&
           atomic_load_explicit(&n->subs, memory_order_relaxed) == NULL;
}

/* Unlinks and retires n and then each ancestor left empty, up to the root. */
static void node_prune(struct smq_index *index, struct node *n)
{
    while (n != index->root && node_is_empty(n)) {
        struct node *p = n->parent;
        if (atomic_load_explicit(&p->plus, memory_order_relaxed) == n)
            atomic_store_explicit(&p->plus, NULL, memory_order_relaxed);
        else if (atomic_load_explicit(&p->pound, memory_order_relaxed) == n)
            atomic_store_explicit(&p->pound, NULL, memory_order_relaxed);
        else
            ktable_remove(index, &p->kids, &n->key);
        retire(index, n);
        n = p;
    }
}

/* Returns n's group called name, creating it when create (writer only); NULL when absent.
 * The load acquires for a reader calling with create false (as node_child). */
static struct group *group_get(struct smq_index *index, struct node *n, struct smq_span name,
                               bool create)
{
    uint32_t hash = level_hash(&index->key, name.ptr, name.len);
    struct keyed *k = ktable_find(atomic_load_explicit(&n->groups, memory_order_acquire), name.ptr,
                                  name.len, hash);
    if (k != NULL)
        return CONTAINER(k, struct group, key);
    if (!create)
        return NULL;
    struct group *g = keyed_new(sizeof(*g), offsetof(struct group, key), name.ptr, name.len, hash);
    atomic_init(&g->next, 0);
    atomic_init(&g->members, NULL);
    ktable_insert(index, &n->groups, &g->key);
    return g;
}

/* Splits filter into its group (empty when not shared) and path. Returns false when the
 * filter is not one the index may hold. */
static bool split_filter(struct smq_span filter, struct smq_span *group, struct smq_span *path)
{
    *group = (struct smq_span){NULL, 0};
    *path = filter;
    if (filter.len > FILTER_MAX_BYTES || !smq_topic_filter_is_valid(filter))
        return false;
    if (smq_topic_is_shared(filter))
        return smq_topic_share_split(filter, group, path);
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* API                                                                                      */

struct smq_index *smq_index_new(void)
{
    struct smq_index *index = smq_calloc(1, sizeof(*index));
    index->root = node_new(NULL, 0, 0, NULL);
    smq_hash_seed(&index->key);
    SMQ_ASSERT(pthread_mutex_init(&index->lock, NULL) == 0); /* cannot fail on Linux */
    atomic_init(&index->count, 0);
    return index;
}

static void subarr_free(struct subarr *a)
{
    if (a == NULL)
        return;
    uint32_t len = atomic_load_explicit(&a->len, memory_order_relaxed);
    for (uint32_t i = 0; i < len; i++)
        smq_free(atomic_load_explicit(&a->slot[i], memory_order_relaxed));
    smq_free(a->by_session);
    smq_free(a);
}

/* Frees n's groups, subscribers and tables, pushing its children on *stack. */
static void node_free(struct node *n, struct node ***stack, size_t *top, size_t *cap)
{
    struct ktable *tables[2] = {atomic_load_explicit(&n->kids, memory_order_relaxed),
                                atomic_load_explicit(&n->groups, memory_order_relaxed)};
    for (int t = 0; t < 2; t++) {
        for (uint32_t i = 0; tables[t] != NULL && i <= tables[t]->mask; i++) {
            struct keyed *k = atomic_load_explicit(&tables[t]->slot[i], memory_order_relaxed);
            if (k == NULL || k == TOMB)
                continue;
            if (t == 1) {
                struct group *g = CONTAINER(k, struct group, key);
                subarr_free(atomic_load_explicit(&g->members, memory_order_relaxed));
                smq_free(g);
                continue;
            }
            if (*top + 2 >= *cap) {
                *cap *= 2;
                *stack = smq_realloc(*stack, *cap * sizeof(**stack));
            }
            (*stack)[(*top)++] = CONTAINER(k, struct node, key);
        }
        smq_free(tables[t]);
    }
    if (*top + 2 >= *cap) {
        *cap *= 2;
        *stack = smq_realloc(*stack, *cap * sizeof(**stack));
    }
    struct node *wild[2] = {atomic_load_explicit(&n->plus, memory_order_relaxed),
                            atomic_load_explicit(&n->pound, memory_order_relaxed)};
    for (int w = 0; w < 2; w++) {
        if (wild[w] != NULL)
            (*stack)[(*top)++] = wild[w];
    }
    subarr_free(atomic_load_explicit(&n->subs, memory_order_relaxed));
    smq_free(n);
}

void smq_index_free(struct smq_index *index)
{
    if (index == NULL)
        return;
    size_t cap = 64, top = 0;
    struct node **stack = smq_alloc(cap * sizeof(*stack));
    stack[top++] = index->root;
    while (top > 0)
        node_free(stack[--top], &stack, &top, &cap);
    smq_free(stack);
    flush_retired(index); /* empty unless an operation was cut short; kept for safety */
    pthread_mutex_destroy(&index->lock);
    smq_free(index);
}

int smq_index_subscribe(struct smq_index *index, struct smq_span filter,
                        const struct smq_sub_target *target)
{
    struct smq_span group, path;
    if (!split_filter(filter, &group, &path))
        return SMQ_EINVAL;
    if (smq_topic_levels(path) > SMQ_INDEX_MAX_LEVELS)
        return SMQ_ELIMIT;
    pthread_mutex_lock(&index->lock);
    struct node *n = node_walk(index, path, true);
    int replaced;
    if (group.len > 0) {
        struct group *g = group_get(index, n, group, true);
        replaced = subarr_put(index, &g->members, target, target->flags | SMQ_SUB_SHARED);
    } else {
        replaced = subarr_put(index, &n->subs, target, target->flags & ~SMQ_SUB_SHARED);
    }
    if (!replaced) {
        uint64_t count = atomic_load_explicit(&index->count, memory_order_relaxed);
        atomic_store_explicit(&index->count, count + 1, memory_order_relaxed);
    }
    flush_retired(index);
    pthread_mutex_unlock(&index->lock);
    return replaced;
}

int smq_index_unsubscribe(struct smq_index *index, struct smq_span filter, uint64_t session_id)
{
    struct smq_span group, path;
    if (!split_filter(filter, &group, &path) || smq_topic_levels(path) > SMQ_INDEX_MAX_LEVELS)
        return SMQ_ENOENT; /* never stored */
    pthread_mutex_lock(&index->lock);
    struct node *n = node_walk(index, path, false);
    bool removed = false;
    if (n != NULL && group.len > 0) {
        /* [PITFALLS] only the membership of this group: the plain entry of the same session
         * and filter lives in n->subs and is not touched. */
        struct group *g = group_get(index, n, group, false);
        removed = g != NULL && subarr_remove(index, &g->members, session_id);
        if (removed && atomic_load_explicit(&g->members, memory_order_relaxed) == NULL) {
            ktable_remove(index, &n->groups, &g->key);
            retire(index, g);
        }
    } else if (n != NULL) {
        removed = subarr_remove(index, &n->subs, session_id);
    }
    if (removed) {
        uint64_t count = atomic_load_explicit(&index->count, memory_order_relaxed);
        atomic_store_explicit(&index->count, count - 1, memory_order_relaxed);
        node_prune(index, n);
    }
    flush_retired(index);
    pthread_mutex_unlock(&index->lock);
    return removed ? 0 : SMQ_ENOENT;
}

/* Reports every plain subscription of a node. */
static void report_subs(const struct subarr *a, smq_index_match_cb cb, void *ctx)
{
    if (a == NULL)
        return;
    uint32_t len = atomic_load_explicit(&a->len, memory_order_acquire);
    for (uint32_t i = 0; i < len; i++) {
        struct sub *s = atomic_load_explicit(&a->slot[i], memory_order_acquire);
        if (s != NULL)
            cb(ctx, &s->target);
    }
}

/* Returns the member of g whose turn it is, skipping session skip (NO_SESSION: none), or
 * NULL when there is no other member. Readers and the writer alike.
 *
 * Round robin over the member slots: every pick draws a ticket from the group's cursor, and
 * ticket % len names a slot. A cleared slot (a member that left, until the next compaction)
 * or the skipped session passes the turn to the next member, and the cursor is then moved
 * past that member as well, so the hole's turn is not given to it a second time on the
 * next lap: without that, the member after a hole would take two turns in every lap. The
 * move is a compare-and-swap that succeeds only when no other reader drew a ticket since,
 * so concurrent picks never go back over a turn; when it fails the hole's turn is the only
 * one the next member gets twice. Members on every worker share the cursor, so the
 * rotation is one across the whole broker. */
static struct sub *group_pick(struct group *g, uint64_t skip)
{
    const struct subarr *a = atomic_load_explicit(&g->members, memory_order_acquire);
    if (a == NULL)
        return NULL;
    uint32_t len = atomic_load_explicit(&a->len, memory_order_acquire);
    if (len == 0)
        return NULL;
    uint64_t ticket = atomic_fetch_add_explicit(&g->next, 1, memory_order_relaxed);
    uint32_t i = (uint32_t)(ticket % len);
    for (uint32_t tries = 0; tries < len; tries++, i = i + 1 == len ? 0 : i + 1) {
        struct sub *s = atomic_load_explicit(&a->slot[i], memory_order_acquire);
        if (s == NULL || s->target.session_id == skip)
            continue;
        if (tries > 0) {
            /* Relaxed both ways: the cursor orders nothing but itself. */
            uint64_t drawn = ticket + 1;
            atomic_compare_exchange_strong_explicit(&g->next, &drawn, ticket + 1 + tries,
                                                    memory_order_relaxed, memory_order_relaxed);
        }
        return s;
    }
    return NULL;
}

/* Reports the member of g whose turn it is (group_pick). Members carry SMQ_SUB_SHARED from
 * subscribe. */
static void report_group(struct group *g, smq_index_match_cb cb, void *ctx)
{
    struct sub *s = group_pick(g, NO_SESSION);
    if (s != NULL)
        cb(ctx, &s->target);
}

/* Reports what a node holds: its plain subscriptions and one member of each group. */
static void report_node(struct node *n, smq_index_match_cb cb, void *ctx)
{
    report_subs(atomic_load_explicit(&n->subs, memory_order_acquire), cb, ctx);
    const struct ktable *t = atomic_load_explicit(&n->groups, memory_order_acquire);
    for (uint32_t i = 0; t != NULL && i <= t->mask; i++) {
        struct keyed *k = atomic_load_explicit(&t->slot[i], memory_order_acquire);
        if (k != NULL && k != TOMB)
            report_group(CONTAINER(k, struct group, key), cb, ctx);
    }
}

/* A node reached by the match, and where the topic's next level starts (topic.len + 1 once
 * every level is consumed). */
struct frame {
    struct node *node;
    size_t pos;
};

void smq_index_match(struct smq_index *index, struct smq_span topic, smq_index_match_cb cb,
                     void *ctx)
{
    struct frame stack[MATCH_STACK];
    size_t top = 0;
    /* [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting
     * with `$`: the root's `+` and `#` children are skipped for such a topic. */
    bool dollar = topic.len > 0 && topic.ptr[0] == '$';
    stack[top++] = (struct frame){index->root, 0};
    while (top > 0) {
        struct frame f = stack[--top];
        bool wild = !(dollar && f.node == index->root);
        struct node *pound =
            wild ? atomic_load_explicit(&f.node->pound, memory_order_acquire) : NULL;
        /* [MQTT-4.7.1-2] `#` matches this level and all below, and the parent itself. */
        if (pound != NULL)
            report_node(pound, cb, ctx);
        if (f.pos > topic.len) {
            report_node(f.node, cb, ctx);
            continue;
        }
        size_t end = level_end(topic, f.pos);
        struct node *next[2] = {NULL, NULL};
        const struct ktable *kids = atomic_load_explicit(&f.node->kids, memory_order_acquire);
        if (kids != NULL) {
            const uint8_t *level = topic.ptr + f.pos;
            size_t len = end - f.pos;
            struct keyed *k = ktable_find(kids, level, len, level_hash(&index->key, level, len));
            next[0] = k ? CONTAINER(k, struct node, key) : NULL;
        }
        /* [MQTT-4.7.1-3] `+` matches exactly one level, an empty one included. */
        if (wild)
            next[1] = atomic_load_explicit(&f.node->plus, memory_order_acquire);
        for (int c = 0; c < 2; c++) {
            if (next[c] == NULL)
                continue;
            /* The trie is at most SMQ_INDEX_MAX_LEVELS deep: see MATCH_STACK. */
            SMQ_ASSERT(top < MATCH_STACK);
            stack[top++] = (struct frame){next[c], end + 1};
        }
    }
}

int smq_index_pick(struct smq_index *index, struct smq_span filter, uint64_t skip,
                   struct smq_sub_target *out)
{
    struct smq_span group, path;
    if (!split_filter(filter, &group, &path) || group.len == 0 ||
        smq_topic_levels(path) > SMQ_INDEX_MAX_LEVELS)
        return SMQ_ENOENT; /* not a shared filter the index could hold */
    struct node *n = node_walk(index, path, false);
    struct group *g = n ? group_get(index, n, group, false) : NULL;
    struct sub *s = g ? group_pick(g, skip) : NULL;
    if (s == NULL)
        return SMQ_ENOENT;
    *out = s->target;
    return 0;
}

uint64_t smq_index_count(const struct smq_index *index)
{
    return atomic_load_explicit(&index->count, memory_order_relaxed);
}
