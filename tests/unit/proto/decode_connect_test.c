/* Whole-packet decoding of CONNECT (protocol levels 3 "MQIsdp", 4 and 5) and CONNACK.
 *
 * Every CONNECT and CONNACK row of proto/README.md is here with its exact reason code, next
 * to valid packets with and without will, username, password and v5 (will) properties.
 * Packets are written as bytes by hand; FRAME(), STR() and PROPS() only fill in the lengths
 * of the bodies they wrap, so a deliberately wrong length is always written out in full. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/errors.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/reason.h"

/* The first byte, a one-byte remaining length computed from the body, the body. */
#define FRAME(first, ...) (first), (uint8_t)sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__
/* A string or binary field of the given bytes (two-byte length prefix). */
#define STR(...) 0x00, (uint8_t)sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__
/* A property block of the given entries (one-byte property length). */
#define PROPS(...) (uint8_t)sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__

/* Protocol name and level. */
#define MQISDP3 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03
#define MQTT4   0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04
#define MQTT5   0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05

#define ANY    SMQ_SENDER_ANY
#define CLIENT SMQ_SENDER_CLIENT
#define SERVER SMQ_SENDER_SERVER

static ssize_t decode(uint8_t version, uint8_t sender, uint16_t max_user_props, const uint8_t *src,
                      size_t len, struct smq_packet *out, uint8_t *reason)
{
    struct smq_decode_opts opts = {
        .version = version, .sender = sender, .max_user_props = max_user_props};
    return smq_decode_packet(src, len, &opts, out, reason);
}

static void expect_ok(uint8_t version, uint8_t sender, const uint8_t *src, size_t len,
                      struct smq_packet *out, int line)
{
    uint8_t reason = 0xEE;
    memset(out, 0xA5, sizeof(*out));
    ssize_t n = decode(version, sender, 0, src, len, out, &reason);
    cr_assert_eq(n, (ssize_t)len, "line %d: returned %zd (reason 0x%02x), expected %zu", line, n,
                 reason, len);
}

static void expect_err(uint8_t version, uint8_t sender, uint16_t max_user_props, const uint8_t *src,
                       size_t len, uint8_t code, struct smq_packet *out, int line)
{
    uint8_t reason = 0xEE;
    memset(out, 0xA5, sizeof(*out));
    ssize_t n = decode(version, sender, max_user_props, src, len, out, &reason);
    cr_assert_eq(n, SMQ_EPROTO, "line %d: returned %zd, expected SMQ_EPROTO (reason 0x%02x)", line,
                 n, code);
    cr_assert_eq(reason, code, "line %d: reason 0x%02x, expected 0x%02x", line, reason, code);
}

/* Decodes a valid packet; `out` views static bytes, so it stays valid after the macro. */
#define EXPECT_OK(ver, sender, out, ...)                                                           \
    do {                                                                                           \
        static const uint8_t p_[] = {__VA_ARGS__};                                                 \
        expect_ok(ver, sender, p_, sizeof p_, out, __LINE__);                                      \
    } while (0)

#define EXPECT_ERR(ver, sender, code, ...)                                                         \
    do {                                                                                           \
        static const uint8_t p_[] = {__VA_ARGS__};                                                 \
        struct smq_packet o_;                                                                      \
        expect_err(ver, sender, 0, p_, sizeof p_, code, &o_, __LINE__);                            \
    } while (0)

/* A CONNECT that fails with `code` after (or before: level 0) the protocol level was read:
 * out->u.connect.version tells the broker which CONNACK format to answer in. */
#define EXPECT_CONNECT_ERR(code, level, ...)                                                       \
    do {                                                                                           \
        static const uint8_t p_[] = {__VA_ARGS__};                                                 \
        struct smq_packet o_;                                                                      \
        expect_err(0, CLIENT, 0, p_, sizeof p_, code, &o_, __LINE__);                              \
        cr_assert_eq(o_.type, SMQ_CONNECT, "line %d: type %d", __LINE__, o_.type);                 \
        cr_assert_eq(o_.u.connect.version, level, "line %d: version %d, expected %d", __LINE__,    \
                     o_.u.connect.version, level);                                                 \
    } while (0)

static void assert_span(struct smq_span s, const char *want, int line)
{
    cr_assert(smq_span_eq_str(s, want), "line %d: span \"%.*s\" (len %zu), expected \"%s\"", line,
              (int)s.len, s.ptr ? (const char *)s.ptr : "", s.len, want);
}
#define ASSERT_SPAN(s, want) assert_span((s), (want), __LINE__)

/* ---------------------------------------------------------------------------------------
 * CONNECT: valid packets
 * ------------------------------------------------------------------------------------- */

Test(decode, connect_v311_minimal)
{
    struct smq_packet p;
    /* 3.1.1 section 3.1: client id "a", keep alive 60, clean session. */
    EXPECT_OK(4, CLIENT, &p, 0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c,
              0x00, 0x01, 'a');
    cr_assert_eq(p.type, SMQ_CONNECT);
    cr_assert_eq(p.flags, 0);
    struct smq_connect *c = &p.u.connect;
    cr_assert_eq(c->version, SMQ_V311);
    cr_assert(c->clean_start);
    cr_assert_eq(c->keep_alive, 60);
    ASSERT_SPAN(c->client_id, "a");
    cr_assert(!c->will);
    cr_assert(!c->has_username);
    cr_assert(!c->has_password);
    cr_assert_eq(c->props.present, 0);
}

Test(decode, connect_ignores_opts_version)
{
    struct smq_packet p;
    /* The level comes from the packet, whatever the connection's opts.version says. */
    EXPECT_OK(5, CLIENT, &p, FRAME(0x10, MQTT4, 0x00, 0x00, 0x00, STR('x')));
    cr_assert_eq(p.u.connect.version, SMQ_V311);
    cr_assert(!p.u.connect.clean_start);
    cr_assert_eq(p.u.connect.keep_alive, 0);
    EXPECT_OK(3, CLIENT, &p, FRAME(0x10, MQTT5, 0x02, 0x00, 0x0a, 0x00, STR('x')));
    cr_assert_eq(p.u.connect.version, SMQ_V5);
    cr_assert_eq(p.u.connect.keep_alive, 10);
}

Test(decode, connect_v311_empty_client_id_is_readable)
{
    struct smq_packet p;
    /* [MQTT-3.1.3-6] a zero-byte client id is allowed; whether to accept it is the broker's. */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x10, MQTT4, 0x02, 0x00, 0x3c, 0x00, 0x00));
    cr_assert_eq(p.u.connect.client_id.len, 0);
}

