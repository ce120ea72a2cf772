/* Encoding every packet: a size pass, then a write pass over the same shape.
 *
 * body_size() and write_body() mirror each other field by field; a test checks that the
 * bytes written always equal the size announced. Strings longer than a two-byte length can
 * say, and packets past the protocol's largest remaining length, are refused as limits. */
#include "proto/encode.h"

#include "proto/errors.h"
#include "proto/props.h"
#include "proto/writer.h"

struct sizer {
    size_t n;
    bool too_long;
};

static void add(struct sizer *sz, size_t n)
{
    sz->n += n;
}

static void add_bin(struct sizer *sz, struct smq_span s)
{
    sz->too_long |= s.len > SMQ_STRING_MAX;
    sz->n += 2 + s.len;
}

static void add_props(struct sizer *sz, uint8_t version, const struct smq_props *props)
{
    if (version >= SMQ_V5) {
        sz->too_long |= !smq_props_fit(props);
        sz->n += smq_props_size(props);
    }
}

static const char *protocol_name(uint8_t version)
{
    return version == SMQ_V31 ? "MQIsdp" : "MQTT";
}

static void connect_size(struct sizer *sz, const struct smq_connect *c)
{
    add_bin(sz, smq_span_str(protocol_name(c->version)));
    add(sz, 1 + 1 + 2); /* level, flags, keep alive */
    add_props(sz, c->version, &c->props);
    add_bin(sz, c->client_id);
    if (c->will) {
        add_props(sz, c->version, &c->will_props);
        add_bin(sz, c->will_topic);
        add_bin(sz, c->will_payload);
    }
    if (c->has_username)
        add_bin(sz, c->username);
    if (c->has_password)
        add_bin(sz, c->password);
}

/* True when a v5 ack, DISCONNECT or AUTH needs its property block. */
static bool needs_props(uint8_t version, const struct smq_props *props)
{
    return version >= SMQ_V5 && smq_props_body_size(props) > 0;
}

static size_t reason_packet_size(uint8_t version, const struct smq_reason_packet *rp)
{
    if (version < SMQ_V5)
        return 0;
    if (needs_props(version, &rp->props))
        return 1 + smq_props_size(&rp->props);
    return rp->reason != 0 ? 1 : 0; /* 3.14.2.1: both may be omitted for Success */
}

static size_t ack_size(uint8_t version, const struct smq_ack *ack)
{
    if (needs_props(version, &ack->props))
        return 3 + smq_props_size(&ack->props);
    return version >= SMQ_V5 && ack->reason != 0 ? 3 : 2;
}

static void subscribe_size(struct sizer *sz, uint8_t version, const struct smq_subscribe *s)
{
    add(sz, 2);
    add_props(sz, version, &s->props);
    for (uint32_t i = 0; i < s->count; i++) {
        add_bin(sz, s->list[i].filter);
        add(sz, 1);
    }
}

static void unsubscribe_size(struct sizer *sz, uint8_t version, const struct smq_unsubscribe *u)
{
    add(sz, 2);
    add_props(sz, version, &u->props);
    for (uint32_t i = 0; i < u->count; i++)
        add_bin(sz, u->list[i]);
}

static void publish_header_body_size(struct sizer *sz, uint8_t version, const struct smq_publish *p)
{
    add_bin(sz, p->topic);
    if (p->qos > 0)
        add(sz, 2);
    add_props(sz, version, &p->props);
}

static void body_size(struct sizer *sz, uint8_t version, const struct smq_packet *pkt)
{
    switch (pkt->type) {
    case SMQ_CONNECT:
        connect_size(sz, &pkt->u.connect);
        break;
    case SMQ_CONNACK:
        add(sz, 2);
        add_props(sz, version, &pkt->u.connack.props);
        break;
    case SMQ_PUBLISH:
        publish_header_body_size(sz, version, &pkt->u.publish);
        add(sz, pkt->u.publish.payload.len);
        break;
    case SMQ_PUBACK:
    case SMQ_PUBREC:
    case SMQ_PUBREL:
    case SMQ_PUBCOMP:
        sz->too_long |= version >= SMQ_V5 && !smq_props_fit(&pkt->u.ack.props);
        add(sz, ack_size(version, &pkt->u.ack));
        break;
    case SMQ_SUBSCRIBE:
        subscribe_size(sz, version, &pkt->u.subscribe);
        break;
    case SMQ_SUBACK:
    case SMQ_UNSUBACK:
        add(sz, 2);
        if (version >= SMQ_V5 || pkt->type == SMQ_SUBACK) {
            add_props(sz, version, &pkt->u.sub_ack.props);
            add(sz, pkt->u.sub_ack.reasons.len);
        }
        break;
    case SMQ_UNSUBSCRIBE:
        unsubscribe_size(sz, version, &pkt->u.unsubscribe);
        break;
    case SMQ_DISCONNECT:
    case SMQ_AUTH:
        sz->too_long |= version >= SMQ_V5 && !smq_props_fit(&pkt->u.disconnect.props);
        add(sz, reason_packet_size(version, &pkt->u.disconnect));
        break;
    default: /* PINGREQ, PINGRESP */
        break;
    }
}

