/* Tests for proto/framer.c: the fixed header (2.1 of 5.0 and 3.1.1).
 *
 * Every row of proto/README.md's Fixed header table with its exact reason code, the order in
 * which the rows are checked (an input that breaks two rules gets the earlier row's code),
 * "need more" on short input, header lengths 2..5, the maximum packet size at its exact
 * boundary, and the rule that a first byte the framer can judge alone is judged before any
 * length byte arrives. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/framer.h"
#include "proto/packet.h"
#include "proto/reason.h"

/* Options for a connection of the given sender and version. */
static struct smq_decode_opts opts_for(uint8_t sender, uint8_t version)
{
    struct smq_decode_opts o;
    memset(&o, 0, sizeof o);
    o.sender = sender;
    o.version = version;
    return o;
}

/* The correct low nibble for a packet type (PUBLISH: QoS 0, no flags). */
static uint8_t good_flags(int type)
{
    return (type == SMQ_PUBREL || type == SMQ_SUBSCRIBE || type == SMQ_UNSUBSCRIBE) ? 0x2 : 0x0;
}

static uint8_t first_byte(int type, uint8_t flags)
{
    return (uint8_t)((type << 4) | (flags & 0x0F));
}

/* Decodes src[0..len) and returns the result; out and reason are preset to sentinels. */
static ssize_t frame(const uint8_t *src, size_t len, const struct smq_decode_opts *o,
                     struct smq_fixed_header *out, uint8_t *reason)
{
    memset(out, 0xEE, sizeof *out);
    *reason = 0xEE;
    return smq_decode_fixed_header(src, len, o, out, reason);
}

/* Asserts SMQ_EPROTO with code for src[0..len). */
static void expect_reject(const uint8_t *src, size_t len, const struct smq_decode_opts *o,
                          uint8_t code)
{
    struct smq_fixed_header h;
    uint8_t reason;
    ssize_t n = frame(src, len, o, &h, &reason);
    cr_assert_eq(n, SMQ_EPROTO, "first byte 0x%02X len %zu: returned %zd, expected SMQ_EPROTO",
                 src[0], len, n);
    cr_assert_eq(reason, code, "first byte 0x%02X len %zu: reason 0x%02X, expected 0x%02X",
                 src[0], len, reason, code);
}

/* Asserts the first byte b is rejected with code, with 1 byte, with a valid length byte, and
 * with a 4-byte maximal length. */
static void expect_first_byte_reject(uint8_t b, const struct smq_decode_opts *o, uint8_t code)
{
    const uint8_t one[] = {b};
    const uint8_t two[] = {b, 0x00};
    const uint8_t five[] = {b, 0xFF, 0xFF, 0xFF, 0x7F};
    expect_reject(one, 1, o, code);
    expect_reject(two, 2, o, code);
    expect_reject(five, 5, o, code);
}

/* Asserts a complete header of header_len bytes with the given fields. */
static void expect_header(const uint8_t *src, size_t len, const struct smq_decode_opts *o,
                          ssize_t header_len, uint8_t type, uint8_t flags, uint32_t remaining)
{
    struct smq_fixed_header h;
    uint8_t reason;
    ssize_t n = frame(src, len, o, &h, &reason);
    cr_assert_eq(n, header_len, "first byte 0x%02X: returned %zd (reason 0x%02X), expected %zd",
                 src[0], n, reason, header_len);
    cr_assert_eq(h.type, type);
    cr_assert_eq(h.flags, flags);
    cr_assert_eq(h.header_len, (uint8_t)header_len);
    cr_assert_eq(h.remaining, remaining);
}

static void expect_need_more(const uint8_t *src, size_t len, const struct smq_decode_opts *o)
{
    struct smq_fixed_header h;
    uint8_t reason;
    ssize_t n = frame(src, len, o, &h, &reason);
    cr_assert_eq(n, 0, "len %zu: returned %zd (reason 0x%02X), expected 0 (need more)", len, n,
                 reason);
}

/* ---- accepted headers ---------------------------------------------------------------- */

