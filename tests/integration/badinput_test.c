/* Bad input against the real shardmq, in raw bytes: every malformed packet or protocol
 * violation closes that connection promptly, logs one line naming the client and the
 * reason, and leaves the broker serving everyone else. Silent or dribbling sockets are closed
 * by the CONNECT timeout or the keep-alive.
 *
 * Each test starts its own broker (4 workers, connect_timeout 1) with a bystander client
 * that connects first and stays subscribed to alive/#; after the bad input a new client
 * publishes there and the bystander must receive it. Log lines are matched to a connection
 * by its address (addr=127.0.0.1:PORT), so each assertion counts exactly that socket's lines. */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mqtt_client.h"

static struct broker_proc broker;
static struct tc *bystander;
static int survivors;

#define BASE_CONF "connect_timeout 1\n"

static void start_with(const char *conf)
{
    mosquitto_lib_init();
    char text[512];
    snprintf(text, sizeof(text), "%s%s", BASE_CONF, conf ? conf : "");
    cr_assert_eq(broker_start(&broker, 4, text), 0, "broker did not start");
    bystander = tc_new("bystander", true);
    cr_assert_eq(tc_connect(bystander, &broker, 60), 0);
    cr_assert_eq(tc_subscribe(bystander, "alive/#", 1), 1);
}

static void start(void)
{
    start_with(NULL);
}

static void start_small_packets(void)
{
    start_with("max_packet_size 100\n");
}

static void start_awaiting_rel_3(void)
{
    start_with("max_awaiting_rel 3\n");
}

static void start_topic_levels_4(void)
{
    start_with("max_topic_levels 4\n");
}

static void stop(void)
{
    tc_free_all();
    int status = broker_stop(&broker);
    mosquitto_lib_cleanup();
    cr_expect_eq(status, 0, "broker exit status %d", status);
}

/* The broker still serves: the bystander (connected before) still receives, from a client
 * that connects now. */
static void assert_broker_serves(void)
{
    char id[32], topic[32];
    snprintf(id, sizeof(id), "survivor-%d", survivors);
    snprintf(topic, sizeof(topic), "alive/%d", survivors++);
    struct tc *c = tc_new(id, true);
    cr_assert_eq(tc_connect(c, &broker, 60), 0, "broker no longer accepts clients");
    cr_assert_eq(tc_publish(c, topic, "ok", 1, false), 0);
    WAIT_FOR(tc_count(bystander, topic, "ok") == 1, 3000);
    cr_assert_eq(tc_count(bystander, topic, "ok"), 1, "bystander no longer served");
    cr_assert_eq(bystander->disconnected, false);
    tc_disconnect(c);
    tc_free(c);
}

/* A raw socket past CONNACK. */
static int connected(const char *id)
{
    int fd = raw_connect(&broker);
    cr_assert_geq(fd, 0);
    cr_assert_eq(raw_mqtt_connect(fd, id), 0);
    return fd;
}

/* Sends bytes on fd (a connection of client id, "-" before CONNECT) and asserts the
 * protocol-error outcome: closed within a second, one log line for this socket naming the
 * client and the reason, the broker still serving. */
static void send_expect_protocol_error(int fd, const char *id, const void *bytes, size_t len)
{
    cr_assert_eq(raw_send(fd, bytes, len), 0);
    cr_assert(raw_wait_closed(fd, 1000), "connection not closed within 1 s");
    int lines = log_count_for(&broker, fd, "protocol error client=");
    if (lines != 1)
        broker_dump_log(&broker);
    cr_assert_eq(lines, 1, "%d protocol error lines for this connection", lines);
    char who[64];
    snprintf(who, sizeof(who), "protocol error client=%s ", id);
    cr_assert_eq(log_count_for(&broker, fd, who), 1, "the line names client %s", id);
    cr_assert_eq(log_count_for(&broker, fd, "reason=0x"), 1, "the line names the reason");
    close(fd);
    assert_broker_serves();
}

/* Connects client id and sends it bytes, expecting the protocol-error outcome. */
static void bad_packet(const char *id, const void *bytes, size_t len)
{
    send_expect_protocol_error(connected(id), id, bytes, len);
}

/* ---- state ----------------------------------------------------------------------------- */

