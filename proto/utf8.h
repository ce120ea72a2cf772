/* Validation of MQTT UTF-8 Encoded Strings (1.5.4 of 5.0, 1.5.3 of 3.1.1).
 *
 * Policy: rejected are ill-formed UTF-8 (overlong forms, stray continuation bytes,
 * truncated sequences, code points above U+10FFFF), UTF-16 surrogates U+D800..U+DFFF
 * [MQTT-1.5.4-1] and U+0000 [MQTT-1.5.4-2]. Accepted are the other control characters
 * (U+0001..U+001F, U+007F..U+009F) and the non-characters (U+FDD0.., U+xFFFE/F): the spec
 * only says senders SHOULD NOT use them, and some clients do. Whatever logs such a string
 * must escape it. */
#ifndef SMQ_PROTO_UTF8_H
#define SMQ_PROTO_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns true when the len bytes at s are an MQTT-valid UTF-8 string. */
bool smq_utf8_is_valid(const uint8_t *s, size_t len);

#endif
