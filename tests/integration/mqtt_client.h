/* Helpers shared by the integration tests: libmosquitto clients driven by the test thread,
 * and raw MQTT 3.1.1 packets for exact byte checks and bad input.
 *
 * The libmosquitto clients run without threads: pump() polls every live client's socket and
 * calls mosquitto_loop_read/write/misc, so a test decides when bytes move and nothing
 * reconnects behind its back (a client the broker closes stays closed). WAIT_FOR() pumps
 * until a condition holds or a deadline passes; no test relies on a bare sleep.
 *
 * A test that runs its own broker names tc_start() (or an .init calling tc_start_with())
 * and tc_stop() as its fixtures and reaches the broker as tc_broker: Criterion runs each
 * test in a process of its own, so that one variable holds one test's broker.
 *
 * Everything here is static inline so each test executable takes only what it uses (the
 * meson rule builds one source file per test plus the harness). Test thread only. */
#ifndef SMQ_TESTS_MQTT_CLIENT_H
#define SMQ_TESTS_MQTT_CLIENT_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* ---- libmosquitto clients ------------------------------------------------------------- */

struct tmsg {
    char topic[128];
    char payload[256];
    int payloadlen;
    int qos;
    bool retain;
    mosquitto_property *props; /* owned: v5 properties as received (NULL for 3.x) */
};

struct tc {
    struct mosquitto *m;
    char id[64];
    int connack; /* -1 until CONNACK */
    int session_present;
    bool disconnected; /* the connection ended (either side) */
    int subacks, unsubacks, publishes_done;
    int granted[16];
    int n_granted;
    struct tmsg *msgs; /* every message received, in order */
    int n_msgs, cap_msgs;
    /* v5 (tc_new5) */
    mosquitto_property *connack_props; /* owned: the CONNACK's properties */
    int disconnect_reason;             /* reason of the server's DISCONNECT, or -1 */
    mosquitto_property *disconnect_props; /* owned */
    int pub_reasons[64];               /* PUBACK/PUBREC/PUBCOMP reasons, in order */
    int n_pub_reasons;
};

#define TC_MAX 64
static struct tc *tc_live[TC_MAX];

static inline void tc_on_connect(struct mosquitto *m, void *obj, int rc, int flags)
{
    struct tc *c = obj;
    (void)m;
    c->connack = rc;
    c->session_present = flags & 1;
}

static inline void tc_on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    struct tc *c = obj;
    (void)m;
    (void)rc;
    c->disconnected = true;
}

static inline void tc_on_message(struct mosquitto *m, void *obj,
                                 const struct mosquitto_message *msg)
{
    struct tc *c = obj;
    (void)m;
    if (c->n_msgs == c->cap_msgs) {
        c->cap_msgs = c->cap_msgs ? c->cap_msgs * 2 : 64;
        c->msgs = realloc(c->msgs, (size_t)c->cap_msgs * sizeof(*c->msgs));
    }
    struct tmsg *t = &c->msgs[c->n_msgs++];
    snprintf(t->topic, sizeof(t->topic), "%s", msg->topic);
    int n = msg->payloadlen < (int)sizeof(t->payload) - 1 ? msg->payloadlen
                                                          : (int)sizeof(t->payload) - 1;
    if (n > 0) /* an empty payload may come as NULL */
        memcpy(t->payload, msg->payload, (size_t)n);
    t->payload[n] = '\0';
    t->payloadlen = msg->payloadlen;
    t->qos = msg->qos;
    t->retain = msg->retain;
    t->props = NULL;
}

static inline void tc_on_subscribe(struct mosquitto *m, void *obj, int mid, int count,
                                   const int *granted)
{
    struct tc *c = obj;
    (void)m;
    (void)mid;
    for (int i = 0; i < count && c->n_granted < 16; i++)
        c->granted[c->n_granted++] = granted[i];
    c->subacks++;
}

