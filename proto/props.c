/* MQTT 5.0 properties (section 2.2.2 and the per-packet property lists of chapter 3).
 *
 * One table row per identifier gives its data type, the contexts (packet types, or will
 * properties) it may appear in, its value rule and where it is stored in struct smq_props,
 * so the decoder and the encoder are two loops over the same table. User Property and
 * Subscription Identifier may repeat and live in the `multi` span instead of a field. */
#include "proto/props.h"

#include <stddef.h>

#include "proto/errors.h"
#include "proto/reader.h"
#include "proto/reason.h"
#include "proto/topic.h"
#include "proto/writer.h"

enum prop_type { T_NONE = 0, T_BYTE, T_U16, T_U32, T_VARINT, T_STR, T_BIN, T_PAIR };

enum value_rule {
    R_ANY = 0,
    R_FLAG,       /* 0 or 1 only: Protocol Error otherwise */
    R_NONZERO,    /* 0 is a Protocol Error */
    R_ALIAS,      /* 0 is Topic Alias invalid (0x94) */
    R_TOPIC_NAME, /* a valid topic name: Malformed otherwise (see proto/README.md) */
};

struct prop_spec {
    uint8_t type;   /* enum prop_type */
    uint8_t rule;   /* enum value_rule */
    uint16_t where; /* bit per context: bit 0 will properties, bit N packet type N */
    uint16_t offset; /* of the field in struct smq_props */
};

#define W(t) (1u << (t))
#define IN_WILL W(SMQ_PROPS_WILL)
#define ALL_CTX 0xFFFFu
#define AT(field) offsetof(struct smq_props, field)

static const struct prop_spec specs[SMQ_PROP_SHARED_SUB_AVAILABLE + 1] = {
    [SMQ_PROP_PAYLOAD_FORMAT] = {T_BYTE, R_FLAG, W(SMQ_PUBLISH) | IN_WILL, AT(payload_format)},
    [SMQ_PROP_MESSAGE_EXPIRY] = {T_U32, R_ANY, W(SMQ_PUBLISH) | IN_WILL, AT(message_expiry)},
    [SMQ_PROP_CONTENT_TYPE] = {T_STR, R_ANY, W(SMQ_PUBLISH) | IN_WILL, AT(content_type)},
    [SMQ_PROP_RESPONSE_TOPIC] = {T_STR, R_TOPIC_NAME, W(SMQ_PUBLISH) | IN_WILL,
                                 AT(response_topic)},
    [SMQ_PROP_CORRELATION_DATA] = {T_BIN, R_ANY, W(SMQ_PUBLISH) | IN_WILL, AT(correlation_data)},
    [SMQ_PROP_SUBSCRIPTION_ID] = {T_VARINT, R_NONZERO, W(SMQ_PUBLISH) | W(SMQ_SUBSCRIBE),
                                  AT(subscription_id)},
    [SMQ_PROP_SESSION_EXPIRY] = {T_U32, R_ANY, W(SMQ_CONNECT) | W(SMQ_CONNACK) | W(SMQ_DISCONNECT),
                                 AT(session_expiry)},
    [SMQ_PROP_ASSIGNED_CLIENT_ID] = {T_STR, R_ANY, W(SMQ_CONNACK), AT(assigned_client_id)},
    [SMQ_PROP_SERVER_KEEP_ALIVE] = {T_U16, R_ANY, W(SMQ_CONNACK), AT(server_keep_alive)},
    [SMQ_PROP_AUTH_METHOD] = {T_STR, R_ANY, W(SMQ_CONNECT) | W(SMQ_CONNACK) | W(SMQ_AUTH),
                              AT(auth_method)},
    [SMQ_PROP_AUTH_DATA] = {T_BIN, R_ANY, W(SMQ_CONNECT) | W(SMQ_CONNACK) | W(SMQ_AUTH),
                            AT(auth_data)},
    [SMQ_PROP_REQUEST_PROBLEM_INFO] = {T_BYTE, R_FLAG, W(SMQ_CONNECT), AT(request_problem_info)},
    [SMQ_PROP_WILL_DELAY] = {T_U32, R_ANY, IN_WILL, AT(will_delay)},
    [SMQ_PROP_REQUEST_RESPONSE_INFO] = {T_BYTE, R_FLAG, W(SMQ_CONNECT), AT(request_response_info)},
    [SMQ_PROP_RESPONSE_INFO] = {T_STR, R_ANY, W(SMQ_CONNACK), AT(response_info)},
    [SMQ_PROP_SERVER_REFERENCE] = {T_STR, R_ANY, W(SMQ_CONNACK) | W(SMQ_DISCONNECT),
                                   AT(server_reference)},
    [SMQ_PROP_REASON_STRING] = {T_STR, R_ANY,
                                W(SMQ_CONNACK) | W(SMQ_PUBACK) | W(SMQ_PUBREC) | W(SMQ_PUBREL) |
                                    W(SMQ_PUBCOMP) | W(SMQ_SUBACK) | W(SMQ_UNSUBACK) |
                                    W(SMQ_DISCONNECT) | W(SMQ_AUTH),
                                AT(reason_string)},
    [SMQ_PROP_RECEIVE_MAXIMUM] = {T_U16, R_NONZERO, W(SMQ_CONNECT) | W(SMQ_CONNACK),
                                  AT(receive_maximum)},
    [SMQ_PROP_TOPIC_ALIAS_MAXIMUM] = {T_U16, R_ANY, W(SMQ_CONNECT) | W(SMQ_CONNACK),
                                      AT(topic_alias_maximum)},
    [SMQ_PROP_TOPIC_ALIAS] = {T_U16, R_ALIAS, W(SMQ_PUBLISH), AT(topic_alias)},
    [SMQ_PROP_MAXIMUM_QOS] = {T_BYTE, R_FLAG, W(SMQ_CONNACK), AT(maximum_qos)},
    [SMQ_PROP_RETAIN_AVAILABLE] = {T_BYTE, R_FLAG, W(SMQ_CONNACK), AT(retain_available)},
    [SMQ_PROP_USER_PROPERTY] = {T_PAIR, R_ANY, ALL_CTX & ~W(SMQ_PINGREQ) & ~W(SMQ_PINGRESP), 0},
    [SMQ_PROP_MAXIMUM_PACKET_SIZE] = {T_U32, R_NONZERO, W(SMQ_CONNECT) | W(SMQ_CONNACK),
                                      AT(maximum_packet_size)},
    [SMQ_PROP_WILDCARD_SUB_AVAILABLE] = {T_BYTE, R_FLAG, W(SMQ_CONNACK),
                                         AT(wildcard_sub_available)},
    [SMQ_PROP_SUB_ID_AVAILABLE] = {T_BYTE, R_FLAG, W(SMQ_CONNACK), AT(sub_id_available)},
    [SMQ_PROP_SHARED_SUB_AVAILABLE] = {T_BYTE, R_FLAG, W(SMQ_CONNACK), AT(shared_sub_available)},
};

