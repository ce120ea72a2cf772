/* PUBLISH in and out: the inbound QoS flows, building the message once and handing it to
 * routing (route.c), the acknowledgements, and sending a session's deliveries.
 *
 * Inbound, a PUBLISH the broker cannot take at all closes the connection (v5: DISCONNECT
 * with the reason): a Topic Alias above our maximum (0x94) or never mapped (0x82), QoS
 * above max_qos (0x9B), a topic over the limits (0x90), retain when it is off (0x9A). One
 * the broker refuses as a message gets a PUBACK/PUBREC error on v5 and is not delivered:
 * payload not UTF-8 while its Payload Format Indicator says so and validate_payload_format
 * is on (0x99), a retained message the retained store has no room for (0x97). An accepted
 * one nobody subscribes to is acknowledged with 0x10.
 *
 * Outbound, every PUBLISH leaves through send_publish(): the remaining Message Expiry, every
 * Subscription Identifier of the delivery, a Topic Alias chosen from the connection's LRU
 * table, and the client's Maximum Packet Size, above which the PUBLISH is dropped, counted
 * and, for QoS 1/2, taken out of the inflight window as if acknowledged. */
#include <stdlib.h>
#include <string.h>

#include "broker/backpressure.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "broker/worker.h"
#include "core/alias.h"
#include "core/alloc.h"
#include "core/retained.h"
#include "core/topic_index.h"
#include "proto/encode.h"
#include "proto/errors.h"
#include "proto/reason.h"
#include "proto/topic.h"

/* Topics shorter than this go out as they are: an alias saves nothing on them (the Topic
 * Alias property takes 3 bytes) and would push a useful one out of the table. */
#define MIN_ALIASED_TOPIC 4u
/* Subscription Identifiers of one delivery encoded from the stack; more take a heap copy. */
#define SUB_IDS_ON_STACK 32u

static void send_ack(struct smq_conn *c, uint8_t type, uint16_t packet_id, uint8_t reason)
{
    struct smq_packet pkt = {.type = type};
    pkt.u.ack.packet_id = packet_id;
    pkt.u.ack.reason = reason;
    smq_conn_send(c, &pkt);
}

/* Sets *topic to the topic pkt publishes to, applying its Topic Alias (3.3.2.3.4, 3.3.4): a
 * topic with an alias (re)maps the alias, an empty topic takes the alias's topic. Returns 0,
 * 0x94 for an alias above the maximum we announced [MQTT-3.3.2-9], or 0x82 for an empty
 * topic with an alias never mapped on this connection. (Alias 0 never gets here: the
 * decoder refuses it with 0x82, like every forbidden zero property.) */
static uint8_t resolve_topic(struct smq_conn *c, const struct smq_publish *pkt,
                             struct smq_span *topic)
{
    *topic = pkt->topic;
    if (c->version < SMQ_V5 || !smq_props_has(&pkt->props, SMQ_PROP_TOPIC_ALIAS))
        return 0;
    uint16_t alias = pkt->props.topic_alias;
    if (alias == 0 || alias > c->topic_alias_max_in)
        return SMQ_RC_TOPIC_ALIAS_INVALID;
    if (c->alias_in == NULL)
        c->alias_in = smq_alias_in_new(c->topic_alias_max_in);
    if (pkt->topic.len > 0) {
        smq_alias_in_set(c->alias_in, alias, pkt->topic);
        return 0;
    }
    return smq_alias_in_get(c->alias_in, alias, topic) == 0 ? 0 : SMQ_RC_PROTOCOL_ERROR;
}

/* Checks the broker's limits on an inbound PUBLISH to topic; returns 0 or the reason to
 * close the connection with. */
static uint8_t check_publish(const struct smq_conn *c, const struct smq_publish *pkt,
                             struct smq_span topic)
{
    const struct smq_settings *set = &c->w->broker->settings;
    /* 3.2.2.3.4: a QoS above the Maximum QoS of CONNACK is 0x9B. A 3.x client, which was
     * never told, is closed as Mosquitto closes it. */
    if (pkt->qos > set->max_qos)
        return SMQ_RC_QOS_NOT_SUPPORTED;
    if (topic.len > set->max_topic_length || smq_topic_levels(topic) > set->max_topic_levels)
        return SMQ_RC_TOPIC_NAME_INVALID;
    if (pkt->retain && !set->retain_available)
        return SMQ_RC_RETAIN_NOT_SUPPORTED;
    return 0;
}