Test(framer, every_type_with_correct_flags_is_accepted_from_any_sender)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    for (int t = SMQ_CONNECT; t <= SMQ_AUTH; t++) {
        const uint8_t src[] = {first_byte(t, good_flags(t)), 0x00};
        expect_header(src, 2, &o, 2, (uint8_t)t, good_flags(t), 0);
    }
}

Test(framer, zeroed_opts_accept_every_type_but_auth)
{
    struct smq_decode_opts o;
    memset(&o, 0, sizeof o); /* any sender, level 4, no size limit */
    for (int t = SMQ_CONNECT; t < SMQ_AUTH; t++) {
        /* 3.x fixed-size packets must declare their one size (2.1.4). */
        bool two = t == SMQ_CONNACK || (t >= SMQ_PUBACK && t <= SMQ_PUBCOMP) || t == SMQ_UNSUBACK;
        const uint8_t src[] = {first_byte(t, good_flags(t)), two ? 0x02 : 0x00};
        expect_header(src, 2, &o, 2, (uint8_t)t, good_flags(t), two ? 2 : 0);
    }
}

/* 3.3.1: DUP, QoS and RETAIN are the PUBLISH flags. */
Test(framer, every_valid_publish_flag_combination_is_accepted)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V311);
    static const uint8_t flags[] = {0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0xA, 0xB, 0xC, 0xD};
    for (size_t i = 0; i < sizeof flags; i++) {
        const uint8_t src[] = {first_byte(SMQ_PUBLISH, flags[i]), 0x05};
        expect_header(src, 2, &o, 2, SMQ_PUBLISH, flags[i], 5);
    }
}

/* 2.1.4 / 1.5.5: the remaining length takes 1 to 4 bytes. */
Test(framer, header_len_follows_the_remaining_length)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    const uint8_t h2a[] = {0x30, 0x00};
    const uint8_t h2b[] = {0x30, 0x7F};
    const uint8_t h3a[] = {0x30, 0x80, 0x01};
    const uint8_t h3b[] = {0x30, 0xFF, 0x7F};
    const uint8_t h4a[] = {0x30, 0x80, 0x80, 0x01};
    const uint8_t h4b[] = {0x30, 0xFF, 0xFF, 0x7F};
    const uint8_t h5a[] = {0x30, 0x80, 0x80, 0x80, 0x01};
    const uint8_t h5b[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    expect_header(h2a, sizeof h2a, &o, 2, SMQ_PUBLISH, 0, 0);
    expect_header(h2b, sizeof h2b, &o, 2, SMQ_PUBLISH, 0, 127);
    expect_header(h3a, sizeof h3a, &o, 3, SMQ_PUBLISH, 0, 128);
    expect_header(h3b, sizeof h3b, &o, 3, SMQ_PUBLISH, 0, 16383);
    expect_header(h4a, sizeof h4a, &o, 4, SMQ_PUBLISH, 0, 16384);
    expect_header(h4b, sizeof h4b, &o, 4, SMQ_PUBLISH, 0, 2097151);
    expect_header(h5a, sizeof h5a, &o, 5, SMQ_PUBLISH, 0, 2097152);
    expect_header(h5b, sizeof h5b, &o, 5, SMQ_PUBLISH, 0, SMQ_VARINT_MAX);
}

Test(framer, header_ignores_body_bytes_that_follow)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V311);
    const uint8_t src[] = {0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00, 0xFF, 0xFF};
    expect_header(src, sizeof src, &o, 2, SMQ_SUBSCRIBE, 0x2, 6);
}

/* ---- need more ----------------------------------------------------------------------- */

Test(framer, empty_input_needs_more)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    const uint8_t src[] = {0x10};
    expect_need_more(src, 0, &o);
}

Test(framer, valid_first_byte_alone_needs_more)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    for (int t = SMQ_CONNECT; t <= SMQ_AUTH; t++) {
        const uint8_t src[] = {first_byte(t, good_flags(t))};
        expect_need_more(src, 1, &o);
    }
}

Test(framer, partial_remaining_length_needs_more)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    const uint8_t src[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    for (size_t len = 0; len < sizeof src; len++)
        expect_need_more(src, len, &o);
    const uint8_t src2[] = {0x30, 0x80, 0x80, 0x01};
    for (size_t len = 0; len < sizeof src2; len++)
        expect_need_more(src2, len, &o);
}

