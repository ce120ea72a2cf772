/* Encoding: smq_encode_size() against the bytes smq_encode() writes for every packet type
 * and level, SMQ_ENOBUFS one byte short, exact bytes written by hand from the specs for a
 * set of known packets, the split PUBLISH encoding (header + shared payload), and the size
 * limits (remaining-length boundaries, SMQ_ELIMIT). */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/errors.h"
#include "proto/framer.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/reason.h"

#include "packet_catalog.h"

/* ---------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------- */

static void dump(const char *label, const uint8_t *p, size_t n)
{
    fprintf(stderr, "%s (%zu):", label, n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %02x", p[i]);
    fprintf(stderr, "\n");
}

/* Encodes pkt and asserts the result is exactly the expected bytes. */
static void expect_bytes(uint8_t version, const struct smq_packet *pkt, const uint8_t *want,
                         size_t want_len, int line)
{
    uint8_t buf[512];
    memset(buf, 0xEE, sizeof buf);
    size_t size = smq_encode_size(version, pkt);
    ssize_t n = smq_encode(buf, sizeof buf, version, pkt);
    if (n != (ssize_t)want_len || memcmp(buf, want, want_len) != 0) {
        dump("expected", want, want_len);
        if (n > 0)
            dump("got     ", buf, (size_t)n);
    }
    cr_assert_eq(n, (ssize_t)want_len, "line %d: wrote %zd bytes, expected %zu", line, n, want_len);
    cr_assert_eq(size, want_len, "line %d: smq_encode_size %zu, expected %zu", line, size,
                 want_len);
    cr_assert_eq(memcmp(buf, want, want_len), 0, "line %d: bytes differ (see stderr)", line);
    cr_assert_eq(buf[want_len], 0xEE, "line %d: wrote past the packet", line);
}

#define EXPECT_BYTES(version, pkt, ...)                                                            \
    do {                                                                                           \
        static const uint8_t w_[] = {__VA_ARGS__};                                                 \
        expect_bytes(version, pkt, w_, sizeof w_, __LINE__);                                       \
    } while (0)

static struct smq_packet packet(uint8_t type)
{
    struct smq_packet p;
    memset(&p, 0, sizeof p);
    p.type = type;
    return p;
}

/* ---------------------------------------------------------------------------------------
 * Every sample: size, ENOBUFS, fixed header
 * ------------------------------------------------------------------------------------- */

Test(encode, size_equals_bytes_written_for_every_packet)
{
    build_catalog();
    cr_assert_gt(n_samples, 60);
    for (size_t i = 0; i < n_samples; i++) {
        const struct sample *s = &samples[i];
        size_t size = smq_encode_size(s->version, &s->pkt);
        cr_assert_gt(size, 1, "%s: size %zu", s->name, size);
        uint8_t *buf = malloc(size + 16);
        cr_assert_not_null(buf);
        memset(buf, 0xEE, size + 16);
        ssize_t n = smq_encode(buf, size + 16, s->version, &s->pkt);
        cr_assert_eq(n, (ssize_t)size, "%s: wrote %zd, size said %zu", s->name, n, size);
        for (size_t j = size; j < size + 16; j++)
            cr_assert_eq(buf[j], 0xEE, "%s: byte %zu past the packet was written", s->name, j);
        free(buf);
    }
}

Test(encode, exact_capacity_is_enough)
{
    build_catalog();
    for (size_t i = 0; i < n_samples; i++) {
        const struct sample *s = &samples[i];
        size_t size = smq_encode_size(s->version, &s->pkt);
        uint8_t *buf = malloc(size);
        cr_assert_not_null(buf);
        cr_assert_eq(smq_encode(buf, size, s->version, &s->pkt), (ssize_t)size, "%s", s->name);
        free(buf);
    }
}

Test(encode, enobufs_when_cap_is_one_byte_short)
{
    build_catalog();
    for (size_t i = 0; i < n_samples; i++) {
        const struct sample *s = &samples[i];
        size_t size = smq_encode_size(s->version, &s->pkt);
        uint8_t *buf = malloc(size);
        cr_assert_not_null(buf);
        memset(buf, 0xEE, size);
        ssize_t n = smq_encode(buf, size - 1, s->version, &s->pkt);
        cr_assert_eq(n, SMQ_ENOBUFS, "%s: cap %zu of %zu returned %zd", s->name, size - 1, size, n);
        cr_assert_eq(buf[size - 1], 0xEE, "%s: wrote past cap", s->name);
        cr_assert_eq(smq_encode(buf, 0, s->version, &s->pkt), SMQ_ENOBUFS, "%s: cap 0", s->name);
        cr_assert_eq(smq_encode(buf, 1, s->version, &s->pkt), SMQ_ENOBUFS, "%s: cap 1", s->name);
        free(buf);
    }
}

Test(encode, fixed_header_announces_the_rest)
{
    /* The remaining length counts exactly the bytes after the fixed header (2.1.4), and the
     * flags are the ones the spec fixes for the type (2.1.3). */
    build_catalog();
    for (size_t i = 0; i < n_samples; i++) {
        const struct sample *s = &samples[i];
        uint8_t buf[1024];
        ssize_t n = smq_encode(buf, sizeof buf, s->version, &s->pkt);
        cr_assert_gt(n, 0, "%s", s->name);
        struct smq_decode_opts opts = {.version = s->version};
        struct smq_fixed_header hdr;
        uint8_t reason = 0;
        ssize_t h = smq_decode_fixed_header(buf, (size_t)n, &opts, &hdr, &reason);
        cr_assert_gt(h, 0, "%s: fixed header rejected (0x%02x)", s->name, reason);
        cr_assert_eq(hdr.type, s->pkt.type, "%s", s->name);
        cr_assert_eq(hdr.flags, expected_flags(&s->pkt), "%s: flags %x", s->name, hdr.flags);
        cr_assert_eq((size_t)h + hdr.remaining, (size_t)n, "%s", s->name);
    }
}

Test(encode, connect_ignores_the_version_argument)
{
    /* "a CONNECT uses its own version field" (encode.h). */
    struct smq_packet p = packet(SMQ_CONNECT);
    p.u.connect = (struct smq_connect){
        .version = SMQ_V311, .clean_start = true, .keep_alive = 60, .client_id = smq_span_str("a")};
    for (uint8_t v = 3; v <= 5; v++)
        EXPECT_BYTES(v, &p, 0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c,
                     0x00, 0x01, 'a');
}

/* ---------------------------------------------------------------------------------------
 * Exact bytes, written by hand from the specs
 * ------------------------------------------------------------------------------------- */

Test(encode, connect_v311_minimal_bytes)
{
    /* 3.1.1 section 3.1: "MQTT", level 4, clean session, keep alive 60, client id "a". */
    struct smq_packet p = packet(SMQ_CONNECT);
    p.u.connect = (struct smq_connect){
        .version = SMQ_V311, .clean_start = true, .keep_alive = 60, .client_id = smq_span_str("a")};
    EXPECT_BYTES(4, &p, 0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00,
                 0x01, 'a');
}

Test(encode, connect_v31_uses_mqisdp)
{
    struct smq_packet p = packet(SMQ_CONNECT);
    p.u.connect = (struct smq_connect){
        .version = SMQ_V31, .clean_start = true, .keep_alive = 60, .client_id = smq_span_str("a")};
    EXPECT_BYTES(3, &p, 0x10, 0x0f, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x02, 0x00,
                 0x3c, 0x00, 0x01, 'a');
}

Test(encode, connect_v5_minimal_has_empty_property_block)
{
    struct smq_packet p = packet(SMQ_CONNECT);
    p.u.connect = (struct smq_connect){
        .version = SMQ_V5, .clean_start = true, .keep_alive = 60, .client_id = smq_span_str("a")};
    EXPECT_BYTES(5, &p, 0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3c, 0x00,
                 0x00, 0x01, 'a');
}

Test(encode, connect_v311_will_username_password_bytes)
{
    /* Flags: username 0x80, password 0x40, will retain 0x20, will QoS 1 0x08, will 0x04,
     * clean 0x02 = 0xee; payload order client id, will topic, will message, username,
     * password (3.1.3). */
    struct smq_packet p = packet(SMQ_CONNECT);
    struct smq_connect *c = &p.u.connect;
    c->version = SMQ_V311;
    c->clean_start = true;
    c->keep_alive = 60;
    c->client_id = smq_span_str("c");
    c->will = true;
    c->will_qos = 1;
    c->will_retain = true;
    c->will_topic = smq_span_str("w");
    c->will_payload = smq_span_str("x");
    c->has_username = true;
    c->username = smq_span_str("u");
    c->has_password = true;
    c->password = smq_span_str("p");
    EXPECT_BYTES(4, &p, 0x10, 0x19, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xee, 0x00, 0x3c, 0x00,
                 0x01, 'c', 0x00, 0x01, 'w', 0x00, 0x01, 'x', 0x00, 0x01, 'u', 0x00, 0x01, 'p');
}

Test(encode, connect_v311_will_qos2_without_retain_bytes)
{
    struct smq_packet p = packet(SMQ_CONNECT);
    struct smq_connect *c = &p.u.connect;
    c->version = SMQ_V311;
    c->client_id = smq_span_str("c");
    c->will = true;
    c->will_qos = 2;
    c->will_topic = smq_span_str("w");
    /* flags 0x14: will QoS 2, will; clean session 0. Empty will message. */
    EXPECT_BYTES(4, &p, 0x10, 0x12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x14, 0x00, 0x00, 0x00,
                 0x01, 'c', 0x00, 0x01, 'w', 0x00, 0x00);
}

Test(encode, connect_v5_session_expiry_and_will_delay_bytes)
{
    struct smq_packet p = packet(SMQ_CONNECT);
    struct smq_connect *c = &p.u.connect;
    c->version = SMQ_V5;
    c->keep_alive = 10;
    c->client_id = smq_span_str("c");
    c->props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    c->props.session_expiry = 120;
    c->will = true;
    c->will_topic = smq_span_str("t");
    c->will_payload = smq_span_str("x");
    c->will_props.present = SMQ_PROP_BIT(SMQ_PROP_WILL_DELAY);
    c->will_props.will_delay = 5;
    /* 3.1.2.11: property length 5, 0x11 + four-byte integer; will properties 3.1.3.2. */
    EXPECT_BYTES(5, &p, 0x10, 0x1f, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x04, 0x00, 0x0a, 0x05,
                 0x11, 0x00, 0x00, 0x00, 0x78, 0x00, 0x01, 'c', 0x05, 0x18, 0x00, 0x00, 0x00, 0x05,
                 0x00, 0x01, 't', 0x00, 0x01, 'x');
}

Test(encode, connect_v5_password_without_username_bytes)
{
    struct smq_packet p = packet(SMQ_CONNECT);
    struct smq_connect *c = &p.u.connect;
    c->version = SMQ_V5;
    c->client_id = smq_span_str("c");
    c->has_password = true;
    c->password = smq_span_str("pw");
    EXPECT_BYTES(5, &p, 0x10, 0x12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x40, 0x00, 0x00, 0x00,
                 0x00, 0x01, 'c', 0x00, 0x02, 'p', 'w');
}

Test(encode, connack_bytes)
{
    struct smq_packet p = packet(SMQ_CONNACK);
    p.u.connack.session_present = true;
    /* 3.2 of 3.1.1: flags byte, return code. */
    EXPECT_BYTES(4, &p, 0x20, 0x02, 0x01, 0x00);
    /* 3.2 of 5.0: flags, reason code, property length. */
    EXPECT_BYTES(5, &p, 0x20, 0x03, 0x01, 0x00, 0x00);
    p.u.connack.session_present = false;
    p.u.connack.reason = SMQ_V3_BAD_PROTOCOL_VERSION;
    EXPECT_BYTES(4, &p, 0x20, 0x02, 0x00, 0x01);
    EXPECT_BYTES(3, &p, 0x20, 0x02, 0x00, 0x01);
    p.u.connack.reason = 0x84;
    p.u.connack.props.present = SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
    p.u.connack.props.reason_string = smq_span_str("v");
    EXPECT_BYTES(5, &p, 0x20, 0x07, 0x00, 0x84, 0x04, 0x1f, 0x00, 0x01, 'v');
}

Test(encode, publish_v311_qos1_bytes)
{
    struct smq_packet p = packet(SMQ_PUBLISH);
    p.u.publish.qos = 1;
    p.u.publish.topic = smq_span_str("a/b");
    p.u.publish.packet_id = 10;
    p.u.publish.payload = smq_span_str("hi");
    EXPECT_BYTES(4, &p, 0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0a, 'h', 'i');
}

Test(encode, publish_qos0_has_no_packet_id)
{
    /* [MQTT-2.2.1-2]: a QoS 0 PUBLISH carries no packet identifier, whatever the field. */
    struct smq_packet p = packet(SMQ_PUBLISH);
    p.u.publish.retain = true;
    p.u.publish.topic = smq_span_str("t");
    p.u.publish.payload = smq_span_str("x");
    EXPECT_BYTES(4, &p, 0x31, 0x04, 0x00, 0x01, 't', 'x');
    EXPECT_BYTES(5, &p, 0x31, 0x05, 0x00, 0x01, 't', 0x00, 'x');
}

Test(encode, publish_qos2_dup_bytes)
{
    struct smq_packet p = packet(SMQ_PUBLISH);
    p.u.publish.qos = 2;
    p.u.publish.dup = true;
    p.u.publish.topic = smq_span_str("t");
    p.u.publish.packet_id = 1;
    EXPECT_BYTES(4, &p, 0x3c, 0x05, 0x00, 0x01, 't', 0x00, 0x01);
}

Test(encode, publish_v5_topic_alias_with_empty_topic_bytes)
{
    struct smq_packet p = packet(SMQ_PUBLISH);
    p.u.publish.topic = smq_span_str("");
    p.u.publish.props.present = SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS);
    p.u.publish.props.topic_alias = 5;
    p.u.publish.payload = smq_span_str("p");
    EXPECT_BYTES(5, &p, 0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x05, 'p');
}