static uint8_t first_byte(const struct smq_packet *pkt)
{
    uint8_t flags = 0;
    if (pkt->type == SMQ_PUBLISH) {
        const struct smq_publish *p = &pkt->u.publish;
        flags = (uint8_t)((p->dup ? 0x8 : 0) | (p->qos << 1) | (p->retain ? 1 : 0));
    } else if (pkt->type == SMQ_PUBREL || pkt->type == SMQ_SUBSCRIBE ||
               pkt->type == SMQ_UNSUBSCRIBE) {
        flags = 0x2;
    }
    return (uint8_t)(pkt->type << 4 | flags);
}

static uint8_t *put_props(uint8_t *p, uint8_t version, const struct smq_props *props)
{
    return version >= SMQ_V5 ? p + smq_props_encode(p, props) : p;
}

static uint8_t *write_connect(uint8_t *p, const struct smq_connect *c)
{
    p = smq__put_bin(p, smq_span_str(protocol_name(c->version)));
    p = smq__put_u8(p, c->version);
    uint8_t flags = (uint8_t)((c->has_username ? 0x80 : 0) | (c->has_password ? 0x40 : 0) |
                              (c->clean_start ? 0x02 : 0));
    if (c->will)
        flags |= (uint8_t)(0x04 | (c->will_qos << 3) | (c->will_retain ? 0x20 : 0));
    p = smq__put_u8(p, flags);
    p = smq__put_u16(p, c->keep_alive);
    p = put_props(p, c->version, &c->props);
    p = smq__put_bin(p, c->client_id);
    if (c->will) {
        p = put_props(p, c->version, &c->will_props);
        p = smq__put_bin(p, c->will_topic);
        p = smq__put_bin(p, c->will_payload);
    }
    if (c->has_username)
        p = smq__put_bin(p, c->username);
    if (c->has_password)
        p = smq__put_bin(p, c->password);
    return p;
}

static uint8_t *write_ack(uint8_t *p, uint8_t version, const struct smq_ack *ack)
{
    p = smq__put_u16(p, ack->packet_id);
    bool props = needs_props(version, &ack->props);
    if (props || (version >= SMQ_V5 && ack->reason != 0))
        p = smq__put_u8(p, ack->reason);
    return props ? put_props(p, version, &ack->props) : p;
}

static uint8_t *write_reason_packet(uint8_t *p, uint8_t version,
                                    const struct smq_reason_packet *rp)
{
    if (version < SMQ_V5)
        return p;
    bool props = needs_props(version, &rp->props);
    if (props || rp->reason != 0)
        p = smq__put_u8(p, rp->reason);
    return props ? put_props(p, version, &rp->props) : p;
}

static uint8_t *write_subscribe(uint8_t *p, uint8_t version, const struct smq_subscribe *s)
{
    p = smq__put_u16(p, s->packet_id);
    p = put_props(p, version, &s->props);
    for (uint32_t i = 0; i < s->count; i++) {
        const struct smq_sub_entry *e = &s->list[i];
        p = smq__put_bin(p, e->filter);
        uint8_t options = e->qos;
        if (version >= SMQ_V5)
            options |= (uint8_t)((e->no_local ? 0x04 : 0) | (e->retain_as_published ? 0x08 : 0) |
                                 (e->retain_handling << 4));
        p = smq__put_u8(p, options);
    }
    return p;
}

static uint8_t *write_publish_header_body(uint8_t *p, uint8_t version, const struct smq_publish *pub)
{
    p = smq__put_bin(p, pub->topic);
    if (pub->qos > 0)
        p = smq__put_u16(p, pub->packet_id);
    return put_props(p, version, &pub->props);
}

