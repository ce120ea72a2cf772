/* Internal to proto/: writers for the encoder. The caller has checked the room. */
#ifndef SMQ_PROTO_WRITER_H
#define SMQ_PROTO_WRITER_H

#include <stdint.h>
#include <string.h>

#include "proto/span.h"
#include "proto/varint.h"

static inline uint8_t *smq__put_u8(uint8_t *p, uint8_t v)
{
    *p = v;
    return p + 1;
}

static inline uint8_t *smq__put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *smq__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline uint8_t *smq__put_varint(uint8_t *p, uint32_t v)
{
    return p + smq_varint_encode(p, v);
}

/* Writes a two-byte length and the bytes (strings and binary data alike). */
static inline uint8_t *smq__put_bin(uint8_t *p, struct smq_span s)
{
    p = smq__put_u16(p, (uint16_t)s.len);
    if (s.len)
        memcpy(p, s.ptr, s.len);
    return p + s.len;
}

#endif