Test(badinput, second_connect_closes, .init = start, .fini = stop)
{
    int fd = connected("twice");
    uint8_t pkt[1100];
    struct raw_connect_opts o = RAW_CONNECT_OPTS("twice");
    size_t n = raw_build_connect(pkt, &o);
    send_expect_protocol_error(fd, "twice", pkt, n); /* [MQTT-3.1.0-2] */
}

Test(badinput, publish_before_connect_closes, .init = start, .fini = stop)
{
    int fd = raw_connect(&broker);
    const uint8_t pub[] = {0x30, 0x05, 0x00, 0x01, 'a', 'x', 'y'};
    send_expect_protocol_error(fd, "-", pub, sizeof(pub)); /* [MQTT-3.1.0-1] */
}

Test(badinput, huge_packet_before_connect_rejected_on_its_header, .init = start, .fini = stop)
{
    /* Declares 256 MB and sends none of it: judged on the type byte, nothing buffered. */
    int fd = raw_connect(&broker);
    const uint8_t pub[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    send_expect_protocol_error(fd, "-", pub, sizeof(pub));
}

Test(badinput, huge_connect_rejected_on_its_header, .init = start, .fini = stop)
{
    int fd = raw_connect(&broker);
    const uint8_t conn[] = {0x10, 0xff, 0xff, 0xff, 0x7f};
    send_expect_protocol_error(fd, "-", conn, sizeof(conn));
}

Test(badinput, server_only_packets_from_a_client_close, .init = start, .fini = stop)
{
    const uint8_t connack[] = {0x20, 0x02, 0x00, 0x00};
    bad_packet("connack", connack, sizeof(connack));
    const uint8_t suback[] = {0x90, 0x03, 0x00, 0x01, 0x00};
    bad_packet("suback", suback, sizeof(suback));
    const uint8_t pingresp[] = {0xd0, 0x00};
    bad_packet("pingresp", pingresp, sizeof(pingresp));
}

Test(badinput, unreleased_qos2_beyond_max_awaiting_rel_closes, .init = start_awaiting_rel_3,
     .fini = stop)
{
    int fd = connected("hoarder");
    struct raw_pkt p;
    for (uint16_t id = 1; id <= 3; id++) {
        cr_assert_eq(raw_publish(fd, "h/t", "x", 1, 2, false, false, id), 0);
        cr_assert_eq(raw_read_packet(fd, &p, 2000), 0);
        cr_assert_eq(p.hdr, 0x50, "PUBREC for %u", id);
    }
    /* A resend of a held id is fine; a fourth id is over the bound. */
    cr_assert_eq(raw_publish(fd, "h/t", "x", 1, 2, false, true, 2), 0);
    cr_assert_eq(raw_read_packet(fd, &p, 2000), 0);
    cr_assert_eq(p.hdr, 0x50);
    uint8_t pkt[16];
    size_t n = 0;
    pkt[n++] = 0x34;
    pkt[n++] = 2 + 3 + 2 + 1;
    n += raw_put_str(pkt + n, "h/t", 3);
    pkt[n++] = 0;
    pkt[n++] = 4;
    pkt[n++] = 'x';
    send_expect_protocol_error(fd, "hoarder", pkt, n);
}

Test(badinput, unknown_packet_ids_in_acks_are_not_fatal, .init = start, .fini = stop)
{
    int fd = connected("confused");
    /* 3.1.1: PUBREL for an unknown id is still answered with PUBCOMP [MQTT-4.3.3-11]... */
    cr_assert_eq(raw_send_ack(fd, 0x62, 77), 0);
    uint8_t comp[4];
    cr_assert_eq(raw_recv(fd, comp, 4, 2000), 4);
    const uint8_t want[4] = {0x70, 0x02, 0x00, 77};
    cr_assert_arr_eq(comp, want, 4);
    /* ...and a PUBACK, PUBREC or PUBCOMP for nothing changes nothing. */
    cr_assert_eq(raw_send_ack(fd, 0x40, 78), 0);
    cr_assert_eq(raw_send_ack(fd, 0x70, 79), 0);
    cr_assert(raw_ping(fd), "connection closed for an unknown acknowledgement");
    close(fd);
}

/* ---- framing --------------------------------------------------------------------------- */

Test(badinput, five_byte_remaining_length_closes, .init = start, .fini = stop)
{
    const uint8_t bad[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01}; /* [MQTT-2.2.3] at most 4 */
    bad_packet("varint", bad, sizeof(bad));
}

Test(badinput, reserved_packet_types_close, .init = start, .fini = stop)
{
    const uint8_t zero[] = {0x00, 0x00};
    bad_packet("type0", zero, sizeof(zero));
    const uint8_t fifteen[] = {0xf0, 0x00}; /* AUTH does not exist before 5.0 */
    bad_packet("type15", fifteen, sizeof(fifteen));
}

Test(badinput, wrong_fixed_header_flags_close, .init = start, .fini = stop)
{
    /* [MQTT-3.8.1-1] SUBSCRIBE flags must be 0010. */
    const uint8_t sub[] = {0x80, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b', 0x00};
    bad_packet("subflags", sub, sizeof(sub));
    const uint8_t ping[] = {0xc1, 0x00};
    bad_packet("pingflags", ping, sizeof(ping));
}

Test(badinput, packet_bigger_than_max_packet_size_closes, .init = start_small_packets, .fini = stop)
{
    /* Refused on the fixed header: the 200 declared bytes are never sent. */
    const uint8_t head[] = {0x30, 0xc8, 0x01, 0x00, 0x03, 'b', 'i', 'g'};
    bad_packet("declared", head, sizeof(head));
    /* And sent whole. */
    int fd = connected("whole");
    uint8_t payload[200];
    memset(payload, 'p', sizeof(payload));
    cr_assert_eq(raw_publish(fd, "big", payload, sizeof(payload), 0, false, false, 0), 0);
    cr_assert(raw_wait_closed(fd, 1000));
    cr_assert_eq(log_count_for(&broker, fd, "protocol error client="), 1);
    close(fd);
    /* Just under the limit is fine. */
    fd = connected("small");
    cr_assert_eq(raw_publish(fd, "ok", payload, 80, 1, false, false, 1), 0);
    struct raw_pkt p;
    cr_assert_eq(raw_read_packet(fd, &p, 2000), 0);
    cr_assert_eq(p.hdr, 0x40);
    close(fd);
    assert_broker_serves();
}

/* ---- PUBLISH --------------------------------------------------------------------------- */

Test(badinput, wildcard_in_publish_topic_closes, .init = start, .fini = stop)
{
    const uint8_t plus[] = {0x30, 0x07, 0x00, 0x05, 'a', '/', '+', '/', 'b'};
    bad_packet("plus", plus, sizeof(plus)); /* [MQTT-3.3.2-2] */
    const uint8_t hash[] = {0x30, 0x05, 0x00, 0x03, 'a', '/', '#'};
    bad_packet("hash", hash, sizeof(hash));
}

Test(badinput, publish_qos3_closes, .init = start, .fini = stop)
{
    const uint8_t q3[] = {0x36, 0x06, 0x00, 0x01, 'a', 0x00, 0x01, 'x'}; /* [MQTT-3.3.1-4] */
    bad_packet("qos3", q3, sizeof(q3));
}

Test(badinput, publish_qos0_with_dup_closes, .init = start, .fini = stop)
{
    const uint8_t dup0[] = {0x38, 0x04, 0x00, 0x01, 'a', 'x'}; /* [MQTT-3.3.1-2] */
    bad_packet("dup0", dup0, sizeof(dup0));
}

Test(badinput, empty_publish_topic_closes, .init = start, .fini = stop)
{
    const uint8_t empty[] = {0x30, 0x03, 0x00, 0x00, 'x'}; /* [MQTT-4.7.3-1] */
    bad_packet("empty", empty, sizeof(empty));
}

Test(badinput, qos1_publish_with_packet_id_0_closes, .init = start, .fini = stop)
{
    const uint8_t zero[] = {0x32, 0x06, 0x00, 0x01, 'a', 0x00, 0x00, 'x'}; /* [MQTT-2.3.1-1] */
    bad_packet("pid0", zero, sizeof(zero));
}

Test(badinput, invalid_utf8_topics_close, .init = start, .fini = stop)
{
    /* [MQTT-1.5.3-1] an overlong encoding, a surrogate; [MQTT-1.5.3-2] U+0000. */
    const uint8_t overlong[] = {0x30, 0x06, 0x00, 0x04, 'a', 0xc0, 0xaf, 'b'};
    bad_packet("overlong", overlong, sizeof(overlong));
    const uint8_t surrogate[] = {0x30, 0x06, 0x00, 0x04, 'a', 0xed, 0xa0, 0x80};
    bad_packet("surrogate", surrogate, sizeof(surrogate));
    const uint8_t nul[] = {0x30, 0x05, 0x00, 0x03, 'a', 0x00, 'b'};
    bad_packet("nul", nul, sizeof(nul));
    const uint8_t ff[] = {0x30, 0x04, 0x00, 0x02, 0xff, 'b'};
    bad_packet("ff", ff, sizeof(ff));
}

/* ---- SUBSCRIBE / UNSUBSCRIBE ----------------------------------------------------------- */

Test(badinput, subscribe_without_options_byte_closes, .init = start, .fini = stop)
{
    const uint8_t sub[] = {0x82, 0x07, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b'};
    bad_packet("noopts", sub, sizeof(sub));
}

Test(badinput, subscribe_with_qos_3_or_reserved_bits_closes, .init = start, .fini = stop)
{
    const uint8_t q3[] = {0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b', 0x03};
    bad_packet("subq3", q3, sizeof(q3)); /* [MQTT-3.8.3-4] */
    const uint8_t rsv[] = {0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b', 0x41};
    bad_packet("subrsv", rsv, sizeof(rsv));
}

Test(badinput, subscribe_and_unsubscribe_without_filters_close, .init = start, .fini = stop)
{
    const uint8_t sub[] = {0x82, 0x02, 0x00, 0x01};
    bad_packet("subnone", sub, sizeof(sub)); /* [MQTT-3.8.3-3] */
    const uint8_t unsub[] = {0xa2, 0x02, 0x00, 0x01};
    bad_packet("unsubnone", unsub, sizeof(unsub)); /* [MQTT-3.10.3-2] */
}

Test(badinput, subscribe_filter_running_past_the_packet_closes, .init = start, .fini = stop)
{
    /* The filter claims 200 bytes; the packet holds 3. */
    const uint8_t sub[] = {0x82, 0x08, 0x00, 0x01, 0x00, 0xc8, 'a', '/', 'b', 0x00};
    bad_packet("overrun", sub, sizeof(sub));
}

Test(badinput, invalid_filter_refused_or_closed, .init = start, .fini = stop)
{
    /* "a/#/b" and "a+": [MQTT-4.7.1-2], [MQTT-4.7.1-3]. 3.1.1 allows closing or SUBACK 0x80;
     * either way nothing is subscribed and the broker goes on. */
    const char *const filters[] = {"a/#/b", "a+", "#a"};
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "badfilter-%d", i);
        int fd = connected(id);
        int code = raw_subscribe(fd, 1, filters[i], 0);
        if (code >= 0) {
            cr_assert_eq(code, 0x80, "filter %s granted %d", filters[i], code);
        } else {
            cr_assert(raw_wait_closed(fd, 1000));
            cr_assert_eq(log_count_for(&broker, fd, "protocol error client="), 1);
        }
        close(fd);
    }
    assert_broker_serves();
}

/* ---- CONNECT --------------------------------------------------------------------------- */

/* Sends a CONNECT built from o and asserts it is not accepted: closed promptly with no
 * CONNACK 0, one log line, the broker serving. */
static void connect_expect_refused(struct raw_connect_opts o)
{
    int fd = raw_connect(&broker);
    uint8_t pkt[1100];
    size_t n = raw_build_connect(pkt, &o);
    cr_assert_eq(raw_send(fd, pkt, n), 0);
    struct raw_pkt p;
    if (raw_read_packet(fd, &p, 1000) == 0) {
        cr_assert_eq(p.hdr, 0x20, "only a CONNACK may answer a refused CONNECT");
        cr_assert_neq(p.body[1], 0, "accepted");
    }
    cr_assert(raw_wait_closed(fd, 1000), "connection not closed within 1 s");
    int lines = log_count_for(&broker, fd, "protocol error client=") +
                log_count_for(&broker, fd, "connect refused");
    cr_assert_eq(lines, 1, "%d log lines for the refused CONNECT", lines);
    close(fd);
    assert_broker_serves();
}

Test(badinput, connect_reserved_flag_closes, .init = start, .fini = stop)
{
    struct raw_connect_opts o = RAW_CONNECT_OPTS("rsv");
    o.flags_override = 0x03; /* [MQTT-3.1.2-3] bit 0 is reserved */
    connect_expect_refused(o);
}

Test(badinput, connect_will_flags_without_will_close, .init = start, .fini = stop)
{
    struct raw_connect_opts o = RAW_CONNECT_OPTS("willqos");
    o.flags_override = 0x02 | 0x08; /* will QoS 1, no will flag [MQTT-3.1.2-13] */
    connect_expect_refused(o);
    o = RAW_CONNECT_OPTS("willret");
    o.flags_override = 0x02 | 0x20; /* will retain, no will flag [MQTT-3.1.2-15] */
    connect_expect_refused(o);
}

Test(badinput, connect_will_qos_3_closes, .init = start, .fini = stop)
{
    struct raw_connect_opts o = RAW_CONNECT_OPTS("wq3");
    o.will_topic = "w/t";
    o.will_payload = "x";
    o.will_qos = 3; /* [MQTT-3.1.2-14] */
    connect_expect_refused(o);
}

Test(badinput, connect_password_without_username_closes, .init = start, .fini = stop)
{
    /* [MQTT-3.1.2-22]; the password field is not even there. */
    struct raw_connect_opts o = RAW_CONNECT_OPTS("pw");
    o.flags_override = 0x02 | 0x40;
    connect_expect_refused(o);
}

Test(badinput, connect_wildcard_will_topic_refused, .init = start, .fini = stop)
{
    struct raw_connect_opts o = RAW_CONNECT_OPTS("wildwill");
    o.will_topic = "w/#";
    o.will_payload = "x";
    connect_expect_refused(o);
}

Test(badinput, connect_invalid_utf8_client_id_refused, .init = start, .fini = stop)
{
    struct raw_connect_opts o = RAW_CONNECT_OPTS("bad\xff"
                                                 "id");
    connect_expect_refused(o);
}

Test(badinput, connect_wrong_protocol_name_refused, .init = start, .fini = stop)
{
    struct raw_connect_opts o = RAW_CONNECT_OPTS("name");
    o.proto_name = "MQTX"; /* [MQTT-3.1.2-1] */
    connect_expect_refused(o);
}

/* ---- silence --------------------------------------------------------------------------- */

Test(badinput, connect_never_sent_closed_by_connect_timeout, .init = start, .fini = stop)
{
    /* Five silent sockets, opened 200 ms apart so they fall at different points of the
     * broker's one-second timer: each is closed after connect_timeout (1 s), not before, and
     * within the timer's granularity (the deadline's second, then the next tick) after. */
    enum { N = 5 };
    int fd[N];
    int64_t since[N], closed_after[N];
    for (int i = 0; i < N; i++) {
        if (i > 0)
            usleep(200000); /* pacing the sockets, not waiting for the broker */
        fd[i] = raw_connect(&broker);
        cr_assert_geq(fd[i], 0);
        since[i] = now_ms();
    }
    for (int i = 0; i < N; i++) {
        int left = (int)(since[i] + 5000 - now_ms());
        cr_assert(raw_wait_closed(fd[i], left > 0 ? left : 1), "socket %d still open after 5 s", i);
        closed_after[i] = now_ms() - since[i];
    }
    for (int i = 0; i < N; i++) {
        cr_assert_geq(closed_after[i], 950, "socket %d closed after %lld ms, connect_timeout 1 s",
                      i, (long long)closed_after[i]);
        cr_assert_leq(closed_after[i], 3500, "socket %d closed after %lld ms", i,
                      (long long)closed_after[i]);
        cr_assert_eq(log_count_for(&broker, fd[i], "no CONNECT in time"), 1);
        close(fd[i]);
    }
    assert_broker_serves();
}

Test(badinput, truncated_connect_then_silence_closed_by_connect_timeout, .init = start,
     .fini = stop)
{
    int fd = raw_connect(&broker);
    const uint8_t part[] = {0x10, 0x20, 0x00, 0x04, 'M', 'Q'};
    cr_assert_eq(raw_send(fd, part, sizeof(part)), 0);
    int64_t t0 = now_ms();
    cr_assert(raw_wait_closed(fd, 5000), "half a CONNECT kept the socket open");
    cr_assert_leq(now_ms() - t0, 3500);
    cr_assert_eq(log_count_for(&broker, fd, "no CONNECT in time"), 1);
    close(fd);
    assert_broker_serves();
}

Test(badinput, truncated_packet_then_silence_closed_by_keepalive, .init = start, .fini = stop)
{
    int fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("truncated");
    o.keepalive = 1;
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0);
    const uint8_t part[] = {0x30, 0x0a, 0x00, 0x03, 'a'}; /* 10 bytes declared, 3 sent */
    cr_assert_eq(raw_send(fd, part, sizeof(part)), 0);
    int64_t t0 = now_ms();
    cr_assert(raw_wait_closed(fd, 5000), "a truncated packet kept the socket open");
    int64_t took = now_ms() - t0;
    cr_assert_geq(took, 1450, "closed after %lld ms, keep-alive 1 s", (long long)took);
    cr_assert_leq(took, 4000, "closed after %lld ms", (long long)took);
    cr_assert_eq(log_count_for(&broker, fd, "keep-alive timeout"), 1);
    close(fd);
    assert_broker_serves();
}

Test(badinput, dribbled_packet_does_not_extend_keepalive, .init = start, .fini = stop)
{
    /* One byte of a 100-byte PUBLISH every 200 ms for 5 s: bytes arrive, no packet
     * completes, and the keep-alive (1.5 s, plus the timer's granularity) ends it. */
    int fd = raw_connect(&broker);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("dribbler");
    o.keepalive = 1;
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0);
    int64_t t0 = now_ms();
    const uint8_t head[] = {0x30, 100, 0x00, 0x01, 'd'};
    bool closed = false;
    for (int i = 0; i < 40 && !closed; i++) {
        uint8_t byte = i < (int)sizeof(head) ? head[i] : 'x';
        if (raw_send(fd, &byte, 1) < 0)
            break;
        closed = raw_wait_closed(fd, 200); /* also paces the dribble */
    }
    if (!closed)
        closed = raw_wait_closed(fd, 1000);
    cr_assert(closed, "a dribbling client kept the connection open for 8 s");
    cr_assert_leq(now_ms() - t0, 4000);
    close(fd);
    assert_broker_serves();
}

Test(badinput, topics_over_max_topic_levels_refused_in_publish_and_will,
     .init = start_topic_levels_4, .fini = stop)
{
    const uint8_t deep[] = {0x30, 0x0c, 0x00, 0x09, 'a', '/', 'b',
                            '/',  'c',  '/',  'd',  '/', 'e', 'x'};
    bad_packet("deep-publish", deep, sizeof(deep));
    /* A will is published like a PUBLISH: the same limit applies at CONNECT. */
    struct raw_connect_opts o = RAW_CONNECT_OPTS("deep-will");
    o.will_topic = "a/b/c/d/e";
    o.will_payload = "x";
    o.will_retain = true;
    connect_expect_refused(o);
}

Test(badinput, protocol_error_with_output_queued_flushes_then_closes, .init = start,
     .fini = stop, .timeout = 60)
{
    /* A subscriber that stopped reading has megabytes queued towards it when it sends a bad
     * packet: the broker lets the queued output leave, then closes; once the peer has read
     * it all, the connection is gone for good (and its 5 s closing deadline, still pending
     * in the broker's timer wheel, must not touch it: the sanitizer builds check). */
    int sub = connected("backlogged");
    cr_assert_eq(raw_subscribe(sub, 1, "flood/x", 0), 0);
    int pub = connected("flooder");
    static uint8_t payload[10000];
    memset(payload, 'y', sizeof(payload));
    for (int i = 0; i < 900; i++)
        cr_assert_eq(raw_publish(pub, "flood/x", payload, sizeof(payload), 0, false, false, 0), 0);
    cr_assert(raw_ping(pub), "the publisher is served");
    const uint8_t bad[2] = {0x00, 0x00};
    cr_assert_eq(raw_send(sub, bad, sizeof(bad)), 0);
    cr_assert(raw_wait_closed(sub, 10000), "not closed after its output was read");
    cr_assert_eq(log_count_for(&broker, sub, "protocol error client=backlogged "), 1);
    close(sub);
    /* Past the closing deadline (5 s): the broker's wheel has visited that slot. */
    usleep(6000000);
    cr_assert(raw_ping(pub));
    close(pub);
    assert_broker_serves();
}
