/* MQTT UTF-8 validation (see utf8.h for the policy).
 *
 * A table-free decoder of the Unicode "well-formed byte sequences" table (Unicode 15,
 * table 3-7): the second byte's range depends on the lead byte, which is what rules out
 * overlong forms, surrogates and code points past U+10FFFF without decoding them. */
#include "proto/utf8.h"

static bool is_cont(uint8_t b)
{
    return (b & 0xC0) == 0x80;
}

/* Returns the length of the well-formed sequence at s (1..4), or 0 when it is not one. */
static size_t sequence_len(const uint8_t *s, size_t left)
{
    uint8_t b0 = s[0];
    if (b0 < 0x80)
        return b0 == 0 ? 0 : 1; /* [MQTT-1.5.4-2] U+0000 is never allowed */
    if (b0 < 0xC2 || b0 > 0xF4)
        return 0; /* continuation byte, overlong 2-byte lead, or beyond U+10FFFF */
    size_t need = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    if (left < need)
        return 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 == 0xE0)
        lo = 0xA0; /* overlong 3-byte */
    else if (b0 == 0xED)
        hi = 0x9F; /* [MQTT-1.5.4-1] U+D800..U+DFFF surrogates */
    else if (b0 == 0xF0)
        lo = 0x90; /* overlong 4-byte */
    else if (b0 == 0xF4)
        hi = 0x8F; /* beyond U+10FFFF */
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++) {
        if (!is_cont(s[i]))
            return 0;
    }
    return need;
}

bool smq_utf8_is_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* Fast path over ASCII, the common case for topics and client ids. */
        if (s[i] >= 0x01 && s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = sequence_len(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}