Test(decode, connect_v311_keep_alive_is_big_endian)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p, FRAME(0x10, MQTT4, 0x02, 0xff, 0xfe, STR('c')));
    cr_assert_eq(p.u.connect.keep_alive, 0xfffe);
}

Test(decode, connect_v31_with_will_username_password)
{
    struct smq_packet p;
    /* MQTT 3.1: "MQIsdp", level 3; flags user|pass|will retain|will QoS 2|will|clean. */
    EXPECT_OK(3, CLIENT, &p,
              FRAME(0x10, MQISDP3, 0xf6, 0x00, 0x0a, STR('i', 'd'), STR('w', '/', 't'),
                    STR('b', 'y', 'e'), STR('u', 's', 'r'), STR('p', 'w')));
    struct smq_connect *c = &p.u.connect;
    cr_assert_eq(c->version, SMQ_V31);
    cr_assert(c->clean_start);
    cr_assert_eq(c->keep_alive, 10);
    ASSERT_SPAN(c->client_id, "id");
    cr_assert(c->will);
    cr_assert_eq(c->will_qos, 2);
    cr_assert(c->will_retain);
    ASSERT_SPAN(c->will_topic, "w/t");
    ASSERT_SPAN(c->will_payload, "bye");
    cr_assert(c->has_username);
    ASSERT_SPAN(c->username, "usr");
    cr_assert(c->has_password);
    ASSERT_SPAN(c->password, "pw");
}

Test(decode, connect_v31_reserved_flag_is_not_checked)
{
    struct smq_packet p;
    /* 3.1 had no rule for connect flag bit 0 (the README keeps [MQTT-3.1.2-3] to 4 and 5). */
    EXPECT_OK(3, CLIENT, &p, FRAME(0x10, MQISDP3, 0x03, 0x00, 0x3c, STR('a')));
    cr_assert_eq(p.u.connect.version, SMQ_V31);
    cr_assert(p.u.connect.clean_start);
}

Test(decode, connect_v311_will_without_credentials)
{
    struct smq_packet p;
    /* will QoS 1, no retain: flags 0x0e. */
    EXPECT_OK(4, CLIENT, &p,
              FRAME(0x10, MQTT4, 0x0e, 0x00, 0x3c, STR('c'), STR('a', '/', 'b'), 0x00, 0x00));
    struct smq_connect *c = &p.u.connect;
    cr_assert(c->will);
    cr_assert_eq(c->will_qos, 1);
    cr_assert(!c->will_retain);
    ASSERT_SPAN(c->will_topic, "a/b");
    cr_assert_eq(c->will_payload.len, 0);
    cr_assert(!c->has_username);
    cr_assert(!c->has_password);
}

Test(decode, connect_v311_username_only)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p, FRAME(0x10, MQTT4, 0x82, 0x00, 0x3c, STR('c'), STR('u')));
    cr_assert(p.u.connect.has_username);
    ASSERT_SPAN(p.u.connect.username, "u");
    cr_assert(!p.u.connect.has_password);
}

Test(decode, connect_v311_binary_password_and_will_payload)
{
    struct smq_packet p;
    /* Will payload and password are Binary Data: any bytes, NUL and invalid UTF-8 included. */
    EXPECT_OK(4, CLIENT, &p,
              FRAME(0x10, MQTT4, 0xc6, 0x00, 0x3c, STR('c'), STR('t'), STR(0x00, 0xff, 0xc0),
                    STR('u'), STR(0x00, 0xed, 0xa0, 0x80)));
    struct smq_connect *c = &p.u.connect;
    cr_assert_eq(c->will_payload.len, 3);
    cr_assert_eq(c->will_payload.ptr[1], 0xff);
    cr_assert_eq(c->password.len, 4);
    cr_assert_eq(c->password.ptr[0], 0x00);
    cr_assert_eq(c->password.ptr[3], 0x80);
}

Test(decode, connect_v311_empty_username_and_password)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p,
              FRAME(0x10, MQTT4, 0xc2, 0x00, 0x3c, STR('c'), 0x00, 0x00, 0x00, 0x00));
    cr_assert(p.u.connect.has_username);
    cr_assert_eq(p.u.connect.username.len, 0);
    cr_assert(p.u.connect.has_password);
    cr_assert_eq(p.u.connect.password.len, 0);
}

Test(decode, connect_v5_minimal)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, 0x00, STR('a')));
    struct smq_connect *c = &p.u.connect;
    cr_assert_eq(c->version, SMQ_V5);
    cr_assert(c->clean_start);
    cr_assert_eq(c->props.present, 0);
    cr_assert_eq(c->props.user_count, 0);
    ASSERT_SPAN(c->client_id, "a");
}

Test(decode, connect_v5_every_connect_property)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c,
                    PROPS(0x11, 0x00, 0x00, 0x00, 0x78, /* Session Expiry 120 */
                          0x21, 0x00, 0x0a,             /* Receive Maximum 10 */
                          0x27, 0x00, 0x00, 0x10, 0x00, /* Maximum Packet Size 4096 */
                          0x22, 0x00, 0x05,             /* Topic Alias Maximum 5 */
                          0x19, 0x01,                   /* Request Response Info */
                          0x17, 0x00,                   /* Request Problem Info */
                          0x26, STR('k'), STR('v'),     /* User Property */
                          0x26, STR('k'), STR('w'),     /* User Property again */
                          0x15, STR('m'),               /* Authentication Method */
                          0x16, STR(0x01, 0x02)),       /* Authentication Data */
                    STR('c')));
    const struct smq_props *pr = &p.u.connect.props;
    uint64_t want =
        SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY) | SMQ_PROP_BIT(SMQ_PROP_RECEIVE_MAXIMUM) |
        SMQ_PROP_BIT(SMQ_PROP_MAXIMUM_PACKET_SIZE) | SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS_MAXIMUM) |
        SMQ_PROP_BIT(SMQ_PROP_REQUEST_RESPONSE_INFO) | SMQ_PROP_BIT(SMQ_PROP_REQUEST_PROBLEM_INFO) |
        SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY) | SMQ_PROP_BIT(SMQ_PROP_AUTH_METHOD) |
        SMQ_PROP_BIT(SMQ_PROP_AUTH_DATA);
    cr_assert_eq(pr->present, want, "present %#llx", (unsigned long long)pr->present);
    cr_assert_eq(pr->session_expiry, 120);
    cr_assert_eq(pr->receive_maximum, 10);
    cr_assert_eq(pr->maximum_packet_size, 4096);
    cr_assert_eq(pr->topic_alias_maximum, 5);
    cr_assert_eq(pr->request_response_info, 1);
    cr_assert_eq(pr->request_problem_info, 0);
    ASSERT_SPAN(pr->auth_method, "m");
    cr_assert_eq(pr->auth_data.len, 2);
    cr_assert_eq(pr->auth_data.ptr[1], 0x02);
    cr_assert_eq(pr->user_count, 2);
    size_t pos = 0;
    struct smq_span k, v;
    cr_assert(smq_props_next_user(pr, &pos, &k, &v));
    ASSERT_SPAN(k, "k");
    ASSERT_SPAN(v, "v");
    cr_assert(smq_props_next_user(pr, &pos, &k, &v));
    ASSERT_SPAN(k, "k");
    ASSERT_SPAN(v, "w");
    cr_assert(!smq_props_next_user(pr, &pos, &k, &v));
    ASSERT_SPAN(p.u.connect.client_id, "c");
}

