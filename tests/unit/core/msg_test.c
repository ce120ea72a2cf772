/* Tests for core/msg.c: building the immutable, refcounted message.
 *
 * A message copies everything it is made from (topic, payload, forwarded v5 properties) into
 * its own allocation, so each test mutates or frees the source afterwards and checks the
 * message did not change. Topic Alias and Subscription Identifiers are per hop and must not
 * be copied; Message Expiry becomes an absolute time. Leaks and double frees of the
 * refcount are caught by the ASan build running the same tests. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/msg.h"
#include "proto/packet.h"
#include "proto/props.h"

static struct smq_span bytes(const void *p, size_t len)
{
    return (struct smq_span){p, len};
}

/* Appends one User Property entry to buf at *len. */
static void put_user(uint8_t *buf, size_t cap, size_t *len, const char *key, const char *value)
{
    ssize_t n = smq_props_put_user(buf + *len, cap - *len, smq_span_str(key), smq_span_str(value));
    cr_assert_gt(n, 0);
    *len += (size_t)n;
}

static struct smq_msg *new_plain(const char *topic, const char *payload, uint8_t qos)
{
    struct smq_msg_init init = {
        .topic = smq_span_str(topic),
        .payload = smq_span_str(payload),
        .qos = qos,
    };
    return smq_msg_new(&init);
}

static struct smq_msg *new_expiring(uint32_t seconds, int64_t now_ms)
{
    struct smq_props props = {0};
    props.present = SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY);
    props.message_expiry = seconds;
    struct smq_msg_init init = {
        .topic = smq_span_str("t"),
        .now_ms = now_ms,
        .props = &props,
    };
    return smq_msg_new(&init);
}

Test(msg, new_copies_topic_payload_and_flags)
{
    char topic[] = "sensors/1/temp";
    uint8_t payload[] = {0x00, 0x01, 0xFF, 0x00, 0x7F}; /* binary, with NULs */
    struct smq_msg_init init = {
        .topic = smq_span_str(topic),
        .payload = bytes(payload, sizeof(payload)),
        .qos = SMQ_QOS2,
        .retain = true,
        .origin_session = 42,
    };
    struct smq_msg *msg = smq_msg_new(&init);

    memset(topic, 'x', strlen(topic));
    memset(payload, 0xAA, sizeof(payload));

    cr_assert(smq_span_eq_str(msg->topic, "sensors/1/temp"));
    cr_assert_neq(msg->topic.ptr, (const uint8_t *)topic);
    cr_assert_eq(msg->payload.len, 5);
    const uint8_t want[] = {0x00, 0x01, 0xFF, 0x00, 0x7F};
    cr_assert_arr_eq(msg->payload.ptr, want, sizeof(want));
    cr_assert_eq(msg->qos, SMQ_QOS2);
    cr_assert(msg->retain);
    cr_assert_eq(msg->origin_session, 42);
    cr_assert_not(msg->has_expiry);
    cr_assert_eq(atomic_load(&msg->refs), 1);
    cr_assert_eq(msg->props.present, 0);
    cr_assert_eq(msg->props.multi.len, 0);
    cr_assert_eq(msg->props.user_count, 0);
    smq_msg_unref(msg);
}

Test(msg, empty_payload_and_no_props)
{
    struct smq_msg_init init = {.topic = smq_span_str("a/b")};
    struct smq_msg *msg = smq_msg_new(&init);
    cr_assert(smq_span_eq_str(msg->topic, "a/b"));
    cr_assert_eq(msg->payload.len, 0);
    cr_assert_eq(msg->qos, SMQ_QOS0);
    cr_assert_not(msg->retain);
    cr_assert_not(msg->has_expiry);
    cr_assert_eq(smq_msg_expiry_left(msg, 0), 0);
    cr_assert_not(smq_msg_is_expired(msg, INT64_MAX));
    smq_msg_unref(msg);
}

Test(msg, large_payload_copied_whole)
{
    size_t len = 256 * 1024;
    uint8_t *payload = malloc(len);
    cr_assert_not_null(payload);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 31);
    struct smq_msg_init init = {.topic = smq_span_str("big"), .payload = bytes(payload, len)};
    struct smq_msg *msg = smq_msg_new(&init);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)~payload[i];
    cr_assert_eq(msg->payload.len, len);
    for (size_t i = 0; i < len; i++) {
        if (msg->payload.ptr[i] != (uint8_t)(i * 31))
            cr_assert_fail("payload byte %zu changed", i);
    }
    free(payload);
    cr_assert(smq_span_eq_str(msg->topic, "big"));
    smq_msg_unref(msg);
}

