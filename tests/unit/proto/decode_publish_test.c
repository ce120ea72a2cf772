/* Whole-packet decoding of PUBLISH for protocol levels 3, 4 and 5.
 *
 * QoS 0/1/2, DUP and RETAIN, the exact payload view, every v5 PUBLISH property (Topic Alias
 * with an empty topic, several Subscription Identifiers from a server), and every PUBLISH row
 * of proto/README.md with its exact reason code. FRAME(), STR() and PROPS() fill in the
 * lengths of what they wrap; deliberately wrong lengths are written out in full. */
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

static ssize_t decode(uint8_t version, uint8_t sender, const uint8_t *src, size_t len,
                      struct smq_packet *out, uint8_t *reason)
{
    struct smq_decode_opts opts = {.version = version, .sender = sender};
    return smq_decode_packet(src, len, &opts, out, reason);
}

static void expect_ok(uint8_t version, uint8_t sender, const uint8_t *src, size_t len,
                      struct smq_packet *out, int line)
{
    uint8_t reason = 0xEE;
    memset(out, 0xA5, sizeof(*out));
    ssize_t n = decode(version, sender, src, len, out, &reason);
    cr_assert_eq(n, (ssize_t)len, "line %d: returned %zd (reason 0x%02x), expected %zu", line, n,
                 reason, len);
    cr_assert_eq(out->type, SMQ_PUBLISH, "line %d", line);
}

static void expect_err(uint8_t version, uint8_t sender, const uint8_t *src, size_t len,
                       uint8_t code, int line)
{
    uint8_t reason = 0xEE;
    struct smq_packet out;
    ssize_t n = decode(version, sender, src, len, &out, &reason);
    cr_assert_eq(n, SMQ_EPROTO, "line %d: returned %zd, expected SMQ_EPROTO (0x%02x)", line, n,
                 code);
    cr_assert_eq(reason, code, "line %d: reason 0x%02x, expected 0x%02x", line, reason, code);
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

/* ---------------------------------------------------------------------------------------
 * Valid packets
 * ------------------------------------------------------------------------------------- */

Test(decode, publish_qos0_payload_is_an_exact_view)
{
    static const uint8_t pkt[] = {0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'};
    struct smq_packet p;
    expect_ok(4, CLIENT, pkt, sizeof pkt, &p, __LINE__);
    const struct smq_publish *pub = &p.u.publish;
    cr_assert_eq(p.flags, 0);
    cr_assert_eq(pub->qos, 0);
    cr_assert(!pub->dup);
    cr_assert(!pub->retain);
    cr_assert_eq(pub->packet_id, 0, "[MQTT-2.2.1-2] no packet id at QoS 0");
    ASSERT_SPAN(pub->topic, "a/b");
    cr_assert_eq(pub->topic.ptr, pkt + 4, "the topic is a view into the input");
    cr_assert_eq(pub->payload.ptr, pkt + 7, "the payload is a view into the input");
    cr_assert_eq(pub->payload.len, 2);
}

Test(decode, publish_qos1_with_packet_id)
{
    static const uint8_t pkt[] = {FRAME(0x32, STR('t'), 0x12, 0x34, 'x', 'y', 'z')};
    struct smq_packet p;
    expect_ok(4, CLIENT, pkt, sizeof pkt, &p, __LINE__);
    cr_assert_eq(p.flags, 0x2);
    cr_assert_eq(p.u.publish.qos, 1);
    cr_assert_eq(p.u.publish.packet_id, 0x1234);
    cr_assert_eq(p.u.publish.payload.ptr, pkt + 2 + 3 + 2);
    cr_assert_eq(p.u.publish.payload.len, 3);
}

Test(decode, publish_qos2_dup_retain)
{
    struct smq_packet p;
    /* flags 1101: DUP, QoS 2, RETAIN. */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x3d, STR('t'), 0xff, 0xff, 'p'));
    cr_assert_eq(p.flags, 0xd);
    cr_assert(p.u.publish.dup);
    cr_assert_eq(p.u.publish.qos, 2);
    cr_assert(p.u.publish.retain);
    cr_assert_eq(p.u.publish.packet_id, 0xffff);
    ASSERT_SPAN(p.u.publish.payload, "p");
}

