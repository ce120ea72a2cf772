/* Sessions against the real shardmq: persistent sessions (clean session 0) keeping their
 * subscriptions and queueing QoS 1/2 while offline within max_queued_messages /
 * max_queued_bytes, the session present flag, retransmission with DUP and of PUBREL on
 * reconnect, clean session 1 discarding state, persistent_client_expiration, takeover on the
 * same and on another worker, keep-alive, and the Last Will: on abrupt close, keep-alive
 * timeout, protocol error and takeover, not on DISCONNECT, with its QoS and retain honoured.
 *
 * Each test starts its own broker with 4 workers; connections go to the workers round robin
 * in the order they are opened, which the takeover tests use to pick the same or another
 * worker. Time-based checks (keep-alive, expiry) use 1-2 s settings and bound both sides. */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <pthread.h>
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

static void start_queue_5(void)
{
    start_with("max_queued_messages 5\n");
}

static void start_queue_bytes(void)
{
    start_with("max_queued_bytes 10000\n");
}

static void start_queue_qos0(void)
{
    start_with("queue_qos0_messages true\n");
}

static void start_expiry_2s(void)
{
    start_with("persistent_client_expiration 2s\n");
}

static void stop(void)
{
    tc_free_all();
    int status = broker_stop(&broker);
    mosquitto_lib_cleanup();
    cr_expect_eq(status, 0, "broker exit status %d", status);
}

static struct tc *client(const char *id, bool clean)
{
    struct tc *c = tc_new(id, clean);
    cr_assert_not_null(c);
    cr_assert_eq(tc_connect(c, &broker, 60), 0, "client %s not accepted", id);
    return c;
}

/* Waits until the broker's log has at least count lines with needle. */
static bool wait_log(const char *needle, int count, int ms)
{
    for (int64_t deadline = now_ms() + ms; now_ms() < deadline; usleep(20000)) {
        if (broker_log_count(&broker, needle) >= count)
            return true;
    }
    return broker_log_count(&broker, needle) >= count;
}

/* A raw client connected with o; asserts CONNACK 0 and returns the fd. */
static int raw_with(struct raw_connect_opts o, int *present)
{
    int fd = raw_connect(&broker);
    cr_assert_geq(fd, 0);
    cr_assert_eq(raw_connect_with(fd, &o, present), 0, "raw %s not accepted", o.client_id);
    return fd;
}

static struct raw_connect_opts persistent(const char *id)
{
    struct raw_connect_opts o = RAW_CONNECT_OPTS(id);
    o.no_clean = true;
    return o;
}

static struct raw_connect_opts with_will(const char *id, const char *topic, const char *payload,
                                         int qos, bool retain)
{
    struct raw_connect_opts o = RAW_CONNECT_OPTS(id);
    o.will_topic = topic;
    o.will_payload = payload;
    o.will_qos = qos;
    o.will_retain = retain;
    return o;
}

/* ---- persistent sessions --------------------------------------------------------------- */

Test(session, persistent_session_keeps_subscriptions_across_reconnect, .init = start, .fini = stop)
{
    struct tc *c = client("keeper", false);
    cr_assert_eq(c->session_present, 0, "a new session is not present");
    cr_assert_eq(tc_subscribe(c, "keep/t", 1), 1);
    tc_disconnect(c);
    tc_free(c);
    struct tc *pub = client("pub", true);
    c = client("keeper", false);
    cr_assert_eq(c->session_present, 1, "[MQTT-3.2.2-2] session present after reconnect");
    /* No SUBSCRIBE this time: the session's subscription delivers. */
    cr_assert_eq(tc_publish(pub, "keep/t", "still here", 1, false), 0);
    WAIT_FOR(c->n_msgs >= 1, 3000);
    cr_assert_eq(tc_count(c, "keep/t", "still here"), 1);
}

