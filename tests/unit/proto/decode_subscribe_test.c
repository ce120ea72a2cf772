/* Whole-packet decoding of SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK on 3.x and 5.0.
 *
 * Valid lists are walked with smq_subscribe_next() / smq_unsubscribe_next(); every row of
 * proto/README.md for these four packets is checked with its exact reason code, including
 * the `$share` filters and a SUBSCRIBE cut right after its filter. FRAME(), STR() and
 * PROPS() fill in the lengths of what they wrap; wrong lengths are written out in full. */
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
}

static void expect_err(uint8_t version, uint8_t sender, const uint8_t *src, size_t len,
                       uint8_t code, int line)
{
    struct smq_decode_opts opts = {.version = version, .sender = sender};
    uint8_t reason = 0xEE;
    struct smq_packet out;
    ssize_t n = smq_decode_packet(src, len, &opts, &out, &reason);
    cr_assert_eq(n, SMQ_EPROTO, "line %d: returned %zd, expected SMQ_EPROTO (0x%02x)", line, n,
                 code);
    cr_assert_eq(reason, code, "line %d: reason 0x%02x, expected 0x%02x", line, reason, code);
    cr_assert_eq(out.type, src[0] >> 4, "line %d: type set on error", line);
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

static void assert_span(struct smq_span s, const char *want, int line)
{
    cr_assert(smq_span_eq_str(s, want), "line %d: span \"%.*s\" (len %zu), expected \"%s\"", line,
              (int)s.len, s.ptr ? (const char *)s.ptr : "", s.len, want);
}
#define ASSERT_SPAN(s, want) assert_span((s), (want), __LINE__)

/* Checks one SUBSCRIBE entry from the iterator. */
static void next_entry(const struct smq_subscribe *sub, uint8_t version, size_t *pos,
                       const char *filter, uint8_t qos, bool nl, bool rap, uint8_t rh, int line)
{
    struct smq_sub_entry e;
    memset(&e, 0xA5, sizeof e);
    cr_assert(smq_subscribe_next(sub, version, pos, &e), "line %d: no entry for %s", line, filter);
    assert_span(e.filter, filter, line);
    cr_assert_eq(e.qos, qos, "line %d: qos %d", line, e.qos);
    cr_assert_eq(e.no_local, nl, "line %d: no_local", line);
    cr_assert_eq(e.retain_as_published, rap, "line %d: retain_as_published", line);
    cr_assert_eq(e.retain_handling, rh, "line %d: retain_handling %d", line, e.retain_handling);
}

/* ---------------------------------------------------------------------------------------
 * SUBSCRIBE: valid
 * ------------------------------------------------------------------------------------- */

Test(decode, subscribe_v311_one_filter)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p, FRAME(0x82, 0x00, 0x0a, STR('a', '/', 'b'), 0x01));
    cr_assert_eq(p.type, SMQ_SUBSCRIBE);
    cr_assert_eq(p.flags, 0x2);
    const struct smq_subscribe *s = &p.u.subscribe;
    cr_assert_eq(s->packet_id, 10);
    cr_assert_eq(s->count, 1);
    cr_assert_eq(s->props.present, 0);
    size_t pos = 0;
    next_entry(s, 4, &pos, "a/b", 1, false, false, 0, __LINE__);
    struct smq_sub_entry e;
    cr_assert(!smq_subscribe_next(s, 4, &pos, &e));
}