Test(decode, connect_v5_will_properties_username_password)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0x10, MQTT5, 0xee, 0x00, 0x3c, 0x00, STR('c'),
                    PROPS(0x18, 0x00, 0x00, 0x00, 0x0a,  /* Will Delay Interval 10 */
                          0x01, 0x01,                    /* Payload Format: UTF-8 */
                          0x02, 0x00, 0x00, 0x01, 0x00,  /* Message Expiry 256 */
                          0x03, STR('t', 'e', 'x', 't'), /* Content Type */
                          0x08, STR('r', '/', 't'),      /* Response Topic */
                          0x09, STR(0xca, 0xfe),         /* Correlation Data */
                          0x26, STR('a'), STR('b')),     /* User Property */
                    STR('w', '/', 't'), STR('b', 'y'), STR('u'), STR('p', 'w')));
    const struct smq_connect *c = &p.u.connect;
    cr_assert(c->will);
    cr_assert_eq(c->will_qos, 1);
    cr_assert(c->will_retain);
    cr_assert(c->clean_start);
    cr_assert_eq(c->props.present, 0);
    const struct smq_props *w = &c->will_props;
    uint64_t want = SMQ_PROP_BIT(SMQ_PROP_WILL_DELAY) | SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT) |
                    SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY) | SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE) |
                    SMQ_PROP_BIT(SMQ_PROP_RESPONSE_TOPIC) |
                    SMQ_PROP_BIT(SMQ_PROP_CORRELATION_DATA) | SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY);
    cr_assert_eq(w->present, want, "present %#llx", (unsigned long long)w->present);
    cr_assert_eq(w->will_delay, 10);
    cr_assert_eq(w->payload_format, 1);
    cr_assert_eq(w->message_expiry, 256);
    ASSERT_SPAN(w->content_type, "text");
    ASSERT_SPAN(w->response_topic, "r/t");
    cr_assert_eq(w->correlation_data.len, 2);
    cr_assert_eq(w->correlation_data.ptr[0], 0xca);
    cr_assert_eq(w->user_count, 1);
    ASSERT_SPAN(c->will_topic, "w/t");
    ASSERT_SPAN(c->will_payload, "by");
    ASSERT_SPAN(c->username, "u");
    ASSERT_SPAN(c->password, "pw");
}

Test(decode, connect_v5_password_without_username)
{
    struct smq_packet p;
    /* 5.0 3.1.2.9 dropped the 3.1.1 rule [MQTT-3.1.2-22]: a password alone is allowed. */
    EXPECT_OK(5, CLIENT, &p, FRAME(0x10, MQTT5, 0x42, 0x00, 0x3c, 0x00, STR('c'), STR('p')));
    cr_assert(!p.u.connect.has_username);
    cr_assert(p.u.connect.has_password);
    ASSERT_SPAN(p.u.connect.password, "p");
}

Test(decode, connect_v5_will_with_empty_will_properties)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0x10, MQTT5, 0x06, 0x00, 0x00, 0x00, STR('c'), 0x00, STR('t'), 0x00, 0x00));
    cr_assert(p.u.connect.will);
    cr_assert_eq(p.u.connect.will_qos, 0);
    cr_assert_eq(p.u.connect.will_props.present, 0);
}

Test(decode, connect_v5_user_properties_up_to_the_cap)
{
    /* Exactly max_user_props User Properties are fine; one more is 0x97 (README). */
    static const uint8_t three[] = {FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c,
                                          PROPS(0x26, 0x00, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00,
                                                0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x00),
                                          0x00, 0x00)};
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(decode(5, CLIENT, 3, three, sizeof three, &p, &reason), (ssize_t)sizeof three);
    cr_assert_eq(p.u.connect.props.user_count, 3);
    expect_err(5, CLIENT, 2, three, sizeof three, SMQ_RC_QUOTA_EXCEEDED, &p, __LINE__);
}

