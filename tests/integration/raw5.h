/* Raw MQTT 5.0 packets for the integration tests, built and read by proto/: for what
 * libmosquitto cannot send or does not show (AUTH exchanges, exact property sets, topic
 * aliases and DUP on the wire, a client that never acknowledges).
 *
 * Packets go out through smq_encode() and come back through smq_decode_packet() as a 5.0
 * client decodes what a server sends, so the broker's bytes are checked by the same decoder
 * on the way in. A read fails the test when the broker sends something that does not decode;
 * "nothing came" (EOF or the time ran out) is a return value, for the tests about silence.
 * Helpers that only make sense when they succeed (opening a connection, subscribing) fail
 * the test themselves.
 *
 * Static inline like mqtt_client.h, which it builds on. Test thread only. */
#ifndef SMQ_TESTS_RAW5_H
#define SMQ_TESTS_RAW5_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mqtt_client.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/span.h"

/* One packet read from the broker: its bytes, fixed header included, and the decoded
 * packet, whose views point into bytes (valid as long as this struct). */
struct raw5_pkt {
    uint8_t bytes[16384];
    size_t len;
    struct smq_packet pkt;
};

/* Encodes pkt as 5.0 and sends it; fails the test when it does not encode or send. */
static inline void raw5_send(int fd, const struct smq_packet *pkt)
{
    size_t size = smq_encode_size(SMQ_V5, pkt);
    cr_assert_gt(size, 0, "packet type %d does not encode", pkt->type);
    uint8_t *buf = malloc(size);
    cr_assert_eq(smq_encode(buf, size, SMQ_V5, pkt), (ssize_t)size);
    cr_assert_eq(raw_send(fd, buf, size), 0);
    free(buf);
}

/* Reads and decodes one packet within timeout_ms into r. Returns its type (> 0), or -1 on
 * EOF or timeout; fails the test when the packet does not decode or is over 16 KiB. */
static inline int raw5_read(int fd, struct raw5_pkt *r, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    r->len = 0;
    if (raw_recv(fd, r->bytes, 1, timeout_ms) != 1)
        return -1;
    r->len = 1;
    for (int i = 0; i < 4; i++) { /* the remaining length: 1 to 4 bytes */
        int left = (int)(deadline - now_ms());
        if (raw_recv(fd, r->bytes + r->len, 1, left > 0 ? left : 1) != 1)
            return -1;
        if (!(r->bytes[r->len++] & 0x80))
            break;
    }
    struct smq_decode_opts opts = {.version = SMQ_V5, .sender = SMQ_SENDER_SERVER};
    struct smq_fixed_header hdr;
    uint8_t reason = 0;
    cr_assert_gt(smq_decode_fixed_header(r->bytes, r->len, &opts, &hdr, &reason), 0,
                 "the broker sent a bad fixed header (reason 0x%02x)", reason);
    cr_assert_leq(r->len + hdr.remaining, sizeof(r->bytes), "a %u-byte packet", hdr.remaining);
    int left = (int)(deadline - now_ms());
    if (hdr.remaining > 0 &&
        raw_recv(fd, r->bytes + r->len, hdr.remaining, left > 0 ? left : 1) != hdr.remaining)
        return -1;
    r->len += hdr.remaining;
    cr_assert_eq(smq_decode_packet(r->bytes, r->len, &opts, &r->pkt, &reason), (ssize_t)r->len,
                 "the broker sent an undecodable packet (reason 0x%02x)", reason);
    return r->pkt.type;
}

/* Returns true when no packet arrives within ms (a close counts as none). */
static inline bool raw5_quiet(int fd, int ms)
{
    struct raw5_pkt *r = malloc(sizeof(*r));
    bool quiet = raw5_read(fd, r, ms) < 0;
    free(r);
    return quiet;
}

/* ---- connecting ------------------------------------------------------------------------ */

/* The CONNECT of a 5.0 client id: Clean Start, keep-alive 60, no properties, no will. The
 * spans borrow id. */
static inline struct smq_connect raw5_connect_packet(const char *id)
{
    return (struct smq_connect){
        .version = SMQ_V5,
        .clean_start = true,
        .keep_alive = 60,
        .client_id = smq_span_str(id),
    };
}

/* CONNECT properties holding a Session Expiry Interval of seconds and nothing else. */
static inline struct smq_props raw5_session_expiry(uint32_t seconds)
{
    return (struct smq_props){.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY),
                              .session_expiry = seconds};
}