Test(decode, subscribe_v311_several_filters_with_wildcards)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p,
              FRAME(0x82, 0x12, 0x34, STR('#'), 0x00, STR('+'), 0x01, STR('a', '/', '+', '/', 'c'),
                    0x02, STR('s', '/', '#'), 0x00, STR('+', '/', '+'), 0x01, STR('/'), 0x02,
                    STR('$', 'S', 'Y', 'S', '/', '#'), 0x00));
    const struct smq_subscribe *s = &p.u.subscribe;
    cr_assert_eq(s->packet_id, 0x1234);
    cr_assert_eq(s->count, 7);
    size_t pos = 0;
    next_entry(s, 4, &pos, "#", 0, false, false, 0, __LINE__);
    next_entry(s, 4, &pos, "+", 1, false, false, 0, __LINE__);
    next_entry(s, 4, &pos, "a/+/c", 2, false, false, 0, __LINE__);
    next_entry(s, 4, &pos, "s/#", 0, false, false, 0, __LINE__);
    next_entry(s, 4, &pos, "+/+", 1, false, false, 0, __LINE__);
    next_entry(s, 4, &pos, "/", 2, false, false, 0, __LINE__);
    next_entry(s, 4, &pos, "$SYS/#", 0, false, false, 0, __LINE__);
    struct smq_sub_entry e;
    cr_assert(!smq_subscribe_next(s, 4, &pos, &e));
}

Test(decode, subscribe_v31)
{
    struct smq_packet p;
    EXPECT_OK(3, CLIENT, &p, FRAME(0x82, 0x00, 0x01, STR('x'), 0x02));
    cr_assert_eq(p.u.subscribe.count, 1);
    size_t pos = 0;
    next_entry(&p.u.subscribe, 3, &pos, "x", 2, false, false, 0, __LINE__);
}

Test(decode, subscribe_v5_options_and_properties)
{
    struct smq_packet p;
    /* options: 0x2d = RH 2, RAP, NL, QoS 1; 0x11 = RH 1, QoS 1; 0x00. */
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0x82, 0x00, 0x05,
                    PROPS(0x0b, 0x80, 0x01,          /* Subscription Identifier 128 */
                          0x26, STR('k'), STR('v')), /* User Property */
                    STR('a'), 0x2d, STR('b', '/', '#'), 0x11, STR('c'), 0x00, STR('d'), 0x06));
    const struct smq_subscribe *s = &p.u.subscribe;
    cr_assert_eq(s->packet_id, 5);
    cr_assert_eq(s->count, 4);
    cr_assert_eq(s->props.present,
                 SMQ_PROP_BIT(SMQ_PROP_SUBSCRIPTION_ID) | SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY));
    cr_assert_eq(s->props.subscription_id, 128);
    cr_assert_eq(s->props.user_count, 1);
    size_t pos = 0;
    next_entry(s, 5, &pos, "a", 1, true, true, 2, __LINE__);
    next_entry(s, 5, &pos, "b/#", 1, false, false, 1, __LINE__);
    next_entry(s, 5, &pos, "c", 0, false, false, 0, __LINE__);
    next_entry(s, 5, &pos, "d", 2, true, false, 0, __LINE__);
    struct smq_sub_entry e;
    cr_assert(!smq_subscribe_next(s, 5, &pos, &e));
}

Test(decode, subscribe_v5_without_properties)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p, FRAME(0x82, 0x00, 0x01, 0x00, STR('t'), 0x00));
    cr_assert_eq(p.u.subscribe.count, 1);
    cr_assert_eq(p.u.subscribe.props.present, 0);
}

Test(decode, subscribe_v5_shared_subscriptions)
{
    struct smq_packet p;
    /* 4.8.2: $share/{ShareName}/{filter}; No Local clear. */
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0x82, 0x00, 0x01, 0x00, STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 't'),
                    0x01, STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', '#'), 0x28,
                    STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g', 'r', 'p', '/', '+', '/', 'x'),
                    0x02));
    const struct smq_subscribe *s = &p.u.subscribe;
    cr_assert_eq(s->count, 3);
    size_t pos = 0;
    next_entry(s, 5, &pos, "$share/g/t", 1, false, false, 0, __LINE__);
    next_entry(s, 5, &pos, "$share/g/#", 0, false, true, 2, __LINE__);
    next_entry(s, 5, &pos, "$share/grp/+/x", 2, false, false, 0, __LINE__);
}

Test(decode, subscribe_v311_ignores_v5_option_meaning)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p, FRAME(0x82, 0x00, 0x01, STR('t'), 0x02));
    size_t pos = 0;
    /* Walked with version 4, the options byte is QoS only. */
    next_entry(&p.u.subscribe, 4, &pos, "t", 2, false, false, 0, __LINE__);
}

