/* The fixed header (section 2.1): judged on the type byte, then on the remaining length,
 * before any of the body is buffered. See framer.h and proto/README.md for the order. */
#include "proto/framer.h"

#include "proto/errors.h"
#include "proto/packet.h"
#include "proto/reason.h"
#include "proto/varint.h"

/* [MQTT-2.1.3-1] the flags each type must carry; PUBLISH's are checked apart. */
static uint8_t required_flags(uint8_t type)
{
    return (type == SMQ_PUBREL || type == SMQ_SUBSCRIBE || type == SMQ_UNSUBSCRIBE) ? 0x2 : 0x0;
}

static bool sent_by_client_only(uint8_t type)
{
    return type == SMQ_CONNECT || type == SMQ_SUBSCRIBE || type == SMQ_UNSUBSCRIBE ||
           type == SMQ_PINGREQ;
}

static bool sent_by_server_only(uint8_t type)
{
    return type == SMQ_CONNACK || type == SMQ_SUBACK || type == SMQ_UNSUBACK ||
           type == SMQ_PINGRESP;
}

/* Judges the first byte. Returns 0 or the reason code to fail with. */
static uint8_t check_type_byte(uint8_t byte, const struct smq_decode_opts *opts)
{
    uint8_t type = byte >> 4, flags = byte & 0x0f;
    uint8_t version = opts->version ? opts->version : SMQ_V311;
    if (type == 0)
        return SMQ_RC_MALFORMED; /* reserved */
    if (opts->awaiting_connect && type != SMQ_CONNECT)
        return SMQ_RC_PROTOCOL_ERROR; /* [MQTT-3.1.0-1] CONNECT comes first */
    if (type == SMQ_PUBLISH) {
        uint8_t qos = (flags >> 1) & 3;
        if (qos == 3)
            return SMQ_RC_MALFORMED; /* [MQTT-3.3.1-4] */
        if (qos == 0 && (flags & 0x8))
            return SMQ_RC_MALFORMED; /* [MQTT-3.3.1-2] DUP is 0 for QoS 0 */
    } else if (flags != required_flags(type)) {
        return SMQ_RC_MALFORMED; /* [MQTT-2.1.3-1] */
    }
    /* Before 5.0 type 15 is reserved. */
    if (type == SMQ_AUTH && version < SMQ_V5)
        return SMQ_RC_MALFORMED;
    if (opts->sender == SMQ_SENDER_CLIENT && sent_by_server_only(type))
        return SMQ_RC_PROTOCOL_ERROR;
    if (opts->sender == SMQ_SENDER_SERVER &&
        (sent_by_client_only(type) || (type == SMQ_DISCONNECT && version < SMQ_V5)))
        return SMQ_RC_PROTOCOL_ERROR; /* a 3.x server never sends DISCONNECT */
    return 0;
}

/* The remaining length a fixed-size packet must have, or -1 when its size varies; judged
 * here so a PINGREQ declaring a megabyte is refused before a byte of it is buffered. */
static int64_t fixed_remaining(uint8_t type, uint8_t version)
{
    switch (type) {
    case SMQ_PINGREQ:
    case SMQ_PINGRESP:
        return 0;
    case SMQ_DISCONNECT:
        return version < SMQ_V5 ? 0 : -1;
    case SMQ_CONNACK:
    case SMQ_PUBACK:
    case SMQ_PUBREC:
    case SMQ_PUBREL:
    case SMQ_PUBCOMP:
    case SMQ_UNSUBACK:
        return version < SMQ_V5 ? 2 : -1;
    default:
        return -1;
    }
}

ssize_t smq_decode_fixed_header(const uint8_t *src, size_t len, const struct smq_decode_opts *opts,
                                struct smq_fixed_header *out, uint8_t *reason)
{
    if (len == 0)
        return 0;
    uint8_t bad = check_type_byte(src[0], opts);
    if (bad) {
        *reason = bad;
        return SMQ_EPROTO;
    }
    uint32_t remaining;
    ssize_t n = smq_varint_decode(src + 1, len - 1, &remaining);
    if (n == 0)
        return 0;
    if (n < 0) {
        *reason = SMQ_RC_MALFORMED;
        return SMQ_EPROTO;
    }
    int64_t fixed = fixed_remaining(src[0] >> 4, opts->version ? opts->version : SMQ_V311);
    if (fixed >= 0 && remaining != (uint64_t)fixed) {
        *reason = SMQ_RC_MALFORMED;
        return SMQ_EPROTO;
    }
    uint64_t total = 1u + (uint64_t)n + remaining;
    if (opts->max_packet_size != 0 && total > opts->max_packet_size) {
        *reason = SMQ_RC_PACKET_TOO_LARGE;
        return SMQ_EPROTO;
    }
    out->type = src[0] >> 4;
    out->flags = src[0] & 0x0f;
    out->header_len = (uint8_t)(1 + n);
    out->remaining = remaining;
    return 1 + n;
}
