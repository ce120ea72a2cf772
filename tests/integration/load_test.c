/* Correctness under load, not speed: many messages through the real shardmq on 4 workers
 * must arrive complete, in order per publisher and topic, and exactly once at QoS 2; a
 * subscriber that stops reading must neither stall the others nor grow the broker's memory.
 *
 * All clients are driven by the test thread (mqtt_client.h's pump), publishers with a
 * bounded number of unacknowledged messages each. The broker's queue limits are raised where
 * a test is about ordering and loss, so a drop can only be a bug. */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

static void start_big_queues(void)
{
    start_with("max_queued_messages 100000\nmax_queued_bytes 1000000000\n");
}

static void start(void)
{
    start_with(NULL);
}

static void start_drain_1s(void)
{
    start_with("drain_timeout 1\n");
}

static void stop(void)
{
    tc_free_all();
    int status = broker_stop(&broker);
    mosquitto_lib_cleanup();
    cr_expect_eq(status, 0, "broker exit status %d", status);
}

static struct tc *client(const char *id)
{
    struct tc *c = tc_new(id, true);
    cr_assert_not_null(c);
    cr_assert_eq(tc_connect(c, &broker, 60), 0, "client %s not accepted", id);
    return c;
}

/* Resident set of the broker in KiB, from /proc. */
static long broker_rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)broker.pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    }
    fclose(f);
    return kib;
}

/* True when the broker under test is an ASan or TSan build: its executable names the
 * sanitizer's runtime (linked in, or imported from the shared library). */
static bool broker_is_sanitized(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)broker.pid);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    static char chunk[1 << 16];
    static const char *const marks[] = {"__asan_init", "__tsan_init"};
    bool found = false;
    size_t keep = 0, n;
    /* Scan in chunks, keeping a tail so a mark cut between two chunks is still seen. */
    while (!found && (n = fread(chunk + keep, 1, sizeof(chunk) - keep, f)) > 0) {
        size_t len = keep + n;
        for (size_t m = 0; m < 2 && !found; m++)
            found = memmem(chunk, len, marks[m], strlen(marks[m])) != NULL;
        keep = len < 16 ? len : 16;
        memmove(chunk, chunk + len - keep, keep);
    }
    fclose(f);
    return found;
}

enum { PUBS = 4, SUBS = 2, PER_QOS = 2000, WINDOW = 200 };

/* What one subscriber saw of one (publisher, QoS) stream. */
struct stream {
    int next;     /* the sequence number expected next */
    int received; /* deliveries, duplicates included */
    int errors;
    char first_error[256];
};

static void check_stream(struct stream *st, int seq, int qos, int got_qos, const char *topic)
{
    st->received++;
    const char *why = NULL;
    if (got_qos != qos)
        why = "wrong QoS";
    else if (seq == st->next)
        st->next++;
    else if (qos == 1 && seq < st->next && seq == st->next - 1)
        ; /* at least once: an immediate duplicate is allowed at QoS 1 */
    else if (seq < st->next)
        why = qos == 2 ? "duplicate or reordered" : "reordered";
    else
        why = "gap (lost or reordered)";
    if (why && st->errors++ == 0)
        snprintf(st->first_error, sizeof(st->first_error), "%s: %s seq %d, expected %d", why, topic,
                 seq, st->next);
}