/* ---------------------------------------------------------------------------------------
 * SUBSCRIBE: errors
 * ------------------------------------------------------------------------------------- */

Test(decode, subscribe_rejects_no_filter)
{
    /* [MQTT-3.8.3-3] of 3.1.1, [MQTT-3.8.3-2] of 5.0: at least one filter; README 0x82. */
    EXPECT_ERR(4, CLIENT, 0x82, FRAME(0x82, 0x00, 0x01));
    EXPECT_ERR(3, CLIENT, 0x82, FRAME(0x82, 0x00, 0x01));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x82, 0x00, 0x01, 0x00));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x82, 0x00, 0x01, PROPS(0x0b, 0x01)));
}

Test(decode, subscribe_rejects_filter_without_options_byte)
{
    /* README: a filter cut before its options byte is malformed. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a', '/', 'b')));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, STR('a', '/', 'b')));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a'), 0x00, STR('b')));
    EXPECT_ERR(3, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('#')));
}

Test(decode, subscribe_rejects_filter_running_past_packet)
{
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, 0x05, 'a', 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, 0x00, 0x09, 'a'));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a'), 0x01, 0x00));
}

Test(decode, subscribe_rejects_missing_packet_id)
{
    EXPECT_ERR(4, CLIENT, 0x81, 0x82, 0x00);
    EXPECT_ERR(4, CLIENT, 0x81, 0x82, 0x01, 0x00);
    EXPECT_ERR(5, CLIENT, 0x81, 0x82, 0x01, 0x01);
}

Test(decode, subscribe_rejects_packet_id_0)
{
    /* [MQTT-2.3.1-1] of 3.1.1, [MQTT-2.2.1-3] of 5.0. */
    EXPECT_ERR(4, CLIENT, 0x82, FRAME(0x82, 0x00, 0x00, STR('t'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x82, 0x00, 0x00, 0x00, STR('t'), 0x00));
}

Test(decode, subscribe_rejects_empty_filter)
{
    /* [MQTT-4.7.3-1] topic filters are at least one character long. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, 0x00, 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00));
}

Test(decode, subscribe_rejects_bad_wildcard_placement)
{
    /* [MQTT-4.7.1-2] `#` alone in its level and last, [MQTT-4.7.1-3] `+` alone in its level;
     * README (choice): topic syntax errors are malformed. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a', '/', '#', '/', 'b'), 0x00));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a', '+'), 0x00));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('+', 'a'), 0x00));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a', '#'), 0x00));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('#', '/'), 0x00));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('#', '#'), 0x00));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a', '/', 'b', '+', '/', 'c'), 0x00));
    EXPECT_ERR(3, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a', '/', '#', '/', 'b'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, STR('a', '/', '#', '/', 'b'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, STR('a', '+'), 0x00));
}

Test(decode, subscribe_rejects_bad_second_filter)
{
    /* The whole list is validated, not only the first entry. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a'), 0x00, STR('b', '#'), 0x00));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a'), 0x00, STR('b'), 0x03));
}

Test(decode, subscribe_rejects_filter_with_invalid_utf8)
{
    /* [MQTT-3.8.3-1] filters are UTF-8 strings. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a', 0xff), 0x00));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('a', 0x00), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, STR(0xed, 0xa0, 0x80), 0x00));
}

Test(decode, subscribe_v5_rejects_malformed_shared_filters)
{
    /* README (choice) and [MQTT-4.8.2-1] / [MQTT-4.8.2-2]: ShareName at least one
     * character, no `/`, `+` or `#`, followed by `/` and a filter. */
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0x82, 0x00, 0x01, 0x00, STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g'), 0x00));
    EXPECT_ERR(
        5, CLIENT, 0x81,
        FRAME(0x82, 0x00, 0x01, 0x00, STR('$', 's', 'h', 'a', 'r', 'e', '/', '/', 't'), 0x00));
    EXPECT_ERR(
        5, CLIENT, 0x81,
        FRAME(0x82, 0x00, 0x01, 0x00, STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0x82, 0x00, 0x01, 0x00,
                     STR('$', 's', 'h', 'a', 'r', 'e', '/', 'a', '+', 'b', '/', 't'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0x82, 0x00, 0x01, 0x00,
                     STR('$', 's', 'h', 'a', 'r', 'e', '/', 'a', '#', '/', 't'), 0x00));
    EXPECT_ERR(
        5, CLIENT, 0x81,
        FRAME(0x82, 0x00, 0x01, 0x00, STR('$', 's', 'h', 'a', 'r', 'e', '/', '+', '/', 't'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0x82, 0x00, 0x01, 0x00,
                     STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'a', '#'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0x82, 0x00, 0x01, 0x00, STR('$', 's', 'h', 'a', 'r', 'e', '/'), 0x00));
}

Test(decode, subscribe_v311_rejects_reserved_option_bits)
{
    /* [MQTT-3-8.3-4] of 3.1.1: bits 7-2 of the requested QoS byte are reserved. */
    static const uint8_t bad[] = {0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xfc, 0x2d};
    for (size_t i = 0; i < sizeof bad; i++) {
        for (uint8_t version = 3; version <= 4; version++) {
            const uint8_t pkt[] = {FRAME(0x82, 0x00, 0x01, STR('t'), bad[i])};
            expect_err(version, CLIENT, pkt, sizeof pkt, 0x81, (int)bad[i]);
        }
    }
}

Test(decode, subscribe_v5_rejects_reserved_option_bits)
{
    /* [MQTT-3.8.3-5] of 5.0: bits 7-6 of the subscription options are reserved. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, STR('t'), 0x40));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, STR('t'), 0x80));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, STR('t'), 0xc1));
}

Test(decode, subscribe_rejects_qos_3)
{
    /* [MQTT-3-8.3-4] of 3.1.1; 3.8.3.1 of 5.0: QoS 3 is malformed. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('t'), 0x03));
    EXPECT_ERR(3, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, STR('t'), 0x03));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, STR('t'), 0x03));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x00, STR('t'), 0x0f));
}

Test(decode, subscribe_v5_rejects_retain_handling_3)
{
    /* 3.8.3.1: Retain Handling 3 is a Protocol Error. */
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x82, 0x00, 0x01, 0x00, STR('t'), 0x30));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x82, 0x00, 0x01, 0x00, STR('t'), 0x31));
}