Test(session, offline_qos1_and_qos2_queued_and_delivered_on_reconnect, .init = start, .fini = stop)
{
    struct tc *c = client("offline", false);
    cr_assert_eq(tc_subscribe(c, "off/#", 2), 2);
    tc_disconnect(c);
    tc_free(c);
    struct tc *pub = client("pub", true);
    for (int i = 0; i < 12; i++) {
        char payload[16];
        snprintf(payload, sizeof(payload), "m%02d", i);
        cr_assert_eq(tc_publish(pub, "off/t", payload, i % 3, false), 0);
    }
    c = client("offline", false);
    cr_assert_eq(c->session_present, 1);
    cr_assert_eq(tc_publish(pub, "off/end", "marker", 1, false), 0);
    WAIT_FOR(tc_count(c, "off/end", "marker") == 1, 5000);
    pump_for(100);
    /* The 8 QoS 1/2 messages, once each, at their QoS, in order per QoS; QoS 0 is not
     * queued for an offline session (queue_qos0_messages false). */
    int last[3] = {-1, -1, -1}, n = 0;
    for (int k = 0; k < c->n_msgs; k++) {
        const struct tmsg *m = &c->msgs[k];
        if (strcmp(m->topic, "off/t") != 0)
            continue;
        int i = atoi(m->payload + 1);
        cr_assert_neq(i % 3, 0, "QoS 0 message %s queued while offline", m->payload);
        cr_assert_eq(m->qos, i % 3, "%s at QoS %d", m->payload, m->qos);
        cr_assert_gt(i, last[m->qos], "%s after m%02d", m->payload, last[m->qos]);
        last[m->qos] = i;
        n++;
    }
    cr_assert_eq(n, 8, "%d of 8 queued messages delivered", n);
}

Test(session, offline_qos0_queued_when_queue_qos0_messages, .init = start_queue_qos0, .fini = stop)
{
    struct tc *c = client("q0", false);
    cr_assert_eq(tc_subscribe(c, "q0/t", 0), 0);
    tc_disconnect(c);
    tc_free(c);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "q0/t", "zero", 0, false), 0);
    cr_assert_eq(tc_publish(pub, "q0/t", "one", 1, false), 0); /* sync: same topic, later */
    c = client("q0", false);
    cr_assert_eq(c->session_present, 1);
    WAIT_FOR(c->n_msgs >= 2, 3000);
    cr_assert_eq(c->n_msgs, 2);
    cr_assert_str_eq(c->msgs[0].payload, "zero");
    cr_assert_str_eq(c->msgs[1].payload, "one");
}