Test(load, qos1_and_qos2_from_4_publishers_complete_and_in_order, .init = start_big_queues,
     .fini = stop, .timeout = 60)
{
    struct tc *sub[SUBS], *pub[PUBS];
    char id[32];
    for (int s = 0; s < SUBS; s++) {
        snprintf(id, sizeof(id), "load-sub-%d", s);
        sub[s] = client(id);
        cr_assert_eq(tc_subscribe(sub[s], "load/#", 2), 2);
    }
    for (int p = 0; p < PUBS; p++) { /* 6 connections on 4 workers: every mix of shards */
        snprintf(id, sizeof(id), "load-pub-%d", p);
        pub[p] = client(id);
    }
    int sent[PUBS] = {0};
    const int total = 2 * PER_QOS;
    int64_t t0 = now_ms(), deadline = t0 + 45000;
    for (;;) {
        bool all_sent = true;
        for (int p = 0; p < PUBS; p++) {
            /* Alternate QoS 1 and QoS 2 messages, at most WINDOW unacknowledged. */
            while (sent[p] < total && sent[p] - pub[p]->publishes_done < WINDOW) {
                int seq = sent[p] / 2, qos = 1 + sent[p] % 2;
                char topic[32], payload[32];
                snprintf(topic, sizeof(topic), "load/%d/q%d", p, qos);
                snprintf(payload, sizeof(payload), "%d", seq);
                int rc = mosquitto_publish(pub[p]->m, NULL, topic, (int)strlen(payload), payload,
                                           qos, false);
                cr_assert_eq(rc, MOSQ_ERR_SUCCESS, "publish: %s", mosquitto_strerror(rc));
                sent[p]++;
            }
            all_sent = all_sent && sent[p] == total;
        }
        pump(2);
        bool done = all_sent;
        for (int s = 0; s < SUBS; s++)
            done = done && sub[s]->n_msgs >= PUBS * total;
        for (int p = 0; p < PUBS; p++) {
            done = done && pub[p]->publishes_done == total;
            cr_assert(!pub[p]->disconnected, "publisher %d disconnected", p);
        }
        if (done || now_ms() > deadline)
            break;
    }
    pump_for(200); /* duplicates, if any, would show up now */
    int64_t took = now_ms() - t0;
    cr_log_info("%d messages to %d subscribers in %lld ms", PUBS * total, SUBS, (long long)took);
    for (int p = 0; p < PUBS; p++)
        cr_assert_eq(pub[p]->publishes_done, total, "publisher %d: %d of %d acknowledged", p,
                     pub[p]->publishes_done, total);
    for (int s = 0; s < SUBS; s++) {
        struct stream st[PUBS][3];
        memset(st, 0, sizeof(st));
        for (int k = 0; k < sub[s]->n_msgs; k++) {
            const struct tmsg *m = &sub[s]->msgs[k];
            int p = -1, qos = -1;
            cr_assert_eq(sscanf(m->topic, "load/%d/q%d", &p, &qos), 2, "topic %s", m->topic);
            cr_assert(p >= 0 && p < PUBS && (qos == 1 || qos == 2), "topic %s", m->topic);
            check_stream(&st[p][qos], atoi(m->payload), qos, m->qos, m->topic);
        }
        for (int p = 0; p < PUBS; p++) {
            for (int q = 1; q <= 2; q++) {
                struct stream *x = &st[p][q];
                cr_assert_eq(x->errors, 0, "subscriber %d: %d errors, first: %s", s, x->errors,
                             x->first_error);
                cr_assert_eq(x->next, PER_QOS, "subscriber %d, publisher %d, QoS %d: %d of %d", s,
                             p, q, x->next, PER_QOS);
                if (q == 2)
                    cr_assert_eq(x->received, PER_QOS, "QoS 2 exactly once");
            }
        }
    }
}

Test(load, stalled_subscriber_neither_blocks_others_nor_grows_memory, .init = start_drain_1s,
     .fini = stop, .timeout = 60)
{
    enum { MSGS = 20000, SIZE = 4096 };
    /* A raw subscriber that subscribes and then never reads again. */
    int stalled = raw_connect(&broker);
    cr_assert_geq(stalled, 0);
    cr_assert_eq(raw_mqtt_connect(stalled, "stalled"), 0);
    cr_assert_eq(raw_subscribe(stalled, 1, "flood/t", 0), 0);
    struct tc *fast = client("fast");
    cr_assert_eq(tc_subscribe(fast, "flood/t", 1), 1);
    struct tc *pub = client("flooder");
    long rss_before = broker_rss_kib();
    cr_assert_gt(rss_before, 0);
    static char payload[SIZE];
    int sent = 0;
    int64_t deadline = now_ms() + 45000;
    while ((sent < MSGS || fast->n_msgs < MSGS) && now_ms() < deadline) {
        /* End to end: the reading subscriber stays within WINDOW of the publisher, so its
         * own queue (max_queued_messages) never fills; the stalled one's does. */
        while (sent < MSGS && sent - pub->publishes_done < WINDOW && sent - fast->n_msgs < WINDOW) {
            int n = snprintf(payload, sizeof(payload), "%d", sent);
            memset(payload + n, '.', SIZE - (size_t)n);
            cr_assert_eq(mosquitto_publish(pub->m, NULL, "flood/t", SIZE, payload, 1, false),
                         MOSQ_ERR_SUCCESS);
            sent++;
        }
        pump(2);
    }
    long rss_after = broker_rss_kib();
    cr_assert_eq(fast->n_msgs, MSGS, "the reading subscriber got %d of %d", fast->n_msgs, MSGS);
    for (int k = 0; k < MSGS; k++)
        cr_assert_eq(atoi(fast->msgs[k].payload), k, "message %d is %s", k, fast->msgs[k].payload);
    /* 80 MB went past a subscriber that reads nothing: what the broker holds for it is
     * bounded by its queue and write limits, a few MB, not by the traffic. */
    cr_log_info("broker RSS %ld -> %ld KiB", rss_before, rss_after);
    /* (ASan keeps freed memory in quarantine, TSan shadows it: their RSS says nothing.) */
    if (!broker_is_sanitized())
        cr_assert_lt(rss_after - rss_before, 40 * 1024, "broker grew by %ld KiB",
                     rss_after - rss_before);
    /* Drops are counted, and logged rate-limited, not once per message. */
    int lines = broker_log_count(&broker, "dropping messages for client=stalled");
    cr_assert_leq(lines, 5, "%d log lines about dropped messages", lines);
    /* SIGTERM with output stuck towards the stalled client: the broker gives up on it after
     * drain_timeout (1 s) and exits 0. */
    int64_t t0 = now_ms();
    int status = broker_stop(&broker);
    int64_t took = now_ms() - t0;
    cr_assert_eq(status, 0, "exit status %d", status);
    cr_assert_leq(took, 4000, "shutdown took %lld ms with drain_timeout 1", (long long)took);
    close(stalled);
}

