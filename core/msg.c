/* Building and releasing messages (see msg.h).
 *
 * One allocation: the struct, then topic, payload and the forwarded property values
 * packed behind it. User Properties are compacted into one run of encoded entries so the
 * encoder can copy them as they are. */
#include "core/msg.h"

#include <string.h>

#include "core/alloc.h"
#include "proto/props.h"
#include "proto/utf8.h"

/* Copies s to *cursor and returns the view of the copy. */
static struct smq_span pack(uint8_t **cursor, struct smq_span s)
{
    struct smq_span copy = {*cursor, s.len};
    if (s.len)
        memcpy(*cursor, s.ptr, s.len);
    *cursor += s.len;
    return copy;
}

/* Bytes of the User Property entries of props, as smq_props_put_user writes them. */
static size_t user_props_size(const struct smq_props *props)
{
    size_t size = 0, pos = 0;
    struct smq_span key, value;
    while (smq_props_next_user(props, &pos, &key, &value))
        size += 1 + 2 + key.len + 2 + value.len;
    return size;
}

static size_t forwarded_size(const struct smq_props *p)
{
    return p->content_type.len + p->response_topic.len + p->correlation_data.len +
           user_props_size(p);
}

static void copy_props(struct smq_msg *msg, const struct smq_props *src, uint8_t **cursor)
{
    const uint64_t forwarded = SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT) |
                               SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE) |
                               SMQ_PROP_BIT(SMQ_PROP_RESPONSE_TOPIC) |
                               SMQ_PROP_BIT(SMQ_PROP_CORRELATION_DATA);
    struct smq_props *dst = &msg->props;
    dst->present = src->present & forwarded;
    dst->payload_format = src->payload_format;
    dst->content_type = pack(cursor, src->content_type);
    dst->response_topic = pack(cursor, src->response_topic);
    dst->correlation_data = pack(cursor, src->correlation_data);
    uint8_t *users = *cursor;
    size_t pos = 0;
    struct smq_span key, value;
    while (smq_props_next_user(src, &pos, &key, &value)) {
        ssize_t n = smq_props_put_user(*cursor, SIZE_MAX, key, value);
        *cursor += n;
        dst->user_count++;
    }
    dst->multi = (struct smq_span){users, (size_t)(*cursor - users)};
    /* As the decoder does, the User Property bit says the run is not empty. */
    if (dst->user_count > 0)
        dst->present |= SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY);
}

struct smq_msg *smq_msg_new(const struct smq_msg_init *init)
{
    size_t extra = init->topic.len + init->payload.len;
    if (init->props)
        extra += forwarded_size(init->props);
    struct smq_msg *msg = smq_alloc(sizeof(*msg) + extra);
    memset(msg, 0, sizeof(*msg));
    atomic_init(&msg->refs, 1);
    msg->qos = init->qos;
    msg->retain = init->retain;
    msg->origin_session = init->origin_session;
    msg->origin_worker = init->origin_worker;
    msg->origin_epoch = init->origin_epoch;
    uint8_t *cursor = msg->data;
    msg->topic = pack(&cursor, init->topic);
    msg->payload = pack(&cursor, init->payload);
    if (init->props) {
        copy_props(msg, init->props, &cursor);
        if (smq_props_has(init->props, SMQ_PROP_MESSAGE_EXPIRY)) {
            msg->has_expiry = true;
            msg->expiry_interval = init->props->message_expiry;
            smq_msg_restart_expiry(msg, init->now_ms);
        }
    }
    return msg;
}

void smq_msg_unref(struct smq_msg *msg)
{
    if (msg == NULL)
        return;
    if (atomic_fetch_sub_explicit(&msg->refs, 1, memory_order_acq_rel) == 1)
        smq_free(msg);
}

void smq_msg_restart_expiry(struct smq_msg *msg, int64_t now_ms)
{
    if (msg->has_expiry)
        msg->expires_at_ms = now_ms + (int64_t)msg->expiry_interval * 1000;
}

bool smq_msg_payload_is_utf8(struct smq_span payload)
{
    /* A 0x00 byte is never part of a multi-byte sequence, so the payload is well-formed
     * exactly when every run between NULs is a valid MQTT string. */
    if (payload.len == 0)
        return true;
    const uint8_t *p = payload.ptr, *end = payload.ptr + payload.len;
    while (p < end) {
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        const uint8_t *stop = nul ? nul : end;
        if (!smq_utf8_is_valid(p, (size_t)(stop - p)))
            return false;
        p = nul ? nul + 1 : end;
    }
    return true;
}

uint32_t smq_msg_expiry_left(const struct smq_msg *msg, int64_t now_ms)
{
    if (!msg->has_expiry)
        return 0;
    int64_t left_ms = msg->expires_at_ms - now_ms;
    if (left_ms <= 0)
        return 0;
    return (uint32_t)((left_ms + 999) / 1000);
}

size_t smq_msg_cost(const struct smq_msg *msg)
{
    return sizeof(*msg) + msg->topic.len + msg->payload.len + msg->props.multi.len +
           msg->props.content_type.len + msg->props.response_topic.len +
           msg->props.correlation_data.len;
}