Test(decode, publish_qos1_dup_without_retain)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p, FRAME(0x3a, STR('t'), 0x00, 0x01));
    cr_assert(p.u.publish.dup);
    cr_assert_eq(p.u.publish.qos, 1);
    cr_assert(!p.u.publish.retain);
    cr_assert_eq(p.u.publish.payload.len, 0);
}

Test(decode, publish_qos0_retain)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p, FRAME(0x31, STR('t'), 'v'));
    cr_assert(p.u.publish.retain);
    cr_assert_eq(p.u.publish.qos, 0);
}

Test(decode, publish_empty_payload)
{
    struct smq_packet p;
    /* 3.3.3: a zero-length payload is valid (it clears a retained message). */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x31, STR('t')));
    cr_assert_eq(p.u.publish.payload.len, 0);
    EXPECT_OK(5, CLIENT, &p, FRAME(0x30, STR('t'), 0x00));
    cr_assert_eq(p.u.publish.payload.len, 0);
    EXPECT_OK(3, CLIENT, &p, FRAME(0x34, STR('t'), 0x00, 0x07));
    cr_assert_eq(p.u.publish.payload.len, 0);
    cr_assert_eq(p.u.publish.packet_id, 7);
}

Test(decode, publish_v31)
{
    struct smq_packet p;
    EXPECT_OK(3, CLIENT, &p, FRAME(0x32, STR('a', '/', 'b'), 0x00, 0x09, 0x01, 0x02));
    ASSERT_SPAN(p.u.publish.topic, "a/b");
    cr_assert_eq(p.u.publish.packet_id, 9);
    cr_assert_eq(p.u.publish.payload.len, 2);
}

Test(decode, publish_payload_is_binary)
{
    struct smq_packet p;
    /* The payload is not a string: NUL and invalid UTF-8 are fine. */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR('t'), 0x00, 0xff, 0xed, 0xa0, 0x80, 0xc0));
    cr_assert_eq(p.u.publish.payload.len, 6);
    cr_assert_eq(p.u.publish.payload.ptr[0], 0x00);
    cr_assert_eq(p.u.publish.payload.ptr[5], 0xc0);
}

Test(decode, publish_payload_that_looks_like_properties_is_payload_on_v311)
{
    struct smq_packet p;
    /* 3.1.1 has no properties: 0x00 after the topic is payload. */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR('t'), 0x00));
    cr_assert_eq(p.u.publish.payload.len, 1);
    cr_assert_eq(p.u.publish.props.present, 0);
}

Test(decode, publish_topics_with_dollar_space_and_utf8)
{
    struct smq_packet p;
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR('$', 'S', 'Y', 'S', '/', 'x')));
    ASSERT_SPAN(p.u.publish.topic, "$SYS/x");
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR('/')));
    ASSERT_SPAN(p.u.publish.topic, "/");
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR('a', ' ', 'b', '/', '/')));
    ASSERT_SPAN(p.u.publish.topic, "a b//");
    /* U+00E9 and U+1F600. */
    EXPECT_OK(5, CLIENT, &p, FRAME(0x30, STR(0xc3, 0xa9, '/', 0xf0, 0x9f, 0x98, 0x80), 0x00));
    cr_assert_eq(p.u.publish.topic.len, 7);
}

Test(decode, publish_v5_without_properties)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p, FRAME(0x32, STR('t'), 0x00, 0x05, 0x00, 'h', 'i'));
    cr_assert_eq(p.u.publish.packet_id, 5);
    cr_assert_eq(p.u.publish.props.present, 0);
    ASSERT_SPAN(p.u.publish.payload, "hi");
}

