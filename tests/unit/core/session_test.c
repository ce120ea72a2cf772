/* Tests for core/session.c: the QoS 0/1/2 state machines of a session, without I/O.
 *
 * Outbound: packet identifiers, the inflight window, acknowledgements in and out of order,
 * retransmission after a reconnect [MQTT-4.4.0-1] in the original order [MQTT-4.6.0-1],
 * identifier reuse after wrapping, the queue limits, QoS 0 policy, expiry and trimming.
 * Inbound: the QoS 2 identifiers awaiting PUBREL [MQTT-4.3.3-9].
 * Backpressure: the high and low watermarks (messages and bytes), the slow consumer timeout,
 * the connection epoch.
 *
 * Each test holds one extra reference on the messages it makes, so it can check with
 * refs == 1 that the session released its own; ASan (same tests) catches leaks and double
 * frees. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/msg.h"
#include "core/session.h"
#include "proto/errors.h"
#include "proto/packet.h"

#define NO_EXPIRY 0

static const struct smq_session_limits default_limits = {
    .max_inflight = 10,
    .max_queued_messages = 100,
    .max_queued_bytes = 0,
    .max_awaiting_rel = 10,
    .queue_qos0_offline = false,
};

/* Returns a message on topic with one reference (the test's); expiry_s > 0 adds a Message
 * Expiry of that many seconds from now_ms. */
static struct smq_msg *make_msg(const char *topic, uint8_t qos, uint32_t expiry_s, int64_t now_ms)
{
    struct smq_props props = {0};
    if (expiry_s) {
        props.present = SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY);
        props.message_expiry = expiry_s;
    }
    struct smq_msg_init init = {
        .topic = smq_span_str(topic),
        .payload = smq_span_str("payload"),
        .qos = qos,
        .now_ms = now_ms,
        .props = expiry_s ? &props : NULL,
    };
    return smq_msg_new(&init);
}

static struct smq_msg *msg_n(int n, uint8_t qos)
{
    char topic[32];
    snprintf(topic, sizeof(topic), "t/%d", n);
    return make_msg(topic, qos, NO_EXPIRY, 0);
}

static unsigned refs(struct smq_msg *msg)
{
    return atomic_load(&msg->refs);
}

/* Enqueues msg with qos, giving the session a reference of its own. */
static enum smq_enqueue_result enqueue(struct smq_session_state *st, struct smq_msg *msg,
                                       uint8_t qos)
{
    struct smq_delivery d = {.msg = smq_msg_ref(msg), .qos = qos};
    return smq_session_enqueue(st, &d);
}

/* Asserts the next packet is a PUBLISH of msg with packet_id and dup, left in *s (a QoS 0
 * one is the caller's to release with smq_send_release). */
static void take_publish(struct smq_session_state *st, int64_t now_ms, struct smq_msg *msg,
                         uint16_t packet_id, bool dup, struct smq_send *s)
{
    memset(s, 0xA5, sizeof(*s));
    cr_assert(smq_session_next(st, now_ms, s), "expected PUBLISH %u, got nothing", packet_id);
    cr_assert_eq(s->kind, SMQ_SEND_PUBLISH, "expected PUBLISH %u, got kind %d", packet_id,
                 (int)s->kind);
    cr_assert_not_null(s->d);
    cr_assert_eq(s->d->msg, msg, "PUBLISH %u: wrong message (topic %.*s)", s->packet_id,
                 (int)s->d->msg->topic.len, (const char *)s->d->msg->topic.ptr);
    cr_assert_eq(s->packet_id, packet_id);
    cr_assert_eq(s->dup, dup, "PUBLISH %u: dup %d", packet_id, s->dup);
}

/* take_publish, then releases what the send holds, as the broker does once it is written. */
static void expect_publish(struct smq_session_state *st, int64_t now_ms, struct smq_msg *msg,
                           uint16_t packet_id, bool dup)
{
    struct smq_send s;
    take_publish(st, now_ms, msg, packet_id, dup, &s);
    smq_send_release(&s);
}

static void expect_pubrel(struct smq_session_state *st, uint16_t packet_id)
{
    struct smq_send s;
    memset(&s, 0xA5, sizeof(s));
    cr_assert(smq_session_next(st, 0, &s), "expected PUBREL %u, got nothing", packet_id);
    cr_assert_eq(s.kind, SMQ_SEND_PUBREL, "expected PUBREL %u, got kind %d", packet_id,
                 (int)s.kind);
    cr_assert_eq(s.packet_id, packet_id);
    cr_assert_not(s.dup);
}

static void expect_nothing(struct smq_session_state *st, int64_t now_ms)
{
    struct smq_send s = {0};
    cr_assert_not(smq_session_next(st, now_ms, &s), "expected nothing, got kind %d id %u",
                  (int)s.kind, s.packet_id);
    smq_send_release(&s);
}

static void start(struct smq_session_state *st, const struct smq_session_limits *lim)
{
    smq_session_state_init(st, lim);
    smq_session_resume(st);
}

/* --- lifecycle ----------------------------------------------------------------------- */

Test(session, init_is_empty_and_offline)
{
    struct smq_session_state st;
    memset(&st, 0x5A, sizeof(st));
    smq_session_state_init(&st, &default_limits);
    cr_assert_not(st.online);
    cr_assert_null(st.queue);
    cr_assert_null(st.inflight);
    cr_assert_null(st.awaiting_rel);
    cr_assert_eq(st.queue_len, 0);
    cr_assert_eq(st.inflight_len, 0);
    cr_assert_eq(st.queued_bytes, 0);
    cr_assert_eq(st.dropped_qos0 + st.dropped_full + st.dropped_expired, 0);
    cr_assert_eq(st.limits, &default_limits, "borrowed, not copied");
    cr_assert_eq(st.limits->max_inflight, 10);
    expect_nothing(&st, 0);
    smq_session_state_dispose(&st);
}

/* A configured max_inflight of 0 reaches the session as 1 (smq_session_limits_of): one at a
 * time. */
Test(session, max_inflight_one_sends_one_at_a_time)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 1;
    struct smq_session_state st;
    start(&st, &lim);
    cr_assert_eq(st.limits->max_inflight, 1);
    struct smq_msg *a = msg_n(1, SMQ_QOS1), *b = msg_n(2, SMQ_QOS1);
    enqueue(&st, a, SMQ_QOS1);
    enqueue(&st, b, SMQ_QOS1);
    expect_publish(&st, 0, a, 1, false);
    expect_nothing(&st, 0);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    expect_publish(&st, 0, b, 2, false);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(a), 1);
    cr_assert_eq(refs(b), 1);
    smq_msg_unref(a);
    smq_msg_unref(b);
}

/* --- QoS 0 and QoS 1 ---------------------------------------------------------------- */

Test(session, qos0_sent_with_packet_id_zero)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = msg_n(1, SMQ_QOS0);
    cr_assert_eq(enqueue(&st, m, SMQ_QOS0), SMQ_ENQ_QUEUED);
    cr_assert_eq(st.queue_len, 1);
    cr_assert_eq(st.queued_bytes, smq_msg_cost(m));
    struct smq_send s;
    take_publish(&st, 0, m, 0, false, &s);
    cr_assert_eq(st.queue_len, 0);
    cr_assert_eq(st.queued_bytes, 0);
    cr_assert_eq(st.inflight_len, 0);
    cr_assert_eq(refs(m), 2); /* the caller's until smq_send_release */
    expect_nothing(&st, 0);
    /* No acknowledgement exists for QoS 0. */
    cr_assert_eq(smq_session_on_puback(&st, 0), SMQ_ENOENT);
    smq_send_release(&s);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(m), 1);
    smq_msg_unref(m);
}

Test(session, qos0_delivery_belongs_to_the_caller)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *a = msg_n(1, SMQ_QOS0), *b = msg_n(2, SMQ_QOS0);
    enqueue(&st, a, SMQ_QOS0);
    enqueue(&st, b, SMQ_QOS0);
    struct smq_send sa, sb;
    take_publish(&st, 0, a, 0, false, &sa);
    take_publish(&st, 0, b, 0, false, &sb);
    smq_send_release(&sa);
    cr_assert_eq(refs(a), 1);
    cr_assert_eq(refs(b), 2);
    smq_session_suspend(&st); /* the session holds no QoS 0 delivery to release */
    cr_assert_eq(refs(b), 2);
    smq_send_release(&sb);
    cr_assert_eq(refs(b), 1);
    smq_send_release(&sb); /* twice is harmless */
    smq_session_state_dispose(&st);
    smq_msg_unref(a);
    smq_msg_unref(b);
}

Test(session, delivery_fields_passed_through)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = msg_n(1, SMQ_QOS2);
    struct smq_delivery d = {
        .msg = smq_msg_ref(m), .subscription_id = 77, .qos = SMQ_QOS1, .retain = true};
    cr_assert_eq(smq_session_enqueue(&st, &d), SMQ_ENQ_QUEUED);
    struct smq_send s;
    cr_assert(smq_session_next(&st, 0, &s));
    cr_assert_eq(s.d->msg, m);
    cr_assert_eq(s.d->subscription_id, 77);
    cr_assert_eq(s.d->qos, SMQ_QOS1);
    cr_assert(s.d->retain);
    cr_assert_eq(s.packet_id, 1);
    smq_send_release(&s); /* a no-op for QoS 1: the delivery stays inflight */
    /* Sent at the granted QoS 1, not the message's 2: PUBACK completes it, PUBREC does not. */
    cr_assert_eq(smq_session_on_pubrec(&st, 1), SMQ_ENOENT);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert_eq(refs(m), 1);
    smq_session_state_dispose(&st);
    smq_msg_unref(m);
}