Test(session, offline_queue_bounded_by_max_queued_messages, .init = start_queue_5, .fini = stop)
{
    struct tc *c = client("bounded", false);
    cr_assert_eq(tc_subscribe(c, "bq/t", 1), 1);
    tc_disconnect(c);
    tc_free(c);
    struct tc *pub = client("pub", true);
    for (int i = 0; i < 20; i++) {
        char payload[16];
        snprintf(payload, sizeof(payload), "%d", i);
        cr_assert_eq(tc_publish(pub, "bq/t", payload, 1, false), 0);
    }
    c = client("bounded", false);
    cr_assert_eq(c->session_present, 1);
    cr_assert_eq(tc_publish(pub, "bq/t", "marker", 1, false), 0);
    WAIT_FOR(tc_count(c, "bq/t", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(c->n_msgs, 6, "5 queued + the marker, got %d", c->n_msgs);
    for (int k = 1; k < 5; k++)
        cr_assert_gt(atoi(c->msgs[k].payload), atoi(c->msgs[k - 1].payload), "order");
    cr_assert_str_eq(c->msgs[5].payload, "marker");
    /* The broker kept serving the publisher. */
    cr_assert_eq(tc_publish(pub, "bq/t", "after", 1, false), 0);
}

Test(session, offline_queue_bounded_by_max_queued_bytes, .init = start_queue_bytes, .fini = stop)
{
    struct tc *c = client("bytes", false);
    cr_assert_eq(tc_subscribe(c, "bb/t", 1), 1);
    tc_disconnect(c);
    tc_free(c);
    struct tc *pub = client("pub", true);
    char payload[1001];
    memset(payload, 'x', 1000);
    payload[1000] = '\0';
    for (int i = 0; i < 50; i++)
        cr_assert_eq(tc_publish(pub, "bb/t", payload, 1, false), 0);
    c = client("bytes", false);
    cr_assert_eq(tc_publish(pub, "bb/sync", "marker", 1, false), 0);
    cr_assert_eq(tc_subscribe(c, "bb/sync", 1), 1);
    cr_assert_eq(tc_publish(pub, "bb/sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(c, "bb/sync", "marker") >= 1, 3000);
    pump_for(100);
    int n = tc_count(c, "bb/t", NULL);
    /* 10,000 bytes hold at most 10 payloads of 1,000 bytes (less with the overhead). */
    cr_assert(n >= 1 && n <= 10, "%d messages of 1000 bytes queued within 10000 bytes", n);
}

Test(session, clean_session_1_discards_the_old_session, .init = start, .fini = stop)
{
    struct tc *c = client("cleaner", false);
    cr_assert_eq(tc_subscribe(c, "cl/t", 1), 1);
    tc_disconnect(c);
    tc_free(c);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "cl/t", "queued", 1, false), 0);
    c = client("cleaner", true);
    cr_assert_eq(c->session_present, 0, "[MQTT-3.2.2-1] clean session: present 0");
    cr_assert_eq(tc_subscribe(c, "cl/sync", 1), 1);
    cr_assert_eq(tc_publish(pub, "cl/t", "new", 1, false), 0);
    cr_assert_eq(tc_publish(pub, "cl/sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(c, "cl/sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(c, "cl/t", NULL), 0, "old subscription or queue survived");
    tc_disconnect(c);
    tc_free(c);
    /* And the clean session ended with its connection [MQTT-3.1.2-6]. */
    c = client("cleaner", false);
    cr_assert_eq(c->session_present, 0);
}

Test(session, clean_session_state_is_not_kept_after_disconnect, .init = start, .fini = stop)
{
    struct tc *c = client("transient", true);
    cr_assert_eq(tc_subscribe(c, "tr/t", 1), 1);
    tc_disconnect(c);
    tc_free(c);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "tr/t", "lost", 1, false), 0);
    c = client("transient", false);
    cr_assert_eq(c->session_present, 0);
    cr_assert_eq(tc_subscribe(c, "tr/sync", 1), 1);
    cr_assert_eq(tc_publish(pub, "tr/sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(c, "tr/sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(c->n_msgs, 1);
}

/* ---- retransmission on reconnect ------------------------------------------------------- */

Test(session, unacknowledged_qos1_resent_with_dup_on_reconnect, .init = start, .fini = stop)
{
    int fd = raw_with(persistent("dupper"), NULL);
    cr_assert_eq(raw_subscribe(fd, 1, "dup/t", 1), 1);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "dup/t", "d1", 1, false), 0);
    struct raw_pkt p;
    struct raw_publish_view v1, v2;
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(p.hdr, 0x32);
    cr_assert_eq(raw_parse_publish(&p, &v1), 0);
    close(fd); /* no PUBACK */
    int present = -1;
    fd = raw_with(persistent("dupper"), &present);
    cr_assert_eq(present, 1);
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0, "no retransmission");
    cr_assert_eq(p.hdr, 0x3a, "[MQTT-4.4.0-1] resent with DUP: header 0x%02x", p.hdr);
    cr_assert_eq(raw_parse_publish(&p, &v2), 0);
    cr_assert_eq(v2.packet_id, v1.packet_id, "same packet identifier");
    cr_assert_str_eq(v2.topic, "dup/t");
    cr_assert_eq(memcmp(v2.payload, "d1", 2), 0);
    cr_assert_eq(raw_send_ack(fd, 0x40, v2.packet_id), 0);
    cr_assert(raw_ping(fd), "nothing more after the acknowledgement");
    close(fd);
}