Test(encode, publish_v5_user_property_bytes)
{
    uint8_t users[32];
    ssize_t w = smq_props_put_user(users, sizeof users, smq_span_str("k"), smq_span_str("v"));
    cr_assert_eq(w, 7);
    struct smq_packet p = packet(SMQ_PUBLISH);
    p.u.publish.topic = smq_span_str("t");
    p.u.publish.props.multi = (struct smq_span){users, (size_t)w};
    p.u.publish.payload = smq_span_str("x");
    EXPECT_BYTES(5, &p, 0x30, 0x0c, 0x00, 0x01, 't', 0x07, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',
                 'x');
}

Test(encode, publish_v5_subscription_identifiers_bytes)
{
    /* 3.3.2.3.8: one 0x0B entry per identifier, a variable byte integer each (300 = ac 02). */
    static const uint32_t ids[] = {1, 300};
    struct smq_packet p = packet(SMQ_PUBLISH);
    p.u.publish.topic = smq_span_str("t");
    p.u.publish.props.sub_ids = ids;
    p.u.publish.props.sub_ids_len = 2;
    EXPECT_BYTES(5, &p, 0x30, 0x09, 0x00, 0x01, 't', 0x05, 0x0b, 0x01, 0x0b, 0xac, 0x02);
}

Test(encode, publish_v311_ignores_properties)
{
    struct smq_packet p = packet(SMQ_PUBLISH);
    p.u.publish.topic = smq_span_str("t");
    p.u.publish.props.present = SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY);
    p.u.publish.props.message_expiry = 9;
    EXPECT_BYTES(4, &p, 0x30, 0x03, 0x00, 0x01, 't');
}