/* True when the broker validates payloads and pkt's says it is UTF-8 but is not. The only
 * pass over a payload, and only with validate_payload_format on. */
static bool payload_is_invalid(const struct smq_conn *c, const struct smq_publish *pkt)
{
    return c->w->broker->settings.validate_payload_format &&
           smq_props_has(&pkt->props, SMQ_PROP_PAYLOAD_FORMAT) && pkt->props.payload_format == 1 &&
           !smq_msg_payload_is_utf8(pkt->payload);
}

/* Counts and logs a message refused with reason (PUBACK/PUBREC on v5). */
static void note_refused(struct smq_conn *c, uint8_t reason)
{
    static _Thread_local struct smq_log_ratelimit refused_log;
    smq_stat_add(&c->w->stats.msgs_refused, 1);
    smq_log_limited(&refused_log, 10000, SMQ_LOG_WARNING,
                    "refusing a PUBLISH of client=%s: reason=0x%02x (%s)", smq_conn_client_id(c),
                    reason, smq_reason_name(reason));
}

/* Takes in the message of pkt (to topic): stores it when retained, routes it. Returns the
 * reason code of its acknowledgement: 0, 0x10 nobody subscribes (v5), or a refusal (v5:
 * 0x99, 0x97) after which the message went nowhere. */
static uint8_t take_message(struct smq_conn *c, const struct smq_publish *pkt,
                            struct smq_span topic)
{
    struct smq_worker *w = c->w;
    bool v5 = c->version >= SMQ_V5;
    if (v5 && payload_is_invalid(c, pkt)) {
        note_refused(c, SMQ_RC_PAYLOAD_FORMAT_INVALID);
        return SMQ_RC_PAYLOAD_FORMAT_INVALID;
    }
    smq_stat_add(&w->stats.msgs_received, 1);
    struct smq_msg_init init = {
        .topic = topic,
        .payload = pkt->payload,
        .qos = pkt->qos,
        .retain = pkt->retain,
        .origin_session = c->session->id,
        .origin_worker = w->id,
        .origin_epoch = c->session->st.epoch,
        .now_ms = w->now_ms,
        .props = v5 ? &pkt->props : NULL,
    };
    struct smq_msg *msg = smq_msg_new(&init);
    static _Thread_local struct smq_log_ratelimit full_log;
    if (pkt->retain &&
        smq_retained_set(w->broker->retained, msg, w->broker->settings.max_retained_messages,
                         w->now_ms) < 0) {
        /* v5 can be told: the message is refused whole (0x97), so a publisher that retries
         * does not deliver it twice. 3.x cannot: it is delivered, not retained. */
        if (v5) {
            smq_msg_unref(msg);
            note_refused(c, SMQ_RC_QUOTA_EXCEEDED);
            return SMQ_RC_QUOTA_EXCEEDED;
        }
        smq_log_limited(&full_log, 10000, SMQ_LOG_WARNING,
                        "retained store full: not storing a retained message of client=%s",
                        smq_conn_client_id(c));
    }
    uint32_t reached = smq_route(w, msg);
    smq_msg_unref(msg);
    return reached == 0 && v5 ? SMQ_RC_NO_MATCHING_SUBSCRIBERS : SMQ_RC_SUCCESS;
}

