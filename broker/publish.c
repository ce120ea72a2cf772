/* PUBLISH in and out: the inbound QoS flows, building the message once and handing it to
 * routing (route.c), the acknowledgements, and sending a session's deliveries. */
#include <stdlib.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "broker/worker.h"
#include "core/alloc.h"
#include "core/retained.h"
#include "core/topic_index.h"
#include "proto/encode.h"
#include "proto/errors.h"
#include "proto/reason.h"
#include "proto/topic.h"

static void send_ack(struct smq_conn *c, uint8_t type, uint16_t packet_id, uint8_t reason)
{
    struct smq_packet pkt = {.type = type};
    pkt.u.ack.packet_id = packet_id;
    pkt.u.ack.reason = reason;
    smq_conn_send(c, &pkt);
}

/* Checks the broker's limits on an inbound PUBLISH; returns 0 or the reason to close. */
static uint8_t check_publish(const struct smq_conn *c, const struct smq_publish *pkt)
{
    const struct smq_settings *set = &c->w->broker->settings;
    if (pkt->topic.len > set->max_topic_length ||
        smq_topic_levels(pkt->topic) > set->max_topic_levels)
        return SMQ_RC_TOPIC_NAME_INVALID;
    if (pkt->retain && !set->retain_available)
        return SMQ_RC_RETAIN_NOT_SUPPORTED;
    if (pkt->topic.len == 0)
        return SMQ_RC_TOPIC_ALIAS_INVALID; /* topic aliases are not accepted (maximum 0) */
    return 0;
}

void smq_handle_publish(struct smq_conn *c, const struct smq_publish *pkt)
{
    struct smq_worker *w = c->w;
    struct smq_session *s = c->session;
    uint8_t bad = check_publish(c, pkt);
    if (bad) {
        smq_conn_fail(c, bad, "PUBLISH");
        return;
    }
    if (pkt->qos == SMQ_QOS2) {
        int fresh = smq_session_on_qos2_publish(&s->st, pkt->packet_id);
        if (fresh == SMQ_ELIMIT) {
            smq_conn_fail(c, SMQ_RC_RECEIVE_MAXIMUM_EXCEEDED, "PUBLISH (awaiting PUBREL)");
            return;
        }
        if (fresh == 0) { /* [MQTT-4.3.3-9] a resend: acknowledge, do not deliver again */
            send_ack(c, SMQ_PUBREC, pkt->packet_id, 0);
            return;
        }
    }
    smq_stat_add(&w->stats.msgs_received, 1);
    struct smq_msg_init init = {
        .topic = pkt->topic,
        .payload = pkt->payload,
        .qos = pkt->qos,
        .retain = pkt->retain,
        .origin_session = s->id,
        .now_ms = w->now_ms,
        .props = c->version >= SMQ_V5 ? &pkt->props : NULL,
    };
    struct smq_msg *msg = smq_msg_new(&init);
    static _Thread_local struct smq_log_ratelimit full_log;
    if (pkt->retain &&
        smq_retained_set(w->broker->retained, msg, w->broker->settings.max_retained_messages) < 0)
        smq_log_limited(&full_log, 10000, SMQ_LOG_WARNING,
                        "retained store full: not storing a retained message of client=%s",
                        smq_session_log_id(s));
    smq_route(w, msg);
    smq_msg_unref(msg);
    if (pkt->qos == SMQ_QOS1)
        send_ack(c, SMQ_PUBACK, pkt->packet_id, 0);
    else if (pkt->qos == SMQ_QOS2)
        send_ack(c, SMQ_PUBREC, pkt->packet_id, 0);
}

void smq_handle_ack(struct smq_conn *c, uint8_t type, const struct smq_ack *ack)
{
    struct smq_session_state *st = &c->session->st;
    bool v5 = c->version >= SMQ_V5;
    switch (type) {
    case SMQ_PUBACK:
        smq_session_on_puback(st, ack->packet_id);
        break;
    case SMQ_PUBREC:
        if (smq_session_on_pubrec(st, ack->packet_id) == 0 || !v5)
            send_ack(c, SMQ_PUBREL, ack->packet_id, 0);
        else
            send_ack(c, SMQ_PUBREL, ack->packet_id, SMQ_RC_PACKET_ID_NOT_FOUND);
        break;
    case SMQ_PUBREL: {
        int rc = smq_session_on_pubrel(st, ack->packet_id);
        send_ack(c, SMQ_PUBCOMP, ack->packet_id,
                 rc == 0 || !v5 ? 0 : SMQ_RC_PACKET_ID_NOT_FOUND);
        break;
    }
    case SMQ_PUBCOMP:
        smq_session_on_pubcomp(st, ack->packet_id);
        break;
    default:
        break;
    }
    smq_pump(c->session);
}

/* Encodes one PUBLISH of a delivery into c's output, sharing the payload. */
static void send_publish(struct smq_conn *c, const struct smq_send *snd)
{
    const struct smq_delivery *d = snd->d;
    struct smq_msg *msg = d->msg;
    struct smq_publish pub = {
        .qos = d->qos,
        .dup = snd->dup,
        .retain = d->retain,
        .topic = msg->topic,
        .packet_id = snd->packet_id,
        .payload = msg->payload,
    };
    if (c->version >= SMQ_V5) {
        pub.props = msg->props;
        if (msg->has_expiry) {
            pub.props.present |= SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY);
            pub.props.message_expiry = smq_msg_expiry_left(msg, c->w->now_ms);
        }
        if (d->subscription_id) {
            pub.props.sub_ids = &d->subscription_id;
            pub.props.sub_ids_len = 1;
        }
    }
    size_t size = smq_encode_publish_header_size(c->version, &pub);
    uint8_t *dst = smq_conn_reserve(c, size);
    smq_encode_publish_header(dst, size, c->version, &pub);
    smq_conn_write_payload(c, msg);
}

void smq_pump(struct smq_session *s)
{
    struct smq_conn *c = s->conn;
    if (c == NULL || c->state != SMQ_CONN_ACTIVE)
        return;
    uint32_t limit = c->w->broker->settings.max_write_queue_bytes;
    struct smq_send snd;
    while (smq_conn_backlog(c) < limit && smq_session_next(&s->st, c->w->now_ms, &snd)) {
        if (snd.kind == SMQ_SEND_PUBREL) {
            send_ack(c, SMQ_PUBREL, snd.packet_id, 0);
            continue;
        }
        send_publish(c, &snd);
        smq_stat_add(&c->w->stats.msgs_sent, 1);
    }
}