Test(decode, publish_v5_every_publish_property)
{
    struct smq_packet p;
    EXPECT_OK(5, SERVER, &p,
              FRAME(0x34, STR('a', '/', 'b'), 0x00, 0x02,
                    PROPS(0x01, 0x01,                   /* Payload Format: UTF-8 */
                          0x02, 0x00, 0x00, 0x00, 0x3c, /* Message Expiry 60 */
                          0x23, 0x00, 0x03,             /* Topic Alias 3 */
                          0x08, STR('r', '/', 's'),     /* Response Topic */
                          0x09, STR(0x00, 0x01),        /* Correlation Data */
                          0x26, STR('k'), STR('v'),     /* User Property */
                          0x0b, 0x05,                   /* Subscription Identifier 5 */
                          0x0b, 0x80, 0x01,             /* Subscription Identifier 128 */
                          0x03, STR('t', '/', 'p')),    /* Content Type */
                    'o', 'k'));
    const struct smq_publish *pub = &p.u.publish;
    cr_assert_eq(pub->qos, 2);
    cr_assert_eq(pub->packet_id, 2);
    const struct smq_props *pr = &pub->props;
    uint64_t want = SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT) | SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY) |
                    SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS) | SMQ_PROP_BIT(SMQ_PROP_RESPONSE_TOPIC) |
                    SMQ_PROP_BIT(SMQ_PROP_CORRELATION_DATA) | SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY) |
                    SMQ_PROP_BIT(SMQ_PROP_SUBSCRIPTION_ID) | SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE);
    cr_assert_eq(pr->present, want, "present %#llx", (unsigned long long)pr->present);
    cr_assert_eq(pr->payload_format, 1);
    cr_assert_eq(pr->message_expiry, 60);
    cr_assert_eq(pr->topic_alias, 3);
    ASSERT_SPAN(pr->response_topic, "r/s");
    cr_assert_eq(pr->correlation_data.len, 2);
    ASSERT_SPAN(pr->content_type, "t/p");
    cr_assert_eq(pr->user_count, 1);
    cr_assert_eq(pr->sub_id_count, 2);
    cr_assert_eq(pr->subscription_id, 5, "the first Subscription Identifier");
    size_t pos = 0;
    uint32_t id;
    cr_assert(smq_props_next_sub_id(pr, &pos, &id));
    cr_assert_eq(id, 5);
    cr_assert(smq_props_next_sub_id(pr, &pos, &id));
    cr_assert_eq(id, 128);
    cr_assert(!smq_props_next_sub_id(pr, &pos, &id));
    pos = 0;
    struct smq_span k, v;
    cr_assert(smq_props_next_user(pr, &pos, &k, &v));
    ASSERT_SPAN(k, "k");
    ASSERT_SPAN(v, "v");
    cr_assert(!smq_props_next_user(pr, &pos, &k, &v));
    ASSERT_SPAN(pub->payload, "ok");
}

Test(decode, publish_v5_topic_alias_with_empty_topic)
{
    struct smq_packet p;
    /* 3.3.2.3.4: a zero-length topic with a Topic Alias uses the alias's topic. */
    EXPECT_OK(5, CLIENT, &p, FRAME(0x30, 0x00, 0x00, PROPS(0x23, 0x00, 0x01), 'x'));
    cr_assert_eq(p.u.publish.topic.len, 0);
    cr_assert_eq(p.u.publish.props.topic_alias, 1);
    ASSERT_SPAN(p.u.publish.payload, "x");
}

Test(decode, publish_v5_topic_alias_with_topic)
{
    struct smq_packet p;
    /* A topic and an alias together set the alias (3.3.2.3.4). */
    EXPECT_OK(5, CLIENT, &p, FRAME(0x32, STR('t'), 0x00, 0x01, PROPS(0x23, 0xff, 0xff)));
    ASSERT_SPAN(p.u.publish.topic, "t");
    cr_assert_eq(p.u.publish.props.topic_alias, 0xffff);
}

Test(decode, publish_v5_subscription_id_accepted_from_server)
{
    struct smq_packet p;
    EXPECT_OK(5, SERVER, &p, FRAME(0x30, STR('t'), PROPS(0x0b, 0x01)));
    cr_assert_eq(p.u.publish.props.subscription_id, 1);
    cr_assert_eq(p.u.publish.props.sub_id_count, 1);
    /* The largest variable byte integer is a valid identifier (3.3.2.3.8). */
    EXPECT_OK(5, SERVER, &p, FRAME(0x30, STR('t'), PROPS(0x0b, 0xff, 0xff, 0xff, 0x7f)));
    cr_assert_eq(p.u.publish.props.subscription_id, SMQ_VARINT_MAX);
    /* SMQ_SENDER_ANY accepts it too. */
    EXPECT_OK(5, ANY, &p, FRAME(0x30, STR('t'), PROPS(0x0b, 0x02)));
    cr_assert_eq(p.u.publish.props.subscription_id, 2);
}

