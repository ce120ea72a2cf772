/* Topic names and filters: syntax, `$share` parsing and matching (see topic.h).
 *
 * Every function is one forward pass over the bytes. Matching walks filter and topic level by
 * level with two cursors; `#` ends the walk, `+` skips one topic level, so the cost is linear
 * in the length of the two strings whatever their shape. */
#include "proto/topic.h"

#include <string.h>

#include "proto/packet.h"

static const char share_prefix[] = "$share/";
#define SHARE_PREFIX_LEN (sizeof(share_prefix) - 1)

bool smq_topic_name_is_valid(struct smq_span name)
{
    if (name.len == 0 || name.len > SMQ_STRING_MAX)
        return false; /* [MQTT-4.7.3-1] [MQTT-4.7.3-3] */
    return memchr(name.ptr, '+', name.len) == NULL && memchr(name.ptr, '#', name.len) == NULL;
}

/* Checks wildcard placement in a plain (non-shared) filter. */
static bool plain_filter_is_valid(const uint8_t *p, size_t len)
{
    if (len == 0 || len > SMQ_STRING_MAX)
        return false; /* [MQTT-4.7.3-1] [MQTT-4.7.3-3] */
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '+' && p[i] != '#')
            continue;
        bool starts_level = i == 0 || p[i - 1] == '/';
        bool ends_level = i + 1 == len || p[i + 1] == '/';
        if (!starts_level || !ends_level)
            return false; /* [MQTT-4.7.1-2] [MQTT-4.7.1-3] whole levels only */
        if (p[i] == '#' && i + 1 != len)
            return false; /* [MQTT-4.7.1-2] `#` is the last character */
    }
    return true;
}

bool smq_topic_is_shared(struct smq_span filter)
{
    return filter.len >= SHARE_PREFIX_LEN && memcmp(filter.ptr, share_prefix, SHARE_PREFIX_LEN) == 0;
}

bool smq_topic_share_split(struct smq_span filter, struct smq_span *group, struct smq_span *inner)
{
    if (!smq_topic_is_shared(filter))
        return false;
    const uint8_t *g = filter.ptr + SHARE_PREFIX_LEN;
    size_t rest = filter.len - SHARE_PREFIX_LEN;
    const uint8_t *slash = memchr(g, '/', rest);
    if (slash == NULL)
        return false; /* `$share/ab`: [MQTT-4.8.2-2] the ShareName is followed by `/` */
    size_t group_len = (size_t)(slash - g);
    if (group_len == 0)
        return false; /* `$share//t`: [MQTT-4.8.2-1] at least one character */
    if (memchr(g, '+', group_len) != NULL || memchr(g, '#', group_len) != NULL)
        return false; /* [MQTT-4.8.2-2] no wildcard in the ShareName */
    if (rest - group_len - 1 == 0)
        return false; /* `$share/g/`: [MQTT-4.8.2-2] a Topic Filter follows */
    *group = (struct smq_span){g, group_len};
    *inner = (struct smq_span){slash + 1, rest - group_len - 1};
    return true;
}

bool smq_topic_filter_is_valid(struct smq_span filter)
{
    if (!smq_topic_is_shared(filter))
        return plain_filter_is_valid(filter.ptr, filter.len);
    struct smq_span group, inner;
    if (!smq_topic_share_split(filter, &group, &inner))
        return false;
    return plain_filter_is_valid(inner.ptr, inner.len);
}

bool smq_topic_has_wildcard(struct smq_span filter)
{
    if (filter.len == 0)
        return false;
    return memchr(filter.ptr, '+', filter.len) != NULL || memchr(filter.ptr, '#', filter.len) != NULL;
}

size_t smq_topic_levels(struct smq_span topic)
{
    size_t levels = 1;
    for (size_t i = 0; i < topic.len; i++)
        levels += topic.ptr[i] == '/';
    return levels;
}

bool smq_topic_matches(struct smq_span filter, struct smq_span topic)
{
    const uint8_t *f = filter.ptr, *fend = filter.ptr + filter.len;
    const uint8_t *t = topic.ptr, *tend = topic.ptr + topic.len;

    /* [MQTT-4.7.2-1] a leading wildcard never matches a `$` topic. */
    if (topic.len > 0 && t[0] == '$' && filter.len > 0 && (f[0] == '+' || f[0] == '#'))
        return false;

    for (;;) {
        /* Here f and t each stand at the start of a level. */
        if (f < fend && *f == '#')
            return true; /* matches this level and all below, or the parent itself */
        if (f < fend && *f == '+') {
            f++;
            while (t < tend && *t != '/')
                t++;
        } else {
            while (f < fend && t < tend && *f != '/' && *f == *t) {
                f++;
                t++;
            }
            /* Both must end the level together. */
            bool f_end = f == fend || *f == '/';
            bool t_end = t == tend || *t == '/';
            if (!f_end || !t_end)
                return false;
        }
        if (f == fend && t == tend)
            return true;
        if (f == fend)
            return false; /* topic has more levels */
        if (t == tend) {
            /* Filter has more levels: only a trailing "/#" still matches the parent. */
            return fend - f == 2 && f[1] == '#';
        }
        f++; /* both stand on '/' */
        t++;
    }
}
