/* MQTT 3.1 / 3.1.1 semantics against the real shardmq: CONNECT/CONNACK return codes and
 * client identifiers, QoS 0/1/2 in both directions (exact bytes where the spec fixes them),
 * the inflight window, retained messages, wildcards and `$` topics, overlapping
 * subscriptions, UNSUBSCRIBE, and fan-out across workers.
 *
 * Every test starts its own broker with 4 workers. The acceptor hands connections to the
 * workers round robin, so consecutive connections land on different workers and a
 * publisher and its subscriber are on different shards unless a test arranges otherwise.
 * "Not delivered" is checked after a marker published later by the same publisher has
 * arrived (the broker keeps per-publisher order), plus a short grace period. */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static void start_max_keepalive(void)
{
    start_with("max_keepalive 10\n");
}

static void start_inflight_2(void)
{
    start_with("max_inflight_messages 2\n");
}

static void start_no_retain(void)
{
    start_with("retain_available false\n");
}

static void start_upgrade_qos(void)
{
    start_with("upgrade_outgoing_qos true\n");
}

static void start_topic_levels_4(void)
{
    start_with("max_topic_levels 4\n");
}

static void start_no_empty_ids(void)
{
    start_with("allow_zero_length_clientid false\n");
}

static void start_id_prefix(void)
{
    start_with("auto_id_prefix given-\n");
}

static void start_no_anonymous(void)
{
    start_with("allow_anonymous false\n");
}

static void start_short_ids(void)
{
    start_with("max_clientid_length 23\n");
}

static void start_two_subs(void)
{
    start_with("max_subscriptions_per_session 2\n");
}

static void start_two_retained(void)
{
    start_with("max_retained_messages 2\n");
}

static void start_two_connections(void)
{
    start_with("max_connections 2\n"); /* scoped to the harness's listener */
}

static void stop(void)
{
    tc_free_all();
    int status = broker_stop(&broker);
    mosquitto_lib_cleanup();
    cr_expect_eq(status, 0, "broker exit status %d", status);
}

/* A connected libmosquitto client, asserted. */
static struct tc *client(const char *id, bool clean)
{
    struct tc *c = tc_new(id, clean);
    cr_assert_not_null(c);
    cr_assert_eq(tc_connect(c, &broker, 60), 0, "client %s not accepted", id);
    return c;
}

static int raw_client(const char *id)
{
    int fd = raw_connect(&broker);
    cr_assert_geq(fd, 0);
    cr_assert_eq(raw_mqtt_connect(fd, id), 0, "raw client %s not accepted", id);
    return fd;
}

/* ---- CONNECT / CONNACK ------------------------------------------------------------------ */

Test(mqtt311, connack_accepted_is_exactly_20_02_00_00, .init = start, .fini = stop)
{
    int fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("exact");
    uint8_t pkt[1100];
    size_t n = raw_build_connect(pkt, &o);
    cr_assert_eq(raw_send(fd, pkt, n), 0);
    uint8_t ack[4];
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    const uint8_t want[4] = {0x20, 0x02, 0x00, 0x00};
    cr_assert_arr_eq(ack, want, 4, "CONNACK %02x %02x %02x %02x", ack[0], ack[1], ack[2], ack[3]);
    cr_assert(raw_ping(fd), "PINGREQ not answered with d0 00");
    close(fd);
}

Test(mqtt311, protocol_level_3_mqisdp_client_connects_and_publishes, .init = start, .fini = stop)
{
    int fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("v31-client");
    o.proto_name = "MQIsdp";
    o.level = 3;
    int present = -1;
    cr_assert_eq(raw_connect_with(fd, &o, &present), 0);
    cr_assert_eq(present, 0);
    cr_assert_eq(raw_subscribe(fd, 1, "v31/t", 1), 1);
    /* A 3.1.1 client publishes; the 3.1 subscriber receives it as a 3.1 PUBLISH. */
    struct tc *pub = client("v311-pub", true);
    cr_assert_eq(tc_publish(pub, "v31/t", "hi", 1, false), 0);
    struct raw_pkt p;
    struct raw_publish_view v;
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(raw_parse_publish(&p, &v), 0, "got packet 0x%02x", p.hdr);
    cr_assert_str_eq(v.topic, "v31/t");
    cr_assert_eq(v.qos, 1);
    cr_assert_eq(v.payload_len, 2);
    cr_assert_eq(memcmp(v.payload, "hi", 2), 0);
    cr_assert_eq(raw_send_ack(fd, 0x40, v.packet_id), 0);
    /* And the 3.1 client publishes to the 3.1.1 one. */
    struct tc *sub = client("v311-sub", true);
    cr_assert_eq(tc_subscribe(sub, "v31/back", 0), 0);
    cr_assert_eq(raw_publish(fd, "v31/back", "yo", 2, 0, false, false, 0), 0);
    WAIT_FOR(sub->n_msgs >= 1, 3000);
    cr_assert_eq(tc_count(sub, "v31/back", "yo"), 1);
    cr_assert(raw_ping(fd));
    close(fd);
}

Test(mqtt311, unsupported_protocol_level_refused_with_0x01_and_closed, .init = start, .fini = stop)
{
    int fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("level-2");
    o.level = 2;
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0x01); /* [MQTT-3.1.2-2] */
    cr_assert(raw_wait_closed(fd, 2000), "socket left open after CONNACK 0x01");
    close(fd);
}