Test(decode, publish_v5_user_properties_may_repeat)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p,
              FRAME(0x30, STR('t'),
                    PROPS(0x26, STR('a'), STR('1'), 0x26, STR('a'), STR('2'), 0x26, 0x00, 0x00,
                          0x00, 0x00)));
    cr_assert_eq(p.u.publish.props.user_count, 3);
    size_t pos = 0;
    struct smq_span k, v;
    cr_assert(smq_props_next_user(&p.u.publish.props, &pos, &k, &v));
    ASSERT_SPAN(v, "1");
    cr_assert(smq_props_next_user(&p.u.publish.props, &pos, &k, &v));
    ASSERT_SPAN(v, "2");
    cr_assert(smq_props_next_user(&p.u.publish.props, &pos, &k, &v));
    cr_assert_eq(k.len, 0);
    cr_assert_eq(v.len, 0);
    cr_assert(!smq_props_next_user(&p.u.publish.props, &pos, &k, &v));
}

Test(decode, publish_v5_payload_format_0)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p, FRAME(0x30, STR('t'), PROPS(0x01, 0x00), 0xff));
    cr_assert(smq_props_has(&p.u.publish.props, SMQ_PROP_PAYLOAD_FORMAT));
    cr_assert_eq(p.u.publish.props.payload_format, 0);
}

/* ---------------------------------------------------------------------------------------
 * Fixed header rules
 * ------------------------------------------------------------------------------------- */

Test(decode, publish_rejects_qos_3)
{
    /* [MQTT-3.3.1-4] QoS bits 11 are malformed. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x36, STR('t'), 0x00, 0x01));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x37, STR('t'), 0x00, 0x01));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x3e, STR('t'), 0x00, 0x01, 0x00));
    EXPECT_ERR(3, SERVER, 0x81, FRAME(0x36, STR('t'), 0x00, 0x01));
}

Test(decode, publish_rejects_dup_on_qos_0)
{
    /* [MQTT-3.3.1-2] DUP must be 0 for QoS 0 messages. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x38, STR('t')));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x39, STR('t')));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x38, STR('t'), 0x00));
}

Test(decode, publish_rejects_oversized_packet)
{
    /* README: a whole packet larger than max_packet_size is 0x95, judged on the header. */
    static const uint8_t pkt[] = {FRAME(0x30, STR('t'), 0x00, 'a', 'b', 'c')};
    struct smq_decode_opts opts = {
        .version = 5, .sender = CLIENT, .max_packet_size = sizeof pkt - 1};
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(smq_decode_packet(pkt, sizeof pkt, &opts, &p, &reason), SMQ_EPROTO);
    cr_assert_eq(reason, 0x95);
    /* Only the fixed header is needed for that verdict. */
    reason = 0;
    cr_assert_eq(smq_decode_packet(pkt, 2, &opts, &p, &reason), SMQ_EPROTO);
    cr_assert_eq(reason, 0x95);
    opts.max_packet_size = sizeof pkt;
    cr_assert_eq(smq_decode_packet(pkt, sizeof pkt, &opts, &p, &reason), (ssize_t)sizeof pkt);
}

/* ---------------------------------------------------------------------------------------
 * Topic name
 * ------------------------------------------------------------------------------------- */