Test(session, qos2_publish_and_pubrel_resent_on_reconnect, .init = start, .fini = stop)
{
    int fd = raw_with(persistent("q2dup"), NULL);
    cr_assert_eq(raw_subscribe(fd, 1, "q2d/t", 2), 2);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "q2d/t", "a", 2, false), 0);
    cr_assert_eq(tc_publish(pub, "q2d/t", "b", 2, false), 0);
    struct raw_pkt p, pa, pb; /* a view points into its packet */
    struct raw_publish_view a, b;
    cr_assert_eq(raw_read_packet(fd, &pa, 3000), 0);
    cr_assert_eq(raw_parse_publish(&pa, &a), 0);
    cr_assert_eq(raw_read_packet(fd, &pb, 3000), 0);
    cr_assert_eq(raw_parse_publish(&pb, &b), 0);
    cr_assert_eq(a.payload[0], 'a');
    cr_assert_eq(b.payload[0], 'b');
    /* a: PUBREC sent, PUBREL received, no PUBCOMP. b: not even a PUBREC. */
    cr_assert_eq(raw_send_ack(fd, 0x50, a.packet_id), 0);
    uint8_t rel[4];
    cr_assert_eq(raw_recv(fd, rel, 4, 3000), 4);
    cr_assert_eq(rel[0], 0x62);
    close(fd);
    fd = raw_with(persistent("q2dup"), NULL);
    /* [MQTT-4.4.0-1] in the original order: PUBREL for a, then PUBLISH b with DUP. */
    cr_assert_eq(raw_recv(fd, rel, 4, 3000), 4);
    const uint8_t want[4] = {0x62, 0x02, (uint8_t)(a.packet_id >> 8), (uint8_t)a.packet_id};
    cr_assert_arr_eq(rel, want, 4, "PUBREL resent: %02x %02x %02x %02x", rel[0], rel[1], rel[2],
                     rel[3]);
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(p.hdr, 0x3c, "QoS 2 PUBLISH resent with DUP: header 0x%02x", p.hdr);
    struct raw_publish_view b2;
    cr_assert_eq(raw_parse_publish(&p, &b2), 0);
    cr_assert_eq(b2.packet_id, b.packet_id);
    cr_assert_eq(raw_send_ack(fd, 0x70, a.packet_id), 0);
    cr_assert_eq(raw_send_ack(fd, 0x50, b.packet_id), 0);
    cr_assert_eq(raw_recv(fd, rel, 4, 3000), 4);
    cr_assert_eq(rel[0], 0x62);
    cr_assert_eq(raw_send_ack(fd, 0x70, b.packet_id), 0);
    cr_assert(raw_ping(fd));
    close(fd);
}