Test(mqtt311, empty_client_id_with_clean_session_0_refused_0x02_and_closed, .init = start,
     .fini = stop)
{
    int fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("");
    o.no_clean = true;
    uint8_t pkt[1100];
    size_t n = raw_build_connect(pkt, &o);
    cr_assert_eq(raw_send(fd, pkt, n), 0);
    uint8_t ack[4];
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    const uint8_t want[4] = {0x20, 0x02, 0x00, 0x02}; /* [MQTT-3.1.3-8] */
    cr_assert_arr_eq(ack, want, 4, "CONNACK %02x %02x %02x %02x", ack[0], ack[1], ack[2], ack[3]);
    cr_assert(raw_wait_closed(fd, 2000), "socket left open after CONNACK 0x02");
    close(fd);
}

Test(mqtt311, empty_client_id_with_clean_session_1_gets_a_unique_id, .init = start, .fini = stop)
{
    int a = raw_connect(&broker), b = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(a, ""), 0); /* [MQTT-3.1.3-6] */
    cr_assert_eq(raw_mqtt_connect(b, ""), 0);
    /* Had both got the same id, the second would have taken the first over. */
    cr_assert(raw_ping(a), "first anonymous client was closed");
    cr_assert(raw_ping(b));
    cr_assert_eq(broker_log_count(&broker, "connect client=\"auto-"), 2);
    /* They can talk to each other. */
    cr_assert_eq(raw_subscribe(a, 1, "anon/t", 0), 0);
    cr_assert_eq(raw_publish(b, "anon/t", "x", 1, 0, false, false, 0), 0);
    struct raw_pkt p;
    cr_assert_eq(raw_read_packet(a, &p, 3000), 0);
    cr_assert_eq(p.hdr, 0x30);
    close(a);
    close(b);
}

Test(mqtt311, mqtt31_empty_client_id_refused_0x02, .init = start, .fini = stop)
{
    int fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("");
    o.proto_name = "MQIsdp";
    o.level = 3;
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0x02); /* 3.1: ids are 1 to 23 characters */
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(mqtt311, empty_client_id_refused_when_zero_length_ids_not_allowed, .init = start_no_empty_ids,
     .fini = stop)
{
    int fd = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(fd, ""), 0x02); /* clean session 1, still refused */
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(mqtt311, assigned_client_id_uses_auto_id_prefix, .init = start_id_prefix, .fini = stop)
{
    int fd = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(fd, ""), 0);
    cr_assert(raw_ping(fd));
    cr_assert_eq(broker_log_count(&broker, "connect client=\"given-"), 1);
    close(fd);
}

Test(mqtt311, anonymous_client_refused_0x05_when_not_allowed, .init = start_no_anonymous,
     .fini = stop)
{
    int fd = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(fd, "anon"), 0x05);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(mqtt311, client_id_longer_than_max_clientid_length_refused, .init = start_short_ids,
     .fini = stop)
{
    int fd = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(fd, "abcdefghijklmnopqrstuvwx"), 0x02, "24 bytes");
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
    fd = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(fd, "abcdefghijklmnopqrstuvw"), 0x00, "23 bytes");
    close(fd);
}

Test(mqtt311, keepalive_above_max_keepalive_refused, .init = start_max_keepalive, .fini = stop)
{
    int fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("ka-11");
    o.keepalive = 11;
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0x02, "Mosquitto refuses 3.x with 0x02");
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
    fd = raw_connect(&broker);
    o = RAW_CONNECT_OPTS("ka-10");
    o.keepalive = 10;
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0x00);
    cr_assert(raw_ping(fd));
    close(fd);
}

Test(mqtt311, username_and_password_accepted_when_anonymous_allowed, .init = start, .fini = stop)
{
    int fd = raw_connect(&broker);
    uint8_t pkt[64];
    size_t n = 0;
    pkt[n++] = 0x10;
    pkt[n++] = 0; /* remaining length, below */
    n += raw_put_str(pkt + n, "MQTT", 4);
    pkt[n++] = 4;
    pkt[n++] = 0xc2; /* username, password, clean session */
    pkt[n++] = 0;
    pkt[n++] = 30;
    n += raw_put_str(pkt + n, "creds", 5);
    n += raw_put_str(pkt + n, "user", 4);
    n += raw_put_str(pkt + n, "secret", 6);
    pkt[1] = (uint8_t)(n - 2);
    cr_assert_eq(raw_send(fd, pkt, n), 0);
    uint8_t ack[4];
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    cr_assert_eq(ack[3], 0, "CONNACK %02x", ack[3]);
    cr_assert(raw_ping(fd));
    close(fd);
}

Test(mqtt311, pipelined_connect_subscribe_publish_in_one_write, .init = start, .fini = stop)
{
    /* The persistent session is made on worker 0; the next connection lands on worker 1,
     * which hands the socket and every byte it read to worker 0. */
    int fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("pipeliner");
    o.no_clean = true;
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0);
    const uint8_t disconnect[2] = {0xe0, 0x00};
    cr_assert_eq(raw_send(fd, disconnect, 2), 0);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
    for (int handover = 0; handover < 2; handover++) {
        fd = raw_connect(&broker);
        uint8_t buf[256];
        size_t n = raw_build_connect(buf, &o);
        const uint8_t sub[] = {0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'p', '/', 't', 0x01};
        memcpy(buf + n, sub, sizeof(sub));
        n += sizeof(sub);
        const uint8_t pub[] = {0x32, 0x08, 0x00, 0x03, 'p', '/', 't', 0x00, 0x02, 'x'};
        memcpy(buf + n, pub, sizeof(pub));
        n += sizeof(pub);
        const uint8_t ping[] = {0xc0, 0x00};
        memcpy(buf + n, ping, sizeof(ping));
        n += sizeof(ping);
        cr_assert_eq(raw_send(fd, buf, n), 0);
        /* CONNACK, SUBACK, then PUBACK and the PUBLISH to itself in either order, PINGRESP. */
        struct raw_pkt p;
        cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
        cr_assert_eq(p.hdr, 0x20, "round %d: CONNACK first, got 0x%02x", handover, p.hdr);
        cr_assert_eq(p.body[1], 0);
        cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
        cr_assert_eq(p.hdr, 0x90, "SUBACK, got 0x%02x", p.hdr);
        bool puback = false, publish = false, pingresp = false;
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(raw_read_packet(fd, &p, 3000), 0, "round %d: packet %d missing", handover,
                         i);
            struct raw_publish_view v;
            if (p.hdr == 0x40) {
                puback = true;
            } else if (p.hdr == 0xd0) {
                pingresp = true;
            } else {
                cr_assert_eq(raw_parse_publish(&p, &v), 0, "got 0x%02x", p.hdr);
                publish = true;
                cr_assert_eq(raw_send_ack(fd, 0x40, v.packet_id), 0);
            }
        }
        cr_assert(puback && publish && pingresp);
        cr_assert_eq(raw_send(fd, disconnect, 2), 0);
        cr_assert(raw_wait_closed(fd, 2000));
        close(fd);
    }
}