Test(decode, publish_rejects_wildcard_topic_v311)
{
    /* [MQTT-3.3.2-2] the Topic Name must not contain wildcard characters. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR('+')));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR('#')));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR('a', '/', '+', '/', 'b')));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR('a', '/', '#')));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x32, STR('a', '+'), 0x00, 0x01));
    EXPECT_ERR(3, CLIENT, 0x81, FRAME(0x30, STR('x', '#')));
    EXPECT_ERR(4, SERVER, 0x81, FRAME(0x30, STR('+', '/', 'x')));
}

Test(decode, publish_rejects_wildcard_topic_v5)
{
    /* [MQTT-3.3.2-2] of 5.0. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('+'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('a', '/', '#'), 0x00));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x34, STR('#'), 0x00, 0x01, 0x00));
    /* A Topic Alias does not make a wildcard topic acceptable. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('a', '/', '+'), PROPS(0x23, 0x00, 0x01)));
}

Test(decode, publish_rejects_empty_topic_v311)
{
    /* [MQTT-4.7.3-1] a Topic Name is at least one character; no aliases before 5.0. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, 0x00, 0x00, 'x'));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x32, 0x00, 0x00, 0x00, 0x01));
    EXPECT_ERR(3, CLIENT, 0x81, FRAME(0x30, 0x00, 0x00));
    EXPECT_ERR(4, SERVER, 0x81, FRAME(0x30, 0x00, 0x00));
}

Test(decode, publish_rejects_empty_topic_without_alias_v5)
{
    /* 3.3.2.3.4 / README: a zero-length topic needs a Topic Alias: Protocol Error. */
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, 0x00, 0x00, 0x00));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x32, 0x00, 0x00, 0x00, 0x01, 0x00, 'p'));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, 0x00, 0x00, PROPS(0x02, 0x00, 0x00, 0x00, 0x01)));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x30, 0x00, 0x00, PROPS(0x26, STR('k'), STR('v'))));
}

Test(decode, publish_rejects_topic_running_past_packet)
{
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, 0x00, 0x05, 'a', 'b'));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, 0x00, 0x02, 'a'));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, 0xff, 0xff));
}

Test(decode, publish_rejects_missing_topic)
{
    EXPECT_ERR(4, CLIENT, 0x81, 0x30, 0x00);
    EXPECT_ERR(4, CLIENT, 0x81, 0x30, 0x01, 0x00);
    EXPECT_ERR(5, CLIENT, 0x81, 0x30, 0x00);
    EXPECT_ERR(5, CLIENT, 0x81, 0x32, 0x01, 0x00);
}

Test(decode, publish_rejects_topic_with_invalid_utf8)
{
    /* [MQTT-3.3.2-1] the Topic Name is a UTF-8 string; [MQTT-1.5.4-1] well-formed. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR('a', 0xff)));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR(0xc0, 0xaf)));             /* overlong '/' */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR(0xe0, 0x80, 0xaf)));       /* overlong '/' */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR(0xed, 0xb0, 0x80)));       /* U+DC00 */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR(0xf4, 0x90, 0x80, 0x80))); /* > U+10FFFF */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR('a', 0xe2, 0x82)));        /* truncated */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR(0xed, 0xa0, 0x80), 0x00)); /* U+D800 */
}

Test(decode, publish_rejects_topic_with_nul)
{
    /* [MQTT-1.5.4-2] U+0000 is not allowed. */
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x30, STR('a', 0x00, 'b')));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR(0x00), 0x00));
}

/* ---------------------------------------------------------------------------------------
 * Packet identifier
 * ------------------------------------------------------------------------------------- */

Test(decode, publish_rejects_packet_id_0)
{
    /* [MQTT-2.3.1-1] of 3.1.1, [MQTT-2.2.1-3] of 5.0: non-zero where QoS > 0. */
    EXPECT_ERR(4, CLIENT, 0x82, FRAME(0x32, STR('t'), 0x00, 0x00));
    EXPECT_ERR(4, CLIENT, 0x82, FRAME(0x34, STR('t'), 0x00, 0x00, 'x'));
    EXPECT_ERR(3, CLIENT, 0x82, FRAME(0x32, STR('t'), 0x00, 0x00));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x32, STR('t'), 0x00, 0x00, 0x00));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x3c, STR('t'), 0x00, 0x00, 0x00));
}

Test(decode, publish_rejects_missing_packet_id)
{
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x32, STR('t')));
    EXPECT_ERR(4, CLIENT, 0x81, FRAME(0x34, STR('t'), 0x01));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x32, STR('t'), 0x01));
}

Test(decode, publish_qos0_has_no_packet_id)
{
    struct smq_packet p;
    /* [MQTT-2.2.1-2]: at QoS 0 the two bytes after the topic are payload. */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR('t'), 0x00, 0x00));
    cr_assert_eq(p.u.publish.packet_id, 0);
    cr_assert_eq(p.u.publish.payload.len, 2);
}

/* ---------------------------------------------------------------------------------------
 * v5 properties
 * ------------------------------------------------------------------------------------- */