static uint8_t *write_body(uint8_t *p, uint8_t version, const struct smq_packet *pkt)
{
    switch (pkt->type) {
    case SMQ_CONNECT:
        return write_connect(p, &pkt->u.connect);
    case SMQ_CONNACK:
        p = smq__put_u8(p, pkt->u.connack.session_present ? 1 : 0);
        p = smq__put_u8(p, pkt->u.connack.reason);
        return put_props(p, version, &pkt->u.connack.props);
    case SMQ_PUBLISH:
        p = write_publish_header_body(p, version, &pkt->u.publish);
        if (pkt->u.publish.payload.len)
            memcpy(p, pkt->u.publish.payload.ptr, pkt->u.publish.payload.len);
        return p + pkt->u.publish.payload.len;
    case SMQ_PUBACK:
    case SMQ_PUBREC:
    case SMQ_PUBREL:
    case SMQ_PUBCOMP:
        return write_ack(p, version, &pkt->u.ack);
    case SMQ_SUBSCRIBE:
        return write_subscribe(p, version, &pkt->u.subscribe);
    case SMQ_SUBACK:
    case SMQ_UNSUBACK:
        p = smq__put_u16(p, pkt->u.sub_ack.packet_id);
        if (version < SMQ_V5 && pkt->type == SMQ_UNSUBACK)
            return p;
        p = put_props(p, version, &pkt->u.sub_ack.props);
        if (pkt->u.sub_ack.reasons.len)
            memcpy(p, pkt->u.sub_ack.reasons.ptr, pkt->u.sub_ack.reasons.len);
        return p + pkt->u.sub_ack.reasons.len;
    case SMQ_UNSUBSCRIBE:
        p = smq__put_u16(p, pkt->u.unsubscribe.packet_id);
        p = put_props(p, version, &pkt->u.unsubscribe.props);
        for (uint32_t i = 0; i < pkt->u.unsubscribe.count; i++)
            p = smq__put_bin(p, pkt->u.unsubscribe.list[i]);
        return p;
    case SMQ_DISCONNECT:
    case SMQ_AUTH:
        return write_reason_packet(p, version, &pkt->u.disconnect);
    default:
        return p;
    }
}

static uint8_t version_for(uint8_t version, const struct smq_packet *pkt)
{
    return pkt->type == SMQ_CONNECT ? pkt->u.connect.version : version;
}

/* Returns the remaining length of pkt, or -1 when it cannot be encoded. */
static int64_t remaining_of(uint8_t version, const struct smq_packet *pkt)
{
    struct sizer sz = {0};
    body_size(&sz, version_for(version, pkt), pkt);
    if (sz.too_long || sz.n > SMQ_VARINT_MAX)
        return -1;
    return (int64_t)sz.n;
}

size_t smq_encode_size(uint8_t version, const struct smq_packet *pkt)
{
    int64_t remaining = remaining_of(version, pkt);
    if (remaining < 0)
        return 0;
    return 1 + smq_varint_size((uint32_t)remaining) + (size_t)remaining;
}

ssize_t smq_encode(uint8_t *dst, size_t cap, uint8_t version, const struct smq_packet *pkt)
{
    int64_t remaining = remaining_of(version, pkt);
    if (remaining < 0)
        return SMQ_ELIMIT;
    size_t total = 1 + smq_varint_size((uint32_t)remaining) + (size_t)remaining;
    if (cap < total)
        return SMQ_ENOBUFS;
    uint8_t *p = smq__put_u8(dst, first_byte(pkt));
    p = smq__put_varint(p, (uint32_t)remaining);
    p = write_body(p, version_for(version, pkt), pkt);
    return (ssize_t)(p - dst);
}

/* Returns the header's size and sets *remaining, or 0 when the packet is too large. */
static size_t publish_header_size(uint8_t version, const struct smq_publish *pub,
                                  uint32_t *remaining)
{
    struct sizer sz = {0};
    publish_header_body_size(&sz, version, pub);
    if (sz.too_long || sz.n + pub->payload.len > SMQ_VARINT_MAX)
        return 0;
    *remaining = (uint32_t)(sz.n + pub->payload.len);
    return 1 + smq_varint_size(*remaining) + sz.n;
}

size_t smq_encode_publish_header_size(uint8_t version, const struct smq_publish *pub)
{
    uint32_t remaining;
    return publish_header_size(version, pub, &remaining);
}

ssize_t smq_encode_publish_header(uint8_t *dst, size_t cap, uint8_t version,
                                  const struct smq_publish *pub)
{
    uint32_t remaining;
    size_t size = publish_header_size(version, pub, &remaining);
    if (size == 0)
        return SMQ_ELIMIT;
    if (cap < size)
        return SMQ_ENOBUFS;
    struct smq_packet pkt = {.type = SMQ_PUBLISH, .u.publish = *pub};
    uint8_t *p = smq__put_u8(dst, first_byte(&pkt));
    p = smq__put_varint(p, remaining);
    p = write_publish_header_body(p, version, pub);
    return (ssize_t)(p - dst);
}