Test(decode, connect_v5_default_cap_is_128_user_properties)
{
    /* Default max_user_props is SMQ_DEFAULT_MAX_USER_PROPS (128): 128 pass, 129 fail 0x97. */
    for (unsigned count = 128; count <= 129; count++) {
        uint8_t buf[1024];
        size_t props_len = 5u * count; /* 26 00 00 00 00 each */
        size_t body = 7 + 1 + 2 + 2 + props_len + 3;
        size_t i = 0;
        buf[i++] = 0x10;
        buf[i++] = (uint8_t)(0x80 | (body & 0x7f));
        buf[i++] = (uint8_t)(body >> 7);
        const uint8_t head[] = {MQTT5, 0x02, 0x00, 0x3c};
        memcpy(buf + i, head, sizeof head);
        i += sizeof head;
        buf[i++] = (uint8_t)(0x80 | (props_len & 0x7f));
        buf[i++] = (uint8_t)(props_len >> 7);
        for (unsigned u = 0; u < count; u++) {
            const uint8_t up[] = {0x26, 0x00, 0x00, 0x00, 0x00};
            memcpy(buf + i, up, sizeof up);
            i += sizeof up;
        }
        buf[i++] = 0x00;
        buf[i++] = 0x01;
        buf[i++] = 'c';
        cr_assert_eq(i, 3 + body);
        struct smq_packet p;
        uint8_t reason = 0;
        ssize_t n = decode(5, CLIENT, 0, buf, i, &p, &reason);
        if (count == 128) {
            cr_assert_eq(n, (ssize_t)i, "128 user properties: %zd (0x%02x)", n, reason);
            cr_assert_eq(p.u.connect.props.user_count, 128);
        } else {
            cr_assert_eq(n, SMQ_EPROTO);
            cr_assert_eq(reason, SMQ_RC_QUOTA_EXCEEDED, "reason 0x%02x", reason);
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * CONNECT: protocol name and level -> 0x84 (README: one code for both)
 * ------------------------------------------------------------------------------------- */

Test(decode, connect_rejects_mqtt_name_with_level_3)
{
    /* [MQTT-3.1.2-2] unsupported level; "MQTT" never went with level 3. */
    EXPECT_CONNECT_ERR(
        0x84, 3, FRAME(0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x03, 0x02, 0x00, 0x3c, STR('a')));
}

Test(decode, connect_rejects_mqisdp_name_with_level_4)
{
    EXPECT_CONNECT_ERR(
        0x84, 4,
        FRAME(0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x04, 0x02, 0x00, 0x3c, STR('a')));
}

Test(decode, connect_rejects_mqisdp_name_with_level_5)
{
    EXPECT_CONNECT_ERR(0x84, 5,
                       FRAME(0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x05, 0x02, 0x00, 0x3c,
                             0x00, STR('a')));
}

Test(decode, connect_rejects_level_6)
{
    EXPECT_CONNECT_ERR(
        0x84, 6, FRAME(0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x06, 0x02, 0x00, 0x3c, STR('a')));
}

Test(decode, connect_rejects_level_0_and_2)
{
    EXPECT_CONNECT_ERR(
        0x84, 0, FRAME(0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x00, 0x02, 0x00, 0x3c, STR('a')));
    EXPECT_CONNECT_ERR(
        0x84, 2,
        FRAME(0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x02, 0x02, 0x00, 0x3c, STR('a')));
}

Test(decode, connect_rejects_bridge_level_0x84)
{
    /* Some bridges set bit 7 of the level (0x83, 0x84); not a level this broker speaks. */
    EXPECT_CONNECT_ERR(
        0x84, 0x84, FRAME(0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x84, 0x02, 0x00, 0x3c, STR('a')));
}

Test(decode, connect_rejects_lowercase_protocol_name)
{
    /* [MQTT-3.1.2-1] the name is "MQTT" in capitals. */
    EXPECT_CONNECT_ERR(
        0x84, 4, FRAME(0x10, 0x00, 0x04, 'm', 'q', 't', 't', 0x04, 0x02, 0x00, 0x3c, STR('a')));
}

Test(decode, connect_rejects_other_protocol_names)
{
    EXPECT_CONNECT_ERR(0x84, 4, FRAME(0x10, 0x00, 0x00, 0x04, 0x02, 0x00, 0x3c, STR('a')));
    EXPECT_CONNECT_ERR(0x84, 4,
                       FRAME(0x10, 0x00, 0x03, 'M', 'Q', 'T', 0x04, 0x02, 0x00, 0x3c, STR('a')));
    EXPECT_CONNECT_ERR(
        0x84, 5,
        FRAME(0x10, 0x00, 0x05, 'M', 'Q', 'T', 'T', 'X', 0x05, 0x02, 0x00, 0x3c, 0x00, STR('a')));
    EXPECT_CONNECT_ERR(
        0x84, 3,
        FRAME(0x10, 0x00, 0x06, 'M', 'Q', 'I', 'S', 'D', 'P', 0x03, 0x02, 0x00, 0x3c, STR('a')));
}

/* ---------------------------------------------------------------------------------------
 * CONNECT: malformed fields -> 0x81
 * ------------------------------------------------------------------------------------- */

Test(decode, connect_rejects_empty_body)
{
    EXPECT_CONNECT_ERR(0x81, 0, 0x10, 0x00);
}

Test(decode, connect_rejects_name_running_past_packet)
{
    /* Version stays 0: the level was never read. */
    EXPECT_CONNECT_ERR(0x81, 0, FRAME(0x10, 0x00, 0x04, 'M', 'Q'));
    EXPECT_CONNECT_ERR(0x81, 0, FRAME(0x10, 0x00));
}

Test(decode, connect_rejects_missing_level)
{
    EXPECT_CONNECT_ERR(0x81, 0, FRAME(0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T'));
}

Test(decode, connect_rejects_missing_flags_or_keep_alive)
{
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4));
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02));
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02, 0x00));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c));
}

Test(decode, connect_rejects_reserved_flag_v311)
{
    /* [MQTT-3.1.2-3] the reserved flag must be 0; the version is already known. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x03, 0x00, 0x3c, STR('a')));
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x01, 0x00, 0x3c, STR('a')));
}

Test(decode, connect_rejects_reserved_flag_v5)
{
    /* [MQTT-3.1.2-3] of 5.0. */
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x03, 0x00, 0x3c, 0x00, STR('a')));
}

Test(decode, connect_rejects_will_qos_3)
{
    /* [MQTT-3.1.2-14] will QoS 3 is malformed (3.1.1); [MQTT-3.1.2-12] of 5.0. */
    EXPECT_CONNECT_ERR(0x81, 4,
                       FRAME(0x10, MQTT4, 0x1e, 0x00, 0x3c, STR('a'), STR('t'), 0x00, 0x00));
    EXPECT_CONNECT_ERR(
        0x81, 5, FRAME(0x10, MQTT5, 0x1e, 0x00, 0x3c, 0x00, STR('a'), 0x00, STR('t'), 0x00, 0x00));
    EXPECT_CONNECT_ERR(0x81, 3,
                       FRAME(0x10, MQISDP3, 0x1e, 0x00, 0x3c, STR('a'), STR('t'), 0x00, 0x00));
}