Test(decode, publish_v5_rejects_missing_property_length)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t')));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x32, STR('t'), 0x00, 0x01));
}

Test(decode, publish_v5_rejects_property_length_past_packet)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), 0x05, 0x01, 0x01));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x32, STR('t'), 0x00, 0x01, 0x7f));
    /* A property length whose variable byte integer is cut off. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), 0x80));
}

Test(decode, publish_v5_rejects_non_minimal_property_length)
{
    /* [MQTT-1.5.5-1]: 0x80 0x00 is zero written in two bytes. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), 0x80, 0x00, 'x'));
}

Test(decode, publish_v5_rejects_truncated_property_value)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x02, 0x00, 0x00)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x23, 0x00)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x01)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x08, 0x00, 0x03, 'a')));
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x30, STR('t'), PROPS(0x0b, 0x80)));
}

Test(decode, publish_v5_rejects_subscription_id_from_client)
{
    /* [MQTT-3.3.4-6] a PUBLISH from a client must not hold a Subscription Identifier. */
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, STR('t'), PROPS(0x0b, 0x01)));
    EXPECT_ERR(5, CLIENT, 0x82,
               FRAME(0x32, STR('t'), 0x00, 0x01, PROPS(0x0b, 0x05, 0x0b, 0x06), 'x'));
}

Test(decode, publish_v5_rejects_subscription_id_0)
{
    /* 3.3.2.3.8: a Subscription Identifier of 0 is a Protocol Error. */
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x30, STR('t'), PROPS(0x0b, 0x00)));
    EXPECT_ERR(5, SERVER, 0x82, FRAME(0x30, STR('t'), PROPS(0x0b, 0x01, 0x0b, 0x00)));
}

Test(decode, publish_v5_rejects_subscription_id_past_varint)
{
    /* A fifth byte makes the variable byte integer malformed. */
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x30, STR('t'), PROPS(0x0b, 0xff, 0xff, 0xff, 0xff, 0x01)));
    /* Non-minimal encodings are malformed too [MQTT-1.5.5-1]. */
    EXPECT_ERR(5, SERVER, 0x81, FRAME(0x30, STR('t'), PROPS(0x0b, 0x81, 0x00)));
}

Test(decode, publish_v5_rejects_topic_alias_0)
{
    /* 3.3.2.3.4: a Topic Alias of 0 is not permitted: Topic Alias invalid. */
    EXPECT_ERR(5, CLIENT, 0x94, FRAME(0x30, STR('t'), PROPS(0x23, 0x00, 0x00)));
    EXPECT_ERR(5, CLIENT, 0x94, FRAME(0x30, 0x00, 0x00, PROPS(0x23, 0x00, 0x00)));
}

Test(decode, publish_v5_rejects_payload_format_above_1)
{
    /* 2.2.2.2 / README: a flag byte other than 0 or 1 is a Protocol Error. */
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, STR('t'), PROPS(0x01, 0x02)));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, STR('t'), PROPS(0x01, 0xff)));
}

Test(decode, publish_v5_rejects_duplicate_properties)
{
    /* 3.3.2.3: each of these may appear once. */
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, STR('t'), PROPS(0x01, 0x00, 0x01, 0x00)));
    EXPECT_ERR(
        5, CLIENT, 0x82,
        FRAME(0x30, STR('t'), PROPS(0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01)));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, STR('t'), PROPS(0x23, 0x00, 0x01, 0x23, 0x00, 0x02)));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, STR('t'), PROPS(0x08, STR('r'), 0x08, STR('s'))));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, STR('t'), PROPS(0x09, 0x00, 0x00, 0x09, 0x00, 0x00)));
    EXPECT_ERR(5, CLIENT, 0x82, FRAME(0x30, STR('t'), PROPS(0x03, STR('c'), 0x03, STR('c'))));
}

Test(decode, publish_v5_rejects_property_not_allowed_in_publish)
{
    /* 3.3.2.3 lists the PUBLISH properties; anything else is malformed (README). */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x11, 0x00, 0x00, 0x00, 0x01)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x1f, STR('r'))));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x18, 0x00, 0x00, 0x00, 0x01)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x21, 0x00, 0x01)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x15, STR('m'))));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x22, 0x00, 0x01)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x24, 0x01)));
}