Test(mqtt311, client_receives_its_own_publish, .init = start, .fini = stop)
{
    struct tc *c = client("narcissus", true);
    cr_assert_eq(tc_subscribe(c, "self/t", 1), 1);
    cr_assert_eq(tc_publish(c, "self/t", "me", 1, false), 0); /* 3.1.1 has no No Local */
    WAIT_FOR(c->n_msgs >= 1, 3000);
    cr_assert_eq(tc_count(c, "self/t", "me"), 1);
}

Test(mqtt311, max_connections_refuses_more_and_frees_the_slot, .init = start_two_connections,
     .fini = stop)
{
    int a = raw_connect(&broker), b = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(a, "a"), 0);
    cr_assert_eq(raw_mqtt_connect(b, "b"), 0);
    int c = raw_connect(&broker); /* the kernel accepts; the broker closes it */
    if (c >= 0) {
        cr_assert(raw_wait_closed(c, 2000), "a third connection on a listener of 2");
        close(c);
    }
    const uint8_t disconnect[2] = {0xe0, 0x00};
    cr_assert_eq(raw_send(a, disconnect, 2), 0);
    cr_assert(raw_wait_closed(a, 2000));
    close(a);
    /* The slot is released as the socket closes: retry until then. */
    int rc = -1;
    for (int64_t deadline = now_ms() + 3000; rc != 0 && now_ms() < deadline;) {
        int d = raw_connect(&broker);
        rc = d >= 0 ? raw_mqtt_connect(d, "d") : -1;
        if (rc == 0)
            cr_assert(raw_ping(d));
        if (d >= 0)
            close(d);
        if (rc != 0)
            usleep(20000);
    }
    cr_assert_eq(rc, 0, "the slot of a closed connection was not released");
    cr_assert(raw_ping(b));
    close(b);
}

/* ---- QoS ------------------------------------------------------------------------------- */

Test(mqtt311, each_qos_delivered_at_min_of_publish_and_granted_qos, .init = start, .fini = stop)
{
    struct tc *sub[3];
    char id[16];
    for (int q = 0; q < 3; q++) {
        snprintf(id, sizeof(id), "sub-q%d", q);
        sub[q] = client(id, true);
        cr_assert_eq(tc_subscribe(sub[q], "qos/t", q), q, "granted QoS");
    }
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "qos/t", "m0", 0, false), 0);
    cr_assert_eq(tc_publish(pub, "qos/t", "m1", 1, false), 0);
    cr_assert_eq(tc_publish(pub, "qos/t", "m2", 2, false), 0);
    WAIT_FOR(sub[0]->n_msgs >= 3 && sub[1]->n_msgs >= 3 && sub[2]->n_msgs >= 3, 5000);
    pump_for(100);
    for (int s = 0; s < 3; s++) {
        cr_assert_eq(sub[s]->n_msgs, 3, "subscriber %d got %d messages", s, sub[s]->n_msgs);
        for (int m = 0; m < 3; m++) {
            char want[4];
            snprintf(want, sizeof(want), "m%d", m);
            cr_assert_str_eq(sub[s]->msgs[m].payload, want, "order");
            int q = m < s ? m : s; /* [MQTT-3.8.4-6] min(publish QoS, granted QoS) */
            cr_assert_eq(sub[s]->msgs[m].qos, q, "sub q%d msg m%d delivered at QoS %d", s, m,
                         sub[s]->msgs[m].qos);
            cr_assert_eq(sub[s]->msgs[m].retain, false);
        }
    }
}

Test(mqtt311, upgrade_outgoing_qos_delivers_at_the_subscription_qos, .init = start_upgrade_qos,
     .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "up/t", 2), 2);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "up/t", "low", 0, false), 0);
    WAIT_FOR(sub->n_msgs >= 1, 3000);
    cr_assert_eq(sub->n_msgs, 1);
    cr_assert_eq(sub->msgs[0].qos, 2);
}

Test(mqtt311, inbound_qos1_acknowledged_with_puback_bytes, .init = start, .fini = stop)
{
    int fd = raw_client("qos1-pub");
    cr_assert_eq(raw_publish(fd, "in/q1", "x", 1, 1, false, false, 0x1234), 0);
    uint8_t ack[4];
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    const uint8_t want[4] = {0x40, 0x02, 0x12, 0x34};
    cr_assert_arr_eq(ack, want, 4, "PUBACK %02x %02x %02x %02x", ack[0], ack[1], ack[2], ack[3]);
    close(fd);
}