Test(decode, connect_rejects_will_qos_without_will_flag)
{
    /* [MQTT-3.1.2-13] will flag 0 means will QoS 0. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x0a, 0x00, 0x3c, STR('a')));
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x12, 0x00, 0x3c, STR('a')));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x0a, 0x00, 0x3c, 0x00, STR('a')));
    EXPECT_CONNECT_ERR(0x81, 3, FRAME(0x10, MQISDP3, 0x12, 0x00, 0x3c, STR('a')));
}

Test(decode, connect_rejects_will_retain_without_will_flag)
{
    /* [MQTT-3.1.2-15] of 3.1.1, [MQTT-3.1.2-13] of 5.0. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x22, 0x00, 0x3c, STR('a')));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x22, 0x00, 0x3c, 0x00, STR('a')));
}

Test(decode, connect_rejects_password_without_username_v311)
{
    /* [MQTT-3.1.2-22] of 3.1.1. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x42, 0x00, 0x3c, STR('a'), STR('p')));
}

Test(decode, connect_rejects_password_without_username_v31)
{
    EXPECT_CONNECT_ERR(0x81, 3, FRAME(0x10, MQISDP3, 0x42, 0x00, 0x3c, STR('a'), STR('p')));
}

Test(decode, connect_rejects_missing_client_id)
{
    /* [MQTT-3.1.3-3] the client id is always present. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02, 0x00, 0x3c));
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02, 0x00, 0x3c, 0x00));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, 0x00));
}

Test(decode, connect_rejects_client_id_running_past_packet)
{
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02, 0x00, 0x3c, 0x00, 0x05, 'a', 'b'));
}

Test(decode, connect_rejects_client_id_with_overlong_nul)
{
    /* [MQTT-1.5.3-1] ill-formed UTF-8: C0 80 is an overlong U+0000. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02, 0x00, 0x3c, STR('a', 0xc0, 0x80)));
}

Test(decode, connect_rejects_client_id_with_nul)
{
    /* [MQTT-1.5.3-2] U+0000 is not allowed in a UTF-8 string. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02, 0x00, 0x3c, STR('a', 0x00, 'b')));
}

Test(decode, connect_rejects_client_id_with_surrogate)
{
    /* [MQTT-1.5.3-1] ED A0 80 encodes U+D800, a surrogate. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02, 0x00, 0x3c, STR(0xed, 0xa0, 0x80)));
}

Test(decode, connect_rejects_client_id_with_stray_continuation_byte)
{
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, 0x00, STR('a', 0x80)));
}

Test(decode, connect_rejects_missing_will_fields)
{
    /* Will flag set: will topic and will payload must follow [MQTT-3.1.2-9]. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x06, 0x00, 0x3c, STR('a')));
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x06, 0x00, 0x3c, STR('a'), STR('t')));
    EXPECT_CONNECT_ERR(0x81, 4,
                       FRAME(0x10, MQTT4, 0x06, 0x00, 0x3c, STR('a'), STR('t'), 0x00, 0x04, 'x'));
    /* v5: the will properties come first. */
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a')));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), 0x00));
}

Test(decode, connect_rejects_empty_will_topic)
{
    /* README (choice): will topic empty is malformed; a topic name has at least one
     * character [MQTT-4.7.3-1]. */
    EXPECT_CONNECT_ERR(0x81, 4,
                       FRAME(0x10, MQTT4, 0x06, 0x00, 0x3c, STR('a'), 0x00, 0x00, STR('x')));
    EXPECT_CONNECT_ERR(
        0x81, 5, FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), 0x00, 0x00, 0x00, STR('x')));
}

Test(decode, connect_rejects_will_topic_with_wildcard)
{
    /* [MQTT-3.3.2-2] a topic name holds no wildcard; README: malformed. */
    EXPECT_CONNECT_ERR(
        0x81, 4, FRAME(0x10, MQTT4, 0x06, 0x00, 0x3c, STR('a'), STR('a', '/', '+'), STR('x')));
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x06, 0x00, 0x3c, STR('a'), STR('#'), STR('x')));
    EXPECT_CONNECT_ERR(
        0x81, 5,
        FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), 0x00, STR('a', '/', '#'), STR('x')));
    EXPECT_CONNECT_ERR(0x81, 3,
                       FRAME(0x10, MQISDP3, 0x06, 0x00, 0x3c, STR('a'), STR('+'), STR('x')));
}

Test(decode, connect_rejects_will_topic_with_invalid_utf8)
{
    /* [MQTT-3.1.3-10] the will topic is a UTF-8 string. */
    EXPECT_CONNECT_ERR(0x81, 4,
                       FRAME(0x10, MQTT4, 0x06, 0x00, 0x3c, STR('a'), STR('t', 0xff), STR('x')));
}

Test(decode, connect_rejects_missing_username)
{
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x82, 0x00, 0x3c, STR('a')));
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x82, 0x00, 0x3c, STR('a'), 0x00, 0x02, 'u'));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x82, 0x00, 0x3c, 0x00, STR('a')));
}

Test(decode, connect_rejects_username_with_invalid_utf8)
{
    /* [MQTT-3.1.3-11] the user name is a UTF-8 string. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x82, 0x00, 0x3c, STR('a'), STR('u', 0xc3)));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x82, 0x00, 0x3c, 0x00, STR('a'), STR(0x00)));
}

Test(decode, connect_rejects_missing_password)
{
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0xc2, 0x00, 0x3c, STR('a'), STR('u')));
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0xc2, 0x00, 0x3c, STR('a'), STR('u'), 0x00));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x42, 0x00, 0x3c, 0x00, STR('a'), 0x00, 0x03, 'p'));
}

Test(decode, connect_rejects_bytes_after_last_field)
{
    /* Fields set by the flags must be all there is: leftover bytes are malformed. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02, 0x00, 0x3c, STR('a'), 0x00));
    /* A username with its flag clear is left over too. */
    EXPECT_CONNECT_ERR(0x81, 4, FRAME(0x10, MQTT4, 0x02, 0x00, 0x3c, STR('a'), STR('u')));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, 0x00, STR('a'), 0xff));
    EXPECT_CONNECT_ERR(0x81, 3, FRAME(0x10, MQISDP3, 0x02, 0x00, 0x3c, STR('a'), 0x01, 0x02));
}

Test(decode, connect_rejects_wrong_fixed_header_flags)
{
    /* [MQTT-2.2.2-1] of 3.1.1, [MQTT-2.1.3-1] of 5.0: CONNECT flags are 0000. */
    EXPECT_ERR(4, CLIENT, 0x81, 0x12, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c,
               0x00, 0x01, 'a');
}

Test(decode, connect_rejects_connect_sent_by_a_server)
{
    EXPECT_ERR(4, SERVER, 0x82, 0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c,
               0x00, 0x01, 'a');
}

/* ---------------------------------------------------------------------------------------
 * CONNECT v5: properties
 * ------------------------------------------------------------------------------------- */

Test(decode, connect_v5_rejects_property_length_past_packet)
{
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, 0x09, 0x11, 0x00));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, 0x07, 0x21, 0x00, 0x01, STR('a')));
}

Test(decode, connect_v5_rejects_truncated_property_value)
{
    /* Session Expiry is a four-byte integer; the block holds only two. */
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x11, 0x00, 0x00), STR('a')));
}

Test(decode, connect_v5_rejects_unknown_property)
{
    /* 2.2.2.2: an identifier not in the table is malformed. */
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x7f, 0x00), STR('a')));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x00, 0x00), STR('a')));
}

