/* Routing: from one message to the sessions that receive it, on every worker.
 *
 * Routing matches the topic in the shared index once, sorts the targets by (shard,
 * session), delivers this worker's targets directly and gives every other shard one inbox
 * entry holding the message and its targets. Inbox entries from one publisher's worker
 * arrive in order, which keeps per-publisher, per-topic order across shards.
 *
 * Overlapping subscriptions. The targets of one session travel side by side, as the index
 * reported them, and the worker that owns the session merges them (smq_deliver_local): the
 * plain subscriptions of a session make one delivery, at the highest QoS they grant
 * [MQTT-3.3.4-2], carrying the Subscription Identifiers of all of them [MQTT-3.3.4-4]; each
 * shared-group target is a delivery of its own with its own identifier [MQTT-3.3.4-5],
 * because 4.8.2 gives the client one copy by its non-shared subscription and possibly
 * another one by the shared. One target per session, the usual case, allocates nothing.
 *
 * Backpressure. After delivering, the targets are looked up in their worker's congestion
 * filter; a congested one stops the message's publisher (backpressure.h).
 *
 * Shared leftovers. When a session ends, the QoS 1 and 2 messages its shared groups gave it
 * and it had not taken are handed to another member of the same group (smq_route_orphans). */
#include <stdlib.h>
#include <string.h>

#include "broker/backpressure.h"
#include "broker/conn.h"
#include "broker/ghosts.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "broker/worker.h"
#include "core/alloc.h"
#include "core/topic_index.h"
#include "proto/errors.h"
#include "proto/topic.h"

struct collect {
    struct smq_worker *w;
    const struct smq_msg *msg;
};

static void collect_target(void *ctx, const struct smq_sub_target *t)
{
    struct collect *col = ctx;
    struct smq_worker *w = col->w;
    /* [MQTT-3.8.3-3]; never set on a shared subscription [MQTT-3.8.3-4], the decoder
     * refuses that with 0x82. */
    if ((t->flags & SMQ_SUB_NO_LOCAL) && t->session_id == col->msg->origin_session)
        return;
    if (w->scratch_len == w->scratch_cap) {
        w->scratch_cap = w->scratch_cap ? w->scratch_cap * 2 : 64;
        w->scratch = smq_realloc(w->scratch, w->scratch_cap * sizeof(*w->scratch));
    }
    w->scratch[w->scratch_len++] = *t;
}

/* Orders targets by shard, then session, then plain before shared, then identifier: what
 * smq_deliver_local() expects of each session's run. */
static int by_shard_then_session(const void *a, const void *b)
{
    const struct smq_sub_target *x = a, *y = b;
    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    if (x->session_id != y->session_id)
        return x->session_id < y->session_id ? -1 : 1;
    uint8_t xs = x->flags & SMQ_SUB_SHARED, ys = y->flags & SMQ_SUB_SHARED;
    if (xs != ys)
        return xs < ys ? -1 : 1;
    if (x->subscription_id != y->subscription_id)
        return x->subscription_id < y->subscription_id ? -1 : 1;
    return 0;
}

static void post_to_shard(struct smq_worker *w, struct smq_msg *msg, const struct smq_sub_target *t,
                          uint32_t n)
{
    struct smq_inbox_deliver *d = smq_alloc(sizeof(*d) + n * sizeof(*t));
    d->item.kind = SMQ_INBOX_DELIVER;
    d->msg = smq_msg_ref(msg);
    d->from = w->id;
    d->n_targets = n;
    memcpy(d->targets, t, n * sizeof(*t));
    smq_worker_post(&w->broker->workers[t[0].shard], &d->item);
    smq_backpressure_posted(w, t[0].shard, msg);
}

void smq_route_target(struct smq_worker *w, struct smq_msg *msg,
                      const struct smq_sub_target *target)
{
    if (target->shard == w->id)
        smq_deliver_local(w, msg, target, 1);
    else
        post_to_shard(w, msg, target, 1);
}

/* Returns a target among t[0..n), all of one shard, that the shard's congestion filter
 * says is congested (not msg's own publisher), or NULL (backpressure.h). */
static const struct smq_sub_target *congested_target(const struct smq_worker *w,
                                                     const struct smq_msg *msg,
                                                     const struct smq_sub_target *t, uint32_t n)
{
    const struct smq_worker *b = &w->broker->workers[t[0].shard];
    if (atomic_load_explicit(&b->bp.n_congested, memory_order_relaxed) == 0)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (t[i].session_id != msg->origin_session &&
            smq_backpressure_is_congested(b, t[i].session_id))
            return &t[i];
    }
    return NULL;
}

