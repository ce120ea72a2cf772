/* Whole-packet decoding of PINGREQ, PINGRESP, DISCONNECT (3.x and 5.0) and AUTH, and how
 * smq_decode_packet() frames a stream: exactly one packet's size when more bytes follow,
 * 0 while bytes are missing, and the fixed-header verdicts seen through it. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/errors.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/reason.h"

#define FRAME(first, ...) (first), (uint8_t)sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__
#define STR(...)          0x00, (uint8_t)sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__
#define PROPS(...)        (uint8_t)sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__

#define ANY    SMQ_SENDER_ANY
#define CLIENT SMQ_SENDER_CLIENT
#define SERVER SMQ_SENDER_SERVER

static void expect_ok(uint8_t version, uint8_t sender, const uint8_t *src, size_t len,
                      struct smq_packet *out, int line)
{
    struct smq_decode_opts opts = {.version = version, .sender = sender};
    uint8_t reason = 0xEE;
    memset(out, 0xA5, sizeof(*out));
    ssize_t n = smq_decode_packet(src, len, &opts, out, &reason);
    cr_assert_eq(n, (ssize_t)len, "line %d: returned %zd (reason 0x%02x), expected %zu", line, n,
                 reason, len);
    cr_assert_eq(out->type, src[0] >> 4, "line %d", line);
}

static void expect_err_opts(const struct smq_decode_opts *opts, const uint8_t *src, size_t len,
                            uint8_t code, int line)
{
    uint8_t reason = 0xEE;
    struct smq_packet out;
    memset(&out, 0xA5, sizeof out);
    ssize_t n = smq_decode_packet(src, len, opts, &out, &reason);
    cr_assert_eq(n, SMQ_EPROTO, "line %d: returned %zd, expected SMQ_EPROTO (0x%02x)", line, n,
                 code);
    cr_assert_eq(reason, code, "line %d: reason 0x%02x, expected 0x%02x", line, reason, code);
    cr_assert_eq(out.type, src[0] >> 4, "line %d: type set on error", line);
}

static void expect_err(uint8_t version, uint8_t sender, const uint8_t *src, size_t len,
                       uint8_t code, int line)
{
    struct smq_decode_opts opts = {.version = version, .sender = sender};
    expect_err_opts(&opts, src, len, code, line);
}

#define EXPECT_OK(ver, sender, out, ...)                                                           \
    do {                                                                                           \
        static const uint8_t p_[] = {__VA_ARGS__};                                                 \
        expect_ok(ver, sender, p_, sizeof p_, out, __LINE__);                                      \
    } while (0)

#define EXPECT_ERR(ver, sender, code, ...)                                                         \
    do {                                                                                           \
        static const uint8_t p_[] = {__VA_ARGS__};                                                 \
        expect_err(ver, sender, p_, sizeof p_, code, __LINE__);                                    \
    } while (0)

/* ---------------------------------------------------------------------------------------
 * PINGREQ, PINGRESP
 * ------------------------------------------------------------------------------------- */

Test(decode, pingreq_and_pingresp)
{
    struct smq_packet p;
    for (uint8_t version = 3; version <= 5; version++) {
        EXPECT_OK(version, CLIENT, &p, 0xc0, 0x00);
        cr_assert_eq(p.type, SMQ_PINGREQ);
        EXPECT_OK(version, SERVER, &p, 0xd0, 0x00);
        cr_assert_eq(p.type, SMQ_PINGRESP);
    }
}

Test(decode, ping_rejects_remaining_length_not_0)
{
    /* 3.12.1 / 3.13.1: no variable header, no payload; README: 0x81. */
    for (uint8_t version = 3; version <= 5; version++) {
        EXPECT_ERR(version, CLIENT, 0x81, 0xc0, 0x01, 0x00);
        EXPECT_ERR(version, CLIENT, 0x81, 0xc0, 0x02, 0x00, 0x00);
        EXPECT_ERR(version, SERVER, 0x81, 0xd0, 0x01, 0x00);
        EXPECT_ERR(version, SERVER, 0x81, 0xd0, 0x03, 0x00, 0x00, 0x00);
    }
}

Test(decode, ping_rejects_wrong_fixed_header_flags)
{
    EXPECT_ERR(4, CLIENT, 0x81, 0xc1, 0x00);
    EXPECT_ERR(5, CLIENT, 0x81, 0xc8, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0xd2, 0x00);
}

