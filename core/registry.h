/* The session registry: client identifier -> (owning shard, session id), shared by every
 * worker.
 *
 * A liburcu lock-free hash table (cds_lfht) read without locks. It is touched on CONNECT
 * (look up, claim), and when a session ends (release), never per message. Claiming is
 * atomic: when two workers race to create a session for the same client identifier, one
 * wins and the other learns the winner's shard and hands its connection there. */
#ifndef SMQ_CORE_REGISTRY_H
#define SMQ_CORE_REGISTRY_H

#include <stdint.h>

#include "proto/span.h"

struct smq_registry;

struct smq_registry_entry {
    uint64_t session_id;
    uint16_t shard;
};

/* Returns an empty registry. */
struct smq_registry *smq_registry_new(void);

/* Frees the registry; no other thread may use it any more. NULL is allowed. */
void smq_registry_free(struct smq_registry *reg);

/* Looks client_id up. Returns 0 and fills *out, or SMQ_ENOENT. The caller is an
 * RCU-registered, online thread. */
int smq_registry_lookup(struct smq_registry *reg, struct smq_span client_id,
                        struct smq_registry_entry *out);

/* Registers client_id for (shard, session_id) unless it is registered already. Returns 0
 * when claimed, or 1 with *existing filled when another entry holds the identifier. The
 * caller is an RCU-registered, online thread. */
int smq_registry_claim(struct smq_registry *reg, struct smq_span client_id, uint16_t shard,
                       uint64_t session_id, struct smq_registry_entry *existing);

/* Removes client_id's entry if it still names session_id (a newer claim is left alone).
 * Returns 0, or SMQ_ENOENT. The caller is an RCU-registered, online thread. */
int smq_registry_release(struct smq_registry *reg, struct smq_span client_id,
                         uint64_t session_id);

/* Returns the number of registered client identifiers (approximate while writers run). */
uint64_t smq_registry_count(struct smq_registry *reg);

#endif
