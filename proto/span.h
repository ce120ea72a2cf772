/* A borrowed view of bytes: what the decoder hands out for strings, binary data and payloads.
 *
 * A span never owns its bytes; it is valid as long as the buffer it points into. */
#ifndef SMQ_PROTO_SPAN_H
#define SMQ_PROTO_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct smq_span {
    const uint8_t *ptr; /* borrowed: lives as long as the buffer it views */
    size_t len;
};

/* Returns a span over a NUL-terminated C string (without the NUL). */
static inline struct smq_span smq_span_str(const char *s)
{
    return (struct smq_span){(const uint8_t *)s, strlen(s)};
}

/* Returns true when both spans hold the same bytes. */
static inline bool smq_span_eq(struct smq_span a, struct smq_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Returns true when the span holds exactly the bytes of the C string s. */
static inline bool smq_span_eq_str(struct smq_span a, const char *s)
{
    return smq_span_eq(a, smq_span_str(s));
}

#endif
