/* MQTT 5.0 publishing against the real shardmq: Message Expiry, topic aliases both ways,
 * forwarded properties, flow control (Receive Maximum both ways), Maximum Packet Size both
 * ways, and the PUBACK/PUBREC reason codes.
 *
 * Each test starts its own broker with 4 workers and talks to it with libmosquitto's v5 API
 * (mqtt_client.h), or with raw MQTT 5.0 packets built and read by proto/ (raw5.h) where the
 * library cannot produce the case or hides what is on the wire (aliases, DUP, unacknowledged
 * messages). Waits for something that must not happen come after a positive sync point. */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mqtt_client.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "raw5.h"

static struct smq_props alias_props(uint16_t alias)
{
    struct smq_props p = {0};
    p.present = SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS);
    p.topic_alias = alias;
    return p;
}

static bool payload_is(const struct smq_publish *p, const char *text)
{
    return smq_span_eq_str(p->payload, text);
}

/* A v5 libmosquitto client connected with one integer CONNECT property (id 0: none). */
static struct tc *connect5_with(const char *id, bool clean, int prop, uint32_t value)
{
    struct tc *c = tc_new5(id, clean);
    mosquitto_property *props = NULL;
    if (prop == MQTT_PROP_SESSION_EXPIRY_INTERVAL || prop == MQTT_PROP_MAXIMUM_PACKET_SIZE)
        mosquitto_property_add_int32(&props, prop, value);
    else if (prop != 0)
        mosquitto_property_add_int16(&props, prop, (uint16_t)value);
    cr_assert_eq(tc_connect5(c, &tc_broker, 60, props), 0, "CONNACK of %s", id);
    mosquitto_property_free_all(&props);
    return c;
}

/* ---- Message Expiry ------------------------------------------------------------------- */

static int publish_expiring(struct tc *pub, const char *topic, const char *payload, uint32_t expiry,
                            bool retain)
{
    mosquitto_property *props = NULL;
    if (expiry)
        mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, expiry);
    int rc = tc_publish5(pub, topic, payload, 1, retain, props);
    mosquitto_property_free_all(&props);
    return rc;
}

