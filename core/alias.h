/* Topic aliases of one MQTT 5.0 network connection (section 3.3.2.3.4), both directions.
 *
 * Inbound (struct smq_alias_in): the client maps an alias 1..max to a topic with a PUBLISH
 * carrying both, then sends the alias with an empty topic. Outbound (struct smq_alias_out):
 * the broker picks aliases for the topics it sends, at most max of them, least recently used
 * first out: the first PUBLISH of a topic carries topic and alias, later ones the alias and
 * an empty topic; when every alias is taken, the least recently used one moves to the new
 * topic, whose PUBLISH carries the topic again. A hit costs one keyed hash of the topic and
 * one compare, never an allocation.
 *
 * Mappings belong to one network connection and die with it [MQTT-3.3.2-7]. Memory is
 * bounded by max times the longest topic. Only the worker that owns the connection calls
 * these. */
#ifndef SMQ_CORE_ALIAS_H
#define SMQ_CORE_ALIAS_H

#include <stdint.h>

#include "proto/span.h"

struct smq_alias_in;
struct smq_alias_out;

/* Returns an empty inbound table accepting aliases 1..max (max >= 1). */
struct smq_alias_in *smq_alias_in_new(uint16_t max);

/* Frees t and its topics. NULL is allowed. */
void smq_alias_in_free(struct smq_alias_in *t);

/* Maps alias to a copy of topic (not empty), replacing any earlier topic of that alias.
 * Returns 0, or SMQ_EINVAL when alias is 0 or above max, or topic is empty. */
int smq_alias_in_set(struct smq_alias_in *t, uint16_t alias, struct smq_span topic);

/* Looks alias up. Returns 0 with *topic set (a view valid until the alias is set again or
 * t is freed), SMQ_EINVAL when alias is 0 or above max, SMQ_ENOENT when it was never set. */
int smq_alias_in_get(const struct smq_alias_in *t, uint16_t alias, struct smq_span *topic);

/* Returns an empty outbound table that will use aliases 1..max (max >= 1). */
struct smq_alias_out *smq_alias_out_new(uint16_t max);

/* Frees t and its topics. NULL is allowed. */
void smq_alias_out_free(struct smq_alias_out *t);

/* Returns the alias of topic and makes it the most recently used, or 0 when topic has
 * none. */
uint16_t smq_alias_out_find(struct smq_alias_out *t, struct smq_span topic);

/* Gives topic (not empty, without an alias in t) an alias and returns it: the lowest
 * never-used one while some are left, else the least recently used one, which stops
 * meaning its old topic. The topic is copied. */
uint16_t smq_alias_out_assign(struct smq_alias_out *t, struct smq_span topic);

/* Returns how many aliases t has handed out (at most max). */
uint16_t smq_alias_out_count(const struct smq_alias_out *t);

#endif