Test(decode, subscribe_v5_rejects_no_local_on_shared_subscription)
{
    /* [MQTT-3.8.3-4] No Local set on a Shared Subscription is a Protocol Error. */
    EXPECT_ERR(
        5, CLIENT, 0x82,
        FRAME(0x82, 0x00, 0x01, 0x00, STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 't'), 0x04));
    EXPECT_ERR(5, CLIENT, 0x82,
               FRAME(0x82, 0x00, 0x01, 0x00, STR('a'), 0x00,
                     STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', '#'), 0x05));
}

Test(decode, subscribe_v5_no_local_on_plain_filter_is_fine)
{
    struct smq_packet p;
    /* "$shared/g/t" is not a shared subscription: only "$share/" is. */
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0x82, 0x00, 0x01, 0x00,
                    STR('$', 's', 'h', 'a', 'r', 'e', 'd', '/', 'g', '/', 't'), 0x04));
    size_t pos = 0;
    next_entry(&p.u.subscribe, 5, &pos, "$shared/g/t", 0, true, false, 0, __LINE__);
}

Test(decode, subscribe_rejects_wrong_fixed_header_flags)
{
    /* [MQTT-3.8.1-1] SUBSCRIBE flags are 0010. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x80, 0x00, 0x01, STR('t'), 0x00));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x83, 0x00, 0x01, STR('t'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x8a, 0x00, 0x01, 0x00, STR('t'), 0x00));
}

Test(decode, subscribe_rejects_subscribe_sent_by_a_server)
{
    EXPECT_ERR(4, SERVER, 0x82, FRAME(0x82, 0x00, 0x01, STR('t'), 0x00));
}

Test(decode, subscribe_v5_rejects_subscription_id_0)
{
    /* 3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error. */
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x82, 0x00, 0x01, PROPS(0x0b, 0x00), STR('t'), 0x00));
}