/* Opens a socket to b, sends ck and reads the first answer into r (a CONNACK, or an AUTH
 * when ck starts an exchange). Returns the socket; fails the test when nothing answers. */
static inline int raw5_open_with(const struct broker_proc *b, const struct smq_connect *ck,
                                 struct raw5_pkt *r)
{
    int fd = raw_connect(b);
    cr_assert_geq(fd, 0);
    struct smq_packet pkt = {.type = SMQ_CONNECT};
    pkt.u.connect = *ck;
    raw5_send(fd, &pkt);
    cr_assert_gt(raw5_read(fd, r, 5000), 0, "%.*s: no answer to CONNECT", (int)ck->client_id.len,
                 (const char *)ck->client_id.ptr);
    return fd;
}

/* Connects with ck and expects a CONNACK with reason, left in r; returns the socket. */
static inline int raw5_connect_expect(const struct broker_proc *b, const struct smq_connect *ck,
                                      struct raw5_pkt *r, int reason)
{
    int fd = raw5_open_with(b, ck, r);
    cr_assert_eq(r->pkt.type, SMQ_CONNACK, "got packet type %d", r->pkt.type);
    cr_assert_eq(r->pkt.u.connack.reason, reason, "%.*s: CONNACK 0x%02x, expected 0x%02x",
                 (int)ck->client_id.len, (const char *)ck->client_id.ptr, r->pkt.u.connack.reason,
                 reason);
    return fd;
}

/* Opens a v5 connection for id with Clean Start clean and CONNECT properties props (may be
 * NULL); returns the socket, failing the test unless the CONNACK is a success. */
static inline int raw5_open(const struct broker_proc *b, const char *id, bool clean,
                            const struct smq_props *props)
{
    struct smq_connect ck = raw5_connect_packet(id);
    ck.clean_start = clean;
    if (props)
        ck.props = *props;
    struct raw5_pkt *r = malloc(sizeof(*r));
    int fd = raw5_connect_expect(b, &ck, r, 0);
    free(r);
    return fd;
}

/* ---- packets a client sends --------------------------------------------------------------- */

/* A SUBSCRIBE entry for filter at qos, every other option 0. The span borrows filter. */
static inline struct smq_sub_entry raw5_entry(const char *filter, uint8_t qos)
{
    return (struct smq_sub_entry){.filter = smq_span_str(filter), .qos = qos};
}

/* Sends a SUBSCRIBE of the n entries of list (with Subscription Identifier sub_id when not
 * 0) and reads the SUBACK; copies its n reason codes into codes. Fails the test unless a
 * SUBACK for this SUBSCRIBE with one code per entry comes. */
static inline void raw5_subscribe_list(int fd, const struct smq_sub_entry *list, uint32_t n,
                                       uint32_t sub_id, uint8_t *codes)
{
    struct smq_packet pkt = {.type = SMQ_SUBSCRIBE};
    pkt.u.subscribe.packet_id = 1;
    pkt.u.subscribe.count = n;
    pkt.u.subscribe.list = list;
    if (sub_id != 0) {
        pkt.u.subscribe.props.sub_ids = &sub_id;
        pkt.u.subscribe.props.sub_ids_len = 1;
    }
    raw5_send(fd, &pkt);
    struct raw5_pkt *r = malloc(sizeof(*r));
    cr_assert_eq(raw5_read(fd, r, 5000), SMQ_SUBACK, "no SUBACK");
    cr_assert_eq(r->pkt.u.sub_ack.packet_id, 1);
    cr_assert_eq(r->pkt.u.sub_ack.reasons.len, n, "one code per filter");
    memcpy(codes, r->pkt.u.sub_ack.reasons.ptr, n);
    free(r);
}

/* Subscribes to one filter at qos; returns the SUBACK's reason code. */
static inline int raw5_subscribe(int fd, const char *filter, uint8_t qos)
{
    struct smq_sub_entry e = raw5_entry(filter, qos);
    uint8_t code;
    raw5_subscribe_list(fd, &e, 1, 0, &code);
    return code;
}

/* Sends a PUBLISH of len bytes of payload with properties props (may be NULL). */
static inline void raw5_publish(int fd, const char *topic, const void *payload, size_t len,
                                uint8_t qos, uint16_t packet_id, const struct smq_props *props)
{
    struct smq_packet pkt = {.type = SMQ_PUBLISH};
    pkt.u.publish.qos = qos;
    pkt.u.publish.topic = smq_span_str(topic);
    pkt.u.publish.packet_id = packet_id;
    pkt.u.publish.payload = (struct smq_span){payload, len};
    if (props)
        pkt.u.publish.props = *props;
    raw5_send(fd, &pkt);
}