Test(decode, ping_rejects_wrong_direction)
{
    /* README: PINGRESP from a client, PINGREQ from a server: 0x82. */
    EXPECT_ERR(4, CLIENT, 0x82, 0xd0, 0x00);
    EXPECT_ERR(5, SERVER, 0x82, 0xc0, 0x00);
}

/* ---------------------------------------------------------------------------------------
 * DISCONNECT
 * ------------------------------------------------------------------------------------- */

Test(decode, disconnect_v311)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p, 0xe0, 0x00);
    cr_assert_eq(p.type, SMQ_DISCONNECT);
    cr_assert_eq(p.u.disconnect.reason, 0);
    EXPECT_OK(3, CLIENT, &p, 0xe0, 0x00);
}

Test(decode, disconnect_v311_rejects_remaining_length_not_0)
{
    /* 3.14.1 of 3.1.1: no variable header or payload; README: 0x81. */
    EXPECT_ERR(4, CLIENT, 0x81, 0xe0, 0x01, 0x00);
    EXPECT_ERR(4, CLIENT, 0x81, 0xe0, 0x02, 0x00, 0x00);
    EXPECT_ERR(3, CLIENT, 0x81, 0xe0, 0x01, 0x04);
}

Test(decode, disconnect_rejects_wrong_fixed_header_flags)
{
    /* [MQTT-3.14.1-1] */
    EXPECT_ERR(4, CLIENT, 0x81, 0xe1, 0x00);
    EXPECT_ERR(5, CLIENT, 0x81, 0xe2, 0x00);
}

Test(decode, disconnect_v311_rejects_disconnect_from_server)
{
    /* README: a 3.x server never sends DISCONNECT. */
    EXPECT_ERR(4, SERVER, 0x82, 0xe0, 0x00);
    EXPECT_ERR(3, SERVER, 0x82, 0xe0, 0x00);
}

Test(decode, disconnect_v5_remaining_length_0_is_normal)
{
    struct smq_packet p;
    /* 3.14.2.1: no reason code means 0x00 Normal disconnection. */
    EXPECT_OK(5, CLIENT, &p, 0xe0, 0x00);
    cr_assert_eq(p.u.disconnect.reason, 0);
    cr_assert_eq(p.u.disconnect.props.present, 0);
    EXPECT_OK(5, SERVER, &p, 0xe0, 0x00);
}

Test(decode, disconnect_v5_reason_without_properties)
{
    struct smq_packet p;
    /* 3.14.2.2.1: remaining length 1 means no properties. */
    EXPECT_OK(5, CLIENT, &p, 0xe0, 0x01, 0x04);
    cr_assert_eq(p.u.disconnect.reason, 0x04);
    cr_assert_eq(p.u.disconnect.props.present, 0);
    EXPECT_OK(5, SERVER, &p, 0xe0, 0x02, 0x8e, 0x00);
    cr_assert_eq(p.u.disconnect.reason, 0x8e);
}

Test(decode, disconnect_v5_every_disconnect_property_from_client)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0xe0, 0x00,
                    PROPS(0x11, 0x00, 0x00, 0x00, 0x0a, /* Session Expiry 10 */
                          0x1f, STR('b', 'y', 'e'),     /* Reason String */
                          0x26, STR('k'), STR('v'))));  /* User Property */
    const struct smq_props *pr = &p.u.disconnect.props;
    cr_assert_eq(pr->present, SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY) |
                                  SMQ_PROP_BIT(SMQ_PROP_REASON_STRING) |
                                  SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY));
    cr_assert_eq(pr->session_expiry, 10);
    cr_assert(smq_span_eq_str(pr->reason_string, "bye"));
    cr_assert_eq(pr->user_count, 1);
}

Test(decode, disconnect_v5_server_reference_from_server)
{
    struct smq_packet p;
    EXPECT_OK(5, SERVER, &p,
              FRAME(0xe0, 0x9c, PROPS(0x1c, STR('h', ':', '1'), 0x1f, STR('m', 'o', 'v', 'e'))));
    cr_assert_eq(p.u.disconnect.reason, 0x9c);
    cr_assert(smq_span_eq_str(p.u.disconnect.props.server_reference, "h:1"));
    cr_assert(smq_span_eq_str(p.u.disconnect.props.reason_string, "move"));
}

Test(decode, disconnect_v5_rejects_session_expiry_from_server)
{
    /* [MQTT-3.14.2-2] the server must not send a Session Expiry Interval. */
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xe0, 0x00, PROPS(0x11, 0x00, 0x00, 0x00, 0x00)));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xe0, 0x8b, PROPS(0x11, 0x00, 0x00, 0x00, 0x01)));
}