void smq_handle_publish(struct smq_conn *c, const struct smq_publish *pkt)
{
    struct smq_session *s = c->session;
    struct smq_span topic;
    uint8_t bad = resolve_topic(c, pkt, &topic);
    if (bad == 0)
        bad = check_publish(c, pkt, topic);
    if (bad) {
        smq_conn_fail(c, bad, "PUBLISH");
        return;
    }
    if (pkt->qos == SMQ_QOS2) {
        int fresh = smq_session_on_qos2_publish(&s->st, pkt->packet_id);
        if (fresh == SMQ_ELIMIT) {
            /* More QoS 2 messages awaiting PUBREL than the Receive Maximum we announced
             * (max_awaiting_rel) [MQTT-3.3.4-8]. */
            smq_conn_fail(c, SMQ_RC_RECEIVE_MAXIMUM_EXCEEDED, "PUBLISH (awaiting PUBREL)");
            return;
        }
        if (fresh == 0) { /* [MQTT-4.3.3-10] a resend: acknowledge, do not deliver again */
            send_ack(c, SMQ_PUBREC, pkt->packet_id, 0);
            return;
        }
    }
    uint8_t reason = take_message(c, pkt, topic);
    if (pkt->qos == SMQ_QOS1) {
        send_ack(c, SMQ_PUBACK, pkt->packet_id, reason);
    } else if (pkt->qos == SMQ_QOS2) {
        if (reason >= 0x80) /* no PUBREL follows a refusal [MQTT-4.3.3-9] */
            smq_session_cancel_qos2(&s->st, pkt->packet_id);
        send_ack(c, SMQ_PUBREC, pkt->packet_id, reason);
    }
}

void smq_handle_ack(struct smq_conn *c, uint8_t type, const struct smq_ack *ack)
{
    struct smq_session_state *st = &c->session->st;
    bool v5 = c->version >= SMQ_V5;
    switch (type) {
    case SMQ_PUBACK:
        smq_session_on_puback(st, ack->packet_id); /* any reason code ends a QoS 1 flow */
        break;
    case SMQ_PUBREC:
        if (v5 && ack->reason >= 0x80) /* refused: the flow ends, no PUBREL [MQTT-4.3.3-4] */
            smq_session_on_pubrec_error(st, ack->packet_id);
        else if (smq_session_on_pubrec(st, ack->packet_id) == 0 || !v5)
            send_ack(c, SMQ_PUBREL, ack->packet_id, 0);
        else
            send_ack(c, SMQ_PUBREL, ack->packet_id, SMQ_RC_PACKET_ID_NOT_FOUND);
        break;
    case SMQ_PUBREL: {
        int rc = smq_session_on_pubrel(st, ack->packet_id);
        send_ack(c, SMQ_PUBCOMP, ack->packet_id, rc == 0 || !v5 ? 0 : SMQ_RC_PACKET_ID_NOT_FOUND);
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

/* Points props at every Subscription Identifier of d [MQTT-3.3.4-3]: the first and the
 * others in one array, on stack (SUB_IDS_ON_STACK) or, for more, on the heap. Returns the
 * heap array the caller frees, or NULL. */
static uint32_t *put_sub_ids(struct smq_props *props, const struct smq_delivery *d, uint32_t *stack)
{
    if (d->n_more_sub_ids == 0) {
        if (d->subscription_id != 0) {
            props->sub_ids = &d->subscription_id;
            props->sub_ids_len = 1;
        }
        return NULL;
    }
    size_t n = 1u + d->n_more_sub_ids;
    uint32_t *heap = n > SUB_IDS_ON_STACK ? smq_alloc(n * sizeof(*heap)) : NULL;
    uint32_t *ids = heap ? heap : stack;
    uint16_t len = 0;
    if (d->subscription_id != 0)
        ids[len++] = d->subscription_id;
    memcpy(ids + len, d->more_sub_ids, d->n_more_sub_ids * sizeof(*ids));
    len = (uint16_t)(len + d->n_more_sub_ids);
    props->sub_ids = ids;
    props->sub_ids_len = len;
    return heap;
}

/* Gives an outbound v5 PUBLISH its Topic Alias (3.3.2.3.4), when the client accepts them: a
 * topic with an alias goes as the alias and an empty topic; one without will get a new
 * alias, sent with the topic, once the packet is known to fit (then this returns true and
 * the caller assigns it; the value set here is a placeholder of the same size). A
 * retransmission carries its topic: the aliases of the connection it was first sent on are
 * gone [MQTT-3.3.2-7]. */
static bool choose_alias(struct smq_conn *c, const struct smq_send *snd, struct smq_publish *pub)
{
    if (c->topic_alias_max_out == 0 || snd->dup || pub->topic.len < MIN_ALIASED_TOPIC)
        return false;
    if (c->alias_out == NULL)
        c->alias_out = smq_alias_out_new(c->topic_alias_max_out);
    pub->props.present |= SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS);
    pub->props.topic_alias = smq_alias_out_find(c->alias_out, pub->topic);
    if (pub->props.topic_alias != 0) {
        pub->topic = (struct smq_span){NULL, 0};
        return false;
    }
    pub->props.topic_alias = 1;
    return true;
}

/* True when a PUBLISH of header bytes plus payload fits the client's Maximum Packet Size
 * [MQTT-3.1.2-24] (header 0: past the protocol's own maximum). */
static bool fits(const struct smq_conn *c, size_t header, const struct smq_msg *msg)
{
    return header != 0 &&
           (c->max_packet_out == 0 || header + msg->payload.len <= c->max_packet_out);
}

/* Encodes one PUBLISH of a delivery into c's output, sharing the payload. Returns false,
 * sending nothing, when it is larger than the client accepts. */
static bool send_publish(struct smq_conn *c, const struct smq_send *snd)
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
    uint32_t stack_ids[SUB_IDS_ON_STACK];
    uint32_t *heap_ids = NULL;
    bool new_alias = false;
    if (c->version >= SMQ_V5) {
        pub.props = msg->props;
        if (msg->has_expiry) { /* [MQTT-3.3.2-6] what is left of it */
            pub.props.present |= SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY);
            pub.props.message_expiry = smq_msg_expiry_left(msg, c->w->now_ms);
        }
        heap_ids = put_sub_ids(&pub.props, d, stack_ids);
        new_alias = choose_alias(c, snd, &pub);
    }
    size_t size = smq_encode_publish_header_size(c->version, &pub);
    if (new_alias && !fits(c, size, msg)) { /* it may fit without the alias */
        pub.props.present &= ~SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS);
        new_alias = false;
        size = smq_encode_publish_header_size(c->version, &pub);
    }
    bool ok = fits(c, size, msg);
    if (ok) {
        if (new_alias)
            pub.props.topic_alias = smq_alias_out_assign(c->alias_out, msg->topic);
        uint8_t *dst = smq_conn_reserve(c, size);
        smq_encode_publish_header(dst, size, c->version, &pub);
        smq_conn_write_payload(c, msg);
    }
    smq_free(heap_ids);
    return ok;
}