Test(decode, connect_v5_rejects_property_not_allowed_in_connect)
{
    /* Topic Alias (PUBLISH only), Will Delay (will only), Reason String, Maximum QoS. */
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x23, 0x00, 0x01), STR('a')));
    EXPECT_CONNECT_ERR(
        0x81, 5,
        FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x18, 0x00, 0x00, 0x00, 0x01), STR('a')));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x1f, STR('r')), STR('a')));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x24, 0x01), STR('a')));
    EXPECT_CONNECT_ERR(0x81, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x0b, 0x01), STR('a')));
}

Test(decode, connect_v5_rejects_non_minimal_property_identifier)
{
    /* 2.2.2.2: the identifier is a variable byte integer, minimally encoded
     * [MQTT-1.5.5-1]: 0x91 0x00 is 0x11 written in two bytes. */
    EXPECT_CONNECT_ERR(
        0x81, 5,
        FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x91, 0x00, 0x00, 0x00, 0x00, 0x3c), STR('a')));
}

Test(decode, connect_v5_rejects_duplicate_session_expiry)
{
    /* 3.1.2.11.2: more than once is a Protocol Error. */
    EXPECT_CONNECT_ERR(0x82, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c,
                             PROPS(0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x01),
                             STR('a')));
}

Test(decode, connect_v5_rejects_duplicate_scalar_properties)
{
    EXPECT_CONNECT_ERR(
        0x82, 5,
        FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x21, 0x00, 0x01, 0x21, 0x00, 0x02), STR('a')));
    EXPECT_CONNECT_ERR(
        0x82, 5,
        FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x15, STR('m'), 0x15, STR('m')), STR('a')));
    EXPECT_CONNECT_ERR(
        0x82, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x17, 0x01, 0x17, 0x01), STR('a')));
}

Test(decode, connect_v5_rejects_receive_maximum_0)
{
    /* 3.1.2.11.3: a value of 0 is a Protocol Error. */
    EXPECT_CONNECT_ERR(0x82, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x21, 0x00, 0x00), STR('a')));
}

Test(decode, connect_v5_rejects_maximum_packet_size_0)
{
    /* 3.1.2.11.4: a value of 0 is a Protocol Error. */
    EXPECT_CONNECT_ERR(
        0x82, 5,
        FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x27, 0x00, 0x00, 0x00, 0x00), STR('a')));
}

Test(decode, connect_v5_rejects_request_problem_information_2)
{
    /* 3.1.2.11.7: a value other than 0 or 1 is a Protocol Error. */
    EXPECT_CONNECT_ERR(0x82, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x17, 0x02), STR('a')));
}

Test(decode, connect_v5_rejects_request_response_information_2)
{
    /* 3.1.2.11.6: a value other than 0 or 1 is a Protocol Error. */
    EXPECT_CONNECT_ERR(0x82, 5, FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x19, 0xff), STR('a')));
}

Test(decode, connect_v5_rejects_auth_data_without_method)
{
    /* 3.1.2.11.10: Authentication Data without Authentication Method is a Protocol Error. */
    EXPECT_CONNECT_ERR(0x82, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x16, STR(0x01)), STR('a')));
}

Test(decode, connect_v5_accepts_auth_data_before_method)
{
    struct smq_packet p;
    /* Order inside the block does not matter. */
    EXPECT_OK(
        5, CLIENT, &p,
        FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x16, STR(0x01), 0x15, STR('m')), STR('a')));
    ASSERT_SPAN(p.u.connect.props.auth_method, "m");
}

Test(decode, connect_v5_rejects_user_property_with_invalid_utf8)
{
    /* A User Property is a UTF-8 string pair. */
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c,
                             PROPS(0x26, STR('k'), STR(0xed, 0xbf, 0xbf)), STR('a')));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x26, STR('k')), STR('a')));
}

Test(decode, connect_v5_rejects_auth_method_with_invalid_utf8)
{
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x02, 0x00, 0x3c, PROPS(0x15, STR(0xfe)), STR('a')));
}

Test(decode, connect_v5_rejects_will_property_length_past_packet)
{
    EXPECT_CONNECT_ERR(
        0x81, 5, FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), 0x20, STR('t'), STR('x')));
}

Test(decode, connect_v5_rejects_connect_only_property_in_will)
{
    /* Session Expiry and Receive Maximum belong to CONNECT, not to the will (3.1.3.2). */
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'),
                             PROPS(0x11, 0x00, 0x00, 0x00, 0x01), STR('t'), STR('x')));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), PROPS(0x21, 0x00, 0x01),
                             STR('t'), STR('x')));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), PROPS(0x23, 0x00, 0x01),
                             STR('t'), STR('x')));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), PROPS(0x0b, 0x01),
                             STR('t'), STR('x')));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), PROPS(0x15, STR('m')),
                             STR('t'), STR('x')));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), PROPS(0x17, 0x01),
                             STR('t'), STR('x')));
}

Test(decode, connect_v5_rejects_will_payload_format_2)
{
    /* 3.1.3.2.3 / 2.2.2.2: Payload Format Indicator is 0 or 1. */
    EXPECT_CONNECT_ERR(0x82, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), PROPS(0x01, 0x02),
                             STR('t'), STR('x')));
}

Test(decode, connect_v5_rejects_duplicate_will_delay)
{
    EXPECT_CONNECT_ERR(0x82, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'),
                             PROPS(0x18, 0x00, 0x00, 0x00, 0x01, 0x18, 0x00, 0x00, 0x00, 0x02),
                             STR('t'), STR('x')));
}

Test(decode, connect_v5_rejects_duplicate_will_correlation_data)
{
    EXPECT_CONNECT_ERR(0x82, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'),
                             PROPS(0x09, STR(0x01), 0x09, STR(0x02)), STR('t'), STR('x')));
}

Test(decode, connect_v5_rejects_empty_will_response_topic)
{
    /* README (choice): a Response Topic is a topic name; empty is malformed. */
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), PROPS(0x08, 0x00, 0x00),
                             STR('t'), STR('x')));
}

Test(decode, connect_v5_rejects_will_response_topic_with_wildcard)
{
    /* 3.1.3.2.5 and [MQTT-3.3.2-14]: a Response Topic holds no wildcard (README: 0x81). */
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'),
                             PROPS(0x08, STR('r', '/', '+')), STR('t'), STR('x')));
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'), PROPS(0x08, STR('#')),
                             STR('t'), STR('x')));
}

Test(decode, connect_v5_rejects_will_content_type_with_invalid_utf8)
{
    EXPECT_CONNECT_ERR(0x81, 5,
                       FRAME(0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'),
                             PROPS(0x03, STR(0xc3, 0x28)), STR('t'), STR('x')));
}