Test(session, qos1_packet_ids_count_up_from_one)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m[3];
    for (int i = 0; i < 3; i++) {
        m[i] = msg_n(i, SMQ_QOS1);
        cr_assert_eq(enqueue(&st, m[i], SMQ_QOS1), SMQ_ENQ_QUEUED);
    }
    for (int i = 0; i < 3; i++)
        expect_publish(&st, 0, m[i], (uint16_t)(i + 1), false);
    expect_nothing(&st, 0);
    cr_assert_eq(st.inflight_len, 3);
    cr_assert_eq(st.queue_len, 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(st.inflight[i].packet_id, i + 1);
        cr_assert_eq(st.inflight[i].state, SMQ_OUT_WAIT_PUBACK);
        cr_assert_eq(refs(m[i]), 2);
    }
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(smq_session_on_puback(&st, (uint16_t)(i + 1)), 0);
        cr_assert_eq(refs(m[i]), 1); /* released at PUBACK */
    }
    cr_assert_eq(st.inflight_len, 0);
    /* Identifiers keep counting after acknowledgements. */
    struct smq_msg *next = msg_n(4, SMQ_QOS1);
    enqueue(&st, next, SMQ_QOS1);
    expect_publish(&st, 0, next, 4, false);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 3; i++)
        smq_msg_unref(m[i]);
    cr_assert_eq(refs(next), 1);
    smq_msg_unref(next);
}

Test(session, nothing_sent_while_offline)
{
    struct smq_session_state st;
    smq_session_state_init(&st, &default_limits);
    struct smq_msg *m = msg_n(1, SMQ_QOS1);
    cr_assert_eq(enqueue(&st, m, SMQ_QOS1), SMQ_ENQ_QUEUED);
    expect_nothing(&st, 0);
    smq_session_resume(&st);
    expect_publish(&st, 0, m, 1, false);
    smq_session_suspend(&st);
    struct smq_msg *n = msg_n(2, SMQ_QOS1);
    cr_assert_eq(enqueue(&st, n, SMQ_QOS1), SMQ_ENQ_QUEUED);
    expect_nothing(&st, 0);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(m), 1);
    cr_assert_eq(refs(n), 1);
    smq_msg_unref(m);
    smq_msg_unref(n);
}

/* --- the inflight window -------------------------------------------------------------- */

Test(session, window_blocks_qos1_until_puback)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 2;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *m[4];
    for (int i = 0; i < 4; i++) {
        m[i] = msg_n(i, SMQ_QOS1);
        enqueue(&st, m[i], SMQ_QOS1);
    }
    expect_publish(&st, 0, m[0], 1, false);
    expect_publish(&st, 0, m[1], 2, false);
    expect_nothing(&st, 0);
    cr_assert_eq(st.queue_len, 2);
    cr_assert_eq(st.inflight_len, 2);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    expect_publish(&st, 0, m[2], 3, false);
    expect_nothing(&st, 0);
    cr_assert_eq(smq_session_on_puback(&st, 2), 0);
    expect_publish(&st, 0, m[3], 4, false);
    expect_nothing(&st, 0);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
}

Test(session, window_blocks_qos2_until_pubcomp)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 1;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *a = msg_n(1, SMQ_QOS2), *b = msg_n(2, SMQ_QOS2);
    enqueue(&st, a, SMQ_QOS2);
    enqueue(&st, b, SMQ_QOS2);
    expect_publish(&st, 0, a, 1, false);
    expect_nothing(&st, 0);
    /* After PUBREC the identifier is still unacknowledged: the window stays full. */
    cr_assert_eq(smq_session_on_pubrec(&st, 1), 0);
    expect_nothing(&st, 0);
    cr_assert_eq(smq_session_on_pubcomp(&st, 1), 0);
    expect_publish(&st, 0, b, 2, false);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(a), 1);
    cr_assert_eq(refs(b), 1);
    smq_msg_unref(a);
    smq_msg_unref(b);
}

Test(session, qos0_waits_behind_blocked_qos1_to_keep_order)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 1;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *a = msg_n(1, SMQ_QOS1), *b = msg_n(2, SMQ_QOS1), *c = msg_n(3, SMQ_QOS0);
    enqueue(&st, a, SMQ_QOS1);
    enqueue(&st, b, SMQ_QOS1);
    enqueue(&st, c, SMQ_QOS0);
    expect_publish(&st, 0, a, 1, false);
    expect_nothing(&st, 0); /* b blocks, and c may not overtake it */
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    expect_publish(&st, 0, b, 2, false);
    expect_publish(&st, 0, c, 0, false); /* QoS 0 needs no room in the window */
    expect_nothing(&st, 0);
    smq_session_state_dispose(&st);
    smq_msg_unref(a);
    smq_msg_unref(b);
    smq_msg_unref(c);
}

Test(session, qos0_sent_while_window_full)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 1;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *a = msg_n(1, SMQ_QOS1), *b = msg_n(2, SMQ_QOS0);
    enqueue(&st, a, SMQ_QOS1);
    expect_publish(&st, 0, a, 1, false);
    cr_assert_eq(enqueue(&st, b, SMQ_QOS0), SMQ_ENQ_QUEUED);
    expect_publish(&st, 0, b, 0, false);
    smq_session_state_dispose(&st);
    smq_msg_unref(a);
    smq_msg_unref(b);
}

/* --- acknowledgements ------------------------------------------------------------------ */

Test(session, puback_of_unknown_id_is_enoent)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    cr_assert_eq(smq_session_on_puback(&st, 1), SMQ_ENOENT); /* nothing inflight at all */
    struct smq_msg *m = msg_n(1, SMQ_QOS1);
    enqueue(&st, m, SMQ_QOS1);
    expect_publish(&st, 0, m, 1, false);
    cr_assert_eq(smq_session_on_puback(&st, 2), SMQ_ENOENT);
    cr_assert_eq(smq_session_on_puback(&st, 0), SMQ_ENOENT);
    cr_assert_eq(smq_session_on_puback(&st, UINT16_MAX), SMQ_ENOENT);
    cr_assert_eq(st.inflight_len, 1);
    cr_assert_eq(refs(m), 2);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert_eq(smq_session_on_puback(&st, 1), SMQ_ENOENT); /* a second PUBACK */
    cr_assert_eq(refs(m), 1);
    smq_session_state_dispose(&st);
    smq_msg_unref(m);
}

Test(session, ack_of_the_wrong_kind_is_enoent)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *q1 = msg_n(1, SMQ_QOS1), *q2 = msg_n(2, SMQ_QOS2);
    enqueue(&st, q1, SMQ_QOS1);
    enqueue(&st, q2, SMQ_QOS2);
    expect_publish(&st, 0, q1, 1, false);
    expect_publish(&st, 0, q2, 2, false);
    cr_assert_eq(smq_session_on_pubrec(&st, 1), SMQ_ENOENT); /* QoS 1 has no PUBREC */
    cr_assert_eq(smq_session_on_pubcomp(&st, 1), SMQ_ENOENT);
    cr_assert_eq(smq_session_on_puback(&st, 2), SMQ_ENOENT); /* QoS 2 has no PUBACK */
    cr_assert_eq(st.inflight_len, 2);
    cr_assert_eq(refs(q1), 2);
    cr_assert_eq(refs(q2), 2);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert_eq(smq_session_on_pubrec(&st, 2), 0);
    cr_assert_eq(smq_session_on_pubcomp(&st, 2), 0);
    cr_assert_eq(st.inflight_len, 0);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(q1), 1);
    cr_assert_eq(refs(q2), 1);
    smq_msg_unref(q1);
    smq_msg_unref(q2);
}

Test(session, out_of_order_puback)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 3;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *m[5];
    for (int i = 0; i < 5; i++) {
        m[i] = msg_n(i, SMQ_QOS1);
        enqueue(&st, m[i], SMQ_QOS1);
    }
    for (int i = 0; i < 3; i++)
        expect_publish(&st, 0, m[i], (uint16_t)(i + 1), false);
    expect_nothing(&st, 0);

    cr_assert_eq(smq_session_on_puback(&st, 2), 0);
    cr_assert_eq(refs(m[1]), 1); /* released at once, though 1 is still unacknowledged */
    cr_assert_eq(refs(m[0]), 2);
    cr_assert_eq(refs(m[2]), 2);
    cr_assert_eq(smq_session_on_puback(&st, 2), SMQ_ENOENT);
    /* Two messages are unacknowledged, so the window of 3 takes one more. */
    cr_assert_eq(st.inflight_len, 2);
    expect_publish(&st, 0, m[3], 4, false);
    expect_nothing(&st, 0);

    cr_assert_eq(smq_session_on_puback(&st, 4), 0);
    cr_assert_eq(smq_session_on_puback(&st, 3), 0);
    cr_assert_eq(refs(m[3]), 1);
    cr_assert_eq(refs(m[2]), 1);
    expect_publish(&st, 0, m[4], 5, false);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert_eq(smq_session_on_puback(&st, 5), 0);
    cr_assert_eq(st.inflight_len, 0);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
}

Test(session, slow_qos2_does_not_hold_the_window_for_acknowledged_qos1)
{
    /* A QoS 2 message waiting for PUBCOMP at the head of the window; the QoS 1 messages
     * sent after it are acknowledged: their slots are free again. */
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 2;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *q2 = msg_n(0, SMQ_QOS2);
    struct smq_msg *q1[3];
    enqueue(&st, q2, SMQ_QOS2);
    for (int i = 0; i < 3; i++) {
        q1[i] = msg_n(i + 1, SMQ_QOS1);
        enqueue(&st, q1[i], SMQ_QOS1);
    }
    expect_publish(&st, 0, q2, 1, false);
    cr_assert_eq(smq_session_on_pubrec(&st, 1), 0);
    for (int i = 0; i < 3; i++) {
        expect_publish(&st, 0, q1[i], (uint16_t)(i + 2), false);
        expect_nothing(&st, 0);
        cr_assert_eq(smq_session_on_puback(&st, (uint16_t)(i + 2)), 0);
    }
    cr_assert_eq(st.inflight_len, 1);
    cr_assert_eq(smq_session_on_pubcomp(&st, 1), 0);
    cr_assert_eq(st.inflight_len, 0);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(q2), 1);
    smq_msg_unref(q2);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(refs(q1[i]), 1);
        smq_msg_unref(q1[i]);
    }
}

