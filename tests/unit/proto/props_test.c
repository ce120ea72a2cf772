/* Tests for proto/props.c: MQTT 5.0 property blocks (2.2.2 and the property lists of
 * chapter 3), decoding with every rule of proto/README.md's Properties table, and encoding.
 *
 * Property blocks are built here byte by byte, independently of the encoder under test.
 * The allowed-context table is written out below from 2.2.2.2 (table 2-4) and checked in
 * every context; each rule is checked with its exact reason code. */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/reason.h"
#include "proto/span.h"

/* ---- a property block builder -------------------------------------------------------- */

#define PB_PREFIX 4 /* room for the longest length prefix */

/* A property block under construction: the body is written after PB_PREFIX bytes, and
 * pb_block() writes the length prefix right before it. */
struct pb {
    uint8_t *b; /* owned */
    size_t n;   /* end of the body, PB_PREFIX included */
    size_t cap;
    uint8_t small[1024];
};

static void pb_init(struct pb *p)
{
    p->b = p->small;
    p->cap = sizeof p->small;
    p->n = PB_PREFIX;
}

static void pb_dispose(struct pb *p)
{
    if (p->b != p->small)
        free(p->b);
}

static void pb_grow(struct pb *p, size_t more)
{
    if (p->n + more <= p->cap)
        return;
    size_t cap = p->cap * 2;
    while (cap < p->n + more)
        cap *= 2;
    uint8_t *nb = malloc(cap);
    cr_assert_not_null(nb);
    memcpy(nb, p->b, p->n);
    if (p->b != p->small)
        free(p->b);
    p->b = nb;
    p->cap = cap;
}

static void pb_u8(struct pb *p, uint8_t v)
{
    pb_grow(p, 1);
    p->b[p->n++] = v;
}

static void pb_u16(struct pb *p, uint16_t v)
{
    pb_u8(p, (uint8_t)(v >> 8));
    pb_u8(p, (uint8_t)v);
}

static void pb_u32(struct pb *p, uint32_t v)
{
    pb_u16(p, (uint16_t)(v >> 16));
    pb_u16(p, (uint16_t)v);
}

static void pb_varint(struct pb *p, uint32_t v)
{
    do {
        uint8_t byte = v & 0x7F;
        v >>= 7;
        pb_u8(p, v ? (uint8_t)(byte | 0x80) : byte);
    } while (v);
}

static void pb_raw(struct pb *p, const void *bytes, size_t len)
{
    pb_grow(p, len);
    memcpy(p->b + p->n, bytes, len);
    p->n += len;
}

/* A two-byte length and the bytes (UTF-8 strings and binary data). */
static void pb_bin(struct pb *p, const void *bytes, size_t len)
{
    pb_u16(p, (uint16_t)len);
    pb_raw(p, bytes, len);
}

static void pb_str(struct pb *p, const char *s)
{
    pb_bin(p, s, strlen(s));
}

static void pb_user(struct pb *p, const char *key, const char *value)
{
    pb_u8(p, SMQ_PROP_USER_PROPERTY);
    pb_str(p, key);
    pb_str(p, value);
}

/* One property: its identifier (one byte, as every defined id is below 128) and value. */
static void pb_p8(struct pb *p, uint8_t id, uint8_t v)
{
    pb_u8(p, id);
    pb_u8(p, v);
}

static void pb_p16(struct pb *p, uint8_t id, uint16_t v)
{
    pb_u8(p, id);
    pb_u16(p, v);
}

static void pb_p32(struct pb *p, uint8_t id, uint32_t v)
{
    pb_u8(p, id);
    pb_u32(p, v);
}

static void pb_pvar(struct pb *p, uint8_t id, uint32_t v)
{
    pb_u8(p, id);
    pb_varint(p, v);
}

static void pb_pstr(struct pb *p, uint8_t id, const char *s)
{
    pb_u8(p, id);
    pb_str(p, s);
}

static void pb_pbin(struct pb *p, uint8_t id, const void *bytes, size_t len)
{
    pb_u8(p, id);
    pb_bin(p, bytes, len);
}

/* Writes the length prefix before the body; returns the block and its length. */
static const uint8_t *pb_block(struct pb *p, size_t *len)
{
    size_t body = p->n - PB_PREFIX;
    uint8_t pre[4];
    size_t k = 0;
    size_t v = body;
    do {
        uint8_t byte = v & 0x7F;
        v >>= 7;
        pre[k++] = v ? (uint8_t)(byte | 0x80) : byte;
    } while (v);
    cr_assert(k <= PB_PREFIX);
    memcpy(p->b + PB_PREFIX - k, pre, k);
    *len = body + k;
    return p->b + PB_PREFIX - k;
}

/* Decodes the block of p in ctx with the given cap; asserts success and the length used. */
static void expect_ok_cap(struct pb *p, int ctx, uint16_t cap, struct smq_props *out)
{
    size_t len;
    const uint8_t *blk = pb_block(p, &len);
    uint8_t reason = 0xEE;
    memset(out, 0, sizeof *out);
    ssize_t n = smq_props_decode(blk, len, ctx, cap, out, &reason);
    cr_assert_eq(n, (ssize_t)len, "ctx %d: decode returned %zd (reason 0x%02X), expected %zu",
                 ctx, n, reason, len);
}

static void expect_ok(struct pb *p, int ctx, struct smq_props *out)
{
    expect_ok_cap(p, ctx, SMQ_DEFAULT_MAX_USER_PROPS, out);
}

/* Decodes the block of p without asserting, for tests that free p before they assert. */
static ssize_t decode_pb(struct pb *p, int ctx, uint16_t cap, struct smq_props *out,
                         uint8_t *reason, size_t *len)
{
    const uint8_t *blk = pb_block(p, len);
    *reason = 0xEE;
    memset(out, 0, sizeof *out);
    return smq_props_decode(blk, *len, ctx, cap, out, reason);
}

/* Decodes the block of p in ctx; asserts SMQ_EPROTO with the given reason. */
static void expect_fail_cap(struct pb *p, int ctx, uint16_t cap, uint8_t code)
{
    size_t len;
    const uint8_t *blk = pb_block(p, &len);
    uint8_t reason = 0xEE;
    struct smq_props out;
    memset(&out, 0, sizeof out);
    ssize_t n = smq_props_decode(blk, len, ctx, cap, &out, &reason);
    cr_assert_eq(n, SMQ_EPROTO, "ctx %d: decode returned %zd, expected SMQ_EPROTO", ctx, n);
    cr_assert_eq(reason, code, "ctx %d: reason 0x%02X, expected 0x%02X", ctx, reason, code);
}

static void expect_fail(struct pb *p, int ctx, uint8_t code)
{
    expect_fail_cap(p, ctx, SMQ_DEFAULT_MAX_USER_PROPS, code);
}

/* Decodes raw bytes (prefix included) and asserts SMQ_EPROTO with the given reason. */
static void expect_raw_fail(const uint8_t *bytes, size_t len, int ctx, uint8_t code)
{
    uint8_t reason = 0xEE;
    struct smq_props out;
    memset(&out, 0, sizeof out);
    ssize_t n = smq_props_decode(bytes, len, ctx, SMQ_DEFAULT_MAX_USER_PROPS, &out, &reason);
    cr_assert_eq(n, SMQ_EPROTO, "decode returned %zd, expected SMQ_EPROTO", n);
    cr_assert_eq(reason, code, "reason 0x%02X, expected 0x%02X", reason, code);
}

/* ---- the property table of 2.2.2.2, written out independently ------------------------ */

enum ptype { P_BYTE, P_U16, P_U32, P_VARINT, P_STR, P_BIN, P_PAIR };

#define C(ctx) (1u << (ctx))
#define CTX_WILL C(SMQ_PROPS_WILL)
#define CTX_ALL_BUT_PING                                                                       \
    (CTX_WILL | C(SMQ_CONNECT) | C(SMQ_CONNACK) | C(SMQ_PUBLISH) | C(SMQ_PUBACK) |             \
     C(SMQ_PUBREC) | C(SMQ_PUBREL) | C(SMQ_PUBCOMP) | C(SMQ_SUBSCRIBE) | C(SMQ_SUBACK) |       \
     C(SMQ_UNSUBSCRIBE) | C(SMQ_UNSUBACK) | C(SMQ_DISCONNECT) | C(SMQ_AUTH))

