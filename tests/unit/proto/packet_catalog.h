/* Test helper for the proto suites (encode, roundtrip, truncation): one catalog of valid
 * packets shared by the three. Definitions are static, so each suite that includes it gets
 * its own copy; include it once, after the proto headers. */
#ifndef SMQ_TESTS_PACKET_CATALOG_H
#define SMQ_TESTS_PACKET_CATALOG_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/packet.h"
#include "proto/props.h"
#include "proto/varint.h"

/* ---------------------------------------------------------------------------------------
 * A catalog of valid packets: every type in every protocol level where it exists, and for
 * 5.0 every property the packet may carry. All pointers go to static storage.
 * ------------------------------------------------------------------------------------- */

#define MAX_SAMPLES 128

struct sample {
    char name[64];
    uint8_t version; /* the connection's level (a CONNECT carries its own as well) */
    struct smq_packet pkt;
};

static struct sample samples[MAX_SAMPLES];
static size_t n_samples;

static uint8_t user_store[MAX_SAMPLES][128];
static size_t user_next;

static const uint8_t bin_012[] = {0x00, 0x01, 0x02};
static const uint8_t bin_ff00[] = {0xff, 0x00};
static const uint8_t suback_v3_codes[] = {0x00, 0x01, 0x02, 0x80};
static const uint8_t suback_v5_codes[] = {0x00, 0x01, 0x02, 0x80, 0x87, 0xa2};
static const uint8_t unsuback_v5_codes[] = {0x00, 0x11, 0x8f};
static const uint32_t publish_sub_ids[] = {1, 16384, SMQ_VARINT_MAX};
static const uint32_t subscribe_sub_ids[] = {42};
static uint8_t big_payload[300];

static const struct smq_sub_entry sub_entries_v3[] = {
    {.filter = {(const uint8_t *)"a/b", 3}, .qos = 0},
    {.filter = {(const uint8_t *)"c/#", 3}, .qos = 1},
    {.filter = {(const uint8_t *)"+/d", 3}, .qos = 2},
};
static const struct smq_sub_entry sub_entries_v5[] = {
    {.filter = {(const uint8_t *)"a/b", 3},
     .qos = 1,
     .no_local = true,
     .retain_as_published = true,
     .retain_handling = 2},
    {.filter = {(const uint8_t *)"$share/g/t", 10}, .qos = 2, .retain_handling = 1},
    {.filter = {(const uint8_t *)"x", 1}, .qos = 0, .retain_as_published = true},
};
static const struct smq_span unsub_filters_v3[] = {
    {(const uint8_t *)"a/b", 3},
    {(const uint8_t *)"#", 1},
};
static const struct smq_span unsub_filters_v5[] = {
    {(const uint8_t *)"a/b", 3},
    {(const uint8_t *)"#", 1},
    {(const uint8_t *)"$share/g/t", 10},
};

#define SPAN_OF(array) ((struct smq_span){(array), sizeof(array)})
#define BIT(id)        SMQ_PROP_BIT(SMQ_PROP_##id)

/* Returns a `multi` span holding the first n of a fixed set of User Properties. */
static struct smq_span make_users(int n)
{
    static const char *const keys[] = {"k", "key two", "", "\xc3\xa9t\xc3\xa9"};
    static const char *const vals[] = {"v", "value two", "", "x"};
    cr_assert_lt(user_next, MAX_SAMPLES);
    cr_assert_leq(n, 4);
    uint8_t *buf = user_store[user_next++];
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        ssize_t w = smq_props_put_user(buf + off, sizeof user_store[0] - off, smq_span_str(keys[i]),
                                       smq_span_str(vals[i]));
        cr_assert_gt(w, 0);
        off += (size_t)w;
    }
    return (struct smq_span){buf, off};
}