/* ---- packet type 0 ------------------------------------------------------------------- */

/* 2.1.2 table 2-1: type 0 is Reserved. */
Test(framer, reserved_type_zero_is_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    for (uint8_t flags = 0; flags < 16; flags++)
        expect_first_byte_reject(first_byte(0, flags), &o, SMQ_RC_MALFORMED);
}

Test(framer, reserved_type_zero_is_malformed_for_every_sender_and_version)
{
    static const uint8_t senders[] = {SMQ_SENDER_ANY, SMQ_SENDER_CLIENT, SMQ_SENDER_SERVER};
    static const uint8_t versions[] = {SMQ_V31, SMQ_V311, SMQ_V5};
    for (size_t s = 0; s < 3; s++) {
        for (size_t v = 0; v < 3; v++) {
            struct smq_decode_opts o = opts_for(senders[s], versions[v]);
            expect_first_byte_reject(0x00, &o, SMQ_RC_MALFORMED);
        }
    }
}

/* ---- awaiting CONNECT ---------------------------------------------------------------- */

/* [MQTT-3.1.0-1] the first packet sent from the Client to the Server MUST be CONNECT. */
Test(framer, awaiting_connect_accepts_connect)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, 0);
    o.awaiting_connect = true;
    const uint8_t src[] = {0x10, 0x10};
    expect_header(src, 2, &o, 2, SMQ_CONNECT, 0, 16);
}

Test(framer, awaiting_connect_rejects_publish_on_the_first_byte)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, 0);
    o.awaiting_connect = true;
    const uint8_t alone[] = {0x30};
    expect_reject(alone, 1, &o, SMQ_RC_PROTOCOL_ERROR);
}

Test(framer, awaiting_connect_rejects_publish_with_a_huge_length_present)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, 0);
    o.awaiting_connect = true;
    o.max_packet_size = 1024;
    const uint8_t huge[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    expect_reject(huge, sizeof huge, &o, SMQ_RC_PROTOCOL_ERROR);
    const uint8_t partial[] = {0x30, 0xFF, 0xFF};
    expect_reject(partial, sizeof partial, &o, SMQ_RC_PROTOCOL_ERROR);
}

Test(framer, awaiting_connect_rejects_every_other_type)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, 0);
    o.awaiting_connect = true;
    for (int t = SMQ_CONNACK; t <= SMQ_AUTH; t++)
        expect_first_byte_reject(first_byte(t, good_flags(t)), &o, SMQ_RC_PROTOCOL_ERROR);
}

Test(framer, awaiting_connect_ignores_the_connection_version)
{
    static const uint8_t versions[] = {0, SMQ_V31, SMQ_V311, SMQ_V5};
    for (size_t v = 0; v < 4; v++) {
        struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, versions[v]);
        o.awaiting_connect = true;
        const uint8_t ok[] = {0x10, 0x0C};
        expect_header(ok, 2, &o, 2, SMQ_CONNECT, 0, 12);
        expect_first_byte_reject(0xC0, &o, SMQ_RC_PROTOCOL_ERROR); /* PINGREQ */
    }
}

/* ---- reserved flags ------------------------------------------------------------------ */

/* [MQTT-2.1.3-1] reserved flags MUST be set to the values of table 2-2; README: 0x81. */
Test(framer, every_wrong_flag_nibble_is_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    for (int t = SMQ_CONNECT; t <= SMQ_AUTH; t++) {
        if (t == SMQ_PUBLISH)
            continue;
        for (uint8_t flags = 0; flags < 16; flags++) {
            if (flags == good_flags(t))
                continue;
            expect_first_byte_reject(first_byte(t, flags), &o, SMQ_RC_MALFORMED);
        }
    }
}

/* 3.6.1 / 3.8.1 / 3.10.1: "bits 3,2,1 and 0 ... MUST be set to 0,0,1 and 0" [MQTT-3.6.1-1]
 * [MQTT-3.8.1-1] [MQTT-3.10.1-1]. */
Test(framer, pubrel_subscribe_unsubscribe_with_zero_flags_are_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V311);
    expect_first_byte_reject(0x60, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0x80, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0xA0, &o, SMQ_RC_MALFORMED);
}

