/* Publisher backpressure against the real shardmq (broker/backpressure.h): a publisher that
 * floods a subscriber which reads slowly is paused instead of the broker dropping, so every
 * message arrives exactly once and in order, on one worker and across two; the congested
 * subscriber still has its PINGREQ and acknowledgements read, also when it is a held
 * publisher itself; a paused publisher is not closed for keep-alive and reads again once the
 * subscriber drains; a subscriber that does not drain within backpressure_timeout becomes a
 * slow consumer and its publishers go on (its overflow dropped and logged); with
 * backpressure_timeout 0 the queue limits drop as before.
 *
 * Raw sockets on both ends, so the test decides exactly when a subscriber reads. A publisher
 * floods from a thread of its own (the broker stops reading it, so its writes block) while
 * the test thread reads the subscriber. Two workers; connections go to them round robin in
 * the order they are opened (open_on() picks the worker). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "mqtt_client.h"

#define WORKERS 2

static struct broker_proc broker;
static int opened;            /* connections opened so far: the next goes to opened % 2 */
static int spare[16], n_spare; /* connections opened only to move to the other worker */

static void start_with(const char *conf)
{
    opened = n_spare = 0;
    cr_assert_eq(broker_start(&broker, WORKERS, conf), 0, "broker did not start");
}

static void start_queue_10(void)
{
    start_with("max_queued_messages 10\n");
}

static void start(void)
{
    start_with(NULL);
}

static void start_queue_10_timeout_1(void)
{
    start_with("max_queued_messages 10\nbackpressure_timeout 1\n");
}

static void start_queue_10_timeout_10(void)
{
    start_with("max_queued_messages 10\nbackpressure_timeout 10\n");
}

static void start_queue_10_off(void)
{
    start_with("max_queued_messages 10\nbackpressure_timeout 0\n");
}

static void stop(void)
{
    for (int i = 0; i < n_spare; i++)
        close(spare[i]);
    int status = broker_stop(&broker);
    cr_expect_eq(status, 0, "broker exit status %d", status);
}

/* Opens a connection that lands on worker `worker`, with a receive buffer of rcvbuf bytes
 * when not 0 (so a subscriber that does not read backs up into the broker sooner). */
static int open_on(int worker, int rcvbuf)
{
    while (opened % WORKERS != worker) {
        cr_assert_lt(n_spare, 16);
        spare[n_spare++] = raw_connect(&broker);
        opened++;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)broker.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    opened++;
    return fd;
}

static int client_on(int worker, const char *id, int rcvbuf)
{
    int fd = open_on(worker, rcvbuf);
    cr_assert_eq(raw_mqtt_connect(fd, id), 0, "CONNECT of %s", id);
    return fd;
}

/* ---- the flooding publisher ----------------------------------------------------------- */

struct flood {
    int fd;
    const char *topic;
    int n, qos, size;
    int64_t done_ms; /* when the last byte was handed to the kernel */
    int rc;
};

/* Packet identifier of the k-th QoS 1/2 message: 1..65535 round and round. */
static uint16_t id_of(int k)
{
    return (uint16_t)(k % 65535 + 1);
}

/* Sends n PUBLISHes whose payloads start with their 8-digit number, in batches of 64 KiB. */
static void *flood_main(void *arg)
{
    struct flood *f = arg;
    size_t tlen = strlen(f->topic);
    size_t rem = 2 + tlen + (f->qos ? 2 : 0) + (size_t)f->size;
    uint8_t *batch = malloc(65536 + rem + 8);
    size_t used = 0;
    f->rc = 0;
    for (int k = 0; k < f->n && f->rc == 0; k++) {
        uint8_t *p = batch + used;
        size_t n = 0;
        p[n++] = (uint8_t)(0x30 | (f->qos << 1));
        n += raw_put_len(p + n, rem);
        n += raw_put_str(p + n, f->topic, tlen);
        if (f->qos) {
            p[n++] = (uint8_t)(id_of(k) >> 8);
            p[n++] = (uint8_t)id_of(k);
        }
        char num[16];
        snprintf(num, sizeof(num), "%08d", k);
        memset(p + n, '.', (size_t)f->size);
        memcpy(p + n, num, 8);
        used += n + (size_t)f->size;
        if (used >= 65536 || k == f->n - 1) {
            f->rc = raw_send(f->fd, batch, used);
            used = 0;
        }
    }
    f->done_ms = now_ms();
    free(batch);
    return NULL;
}

static pthread_t flood_start(struct flood *f)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, flood_main, f), 0);
    return t;
}