Test(encode, acks_v311_bytes)
{
    /* 3.4 to 3.7: PUBREL carries flags 0010 [MQTT-3.6.1-1]. */
    struct smq_packet p = packet(SMQ_PUBACK);
    p.u.ack.packet_id = 1;
    EXPECT_BYTES(4, &p, 0x40, 0x02, 0x00, 0x01);
    p.type = SMQ_PUBREC;
    EXPECT_BYTES(4, &p, 0x50, 0x02, 0x00, 0x01);
    p.type = SMQ_PUBREL;
    EXPECT_BYTES(4, &p, 0x62, 0x02, 0x00, 0x01);
    p.type = SMQ_PUBCOMP;
    EXPECT_BYTES(4, &p, 0x70, 0x02, 0x00, 0x01);
    EXPECT_BYTES(3, &p, 0x70, 0x02, 0x00, 0x01);
}

Test(encode, acks_v311_ignore_reason_code)
{
    struct smq_packet p = packet(SMQ_PUBACK);
    p.u.ack.packet_id = 0x0203;
    p.u.ack.reason = 0x10;
    EXPECT_BYTES(4, &p, 0x40, 0x02, 0x02, 0x03);
}

Test(encode, acks_v5_success_without_properties_have_remaining_length_2)
{
    /* 3.4.2.1: reason code and property length may be omitted for 0x00 without properties;
     * the shortest form is the one to send. */
    static const uint8_t firsts[] = {0x40, 0x50, 0x62, 0x70};
    for (uint8_t t = SMQ_PUBACK; t <= SMQ_PUBCOMP; t++) {
        struct smq_packet p = packet(t);
        p.u.ack.packet_id = 0x1234;
        const uint8_t want[] = {firsts[t - SMQ_PUBACK], 0x02, 0x12, 0x34};
        expect_bytes(5, &p, want, sizeof want, __LINE__);
    }
}