/* Reads one whole PUBLISH of any size from fd; returns its payload (malloc'd) and length,
 * or NULL. */
static uint8_t *read_big_publish(int fd, size_t *payload_len, char *topic, size_t topic_cap)
{
    uint8_t hdr, b;
    if (raw_recv(fd, &hdr, 1, 5000) != 1 || (hdr >> 4) != 3)
        return NULL;
    uint32_t len = 0, mult = 1;
    do {
        if (raw_recv(fd, &b, 1, 5000) != 1)
            return NULL;
        len += (uint32_t)(b & 0x7f) * mult;
        mult *= 128;
    } while (b & 0x80);
    uint8_t *body = malloc(len);
    if (raw_recv(fd, body, len, 10000) != (ssize_t)len) {
        free(body);
        return NULL;
    }
    size_t tlen = (size_t)body[0] << 8 | body[1];
    size_t off = 2 + tlen + (((hdr >> 1) & 3) ? 2 : 0);
    snprintf(topic, topic_cap, "%.*s", (int)tlen, (const char *)body + 2);
    *payload_len = len - off;
    memmove(body, body + off, *payload_len);
    return body;
}

static uint8_t pattern(size_t i, int seed)
{
    return (uint8_t)((i * 31 + (size_t)seed * 7 + (i >> 8)) & 0xff);
}

Test(load, large_packets_split_at_every_boundary_arrive_intact, .init = start, .fini = stop,
     .timeout = 60)
{
    /* Three PUBLISH packets (300 KB, 10 bytes, 70 KB) written as one stream cut into
     * odd-sized pieces, so packet and header boundaries fall inside reads, and packets larger
     * than the broker's 64 KiB read buffer are assembled across many reads. */
    int sub = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(sub, "big-sub"), 0);
    cr_assert_eq(raw_subscribe(sub, 1, "big/#", 0), 0);
    int pubfd = raw_connect(&broker);
    cr_assert_eq(raw_mqtt_connect(pubfd, "big-pub"), 0);
    const size_t sizes[3] = {300000, 10, 70000};
    uint8_t *stream = malloc(400000);
    size_t n = 0;
    for (int k = 0; k < 3; k++) {
        char topic[16];
        snprintf(topic, sizeof(topic), "big/%d", k);
        size_t tlen = strlen(topic), rem = 2 + tlen + sizes[k];
        stream[n++] = 0x30;
        n += raw_put_len(stream + n, rem);
        n += raw_put_str(stream + n, topic, tlen);
        for (size_t i = 0; i < sizes[k]; i++)
            stream[n++] = pattern(i, k);
    }
    const size_t cuts[] = {1, 2, 3, 1000, 65535, 7, 65537, 4096, 1, 100000};
    size_t off = 0;
    for (int c = 0; off < n; c++) {
        size_t piece = cuts[c % (sizeof(cuts) / sizeof(cuts[0]))];
        if (piece > n - off)
            piece = n - off;
        cr_assert_eq(raw_send(pubfd, stream + off, piece), 0);
        off += piece;
        if (c % 3 == 0)
            usleep(2000); /* let some pieces arrive as reads of their own */
    }
    free(stream);
    for (int k = 0; k < 3; k++) {
        char topic[32];
        size_t len = 0;
        uint8_t *payload = read_big_publish(sub, &len, topic, sizeof(topic));
        cr_assert_not_null(payload, "message %d not received whole", k);
        char want[16];
        snprintf(want, sizeof(want), "big/%d", k);
        cr_assert_str_eq(topic, want, "order");
        cr_assert_eq(len, sizes[k], "message %d: %zu bytes, sent %zu", k, len, sizes[k]);
        size_t bad = len;
        for (size_t i = 0; i < len && bad == len; i++) {
            if (payload[i] != pattern(i, k))
                bad = i;
        }
        free(payload);
        cr_assert_eq(bad, len, "message %d differs at byte %zu", k, bad);
    }
    cr_assert(raw_ping(pubfd));
    cr_assert(raw_ping(sub));
    close(pubfd);
    close(sub);
}