Test(decode, disconnect_v5_every_reason_code)
{
    /* 3.14.2.1: the DISCONNECT reason codes; others are 0x82 (README). The table of
     * section 2.4 also lists 0x8C Bad authentication method for DISCONNECT (3.14.2.1 does
     * not); the decoder follows 2.4 and accepts it, a reading this test keeps. */
    static const uint8_t allowed[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8c,
                                      0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
                                      0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2};
    for (unsigned code = 0; code <= 255; code++) {
        const uint8_t short_form[] = {0xe0, 0x01, (uint8_t)code};
        const uint8_t long_form[] = {0xe0, 0x02, (uint8_t)code, 0x00};
        if (memchr(allowed, (int)code, sizeof allowed)) {
            struct smq_packet p;
            expect_ok(5, ANY, short_form, sizeof short_form, &p, (int)code);
            cr_assert_eq(p.u.disconnect.reason, code);
            expect_ok(5, ANY, long_form, sizeof long_form, &p, (int)code);
            cr_assert_eq(p.u.disconnect.reason, code);
        } else {
            expect_err(5, ANY, short_form, sizeof short_form, 0x82, (int)code);
            expect_err(5, ANY, long_form, sizeof long_form, 0x82, (int)code);
        }
    }
}

Test(decode, disconnect_v5_rejects_property_not_allowed)
{
    /* 3.14.2.2: Session Expiry, Reason String, User Property, Server Reference only. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xe0, 0x00, PROPS(0x23, 0x00, 0x01)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xe0, 0x00, PROPS(0x15, STR('m'))));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xe0, 0x00, PROPS(0x18, 0x00, 0x00, 0x00, 0x00)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xe0, 0x00, PROPS(0x12, STR('i'))));
}

Test(decode, disconnect_v5_rejects_duplicate_properties)
{
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0xe0, 0x00, PROPS(0x1f, STR('a'), 0x1f, STR('b'))));
    EXPECT_ERR(
        5, CLIENT, 0x82,
        FRAME(0xe0, 0x00, PROPS(0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x01)));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xe0, 0x00, PROPS(0x1c, STR('a'), 0x1c, STR('a'))));
}

Test(decode, disconnect_v5_rejects_property_length_past_packet)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xe0, 0x00, 0x03, 0x1f, 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xe0, 0x00, 0x80));
}

Test(decode, disconnect_v5_rejects_bytes_after_properties)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xe0, 0x00, 0x00, 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xe0, 0x04, PROPS(0x1f, STR('x')), 0x01));
}

Test(decode, disconnect_v5_rejects_reason_string_with_invalid_utf8)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xe0, 0x00, PROPS(0x1f, STR(0xc0, 0x80))));
}

/* ---------------------------------------------------------------------------------------
 * AUTH
 * ------------------------------------------------------------------------------------- */

Test(decode, auth_remaining_length_0_is_success)
{
    struct smq_packet p;
    /* 3.15.2.1: reason and properties may be omitted when the code is 0x00 and there are no
     * properties. */
    EXPECT_OK(5, CLIENT, &p, 0xf0, 0x00);
    cr_assert_eq(p.type, SMQ_AUTH);
    cr_assert_eq(p.u.auth.reason, 0);
    cr_assert_eq(p.u.auth.props.present, 0);
    EXPECT_OK(5, SERVER, &p, 0xf0, 0x00);
}

Test(decode, auth_with_method_and_data)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0xf0, 0x18,
                    PROPS(0x15, STR('S', 'C', 'R', 'A', 'M'), 0x16, STR(0x01, 0x02, 0x03), 0x1f,
                          STR('r'), 0x26, STR('k'), STR('v'))));
    const struct smq_reason_packet *a = &p.u.auth;
    cr_assert_eq(a->reason, 0x18);
    cr_assert(smq_span_eq_str(a->props.auth_method, "SCRAM"));
    cr_assert_eq(a->props.auth_data.len, 3);
    cr_assert(smq_span_eq_str(a->props.reason_string, "r"));
    cr_assert_eq(a->props.user_count, 1);
}

Test(decode, auth_every_reason_code)
{
    /* 3.15.2.1: 0x00, 0x18, 0x19; others 0x82 (README). */
    for (unsigned code = 0; code <= 255; code++) {
        const uint8_t pkt[] = {FRAME(0xf0, (uint8_t)code, PROPS(0x15, STR('m')))};
        if (code == 0x00 || code == 0x18 || code == 0x19) {
            struct smq_packet p;
            expect_ok(5, ANY, pkt, sizeof pkt, &p, (int)code);
            cr_assert_eq(p.u.auth.reason, code);
        } else {
            expect_err(5, ANY, pkt, sizeof pkt, 0x82, (int)code);
        }
    }
}