Test(mqtt311, inbound_qos2_resent_publish_is_delivered_once, .init = start, .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "in/q2", 2), 2);
    int fd = raw_client("qos2-pub");
    uint8_t ack[4];
    cr_assert_eq(raw_publish(fd, "in/q2", "once", 4, 2, false, false, 9), 0);
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    const uint8_t pubrec[4] = {0x50, 0x02, 0x00, 0x09};
    cr_assert_arr_eq(ack, pubrec, 4, "PUBREC %02x %02x %02x %02x", ack[0], ack[1], ack[2], ack[3]);
    /* The client did not see the PUBREC and resends with DUP: PUBREC again, no delivery. */
    cr_assert_eq(raw_publish(fd, "in/q2", "once", 4, 2, false, true, 9), 0);
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    cr_assert_arr_eq(ack, pubrec, 4, "second PUBREC");
    cr_assert_eq(raw_send_ack(fd, 0x62, 9), 0);
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    const uint8_t pubcomp[4] = {0x70, 0x02, 0x00, 0x09};
    cr_assert_arr_eq(ack, pubcomp, 4, "PUBCOMP %02x %02x %02x %02x", ack[0], ack[1], ack[2],
                     ack[3]);
    /* The identifier is free again: the same id now carries a new message. */
    cr_assert_eq(raw_publish(fd, "in/q2", "again", 5, 2, false, false, 9), 0);
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    cr_assert_arr_eq(ack, pubrec, 4);
    cr_assert_eq(raw_send_ack(fd, 0x62, 9), 0);
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    WAIT_FOR(tc_count(sub, "in/q2", "again") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(sub, "in/q2", "once"), 1, "QoS 2 delivered %d times",
                 tc_count(sub, "in/q2", "once"));
    cr_assert_eq(tc_count(sub, "in/q2", "again"), 1);
    cr_assert_str_eq(sub->msgs[0].payload, "once");
    close(fd);
}

Test(mqtt311, outbound_qos1_and_qos2_flows_have_exact_bytes, .init = start, .fini = stop)
{
    int fd = raw_client("raw-sub");
    cr_assert_eq(raw_subscribe(fd, 1, "out/#", 2), 2);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "out/q1", "a", 1, false), 0);
    struct raw_pkt p;
    struct raw_publish_view v;
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(p.hdr, 0x32, "QoS 1 PUBLISH header 0x%02x", p.hdr);
    cr_assert_eq(raw_parse_publish(&p, &v), 0);
    cr_assert_neq(v.packet_id, 0, "[MQTT-2.3.1-1] non-zero packet identifier");
    cr_assert_eq(raw_send_ack(fd, 0x40, v.packet_id), 0);

    cr_assert_eq(tc_publish(pub, "out/q2", "b", 2, false), 0);
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(p.hdr, 0x34, "QoS 2 PUBLISH header 0x%02x", p.hdr);
    cr_assert_eq(raw_parse_publish(&p, &v), 0);
    cr_assert_str_eq(v.topic, "out/q2");
    cr_assert_eq(raw_send_ack(fd, 0x50, v.packet_id), 0);
    uint8_t rel[4];
    cr_assert_eq(raw_recv(fd, rel, 4, 3000), 4);
    const uint8_t want[4] = {0x62, 0x02, (uint8_t)(v.packet_id >> 8), (uint8_t)v.packet_id};
    cr_assert_arr_eq(rel, want, 4, "PUBREL %02x %02x %02x %02x", rel[0], rel[1], rel[2], rel[3]);
    cr_assert_eq(raw_send_ack(fd, 0x70, v.packet_id), 0);
    cr_assert(raw_ping(fd), "nothing else may be pending");
    close(fd);
}

Test(mqtt311, inflight_window_holds_back_unacknowledged_messages, .init = start_inflight_2,
     .fini = stop)
{
    int fd = raw_client("slow-sub");
    cr_assert_eq(raw_subscribe(fd, 1, "win/t", 1), 1);
    struct tc *pub = client("pub", true);
    for (int i = 0; i < 5; i++) {
        char m[8];
        snprintf(m, sizeof(m), "w%d", i);
        cr_assert_eq(tc_publish(pub, "win/t", m, 1, false), 0);
    }
    struct raw_pkt p;
    struct raw_publish_view v[5];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(raw_read_packet(fd, &p, 3000), 0, "message %d of the window", i);
        cr_assert_eq(raw_parse_publish(&p, &v[i]), 0);
        cr_assert_eq(memcmp(v[i].payload, (char[]){'w', (char)('0' + i)}, 2), 0);
    }
    /* The window (max_inflight_messages 2) is full: nothing more until an acknowledgement. */
    cr_assert_eq(raw_read_packet(fd, &p, 400), -1, "a third message left with 2 unacknowledged");
    cr_assert_eq(raw_send_ack(fd, 0x40, v[0].packet_id), 0);
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(raw_parse_publish(&p, &v[2]), 0);
    cr_assert_eq(memcmp(v[2].payload, "w2", 2), 0, "order kept through the window");
    cr_assert_eq(raw_read_packet(fd, &p, 300), -1);
    cr_assert_eq(raw_send_ack(fd, 0x40, v[1].packet_id), 0);
    cr_assert_eq(raw_send_ack(fd, 0x40, v[2].packet_id), 0);
    for (int i = 3; i < 5; i++) {
        cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
        cr_assert_eq(raw_parse_publish(&p, &v[i]), 0);
        cr_assert_eq(v[i].payload[1], '0' + i);
        cr_assert_eq(raw_send_ack(fd, 0x40, v[i].packet_id), 0);
    }
    cr_assert(raw_ping(fd));
    close(fd);
}

/* ---- retained messages ----------------------------------------------------------------- */

