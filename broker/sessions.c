/* Session lifecycle (see sessions.h and handlers.h). */
#include "broker/sessions.h"

#include <string.h>

#include "broker/conn.h"
#include "broker/ghosts.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/worker.h"
#include "core/alloc.h"
#include "core/assert.h"
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
        /* 0 means one at a time: the inflight ring needs room for one */
        .max_inflight = set->max_inflight_messages ? set->max_inflight_messages : 1,
        .max_queued_messages = set->max_queued_messages,
        .max_queued_bytes = set->max_queued_bytes,
        .max_awaiting_rel = set->max_awaiting_rel,
        .queue_qos0_offline = set->queue_qos0_messages,
    };
}

struct smq_session *smq_session_create(struct smq_worker *w, const char *client_id,
                                       size_t client_id_len)
{
    struct smq_session *s = smq_calloc(1, sizeof(*s) + client_id_len + 1);
    s->id = atomic_fetch_add_explicit(&w->broker->next_session_id, 1, memory_order_relaxed);
    memcpy(s->client_id, client_id, client_id_len); /* calloc wrote the NUL */
    s->client_id_len = (uint16_t)client_id_len;
    smq_session_state_init(&s->st, &w->broker->session_limits);
    smq_worker_add_session(w, s);
    return s;
}

/* Returns s's timers, allocating them on first use. */
static struct smq_session_timers *timers_of(struct smq_session *s)
{
    if (s->timers == NULL) {
        s->timers = smq_calloc(1, sizeof(*s->timers));
        s->timers->session = s;
        s->timers->expiry_timer.tag = SMQ_TIMER_SESSION;
        s->timers->will_timer.tag = SMQ_TIMER_WILL;
    }
    return s->timers;
}

/* Frees s's timers once nothing is scheduled, waiting or asked for (most sessions spend
 * their life without them). */
static void drop_idle_timers(struct smq_session *s)
{
    struct smq_session_timers *t = s->timers;
    if (t == NULL || t->pending_will != NULL || t->will_delay != 0 ||
        smq_expiry_is_scheduled(&t->expiry_timer) || smq_expiry_is_scheduled(&t->will_timer))
        return;
    smq_free(t);
    s->timers = NULL;
}

void smq_session_set_will_delay(struct smq_session *s, uint32_t seconds)
{
    if (seconds == 0 && s->timers == NULL)
        return;
    timers_of(s)->will_delay = seconds;
    drop_idle_timers(s);
}

/* Cancels s's session expiry, if it was scheduled. */
static void cancel_expiry(struct smq_worker *w, struct smq_session *s)
{
    if (s->timers)
        smq_expiry_cancel(&w->timers, &s->timers->expiry_timer);
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
    smq_route_orphans(w, s); /* the old session ends here too: its shared messages move on */
    unsubscribe_all(w, s);
    smq_session_state_dispose(&s->st);
    smq_session_state_init(&s->st, &w->broker->session_limits);
}

void smq_session_set_online(struct smq_worker *w, struct smq_session *s)
{
    cancel_expiry(w, s);
    drop_idle_timers(s);
}

/* Removes s's pending will from the heap and returns it (owned), or NULL. */
static struct smq_msg *take_pending_will(struct smq_worker *w, struct smq_session *s)
{
    struct smq_session_timers *t = s->timers;
    if (t == NULL)
        return NULL;
    struct smq_msg *will = t->pending_will;
    t->pending_will = NULL;
    smq_expiry_cancel(&w->timers, &t->will_timer);
    return will;
}

void smq_session_end(struct smq_worker *w, struct smq_session *s)
{
    smq_route_orphans(w, s); /* route.c: shared-subscription messages go to other members */
    cancel_expiry(w, s);
    /* Deliveries already routed to s from other workers go to other group members. */
    struct smq_ghost *ghost = smq_ghost_new(w, s);
    unsubscribe_all(w, s);
    smq_ghost_arm(ghost);
    struct smq_span id = {(const uint8_t *)s->client_id, s->client_id_len};
    smq_registry_release(w->broker->registry, id, s->id);
    smq_worker_remove_session(w, s);
    /* [MQTT-3.1.3-9] a delayed will goes when its session ends, if that comes first; the
     * session is out of the table by now, so the will cannot be queued to it. */
    struct smq_msg *will = take_pending_will(w, s);
    if (will)
        smq_publish_will(w, will);
    smq_session_state_dispose(&s->st);
    smq_free(s->timers); /* nothing of it is in the heap any more */
    smq_free(s);
}

void smq_session_settle_will(struct smq_worker *w, struct smq_session *s, bool session_ends)
{
    struct smq_msg *will = take_pending_will(w, s);
    drop_idle_timers(s);
    if (will == NULL)
        return;
    if (session_ends) {
        smq_publish_will(w, will); /* the old session ends before the delay is over */
        return;
    }
    smq_msg_unref(will); /* [MQTT-3.1.3-9] reconnected within the Will Delay Interval */
}

