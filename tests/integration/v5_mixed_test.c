/* 3.x and 5.0 clients on one broker: messages cross versions in both directions, a v5
 * message reaches 3.x subscribers without its properties, and request/response works
 * between versions as far as 3.x allows.
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

Test(v5_mixed, v5_message_reaches_a_311_subscriber, .init = start, .fini = stop)
{
    struct tc *sub = tc_new("v3-sub", true), *pub = tc_new5("v5-pub", true);
    cr_assert_eq(tc_connect(sub, &broker, 60), 0);
    cr_assert_eq(tc_connect5(pub, &broker, 60, NULL), 0);
    cr_assert_eq(tc_subscribe(sub, "mx/#", 1), 1);
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "text/plain");
    cr_assert_eq(tc_publish5(pub, "mx/a", "cross", 1, false, props), 0);
    mosquitto_property_free_all(&props);
    WAIT_FOR(sub->n_msgs == 1, 5000);
    cr_assert_eq(tc_count(sub, "mx/a", "cross"), 1);
    cr_expect_null(sub->msgs[0].props);
}