/* Counts and logs a PUBLISH dropped for the client's Maximum Packet Size. */
static void note_too_large(struct smq_conn *c, const struct smq_msg *msg)
{
    static _Thread_local struct smq_log_ratelimit too_large_log;
    smq_stat_add(&c->w->stats.msgs_too_large, 1);
    smq_log_limited(&too_large_log, 10000, SMQ_LOG_INFO,
                    "dropping a PUBLISH of %zu payload bytes for client=%s: above its Maximum "
                    "Packet Size %u",
                    msg->payload.len, smq_conn_client_id(c), c->max_packet_out);
}

void smq_pump(struct smq_session *s)
{
    struct smq_conn *c = s->conn;
    if (c == NULL || c->state != SMQ_CONN_ACTIVE)
        return;
    uint32_t limit = c->w->broker->settings.max_write_queue_bytes;
    uint32_t expired = s->st.dropped_expired;
    struct smq_send snd;
    while (smq_conn_backlog(c) < limit && smq_session_next(&s->st, c->w->now_ms, &snd)) {
        if (snd.kind == SMQ_SEND_PUBREL) {
            send_ack(c, SMQ_PUBREL, snd.packet_id, 0);
            continue;
        }
        if (!send_publish(c, &snd)) {
            /* [MQTT-3.1.2-25] discarded as if its delivery had completed */
            note_too_large(c, snd.d->msg);
            smq_session_discard(&s->st, &snd);
        } else {
            smq_stat_add(&c->w->stats.msgs_sent, 1);
        }
        smq_send_release(&snd); /* a QoS 0 one is ours; the connection holds its own reference */
    }
    /* The counter is 32 bits and may wrap: the difference, in uint32_t, is still the count. */
    uint32_t newly_expired = s->st.dropped_expired - expired;
    if (newly_expired != 0)
        smq_stat_add(&c->w->stats.msgs_expired, newly_expired);
    smq_backpressure_pumped(c->w, s);
}