Test(decode, connect_v5_will_user_properties_count_against_cap)
{
    static const uint8_t pkt[] = {FRAME(
        0x10, MQTT5, 0x06, 0x00, 0x3c, 0x00, STR('a'),
        PROPS(0x26, 0x00, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x00), STR('t'), STR('x'))};
    struct smq_packet p;
    expect_err(5, CLIENT, 1, pkt, sizeof pkt, SMQ_RC_QUOTA_EXCEEDED, &p, __LINE__);
    cr_assert_eq(p.u.connect.version, 5);
}

/* ---------------------------------------------------------------------------------------
 * CONNACK
 * ------------------------------------------------------------------------------------- */

Test(decode, connack_v311_accepted)
{
    struct smq_packet p;
    EXPECT_OK(4, SERVER, &p, 0x20, 0x02, 0x00, 0x00);
    cr_assert_eq(p.type, SMQ_CONNACK);
    cr_assert(!p.u.connack.session_present);
    cr_assert_eq(p.u.connack.reason, 0);
}

Test(decode, connack_v311_session_present)
{
    struct smq_packet p;
    EXPECT_OK(4, SERVER, &p, 0x20, 0x02, 0x01, 0x00);
    cr_assert(p.u.connack.session_present);
    cr_assert_eq(p.u.connack.reason, 0);
}

Test(decode, connack_v311_every_return_code)
{
    /* 3.2.2.3 of 3.1.1: return codes 0 to 5. */
    for (uint8_t rc = 0; rc <= 5; rc++) {
        const uint8_t pkt[] = {0x20, 0x02, 0x00, rc};
        struct smq_packet p;
        expect_ok(4, SERVER, pkt, sizeof pkt, &p, __LINE__);
        cr_assert_eq(p.u.connack.reason, rc);
        expect_ok(3, SERVER, pkt, sizeof pkt, &p, __LINE__);
        cr_assert_eq(p.u.connack.reason, rc);
    }
}

Test(decode, connack_v311_rejects_return_code_above_5)
{
    /* 6-255 are reserved (3.1.1 table 3.1); README: malformed. */
    for (unsigned rc = 6; rc <= 255; rc++) {
        const uint8_t pkt[] = {0x20, 0x02, 0x00, (uint8_t)rc};
        struct smq_packet p;
        expect_err(4, SERVER, 0, pkt, sizeof pkt, 0x81, &p, (int)rc);
    }
    EXPECT_ERR(3, SERVER, 0x81, 0x20, 0x02, 0x00, 0x06);
}

Test(decode, connack_v311_rejects_reserved_flag_bits)
{
    /* 3.2.2.1 of 3.1.1: bits 7-1 of the acknowledge flags are reserved, set to 0. */
    EXPECT_ERR(4, SERVER, 0x81, 0x20, 0x02, 0x02, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0x20, 0x02, 0x80, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0x20, 0x02, 0xff, 0x00);
}

Test(decode, connack_v311_rejects_remaining_length_not_2)
{
    /* 3.2.1 of 3.1.1: the remaining length is 2. */
    EXPECT_ERR(4, SERVER, 0x81, 0x20, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0x20, 0x01, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0x20, 0x03, 0x00, 0x00, 0x00);
    EXPECT_ERR(3, SERVER, 0x81, 0x20, 0x03, 0x00, 0x00, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0x20, 0x04, 0x00, 0x00, 0x00, 0x00);
}

Test(decode, connack_v311_rejects_session_present_with_error_code)
{
    /* [MQTT-3.2.2-4]: a non-zero return code comes with session present 0. */
    EXPECT_ERR(4, SERVER, 0x82, 0x20, 0x02, 0x01, 0x01);
    EXPECT_ERR(4, SERVER, 0x82, 0x20, 0x02, 0x01, 0x05);
}

Test(decode, connack_rejects_wrong_fixed_header_flags)
{
    /* [MQTT-2.2.2-1] of 3.1.1, [MQTT-2.1.3-1] of 5.0: CONNACK flags are 0000. */
    EXPECT_ERR(4, SERVER, 0x81, 0x21, 0x02, 0x00, 0x00);
    EXPECT_ERR(5, SERVER, 0x81, 0x28, 0x03, 0x00, 0x00, 0x00);
}

Test(decode, connack_rejects_connack_sent_by_a_client)
{
    EXPECT_ERR(4, CLIENT, 0x82, 0x20, 0x02, 0x00, 0x00);
    EXPECT_ERR(5, CLIENT, 0x82, 0x20, 0x03, 0x00, 0x00, 0x00);
}

Test(decode, connack_v5_success_without_properties)
{
    struct smq_packet p;
    EXPECT_OK(5, SERVER, &p, 0x20, 0x03, 0x00, 0x00, 0x00);
    cr_assert(!p.u.connack.session_present);
    cr_assert_eq(p.u.connack.reason, 0);
    cr_assert_eq(p.u.connack.props.present, 0);
    EXPECT_OK(5, SERVER, &p, 0x20, 0x03, 0x01, 0x00, 0x00);
    cr_assert(p.u.connack.session_present);
}

Test(decode, connack_v5_every_allowed_reason_code)
{
    /* 3.2.2.2: the CONNACK reason codes. */
    static const uint8_t allowed[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                      0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97,
                                      0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f};
    for (unsigned rc = 0; rc <= 255; rc++) {
        bool ok = memchr(allowed, (int)rc, sizeof allowed) != NULL;
        const uint8_t pkt[] = {0x20, 0x03, 0x00, (uint8_t)rc, 0x00};
        struct smq_packet p;
        if (ok) {
            expect_ok(5, SERVER, pkt, sizeof pkt, &p, (int)rc);
            cr_assert_eq(p.u.connack.reason, rc);
        } else {
            /* README: a reason code not allowed in the packet type is 0x82. */
            expect_err(5, SERVER, 0, pkt, sizeof pkt, 0x82, &p, (int)rc);
        }
    }
}

Test(decode, connack_v5_rejects_session_present_with_error_code)
{
    /* [MQTT-3.2.2-6] a non-zero reason code comes with session present 0. */
    EXPECT_ERR(5, SERVER, 0x82, 0x20, 0x03, 0x01, 0x80, 0x00);
    EXPECT_ERR(5, SERVER, 0x82, 0x20, 0x03, 0x01, 0x87, 0x00);
}

Test(decode, connack_v5_rejects_reserved_flag_bits)
{
    /* [MQTT-3.2.2-1] of 5.0. */
    EXPECT_ERR(5, SERVER, 0x81, 0x20, 0x03, 0x02, 0x00, 0x00);
    EXPECT_ERR(5, SERVER, 0x81, 0x20, 0x03, 0x81, 0x00, 0x00);
}