static struct smq_packet *add_sample(uint8_t version, uint8_t type, const char *what)
{
    cr_assert_lt(n_samples, MAX_SAMPLES);
    struct sample *s = &samples[n_samples++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s %s v%d", smq_packet_type_name(type), what, version);
    s->version = version;
    s->pkt.type = type;
    return &s->pkt;
}

static void add_connects(uint8_t v)
{
    struct smq_packet *p = add_sample(v, SMQ_CONNECT, "minimal");
    p->u.connect = (struct smq_connect){
        .version = v, .clean_start = true, .keep_alive = 60, .client_id = smq_span_str("a")};

    p = add_sample(v, SMQ_CONNECT, "will+credentials");
    struct smq_connect *c = &p->u.connect;
    c->version = v;
    c->keep_alive = 0xffff;
    c->client_id = smq_span_str("client-\xc3\xa9");
    c->will = true;
    c->will_qos = 1;
    c->will_retain = true;
    c->will_topic = smq_span_str("w/t");
    c->will_payload = SPAN_OF(bin_012);
    c->has_username = true;
    c->username = smq_span_str("user");
    c->has_password = true;
    c->password = SPAN_OF(bin_ff00);
    if (v == SMQ_V5) {
        struct smq_props *pr = &c->props;
        pr->present = BIT(SESSION_EXPIRY) | BIT(RECEIVE_MAXIMUM) | BIT(MAXIMUM_PACKET_SIZE) |
                      BIT(TOPIC_ALIAS_MAXIMUM) | BIT(REQUEST_RESPONSE_INFO) |
                      BIT(REQUEST_PROBLEM_INFO) | BIT(AUTH_METHOD) | BIT(AUTH_DATA);
        pr->session_expiry = 0xffffffff;
        pr->receive_maximum = 100;
        pr->maximum_packet_size = 1048576;
        pr->topic_alias_maximum = 10;
        pr->request_response_info = 1;
        pr->request_problem_info = 0;
        pr->auth_method = smq_span_str("SCRAM-SHA-1");
        pr->auth_data = SPAN_OF(bin_012);
        pr->multi = make_users(2);
        struct smq_props *w = &c->will_props;
        w->present = BIT(WILL_DELAY) | BIT(PAYLOAD_FORMAT) | BIT(MESSAGE_EXPIRY) |
                     BIT(CONTENT_TYPE) | BIT(RESPONSE_TOPIC) | BIT(CORRELATION_DATA);
        w->will_delay = 30;
        w->payload_format = 1;
        w->message_expiry = 3600;
        w->content_type = smq_span_str("text/plain");
        w->response_topic = smq_span_str("reply/here");
        w->correlation_data = SPAN_OF(bin_ff00);
        w->multi = make_users(1);
    }

    p = add_sample(v, SMQ_CONNECT, "username only, will qos 2");
    c = &p->u.connect;
    c->version = v;
    c->clean_start = true;
    c->client_id = smq_span_str(v == SMQ_V31 ? "x" : ""); /* 3.1 wanted 1 to 23 characters */
    c->will = true;
    c->will_qos = 2;
    c->will_topic = smq_span_str("t");
    c->has_username = true;
    c->username = smq_span_str("");

    if (v == SMQ_V5) {
        /* 5.0 allows a password without a username (3.1.2.9). */
        p = add_sample(v, SMQ_CONNECT, "password only");
        c = &p->u.connect;
        c->version = v;
        c->client_id = smq_span_str("c");
        c->has_password = true;
        c->password = smq_span_str("secret");
        c->props.present = BIT(SESSION_EXPIRY);
        c->props.session_expiry = 0;
    }
}

static void add_connacks(uint8_t v)
{
    /* 3.1 had no session present flag (the byte was reserved), so only from level 4. */
    struct smq_packet *p = add_sample(v, SMQ_CONNACK, "accepted");
    p->u.connack.session_present = v >= SMQ_V311;
    p = add_sample(v, SMQ_CONNACK, "refused");
    p->u.connack.reason = v == SMQ_V5 ? 0x87 : SMQ_V3_NOT_AUTHORIZED;
    if (v == SMQ_V5) {
        p->u.connack.props.present = BIT(REASON_STRING);
        p->u.connack.props.reason_string = smq_span_str("go away");
        p = add_sample(v, SMQ_CONNACK, "every property");
        struct smq_props *pr = &p->u.connack.props;
        pr->present = BIT(SESSION_EXPIRY) | BIT(RECEIVE_MAXIMUM) | BIT(MAXIMUM_QOS) |
                      BIT(RETAIN_AVAILABLE) | BIT(MAXIMUM_PACKET_SIZE) | BIT(ASSIGNED_CLIENT_ID) |
                      BIT(TOPIC_ALIAS_MAXIMUM) | BIT(REASON_STRING) | BIT(WILDCARD_SUB_AVAILABLE) |
                      BIT(SUB_ID_AVAILABLE) | BIT(SHARED_SUB_AVAILABLE) | BIT(SERVER_KEEP_ALIVE) |
                      BIT(RESPONSE_INFO) | BIT(SERVER_REFERENCE) | BIT(AUTH_METHOD) |
                      BIT(AUTH_DATA);
        pr->session_expiry = 120;
        pr->receive_maximum = 65535;
        pr->maximum_qos = 1;
        pr->retain_available = 0;
        pr->maximum_packet_size = 268435460u;
        pr->assigned_client_id = smq_span_str("auto-1");
        pr->topic_alias_maximum = 0;
        pr->reason_string = smq_span_str("ok");
        pr->wildcard_sub_available = 1;
        pr->sub_id_available = 0;
        pr->shared_sub_available = 1;
        pr->server_keep_alive = 30;
        pr->response_info = smq_span_str("resp/");
        pr->server_reference = smq_span_str("other:1883");
        pr->auth_method = smq_span_str("m");
        pr->auth_data = SPAN_OF(bin_012);
        pr->multi = make_users(4);
    }
}

static void add_publishes(uint8_t v)
{
    for (uint8_t qos = 0; qos <= 2; qos++) {
        struct smq_packet *p = add_sample(v, SMQ_PUBLISH,
                                          qos == 0   ? "qos0 retain"
                                          : qos == 1 ? "qos1"
                                                     : "qos2 dup retain");
        struct smq_publish *pub = &p->u.publish;
        pub->qos = qos;
        pub->retain = qos != 1;
        pub->dup = qos == 2;
        pub->topic = smq_span_str("a/b/c");
        pub->packet_id = qos ? (uint16_t)(0x1234 + qos) : 0;
        pub->payload = smq_span_str("hello");
    }
    struct smq_packet *p = add_sample(v, SMQ_PUBLISH, "empty payload");
    p->u.publish.topic = smq_span_str("t");
    p = add_sample(v, SMQ_PUBLISH, "300-byte payload");
    p->u.publish.qos = 1;
    p->u.publish.packet_id = 0xffff;
    p->u.publish.topic = smq_span_str("$SYS/x");
    p->u.publish.payload = SPAN_OF(big_payload);
    if (v == SMQ_V5) {
        p = add_sample(v, SMQ_PUBLISH, "every property");
        struct smq_publish *pub = &p->u.publish;
        pub->qos = 2;
        pub->packet_id = 7;
        pub->topic = smq_span_str("x/y");
        pub->payload = SPAN_OF(bin_012);
        struct smq_props *pr = &pub->props;
        pr->present = BIT(PAYLOAD_FORMAT) | BIT(MESSAGE_EXPIRY) | BIT(TOPIC_ALIAS) |
                      BIT(RESPONSE_TOPIC) | BIT(CORRELATION_DATA) | BIT(CONTENT_TYPE);
        pr->payload_format = 0;
        pr->message_expiry = 0;
        pr->topic_alias = 0xffff;
        pr->response_topic = smq_span_str("r/t");
        pr->correlation_data = SPAN_OF(bin_ff00);
        pr->content_type = smq_span_str("application/json");
        pr->sub_ids = publish_sub_ids;
        pr->sub_ids_len = 3;
        pr->multi = make_users(3);

        p = add_sample(v, SMQ_PUBLISH, "topic alias, empty topic");
        p->u.publish.topic = smq_span_str("");
        p->u.publish.props.present = BIT(TOPIC_ALIAS);
        p->u.publish.props.topic_alias = 1;
        p->u.publish.payload = smq_span_str("p");
    }
}

static void add_acks(uint8_t v)
{
    static const uint8_t types[] = {SMQ_PUBACK, SMQ_PUBREC, SMQ_PUBREL, SMQ_PUBCOMP};
    for (size_t i = 0; i < sizeof types; i++) {
        uint8_t t = types[i];
        uint8_t failure = t == SMQ_PUBACK || t == SMQ_PUBREC ? 0x10 : 0x92;
        struct smq_packet *p = add_sample(v, t, "plain");
        p->u.ack.packet_id = 0x0102;
        if (v != SMQ_V5)
            continue;
        p = add_sample(v, t, "reason only");
        p->u.ack.packet_id = 1;
        p->u.ack.reason = failure;
        p = add_sample(v, t, "success with properties");
        p->u.ack.packet_id = 0xffff;
        p->u.ack.props.present = BIT(REASON_STRING);
        p->u.ack.props.reason_string = smq_span_str("fine");
        p->u.ack.props.multi = make_users(1);
        p = add_sample(v, t, "reason with user property");
        p->u.ack.packet_id = 2;
        p->u.ack.reason = failure;
        p->u.ack.props.multi = make_users(2);
    }
}

static void add_subscriptions(uint8_t v)
{
    struct smq_packet *p = add_sample(v, SMQ_SUBSCRIBE, "three filters");
    p->u.subscribe.packet_id = 10;
    if (v == SMQ_V5) {
        p->u.subscribe.list = sub_entries_v5;
        p->u.subscribe.count = 3;
        p->u.subscribe.props.sub_ids = subscribe_sub_ids;
        p->u.subscribe.props.sub_ids_len = 1;
        p->u.subscribe.props.multi = make_users(1);
    } else {
        p->u.subscribe.list = sub_entries_v3;
        p->u.subscribe.count = 3;
    }
    p = add_sample(v, SMQ_SUBSCRIBE, "one filter");
    p->u.subscribe.packet_id = 0xffff;
    p->u.subscribe.list = &sub_entries_v3[1];
    p->u.subscribe.count = 1;

    p = add_sample(v, SMQ_SUBACK, "codes");
    p->u.sub_ack.packet_id = 10;
    if (v == SMQ_V5) {
        p->u.sub_ack.reasons = SPAN_OF(suback_v5_codes);
        p->u.sub_ack.props.present = BIT(REASON_STRING);
        p->u.sub_ack.props.reason_string = smq_span_str("partly");
        p->u.sub_ack.props.multi = make_users(1);
    } else {
        p->u.sub_ack.reasons = SPAN_OF(suback_v3_codes);
    }

    p = add_sample(v, SMQ_UNSUBSCRIBE, "filters");
    p->u.unsubscribe.packet_id = 11;
    if (v == SMQ_V5) {
        p->u.unsubscribe.list = unsub_filters_v5;
        p->u.unsubscribe.count = 3;
        p->u.unsubscribe.props.multi = make_users(2);
    } else {
        p->u.unsubscribe.list = unsub_filters_v3;
        p->u.unsubscribe.count = 2;
    }

    p = add_sample(v, SMQ_UNSUBACK, "plain");
    p->u.sub_ack.packet_id = 11;
    if (v == SMQ_V5) {
        p->u.sub_ack.reasons = SPAN_OF(unsuback_v5_codes);
        p->u.sub_ack.props.present = BIT(REASON_STRING);
        p->u.sub_ack.props.reason_string = smq_span_str("r");
        p->u.sub_ack.props.multi = make_users(1);
    }
}

static void add_others(uint8_t v)
{
    add_sample(v, SMQ_PINGREQ, "");
    add_sample(v, SMQ_PINGRESP, "");
    add_sample(v, SMQ_DISCONNECT, "normal");
    if (v != SMQ_V5)
        return;
    struct smq_packet *p = add_sample(v, SMQ_DISCONNECT, "with will");
    p->u.disconnect.reason = 0x04;
    p = add_sample(v, SMQ_DISCONNECT, "every property");
    p->u.disconnect.reason = 0x9c;
    p->u.disconnect.props.present =
        BIT(SESSION_EXPIRY) | BIT(REASON_STRING) | BIT(SERVER_REFERENCE);
    p->u.disconnect.props.session_expiry = 5;
    p->u.disconnect.props.reason_string = smq_span_str("moved");
    p->u.disconnect.props.server_reference = smq_span_str("b:1883");
    p->u.disconnect.props.multi = make_users(1);
    p = add_sample(v, SMQ_DISCONNECT, "success with reason string");
    p->u.disconnect.props.present = BIT(REASON_STRING);
    p->u.disconnect.props.reason_string = smq_span_str("bye");

    p = add_sample(v, SMQ_AUTH, "continue, every property");
    p->u.auth.reason = 0x18;
    p->u.auth.props.present = BIT(AUTH_METHOD) | BIT(AUTH_DATA) | BIT(REASON_STRING);
    p->u.auth.props.auth_method = smq_span_str("SCRAM-SHA-1");
    p->u.auth.props.auth_data = SPAN_OF(bin_012);
    p->u.auth.props.reason_string = smq_span_str("step 2");
    p->u.auth.props.multi = make_users(2);
    p = add_sample(v, SMQ_AUTH, "success with method");
    p->u.auth.props.present = BIT(AUTH_METHOD);
    p->u.auth.props.auth_method = smq_span_str("m");
    p = add_sample(v, SMQ_AUTH, "re-authenticate");
    p->u.auth.reason = 0x19;
    p->u.auth.props.present = BIT(AUTH_METHOD);
    p->u.auth.props.auth_method = smq_span_str("m");
}

/* Fills samples[] with the whole catalog. */
static void build_catalog(void)
{
    n_samples = 0;
    user_next = 0;
    for (size_t i = 0; i < sizeof big_payload; i++)
        big_payload[i] = (uint8_t)(i * 7);
    for (uint8_t v = SMQ_V31; v <= SMQ_V5; v++) {
        add_connects(v);
        add_connacks(v);
        add_publishes(v);
        add_acks(v);
        add_subscriptions(v);
        add_others(v);
    }
}

/* The flags nibble the spec gives each packet [MQTT-2.1.3-1]. */
static uint8_t expected_flags(const struct smq_packet *pkt)
{
    if (pkt->type == SMQ_PUBLISH) {
        const struct smq_publish *pub = &pkt->u.publish;
        return (uint8_t)((pub->dup ? 8 : 0) | pub->qos << 1 | (pub->retain ? 1 : 0));
    }
    if (pkt->type == SMQ_PUBREL || pkt->type == SMQ_SUBSCRIBE || pkt->type == SMQ_UNSUBSCRIBE)
        return 2;
    return 0;
}

#endif
