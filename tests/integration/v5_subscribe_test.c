/* MQTT 5.0 subscriptions against the real shardmq: subscription options (No Local, Retain
 * As Published, Retain Handling), Subscription Identifiers, shared subscriptions across
 * workers, and the SUBACK/UNSUBACK reason codes.
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

Test(v5_subscribe, no_local_skips_own_messages, .init = start, .fini = stop)
{
    struct tc *c = tc_new5("v5-nolocal", true), *other = tc_new5("v5-other", true);
    cr_assert_eq(tc_connect5(c, &broker, 60, NULL), 0);
    cr_assert_eq(tc_connect5(other, &broker, 60, NULL), 0);
    cr_assert_eq(tc_subscribe5(c, "nl/x", 1, MQTT_SUB_OPT_NO_LOCAL, NULL), 1);
    cr_assert_eq(tc_publish5(c, "nl/x", "mine", 1, false, NULL), 0);
    cr_assert_eq(tc_publish5(other, "nl/x", "theirs", 1, false, NULL), 0);
    WAIT_FOR(tc_count(c, "nl/x", "theirs") == 1, 5000);
    pump_for(100);
    cr_expect_eq(tc_count(c, "nl/x", "theirs"), 1);
    cr_expect_eq(tc_count(c, "nl/x", "mine"), 0);
}