Test(decode, auth_rejects_content_without_method)
{
    /* README: any content (remaining length >= 1) without Authentication Method is 0x82;
     * 3.15.2.2.2 the method is required. */
    EXPECT_ERR(5, CLIENT, 0x82, 0xf0, 0x01, 0x18);
    EXPECT_ERR(5, CLIENT, 0x82, 0xf0, 0x01, 0x00);
    EXPECT_ERR(5, CLIENT, 0x82, 0xf0, 0x02, 0x19, 0x00);
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xf0, 0x18, PROPS(0x1f, STR('r'))));
}

Test(decode, auth_rejects_data_without_method)
{
    /* 3.15.2.2.3: Authentication Data without Method is a Protocol Error. */
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0xf0, 0x18, PROPS(0x16, STR(0x01))));
}

Test(decode, auth_rejects_duplicate_method)
{
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0xf0, 0x18, PROPS(0x15, STR('a'), 0x15, STR('a'))));
    EXPECT_ERR(5, CLIENT, 0x82,
               FRAME(0xf0, 0x18, PROPS(0x15, STR('a'), 0x16, STR(0x01), 0x16, STR(0x01))));
}

Test(decode, auth_rejects_property_not_allowed)
{
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0xf0, 0x18, PROPS(0x15, STR('m'), 0x11, 0x00, 0x00, 0x00, 0x00)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xf0, 0x18, PROPS(0x15, STR('m'), 0x1c, STR('s'))));
}

Test(decode, auth_rejects_property_length_past_packet)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xf0, 0x18, 0x09, 0x15, 0x00, 0x01, 'm'));
}

Test(decode, auth_rejects_method_with_invalid_utf8)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xf0, 0x18, PROPS(0x15, STR(0xff))));
}

Test(decode, auth_rejects_wrong_fixed_header_flags)
{
    /* [MQTT-3.15.1-1] */
    EXPECT_ERR(5, CLIENT, 0x81, 0xf1, 0x00);
    EXPECT_ERR(5, CLIENT, 0x81, 0xf2, 0x00);
}

Test(decode, auth_rejected_before_v5)
{
    /* README: type 15 is reserved on 3.1/3.1.1: malformed. */
    EXPECT_ERR(4, CLIENT, 0x81, 0xf0, 0x00);
    EXPECT_ERR(3, CLIENT, 0x81, 0xf0, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, FRAME(0xf0, 0x18, PROPS(0x15, STR('m'))));
}

/* ---------------------------------------------------------------------------------------
 * Framing a stream
 * ------------------------------------------------------------------------------------- */

Test(decode, packet_returns_its_own_size_when_more_bytes_follow)
{
    /* A PUBLISH followed by the start of the next packet: the payload stops at the
     * remaining length, the rest is not touched. */
    static const uint8_t buf[] = {0x30, 0x05, 0x00, 0x01, 't', 'h', 'i', 0xc0, 0x00, 0xff};
    struct smq_decode_opts opts = {.version = 4};
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(smq_decode_packet(buf, sizeof buf, &opts, &p, &reason), 7);
    cr_assert_eq(p.type, SMQ_PUBLISH);
    cr_assert_eq(p.u.publish.payload.len, 2);
    cr_assert_eq(p.u.publish.payload.ptr, buf + 5);
}

Test(decode, packet_with_trailing_garbage_still_decodes)
{
    static const uint8_t buf[] = {0xc0, 0x00, 0x00, 0x00, 0x00};
    struct smq_decode_opts opts = {.version = 5};
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(smq_decode_packet(buf, sizeof buf, &opts, &p, &reason), 2);
    cr_assert_eq(p.type, SMQ_PINGREQ);
}

