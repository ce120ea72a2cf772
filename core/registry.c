/* The session registry (see registry.h): a cds_lfht of immutable entries.
 *
 * An entry never changes after it is added; a session that ends removes its entry and
 * frees it after a grace period (call_rcu), so a reader that found it may still read it. */
#include "core/registry.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rcu.h"
#include "core/tsan.h"
#include "proto/errors.h"

struct entry {
    struct cds_lfht_node node;
    struct rcu_head rcu;
    uint64_t session_id;
    uint16_t shard;
    uint16_t id_len;
    char id[]; /* the client identifier, not NUL-terminated */
};

struct smq_registry {
    struct cds_lfht *table; /* owned; internally synchronised */
    /* --- shared: atomics only --- */
    atomic_uint_fast64_t count; /* relaxed: a gauge, orders nothing */
};

/* FNV-1a: client identifiers are short, and the table resizes itself on collisions. */
static unsigned long hash_id(struct smq_span id)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < id.len; i++) {
        h ^= id.ptr[i];
        h *= 1099511628211ull;
    }
    return (unsigned long)h;
}

static int match_id(struct cds_lfht_node *node, const void *key)
{
    const struct entry *e = caa_container_of(node, struct entry, node);
    const struct smq_span *id = key;
    SMQ_TSAN_ACQUIRE(e); /* pairs with the release before cds_lfht_add_unique() */
    return e->id_len == id->len && memcmp(e->id, id->ptr, id->len) == 0;
}

struct smq_registry *smq_registry_new(void)
{
    struct smq_registry *reg = smq_calloc(1, sizeof(*reg));
    reg->table = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    if (reg->table == NULL)
        smq_alloc(SIZE_MAX); /* aborts with the out-of-memory line */
    atomic_init(&reg->count, 0);
    return reg;
}

void smq_registry_free(struct smq_registry *reg)
{
    if (reg == NULL)
        return;
    struct cds_lfht_iter iter;
    struct cds_lfht_node *node;
    cds_lfht_for_each(reg->table, &iter, node) {
        cds_lfht_del(reg->table, node);
        smq_free(caa_container_of(node, struct entry, node));
    }
    cds_lfht_destroy(reg->table, NULL);
    smq_free(reg);
}

static struct entry *find(struct smq_registry *reg, struct smq_span id)
{
    struct cds_lfht_iter iter;
    cds_lfht_lookup(reg->table, hash_id(id), match_id, &id, &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    return node ? caa_container_of(node, struct entry, node) : NULL;
}

int smq_registry_lookup(struct smq_registry *reg, struct smq_span client_id,
                        struct smq_registry_entry *out)
{
    rcu_read_lock();
    struct entry *e = find(reg, client_id);
    if (e) {
        out->session_id = e->session_id;
        out->shard = e->shard;
    }
    rcu_read_unlock();
    return e ? 0 : SMQ_ENOENT;
}

int smq_registry_claim(struct smq_registry *reg, struct smq_span client_id, uint16_t shard,
                       uint64_t session_id, struct smq_registry_entry *existing)
{
    struct entry *e = smq_alloc(sizeof(*e) + client_id.len);
    cds_lfht_node_init(&e->node);
    e->session_id = session_id;
    e->shard = shard;
    e->id_len = (uint16_t)client_id.len;
    memcpy(e->id, client_id.ptr, client_id.len);
    rcu_read_lock();
    SMQ_TSAN_RELEASE(e); /* cds_lfht publishes with atomics TSan does not see */
    struct cds_lfht_node *won =
        cds_lfht_add_unique(reg->table, hash_id(client_id), match_id, &client_id, &e->node);
    if (won != &e->node) {
        const struct entry *other = caa_container_of(won, struct entry, node);
        existing->session_id = other->session_id;
        existing->shard = other->shard;
    }
    rcu_read_unlock();
    if (won != &e->node) {
        smq_free(e);
        return 1;
    }
    atomic_fetch_add_explicit(&reg->count, 1, memory_order_relaxed);
    return 0;
}

static void free_entry_cb(struct rcu_head *head)
{
    smq_free(caa_container_of(head, struct entry, rcu));
}

int smq_registry_release(struct smq_registry *reg, struct smq_span client_id, uint64_t session_id)
{
    int rc = SMQ_ENOENT;
    rcu_read_lock();
    struct entry *e = find(reg, client_id);
    if (e && e->session_id == session_id && cds_lfht_del(reg->table, &e->node) == 0) {
        call_rcu(&e->rcu, free_entry_cb);
        rc = 0;
    }
    rcu_read_unlock();
    if (rc == 0)
        atomic_fetch_sub_explicit(&reg->count, 1, memory_order_relaxed);
    return rc;
}

uint64_t smq_registry_count(struct smq_registry *reg)
{
    return atomic_load_explicit(&reg->count, memory_order_relaxed);
}
