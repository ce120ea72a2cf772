/* Whole-packet decoding of PUBACK, PUBREC, PUBREL and PUBCOMP on 3.x and 5.0.
 *
 * The four share one shape (3.4 to 3.7): a packet identifier, then in 5.0 an optional reason
 * code and an optional property block. Each rule is checked for all four types, with the
 * first byte each must carry: PUBREL is 0x62 [MQTT-3.6.1-1], the others have flags 0000. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/errors.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/reason.h"

#define STR(...)   0x00, (uint8_t)sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__
#define PROPS(...) (uint8_t)sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__

#define ANY    SMQ_SENDER_ANY
#define CLIENT SMQ_SENDER_CLIENT
#define SERVER SMQ_SENDER_SERVER

struct ack_kind {
    uint8_t type;
    uint8_t first; /* the fixed header's first byte */
    const char *name;
};

static const struct ack_kind kinds[] = {
    {SMQ_PUBACK, 0x40, "PUBACK"},
    {SMQ_PUBREC, 0x50, "PUBREC"},
    {SMQ_PUBREL, 0x62, "PUBREL"},
    {SMQ_PUBCOMP, 0x70, "PUBCOMP"},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/* 3.4.2.1 and 3.5.2.1: PUBACK and PUBREC reason codes. */
static const uint8_t puback_codes[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
/* 3.6.2.1 and 3.7.2.1: PUBREL and PUBCOMP reason codes. */
static const uint8_t pubrel_codes[] = {0x00, 0x92};

static bool code_allowed(uint8_t type, uint8_t code)
{
    if (type == SMQ_PUBACK || type == SMQ_PUBREC)
        return memchr(puback_codes, code, sizeof puback_codes) != NULL;
    return memchr(pubrel_codes, code, sizeof pubrel_codes) != NULL;
}

/* Builds first byte, remaining length (< 128) and body into buf; returns the size. */
static size_t frame(uint8_t *buf, uint8_t first, const uint8_t *body, size_t body_len)
{
    cr_assert_lt(body_len, 128);
    buf[0] = first;
    buf[1] = (uint8_t)body_len;
    if (body_len)
        memcpy(buf + 2, body, body_len);
    return 2 + body_len;
}

static void expect_ok(uint8_t version, const struct ack_kind *k, const uint8_t *body,
                      size_t body_len, struct smq_packet *out, uint8_t *buf, int line)
{
    size_t len = frame(buf, k->first, body, body_len);
    struct smq_decode_opts opts = {.version = version, .sender = ANY};
    uint8_t reason = 0xEE;
    memset(out, 0xA5, sizeof(*out));
    ssize_t n = smq_decode_packet(buf, len, &opts, out, &reason);
    cr_assert_eq(n, (ssize_t)len, "line %d: %s v%d returned %zd (reason 0x%02x)", line, k->name,
                 version, n, reason);
    cr_assert_eq(out->type, k->type, "line %d: %s", line, k->name);
}

static void expect_err(uint8_t version, uint8_t sender, const struct ack_kind *k,
                       const uint8_t *body, size_t body_len, uint8_t code, int line)
{
    uint8_t buf[160];
    size_t len = frame(buf, k->first, body, body_len);
    struct smq_decode_opts opts = {.version = version, .sender = sender};
    struct smq_packet out;
    uint8_t reason = 0xEE;
    ssize_t n = smq_decode_packet(buf, len, &opts, &out, &reason);
    cr_assert_eq(n, SMQ_EPROTO, "line %d: %s v%d returned %zd, expected SMQ_EPROTO (0x%02x)", line,
                 k->name, version, n, code);
    cr_assert_eq(reason, code, "line %d: %s v%d reason 0x%02x, expected 0x%02x", line, k->name,
                 version, reason, code);
    cr_assert_eq(out.type, k->type, "line %d: type set on error", line);
}

/* For each of the four types: the body must decode (OK_ALL) or fail with code (ERR_ALL). */
#define OK_ALL(ver, ...)                                                                           \
    do {                                                                                           \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        for (size_t k_ = 0; k_ < N_KINDS; k_++) {                                                  \
            struct smq_packet o_;                                                                  \
            uint8_t buf_[160];                                                                     \
            expect_ok(ver, &kinds[k_], b_, sizeof b_, &o_, buf_, __LINE__);                        \
        }                                                                                          \
    } while (0)

#define ERR_ALL(ver, code, ...)                                                                    \
    do {                                                                                           \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        for (size_t k_ = 0; k_ < N_KINDS; k_++)                                                    \
            expect_err(ver, ANY, &kinds[k_], b_, sizeof b_, code, __LINE__);                       \
    } while (0)

/* ---------------------------------------------------------------------------------------
 * 3.1 and 3.1.1
 * ------------------------------------------------------------------------------------- */

Test(decode, ack_v311_packet_id)
{
    static const uint8_t body[] = {0x12, 0x34};
    for (size_t k = 0; k < N_KINDS; k++) {
        for (uint8_t version = 3; version <= 4; version++) {
            struct smq_packet p;
            uint8_t buf[8];
            expect_ok(version, &kinds[k], body, sizeof body, &p, buf, __LINE__);
            cr_assert_eq(p.u.ack.packet_id, 0x1234);
            cr_assert_eq(p.u.ack.reason, 0);
            cr_assert_eq(p.u.ack.props.present, 0);
            cr_assert_eq(p.flags, kinds[k].first & 0x0f);
        }
    }
}

Test(decode, ack_v311_largest_packet_id)
{
    static const uint8_t body[] = {0xff, 0xff};
    for (size_t k = 0; k < N_KINDS; k++) {
        struct smq_packet p;
        uint8_t buf[8];
        expect_ok(4, &kinds[k], body, sizeof body, &p, buf, __LINE__);
        cr_assert_eq(p.u.ack.packet_id, 0xffff);
    }
}

Test(decode, ack_v311_rejects_remaining_length_not_2)
{
    /* 3.4.1 to 3.7.1 of 3.1.1: the remaining length is 2. */
    ERR_ALL(4, 0x81, 0x00);
    ERR_ALL(4, 0x81, 0x00, 0x01, 0x00);
    ERR_ALL(4, 0x81, 0x00, 0x01, 0x00, 0x00);
    ERR_ALL(3, 0x81, 0x00, 0x01, 0x00);
    ERR_ALL(3, 0x81, 0x01);
    for (size_t k = 0; k < N_KINDS; k++) {
        expect_err(4, ANY, &kinds[k], NULL, 0, 0x81, __LINE__);
        expect_err(3, ANY, &kinds[k], NULL, 0, 0x81, __LINE__);
    }
}

Test(decode, ack_v311_rejects_packet_id_0)
{
    /* [MQTT-2.3.1-1] / README: packet identifier 0 where one is required is 0x82. */
    ERR_ALL(4, 0x82, 0x00, 0x00);
    ERR_ALL(3, 0x82, 0x00, 0x00);
}

Test(decode, ack_rejects_wrong_fixed_header_flags)
{
    /* [MQTT-2.2.2-1] of 3.1.1, [MQTT-2.1.3-1] of 5.0; PUBREL 0010 [MQTT-3.6.1-1]. */
    static const uint8_t bad[] = {0x41, 0x42, 0x48, 0x52, 0x51, 0x60, 0x61, 0x63, 0x6a, 0x72, 0x7f};
    for (size_t i = 0; i < sizeof bad; i++) {
        for (uint8_t version = 3; version <= 5; version++) {
            const uint8_t pkt[] = {bad[i], 0x02, 0x00, 0x01};
            struct smq_decode_opts opts = {.version = version};
            struct smq_packet p;
            uint8_t reason = 0;
            cr_assert_eq(smq_decode_packet(pkt, sizeof pkt, &opts, &p, &reason), SMQ_EPROTO,
                         "first byte 0x%02x v%d", bad[i], version);
            cr_assert_eq(reason, 0x81, "first byte 0x%02x v%d: 0x%02x", bad[i], version, reason);
        }
    }
}

Test(decode, ack_accepted_from_either_side)
{
    static const uint8_t body[] = {0x00, 0x01};
    for (size_t k = 0; k < N_KINDS; k++) {
        for (uint8_t sender = CLIENT; sender <= SERVER; sender++) {
            uint8_t buf[8];
            size_t len = frame(buf, kinds[k].first, body, sizeof body);
            struct smq_decode_opts opts = {.version = 4, .sender = sender};
            struct smq_packet p;
            uint8_t reason = 0;
            cr_assert_eq(smq_decode_packet(buf, len, &opts, &p, &reason), (ssize_t)len);
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * 5.0
 * ------------------------------------------------------------------------------------- */

Test(decode, ack_v5_remaining_length_2_means_success)
{
    /* 3.4.2.1: "If the Remaining Length is 2, there is no Reason Code and the value of
     * 0x00 (Success) is used." */
    static const uint8_t body[] = {0x00, 0x07};
    for (size_t k = 0; k < N_KINDS; k++) {
        struct smq_packet p;
        uint8_t buf[8];
        expect_ok(5, &kinds[k], body, sizeof body, &p, buf, __LINE__);
        cr_assert_eq(p.u.ack.packet_id, 7);
        cr_assert_eq(p.u.ack.reason, 0);
        cr_assert_eq(p.u.ack.props.present, 0);
    }
}

Test(decode, ack_v5_remaining_length_3_has_no_properties)
{
    /* 3.4.2.2: "If the Remaining Length is less than 4 there is no Property Length and the
     * value of 0 is used." */
    for (size_t k = 0; k < N_KINDS; k++) {
        uint8_t code = kinds[k].type == SMQ_PUBACK || kinds[k].type == SMQ_PUBREC ? 0x10 : 0x92;
        const uint8_t body[] = {0x00, 0x07, code};
        struct smq_packet p;
        uint8_t buf[8];
        expect_ok(5, &kinds[k], body, sizeof body, &p, buf, __LINE__);
        cr_assert_eq(p.u.ack.packet_id, 7);
        cr_assert_eq(p.u.ack.reason, code);
        cr_assert_eq(p.u.ack.props.present, 0);
        cr_assert_eq(p.u.ack.props.user_count, 0);
    }
}

Test(decode, ack_v5_remaining_length_4_with_empty_properties)
{
    OK_ALL(5, 0x00, 0x01, 0x00, 0x00);
}

Test(decode, ack_v5_reason_string_and_user_properties)
{
    static const uint8_t body[] = {
        0x00, 0x09, 0x00,
        PROPS(0x1f, STR('w', 'h', 'y'), 0x26, STR('k'), STR('v'), 0x26, STR('k'), STR('w'))};
    for (size_t k = 0; k < N_KINDS; k++) {
        struct smq_packet p;
        uint8_t buf[64];
        expect_ok(5, &kinds[k], body, sizeof body, &p, buf, __LINE__);
        const struct smq_props *pr = &p.u.ack.props;
        cr_assert_eq(pr->present,
                     SMQ_PROP_BIT(SMQ_PROP_REASON_STRING) | SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY));
        cr_assert(smq_span_eq_str(pr->reason_string, "why"));
        cr_assert_eq(pr->user_count, 2);
        size_t pos = 0;
        struct smq_span key, value;
        cr_assert(smq_props_next_user(pr, &pos, &key, &value));
        cr_assert(smq_span_eq_str(value, "v"));
        cr_assert(smq_props_next_user(pr, &pos, &key, &value));
        cr_assert(smq_span_eq_str(value, "w"));
        cr_assert(!smq_props_next_user(pr, &pos, &key, &value));
    }
}

Test(decode, ack_v5_reason_codes_allowed_per_type_short_form)
{
    /* Every code 0..255 in the three-byte form: allowed ones decode, others are 0x82. */
    for (size_t k = 0; k < N_KINDS; k++) {
        for (unsigned code = 0; code <= 255; code++) {
            const uint8_t body[] = {0x00, 0x01, (uint8_t)code};
            if (code_allowed(kinds[k].type, (uint8_t)code)) {
                struct smq_packet p;
                uint8_t buf[8];
                expect_ok(5, &kinds[k], body, sizeof body, &p, buf, (int)code);
                cr_assert_eq(p.u.ack.reason, code);
            } else {
                expect_err(5, ANY, &kinds[k], body, sizeof body, 0x82, (int)code);
            }
        }
    }
}

Test(decode, ack_v5_reason_codes_allowed_per_type_with_properties)
{
    for (size_t k = 0; k < N_KINDS; k++) {
        for (unsigned code = 0; code <= 255; code++) {
            const uint8_t body[] = {0x00, 0x01, (uint8_t)code, PROPS(0x1f, STR('r'))};
            if (code_allowed(kinds[k].type, (uint8_t)code)) {
                struct smq_packet p;
                uint8_t buf[16];
                expect_ok(5, &kinds[k], body, sizeof body, &p, buf, (int)code);
                cr_assert_eq(p.u.ack.reason, code);
                cr_assert(smq_span_eq_str(p.u.ack.props.reason_string, "r"));
            } else {
                expect_err(5, ANY, &kinds[k], body, sizeof body, 0x82, (int)code);
            }
        }
    }
}

Test(decode, ack_v5_rejects_pubrel_codes_in_puback)
{
    /* 0x92 Packet Identifier not found belongs to PUBREL/PUBCOMP only. */
    static const uint8_t body[] = {0x00, 0x01, 0x92};
    expect_err(5, ANY, &kinds[0], body, sizeof body, 0x82, __LINE__);
    expect_err(5, ANY, &kinds[1], body, sizeof body, 0x82, __LINE__);
}

Test(decode, ack_v5_rejects_puback_codes_in_pubrel)
{
    static const uint8_t no_match[] = {0x00, 0x01, 0x10};
    static const uint8_t unspecified[] = {0x00, 0x01, 0x80};
    expect_err(5, ANY, &kinds[2], no_match, sizeof no_match, 0x82, __LINE__);
    expect_err(5, ANY, &kinds[3], no_match, sizeof no_match, 0x82, __LINE__);
    expect_err(5, ANY, &kinds[2], unspecified, sizeof unspecified, 0x82, __LINE__);
    expect_err(5, ANY, &kinds[3], unspecified, sizeof unspecified, 0x82, __LINE__);
}

Test(decode, ack_v5_rejects_remaining_length_below_2)
{
    /* README: v5 remaining length below 2 is malformed. */
    ERR_ALL(5, 0x81, 0x01);
    for (size_t k = 0; k < N_KINDS; k++)
        expect_err(5, ANY, &kinds[k], NULL, 0, 0x81, __LINE__);
}

Test(decode, ack_v5_rejects_packet_id_0)
{
    /* [MQTT-2.2.1-3] / README: 0x82, in every form. */
    ERR_ALL(5, 0x82, 0x00, 0x00);
    ERR_ALL(5, 0x82, 0x00, 0x00, 0x00);
    ERR_ALL(5, 0x82, 0x00, 0x00, 0x00, 0x00);
}

Test(decode, ack_v5_rejects_property_length_past_packet)
{
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, 0x01);
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, 0x05, 0x1f, 0x00);
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, 0x80); /* cut variable byte integer */
}

Test(decode, ack_v5_rejects_bytes_after_properties)
{
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, 0x00, 0x00);
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x1f, STR('r')), 0xaa);
}