Test(decode, publish_v5_rejects_unknown_property)
{
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x00, 0x00)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x04, 0x00)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x2b, 0x00)));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x80, 0x01, 0x00)));
}

Test(decode, publish_v5_rejects_empty_response_topic)
{
    /* README (choice): a Response Topic is a topic name; empty is malformed. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x08, 0x00, 0x00)));
}

Test(decode, publish_v5_rejects_response_topic_with_wildcard)
{
    /* [MQTT-3.3.2-14] the Response Topic must not contain wildcards. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x08, STR('a', '/', '+'))));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x08, STR('#'))));
}

Test(decode, publish_v5_rejects_string_properties_with_invalid_utf8)
{
    /* [MQTT-3.3.2-13] Response Topic, 3.3.2.3.9 Content Type, [MQTT-1.5.7-1] User Property. */
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x08, STR('r', 0xff))));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x03, STR(0x00))));
    EXPECT_ERR(5, CLIENT, 0x81, FRAME(0x30, STR('t'), PROPS(0x26, STR(0xc1, 0x81), STR('v'))));
    EXPECT_ERR(5, CLIENT, 0x81,
               FRAME(0x30, STR('t'), PROPS(0x26, STR('k'), STR(0xed, 0xa0, 0x80))));
}

Test(decode, publish_v5_correlation_data_is_binary)
{
    struct smq_packet p;
    EXPECT_OK(5, CLIENT, &p, FRAME(0x30, STR('t'), PROPS(0x09, STR(0x00, 0xff))));
    cr_assert_eq(p.u.publish.props.correlation_data.len, 2);
}

Test(decode, publish_v5_rejects_too_many_user_properties)
{
    /* README: more than max_user_props User Properties is 0x97. */
    static const uint8_t pkt[] = {FRAME(0x30, STR('t'),
                                        PROPS(0x26, 0x00, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00,
                                              0x00, 0x26, 0x00, 0x00, 0x00, 0x00))};
    struct smq_decode_opts opts = {.version = 5, .sender = CLIENT, .max_user_props = 2};
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(smq_decode_packet(pkt, sizeof pkt, &opts, &p, &reason), SMQ_EPROTO);
    cr_assert_eq(reason, 0x97);
    opts.max_user_props = 3;
    cr_assert_eq(smq_decode_packet(pkt, sizeof pkt, &opts, &p, &reason), (ssize_t)sizeof pkt);
}

Test(decode, publish_sets_type_on_error)
{
    static const uint8_t pkt[] = {FRAME(0x32, STR('t'), 0x00, 0x00)};
    struct smq_packet p;
    uint8_t reason = 0;
    cr_assert_eq(decode(4, CLIENT, pkt, sizeof pkt, &p, &reason), SMQ_EPROTO);
    cr_assert_eq(p.type, SMQ_PUBLISH);
}

Test(decode, publish_topic_policy_accepts_controls_and_noncharacters)
{
    struct smq_packet p;
    /* README (choice): U+0001..U+001F, U+007F..U+009F and non-characters are accepted;
     * [MQTT-1.5.4-1] only forbids ill-formed UTF-8 and surrogates, [MQTT-1.5.4-2] U+0000. */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR('a', 0x01, 0x1f, 0x7f)));
    cr_assert_eq(p.u.publish.topic.len, 4);
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR(0xc2, 0x80, 0xc2, 0x9f)));       /* U+0080 U+009F */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR(0xef, 0xbf, 0xbf)));             /* U+FFFF */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR(0xef, 0xb7, 0x90)));             /* U+FDD0 */
    EXPECT_OK(5, CLIENT, &p, FRAME(0x30, STR(0xf4, 0x8f, 0xbf, 0xbf), 0x00)); /* U+10FFFF */
}

Test(decode, publish_topic_keeps_byte_order_mark)
{
    struct smq_packet p;
    /* [MQTT-1.5.4-3] EF BB BF is U+FEFF and must not be skipped or stripped. */
    EXPECT_OK(4, CLIENT, &p, FRAME(0x30, STR(0xef, 0xbb, 0xbf, 'a')));
    cr_assert_eq(p.u.publish.topic.len, 4);
    cr_assert_eq(p.u.publish.topic.ptr[0], 0xef);
}

