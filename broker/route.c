/* Routing: from one message to the sessions that receive it, on every worker.
 *
 * Routing matches the topic in the shared index once, sorts the targets by (shard,
 * session) so overlapping subscriptions of one session collapse into one delivery at the
 * highest granted QoS, delivers this worker's targets directly and gives every other shard
 * one inbox entry holding the message and its targets. Inbox entries from one publisher's
 * worker arrive in order, which keeps per-publisher, per-topic order across shards. */
#include <stdlib.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "broker/worker.h"
#include "core/alloc.h"
#include "core/topic_index.h"

struct collect {
    struct smq_worker *w;
    const struct smq_msg *msg;
};

static void collect_target(void *ctx, const struct smq_sub_target *t)
{
    struct collect *col = ctx;
    struct smq_worker *w = col->w;
    if ((t->flags & SMQ_SUB_NO_LOCAL) && t->session_id == col->msg->origin_session)
        return; /* [MQTT-3.8.3-3] */
    if (w->scratch_len == w->scratch_cap) {
        w->scratch_cap = w->scratch_cap ? w->scratch_cap * 2 : 64;
        w->scratch = smq_realloc(w->scratch, w->scratch_cap * sizeof(*w->scratch));
    }
    w->scratch[w->scratch_len++] = *t;
}

static int by_shard_then_session(const void *a, const void *b)
{
    const struct smq_sub_target *x = a, *y = b;
    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    if (x->session_id != y->session_id)
        return x->session_id < y->session_id ? -1 : 1;
    return 0;
}

/* Collapses targets of the same session into one at the highest QoS [MQTT-3.3.4-2]. */
static uint32_t dedupe(struct smq_sub_target *t, uint32_t n)
{
    uint32_t out = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (out > 0 && t[out - 1].session_id == t[i].session_id) {
            struct smq_sub_target *kept = &t[out - 1];
            if (t[i].qos > kept->qos)
                kept->qos = t[i].qos;
            kept->flags |= t[i].flags & SMQ_SUB_RETAIN_AS_PUBLISHED;
            if (kept->subscription_id == 0)
                kept->subscription_id = t[i].subscription_id;
            continue;
        }
        t[out++] = t[i];
    }
    return out;
}

static void post_to_shard(struct smq_worker *w, struct smq_msg *msg,
                          const struct smq_sub_target *t, uint32_t n)
{
    struct smq_inbox_deliver *d = smq_alloc(sizeof(*d) + n * sizeof(*t));
    d->item.kind = SMQ_INBOX_DELIVER;
    d->msg = smq_msg_ref(msg);
    d->n_targets = n;
    memcpy(d->targets, t, n * sizeof(*t));
    smq_worker_post(&w->broker->workers[t[0].shard], &d->item);
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
    n = dedupe(w->scratch, n);
    /* Copy out: delivering locally may route again (a will) and reuse the scratch. */
    struct smq_sub_target stack[64];
    struct smq_sub_target *t = n <= 64 ? stack : smq_alloc(n * sizeof(*t));
    memcpy(t, w->scratch, n * sizeof(*t));
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        while (j < n && t[j].shard == t[i].shard)
            j++;
        if (t[i].shard == w->id) {
            for (uint32_t k = i; k < j; k++)
                smq_deliver_local(w, msg, &t[k]);
        } else {
            post_to_shard(w, msg, &t[i], j - i);
        }
        i = j;
    }
    if (t != stack)
        smq_free(t);
    return n;
}

void smq_deliver_local(struct smq_worker *w, struct smq_msg *msg,
                       const struct smq_sub_target *target)
{
    static _Thread_local struct smq_log_ratelimit drop_log;
    struct smq_session *s = smq_worker_find_session(w, target->session_id);
    if (s == NULL)
        return; /* the session ended after the match */
    const struct smq_settings *set = &w->broker->settings;
    uint8_t qos = set->upgrade_outgoing_qos || msg->qos > target->qos ? target->qos : msg->qos;
    struct smq_delivery d = {
        .msg = smq_msg_ref(msg),
        .subscription_id = target->subscription_id,
        .qos = qos,
        /* [MQTT-3.3.1-9] cleared on normal forwarding, unless Retain As Published */
        .retain = (target->flags & SMQ_SUB_RETAIN_AS_PUBLISHED) && msg->retain,
    };
    if (smq_session_enqueue(&s->st, &d) != SMQ_ENQ_QUEUED) {
        smq_stat_add(&w->stats.msgs_dropped, 1);
        smq_log_limited(&drop_log, 10000, SMQ_LOG_WARNING,
                        "queue full: dropping messages for client=%s", smq_session_log_id(s));
        return;
    }
    smq_pump(s);
}