Test(decode, ack_v5_rejects_property_not_allowed)
{
    /* 3.4.2.2: only Reason String and User Property. */
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x11, 0x00, 0x00, 0x00, 0x01));
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x23, 0x00, 0x01));
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x0b, 0x01));
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x01, 0x01));
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x1c, STR('s')));
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x15, STR('m')));
}

Test(decode, ack_v5_rejects_duplicate_reason_string)
{
    /* 3.4.2.2.2: more than once is a Protocol Error. */
    ERR_ALL(5, 0x82, 0x00, 0x01, 0x00, PROPS(0x1f, STR('a'), 0x1f, STR('b')));
}

Test(decode, ack_v5_rejects_reason_string_with_invalid_utf8)
{
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x1f, STR('a', 0x80)));
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x1f, STR(0x00)));
    ERR_ALL(5, 0x81, 0x00, 0x01, 0x00, PROPS(0x1f, 0x00, 0x03, 'a'));
}

Test(decode, ack_v5_rejects_too_many_user_properties)
{
    static const uint8_t body[] = {
        0x00, 0x01, 0x00, PROPS(0x26, 0x00, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x00)};
    for (size_t k = 0; k < N_KINDS; k++) {
        uint8_t buf[32];
        size_t len = frame(buf, kinds[k].first, body, sizeof body);
        struct smq_decode_opts opts = {.version = 5, .max_user_props = 1};
        struct smq_packet p;
        uint8_t reason = 0;
        cr_assert_eq(smq_decode_packet(buf, len, &opts, &p, &reason), SMQ_EPROTO);
        cr_assert_eq(reason, 0x97, "%s: 0x%02x", kinds[k].name, reason);
    }
}

Test(decode, ack_v5_reason_checked_before_properties_are_trusted)
{
    /* A disallowed reason with a valid property block is still 0x82. */
    for (size_t k = 0; k < N_KINDS; k++) {
        const uint8_t body[] = {0x00, 0x01, 0x04, 0x00};
        expect_err(5, ANY, &kinds[k], body, sizeof body, 0x82, __LINE__);
    }
}