Test(session, qos2_outbound_pubrec_then_pubcomp)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = msg_n(1, SMQ_QOS2);
    enqueue(&st, m, SMQ_QOS2);
    expect_publish(&st, 0, m, 1, false);
    cr_assert_eq(st.inflight_len, 1);
    cr_assert_eq(st.inflight[0].state, SMQ_OUT_WAIT_PUBREC);
    cr_assert_eq(st.inflight[0].packet_id, 1);
    cr_assert_eq(refs(m), 2);

    cr_assert_eq(smq_session_on_pubrec(&st, 1), 0);
    cr_assert_eq(st.inflight[0].state, SMQ_OUT_WAIT_PUBCOMP);
    cr_assert_eq(st.inflight_len, 1);
    /* 4.3.3: the PUBLISH is never sent again, so the message is released at PUBREC. */
    cr_assert_eq(refs(m), 1);
    cr_assert_null(st.inflight[0].d.msg);
    cr_assert_eq(smq_session_on_pubrec(&st, 1), SMQ_ENOENT); /* a second PUBREC */
    cr_assert_eq(smq_session_on_puback(&st, 1), SMQ_ENOENT);
    expect_nothing(&st, 0);

    cr_assert_eq(smq_session_on_pubcomp(&st, 1), 0);
    cr_assert_eq(st.inflight_len, 0);
    cr_assert_eq(smq_session_on_pubcomp(&st, 1), SMQ_ENOENT); /* a second PUBCOMP */
    cr_assert_eq(smq_session_on_pubrec(&st, 1), SMQ_ENOENT);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(m), 1);
    smq_msg_unref(m);
}

Test(session, pubcomp_before_pubrec_is_enoent)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = msg_n(1, SMQ_QOS2);
    enqueue(&st, m, SMQ_QOS2);
    expect_publish(&st, 0, m, 1, false);
    cr_assert_eq(smq_session_on_pubcomp(&st, 1), SMQ_ENOENT);
    cr_assert_eq(st.inflight_len, 1);
    cr_assert_eq(st.inflight[0].state, SMQ_OUT_WAIT_PUBREC);
    cr_assert_eq(refs(m), 2);
    cr_assert_eq(smq_session_on_pubrec(&st, 1), 0);
    cr_assert_eq(smq_session_on_pubcomp(&st, 1), 0);
    smq_session_state_dispose(&st);
    smq_msg_unref(m);
}

/* --- retransmission on resume --------------------------------------------------------- */

Test(session, resume_retransmits_inflight_in_order_then_queue)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 4;
    struct smq_session_state st;
    start(&st, &lim);
    const uint8_t qos[6] = {SMQ_QOS1, SMQ_QOS2, SMQ_QOS1, SMQ_QOS2, SMQ_QOS1, SMQ_QOS0};
    struct smq_msg *m[6];
    for (int i = 0; i < 6; i++) {
        m[i] = msg_n(i, qos[i]);
        enqueue(&st, m[i], qos[i]);
    }
    for (int i = 0; i < 4; i++)
        expect_publish(&st, 0, m[i], (uint16_t)(i + 1), false);
    expect_nothing(&st, 0);
    cr_assert_eq(smq_session_on_pubrec(&st, 2), 0); /* 2 is past PUBREC, 4 is not */

    smq_session_suspend(&st);
    expect_nothing(&st, 0);
    smq_session_resume(&st);

    expect_publish(&st, 0, m[0], 1, true);
    expect_pubrel(&st, 2);
    expect_publish(&st, 0, m[2], 3, true);
    expect_publish(&st, 0, m[3], 4, true);
    expect_nothing(&st, 0); /* the window is still full */
    cr_assert_eq(st.queue_len, 2);

    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    expect_publish(&st, 0, m[4], 5, false); /* then the queue, without DUP */
    expect_publish(&st, 0, m[5], 0, false);
    expect_nothing(&st, 0);

    cr_assert_eq(smq_session_on_pubcomp(&st, 2), 0);
    cr_assert_eq(smq_session_on_puback(&st, 3), 0);
    cr_assert_eq(smq_session_on_pubrec(&st, 4), 0);
    cr_assert_eq(smq_session_on_pubcomp(&st, 4), 0);
    cr_assert_eq(smq_session_on_puback(&st, 5), 0);
    cr_assert_eq(st.inflight_len, 0);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
}

Test(session, resume_skips_acknowledged_and_repeats_on_every_reconnect)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m[3];
    for (int i = 0; i < 3; i++) {
        m[i] = msg_n(i, SMQ_QOS1);
        enqueue(&st, m[i], SMQ_QOS1);
        expect_publish(&st, 0, m[i], (uint16_t)(i + 1), false);
    }
    cr_assert_eq(smq_session_on_puback(&st, 2), 0);
    for (int round = 0; round < 3; round++) {
        smq_session_suspend(&st);
        smq_session_resume(&st);
        expect_publish(&st, 0, m[0], 1, true);
        expect_publish(&st, 0, m[2], 3, true);
        expect_nothing(&st, 0);
    }
    /* Resumed but nothing retransmitted yet: a reconnect resends everything again. */
    smq_session_resume(&st);
    expect_publish(&st, 0, m[0], 1, true);
    smq_session_resume(&st);
    expect_publish(&st, 0, m[0], 1, true);
    expect_publish(&st, 0, m[2], 3, true);
    expect_nothing(&st, 0);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
}

Test(session, acks_during_retransmission_keep_the_resend_position)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m[4];
    for (int i = 0; i < 4; i++) {
        m[i] = msg_n(i, SMQ_QOS1);
        enqueue(&st, m[i], SMQ_QOS1);
        expect_publish(&st, 0, m[i], (uint16_t)(i + 1), false);
    }
    smq_session_suspend(&st);
    smq_session_resume(&st);
    expect_publish(&st, 0, m[0], 1, true);
    expect_publish(&st, 0, m[1], 2, true);
    /* Acknowledged: one already resent (head), one not yet resent (ahead of the position). */
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert_eq(smq_session_on_puback(&st, 3), 0);
    expect_publish(&st, 0, m[3], 4, true);
    expect_nothing(&st, 0);
    cr_assert_eq(smq_session_on_puback(&st, 2), 0);
    cr_assert_eq(smq_session_on_puback(&st, 4), 0);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
}

Test(session, pubrec_received_before_retransmission_turns_it_into_pubrel)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *a = msg_n(1, SMQ_QOS2), *b = msg_n(2, SMQ_QOS2);
    enqueue(&st, a, SMQ_QOS2);
    enqueue(&st, b, SMQ_QOS2);
    expect_publish(&st, 0, a, 1, false);
    expect_publish(&st, 0, b, 2, false);
    smq_session_suspend(&st);
    smq_session_resume(&st);
    expect_publish(&st, 0, a, 1, true);
    /* PUBREC for 2 before its retransmission: the caller answers it with PUBREL, and the
     * retransmission due for 2 is a PUBREL too, never its PUBLISH again (4.3.3). */
    cr_assert_eq(smq_session_on_pubrec(&st, 2), 0);
    expect_pubrel(&st, 2);
    expect_nothing(&st, 0);
    cr_assert_eq(smq_session_on_pubrec(&st, 1), 0);
    expect_nothing(&st, 0); /* the caller sends PUBREL on PUBREC; no retransmission now */
    smq_session_suspend(&st);
    smq_session_resume(&st);
    expect_pubrel(&st, 1);
    expect_pubrel(&st, 2);
    expect_nothing(&st, 0);
    cr_assert_eq(smq_session_on_pubcomp(&st, 2), 0);
    cr_assert_eq(smq_session_on_pubcomp(&st, 1), 0);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(a), 1);
    cr_assert_eq(refs(b), 1);
    smq_msg_unref(a);
    smq_msg_unref(b);
}

/* --- packet identifiers ------------------------------------------------------------------ */

Test(session, packet_ids_skip_ones_in_use_after_wrapping)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 4;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *held1 = msg_n(1, SMQ_QOS1), *acked2 = msg_n(2, SMQ_QOS1);
    struct smq_msg *held3 = msg_n(3, SMQ_QOS2), *cycle = msg_n(4, SMQ_QOS1);
    enqueue(&st, held1, SMQ_QOS1);
    enqueue(&st, acked2, SMQ_QOS1);
    enqueue(&st, held3, SMQ_QOS2);
    expect_publish(&st, 0, held1, 1, false);
    expect_publish(&st, 0, acked2, 2, false);
    expect_publish(&st, 0, held3, 3, false);
    cr_assert_eq(smq_session_on_puback(&st, 2), 0);
    cr_assert_eq(smq_session_on_pubrec(&st, 3), 0); /* in use until PUBCOMP */
    for (uint32_t id = 4; id <= UINT16_MAX; id++) {
        enqueue(&st, cycle, SMQ_QOS1);
        struct smq_send s;
        cr_assert(smq_session_next(&st, 0, &s));
        if (s.packet_id != id)
            cr_assert_fail("expected packet id %u, got %u", id, s.packet_id);
        if (smq_session_on_puback(&st, s.packet_id) != 0)
            cr_assert_fail("PUBACK %u failed", s.packet_id);
        smq_send_release(&s);
    }
    /* Wrapped: 0 is never used, 1 (PUBACK due) and 3 (PUBCOMP due) are skipped. */
    enqueue(&st, cycle, SMQ_QOS1);
    enqueue(&st, cycle, SMQ_QOS1);
    expect_publish(&st, 0, cycle, 2, false);
    expect_publish(&st, 0, cycle, 4, false);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert_eq(smq_session_on_pubcomp(&st, 3), 0);
    enqueue(&st, cycle, SMQ_QOS1);
    expect_publish(&st, 0, cycle, 5, false); /* counting goes on from where it was */
    cr_assert_eq(smq_session_on_puback(&st, 2), 0);
    cr_assert_eq(smq_session_on_puback(&st, 4), 0);
    cr_assert_eq(smq_session_on_puback(&st, 5), 0);
    cr_assert_eq(st.inflight_len, 0);
    smq_session_state_dispose(&st);
    struct smq_msg *all[] = {held1, acked2, held3, cycle};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(refs(all[i]), 1);
        smq_msg_unref(all[i]);
    }
}

/* --- queue limits and QoS 0 policy ---------------------------------------------------- */