Test(mqtt311, retained_message_delivered_to_new_subscriber_with_retain_flag, .init = start,
     .fini = stop)
{
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "ret/a", "kept", 1, true), 0);
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "ret/a", 1), 1);
    WAIT_FOR(sub->n_msgs >= 1, 3000);
    cr_assert_eq(sub->n_msgs, 1);
    cr_assert_str_eq(sub->msgs[0].payload, "kept");
    cr_assert_eq(sub->msgs[0].retain, true, "[MQTT-3.3.1-8] retain set on subscribe delivery");
    cr_assert_eq(sub->msgs[0].qos, 1);
    /* A second subscriber on another worker, through a wildcard, at a lower QoS. */
    struct tc *sub2 = client("sub2", true);
    cr_assert_eq(tc_subscribe(sub2, "ret/+", 0), 0);
    WAIT_FOR(sub2->n_msgs >= 1, 3000);
    cr_assert_eq(sub2->n_msgs, 1);
    cr_assert_eq(sub2->msgs[0].retain, true);
    cr_assert_eq(sub2->msgs[0].qos, 0, "retained delivered at min(QoS, granted)");
}

Test(mqtt311, retained_message_replaced_by_a_newer_one, .init = start, .fini = stop)
{
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "ret/r", "first", 1, true), 0);
    cr_assert_eq(tc_publish(pub, "ret/r", "second", 1, true), 0);
    cr_assert_eq(tc_publish(pub, "ret/sync", "s", 1, false), 0);
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "ret/r", 1), 1);
    cr_assert_eq(tc_subscribe(sub, "ret/sync", 1), 1);
    cr_assert_eq(tc_publish(pub, "ret/sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(sub, "ret/sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(sub, "ret/r", NULL), 1, "one retained message per topic");
    cr_assert_str_eq(tc_find(sub, "ret/r")->payload, "second");
}

Test(mqtt311, empty_retained_payload_deletes_and_is_forwarded, .init = start, .fini = stop)
{
    struct tc *pub = client("pub", true);
    struct tc *live = client("live", true);
    cr_assert_eq(tc_subscribe(live, "ret/d", 1), 1);
    cr_assert_eq(tc_publish(pub, "ret/d", "doomed", 1, true), 0);
    cr_assert_eq(tc_publish(pub, "ret/d", "", 1, true), 0);
    /* [MQTT-3.3.1-10] the zero-byte retained PUBLISH is forwarded as normal. */
    WAIT_FOR(live->n_msgs >= 2, 3000);
    cr_assert_eq(live->n_msgs, 2);
    cr_assert_eq(live->msgs[1].payloadlen, 0);
    cr_assert_eq(live->msgs[1].retain, false);
    /* [MQTT-3.3.1-11] and nothing is retained for the topic any more. */
    struct tc *late = client("late", true);
    cr_assert_eq(tc_subscribe(late, "ret/d", 1), 1);
    cr_assert_eq(tc_subscribe(late, "ret/sync", 1), 1);
    cr_assert_eq(tc_publish(pub, "ret/sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(late, "ret/sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(late, "ret/d", NULL), 0, "deleted retained message delivered");
}

Test(mqtt311, retain_flag_cleared_when_forwarded_to_existing_subscriber, .init = start,
     .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "ret/live", 2), 2);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "ret/live", "now", 2, true), 0);
    WAIT_FOR(sub->n_msgs >= 1, 3000);
    cr_assert_eq(sub->n_msgs, 1);
    cr_assert_eq(sub->msgs[0].retain, false, "[MQTT-3.3.1-9] retain cleared on forwarding");
    /* Re-subscribing replays the retained message with the flag set. */
    cr_assert_eq(tc_subscribe(sub, "ret/live", 2), 2);
    WAIT_FOR(sub->n_msgs >= 2, 3000);
    cr_assert_eq(sub->n_msgs, 2);
    cr_assert_eq(sub->msgs[1].retain, true);
    cr_assert_str_eq(sub->msgs[1].payload, "now");
}

Test(mqtt311, retain_available_false_refuses_retained_publish, .init = start_no_retain,
     .fini = stop)
{
    int fd = raw_client("retainer");
    cr_assert_eq(raw_publish(fd, "nr/t", "r", 1, 0, true, false, 0), 0);
    cr_assert(raw_wait_closed(fd, 2000), "retained PUBLISH accepted with retain_available false");
    close(fd);
    /* Nothing was stored, and ordinary messages still flow. */
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "nr/t", 1), 1);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "nr/t", "plain", 1, false), 0);
    WAIT_FOR(sub->n_msgs >= 1, 3000);
    pump_for(100);
    cr_assert_eq(sub->n_msgs, 1);
    cr_assert_str_eq(sub->msgs[0].payload, "plain");
    /* A will that asks to be retained is not admitted either. */
    fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("will-retainer");
    o.will_topic = "nr/will";
    o.will_payload = "w";
    o.will_retain = true;
    int rc = raw_connect_with(fd, &o, NULL);
    cr_assert_neq(rc, 0, "CONNECT with a retained will accepted");
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(mqtt311, retained_limit_refuses_new_topics_not_replacements, .init = start_two_retained,
     .fini = stop)
{
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "rl/a", "a1", 1, true), 0);
    cr_assert_eq(tc_publish(pub, "rl/b", "b1", 1, true), 0);
    cr_assert_eq(tc_publish(pub, "rl/c", "c1", 1, true), 0); /* a third topic: not stored */
    cr_assert_eq(tc_publish(pub, "rl/a", "a2", 1, true), 0); /* a replacement: stored */
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "rl/+", 1), 1);
    cr_assert_eq(tc_subscribe(sub, "rl-sync", 1), 1);
    cr_assert_eq(tc_publish(pub, "rl-sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(sub, "rl-sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(sub, "rl/a", "a2"), 1, "replacing a retained message was refused");
    cr_assert_eq(tc_count(sub, "rl/a", "a1"), 0);
    cr_assert_eq(tc_count(sub, "rl/b", "b1"), 1);
    cr_assert_eq(tc_count(sub, "rl/c", NULL), 0, "max_retained_messages 2 stored a third");
    /* Deleting one makes room. */
    cr_assert_eq(tc_publish(pub, "rl/b", "", 1, true), 0);
    cr_assert_eq(tc_publish(pub, "rl/c", "c2", 1, true), 0);
    struct tc *late = client("late", true);
    cr_assert_eq(tc_subscribe(late, "rl/c", 1), 1);
    WAIT_FOR(late->n_msgs >= 1, 3000);
    cr_assert_eq(tc_count(late, "rl/c", "c2"), 1);
}

