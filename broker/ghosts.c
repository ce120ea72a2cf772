/* Ghosts of ended shared-subscription members (see ghosts.h).
 *
 * A ghost is created by the session's worker right after the session's subscriptions left
 * the index, and call_rcu() marks it expired after the following grace period: from then on
 * no delivery for that session can be posted any more, and every one that was posted is in
 * the worker's inbox. The worker frees a ghost only after a whole inbox drain that began
 * after it saw the mark (smq_ghosts_collect before the drain, smq_ghosts_release after it),
 * so no delivery posted before the mark can arrive once its ghost is gone. Ghosts are rare
 * (sessions with shared subscriptions, for a few milliseconds each): a plain list suffices. */
#include "broker/ghosts.h"

#include <stdatomic.h>
#include <string.h>

#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/worker.h"
#include "core/alloc.h"
#include "core/rcu.h"
#include "core/tsan.h"
#include "core/topic_index.h"
#include "proto/topic.h"

struct smq_ghost {
    struct rcu_head rcu;
    /* --- shared: atomics only --- */
    /* Release store by the call_rcu callback (after which it never touches the ghost),
     * acquire load by the owner in smq_ghosts_collect. */
    atomic_bool expired;
    /* --- owned by the session's worker --- */
    bool collected;
    uint64_t session_id;
    struct smq_ghost *next;
    uint32_t n;
    struct smq_subscription subs[]; /* the shared ones; each filter owned */
};

/* TSan cannot see liburcu's call_rcu queue or rcu_barrier (uninstrumented): the
 * annotations tell it what they order, as in core/retained.c. */
static void on_grace_period(struct rcu_head *head)
{
    struct smq_ghost *g = caa_container_of(head, struct smq_ghost, rcu);
    SMQ_TSAN_ACQUIRE(g); /* pairs with the release in smq_ghost_arm */
    atomic_store_explicit(&g->expired, true, memory_order_release);
    SMQ_TSAN_RELEASE(g); /* pairs with the acquire after rcu_barrier in smq_ghosts_dispose */
}

static uint32_t count_shared(const struct smq_session *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_subs; i++) {
        struct smq_span filter = {(const uint8_t *)s->subs[i].filter, s->subs[i].len};
        n += smq_topic_is_shared(filter);
    }
    return n;
}

struct smq_ghost *smq_ghost_new(struct smq_worker *w, const struct smq_session *s)
{
    uint32_t n = w->stopping ? 0 : count_shared(s);
    if (n == 0)
        return NULL;
    struct smq_ghost *g = smq_calloc(1, sizeof(*g) + n * sizeof(g->subs[0]));
    g->session_id = s->id;
    for (uint32_t i = 0; i < s->n_subs; i++) {
        const struct smq_subscription *sub = &s->subs[i];
        struct smq_span filter = {(const uint8_t *)sub->filter, sub->len};
        if (!smq_topic_is_shared(filter))
            continue;
        g->subs[g->n] = *sub;
        g->subs[g->n++].filter = smq_strndup(sub->filter, sub->len);
    }
    atomic_init(&g->expired, false);
    g->next = w->ghosts;
    w->ghosts = g;
    return g;
}

void smq_ghost_arm(struct smq_ghost *g)
{
    if (g) {
        SMQ_TSAN_RELEASE(g);
        call_rcu(&g->rcu, on_grace_period);
    }
}

bool smq_ghost_redirect(struct smq_worker *w, struct smq_msg *msg,
                        const struct smq_sub_target *target)
{
    struct smq_ghost *g = w->ghosts;
    while (g && g->session_id != target->session_id)
        g = g->next;
    const struct smq_subscription *sub =
        g ? smq_route_shared_origin(g->subs, g->n, msg->topic, target->subscription_id) : NULL;
    if (sub == NULL)
        return false;
    struct smq_span filter = {(const uint8_t *)sub->filter, sub->len};
    struct smq_sub_target other;
    if (smq_index_pick(w->broker->index, filter, target->session_id, &other) != 0)
        return false; /* the ended session was the group's last member */
    smq_route_target(w, msg, &other);
    return true;
}

void smq_ghosts_collect(struct smq_worker *w)
{
    for (struct smq_ghost *g = w->ghosts; g; g = g->next)
        g->collected = atomic_load_explicit(&g->expired, memory_order_acquire);
}

static void ghost_free(struct smq_ghost *g)
{
    for (uint32_t i = 0; i < g->n; i++)
        smq_free(g->subs[i].filter);
    smq_free(g);
}

void smq_ghosts_release(struct smq_worker *w)
{
    struct smq_ghost **link = &w->ghosts;
    while (*link) {
        struct smq_ghost *g = *link;
        if (g->collected) {
            *link = g->next;
            ghost_free(g);
        } else {
            link = &g->next;
        }
    }
}

void smq_ghosts_dispose(struct smq_worker *w)
{
    if (w->ghosts == NULL)
        return;
    rcu_barrier(); /* every ghost's callback has run: none touches a ghost any more */
    while (w->ghosts) {
        struct smq_ghost *g = w->ghosts;
        w->ghosts = g->next;
        SMQ_TSAN_ACQUIRE(g);
        ghost_free(g);
    }
}