Test(encode, acks_v5_reason_without_properties_decode_back)
{
    /* With a non-zero reason and no properties both 3 and 4 bytes are valid (3.4.2.2); the
     * result must decode to the same reason with no properties. */
    struct smq_packet p = packet(SMQ_PUBREC);
    p.u.ack.packet_id = 9;
    p.u.ack.reason = 0x10;
    uint8_t buf[16];
    ssize_t n = smq_encode(buf, sizeof buf, 5, &p);
    cr_assert(n == 5 || n == 6, "wrote %zd", n);
    cr_assert_eq(buf[0], 0x50);
    cr_assert_eq(buf[1], n - 2);
    cr_assert_eq(buf[4], 0x10);
    struct smq_decode_opts opts = {.version = 5};
    struct smq_packet d;
    uint8_t reason = 0;
    cr_assert_eq(smq_decode_packet(buf, (size_t)n, &opts, &d, &reason), n);
    cr_assert_eq(d.u.ack.reason, 0x10);
    cr_assert_eq(d.u.ack.packet_id, 9);
}

Test(encode, acks_v5_with_reason_string_bytes)
{
    struct smq_packet p = packet(SMQ_PUBACK);
    p.u.ack.packet_id = 1;
    p.u.ack.reason = 0x10;
    p.u.ack.props.present = SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
    p.u.ack.props.reason_string = smq_span_str("r");
    EXPECT_BYTES(5, &p, 0x40, 0x08, 0x00, 0x01, 0x10, 0x04, 0x1f, 0x00, 0x01, 'r');
    /* Success with a property must still write the reason code before the properties. */
    p.u.ack.reason = 0x00;
    EXPECT_BYTES(5, &p, 0x40, 0x08, 0x00, 0x01, 0x00, 0x04, 0x1f, 0x00, 0x01, 'r');
    p.type = SMQ_PUBREL;
    EXPECT_BYTES(5, &p, 0x62, 0x08, 0x00, 0x01, 0x00, 0x04, 0x1f, 0x00, 0x01, 'r');
}