/* ---- topic matching -------------------------------------------------------------------- */

/* Publishes each topic of list (QoS 1, payload = topic) and then a marker on sync. */
static void publish_all(struct tc *pub, const char *const *list, int n, const char *sync)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(tc_publish(pub, list[i], list[i], 1, false), 0, "publish %s", list[i]);
    cr_assert_eq(tc_publish(pub, sync, "marker", 1, false), 0);
}

Test(mqtt311, plus_matches_exactly_one_level, .init = start, .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "a/+/c", 1), 1);
    cr_assert_eq(tc_subscribe(sub, "+", 1), 1);
    cr_assert_eq(tc_subscribe(sub, "sync", 1), 1);
    struct tc *pub = client("pub", true);
    const char *const topics[] = {"a/b/c", "a/b/d", "a/b/c/d", "a/c", "a//c",
                                  "x/b/c", "top",   "top/x",   "/x"};
    publish_all(pub, topics, 9, "sync");
    WAIT_FOR(tc_count(sub, "sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(sub, "a/b/c", NULL), 1);
    cr_assert_eq(tc_count(sub, "a//c", NULL), 1, "+ matches an empty level");
    cr_assert_eq(tc_count(sub, "top", NULL), 1, "'+' matches a one-level topic");
    cr_assert_eq(tc_count(sub, "a/b/d", NULL), 0);
    cr_assert_eq(tc_count(sub, "a/b/c/d", NULL), 0);
    cr_assert_eq(tc_count(sub, "a/c", NULL), 0);
    cr_assert_eq(tc_count(sub, "x/b/c", NULL), 0);
    cr_assert_eq(tc_count(sub, "top/x", NULL), 0);
    cr_assert_eq(tc_count(sub, "/x", NULL), 0, "'/x' has two levels");
    cr_assert_eq(sub->n_msgs, 4);
}

Test(mqtt311, hash_matches_the_parent_and_every_level_below, .init = start, .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "h/#", 1), 1);
    cr_assert_eq(tc_subscribe(sub, "sync", 1), 1);
    struct tc *all = client("all", true);
    cr_assert_eq(tc_subscribe(all, "#", 1), 1);
    struct tc *pub = client("pub", true);
    const char *const topics[] = {"h", "h/1", "h/1/2/3", "h/", "hh", "x/h"};
    publish_all(pub, topics, 6, "sync");
    WAIT_FOR(tc_count(sub, "sync", "marker") == 1 && tc_count(all, "sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(sub, "h", NULL), 1, "[MQTT-4.7.1-2] # includes the parent level");
    cr_assert_eq(tc_count(sub, "h/1", NULL), 1);
    cr_assert_eq(tc_count(sub, "h/1/2/3", NULL), 1);
    cr_assert_eq(tc_count(sub, "h/", NULL), 1);
    cr_assert_eq(tc_count(sub, "hh", NULL), 0);
    cr_assert_eq(tc_count(sub, "x/h", NULL), 0);
    cr_assert_eq(all->n_msgs, 7, "# receives every (non-$) topic");
}

Test(mqtt311, dollar_topics_not_matched_by_leading_wildcards, .init = start, .fini = stop)
{
    struct tc *wild = client("wild", true);
    cr_assert_eq(tc_subscribe(wild, "#", 1), 1);
    cr_assert_eq(tc_subscribe(wild, "+/info", 1), 1);
    cr_assert_eq(tc_subscribe(wild, "+/+", 1), 1);
    struct tc *dollar = client("dollar", true);
    cr_assert_eq(tc_subscribe(dollar, "$test/#", 1), 1);
    cr_assert_eq(tc_subscribe(dollar, "$test/+", 1), 1);
    cr_assert_eq(tc_subscribe(dollar, "sync", 1), 1);
    struct tc *pub = client("pub", true);
    const char *const topics[] = {"$test/info", "$test/a/b"};
    publish_all(pub, topics, 2, "sync");
    WAIT_FOR(tc_count(dollar, "sync", "marker") == 1 && tc_count(wild, "sync", "marker") == 1,
             3000);
    pump_for(100);
    /* [MQTT-4.7.2-1] */
    cr_assert_eq(tc_count(wild, "$test/info", NULL), 0, "# or +/... matched a $ topic");
    cr_assert_eq(tc_count(wild, "$test/a/b", NULL), 0);
    cr_assert_eq(wild->n_msgs, 1);
    /* An explicit $ filter matches, once per message though two filters overlap. */
    cr_assert_eq(tc_count(dollar, "$test/info", NULL), 1);
    cr_assert_eq(tc_count(dollar, "$test/a/b", NULL), 1);
}

Test(mqtt311, retained_dollar_topics_not_sent_to_leading_wildcards, .init = start, .fini = stop)
{
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "$test/ret", "hidden", 1, true), 0);
    cr_assert_eq(tc_publish(pub, "plain/ret", "shown", 1, true), 0);
    struct tc *wild = client("wild", true);
    cr_assert_eq(tc_subscribe(wild, "#", 1), 1);
    cr_assert_eq(tc_subscribe(wild, "+/ret", 1), 1);
    cr_assert_eq(tc_publish(pub, "sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(wild, "sync", "marker") == 1, 3000);
    pump_for(100);
    /* [MQTT-3.3.1-6] each of the two SUBSCRIBEs establishes a subscription that gets it. */
    cr_assert_eq(tc_count(wild, "plain/ret", "shown"), 2);
    cr_assert_eq(tc_count(wild, "$test/ret", NULL), 0, "[MQTT-4.7.2-1] for retained too");
    struct tc *dollar = client("dollar", true);
    cr_assert_eq(tc_subscribe(dollar, "$test/+", 1), 1);
    WAIT_FOR(dollar->n_msgs >= 1, 3000);
    cr_assert_eq(tc_count(dollar, "$test/ret", "hidden"), 1);
}

Test(mqtt311, overlapping_subscriptions_deliver_once_at_the_highest_qos, .init = start,
     .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "ov/#", 0), 0);
    cr_assert_eq(tc_subscribe(sub, "ov/+", 2), 2);
    cr_assert_eq(tc_subscribe(sub, "ov/x", 1), 1);
    cr_assert_eq(tc_subscribe(sub, "+/x", 0), 0);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "ov/x", "q2", 2, false), 0);
    cr_assert_eq(tc_publish(pub, "ov/x", "q1", 1, false), 0);
    cr_assert_eq(tc_publish(pub, "ov/x/y", "deep", 2, false), 0);
    cr_assert_eq(tc_publish(pub, "ov/x", "end", 0, false), 0);
    WAIT_FOR(tc_count(sub, "ov/x", "end") >= 1, 3000);
    pump_for(150);
    cr_assert_eq(tc_count(sub, "ov/x", "q2"), 1, "delivered %d times", tc_count(sub, "ov/x", "q2"));
    /* [MQTT-3.3.5-1] one delivery at the highest QoS granted by a matching filter. */
    cr_assert_eq(tc_find_msg(sub, "ov/x", "q2")->qos, 2);
    cr_assert_eq(tc_count(sub, "ov/x", "q1"), 1);
    cr_assert_eq(tc_find_msg(sub, "ov/x", "q1")->qos, 1);
    cr_assert_eq(tc_count(sub, "ov/x/y", "deep"), 1);
    cr_assert_eq(tc_find(sub, "ov/x/y")->qos, 0, "only ov/# (QoS 0) matches ov/x/y");
    cr_assert_eq(tc_count(sub, "ov/x", "end"), 1);
    cr_assert_eq(sub->n_msgs, 4);
}

