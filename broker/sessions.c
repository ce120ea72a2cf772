/* Session lifecycle (see sessions.h and handlers.h). */
#include "broker/sessions.h"

#include <string.h>

#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/worker.h"
#include "core/alloc.h"
#include "core/registry.h"
#include "core/retained.h"
#include "core/topic_index.h"

const char *smq_session_log_id(const struct smq_session *s)
{
    static _Thread_local char buf[128];
    return smq_log_escape(buf, sizeof(buf), s->client_id, s->client_id_len);
}

struct smq_session_limits smq_session_limits_of(const struct smq_settings *set)
{
    return (struct smq_session_limits){
        .max_inflight = set->max_inflight_messages,
        .max_queued_messages = set->max_queued_messages,
        .max_queued_bytes = set->max_queued_bytes,
        .max_awaiting_rel = set->max_awaiting_rel,
        .queue_qos0_offline = set->queue_qos0_messages,
    };
}

struct smq_session *smq_session_create(struct smq_worker *w, const char *client_id,
                                       size_t client_id_len)
{
    struct smq_session *s = smq_calloc(1, sizeof(*s));
    s->id = atomic_fetch_add_explicit(&w->broker->next_session_id, 1, memory_order_relaxed);
    s->client_id = smq_strndup(client_id, client_id_len);
    s->client_id_len = (uint16_t)client_id_len;
    struct smq_session_limits lim = smq_session_limits_of(&w->broker->settings);
    smq_session_state_init(&s->st, &lim);
    smq_worker_add_session(w, s);
    return s;
}

static void unsubscribe_all(struct smq_worker *w, struct smq_session *s)
{
    for (uint32_t i = 0; i < s->n_subs; i++) {
        struct smq_span filter = {(const uint8_t *)s->subs[i].filter, s->subs[i].len};
        smq_index_unsubscribe(w->broker->index, filter, s->id);
        smq_free(s->subs[i].filter);
    }
    smq_free(s->subs);
    s->subs = NULL;
    s->n_subs = s->subs_cap = 0;
}

void smq_session_reset(struct smq_worker *w, struct smq_session *s)
{
    unsubscribe_all(w, s);
    smq_session_state_dispose(&s->st);
    struct smq_session_limits lim = smq_session_limits_of(&w->broker->settings);
    smq_session_state_init(&s->st, &lim);
}

static void offline_unlink(struct smq_worker *w, struct smq_session *s)
{
    if (s->prev_offline)
        s->prev_offline->next_offline = s->next_offline;
    else if (w->offline == s)
        w->offline = s->next_offline;
    else
        return; /* not on the list */
    if (s->next_offline)
        s->next_offline->prev_offline = s->prev_offline;
    s->next_offline = s->prev_offline = NULL;
}

void smq_session_set_online(struct smq_worker *w, struct smq_session *s)
{
    offline_unlink(w, s);
    s->expires_at_ms = 0;
}

void smq_session_end(struct smq_worker *w, struct smq_session *s)
{
    smq_route_orphans(w, s); /* route.c: shared-subscription messages go to other members */
    offline_unlink(w, s);
    unsubscribe_all(w, s);
    struct smq_span id = {(const uint8_t *)s->client_id, s->client_id_len};
    smq_registry_release(w->broker->registry, id, s->id);
    smq_worker_remove_session(w, s);
    smq_session_state_dispose(&s->st);
    smq_free(s->client_id);
    smq_free(s);
}

void smq_publish_will(struct smq_worker *w, struct smq_msg *msg)
{
    if (msg->retain)
        smq_retained_set(w->broker->retained, msg, w->broker->settings.max_retained_messages);
    smq_route(w, msg);
    smq_msg_unref(msg);
}

static bool will_is_due(const struct smq_worker *w, int why)
{
    switch (why) {
    case SMQ_CLOSE_PEER_CLOSED:
    case SMQ_CLOSE_SOCKET_ERROR:
    case SMQ_CLOSE_PROTOCOL_ERROR:
    case SMQ_CLOSE_KEEPALIVE:
    case SMQ_CLOSE_TAKEN_OVER:
    case SMQ_CLOSE_DISCONNECT_WITH_WILL:
        return true; /* [MQTT-3.1.2-8]: every end but a DISCONNECT (5.0's 0x04 asks for it) */
    case SMQ_CLOSE_SHUTDOWN:
        return w->broker->settings.send_will_on_shutdown;
    default:
        return false;
    }
}

void smq_session_detach(struct smq_conn *c, int why)
{
    struct smq_worker *w = c->w;
    struct smq_session *s = c->session;
    struct smq_msg *will = c->will;
    c->will = NULL;
    c->session = NULL;
    s->conn = NULL;
    smq_session_suspend(&s->st);
    if (will && will_is_due(w, why))
        smq_publish_will(w, will);
    else
        smq_msg_unref(will);
    if (s->clean) {
        smq_session_end(w, s); /* [MQTT-3.1.2-6] */
        return;
    }
    smq_session_trim(&s->st);
    if (!w->broker->settings.queue_qos0_messages)
        smq_session_drop_qos0(&s->st);
    uint32_t expiry = w->broker->settings.persistent_client_expiration;
    s->expires_at_ms = expiry ? w->now_ms + (int64_t)expiry * 1000 : 0;
    s->prev_offline = NULL;
    s->next_offline = w->offline;
    if (w->offline)
        w->offline->prev_offline = s;
    w->offline = s;
}

void smq_sessions_expire(struct smq_worker *w)
{
    struct smq_session *s = w->offline;
    while (s) {
        struct smq_session *next = s->next_offline;
        if (w->stopping || (s->expires_at_ms != 0 && s->expires_at_ms <= w->now_ms)) {
            if (!w->stopping)
                smq_log(SMQ_LOG_INFO, "session expired client=%s", smq_session_log_id(s));
            smq_session_end(w, s);
        }
        s = next;
    }
}

bool smq_session_add_sub(struct smq_session *s, struct smq_span filter, uint8_t qos,
                         uint8_t flags, uint32_t subscription_id)
{
    for (uint32_t i = 0; i < s->n_subs; i++) {
        struct smq_subscription *sub = &s->subs[i];
        if (sub->len == filter.len && memcmp(sub->filter, filter.ptr, filter.len) == 0) {
            sub->qos = qos;
            sub->flags = flags;
            sub->subscription_id = subscription_id;
            return true;
        }
    }
    if (s->n_subs == s->subs_cap) {
        s->subs_cap = s->subs_cap ? s->subs_cap * 2 : 4;
        s->subs = smq_realloc(s->subs, s->subs_cap * sizeof(*s->subs));
    }
    s->subs[s->n_subs++] = (struct smq_subscription){
        .filter = smq_strndup((const char *)filter.ptr, filter.len),
        .len = (uint16_t)filter.len,
        .qos = qos,
        .flags = flags,
        .subscription_id = subscription_id,
    };
    return false;
}

bool smq_session_remove_sub(struct smq_session *s, struct smq_span filter)
{
    for (uint32_t i = 0; i < s->n_subs; i++) {
        struct smq_subscription *sub = &s->subs[i];
        if (sub->len == filter.len && memcmp(sub->filter, filter.ptr, filter.len) == 0) {
            smq_free(sub->filter);
            s->subs[i] = s->subs[--s->n_subs];
            return true;
        }
    }
    return false;
}