uint32_t smq_route(struct smq_worker *w, struct smq_msg *msg)
{
    struct collect col = {w, msg};
    w->scratch_len = 0;
    smq_index_match(w->broker->index, msg->topic, collect_target, &col);
    uint32_t n = w->scratch_len;
    if (n == 0)
        return 0;
    if (n > 1)
        qsort(w->scratch, n, sizeof(*w->scratch), by_shard_then_session);
    /* Copy out: delivering locally may route again (a will) and reuse the scratch. */
    struct smq_sub_target stack[64];
    struct smq_sub_target *t = n <= 64 ? stack : smq_alloc(n * sizeof(*t));
    memcpy(t, w->scratch, n * sizeof(*t));
    uint32_t sessions = 0;
    const struct smq_sub_target *hot = NULL;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        for (; j < n && t[j].shard == t[i].shard; j++)
            sessions += j == i || t[j].session_id != t[j - 1].session_id;
        if (t[i].shard == w->id)
            smq_deliver_local(w, msg, &t[i], j - i);
        else
            post_to_shard(w, msg, &t[i], j - i);
        /* After delivering: a local session this message just congested counts too. */
        if (hot == NULL && w->bp.enabled)
            hot = congested_target(w, msg, &t[i], j - i);
        i = j;
    }
    if (hot != NULL)
        smq_backpressure_stop(w, msg, hot->shard, hot->session_id);
    if (t != stack)
        smq_free(t);
    return sessions;
}

/* The QoS a delivery goes out with: the message's, capped by the granted one (the granted
 * one whatever the message's with upgrade_outgoing_qos). */
static uint8_t send_qos(const struct smq_worker *w, const struct smq_msg *msg, uint8_t granted)
{
    bool upgrade = w->broker->settings.upgrade_outgoing_qos;
    return upgrade || msg->qos > granted ? granted : msg->qos;
}

/* Queues d for s; takes ownership of what d holds. */
static void enqueue(struct smq_worker *w, struct smq_session *s, const struct smq_delivery *d)
{
    static _Thread_local struct smq_log_ratelimit drop_log;
    if (smq_session_enqueue(&s->st, d) == SMQ_ENQ_QUEUED)
        return;
    smq_stat_add(&w->stats.msgs_dropped, 1);
    smq_log_limited(&drop_log, 10000, SMQ_LOG_WARNING,
                    "queue full: dropping messages for client=%s", smq_session_log_id(s));
}

/* Sets d's Subscription Identifiers to the distinct non-zero ones of t[0..n), which are
 * sorted by identifier: the first in d->subscription_id, the others in an array allocated
 * only when there are any (at most UINT16_MAX of them, the field's range). */
static void collect_ids(struct smq_delivery *d, const struct smq_sub_target *t, uint32_t n)
{
    uint32_t distinct = 0, last = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = t[i].subscription_id;
        if (id != 0 && id != last) {
            if (distinct == 0)
                d->subscription_id = id;
            distinct++;
            last = id;
        }
    }
    if (distinct < 2)
        return;
    uint32_t more = distinct - 1 < UINT16_MAX ? distinct - 1 : UINT16_MAX;
    d->more_sub_ids = smq_alloc(more * sizeof(uint32_t));
    d->n_more_sub_ids = (uint16_t)more;
    last = d->subscription_id;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n && k < more; i++) {
        uint32_t id = t[i].subscription_id;
        if (id > last) { /* sorted: past the first, each new value is larger */
            d->more_sub_ids[k++] = id;
            last = id;
        }
    }
}

/* Delivers msg to the session of t[0..n), one session's run sorted as by_shard_then_session
 * leaves it: its plain subscriptions first, then its shared ones. */
static void deliver_session(struct smq_worker *w, struct smq_msg *msg,
                            const struct smq_sub_target *t, uint32_t n)
{
    struct smq_session *s = smq_worker_find_session(w, t[0].session_id);
    if (s == NULL) {
        /* The session ended after the match: a shared group's message goes to another
         * member (ghosts.h), a plain subscription's with the session. */
        for (uint32_t i = 0; i < n; i++) {
            if (t[i].flags & SMQ_SUB_SHARED)
                smq_ghost_redirect(w, msg, &t[i]);
        }
        return;
    }
    uint32_t plain = 0;
    uint8_t granted = 0;
    bool as_published = false;
    for (; plain < n && !(t[plain].flags & SMQ_SUB_SHARED); plain++) {
        if (t[plain].qos > granted)
            granted = t[plain].qos;
        as_published |= (t[plain].flags & SMQ_SUB_RETAIN_AS_PUBLISHED) != 0;
    }
    if (plain > 0) {
        struct smq_delivery d = {
            .msg = smq_msg_ref(msg),
            .qos = send_qos(w, msg, granted),
            /* [MQTT-3.3.1-12] cleared on normal forwarding, unless Retain As Published
             * [MQTT-3.3.1-13] (by any of the overlapping subscriptions) */
            .retain = as_published && msg->retain,
        };
        collect_ids(&d, t, plain);
        enqueue(w, s, &d);
    }
    for (uint32_t i = plain; i < n; i++) {
        struct smq_delivery d = {
            .msg = smq_msg_ref(msg),
            .subscription_id = t[i].subscription_id,
            .qos = send_qos(w, msg, t[i].qos),
            .retain = (t[i].flags & SMQ_SUB_RETAIN_AS_PUBLISHED) && msg->retain,
            .shared = true,
        };
        enqueue(w, s, &d);
    }
    smq_pump(s);
    /* After the pump, which may have relieved s: what is left queued decides. */
    smq_backpressure_note(w, s);
}