Test(mqtt311, resubscribing_replaces_the_granted_qos, .init = start, .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "rs/t", 2), 2);
    cr_assert_eq(tc_subscribe(sub, "rs/t", 0), 0); /* [MQTT-3.8.4-3] replaces */
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "rs/t", "x", 2, false), 0);
    WAIT_FOR(sub->n_msgs >= 1, 3000);
    pump_for(100);
    cr_assert_eq(sub->n_msgs, 1, "one subscription, one delivery");
    cr_assert_eq(sub->msgs[0].qos, 0);
}

Test(mqtt311, unsubscribe_stops_delivery, .init = start, .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "un/t", 1), 1);
    cr_assert_eq(tc_subscribe(sub, "un/sync", 1), 1);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "un/t", "before", 1, false), 0);
    WAIT_FOR(sub->n_msgs >= 1, 3000);
    cr_assert_eq(tc_count(sub, "un/t", "before"), 1);
    cr_assert_eq(tc_unsubscribe(sub, "un/t"), 0);
    cr_assert_eq(tc_publish(pub, "un/t", "after", 1, false), 0);
    cr_assert_eq(tc_publish(pub, "un/sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(sub, "un/sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(sub, "un/t", "after"), 0, "delivered after UNSUBACK");
    /* Unsubscribing a filter that was never subscribed still gets an UNSUBACK. */
    cr_assert_eq(tc_unsubscribe(sub, "never/subscribed"), 0);
}

Test(mqtt311, unsubscribe_removes_only_the_named_overlapping_filter, .init = start, .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "uo/#", 1), 1);
    cr_assert_eq(tc_subscribe(sub, "uo/+", 2), 2);
    cr_assert_eq(tc_unsubscribe(sub, "uo/+"), 0);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "uo/x", "one", 2, false), 0);
    cr_assert_eq(tc_publish(pub, "uo/x", "end", 1, false), 0);
    WAIT_FOR(tc_count(sub, "uo/x", "end") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(sub, "uo/x", "one"), 1, "uo/# must still deliver");
    cr_assert_eq(tc_find_msg(sub, "uo/x", "one")->qos, 1, "at uo/#'s QoS, uo/+ is gone");
    cr_assert_eq(tc_unsubscribe(sub, "uo/#"), 0);
    cr_assert_eq(tc_subscribe(sub, "uo-sync", 1), 1);
    cr_assert_eq(tc_publish(pub, "uo/x", "none", 1, false), 0);
    cr_assert_eq(tc_publish(pub, "uo-sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(sub, "uo-sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(sub, "uo/x", "none"), 0);
}