#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

static const struct prop_spec *spec_of(uint32_t id)
{
    if (id >= N_SPECS || specs[id].type == T_NONE)
        return NULL;
    return &specs[id];
}

/* Reads one value of the given type; *num gets integers, *s gets strings and data. */
static bool read_value(struct smq_reader *r, uint8_t type, uint32_t *num, struct smq_span *s)
{
    uint8_t b;
    uint16_t h;
    struct smq_span value;
    switch (type) {
    case T_BYTE:
        if (!smq__read_u8(r, &b))
            return false;
        *num = b;
        return true;
    case T_U16:
        if (!smq__read_u16(r, &h))
            return false;
        *num = h;
        return true;
    case T_U32:
        return smq__read_u32(r, num);
    case T_VARINT:
        return smq__read_varint(r, num);
    case T_STR:
        return smq__read_str(r, s);
    case T_BIN:
        return smq__read_bin(r, s);
    case T_PAIR:
        return smq__read_str(r, s) && smq__read_str(r, &value);
    default:
        return false;
    }
}

static void store(struct smq_props *out, const struct prop_spec *spec, uint32_t num,
                  struct smq_span s)
{
    char *field = (char *)out + spec->offset;
    switch (spec->type) {
    case T_BYTE:
        *(uint8_t *)field = (uint8_t)num;
        break;
    case T_U16:
        *(uint16_t *)field = (uint16_t)num;
        break;
    case T_U32:
    case T_VARINT:
        *(uint32_t *)field = num;
        break;
    default:
        *(struct smq_span *)field = s;
        break;
    }
}

/* Applies the value rule; returns 0 or the reason code to fail with. */
static uint8_t check_value(const struct prop_spec *spec, uint32_t num, struct smq_span s)
{
    switch (spec->rule) {
    case R_FLAG:
        return num > 1 ? SMQ_RC_PROTOCOL_ERROR : 0;
    case R_NONZERO:
        return num == 0 ? SMQ_RC_PROTOCOL_ERROR : 0;
    case R_ALIAS:
        /* [MQTT-3.3.2-8] no alias 0; 0x94 names the misuse better than 0x82 does, and is
         * what the receiver sends for an alias above its maximum too. */
        return num == 0 ? SMQ_RC_TOPIC_ALIAS_INVALID : 0;
    case R_TOPIC_NAME:
        return smq_topic_name_is_valid(s) ? 0 : SMQ_RC_MALFORMED; /* [MQTT-3.3.2-14] */
    default:
        return 0;
    }
}

