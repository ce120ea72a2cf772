/* The variable byte integer: 7 bits a byte, low groups first, continuation in bit 7. */
#include "proto/varint.h"

#include "proto/errors.h"
#include "proto/packet.h"

ssize_t smq_varint_decode(const uint8_t *src, size_t len, uint32_t *out)
{
    uint32_t value = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i == len)
            return 0;
        uint8_t byte = src[i];
        value |= (uint32_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            /* [MQTT-1.5.5-1] a last byte of 0 after the first means a longer encoding than
             * the value needs. */
            if (i > 0 && byte == 0)
                return SMQ_EPROTO;
            *out = value;
            return (ssize_t)(i + 1);
        }
    }
    return SMQ_EPROTO; /* a fifth byte would be needed */
}

size_t smq_varint_size(uint32_t value)
{
    if (value < 128u)
        return 1;
    if (value < 16384u)
        return 2;
    if (value < 2097152u)
        return 3;
    return 4;
}

size_t smq_varint_encode(uint8_t *dst, uint32_t value)
{
    size_t n = 0;
    do {
        uint8_t byte = value & 0x7f;
        value >>= 7;
        dst[n++] = value ? (uint8_t)(byte | 0x80) : byte;
    } while (value && n < 4);
    return n;
}