Test(framer, connect_with_any_flag_is_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, 0);
    o.awaiting_connect = true;
    expect_first_byte_reject(0x11, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0x12, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0x18, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0x1F, &o, SMQ_RC_MALFORMED);
}

Test(framer, wrong_flags_are_malformed_on_every_version)
{
    static const uint8_t versions[] = {SMQ_V31, SMQ_V311, SMQ_V5};
    for (size_t v = 0; v < 3; v++) {
        struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, versions[v]);
        expect_first_byte_reject(0x41, &o, SMQ_RC_MALFORMED); /* PUBACK */
        expect_first_byte_reject(0x63, &o, SMQ_RC_MALFORMED); /* PUBREL */
        expect_first_byte_reject(0xC8, &o, SMQ_RC_MALFORMED); /* PINGREQ */
        expect_first_byte_reject(0xE1, &o, SMQ_RC_MALFORMED); /* DISCONNECT */
    }
}

/* ---- PUBLISH flags ------------------------------------------------------------------- */

/* [MQTT-3.3.1-4] a PUBLISH MUST NOT have both QoS bits set. */
Test(framer, publish_qos_3_is_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    expect_first_byte_reject(0x36, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0x37, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0x3E, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0x3F, &o, SMQ_RC_MALFORMED);
}

Test(framer, publish_qos_3_is_malformed_from_both_sides_and_versions)
{
    static const uint8_t senders[] = {SMQ_SENDER_CLIENT, SMQ_SENDER_SERVER};
    static const uint8_t versions[] = {SMQ_V31, SMQ_V311, SMQ_V5};
    for (size_t s = 0; s < 2; s++)
        for (size_t v = 0; v < 3; v++) {
            struct smq_decode_opts o = opts_for(senders[s], versions[v]);
            expect_first_byte_reject(0x36, &o, SMQ_RC_MALFORMED);
        }
}

/* [MQTT-3.3.1-2] the DUP flag MUST be set to 0 for all QoS 0 messages. */
Test(framer, publish_qos_0_with_dup_is_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    expect_first_byte_reject(0x38, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0x39, &o, SMQ_RC_MALFORMED);
}

/* ---- AUTH before 5.0 ----------------------------------------------------------------- */

/* 2.1.2: type 15 is Reserved in 3.1.1; AUTH exists only in 5.0. */
Test(framer, auth_on_version_4_is_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V311);
    expect_first_byte_reject(0xF0, &o, SMQ_RC_MALFORMED);
    o.sender = SMQ_SENDER_SERVER;
    expect_first_byte_reject(0xF0, &o, SMQ_RC_MALFORMED);
}

Test(framer, auth_on_version_3_is_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V31);
    expect_first_byte_reject(0xF0, &o, SMQ_RC_MALFORMED);
}

Test(framer, auth_with_zeroed_opts_is_malformed)
{
    struct smq_decode_opts o;
    memset(&o, 0, sizeof o); /* level 4 */
    expect_first_byte_reject(0xF0, &o, SMQ_RC_MALFORMED);
}

Test(framer, auth_on_version_5_is_accepted_from_both_sides)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    const uint8_t src[] = {0xF0, 0x00};
    expect_header(src, 2, &o, 2, SMQ_AUTH, 0, 0);
    o.sender = SMQ_SENDER_SERVER;
    expect_header(src, 2, &o, 2, SMQ_AUTH, 0, 0);
    const uint8_t longer[] = {0xF0, 0x05};
    expect_header(longer, 2, &o, 2, SMQ_AUTH, 0, 5);
}

/* ---- the sender's role --------------------------------------------------------------- */

/* 2.1.2 table 2-1 gives each packet's direction; README: 0x82 for the wrong one. */
Test(framer, server_rejects_what_only_a_server_sends)
{
    static const uint8_t versions[] = {SMQ_V31, SMQ_V311, SMQ_V5};
    static const int types[] = {SMQ_CONNACK, SMQ_SUBACK, SMQ_UNSUBACK, SMQ_PINGRESP};
    for (size_t v = 0; v < 3; v++) {
        struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, versions[v]);
        for (size_t i = 0; i < 4; i++)
            expect_first_byte_reject(first_byte(types[i], 0), &o, SMQ_RC_PROTOCOL_ERROR);
    }
}