Test(decode, subscribe_v5_rejects_two_subscription_ids)
{
    /* 3.8.2.1.2: more than one Subscription Identifier in a SUBSCRIBE is a Protocol Error. */
    EXPECT_ERR(5, CLIENT, 0x82,
               FRAME(0x82, 0x00, 0x01, PROPS(0x0b, 0x01, 0x0b, 0x02), STR('t'), 0x00));
}

Test(decode, subscribe_v5_rejects_property_not_allowed)
{
    /* 3.8.2.1: only Subscription Identifier and User Property. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, PROPS(0x1f, STR('r')), STR('t'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, PROPS(0x23, 0x00, 0x01), STR('t'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0x82, 0x00, 0x01, PROPS(0x11, 0x00, 0x00, 0x00, 0x00), STR('t'), 0x00));
}

Test(decode, subscribe_v5_rejects_property_length_past_packet)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01, 0x10, 0x0b, 0x01));
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0x82, 0x00, 0x01, PROPS(0x0b, 0xff, 0xff, 0xff, 0xff), STR('t'), 0x00));
}

Test(decode, subscribe_v5_rejects_missing_property_length)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x82, 0x00, 0x01));
}

/* ---------------------------------------------------------------------------------------
 * SUBACK
 * ------------------------------------------------------------------------------------- */

Test(decode, suback_v311_codes)
{
    struct smq_packet p;
    /* 3.9.3 of 3.1.1: 0x00, 0x01, 0x02, 0x80. */
    EXPECT_OK(4, SERVER, &p, FRAME(0x90, 0x00, 0x0a, 0x00, 0x01, 0x02, 0x80));
    cr_assert_eq(p.type, SMQ_SUBACK);
    cr_assert_eq(p.u.sub_ack.packet_id, 10);
    cr_assert_eq(p.u.sub_ack.reasons.len, 4);
    cr_assert_eq(p.u.sub_ack.reasons.ptr[0], 0x00);
    cr_assert_eq(p.u.sub_ack.reasons.ptr[3], 0x80);
    EXPECT_OK(3, SERVER, &p, FRAME(0x90, 0x00, 0x01, 0x02));
    cr_assert_eq(p.u.sub_ack.reasons.len, 1);
}

Test(decode, suback_v311_rejects_other_codes)
{
    /* 3.9.3 of 3.1.1: other values are reserved; README: 0x81. */
    for (unsigned code = 0; code <= 255; code++) {
        if (code <= 2 || code == 0x80)
            continue;
        const uint8_t pkt[] = {FRAME(0x90, 0x00, 0x01, (uint8_t)code)};
        expect_err(4, SERVER, pkt, sizeof pkt, 0x81, (int)code);
        const uint8_t second[] = {FRAME(0x90, 0x00, 0x01, 0x00, (uint8_t)code)};
        expect_err(4, SERVER, second, sizeof second, 0x81, (int)code);
    }
}

Test(decode, suback_v311_rejects_no_code)
{
    /* README: SUBACK without a return code is 0x82 (one per filter, at least one). */
    EXPECT_ERR(4, SERVER, 0x82, FRAME(0x90, 0x00, 0x01));
    EXPECT_ERR(3, SERVER, 0x82, FRAME(0x90, 0x00, 0x01));
}

Test(decode, suback_rejects_packet_id_0)
{
    EXPECT_ERR(4, SERVER, 0x82, FRAME(0x90, 0x00, 0x00, 0x00));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x90, 0x00, 0x00, 0x00, 0x00));
}

Test(decode, suback_rejects_missing_packet_id)
{
    EXPECT_ERR(4, SERVER, 0x81, 0x90, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0x90, 0x01, 0x00);
    EXPECT_ERR(5, SERVER, 0x81, 0x90, 0x01, 0x00);
}

