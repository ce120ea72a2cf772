/* MQTT 5.0 properties: decoding a property block with every rule of section 2.2.2, and
 * encoding one.
 *
 * A table gives each identifier its data type and the packets it may appear in. Decoding is
 * one linear pass: a bit per identifier catches duplicates, User Properties are counted
 * against a cap, and every value is range-checked. */
#ifndef SMQ_PROTO_PROPS_H
#define SMQ_PROTO_PROPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/packet.h"

/* Where a property block sits: a packet type, or the will properties of a CONNECT. */
enum smq_props_ctx {
    SMQ_PROPS_WILL = 0, /* the CONNECT payload's will properties */
    /* otherwise an enum smq_packet_type value */
};

/* Default cap on User Properties in one property block. */
#define SMQ_DEFAULT_MAX_USER_PROPS 128u

/* Decodes the property block (length prefix included) at src for context ctx (an
 * enum smq_packet_type, or SMQ_PROPS_WILL). Returns the bytes used (> 0), or SMQ_EPROTO
 * with *reason set: 0x81 when the block overruns len, holds an unknown identifier, one not
 * allowed in ctx, or a value of the wrong shape; 0x82 for a duplicate or a forbidden value;
 * 0x97 past max_user_props User Properties. Strings and data are views into src. */
ssize_t smq_props_decode(const uint8_t *src, size_t len, int ctx, uint16_t max_user_props,
                         struct smq_props *out, uint8_t *reason);

/* Returns the size of the property block without its length prefix. */
size_t smq_props_body_size(const struct smq_props *props);

/* Returns false when a string or binary property is longer than SMQ_STRING_MAX, so the
 * block cannot be encoded. */
bool smq_props_fit(const struct smq_props *props);

/* Returns the size of the property block with its length prefix. */
size_t smq_props_size(const struct smq_props *props);

/* Writes the property block (length prefix first) at dst, which has room for
 * smq_props_size(props) bytes. Returns the bytes written. */
size_t smq_props_encode(uint8_t *dst, const struct smq_props *props);

/* Appends one encoded User Property entry to the cap bytes at dst. Returns the bytes
 * written, SMQ_ENOBUFS, or SMQ_EINVAL when key or value is longer than SMQ_STRING_MAX. Use the result as (part of) a smq_props.multi span. */
ssize_t smq_props_put_user(uint8_t *dst, size_t cap, struct smq_span key, struct smq_span value);

/* Walks the User Properties of props in order. *pos starts at 0. Returns true and sets key
 * and value for each one, false after the last. */
bool smq_props_next_user(const struct smq_props *props, size_t *pos, struct smq_span *key,
                         struct smq_span *value);

/* Walks the Subscription Identifiers in props->multi in order, like smq_props_next_user(). */
bool smq_props_next_sub_id(const struct smq_props *props, size_t *pos, uint32_t *id);

#endif