Test(decode, two_packets_back_to_back)
{
    static const uint8_t buf[] = {
        FRAME(0x32, STR('a', '/', 'b'), 0x00, 0x01, 'x'), /* PUBLISH QoS 1 */
        0x40,
        0x02,
        0x00,
        0x01, /* PUBACK 1 */
        0xe0,
        0x00, /* DISCONNECT */
    };
    struct smq_decode_opts opts = {.version = 4};
    struct smq_packet p;
    uint8_t reason = 0;
    size_t off = 0;
    ssize_t n = smq_decode_packet(buf + off, sizeof buf - off, &opts, &p, &reason);
    cr_assert_eq(n, 10);
    cr_assert_eq(p.type, SMQ_PUBLISH);
    cr_assert(smq_span_eq_str(p.u.publish.topic, "a/b"));
    cr_assert(smq_span_eq_str(p.u.publish.payload, "x"));
    off += (size_t)n;
    n = smq_decode_packet(buf + off, sizeof buf - off, &opts, &p, &reason);
    cr_assert_eq(n, 4);
    cr_assert_eq(p.type, SMQ_PUBACK);
    cr_assert_eq(p.u.ack.packet_id, 1);
    off += (size_t)n;
    n = smq_decode_packet(buf + off, sizeof buf - off, &opts, &p, &reason);
    cr_assert_eq(n, 2);
    cr_assert_eq(p.type, SMQ_DISCONNECT);
    off += (size_t)n;
    cr_assert_eq(off, sizeof buf);
    cr_assert_eq(smq_decode_packet(buf + off, 0, &opts, &p, &reason), 0);
}

Test(decode, two_v5_packets_back_to_back)
{
    static const uint8_t buf[] = {
        FRAME(0x82, 0x00, 0x02, 0x00, STR('t'), 0x01),     /* SUBSCRIBE */
        FRAME(0x30, STR('t'), PROPS(0x01, 0x01), 'h', 'i') /* PUBLISH */
    };
    struct smq_decode_opts opts = {.version = 5, .sender = CLIENT};
    struct smq_packet p;
    uint8_t reason = 0;
    ssize_t n = smq_decode_packet(buf, sizeof buf, &opts, &p, &reason);
    cr_assert_eq(n, 9);
    cr_assert_eq(p.type, SMQ_SUBSCRIBE);
    cr_assert_eq(p.u.subscribe.count, 1);
    ssize_t m = smq_decode_packet(buf + n, sizeof buf - (size_t)n, &opts, &p, &reason);
    cr_assert_eq(m, (ssize_t)sizeof buf - n);
    cr_assert_eq(p.type, SMQ_PUBLISH);
    cr_assert(smq_span_eq_str(p.u.publish.payload, "hi"));
}

Test(decode, packet_needs_more_bytes)
{
    static const uint8_t buf[] = {0x40, 0x02, 0x00, 0x01};
    struct smq_decode_opts opts = {.version = 4};
    struct smq_packet p;
    uint8_t reason = 0;
    for (size_t len = 0; len < sizeof buf; len++)
        cr_assert_eq(smq_decode_packet(buf, len, &opts, &p, &reason), 0, "len %zu", len);
    cr_assert_eq(smq_decode_packet(buf, sizeof buf, &opts, &p, &reason), 4);
}

Test(decode, packet_needs_more_bytes_within_multibyte_length)
{
    /* Remaining length 200 = C8 01: after C8 the length is still incomplete. */
    static const uint8_t head[] = {0x30, 0xc8};
    struct smq_decode_opts opts = {.version = 4};
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(smq_decode_packet(head, sizeof head, &opts, &p, &reason), 0);
    static const uint8_t head2[] = {0x30, 0xc8, 0x01, 0x00, 0x01};
    cr_assert_eq(smq_decode_packet(head2, sizeof head2, &opts, &p, &reason), 0);
}

/* ---------------------------------------------------------------------------------------
 * The fixed-header rows of proto/README.md, seen through smq_decode_packet()
 * ------------------------------------------------------------------------------------- */

Test(decode, packet_rejects_type_0)
{
    EXPECT_ERR(4, ANY, 0x81, 0x00, 0x00);
    EXPECT_ERR(5, CLIENT, 0x81, 0x0f, 0x00);
}