/* Decodes the entries of a property block that spans exactly r. */
static uint8_t decode_entries(struct smq_reader *r, int ctx, uint16_t max_user_props,
                              struct smq_props *out)
{
    while (smq__left(r) > 0) {
        uint32_t id, num = 0;
        struct smq_span s = {0};
        if (!smq__read_varint(r, &id))
            return SMQ_RC_MALFORMED;
        const struct prop_spec *spec = spec_of(id);
        if (spec == NULL || (spec->where & W(ctx)) == 0)
            return SMQ_RC_MALFORMED; /* 2.2.2.2: not valid for this packet type */
        if (!read_value(r, spec->type, &num, &s))
            return SMQ_RC_MALFORMED;
        bool seen = (out->present & SMQ_PROP_BIT(id)) != 0;
        out->present |= SMQ_PROP_BIT(id);
        if (id == SMQ_PROP_USER_PROPERTY) {
            if (out->user_count >= max_user_props)
                return SMQ_RC_QUOTA_EXCEEDED;
            out->user_count++;
            continue;
        }
        /* Only a PUBLISH (server to client) may carry several Subscription Identifiers. */
        bool may_repeat = id == SMQ_PROP_SUBSCRIPTION_ID && ctx == SMQ_PUBLISH;
        if (seen && !may_repeat)
            return SMQ_RC_PROTOCOL_ERROR;
        uint8_t bad = check_value(spec, num, s);
        if (bad)
            return bad;
        if (id == SMQ_PROP_SUBSCRIPTION_ID) {
            if (out->sub_id_count < UINT16_MAX)
                out->sub_id_count++; /* saturates: the entries themselves are in multi */
            if (seen)
                continue; /* keep the first in the field; the rest are read from multi */
        }
        store(out, spec, num, s);
    }
    /* 3.1.2.11.10, 3.2.2.3.18 and 3.15.2.2.3: Authentication Data without an
     * Authentication Method is a Protocol Error. */
    if (smq_props_has(out, SMQ_PROP_AUTH_DATA) && !smq_props_has(out, SMQ_PROP_AUTH_METHOD))
        return SMQ_RC_PROTOCOL_ERROR;
    return 0;
}

ssize_t smq_props_decode(const uint8_t *src, size_t len, int ctx, uint16_t max_user_props,
                         struct smq_props *out, uint8_t *reason)
{
    *out = (struct smq_props){0};
    struct smq_reader r = {src, src + len};
    uint32_t block_len;
    if (!smq__read_varint(&r, &block_len) || smq__left(&r) < block_len) {
        *reason = SMQ_RC_MALFORMED;
        return SMQ_EPROTO;
    }
    size_t prefix = (size_t)(r.pos - src);
    out->multi = (struct smq_span){r.pos, block_len};
    struct smq_reader block = {r.pos, r.pos + block_len};
    uint8_t bad = decode_entries(&block, ctx, max_user_props ? max_user_props
                                                              : SMQ_DEFAULT_MAX_USER_PROPS, out);
    if (bad) {
        *reason = bad;
        return SMQ_EPROTO;
    }
    return (ssize_t)(prefix + block_len);
}

/* Returns the encoded size of one value. */
static size_t value_size(uint8_t type, uint32_t num, struct smq_span s)
{
    switch (type) {
    case T_BYTE:
        return 1;
    case T_U16:
        return 2;
    case T_U32:
        return 4;
    case T_VARINT:
        return smq_varint_size(num);
    default:
        return 2 + s.len;
    }
}

static uint32_t scalar_of(const struct smq_props *props, const struct prop_spec *spec)
{
    const char *field = (const char *)props + spec->offset;
    switch (spec->type) {
    case T_BYTE:
        return *(const uint8_t *)field;
    case T_U16:
        return *(const uint16_t *)field;
    default:
        return *(const uint32_t *)field;
    }
}

static struct smq_span span_of(const struct smq_props *props, const struct prop_spec *spec)
{
    return *(const struct smq_span *)((const char *)props + spec->offset);
}

/* True for the identifiers the encoder writes from fields (not repeated ones). */
static bool is_field(uint32_t id)
{
    return id != SMQ_PROP_USER_PROPERTY && id != SMQ_PROP_SUBSCRIPTION_ID;
}

/* Walks the next User Property or Subscription Identifier entry of multi, returning its
 * first byte and length. Entries of other identifiers are skipped. */
static bool next_multi(const struct smq_props *props, size_t *pos, uint32_t *id,
                       struct smq_span *entry)
{
    if (props->multi.len == 0 || *pos >= props->multi.len)
        return false;
    struct smq_reader r = {props->multi.ptr + *pos, props->multi.ptr + props->multi.len};
    while (smq__left(&r) > 0) {
        const uint8_t *start = r.pos;
        uint32_t num;
        struct smq_span s;
        if (!smq__read_varint(&r, id))
            return false;
        const struct prop_spec *spec = spec_of(*id);
        if (spec == NULL || !read_value(&r, spec->type, &num, &s))
            return false;
        *pos = (size_t)(r.pos - props->multi.ptr);
        if (!is_field(*id)) {
            *entry = (struct smq_span){start, (size_t)(r.pos - start)};
            return true;
        }
    }
    return false;
}

