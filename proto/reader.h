/* Internal to proto/: a bounds-checked cursor over the body of one complete packet.
 *
 * Inside a complete packet, running out of bytes is never "need more": it means a length
 * field lied, so every read failure is Malformed Packet (0x81). Each reader returns false on
 * failure and leaves the cursor unspecified; callers stop at the first false. */
#ifndef SMQ_PROTO_READER_H
#define SMQ_PROTO_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/span.h"
#include "proto/utf8.h"
#include "proto/varint.h"

struct smq_reader {
    const uint8_t *pos; /* borrowed: the packet being decoded */
    const uint8_t *end;
};

static inline size_t smq__left(const struct smq_reader *r)
{
    return (size_t)(r->end - r->pos);
}

static inline bool smq__read_u8(struct smq_reader *r, uint8_t *out)
{
    if (smq__left(r) < 1)
        return false;
    *out = *r->pos++;
    return true;
}

static inline bool smq__read_u16(struct smq_reader *r, uint16_t *out)
{
    if (smq__left(r) < 2)
        return false;
    *out = (uint16_t)((r->pos[0] << 8) | r->pos[1]);
    r->pos += 2;
    return true;
}

static inline bool smq__read_u32(struct smq_reader *r, uint32_t *out)
{
    if (smq__left(r) < 4)
        return false;
    *out = ((uint32_t)r->pos[0] << 24) | ((uint32_t)r->pos[1] << 16) |
           ((uint32_t)r->pos[2] << 8) | r->pos[3];
    r->pos += 4;
    return true;
}

/* Reads a variable byte integer; a truncated or over-long one is malformed alike. */
static inline bool smq__read_varint(struct smq_reader *r, uint32_t *out)
{
    ssize_t n = smq_varint_decode(r->pos, smq__left(r), out);
    if (n <= 0)
        return false;
    r->pos += n;
    return true;
}

/* Reads Binary Data: a two-byte length, then that many bytes. */
static inline bool smq__read_bin(struct smq_reader *r, struct smq_span *out)
{
    uint16_t len;
    if (!smq__read_u16(r, &len) || smq__left(r) < len)
        return false;
    *out = (struct smq_span){r->pos, len};
    r->pos += len;
    return true;
}

/* Reads a UTF-8 Encoded String and validates it. */
static inline bool smq__read_str(struct smq_reader *r, struct smq_span *out)
{
    return smq__read_bin(r, out) && smq_utf8_is_valid(out->ptr, out->len);
}

#endif