Test(msg, forwarded_props_copied)
{
    char content_type[] = "application/json";
    char response_topic[] = "reply/here";
    uint8_t correlation[] = {1, 2, 0, 3};
    struct smq_props props = {0};
    props.present = SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT) | SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE) |
                    SMQ_PROP_BIT(SMQ_PROP_RESPONSE_TOPIC) | SMQ_PROP_BIT(SMQ_PROP_CORRELATION_DATA);
    props.payload_format = 1;
    props.content_type = smq_span_str(content_type);
    props.response_topic = smq_span_str(response_topic);
    props.correlation_data = bytes(correlation, sizeof(correlation));
    struct smq_msg_init init = {.topic = smq_span_str("t"), .props = &props};
    struct smq_msg *msg = smq_msg_new(&init);

    memset(content_type, 'z', strlen(content_type));
    memset(response_topic, 'z', strlen(response_topic));
    memset(correlation, 0xEE, sizeof(correlation));
    memset(&props, 0xFF, sizeof(props));

    cr_assert_eq(msg->props.present, SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT) |
                                         SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE) |
                                         SMQ_PROP_BIT(SMQ_PROP_RESPONSE_TOPIC) |
                                         SMQ_PROP_BIT(SMQ_PROP_CORRELATION_DATA));
    cr_assert_eq(msg->props.payload_format, 1);
    cr_assert(smq_span_eq_str(msg->props.content_type, "application/json"));
    cr_assert(smq_span_eq_str(msg->props.response_topic, "reply/here"));
    const uint8_t want[] = {1, 2, 0, 3};
    cr_assert(smq_span_eq(msg->props.correlation_data, bytes(want, sizeof(want))));
    cr_assert_not(msg->has_expiry);
    cr_assert_eq(msg->props.user_count, 0);
    cr_assert_eq(msg->props.multi.len, 0);
    smq_msg_unref(msg);
}

Test(msg, user_props_compacted_in_order)
{
    /* A builder's multi holding user properties with a Subscription Identifier between them:
     * the message keeps the user properties only, in order, back to back. */
    uint8_t multi[256];
    size_t len = 0;
    put_user(multi, sizeof(multi), &len, "k1", "v1");
    multi[len++] = SMQ_PROP_SUBSCRIPTION_ID;
    multi[len++] = 0x05;
    put_user(multi, sizeof(multi), &len, "k2", "");
    put_user(multi, sizeof(multi), &len, "k1", "again"); /* keys may repeat */
    struct smq_props props = {0};
    props.multi = bytes(multi, len);
    props.user_count = 3;
    props.sub_id_count = 1;
    struct smq_msg_init init = {.topic = smq_span_str("t"), .props = &props};
    struct smq_msg *msg = smq_msg_new(&init);
    memset(multi, 0, sizeof(multi));

    cr_assert_eq(msg->props.user_count, 3);
    cr_assert_eq(msg->props.present, SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY)); /* as decoded */
    cr_assert_eq(msg->props.sub_id_count, 0);
    cr_assert_eq(msg->props.multi.len, (5 + 2 + 2) + (5 + 2 + 0) + (5 + 2 + 5));
    size_t pos = 0;
    struct smq_span key, value;
    cr_assert(smq_props_next_user(&msg->props, &pos, &key, &value));
    cr_assert(smq_span_eq_str(key, "k1"));
    cr_assert(smq_span_eq_str(value, "v1"));
    cr_assert(smq_props_next_user(&msg->props, &pos, &key, &value));
    cr_assert(smq_span_eq_str(key, "k2"));
    cr_assert(smq_span_eq_str(value, ""));
    cr_assert(smq_props_next_user(&msg->props, &pos, &key, &value));
    cr_assert(smq_span_eq_str(key, "k1"));
    cr_assert(smq_span_eq_str(value, "again"));
    cr_assert_not(smq_props_next_user(&msg->props, &pos, &key, &value));
    uint32_t sub_id;
    pos = 0;
    cr_assert_not(smq_props_next_sub_id(&msg->props, &pos, &sub_id));
    smq_msg_unref(msg);
}