Test(encode, subscribe_v311_bytes)
{
    static const struct smq_sub_entry e[] = {{.filter = {(const uint8_t *)"a/#", 3}, .qos = 1}};
    struct smq_packet p = packet(SMQ_SUBSCRIBE);
    p.u.subscribe.packet_id = 1;
    p.u.subscribe.list = e;
    p.u.subscribe.count = 1;
    /* [MQTT-3.8.1-1] flags 0010. */
    EXPECT_BYTES(4, &p, 0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '/', '#', 0x01);
}

Test(encode, subscribe_v311_writes_qos_only)
{
    /* 3.1.1 options byte: bits 7-2 reserved; v5 option fields are not written. */
    static const struct smq_sub_entry e[] = {{.filter = {(const uint8_t *)"t", 1},
                                              .qos = 2,
                                              .no_local = true,
                                              .retain_as_published = true,
                                              .retain_handling = 1}};
    struct smq_packet p = packet(SMQ_SUBSCRIBE);
    p.u.subscribe.packet_id = 2;
    p.u.subscribe.list = e;
    p.u.subscribe.count = 1;
    EXPECT_BYTES(4, &p, 0x82, 0x06, 0x00, 0x02, 0x00, 0x01, 't', 0x02);
}

Test(encode, subscribe_v5_options_bytes)
{
    /* 3.8.3.1: QoS bits 0-1, No Local bit 2, Retain As Published bit 3, Retain Handling
     * bits 4-5: QoS 1 + NL + RAP + RH 2 = 0x2d. */
    static const struct smq_sub_entry e[] = {{.filter = {(const uint8_t *)"t", 1},
                                              .qos = 1,
                                              .no_local = true,
                                              .retain_as_published = true,
                                              .retain_handling = 2}};
    struct smq_packet p = packet(SMQ_SUBSCRIBE);
    p.u.subscribe.packet_id = 1;
    p.u.subscribe.list = e;
    p.u.subscribe.count = 1;
    EXPECT_BYTES(5, &p, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 't', 0x2d);
    static const uint32_t id[] = {2};
    p.u.subscribe.props.sub_ids = id;
    p.u.subscribe.props.sub_ids_len = 1;
    EXPECT_BYTES(5, &p, 0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x02, 0x00, 0x01, 't', 0x2d);
}

Test(encode, suback_bytes)
{
    static const uint8_t codes[] = {0x00, 0x80};
    struct smq_packet p = packet(SMQ_SUBACK);
    p.u.sub_ack.packet_id = 1;
    p.u.sub_ack.reasons = (struct smq_span){codes, sizeof codes};
    EXPECT_BYTES(4, &p, 0x90, 0x04, 0x00, 0x01, 0x00, 0x80);
    EXPECT_BYTES(5, &p, 0x90, 0x05, 0x00, 0x01, 0x00, 0x00, 0x80);
}

Test(encode, unsubscribe_bytes)
{
    static const struct smq_span f[] = {{(const uint8_t *)"a", 1}};
    struct smq_packet p = packet(SMQ_UNSUBSCRIBE);
    p.u.unsubscribe.packet_id = 1;
    p.u.unsubscribe.list = f;
    p.u.unsubscribe.count = 1;
    /* [MQTT-3.10.1-1] flags 0010. */
    EXPECT_BYTES(4, &p, 0xa2, 0x05, 0x00, 0x01, 0x00, 0x01, 'a');
    EXPECT_BYTES(5, &p, 0xa2, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 'a');
}

Test(encode, unsuback_bytes)
{
    static const uint8_t codes[] = {0x11};
    struct smq_packet p = packet(SMQ_UNSUBACK);
    p.u.sub_ack.packet_id = 1;
    /* 3.11 of 3.1.1: packet identifier only. */
    EXPECT_BYTES(4, &p, 0xb0, 0x02, 0x00, 0x01);
    p.u.sub_ack.reasons = (struct smq_span){codes, sizeof codes};
    EXPECT_BYTES(5, &p, 0xb0, 0x04, 0x00, 0x01, 0x00, 0x11);
}