Test(session, max_queued_messages_drops_qos0_and_qos1_with_counters)
{
    struct smq_session_limits lim = default_limits;
    lim.max_queued_messages = 2;
    lim.queue_qos0_offline = true;
    struct smq_session_state st;
    smq_session_state_init(&st, &lim); /* offline: nothing leaves the queue */
    struct smq_msg *m[6];
    for (int i = 0; i < 6; i++)
        m[i] = msg_n(i, i % 2 ? SMQ_QOS1 : SMQ_QOS0);
    cr_assert_eq(enqueue(&st, m[0], SMQ_QOS0), SMQ_ENQ_QUEUED);
    cr_assert_eq(enqueue(&st, m[1], SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(enqueue(&st, m[2], SMQ_QOS0), SMQ_ENQ_DROPPED_QOS0);
    cr_assert_eq(enqueue(&st, m[3], SMQ_QOS1), SMQ_ENQ_DROPPED_FULL);
    cr_assert_eq(enqueue(&st, m[4], SMQ_QOS0), SMQ_ENQ_DROPPED_QOS0);
    cr_assert_eq(enqueue(&st, m[5], SMQ_QOS2), SMQ_ENQ_DROPPED_FULL);
    cr_assert_eq(st.dropped_qos0, 2);
    cr_assert_eq(st.dropped_full, 2);
    cr_assert_eq(st.queue_len, 2);
    cr_assert_eq(st.queued_bytes, smq_msg_cost(m[0]) + smq_msg_cost(m[1]));
    for (int i = 2; i < 6; i++)
        cr_assert_eq(refs(m[i]), 1, "dropped message %d not released", i);
    cr_assert_eq(refs(m[0]), 2);
    cr_assert_eq(refs(m[1]), 2);

    smq_session_resume(&st);
    expect_publish(&st, 0, m[0], 0, false);
    expect_publish(&st, 0, m[1], 1, false);
    expect_nothing(&st, 0);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
}

Test(session, max_queued_bytes_drops_qos0_and_qos1_with_counters)
{
    struct smq_msg *m[5];
    for (int i = 0; i < 5; i++)
        m[i] = msg_n(i, SMQ_QOS1); /* same topic and payload sizes: same cost */
    size_t cost = smq_msg_cost(m[0]);
    cr_assert_eq(smq_msg_cost(m[4]), cost);
    struct smq_session_limits lim = default_limits;
    lim.max_queued_messages = 100;
    lim.max_queued_bytes = 2 * cost; /* exactly two fit */
    lim.queue_qos0_offline = true;
    struct smq_session_state st;
    smq_session_state_init(&st, &lim);
    cr_assert_eq(enqueue(&st, m[0], SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(enqueue(&st, m[1], SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(st.queued_bytes, 2 * cost);
    cr_assert_eq(enqueue(&st, m[2], SMQ_QOS1), SMQ_ENQ_DROPPED_FULL);
    cr_assert_eq(enqueue(&st, m[3], SMQ_QOS0), SMQ_ENQ_DROPPED_QOS0);
    cr_assert_eq(st.dropped_full, 1);
    cr_assert_eq(st.dropped_qos0, 1);
    cr_assert_eq(st.queued_bytes, 2 * cost);
    cr_assert_eq(refs(m[2]), 1);
    cr_assert_eq(refs(m[3]), 1);

    /* Sending one frees its bytes for the next. */
    smq_session_resume(&st);
    expect_publish(&st, 0, m[0], 1, false);
    cr_assert_eq(st.queued_bytes, cost);
    smq_session_suspend(&st);
    cr_assert_eq(enqueue(&st, m[4], SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(st.queued_bytes, 2 * cost);
    smq_session_resume(&st);
    expect_publish(&st, 0, m[0], 1, true);
    expect_publish(&st, 0, m[1], 2, false);
    expect_publish(&st, 0, m[4], 3, false);
    cr_assert_eq(st.queued_bytes, 0);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
}

Test(session, max_queued_messages_zero_still_delivers_what_the_window_takes)
{
    /* "0 = none may wait": an online session with room in the window still gets messages;
     * only those that would wait behind the window are dropped. */
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 2;
    lim.max_queued_messages = 0;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *m[4];
    for (int i = 0; i < 4; i++)
        m[i] = msg_n(i, SMQ_QOS1);
    struct smq_msg *q0 = msg_n(9, SMQ_QOS0);
    cr_assert_eq(enqueue(&st, m[0], SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(enqueue(&st, m[1], SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(enqueue(&st, m[2], SMQ_QOS1), SMQ_ENQ_DROPPED_FULL);
    expect_publish(&st, 0, m[0], 1, false);
    expect_publish(&st, 0, m[1], 2, false);
    /* The window is full: a QoS 1 delivery would wait, a QoS 0 one goes out at once. */
    cr_assert_eq(enqueue(&st, m[3], SMQ_QOS1), SMQ_ENQ_DROPPED_FULL);
    cr_assert_eq(enqueue(&st, q0, SMQ_QOS0), SMQ_ENQ_QUEUED);
    expect_publish(&st, 0, q0, 0, false);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert_eq(enqueue(&st, m[3], SMQ_QOS1), SMQ_ENQ_QUEUED);
    expect_publish(&st, 0, m[3], 3, false);
    cr_assert_eq(st.dropped_full, 2);
    cr_assert_eq(st.dropped_qos0, 0);
    /* Offline nothing may wait. */
    smq_session_suspend(&st);
    cr_assert_eq(enqueue(&st, m[2], SMQ_QOS1), SMQ_ENQ_DROPPED_FULL);
    cr_assert_eq(st.dropped_full, 3);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
    cr_assert_eq(refs(q0), 1);
    smq_msg_unref(q0);
}

Test(session, offline_qos0_dropped_unless_configured)
{
    struct smq_session_state st;
    smq_session_state_init(&st, &default_limits);
    struct smq_msg *a = msg_n(1, SMQ_QOS0), *b = msg_n(2, SMQ_QOS0), *c = msg_n(3, SMQ_QOS1);
    cr_assert_eq(enqueue(&st, a, SMQ_QOS0), SMQ_ENQ_DROPPED_QOS0);
    cr_assert_eq(enqueue(&st, c, SMQ_QOS1), SMQ_ENQ_QUEUED); /* QoS 1 is kept offline */
    cr_assert_eq(st.dropped_qos0, 1);
    cr_assert_eq(st.dropped_full, 0);
    cr_assert_eq(refs(a), 1);
    cr_assert_eq(st.queue_len, 1);
    cr_assert_eq(st.queued_bytes, smq_msg_cost(c));
    /* Online, then offline again. */
    smq_session_resume(&st);
    cr_assert_eq(enqueue(&st, b, SMQ_QOS0), SMQ_ENQ_QUEUED);
    smq_session_suspend(&st);
    cr_assert_eq(enqueue(&st, a, SMQ_QOS0), SMQ_ENQ_DROPPED_QOS0);
    cr_assert_eq(st.dropped_qos0, 2);
    smq_session_state_dispose(&st);

    struct smq_session_limits lim = default_limits;
    lim.queue_qos0_offline = true;
    smq_session_state_init(&st, &lim);
    cr_assert_eq(enqueue(&st, a, SMQ_QOS0), SMQ_ENQ_QUEUED);
    cr_assert_eq(st.dropped_qos0, 0);
    smq_session_resume(&st);
    expect_publish(&st, 0, a, 0, false);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(a), 1);
    cr_assert_eq(refs(b), 1);
    cr_assert_eq(refs(c), 1);
    smq_msg_unref(a);
    smq_msg_unref(b);
    smq_msg_unref(c);
}

Test(session, drop_qos0_keeps_qos1_and_qos2_in_order)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 20;
    lim.queue_qos0_offline = true;
    struct smq_session_state st;
    start(&st, &lim);
    /* Move the ring's head forward first so the kept entries wrap around its end. */
    struct smq_msg *warm = msg_n(100, SMQ_QOS0);
    for (int i = 0; i < 6; i++) {
        enqueue(&st, warm, SMQ_QOS0);
        expect_publish(&st, 0, warm, 0, false);
    }
    smq_session_suspend(&st);
    cr_assert_eq(st.queue_len, 0);
    const uint8_t qos[7] = {SMQ_QOS0, SMQ_QOS1, SMQ_QOS0, SMQ_QOS2, SMQ_QOS0, SMQ_QOS1, SMQ_QOS0};
    struct smq_msg *m[7];
    size_t kept_bytes = 0;
    for (int i = 0; i < 7; i++) {
        m[i] = msg_n(i, qos[i]);
        cr_assert_eq(enqueue(&st, m[i], qos[i]), SMQ_ENQ_QUEUED);
        if (qos[i] != SMQ_QOS0)
            kept_bytes += smq_msg_cost(m[i]);
    }
    smq_session_drop_qos0(&st);
    cr_assert_eq(st.queue_len, 3);
    cr_assert_eq(st.dropped_qos0, 4);
    cr_assert_eq(st.queued_bytes, kept_bytes);
    for (int i = 0; i < 7; i += 2)
        cr_assert_eq(refs(m[i]), 1, "QoS 0 message %d not released", i);

    smq_session_resume(&st);
    expect_publish(&st, 0, m[1], 1, false);
    expect_publish(&st, 0, m[3], 2, false);
    expect_publish(&st, 0, m[5], 3, false);
    expect_nothing(&st, 0);

    /* Only QoS 0: the queue empties and its ring is freed. */
    smq_session_suspend(&st);
    enqueue(&st, m[0], SMQ_QOS0);
    enqueue(&st, m[2], SMQ_QOS0);
    smq_session_drop_qos0(&st);
    cr_assert_eq(st.queue_len, 0);
    cr_assert_eq(st.queued_bytes, 0);
    cr_assert_null(st.queue);
    cr_assert_eq(st.dropped_qos0, 6);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
    cr_assert_eq(refs(warm), 1);
    smq_msg_unref(warm);
}

Test(session, queue_grows_while_wrapped_and_keeps_order)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 1000;
    lim.max_queued_messages = 1000;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *m[40];
    for (int i = 0; i < 40; i++)
        m[i] = msg_n(i, SMQ_QOS1);
    int sent = 0;
    for (int i = 0; i < 6; i++)
        enqueue(&st, m[i], SMQ_QOS1);
    for (; sent < 5; sent++)
        expect_publish(&st, 0, m[sent], (uint16_t)(sent + 1), false);
    for (int i = 6; i < 40; i++) /* grows 8 -> 16 -> 32 -> 64 with the head at 5 */
        cr_assert_eq(enqueue(&st, m[i], SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(st.queue_len, 35);
    for (; sent < 40; sent++)
        expect_publish(&st, 0, m[sent], (uint16_t)(sent + 1), false);
    expect_nothing(&st, 0);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
}

/* --- expiry ------------------------------------------------------------------------------ */

Test(session, expired_messages_dropped_at_send_time)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *gone1 = make_msg("a", SMQ_QOS1, 10, 0); /* expires at 10,000 ms */
    struct smq_msg *gone0 = make_msg("b", SMQ_QOS0, 5, 0);  /* at 5,000 ms */
    struct smq_msg *alive = make_msg("c", SMQ_QOS1, 60, 0); /* at 60,000 ms */
    struct smq_msg *plain = make_msg("d", SMQ_QOS1, NO_EXPIRY, 0);
    struct smq_msg *gone2 = make_msg("e", SMQ_QOS2, 1, 0);
    cr_assert_eq(enqueue(&st, gone1, SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(enqueue(&st, gone0, SMQ_QOS0), SMQ_ENQ_QUEUED);
    cr_assert_eq(enqueue(&st, alive, SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(enqueue(&st, plain, SMQ_QOS1), SMQ_ENQ_QUEUED);
    cr_assert_eq(enqueue(&st, gone2, SMQ_QOS2), SMQ_ENQ_QUEUED);

    expect_publish(&st, 10000, alive, 1, false); /* no identifier spent on expired ones */
    cr_assert_eq(st.dropped_expired, 2);
    cr_assert_eq(refs(gone1), 1);
    cr_assert_eq(refs(gone0), 1);
    expect_publish(&st, 10000, plain, 2, false);
    expect_nothing(&st, 10000);
    cr_assert_eq(st.dropped_expired, 3);
    cr_assert_eq(refs(gone2), 1);
    cr_assert_eq(st.queue_len, 0);
    cr_assert_eq(st.queued_bytes, 0);
    cr_assert_eq(st.dropped_qos0 + st.dropped_full, 0);
    smq_session_state_dispose(&st);
    smq_msg_unref(gone1);
    smq_msg_unref(gone0);
    smq_msg_unref(gone2);
    cr_assert_eq(refs(alive), 1);
    cr_assert_eq(refs(plain), 1);
    smq_msg_unref(alive);
    smq_msg_unref(plain);
}

Test(session, message_not_expired_one_ms_before_its_expiry)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = make_msg("a", SMQ_QOS1, 10, 1000);
    enqueue(&st, m, SMQ_QOS1);
    expect_publish(&st, 10999, m, 1, false);
    cr_assert_eq(st.dropped_expired, 0);
    smq_session_state_dispose(&st);
    smq_msg_unref(m);

    start(&st, &default_limits);
    m = make_msg("a", SMQ_QOS1, 10, 1000);
    enqueue(&st, m, SMQ_QOS1);
    expect_nothing(&st, 11000);
    cr_assert_eq(st.dropped_expired, 1);
    cr_assert_eq(refs(m), 1);
    smq_session_state_dispose(&st);
    smq_msg_unref(m);
}

Test(session, inflight_qos1_message_is_dropped_at_resend_after_expiry)
{
    /* The client acknowledged it or lost it: either way it gets nothing stale, and the
     * window slot is free for the next message. */
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = make_msg("a", SMQ_QOS1, 1, 0);
    struct smq_msg *next = msg_n(2, SMQ_QOS1);
    enqueue(&st, m, SMQ_QOS1);
    expect_publish(&st, 0, m, 1, false);
    smq_session_suspend(&st);
    enqueue(&st, next, SMQ_QOS1);
    smq_session_resume(&st);
    expect_publish(&st, 5000, next, 2, false);
    expect_nothing(&st, 5000);
    cr_assert_eq(st.dropped_expired, 1);
    cr_assert_eq(st.inflight_len, 1);
    cr_assert_eq(refs(m), 1);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(next), 1);
    smq_msg_unref(m);
    smq_msg_unref(next);
}

Test(session, inflight_qos1_message_is_resent_before_expiry)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = make_msg("a", SMQ_QOS1, 10, 0);
    enqueue(&st, m, SMQ_QOS1);
    expect_publish(&st, 0, m, 1, false);
    smq_session_suspend(&st);
    smq_session_resume(&st);
    expect_publish(&st, 9999, m, 1, true);
    cr_assert_eq(st.dropped_expired, 0);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(m), 1);
    smq_msg_unref(m);
}

Test(session, inflight_qos2_message_is_resent_even_after_expiry)
{
    /* The client may hold packet id 1 awaiting PUBREL: dropping the message would let a new
     * message reuse the id and be taken for this one [MQTT-4.3.3-10]. */
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = make_msg("a", SMQ_QOS2, 1, 0);
    enqueue(&st, m, SMQ_QOS2);
    expect_publish(&st, 0, m, 1, false);
    smq_session_suspend(&st);
    smq_session_resume(&st);
    expect_publish(&st, 5000, m, 1, true);
    cr_assert_eq(st.dropped_expired, 0);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(m), 1);
    smq_msg_unref(m);
}

/* --- discarding a PUBLISH too large to send (Maximum Packet Size) ---------------------- */

/* Puts the next send in *s, asserting there is one (in place: a QoS 0 one's d points into
 * *s). */
static void next_send(struct smq_session_state *st, struct smq_send *s)
{
    cr_assert(smq_session_next(st, 0, s), "expected a packet, got nothing");
}

Test(session, discard_qos1_frees_its_window_slot_and_the_next_follows)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 1;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *big = msg_n(1, SMQ_QOS1), *small = msg_n(2, SMQ_QOS1);
    enqueue(&st, big, SMQ_QOS1);
    enqueue(&st, small, SMQ_QOS1);
    struct smq_send s;
    next_send(&st, &s);
    cr_assert_eq(s.d->msg, big);
    smq_session_discard(&st, &s);
    cr_assert_eq(st.inflight_len, 0);
    cr_assert_eq(refs(big), 1, "the session let go of the discarded message");
    expect_publish(&st, 0, small, 2, false);
    cr_assert_eq(smq_session_on_puback(&st, 1), SMQ_ENOENT, "no acknowledgement is awaited");
    cr_assert_eq(smq_session_on_puback(&st, 2), 0);
    smq_session_state_dispose(&st);
    smq_msg_unref(big);
    smq_msg_unref(small);
}

Test(session, discard_qos2_awaits_no_pubrec)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = msg_n(1, SMQ_QOS2);
    enqueue(&st, m, SMQ_QOS2);
    struct smq_send s;
    next_send(&st, &s);
    smq_session_discard(&st, &s);
    cr_assert_eq(st.inflight_len, 0);
    cr_assert_eq(smq_session_on_pubrec(&st, 1), SMQ_ENOENT);
    smq_session_suspend(&st);
    smq_session_resume(&st);
    expect_nothing(&st, 0); /* nothing to retransmit after a reconnect either */
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(m), 1);
    smq_msg_unref(m);
}

Test(session, discard_qos0_releases_it)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = msg_n(1, SMQ_QOS0), *after = msg_n(2, SMQ_QOS0);
    enqueue(&st, m, SMQ_QOS0);
    enqueue(&st, after, SMQ_QOS0);
    struct smq_send s;
    next_send(&st, &s);
    cr_assert_eq(s.d->msg, m);
    smq_session_discard(&st, &s);
    cr_assert_null(s.qos0.msg);
    cr_assert_eq(refs(m), 1);
    expect_publish(&st, 0, after, 0, false);
    smq_session_state_dispose(&st);
    smq_msg_unref(m);
    smq_msg_unref(after);
}

Test(session, discard_of_a_retransmission_keeps_the_others_in_order)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m[3];
    for (int i = 0; i < 3; i++) {
        m[i] = msg_n(i, SMQ_QOS1);
        enqueue(&st, m[i], SMQ_QOS1);
        expect_publish(&st, 0, m[i], (uint16_t)(i + 1), false);
    }
    smq_session_suspend(&st);
    smq_session_resume(&st);
    expect_publish(&st, 0, m[0], 1, true);
    struct smq_send s;
    next_send(&st, &s);
    cr_assert_eq(s.d->msg, m[1]);
    cr_assert(s.dup);
    smq_session_discard(&st, &s);
    expect_publish(&st, 0, m[2], 3, true);
    expect_nothing(&st, 0);
    cr_assert_eq(st.inflight_len, 2);
    cr_assert_eq(smq_session_on_puback(&st, 2), SMQ_ENOENT);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert_eq(smq_session_on_puback(&st, 3), 0);
    smq_session_state_dispose(&st);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(refs(m[i]), 1);
        smq_msg_unref(m[i]);
    }
}

/* --- a PUBREC refusing the message (v5 reason >= 0x80) ----------------------------------- */

Test(session, pubrec_error_ends_the_flow_without_pubrel)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 1;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *m = msg_n(1, SMQ_QOS2), *next = msg_n(2, SMQ_QOS2);
    enqueue(&st, m, SMQ_QOS2);
    enqueue(&st, next, SMQ_QOS2);
    expect_publish(&st, 0, m, 1, false);
    cr_assert_eq(smq_session_on_pubrec_error(&st, 1), 0);
    cr_assert_eq(refs(m), 1);
    expect_publish(&st, 0, next, 2, false); /* the slot is free again, no PUBREL first */
    cr_assert_eq(smq_session_on_pubrec_error(&st, 1), SMQ_ENOENT);
    cr_assert_eq(smq_session_on_pubcomp(&st, 1), SMQ_ENOENT);
    smq_session_suspend(&st);
    smq_session_resume(&st);
    expect_publish(&st, 0, next, 2, true);
    expect_nothing(&st, 0);
    smq_session_state_dispose(&st);
    smq_msg_unref(m);
    smq_msg_unref(next);
}

Test(session, pubrec_error_for_a_qos1_id_is_enoent)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = msg_n(1, SMQ_QOS1);
    enqueue(&st, m, SMQ_QOS1);
    expect_publish(&st, 0, m, 1, false);
    cr_assert_eq(smq_session_on_pubrec_error(&st, 1), SMQ_ENOENT);
    cr_assert_eq(st.inflight_len, 1);
    smq_session_state_dispose(&st);
    smq_msg_unref(m);
}

/* --- inbound QoS 2 --------------------------------------------------------------------- */

Test(session, inbound_qos2_first_publish_then_retransmission_then_pubrel)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 7), 1);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 7), 0);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 7), 0);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 8), 1);
    cr_assert_eq(st.awaiting_rel_len, 2);
    cr_assert_eq(smq_session_on_pubrel(&st, 7), 0);
    cr_assert_eq(smq_session_on_pubrel(&st, 7), SMQ_ENOENT);
    cr_assert_eq(smq_session_on_pubrel(&st, 9), SMQ_ENOENT);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 8), 0);
    /* Released: the same identifier now starts a new message. */
    cr_assert_eq(smq_session_on_qos2_publish(&st, 7), 1);
    cr_assert_eq(smq_session_on_pubrel(&st, 8), 0);
    cr_assert_eq(smq_session_on_pubrel(&st, 7), 0);
    cr_assert_eq(st.awaiting_rel_len, 0);
    cr_assert_null(st.awaiting_rel); /* freed when empty */
    cr_assert_eq(smq_session_on_pubrel(&st, 8), SMQ_ENOENT);
    smq_session_state_dispose(&st);
}

