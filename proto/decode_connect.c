/* CONNECT (section 3.1 of 5.0 and 3.1.1; the 3.1 spec for protocol level 3).
 *
 * The protocol name and level decide how the rest is read, so they are read first and kept
 * in out->version even when decoding fails later: the broker answers a refused CONNECT in
 * the client's own CONNACK format. */
#include "proto/decode_parts.h"
#include "proto/topic.h"

/* Connect flags (3.1.2.3). */
#define F_USERNAME 0x80
#define F_PASSWORD 0x40
#define F_WILL_RETAIN 0x20
#define F_WILL_QOS 0x18
#define F_WILL 0x04
#define F_CLEAN 0x02
#define F_RESERVED 0x01

/* Reads protocol name and level; returns 0x84 for any pair but the three this broker
 * speaks (see proto/README.md). */
static uint8_t read_protocol(struct smq_reader *r, struct smq_connect *out)
{
    struct smq_span name;
    uint8_t level;
    if (!smq__read_bin(r, &name) || !smq__read_u8(r, &level))
        return SMQ_RC_MALFORMED;
    out->version = level;
    if (level == SMQ_V31 && smq_span_eq_str(name, "MQIsdp"))
        return 0;
    if ((level == SMQ_V311 || level == SMQ_V5) && smq_span_eq_str(name, "MQTT"))
        return 0;
    return SMQ_RC_UNSUPPORTED_VERSION; /* [MQTT-3.1.2-2] */
}

static uint8_t check_flags(uint8_t flags, uint8_t version)
{
    if (version >= SMQ_V311 && (flags & F_RESERVED))
        return SMQ_RC_MALFORMED; /* [MQTT-3.1.2-3] */
    uint8_t will_qos = (flags & F_WILL_QOS) >> 3;
    if (will_qos == 3)
        return SMQ_RC_MALFORMED; /* [MQTT-3.1.2-14] */
    if (!(flags & F_WILL) && (will_qos != 0 || (flags & F_WILL_RETAIN)))
        return SMQ_RC_MALFORMED; /* [MQTT-3.1.2-13] [MQTT-3.1.2-15] */
    if (version < SMQ_V5 && (flags & F_PASSWORD) && !(flags & F_USERNAME))
        return SMQ_RC_MALFORMED; /* [MQTT-3.1.2-22] of 3.1.1 */
    return 0;
}

static uint8_t read_will(struct smq_reader *r, const struct smq_decode_opts *opts,
                         struct smq_connect *out)
{
    if (out->version >= SMQ_V5) {
        uint8_t bad = smq__read_props(r, SMQ_PROPS_WILL, opts, &out->will_props);
        if (bad)
            return bad;
    }
    if (!smq__read_str(r, &out->will_topic) || !smq__read_bin(r, &out->will_payload))
        return SMQ_RC_MALFORMED;
    if (!smq_topic_name_is_valid(out->will_topic))
        return SMQ_RC_MALFORMED; /* [MQTT-3.1.3-11] and the topic name rules */
    return 0;
}

uint8_t smq__decode_connect(struct smq_reader *r, const struct smq_decode_opts *opts,
                            struct smq_connect *out)
{
    uint8_t bad = read_protocol(r, out);
    if (bad)
        return bad;
    uint8_t flags;
    if (!smq__read_u8(r, &flags) || !smq__read_u16(r, &out->keep_alive))
        return SMQ_RC_MALFORMED;
    bad = check_flags(flags, out->version);
    if (bad)
        return bad;
    out->clean_start = (flags & F_CLEAN) != 0;
    out->will = (flags & F_WILL) != 0;
    out->will_qos = (flags & F_WILL_QOS) >> 3;
    out->will_retain = (flags & F_WILL_RETAIN) != 0;
    out->has_username = (flags & F_USERNAME) != 0;
    out->has_password = (flags & F_PASSWORD) != 0;
    if (out->version >= SMQ_V5 && (bad = smq__read_props(r, SMQ_CONNECT, opts, &out->props)))
        return bad;
    if (!smq__read_str(r, &out->client_id))
        return SMQ_RC_MALFORMED; /* [MQTT-3.1.3-4] */
    if (out->will && (bad = read_will(r, opts, out)))
        return bad;
    if (out->has_username && !smq__read_str(r, &out->username))
        return SMQ_RC_MALFORMED; /* [MQTT-3.1.3-11] of 5.0 */
    if (out->has_password && !smq__read_bin(r, &out->password))
        return SMQ_RC_MALFORMED;
    return 0;
}