Test(decode, connack_v5_rejects_missing_property_length)
{
    /* 3.2.2.3: the property length is part of every v5 CONNACK. */
    EXPECT_ERR(5, SERVER, 0x81, 0x20, 0x02, 0x00, 0x00);
    EXPECT_ERR(5, SERVER, 0x81, 0x20, 0x01, 0x00);
    EXPECT_ERR(5, SERVER, 0x81, 0x20, 0x00);
}

Test(decode, connack_v5_every_connack_property)
{
    struct smq_packet p;
    EXPECT_OK(5, SERVER, &p,
              FRAME(0x20, 0x00, 0x00,
                    PROPS(0x11, 0x00, 0x00, 0x0e, 0x10, /* Session Expiry 3600 */
                          0x21, 0x00, 0x14,             /* Receive Maximum 20 */
                          0x24, 0x01,                   /* Maximum QoS 1 */
                          0x25, 0x00,                   /* Retain Available 0 */
                          0x27, 0x00, 0x01, 0x00, 0x00, /* Maximum Packet Size */
                          0x12, STR('i', 'd'),          /* Assigned Client Identifier */
                          0x22, 0x00, 0x0a,             /* Topic Alias Maximum */
                          0x1f, STR('o', 'k'),          /* Reason String */
                          0x26, STR('k'), STR('v'),     /* User Property */
                          0x28, 0x01,                   /* Wildcard Sub Available */
                          0x29, 0x00,                   /* Sub Id Available */
                          0x2a, 0x01,                   /* Shared Sub Available */
                          0x13, 0x00, 0x1e,             /* Server Keep Alive 30 */
                          0x1a, STR('r', 'i'),          /* Response Information */
                          0x1c, STR('s', 'r'),          /* Server Reference */
                          0x15, STR('m'),               /* Authentication Method */
                          0x16, STR(0x09))));           /* Authentication Data */
    const struct smq_props *pr = &p.u.connack.props;
    cr_assert_eq(pr->session_expiry, 3600);
    cr_assert_eq(pr->receive_maximum, 20);
    cr_assert_eq(pr->maximum_qos, 1);
    cr_assert(smq_props_has(pr, SMQ_PROP_RETAIN_AVAILABLE));
    cr_assert_eq(pr->retain_available, 0);
    cr_assert_eq(pr->maximum_packet_size, 65536);
    ASSERT_SPAN(pr->assigned_client_id, "id");
    cr_assert_eq(pr->topic_alias_maximum, 10);
    ASSERT_SPAN(pr->reason_string, "ok");
    cr_assert_eq(pr->user_count, 1);
    cr_assert_eq(pr->wildcard_sub_available, 1);
    cr_assert(smq_props_has(pr, SMQ_PROP_SUB_ID_AVAILABLE));
    cr_assert_eq(pr->sub_id_available, 0);
    cr_assert_eq(pr->shared_sub_available, 1);
    cr_assert_eq(pr->server_keep_alive, 30);
    ASSERT_SPAN(pr->response_info, "ri");
    ASSERT_SPAN(pr->server_reference, "sr");
    ASSERT_SPAN(pr->auth_method, "m");
    cr_assert_eq(pr->auth_data.len, 1);
    uint64_t want = 0;
    static const uint8_t ids[] = {0x11, 0x21, 0x24, 0x25, 0x27, 0x12, 0x22, 0x1f, 0x26,
                                  0x28, 0x29, 0x2a, 0x13, 0x1a, 0x1c, 0x15, 0x16};
    for (size_t i = 0; i < sizeof ids; i++)
        want |= SMQ_PROP_BIT(ids[i]);
    cr_assert_eq(pr->present, want, "present %#llx", (unsigned long long)pr->present);
}

Test(decode, connack_v5_rejects_maximum_qos_2)
{
    /* 3.2.2.3.4: Maximum QoS other than 0 or 1 is a Protocol Error. */
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x24, 0x02)));
}

Test(decode, connack_v5_rejects_flag_properties_above_1)
{
    /* 3.2.2.3.5, 3.2.2.3.11-13: Retain / Wildcard / Sub Id / Shared Available are 0 or 1. */
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x25, 0x02)));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x28, 0x02)));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x29, 0x05)));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x2a, 0xff)));
}

Test(decode, connack_v5_rejects_receive_maximum_0)
{
    /* 3.2.2.3.3 */
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x21, 0x00, 0x00)));
}

Test(decode, connack_v5_rejects_maximum_packet_size_0)
{
    /* 3.2.2.3.6 */
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x27, 0x00, 0x00, 0x00, 0x00)));
}

Test(decode, connack_v5_rejects_auth_data_without_method)
{
    /* 3.2.2.3.18 */
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x16, STR(0x01))));
}

Test(decode, connack_v5_rejects_duplicate_properties)
{
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x1f, STR('a'), 0x1f, STR('b'))));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x24, 0x00, 0x24, 0x01)));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x20, 0x00, 0x00, PROPS(0x12, STR('a'), 0x12, STR('a'))));
}

Test(decode, connack_v5_rejects_property_not_allowed_in_connack)
{
    /* Will Delay, Topic Alias, Request Problem Info, Subscription Identifier, Payload
     * Format are not CONNACK properties (3.2.2.3). */
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, PROPS(0x18, 0x00, 0x00, 0x00, 0x01)));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, PROPS(0x23, 0x00, 0x01)));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, PROPS(0x17, 0x01)));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, PROPS(0x0b, 0x01)));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, PROPS(0x01, 0x01)));
}

Test(decode, connack_v5_rejects_property_length_past_packet)
{
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, 0x04, 0x24, 0x01));
}

Test(decode, connack_v5_rejects_bytes_after_properties)
{
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, 0x00, 0x00));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, PROPS(0x24, 0x01), 0x24));
}

Test(decode, connack_v5_rejects_string_property_with_invalid_utf8)
{
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, PROPS(0x12, STR(0xc0, 0xaf))));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x20, 0x00, 0x00, PROPS(0x1f, STR('a', 0x00))));
}

Test(decode, connack_v5_user_properties_count_against_cap)
{
    static const uint8_t pkt[] = {
        FRAME(0x20, 0x00, 0x00, PROPS(0x26, 0x00, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x00))};
    struct smq_packet p;
    expect_err(5, SERVER, 1, pkt, sizeof pkt, SMQ_RC_QUOTA_EXCEEDED, &p, __LINE__);
}
