/* MQTT 5.0 connection features against the real shardmq: CONNECT and CONNACK properties,
 * every CONNACK reason code the broker sends, enhanced authentication (AUTH), server-sent
 * DISCONNECT reasons, session expiry and the Will Delay Interval.
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

Test(v5_connect, v5_client_is_accepted, .init = start, .fini = stop)
{
    struct tc *c = tc_new5("v5-basic", true);
    cr_assert_eq(tc_connect5(c, &broker, 60, NULL), 0);
    tc_disconnect(c);
}
