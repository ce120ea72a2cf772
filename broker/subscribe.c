/* SUBSCRIBE and UNSUBSCRIBE: the shared index, the session's own list, SUBACK/UNSUBACK, and
 * the retained messages a new subscription receives.
 *
 * The index is updated before SUBACK is queued, so a message published after the client
 * saw its SUBACK is always matched. Retained messages are queued after SUBACK. */
#include <string.h>

#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "broker/worker.h"
#include "core/retained.h"
#include "core/topic_index.h"
#include "proto/decode.h"
#include "proto/errors.h"
#include "proto/reason.h"
#include "proto/topic.h"

/* Most filters one SUBSCRIBE may carry: bounded by the packet size anyway, this keeps the
 * SUBACK on the stack. */
#define MAX_FILTERS_PER_PACKET 1024u

static bool has_filter(const struct smq_session *s, struct smq_span filter)
{
    for (uint32_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i].len == filter.len && memcmp(s->subs[i].filter, filter.ptr, filter.len) == 0)
            return true;
    }
    return false;
}

/* Checks a filter against the broker's limits; returns 0 or a SUBACK failure code. */
static uint8_t check_filter(const struct smq_session *s, const struct smq_settings *set,
                            const struct smq_sub_entry *e)
{
    if (e->filter.len > set->max_topic_length ||
        smq_topic_levels(e->filter) > set->max_topic_levels)
        return SMQ_RC_TOPIC_FILTER_INVALID;
    /* [MQTT-3.8.4-3] an identical filter replaces its subscription: it adds none. */
    if (set->max_subscriptions_per_session && s->n_subs >= set->max_subscriptions_per_session &&
        !has_filter(s, e->filter))
        return SMQ_RC_QUOTA_EXCEEDED;
    return 0;
}

struct retained_ctx {
    struct smq_session *s;
    uint8_t granted;
};

static void on_retained(void *ctx, struct smq_msg *msg)
{
    struct retained_ctx *rc = ctx;
    struct smq_delivery d = {
        .msg = smq_msg_ref(msg),
        .qos = msg->qos < rc->granted ? msg->qos : rc->granted,
        .retain = true, /* [MQTT-3.3.1-8] */
    };
    smq_session_enqueue(&rc->s->st, &d);
}

/* Subscribes one entry; returns the SUBACK code. Sets *is_new when it added a filter. */
static uint8_t subscribe_one(struct smq_conn *c, const struct smq_sub_entry *e,
                             uint32_t subscription_id, bool *is_new)
{
    struct smq_worker *w = c->w;
    struct smq_session *s = c->session;
    uint8_t bad = check_filter(s, &w->broker->settings, e);
    if (bad)
        return bad;
    struct smq_sub_target target = {
        .session_id = s->id,
        .subscription_id = subscription_id,
        .shard = w->id,
        .qos = e->qos,
        .flags = (uint8_t)((e->no_local ? SMQ_SUB_NO_LOCAL : 0) |
                           (e->retain_as_published ? SMQ_SUB_RETAIN_AS_PUBLISHED : 0)),
    };
    int rc = smq_index_subscribe(w->broker->index, e->filter, &target);
    if (rc < 0)
        return SMQ_RC_TOPIC_FILTER_INVALID;
    *is_new = !smq_session_add_sub(s, e->filter, e->qos, target.flags, subscription_id);
    if (smq_log_enabled(SMQ_LOG_DEBUG)) {
        char f[256];
        smq_log(SMQ_LOG_DEBUG, "subscribe client=%s filter=\"%s\" qos=%u", s->client_id,
                smq_log_escape(f, sizeof(f), e->filter.ptr, e->filter.len), e->qos);
    }
    return e->qos; /* granted QoS = requested: every QoS is supported */
}

/* Whether a subscription gets the retained messages (3.3.1.3, and Retain Handling). */
static bool wants_retained(const struct smq_sub_entry *e, bool is_new)
{
    if (smq_topic_is_shared(e->filter))
        return false; /* 4.8.2: retained messages are not sent for a shared subscription */
    return e->retain_handling == 0 || (e->retain_handling == 1 && is_new);
}

void smq_handle_subscribe(struct smq_conn *c, const struct smq_subscribe *pkt)
{
    if (pkt->count > MAX_FILTERS_PER_PACKET) {
        smq_conn_fail(c, SMQ_RC_QUOTA_EXCEEDED, "SUBSCRIBE (too many filters)");
        return;
    }
    uint8_t codes[MAX_FILTERS_PER_PACKET];
    bool is_new[MAX_FILTERS_PER_PACKET];
    uint32_t sub_id = smq_props_has(&pkt->props, SMQ_PROP_SUBSCRIPTION_ID)
                          ? pkt->props.subscription_id
                          : 0;
    size_t pos = 0;
    struct smq_sub_entry e;
    for (uint32_t i = 0; smq_subscribe_next(pkt, c->version, &pos, &e); i++) {
        is_new[i] = false;
        codes[i] = subscribe_one(c, &e, sub_id, &is_new[i]);
        if (c->version < SMQ_V5 && codes[i] >= 0x80)
            codes[i] = 0x80; /* 3.1.1 has one failure code */
    }
    struct smq_packet ack = {.type = SMQ_SUBACK};
    ack.u.sub_ack.packet_id = pkt->packet_id;
    ack.u.sub_ack.reasons = (struct smq_span){codes, pkt->count};
    smq_conn_send(c, &ack);
    /* Retained messages follow the SUBACK, filter by filter. */
    if (!c->w->broker->settings.retain_available)
        goto done;
    pos = 0;
    for (uint32_t i = 0; smq_subscribe_next(pkt, c->version, &pos, &e); i++) {
        if (codes[i] >= 0x80 || !wants_retained(&e, is_new[i]))
            continue;
        struct retained_ctx rc = {c->session, codes[i]};
        smq_retained_match(c->w->broker->retained, e.filter, on_retained, &rc);
    }
done:
    smq_pump(c->session);
}

void smq_handle_unsubscribe(struct smq_conn *c, const struct smq_unsubscribe *pkt)
{
    if (pkt->count > MAX_FILTERS_PER_PACKET) {
        smq_conn_fail(c, SMQ_RC_QUOTA_EXCEEDED, "UNSUBSCRIBE (too many filters)");
        return;
    }
    uint8_t codes[MAX_FILTERS_PER_PACKET];
    struct smq_session *s = c->session;
    size_t pos = 0;
    struct smq_span filter;
    for (uint32_t i = 0; smq_unsubscribe_next(pkt, &pos, &filter); i++) {
        bool had = smq_session_remove_sub(s, filter);
        if (had)
            smq_index_unsubscribe(c->w->broker->index, filter, s->id);
        codes[i] = had ? SMQ_RC_SUCCESS : SMQ_RC_NO_SUBSCRIPTION_EXISTED;
    }
    struct smq_packet ack = {.type = SMQ_UNSUBACK};
    ack.u.sub_ack.packet_id = pkt->packet_id;
    ack.u.sub_ack.reasons = (struct smq_span){codes, pkt->count};
    smq_conn_send(c, &ack);
}
