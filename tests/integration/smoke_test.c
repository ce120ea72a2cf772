/* The first thing a user tries: connect, subscribe, publish, receive. */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct broker_proc broker;

static void start(void)
{
    mosquitto_lib_init();
    cr_assert_eq(broker_start(&broker, 4, NULL), 0, "broker did not start");
}

static void stop(void)
{
    int status = broker_stop(&broker);
    mosquitto_lib_cleanup();
    cr_expect_eq(status, 0, "broker exit status %d", status);
}

struct received {
    int count;
    char last[256];
};

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    struct received *r = obj;
    (void)m;
    r->count++;
    snprintf(r->last, sizeof(r->last), "%.*s", msg->payloadlen, (const char *)msg->payload);
}

Test(smoke, subscriber_receives_a_publish, .init = start, .fini = stop)
{
    struct received got = {0};
    struct mosquitto *sub = mosquitto_new("sub", true, &got);
    struct mosquitto *pub = mosquitto_new("pub", true, NULL);
    mosquitto_message_callback_set(sub, on_message);
    cr_assert_eq(mosquitto_connect(sub, "127.0.0.1", broker.port, 60), MOSQ_ERR_SUCCESS);
    cr_assert_eq(mosquitto_connect(pub, "127.0.0.1", broker.port, 60), MOSQ_ERR_SUCCESS);
    cr_assert_eq(mosquitto_subscribe(sub, NULL, "a/+", 1), MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 20; i++) /* CONNACK, SUBACK */
        mosquitto_loop(sub, 50, 1);
    cr_assert_eq(mosquitto_publish(pub, NULL, "a/b", 5, "hello", 1, false), MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 100 && got.count == 0; i++) {
        mosquitto_loop(pub, 10, 1);
        mosquitto_loop(sub, 10, 1);
    }
    cr_assert_eq(got.count, 1);
    cr_assert_str_eq(got.last, "hello");
    mosquitto_disconnect(sub);
    mosquitto_disconnect(pub);
    mosquitto_destroy(sub);
    mosquitto_destroy(pub);
}
