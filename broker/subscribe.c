/* SUBSCRIBE and UNSUBSCRIBE: the shared index, the session's own list, SUBACK/UNSUBACK, and
 * the retained messages a new subscription receives.
 *
 * The index is updated before SUBACK is queued, so a message published after the client
 * saw its SUBACK is always matched. Retained messages are queued after SUBACK.
 *
 * Each filter gets its own SUBACK code (3.9.3), checked in this order: a capability the
 * broker turned off (0xA1 Subscription Identifiers, 0x9E shared, 0xA2 wildcards), the
 * filter's size (0x8F), the session's quota (0x97), then the index's own depth limit (0x83,
 * unreachable while max_topic_levels is capped at that limit). Otherwise the granted QoS:
 * the requested one capped by max_qos (3.8.4; [MQTT-3.2.2-10] a SUBSCRIBE asking more is
 * still accepted). A 3.x client gets 0x80 for every failure, its only failure code. */
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

/* Checks a filter against the broker's capabilities and limits; returns 0 or a SUBACK
 * failure code. has_sub_id: the SUBSCRIBE carries a Subscription Identifier. */
static uint8_t check_filter(const struct smq_session *s, const struct smq_settings *set,
                            const struct smq_sub_entry *e, bool has_sub_id)
{
    /* 3.9.3: each of these refuses the subscription, not the connection. */
    if (has_sub_id && !set->subscription_identifier_available)
        return SMQ_RC_SUBSCRIPTION_IDS_NOT_SUPPORTED;
    struct smq_span group, inner = e->filter;
    bool shared = smq_topic_is_shared(e->filter);
    if (shared && !set->shared_subscription_available)
        return SMQ_RC_SHARED_SUBS_NOT_SUPPORTED;
    if (shared && !smq_topic_share_split(e->filter, &group, &inner))
        return SMQ_RC_TOPIC_FILTER_INVALID; /* the decoder refuses it first */
    if (!set->wildcard_subscription_available && smq_topic_has_wildcard(inner))
        return SMQ_RC_WILDCARD_SUBS_NOT_SUPPORTED;
    /* The limits on topics apply to the filter that is matched against them: a shared
     * filter's inner one. */
    if (inner.len > set->max_topic_length || smq_topic_levels(inner) > set->max_topic_levels)
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
    uint32_t subscription_id;
};

static void on_retained(void *ctx, struct smq_msg *msg)
{
    struct retained_ctx *rc = ctx;
    struct smq_delivery d = {
        .msg = smq_msg_ref(msg),
        /* [MQTT-3.3.4-3]: the identifier of the subscription the message answers */
        .subscription_id = rc->subscription_id,
        .qos = msg->qos < rc->granted ? msg->qos : rc->granted,
        .retain = true, /* [MQTT-3.3.1-8]; Retain As Published does not change it */
    };
    smq_session_enqueue(&rc->s->st, &d);
}

/* Subscribes one entry; returns the SUBACK code. Sets *is_new when it added a filter. */
static uint8_t subscribe_one(struct smq_conn *c, const struct smq_sub_entry *e,
                             const struct smq_subscribe *pkt, bool *is_new)
{
    struct smq_worker *w = c->w;
    struct smq_session *s = c->session;
    const struct smq_settings *set = &w->broker->settings;
    bool has_sub_id = smq_props_has(&pkt->props, SMQ_PROP_SUBSCRIPTION_ID);
    uint8_t bad = check_filter(s, set, e, has_sub_id);
    if (bad)
        return bad;
    uint8_t granted = e->qos < set->max_qos ? e->qos : set->max_qos;
    struct smq_sub_target target = {
        .session_id = s->id,
        .subscription_id = has_sub_id ? pkt->props.subscription_id : 0,
        .shard = w->id,
        .qos = granted,
        .flags = (uint8_t)((e->no_local ? SMQ_SUB_NO_LOCAL : 0) |
                           (e->retain_as_published ? SMQ_SUB_RETAIN_AS_PUBLISHED : 0)),
    };
    int rc = smq_index_subscribe(w->broker->index, e->filter, &target);
    if (rc == SMQ_ELIMIT)
        return SMQ_RC_IMPLEMENTATION_ERROR; /* deeper than SMQ_INDEX_MAX_LEVELS */
    if (rc < 0)
        return SMQ_RC_UNSPECIFIED; /* not a filter the decoder lets through */
    *is_new = !smq_session_add_sub(s, e->filter, granted, target.flags, target.subscription_id);
    if (smq_log_enabled(SMQ_LOG_DEBUG)) {
        char f[256];
        smq_log(SMQ_LOG_DEBUG, "subscribe client=%s filter=\"%s\" qos=%u", smq_session_log_id(s),
                smq_log_escape(f, sizeof(f), e->filter.ptr, e->filter.len), granted);
    }
    return granted;
}

/* One log line per refused filter, rate-limited: a client may send thousands. */
static void log_refused(const struct smq_conn *c, const struct smq_sub_entry *e, uint8_t code)
{
    static _Thread_local struct smq_log_ratelimit refused_log;
    char f[256];
    smq_log_limited(&refused_log, 10000, SMQ_LOG_NOTICE,
                    "subscription refused client=%s filter=\"%s\" reason=0x%02x (%s)",
                    smq_session_log_id(c->session),
                    smq_log_escape(f, sizeof(f), e->filter.ptr, e->filter.len), code,
                    smq_reason_name(code));
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
    size_t pos = 0;
    struct smq_sub_entry e;
    for (uint32_t i = 0; smq_subscribe_next(pkt, c->version, &pos, &e); i++) {
        is_new[i] = false;
        codes[i] = subscribe_one(c, &e, pkt, &is_new[i]);
        if (codes[i] >= 0x80)
            log_refused(c, &e, codes[i]);
        if (c->version < SMQ_V5 && codes[i] >= 0x80)
            codes[i] = 0x80; /* 3.1.1 has one failure code */
    }
    struct smq_packet ack = {.type = SMQ_SUBACK};
    ack.u.sub_ack.packet_id = pkt->packet_id;
    ack.u.sub_ack.reasons = (struct smq_span){codes, pkt->count};
    smq_conn_send(c, &ack);
    /* Retained messages follow the SUBACK, filter by filter. */
    uint32_t sub_id =
        smq_props_has(&pkt->props, SMQ_PROP_SUBSCRIPTION_ID) ? pkt->props.subscription_id : 0;
    if (!c->w->broker->settings.retain_available)
        goto done;
    pos = 0;
    for (uint32_t i = 0; smq_subscribe_next(pkt, c->version, &pos, &e); i++) {
        if (codes[i] >= 0x80 || !wants_retained(&e, is_new[i]))
            continue;
        struct retained_ctx rc = {c->session, codes[i], sub_id};
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