static const struct {
    uint8_t id;
    enum ptype type;
    uint32_t where;
} table[] = {
    {0x01, P_BYTE, C(SMQ_PUBLISH) | CTX_WILL},
    {0x02, P_U32, C(SMQ_PUBLISH) | CTX_WILL},
    {0x03, P_STR, C(SMQ_PUBLISH) | CTX_WILL},
    {0x08, P_STR, C(SMQ_PUBLISH) | CTX_WILL},
    {0x09, P_BIN, C(SMQ_PUBLISH) | CTX_WILL},
    {0x0B, P_VARINT, C(SMQ_PUBLISH) | C(SMQ_SUBSCRIBE)},
    {0x11, P_U32, C(SMQ_CONNECT) | C(SMQ_CONNACK) | C(SMQ_DISCONNECT)},
    {0x12, P_STR, C(SMQ_CONNACK)},
    {0x13, P_U16, C(SMQ_CONNACK)},
    {0x15, P_STR, C(SMQ_CONNECT) | C(SMQ_CONNACK) | C(SMQ_AUTH)},
    {0x16, P_BIN, C(SMQ_CONNECT) | C(SMQ_CONNACK) | C(SMQ_AUTH)},
    {0x17, P_BYTE, C(SMQ_CONNECT)},
    {0x18, P_U32, CTX_WILL},
    {0x19, P_BYTE, C(SMQ_CONNECT)},
    {0x1A, P_STR, C(SMQ_CONNACK)},
    {0x1C, P_STR, C(SMQ_CONNACK) | C(SMQ_DISCONNECT)},
    {0x1F, P_STR,
     C(SMQ_CONNACK) | C(SMQ_PUBACK) | C(SMQ_PUBREC) | C(SMQ_PUBREL) | C(SMQ_PUBCOMP) |
         C(SMQ_SUBACK) | C(SMQ_UNSUBACK) | C(SMQ_DISCONNECT) | C(SMQ_AUTH)},
    {0x21, P_U16, C(SMQ_CONNECT) | C(SMQ_CONNACK)},
    {0x22, P_U16, C(SMQ_CONNECT) | C(SMQ_CONNACK)},
    {0x23, P_U16, C(SMQ_PUBLISH)},
    {0x24, P_BYTE, C(SMQ_CONNACK)},
    {0x25, P_BYTE, C(SMQ_CONNACK)},
    {0x26, P_PAIR, CTX_ALL_BUT_PING},
    {0x27, P_U32, C(SMQ_CONNECT) | C(SMQ_CONNACK)},
    {0x28, P_BYTE, C(SMQ_CONNACK)},
    {0x29, P_BYTE, C(SMQ_CONNACK)},
    {0x2A, P_BYTE, C(SMQ_CONNACK)},
};
#define NTABLE (sizeof table / sizeof table[0])

/* The contexts a property block can sit in. */
static const int contexts[] = {SMQ_PROPS_WILL, SMQ_CONNECT,     SMQ_CONNACK,  SMQ_PUBLISH,
                               SMQ_PUBACK,     SMQ_PUBREC,      SMQ_PUBREL,   SMQ_PUBCOMP,
                               SMQ_SUBSCRIBE,  SMQ_SUBACK,      SMQ_UNSUBSCRIBE,
                               SMQ_UNSUBACK,   SMQ_DISCONNECT,  SMQ_AUTH};
#define NCONTEXTS (sizeof contexts / sizeof contexts[0])

/* Writes property table[i] with a value valid for every rule. */
static void pb_valid(struct pb *p, size_t i)
{
    pb_varint(p, table[i].id);
    switch (table[i].type) {
    case P_BYTE:
        pb_u8(p, 1);
        break;
    case P_U16:
        pb_u16(p, 10);
        break;
    case P_U32:
        pb_u32(p, 100);
        break;
    case P_VARINT:
        pb_varint(p, 5);
        break;
    case P_STR:
        pb_str(p, "a/b");
        break;
    case P_BIN:
        pb_bin(p, "\x01\x02", 2);
        break;
    case P_PAIR:
        pb_str(p, "k");
        pb_str(p, "v");
        break;
    }
}

/* Returns the first context in which table[i] is allowed. */
static int first_ctx(size_t i)
{
    for (size_t c = 0; c < NCONTEXTS; c++)
        if (table[i].where & C(contexts[c]))
            return contexts[c];
    cr_assert_fail("no context for 0x%02X", table[i].id);
    return -1;
}

static size_t table_index(uint8_t id)
{
    for (size_t i = 0; i < NTABLE; i++)
        if (table[i].id == id)
            return i;
    cr_assert_fail("0x%02X not in table", id);
    return 0;
}

/* ---- empty and framing --------------------------------------------------------------- */

Test(props, empty_block_decodes_to_nothing)
{
    const uint8_t blk[] = {0x00};
    struct smq_props out;
    memset(&out, 0xFF, sizeof out);
    uint8_t reason = 0xEE;
    cr_assert_eq(smq_props_decode(blk, 1, SMQ_PUBLISH, 128, &out, &reason), 1);
    cr_assert_eq(out.present, 0);
    cr_assert_eq(out.user_count, 0);
    cr_assert_eq(out.sub_id_count, 0);
}

Test(props, empty_block_is_allowed_in_every_context)
{
    const uint8_t blk[] = {0x00};
    for (size_t c = 0; c < NCONTEXTS; c++) {
        struct smq_props out;
        uint8_t reason = 0xEE;
        cr_assert_eq(smq_props_decode(blk, 1, contexts[c], 128, &out, &reason), 1, "ctx %d",
                     contexts[c]);
    }
}

Test(props, decode_returns_only_the_block_length_when_bytes_follow)
{
    const uint8_t blk[] = {0x03, 0x23, 0x00, 0x07, 'p', 'a', 'y'};
    struct smq_props out;
    uint8_t reason;
    cr_assert_eq(smq_props_decode(blk, sizeof blk, SMQ_PUBLISH, 128, &out, &reason), 4);
    cr_assert_eq(out.topic_alias, 7);
}

Test(props, block_with_two_byte_length_prefix_decodes)
{
    struct pb p;
    pb_init(&p);
    for (int i = 0; i < 30; i++)
        pb_user(&p, "key", "value"); /* 30 * 13 = 390 bytes */
    struct smq_props out;
    expect_ok(&p, SMQ_PUBLISH, &out);
    cr_assert_eq(out.user_count, 30);
    pb_dispose(&p);
}

/* A property block is inside a complete packet, so running past its end is malformed,
 * never "need more" (2.2.2.1). */