Test(v5_publish, expired_message_in_an_offline_queue_is_not_delivered, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *sub = connect5_with("exp-sub", false, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    cr_assert_eq(tc_subscribe5(sub, "exp/#", 1, 0, NULL), 1);
    tc_disconnect(sub);
    struct tc *pub = connect5_with("exp-pub", true, 0, 0);
    cr_assert_eq(publish_expiring(pub, "exp/short", "gone", 1, false), 0);
    cr_assert_eq(publish_expiring(pub, "exp/none", "kept", 0, false), 0);
    usleep(2100 * 1000); /* the expiry is the point: let it pass */
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    cr_assert_eq(tc_connect5(sub, &tc_broker, 60, props), 0);
    mosquitto_property_free_all(&props);
    cr_assert(sub->session_present);
    WAIT_FOR(tc_count(sub, "exp/none", "kept") == 1, 5000);
    cr_assert_eq(tc_count(sub, "exp/none", "kept"), 1, "the message without expiry arrives");
    pump_for(200);
    cr_expect_eq(tc_count(sub, "exp/short", NULL), 0, "the expired message is never delivered");
    cr_expect_eq(sub->n_msgs, 1);
}

Test(v5_publish, queued_message_carries_the_expiry_left, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = connect5_with("expl-sub", false, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    cr_assert_eq(tc_subscribe5(sub, "expl/t", 1, 0, NULL), 1);
    tc_disconnect(sub);
    struct tc *pub = connect5_with("expl-pub", true, 0, 0);
    cr_assert_eq(publish_expiring(pub, "expl/t", "soon", 10, false), 0);
    usleep(1100 * 1000); /* over a second in the queue */
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    cr_assert_eq(tc_connect5(sub, &tc_broker, 60, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(sub->n_msgs == 1, 5000);
    cr_assert_eq(tc_count(sub, "expl/t", "soon"), 1);
    long left = tc_prop_int(sub->msgs[0].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    cr_expect(left >= 1 && left < 10, "[MQTT-3.3.2-6] expiry left %ld, want 1..9", left);
}

Test(v5_publish, live_message_carries_its_expiry_and_none_without, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *sub = connect5_with("expv-sub", true, 0, 0);
    struct tc *pub = connect5_with("expv-pub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, "expv/#", 1, 0, NULL), 1);
    cr_assert_eq(publish_expiring(pub, "expv/a", "with", 300, false), 0);
    cr_assert_eq(publish_expiring(pub, "expv/b", "without", 0, false), 0);
    WAIT_FOR(sub->n_msgs == 2, 5000);
    cr_assert_eq(sub->n_msgs, 2);
    long left = tc_prop_int(tc_find(sub, "expv/a")->props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    cr_expect(left >= 299 && left <= 300, "expiry %ld", left);
    cr_expect_eq(tc_prop_int(tc_find(sub, "expv/b")->props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL), -1);
}

Test(v5_publish, expired_retained_message_is_not_delivered, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub = connect5_with("expr-pub", true, 0, 0);
    cr_assert_eq(publish_expiring(pub, "expr/short", "stale", 1, true), 0);
    cr_assert_eq(publish_expiring(pub, "expr/long", "fresh", 60, true), 0);
    usleep(1500 * 1000);
    struct tc *sub = connect5_with("expr-sub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, "expr/#", 1, 0, NULL), 1);
    WAIT_FOR(tc_count(sub, "expr/long", "fresh") == 1, 5000);
    cr_assert_eq(tc_count(sub, "expr/long", "fresh"), 1);
    long left = tc_prop_int(tc_find(sub, "expr/long")->props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    cr_expect(left >= 58 && left <= 59, "retained expiry left %ld", left);
    pump_for(200);
    cr_expect_eq(tc_count(sub, "expr/short", NULL), 0);
}

/* A will's expiry counts from its publication: a connection older than the expiry still
 * gets its will out. */
Test(v5_publish, will_expiry_counts_from_publication, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = connect5_with("expw-sub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, "expw/will", 1, 0, NULL), 1);
    struct tc *dying = tc_new5("expw-dying", true);
    mosquitto_property *wprops = NULL;
    mosquitto_property_add_int32(&wprops, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
    cr_assert_eq(mosquitto_will_set_v5(dying->m, "expw/will", 4, "gone", 1, false, wprops), 0);
    cr_assert_eq(tc_connect5(dying, &tc_broker, 60, NULL), 0);
    pump_for(1300); /* longer than the will's expiry */
    cr_assert_eq(mosquitto_disconnect_v5(dying->m, MQTT_RC_DISCONNECT_WITH_WILL_MSG, NULL), 0);
    WAIT_FOR(sub->n_msgs == 1, 5000);
    cr_assert_eq(tc_count(sub, "expw/will", "gone"), 1);
    long left = tc_prop_int(sub->msgs[0].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    cr_expect_eq(left, 1, "will expiry left %ld", left);
}

Test(v5_publish, expired_will_in_an_offline_queue_is_not_delivered, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *sub = connect5_with("expq-sub", false, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    cr_assert_eq(tc_subscribe5(sub, "expq/#", 1, 0, NULL), 1);
    tc_disconnect(sub);
    struct tc *dying = tc_new5("expq-dying", true);
    mosquitto_property *wprops = NULL;
    mosquitto_property_add_int32(&wprops, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
    cr_assert_eq(mosquitto_will_set_v5(dying->m, "expq/will", 4, "gone", 1, false, wprops), 0);
    cr_assert_eq(tc_connect5(dying, &tc_broker, 60, NULL), 0);
    cr_assert_eq(mosquitto_disconnect_v5(dying->m, MQTT_RC_DISCONNECT_WITH_WILL_MSG, NULL), 0);
    WAIT_FOR(dying->disconnected, 3000);
    struct tc *pub = connect5_with("expq-pub", true, 0, 0);
    usleep(2100 * 1000);
    cr_assert_eq(publish_expiring(pub, "expq/marker", "after", 0, false), 0);
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    cr_assert_eq(tc_connect5(sub, &tc_broker, 60, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(tc_count(sub, "expq/marker", "after") == 1, 5000);
    cr_assert_eq(tc_count(sub, "expq/marker", "after"), 1);
    cr_expect_eq(tc_count(sub, "expq/will", NULL), 0, "the will expired in the queue");
}

/* ---- topic aliases, inbound --------------------------------------------------------- */

Test(v5_publish, inbound_alias_maps_then_replaces_the_topic, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = connect5_with("ain-sub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, "ain/#", 0, 0, NULL), 0);
    int fd = raw5_open(&tc_broker, "ain-pub", true, NULL);
    struct smq_props a1 = alias_props(1);
    raw5_publish(fd, "ain/first", "1", 1, 0, 0, &a1);
    raw5_publish(fd, "", "2", 1, 0, 0, &a1);
    raw5_publish(fd, "ain/second", "3", 1, 0, 0, &a1); /* the alias now means another topic */
    raw5_publish(fd, "", "4", 1, 0, 0, &a1);
    WAIT_FOR(sub->n_msgs == 4, 5000);
    cr_assert_eq(sub->n_msgs, 4);
    cr_expect_eq(tc_count(sub, "ain/first", "1"), 1);
    cr_expect_eq(tc_count(sub, "ain/first", "2"), 1);
    cr_expect_eq(tc_count(sub, "ain/second", "3"), 1);
    cr_expect_eq(tc_count(sub, "ain/second", "4"), 1);
    cr_expect_eq(tc_prop_int(sub->msgs[1].props, MQTT_PROP_TOPIC_ALIAS), -1,
                 "the publisher's alias is not forwarded");
    close(fd);
}

static void start_alias_max_2(void)
{
    tc_start_with("max_topic_alias 2\n");
}

Test(v5_publish, inbound_alias_above_maximum_gets_disconnect_0x94, .init = start_alias_max_2,
     .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "amax", true, NULL);
    struct smq_props a2 = alias_props(2), a3 = alias_props(3);
    raw5_publish(fd, "amax/ok", "x", 1, 0, 0, &a2);
    cr_assert(raw_ping(fd), "alias 2 of 2 is fine");
    raw5_publish(fd, "amax/bad", "x", 1, 0, 0, &a3);
    cr_expect_eq(raw5_await_disconnect(fd, NULL, 3000), 0x94);
    cr_expect(raw_wait_closed(fd, 3000));
    close(fd);
}

Test(v5_publish, inbound_unknown_alias_is_a_protocol_error, .init = tc_start, .fini = tc_stop)
{
    /* 3.3.4: an empty topic with an alias that has no mapping is 0x82. */
    int fd = raw5_open(&tc_broker, "aunk", true, NULL);
    struct smq_props a1 = alias_props(1), a2 = alias_props(2);
    raw5_publish(fd, "aunk/t", "x", 1, 0, 0, &a1);
    raw5_publish(fd, "", "x", 1, 0, 0, &a1);
    cr_assert(raw_ping(fd));
    raw5_publish(fd, "", "x", 1, 0, 0, &a2); /* never mapped */
    cr_expect_eq(raw5_await_disconnect(fd, NULL, 3000), 0x82);
    close(fd);
}

Test(v5_publish, inbound_alias_zero_gets_disconnect_0x94, .init = tc_start, .fini = tc_stop)
{
    /* [MQTT-3.3.2-8]: the decoder refuses Topic Alias 0 before any state is looked at, with
     * Topic Alias invalid (proto/README.md). */
    int fd = raw5_open(&tc_broker, "azero", true, NULL);
    static const uint8_t pub[] = {0x30, 10, 0, 3, 'a', '/', 'z', 3, 0x23, 0, 0, 'x'};
    cr_assert_eq(raw_send(fd, pub, sizeof(pub)), 0);
    cr_expect_eq(raw5_await_disconnect(fd, NULL, 3000), 0x94);
    close(fd);
}

Test(v5_publish, inbound_aliases_do_not_survive_a_reconnect, .init = tc_start, .fini = tc_stop)
{
    struct smq_props se = raw5_session_expiry(60);
    int fd = raw5_open(&tc_broker, "arec", true, &se);
    struct smq_props a1 = alias_props(1);
    raw5_publish(fd, "arec/t", "x", 1, 0, 0, &a1);
    cr_assert(raw_ping(fd));
    close(fd);
    fd = raw5_open(&tc_broker, "arec", false, &se);
    raw5_publish(fd, "", "x", 1, 0, 0, &a1); /* [MQTT-3.3.2-7]: unmapped on this connection */
    cr_expect_eq(raw5_await_disconnect(fd, NULL, 3000), 0x82);
    close(fd);
}

/* ---- topic aliases, outbound -------------------------------------------------------- */

static struct smq_props tam_props(uint16_t max)
{
    struct smq_props p = {0};
    p.present = SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS_MAXIMUM);
    p.topic_alias_maximum = max;
    return p;
}

/* Expects the next PUBLISH: payload, its topic as sent (NULL: empty) and alias (0: none). */
static void expect_aliased(int fd, const char *payload, const char *topic, uint16_t alias)
{
    struct raw5_pkt *r = malloc(sizeof(*r));
    const struct smq_publish *p = raw5_expect_publish(fd, r);
    cr_assert(payload_is(p, payload), "payload %.*s, want %s", (int)p->payload.len,
              (const char *)p->payload.ptr, payload);
    if (topic)
        cr_expect(smq_span_eq_str(p->topic, topic), "%s: topic %.*s, want %s", payload,
                  (int)p->topic.len, (const char *)p->topic.ptr, topic);
    else
        cr_expect_eq(p->topic.len, 0, "%s: topic %.*s, want it empty", payload, (int)p->topic.len,
                     (const char *)p->topic.ptr);
    if (alias) {
        cr_expect(smq_props_has(&p->props, SMQ_PROP_TOPIC_ALIAS), "%s: no alias", payload);
        cr_expect_eq(p->props.topic_alias, alias, "%s: alias %u, want %u", payload,
                     p->props.topic_alias, alias);
    } else {
        cr_expect_not(smq_props_has(&p->props, SMQ_PROP_TOPIC_ALIAS), "%s: alias %u", payload,
                      p->props.topic_alias);
    }
    free(r);
}

Test(v5_publish, outbound_alias_first_with_topic_then_alone, .init = tc_start, .fini = tc_stop)
{
    struct smq_props tam = tam_props(10);
    int fd = raw5_open(&tc_broker, "aout-sub", true, &tam);
    cr_assert_eq(raw5_subscribe(fd, "aout/#", 0), 0);
    struct tc *pub = connect5_with("aout-pub", true, 0, 0);
    cr_assert_eq(tc_publish5(pub, "aout/topic", "1", 0, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "aout/topic", "2", 0, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "aout/other", "3", 0, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "aout/topic", "4", 0, false, NULL), 0);
    expect_aliased(fd, "1", "aout/topic", 1);
    expect_aliased(fd, "2", NULL, 1);
    expect_aliased(fd, "3", "aout/other", 2);
    expect_aliased(fd, "4", NULL, 1);
    close(fd);
}

static void start_broker_aliases_2(void)
{
    tc_start_with("max_topic_alias_broker 2\n");
}

Test(v5_publish, outbound_alias_replaces_the_least_recently_used, .init = start_broker_aliases_2,
     .fini = tc_stop)
{
    /* The client allows 10, the broker uses at most 2 (max_topic_alias_broker). */
    struct smq_props tam = tam_props(10);
    int fd = raw5_open(&tc_broker, "alru-sub", true, &tam);
    cr_assert_eq(raw5_subscribe(fd, "alru/#", 0), 0);
    struct tc *pub = connect5_with("alru-pub", true, 0, 0);
    const char *seq[][2] = {{"alru/A", "1"}, {"alru/B", "2"}, {"alru/A", "3"},
                            {"alru/C", "4"}, {"alru/B", "5"}, {"alru/C", "6"}};
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        cr_assert_eq(tc_publish5(pub, seq[i][0], seq[i][1], 0, false, NULL), 0);
    expect_aliased(fd, "1", "alru/A", 1);
    expect_aliased(fd, "2", "alru/B", 2);
    expect_aliased(fd, "3", NULL, 1);     /* A is now the most recent: B the least */
    expect_aliased(fd, "4", "alru/C", 2); /* B's alias goes to C, sent with its topic */
    expect_aliased(fd, "5", "alru/B", 1); /* then A's (least recent) to B */
    expect_aliased(fd, "6", NULL, 2);
    close(fd);
}

Test(v5_publish, no_outbound_alias_without_the_clients_maximum, .init = tc_start, .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "anone-sub", true, NULL);
    cr_assert_eq(raw5_subscribe(fd, "anone/#", 0), 0);
    struct tc *pub = connect5_with("anone-pub", true, 0, 0);
    cr_assert_eq(tc_publish5(pub, "anone/topic", "1", 0, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "anone/topic", "2", 0, false, NULL), 0);
    expect_aliased(fd, "1", "anone/topic", 0);
    expect_aliased(fd, "2", "anone/topic", 0);
    close(fd);
}

Test(v5_publish, short_topics_go_without_alias, .init = tc_start, .fini = tc_stop)
{
    struct smq_props tam = tam_props(10);
    int fd = raw5_open(&tc_broker, "ashort-sub", true, &tam);
    cr_assert_eq(raw5_subscribe(fd, "s/#", 0), 0);
    struct tc *pub = connect5_with("ashort-pub", true, 0, 0);
    cr_assert_eq(tc_publish5(pub, "s/a", "1", 0, false, NULL), 0); /* 3 bytes: no gain */
    cr_assert_eq(tc_publish5(pub, "s/ab", "2", 0, false, NULL), 0);
    expect_aliased(fd, "1", "s/a", 0);
    expect_aliased(fd, "2", "s/ab", 1);
    close(fd);
}

Test(v5_publish, retransmission_after_reconnect_carries_the_full_topic, .init = tc_start,
     .fini = tc_stop)
{
    struct smq_props props = tam_props(10);
    props.present |= SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    props.session_expiry = 60;
    int fd = raw5_open(&tc_broker, "adup-sub", true, &props);
    cr_assert_eq(raw5_subscribe(fd, "adup/#", 1), 1);
    struct tc *pub = connect5_with("adup-pub", true, 0, 0);
    cr_assert_eq(tc_publish5(pub, "adup/topic", "1", 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "adup/topic", "2", 1, false, NULL), 0);
    struct raw5_pkt *r = malloc(sizeof(*r));
    const struct smq_publish *p = raw5_expect_publish(fd, r);
    cr_assert(payload_is(p, "1"));
    raw5_ack(fd, SMQ_PUBACK, p->packet_id, 0);
    expect_aliased(fd, "2", NULL, 1); /* not acknowledged */
    cr_assert(raw_ping(fd), "the PUBACK of 1 was handled before the close");
    close(fd);
    fd = raw5_open(&tc_broker, "adup-sub", false, &props);
    p = raw5_expect_publish(fd, r);
    cr_expect(p->dup);
    cr_expect(payload_is(p, "2"));
    cr_expect(smq_span_eq_str(p->topic, "adup/topic"), "[MQTT-3.3.2-7] the full topic");
    cr_expect_not(smq_props_has(&p->props, SMQ_PROP_TOPIC_ALIAS));
    raw5_ack(fd, SMQ_PUBACK, p->packet_id, 0);
    /* A new message on the new connection starts its aliases over. */
    cr_assert_eq(tc_publish5(pub, "adup/topic", "3", 1, false, NULL), 0);
    expect_aliased(fd, "3", "adup/topic", 1);
    free(r);
    close(fd);
}

/* ---- forwarded properties ------------------------------------------------------------ */

/* Publishes "body" on fp/t with props from pub to sub (subscribed to fp/t) and returns the
 * received message. */
static const struct tmsg *forward(struct tc *pub, struct tc *sub, const mosquitto_property *props)
{
    int before = sub->n_msgs;
    cr_assert_eq(tc_publish5(pub, "fp/t", "body", 1, false, props), 0);
    WAIT_FOR(sub->n_msgs > before, 5000);
    cr_assert_eq(sub->n_msgs, before + 1);
    cr_assert_str_eq(sub->msgs[before].payload, "body");
    return &sub->msgs[before];
}

static void forward_pair(struct tc **pub, struct tc **sub)
{
    *sub = connect5_with("fp-sub", true, 0, 0);
    *pub = connect5_with("fp-pub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(*sub, "fp/t", 1, 0, NULL), 1);
}

Test(v5_publish, payload_format_indicator_is_forwarded, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub, *sub;
    forward_pair(&pub, &sub);
    mosquitto_property *props = NULL;
    mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
    const struct tmsg *m = forward(pub, sub, props);
    mosquitto_property_free_all(&props);
    cr_expect_eq(tc_prop_int(m->props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR), 1);
    mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 0);
    m = forward(pub, sub, props);
    mosquitto_property_free_all(&props);
    cr_expect_eq(tc_prop_int(m->props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR), 0,
                 "[MQTT-3.3.2-4] sent unaltered, 0 included");
    m = forward(pub, sub, NULL);
    cr_expect_eq(tc_prop_int(m->props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR), -1);
}

Test(v5_publish, content_type_is_forwarded, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub, *sub;
    forward_pair(&pub, &sub);
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "application/json; v=\xc3\xa9");
    const struct tmsg *m = forward(pub, sub, props);
    mosquitto_property_free_all(&props);
    char ct[64] = "";
    cr_assert(tc_prop_str(m->props, MQTT_PROP_CONTENT_TYPE, ct, sizeof(ct)));
    cr_expect_str_eq(ct, "application/json; v=\xc3\xa9");
}

Test(v5_publish, response_topic_and_correlation_data_are_forwarded, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *pub, *sub;
    forward_pair(&pub, &sub);
    const uint8_t corr[] = {0x00, 0xff, 0x10, 0x00, 0x7f};
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "fp/reply/42");
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr, sizeof(corr));
    const struct tmsg *m = forward(pub, sub, props);
    mosquitto_property_free_all(&props);
    char rt[64] = "";
    cr_assert(tc_prop_str(m->props, MQTT_PROP_RESPONSE_TOPIC, rt, sizeof(rt)));
    cr_expect_str_eq(rt, "fp/reply/42");
    void *data = NULL;
    uint16_t len = 0;
    cr_assert_not_null(
        mosquitto_property_read_binary(m->props, MQTT_PROP_CORRELATION_DATA, &data, &len, false));
    cr_expect_eq(len, sizeof(corr));
    cr_expect_arr_eq(data, corr, sizeof(corr), "correlation data altered");
    free(data);
}

Test(v5_publish, user_properties_are_forwarded_in_order, .init = tc_start, .fini = tc_stop)
{
    /* Repeated keys and an empty value too: [MQTT-3.3.2-17] [MQTT-3.3.2-18] the order is
     * kept, duplicates included. The subscriber is raw: libmosquitto 2.0.11 crashes copying
     * a received User Property whose value is empty. */
    int fd = raw5_open(&tc_broker, "fpu-sub", true, NULL);
    cr_assert_eq(raw5_subscribe(fd, "fpu/t", 1), 1);
    struct tc *pub = connect5_with("fpu-pub", true, 0, 0);
    const char *pairs[][2] = {{"k", "v"}, {"b", "2"}, {"k", "again"}, {"a", ""}};
    mosquitto_property *props = NULL;
    for (size_t i = 0; i < 4; i++)
        mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, pairs[i][0],
                                           pairs[i][1]);
    cr_assert_eq(tc_publish5(pub, "fpu/t", "body", 1, false, props), 0);
    mosquitto_property_free_all(&props);
    struct raw5_pkt *r = malloc(sizeof(*r));
    const struct smq_publish *p = raw5_expect_publish(fd, r);
    cr_assert_eq(p->props.user_count, 4);
    size_t pos = 0;
    struct smq_span key, value;
    for (size_t i = 0; i < 4; i++) {
        cr_assert(smq_props_next_user(&p->props, &pos, &key, &value));
        cr_expect(smq_span_eq_str(key, pairs[i][0]), "property %zu: key %.*s", i, (int)key.len,
                  (const char *)key.ptr);
        cr_expect(smq_span_eq_str(value, pairs[i][1]), "property %zu: value %.*s", i,
                  (int)value.len, (const char *)value.ptr);
    }
    cr_expect_not(smq_props_next_user(&p->props, &pos, &key, &value));
    free(r);
    close(fd);
}

Test(v5_publish, user_properties_reach_a_libmosquitto_subscriber, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub, *sub;
    forward_pair(&pub, &sub);
    mosquitto_property *props = NULL;
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "first", "1");
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "second", "2");
    const struct tmsg *m = forward(pub, sub, props);
    mosquitto_property_free_all(&props);
    char *name = NULL, *value = NULL;
    const mosquitto_property *p = mosquitto_property_read_string_pair(
        m->props, MQTT_PROP_USER_PROPERTY, &name, &value, false);
    cr_assert_not_null(p);
    cr_expect_str_eq(name, "first");
    cr_expect_str_eq(value, "1");
    free(name);
    free(value);
    p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, true);
    cr_assert_not_null(p);
    cr_expect_str_eq(name, "second");
    cr_expect_str_eq(value, "2");
    free(name);
    free(value);
}

Test(v5_publish, response_topic_with_a_wildcard_is_malformed, .init = tc_start, .fini = tc_stop)
{
    /* [MQTT-3.3.2-14]: the decoder refuses it (0x81, proto/README.md). */
    int fd = raw5_open(&tc_broker, "rtw", true, NULL);
    struct smq_props props = {0};
    props.present = SMQ_PROP_BIT(SMQ_PROP_RESPONSE_TOPIC);
    props.response_topic = smq_span_str("reply/#");
    raw5_publish(fd, "rtw/t", "x", 1, 0, 0, &props);
    cr_expect_eq(raw5_await_disconnect(fd, NULL, 3000), 0x81);
    close(fd);
}

/* ---- flow control --------------------------------------------------------------------- */

Test(v5_publish, broker_respects_the_clients_receive_maximum, .init = tc_start, .fini = tc_stop)
{
    struct smq_props rm = {0};
    rm.present = SMQ_PROP_BIT(SMQ_PROP_RECEIVE_MAXIMUM);
    rm.receive_maximum = 2;
    int fd = raw5_open(&tc_broker, "rmax-sub", true, &rm);
    cr_assert_eq(raw5_subscribe(fd, "rmax/t", 1), 1);
    struct tc *pub = connect5_with("rmax-pub", true, 0, 0);
    char payload[8];
    for (int i = 0; i < 5; i++) {
        snprintf(payload, sizeof(payload), "%d", i);
        cr_assert_eq(tc_publish5(pub, "rmax/t", payload, 1, false, NULL), 0);
    }
    struct raw5_pkt *r = malloc(sizeof(*r));
    const struct smq_publish *p = raw5_expect_publish(fd, r);
    cr_assert(payload_is(p, "0"));
    uint16_t first = p->packet_id;
    p = raw5_expect_publish(fd, r);
    cr_assert(payload_is(p, "1"));
    cr_expect(raw5_quiet(fd, 300), "[MQTT-3.3.4-9] a third QoS 1 PUBLISH before any PUBACK");
    raw5_ack(fd, SMQ_PUBACK, first, 0);
    p = raw5_expect_publish(fd, r);
    cr_expect(payload_is(p, "2"), "one acknowledgement lets one more through");
    cr_expect(raw5_quiet(fd, 300));
    free(r);
    close(fd);
}

static void start_awaiting_rel_2(void)
{
    tc_start_with("max_awaiting_rel 2\n");
}

Test(v5_publish, client_over_the_brokers_receive_maximum_gets_0x93, .init = start_awaiting_rel_2,
     .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "rmin", true, NULL);
    struct raw5_pkt *r = malloc(sizeof(*r));
    for (uint16_t id = 1; id <= 2; id++) {
        raw5_publish(fd, "rmin/t", "x", 1, 2, id, NULL);
        cr_assert_gt(raw5_read(fd, r, 3000), 0);
        cr_assert_eq(r->pkt.type, SMQ_PUBREC);
    }
    raw5_publish(fd, "rmin/t", "x", 1, 2, 3, NULL); /* a third awaiting PUBREL */
    cr_expect_eq(raw5_await_disconnect(fd, NULL, 3000), 0x93);
    free(r);
    close(fd);
}

Test(v5_publish, qos1_cannot_exceed_the_receive_maximum, .init = start_awaiting_rel_2,
     .fini = tc_stop)
{
    /* QoS 1 is acknowledged as it arrives, so it never counts against the maximum. */
    int fd = raw5_open(&tc_broker, "rmq1", true, NULL);
    for (uint16_t id = 1; id <= 10; id++)
        raw5_publish(fd, "rmq1/t", "x", 1, 1, id, NULL);
    struct raw5_pkt *r = malloc(sizeof(*r));
    for (uint16_t id = 1; id <= 10; id++) {
        cr_assert_gt(raw5_read(fd, r, 3000), 0);
        cr_assert_eq(r->pkt.type, SMQ_PUBACK);
        cr_assert_eq(r->pkt.u.ack.packet_id, id);
    }
    /* And a released QoS 2 frees its place. */
    for (uint16_t id = 20; id <= 24; id++) {
        raw5_publish(fd, "rmq1/t", "x", 1, 2, id, NULL);
        cr_assert_gt(raw5_read(fd, r, 3000), 0);
        cr_assert_eq(r->pkt.type, SMQ_PUBREC);
        raw5_ack(fd, SMQ_PUBREL, id, 0);
        cr_assert_gt(raw5_read(fd, r, 3000), 0);
        cr_assert_eq(r->pkt.type, SMQ_PUBCOMP);
    }
    free(r);
    cr_expect(raw_ping(fd));
    close(fd);
}

/* ---- Maximum Packet Size -------------------------------------------------------------- */

static void start_inflight_1(void)
{
    tc_start_with("max_inflight_messages 1\n");
}

Test(v5_publish, packet_over_the_clients_maximum_is_dropped_and_the_next_follows,
     .init = start_inflight_1, .fini = tc_stop)
{
    /* One inflight message at a time: a big QoS 1 message left inflight would block the
     * one after it. */
    struct tc *sub = connect5_with("mps-sub", true, MQTT_PROP_MAXIMUM_PACKET_SIZE, 100);
    cr_assert_eq(tc_subscribe5(sub, "mps/t", 1, 0, NULL), 1);
    struct tc *pub = connect5_with("mps-pub", true, 0, 0);
    char big[200];
    memset(big, 'B', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(tc_publish5(pub, "mps/t", "small-1", 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "mps/t", big, 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "mps/t", "small-2", 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "mps/t", big, 0, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "mps/t", "small-3", 0, false, NULL), 0);
    WAIT_FOR(sub->n_msgs == 3, 5000);
    cr_assert_eq(sub->n_msgs, 3, "[MQTT-3.1.2-24] only the small ones, got %d", sub->n_msgs);
    cr_expect_str_eq(sub->msgs[0].payload, "small-1");
    cr_expect_str_eq(sub->msgs[1].payload, "small-2");
    cr_expect_str_eq(sub->msgs[2].payload, "small-3");
    cr_expect(!sub->disconnected);
    cr_expect_geq(broker_log_count(&tc_broker, "above its Maximum Packet Size 100"), 1,
                  "the drop is logged (rate-limited) and counted");
}

Test(v5_publish, packet_size_counts_the_whole_packet, .init = tc_start, .fini = tc_stop)
{
    /* A PUBLISH of exactly 100 bytes passes, 101 does not: 2 fixed header, 2 + 6 topic,
     * 2 packet id, 1 property length, then the payload. */
    struct smq_props mps = {0};
    mps.present = SMQ_PROP_BIT(SMQ_PROP_MAXIMUM_PACKET_SIZE);
    mps.maximum_packet_size = 100;
    int fd = raw5_open(&tc_broker, "mpsx-sub", true, &mps);
    cr_assert_eq(raw5_subscribe(fd, "mpsx/t", 1), 1);
    struct tc *pub = connect5_with("mpsx-pub", true, 0, 0);
    char exact[100 - 13 + 1], over[100 - 13 + 2];
    memset(exact, 'e', sizeof(exact) - 1);
    exact[sizeof(exact) - 1] = '\0';
    memset(over, 'o', sizeof(over) - 1);
    over[sizeof(over) - 1] = '\0';
    cr_assert_eq(tc_publish5(pub, "mpsx/t", over, 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "mpsx/t", exact, 1, false, NULL), 0);
    struct raw5_pkt *r = malloc(sizeof(*r));
    const struct smq_publish *p = raw5_expect_publish(fd, r);
    cr_expect(payload_is(p, exact), "the 101-byte one is dropped, the 100-byte one sent");
    cr_expect_eq(r->len, 100);
    free(r);
    close(fd);
}

Test(v5_publish, retained_and_queued_messages_over_the_maximum_are_dropped, .init = tc_start,
     .fini = tc_stop)
{
    char big[300];
    memset(big, 'R', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct tc *pub = connect5_with("mpsr-pub", true, 0, 0);
    cr_assert_eq(tc_publish5(pub, "mpsr/big", big, 1, true, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "mpsr/small", "ok", 1, true, NULL), 0);
    /* Retained: the big one is not sent, the small one is. */
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE, 100);
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    struct tc *sub = tc_new5("mpsr-sub", false);
    cr_assert_eq(tc_connect5(sub, &tc_broker, 60, props), 0);
    cr_assert_eq(tc_subscribe5(sub, "mpsr/#", 1, 0, NULL), 1);
    WAIT_FOR(tc_count(sub, "mpsr/small", "ok") == 1, 5000);
    cr_assert_eq(tc_count(sub, "mpsr/small", "ok"), 1);
    /* Queued while offline: the same. */
    tc_disconnect(sub);
    cr_assert_eq(tc_publish5(pub, "mpsr/q", big, 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "mpsr/q", "after", 1, false, NULL), 0);
    cr_assert_eq(tc_connect5(sub, &tc_broker, 60, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(tc_count(sub, "mpsr/q", "after") == 1, 5000);
    cr_assert_eq(tc_count(sub, "mpsr/q", "after"), 1);
    cr_expect_eq(tc_count(sub, "mpsr/big", NULL), 0);
    cr_expect_eq(tc_count(sub, "mpsr/q", big), 0);
    cr_expect_eq(sub->n_msgs, 2);
}

static void start_max_packet_1k(void)
{
    tc_start_with("max_packet_size 1024\n");
}

Test(v5_publish, inbound_packet_over_max_packet_size_gets_0x95, .init = start_max_packet_1k,
     .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "mpsin", true, NULL);
    static uint8_t payload[1100];
    raw5_publish(fd, "mpsin/t", payload, sizeof(payload), 0, 0, NULL);
    cr_expect_eq(raw5_await_disconnect(fd, NULL, 3000), 0x95);
    close(fd);
}

/* ---- PUBACK / PUBREC reason codes ----------------------------------------------------- */

Test(v5_publish, no_matching_subscribers_is_0x10, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub = connect5_with("nms-pub", true, 0, 0);
    cr_assert_eq(tc_publish5(pub, "nms/nobody", "x", 1, false, NULL), 0);
    struct tc *sub = connect5_with("nms-sub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, "nms/somebody", 0, 0, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "nms/somebody", "x", 1, false, NULL), 0);
    cr_assert_eq(pub->n_pub_reasons, 2);
    cr_expect_eq(pub->pub_reasons[0], 0x10, "PUBACK 0x%02x", pub->pub_reasons[0]);
    cr_expect_eq(pub->pub_reasons[1], 0, "PUBACK 0x%02x", pub->pub_reasons[1]);
}

/* Reads the PUBREC of QoS 2 packet id (expecting pubrec_reason), answers PUBREL and expects a
 * successful PUBCOMP: the identifier was awaiting PUBREL. r is scratch space. */
static void finish_qos2(int fd, struct raw5_pkt *r, uint16_t id, uint8_t pubrec_reason)
{
    cr_assert_gt(raw5_read(fd, r, 3000), 0);
    cr_assert_eq(r->pkt.type, SMQ_PUBREC);
    cr_expect_eq(r->pkt.u.ack.reason, pubrec_reason);
    raw5_ack(fd, SMQ_PUBREL, id, 0);
    cr_assert_gt(raw5_read(fd, r, 3000), 0);
    cr_expect_eq(r->pkt.type, SMQ_PUBCOMP);
    cr_expect_eq(r->pkt.u.ack.reason, 0, "the identifier was awaiting PUBREL");
}

Test(v5_publish, no_matching_subscribers_pubrec_0x10_then_the_flow_goes_on, .init = tc_start,
     .fini = tc_stop)
{
    /* libmosquitto reports the PUBCOMP of a QoS 2 flow, not its PUBREC: raw bytes. 0x10 is a
     * success, so PUBREL and PUBCOMP follow. */
    int fd = raw5_open(&tc_broker, "nms2", true, NULL);
    struct raw5_pkt *r = malloc(sizeof(*r));
    raw5_publish(fd, "nms2/nobody", "x", 1, 2, 9, NULL);
    finish_qos2(fd, r, 9, 0x10);
    free(r);
    close(fd);
}

static void start_validate(void)
{
    tc_start_with("validate_payload_format true\n");
}

static int publish_format(struct tc *pub, const char *payload, int qos)
{
    mosquitto_property *props = NULL;
    mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
    int before = pub->publishes_done;
    int rc = mosquitto_publish_v5(pub->m, NULL, "pfi/t", (int)strlen(payload), payload, qos, false,
                                  props);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS)
        return -1;
    WAIT_FOR(pub->publishes_done > before || pub->disconnected, 5000);
    return pub->publishes_done > before ? 0 : -1;
}

Test(v5_publish, invalid_utf8_payload_is_refused_with_0x99, .init = start_validate, .fini = tc_stop)
{
    struct tc *sub = connect5_with("pfi-sub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, "pfi/t", 2, 0, NULL), 2);
    struct tc *pub = connect5_with("pfi-pub", true, 0, 0);
    cr_assert_eq(publish_format(pub, "bad \xff", 1), 0);
    cr_assert_eq(publish_format(pub, "bad \xc0\xaf", 2), 0);
    cr_assert_eq(publish_format(pub, "bad \xed\xa0\x80", 0), 0);
    cr_assert_eq(publish_format(pub, "good \xe2\x82\xac", 2), 0);
    /* QoS 1 refused (PUBACK), QoS 2 refused (PUBREC), QoS 0 (reported when sent), QoS 2
     * accepted (PUBCOMP). */
    cr_assert_eq(pub->n_pub_reasons, 4);
    cr_expect_eq(pub->pub_reasons[0], 0x99);
    cr_expect_eq(pub->pub_reasons[1], 0x99);
    cr_expect_eq(pub->pub_reasons[3], 0);
    WAIT_FOR(sub->n_msgs == 1, 5000);
    pump_for(100);
    cr_assert_eq(sub->n_msgs, 1, "only the valid message is delivered");
    cr_expect_str_eq(sub->msgs[0].payload, "good \xe2\x82\xac");
}

Test(v5_publish, refused_qos2_id_is_free_for_a_new_message, .init = start_validate, .fini = tc_stop)
{
    /* [MQTT-4.3.3-9] after PUBREC 0x99 the identifier starts a new message: no PUBREL. */
    struct tc *sub = connect5_with("pfq-sub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, "pfq/t", 2, 0, NULL), 2);
    int fd = raw5_open(&tc_broker, "pfq-pub", true, NULL);
    struct smq_props pf = {0};
    pf.present = SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT);
    pf.payload_format = 1;
    struct raw5_pkt *r = malloc(sizeof(*r));
    raw5_publish(fd, "pfq/t", "\xff", 1, 2, 7, &pf);
    cr_assert_gt(raw5_read(fd, r, 3000), 0);
    cr_assert_eq(r->pkt.type, SMQ_PUBREC);
    cr_expect_eq(r->pkt.u.ack.reason, 0x99);
    raw5_publish(fd, "pfq/t", "fine", 4, 2, 7, &pf); /* same id, not a DUP */
    finish_qos2(fd, r, 7, 0);
    WAIT_FOR(sub->n_msgs == 1, 5000);
    cr_expect_eq(tc_count(sub, "pfq/t", "fine"), 1);
    free(r);
    close(fd);
}

Test(v5_publish, payload_format_not_checked_unless_configured, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = connect5_with("pfo-sub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, "pfi/t", 1, 0, NULL), 1);
    struct tc *pub = connect5_with("pfo-pub", true, 0, 0);
    cr_assert_eq(publish_format(pub, "bad \xff", 1), 0);
    cr_expect_eq(pub->pub_reasons[0], 0);
    WAIT_FOR(sub->n_msgs == 1, 5000);
    cr_expect_eq(sub->n_msgs, 1);
}

static void start_retained_1(void)
{
    tc_start_with("max_retained_messages 1\n");
}

Test(v5_publish, retained_store_full_is_0x97_and_not_delivered, .init = start_retained_1,
     .fini = tc_stop)
{
    struct tc *sub = connect5_with("rsf-sub", true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, "rsf/#", 1, 0, NULL), 1);
    struct tc *pub = connect5_with("rsf-pub", true, 0, 0);
    cr_assert_eq(tc_publish5(pub, "rsf/a", "one", 1, true, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "rsf/b", "two", 2, true, NULL), 0);      /* a second topic */
    cr_assert_eq(tc_publish5(pub, "rsf/a", "replaced", 1, true, NULL), 0); /* no new topic */
    cr_assert_eq(tc_publish5(pub, "rsf/c", "plain", 1, false, NULL), 0);   /* not retained */
    cr_assert_eq(pub->n_pub_reasons, 4);
    cr_expect_eq(pub->pub_reasons[0], 0);
    cr_expect_eq(pub->pub_reasons[1], 0x97, "PUBREC 0x%02x", pub->pub_reasons[1]);
    cr_expect_eq(pub->pub_reasons[2], 0);
    cr_expect_eq(pub->pub_reasons[3], 0);
    WAIT_FOR(sub->n_msgs == 3, 5000);
    pump_for(100);
    cr_expect_eq(sub->n_msgs, 3);
    cr_expect_eq(tc_count(sub, "rsf/b", NULL), 0, "a refused message is not delivered");
}

/* Subscribes a new client id to filter and expects exactly one retained message: topic with
 * payload. */
static void expect_only_retained(const char *id, const char *filter, const char *topic,
                                 const char *payload)
{
    struct tc *sub = connect5_with(id, true, 0, 0);
    cr_assert_eq(tc_subscribe5(sub, filter, 1, 0, NULL), 1);
    WAIT_FOR(sub->n_msgs >= 1, 5000);
    pump_for(200);
    cr_assert_eq(sub->n_msgs, 1, "%d retained messages under %s", sub->n_msgs, filter);
    cr_expect_eq(tc_count(sub, topic, payload), 1);
}

/* [MQTT-3.3.2-5] an expired retained message is gone: it holds no place under
 * max_retained_messages once its expiry passed (the store deletes the expired ones before it
 * refuses a new topic). */
Test(v5_publish, expired_retained_message_gives_its_place_back, .init = start_retained_1,
     .fini = tc_stop)
{
    struct tc *pub = connect5_with("rgb-pub", true, 0, 0);
    cr_assert_eq(publish_expiring(pub, "rgb/short", "soon gone", 1, true), 0);
    cr_assert_eq(publish_expiring(pub, "rgb/next", "no room yet", 0, true), 0);
    usleep(1200 * 1000); /* the expiry is the point: let it pass */
    cr_assert_eq(publish_expiring(pub, "rgb/next", "room now", 0, true), 0);
    cr_assert_eq(pub->n_pub_reasons, 3);
    cr_expect_neq(pub->pub_reasons[0], 0x97);
    cr_expect_eq(pub->pub_reasons[1], 0x97, "the store is full: 0x%02x", pub->pub_reasons[1]);
    cr_expect_neq(pub->pub_reasons[2], 0x97, "the expired message still held the place");
    expect_only_retained("rgb-sub", "rgb/#", "rgb/next", "room now");
}

/* Without a new retained message asking for room, expired ones are deleted in the background
 * (worker 0, once a second), so they give their memory back too. */
Test(v5_publish, expired_retained_messages_are_deleted_in_the_background, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *pub = connect5_with("rbg-pub", true, 0, 0);
    cr_assert_eq(publish_expiring(pub, "rbg/a", "one", 1, true), 0);
    cr_assert_eq(publish_expiring(pub, "rbg/b", "two", 1, true), 0);
    cr_assert_eq(publish_expiring(pub, "rbg/c", "stays", 0, true), 0);
    int64_t deadline = now_ms() + 4000;
    while (broker_log_count(&tc_broker, "retained: deleted 2 expired messages") == 0 &&
           now_ms() < deadline)
        usleep(50 * 1000);
    cr_assert_eq(broker_log_count(&tc_broker, "retained: deleted 2 expired messages"), 1);
    expect_only_retained("rbg-sub", "rbg/#", "rbg/c", "stays");
}

static void start_max_qos_1(void)
{
    tc_start_with("max_qos 1\n");
}

Test(v5_publish, qos_above_max_qos_gets_disconnect_0x9b, .init = start_max_qos_1, .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "mq", true, NULL);
    raw5_publish(fd, "mq/t", "x", 1, 1, 1, NULL);
    struct raw5_pkt *r = malloc(sizeof(*r));
    cr_assert_gt(raw5_read(fd, r, 3000), 0);
    cr_assert_eq(r->pkt.type, SMQ_PUBACK, "QoS 1 is fine");
    free(r);
    raw5_publish(fd, "mq/t", "x", 1, 2, 2, NULL);
    cr_expect_eq(raw5_await_disconnect(fd, NULL, 3000), 0x9B);
    close(fd);
}

Test(v5_publish, qos_above_max_qos_closes_a_311_client, .init = start_max_qos_1, .fini = tc_stop)
{
    int fd = raw_connect(&tc_broker);
    cr_assert_eq(raw_mqtt_connect(fd, "mq311"), 0);
    raw_publish(fd, "mq/t", "x", 1, 2, false, false, 1);
    cr_expect(raw_wait_closed(fd, 3000), "closed without a DISCONNECT, as Mosquitto does");
    close(fd);
}

Test(v5_publish, pubrec_error_from_the_client_ends_the_flow_without_pubrel,
     .init = start_inflight_1, .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "prec-sub", true, NULL);
    cr_assert_eq(raw5_subscribe(fd, "prec/t", 2), 2);
    struct tc *pub = connect5_with("prec-pub", true, 0, 0);
    cr_assert_eq(tc_publish5(pub, "prec/t", "first", 2, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "prec/t", "second", 2, false, NULL), 0);
    struct raw5_pkt *r = malloc(sizeof(*r));
    const struct smq_publish *p = raw5_expect_publish(fd, r);
    cr_assert(payload_is(p, "first"));
    raw5_ack(fd, SMQ_PUBREC, p->packet_id, 0x80); /* refused by the client */
    p = raw5_expect_publish(fd, r); /* [MQTT-4.3.3-4] no PUBREL, and the window slot is free */
    cr_expect(payload_is(p, "second"));
    raw5_ack(fd, SMQ_PUBREC, p->packet_id, 0);
    cr_assert_gt(raw5_read(fd, r, 3000), 0);
    cr_expect_eq(r->pkt.type, SMQ_PUBREL, "an accepting PUBREC is answered with PUBREL");
    free(r);
    close(fd);
}