Test(session, inbound_qos2_cancelled_id_is_a_new_message_next_time)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 5), 1);
    smq_session_cancel_qos2(&st, 5); /* answered PUBREC 0x97, say */
    cr_assert_eq(st.awaiting_rel_len, 0);
    cr_assert_eq(smq_session_on_pubrel(&st, 5), SMQ_ENOENT);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 5), 1, "[MQTT-4.3.3-9] a new message");
    smq_session_cancel_qos2(&st, 6); /* unknown: nothing happens */
    cr_assert_eq(st.awaiting_rel_len, 1);
    smq_session_state_dispose(&st);
}

Test(session, inbound_qos2_independent_of_outbound_ids)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *m = msg_n(1, SMQ_QOS2);
    enqueue(&st, m, SMQ_QOS2);
    expect_publish(&st, 0, m, 1, false);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 1), 1); /* the client's own id 1 */
    cr_assert_eq(smq_session_on_pubrel(&st, 1), 0);
    cr_assert_eq(st.inflight[0].state, SMQ_OUT_WAIT_PUBREC);
    cr_assert_eq(smq_session_on_pubrec(&st, 1), 0);
    cr_assert_eq(smq_session_on_pubcomp(&st, 1), 0);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(m), 1);
    smq_msg_unref(m);
}