/* Reads the acknowledgements of a QoS 1 flood of n: every PUBACK, in order. Returns how many
 * arrived within timeout_ms. */
static int read_pubacks(int fd, int n, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int got = 0;
    struct raw_pkt p;
    while (got < n) {
        int left = (int)(deadline - now_ms());
        if (left <= 0 || raw_read_packet(fd, &p, left) < 0)
            break;
        if (p.hdr != 0x40)
            continue;
        uint16_t id = (uint16_t)(p.body[0] << 8 | p.body[1]);
        cr_assert_eq(id, id_of(got), "PUBACK %u where %u was due", id, id_of(got));
        got++;
    }
    return got;
}

/* ---- the slow subscriber -------------------------------------------------------------- */

struct reader {
    int fd;
    const char *topic;
    int pause_every; /* after this many messages... */
    int pause_us;    /* ...sleep this long (0: read at full speed) */
    bool ping;       /* send a PINGREQ first and note when its PINGRESP comes */
    int received;    /* in order, each once (the test fails at the first that is not) */
    bool pingresp;
    int64_t pingresp_ms; /* after the PINGREQ */
};

/* Reads PUBLISHes of r->topic until n arrived or nothing came for idle_ms, acknowledging the
 * QoS 1 ones. Each payload must carry the next number. */
static void read_flood(struct reader *r, int n, int idle_ms)
{
    struct raw_pkt p;
    int64_t t0 = now_ms();
    if (r->ping) {
        const uint8_t ping[2] = {0xc0, 0};
        cr_assert_eq(raw_send(r->fd, ping, 2), 0);
    }
    while (r->received < n || (r->ping && !r->pingresp)) {
        cr_assert_eq(raw_read_packet(r->fd, &p, idle_ms), 0,
                     "nothing for %d ms after %d of %d messages", idle_ms, r->received, n);
        if (p.hdr == 0xd0) {
            r->pingresp = true;
            r->pingresp_ms = now_ms() - t0;
            continue;
        }
        struct raw_publish_view v;
        cr_assert_eq(raw_parse_publish(&p, &v), 0, "not a PUBLISH: 0x%02x", p.hdr);
        cr_assert_str_eq(v.topic, r->topic);
        char want[16];
        snprintf(want, sizeof(want), "%08d", r->received);
        cr_assert(v.payload_len >= 8 && memcmp(v.payload, want, 8) == 0,
                  "message %d: got %.8s (lost, duplicated or reordered)", r->received,
                  (const char *)v.payload);
        r->received++;
        if (v.qos == 1)
            cr_assert_eq(raw_send_ack(r->fd, 0x40, v.packet_id), 0);
        if (r->pause_us && r->received % r->pause_every == 0)
            usleep((useconds_t)r->pause_us);
    }
}

/* ---- tests ---------------------------------------------------------------------------- */

/* The publisher on the subscriber's worker: paused within the packet that congests it. */
Test(backpressure, qos1_flood_reaches_a_slow_reader_once_in_order_on_one_worker,
     .init = start_queue_10, .fini = stop, .timeout = 60)
{
    enum { N = 3000 };
    int sub = client_on(0, "slow-sub", 0);
    cr_assert_eq(raw_subscribe(sub, 1, "bp/one", 1), 1);
    int pub = client_on(0, "fast-pub", 0);
    struct flood f = {.fd = pub, .topic = "bp/one", .n = N, .qos = 1, .size = 32};
    pthread_t t = flood_start(&f);
    usleep(300 * 1000); /* the queue of 10 fills and stays full */
    struct reader r = {.fd = sub, .topic = "bp/one", .pause_every = 100, .pause_us = 20000};
    read_flood(&r, N, 5000);
    pthread_join(t, NULL);
    cr_assert_eq(f.rc, 0);
    cr_assert_eq(r.received, N);
    /* Paused, not dropped, and reading again: every PUBACK came, then a PINGRESP. */
    cr_assert_eq(read_pubacks(pub, N, 5000), N);
    cr_assert(raw_ping(pub), "the publisher reads again");
    cr_assert_eq(broker_log_count(&broker, "queue full"), 0, "nothing was dropped");
    close(pub);
    close(sub);
}

