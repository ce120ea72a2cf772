/* The variable byte integer of MQTT (section 1.5.5 of 5.0, 2.2.3 of 3.1.1): 7 bits a byte,
 * low groups first, at most 4 bytes, values up to SMQ_VARINT_MAX. */
#ifndef SMQ_PROTO_VARINT_H
#define SMQ_PROTO_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Decodes a variable byte integer at src. Returns the bytes it used (1..4), 0 when src ends
 * before the last byte, or SMQ_EPROTO when a fifth byte would be needed or the encoding is
 * longer than the minimum [MQTT-1.5.5-1]. */
ssize_t smq_varint_decode(const uint8_t *src, size_t len, uint32_t *out);

/* Returns how many bytes value takes (1..4); value must be <= SMQ_VARINT_MAX. */
size_t smq_varint_size(uint32_t value);

/* Writes value (<= SMQ_VARINT_MAX) at dst, which has room for smq_varint_size(value) bytes.
 * Returns the bytes written. */
size_t smq_varint_encode(uint8_t *dst, uint32_t value);

#endif