Test(decode, suback_v5_codes_and_properties)
{
    struct smq_packet p;
    EXPECT_OK(5, SERVER, &p,
              FRAME(0x90, 0x00, 0x02, PROPS(0x1f, STR('o', 'k'), 0x26, STR('k'), STR('v')), 0x00,
                    0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2));
    const struct smq_sub_ack *a = &p.u.sub_ack;
    cr_assert_eq(a->packet_id, 2);
    cr_assert_eq(a->reasons.len, 12);
    cr_assert_eq(a->reasons.ptr[11], 0xa2);
    cr_assert(smq_span_eq_str(a->props.reason_string, "ok"));
    cr_assert_eq(a->props.user_count, 1);
}

Test(decode, suback_v5_every_reason_code)
{
    /* 3.9.3: the SUBACK reason codes; others are 0x82 (README). */
    static const uint8_t allowed[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                      0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2};
    for (unsigned code = 0; code <= 255; code++) {
        const uint8_t pkt[] = {FRAME(0x90, 0x00, 0x01, 0x00, 0x00, (uint8_t)code)};
        if (memchr(allowed, (int)code, sizeof allowed)) {
            struct smq_packet p;
            expect_ok(5, SERVER, pkt, sizeof pkt, &p, (int)code);
            cr_assert_eq(p.u.sub_ack.reasons.ptr[1], code);
        } else {
            expect_err(5, SERVER, pkt, sizeof pkt, 0x82, (int)code);
        }
    }
}

Test(decode, suback_v5_rejects_no_code)
{
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x90, 0x00, 0x01, 0x00));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x90, 0x00, 0x01, PROPS(0x1f, STR('r'))));
}

Test(decode, suback_v5_rejects_missing_property_length)
{
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x90, 0x00, 0x01));
}

Test(decode, suback_v5_rejects_property_not_allowed)
{
    /* 3.9.2.1: only Reason String and User Property. */
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x90, 0x00, 0x01, PROPS(0x0b, 0x01), 0x00));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x90, 0x00, 0x01, PROPS(0x24, 0x01), 0x00));
}

Test(decode, suback_v5_rejects_property_length_past_packet)
{
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x90, 0x00, 0x01, 0x09, 0x1f, 0x00, 0x00));
}

Test(decode, suback_v5_rejects_duplicate_reason_string)
{
    EXPECT_ERR(5, SERVER, 0x82,
               FRAME(0x90, 0x00, 0x01, PROPS(0x1f, STR('a'), 0x1f, STR('b')), 0x00));
}

Test(decode, suback_rejects_wrong_fixed_header_flags)
{
    EXPECT_ERR(4, SERVER, 0x81, FRAME(0x92, 0x00, 0x01, 0x00));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x91, 0x00, 0x01, 0x00, 0x00));
}

Test(decode, suback_rejects_suback_sent_by_a_client)
{
    EXPECT_ERR(4, CLIENT, 0x82, FRAME(0x90, 0x00, 0x01, 0x00));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x90, 0x00, 0x01, 0x00, 0x00));
}

/* ---------------------------------------------------------------------------------------
 * UNSUBSCRIBE
 * ------------------------------------------------------------------------------------- */

Test(decode, unsubscribe_v311_filters)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p,
              FRAME(0xa2, 0x00, 0x03, STR('a', '/', 'b'), STR('#'), STR('+', '/', 'x')));
    cr_assert_eq(p.type, SMQ_UNSUBSCRIBE);
    const struct smq_unsubscribe *u = &p.u.unsubscribe;
    cr_assert_eq(u->packet_id, 3);
    cr_assert_eq(u->count, 3);
    size_t pos = 0;
    struct smq_span f;
    cr_assert(smq_unsubscribe_next(u, &pos, &f));
    ASSERT_SPAN(f, "a/b");
    cr_assert(smq_unsubscribe_next(u, &pos, &f));
    ASSERT_SPAN(f, "#");
    cr_assert(smq_unsubscribe_next(u, &pos, &f));
    ASSERT_SPAN(f, "+/x");
    cr_assert(!smq_unsubscribe_next(u, &pos, &f));
}