Test(encode, ping_and_disconnect_v311_bytes)
{
    struct smq_packet p = packet(SMQ_PINGREQ);
    EXPECT_BYTES(4, &p, 0xc0, 0x00);
    EXPECT_BYTES(5, &p, 0xc0, 0x00);
    p.type = SMQ_PINGRESP;
    EXPECT_BYTES(4, &p, 0xd0, 0x00);
    p.type = SMQ_DISCONNECT;
    EXPECT_BYTES(4, &p, 0xe0, 0x00);
    EXPECT_BYTES(3, &p, 0xe0, 0x00);
}

Test(encode, disconnect_v311_ignores_reason)
{
    struct smq_packet p = packet(SMQ_DISCONNECT);
    p.u.disconnect.reason = 0x8e;
    EXPECT_BYTES(4, &p, 0xe0, 0x00);
}

Test(encode, disconnect_v5_with_reason_and_property_bytes)
{
    struct smq_packet p = packet(SMQ_DISCONNECT);
    p.u.disconnect.reason = 0x8b;
    p.u.disconnect.props.present = SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
    p.u.disconnect.props.reason_string = smq_span_str("x");
    EXPECT_BYTES(5, &p, 0xe0, 0x06, 0x8b, 0x04, 0x1f, 0x00, 0x01, 'x');
}

Test(encode, auth_bytes)
{
    struct smq_packet p = packet(SMQ_AUTH);
    p.u.auth.reason = 0x18;
    p.u.auth.props.present = SMQ_PROP_BIT(SMQ_PROP_AUTH_METHOD);
    p.u.auth.props.auth_method = smq_span_str("m");
    EXPECT_BYTES(5, &p, 0xf0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, 'm');
}

/* ---------------------------------------------------------------------------------------
 * PUBLISH header + shared payload
 * ------------------------------------------------------------------------------------- */

static void check_split_publish(uint8_t version, const struct smq_publish *pub, const char *what)
{
    struct smq_packet whole = packet(SMQ_PUBLISH);
    whole.u.publish = *pub;
    size_t size = smq_encode_size(version, &whole);
    uint8_t *full = malloc(size);
    cr_assert_not_null(full);
    cr_assert_eq(smq_encode(full, size, version, &whole), (ssize_t)size, "%s", what);

    size_t hsize = smq_encode_publish_header_size(version, pub);
    cr_assert_eq(hsize + pub->payload.len, size, "%s: header %zu + payload %zu != %zu", what, hsize,
                 pub->payload.len, size);
    uint8_t *split = malloc(size + 1);
    cr_assert_not_null(split);
    memset(split, 0xEE, size + 1);
    ssize_t h = smq_encode_publish_header(split, hsize, version, pub);
    cr_assert_eq(h, (ssize_t)hsize, "%s: header wrote %zd", what, h);
    cr_assert_eq(split[hsize], 0xEE, "%s: header wrote into the payload's place", what);
    if (pub->payload.len)
        memcpy(split + hsize, pub->payload.ptr, pub->payload.len);
    cr_assert_eq(memcmp(split, full, size), 0, "%s: header + payload != whole packet", what);
    cr_assert_eq(smq_encode_publish_header(split, hsize - 1, version, pub), SMQ_ENOBUFS, "%s",
                 what);
    free(split);
    free(full);
}

Test(encode, publish_header_plus_payload_equals_whole_packet)
{
    static uint8_t payload[20000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i ^ (i >> 8));
    static const size_t lens[] = {0, 1, 5, 120, 121, 122, 200, 16370, 16380, 20000};
    uint8_t users[32];
    ssize_t w = smq_props_put_user(users, sizeof users, smq_span_str("a"), smq_span_str("b"));
    cr_assert_gt(w, 0);
    static const uint32_t ids[] = {3, 70000};
    for (uint8_t version = 3; version <= 5; version++) {
        for (uint8_t qos = 0; qos <= 2; qos++) {
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
                struct smq_publish pub = {.qos = qos,
                                          .dup = qos == 2,
                                          .retain = qos == 1,
                                          .topic = smq_span_str("sport/tennis"),
                                          .packet_id = qos ? 77 : 0,
                                          .payload = {payload, lens[l]}};
                if (version == 5 && l % 2) {
                    pub.props.present =
                        SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE) | SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY);
                    pub.props.content_type = smq_span_str("c");
                    pub.props.message_expiry = 10;
                    pub.props.multi = (struct smq_span){users, (size_t)w};
                    pub.props.sub_ids = ids;
                    pub.props.sub_ids_len = 2;
                }
                char what[64];
                snprintf(what, sizeof what, "v%d qos%d payload %zu", version, qos, lens[l]);
                check_split_publish(version, &pub, what);
            }
        }
    }
}