Test(mqtt311, unsuback_bytes_echo_the_packet_id, .init = start, .fini = stop)
{
    int fd = raw_client("raw");
    cr_assert_eq(raw_subscribe(fd, 5, "u/t", 0), 0);
    const uint8_t unsub[] = {0xa2, 0x07, 0x00, 0x06, 0x00, 0x03, 'u', '/', 't'};
    cr_assert_eq(raw_send(fd, unsub, sizeof(unsub)), 0);
    uint8_t ack[4];
    cr_assert_eq(raw_recv(fd, ack, 4, 3000), 4);
    const uint8_t want[4] = {0xb0, 0x02, 0x00, 0x06};
    cr_assert_arr_eq(ack, want, 4, "UNSUBACK %02x %02x %02x %02x", ack[0], ack[1], ack[2], ack[3]);
    close(fd);
}

Test(mqtt311, suback_0x80_for_a_refused_filter, .init = start_topic_levels_4, .fini = stop)
{
    int fd = raw_client("raw");
    /* One SUBSCRIBE, three filters: the middle one is over max_topic_levels. */
    uint8_t pkt[64];
    size_t n = 0;
    pkt[n++] = 0x82;
    pkt[n++] = 0; /* remaining length, below */
    pkt[n++] = 0x00;
    pkt[n++] = 0x0b;
    n += raw_put_str(pkt + n, "ok/1", 4);
    pkt[n++] = 1;
    n += raw_put_str(pkt + n, "a/b/c/d/e", 9);
    pkt[n++] = 2;
    n += raw_put_str(pkt + n, "ok/2", 4);
    pkt[n++] = 2;
    pkt[1] = (uint8_t)(n - 2);
    cr_assert_eq(raw_send(fd, pkt, n), 0);
    uint8_t ack[7];
    cr_assert_eq(raw_recv(fd, ack, 7, 3000), 7);
    const uint8_t want[7] = {0x90, 0x05, 0x00, 0x0b, 0x01, 0x80, 0x02};
    cr_assert_arr_eq(ack, want, 7, "SUBACK %02x %02x %02x %02x %02x %02x %02x", ack[0], ack[1],
                     ack[2], ack[3], ack[4], ack[5], ack[6]);
    cr_assert(raw_ping(fd), "a refused filter must not close the connection");
    close(fd);
}

Test(mqtt311, subscription_limit_refuses_new_filters_not_replacements, .init = start_two_subs,
     .fini = stop)
{
    int fd = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(fd, "limited"), 0);
    cr_assert_eq(raw_subscribe(fd, 1, "lim/a", 0), 0);
    cr_assert_eq(raw_subscribe(fd, 2, "lim/b", 0), 0);
    cr_assert_eq(raw_subscribe(fd, 3, "lim/c", 0), 0x80, "a third filter over the limit of 2");
    /* Re-subscribing lim/a replaces it [MQTT-3.8.4-3]: the session still has 2 filters. */
    cr_assert_eq(raw_subscribe(fd, 4, "lim/a", 2), 2, "replacing a subscription was refused");
    const uint8_t unsub[] = {0xa2, 0x09, 0x00, 0x05, 0x00, 0x05, 'l', 'i', 'm', '/', 'b'};
    cr_assert_eq(raw_send(fd, unsub, sizeof(unsub)), 0);
    struct raw_pkt p;
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(p.hdr, 0xb0);
    cr_assert_eq(raw_subscribe(fd, 6, "lim/c", 1), 1, "room again after UNSUBSCRIBE");
    close(fd);
}

/* ---- across workers -------------------------------------------------------------------- */

Test(mqtt311, subscribers_on_every_worker_receive_every_message_in_order, .init = start,
     .fini = stop)
{
    enum { SUBS = 8, MSGS = 50 };
    struct tc *sub[SUBS];
    char id[16];
    for (int i = 0; i < SUBS; i++) { /* 8 connections on 4 workers: two per worker */
        snprintf(id, sizeof(id), "fan-%d", i);
        sub[i] = client(id, true);
        cr_assert_eq(tc_subscribe(sub[i], i % 2 ? "fan/#" : "fan/+", i % 3), i % 3);
    }
    struct tc *pub = client("pub", true);
    for (int m = 0; m < MSGS; m++) {
        char payload[16];
        snprintf(payload, sizeof(payload), "%d", m);
        cr_assert_eq(tc_publish(pub, "fan/t", payload, m % 3, false), 0);
    }
    bool done = false;
    for (int64_t deadline = now_ms() + 10000; !done && now_ms() < deadline;) {
        pump(5);
        done = true;
        for (int i = 0; i < SUBS; i++)
            done = done && sub[i]->n_msgs >= MSGS;
    }
    pump_for(100);
    /* Each message once, at min(QoS, granted), and [MQTT-4.6.0-6] in publish order among
     * the messages of one QoS. (Across QoS levels libmosquitto itself reorders: it hands a
     * QoS 2 message to the application only at PUBREL.) */
    for (int i = 0; i < SUBS; i++) {
        cr_assert_eq(sub[i]->n_msgs, MSGS, "subscriber %d got %d of %d", i, sub[i]->n_msgs, MSGS);
        int seen[MSGS] = {0}, last[3] = {-1, -1, -1};
        for (int k = 0; k < MSGS; k++) {
            int m = atoi(sub[i]->msgs[k].payload);
            cr_assert(m >= 0 && m < MSGS && !seen[m], "subscriber %d: duplicate %d", i, m);
            seen[m] = 1;
            int q = m % 3 < i % 3 ? m % 3 : i % 3;
            cr_assert_eq(sub[i]->msgs[k].qos, q);
            cr_assert_gt(m, last[q], "subscriber %d: %d after %d at QoS %d", i, m, last[q], q);
            last[q] = m;
        }
    }
}