Test(msg, decoded_publish_props_drop_topic_alias_and_sub_ids)
{
    /* Encode a PUBLISH property block with every forwarded property plus the per-hop ones,
     * decode it as the broker would, and build the message from the decoded view. */
    uint8_t users[64];
    size_t users_len = 0;
    put_user(users, sizeof(users), &users_len, "a", "1");
    put_user(users, sizeof(users), &users_len, "b", "2");
    const uint32_t sub_ids[] = {7, 300};
    struct smq_props in = {0};
    in.present = SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT) | SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY) |
                 SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE) | SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS);
    in.payload_format = 1;
    in.message_expiry = 60;
    in.content_type = smq_span_str("text/plain");
    in.topic_alias = 9;
    in.sub_ids = sub_ids;
    in.sub_ids_len = 2;
    in.multi = bytes(users, users_len);
    uint8_t block[256];
    size_t block_len = smq_props_encode(block, &in);
    cr_assert_eq(block_len, smq_props_size(&in));

    struct smq_props decoded;
    uint8_t reason = 0;
    ssize_t n = smq_props_decode(block, block_len, SMQ_PUBLISH, SMQ_DEFAULT_MAX_USER_PROPS,
                                 &decoded, &reason);
    cr_assert_eq(n, (ssize_t)block_len, "decode: %zd reason 0x%02x", n, reason);
    cr_assert(smq_props_has(&decoded, SMQ_PROP_TOPIC_ALIAS));
    cr_assert_eq(decoded.user_count, 2);
    cr_assert_eq(decoded.sub_id_count, 2);

    struct smq_msg_init init = {
        .topic = smq_span_str("t"),
        .payload = smq_span_str("p"),
        .qos = SMQ_QOS1,
        .now_ms = 1000,
        .props = &decoded,
    };
    struct smq_msg *msg = smq_msg_new(&init);
    memset(block, 0, sizeof(block));
    memset(users, 0, sizeof(users));

    cr_assert_not(smq_props_has(&msg->props, SMQ_PROP_TOPIC_ALIAS));
    cr_assert_eq(msg->props.topic_alias, 0);
    cr_assert_not(smq_props_has(&msg->props, SMQ_PROP_SUBSCRIPTION_ID));
    cr_assert_eq(msg->props.subscription_id, 0);
    cr_assert_eq(msg->props.sub_id_count, 0);
    cr_assert_null(msg->props.sub_ids);
    cr_assert_eq(msg->props.sub_ids_len, 0);
    uint32_t sub_id;
    size_t pos = 0;
    cr_assert_not(smq_props_next_sub_id(&msg->props, &pos, &sub_id));

    /* Message Expiry is kept as an absolute time, not as a property to copy. */
    cr_assert_not(smq_props_has(&msg->props, SMQ_PROP_MESSAGE_EXPIRY));
    cr_assert(msg->has_expiry);
    cr_assert_eq(msg->expires_at_ms, 61000);

    cr_assert_eq(msg->props.present, SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT) |
                                         SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE) |
                                         SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY));
    cr_assert_eq(msg->props.payload_format, 1);
    cr_assert(smq_span_eq_str(msg->props.content_type, "text/plain"));
    cr_assert_eq(msg->props.user_count, 2);
    cr_assert_eq(msg->props.multi.len, 2 * (5 + 1 + 1));
    struct smq_span key, value;
    pos = 0;
    cr_assert(smq_props_next_user(&msg->props, &pos, &key, &value));
    cr_assert(smq_span_eq_str(key, "a"));
    cr_assert(smq_span_eq_str(value, "1"));
    cr_assert(smq_props_next_user(&msg->props, &pos, &key, &value));
    cr_assert(smq_span_eq_str(key, "b"));
    cr_assert(smq_span_eq_str(value, "2"));
    cr_assert_not(smq_props_next_user(&msg->props, &pos, &key, &value));

    /* The message's props encode as a forwardable block: scalars, then the user props. */
    uint8_t out[128];
    size_t out_len = smq_props_encode(out, &msg->props);
    cr_assert_eq(out_len, smq_props_size(&msg->props));
    struct smq_props again;
    n = smq_props_decode(out, out_len, SMQ_PUBLISH, SMQ_DEFAULT_MAX_USER_PROPS, &again, &reason);
    cr_assert_eq(n, (ssize_t)out_len);
    cr_assert_eq(again.present, msg->props.present);
    cr_assert_eq(again.user_count, 2);
    cr_assert_eq(again.sub_id_count, 0);
    smq_msg_unref(msg);
}

Test(msg, expiry_is_absolute_from_creator_clock)
{
    struct smq_msg *msg = new_expiring(10, 5000);
    cr_assert(msg->has_expiry);
    cr_assert_eq(msg->expires_at_ms, 15000);
    cr_assert_not(smq_msg_is_expired(msg, 5000));
    cr_assert_not(smq_msg_is_expired(msg, 14999));
    cr_assert(smq_msg_is_expired(msg, 15000));
    cr_assert(smq_msg_is_expired(msg, 20000));
    smq_msg_unref(msg);
}

