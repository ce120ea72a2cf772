/* Topic names and topic filters: validation, shared-subscription parsing and matching
 * (section 4.7 and 4.8 of 5.0).
 *
 * Names carry no wildcard. In filters `+` fills one whole level and `#` the whole last level.
 * A filter `$share/{group}/{filter}` names a shared subscription: the group is non-empty and
 * holds none of `/`, `+`, `#`; the inner filter is non-empty and valid. Matching walks both
 * strings once, without recursion, so a filter of 65,535 levels costs one pass. These checks
 * cover syntax only; the caller checks UTF-8 (the decoder does both). */
#ifndef SMQ_PROTO_TOPIC_H
#define SMQ_PROTO_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/span.h"

/* Returns true when name is a valid topic name: non-empty, no `+` or `#`. */
bool smq_topic_name_is_valid(struct smq_span name);

/* Returns true when filter is a valid topic filter, a shared one included. */
bool smq_topic_filter_is_valid(struct smq_span filter);

/* Returns true when filter starts with "$share/". A filter like that which fails
 * smq_topic_share_split() is invalid. */
bool smq_topic_is_shared(struct smq_span filter);

/* Splits a valid shared filter into its group and inner filter (views into filter).
 * Returns false when filter is not a well-formed `$share/{group}/{filter}`. */
bool smq_topic_share_split(struct smq_span filter, struct smq_span *group,
                           struct smq_span *inner);

/* Returns true when filter has a `+` or `#` level. */
bool smq_topic_has_wildcard(struct smq_span filter);

/* Returns the number of levels (separators + 1). */
size_t smq_topic_levels(struct smq_span topic);

/* Returns true when the (valid, non-shared) filter matches the (valid) topic name. A filter
 * starting with a wildcard does not match a topic starting with `$` [MQTT-4.7.2-1]. */
bool smq_topic_matches(struct smq_span filter, struct smq_span topic);

#endif