Test(decode, packet_rejects_anything_but_connect_first)
{
    /* [MQTT-3.1.0-1] the first packet from a client is CONNECT. */
    struct smq_decode_opts opts = {.sender = CLIENT, .awaiting_connect = true};
    static const uint8_t ping[] = {0xc0, 0x00};
    static const uint8_t publish[] = {0x30, 0x03, 0x00, 0x01, 't'};
    static const uint8_t auth[] = {0xf0, 0x00};
    expect_err_opts(&opts, ping, sizeof ping, 0x82, __LINE__);
    expect_err_opts(&opts, publish, sizeof publish, 0x82, __LINE__);
    expect_err_opts(&opts, auth, sizeof auth, 0x82, __LINE__);
    /* Judged on the first byte: a huge declared length changes nothing. */
    static const uint8_t huge[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    expect_err_opts(&opts, huge, sizeof huge, 0x82, __LINE__);
    static const uint8_t one[] = {0x30};
    expect_err_opts(&opts, one, sizeof one, 0x82, __LINE__);
}

Test(decode, packet_accepts_connect_first)
{
    static const uint8_t pkt[] = {0x10, 0x0d, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                                  0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 'a'};
    struct smq_decode_opts opts = {.sender = CLIENT, .awaiting_connect = true};
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(smq_decode_packet(pkt, sizeof pkt, &opts, &p, &reason), (ssize_t)sizeof pkt);
    cr_assert_eq(p.type, SMQ_CONNECT);
}

Test(decode, packet_rejects_five_byte_remaining_length)
{
    /* [MQTT-1.5.5] / 2.2.3: at most four bytes. */
    EXPECT_ERR(4, ANY, 0x81, 0x30, 0xff, 0xff, 0xff, 0xff, 0x7f);
    EXPECT_ERR(4, ANY, 0x81, 0x30, 0x80, 0x80, 0x80, 0x80, 0x01);
    /* Decided as soon as the fourth length byte says "more": no fifth byte needed. */
    EXPECT_ERR(4, ANY, 0x81, 0x30, 0xff, 0xff, 0xff, 0xff);
    EXPECT_ERR(5, ANY, 0x81, 0xc0, 0x80, 0x80, 0x80, 0x80);
}

Test(decode, packet_rejects_non_minimal_remaining_length)
{
    /* [MQTT-1.5.5-1] */
    EXPECT_ERR(4, ANY, 0x81, 0xc0, 0x80, 0x00);
    EXPECT_ERR(4, ANY, 0x81, 0x40, 0x82, 0x00, 0x00, 0x01);
    EXPECT_ERR(5, ANY, 0x81, 0xe0, 0x80, 0x80, 0x00);
}

Test(decode, packet_rejects_packet_larger_than_maximum)
{
    /* README: 0x95, judged on the fixed header before the body arrives. */
    struct smq_decode_opts opts = {.version = 4, .max_packet_size = 100};
    static const uint8_t head[] = {0x30, 0x63}; /* 2 + 99 = 101 bytes */
    expect_err_opts(&opts, head, sizeof head, 0x95, __LINE__);
    static const uint8_t big[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    expect_err_opts(&opts, big, sizeof big, 0x95, __LINE__);
    static const uint8_t exact[] = {0x30, 0x62}; /* 100 bytes: fine, needs more */
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(smq_decode_packet(exact, sizeof exact, &opts, &p, &reason), 0);
}

Test(decode, packet_rejects_server_only_types_from_client)
{
    /* README: CONNACK SUBACK UNSUBACK PINGRESP from a client: 0x82. */
    EXPECT_ERR(4, CLIENT, 0x82, 0x20, 0x02, 0x00, 0x00);
    EXPECT_ERR(4, CLIENT, 0x82, 0x90, 0x03, 0x00, 0x01, 0x00);
    EXPECT_ERR(4, CLIENT, 0x82, 0xb0, 0x02, 0x00, 0x01);
    EXPECT_ERR(5, CLIENT, 0x82, 0xd0, 0x00);
}

Test(decode, packet_rejects_client_only_types_from_server)
{
    /* README: CONNECT SUBSCRIBE UNSUBSCRIBE PINGREQ from a server: 0x82. */
    EXPECT_ERR(4, SERVER, 0x82, 0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c,
               0x00, 0x01, 'a');
    EXPECT_ERR(4, SERVER, 0x82, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x00);
    EXPECT_ERR(4, SERVER, 0x82, 0xa2, 0x05, 0x00, 0x01, 0x00, 0x01, 't');
    EXPECT_ERR(5, SERVER, 0x82, 0xc0, 0x00);
}

Test(decode, packet_opts_zero_means_v311_any_sender)
{
    /* A zeroed smq_decode_opts: level 4, any sender, no size limit. */
    static const uint8_t connack[] = {0x20, 0x02, 0x00, 0x00};
    static const uint8_t ack3[] = {0x40, 0x03, 0x00, 0x01, 0x00}; /* valid only on v5 */
    struct smq_decode_opts opts = {0};
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(smq_decode_packet(connack, sizeof connack, &opts, &p, &reason), 4);
    cr_assert_eq(smq_decode_packet(ack3, sizeof ack3, &opts, &p, &reason), SMQ_EPROTO);
    cr_assert_eq(reason, 0x81);
}