Test(msg, expiry_left_rounds_up_and_never_zero_before_expiry)
{
    struct smq_msg *msg = new_expiring(10, 5000);
    cr_assert_eq(smq_msg_expiry_left(msg, 5000), 10);
    cr_assert_eq(smq_msg_expiry_left(msg, 5001), 10);
    cr_assert_eq(smq_msg_expiry_left(msg, 5999), 10);
    cr_assert_eq(smq_msg_expiry_left(msg, 6000), 9);
    cr_assert_eq(smq_msg_expiry_left(msg, 6001), 9);
    cr_assert_eq(smq_msg_expiry_left(msg, 13999), 2);
    cr_assert_eq(smq_msg_expiry_left(msg, 14000), 1);
    cr_assert_eq(smq_msg_expiry_left(msg, 14999), 1); /* 1 ms left: still 1, not 0 */
    cr_assert_eq(smq_msg_expiry_left(msg, 15000), 0);
    cr_assert_eq(smq_msg_expiry_left(msg, 99999), 0);
    /* A clock behind the creator's (another worker) never reports more than the interval
     * plus the skew, and never wraps. */
    cr_assert_eq(smq_msg_expiry_left(msg, 4000), 11);
    for (int64_t now = 5000; now < 15000; now += 7)
        cr_assert_geq(smq_msg_expiry_left(msg, now), 1, "now %lld", (long long)now);
    smq_msg_unref(msg);
}

Test(msg, expiry_largest_interval_does_not_overflow)
{
    struct smq_msg *msg = new_expiring(UINT32_MAX, 1700000000000);
    cr_assert(msg->has_expiry);
    cr_assert_eq(msg->expires_at_ms, 1700000000000 + (int64_t)UINT32_MAX * 1000);
    cr_assert_eq(smq_msg_expiry_left(msg, 1700000000000), UINT32_MAX);
    cr_assert_eq(smq_msg_expiry_left(msg, 1700000000001), UINT32_MAX);
    cr_assert_eq(smq_msg_expiry_left(msg, 1700000001000), UINT32_MAX - 1);
    smq_msg_unref(msg);
}

Test(msg, expiry_zero_interval_is_expired_at_once)
{
    struct smq_msg *msg = new_expiring(0, 5000);
    cr_assert(msg->has_expiry);
    cr_assert(smq_msg_is_expired(msg, 5000));
    cr_assert_eq(smq_msg_expiry_left(msg, 5000), 0);
    smq_msg_unref(msg);
}

Test(msg, props_without_expiry_never_expire)
{
    struct smq_props props = {0};
    props.message_expiry = 5; /* value without its present bit: ignored */
    struct smq_msg_init init = {.topic = smq_span_str("t"), .now_ms = 100, .props = &props};
    struct smq_msg *msg = smq_msg_new(&init);
    cr_assert_not(msg->has_expiry);
    cr_assert_not(smq_msg_is_expired(msg, INT64_MAX));
    cr_assert_eq(smq_msg_expiry_left(msg, 100), 0);
    smq_msg_unref(msg);
}

Test(msg, restart_expiry_counts_the_interval_from_the_new_time)
{
    /* A will is built at CONNECT and published maybe hours later: its interval counts from
     * the publication. */
    struct smq_msg *msg = new_expiring(30, 1000);
    cr_assert_eq(msg->expiry_interval, 30);
    cr_assert_eq(msg->expires_at_ms, 31000);
    smq_msg_restart_expiry(msg, 3600000);
    cr_assert_eq(msg->expires_at_ms, 3630000);
    cr_assert_not(smq_msg_is_expired(msg, 3629999));
    cr_assert_eq(smq_msg_expiry_left(msg, 3600000), 30);
    smq_msg_unref(msg);
}

Test(msg, restart_expiry_of_a_message_without_expiry_changes_nothing)
{
    struct smq_msg *msg = new_plain("t", "p", 0);
    smq_msg_restart_expiry(msg, 5000);
    cr_assert_not(msg->has_expiry);
    cr_assert_not(smq_msg_is_expired(msg, INT64_MAX));
    smq_msg_unref(msg);
}

static bool utf8(const void *p, size_t len)
{
    return smq_msg_payload_is_utf8(bytes(p, len));
}