Test(session, inbound_qos2_awaiting_release_survives_reconnect, .init = start, .fini = stop)
{
    struct tc *sub = client("sub", true);
    cr_assert_eq(tc_subscribe(sub, "in2/t", 2), 2);
    int fd = raw_with(persistent("q2pub"), NULL);
    cr_assert_eq(raw_publish(fd, "in2/t", "exactly once", 12, 2, false, false, 5), 0);
    struct raw_pkt p;
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(p.hdr, 0x50);
    close(fd); /* the PUBREC was "lost" */
    int present = -1;
    fd = raw_with(persistent("q2pub"), &present);
    cr_assert_eq(present, 1);
    /* [MQTT-4.3.3-2] the resent PUBLISH is acknowledged, not delivered a second time. */
    cr_assert_eq(raw_publish(fd, "in2/t", "exactly once", 12, 2, false, true, 5), 0);
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(p.hdr, 0x50);
    cr_assert_eq(raw_send_ack(fd, 0x62, 5), 0);
    cr_assert_eq(raw_read_packet(fd, &p, 3000), 0);
    cr_assert_eq(p.hdr, 0x70);
    cr_assert_eq(raw_publish(fd, "in2/t", "marker", 6, 1, false, false, 6), 0);
    WAIT_FOR(tc_count(sub, "in2/t", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(sub, "in2/t", "exactly once"), 1, "delivered %d times",
                 tc_count(sub, "in2/t", "exactly once"));
    close(fd);
}

/* ---- expiry ---------------------------------------------------------------------------- */

Test(session, persistent_client_expiration_ends_an_offline_session, .init = start_expiry_2s,
     .fini = stop)
{
    struct tc *c = client("expiring", false);
    cr_assert_eq(tc_subscribe(c, "exp/t", 1), 1);
    tc_disconnect(c);
    tc_free(c);
    int64_t t0 = now_ms();
    cr_assert(wait_log("session expired client=expiring", 1, 6000), "session never expired");
    int64_t took = now_ms() - t0;
    cr_assert_geq(took, 1900, "expired after %lld ms, configured 2 s", (long long)took);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "exp/t", "too late", 1, false), 0);
    c = client("expiring", false);
    cr_assert_eq(c->session_present, 0, "expired session still present");
    cr_assert_eq(tc_subscribe(c, "exp/sync", 1), 1);
    cr_assert_eq(tc_publish(pub, "exp/sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(c, "exp/sync", "marker") == 1, 3000);
    pump_for(100);
    cr_assert_eq(tc_count(c, "exp/t", NULL), 0);
}

/* ---- takeover -------------------------------------------------------------------------- */

/* Opens n sockets that only take their turn in the acceptor's round robin; the caller
 * closes them. */
static void skip_workers(int n, int *fds)
{
    for (int i = 0; i < n; i++) {
        fds[i] = raw_connect(&broker);
        cr_assert_geq(fds[i], 0);
    }
}

static void takeover(bool same_worker)
{
    int first = raw_with(persistent("twin"), NULL); /* connection 0: worker 0 */
    cr_assert_eq(raw_subscribe(first, 1, "tw/t", 1), 1);
    int fillers[3];
    if (same_worker)
        skip_workers(3, fillers); /* connections 1-3; the next is on worker 0 again */
    int present = -1;
    int second = raw_with(persistent("twin"), &present);
    cr_assert_eq(present, 1, "the session moved with its subscriptions");
    cr_assert(raw_wait_closed(first, 2000), "[MQTT-3.1.4-2] first connection not closed");
    close(first);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "tw/t", "to the new one", 1, false), 0);
    struct raw_pkt p;
    struct raw_publish_view v;
    cr_assert_eq(raw_read_packet(second, &p, 3000), 0);
    cr_assert_eq(raw_parse_publish(&p, &v), 0);
    cr_assert_str_eq(v.topic, "tw/t");
    cr_assert_eq(raw_send_ack(second, 0x40, v.packet_id), 0);
    cr_assert(raw_ping(second));
    cr_assert_eq(broker_log_count(&broker, "session taken over client=twin"), 1);
    if (same_worker) {
        for (int i = 0; i < 3; i++)
            close(fillers[i]);
    }
    close(second);
}

Test(session, takeover_on_the_same_worker_closes_the_old_connection, .init = start, .fini = stop)
{
    takeover(true);
}

Test(session, takeover_on_another_worker_closes_the_old_connection, .init = start, .fini = stop)
{
    takeover(false);
}

Test(session, takeover_by_libmosquitto_clients_across_workers, .init = start, .fini = stop)
{
    struct tc *a = client("same-id", false);
    cr_assert_eq(tc_subscribe(a, "lt/t", 1), 1);
    struct tc *b = client("same-id", false);
    cr_assert_eq(b->session_present, 1);
    WAIT_FOR(a->disconnected, 3000);
    cr_assert(a->disconnected, "old client not disconnected");
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "lt/t", "x", 1, false), 0);
    WAIT_FOR(b->n_msgs >= 1, 3000);
    cr_assert_eq(b->n_msgs, 1);
    cr_assert_eq(a->n_msgs, 0);
}