/* Sends a PUBACK, PUBREC, PUBREL or PUBCOMP (type) with reason. */
static inline void raw5_ack(int fd, uint8_t type, uint16_t packet_id, uint8_t reason)
{
    struct smq_packet pkt = {.type = type};
    pkt.u.ack.packet_id = packet_id;
    pkt.u.ack.reason = reason;
    raw5_send(fd, &pkt);
}

/* Sends an AUTH with reason, Authentication Method method and Authentication Data data
 * (NULL: none). */
static inline void raw5_auth(int fd, uint8_t reason, const char *method, const char *data)
{
    struct smq_packet pkt = {.type = SMQ_AUTH};
    pkt.u.auth.reason = reason;
    pkt.u.auth.props.present = SMQ_PROP_BIT(SMQ_PROP_AUTH_METHOD);
    pkt.u.auth.props.auth_method = smq_span_str(method);
    if (data) {
        pkt.u.auth.props.present |= SMQ_PROP_BIT(SMQ_PROP_AUTH_DATA);
        pkt.u.auth.props.auth_data = smq_span_str(data);
    }
    raw5_send(fd, &pkt);
}

/* Sends a DISCONNECT with reason and properties props (may be NULL). */
static inline void raw5_disconnect(int fd, uint8_t reason, const struct smq_props *props)
{
    struct smq_packet pkt = {.type = SMQ_DISCONNECT};
    pkt.u.disconnect.reason = reason;
    if (props)
        pkt.u.disconnect.props = *props;
    raw5_send(fd, &pkt);
}

/* ---- packets the broker sends -------------------------------------------------------------- */

/* Reads the next packet into r within 5 s; fails the test unless it is a PUBLISH. */
static inline const struct smq_publish *raw5_expect_publish(int fd, struct raw5_pkt *r)
{
    int type = raw5_read(fd, r, 5000);
    cr_assert_gt(type, 0, "expected a PUBLISH, got nothing");
    cr_assert_eq(type, SMQ_PUBLISH, "expected a PUBLISH, got packet type %d", type);
    return &r->pkt.u.publish;
}

/* Reads packets until a DISCONNECT, skipping the others, within timeout_ms. Returns its
 * reason (the packet left in r when r is not NULL), or -1 when the connection ended or the
 * time ran out without one. */
static inline int raw5_await_disconnect(int fd, struct raw5_pkt *r, int timeout_ms)
{
    struct raw5_pkt *own = r ? NULL : malloc(sizeof(*own));
    struct raw5_pkt *into = r ? r : own;
    int64_t deadline = now_ms() + timeout_ms;
    int reason = -1;
    for (int left; (left = (int)(deadline - now_ms())) > 0;) {
        int type = raw5_read(fd, into, left);
        if (type < 0)
            break;
        if (type == SMQ_DISCONNECT) {
            reason = into->pkt.u.disconnect.reason;
            break;
        }
    }
    free(own);
    return reason;
}

/* What raw5_read_publishes keeps of a PUBLISH. */
struct raw5_received {
    char payload[32]; /* NUL-terminated, cut at 31 bytes */
    uint8_t qos;
    uint16_t packet_id;
};

/* Reads packets for up to timeout_ms, until max PUBLISHes arrived, skipping the others, and
 * acknowledges none; records each PUBLISH in out (room for max). Returns how many arrived. */
static inline int raw5_read_publishes(int fd, int max, struct raw5_received *out, int timeout_ms)
{
    struct raw5_pkt *r = malloc(sizeof(*r));
    int64_t deadline = now_ms() + timeout_ms;
    int got = 0;
    for (int left; got < max && (left = (int)(deadline - now_ms())) > 0;) {
        int type = raw5_read(fd, r, left);
        if (type < 0)
            break;
        if (type != SMQ_PUBLISH)
            continue;
        const struct smq_publish *p = &r->pkt.u.publish;
        size_t cap = sizeof(out->payload) - 1;
        size_t len = p->payload.len < cap ? p->payload.len : cap;
        if (len > 0) /* an empty payload's span may be NULL */
            memcpy(out[got].payload, p->payload.ptr, len);
        out[got].payload[len] = '\0';
        out[got].qos = p->qos;
        out[got].packet_id = p->packet_id;
        got++;
    }
    free(r);
    return got;
}

#endif
