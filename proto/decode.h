/* Decoding whole MQTT packets of every type and protocol level.
 *
 * Three outcomes: a complete packet (the return value is the bytes it used), 0 for "need
 * more bytes", or SMQ_EPROTO with the MQTT 5 reason code the receiver should send.
 * Strings, data and payloads in the result are views into src, valid as long as src.
 * Every rule of the specs about a single packet is checked here: field encodings, flags,
 * packet identifiers, properties, topic syntax, option bits and list lengths. Rules that
 * depend on session state (a second CONNECT, alias ranges, quotas) are the caller's. */
#ifndef SMQ_PROTO_DECODE_H
#define SMQ_PROTO_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/framer.h"
#include "proto/packet.h"

/* Decodes one packet at src. Returns the bytes used (> 0), 0 when src holds less than the
 * whole packet, or SMQ_EPROTO with *reason set. On error out->type is set when the first
 * byte was read, and for CONNECT out->u.connect.version holds the protocol level once read,
 * so the caller can pick the CONNACK format. */
ssize_t smq_decode_packet(const uint8_t *src, size_t len, const struct smq_decode_opts *opts,
                          struct smq_packet *out, uint8_t *reason);

/* Decodes the body of a packet whose fixed header hdr was already decoded; body holds
 * exactly hdr->remaining bytes. Returns 0 or SMQ_EPROTO with *reason set. */
int smq_decode_body(const struct smq_fixed_header *hdr, const uint8_t *body,
                    const struct smq_decode_opts *opts, struct smq_packet *out, uint8_t *reason);

/* Walks the entries of a decoded SUBSCRIBE. *pos starts at 0; returns false after the last. */
bool smq_subscribe_next(const struct smq_subscribe *sub, uint8_t version, size_t *pos,
                        struct smq_sub_entry *entry);

/* Walks the filters of a decoded UNSUBSCRIBE. *pos starts at 0; returns false after the last. */
bool smq_unsubscribe_next(const struct smq_unsubscribe *unsub, size_t *pos,
                          struct smq_span *filter);

#endif