static inline void tc_on_unsubscribe(struct mosquitto *m, void *obj, int mid)
{
    struct tc *c = obj;
    (void)m;
    (void)mid;
    c->unsubacks++;
}

static inline void tc_on_publish(struct mosquitto *m, void *obj, int mid)
{
    struct tc *c = obj;
    (void)m;
    (void)mid;
    c->publishes_done++;
}

static inline void tc_on_connect_v5(struct mosquitto *m, void *obj, int rc, int flags,
                                    const mosquitto_property *props)
{
    struct tc *c = obj;
    mosquitto_property_free_all(&c->connack_props);
    mosquitto_property_copy_all(&c->connack_props, props);
    tc_on_connect(m, obj, rc, flags);
}

static inline void tc_on_disconnect_v5(struct mosquitto *m, void *obj, int rc,
                                       const mosquitto_property *props)
{
    struct tc *c = obj;
    (void)m;
    /* libmosquitto reports the server's DISCONNECT reason as rc; a socket close as
     * MOSQ_ERR_CONN_LOST and friends. */
    c->disconnect_reason = rc;
    mosquitto_property_free_all(&c->disconnect_props);
    mosquitto_property_copy_all(&c->disconnect_props, props);
    c->disconnected = true;
}

static inline void tc_on_message_v5(struct mosquitto *m, void *obj,
                                    const struct mosquitto_message *msg,
                                    const mosquitto_property *props)
{
    struct tc *c = obj;
    tc_on_message(m, obj, msg);
    mosquitto_property_copy_all(&c->msgs[c->n_msgs - 1].props, props);
}

static inline void tc_on_publish_v5(struct mosquitto *m, void *obj, int mid, int reason,
                                    const mosquitto_property *props)
{
    struct tc *c = obj;
    (void)props;
    if (c->n_pub_reasons < 64)
        c->pub_reasons[c->n_pub_reasons++] = reason;
    tc_on_publish(m, obj, mid);
}

/* A new, unconnected 3.1.1 client with client id id (NULL: libmosquitto picks one). */
static inline struct tc *tc_new(const char *id, bool clean)
{
    struct tc *c = calloc(1, sizeof(*c));
    c->connack = -1;
    snprintf(c->id, sizeof(c->id), "%s", id ? id : "");
    c->m = mosquitto_new(id, clean, c);
    if (c->m == NULL) {
        free(c);
        return NULL;
    }
    mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_with_flags_callback_set(c->m, tc_on_connect);
    mosquitto_disconnect_callback_set(c->m, tc_on_disconnect);
    mosquitto_message_callback_set(c->m, tc_on_message);
    mosquitto_subscribe_callback_set(c->m, tc_on_subscribe);
    mosquitto_unsubscribe_callback_set(c->m, tc_on_unsubscribe);
    mosquitto_publish_callback_set(c->m, tc_on_publish);
    for (int i = 0; i < TC_MAX; i++) {
        if (tc_live[i] == NULL) {
            tc_live[i] = c;
            break;
        }
    }
    return c;
}

/* A new, unconnected MQTT 5.0 client (clean = Clean Start) recording properties. */
static inline struct tc *tc_new5(const char *id, bool clean)
{
    struct tc *c = tc_new(id, clean);
    if (c == NULL)
        return NULL;
    c->disconnect_reason = -1;
    mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    /* libmosquitto calls both the 3.x and the v5 callback when both are set. */
    mosquitto_connect_with_flags_callback_set(c->m, NULL);
    mosquitto_disconnect_callback_set(c->m, NULL);
    mosquitto_message_callback_set(c->m, NULL);
    mosquitto_publish_callback_set(c->m, NULL);
    mosquitto_connect_v5_callback_set(c->m, tc_on_connect_v5);
    mosquitto_disconnect_v5_callback_set(c->m, tc_on_disconnect_v5);
    mosquitto_message_v5_callback_set(c->m, tc_on_message_v5);
    mosquitto_publish_v5_callback_set(c->m, tc_on_publish_v5);
    return c;
}