/* The publisher on the other worker: the pause crosses workers; default queue limits. */
Test(backpressure, qos1_flood_reaches_a_slow_reader_once_in_order_across_workers,
     .init = start, .fini = stop, .timeout = 60)
{
    enum { N = 20000 };
    int sub = client_on(0, "slow-sub", 0);
    cr_assert_eq(raw_subscribe(sub, 1, "bp/cross", 1), 1);
    int pub = client_on(1, "fast-pub", 0);
    struct flood f = {.fd = pub, .topic = "bp/cross", .n = N, .qos = 1, .size = 32};
    pthread_t t = flood_start(&f);
    usleep(300 * 1000);
    struct reader r = {.fd = sub, .topic = "bp/cross", .pause_every = 1000, .pause_us = 20000};
    read_flood(&r, N, 5000);
    pthread_join(t, NULL);
    cr_assert_eq(r.received, N);
    cr_assert_eq(read_pubacks(pub, N, 5000), N);
    cr_assert_eq(broker_log_count(&broker, "queue full"), 0, "nothing was dropped");
    close(pub);
    close(sub);
}

/* QoS 0 that fills the subscriber's socket, the broker's write limit and then its queue:
 * the subscriber keeps up eventually and gets all of it. */
Test(backpressure, qos0_flood_reaches_a_reader_that_catches_up, .init = start, .fini = stop,
     .timeout = 60)
{
    enum { N = 12000, SIZE = 2000 }; /* 24 MB */
    int sub = client_on(0, "late-sub", 4096);
    cr_assert_eq(raw_subscribe(sub, 1, "bp/zero", 0), 0);
    int pub = client_on(1, "fast-pub", 0);
    struct flood f = {.fd = pub, .topic = "bp/zero", .n = N, .qos = 0, .size = SIZE};
    pthread_t t = flood_start(&f);
    usleep(500 * 1000);
    struct reader r = {.fd = sub, .topic = "bp/zero"};
    read_flood(&r, N, 5000);
    pthread_join(t, NULL);
    cr_assert_eq(r.received, N);
    cr_assert_eq(broker_log_count(&broker, "queue full"), 0, "nothing was dropped");
    close(pub);
    close(sub);
}

/* A congested subscriber is never paused: its PINGREQ is answered while the flood waits. */
Test(backpressure, congested_subscriber_still_has_its_pingreq_answered, .init = start_queue_10,
     .fini = stop, .timeout = 60)
{
    enum { N = 500 };
    int sub = client_on(0, "slow-sub", 0);
    cr_assert_eq(raw_subscribe(sub, 1, "bp/ping", 1), 1);
    int pub = client_on(0, "fast-pub", 0);
    struct flood f = {.fd = pub, .topic = "bp/ping", .n = N, .qos = 1, .size = 32};
    pthread_t t = flood_start(&f);
    usleep(300 * 1000);
    /* PINGRESP follows the inflight window's PUBLISHes already written: read and ack them. */
    struct reader r = {.fd = sub, .topic = "bp/ping", .ping = true};
    read_flood(&r, 30, 3000);
    cr_assert(r.pingresp, "no PINGRESP");
    cr_assert_lt(r.pingresp_ms, 2000, "PINGRESP after %lld ms", (long long)r.pingresp_ms);
    r.ping = false;
    read_flood(&r, N, 5000);
    pthread_join(t, NULL);
    cr_assert_eq(r.received, N);
    cr_assert_eq(read_pubacks(pub, N, 5000), N);
    close(pub);
    close(sub);
}

/* A client held as a publisher (its messages fill a subscriber that does not read) whose own
 * queue then fills reads again: its PUBACKs sit behind its PUBLISHes and must be read for it
 * to drain. Nothing stalls although the other subscriber still does not read. */
Test(backpressure, held_publisher_reads_its_acks_once_congested_itself, .init = start_queue_10,
     .fini = stop, .timeout = 60)
{
    enum { TO_STUCK = 200, TO_BOTH = 2000 };
    int stuck = client_on(0, "stuck-sub", 0);
    cr_assert_eq(raw_subscribe(stuck, 1, "bp/stuck", 1), 1);
    int both = client_on(0, "both", 0);
    cr_assert_eq(raw_subscribe(both, 1, "bp/both", 1), 1);
    int pub = client_on(0, "fast-pub", 0);
    /* `both` floods the stuck subscriber: held, its socket no longer read. */
    struct flood f1 = {.fd = both, .topic = "bp/stuck", .n = TO_STUCK, .qos = 1, .size = 32};
    pthread_t t1 = flood_start(&f1);
    usleep(200 * 1000);
    /* Then messages for `both` itself: it reads and acknowledges them all. */
    struct flood f2 = {.fd = pub, .topic = "bp/both", .n = TO_BOTH, .qos = 1, .size = 32};
    pthread_t t2 = flood_start(&f2);
    struct reader r = {.fd = both, .topic = "bp/both"};
    int64_t t0 = now_ms();
    /* `both` also gets its own PUBACKs: read_flood would take them for messages. */
    struct raw_pkt p;
    while (r.received < TO_BOTH && now_ms() - t0 < 4000) {
        cr_assert_eq(raw_read_packet(both, &p, 3000), 0, "stalled after %d", r.received);
        if (p.hdr == 0x40)
            continue;
        struct raw_publish_view v;
        cr_assert_eq(raw_parse_publish(&p, &v), 0);
        char want[16];
        snprintf(want, sizeof(want), "%08d", r.received);
        cr_assert(memcmp(v.payload, want, 8) == 0, "message %d: got %.8s", r.received,
                  (const char *)v.payload);
        r.received++;
        cr_assert_eq(raw_send_ack(both, 0x40, v.packet_id), 0);
    }
    cr_assert_eq(r.received, TO_BOTH, "got %d of %d within 4 s (the stuck one has a 5 s limit)",
                 r.received, TO_BOTH);
    pthread_join(t2, NULL);
    close(stuck); /* ends the stuck session: its holds go with it */
    pthread_join(t1, NULL);
    close(pub);
    close(both);
}