Test(session, inbound_qos2_max_awaiting_rel_is_elimit)
{
    struct smq_session_limits lim = default_limits;
    lim.max_awaiting_rel = 3;
    struct smq_session_state st;
    start(&st, &lim);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 10), 1);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 11), 1);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 12), 1);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 13), SMQ_ELIMIT);
    cr_assert_eq(st.awaiting_rel_len, 3);
    /* A retransmission of one already held is still recognised at the limit. */
    cr_assert_eq(smq_session_on_qos2_publish(&st, 11), 0);
    cr_assert_eq(smq_session_on_pubrel(&st, 11), 0);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 13), 1);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 14), SMQ_ELIMIT);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 10), 0);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 12), 0);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 13), 0);
    cr_assert_leq(st.awaiting_rel_cap, 3);
    smq_session_state_dispose(&st);
}

Test(session, inbound_qos2_zero_limit_refuses_all)
{
    struct smq_session_limits lim = default_limits;
    lim.max_awaiting_rel = 0;
    struct smq_session_state st;
    start(&st, &lim);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 1), SMQ_ELIMIT);
    cr_assert_eq(smq_session_on_pubrel(&st, 1), SMQ_ENOENT);
    cr_assert_null(st.awaiting_rel);
    smq_session_state_dispose(&st);
}

Test(session, inbound_qos2_grows_past_half_the_identifier_space)
{
    /* The set's capacity doubles from 4; 32,768 * 2 does not fit a uint16_t. */
    struct smq_session_limits lim = default_limits;
    lim.max_awaiting_rel = UINT16_MAX;
    struct smq_session_state st;
    start(&st, &lim);
    const uint32_t n = 32768 + 100;
    for (uint32_t id = 1; id <= n; id++) {
        int rc = smq_session_on_qos2_publish(&st, (uint16_t)id);
        if (rc != 1)
            cr_assert_fail("id %u: %d", id, rc);
    }
    cr_assert_eq(st.awaiting_rel_len, n);
    cr_assert_geq(st.awaiting_rel_cap, n);
    cr_assert_eq(smq_session_on_qos2_publish(&st, (uint16_t)n), 0);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 1), 0);
    cr_assert_eq(smq_session_on_pubrel(&st, (uint16_t)n), 0);
    cr_assert_eq(smq_session_on_pubrel(&st, 32769), 0);
    cr_assert_eq(st.awaiting_rel_len, n - 2);
    smq_session_state_dispose(&st);
}

/* --- trim and dispose ------------------------------------------------------------------ */

Test(session, trim_frees_empty_rings_and_session_keeps_working)
{
    struct smq_session_state st;
    start(&st, &default_limits);
    struct smq_msg *q0 = msg_n(1, SMQ_QOS0), *q1 = msg_n(2, SMQ_QOS1), *q2 = msg_n(3, SMQ_QOS1);
    enqueue(&st, q1, SMQ_QOS1);
    enqueue(&st, q0, SMQ_QOS0);
    expect_publish(&st, 0, q1, 1, false);
    struct smq_send s;
    cr_assert(smq_session_next(&st, 0, &s));
    cr_assert_eq(s.d, &s.qos0, "a QoS 0 delivery leaves the session with the send");
    cr_assert_eq(s.qos0.msg, q0);
    cr_assert_eq(refs(q0), 2, "the session's reference went to the caller");
    smq_send_release(&s);
    cr_assert_null(s.qos0.msg);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert_not_null(st.queue);
    cr_assert_not_null(st.inflight);

    smq_session_trim(&st);
    cr_assert_null(st.queue);
    cr_assert_null(st.inflight);
    cr_assert_eq(refs(q0), 1); /* the session holds nothing of the QoS 0 delivery */
    cr_assert_eq(refs(q1), 1);
    smq_session_trim(&st); /* idempotent */

    /* Still works: identifiers continue, rings come back. */
    enqueue(&st, q2, SMQ_QOS1);
    enqueue(&st, q0, SMQ_QOS0);
    expect_publish(&st, 0, q2, 2, false);
    expect_publish(&st, 0, q0, 0, false);
    cr_assert_not_null(st.inflight);
    smq_session_suspend(&st);
    smq_session_resume(&st);
    expect_publish(&st, 0, q2, 2, true);
    cr_assert_eq(smq_session_on_puback(&st, 2), 0);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(q0), 1);
    cr_assert_eq(refs(q1), 1);
    cr_assert_eq(refs(q2), 1);
    smq_msg_unref(q0);
    smq_msg_unref(q1);
    smq_msg_unref(q2);
}

Test(session, trim_keeps_rings_that_hold_messages)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 1;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *a = msg_n(1, SMQ_QOS1), *b = msg_n(2, SMQ_QOS1);
    enqueue(&st, a, SMQ_QOS1);
    enqueue(&st, b, SMQ_QOS1);
    expect_publish(&st, 0, a, 1, false);
    smq_session_trim(&st);
    cr_assert_not_null(st.queue);
    cr_assert_not_null(st.inflight);
    cr_assert_eq(st.queue_len, 1);
    cr_assert_eq(st.inflight_len, 1);
    cr_assert_eq(refs(a), 2);
    cr_assert_eq(refs(b), 2);
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    smq_session_trim(&st);
    cr_assert_null(st.inflight);
    cr_assert_not_null(st.queue);
    expect_publish(&st, 0, b, 2, false);
    smq_session_trim(&st);
    cr_assert_null(st.queue);
    cr_assert_not_null(st.inflight);
    cr_assert_eq(smq_session_on_puback(&st, 2), 0);
    smq_session_trim(&st);
    cr_assert_null(st.inflight);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(a), 1);
    cr_assert_eq(refs(b), 1);
    smq_msg_unref(a);
    smq_msg_unref(b);
}

Test(session, trim_with_wrapped_inflight_ring_then_resume)
{
    /* Free the inflight ring when its head is mid-ring, then use it again. */
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 3;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *m = msg_n(1, SMQ_QOS1);
    for (uint16_t id = 1; id <= 2; id++) {
        enqueue(&st, m, SMQ_QOS1);
        expect_publish(&st, 0, m, id, false);
        cr_assert_eq(smq_session_on_puback(&st, id), 0);
    }
    smq_session_trim(&st);
    for (uint16_t id = 3; id <= 5; id++) {
        enqueue(&st, m, SMQ_QOS1);
        expect_publish(&st, 0, m, id, false);
    }
    smq_session_suspend(&st);
    smq_session_resume(&st);
    for (uint16_t id = 3; id <= 5; id++)
        expect_publish(&st, 0, m, id, true);
    expect_nothing(&st, 0);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(m), 1);
    smq_msg_unref(m);
}