static inline void tc_free(struct tc *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->n_msgs; i++)
        mosquitto_property_free_all(&c->msgs[i].props);
    mosquitto_property_free_all(&c->connack_props);
    mosquitto_property_free_all(&c->disconnect_props);
    for (int i = 0; i < TC_MAX; i++) {
        if (tc_live[i] == c)
            tc_live[i] = NULL;
    }
    mosquitto_destroy(c->m);
    free(c->msgs);
    free(c);
}

/* Frees every client still alive (for .fini). */
static inline void tc_free_all(void)
{
    for (int i = 0; i < TC_MAX; i++)
        tc_free(tc_live[i]);
}

/* ---- the broker of a test -------------------------------------------------------------- */

/* The broker the running test started with tc_start() or tc_start_with(). */
static struct broker_proc tc_broker;

/* For .init (or a test's first line): initialises libmosquitto and starts shardmq with 4
 * workers and the configuration lines conf (may be NULL); fails the test when it does not. */
static inline void tc_start_with(const char *conf)
{
    mosquitto_lib_init();
    cr_assert_eq(broker_start(&tc_broker, 4, conf), 0, "broker did not start");
}

/* .init: the broker with its default configuration. */
static inline void tc_start(void)
{
    tc_start_with(NULL);
}

/* .fini: frees every client, stops the broker (even when the test stopped it already) and
 * expects it to have exited with status 0. */
static inline void tc_stop(void)
{
    tc_free_all();
    int status = broker_stop(&tc_broker);
    mosquitto_lib_cleanup();
    cr_expect_eq(status, 0, "broker exit status %d", status);
}

/* One round: waits up to timeout_ms for any client socket to be ready, then lets each
 * client read, write and do its housekeeping. */
static inline void pump(int timeout_ms)
{
    struct pollfd pfd[TC_MAX];
    struct tc *who[TC_MAX];
    int n = 0;
    for (int i = 0; i < TC_MAX; i++) {
        struct tc *c = tc_live[i];
        if (c == NULL)
            continue;
        int fd = mosquitto_socket(c->m);
        if (fd < 0)
            continue;
        pfd[n].fd = fd;
        pfd[n].events = (short)(POLLIN | (mosquitto_want_write(c->m) ? POLLOUT : 0));
        pfd[n].revents = 0;
        who[n++] = c;
    }
    if (n == 0) {
        usleep((useconds_t)timeout_ms * 1000);
        return;
    }
    if (poll(pfd, (nfds_t)n, timeout_ms) < 0)
        return;
    for (int i = 0; i < n; i++) {
        struct mosquitto *m = who[i]->m;
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
            mosquitto_loop_read(m, 1);
        if (mosquitto_socket(m) >= 0 && mosquitto_want_write(m))
            mosquitto_loop_write(m, 1);
    }
    for (int i = 0; i < n; i++) {
        if (mosquitto_socket(who[i]->m) >= 0)
            mosquitto_loop_misc(who[i]->m);
    }
}

/* Pumps every client until cond holds or ms milliseconds passed; check cond afterwards. */
#define WAIT_FOR(cond, ms)                                                                         \
    for (int64_t wait_deadline_ = now_ms() + (ms); !(cond) && now_ms() < wait_deadline_;)          \
    pump(5)

/* Pumps every client for ms milliseconds whatever happens (to let something that must NOT
 * happen have its chance; used only for negative checks, after a positive sync point). */
static inline void pump_for(int ms)
{
    int64_t deadline = now_ms() + ms;
    while (now_ms() < deadline)
        pump(5);
}

/* A CONNACK that never came is the broker's story: print its log, so a failure seen only in
 * CI (under ThreadSanitizer, say) can be understood from CI's output. */
static inline void tc_explain_no_connack(const struct tc *c, const struct broker_proc *b)
{
    if (c->connack >= 0 || c->disconnected)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "no CONNACK for client %s within 5 s (given up at %02d:%02d:%02d.%03ldZ)\n",
            c->id, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    broker_dump_log(b);
}

