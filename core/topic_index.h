/* The subscription index: topic filter -> subscribers, shared by every worker.
 *
 * A trie of topic levels with `+` and `#` branches; shared subscriptions
 * (`$share/{group}/{filter}`) hang their groups off the node of the inner filter. Readers
 * (every worker, once per PUBLISH) walk it without taking a lock inside a liburcu QSBR read
 * side; writers (SUBSCRIBE, UNSUBSCRIBE, session end) are serialized by a mutex inside the
 * index, publish each change by a pointer swap, and free what they replaced with call_rcu()
 * after a grace period, so a writer never waits for readers. Entries name a session by its
 * stable id and owning shard, never by a pointer into a worker's memory. */
#ifndef SMQ_CORE_TOPIC_INDEX_H
#define SMQ_CORE_TOPIC_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/span.h"

/* Subscription option flags of struct smq_sub_target. */
#define SMQ_SUB_NO_LOCAL 0x01            /* v5 No Local */
#define SMQ_SUB_RETAIN_AS_PUBLISHED 0x02 /* v5 Retain As Published */
#define SMQ_SUB_SHARED 0x04              /* set by the index on a shared-group delivery */

/* One subscriber of one filter, as stored and as reported by a match. */
struct smq_sub_target {
    uint64_t session_id;      /* stable for the session's life, never reused */
    uint32_t subscription_id; /* v5 Subscription Identifier, 0 when none */
    uint16_t shard;           /* the worker that owns the session */
    uint8_t qos;              /* granted QoS */
    uint8_t flags;            /* SMQ_SUB_* */
};

struct smq_index;

/* Returns an empty index. */
struct smq_index *smq_index_new(void);

/* Frees the index and every entry; no reader or writer may be left. NULL is allowed. */
void smq_index_free(struct smq_index *index);

/* Adds or replaces (same session, same filter) a subscription. filter is a valid topic
 * filter, shared or not (proto/topic.h). Any RCU-registered thread. Returns 1 when an
 * existing subscription of that session was replaced, 0 when added, SMQ_ELIMIT when
 * the filter has more levels than SMQ_INDEX_MAX_LEVELS, or SMQ_EINVAL when it is not a
 * valid filter (a caller bug: the decoder validates filters first). */
int smq_index_subscribe(struct smq_index *index, struct smq_span filter,
                        const struct smq_sub_target *target);

/* Removes the session's subscription to filter (a shared filter removes its membership of
 * that group only). Any RCU-registered thread. Returns 0, or SMQ_ENOENT when there was none. */
int smq_index_unsubscribe(struct smq_index *index, struct smq_span filter, uint64_t session_id);

/* Most levels a filter may have; deeper filters are refused (SMQ_ELIMIT). */
#define SMQ_INDEX_MAX_LEVELS 256u

/* Called once per matching plain subscription, and once per matching shared group with the
 * member chosen for this message (SMQ_SUB_SHARED set). The target is valid during the call
 * only.
 *
 * Shared groups: round robin. Each group has one cursor, shared by every reader (every
 * worker), and each message takes the next member's turn, so N members get a share of
 * 1/N each whichever workers publish. A member that leaves is skipped without giving its
 * turns to its neighbour; a member that joins takes its turns from the next lap on. */
typedef void (*smq_index_match_cb)(void *ctx, const struct smq_sub_target *target);

/* Reports every subscription whose filter matches topic (a valid topic name). The caller is
 * an RCU-registered thread, online, inside rcu_read_lock(); the walk costs O(levels of
 * topic x matching branches), not O(subscriptions). */
void smq_index_match(struct smq_index *index, struct smq_span topic, smq_index_match_cb cb,
                     void *ctx);

/* Picks another member of one shared group, for a message its chosen member will not
 * take: the member of `filter` (`$share/{group}/{filter}`) whose turn it is, skipping the
 * session skip, copied to *out (SMQ_SUB_SHARED set). The pick takes a turn of the group's
 * round robin, as a match does. The caller is an RCU reader as for smq_index_match().
 * Returns 0, or SMQ_ENOENT when the group has no member but skip, or no such group. */
int smq_index_pick(struct smq_index *index, struct smq_span filter, uint64_t skip,
                   struct smq_sub_target *out);

/* Returns the number of (filter, session) subscriptions stored, shared members included. */
uint64_t smq_index_count(const struct smq_index *index);

#endif