Test(framer, server_accepts_what_a_client_sends)
{
    static const int types[] = {SMQ_CONNECT, SMQ_PUBLISH,    SMQ_PUBACK,      SMQ_PUBREC,
                                SMQ_PUBREL,  SMQ_PUBCOMP,    SMQ_SUBSCRIBE,   SMQ_UNSUBSCRIBE,
                                SMQ_PINGREQ, SMQ_DISCONNECT, SMQ_AUTH};
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const uint8_t src[] = {first_byte(types[i], good_flags(types[i])), 0x00};
        expect_header(src, 2, &o, 2, (uint8_t)types[i], good_flags(types[i]), 0);
    }
    o.version = SMQ_V311;
    const uint8_t disc[] = {0xE0, 0x00};
    expect_header(disc, 2, &o, 2, SMQ_DISCONNECT, 0, 0);
}

Test(framer, client_rejects_what_only_a_client_sends)
{
    static const uint8_t versions[] = {SMQ_V31, SMQ_V311, SMQ_V5};
    static const int types[] = {SMQ_CONNECT, SMQ_SUBSCRIBE, SMQ_UNSUBSCRIBE, SMQ_PINGREQ};
    for (size_t v = 0; v < 3; v++) {
        struct smq_decode_opts o = opts_for(SMQ_SENDER_SERVER, versions[v]);
        for (size_t i = 0; i < 4; i++)
            expect_first_byte_reject(first_byte(types[i], good_flags(types[i])), &o,
                                     SMQ_RC_PROTOCOL_ERROR);
    }
}

Test(framer, client_accepts_what_a_server_sends)
{
    static const int types[] = {SMQ_CONNACK, SMQ_PUBLISH, SMQ_PUBACK,   SMQ_PUBREC,
                                SMQ_PUBREL,  SMQ_PUBCOMP, SMQ_SUBACK,   SMQ_UNSUBACK,
                                SMQ_PINGRESP, SMQ_DISCONNECT, SMQ_AUTH};
    struct smq_decode_opts o = opts_for(SMQ_SENDER_SERVER, SMQ_V5);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const uint8_t src[] = {first_byte(types[i], good_flags(types[i])), 0x00};
        expect_header(src, 2, &o, 2, (uint8_t)types[i], good_flags(types[i]), 0);
    }
}

/* 3.14 of 3.1.1: DISCONNECT is sent from Client to Server only; a 5.0 server may send it. */
Test(framer, disconnect_from_a_3x_server_is_a_protocol_error)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_SERVER, SMQ_V311);
    expect_first_byte_reject(0xE0, &o, SMQ_RC_PROTOCOL_ERROR);
    o.version = SMQ_V31;
    expect_first_byte_reject(0xE0, &o, SMQ_RC_PROTOCOL_ERROR);
}

Test(framer, disconnect_from_a_v5_server_is_accepted)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_SERVER, SMQ_V5);
    const uint8_t src[] = {0xE0, 0x01};
    expect_header(src, 2, &o, 2, SMQ_DISCONNECT, 0, 1);
}

/* ---- remaining length encoding ------------------------------------------------------- */

/* 2.1.4 / 1.5.5: at most four length bytes. */
Test(framer, fifth_length_byte_is_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    const uint8_t cont4[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF};
    expect_reject(cont4, sizeof cont4, &o, SMQ_RC_MALFORMED);
    const uint8_t five[] = {0x30, 0x80, 0x80, 0x80, 0x80, 0x01};
    expect_reject(five, sizeof five, &o, SMQ_RC_MALFORMED);
    const uint8_t ping[] = {0xC0, 0x80, 0x80, 0x80, 0x80, 0x00};
    expect_reject(ping, sizeof ping, &o, SMQ_RC_MALFORMED);
}