/* Connects c to the broker and waits for its CONNACK; returns the return code or -1. */
static inline int tc_connect(struct tc *c, const struct broker_proc *b, int keepalive)
{
    c->connack = -1;
    c->disconnected = false;
    if (mosquitto_connect(c->m, "127.0.0.1", b->port, keepalive) != MOSQ_ERR_SUCCESS)
        return -1;
    WAIT_FOR(c->connack >= 0 || c->disconnected, 5000);
    tc_explain_no_connack(c, b);
    return c->connack;
}

/* Connects a v5 client with CONNECT properties (may be NULL); returns the CONNACK reason
 * code or -1. */
static inline int tc_connect5(struct tc *c, const struct broker_proc *b, int keepalive,
                              const mosquitto_property *props)
{
    c->connack = -1;
    c->disconnected = false;
    c->disconnect_reason = -1;
    if (mosquitto_connect_bind_v5(c->m, "127.0.0.1", b->port, keepalive, NULL, props) !=
        MOSQ_ERR_SUCCESS)
        return -1;
    WAIT_FOR(c->connack >= 0 || c->disconnected, 5000);
    tc_explain_no_connack(c, b);
    return c->connack;
}

/* v5 SUBSCRIBE with options (MQTT_SUB_OPT_*) and properties (may be NULL); returns the
 * reason code of the SUBACK, or -1. */
static inline int tc_subscribe5(struct tc *c, const char *filter, int qos, int options,
                                const mosquitto_property *props)
{
    int before = c->subacks;
    if (mosquitto_subscribe_v5(c->m, NULL, filter, qos, options, props) != MOSQ_ERR_SUCCESS)
        return -1;
    WAIT_FOR(c->subacks > before || c->disconnected, 5000);
    if (c->subacks == before)
        return -1;
    return c->granted[c->n_granted - 1];
}

/* v5 PUBLISH with properties (may be NULL); waits like tc_publish. Returns 0 or -1; the
 * acknowledgement's reason is the last of c->pub_reasons. */
static inline int tc_publish5(struct tc *c, const char *topic, const char *payload, int qos,
                              bool retain, const mosquitto_property *props)
{
    int before = c->publishes_done;
    if (mosquitto_publish_v5(c->m, NULL, topic, (int)strlen(payload), payload, qos, retain,
                             props) != MOSQ_ERR_SUCCESS)
        return -1;
    WAIT_FOR(c->publishes_done > before || c->disconnected, 5000);
    return c->publishes_done > before ? 0 : -1;
}

/* Returns the integer value of property id in props (byte, 2-byte or 4-byte, or varint),
 * or -1 when absent. */
static inline long tc_prop_int(const mosquitto_property *props, int id)
{
    uint8_t b;
    uint16_t s16;
    uint32_t s32;
    if (mosquitto_property_read_byte(props, id, &b, false))
        return b;
    if (mosquitto_property_read_int16(props, id, &s16, false))
        return s16;
    if (mosquitto_property_read_int32(props, id, &s32, false))
        return (long)s32;
    if (mosquitto_property_read_varint(props, id, &s32, false))
        return (long)s32;
    return -1;
}

/* Copies the string property id of props into out (NUL-terminated); returns false when
 * absent. */
static inline bool tc_prop_str(const mosquitto_property *props, int id, char *out, size_t cap)
{
    char *v = NULL;
    if (!mosquitto_property_read_string(props, id, &v, false))
        return false;
    snprintf(out, cap, "%s", v);
    free(v);
    return true;
}

/* Subscribes and waits for the SUBACK; returns the granted QoS (or 0x80), or -1. */
static inline int tc_subscribe(struct tc *c, const char *filter, int qos)
{
    int before = c->subacks;
    if (mosquitto_subscribe(c->m, NULL, filter, qos) != MOSQ_ERR_SUCCESS)
        return -1;
    WAIT_FOR(c->subacks > before || c->disconnected, 5000);
    if (c->subacks == before)
        return -1;
    return c->granted[c->n_granted - 1];
}