Test(session, dispose_releases_every_message)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 3;
    lim.queue_qos0_offline = true;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *parked = msg_n(0, SMQ_QOS0);    /* sent, not yet released */
    struct smq_msg *wait_ack = msg_n(1, SMQ_QOS1);  /* inflight, PUBACK due */
    struct smq_msg *wait_rec = msg_n(2, SMQ_QOS2);  /* inflight, PUBREC due */
    struct smq_msg *wait_comp = msg_n(3, SMQ_QOS2); /* past PUBREC */
    struct smq_msg *queued1 = msg_n(4, SMQ_QOS1);   /* behind the window */
    struct smq_msg *queued0 = msg_n(5, SMQ_QOS0);
    enqueue(&st, parked, SMQ_QOS0);
    enqueue(&st, wait_ack, SMQ_QOS1);
    enqueue(&st, wait_rec, SMQ_QOS2);
    enqueue(&st, wait_comp, SMQ_QOS2);
    enqueue(&st, queued1, SMQ_QOS1);
    enqueue(&st, queued0, SMQ_QOS0);
    struct smq_send sent0; /* a QoS 0 send the caller has not released yet */
    take_publish(&st, 0, parked, 0, false, &sent0);
    expect_publish(&st, 0, wait_ack, 1, false);
    expect_publish(&st, 0, wait_rec, 2, false);
    expect_publish(&st, 0, wait_comp, 3, false);
    expect_nothing(&st, 0);
    cr_assert_eq(smq_session_on_pubrec(&st, 3), 0);
    cr_assert_eq(smq_session_on_qos2_publish(&st, 42), 1);
    cr_assert_eq(refs(parked), 2);
    cr_assert_eq(refs(wait_ack), 2);
    cr_assert_eq(refs(wait_rec), 2);
    cr_assert_eq(refs(wait_comp), 1);
    cr_assert_eq(refs(queued1), 2);
    cr_assert_eq(refs(queued0), 2);

    smq_session_state_dispose(&st);
    cr_assert_eq(refs(parked), 2, "the caller's QoS 0 send is not the session's to release");
    smq_send_release(&sent0);
    struct smq_msg *all[] = {parked, wait_ack, wait_rec, wait_comp, queued1, queued0};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        cr_assert_eq(refs(all[i]), 1, "message %zu: %u references", i, refs(all[i]));
        smq_msg_unref(all[i]);
    }
    cr_assert_null(st.queue);
    cr_assert_null(st.inflight);
    cr_assert_null(st.awaiting_rel);
}

Test(session, dispose_of_a_fresh_or_offline_session)
{
    struct smq_session_state st;
    smq_session_state_init(&st, &default_limits);
    smq_session_state_dispose(&st);

    struct smq_msg *m = msg_n(1, SMQ_QOS2);
    smq_session_state_init(&st, &default_limits);
    for (int i = 0; i < 20; i++)
        enqueue(&st, m, SMQ_QOS2);
    cr_assert_eq(refs(m), 21);
    smq_session_state_dispose(&st);
    cr_assert_eq(refs(m), 1);
    smq_msg_unref(m);
}

/* --- a random walk checked against a model ------------------------------------------- */

/* What the test expects the session to hold: deliveries not yet sent, unacknowledged ones
 * in send order, and the identifiers due for retransmission after the last resume. */
struct model_entry {
    int msg; /* index into the test's messages */
    uint16_t id;
    uint8_t state; /* enum smq_outbound_state */
};

enum { WALK_OPS = 40000, WALK_WINDOW = 5 };

struct model {
    struct smq_msg *msgs[WALK_OPS];
    uint8_t qos[WALK_OPS];
    int n_msgs;
    int pending[WALK_OPS];
    int p_head, p_tail;
    struct model_entry unacked[WALK_WINDOW];
    int n_unacked;
    uint16_t due[WALK_WINDOW];
    int n_due;
    uint16_t next_id;
    bool online;
};

static uint32_t walk_rng = 0x9E3779B9u;

static uint32_t rnd(uint32_t n)
{
    walk_rng ^= walk_rng << 13;
    walk_rng ^= walk_rng >> 17;
    walk_rng ^= walk_rng << 5;
    return walk_rng % n;
}

static int model_find(const struct model *md, uint16_t id)
{
    for (int i = 0; i < md->n_unacked; i++) {
        if (md->unacked[i].id == id)
            return i;
    }
    return -1;
}

static void model_forget_due(struct model *md, uint16_t id)
{
    for (int i = 0; i < md->n_due; i++) {
        if (md->due[i] == id) {
            memmove(&md->due[i], &md->due[i + 1], (size_t)(md->n_due - i - 1) * sizeof(md->due[0]));
            md->n_due--;
            return;
        }
    }
}

static uint16_t model_allocate(struct model *md)
{
    for (;;) {
        uint16_t id = md->next_id;
        md->next_id = id == UINT16_MAX ? 1 : (uint16_t)(id + 1);
        if (model_find(md, id) < 0)
            return id;
    }
}

/* Sends acknowledgement kind (0 PUBACK, 1 PUBREC, 2 PUBCOMP) for id to both. */
static void walk_ack(struct smq_session_state *st, struct model *md, int op, int kind, uint16_t id)
{
    static const uint8_t wanted[3] = {SMQ_OUT_WAIT_PUBACK, SMQ_OUT_WAIT_PUBREC,
                                      SMQ_OUT_WAIT_PUBCOMP};
    int i = model_find(md, id);
    bool valid = i >= 0 && md->unacked[i].state == wanted[kind];
    int rc = kind == 0   ? smq_session_on_puback(st, id)
             : kind == 1 ? smq_session_on_pubrec(st, id)
                         : smq_session_on_pubcomp(st, id);
    if (rc != (valid ? 0 : SMQ_ENOENT))
        cr_assert_fail("op %d: ack kind %d of %u returned %d", op, kind, id, rc);
    if (!valid)
        return;
    struct smq_msg *msg = md->msgs[md->unacked[i].msg];
    if (kind == 1) {
        md->unacked[i].state = SMQ_OUT_WAIT_PUBCOMP;
    } else {
        memmove(&md->unacked[i], &md->unacked[i + 1],
                (size_t)(md->n_unacked - i - 1) * sizeof(md->unacked[0]));
        md->n_unacked--;
        model_forget_due(md, id);
    }
    if (kind != 2 && refs(msg) != 1)
        cr_assert_fail("op %d: message of %u not released (%u refs)", op, id, refs(msg));
}

static void walk_next(struct smq_session_state *st, struct model *md, int op)
{
    struct smq_send s = {0};
    bool got = smq_session_next(st, 0, &s);
    if (!md->online) {
        if (got)
            cr_assert_fail("op %d: sent while offline", op);
        return;
    }
    if (md->n_due > 0) {
        uint16_t id = md->due[0];
        model_forget_due(md, id);
        const struct model_entry *e = &md->unacked[model_find(md, id)];
        bool rel = e->state == SMQ_OUT_WAIT_PUBCOMP;
        if (!got || s.packet_id != id || s.kind != (rel ? SMQ_SEND_PUBREL : SMQ_SEND_PUBLISH) ||
            s.dup != !rel || (!rel && s.d->msg != md->msgs[e->msg]))
            cr_assert_fail("op %d: expected retransmission of %u (%s), got %d kind %d id %u", op,
                           id, rel ? "PUBREL" : "PUBLISH", got, (int)s.kind, s.packet_id);
        return;
    }
    if (md->p_head == md->p_tail) {
        if (got)
            cr_assert_fail("op %d: sent with nothing queued", op);
        return;
    }
    int m = md->pending[md->p_head];
    uint8_t qos = md->qos[m];
    if (qos > 0 && md->n_unacked >= WALK_WINDOW) {
        if (got)
            cr_assert_fail("op %d: sent past the window", op);
        return;
    }
    md->p_head++;
    uint16_t id = qos ? model_allocate(md) : 0;
    if (!got || s.kind != SMQ_SEND_PUBLISH || s.dup || s.packet_id != id ||
        s.d->msg != md->msgs[m] || s.d->qos != qos)
        cr_assert_fail("op %d: expected PUBLISH of message %d with id %u, got %d id %u", op, m, id,
                       got, s.packet_id);
    if (qos)
        md->unacked[md->n_unacked++] = (struct model_entry){
            m, id, qos == SMQ_QOS1 ? SMQ_OUT_WAIT_PUBACK : SMQ_OUT_WAIT_PUBREC};
    smq_send_release(&s); /* a QoS 0 one was handed to us */
}

static void walk_check(const struct smq_session_state *st, const struct model *md, int op)
{
    if (st->inflight_len != md->n_unacked || st->queue_len != (uint32_t)(md->p_tail - md->p_head))
        cr_assert_fail("op %d: inflight %u (model %d), queued %u (model %d)", op, st->inflight_len,
                       md->n_unacked, st->queue_len, md->p_tail - md->p_head);
    for (int i = 0; i < md->n_unacked; i++) {
        const struct smq_inflight *f = &st->inflight[(st->inflight_head + i) % st->inflight_cap];
        if (f->packet_id != md->unacked[i].id || f->state != md->unacked[i].state)
            cr_assert_fail("op %d: inflight[%d] is %u/%u, model %u/%u", op, i, f->packet_id,
                           f->state, md->unacked[i].id, md->unacked[i].state);
    }
}

Test(session, random_walk_matches_a_model)
{
    static struct model md;
    memset(&md, 0, sizeof(md));
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = WALK_WINDOW;
    lim.max_queued_messages = WALK_OPS;
    struct smq_session_state st;
    smq_session_state_init(&st, &lim);
    /* Start near the end of the identifier space so the walk wraps around it. */
    st.next_packet_id = 65000;
    md.next_id = 65000;
    for (int op = 0; op < WALK_OPS; op++) {
        uint32_t r = rnd(100);
        if (r < 30) {
            int m = md.n_msgs++;
            md.qos[m] = (uint8_t)rnd(3);
            md.msgs[m] = msg_n(m, md.qos[m]);
            bool dropped = md.qos[m] == SMQ_QOS0 && !md.online;
            enum smq_enqueue_result res = enqueue(&st, md.msgs[m], md.qos[m]);
            if (res != (dropped ? SMQ_ENQ_DROPPED_QOS0 : SMQ_ENQ_QUEUED))
                cr_assert_fail("op %d: enqueue returned %d", op, (int)res);
            if (!dropped)
                md.pending[md.p_tail++] = m;
        } else if (r < 65) {
            walk_next(&st, &md, op);
        } else if (r < 85) {
            if (md.n_unacked > 0) {
                const struct model_entry *e = &md.unacked[rnd((uint32_t)md.n_unacked)];
                int kind = e->state == SMQ_OUT_WAIT_PUBACK   ? 0
                           : e->state == SMQ_OUT_WAIT_PUBREC ? 1
                                                             : 2;
                walk_ack(&st, &md, op, kind, e->id);
            }
        } else if (r < 88) {
            uint16_t id = md.n_unacked && rnd(2) ? md.unacked[0].id : (uint16_t)rnd(65536);
            walk_ack(&st, &md, op, (int)rnd(3), id);
        } else if (r < 92) {
            smq_session_suspend(&st);
            md.online = false;
        } else if (r < 97) {
            smq_session_resume(&st);
            md.online = true;
            md.n_due = md.n_unacked;
            for (int i = 0; i < md.n_unacked; i++)
                md.due[i] = md.unacked[i].id;
        } else {
            smq_session_trim(&st);
        }
        walk_check(&st, &md, op);
    }
    cr_assert_lt(md.next_id, 65000, "the walk did not wrap the identifiers");
    smq_session_state_dispose(&st);
    for (int m = 0; m < md.n_msgs; m++) {
        if (refs(md.msgs[m]) != 1)
            cr_assert_fail("message %d: %u references after dispose", m, refs(md.msgs[m]));
        smq_msg_unref(md.msgs[m]);
    }
}

