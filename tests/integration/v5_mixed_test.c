/* 3.x and 5.0 clients on one broker: messages cross versions in both directions, a v5
 * message reaches 3.x subscribers without its properties, and request/response works
 * between versions as far as 3.x allows.
 *
 * A 3.x PUBLISH has no property block, so a property leaking into one would show up as
 * bytes in front of the payload: every test compares payloads exactly. Each test starts
 * its own broker with 4 workers and talks to it with libmosquitto (3.1, 3.1.1 and the v5
 * API, mqtt_client.h). */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mqtt_client.h"

/* A connected 3.1.1 client (or 3.1 with v31). */
static struct tc *connect3(const char *id, bool clean, bool v31)
{
    struct tc *c = tc_new(id, clean);
    if (v31)
        mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V31);
    cr_assert_eq(tc_connect(c, &tc_broker, 60), 0, "CONNACK of %s", id);
    return c;
}

static struct tc *connect5(const char *id)
{
    struct tc *c = tc_new5(id, true);
    cr_assert_eq(tc_connect5(c, &tc_broker, 60, NULL), 0, "CONNACK of %s", id);
    return c;
}

/* Every property a PUBLISH may forward, for checking none reaches a 3.x client. */
static mosquitto_property *all_props(void)
{
    mosquitto_property *props = NULL;
    mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
    mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 600);
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "text/plain");
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "mx/reply");
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "id-1", 4);
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "k", "v");
    return props;
}