Test(decode, publish_v5_user_property_cap_at_its_largest_value)
{
    /* README: more than max_user_props User Properties is 0x97, for every cap the option
     * can hold. 65,536 empty User Properties (5 bytes each) against a cap of 65,535. */
    const size_t count = 65536;
    size_t props_len = 5 * count;          /* 327,680: a 3-byte varint */
    size_t body = 3 + 3 + props_len;       /* topic "t", property length, entries */
    static uint8_t buf[4 + 6 + 5 * 65536]; /* static: a failed assertion leaks nothing */
    cr_assert_eq(sizeof buf, 4 + body);
    size_t i = 0;
    buf[i++] = 0x30;
    buf[i++] = (uint8_t)(0x80 | (body & 0x7f));
    buf[i++] = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
    buf[i++] = (uint8_t)(body >> 14);
    buf[i++] = 0x00;
    buf[i++] = 0x01;
    buf[i++] = 't';
    buf[i++] = (uint8_t)(0x80 | (props_len & 0x7f));
    buf[i++] = (uint8_t)(0x80 | ((props_len >> 7) & 0x7f));
    buf[i++] = (uint8_t)(props_len >> 14);
    for (size_t u = 0; u < count; u++) {
        buf[i++] = 0x26;
        buf[i++] = 0x00;
        buf[i++] = 0x00;
        buf[i++] = 0x00;
        buf[i++] = 0x00;
    }
    cr_assert_eq(i, 4 + body);
    struct smq_decode_opts opts = {.version = 5, .sender = CLIENT, .max_user_props = 65535};
    struct smq_packet p;
    uint8_t reason = 0;
    ssize_t n = smq_decode_packet(buf, i, &opts, &p, &reason);
    cr_assert_eq(n, SMQ_EPROTO,
                 "65,536 User Properties against a cap of 65,535: returned %zd"
                 " (user_count %u)",
                 n, n > 0 ? p.u.publish.props.user_count : 0);
    cr_assert_eq(reason, 0x97);
}

Test(decode, publish_v5_first_subscription_id_survives_many_repeats)
{
    /* packet.h: props.subscription_id is "the first one" of the repeated Subscription
     * Identifiers (3.3.2.3.8 lets a server send one per matching subscription). 65,537
     * of them: the first is 1, all others 2. */
    const size_t count = 65537;
    size_t props_len = 2 * count; /* 0B nn: 131,074, a 3-byte varint */
    size_t body = 3 + 3 + props_len;
    static uint8_t buf[4 + 6 + 2 * 65537]; /* static: a failed assertion leaks nothing */
    cr_assert_eq(sizeof buf, 4 + body);
    size_t i = 0;
    buf[i++] = 0x30;
    buf[i++] = (uint8_t)(0x80 | (body & 0x7f));
    buf[i++] = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
    buf[i++] = (uint8_t)(body >> 14);
    buf[i++] = 0x00;
    buf[i++] = 0x01;
    buf[i++] = 't';
    buf[i++] = (uint8_t)(0x80 | (props_len & 0x7f));
    buf[i++] = (uint8_t)(0x80 | ((props_len >> 7) & 0x7f));
    buf[i++] = (uint8_t)(props_len >> 14);
    for (size_t u = 0; u < count; u++) {
        buf[i++] = 0x0b;
        buf[i++] = u == 0 ? 0x01 : 0x02;
    }
    cr_assert_eq(i, 4 + body);
    struct smq_decode_opts opts = {.version = 5, .sender = SERVER};
    struct smq_packet p;
    uint8_t reason = 0;
    ssize_t n = smq_decode_packet(buf, i, &opts, &p, &reason);
    cr_assert_eq(n, (ssize_t)i, "returned %zd (0x%02x)", n, reason);
    cr_assert_eq(p.u.publish.props.subscription_id, 1, "subscription_id %u, expected the first",
                 p.u.publish.props.subscription_id);
    size_t pos = 0, seen = 0;
    uint32_t id;
    while (smq_props_next_sub_id(&p.u.publish.props, &pos, &id))
        seen++;
    cr_assert_eq(seen, count);
}