/* ---- backpressure watermarks (smq_session_pressure) ----------------------------------- */

/* An online session with max_queued_messages 100 (high watermark 50, low 25) whose window
 * of 10 is full, so what is enqueued waits in the queue. */
static void congestible(struct smq_session_state *st, struct smq_msg **msgs, int n)
{
    smq_session_state_init(st, &default_limits);
    smq_session_resume(st);
    for (int i = 0; i < n; i++) {
        msgs[i] = msg_n(i, SMQ_QOS1);
        cr_assert_eq(enqueue(st, msgs[i], SMQ_QOS1), SMQ_ENQ_QUEUED);
    }
    struct smq_send s;
    for (int i = 0; i < 10 && i < n; i++)
        cr_assert(smq_session_next(st, 0, &s));
}

static void release_msgs(struct smq_session_state *st, struct smq_msg **msgs, int n)
{
    smq_session_state_dispose(st);
    for (int i = 0; i < n; i++)
        smq_msg_unref(msgs[i]);
}

Test(session, pressure_starts_at_the_high_watermark)
{
    struct smq_session_state st;
    struct smq_msg *msgs[61];
    congestible(&st, msgs, 59); /* 10 inflight, 49 queued */
    cr_assert_not(smq_session_above_high(&st));
    cr_assert_eq(smq_session_pressure(&st, 0, 1000), SMQ_PRESSURE_NONE);
    cr_assert_not(st.congested);
    msgs[59] = msg_n(59, SMQ_QOS1);
    enqueue(&st, msgs[59], SMQ_QOS1); /* 50 queued: half of 100 */
    cr_assert(smq_session_above_high(&st));
    cr_assert_eq(smq_session_pressure(&st, 0, 1000), SMQ_PRESSURE_PAUSE);
    cr_assert(st.congested);
    msgs[60] = NULL;
    release_msgs(&st, msgs, 60);
}

Test(session, pressure_holds_until_the_low_watermark)
{
    struct smq_session_state st;
    struct smq_msg *msgs[60];
    congestible(&st, msgs, 60);
    cr_assert_eq(smq_session_pressure(&st, 0, 1000), SMQ_PRESSURE_PAUSE);
    /* Acknowledge and send until 26 are queued: below the high mark, above the low one. */
    struct smq_send s;
    uint16_t id = 1;
    while (st.queue_len > 26) {
        cr_assert_eq(smq_session_on_puback(&st, id++), 0);
        cr_assert(smq_session_next(&st, 0, &s));
        cr_assert_not(smq_session_relieved(&st), "relieved at %u queued", st.queue_len);
    }
    cr_assert_eq(smq_session_pressure(&st, 0, 1000), SMQ_PRESSURE_PAUSE, "still congested");
    cr_assert_eq(smq_session_on_puback(&st, id++), 0);
    cr_assert(smq_session_next(&st, 0, &s)); /* 25 queued: a quarter of 100 */
    cr_assert(smq_session_relieved(&st));
    cr_assert_not(st.congested);
    cr_assert_not(smq_session_relieved(&st), "relieved once");
    cr_assert_eq(smq_session_pressure(&st, 0, 1000), SMQ_PRESSURE_NONE);
    release_msgs(&st, msgs, 60);
}

Test(session, pressure_counts_bytes_too)
{
    struct smq_session_limits lim = default_limits;
    struct smq_msg *probe = msg_n(0, SMQ_QOS1);
    size_t cost = smq_msg_cost(probe);
    smq_msg_unref(probe);
    lim.max_queued_bytes = cost * 20; /* high watermark: 10 messages' worth */
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *msgs[20];
    struct smq_send s;
    for (int i = 0; i < 20; i++) {
        msgs[i] = msg_n(i, SMQ_QOS1);
        enqueue(&st, msgs[i], SMQ_QOS1);
        if (i < 10)
            cr_assert(smq_session_next(&st, 0, &s)); /* fills the window */
    }
    cr_assert_eq(st.queue_len, 10);
    cr_assert(smq_session_above_high(&st), "10 messages are half the byte budget");
    cr_assert_eq(smq_session_pressure(&st, 0, 1000), SMQ_PRESSURE_PAUSE);
    release_msgs(&st, msgs, 20);
}

Test(session, pressure_turns_slow_after_the_timeout_once)
{
    struct smq_session_state st;
    struct smq_msg *msgs[60];
    congestible(&st, msgs, 60);
    int64_t t0 = ((int64_t)1 << 33) - 500; /* the truncated clock wraps in between */
    cr_assert_eq(smq_session_pressure(&st, t0, 1000), SMQ_PRESSURE_PAUSE);
    cr_assert_eq(smq_session_pressure(&st, t0 + 999, 1000), SMQ_PRESSURE_PAUSE);
    cr_assert_eq(smq_session_pressure(&st, t0 + 1000, 1000), SMQ_PRESSURE_SLOW);
    cr_assert(st.slow);
    cr_assert_eq(smq_session_pressure(&st, t0 + 5000, 1000), SMQ_PRESSURE_NONE);
    /* Draining to the low watermark ends it; the next congestion starts a new clock. */
    struct smq_send s;
    uint16_t id = 1;
    while (st.queue_len > 25) {
        smq_session_on_puback(&st, id++);
        smq_session_next(&st, 0, &s);
    }
    cr_assert(smq_session_relieved(&st));
    cr_assert_not(st.slow);
    for (int i = 0; i < 25; i++) {
        struct smq_msg *m = msg_n(100 + i, SMQ_QOS1);
        enqueue(&st, m, SMQ_QOS1);
        smq_msg_unref(m);
    }
    cr_assert_eq(smq_session_pressure(&st, t0 + 6000, 1000), SMQ_PRESSURE_PAUSE);
    cr_assert_eq(smq_session_pressure(&st, t0 + 6999, 1000), SMQ_PRESSURE_PAUSE);
    release_msgs(&st, msgs, 60);
}

Test(session, pressure_needs_an_online_session_and_a_timeout)
{
    struct smq_session_state st;
    struct smq_msg *msgs[60];
    congestible(&st, msgs, 60);
    cr_assert_eq(smq_session_pressure(&st, 0, 0), SMQ_PRESSURE_NONE, "0 turns it off");
    cr_assert_eq(smq_session_pressure(&st, 0, 1000), SMQ_PRESSURE_PAUSE);
    smq_session_suspend(&st);
    cr_assert_not(st.congested, "going offline ends a congestion");
    cr_assert_eq(smq_session_pressure(&st, 0, 1000), SMQ_PRESSURE_NONE);
    release_msgs(&st, msgs, 60);
}

Test(session, tiny_queue_has_a_high_watermark_of_one)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 1;
    lim.max_queued_messages = 1;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *a = msg_n(1, SMQ_QOS1), *b = msg_n(2, SMQ_QOS1);
    struct smq_send s;
    enqueue(&st, a, SMQ_QOS1);
    cr_assert(smq_session_next(&st, 0, &s));
    cr_assert_not(smq_session_above_high(&st));
    enqueue(&st, b, SMQ_QOS1);
    cr_assert(smq_session_above_high(&st));
    cr_assert_eq(smq_session_pressure(&st, 0, 1000), SMQ_PRESSURE_PAUSE);
    smq_session_on_puback(&st, s.packet_id);
    cr_assert(smq_session_next(&st, 0, &s));
    cr_assert(smq_session_relieved(&st), "low watermark 0: relieved when empty");
    smq_session_state_dispose(&st);
    smq_msg_unref(a);
    smq_msg_unref(b);
}

Test(session, each_connection_is_a_new_epoch)
{
    struct smq_session_state st;
    smq_session_state_init(&st, &default_limits);
    cr_assert_eq(st.epoch, 0);
    smq_session_resume(&st);
    cr_assert_eq(st.epoch, 1);
    smq_session_suspend(&st);
    smq_session_resume(&st);
    cr_assert_eq(st.epoch, 2);
    st.epoch = UINT16_MAX;
    smq_session_suspend(&st);
    smq_session_resume(&st);
    cr_assert_eq(st.epoch, 1, "0 is skipped: it means no connection");
    smq_session_state_dispose(&st);
}

Test(session, needs_client_while_queued_behind_a_full_window)
{
    struct smq_session_limits lim = default_limits;
    lim.max_inflight = 2;
    struct smq_session_state st;
    start(&st, &lim);
    struct smq_msg *m[3] = {msg_n(1, SMQ_QOS1), msg_n(2, SMQ_QOS1), msg_n(3, SMQ_QOS1)};
    struct smq_send s;
    enqueue(&st, m[0], SMQ_QOS1);
    enqueue(&st, m[1], SMQ_QOS1);
    cr_assert(smq_session_next(&st, 0, &s));
    cr_assert(smq_session_next(&st, 0, &s));
    cr_assert_not(smq_session_needs_client(&st), "window full, nothing waits behind it");
    enqueue(&st, m[2], SMQ_QOS1);
    cr_assert(smq_session_needs_client(&st), "one waits for an acknowledgement");
    cr_assert_eq(smq_session_on_puback(&st, 1), 0);
    cr_assert(smq_session_next(&st, 0, &s));
    cr_assert_not(smq_session_needs_client(&st));
    smq_session_state_dispose(&st);
    for (int i = 0; i < 3; i++)
        smq_msg_unref(m[i]);
}