Test(v5_mixed, v5_message_reaches_a_311_subscriber, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = connect3("v3-sub", true, false);
    struct tc *pub = connect5("v5-pub");
    cr_assert_eq(tc_subscribe(sub, "mx/#", 2), 2);
    mosquitto_property *props = all_props();
    cr_assert_eq(tc_publish5(pub, "mx/a", "cross", 1, false, props), 0);
    cr_assert_eq(tc_publish5(pub, "mx/b", "twice", 2, false, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(sub->n_msgs == 2, 5000);
    cr_assert_eq(sub->n_msgs, 2);
    cr_expect_eq(tc_count(sub, "mx/a", "cross"), 1, "the payload arrives exactly");
    cr_expect_eq(tc_count(sub, "mx/b", "twice"), 1);
    cr_expect_eq(tc_find(sub, "mx/a")->payloadlen, 5);
    cr_expect_eq(tc_find(sub, "mx/a")->qos, 1);
    cr_expect_eq(tc_find(sub, "mx/b")->qos, 2);
    cr_expect_null(sub->msgs[0].props);
}

Test(v5_mixed, v5_message_reaches_a_31_subscriber, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = connect3("v31-sub", true, true);
    struct tc *pub = connect5("v5-pub31");
    cr_assert_eq(tc_subscribe(sub, "mx31/#", 2), 2);
    mosquitto_property *props = all_props();
    cr_assert_eq(tc_publish5(pub, "mx31/a", "to 3.1", 2, false, props), 0);
    cr_assert_eq(tc_publish5(pub, "mx31/b", "qos0", 0, false, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(sub->n_msgs == 2, 5000);
    cr_assert_eq(sub->n_msgs, 2);
    cr_expect_eq(tc_count(sub, "mx31/a", "to 3.1"), 1);
    cr_expect_eq(tc_count(sub, "mx31/b", "qos0"), 1);
    cr_expect_eq(tc_find(sub, "mx31/a")->qos, 2);
}

Test(v5_mixed, v311_message_reaches_a_v5_subscriber, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = connect5("v5-sub");
    struct tc *pub = connect3("v3-pub", true, false);
    struct tc *pub31 = connect3("v31-pub", true, true);
    cr_assert_eq(tc_subscribe5(sub, "mx3/#", 2, 0, NULL), 2);
    cr_assert_eq(tc_publish(pub, "mx3/a", "from 3.1.1", 1, false), 0);
    cr_assert_eq(tc_publish(pub31, "mx3/b", "from 3.1", 2, false), 0);
    WAIT_FOR(sub->n_msgs == 2, 5000);
    cr_assert_eq(sub->n_msgs, 2);
    const struct tmsg *a = tc_find_msg(sub, "mx3/a", "from 3.1.1");
    const struct tmsg *b = tc_find_msg(sub, "mx3/b", "from 3.1");
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_expect_eq(a->qos, 1);
    cr_expect_eq(b->qos, 2);
    /* Nothing the 3.x publisher could not have said is made up on the way. */
    cr_expect_eq(tc_prop_int(a->props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR), -1);
    cr_expect_eq(tc_prop_int(a->props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL), -1);
    char s[64];
    cr_expect_not(tc_prop_str(a->props, MQTT_PROP_RESPONSE_TOPIC, s, sizeof(s)));
    cr_expect_not(tc_prop_str(a->props, MQTT_PROP_CONTENT_TYPE, s, sizeof(s)));
}

Test(v5_mixed, retained_message_set_by_v5_is_read_by_311, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub = connect5("v5-ret");
    mosquitto_property *props = all_props();
    cr_assert_eq(tc_publish5(pub, "mxr/v5", "kept by v5", 1, true, props), 0);
    mosquitto_property_free_all(&props);
    struct tc *sub = connect3("v3-ret-sub", true, false);
    cr_assert_eq(tc_subscribe(sub, "mxr/#", 1), 1);
    WAIT_FOR(sub->n_msgs == 1, 5000);
    cr_assert_eq(tc_count(sub, "mxr/v5", "kept by v5"), 1);
    cr_expect(sub->msgs[0].retain);
}

Test(v5_mixed, retained_message_set_by_311_is_read_by_v5, .init = tc_start, .fini = tc_stop)
{
    struct tc *pub = connect3("v3-ret", true, false);
    cr_assert_eq(tc_publish(pub, "mxr3/v3", "kept by 3.1.1", 1, true), 0);
    struct tc *sub = connect5("v5-ret-sub");
    cr_assert_eq(tc_subscribe5(sub, "mxr3/#", 1, 0, NULL), 1);
    WAIT_FOR(sub->n_msgs == 1, 5000);
    cr_assert_eq(tc_count(sub, "mxr3/v3", "kept by 3.1.1"), 1);
    cr_expect(sub->msgs[0].retain);
    cr_expect_eq(tc_prop_int(sub->msgs[0].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL), -1);
}

Test(v5_mixed, expired_v5_message_is_not_delivered_to_an_offline_311_session, .init = tc_start,
     .fini = tc_stop)
{
    /* Message Expiry binds the broker whoever the subscriber is. */
    struct tc *sub = connect3("v3-exp", false, false);
    cr_assert_eq(tc_subscribe(sub, "mxe/#", 1), 1);
    tc_disconnect(sub);
    struct tc *pub = connect5("v5-exp");
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
    cr_assert_eq(tc_publish5(pub, "mxe/short", "stale", 1, false, props), 0);
    mosquitto_property_free_all(&props);
    usleep(2100 * 1000);
    cr_assert_eq(tc_publish5(pub, "mxe/marker", "fresh", 1, false, NULL), 0);
    cr_assert_eq(tc_connect(sub, &tc_broker, 60), 0);
    WAIT_FOR(tc_count(sub, "mxe/marker", "fresh") == 1, 5000);
    cr_assert_eq(tc_count(sub, "mxe/marker", "fresh"), 1);
    cr_expect_eq(tc_count(sub, "mxe/short", NULL), 0);
}

/* Publishes with a Topic Alias: the first time with topic, then alias alone. */
static int publish_alias(struct tc *pub, const char *topic, const char *payload, int alias)
{
    mosquitto_property *props = NULL;
    mosquitto_property_add_int16(&props, MQTT_PROP_TOPIC_ALIAS, (uint16_t)alias);
    int before = pub->publishes_done;
    int rc =
        mosquitto_publish_v5(pub->m, NULL, topic, (int)strlen(payload), payload, 1, false, props);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS)
        return rc;
    WAIT_FOR(pub->publishes_done > before || pub->disconnected, 5000);
    return pub->publishes_done > before ? 0 : -1;
}

Test(v5_mixed, aliased_v5_publish_reaches_a_311_subscriber_with_its_topic, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *sub = connect3("v3-alias", true, false);
    cr_assert_eq(tc_subscribe(sub, "mxa/#", 1), 1);
    struct tc *pub = connect5("v5-alias");
    cr_assert_eq(publish_alias(pub, "mxa/long/topic/name", "one", 1), 0);
    cr_assert_eq(publish_alias(pub, NULL, "two", 1), 0);
    WAIT_FOR(sub->n_msgs == 2, 5000);
    cr_assert_eq(sub->n_msgs, 2);
    cr_expect_eq(tc_count(sub, "mxa/long/topic/name", "one"), 1);
    cr_expect_eq(tc_count(sub, "mxa/long/topic/name", "two"), 1);
}

/* ---- request / response --------------------------------------------------------------- */

/* The v5 way: the request names its Response Topic and Correlation Data; the responder
 * copies the Correlation Data into its answer. */
Test(v5_mixed, request_response_between_v5_clients, .init = tc_start, .fini = tc_stop)
{
    struct tc *requester = connect5("rr-req");
    struct tc *responder = connect5("rr-resp");
    cr_assert_eq(tc_subscribe5(responder, "rr/service", 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe5(requester, "rr/reply/req", 1, 0, NULL), 1);
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "rr/reply/req");
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "corr-7", 6);
    cr_assert_eq(tc_publish5(requester, "rr/service", "what time is it", 1, false, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(responder->n_msgs == 1, 5000);
    cr_assert_eq(responder->n_msgs, 1);
    const struct tmsg *req = &responder->msgs[0];
    char reply_to[64] = "";
    cr_assert(tc_prop_str(req->props, MQTT_PROP_RESPONSE_TOPIC, reply_to, sizeof(reply_to)));
    void *corr = NULL;
    uint16_t corr_len = 0;
    cr_assert_not_null(mosquitto_property_read_binary(req->props, MQTT_PROP_CORRELATION_DATA, &corr,
                                                      &corr_len, false));
    mosquitto_property *answer = NULL;
    mosquitto_property_add_binary(&answer, MQTT_PROP_CORRELATION_DATA, corr, corr_len);
    free(corr);
    cr_assert_eq(tc_publish5(responder, reply_to, "noon", 1, false, answer), 0);
    mosquitto_property_free_all(&answer);
    WAIT_FOR(requester->n_msgs == 1, 5000);
    cr_assert_eq(tc_count(requester, "rr/reply/req", "noon"), 1);
    void *back = NULL;
    uint16_t back_len = 0;
    cr_assert_not_null(mosquitto_property_read_binary(
        requester->msgs[0].props, MQTT_PROP_CORRELATION_DATA, &back, &back_len, false));
    cr_expect_eq(back_len, 6);
    cr_expect_arr_eq(back, "corr-7", 6, "the requester matches the answer to its request");
    free(back);
}

/* A 3.1.1 responder never sees the Response Topic or Correlation Data (3.x has no
 * properties): request/response works only through a convention in the payload, here
 * "reply-to <topic> <request>". The v5 requester sets both ways and correlates by the reply
 * topic, unique per request, since the answer carries no Correlation Data. */
Test(v5_mixed, request_response_with_a_311_responder_uses_the_payload, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *requester = connect5("rr3-req");
    struct tc *responder = connect3("rr3-resp", true, false);
    cr_assert_eq(tc_subscribe(responder, "rr3/service", 1), 1);
    cr_assert_eq(tc_subscribe5(requester, "rr3/reply/#", 1, 0, NULL), 1);
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "rr3/reply/41");
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "c41", 3);
    cr_assert_eq(
        tc_publish5(requester, "rr3/service", "reply-to rr3/reply/41 ping", 1, false, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(responder->n_msgs == 1, 5000);
    cr_assert_eq(responder->n_msgs, 1);
    /* The payload arrived exactly: no property bytes in front of it. */
    cr_assert_str_eq(responder->msgs[0].payload, "reply-to rr3/reply/41 ping");
    char reply_to[64];
    cr_assert_eq(sscanf(responder->msgs[0].payload, "reply-to %63s", reply_to), 1);
    cr_assert_eq(tc_publish(responder, reply_to, "pong", 1, false), 0);
    WAIT_FOR(requester->n_msgs == 1, 5000);
    cr_assert_eq(tc_count(requester, "rr3/reply/41", "pong"), 1);
    void *corr = NULL;
    uint16_t corr_len = 0;
    cr_expect_null(mosquitto_property_read_binary(requester->msgs[0].props,
                                                  MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
                                                  false),
                   "a 3.1.1 answer cannot carry Correlation Data");
    free(corr);
}

/* A 3.1.1 requester cannot set a Response Topic: a v5 responder sees none and falls back
 * to the same payload convention. */
Test(v5_mixed, request_from_a_311_client_has_no_response_topic, .init = tc_start, .fini = tc_stop)
{
    struct tc *requester = connect3("rr5-req", true, false);
    struct tc *responder = connect5("rr5-resp");
    cr_assert_eq(tc_subscribe5(responder, "rr5/service", 1, 0, NULL), 1);
    cr_assert_eq(tc_subscribe(requester, "rr5/reply/x", 1), 1);
    cr_assert_eq(tc_publish(requester, "rr5/service", "reply-to rr5/reply/x hello", 1, false), 0);
    WAIT_FOR(responder->n_msgs == 1, 5000);
    cr_assert_eq(responder->n_msgs, 1);
    char reply_to[64] = "";
    cr_expect_not(tc_prop_str(responder->msgs[0].props, MQTT_PROP_RESPONSE_TOPIC, reply_to,
                              sizeof(reply_to)));
    cr_assert_eq(sscanf(responder->msgs[0].payload, "reply-to %63s", reply_to), 1);
    mosquitto_property *props = NULL;
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "ignored", 7);
    cr_assert_eq(tc_publish5(responder, reply_to, "hi", 1, false, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(requester->n_msgs == 1, 5000);
    cr_expect_eq(tc_count(requester, "rr5/reply/x", "hi"), 1, "the properties stay behind");
}

/* ---- wills ---------------------------------------------------------------------------- */

Test(v5_mixed, will_of_a_v5_client_reaches_a_311_subscriber, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = connect3("v3-will-sub", true, false);
    struct tc *sub31 = connect3("v31-will-sub", true, true);
    cr_assert_eq(tc_subscribe(sub, "mxw/#", 1), 1);
    cr_assert_eq(tc_subscribe(sub31, "mxw/#", 1), 1);
    struct tc *dying = tc_new5("v5-dying", true);
    mosquitto_property *wprops = all_props();
    cr_assert_eq(mosquitto_will_set_v5(dying->m, "mxw/status", 7, "offline", 1, false, wprops), 0);
    cr_assert_eq(tc_connect5(dying, &tc_broker, 60, NULL), 0);
    cr_assert_eq(mosquitto_disconnect_v5(dying->m, MQTT_RC_DISCONNECT_WITH_WILL_MSG, NULL), 0);
    WAIT_FOR(sub->n_msgs == 1 && sub31->n_msgs == 1, 5000);
    cr_assert_eq(tc_count(sub, "mxw/status", "offline"), 1);
    cr_assert_eq(tc_count(sub31, "mxw/status", "offline"), 1);
    cr_expect_eq(sub->msgs[0].qos, 1);
}

Test(v5_mixed, will_of_a_311_client_reaches_a_v5_subscriber, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = connect5("v5-will-sub");
    cr_assert_eq(tc_subscribe5(sub, "mxw3/#", 1, 0, NULL), 1);
    int fd = raw_connect(&tc_broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("v3-dying");
    o.will_topic = "mxw3/status";
    o.will_payload = "gone";
    o.will_qos = 1;
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0);
    close(fd); /* no DISCONNECT: the will is due */
    WAIT_FOR(sub->n_msgs == 1, 5000);
    cr_assert_eq(tc_count(sub, "mxw3/status", "gone"), 1);
    cr_expect_eq(tc_prop_int(sub->msgs[0].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL), -1);
}
