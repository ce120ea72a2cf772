/* MQTT 5.0 subscriptions against the real shardmq: subscription options (QoS, No Local, Retain
 * As Published, Retain Handling), Subscription Identifiers, shared subscriptions across
 * workers, and the SUBACK/UNSUBACK reason codes.
 *
 * Each test starts its own broker with 4 workers and talks to it with libmosquitto's v5 API
 * (mqtt_client.h), or with raw packets built and read by proto/ (raw5.h) where the library
 * cannot produce the case or does not show the answer (UNSUBACK codes, a member that never
 * acknowledges, protocol errors). */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mqtt_client.h"
#include "proto/props.h"
#include "proto/span.h"
#include "raw5.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* A connected v5 client (clean start). */
static struct tc *client5(const char *id)
{
    struct tc *c = tc_new5(id, true);
    cr_assert_not_null(c);
    cr_assert_eq(tc_connect5(c, &tc_broker, 60, NULL), 0, "%s: CONNACK", id);
    return c;
}

/* v5 SUBSCRIBE of one filter with a Subscription Identifier (0: none); returns the code. */
static int subscribe_id(struct tc *c, const char *filter, int qos, int options, uint32_t id)
{
    mosquitto_property *props = NULL;
    if (id != 0)
        mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, id);
    int rc = tc_subscribe5(c, filter, qos, options, props);
    mosquitto_property_free_all(&props);
    return rc;
}

/* Copies the Subscription Identifiers of props into out (at most cap); returns how many. */
static int sub_ids_of(const mosquitto_property *props, uint32_t *out, int cap)
{
    int n = 0;
    uint32_t v = 0;
    const mosquitto_property *p =
        mosquitto_property_read_varint(props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &v, false);
    while (p != NULL && n < cap) {
        out[n++] = v;
        p = mosquitto_property_read_varint(p, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &v, true);
    }
    return n;
}

/* Publishes a marker on topic and waits until c has it: everything the broker queued for c
 * before the marker has arrived by then (one session's deliveries keep their order). */
static void sync_with(struct tc *c, struct tc *pub, const char *topic)
{
    int before = tc_count(c, topic, "marker");
    cr_assert_eq(tc_publish5(pub, topic, "marker", 1, false, NULL), 0);
    WAIT_FOR(tc_count(c, topic, "marker") > before, 5000);
    cr_assert_eq(tc_count(c, topic, "marker"), before + 1, "%s: marker not received", c->id);
}

/* Returns the worker ("[w0]".."[w3]") whose log line shows client id connecting, or -1. */
static int worker_of(const char *id)
{
    for (int w = 0; w < 4; w++) {
        char needle[160];
        snprintf(needle, sizeof(needle), "[w%d] connect client=\"%s\"", w, id);
        if (broker_log_count(&tc_broker, needle) > 0)
            return w;
    }
    return -1;
}

/* ---- subscription options --------------------------------------------------------------- */

Test(v5_subscribe, no_local_skips_own_messages, .init = tc_start, .fini = tc_stop)
{
    struct tc *c = client5("v5-nolocal"), *other = client5("v5-other");
    cr_assert_eq(tc_subscribe5(c, "nl/x", 1, MQTT_SUB_OPT_NO_LOCAL, NULL), 1);
    cr_assert_eq(tc_publish5(c, "nl/x", "mine", 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(other, "nl/x", "theirs", 1, false, NULL), 0);
    WAIT_FOR(tc_count(c, "nl/x", "theirs") == 1, 5000);
    pump_for(100);
    cr_expect_eq(tc_count(c, "nl/x", "theirs"), 1);
    cr_expect_eq(tc_count(c, "nl/x", "mine"), 0);
}

/* No Local holds per subscription: an overlapping subscription without it still delivers
 * the client's own message, once. */
Test(v5_subscribe, no_local_is_per_subscription, .init = tc_start, .fini = tc_stop)
{
    struct tc *c = client5("v5-nl-overlap");
    cr_assert_eq(tc_subscribe5(c, "nlo/x", 1, MQTT_SUB_OPT_NO_LOCAL, NULL), 1);
    cr_assert_eq(tc_subscribe5(c, "nlo/#", 1, 0, NULL), 1);
    cr_assert_eq(tc_publish5(c, "nlo/x", "mine", 1, false, NULL), 0);
    WAIT_FOR(tc_count(c, "nlo/x", "mine") == 1, 5000);
    pump_for(100);
    cr_expect_eq(tc_count(c, "nlo/x", "mine"), 1);
}

/* [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error. */
Test(v5_subscribe, no_local_on_shared_subscription_is_a_protocol_error, .init = tc_start,
     .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "v5-nl-shared", true, NULL);
    struct smq_sub_entry e = raw5_entry("$share/g/nls/t", 1);
    e.no_local = true;
    struct smq_packet pkt = {.type = SMQ_SUBSCRIBE};
    pkt.u.subscribe.packet_id = 3;
    pkt.u.subscribe.count = 1;
    pkt.u.subscribe.list = &e;
    raw5_send(fd, &pkt);
    struct raw5_pkt got;
    cr_assert_gt(raw5_read(fd, &got, 5000), 0, "no DISCONNECT");
    cr_assert_eq(got.pkt.type, SMQ_DISCONNECT);
    cr_expect_eq(got.pkt.u.disconnect.reason, 0x82);
    cr_expect(raw_wait_closed(fd, 3000));
    close(fd);
}