void smq_deliver_local(struct smq_worker *w, struct smq_msg *msg,
                       const struct smq_sub_target *targets, uint32_t n)
{
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && targets[j].session_id == targets[i].session_id)
            j++;
        deliver_session(w, msg, &targets[i], j - i);
        i = j;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* A member's shared leftovers                                                              */

const struct smq_subscription *smq_route_shared_origin(const struct smq_subscription *subs,
                                                      uint32_t n, struct smq_span topic,
                                                      uint32_t subscription_id)
{
    const struct smq_subscription *found = NULL;
    for (uint32_t i = 0; i < n; i++) {
        const struct smq_subscription *sub = &subs[i];
        struct smq_span filter = {(const uint8_t *)sub->filter, sub->len}, group, inner;
        if (!smq_topic_is_shared(filter) || !smq_topic_share_split(filter, &group, &inner) ||
            !smq_topic_matches(inner, topic))
            continue;
        if (sub->subscription_id == subscription_id)
            return sub;
        if (found == NULL)
            found = sub;
    }
    return found;
}

/* Hands a delivery of the ending session s to another member of its group. Returns true
 * when one took it. */
static bool hand_over(struct smq_worker *w, struct smq_session *s, const struct smq_delivery *d)
{
    const struct smq_subscription *sub =
        smq_route_shared_origin(s->subs, s->n_subs, d->msg->topic, d->subscription_id);
    if (sub == NULL)
        return false;
    struct smq_span filter = {(const uint8_t *)sub->filter, sub->len};
    struct smq_sub_target t;
    if (smq_index_pick(w->broker->index, filter, s->id, &t) != 0)
        return false; /* s was the group's last member */
    if (t.shard == w->id)
        smq_deliver_local(w, d->msg, &t, 1);
    else
        post_to_shard(w, d->msg, &t, 1);
    return true;
}

/* Whether a delivery of an ending session goes to another member: it came through a shared
 * group, is QoS 1 or 2, has not expired, and (inflight) was not a QoS 2 message the client
 * may hold already. */
static bool is_orphan(const struct smq_worker *w, const struct smq_delivery *d)
{
    return d->shared && d->msg != NULL && d->qos > 0 && !smq_msg_is_expired(d->msg, w->now_ms);
}

static bool has_shared_subs(const struct smq_session *s)
{
    for (uint32_t i = 0; i < s->n_subs; i++) {
        struct smq_span filter = {(const uint8_t *)s->subs[i].filter, s->subs[i].len};
        if (smq_topic_is_shared(filter))
            return true;
    }
    return false;
}

void smq_route_orphans(struct smq_worker *w, struct smq_session *s)
{
    /* At shutdown every session ends and nobody would take them. */
    if (w->stopping || !has_shared_subs(s))
        return;
    struct smq_session_state *st = &s->st;
    uint32_t orphans = 0, handed = 0;
    /* Inflight first, then queued: the order they were given to s. The rings are walked as
     * core/session.c lays them out (inflight modulo its capacity, the queue a power of two). */
    for (uint16_t i = 0; i < st->inflight_len; i++) {
        const struct smq_inflight *f = &st->inflight[(st->inflight_head + i) % st->inflight_cap];
        /* QoS 2 sent and not completed: [MQTT-4.8.2-5] it goes to no other client. */
        if (f->state != SMQ_OUT_WAIT_PUBACK || !is_orphan(w, &f->d))
            continue;
        orphans++;
        handed += hand_over(w, s, &f->d);
    }
    for (uint32_t i = 0; i < st->queue_len; i++) {
        const struct smq_delivery *d = &st->queue[(st->queue_head + i) & (st->queue_cap - 1)];
        if (!is_orphan(w, d))
            continue;
        orphans++;
        handed += hand_over(w, s, d);
    }
    uint32_t lost = orphans - handed;
    if (orphans > 0)
        smq_log(SMQ_LOG_INFO,
                "session end client=%s: %u shared-subscription messages handed to other "
                "members, %u with no other member",
                smq_session_log_id(s), handed, lost);
}