/* [MQTT-1.5.5-1] the minimum number of bytes MUST be used. */
Test(framer, non_minimal_remaining_length_is_malformed)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    const uint8_t z2[] = {0x30, 0x80, 0x00};
    const uint8_t z3[] = {0x30, 0x80, 0x80, 0x00};
    const uint8_t z4[] = {0x30, 0x80, 0x80, 0x80, 0x00};
    const uint8_t v127[] = {0x30, 0xFF, 0x00};
    const uint8_t v16383[] = {0x30, 0xFF, 0xFF, 0x00};
    const uint8_t v2097151[] = {0x30, 0xFF, 0xFF, 0xFF, 0x00};
    const uint8_t ping[] = {0xC0, 0x80, 0x00};
    expect_reject(z2, sizeof z2, &o, SMQ_RC_MALFORMED);
    expect_reject(z3, sizeof z3, &o, SMQ_RC_MALFORMED);
    expect_reject(z4, sizeof z4, &o, SMQ_RC_MALFORMED);
    expect_reject(v127, sizeof v127, &o, SMQ_RC_MALFORMED);
    expect_reject(v16383, sizeof v16383, &o, SMQ_RC_MALFORMED);
    expect_reject(v2097151, sizeof v2097151, &o, SMQ_RC_MALFORMED);
    expect_reject(ping, sizeof ping, &o, SMQ_RC_MALFORMED);
}

/* ---- maximum packet size ------------------------------------------------------------- */

/* 3.1.2.11.4 / 3.2.2.3.6: the Maximum Packet Size counts the whole packet. */
Test(framer, packet_that_fits_max_packet_size_exactly_is_accepted)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    o.max_packet_size = 100;
    const uint8_t src[] = {0x30, 98}; /* 2 + 98 = 100 */
    expect_header(src, 2, &o, 2, SMQ_PUBLISH, 0, 98);
}

Test(framer, packet_one_byte_over_max_packet_size_is_too_large)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    o.max_packet_size = 100;
    const uint8_t src[] = {0x30, 99}; /* 2 + 99 = 101 */
    expect_reject(src, 2, &o, SMQ_RC_PACKET_TOO_LARGE);
}

Test(framer, max_packet_size_counts_every_header_byte)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    /* remaining 200 takes two length bytes: 1 + 2 + 200 = 203. */
    o.max_packet_size = 203;
    const uint8_t src[] = {0x30, 0xC8, 0x01};
    expect_header(src, 3, &o, 3, SMQ_PUBLISH, 0, 200);
    o.max_packet_size = 202;
    expect_reject(src, 3, &o, SMQ_RC_PACKET_TOO_LARGE);

    /* The largest: 5 + 268,435,455. */
    o.max_packet_size = SMQ_PACKET_MAX;
    const uint8_t big[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    expect_header(big, 5, &o, 5, SMQ_PUBLISH, 0, SMQ_VARINT_MAX);
    o.max_packet_size = SMQ_PACKET_MAX - 1;
    expect_reject(big, 5, &o, SMQ_RC_PACKET_TOO_LARGE);
}

Test(framer, zero_max_packet_size_means_no_limit)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    o.max_packet_size = 0;
    const uint8_t big[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    expect_header(big, 5, &o, 5, SMQ_PUBLISH, 0, SMQ_VARINT_MAX);
}

Test(framer, max_packet_size_applies_to_every_type_and_version)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V311);
    o.max_packet_size = 2;
    const uint8_t ok[] = {0xC0, 0x00};
    expect_header(ok, 2, &o, 2, SMQ_PINGREQ, 0, 0);
    const uint8_t over[] = {0x82, 0x01};
    expect_reject(over, 2, &o, SMQ_RC_PACKET_TOO_LARGE);
}

/* ---- the order of the checks --------------------------------------------------------- */

Test(framer, type_zero_is_checked_before_awaiting_connect)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, 0);
    o.awaiting_connect = true;
    expect_first_byte_reject(0x00, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0x0F, &o, SMQ_RC_MALFORMED);
}