static inline int tc_unsubscribe(struct tc *c, const char *filter)
{
    int before = c->unsubacks;
    if (mosquitto_unsubscribe(c->m, NULL, filter) != MOSQ_ERR_SUCCESS)
        return -1;
    WAIT_FOR(c->unsubacks > before || c->disconnected, 5000);
    return c->unsubacks > before ? 0 : -1;
}

/* Publishes a NUL-terminated payload and waits until the broker acknowledged it (QoS 1/2)
 * or it left the client (QoS 0). Returns 0 or -1. */
static inline int tc_publish(struct tc *c, const char *topic, const char *payload, int qos,
                             bool retain)
{
    int before = c->publishes_done;
    if (mosquitto_publish(c->m, NULL, topic, (int)strlen(payload), payload, qos, retain) !=
        MOSQ_ERR_SUCCESS)
        return -1;
    WAIT_FOR(c->publishes_done > before || c->disconnected, 5000);
    return c->publishes_done > before ? 0 : -1;
}

/* Sends DISCONNECT and waits for the socket to close. */
static inline void tc_disconnect(struct tc *c)
{
    if (mosquitto_disconnect(c->m) == MOSQ_ERR_SUCCESS)
        WAIT_FOR(c->disconnected, 3000);
}

/* Counts c's received messages on topic (NULL: any) with payload (NULL: any). */
static inline int tc_count(const struct tc *c, const char *topic, const char *payload)
{
    int n = 0;
    for (int i = 0; i < c->n_msgs; i++) {
        if ((topic == NULL || strcmp(c->msgs[i].topic, topic) == 0) &&
            (payload == NULL || strcmp(c->msgs[i].payload, payload) == 0))
            n++;
    }
    return n;
}

/* Returns the first received message on topic, or NULL. */
static inline const struct tmsg *tc_find(const struct tc *c, const char *topic)
{
    for (int i = 0; i < c->n_msgs; i++) {
        if (strcmp(c->msgs[i].topic, topic) == 0)
            return &c->msgs[i];
    }
    return NULL;
}

/* Returns the first received message on topic with payload, or NULL. */
static inline const struct tmsg *tc_find_msg(const struct tc *c, const char *topic,
                                             const char *payload)
{
    for (int i = 0; i < c->n_msgs; i++) {
        if (strcmp(c->msgs[i].topic, topic) == 0 && strcmp(c->msgs[i].payload, payload) == 0)
            return &c->msgs[i];
    }
    return NULL;
}

/* ---- raw packets ---------------------------------------------------------------------- */

struct raw_connect_opts {
    const char *proto_name; /* NULL: "MQTT" */
    int level;              /* 0: 4 */
    bool clean;
    bool no_clean;          /* set to send clean session 0 (clean is ignored then) */
    int keepalive;          /* -1: 60 */
    const char *client_id;  /* NULL: "" */
    const char *will_topic; /* NULL: no will */
    const char *will_payload;
    int will_qos;
    bool will_retain;
    int flags_override; /* >= 0: this connect flags byte exactly */
};

static inline size_t raw_put_str(uint8_t *p, const char *s, size_t len)
{
    p[0] = (uint8_t)(len >> 8);
    p[1] = (uint8_t)len;
    if (len > 0)
        memcpy(p + 2, s, len);
    return 2 + len;
}

static inline size_t raw_put_len(uint8_t *p, size_t remaining)
{
    size_t n = 0;
    do {
        uint8_t byte = remaining % 128;
        remaining /= 128;
        if (remaining)
            byte |= 0x80;
        p[n++] = byte;
    } while (remaining);
    return n;
}