/* A paused publisher's keep-alive of 1 s passes three times over: not closed for it. */
Test(backpressure, paused_publisher_is_not_closed_for_keep_alive,
     .init = start_queue_10_timeout_10, .fini = stop, .timeout = 60)
{
    enum { N = 200 };
    int sub = client_on(0, "slow-sub", 0);
    cr_assert_eq(raw_subscribe(sub, 1, "bp/ka", 1), 1);
    int pub = open_on(0, 0);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("ka-pub");
    o.keepalive = 1;
    cr_assert_eq(raw_connect_with(pub, &o, NULL), 0);
    struct flood f = {.fd = pub, .topic = "bp/ka", .n = N, .qos = 1, .size = 32};
    pthread_t t = flood_start(&f);
    usleep(3000 * 1000);
    struct reader r = {.fd = sub, .topic = "bp/ka"};
    read_flood(&r, N, 5000);
    pthread_join(t, NULL);
    cr_assert_eq(read_pubacks(pub, N, 5000), N);
    cr_assert(raw_ping(pub), "still connected");
    cr_assert_eq(log_count_for(&broker, pub, "keep-alive"), 0);
    close(pub);
    close(sub);
}

/* A subscriber that reads nothing holds its publisher for backpressure_timeout (1 s), then
 * is a slow consumer: the publisher goes on, the overflow is dropped and logged. */
Test(backpressure, slow_consumer_releases_its_publisher_after_the_timeout,
     .init = start_queue_10_timeout_1, .fini = stop, .timeout = 60)
{
    enum { N = 1000 };
    int sub = client_on(0, "dead-sub", 0);
    cr_assert_eq(raw_subscribe(sub, 1, "bp/dead", 1), 1);
    int pub = client_on(1, "fast-pub", 0);
    int64_t t0 = now_ms();
    struct flood f = {.fd = pub, .topic = "bp/dead", .n = N, .qos = 1, .size = 32};
    pthread_t t = flood_start(&f);
    cr_assert_eq(read_pubacks(pub, N, 8000), N, "the publisher was released");
    int64_t took = now_ms() - t0;
    pthread_join(t, NULL);
    cr_assert_geq(took, 900, "held %lld ms, about the 1 s timeout", (long long)took);
    cr_assert_leq(took, 5000, "held %lld ms", (long long)took);
    cr_assert_eq(broker_log_count(&broker, "slow consumer client=dead-sub"), 1);
    cr_assert_geq(broker_log_count(&broker, "queue full: dropping messages for client=dead-sub"),
                  1);
    close(pub);
    close(sub);
}

/* backpressure_timeout 0: the queue limit drops, as without backpressure. */
Test(backpressure, off_drops_at_the_queue_limit, .init = start_queue_10_off, .fini = stop,
     .timeout = 60)
{
    enum { N = 1000 };
    int sub = client_on(0, "slow-sub", 0);
    cr_assert_eq(raw_subscribe(sub, 1, "bp/off", 1), 1);
    int pub = client_on(0, "fast-pub", 0);
    struct flood f = {.fd = pub, .topic = "bp/off", .n = N, .qos = 1, .size = 32};
    pthread_t t = flood_start(&f);
    cr_assert_eq(read_pubacks(pub, N, 5000), N, "never paused");
    pthread_join(t, NULL);
    cr_assert_geq(broker_log_count(&broker, "queue full"), 1);
    close(pub);
    close(sub);
}