Test(framer, awaiting_connect_is_checked_before_flags)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, 0);
    o.awaiting_connect = true;
    expect_first_byte_reject(0x60, &o, SMQ_RC_PROTOCOL_ERROR); /* PUBREL, flags 0000 */
    expect_first_byte_reject(0x3F, &o, SMQ_RC_PROTOCOL_ERROR); /* PUBLISH QoS 3 */
    expect_first_byte_reject(0x38, &o, SMQ_RC_PROTOCOL_ERROR); /* PUBLISH QoS 0 DUP */
    expect_first_byte_reject(0xF0, &o, SMQ_RC_PROTOCOL_ERROR); /* AUTH */
    expect_first_byte_reject(0x21, &o, SMQ_RC_PROTOCOL_ERROR); /* CONNACK, bad flags */
}

Test(framer, flags_are_checked_before_the_sender)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    expect_first_byte_reject(0x21, &o, SMQ_RC_MALFORMED); /* CONNACK from a client, bad flags */
    expect_first_byte_reject(0x90 | 0x2, &o, SMQ_RC_MALFORMED); /* SUBACK, flags 0010 */
    o.sender = SMQ_SENDER_SERVER;
    expect_first_byte_reject(0x80, &o, SMQ_RC_MALFORMED); /* SUBSCRIBE from a server, 0000 */
    expect_first_byte_reject(0xC1, &o, SMQ_RC_MALFORMED); /* PINGREQ from a server, 0001 */
}

Test(framer, auth_on_3x_is_malformed_whatever_the_sender)
{
    /* On 3.x, type 15 is reserved: its row (0x81) comes before the sender row (0x82). */
    struct smq_decode_opts o = opts_for(SMQ_SENDER_SERVER, SMQ_V311);
    expect_first_byte_reject(0xF0, &o, SMQ_RC_MALFORMED);
    expect_first_byte_reject(0xF1, &o, SMQ_RC_MALFORMED);
}

Test(framer, sender_is_checked_before_the_length)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    o.max_packet_size = 10;
    const uint8_t five[] = {0x90, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}; /* SUBACK, 5-byte length */
    expect_reject(five, sizeof five, &o, SMQ_RC_PROTOCOL_ERROR);
    const uint8_t nonmin[] = {0x90, 0x80, 0x00};
    expect_reject(nonmin, sizeof nonmin, &o, SMQ_RC_PROTOCOL_ERROR);
    const uint8_t big[] = {0x90, 0xFF, 0x7F};
    expect_reject(big, sizeof big, &o, SMQ_RC_PROTOCOL_ERROR);
}

Test(framer, first_byte_errors_win_over_length_errors)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    o.max_packet_size = 10;
    const uint8_t qos3[] = {0x36, 0xFF, 0xFF, 0xFF, 0xFF};
    expect_reject(qos3, sizeof qos3, &o, SMQ_RC_MALFORMED);
    const uint8_t flags_big[] = {0x60, 0xFF, 0x7F}; /* PUBREL 0000, too large */
    expect_reject(flags_big, sizeof flags_big, &o, SMQ_RC_MALFORMED);
}

Test(framer, length_encoding_is_checked_before_the_size_limit)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    o.max_packet_size = 10;
    const uint8_t five[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    expect_reject(five, sizeof five, &o, SMQ_RC_MALFORMED);
    const uint8_t nonmin[] = {0x30, 0xFF, 0xFF, 0xFF, 0x00};
    expect_reject(nonmin, sizeof nonmin, &o, SMQ_RC_MALFORMED);
}

/* ---- exhaustive first bytes ---------------------------------------------------------- */

/* Every first byte for a v5 server: accepted exactly when the type is one a client sends
 * and the flags are right for it; otherwise the code of the first row that applies. */