Test(props, missing_length_prefix_is_malformed)
{
    const uint8_t blk[] = {0x00};
    expect_raw_fail(blk, 0, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, truncated_length_prefix_is_malformed)
{
    const uint8_t blk[] = {0x80};
    expect_raw_fail(blk, 1, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    const uint8_t blk2[] = {0xFF, 0xFF, 0xFF};
    expect_raw_fail(blk2, 3, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

/* [MQTT-1.5.5-1] the property length is a variable byte integer: minimal, at most 4 bytes. */
Test(props, non_minimal_length_prefix_is_malformed)
{
    const uint8_t blk[] = {0x80, 0x00};
    expect_raw_fail(blk, sizeof blk, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    const uint8_t blk2[] = {0x83, 0x00, 0x23, 0x00, 0x01};
    expect_raw_fail(blk2, sizeof blk2, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, five_byte_length_prefix_is_malformed)
{
    const uint8_t blk[] = {0x80, 0x80, 0x80, 0x80, 0x01, 0x00};
    expect_raw_fail(blk, sizeof blk, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, block_length_past_the_end_is_malformed)
{
    const uint8_t blk[] = {0x05, 0x23, 0x00, 0x01};
    expect_raw_fail(blk, sizeof blk, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    const uint8_t blk2[] = {0x01};
    expect_raw_fail(blk2, sizeof blk2, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    const uint8_t blk3[] = {0xC8, 0x01, 0x23, 0x00, 0x01}; /* 200 declared */
    expect_raw_fail(blk3, sizeof blk3, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, block_length_one_short_of_the_bytes_is_malformed)
{
    /* Declares 3 bytes, but the Topic Alias needs 3 (id + 2). The 4th byte exists in src. */
    const uint8_t blk[] = {0x02, 0x23, 0x00, 0x01};
    expect_raw_fail(blk, sizeof blk, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

/* ---- each data type, decoded --------------------------------------------------------- */

Test(props, publish_properties_decode)
{
    struct pb p;
    pb_init(&p);
    pb_p8(&p, 0x01, 1); /* payload format: UTF-8 */
    pb_p32(&p, 0x02, 0x01020304); /* message expiry */
    pb_pstr(&p, 0x03, "text/plain");
    pb_pstr(&p, 0x08, "resp/a");
    pb_pbin(&p, 0x09, "\x00\xFF\x80", 3); /* binary data is not UTF-8 checked */
    pb_pvar(&p, 0x0B, 300);
    pb_p16(&p, 0x23, 0x0A0B);
    pb_user(&p, "k", "v");
    struct smq_props o;
    expect_ok(&p, SMQ_PUBLISH, &o);

    uint64_t want = SMQ_PROP_BIT(0x01) | SMQ_PROP_BIT(0x02) | SMQ_PROP_BIT(0x03) |
                    SMQ_PROP_BIT(0x08) | SMQ_PROP_BIT(0x09) | SMQ_PROP_BIT(0x0B) |
                    SMQ_PROP_BIT(0x23);
    cr_assert_eq(o.present & ~SMQ_PROP_BIT(0x26), want);
    cr_assert_eq(o.payload_format, 1);
    cr_assert_eq(o.message_expiry, 0x01020304u);
    cr_assert(smq_span_eq_str(o.content_type, "text/plain"));
    cr_assert(smq_span_eq_str(o.response_topic, "resp/a"));
    cr_assert_eq(o.correlation_data.len, 3);
    cr_assert_arr_eq(o.correlation_data.ptr, "\x00\xFF\x80", 3);
    cr_assert_eq(o.subscription_id, 300);
    cr_assert_eq(o.sub_id_count, 1);
    cr_assert_eq(o.topic_alias, 0x0A0B);
    cr_assert_eq(o.user_count, 1);
    cr_assert(smq_props_has(&o, SMQ_PROP_TOPIC_ALIAS));
    cr_assert_not(smq_props_has(&o, SMQ_PROP_SESSION_EXPIRY));
    pb_dispose(&p);
}

Test(props, connect_properties_decode)
{
    struct pb p;
    pb_init(&p);
    pb_p32(&p, 0x11, 0xFFFFFFFF); /* session expiry: never */
    pb_p16(&p, 0x21, 65535); /* receive maximum */
    pb_p32(&p, 0x27, 1000); /* maximum packet size */
    pb_p16(&p, 0x22, 0); /* topic alias maximum 0 is allowed */
    pb_p8(&p, 0x19, 1); /* request response information */
    pb_p8(&p, 0x17, 0); /* request problem information */
    pb_pstr(&p, 0x15, "SCRAM-SHA-1");
    pb_pbin(&p, 0x16, "\x01\x02\x03", 3);
    struct smq_props o;
    expect_ok(&p, SMQ_CONNECT, &o);
    cr_assert_eq(o.present, SMQ_PROP_BIT(0x11) | SMQ_PROP_BIT(0x21) | SMQ_PROP_BIT(0x27) |
                                SMQ_PROP_BIT(0x22) | SMQ_PROP_BIT(0x19) | SMQ_PROP_BIT(0x17) |
                                SMQ_PROP_BIT(0x15) | SMQ_PROP_BIT(0x16));
    cr_assert_eq(o.session_expiry, 0xFFFFFFFFu);
    cr_assert_eq(o.receive_maximum, 65535);
    cr_assert_eq(o.maximum_packet_size, 1000);
    cr_assert_eq(o.topic_alias_maximum, 0);
    cr_assert_eq(o.request_response_info, 1);
    cr_assert_eq(o.request_problem_info, 0);
    cr_assert(smq_span_eq_str(o.auth_method, "SCRAM-SHA-1"));
    cr_assert(smq_span_eq_str(o.auth_data, "\x01\x02\x03"));
    pb_dispose(&p);
}

Test(props, connack_properties_decode)
{
    struct pb p;
    pb_init(&p);
    pb_p32(&p, 0x11, 60);
    pb_pstr(&p, 0x12, "auto-1234");
    pb_p16(&p, 0x13, 30);
    pb_pstr(&p, 0x1A, "info");
    pb_pstr(&p, 0x1C, "other:1883");
    pb_pstr(&p, 0x1F, "why");
    pb_p16(&p, 0x21, 20);
    pb_p16(&p, 0x22, 10);
    pb_p8(&p, 0x24, 1); /* maximum QoS */
    pb_p8(&p, 0x25, 0);
    pb_p32(&p, 0x27, 268435460);
    pb_p8(&p, 0x28, 1);
    pb_p8(&p, 0x29, 0);
    pb_p8(&p, 0x2A, 1);
    struct smq_props o;
    expect_ok(&p, SMQ_CONNACK, &o);
    cr_assert_eq(o.session_expiry, 60);
    cr_assert(smq_span_eq_str(o.assigned_client_id, "auto-1234"));
    cr_assert_eq(o.server_keep_alive, 30);
    cr_assert(smq_span_eq_str(o.response_info, "info"));
    cr_assert(smq_span_eq_str(o.server_reference, "other:1883"));
    cr_assert(smq_span_eq_str(o.reason_string, "why"));
    cr_assert_eq(o.receive_maximum, 20);
    cr_assert_eq(o.topic_alias_maximum, 10);
    cr_assert_eq(o.maximum_qos, 1);
    cr_assert_eq(o.retain_available, 0);
    cr_assert_eq(o.maximum_packet_size, 268435460u);
    cr_assert_eq(o.wildcard_sub_available, 1);
    cr_assert_eq(o.sub_id_available, 0);
    cr_assert_eq(o.shared_sub_available, 1);
    cr_assert(smq_props_has(&o, SMQ_PROP_RETAIN_AVAILABLE), "a 0 value is still present");
    cr_assert(smq_props_has(&o, SMQ_PROP_SUB_ID_AVAILABLE));
    pb_dispose(&p);
}

Test(props, maximum_qos_zero_decodes)
{
    struct pb p;
    pb_init(&p);
    pb_p8(&p, 0x24, 0);
    struct smq_props o;
    expect_ok(&p, SMQ_CONNACK, &o);
    cr_assert(smq_props_has(&o, SMQ_PROP_MAXIMUM_QOS));
    cr_assert_eq(o.maximum_qos, 0);
    pb_dispose(&p);
}

Test(props, will_properties_decode)
{
    struct pb p;
    pb_init(&p);
    pb_p32(&p, 0x18, 3600); /* will delay */
    pb_p8(&p, 0x01, 0);
    pb_p32(&p, 0x02, 0);
    pb_pstr(&p, 0x03, "");
    pb_pstr(&p, 0x08, "r");
    pb_pbin(&p, 0x09, "", 0);
    pb_user(&p, "a", "b");
    struct smq_props o;
    expect_ok(&p, SMQ_PROPS_WILL, &o);
    cr_assert_eq(o.will_delay, 3600);
    cr_assert_eq(o.payload_format, 0);
    cr_assert(smq_props_has(&o, SMQ_PROP_MESSAGE_EXPIRY));
    cr_assert_eq(o.content_type.len, 0);
    cr_assert(smq_props_has(&o, SMQ_PROP_CONTENT_TYPE));
    cr_assert(smq_span_eq_str(o.response_topic, "r"));
    cr_assert(smq_props_has(&o, SMQ_PROP_CORRELATION_DATA));
    cr_assert_eq(o.correlation_data.len, 0);
    cr_assert_eq(o.user_count, 1);
    pb_dispose(&p);
}

Test(props, disconnect_and_auth_properties_decode)
{
    struct pb p;
    pb_init(&p);
    pb_p32(&p, 0x11, 0);
    pb_pstr(&p, 0x1C, "srv");
    pb_pstr(&p, 0x1F, "bye");
    struct smq_props o;
    expect_ok(&p, SMQ_DISCONNECT, &o);
    cr_assert(smq_span_eq_str(o.server_reference, "srv"));
    cr_assert(smq_span_eq_str(o.reason_string, "bye"));
    pb_dispose(&p);

    pb_init(&p);
    pb_pstr(&p, 0x15, "m");
    pb_pbin(&p, 0x16, "d", 1);
    pb_pstr(&p, 0x1F, "again");
    expect_ok(&p, SMQ_AUTH, &o);
    cr_assert(smq_span_eq_str(o.auth_method, "m"));
    cr_assert(smq_span_eq_str(o.auth_data, "d"));
    cr_assert(smq_span_eq_str(o.reason_string, "again"));
    pb_dispose(&p);
}

Test(props, reason_string_decodes_in_every_ack)
{
    static const int acks[] = {SMQ_PUBACK, SMQ_PUBREC, SMQ_PUBREL, SMQ_PUBCOMP, SMQ_SUBACK,
                               SMQ_UNSUBACK};
    for (size_t i = 0; i < sizeof acks / sizeof acks[0]; i++) {
        struct pb p;
        pb_init(&p);
        pb_pstr(&p, 0x1F, "because");
        struct smq_props o;
        expect_ok(&p, acks[i], &o);
        cr_assert(smq_span_eq_str(o.reason_string, "because"));
    }
}

Test(props, subscription_id_maximum_decodes_in_subscribe)
{
    struct pb p;
    pb_init(&p);
    pb_pvar(&p, 0x0B, SMQ_VARINT_MAX);
    struct smq_props o;
    expect_ok(&p, SMQ_SUBSCRIBE, &o);
    cr_assert_eq(o.subscription_id, SMQ_VARINT_MAX);
    cr_assert_eq(o.sub_id_count, 1);
}

Test(props, decoded_strings_are_views_into_the_input)
{
    struct pb p;
    pb_init(&p);
    pb_pstr(&p, 0x03, "ct");
    size_t len;
    const uint8_t *blk = pb_block(&p, &len);
    struct smq_props o;
    uint8_t reason;
    cr_assert_eq(smq_props_decode(blk, len, SMQ_PUBLISH, 128, &o, &reason), (ssize_t)len);
    cr_assert(o.content_type.ptr >= blk && o.content_type.ptr + 2 <= blk + len);
}

/* ---- where each property may appear -------------------------------------------------- */

/* 2.2.2.2 table 2-4: each property in every context, allowed or 0x81 (README). */
Test(props, every_property_in_every_context_follows_the_table)
{
    for (size_t i = 0; i < NTABLE; i++) {
        for (size_t c = 0; c < NCONTEXTS; c++) {
            int ctx = contexts[c];
            bool allowed = (table[i].where & C(ctx)) != 0;
            struct pb p;
            pb_init(&p);
            if (allowed && table[i].id == SMQ_PROP_AUTH_DATA) {
                pb_pstr(&p, SMQ_PROP_AUTH_METHOD, "m");
            }
            pb_valid(&p, i);
            size_t len;
            const uint8_t *blk = pb_block(&p, &len);
            struct smq_props o;
            uint8_t reason = 0xEE;
            ssize_t n = smq_props_decode(blk, len, ctx, 128, &o, &reason);
            if (allowed) {
                cr_assert_eq(n, (ssize_t)len, "0x%02X in ctx %d: %zd reason 0x%02X",
                             table[i].id, ctx, n, reason);
                if (table[i].id != SMQ_PROP_USER_PROPERTY)
                    cr_assert(o.present & SMQ_PROP_BIT(table[i].id), "0x%02X present",
                              table[i].id);
            } else {
                cr_assert_eq(n, SMQ_EPROTO, "0x%02X in ctx %d accepted", table[i].id, ctx);
                cr_assert_eq(reason, SMQ_RC_MALFORMED, "0x%02X in ctx %d: reason 0x%02X",
                             table[i].id, ctx, reason);
            }
        }
    }
}

/* 3.1.2.11: Topic Alias is a PUBLISH property; in CONNECT it is not allowed. */
Test(props, topic_alias_in_connect_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_p16(&p, 0x23, 1);
    expect_fail(&p, SMQ_CONNECT, SMQ_RC_MALFORMED);
}

/* 3.3.2.3: Will Delay Interval belongs to the will properties only. */
Test(props, will_delay_in_publish_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_p32(&p, 0x18, 5);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    pb_init(&p);
    pb_p32(&p, 0x18, 5);
    expect_fail(&p, SMQ_CONNECT, SMQ_RC_MALFORMED);
}

Test(props, session_expiry_in_will_properties_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_p32(&p, 0x11, 5);
    expect_fail(&p, SMQ_PROPS_WILL, SMQ_RC_MALFORMED);
}

Test(props, subscription_id_in_connect_and_suback_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_pvar(&p, 0x0B, 1);
    expect_fail(&p, SMQ_CONNECT, SMQ_RC_MALFORMED);
    pb_init(&p);
    pb_pvar(&p, 0x0B, 1);
    expect_fail(&p, SMQ_SUBACK, SMQ_RC_MALFORMED);
}

Test(props, reason_string_in_publish_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_pstr(&p, 0x1F, "x");
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, disallowed_property_after_allowed_ones_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_user(&p, "k", "v");
    pb_p16(&p, 0x23, 1);
    pb_u8(&p, 0x24); /* Maximum QoS: CONNACK only */
    pb_u8(&p, 0);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

/* ---- unknown and badly encoded identifiers ------------------------------------------- */

static bool is_known(uint32_t id)
{
    for (size_t i = 0; i < NTABLE; i++)
        if (table[i].id == id)
            return true;
    return false;
}

/* 2.2.2.2: an identifier not in the table is malformed. */
Test(props, every_unknown_identifier_is_malformed)
{
    for (uint32_t id = 0; id < 128; id++) {
        if (is_known(id))
            continue;
        for (size_t c = 0; c < NCONTEXTS; c++) {
            struct pb p;
            pb_init(&p);
            pb_u8(&p, (uint8_t)id);
            pb_u32(&p, 0x00000001);
            expect_fail(&p, contexts[c], SMQ_RC_MALFORMED);
        }
    }
}

Test(props, unknown_identifier_after_valid_ones_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_p16(&p, 0x23, 1);
    pb_p8(&p, 0x04, 0);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, two_byte_identifiers_are_unknown)
{
    struct pb p;
    pb_init(&p);
    pb_varint(&p, 128);
    pb_u8(&p, 0);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    pb_init(&p);
    pb_varint(&p, 16383);
    pb_u8(&p, 0);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

/* [MQTT-1.5.5-1] the identifier is a variable byte integer, minimally encoded (README). */
Test(props, identifier_not_minimally_encoded_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_raw(&p, "\x81\x00", 2); /* Payload Format Indicator (1) in two bytes */
    pb_u8(&p, 1);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);

    pb_init(&p);
    pb_raw(&p, "\xA6\x00", 2); /* User Property (0x26) in two bytes */
    pb_str(&p, "k");
    pb_str(&p, "v");
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);

    pb_init(&p);
    pb_raw(&p, "\xA3\x80\x00", 3); /* Topic Alias (0x23) in three bytes */
    pb_u16(&p, 1);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, identifier_cut_by_the_block_end_is_malformed)
{
    const uint8_t blk[] = {0x01, 0x80};
    expect_raw_fail(blk, sizeof blk, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

/* ---- duplicates ---------------------------------------------------------------------- */

/* 2.2.2.2 / chapter 3: "It is a Protocol Error to include [property] more than once", for
 * every property but User Property (and Subscription Identifier in PUBLISH). */
Test(props, every_non_repeatable_property_twice_is_a_protocol_error)
{
    for (size_t i = 0; i < NTABLE; i++) {
        uint8_t id = table[i].id;
        if (id == SMQ_PROP_USER_PROPERTY || id == SMQ_PROP_SUBSCRIPTION_ID)
            continue;
        int ctx = first_ctx(i);
        struct pb p;
        pb_init(&p);
        if (id == SMQ_PROP_AUTH_DATA) {
            pb_pstr(&p, SMQ_PROP_AUTH_METHOD, "m");
        }
        pb_valid(&p, i);
        pb_valid(&p, i);
        expect_fail(&p, ctx, SMQ_RC_PROTOCOL_ERROR);
    }
}

Test(props, every_non_repeatable_property_twice_in_every_allowed_context)
{
    for (size_t i = 0; i < NTABLE; i++) {
        uint8_t id = table[i].id;
        if (id == SMQ_PROP_USER_PROPERTY)
            continue;
        for (size_t c = 0; c < NCONTEXTS; c++) {
            int ctx = contexts[c];
            if (!(table[i].where & C(ctx)))
                continue;
            if (id == SMQ_PROP_SUBSCRIPTION_ID && ctx == SMQ_PUBLISH)
                continue;
            struct pb p;
            pb_init(&p);
            if (id == SMQ_PROP_AUTH_DATA) {
                pb_pstr(&p, SMQ_PROP_AUTH_METHOD, "m");
            }
            pb_valid(&p, i);
            pb_user(&p, "between", "them");
            pb_valid(&p, i);
            expect_fail(&p, ctx, SMQ_RC_PROTOCOL_ERROR);
        }
    }
}

Test(props, duplicate_with_a_different_value_is_a_protocol_error)
{
    struct pb p;
    pb_init(&p);
    pb_p32(&p, 0x02, 1);
    pb_p32(&p, 0x02, 2);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_PROTOCOL_ERROR);
}

/* [MQTT-3.1.2-..] 3.1.2.11.8: "The User Property is allowed to appear multiple times". */
Test(props, user_property_repeats)
{
    struct pb p;
    pb_init(&p);
    pb_user(&p, "a", "1");
    pb_user(&p, "a", "2"); /* the same name twice is allowed too */
    pb_user(&p, "b", "3");
    struct smq_props o;
    expect_ok(&p, SMQ_CONNECT, &o);
    cr_assert_eq(o.user_count, 3);
    pb_dispose(&p);
}

/* 3.3.2.3.8: a PUBLISH may carry several Subscription Identifiers. */
Test(props, subscription_id_repeats_in_publish)
{
    struct pb p;
    pb_init(&p);
    pb_pvar(&p, 0x0B, 1);
    pb_pvar(&p, 0x0B, SMQ_VARINT_MAX);
    pb_pvar(&p, 0x0B, 7);
    struct smq_props o;
    expect_ok(&p, SMQ_PUBLISH, &o);
    cr_assert_eq(o.sub_id_count, 3);
    cr_assert_eq(o.subscription_id, 1, "the first one");
    size_t pos = 0;
    uint32_t id;
    cr_assert(smq_props_next_sub_id(&o, &pos, &id));
    cr_assert_eq(id, 1);
    cr_assert(smq_props_next_sub_id(&o, &pos, &id));
    cr_assert_eq(id, SMQ_VARINT_MAX);
    cr_assert(smq_props_next_sub_id(&o, &pos, &id));
    cr_assert_eq(id, 7);
    cr_assert_not(smq_props_next_sub_id(&o, &pos, &id));
}

/* 3.8.2.1.2: "It is a Protocol Error to include the Subscription Identifier more than once"
 * in a SUBSCRIBE. */
Test(props, subscription_id_twice_in_subscribe_is_a_protocol_error)
{
    struct pb p;
    pb_init(&p);
    pb_pvar(&p, 0x0B, 1);
    pb_pvar(&p, 0x0B, 2);
    expect_fail(&p, SMQ_SUBSCRIBE, SMQ_RC_PROTOCOL_ERROR);
}

/* ---- value rules --------------------------------------------------------------------- */

/* 3.1.2.11.3 / 3.2.2.3.3: "It is a Protocol Error to include the value 0" (Receive Maximum). */
Test(props, receive_maximum_zero_is_a_protocol_error)
{
    struct pb p;
    pb_init(&p);
    pb_p16(&p, 0x21, 0);
    expect_fail(&p, SMQ_CONNECT, SMQ_RC_PROTOCOL_ERROR);
    pb_init(&p);
    pb_p16(&p, 0x21, 0);
    expect_fail(&p, SMQ_CONNACK, SMQ_RC_PROTOCOL_ERROR);
}

/* 3.1.2.11.4 / 3.2.2.3.6: Maximum Packet Size 0 is a Protocol Error. */
Test(props, maximum_packet_size_zero_is_a_protocol_error)
{
    struct pb p;
    pb_init(&p);
    pb_p32(&p, 0x27, 0);
    expect_fail(&p, SMQ_CONNECT, SMQ_RC_PROTOCOL_ERROR);
    pb_init(&p);
    pb_p32(&p, 0x27, 0);
    expect_fail(&p, SMQ_CONNACK, SMQ_RC_PROTOCOL_ERROR);
}

/* [MQTT-3.3.2-8] a Topic Alias value of 0 is not permitted: Topic Alias invalid. */
Test(props, topic_alias_zero_is_topic_alias_invalid)
{
    struct pb p;
    pb_init(&p);
    pb_p16(&p, 0x23, 0);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_TOPIC_ALIAS_INVALID);
}

/* 3.3.2.3.8 / 3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error. */
Test(props, subscription_id_zero_is_a_protocol_error)
{
    struct pb p;
    pb_init(&p);
    pb_pvar(&p, 0x0B, 0);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_PROTOCOL_ERROR);
    pb_init(&p);
    pb_pvar(&p, 0x0B, 0);
    expect_fail(&p, SMQ_SUBSCRIBE, SMQ_RC_PROTOCOL_ERROR);
}

Test(props, subscription_id_zero_after_a_valid_one_is_a_protocol_error)
{
    struct pb p;
    pb_init(&p);
    pb_pvar(&p, 0x0B, 4);
    pb_pvar(&p, 0x0B, 0);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_PROTOCOL_ERROR);
}

Test(props, subscription_id_not_minimally_encoded_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_p8(&p, 0x0B, 0x81);
    pb_u8(&p, 0x00);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, subscription_id_of_five_bytes_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_u8(&p, 0x0B);
    pb_raw(&p, "\xFF\xFF\xFF\xFF\x01", 5);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, values_that_may_be_zero_are_accepted)
{
    static const struct {
        uint8_t id;
        int ctx;
        int width;
    } zeros[] = {
        {0x02, SMQ_PUBLISH, 4},  {0x11, SMQ_CONNECT, 4}, {0x13, SMQ_CONNACK, 2},
        {0x18, SMQ_PROPS_WILL, 4}, {0x22, SMQ_CONNECT, 2}, {0x22, SMQ_CONNACK, 2},
    };
    for (size_t i = 0; i < sizeof zeros / sizeof zeros[0]; i++) {
        struct pb p;
        pb_init(&p);
        pb_u8(&p, zeros[i].id);
        if (zeros[i].width == 2)
            pb_u16(&p, 0);
        else
            pb_u32(&p, 0);
        struct smq_props o;
        expect_ok(&p, zeros[i].ctx, &o);
        cr_assert(o.present & SMQ_PROP_BIT(zeros[i].id));
    }
}

/* Flag bytes: 2.2.2.2 and chapter 3, "It is a Protocol Error to include a value other than
 * 0 or 1" (Request Problem/Response Information, Retain/Wildcard/Subscription Identifier/
 * Shared Subscription Available); Payload Format Indicator has only 0 and 1 defined. */
Test(props, every_flag_byte_above_one_is_a_protocol_error)
{
    static const struct {
        uint8_t id;
        int ctx;
    } flags[] = {
        {0x01, SMQ_PUBLISH}, {0x01, SMQ_PROPS_WILL}, {0x17, SMQ_CONNECT}, {0x19, SMQ_CONNECT},
        {0x25, SMQ_CONNACK}, {0x28, SMQ_CONNACK},    {0x29, SMQ_CONNACK}, {0x2A, SMQ_CONNACK},
    };
    static const uint8_t bad[] = {2, 3, 0x7F, 0x80, 0xFF};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        for (size_t v = 0; v < sizeof bad; v++) {
            struct pb p;
            pb_init(&p);
            pb_p8(&p, flags[i].id, bad[v]);
            expect_fail(&p, flags[i].ctx, SMQ_RC_PROTOCOL_ERROR);
        }
        for (uint8_t v = 0; v <= 1; v++) {
            struct pb p;
            pb_init(&p);
            pb_p8(&p, flags[i].id, v);
            struct smq_props o;
            expect_ok(&p, flags[i].ctx, &o);
        }
    }
}

/* 3.2.2.3.4: "It is a Protocol Error to include Maximum QoS more than once, or to have a
 * value other than 0 or 1." */
Test(props, maximum_qos_two_is_a_protocol_error)
{
    struct pb p;
    pb_init(&p);
    pb_p8(&p, 0x24, 2);
    expect_fail(&p, SMQ_CONNACK, SMQ_RC_PROTOCOL_ERROR);
    pb_init(&p);
    pb_p8(&p, 0x24, 0xFF);
    expect_fail(&p, SMQ_CONNACK, SMQ_RC_PROTOCOL_ERROR);
}

/* 3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is no
 * Authentication Method." */
Test(props, auth_data_without_auth_method_is_a_protocol_error)
{
    static const int ctxs[] = {SMQ_CONNECT, SMQ_CONNACK, SMQ_AUTH};
    for (size_t i = 0; i < 3; i++) {
        struct pb p;
        pb_init(&p);
        pb_pbin(&p, 0x16, "data", 4);
        expect_fail(&p, ctxs[i], SMQ_RC_PROTOCOL_ERROR);
    }
}

Test(props, auth_data_before_auth_method_is_accepted)
{
    struct pb p;
    pb_init(&p);
    pb_pbin(&p, 0x16, "data", 4);
    pb_pstr(&p, 0x15, "m");
    struct smq_props o;
    expect_ok(&p, SMQ_CONNECT, &o);
    cr_assert(smq_span_eq_str(o.auth_data, "data"));
}

Test(props, auth_method_without_data_is_accepted)
{
    struct pb p;
    pb_init(&p);
    pb_pstr(&p, 0x15, "m");
    struct smq_props o;
    expect_ok(&p, SMQ_AUTH, &o);
    cr_assert_not(smq_props_has(&o, SMQ_PROP_AUTH_DATA));
}

/* ---- truncated values ---------------------------------------------------------------- */

/* Every fixed-width value cut at every length inside its block is malformed. */
Test(props, every_truncated_fixed_width_value_is_malformed)
{
    for (size_t i = 0; i < NTABLE; i++) {
        size_t width;
        switch (table[i].type) {
        case P_BYTE:
            width = 1;
            break;
        case P_U16:
            width = 2;
            break;
        case P_U32:
            width = 4;
            break;
        default:
            continue;
        }
        for (size_t cut = 0; cut < width; cut++) {
            struct pb p;
            pb_init(&p);
            pb_u8(&p, table[i].id);
            for (size_t k = 0; k < cut; k++)
                pb_u8(&p, 0);
            expect_fail(&p, first_ctx(i), SMQ_RC_MALFORMED);
        }
    }
}

/* The value must end inside the block even when src holds more bytes after it. */
Test(props, value_running_past_block_end_is_malformed_even_if_bytes_follow)
{
    const uint8_t blk[] = {0x03, 0x02, 0x00, 0x00, 0x00, 0x05};
    expect_raw_fail(blk, sizeof blk, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    const uint8_t blk2[] = {0x04, 0x03, 0x00, 0x03, 'a', 'b', 'c'};
    expect_raw_fail(blk2, sizeof blk2, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, truncated_varint_value_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_u8(&p, 0x0B);
    pb_u8(&p, 0x80); /* a continuation bit, then the block ends */
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    pb_init(&p);
    pb_u8(&p, 0x0B);
    expect_fail(&p, SMQ_SUBSCRIBE, SMQ_RC_MALFORMED);
}

Test(props, every_truncated_string_property_is_malformed)
{
    for (size_t i = 0; i < NTABLE; i++) {
        if (table[i].type != P_STR && table[i].type != P_BIN)
            continue;
        /* Length prefix cut; declared length past the block end; no value at all. */
        struct pb p;
        pb_init(&p);
        if (table[i].id == SMQ_PROP_AUTH_DATA) {
            pb_pstr(&p, 0x15, "m");
        }
        pb_u8(&p, table[i].id);
        pb_u8(&p, 0x00); /* half a length prefix */
        expect_fail(&p, first_ctx(i), SMQ_RC_MALFORMED);

        pb_init(&p);
        if (table[i].id == SMQ_PROP_AUTH_DATA) {
            pb_pstr(&p, 0x15, "m");
        }
        pb_p16(&p, table[i].id, 4);
        pb_raw(&p, "abc", 3);
        expect_fail(&p, first_ctx(i), SMQ_RC_MALFORMED);

        pb_init(&p);
        pb_u8(&p, table[i].id);
        expect_fail(&p, first_ctx(i), SMQ_RC_MALFORMED);
    }
}

Test(props, user_property_cut_anywhere_is_malformed)
{
    /* 26 00 01 'k' 00 01 'v': every strict prefix of the entry is a malformed block. */
    const uint8_t entry[] = {0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'};
    for (size_t cut = 1; cut < sizeof entry; cut++) {
        struct pb p;
        pb_init(&p);
        pb_raw(&p, entry, cut);
        expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    }
}

Test(props, user_property_with_value_length_past_block_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_pstr(&p, 0x26, "k");
    pb_u16(&p, 100);
    pb_raw(&p, "v", 1);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

/* ---- UTF-8 in string properties ------------------------------------------------------ */

/* [MQTT-1.5.4-1] [MQTT-1.5.4-2]: ill-formed UTF-8, surrogates and U+0000 are malformed. */
Test(props, invalid_utf8_in_every_string_property_is_malformed)
{
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\xC0\x80", 2}, {"a\x00", 2}, {"\xED\xA0\x80", 3}, {"\xFF", 1}, {"\xE2\x82", 2},
    };
    for (size_t i = 0; i < NTABLE; i++) {
        if (table[i].type != P_STR)
            continue;
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            struct pb p;
            pb_init(&p);
            pb_pbin(&p, table[i].id, bad[b].bytes, bad[b].len);
            expect_fail(&p, first_ctx(i), SMQ_RC_MALFORMED);
        }
    }
}

Test(props, invalid_utf8_in_user_property_key_or_value_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_pbin(&p, 0x26, "\xC3", 1);
    pb_str(&p, "v");
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);

    pb_init(&p);
    pb_pstr(&p, 0x26, "k");
    pb_bin(&p, "v\x00", 2);
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
}

Test(props, binary_properties_are_not_utf8_checked)
{
    struct pb p;
    pb_init(&p);
    pb_pbin(&p, 0x09, "\x00\xC0\x80\xED\xA0\x80\xFF", 7);
    struct smq_props o;
    expect_ok(&p, SMQ_PUBLISH, &o);
    cr_assert_eq(o.correlation_data.len, 7);

    pb_init(&p);
    pb_pstr(&p, 0x15, "m");
    pb_pbin(&p, 0x16, "\x00\xFF", 2);
    expect_ok(&p, SMQ_CONNECT, &o);
    cr_assert_eq(o.auth_data.len, 2);
}

Test(props, utf8_control_characters_in_strings_are_accepted)
{
    struct pb p;
    pb_init(&p);
    pb_pstr(&p, 0x1F, "tab\there \x7F \xEF\xBF\xBF");
    struct smq_props o;
    expect_ok(&p, SMQ_DISCONNECT, &o);
}

/* ---- Response Topic ------------------------------------------------------------------ */

/* [MQTT-3.3.2-14] the Response Topic MUST be a UTF-8 string used as a Topic Name, so no
 * wildcards [MQTT-4.7.0-1] and non-empty [MQTT-4.7.3-1]; README: malformed (choice). */
Test(props, response_topic_with_wildcard_is_malformed)
{
    static const char *bad[] = {"a/+", "a/#", "+", "#", "a/+/b", "+/x"};
    static const int ctxs[] = {SMQ_PUBLISH, SMQ_PROPS_WILL};
    for (size_t c = 0; c < 2; c++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            struct pb p;
            pb_init(&p);
            pb_pstr(&p, 0x08, bad[i]);
            expect_fail(&p, ctxs[c], SMQ_RC_MALFORMED);
        }
    }
}

Test(props, empty_response_topic_is_malformed)
{
    struct pb p;
    pb_init(&p);
    pb_pstr(&p, 0x08, "");
    expect_fail(&p, SMQ_PUBLISH, SMQ_RC_MALFORMED);
    pb_init(&p);
    pb_pstr(&p, 0x08, "");
    expect_fail(&p, SMQ_PROPS_WILL, SMQ_RC_MALFORMED);
}

Test(props, response_topic_that_is_a_topic_name_is_accepted)
{
    static const char *good[] = {"a", "a/b", "/", "$SYS/x", "reply/client-1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct pb p;
        pb_init(&p);
        pb_pstr(&p, 0x08, good[i]);
        struct smq_props o;
        expect_ok(&p, SMQ_PUBLISH, &o);
        cr_assert(smq_span_eq_str(o.response_topic, good[i]));
    }
}

/* ---- User Property cap --------------------------------------------------------------- */

static void add_users(struct pb *p, unsigned n)
{
    char key[16], value[16];
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        snprintf(value, sizeof value, "v%u", i);
        pb_user(p, key, value);
    }
}

Test(props, exactly_max_user_properties_are_accepted)
{
    struct pb p;
    pb_init(&p);
    add_users(&p, 128);
    struct smq_props o;
    uint8_t reason;
    size_t len;
    ssize_t n = decode_pb(&p, SMQ_PUBLISH, 128, &o, &reason, &len);
    pb_dispose(&p);
    cr_assert_eq(n, (ssize_t)len, "returned %zd, reason 0x%02X", n, reason);
    cr_assert_eq(o.user_count, 128);
}

Test(props, one_user_property_over_the_cap_is_quota_exceeded)
{
    struct pb p;
    pb_init(&p);
    add_users(&p, 129);
    struct smq_props o;
    uint8_t reason;
    size_t len;
    ssize_t n = decode_pb(&p, SMQ_PUBLISH, 128, &o, &reason, &len);
    pb_dispose(&p);
    cr_assert_eq(n, SMQ_EPROTO, "returned %zd", n);
    cr_assert_eq(reason, SMQ_RC_QUOTA_EXCEEDED, "reason 0x%02X", reason);
}

Test(props, small_cap_is_honoured)
{
    struct pb p;
    pb_init(&p);
    add_users(&p, 2);
    expect_fail_cap(&p, SMQ_CONNECT, 1, SMQ_RC_QUOTA_EXCEEDED);
    pb_init(&p);
    add_users(&p, 1);
    struct smq_props o;
    expect_ok_cap(&p, SMQ_CONNECT, 1, &o);
}

Test(props, cap_counts_user_properties_only)
{
    struct pb p;
    pb_init(&p);
    add_users(&p, 2);
    pb_pvar(&p, 0x0B, 1);
    pb_pvar(&p, 0x0B, 2);
    pb_p16(&p, 0x23, 1);
    struct smq_props o;
    expect_ok_cap(&p, SMQ_PUBLISH, 2, &o);
    cr_assert_eq(o.user_count, 2);
    cr_assert_eq(o.sub_id_count, 2);
}

Test(props, ten_thousand_user_properties_decode_in_order, .timeout = 10)
{
    struct pb p;
    pb_init(&p);
    add_users(&p, 10000);
    struct smq_props o;
    uint8_t reason;
    size_t len;
    ssize_t n = decode_pb(&p, SMQ_PUBLISH, 10000, &o, &reason, &len);
    /* Walk while the block is alive; remember the first entry out of place. */
    unsigned walked = 0, bad = 10000;
    bool extra = false;
    if (n == (ssize_t)len) {
        size_t pos = 0;
        struct smq_span k, v;
        char key[16], value[16];
        while (walked < 10000 && smq_props_next_user(&o, &pos, &k, &v)) {
            snprintf(key, sizeof key, "k%u", walked);
            snprintf(value, sizeof value, "v%u", walked);
            if (bad == 10000 && (!smq_span_eq_str(k, key) || !smq_span_eq_str(v, value)))
                bad = walked;
            walked++;
        }
        extra = smq_props_next_user(&o, &pos, &k, &v);
    }
    pb_dispose(&p);
    cr_assert_eq(n, (ssize_t)len, "returned %zd, reason 0x%02X", n, reason);
    cr_assert_eq(o.user_count, 10000);
    cr_assert_eq(walked, 10000, "walked %u entries", walked);
    cr_assert_eq(bad, 10000, "entry %u out of order", bad);
    cr_assert_not(extra, "more entries than decoded");
}

/* A quadratic decoder (say, a duplicate check that rescans the block) would take seconds
 * here; a linear one takes milliseconds. */
Test(props, sixty_five_thousand_user_properties_decode_in_linear_time, .timeout = 10)
{
    struct pb p;
    pb_init(&p);
    for (unsigned i = 0; i < 65535; i++)
        pb_user(&p, "k", "v");
    struct smq_props o;
    uint8_t reason;
    size_t len;
    ssize_t n = decode_pb(&p, SMQ_PUBLISH, 65535, &o, &reason, &len);
    pb_dispose(&p);
    cr_assert_eq(n, (ssize_t)len, "returned %zd, reason 0x%02X", n, reason);
    cr_assert_eq(o.user_count, 65535);
}

/* The largest cap a uint16_t can hold still caps: one more is Quota exceeded, whatever
 * width the decoder counts in. */
Test(props, one_over_the_largest_cap_is_quota_exceeded, .timeout = 10)
{
    struct pb p;
    pb_init(&p);
    for (unsigned i = 0; i < 65536; i++)
        pb_user(&p, "k", "v");
    struct smq_props o;
    uint8_t reason;
    size_t len;
    ssize_t n = decode_pb(&p, SMQ_PUBLISH, 65535, &o, &reason, &len);
    pb_dispose(&p);
    cr_assert_eq(n, SMQ_EPROTO, "returned %zd (user_count %u)", n, o.user_count);
    cr_assert_eq(reason, SMQ_RC_QUOTA_EXCEEDED, "reason 0x%02X", reason);
}

/* ---- walking User Properties --------------------------------------------------------- */

Test(props, next_user_keeps_order_and_skips_other_properties)
{
    struct pb p;
    pb_init(&p);
    pb_user(&p, "z", "1");
    pb_p16(&p, 0x23, 9);
    pb_user(&p, "a", "2");
    pb_pvar(&p, 0x0B, 3);
    pb_user(&p, "z", "3");
    pb_pstr(&p, 0x03, "ct");
    struct smq_props o;
    expect_ok(&p, SMQ_PUBLISH, &o);
    cr_assert_eq(o.user_count, 3);
    static const char *want[][2] = {{"z", "1"}, {"a", "2"}, {"z", "3"}};
    size_t pos = 0;
    struct smq_span k, v;
    for (size_t i = 0; i < 3; i++) {
        cr_assert(smq_props_next_user(&o, &pos, &k, &v));
        cr_assert(smq_span_eq_str(k, want[i][0]), "key %zu", i);
        cr_assert(smq_span_eq_str(v, want[i][1]), "value %zu", i);
    }
    cr_assert_not(smq_props_next_user(&o, &pos, &k, &v));
    cr_assert_not(smq_props_next_user(&o, &pos, &k, &v), "stays at the end");
}

Test(props, next_user_on_empty_props_returns_false)
{
    struct smq_props o;
    memset(&o, 0, sizeof o);
    size_t pos = 0;
    struct smq_span k, v;
    cr_assert_not(smq_props_next_user(&o, &pos, &k, &v));
    uint32_t id;
    pos = 0;
    cr_assert_not(smq_props_next_sub_id(&o, &pos, &id));

    const uint8_t ok[] = {0x03, 0x23, 0x00, 0x01};
    uint8_t reason;
    cr_assert_eq(smq_props_decode(ok, sizeof ok, SMQ_PUBLISH, 128, &o, &reason), 4);
    pos = 0;
    cr_assert_not(smq_props_next_user(&o, &pos, &k, &v));
}

Test(props, user_property_with_empty_key_and_value_is_accepted)
{
    struct pb p;
    pb_init(&p);
    pb_user(&p, "", "");
    struct smq_props o;
    expect_ok(&p, SMQ_SUBSCRIBE, &o);
    size_t pos = 0;
    struct smq_span k, v;
    cr_assert(smq_props_next_user(&o, &pos, &k, &v));
    cr_assert_eq(k.len, 0);
    cr_assert_eq(v.len, 0);
}

/* ---- encoding ------------------------------------------------------------------------ */

Test(props, empty_props_encode_to_a_zero_length)
{
    struct smq_props props;
    memset(&props, 0, sizeof props);
    cr_assert_eq(smq_props_body_size(&props), 0);
    cr_assert_eq(smq_props_size(&props), 1);
    uint8_t buf[4] = {0xAA, 0xAA, 0xAA, 0xAA};
    cr_assert_eq(smq_props_encode(buf, &props), 1);
    cr_assert_eq(buf[0], 0x00);
    cr_assert_eq(buf[1], 0xAA);
}

Test(props, one_scalar_encodes_to_exact_bytes)
{
    struct smq_props props;
    memset(&props, 0, sizeof props);
    props.present = SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS);
    props.topic_alias = 5;
    cr_assert_eq(smq_props_body_size(&props), 3);
    cr_assert_eq(smq_props_size(&props), 4);
    uint8_t buf[8];
    memset(buf, 0xAA, sizeof buf);
    cr_assert_eq(smq_props_encode(buf, &props), 4);
    const uint8_t want[] = {0x03, 0x23, 0x00, 0x05, 0xAA};
    cr_assert_arr_eq(buf, want, sizeof want);
}

Test(props, each_type_encodes_to_exact_bytes)
{
    struct smq_props props;
    uint8_t buf[32];

    memset(&props, 0, sizeof props);
    props.present = SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY);
    props.message_expiry = 0x01020304;
    const uint8_t u32[] = {0x05, 0x02, 0x01, 0x02, 0x03, 0x04};
    cr_assert_eq(smq_props_encode(buf, &props), sizeof u32);
    cr_assert_arr_eq(buf, u32, sizeof u32);

    memset(&props, 0, sizeof props);
    props.present = SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT);
    props.payload_format = 1;
    const uint8_t byte[] = {0x02, 0x01, 0x01};
    cr_assert_eq(smq_props_encode(buf, &props), sizeof byte);
    cr_assert_arr_eq(buf, byte, sizeof byte);

    memset(&props, 0, sizeof props);
    props.present = SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE);
    props.content_type = smq_span_str("ab");
    const uint8_t str[] = {0x05, 0x03, 0x00, 0x02, 'a', 'b'};
    cr_assert_eq(smq_props_encode(buf, &props), sizeof str);
    cr_assert_arr_eq(buf, str, sizeof str);

    memset(&props, 0, sizeof props);
    props.present = SMQ_PROP_BIT(SMQ_PROP_CORRELATION_DATA);
    props.correlation_data = (struct smq_span){(const uint8_t *)"\x00\xFF", 2};
    const uint8_t bin[] = {0x05, 0x09, 0x00, 0x02, 0x00, 0xFF};
    cr_assert_eq(smq_props_encode(buf, &props), sizeof bin);
    cr_assert_arr_eq(buf, bin, sizeof bin);
}

Test(props, put_user_writes_one_entry)
{
    uint8_t buf[16];
    memset(buf, 0xAA, sizeof buf);
    ssize_t n = smq_props_put_user(buf, sizeof buf, smq_span_str("k"), smq_span_str("vw"));
    cr_assert_eq(n, 8);
    const uint8_t want[] = {0x26, 0x00, 0x01, 'k', 0x00, 0x02, 'v', 'w', 0xAA};
    cr_assert_arr_eq(buf, want, sizeof want);
}

Test(props, put_user_fits_exactly_or_reports_enobufs)
{
    uint8_t buf[8];
    cr_assert_eq(smq_props_put_user(buf, 8, smq_span_str("k"), smq_span_str("vw")), 8);
    cr_assert_eq(smq_props_put_user(buf, 7, smq_span_str("k"), smq_span_str("vw")),
                 SMQ_ENOBUFS);
    cr_assert_eq(smq_props_put_user(buf, 0, smq_span_str("k"), smq_span_str("vw")),
                 SMQ_ENOBUFS);
}

Test(props, put_user_rejects_strings_over_65535_bytes)
{
    static uint8_t big[65536];
    static uint8_t out[70000];
    memset(big, 'x', sizeof big);
    struct smq_span huge = {big, 65536};
    struct smq_span max = {big, 65535};
    cr_assert_eq(smq_props_put_user(out, sizeof out, huge, smq_span_str("v")), SMQ_EINVAL);
    cr_assert_eq(smq_props_put_user(out, sizeof out, smq_span_str("k"), huge), SMQ_EINVAL);
    cr_assert_eq(smq_props_put_user(out, sizeof out, max, smq_span_str("")),
                 (ssize_t)(1 + 2 + 65535 + 2));
}

Test(props, multi_built_with_put_user_round_trips_in_order)
{
    uint8_t multi[256];
    size_t n = 0;
    static const char *kv[][2] = {{"b", "1"}, {"a", "22"}, {"b", "333"}, {"", ""}};
    for (size_t i = 0; i < 4; i++) {
        ssize_t w = smq_props_put_user(multi + n, sizeof multi - n, smq_span_str(kv[i][0]),
                                       smq_span_str(kv[i][1]));
        cr_assert_gt(w, 0);
        n += (size_t)w;
    }
    struct smq_props props;
    memset(&props, 0, sizeof props);
    props.multi = (struct smq_span){multi, n};

    size_t pos = 0;
    struct smq_span k, v;
    for (size_t i = 0; i < 4; i++) {
        cr_assert(smq_props_next_user(&props, &pos, &k, &v), "builder entry %zu", i);
        cr_assert(smq_span_eq_str(k, kv[i][0]));
        cr_assert(smq_span_eq_str(v, kv[i][1]));
    }
    cr_assert_not(smq_props_next_user(&props, &pos, &k, &v));

    cr_assert_eq(smq_props_body_size(&props), n);
    uint8_t buf[300];
    size_t size = smq_props_size(&props);
    cr_assert_eq(size, n + 1);
    cr_assert_eq(smq_props_encode(buf, &props), size);
    cr_assert_eq(buf[0], n);
    cr_assert_arr_eq(buf + 1, multi, n);

    struct smq_props o;
    uint8_t reason;
    cr_assert_eq(smq_props_decode(buf, size, SMQ_PUBLISH, 128, &o, &reason), (ssize_t)size);
    cr_assert_eq(o.user_count, 4);
    pos = 0;
    for (size_t i = 0; i < 4; i++) {
        cr_assert(smq_props_next_user(&o, &pos, &k, &v));
        cr_assert(smq_span_eq_str(k, kv[i][0]), "decoded key %zu", i);
        cr_assert(smq_span_eq_str(v, kv[i][1]), "decoded value %zu", i);
    }
}

Test(props, sub_ids_array_is_encoded)
{
    static const uint32_t ids[] = {1, 128, SMQ_VARINT_MAX};
    struct smq_props props;
    memset(&props, 0, sizeof props);
    props.sub_ids = ids;
    props.sub_ids_len = 3;
    /* 0B 01, 0B 80 01, 0B FF FF FF 7F */
    const uint8_t want[] = {0x0A, 0x0B, 0x01, 0x0B, 0x80, 0x01, 0x0B, 0xFF, 0xFF, 0xFF, 0x7F};
    cr_assert_eq(smq_props_body_size(&props), 10);
    cr_assert_eq(smq_props_size(&props), sizeof want);
    uint8_t buf[32];
    cr_assert_eq(smq_props_encode(buf, &props), sizeof want);
    cr_assert_arr_eq(buf, want, sizeof want);

    struct smq_props o;
    uint8_t reason;
    cr_assert_eq(smq_props_decode(buf, sizeof want, SMQ_PUBLISH, 128, &o, &reason),
                 (ssize_t)sizeof want);
    cr_assert_eq(o.sub_id_count, 3);
    size_t pos = 0;
    uint32_t id;
    for (size_t i = 0; i < 3; i++) {
        cr_assert(smq_props_next_sub_id(&o, &pos, &id));
        cr_assert_eq(id, ids[i]);
    }
    cr_assert_not(smq_props_next_sub_id(&o, &pos, &id));
}

Test(props, connack_scalars_round_trip)
{
    struct smq_props in;
    memset(&in, 0, sizeof in);
    in.present = SMQ_PROP_BIT(0x11) | SMQ_PROP_BIT(0x12) | SMQ_PROP_BIT(0x13) |
                 SMQ_PROP_BIT(0x15) | SMQ_PROP_BIT(0x16) | SMQ_PROP_BIT(0x1A) |
                 SMQ_PROP_BIT(0x1C) | SMQ_PROP_BIT(0x1F) | SMQ_PROP_BIT(0x21) |
                 SMQ_PROP_BIT(0x22) | SMQ_PROP_BIT(0x24) | SMQ_PROP_BIT(0x25) |
                 SMQ_PROP_BIT(0x27) | SMQ_PROP_BIT(0x28) | SMQ_PROP_BIT(0x29) |
                 SMQ_PROP_BIT(0x2A);
    in.session_expiry = 0xDEADBEEF;
    in.assigned_client_id = smq_span_str("client-7");
    in.server_keep_alive = 0xBEEF;
    in.auth_method = smq_span_str("PLAIN");
    in.auth_data = (struct smq_span){(const uint8_t *)"\x00\x01\x02", 3};
    in.response_info = smq_span_str("resp");
    in.server_reference = smq_span_str("elsewhere");
    in.reason_string = smq_span_str("fine");
    in.receive_maximum = 100;
    in.topic_alias_maximum = 65535;
    in.maximum_qos = 1;
    in.retain_available = 0;
    in.maximum_packet_size = 268435460;
    in.wildcard_sub_available = 1;
    in.sub_id_available = 0;
    in.shared_sub_available = 1;

    uint8_t buf[256];
    size_t size = smq_props_size(&in);
    cr_assert_eq(smq_props_encode(buf, &in), size);

    struct smq_props o;
    uint8_t reason = 0;
    cr_assert_eq(smq_props_decode(buf, size, SMQ_CONNACK, 128, &o, &reason), (ssize_t)size,
                 "reason 0x%02X", reason);
    cr_assert_eq(o.present, in.present);
    cr_assert_eq(o.session_expiry, in.session_expiry);
    cr_assert(smq_span_eq(o.assigned_client_id, in.assigned_client_id));
    cr_assert_eq(o.server_keep_alive, in.server_keep_alive);
    cr_assert(smq_span_eq(o.auth_method, in.auth_method));
    cr_assert(smq_span_eq(o.auth_data, in.auth_data));
    cr_assert(smq_span_eq(o.response_info, in.response_info));
    cr_assert(smq_span_eq(o.server_reference, in.server_reference));
    cr_assert(smq_span_eq(o.reason_string, in.reason_string));
    cr_assert_eq(o.receive_maximum, in.receive_maximum);
    cr_assert_eq(o.topic_alias_maximum, in.topic_alias_maximum);
    cr_assert_eq(o.maximum_qos, in.maximum_qos);
    cr_assert_eq(o.retain_available, in.retain_available);
    cr_assert_eq(o.maximum_packet_size, in.maximum_packet_size);
    cr_assert_eq(o.wildcard_sub_available, in.wildcard_sub_available);
    cr_assert_eq(o.sub_id_available, in.sub_id_available);
    cr_assert_eq(o.shared_sub_available, in.shared_sub_available);
}

Test(props, publish_props_with_sub_ids_and_users_round_trip)
{
    uint8_t multi[64];
    ssize_t m1 = smq_props_put_user(multi, sizeof multi, smq_span_str("x"), smq_span_str("1"));
    cr_assert_gt(m1, 0);
    ssize_t m2 = smq_props_put_user(multi + m1, sizeof multi - (size_t)m1, smq_span_str("y"),
                                    smq_span_str("2"));
    cr_assert_gt(m2, 0);
    static const uint32_t ids[] = {42, 70000};

    struct smq_props in;
    memset(&in, 0, sizeof in);
    in.present = SMQ_PROP_BIT(0x01) | SMQ_PROP_BIT(0x02) | SMQ_PROP_BIT(0x03) |
                 SMQ_PROP_BIT(0x08) | SMQ_PROP_BIT(0x09) | SMQ_PROP_BIT(0x23);
    in.payload_format = 1;
    in.message_expiry = 10;
    in.content_type = smq_span_str("json");
    in.response_topic = smq_span_str("r/1");
    in.correlation_data = smq_span_str("corr");
    in.topic_alias = 3;
    in.sub_ids = ids;
    in.sub_ids_len = 2;
    in.multi = (struct smq_span){multi, (size_t)(m1 + m2)};

    uint8_t buf[256];
    size_t size = smq_props_size(&in);
    cr_assert_eq(size, smq_props_body_size(&in) + 1);
    cr_assert_eq(smq_props_encode(buf, &in), size);

    struct smq_props o;
    uint8_t reason = 0;
    cr_assert_eq(smq_props_decode(buf, size, SMQ_PUBLISH, 128, &o, &reason), (ssize_t)size,
                 "reason 0x%02X", reason);
    cr_assert_eq(o.present & ~(SMQ_PROP_BIT(0x0B) | SMQ_PROP_BIT(0x26)), in.present);
    cr_assert_eq(o.payload_format, 1);
    cr_assert_eq(o.message_expiry, 10);
    cr_assert(smq_span_eq_str(o.content_type, "json"));
    cr_assert(smq_span_eq_str(o.response_topic, "r/1"));
    cr_assert(smq_span_eq_str(o.correlation_data, "corr"));
    cr_assert_eq(o.topic_alias, 3);
    cr_assert_eq(o.sub_id_count, 2);
    cr_assert_eq(o.subscription_id, 42);
    cr_assert_eq(o.user_count, 2);
    size_t pos = 0;
    uint32_t id;
    cr_assert(smq_props_next_sub_id(&o, &pos, &id));
    cr_assert_eq(id, 42);
    cr_assert(smq_props_next_sub_id(&o, &pos, &id));
    cr_assert_eq(id, 70000);
    cr_assert_not(smq_props_next_sub_id(&o, &pos, &id));
    pos = 0;
    struct smq_span k, v;
    cr_assert(smq_props_next_user(&o, &pos, &k, &v));
    cr_assert(smq_span_eq_str(k, "x") && smq_span_eq_str(v, "1"));
    cr_assert(smq_props_next_user(&o, &pos, &k, &v));
    cr_assert(smq_span_eq_str(k, "y") && smq_span_eq_str(v, "2"));
    cr_assert_not(smq_props_next_user(&o, &pos, &k, &v));
}

/* Re-encoding what was decoded writes each entry once: the decoded subscription_id field
 * is decode-only, and the entries in `multi` carry the Subscription Identifiers. */
Test(props, decoded_props_re_encode_to_the_same_size)
{
    struct pb p;
    pb_init(&p);
    pb_p32(&p, 0x02, 5);
    pb_user(&p, "a", "b");
    pb_pvar(&p, 0x0B, 9);
    pb_p16(&p, 0x23, 4);
    pb_pvar(&p, 0x0B, 200);
    pb_user(&p, "c", "d");
    size_t len;
    const uint8_t *blk = pb_block(&p, &len);
    struct smq_props o;
    uint8_t reason;
    cr_assert_eq(smq_props_decode(blk, len, SMQ_PUBLISH, 128, &o, &reason), (ssize_t)len);

    cr_assert_eq(smq_props_size(&o), len);
    uint8_t buf[128];
    cr_assert_eq(smq_props_encode(buf, &o), len);
    struct smq_props again;
    cr_assert_eq(smq_props_decode(buf, len, SMQ_PUBLISH, 128, &again, &reason), (ssize_t)len);
    cr_assert_eq(again.present, o.present);
    cr_assert_eq(again.message_expiry, 5);
    cr_assert_eq(again.topic_alias, 4);
    cr_assert_eq(again.sub_id_count, 2);
    cr_assert_eq(again.user_count, 2);
    size_t pos = 0;
    uint32_t id;
    cr_assert(smq_props_next_sub_id(&again, &pos, &id));
    cr_assert_eq(id, 9);
    cr_assert(smq_props_next_sub_id(&again, &pos, &id));
    cr_assert_eq(id, 200);
}

Test(props, large_body_gets_a_two_byte_length_prefix)
{
    struct smq_props props;
    memset(&props, 0, sizeof props);
    static char text[201];
    memset(text, 'r', 200);
    props.present = SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
    props.reason_string = smq_span_str(text);
    cr_assert_eq(smq_props_body_size(&props), 203);
    cr_assert_eq(smq_props_size(&props), 205);
    uint8_t buf[256];
    cr_assert_eq(smq_props_encode(buf, &props), 205);
    cr_assert_eq(buf[0], 0xCB); /* 203 = 0x4B | 0x80, then 1 */
    cr_assert_eq(buf[1], 0x01);
    cr_assert_eq(buf[2], 0x1F);
}

Test(props, encode_writes_exactly_size_bytes)
{
    struct smq_props props;
    memset(&props, 0, sizeof props);
    props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY) | SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
    props.session_expiry = 1;
    props.reason_string = smq_span_str("r");
    size_t size = smq_props_size(&props);
    uint8_t buf[64];
    memset(buf, 0xAA, sizeof buf);
    cr_assert_eq(smq_props_encode(buf, &props), size);
    for (size_t i = size; i < sizeof buf; i++)
        cr_assert_eq(buf[i], 0xAA, "byte %zu written past size", i);
}

/* The test's own table covers every identifier of 2.2.2.2 exactly once. */
Test(props, table_lists_every_property_id_of_the_header)
{
    static const uint8_t ids[] = {0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13,
                                  0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1C, 0x1F, 0x21,
                                  0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A};
    cr_assert_eq(sizeof ids, NTABLE);
    for (size_t i = 0; i < sizeof ids; i++)
        cr_assert_eq(table[table_index(ids[i])].id, ids[i]);
}