/* The granted QoS is the requested one capped by max_qos. */
Test(v5_subscribe, granted_qos_is_capped_by_max_qos, .fini = tc_stop)
{
    tc_start_with("max_qos 1\n");
    struct tc *c = client5("v5-maxqos"), *pub = client5("v5-maxqos-pub");
    cr_assert_eq(tc_subscribe5(c, "mq/2", 2, 0, NULL), 1, "asked 2, granted 1");
    cr_assert_eq(tc_subscribe5(c, "mq/1", 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(c, "mq/0", 0, 0, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "mq/2", "m", 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "mq/0", "m", 1, false, NULL), 0);
    WAIT_FOR(c->n_msgs == 2, 5000);
    cr_assert_eq(c->n_msgs, 2);
    cr_expect_eq(tc_find(c, "mq/2")->qos, 1);
    cr_expect_eq(tc_find(c, "mq/0")->qos, 0);
}

/* Overlapping subscriptions make one delivery at the highest granted QoS [MQTT-3.3.4-2]. */
Test(v5_subscribe, overlapping_subscriptions_deliver_once_at_highest_qos, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *c = client5("v5-overlap-qos"), *pub = client5("v5-overlap-pub");
    cr_assert_eq(tc_subscribe5(c, "oq/#", 0, 0, NULL), 0);
    cr_assert_eq(tc_subscribe5(c, "oq/+", 2, 0, NULL), 2);
    cr_assert_eq(tc_subscribe5(c, "oq/t", 1, 0, NULL), 1);
    cr_assert_eq(tc_publish5(pub, "oq/t", "m", 2, false, NULL), 0);
    WAIT_FOR(c->n_msgs >= 1, 5000);
    pump_for(150);
    cr_assert_eq(c->n_msgs, 1);
    cr_expect_eq(c->msgs[0].qos, 2);
}

/* Retain As Published: 1 keeps a live message's RETAIN flag, 0 clears it; a retained message
 * sent because of the subscription has RETAIN 1 either way [MQTT-3.3.1-8]. */
Test(v5_subscribe, retain_as_published_both_values, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub = client5("v5-rap-pub");
    cr_assert_eq(tc_publish5(pub, "rap/stored", "old", 1, true, NULL), 0);
    struct tc *keep = client5("v5-rap-1"), *clear = client5("v5-rap-0");
    cr_assert_eq(tc_subscribe5(keep, "rap/+", 1, MQTT_SUB_OPT_RETAIN_AS_PUBLISHED, NULL), 1);
    cr_assert_eq(tc_subscribe5(clear, "rap/+", 1, 0, NULL), 1);
    WAIT_FOR(tc_count(keep, "rap/stored", "old") == 1 && tc_count(clear, "rap/stored", "old") == 1,
             5000);
    cr_assert_eq(tc_count(keep, "rap/stored", "old"), 1);
    cr_assert_eq(tc_count(clear, "rap/stored", "old"), 1);
    cr_expect(tc_find(keep, "rap/stored")->retain);
    cr_expect(tc_find(clear, "rap/stored")->retain);

    cr_assert_eq(tc_publish5(pub, "rap/live", "new", 1, true, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "rap/plain", "p", 1, false, NULL), 0);
    WAIT_FOR(tc_count(keep, "rap/plain", "p") == 1 && tc_count(clear, "rap/plain", "p") == 1, 5000);
    cr_assert_not_null(tc_find(keep, "rap/live"));
    cr_assert_not_null(tc_find(clear, "rap/live"));
    cr_expect(tc_find(keep, "rap/live")->retain, "Retain As Published keeps RETAIN 1");
    cr_expect(!tc_find(clear, "rap/live")->retain, "[MQTT-3.3.1-12] cleared on forwarding");
    cr_expect(!tc_find(keep, "rap/plain")->retain);
    cr_expect(!tc_find(clear, "rap/plain")->retain);
}

/* Retain Handling 0: the retained messages at every subscribe, a repeated one included. */
Test(v5_subscribe, retain_handling_0_sends_at_every_subscribe, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub = client5("v5-rh0-pub"), *c = client5("v5-rh0");
    cr_assert_eq(tc_publish5(pub, "rh0/t", "r", 1, true, NULL), 0);
    cr_assert_eq(tc_subscribe5(c, "rh0/#", 1, MQTT_SUB_OPT_SEND_RETAIN_ALWAYS, NULL), 1);
    WAIT_FOR(tc_count(c, "rh0/t", "r") == 1, 5000);
    cr_assert_eq(tc_subscribe5(c, "rh0/#", 1, MQTT_SUB_OPT_SEND_RETAIN_ALWAYS, NULL), 1);
    WAIT_FOR(tc_count(c, "rh0/t", "r") == 2, 5000);
    cr_assert_eq(tc_count(c, "rh0/t", "r"), 2);
    cr_expect(c->msgs[1].retain);
}

/* Retain Handling 1: only when the subscription did not exist [MQTT-3.3.1-10]. */
Test(v5_subscribe, retain_handling_1_sends_only_for_a_new_subscription, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *pub = client5("v5-rh1-pub"), *c = client5("v5-rh1");
    cr_assert_eq(tc_publish5(pub, "rh1/t", "r", 1, true, NULL), 0);
    cr_assert_eq(tc_subscribe5(c, "rh1/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEW, NULL), 1);
    WAIT_FOR(tc_count(c, "rh1/t", "r") == 1, 5000);
    cr_assert_eq(tc_count(c, "rh1/t", "r"), 1);
    cr_assert_eq(tc_subscribe5(c, "rh1/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEW, NULL), 1);
    sync_with(c, pub, "rh1/marker");
    cr_expect_eq(tc_count(c, "rh1/t", "r"), 1, "a repeated subscribe gets none");
    /* Gone and subscribed again: new again. */
    cr_assert_eq(tc_unsubscribe(c, "rh1/#"), 0);
    cr_assert_eq(tc_subscribe5(c, "rh1/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEW, NULL), 1);
    WAIT_FOR(tc_count(c, "rh1/t", "r") == 2, 5000);
    cr_expect_eq(tc_count(c, "rh1/t", "r"), 2);
}

/* Retain Handling 2: never [MQTT-3.3.1-11]; live messages flow as usual. */
Test(v5_subscribe, retain_handling_2_never_sends, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub = client5("v5-rh2-pub"), *c = client5("v5-rh2");
    cr_assert_eq(tc_publish5(pub, "rh2/t", "r", 1, true, NULL), 0);
    cr_assert_eq(tc_subscribe5(c, "rh2/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEVER, NULL), 1);
    sync_with(c, pub, "rh2/marker");
    cr_expect_eq(tc_count(c, "rh2/t", NULL), 0);
    cr_assert_eq(tc_publish5(pub, "rh2/t", "live", 1, false, NULL), 0);
    WAIT_FOR(tc_count(c, "rh2/t", "live") == 1, 5000);
    cr_expect_eq(tc_count(c, "rh2/t", "live"), 1);
}

/* ---- Subscription Identifiers ----------------------------------------------------------- */

/* Delivered with every matching message, retained ones included; replaced with the
 * subscription; absent for a subscription without one. */
Test(v5_subscribe, subscription_identifier_is_delivered, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub = client5("v5-sid-pub"), *c = client5("v5-sid");
    cr_assert_eq(tc_publish5(pub, "sid/kept", "r", 1, true, NULL), 0);
    cr_assert_eq(subscribe_id(c, "sid/#", 1, 0, 42), 1);
    WAIT_FOR(tc_count(c, "sid/kept", "r") == 1, 5000);
    cr_assert_eq(tc_count(c, "sid/kept", "r"), 1);
    cr_expect_eq(tc_prop_int(tc_find(c, "sid/kept")->props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER), 42,
                 "the retained message names the subscription");
    cr_assert_eq(tc_publish5(pub, "sid/a", "1", 1, false, NULL), 0);
    WAIT_FOR(tc_count(c, "sid/a", "1") == 1, 5000);
    cr_expect_eq(
        tc_prop_int(tc_find_msg(c, "sid/a", "1")->props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER), 42);
    /* A new SUBSCRIBE of the same filter replaces the identifier... */
    cr_assert_eq(subscribe_id(c, "sid/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEVER, 268435455), 1);
    cr_assert_eq(tc_publish5(pub, "sid/a", "2", 1, false, NULL), 0);
    WAIT_FOR(tc_count(c, "sid/a", "2") == 1, 5000);
    cr_expect_eq(
        tc_prop_int(tc_find_msg(c, "sid/a", "2")->props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER),
        268435455, "the largest identifier");
    /* ...and one without an identifier removes it. */
    cr_assert_eq(subscribe_id(c, "sid/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEVER, 0), 1);
    cr_assert_eq(tc_publish5(pub, "sid/a", "3", 1, false, NULL), 0);
    WAIT_FOR(tc_count(c, "sid/a", "3") == 1, 5000);
    cr_expect_eq(
        tc_prop_int(tc_find_msg(c, "sid/a", "3")->props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER), -1);
}

/* [MQTT-3.3.4-4] one copy for overlapping subscriptions, carrying every identifier they
 * have, once each, on this worker and across workers. The subscriber is raw: libmosquitto
 * 2.0.11 takes a repeated Subscription Identifier in a PUBLISH for a duplicate property and
 * drops the connection. */
Test(v5_subscribe, overlapping_subscriptions_carry_every_identifier, .init = tc_start,
     .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "v5-sids", true, NULL);
    struct {
        const char *filter;
        uint8_t qos;
        uint32_t id;
    } subs[] = {
        {"ov/+", 0, 1},
        {"ov/#", 1, 2},
        {"+/x", 1, 2} /* an identifier used twice */,
        {"ov/x", 0, 0} /* none */,
        {"ov/y", 0, 7} /* does not match */,
    };
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        struct smq_sub_entry e = raw5_entry(subs[i].filter, subs[i].qos);
        uint8_t code;
        raw5_subscribe_list(fd, &e, 1, subs[i].id, &code);
        cr_assert_eq(code, subs[i].qos);
    }
    /* Two publishers: connections go round the workers, so at least one of them is on
     * another worker than the subscriber and its message crosses an inbox. */
    struct tc *pubs[2] = {client5("v5-sids-p1"), client5("v5-sids-p2")};
    for (int i = 0; i < 2; i++)
        cr_assert_eq(tc_publish5(pubs[i], "ov/x", i ? "m1" : "m0", 1, false, NULL), 0);
    for (int i = 0; i < 2; i++) {
        struct raw5_pkt r;
        cr_assert_gt(raw5_read(fd, &r, 5000), 0, "message %d", i);
        cr_assert_eq(r.pkt.type, SMQ_PUBLISH);
        cr_expect_eq(r.pkt.u.publish.qos, 1, "the highest granted QoS");
        uint32_t ids[8], id;
        size_t pos = 0;
        int n = 0;
        while (n < 8 && smq_props_next_sub_id(&r.pkt.u.publish.props, &pos, &id))
            ids[n++] = id;
        cr_assert_eq(n, 2, "identifiers 1 and 2, each once (got %d)", n);
        cr_expect((ids[0] == 1 && ids[1] == 2) || (ids[0] == 2 && ids[1] == 1), "%u %u", ids[0],
                  ids[1]);
    }
    cr_expect(raw5_quiet(fd, 200), "one copy per message");
    close(fd);
}

/* [MQTT-3.8.2.1.2] a Subscription Identifier of 0 is a Protocol Error. */
Test(v5_subscribe, subscription_identifier_zero_is_a_protocol_error, .init = tc_start,
     .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "v5-sid0", true, NULL);
    /* SUBSCRIBE id 1, properties: Subscription Identifier 0; filter "z", options QoS 0. */
    const uint8_t sub[] = {0x82, 9, 0, 1, 2, 0x0B, 0x00, 0, 1, 'z', 0};
    cr_assert_eq(raw_send(fd, sub, sizeof(sub)), 0);
    struct raw5_pkt got;
    cr_assert_gt(raw5_read(fd, &got, 5000), 0, "no DISCONNECT");
    cr_assert_eq(got.pkt.type, SMQ_DISCONNECT);
    cr_expect_eq(got.pkt.u.disconnect.reason, 0x82);
    cr_expect(raw_wait_closed(fd, 3000));
    close(fd);
}

/* ---- SUBACK and UNSUBACK reason codes ----------------------------------------------------- */

/* subscription_identifier_available false: a SUBSCRIBE carrying one gets 0xA1 for each
 * filter; one without is granted. */
Test(v5_subscribe, subscription_identifiers_unavailable_refused_with_a1, .fini = tc_stop)
{
    tc_start_with("subscription_identifier_available false\n");
    struct tc *c = client5("v5-noids"), *pub = client5("v5-noids-pub");
    cr_assert_eq(subscribe_id(c, "na/with", 1, 0, 5), 0xA1);
    cr_assert_eq(subscribe_id(c, "na/without", 1, 0, 0), 1);
    cr_assert_eq(tc_publish5(pub, "na/with", "x", 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(pub, "na/without", "y", 1, false, NULL), 0);
    WAIT_FOR(tc_count(c, "na/without", "y") == 1, 5000);
    pump_for(100);
    cr_expect_eq(tc_count(c, "na/with", NULL), 0, "the refused filter is not subscribed");
    cr_expect(!c->disconnected, "a refusal, not a disconnection");
}

/* shared_subscription_available false: 0x9E for a shared filter (0x80 for a 3.1.1 client). */
Test(v5_subscribe, shared_subscriptions_unavailable_refused_with_9e, .fini = tc_stop)
{
    tc_start_with("shared_subscription_available false\n");
    struct tc *c = client5("v5-noshare");
    cr_assert_eq(tc_subscribe5(c, "$share/g/ns/t", 1, 0, NULL), 0x9E);
    cr_assert_eq(tc_subscribe5(c, "ns/t", 1, 0, NULL), 1);
    struct tc *old = tc_new("v3-noshare", true);
    cr_assert_eq(tc_connect(old, &tc_broker, 60), 0);
    cr_assert_eq(tc_subscribe(old, "$share/g/ns/t", 1), 0x80);
    cr_assert_eq(tc_subscribe(old, "ns/t", 1), 1);
}

/* wildcard_subscription_available false: 0xA2 for `+` or `#`, in a shared filter too. */
Test(v5_subscribe, wildcard_subscriptions_unavailable_refused_with_a2, .fini = tc_stop)
{
    tc_start_with("wildcard_subscription_available false\n");
    struct tc *c = client5("v5-nowild");
    cr_assert_eq(tc_subscribe5(c, "nw/+", 1, 0, NULL), 0xA2);
    cr_assert_eq(tc_subscribe5(c, "nw/#", 1, 0, NULL), 0xA2);
    cr_assert_eq(tc_subscribe5(c, "#", 1, 0, NULL), 0xA2);
    cr_assert_eq(tc_subscribe5(c, "$share/g/nw/+", 1, 0, NULL), 0xA2);
    cr_assert_eq(tc_subscribe5(c, "$share/g/nw/t", 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(c, "nw/t", 2, 0, NULL), 2);
}

/* A filter over max_topic_length or max_topic_levels: 0x8F. A shared filter is measured by
 * its inner filter, the one matched against topics. */
Test(v5_subscribe, filter_over_the_topic_limits_refused_with_8f, .fini = tc_stop)
{
    tc_start_with("max_topic_levels 3\nmax_topic_length 12\n");
    struct tc *c = client5("v5-limits");
    cr_assert_eq(tc_subscribe5(c, "a/b/c", 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(c, "a/b/c/d", 1, 0, NULL), 0x8F);
    cr_assert_eq(tc_subscribe5(c, "a/+/#", 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(c, "abcdefghijkl", 1, 0, NULL), 1, "12 bytes");
    cr_assert_eq(tc_subscribe5(c, "abcdefghijklm", 1, 0, NULL), 0x8F, "13 bytes");
    cr_assert_eq(tc_subscribe5(c, "$share/group/a/b/c", 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(c, "$share/g/a/b/c/d", 1, 0, NULL), 0x8F);
}

/* max_subscriptions_per_session: 0x97 beyond it; replacing one adds none. */
Test(v5_subscribe, subscriptions_over_the_quota_refused_with_97, .fini = tc_stop)
{
    tc_start_with("max_subscriptions_per_session 2\n");
    struct tc *c = client5("v5-quota");
    cr_assert_eq(tc_subscribe5(c, "q/1", 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(c, "$share/g/q/2", 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(c, "q/3", 1, 0, NULL), 0x97);
    cr_assert_eq(tc_subscribe5(c, "q/1", 2, 0, NULL), 2, "a replacement");
    cr_assert_eq(tc_unsubscribe(c, "q/1"), 0);
    cr_assert_eq(tc_subscribe5(c, "q/3", 0, 0, NULL), 0);
}

/* One SUBSCRIBE, several filters: one code each, in order, failures next to grants (raw, to
 * see the exact SUBACK). */
Test(v5_subscribe, suback_has_one_code_per_filter_in_order, .fini = tc_stop)
{
    tc_start_with("wildcard_subscription_available false\nmax_subscriptions_per_session 3\n"
                  "max_qos 1\n");
    int fd = raw5_open(&tc_broker, "v5-multi", true, NULL);
    struct smq_sub_entry list[] = {
        raw5_entry("m/1", 1),          raw5_entry("m/+", 0), raw5_entry("m/2", 2),
        raw5_entry("$share/g/m/3", 0), raw5_entry("m/4", 1), raw5_entry("m/1", 0),
    };
    uint8_t codes[6];
    raw5_subscribe_list(fd, list, 6, 0, codes);
    const uint8_t want[6] = {1, 0xA2, 1, 0, 0x97, 0};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(codes[i], want[i], "filter %d: 0x%02x, not 0x%02x", i, codes[i], want[i]);
    close(fd);
}

/* UNSUBACK: 0x00 for a subscription removed, 0x11 when there was none; a shared and a plain
 * subscription of the same filter are two subscriptions. */
Test(v5_subscribe, unsuback_codes, .init = tc_start, .fini = tc_stop)
{
    int fd = raw5_open(&tc_broker, "v5-unsub", true, NULL);
    struct smq_sub_entry list[] = {raw5_entry("u/1", 1), raw5_entry("$share/g/u/1", 1)};
    uint8_t codes[2];
    raw5_subscribe_list(fd, list, 2, 0, codes);
    cr_assert_eq(codes[0], 1);
    cr_assert_eq(codes[1], 1);
    const struct smq_span filters[] = {smq_span_str("u/1"), smq_span_str("u/2"),
                                       smq_span_str("u/1"), smq_span_str("$share/g/u/1"),
                                       smq_span_str("$share/h/u/1")};
    struct smq_packet pkt = {.type = SMQ_UNSUBSCRIBE};
    pkt.u.unsubscribe.packet_id = 9;
    pkt.u.unsubscribe.count = 5;
    pkt.u.unsubscribe.list = filters;
    raw5_send(fd, &pkt);
    struct raw5_pkt ack;
    cr_assert_gt(raw5_read(fd, &ack, 5000), 0);
    cr_assert_eq(ack.pkt.type, SMQ_UNSUBACK);
    cr_assert_eq(ack.pkt.u.sub_ack.packet_id, 9);
    cr_assert_eq(ack.pkt.u.sub_ack.reasons.len, 5);
    const uint8_t want[5] = {0x00, 0x11, 0x11, 0x00, 0x11};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(ack.pkt.u.sub_ack.reasons.ptr[i], want[i], "filter %d: 0x%02x", i,
                     ack.pkt.u.sub_ack.reasons.ptr[i]);
    close(fd);
}

/* ---- shared subscriptions ------------------------------------------------------------------ */

/* Four members on four different workers share one group: 40 messages, 10 each, none lost,
 * none twice. */
Test(v5_subscribe, shared_subscription_spreads_over_four_workers, .init = tc_start, .fini = tc_stop)
{
    struct tc *m[4];
    bool on_worker[4] = {false};
    for (int i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof(id), "v5-member-%d", i);
        m[i] = client5(id);
        int w = worker_of(id);
        cr_assert(w >= 0, "%s: no connect line", id);
        on_worker[w] = true;
        cr_assert_eq(tc_subscribe5(m[i], "$share/workers/sp/+", 1, 0, NULL), 1);
    }
    for (int w = 0; w < 4; w++)
        cr_assert(on_worker[w], "no member on worker %d", w);
    struct tc *pub = client5("v5-spread-pub");
    for (int i = 0; i < 40; i++) {
        char payload[16];
        snprintf(payload, sizeof(payload), "%d", i);
        cr_assert_eq(tc_publish5(pub, "sp/job", payload, 1, false, NULL), 0);
    }
    WAIT_FOR(m[0]->n_msgs + m[1]->n_msgs + m[2]->n_msgs + m[3]->n_msgs == 40, 5000);
    pump_for(150);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(m[i]->n_msgs, 10, "member %d got %d", i, m[i]->n_msgs);
    for (int k = 0; k < 40; k++) {
        char payload[16];
        snprintf(payload, sizeof(payload), "%d", k);
        int n = 0;
        for (int i = 0; i < 4; i++)
            n += tc_count(m[i], "sp/job", payload);
        cr_expect_eq(n, 1, "message %d delivered %d times", k, n);
    }
}

static int total_msgs(struct tc **members, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += members[i]->n_msgs;
    return total;
}

/* Publishes n QoS 1 messages "tag-i" on topic and waits until the members have them all. */
static void publish_round(struct tc *pub, const char *topic, const char *tag, int n,
                          struct tc **members, int n_members, int already)
{
    for (int i = 0; i < n; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "%s-%d", tag, i);
        cr_assert_eq(tc_publish5(pub, topic, payload, 1, false, NULL), 0);
    }
    WAIT_FOR(total_msgs(members, n_members) == already + n, 5000);
    cr_assert_eq(total_msgs(members, n_members), already + n, "%s: messages lost", tag);
}

/* Counts the messages of c whose payload starts with tag-. */
static int count_tag(const struct tc *c, const char *tag)
{
    int n = 0;
    size_t len = strlen(tag);
    for (int i = 0; i < c->n_msgs; i++)
        n += strncmp(c->msgs[i].payload, tag, len) == 0 && c->msgs[i].payload[len] == '-';
    return n;
}

/* Members join and leave (unsubscribe, disconnect) between rounds: each round is shared by
 * the members of the moment, evenly. */
Test(v5_subscribe, shared_members_leave_and_join, .init = tc_start, .fini = tc_stop)
{
    const char *g = "$share/lj/lj/t";
    struct tc *a = client5("v5-lj-a"), *b = client5("v5-lj-b"), *c = client5("v5-lj-c");
    struct tc *pub = client5("v5-lj-pub");
    cr_assert_eq(tc_subscribe5(a, g, 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(b, g, 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(c, g, 1, 0, NULL), 1);
    struct tc *all[] = {a, b, c};
    publish_round(pub, "lj/t", "r1", 30, all, 3, 0);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(count_tag(all[i], "r1"), 10, "round 1, member %d", i);

    cr_assert_eq(tc_unsubscribe(c, g), 0);
    publish_round(pub, "lj/t", "r2", 20, all, 3, 30);
    cr_expect_eq(count_tag(c, "r2"), 0, "c left");
    cr_expect(count_tag(a, "r2") >= 9 && count_tag(a, "r2") <= 11, "a: %d", count_tag(a, "r2"));
    cr_expect_eq(count_tag(a, "r2") + count_tag(b, "r2"), 20);

    struct tc *d = client5("v5-lj-d");
    cr_assert_eq(tc_subscribe5(d, g, 1, 0, NULL), 1);
    struct tc *now[] = {a, b, c, d};
    publish_round(pub, "lj/t", "r3", 30, now, 4, 50);
    struct tc *members3[] = {a, b, d};
    for (int i = 0; i < 3; i++)
        cr_expect(count_tag(members3[i], "r3") >= 9 && count_tag(members3[i], "r3") <= 11,
                  "round 3, member %d: %d", i, count_tag(members3[i], "r3"));

    tc_disconnect(a); /* a clean session: its membership ends with it */
    int had_a = a->n_msgs;
    publish_round(pub, "lj/t", "r4", 20, now, 4, 80);
    cr_expect_eq(a->n_msgs, had_a);
    cr_expect(count_tag(b, "r4") >= 9 && count_tag(b, "r4") <= 11, "b: %d", count_tag(b, "r4"));
    cr_expect_eq(count_tag(b, "r4") + count_tag(d, "r4"), 20);
}

/* Checks that payloads "tag-0".."tag-(n-1)" each reached c exactly once. */
static void expect_each_once(const struct tc *c, const char *tag, int n)
{
    for (int i = 0; i < n; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "%s-%d", tag, i);
        cr_expect_eq(tc_count(c, NULL, payload), 1, "%s: %s received %d times", c->id, payload,
                     tc_count(c, NULL, payload));
    }
}

/* A member whose session ends with QoS 1 messages unacknowledged (inflight) or not yet sent
 * (queued behind its window) has them handed to the other member [4.8.2]. */
Test(v5_subscribe, shared_qos1_resent_to_another_member_when_session_ends, .fini = tc_stop)
{
    tc_start_with("max_inflight_messages 2\n");
    const char *g = "$share/rs/rs/t";
    int raw = raw5_open(&tc_broker, "v5-rs-raw", true, NULL); /* ends with its connection */
    cr_assert_eq(raw5_subscribe(raw, g, 1), 1);
    struct tc *m = client5("v5-rs-member"), *pub = client5("v5-rs-pub");
    cr_assert_eq(tc_subscribe5(m, g, 1, 0, NULL), 1);
    for (int i = 0; i < 10; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "j-%d", i);
        cr_assert_eq(tc_publish5(pub, "rs/t", payload, 1, false, NULL), 0);
    }
    WAIT_FOR(m->n_msgs == 5, 5000);
    cr_assert_eq(m->n_msgs, 5, "every other message");
    struct raw5_received got[8];
    int n = raw5_read_publishes(raw, 8, got, 500);
    cr_assert_eq(n, 2, "the window: 2 inflight, 3 queued (got %d)", n);
    close(raw); /* never acknowledged */
    WAIT_FOR(m->n_msgs == 10, 5000);
    pump_for(100);
    cr_assert_eq(m->n_msgs, 10);
    expect_each_once(m, "j", 10);
    cr_expect_eq(
        broker_log_count(&tc_broker, "5 shared-subscription messages handed to other members"), 1);
}

/* A persistent member that comes back with Clean Start ends its old session there: the
 * QoS 1 messages it held go to another member then, not to the new session. */
Test(v5_subscribe, shared_qos1_resent_when_a_member_restarts_clean, .fini = tc_stop)
{
    tc_start_with("max_inflight_messages 2\n");
    const char *g = "$share/rc/rc/t";
    struct smq_props expiry = raw5_session_expiry(300); /* outlives its connection */
    int raw = raw5_open(&tc_broker, "v5-rc-raw", true, &expiry);
    cr_assert_eq(raw5_subscribe(raw, g, 1), 1);
    struct tc *m = client5("v5-rc-member"), *pub = client5("v5-rc-pub");
    cr_assert_eq(tc_subscribe5(m, g, 1, 0, NULL), 1);
    for (int i = 0; i < 6; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "c-%d", i);
        cr_assert_eq(tc_publish5(pub, "rc/t", payload, 1, false, NULL), 0);
    }
    WAIT_FOR(m->n_msgs == 3, 5000);
    struct raw5_received got[8];
    cr_assert_eq(raw5_read_publishes(raw, 8, got, 500), 2, "2 inflight, 1 queued");
    close(raw); /* offline: its messages wait for it */
    pump_for(300);
    cr_assert_eq(m->n_msgs, 3, "nothing moves while the session lives");
    /* Clean Start: the old session ends. */
    int again = raw5_open(&tc_broker, "v5-rc-raw", true, NULL);
    WAIT_FOR(m->n_msgs == 6, 5000);
    pump_for(100);
    cr_assert_eq(m->n_msgs, 6);
    expect_each_once(m, "c", 6);
    cr_expect_eq(raw5_read_publishes(again, 8, got, 300), 0, "the new session gets none");
    close(again);
}

/* QoS 2: an inflight message the member may hold is never given to another member
 * [MQTT-4.8.2-5]; the ones still queued are. */
Test(v5_subscribe, shared_qos2_inflight_stays_with_the_member, .fini = tc_stop)
{
    tc_start_with("max_inflight_messages 1\n");
    const char *g = "$share/q2/q2/t";
    int raw = raw5_open(&tc_broker, "v5-q2-raw", true, NULL);
    cr_assert_eq(raw5_subscribe(raw, g, 2), 2);
    struct tc *m = client5("v5-q2-member"), *pub = client5("v5-q2-pub");
    cr_assert_eq(tc_subscribe5(m, g, 2, 0, NULL), 2);
    for (int i = 0; i < 4; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "k-%d", i);
        cr_assert_eq(tc_publish5(pub, "q2/t", payload, 2, false, NULL), 0);
    }
    WAIT_FOR(m->n_msgs == 2, 5000);
    struct raw5_received got[4];
    cr_assert_eq(raw5_read_publishes(raw, 4, got, 500), 1, "one inflight, one queued");
    cr_assert_eq(got[0].qos, 2);
    close(raw); /* no PUBREC */
    WAIT_FOR(m->n_msgs == 3, 5000);
    pump_for(200);
    cr_assert_eq(m->n_msgs, 3, "the queued one is handed over, the inflight one is not");
    cr_expect_eq(tc_count(m, NULL, got[0].payload), 0, "%s went to the member that left",
                 got[0].payload);
    for (int i = 0; i < 4; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "k-%d", i);
        cr_expect_leq(tc_count(m, NULL, payload), 1);
    }
}

/* A persistent member that is only offline keeps its messages (the spec allows waiting for
 * it); when its session expires they go to another member. */
Test(v5_subscribe, shared_messages_wait_for_an_offline_member_until_its_session_ends,
     .fini = tc_stop)
{
    tc_start_with("max_inflight_messages 2\n");
    const char *g = "$share/off/off/t";
    struct smq_props expiry = raw5_session_expiry(1); /* Session Expiry Interval 1 s */
    int raw = raw5_open(&tc_broker, "v5-off-raw", true, &expiry);
    cr_assert_eq(raw5_subscribe(raw, g, 1), 1);
    struct tc *m = client5("v5-off-member"), *pub = client5("v5-off-pub");
    cr_assert_eq(tc_subscribe5(m, g, 1, 0, NULL), 1);
    for (int i = 0; i < 4; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "o-%d", i);
        cr_assert_eq(tc_publish5(pub, "off/t", payload, 1, false, NULL), 0);
    }
    WAIT_FOR(m->n_msgs == 2, 5000);
    struct raw5_received got[4];
    cr_assert_eq(raw5_read_publishes(raw, 4, got, 500), 2);
    close(raw);
    pump_for(400);
    cr_assert_eq(m->n_msgs, 2, "offline, not ended: the messages wait for their member");
    WAIT_FOR(m->n_msgs == 4, 4000); /* the session expires after 1 s */
    cr_assert_eq(m->n_msgs, 4);
    expect_each_once(m, "o", 4);
}

/* No retained message is sent on a shared subscribe (4.8.2); a plain one gets it. */
Test(v5_subscribe, shared_subscribe_gets_no_retained_message, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub = client5("v5-sr-pub"), *c = client5("v5-sr");
    cr_assert_eq(tc_publish5(pub, "sr/t", "kept", 1, true, NULL), 0);
    cr_assert_eq(tc_subscribe5(c, "$share/g/sr/#", 1, 0, NULL), 1);
    sync_with(c, pub, "sr/marker");
    cr_expect_eq(tc_count(c, "sr/t", "kept"), 0);
    cr_assert_eq(tc_subscribe5(c, "sr/t", 1, 0, NULL), 1);
    WAIT_FOR(tc_count(c, "sr/t", "kept") == 1, 5000);
    cr_expect_eq(tc_count(c, "sr/t", "kept"), 1);
}

/* 4.8.2: a client with a shared and a plain subscription matching one message gets a copy
 * by each, each with its own identifier [MQTT-3.3.4-5]. */
Test(v5_subscribe, shared_and_plain_subscriptions_each_deliver_a_copy, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *c = client5("v5-both"), *pub = client5("v5-both-pub");
    cr_assert_eq(subscribe_id(c, "both/t", 1, 0, 11), 1);
    cr_assert_eq(subscribe_id(c, "$share/g/both/t", 1, 0, 22), 1);
    cr_assert_eq(tc_publish5(pub, "both/t", "m", 1, false, NULL), 0);
    WAIT_FOR(c->n_msgs == 2, 5000);
    pump_for(100);
    cr_assert_eq(c->n_msgs, 2);
    long a = tc_prop_int(c->msgs[0].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER);
    long b = tc_prop_int(c->msgs[1].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER);
    cr_expect((a == 11 && b == 22) || (a == 22 && b == 11), "ids %ld and %ld", a, b);
    uint32_t ids[4];
    cr_expect_eq(sub_ids_of(c->msgs[0].props, ids, 4), 1);
    cr_expect_eq(sub_ids_of(c->msgs[1].props, ids, 4), 1);
}

/* 3.1.1 clients may join a `$share` group, as Mosquitto accepts, beside a 5.0 member. */
Test(v5_subscribe, mqtt311_clients_share_a_group, .init = tc_start, .fini = tc_stop)
{
    struct tc *a = tc_new("v3-share-a", true), *b = tc_new("v3-share-b", true);
    cr_assert_eq(tc_connect(a, &tc_broker, 60), 0);
    cr_assert_eq(tc_connect(b, &tc_broker, 60), 0);
    struct tc *c = client5("v5-share-c"), *pub = client5("v5-share-pub");
    cr_assert_eq(tc_subscribe(a, "$share/mixed/v3/+", 1), 1);
    cr_assert_eq(tc_subscribe(b, "$share/mixed/v3/+", 1), 1);
    cr_assert_eq(tc_subscribe5(c, "$share/mixed/v3/+", 1, 0, NULL), 1);
    for (int i = 0; i < 30; i++) {
        char payload[16];
        snprintf(payload, sizeof(payload), "v-%d", i);
        cr_assert_eq(tc_publish5(pub, "v3/t", payload, 1, false, NULL), 0);
    }
    WAIT_FOR(a->n_msgs + b->n_msgs + c->n_msgs == 30, 5000);
    pump_for(100);
    cr_expect_eq(a->n_msgs, 10);
    cr_expect_eq(b->n_msgs, 10);
    cr_expect_eq(c->n_msgs, 10);
    cr_expect_eq(a->msgs[0].qos, 1);
    cr_expect_null(a->msgs[0].props, "a 3.1.1 client gets no properties");
    cr_assert_eq(tc_unsubscribe(a, "$share/mixed/v3/+"), 0);
}