Test(framer, every_first_byte_from_a_v5_client_gets_its_code)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_CLIENT, SMQ_V5);
    for (unsigned b = 0; b < 256; b++) {
        int type = (int)(b >> 4);
        uint8_t flags = b & 0x0F;
        int expected; /* -1 accept, else the reason */
        if (type == 0)
            expected = SMQ_RC_MALFORMED;
        else if (type == SMQ_PUBLISH)
            expected = ((flags & 0x6) == 0x6 || (flags & 0xE) == 0x8) ? SMQ_RC_MALFORMED : -1;
        else if (flags != good_flags(type))
            expected = SMQ_RC_MALFORMED;
        else if (type == SMQ_CONNACK || type == SMQ_SUBACK || type == SMQ_UNSUBACK ||
                 type == SMQ_PINGRESP)
            expected = SMQ_RC_PROTOCOL_ERROR;
        else if (type == SMQ_PINGREQ)
            expected = SMQ_RC_MALFORMED; /* 3.12.1: remaining length 0, not the 2 below */
        else
            expected = -1;
        const uint8_t src[] = {(uint8_t)b, 0x02};
        struct smq_fixed_header h;
        uint8_t reason;
        ssize_t n = frame(src, 2, &o, &h, &reason);
        if (expected < 0) {
            cr_assert_eq(n, 2, "0x%02X: %zd reason 0x%02X", b, n, reason);
            cr_assert_eq(h.type, type);
            cr_assert_eq(h.flags, flags);
        } else {
            cr_assert_eq(n, SMQ_EPROTO, "0x%02X accepted", b);
            cr_assert_eq(reason, expected, "0x%02X: reason 0x%02X, expected 0x%02X", b, reason,
                         expected);
        }
    }
}

Test(framer, every_first_byte_from_a_311_server_gets_its_code)
{
    struct smq_decode_opts o = opts_for(SMQ_SENDER_SERVER, SMQ_V311);
    for (unsigned b = 0; b < 256; b++) {
        int type = (int)(b >> 4);
        uint8_t flags = b & 0x0F;
        int expected;
        if (type == 0)
            expected = SMQ_RC_MALFORMED;
        else if (type == SMQ_PUBLISH)
            expected = ((flags & 0x6) == 0x6 || (flags & 0xE) == 0x8) ? SMQ_RC_MALFORMED : -1;
        else if (flags != good_flags(type))
            expected = SMQ_RC_MALFORMED;
        else if (type == SMQ_AUTH)
            expected = SMQ_RC_MALFORMED;
        else if (type == SMQ_CONNECT || type == SMQ_SUBSCRIBE || type == SMQ_UNSUBSCRIBE ||
                 type == SMQ_PINGREQ || type == SMQ_DISCONNECT)
            expected = SMQ_RC_PROTOCOL_ERROR;
        else
            expected = -1;
        const uint8_t src[] = {(uint8_t)b};
        struct smq_fixed_header h;
        uint8_t reason;
        ssize_t n = frame(src, 1, &o, &h, &reason);
        if (expected < 0) {
            cr_assert_eq(n, 0, "0x%02X alone: %zd reason 0x%02X", b, n, reason);
        } else {
            cr_assert_eq(n, SMQ_EPROTO, "0x%02X alone accepted (%zd)", b, n);
            cr_assert_eq(reason, expected, "0x%02X: reason 0x%02X, expected 0x%02X", b, reason,
                         expected);
        }
    }
}

/* 2.1.4: a fixed-size packet declaring another size is refused on its header, before the
 * body it declares is buffered. */
Test(framer, fixed_size_packets_with_another_length_are_refused_on_the_header)
{
    struct smq_decode_opts v4 = opts_for(SMQ_SENDER_ANY, SMQ_V311);
    struct smq_decode_opts v5 = opts_for(SMQ_SENDER_ANY, SMQ_V5);
    struct smq_fixed_header h;
    uint8_t reason = 0;
    const uint8_t pingreq_big[] = {0xC0, 0xE8, 0x07};  /* 1,000 bytes declared */
    cr_assert_eq(frame(pingreq_big, 3, &v4, &h, &reason), SMQ_EPROTO);
    cr_assert_eq(reason, SMQ_RC_MALFORMED);
    const uint8_t puback_3[] = {0x40, 0x03};
    cr_assert_eq(frame(puback_3, 2, &v4, &h, &reason), SMQ_EPROTO);
    cr_assert_eq(reason, SMQ_RC_MALFORMED);
    cr_assert_eq(frame(puback_3, 2, &v5, &h, &reason), 2, "v5 acks may carry more");
    const uint8_t disconnect_1[] = {0xE0, 0x01};
    cr_assert_eq(frame(disconnect_1, 2, &v4, &h, &reason), SMQ_EPROTO);
    cr_assert_eq(frame(disconnect_1, 2, &v5, &h, &reason), 2);
}