Test(session, simultaneous_connects_with_one_client_id_leave_one_connection, .init = start,
     .fini = stop)
{
    /* Four CONNECTs for one id, sent back to back on four workers: the registry decides, every
     * loser is handed to the winner's worker and taken over in turn. */
    enum { N = 4 };
    int fd[N];
    uint8_t pkt[1100];
    struct raw_connect_opts o = persistent("racer");
    size_t n = raw_build_connect(pkt, &o);
    for (int i = 0; i < N; i++) {
        fd[i] = raw_connect(&broker);
        cr_assert_geq(fd[i], 0);
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(raw_send(fd[i], pkt, n), 0);
    for (int i = 0; i < N; i++) {
        struct raw_pkt p;
        cr_assert_eq(raw_read_packet(fd[i], &p, 3000), 0, "connection %d: no CONNACK", i);
        cr_assert_eq(p.hdr, 0x20);
        cr_assert(p.body[1] == 0x00 || p.body[1] == 0x03, "connection %d: CONNACK 0x%02x", i,
                  p.body[1]);
    }
    /* One survives; the log says how many were taken over. */
    int alive = 0, survivor = -1;
    for (int i = 0; i < N; i++) {
        if (raw_ping(fd[i])) {
            alive++;
            survivor = i;
        }
    }
    cr_assert_eq(alive, 1, "%d connections of one client id alive", alive);
    cr_assert_eq(raw_subscribe(fd[survivor], 1, "race/t", 1), 1);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "race/t", "won", 1, false), 0);
    struct raw_pkt p;
    cr_assert_eq(raw_read_packet(fd[survivor], &p, 3000), 0);
    cr_assert_eq(p.hdr, 0x32);
    for (int i = 0; i < N; i++)
        close(fd[i]);
}

/* One side of reconnect_storm: connects, disconnects and reconnects a few client ids, as
 * libmosquitto does (it closes right after DISCONNECT, without waiting for the broker), so
 * a CONNECT often reads the registry while the old session ends on another worker. */
struct storm {
    int rounds;
    int unanswered; /* CONNECTs without a CONNACK within 5 s */
    int refused;    /* CONNACK 0x03 (server busy): allowed, counted */
};

static void *storm_side(void *arg)
{
    struct storm *st = arg;
    static const uint8_t disconnect[] = {0xE0, 0x00};
    for (int i = 0; i < st->rounds; i++) {
        char id[16];
        snprintf(id, sizeof(id), "storm%d", i % 7);
        for (int twice = 0; twice < 2; twice++) {
            /* Clean, then every other time persistent: offline sessions that a clean
             * CONNECT on another worker ends keep the registry changing. */
            struct raw_connect_opts o = RAW_CONNECT_OPTS(id);
            o.no_clean = twice == 1 && i % 2 == 1;
            int fd = raw_connect(&broker);
            int rc = fd < 0 ? -1 : raw_connect_with(fd, &o, NULL);
            if (rc < 0)
                st->unanswered++;
            else if (rc != 0)
                st->refused++;
            if (fd >= 0) {
                raw_send(fd, disconnect, sizeof(disconnect));
                close(fd);
            }
        }
    }
    return NULL;
}