Test(load, takeover_storm_while_messages_flow, .init = start, .fini = stop, .timeout = 60)
{
    /* A persistent client reconnects 40 times with one client id, each time through the
     * next worker (the session stays where it was made: every CONNECT is handed over), while
     * a publisher keeps sending to its subscription and a watcher subscribes and unsubscribes
     * an overlapping filter. Takeover must close each older connection, keep the session,
     * and leave the broker healthy (the sanitizer builds run this too). */
    enum { ROUNDS = 40, PER_ROUND = 5 };
    struct tc *pub = client("storm-pub");
    struct tc *watch = client("storm-watch");
    cr_assert_eq(tc_subscribe(watch, "storm/t", 1), 1);
    struct raw_connect_opts o = RAW_CONNECT_OPTS("storm");
    o.no_clean = true;
    int fd = raw_connect(&broker);
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0);
    cr_assert_eq(raw_subscribe(fd, 1, "storm/t", 1), 1);
    int published = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PER_ROUND; i++) {
            char payload[16];
            snprintf(payload, sizeof(payload), "%d", published++);
            cr_assert_eq(
                mosquitto_publish(pub->m, NULL, "storm/t", (int)strlen(payload), payload, 1, false),
                MOSQ_ERR_SUCCESS);
        }
        if (r % 2)
            mosquitto_unsubscribe(watch->m, NULL, "storm/#");
        else
            mosquitto_subscribe(watch->m, NULL, "storm/#", 0);
        pump(0);
        int next = raw_connect(&broker);
        cr_assert_geq(next, 0);
        int present = -1;
        cr_assert_eq(raw_connect_with(next, &o, &present), 0, "round %d refused", r);
        cr_assert_eq(present, 1, "round %d: session lost", r);
        cr_assert(raw_wait_closed(fd, 2000), "round %d: older connection still open", r);
        close(fd);
        fd = next;
        pump(0);
    }
    cr_assert_eq(tc_publish(pub, "storm/t", "end", 1, false), 0);
    /* The last connection holds the session: everything not yet acknowledged comes, the
     * marker last. */
    bool got_end = false;
    struct raw_pkt p;
    while (!got_end && raw_read_packet(fd, &p, 3000) == 0) {
        struct raw_publish_view v;
        cr_assert_eq(raw_parse_publish(&p, &v), 0, "packet 0x%02x", p.hdr);
        cr_assert_eq(raw_send_ack(fd, 0x40, v.packet_id), 0);
        got_end = v.payload_len == 3 && memcmp(v.payload, "end", 3) == 0;
    }
    cr_assert(got_end, "the last connection did not receive the marker");
    cr_assert(raw_ping(fd));
    close(fd);
    /* The watcher, untouched by the storm, got every message once on storm/t's QoS 1 (its
     * storm/# subscription overlaps some of the time: still one delivery each). */
    WAIT_FOR(tc_count(watch, "storm/t", "end") == 1, 5000);
    pump_for(100);
    cr_assert_eq(watch->n_msgs, published + 1, "watcher got %d of %d", watch->n_msgs,
                 published + 1);
    for (int k = 0; k < published; k++)
        cr_assert_eq(atoi(watch->msgs[k].payload), k, "watcher: message %d is %s", k,
                     watch->msgs[k].payload);
    cr_assert_eq(broker_log_count(&broker, "session taken over client=storm"), ROUNDS);
}
