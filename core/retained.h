/* The retained store: the last retained message of each topic, shared by every worker.
 *
 * A trie of topic levels like the subscription index, matched the other way round: a
 * filter from a SUBSCRIBE walks the stored topics. Readers walk it without a lock inside a
 * liburcu QSBR read side; writers are serialized by a mutex inside the store, publish by
 * pointer swap and release replaced messages and nodes with call_rcu(). Messages are
 * refcounted (core/msg.h): the store holds one reference per stored topic. */
#ifndef SMQ_CORE_RETAINED_H
#define SMQ_CORE_RETAINED_H

#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"

struct smq_retained;

/* Returns an empty store. */
struct smq_retained *smq_retained_new(void);

/* Frees the store, dropping its message references; no reader or writer may be left.
 * NULL is allowed. */
void smq_retained_free(struct smq_retained *store);

/* Makes msg the retained message of msg->topic, replacing any; a message with an empty
 * payload deletes the topic's retained message instead [MQTT-3.3.1-6]. Takes a reference of
 * its own when it keeps msg. Any RCU-registered thread. Returns 0, SMQ_EINVAL when the topic
 * is not a valid topic name, or SMQ_ELIMIT when the store already holds max_messages topics
 * (0 = no limit) and msg would add one, or the byte limit would be passed. Before refusing,
 * it deletes the messages whose Message Expiry has passed at now_ms (the caller's loop
 * clock, the one msg's expiry counts on), if any may have. */
int smq_retained_set(struct smq_retained *store, struct smq_msg *msg, uint64_t max_messages,
                     int64_t now_ms);

/* Deletes the messages whose Message Expiry has passed at now_ms, so they stop holding
 * memory and places; returns how many. Costs one relaxed load when none can have (the
 * store knows its earliest expiry), else a walk of the whole store under its writer lock.
 * Any RCU-registered thread. */
size_t smq_retained_purge_expired(struct smq_retained *store, int64_t now_ms);

/* Called once per retained message matching the filter; msg is valid during the call (take
 * a reference to keep it). */
typedef void (*smq_retained_match_cb)(void *ctx, struct smq_msg *msg);

/* Reports every retained message whose topic matches filter (a valid non-shared filter),
 * honouring the `$` rule [MQTT-4.7.2-1]. The caller is an RCU-registered thread, online,
 * inside rcu_read_lock(). */
void smq_retained_match(struct smq_retained *store, struct smq_span filter,
                        smq_retained_match_cb cb, void *ctx);

/* Limits the smq_msg_cost() bytes of the stored messages (0 = no byte limit): a set that
 * would go past it, new topic or replacement, returns SMQ_ELIMIT. Call before any writer. */
void smq_retained_set_max_bytes(struct smq_retained *store, uint64_t max_bytes);

/* Returns the smq_msg_cost() bytes of the stored messages. */
uint64_t smq_retained_bytes(const struct smq_retained *store);

/* Returns the number of topics with a retained message. */
uint64_t smq_retained_count(const struct smq_retained *store);

#endif