/* Encodes a CONNECT into out (at least 1024 bytes); returns its size. */
static inline size_t raw_build_connect(uint8_t *out, const struct raw_connect_opts *o)
{
    uint8_t body[1024];
    size_t n = 0;
    const char *name = o->proto_name ? o->proto_name : "MQTT";
    n += raw_put_str(body + n, name, strlen(name));
    body[n++] = (uint8_t)(o->level ? o->level : 4);
    uint8_t flags = o->no_clean ? 0 : 0x02;
    if (o->will_topic)
        flags |= (uint8_t)(0x04 | (o->will_qos << 3) | (o->will_retain ? 0x20 : 0));
    body[n++] = o->flags_override >= 0 ? (uint8_t)o->flags_override : flags;
    int ka = o->keepalive >= 0 ? o->keepalive : 60;
    body[n++] = (uint8_t)(ka >> 8);
    body[n++] = (uint8_t)ka;
    const char *id = o->client_id ? o->client_id : "";
    n += raw_put_str(body + n, id, strlen(id));
    if (o->will_topic) {
        n += raw_put_str(body + n, o->will_topic, strlen(o->will_topic));
        const char *wp = o->will_payload ? o->will_payload : "";
        n += raw_put_str(body + n, wp, strlen(wp));
    }
    size_t m = 0;
    out[m++] = 0x10;
    m += raw_put_len(out + m, n);
    memcpy(out + m, body, n);
    return m + n;
}

/* The default options: clean session, keep-alive 60, the given id. */
#define RAW_CONNECT_OPTS(id)                                                                       \
    ((struct raw_connect_opts){                                                                    \
        .clean = true, .keepalive = -1, .client_id = (id), .flags_override = -1})

/* One packet read from a raw socket. */
struct raw_pkt {
    uint8_t hdr;        /* the first byte */
    uint32_t len;       /* remaining length */
    uint8_t body[8192]; /* the first bytes of the body */
};

/* Reads one packet within timeout_ms. Returns 0, or -1 on EOF, timeout or a body too big. */
static inline int raw_read_packet(int fd, struct raw_pkt *p, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t b;
    if (raw_recv(fd, &b, 1, timeout_ms) != 1)
        return -1;
    p->hdr = b;
    uint32_t len = 0, mult = 1;
    for (int i = 0; i < 4; i++) {
        int left = (int)(deadline - now_ms());
        if (raw_recv(fd, &b, 1, left > 0 ? left : 1) != 1)
            return -1;
        len += (uint32_t)(b & 0x7f) * mult;
        mult *= 128;
        if (!(b & 0x80))
            break;
    }
    p->len = len;
    if (len > sizeof(p->body))
        return -1;
    int left = (int)(deadline - now_ms());
    if (len > 0 && raw_recv(fd, p->body, len, left > 0 ? left : 1) != (ssize_t)len)
        return -1;
    return 0;
}

/* Connects fd with o and reads the CONNACK. Returns its return code (session present in
 * *present when not NULL), or -1 when none came. */
static inline int raw_connect_with(int fd, const struct raw_connect_opts *o, int *present)
{
    uint8_t pkt[1100];
    size_t n = raw_build_connect(pkt, o);
    if (raw_send(fd, pkt, n) < 0)
        return -1;
    struct raw_pkt p;
    if (raw_read_packet(fd, &p, 5000) < 0 || p.hdr != 0x20 || p.len != 2)
        return -1;
    if (present)
        *present = p.body[0] & 1;
    return p.body[1];
}

/* Sends a PUBLISH. */
static inline int raw_publish(int fd, const char *topic, const void *payload, size_t plen, int qos,
                              bool retain, bool dup, uint16_t packet_id)
{
    size_t tlen = strlen(topic);
    size_t rem = 2 + tlen + (qos ? 2 : 0) + plen;
    uint8_t *pkt = malloc(rem + 5);
    size_t n = 0;
    pkt[n++] = (uint8_t)(0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0));
    n += raw_put_len(pkt + n, rem);
    n += raw_put_str(pkt + n, topic, tlen);
    if (qos) {
        pkt[n++] = (uint8_t)(packet_id >> 8);
        pkt[n++] = (uint8_t)packet_id;
    }
    if (plen > 0)
        memcpy(pkt + n, payload, plen);
    n += plen;
    int rc = raw_send(fd, pkt, n);
    free(pkt);
    return rc;
}