Test(decode, unsubscribe_v31)
{
    struct smq_packet p;
    EXPECT_OK(3, CLIENT, &p, FRAME(0xa2, 0x00, 0x01, STR('t')));
    cr_assert_eq(p.u.unsubscribe.count, 1);
}

Test(decode, unsubscribe_v5_with_user_property_and_shared_filter)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0xa2, 0x00, 0x07, PROPS(0x26, STR('k'), STR('v')),
                    STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 't'), STR('t')));
    const struct smq_unsubscribe *u = &p.u.unsubscribe;
    cr_assert_eq(u->packet_id, 7);
    cr_assert_eq(u->count, 2);
    cr_assert_eq(u->props.user_count, 1);
    size_t pos = 0;
    struct smq_span f;
    cr_assert(smq_unsubscribe_next(u, &pos, &f));
    ASSERT_SPAN(f, "$share/g/t");
    cr_assert(smq_unsubscribe_next(u, &pos, &f));
    ASSERT_SPAN(f, "t");
    cr_assert(!smq_unsubscribe_next(u, &pos, &f));
}

Test(decode, unsubscribe_rejects_no_filter)
{
    /* [MQTT-3.10.3-2]: at least one filter; README 0x82. */
    EXPECT_ERR(4, CLIENT, 0x82, FRAME(0xa2, 0x00, 0x01));
    EXPECT_ERR(3, CLIENT, 0x82, FRAME(0xa2, 0x00, 0x01));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0xa2, 0x00, 0x01, 0x00));
}

Test(decode, unsubscribe_rejects_filter_running_past_packet)
{
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, 0x00, 0x03, 'a'));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, STR('a'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, 0x00, 0x00, 0x02, 'a'));
}

Test(decode, unsubscribe_rejects_empty_filter)
{
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, 0x00, 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, 0x00, STR('a'), 0x00, 0x00));
}

Test(decode, unsubscribe_rejects_bad_filter_syntax)
{
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, STR('a', '/', '#', '/', 'b')));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, STR('a', '+')));
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0xa2, 0x00, 0x01, 0x00, STR('$', 's', 'h', 'a', 'r', 'e', '/', '/', 't')));
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0xa2, 0x00, 0x01, 0x00, STR('$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/')));
}