void smq_publish_will(struct smq_worker *w, struct smq_msg *msg)
{
    /* 3.1.3.2.4: a will's Message Expiry counts from its publication, not from CONNECT. Only
     * this worker holds msg until it is routed. */
    smq_msg_restart_expiry(msg, w->now_ms);
    if (msg->retain)
        smq_retained_set(w->broker->retained, msg, w->broker->settings.max_retained_messages,
                         w->now_ms);
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

/* The will of a connection that ended for a reason that publishes it: now, or after its
 * Will Delay Interval when the session outlives the connection [MQTT-3.1.3-9]. */
static void handle_will(struct smq_worker *w, struct smq_session *s, struct smq_msg *will,
                        bool session_ends)
{
    uint32_t delay = s->timers ? s->timers->will_delay : 0;
    if (delay == 0 || session_ends || w->stopping) {
        smq_publish_will(w, will);
        return;
    }
    struct smq_session_timers *t = s->timers;
    SMQ_ASSERT(t->pending_will == NULL); /* a reconnect settled the previous one */
    t->pending_will = will;
    smq_worker_schedule(w, &t->will_timer, smq_expiry_after(w->now_ms, delay));
}

void smq_session_detach(struct smq_conn *c, int why)
{
    struct smq_worker *w = c->w;
    struct smq_session *s = c->session;
    struct smq_msg *will = smq_conn_take_will(c);
    c->session = NULL;
    s->conn = NULL;
    smq_session_suspend(&s->st);
    /* A session taken over is resumed (or reset) by the new connection right away: connect.c
     * decides, so it is parked here whatever its expiry. */
    bool ends = s->expiry_interval == 0 && why != SMQ_CLOSE_TAKEN_OVER;
    if (will && will_is_due(w, why))
        handle_will(w, s, will, ends);
    else
        smq_msg_unref(will);
    if (ends) {
        smq_session_end(w, s); /* [MQTT-3.1.2-6] [MQTT-3.1.2-23] */
        return;
    }
    smq_session_trim(&s->st);
    if (!w->broker->settings.queue_qos0_messages)
        smq_session_drop_qos0(&s->st);
    /* [MQTT-3.1.2-23] the session lives Session Expiry Interval seconds after the close;
     * UINT32_MAX never expires (3.1.2.11.2). */
    if (s->expiry_interval != UINT32_MAX && why != SMQ_CLOSE_TAKEN_OVER)
        smq_worker_schedule(w, &timers_of(s)->expiry_timer,
                            smq_expiry_after(w->now_ms, s->expiry_interval));
}

/* One deadline of the heap came due. */
static void on_deadline(struct smq_worker *w, struct smq_expiry_node *n)
{
    if (n->tag == SMQ_TIMER_WILL) {
        struct smq_session_timers *t = caa_container_of(n, struct smq_session_timers, will_timer);
        struct smq_msg *will = t->pending_will;
        t->pending_will = NULL;
        if (will)
            smq_publish_will(w, will);
        return;
    }
    struct smq_session *s =
        caa_container_of(n, struct smq_session_timers, expiry_timer)->session;
    SMQ_ASSERT(s->conn == NULL);
    smq_log(SMQ_LOG_INFO, "session expired client=%s", smq_session_log_id(s));
    smq_session_end(w, s);
}

void smq_sessions_expire(struct smq_worker *w)
{
    struct smq_expiry_node *n;
    while ((n = smq_expiry_pop_due(&w->timers, w->now_ms)) != NULL)
        on_deadline(w, n);
}

/* Returns every session of w in an owned array (*n of them): ending one removes it from the
 * table, so the table is not walked while sessions end. */
static struct smq_session **all_sessions(struct smq_worker *w, size_t *n)
{
    size_t cap = 64;
    struct smq_session **all = smq_alloc(cap * sizeof(*all));
    struct cds_lfht_iter iter;
    struct cds_lfht_node *node;
    *n = 0;
    /* Not cds_lfht_for_each_entry: it forms container_of(NULL) at the end (UBSan). */
    cds_lfht_for_each(w->sessions, &iter, node) {
        if (*n == cap) {
            cap *= 2;
            all = smq_realloc(all, cap * sizeof(*all));
        }
        all[(*n)++] = caa_container_of(node, struct smq_session, by_id);
    }
    return all;
}

void smq_sessions_stop(struct smq_worker *w)
{
    /* While the loop still runs, so the routing of a will may reach other workers' inboxes
     * the way the wills of the connections just closed did. */
    size_t n;
    struct smq_session **all = all_sessions(w, &n);
    for (size_t i = 0; i < n; i++) {
        struct smq_msg *will = take_pending_will(w, all[i]);
        if (will && w->broker->settings.send_will_on_shutdown)
            smq_publish_will(w, will);
        else
            smq_msg_unref(will);
    }
    smq_free(all);
}

void smq_sessions_end_all(struct smq_worker *w)
{
    size_t n;
    struct smq_session **all = all_sessions(w, &n);
    for (size_t i = 0; i < n; i++) {
        /* Every connection closed before the loop ended, and smq_sessions_stop settled the
         * delayed wills (a will due while stopping goes at once, never waits). */
        SMQ_ASSERT(all[i]->conn == NULL &&
                   (all[i]->timers == NULL || all[i]->timers->pending_will == NULL));
        smq_session_end(w, all[i]);
    }
    smq_free(all);
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