size_t smq_props_body_size(const struct smq_props *props)
{
    size_t size = 0;
    for (uint32_t id = 0; id < N_SPECS; id++) {
        if (specs[id].type == T_NONE || !is_field(id) || !smq_props_has(props, id))
            continue;
        size += 1 + value_size(specs[id].type, scalar_of(props, &specs[id]),
                               specs[id].type >= T_STR ? span_of(props, &specs[id])
                                                       : (struct smq_span){0});
    }
    for (uint16_t i = 0; i < props->sub_ids_len; i++)
        size += 1 + smq_varint_size(props->sub_ids[i]);
    size_t pos = 0;
    uint32_t id;
    struct smq_span entry;
    while (next_multi(props, &pos, &id, &entry))
        size += entry.len;
    return size;
}

bool smq_props_fit(const struct smq_props *props)
{
    for (uint32_t id = 0; id < N_SPECS; id++) {
        if (specs[id].type < T_STR || specs[id].type == T_PAIR || !smq_props_has(props, id))
            continue;
        if (span_of(props, &specs[id]).len > SMQ_STRING_MAX)
            return false;
    }
    return true;
}

size_t smq_props_size(const struct smq_props *props)
{
    size_t body = smq_props_body_size(props);
    return smq_varint_size((uint32_t)body) + body;
}

static uint8_t *put_field(uint8_t *p, const struct smq_props *props, uint32_t id)
{
    const struct prop_spec *spec = &specs[id];
    p = smq__put_u8(p, (uint8_t)id);
    switch (spec->type) {
    case T_BYTE:
        return smq__put_u8(p, (uint8_t)scalar_of(props, spec));
    case T_U16:
        return smq__put_u16(p, (uint16_t)scalar_of(props, spec));
    case T_U32:
        return smq__put_u32(p, scalar_of(props, spec));
    case T_VARINT:
        return smq__put_varint(p, scalar_of(props, spec));
    default:
        return smq__put_bin(p, span_of(props, spec));
    }
}

size_t smq_props_encode(uint8_t *dst, const struct smq_props *props)
{
    size_t body = smq_props_body_size(props);
    uint8_t *p = smq__put_varint(dst, (uint32_t)body);
    for (uint32_t id = 0; id < N_SPECS; id++) {
        if (specs[id].type != T_NONE && is_field(id) && smq_props_has(props, id))
            p = put_field(p, props, id);
    }
    for (uint16_t i = 0; i < props->sub_ids_len; i++) {
        p = smq__put_u8(p, SMQ_PROP_SUBSCRIPTION_ID);
        p = smq__put_varint(p, props->sub_ids[i]);
    }
    size_t pos = 0;
    uint32_t id;
    struct smq_span entry;
    while (next_multi(props, &pos, &id, &entry)) {
        memcpy(p, entry.ptr, entry.len);
        p += entry.len;
    }
    return (size_t)(p - dst);
}

ssize_t smq_props_put_user(uint8_t *dst, size_t cap, struct smq_span key, struct smq_span value)
{
    if (key.len > SMQ_STRING_MAX || value.len > SMQ_STRING_MAX)
        return SMQ_EINVAL;
    size_t need = 1 + 2 + key.len + 2 + value.len;
    if (cap < need)
        return SMQ_ENOBUFS;
    uint8_t *p = smq__put_u8(dst, SMQ_PROP_USER_PROPERTY);
    p = smq__put_bin(p, key);
    smq__put_bin(p, value);
    return (ssize_t)need;
}

bool smq_props_next_user(const struct smq_props *props, size_t *pos, struct smq_span *key,
                         struct smq_span *value)
{
    uint32_t id;
    struct smq_span entry;
    while (next_multi(props, pos, &id, &entry)) {
        if (id != SMQ_PROP_USER_PROPERTY)
            continue;
        struct smq_reader r = {entry.ptr + 1, entry.ptr + entry.len};
        return smq__read_bin(&r, key) && smq__read_bin(&r, value);
    }
    return false;
}

bool smq_props_next_sub_id(const struct smq_props *props, size_t *pos, uint32_t *out)
{
    uint32_t id;
    struct smq_span entry;
    while (next_multi(props, pos, &id, &entry)) {
        if (id != SMQ_PROP_SUBSCRIPTION_ID)
            continue;
        struct smq_reader r = {entry.ptr + 1, entry.ptr + entry.len};
        return smq__read_varint(&r, out);
    }
    return false;
}
