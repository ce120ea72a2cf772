/* Whole-packet decoding: the framer, then the body decoder for the type.
 *
 * PUBLISH, the four acks, PINGs, DISCONNECT, AUTH and CONNACK are decoded here; CONNECT and
 * the subscription packets have files of their own. Every body decoder must consume the
 * body exactly: bytes left over are malformed. */
#include "proto/decode.h"

#include "proto/decode_parts.h"
#include "proto/errors.h"
#include "proto/topic.h"

static uint8_t version_of(const struct smq_decode_opts *opts)
{
    return opts->version ? opts->version : SMQ_V311;
}

static uint8_t decode_connack(struct smq_reader *r, const struct smq_decode_opts *opts,
                              struct smq_connack *out)
{
    uint8_t flags;
    if (!smq__read_u8(r, &flags) || !smq__read_u8(r, &out->reason))
        return SMQ_RC_MALFORMED;
    if (flags & 0xFE)
        return SMQ_RC_MALFORMED; /* [MQTT-3.2.2-1] reserved bits */
    out->session_present = flags & 1;
    if (version_of(opts) < SMQ_V5) {
        if (out->reason > SMQ_V3_NOT_AUTHORIZED)
            return SMQ_RC_MALFORMED; /* 6-255 are reserved in 3.1.1 */
    } else {
        if (!smq_reason_allowed(SMQ_CONNACK, out->reason))
            return SMQ_RC_PROTOCOL_ERROR;
        uint8_t bad = smq__read_props(r, SMQ_CONNACK, opts, &out->props);
        if (bad)
            return bad;
    }
    if (out->session_present && out->reason != 0)
        return SMQ_RC_PROTOCOL_ERROR; /* [MQTT-3.2.2-4] / [MQTT-3.2.2-6] */
    return 0;
}

