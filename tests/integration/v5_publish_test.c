/* MQTT 5.0 publishing against the real shardmq: Message Expiry, topic aliases both ways,
 * forwarded properties, flow control (Receive Maximum both ways), Maximum Packet Size both
 * ways, and the PUBACK/PUBREC reason codes.
 *
 * Each test starts its own broker with 4 workers and talks to it with libmosquitto's v5 API
 * (mqtt_client.h), or raw bytes where the library cannot produce the case. */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mqtt_client.h"

static struct broker_proc broker;

static void start_with(const char *conf)
{
    mosquitto_lib_init();
    cr_assert_eq(broker_start(&broker, 4, conf), 0, "broker did not start");
}

static void start(void)
{
    start_with(NULL);
}

static void stop(void)
{
    tc_free_all();
    int status = broker_stop(&broker);
    mosquitto_lib_cleanup();
    cr_expect_eq(status, 0, "broker exit status %d", status);
}

Test(v5_publish, user_properties_are_forwarded, .init = start, .fini = stop)
{
    struct tc *sub = tc_new5("v5-sub", true), *pub = tc_new5("v5-pub", true);
    cr_assert_eq(tc_connect5(sub, &broker, 60, NULL), 0);
    cr_assert_eq(tc_connect5(pub, &broker, 60, NULL), 0);
    cr_assert_eq(tc_subscribe5(sub, "up/x", 1, 0, NULL), 1);
    mosquitto_property *props = NULL;
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "k", "v");
    cr_assert_eq(tc_publish5(pub, "up/x", "hello", 1, false, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(sub->n_msgs == 1, 5000);
    cr_assert_eq(sub->n_msgs, 1);
    char *name = NULL, *value = NULL;
    cr_assert_not_null(mosquitto_property_read_string_pair(sub->msgs[0].props,
                                                           MQTT_PROP_USER_PROPERTY, &name, &value, false));
    cr_expect_str_eq(name, "k");
    cr_expect_str_eq(value, "v");
    free(name);
    free(value);
}