Test(encode, publish_header_bytes)
{
    /* Topic "t", payload of 200 bytes: remaining length 3 + 200 = 203 = cb 01. */
    static uint8_t payload[200];
    struct smq_publish pub = {.topic = smq_span_str("t"), .payload = {payload, sizeof payload}};
    uint8_t buf[16];
    cr_assert_eq(smq_encode_publish_header_size(4, &pub), 6);
    cr_assert_eq(smq_encode_publish_header(buf, sizeof buf, 4, &pub), 6);
    static const uint8_t want[] = {0x30, 0xcb, 0x01, 0x00, 0x01, 't'};
    cr_assert_eq(memcmp(buf, want, sizeof want), 0);
}

/* ---------------------------------------------------------------------------------------
 * Remaining-length boundaries and limits
 * ------------------------------------------------------------------------------------- */

Test(encode, remaining_length_boundaries)
{
    /* 2.2.3 / 1.5.5: 127 takes one byte, 128 two, 16383 two, 16384 three, 2097151 three,
     * 2097152 four. Topic "t" adds 3 bytes of body (v3.1.1, QoS 0). */
    static const struct {
        uint32_t remaining;
        uint8_t len_bytes;
        uint8_t enc[4];
    } cases[] = {
        {127, 1, {0x7f}},
        {128, 2, {0x80, 0x01}},
        {16383, 2, {0xff, 0x7f}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {2097151, 3, {0xff, 0xff, 0x7f}},
        {2097152, 4, {0x80, 0x80, 0x80, 0x01}},
        {SMQ_VARINT_MAX, 4, {0xff, 0xff, 0xff, 0x7f}},
    };
    static const uint8_t fake[1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The payload is never read by the header encoder, so a fake view is enough. */
        struct smq_publish pub = {.topic = smq_span_str("t"),
                                  .payload = {fake, cases[i].remaining - 3}};
        struct smq_packet p = packet(SMQ_PUBLISH);
        p.u.publish = pub;
        size_t hsize = 1 + cases[i].len_bytes + 3;
        cr_assert_eq(smq_encode_publish_header_size(4, &pub), hsize, "remaining %u",
                     cases[i].remaining);
        cr_assert_eq(smq_encode_size(4, &p), 1 + cases[i].len_bytes + (size_t)cases[i].remaining,
                     "remaining %u", cases[i].remaining);
        uint8_t buf[16];
        cr_assert_eq(smq_encode_publish_header(buf, sizeof buf, 4, &pub), (ssize_t)hsize);
        cr_assert_eq(buf[0], 0x30);
        cr_assert_eq(memcmp(buf + 1, cases[i].enc, cases[i].len_bytes), 0, "remaining %u",
                     cases[i].remaining);
    }
}

Test(encode, publish_larger_than_protocol_maximum_is_elimit)
{
    /* Remaining length SMQ_VARINT_MAX + 1 cannot be expressed (2.2.3). */
    static const uint8_t fake[1];
    struct smq_publish pub = {.topic = smq_span_str("t"), .payload = {fake, SMQ_VARINT_MAX - 2}};
    struct smq_packet p = packet(SMQ_PUBLISH);
    p.u.publish = pub;
    uint8_t buf[64];
    cr_assert_eq(smq_encode_publish_header_size(4, &pub), 0);
    cr_assert_eq(smq_encode_publish_header(buf, sizeof buf, 4, &pub), SMQ_ELIMIT);
    cr_assert_eq(smq_encode_size(4, &p), 0);
    cr_assert_eq(smq_encode(buf, sizeof buf, 4, &p), SMQ_ELIMIT);
    /* QoS 1 adds a packet id: one byte less payload already overflows. */
    pub.qos = 1;
    pub.packet_id = 1;
    pub.payload.len = SMQ_VARINT_MAX - 4;
    cr_assert_eq(smq_encode_publish_header(buf, sizeof buf, 4, &pub), SMQ_ELIMIT);
    pub.payload.len = SMQ_VARINT_MAX - 5;
    cr_assert_eq(smq_encode_publish_header(buf, sizeof buf, 4, &pub), 10);
}

Test(encode, string_longer_than_65535_is_refused)
{
    /* 1.5.4: a UTF-8 string has a two-byte length; the encoder checks sizes (encode.h). */
    char *topic = malloc(65536);
    cr_assert_not_null(topic);
    memset(topic, 'a', 65536);
    struct smq_publish pub = {.topic = {(const uint8_t *)topic, 65536}};
    struct smq_packet p = packet(SMQ_PUBLISH);
    p.u.publish = pub;
    uint8_t *buf = malloc(70000);
    cr_assert_not_null(buf);
    cr_assert_eq(smq_encode_size(4, &p), 0);
    cr_assert_eq(smq_encode(buf, 70000, 4, &p), SMQ_ELIMIT);
    cr_assert_eq(smq_encode_publish_header_size(4, &pub), 0);
    cr_assert_eq(smq_encode_publish_header(buf, 70000, 4, &pub), SMQ_ELIMIT);
    /* 65535 is the largest that fits. */
    p.u.publish.topic.len = 65535;
    cr_assert_eq(smq_encode_size(4, &p), 1 + 3 + 2 + 65535);
    cr_assert_eq(smq_encode(buf, 70000, 4, &p), 1 + 3 + 2 + 65535);
    cr_assert_eq(buf[4], 0xff);
    cr_assert_eq(buf[5], 0xff);

    struct smq_packet c = packet(SMQ_CONNECT);
    c.u.connect.version = SMQ_V311;
    c.u.connect.client_id = (struct smq_span){(const uint8_t *)topic, 65536};
    cr_assert_eq(smq_encode_size(4, &c), 0);
    cr_assert_eq(smq_encode(buf, 70000, 4, &c), SMQ_ELIMIT);
    free(buf);
    free(topic);
}

Test(encode, put_user_reports_room_and_limits)
{
    uint8_t buf[16];
    /* 1 + 2 + 1 + 2 + 1 = 7 bytes. */
    cr_assert_eq(smq_props_put_user(buf, 7, smq_span_str("k"), smq_span_str("v")), 7);
    static const uint8_t want[] = {0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'};
    cr_assert_eq(memcmp(buf, want, sizeof want), 0);
    cr_assert_eq(smq_props_put_user(buf, 6, smq_span_str("k"), smq_span_str("v")), SMQ_ENOBUFS);
    static const uint8_t fake[1];
    cr_assert_eq(
        smq_props_put_user(buf, sizeof buf, (struct smq_span){fake, 65536}, smq_span_str("v")),
        SMQ_EINVAL);
}

Test(encode, property_string_longer_than_65535_is_refused)
{
    /* A Reason String, Correlation Data or any other string/binary property has a two-byte
     * length (1.5.4, 1.5.6); one longer than 65,535 cannot be written. encode.h: the encoder
     * checks sizes, so it must refuse (0 and SMQ_ELIMIT, as for a long topic) rather than
     * write a wrong length prefix. */
    static uint8_t text[70000], buf[70064]; /* static: a failed assertion leaks nothing */
    size_t big = sizeof text;
    memset(text, 'r', big);

    struct smq_packet p = packet(SMQ_CONNACK);
    p.u.connack.props.present = SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
    p.u.connack.props.reason_string = (struct smq_span){text, big};
    cr_assert_eq(smq_encode_size(5, &p), 0, "CONNACK reason string of %zu bytes", big);
    cr_assert_eq(smq_encode(buf, big + 64, 5, &p), SMQ_ELIMIT);

    struct smq_packet q = packet(SMQ_PUBLISH);
    q.u.publish.topic = smq_span_str("t");
    q.u.publish.props.present = SMQ_PROP_BIT(SMQ_PROP_CORRELATION_DATA);
    q.u.publish.props.correlation_data = (struct smq_span){text, big};
    cr_assert_eq(smq_encode_size(5, &q), 0, "PUBLISH correlation data of %zu bytes", big);
    cr_assert_eq(smq_encode(buf, big + 64, 5, &q), SMQ_ELIMIT);
    cr_assert_eq(smq_encode_publish_header_size(5, &q.u.publish), 0);
    cr_assert_eq(smq_encode_publish_header(buf, big + 64, 5, &q.u.publish), SMQ_ELIMIT);
}

Test(encode, large_property_blocks_use_multibyte_lengths)
{
    /* A property length is a variable byte integer (2.2.2.1): 200 and 20,000 bytes of
     * properties take 2 and 3 bytes of length, and the packet still decodes. */
    static const size_t sizes[] = {100, 200, 20000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint8_t *text = malloc(sizes[k]);
        cr_assert_not_null(text);
        memset(text, 'x', sizes[k]);
        struct smq_packet p = packet(SMQ_PUBACK);
        p.u.ack.packet_id = 3;
        p.u.ack.props.present = SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
        p.u.ack.props.reason_string = (struct smq_span){text, sizes[k]};
        size_t size = smq_encode_size(5, &p);
        uint8_t *buf = malloc(size);
        cr_assert_not_null(buf);
        cr_assert_eq(smq_encode(buf, size, 5, &p), (ssize_t)size);
        struct smq_decode_opts opts = {.version = 5};
        struct smq_packet d;
        uint8_t reason = 0;
        cr_assert_eq(smq_decode_packet(buf, size, &opts, &d, &reason), (ssize_t)size,
                     "%zu bytes: reason 0x%02x", sizes[k], reason);
        cr_assert_eq(d.u.ack.props.reason_string.len, sizes[k]);
        free(buf);
        free(text);
    }
}