Test(session, reconnect_storm_answers_every_connect, .init = start, .fini = stop, .timeout = 240)
{
    /* Two clients reuse seven ids across the four workers, 40,000 CONNECTs in all (about 5 s,
     * 8 s against the ThreadSanitizer build). Before claim_session (connect.c) read the
     * registry once per attempt, about one CONNECT in 30,000 was handed to nobody and never
     * answered: this test failed in 2 of 4 runs then, and in none of 30 since. */
    struct storm side[2] = {{.rounds = 10000}, {.rounds = 10000}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, storm_side, &side[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(side[i].unanswered, 0, "side %d: %d CONNECTs never answered", i,
                     side[i].unanswered);
        cr_expect_lt(side[i].refused, side[i].rounds / 10, "side %d: %d refused as busy", i,
                     side[i].refused);
    }
}

/* ---- keep-alive ------------------------------------------------------------------------ */

Test(session, keepalive_kept_by_pings, .init = start, .fini = stop)
{
    struct raw_connect_opts o = RAW_CONNECT_OPTS("pinger");
    o.keepalive = 1;
    int fd = raw_with(o, NULL);
    for (int i = 0; i < 6; i++) { /* 3 s, twice the 1.5 s limit */
        usleep(500000);           /* pacing a client, not waiting for the broker */
        cr_assert(raw_ping(fd), "closed at ping %d although the client keeps alive", i);
    }
    close(fd);
}

Test(session, keepalive_timeout_closes_after_one_and_a_half_periods, .init = start, .fini = stop)
{
    /* Five silent clients, connected 200 ms apart so that they fall at different points of
     * the broker's one-second timer: none may be closed before 1.5 x its keep-alive. */
    enum { N = 5 };
    int fd[N];
    int64_t since[N], closed_after[N];
    for (int i = 0; i < N; i++) {
        if (i > 0)
            usleep(200000); /* pacing the clients, not waiting for the broker */
        char id[16];
        snprintf(id, sizeof(id), "silent-%d", i);
        struct raw_connect_opts o = RAW_CONNECT_OPTS(id);
        o.keepalive = 2;
        fd[i] = raw_with(o, NULL);
        since[i] = now_ms();
    }
    for (int i = 0; i < N; i++) {
        int left = (int)(since[i] + 7000 - now_ms());
        cr_assert(raw_wait_closed(fd[i], left > 0 ? left : 1), "client %d not closed after 7 s", i);
        closed_after[i] = now_ms() - since[i];
    }
    for (int i = 0; i < N; i++) {
        /* [MQTT-3.1.2-24] 1.5 x 2 s = 3 s; the timer's granularity (the deadline's second,
         * then the next one-second tick) may add up to 2 s. */
        cr_assert_geq(closed_after[i], 2950,
                      "client %d closed after %lld ms, before 1.5 x "
                      "keep-alive",
                      i, (long long)closed_after[i]);
        cr_assert_leq(closed_after[i], 5500, "client %d closed after %lld ms", i,
                      (long long)closed_after[i]);
        cr_assert_eq(log_count_for(&broker, fd[i], "keep-alive timeout"), 1);
        close(fd[i]);
    }
}

/* ---- wills ----------------------------------------------------------------------------- */

static struct tc *will_watcher(const char *filter)
{
    struct tc *w = client("watcher", true);
    cr_assert_eq(tc_subscribe(w, filter, 2), 2);
    return w;
}

Test(session, will_published_on_abrupt_close, .init = start, .fini = stop)
{
    struct tc *w = will_watcher("will/#");
    int fd = raw_with(with_will("mortal", "will/mortal", "gone", 1, false), NULL);
    close(fd); /* no DISCONNECT */
    WAIT_FOR(w->n_msgs >= 1, 3000);
    cr_assert_eq(tc_count(w, "will/mortal", "gone"), 1);
    cr_assert_eq(w->msgs[0].qos, 1, "will QoS honoured");
    cr_assert_eq(w->msgs[0].retain, false);
}

Test(session, will_not_published_after_disconnect, .init = start, .fini = stop)
{
    struct tc *w = will_watcher("will/#");
    int fd = raw_with(with_will("polite", "will/polite", "gone", 1, false), NULL);
    const uint8_t disconnect[2] = {0xe0, 0x00};
    cr_assert_eq(raw_send(fd, disconnect, 2), 0);
    cr_assert(raw_wait_closed(fd, 2000), "the broker closes after DISCONNECT");
    close(fd);
    /* The broker handled the close before the marker was published. */
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "will/sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(w, "will/sync", "marker") == 1, 3000);
    pump_for(200);
    cr_assert_eq(tc_count(w, "will/polite", NULL), 0, "[MQTT-3.1.2-10] will after DISCONNECT");
}

Test(session, will_published_on_keepalive_timeout, .init = start, .fini = stop)
{
    struct tc *w = will_watcher("will/#");
    struct raw_connect_opts o = with_will("sleeper", "will/sleeper", "timed out", 0, false);
    o.keepalive = 1;
    int fd = raw_with(o, NULL);
    int64_t t0 = now_ms();
    WAIT_FOR(w->n_msgs >= 1, 5000);
    int64_t took = now_ms() - t0;
    cr_assert_eq(tc_count(w, "will/sleeper", "timed out"), 1, "no will after keep-alive");
    cr_assert_geq(took, 1450, "will after %lld ms, keep-alive 1 s", (long long)took);
    cr_assert(raw_wait_closed(fd, 1000));
    close(fd);
}

Test(session, will_published_on_protocol_error, .init = start, .fini = stop)
{
    struct tc *w = will_watcher("will/#");
    int fd = raw_with(with_will("broken", "will/broken", "malformed", 1, false), NULL);
    const uint8_t bad[2] = {0x00, 0x00}; /* reserved packet type */
    cr_assert_eq(raw_send(fd, bad, 2), 0);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
    WAIT_FOR(w->n_msgs >= 1, 3000);
    cr_assert_eq(tc_count(w, "will/broken", "malformed"), 1);
}

Test(session, will_published_on_takeover, .init = start, .fini = stop)
{
    struct tc *w = will_watcher("will/#");
    int first = raw_with(with_will("taken", "will/taken", "replaced", 2, false), NULL);
    int second = raw_with(RAW_CONNECT_OPTS("taken"), NULL);
    cr_assert(raw_wait_closed(first, 2000));
    close(first);
    WAIT_FOR(w->n_msgs >= 1, 3000);
    cr_assert_eq(tc_count(w, "will/taken", "replaced"), 1, "no will on takeover");
    cr_assert_eq(w->msgs[0].qos, 2);
    /* The new connection has no will: closing it abruptly publishes nothing more. */
    close(second);
    struct tc *pub = client("pub", true);
    cr_assert_eq(tc_publish(pub, "will/sync", "marker", 1, false), 0);
    WAIT_FOR(tc_count(w, "will/sync", "marker") == 1, 3000);
    pump_for(200);
    cr_assert_eq(tc_count(w, "will/taken", NULL), 1);
}

Test(session, will_retain_and_qos_honoured, .init = start, .fini = stop)
{
    struct tc *live = will_watcher("will/#");
    int fd = raw_with(with_will("retainer", "will/ret", "last words", 1, true), NULL);
    close(fd);
    WAIT_FOR(live->n_msgs >= 1, 3000);
    cr_assert_eq(live->n_msgs, 1);
    cr_assert_eq(live->msgs[0].qos, 1);
    cr_assert_eq(live->msgs[0].retain, false, "retain cleared on normal forwarding");
    /* Retained: a later subscriber gets it with the flag, at min(will QoS, granted). */
    struct tc *late = client("late", true);
    cr_assert_eq(tc_subscribe(late, "will/ret", 2), 2);
    WAIT_FOR(late->n_msgs >= 1, 3000);
    cr_assert_eq(late->n_msgs, 1, "will not retained");
    cr_assert_str_eq(late->msgs[0].payload, "last words");
    cr_assert_eq(late->msgs[0].retain, true);
    cr_assert_eq(late->msgs[0].qos, 1);
    struct tc *late0 = client("late0", true);
    cr_assert_eq(tc_subscribe(late0, "will/ret", 0), 0);
    WAIT_FOR(late0->n_msgs >= 1, 3000);
    cr_assert_eq(late0->msgs[0].qos, 0);
}