Test(msg, payload_utf8_accepts_text_of_every_width)
{
    cr_assert(utf8("", 0));
    cr_assert(utf8(NULL, 0));
    cr_assert(utf8("plain ascii", 11));
    const char mixed[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* 2, 3, 4 bytes */
    cr_assert(utf8(mixed, sizeof(mixed) - 1));
}

Test(msg, payload_utf8_accepts_u0000_unlike_an_mqtt_string)
{
    const char nul[] = {'a', 0, 'b', 0, 0};
    cr_assert(utf8(nul, sizeof(nul)));
    const char only_nul[] = {0};
    cr_assert(utf8(only_nul, 1));
    const char nul_then_euro[] = {0, (char)0xe2, (char)0x82, (char)0xac};
    cr_assert(utf8(nul_then_euro, sizeof(nul_then_euro)));
}

Test(msg, payload_utf8_refuses_ill_formed_sequences)
{
    const uint8_t stray[] = {'a', 0x80, 'b'};           /* continuation byte alone */
    const uint8_t overlong[] = {0xc0, 0xaf};            /* '/' in two bytes */
    const uint8_t surrogate[] = {0xed, 0xa0, 0x80};     /* U+D800 */
    const uint8_t too_big[] = {0xf4, 0x90, 0x80, 0x80}; /* U+110000 */
    const uint8_t truncated[] = {'x', 0xe2, 0x82};      /* a 3-byte sequence cut short */
    const uint8_t split_by_nul[] = {0xe2, 0x00, 0x82, 0xac};
    const uint8_t binary[] = {0xff, 0xfe, 0x00, 0x01};
    cr_assert_not(utf8(stray, sizeof(stray)));
    cr_assert_not(utf8(overlong, sizeof(overlong)));
    cr_assert_not(utf8(surrogate, sizeof(surrogate)));
    cr_assert_not(utf8(too_big, sizeof(too_big)));
    cr_assert_not(utf8(truncated, sizeof(truncated)));
    cr_assert_not(utf8(split_by_nul, sizeof(split_by_nul)));
    cr_assert_not(utf8(binary, sizeof(binary)));
}

Test(msg, payload_utf8_checks_past_a_nul)
{
    const uint8_t bad_after[] = {'o', 'k', 0x00, 0xc3}; /* fine up to the NUL, bad after */
    cr_assert_not(utf8(bad_after, sizeof(bad_after)));
}

Test(msg, ref_and_unref_count)
{
    struct smq_msg *msg = new_plain("t", "p", SMQ_QOS1);
    cr_assert_eq(atomic_load(&msg->refs), 1);
    cr_assert_eq(smq_msg_ref(msg), msg);
    cr_assert_eq(atomic_load(&msg->refs), 2);
    smq_msg_ref(msg);
    cr_assert_eq(atomic_load(&msg->refs), 3);
    smq_msg_unref(msg);
    cr_assert_eq(atomic_load(&msg->refs), 2);
    smq_msg_unref(msg);
    cr_assert_eq(atomic_load(&msg->refs), 1);
    cr_assert(smq_span_eq_str(msg->payload, "p"));
    smq_msg_unref(msg); /* the last one frees; ASan reports a leak or a double free */
}

Test(msg, unref_null_is_allowed)
{
    smq_msg_unref(NULL);
}

Test(msg, cost_counts_struct_and_every_copied_byte)
{
    struct smq_msg *plain = new_plain("abc", "12345", SMQ_QOS0);
    cr_assert_eq(smq_msg_cost(plain), sizeof(struct smq_msg) + 3 + 5);
    smq_msg_unref(plain);

    uint8_t multi[64];
    size_t len = 0;
    put_user(multi, sizeof(multi), &len, "key", "value");
    struct smq_props props = {0};
    props.present = SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE) | SMQ_PROP_BIT(SMQ_PROP_RESPONSE_TOPIC) |
                    SMQ_PROP_BIT(SMQ_PROP_CORRELATION_DATA) | SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY);
    props.message_expiry = 30;
    props.content_type = smq_span_str("ct");
    props.response_topic = smq_span_str("r/t");
    props.correlation_data = smq_span_str("cdata");
    props.multi = bytes(multi, len);
    struct smq_msg_init init = {
        .topic = smq_span_str("abc"),
        .payload = smq_span_str("12345"),
        .props = &props,
    };
    struct smq_msg *msg = smq_msg_new(&init);
    cr_assert_eq(smq_msg_cost(msg),
                 sizeof(struct smq_msg) + 3 + 5 + 2 + 3 + 5 + (1 + 2 + 3 + 2 + 5));
    smq_msg_unref(msg);
}