Test(decode, unsubscribe_rejects_filter_with_invalid_utf8)
{
    /* [MQTT-3.10.3-1] filters are UTF-8 strings. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, STR(0xfe)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, 0x00, STR('x', 0x00)));
}

Test(decode, unsubscribe_rejects_packet_id_0)
{
    EXPECT_ERR(4, CLIENT, 0x82, FRAME(0xa2, 0x00, 0x00, STR('t')));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0xa2, 0x00, 0x00, 0x00, STR('t')));
}

Test(decode, unsubscribe_rejects_missing_packet_id)
{
    EXPECT_ERR(4, CLIENT, 0x81, 0xa2, 0x00);
    EXPECT_ERR(5, CLIENT, 0x81, 0xa2, 0x01, 0x00);
}

Test(decode, unsubscribe_rejects_wrong_fixed_header_flags)
{
    /* [MQTT-3.10.1-1] UNSUBSCRIBE flags are 0010. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0xa0, 0x00, 0x01, STR('t')));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xa3, 0x00, 0x01, 0x00, STR('t')));
}

Test(decode, unsubscribe_rejects_unsubscribe_sent_by_a_server)
{
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xa2, 0x00, 0x01, 0x00, STR('t')));
}

Test(decode, unsubscribe_v5_rejects_property_not_allowed)
{
    /* 3.10.2.1: only User Property. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, PROPS(0x0b, 0x01), STR('t')));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, PROPS(0x1f, STR('r')), STR('t')));
}

Test(decode, unsubscribe_v5_rejects_property_length_past_packet)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0xa2, 0x00, 0x01, 0x20, STR('t')));
}

/* ---------------------------------------------------------------------------------------
 * UNSUBACK
 * ------------------------------------------------------------------------------------- */

Test(decode, unsuback_v311)
{
    struct smq_packet p;
    EXPECT_OK(4, SERVER, &p, 0xb0, 0x02, 0x00, 0x05);
    cr_assert_eq(p.type, SMQ_UNSUBACK);
    cr_assert_eq(p.u.sub_ack.packet_id, 5);
    cr_assert_eq(p.u.sub_ack.reasons.len, 0, "a 3.x UNSUBACK has no codes");
    EXPECT_OK(3, SERVER, &p, 0xb0, 0x02, 0x01, 0x00);
    cr_assert_eq(p.u.sub_ack.packet_id, 256);
}

Test(decode, unsuback_v311_rejects_remaining_length_not_2)
{
    /* 3.11.1 of 3.1.1: the remaining length is 2. */
    EXPECT_ERR(4, SERVER, 0x81, 0xb0, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0xb0, 0x01, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0xb0, 0x03, 0x00, 0x01, 0x00);
    EXPECT_ERR(3, SERVER, 0x81, 0xb0, 0x03, 0x00, 0x01, 0x00);
    EXPECT_ERR(4, SERVER, 0x81, 0xb0, 0x04, 0x00, 0x01, 0x00, 0x00);
}

Test(decode, unsuback_rejects_packet_id_0)
{
    EXPECT_ERR(4, SERVER, 0x82, 0xb0, 0x02, 0x00, 0x00);
    EXPECT_ERR(5, SERVER, 0x82, 0xb0, 0x04, 0x00, 0x00, 0x00, 0x00);
}

Test(decode, unsuback_v5_codes_and_properties)
{
    struct smq_packet p;
    EXPECT_OK(
        5, SERVER, &p,
        FRAME(0xb0, 0x00, 0x09, PROPS(0x1f, STR('r')), 0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91));
    cr_assert_eq(p.u.sub_ack.packet_id, 9);
    cr_assert_eq(p.u.sub_ack.reasons.len, 7);
    cr_assert_eq(p.u.sub_ack.reasons.ptr[1], 0x11);
    cr_assert(smq_span_eq_str(p.u.sub_ack.props.reason_string, "r"));
}

Test(decode, unsuback_v5_every_reason_code)
{
    /* 3.11.3: the UNSUBACK reason codes; others are 0x82 (README). */
    static const uint8_t allowed[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91};
    for (unsigned code = 0; code <= 255; code++) {
        const uint8_t pkt[] = {FRAME(0xb0, 0x00, 0x01, 0x00, (uint8_t)code)};
        if (memchr(allowed, (int)code, sizeof allowed)) {
            struct smq_packet p;
            expect_ok(5, SERVER, pkt, sizeof pkt, &p, (int)code);
            cr_assert_eq(p.u.sub_ack.reasons.ptr[0], code);
        } else {
            expect_err(5, SERVER, pkt, sizeof pkt, 0x82, (int)code);
        }
    }
}

Test(decode, unsuback_v5_rejects_suback_only_codes)
{
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xb0, 0x00, 0x01, 0x00, 0x01));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xb0, 0x00, 0x01, 0x00, 0x02));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xb0, 0x00, 0x01, 0x00, 0x97));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xb0, 0x00, 0x01, 0x00, 0x9e));
}

Test(decode, unsuback_v5_rejects_no_code)
{
    /* README: v5 UNSUBACK without a reason code is 0x82. */
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xb0, 0x00, 0x01, 0x00));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0xb0, 0x00, 0x01, PROPS(0x26, STR('k'), STR('v'))));
}

Test(decode, unsuback_v5_rejects_missing_property_length)
{
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0xb0, 0x00, 0x01));
}

Test(decode, unsuback_v5_rejects_property_not_allowed)
{
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0xb0, 0x00, 0x01, PROPS(0x0b, 0x01), 0x00));
}

Test(decode, unsuback_rejects_wrong_fixed_header_flags)
{
    EXPECT_ERR(4, SERVER, 0x81, 0xb2, 0x02, 0x00, 0x01);
}

Test(decode, unsuback_rejects_unsuback_sent_by_a_client)
{
    EXPECT_ERR(4, CLIENT, 0x82, 0xb0, 0x02, 0x00, 0x01);
}