static uint8_t decode_publish(struct smq_reader *r, uint8_t flags,
                              const struct smq_decode_opts *opts, struct smq_publish *out)
{
    out->dup = (flags & 0x8) != 0;
    out->qos = (flags >> 1) & 3;
    out->retain = (flags & 1) != 0;
    if (!smq__read_str(r, &out->topic))
        return SMQ_RC_MALFORMED; /* [MQTT-3.3.2-1] a UTF-8 string */
    if (out->qos > 0) {
        uint8_t bad = smq__read_packet_id(r, &out->packet_id);
        if (bad)
            return bad;
    }
    if (version_of(opts) >= SMQ_V5) {
        uint8_t bad = smq__read_props(r, SMQ_PUBLISH, opts, &out->props);
        if (bad)
            return bad;
        if (out->props.sub_id_count > 0 && opts->sender == SMQ_SENDER_CLIENT)
            return SMQ_RC_PROTOCOL_ERROR; /* [MQTT-3.3.4-6] */
        if (out->topic.len == 0) {
            /* 3.3.2.3.4: an empty topic must be filled in by a Topic Alias. */
            if (!smq_props_has(&out->props, SMQ_PROP_TOPIC_ALIAS))
                return SMQ_RC_PROTOCOL_ERROR;
        } else if (!smq_topic_name_is_valid(out->topic)) {
            return SMQ_RC_MALFORMED; /* [MQTT-3.3.2-2] no wildcards */
        }
    } else if (!smq_topic_name_is_valid(out->topic)) {
        return SMQ_RC_MALFORMED; /* [MQTT-3.3.2-2] [MQTT-4.7.3-1] */
    }
    out->payload = (struct smq_span){r->pos, smq__left(r)};
    r->pos = r->end;
    return 0;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP (3.4 to 3.7). */
static uint8_t decode_ack(struct smq_reader *r, uint8_t type, const struct smq_decode_opts *opts,
                          struct smq_ack *out)
{
    size_t body = smq__left(r);
    if (body < 2 || (version_of(opts) < SMQ_V5 && body != 2))
        return SMQ_RC_MALFORMED;
    uint8_t bad = smq__read_packet_id(r, &out->packet_id);
    if (bad)
        return bad;
    if (body == 2)
        return 0; /* 3.4.2.1: no reason code means Success */
    smq__read_u8(r, &out->reason);
    if (!smq_reason_allowed(type, out->reason))
        return SMQ_RC_PROTOCOL_ERROR;
    if (body == 3)
        return 0; /* 3.4.2.2: no Property Length means none */
    return smq__read_props(r, type, opts, &out->props);
}

/* DISCONNECT (3.14) and AUTH (3.15) of 5.0: a reason code, then properties, both optional. */
static uint8_t decode_reason_packet(struct smq_reader *r, uint8_t type,
                                    const struct smq_decode_opts *opts,
                                    struct smq_reason_packet *out)
{
    size_t body = smq__left(r);
    if (body == 0)
        return 0;
    smq__read_u8(r, &out->reason);
    if (!smq_reason_allowed(type, out->reason))
        return SMQ_RC_PROTOCOL_ERROR;
    if (body > 1) {
        uint8_t bad = smq__read_props(r, type, opts, &out->props);
        if (bad)
            return bad;
    }
    if (type == SMQ_DISCONNECT && opts->sender == SMQ_SENDER_SERVER &&
        smq_props_has(&out->props, SMQ_PROP_SESSION_EXPIRY))
        return SMQ_RC_PROTOCOL_ERROR; /* [MQTT-3.14.2-2] */
    if (type == SMQ_AUTH && !smq_props_has(&out->props, SMQ_PROP_AUTH_METHOD))
        return SMQ_RC_PROTOCOL_ERROR; /* 3.15.2.2.2: the method is required */
    return 0;
}

static uint8_t decode_by_type(struct smq_reader *r, const struct smq_fixed_header *hdr,
                              const struct smq_decode_opts *opts, struct smq_packet *out)
{
    bool v5 = version_of(opts) >= SMQ_V5;
    switch (hdr->type) {
    case SMQ_CONNECT:
        return smq__decode_connect(r, opts, &out->u.connect);
    case SMQ_CONNACK:
        return decode_connack(r, opts, &out->u.connack);
    case SMQ_PUBLISH:
        return decode_publish(r, hdr->flags, opts, &out->u.publish);
    case SMQ_PUBACK:
    case SMQ_PUBREC:
    case SMQ_PUBREL:
    case SMQ_PUBCOMP:
        return decode_ack(r, hdr->type, opts, &out->u.ack);
    case SMQ_SUBSCRIBE:
        return smq__decode_subscribe(r, opts, &out->u.subscribe);
    case SMQ_SUBACK:
    case SMQ_UNSUBACK:
        return smq__decode_sub_ack(r, opts, hdr->type, &out->u.sub_ack);
    case SMQ_UNSUBSCRIBE:
        return smq__decode_unsubscribe(r, opts, &out->u.unsubscribe);
    case SMQ_PINGREQ:
    case SMQ_PINGRESP:
        return 0; /* any body is left over, hence malformed */
    case SMQ_DISCONNECT:
        return v5 ? decode_reason_packet(r, SMQ_DISCONNECT, opts, &out->u.disconnect) : 0;
    case SMQ_AUTH:
        return decode_reason_packet(r, SMQ_AUTH, opts, &out->u.auth);
    default:
        return SMQ_RC_MALFORMED;
    }
}

int smq_decode_body(const struct smq_fixed_header *hdr, const uint8_t *body,
                    const struct smq_decode_opts *opts, struct smq_packet *out, uint8_t *reason)
{
    *out = (struct smq_packet){.type = hdr->type, .flags = hdr->flags};
    struct smq_reader r = {body, body + hdr->remaining};
    uint8_t bad = decode_by_type(&r, hdr, opts, out);
    if (bad == 0 && smq__left(&r) != 0)
        bad = SMQ_RC_MALFORMED; /* bytes after the last field */
    if (bad) {
        *reason = bad;
        return SMQ_EPROTO;
    }
    return 0;
}

ssize_t smq_decode_packet(const uint8_t *src, size_t len, const struct smq_decode_opts *opts,
                          struct smq_packet *out, uint8_t *reason)
{
    struct smq_fixed_header hdr;
    ssize_t n = smq_decode_fixed_header(src, len, opts, &hdr, reason);
    if (n < 0 && len > 0)
        *out = (struct smq_packet){.type = src[0] >> 4, .flags = src[0] & 0x0f};
    if (n <= 0)
        return n;
    if (len - (size_t)n < hdr.remaining)
        return 0;
    int rc = smq_decode_body(&hdr, src + n, opts, out, reason);
    if (rc < 0)
        return rc;
    return n + (ssize_t)hdr.remaining;
}