/* Sends a two-byte-id packet (PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70). */
static inline int raw_send_ack(int fd, uint8_t hdr, uint16_t packet_id)
{
    uint8_t pkt[4] = {hdr, 2, (uint8_t)(packet_id >> 8), (uint8_t)packet_id};
    return raw_send(fd, pkt, sizeof(pkt));
}

/* Sends a SUBSCRIBE of one filter and reads the SUBACK; returns its code or -1. */
static inline int raw_subscribe(int fd, uint16_t packet_id, const char *filter, int qos)
{
    uint8_t pkt[600];
    size_t flen = strlen(filter), n = 0;
    pkt[n++] = 0x82;
    n += raw_put_len(pkt + n, 2 + 2 + flen + 1);
    pkt[n++] = (uint8_t)(packet_id >> 8);
    pkt[n++] = (uint8_t)packet_id;
    n += raw_put_str(pkt + n, filter, flen);
    pkt[n++] = (uint8_t)qos;
    struct raw_pkt p;
    if (raw_send(fd, pkt, n) < 0 || raw_read_packet(fd, &p, 5000) < 0)
        return -1;
    if (p.hdr != 0x90 || p.len != 3 || p.body[0] != (packet_id >> 8) ||
        p.body[1] != (uint8_t)packet_id)
        return -1;
    return p.body[2];
}

/* A received PUBLISH, views into a struct raw_pkt. */
struct raw_publish_view {
    int qos;
    bool dup, retain;
    char topic[256];
    uint16_t packet_id;
    const uint8_t *payload;
    size_t payload_len;
};

/* Parses p as a PUBLISH; returns 0 or -1. */
static inline int raw_parse_publish(const struct raw_pkt *p, struct raw_publish_view *v)
{
    if ((p->hdr >> 4) != 3 || p->len < 2)
        return -1;
    v->qos = (p->hdr >> 1) & 3;
    v->dup = (p->hdr & 8) != 0;
    v->retain = (p->hdr & 1) != 0;
    size_t tlen = (size_t)p->body[0] << 8 | p->body[1];
    if (tlen >= sizeof(v->topic) || 2 + tlen + (v->qos ? 2 : 0) > p->len)
        return -1;
    memcpy(v->topic, p->body + 2, tlen);
    v->topic[tlen] = '\0';
    size_t off = 2 + tlen;
    v->packet_id = 0;
    if (v->qos) {
        v->packet_id = (uint16_t)(p->body[off] << 8 | p->body[off + 1]);
        off += 2;
    }
    v->payload = p->body + off;
    v->payload_len = p->len - off;
    return 0;
}

/* Sends PINGREQ and waits for PINGRESP; true when the connection answers. */
static inline bool raw_ping(int fd)
{
    const uint8_t ping[2] = {0xc0, 0};
    struct raw_pkt p;
    return raw_send(fd, ping, 2) == 0 && raw_read_packet(fd, &p, 3000) == 0 && p.hdr == 0xd0 &&
           p.len == 0;
}

/* Returns the local port of a socket (the broker logs it as addr=127.0.0.1:PORT). */
static inline int raw_local_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return -1;
    return ntohs(sa.sin_port);
}

/* Counts log lines holding both needle and this socket's address. */
static inline int log_count_for(const struct broker_proc *b, int fd, const char *needle)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "addr=127.0.0.1:%d ", raw_local_port(fd));
    /* broker_log_count takes one needle: count lines with the address, then check each. */
    FILE *f = fopen(b->log_path, "r");
    if (f == NULL)
        return 0;
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, addr) != NULL && strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

#endif
