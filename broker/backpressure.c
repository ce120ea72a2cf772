/* Publisher backpressure (see backpressure.h): the congestion filter a worker keeps for its
 * sessions, the connections a worker stops when it routes to a congested session or an
 * inbox that lags, the notifications between workers, and the timer that lets stopped
 * connections read again, a batch at a time, and checks the counted sessions.
 *
 * Every cross-thread exchange is an atomic: the filter counts, the per-pair delivery
 * counts, the waiting flags and the notified flag (with uv_async_send, the one libuv call
 * another thread may make). Nothing is allocated per message or per pause. */
#include "broker/backpressure.h"

#include <string.h>

#include "broker/log.h"
#include "broker/sessions.h"
#include "core/alloc.h"

/* How often the counted sessions are checked (ended, offline, slow), and the waiting
 * connections looked at without a notification. */
#define SWEEP_MS     20
#define WAIT_POLL_MS 10
/* Connections let go at once, and how soon the next ones: each may get a message in before
 * it finds the congestion again, so hundreds let go at once would overrun the room above the
 * high watermark. */
#define RELEASE_BATCH   8u
#define RELEASE_PACE_MS 1
/* Deliveries unhandled at another worker, in all, before a publisher waits for them: the
 * half of a default queue above its high watermark (500 messages) must hold what is in
 * flight from every other worker. */
#define LAG_BUDGET 256u
#define LAG_MIN    32u

static void arm(struct smq_worker *w, int64_t due_ms);
static void on_timer(uv_timer_t *timer);

/* ---------------------------------------------------------------------------------------- */
/* Setup                                                                                    */

void smq_backpressure_init(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    uint16_t n = w->broker->n_workers;
    atomic_init(&bp->n_congested, 0);
    atomic_init(&bp->notified, false);
    bp->congested = smq_calloc(SMQ_BP_SLOTS, sizeof(*bp->congested));
    for (uint32_t i = 0; i < SMQ_BP_SLOTS; i++)
        atomic_init(&bp->congested[i], 0);
    bp->taken = smq_calloc(n, sizeof(*bp->taken));
    bp->waiting = smq_calloc(n, sizeof(*bp->waiting));
    for (uint16_t i = 0; i < n; i++) {
        atomic_init(&bp->taken[i], 0);
        atomic_init(&bp->waiting[i], false);
    }
    bp->posted = smq_calloc(n, sizeof(*bp->posted));
    bp->taken_now = smq_calloc(n, sizeof(*bp->taken_now));
    bp->taken_shown = smq_calloc(n, sizeof(*bp->taken_shown));
    bp->touched = smq_calloc(n, sizeof(*bp->touched));
    bp->slow_ms = w->broker->settings.backpressure_timeout * 1000u;
    bp->enabled = bp->slow_ms > 0;
    uint32_t share = n > 1 ? LAG_BUDGET / (n - 1u) : LAG_BUDGET;
    bp->lag_limit = share > LAG_MIN ? share : LAG_MIN;
    bp->timer_due_ms = INT64_MAX;
    uv_timer_init(&w->loop, &bp->timer);
    bp->timer.data = w;
}

void smq_backpressure_dispose(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    smq_free(bp->congested);
    smq_free(bp->taken);
    smq_free(bp->waiting);
    smq_free(bp->posted);
    smq_free(bp->taken_now);
    smq_free(bp->taken_shown);
    smq_free(bp->touched);
    smq_free(bp->counted);
    smq_free(bp->waits);
    smq_free(bp->ready);
}

/* ---------------------------------------------------------------------------------------- */
/* Notifications                                                                            */

/* Tells worker `to` to look at its waiting connections (when it has some waiting on w). */
static void notify(struct smq_worker *w, uint16_t to)
{
    if (to == w->id) {
        arm(w, w->now_ms);
        return;
    }
    struct smq_worker *dst = &w->broker->workers[to];
    /* Pairs with the acquire exchange in smq__backpressure_notified(). */
    atomic_store_explicit(&dst->bp.notified, true, memory_order_release);
    uv_async_send(&dst->wake);
}

/* Notifies every worker that waits on w. The caller made its change seq_cst just before:
 * either the waiter's later look at it sees the change, or this load sees its flag. */
static void notify_waiters(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    if (w->stopping)
        return; /* nobody reads again: every connection is closing */
    for (uint16_t i = 0; i < w->broker->n_workers; i++) {
        if (atomic_load_explicit(&bp->waiting[i], memory_order_seq_cst) &&
            atomic_exchange_explicit(&bp->waiting[i], false, memory_order_relaxed))
            notify(w, i);
    }
}

void smq__backpressure_notified(struct smq_worker *w)
{
    if (atomic_exchange_explicit(&w->bp.notified, false, memory_order_acquire))
        arm(w, w->now_ms);
}

/* ---------------------------------------------------------------------------------------- */
/* Publisher side                                                                           */

static void push_id(uint64_t **ids, uint32_t *len, uint32_t *cap, uint64_t id)
{
    if (*len == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *ids = smq_realloc(*ids, *cap * sizeof(**ids));
    }
    (*ids)[(*len)++] = id;
}

/* The active connection of session id on w while it is the one of epoch, or NULL. */
static struct smq_conn *conn_of(struct smq_worker *w, uint64_t session, uint16_t epoch)
{
    struct smq_session *s = smq_worker_find_session(w, session);
    if (s == NULL || s->st.epoch != epoch || s->conn == NULL)
        return NULL;
    return s->conn->state == SMQ_CONN_ACTIVE ? s->conn : NULL;
}

static bool wants_pause(const struct smq_conn *c)
{
    /* Its own deliveries wait on its acknowledgements: it must read them (see .h). */
    bool needed = c->session != NULL && smq_session_needs_client(&c->session->st);
    return (c->congestion_paused || c->lag_paused) && !needed && c->state == SMQ_CONN_ACTIVE;
}

void smq_backpressure_update(struct smq_conn *c)
{
    struct smq_worker *w = c->w;
    if (wants_pause(c)) {
        smq_conn_pause_reading(c);
    } else if (c->reading_paused && c->session != NULL && !w->stopping) {
        /* Not here: c's bytes would be handled inside whatever packet is being handled. */
        push_id(&w->bp.ready, &w->bp.ready_len, &w->bp.ready_cap, c->session->id);
        arm(w, w->now_ms);
    }
}

/* Restarts reading the connections on the ready list (timer only). The first to read may
 * take all the room there is before the others stop again, so each round starts one
 * further down the list. */
static void resume_ready(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    uint32_t n = bp->ready_len, start = n ? bp->ready_rotor++ % n : 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = start + k < n ? start + k : start + k - n;
        struct smq_session *s = smq_worker_find_session(w, bp->ready[i]);
        struct smq_conn *c = s ? s->conn : NULL;
        if (c != NULL && c->reading_paused && !wants_pause(c))
            smq_conn_resume_reading(c); /* may add to the list: handled below, next round */
    }
    if (n == 0)
        return; /* ready may still be NULL */
    memmove(bp->ready, bp->ready + n, (bp->ready_len - n) * sizeof(*bp->ready));
    bp->ready_len -= n;
}

/* Deliveries posted to worker `to` and not yet handled there, as far as w can tell. */
static uint64_t lag_to(const struct smq_worker *w, uint16_t to)
{
    const struct smq_worker *b = &w->broker->workers[to];
    return w->bp.posted[to] - atomic_load_explicit(&b->bp.taken[w->id], memory_order_seq_cst);
}

/* True when what the wait is for has cleared. */
static bool wait_is_over(const struct smq_worker *w, const struct smq_bp_wait *e)
{
    if (e->slot == SMQ_BP_LAG)
        return lag_to(w, e->to) < w->bp.lag_limit;
    const struct smq_worker *b = &w->broker->workers[e->to];
    return atomic_load_explicit(&b->bp.congested[e->slot], memory_order_seq_cst) == 0;
}

/* Makes c wait until e clears, unless it already has (or already waits for that kind of
 * thing: one wait of each kind per connection). */
static void wait_for(struct smq_worker *w, struct smq_conn *c, struct smq_bp_wait e)
{
    struct smq_backpressure *bp = &w->bp;
    if (e.slot == SMQ_BP_LAG ? c->lag_paused : c->congestion_paused)
        return;
    /* Dekker with notify_waiters(): flag, then look again. */
    atomic_store_explicit(&w->broker->workers[e.to].bp.waiting[w->id], true,
                          memory_order_seq_cst);
    if (wait_is_over(w, &e))
        return;
    if (e.slot == SMQ_BP_LAG)
        c->lag_paused = true;
    else
        c->congestion_paused = true;
    if (bp->waits_len == bp->waits_cap) {
        bp->waits_cap = bp->waits_cap ? bp->waits_cap * 2 : 16;
        bp->waits = smq_realloc(bp->waits, bp->waits_cap * sizeof(*bp->waits));
    }
    bp->waits[bp->waits_len++] = e;
    arm(w, w->now_ms + WAIT_POLL_MS);
    smq_backpressure_update(c);
}

/* The active connection of w that published msg, or NULL (a will, a message handed on from
 * another worker, a connection gone since). */
static struct smq_conn *publisher_of(struct smq_worker *w, const struct smq_msg *msg)
{
    if (msg->origin_epoch == 0 || msg->origin_worker != w->id)
        return NULL;
    return conn_of(w, msg->origin_session, msg->origin_epoch);
}

void smq_backpressure_stop(struct smq_worker *w, const struct smq_msg *msg, uint16_t to,
                           uint64_t session_id)
{
    if (!w->bp.enabled || w->stopping || session_id == msg->origin_session)
        return; /* its own queue: it must read to drain it */
    struct smq_conn *c = publisher_of(w, msg);
    if (c == NULL)
        return;
    struct smq_bp_wait e = {msg->origin_session, msg->origin_epoch, to,
                            (uint16_t)smq_backpressure_slot(session_id)};
    wait_for(w, c, e);
}

void smq__backpressure_lagging(struct smq_worker *w, uint16_t to, const struct smq_msg *msg)
{
    if (w->stopping)
        return;
    struct smq_conn *c = publisher_of(w, msg);
    if (c == NULL)
        return;
    struct smq_bp_wait e = {msg->origin_session, msg->origin_epoch, to, SMQ_BP_LAG};
    wait_for(w, c, e);
}

/* Lets up to RELEASE_BATCH waiting connections whose wait is over read again, oldest first
 * (timer only), and flags again the workers still waited on. */
static void release_waits(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    if (w->now_ms < bp->next_release_ms)
        return;
    uint32_t kept = 0, released = 0;
    for (uint32_t i = 0; i < bp->waits_len; i++) {
        struct smq_bp_wait e = bp->waits[i];
        struct smq_conn *c = conn_of(w, e.session, e.epoch);
        if (c == NULL)
            continue; /* gone: its waits went with it */
        /* Flag first, then look (Dekker with notify_waiters): a wait still on is told. */
        atomic_store_explicit(&w->broker->workers[e.to].bp.waiting[w->id], true,
                              memory_order_seq_cst);
        if (released < RELEASE_BATCH && wait_is_over(w, &e)) {
            if (e.slot == SMQ_BP_LAG)
                c->lag_paused = false;
            else
                c->congestion_paused = false;
            smq_backpressure_update(c);
            released++;
            continue;
        }
        bp->waits[kept++] = e;
    }
    bp->waits_len = kept;
    if (released == RELEASE_BATCH)
        bp->next_release_ms = w->now_ms + RELEASE_PACE_MS;
}

/* ---------------------------------------------------------------------------------------- */
/* Subscriber side                                                                          */

static void filter_add(struct smq_worker *w, uint64_t session_id)
{
    struct smq_backpressure *bp = &w->bp;
    atomic_fetch_add_explicit(&bp->congested[smq_backpressure_slot(session_id)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&bp->n_congested, 1, memory_order_relaxed);
}

static void filter_sub(struct smq_worker *w, uint64_t session_id)
{
    struct smq_backpressure *bp = &w->bp;
    atomic_fetch_sub_explicit(&bp->congested[smq_backpressure_slot(session_id)], 1,
                              memory_order_seq_cst);
    atomic_fetch_sub_explicit(&bp->n_congested, 1, memory_order_seq_cst);
}

/* Counts s in the filter (a congestion started). */
static void count_in(struct smq_worker *w, struct smq_session *s)
{
    struct smq_backpressure *bp = &w->bp;
    s->st.in_filter = true;
    push_id(&bp->counted, &bp->counted_len, &bp->counted_cap, s->id);
    filter_add(w, s->id);
    if (bp->counted_len == 1) {
        bp->next_sweep_ms = w->now_ms + SWEEP_MS;
        arm(w, bp->next_sweep_ms);
    }
}

/* Takes the count at position i of counted back (its session's congestion ended, or the
 * session did) and notifies the workers that wait. */
static void count_out_at(struct smq_worker *w, uint32_t i)
{
    struct smq_backpressure *bp = &w->bp;
    uint64_t id = bp->counted[i];
    bp->counted[i] = bp->counted[--bp->counted_len];
    filter_sub(w, id);
    notify_waiters(w);
}

static void count_out(struct smq_worker *w, struct smq_session *s)
{
    struct smq_backpressure *bp = &w->bp;
    if (!s->st.in_filter)
        return;
    s->st.in_filter = false;
    for (uint32_t i = 0; i < bp->counted_len; i++) {
        if (bp->counted[i] == s->id) {
            count_out_at(w, i);
            return;
        }
    }
}

static void log_slow(const struct smq_worker *w, const struct smq_session *s)
{
    static _Thread_local struct smq_log_ratelimit slow_log;
    smq_log_limited(&slow_log, 10000, SMQ_LOG_WARNING,
                    "slow consumer client=%s: its queue (%u messages, %llu bytes) stayed above "
                    "half its limits for %u s; its publishers are no longer paused and what "
                    "does not fit its queue is dropped",
                    smq_session_log_id(s), s->st.queue_len, (unsigned long long)s->st.queued_bytes,
                    w->bp.slow_ms / 1000);
}

void smq__backpressure_note(struct smq_worker *w, struct smq_session *s)
{
    struct smq_backpressure *bp = &w->bp;
    if (!bp->enabled || w->stopping)
        return;
    bool was_congested = s->st.congested;
    enum smq_pressure p = smq_session_pressure(&s->st, w->now_ms, bp->slow_ms);
    if (!was_congested && s->st.congested && s->conn != NULL && s->conn->reading_paused)
        smq_backpressure_update(s->conn); /* a congested subscriber reads its acks */
    if (p == SMQ_PRESSURE_PAUSE && !s->st.in_filter) {
        count_in(w, s);
    } else if (p == SMQ_PRESSURE_SLOW) {
        log_slow(w, s);
        count_out(w, s);
    }
}

void smq__backpressure_relieve(struct smq_worker *w, struct smq_session *s)
{
    if (!w->stopping)
        count_out(w, s);
}

/* Takes back the counts of the sessions no longer congested: ended, offline, relieved
 * without a pump noticing, or slow consumers now (their publishers wait, so no delivery
 * would notice). */
static void sweep(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    for (uint32_t i = 0; i < bp->counted_len;) {
        struct smq_session *s = smq_worker_find_session(w, bp->counted[i]);
        enum smq_pressure p =
            s ? smq_session_pressure(&s->st, w->now_ms, bp->slow_ms) : SMQ_PRESSURE_NONE;
        if (p == SMQ_PRESSURE_PAUSE) {
            i++;
            continue;
        }
        if (p == SMQ_PRESSURE_SLOW)
            log_slow(w, s);
        if (s != NULL)
            s->st.in_filter = false;
        count_out_at(w, i); /* the last entry moves to i: look at it next */
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Inbox lag                                                                                */

void smq_backpressure_drained_inbox(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    for (uint32_t i = 0; i < bp->n_touched; i++) {
        uint16_t from = bp->touched[i];
        bp->taken_shown[from] = bp->taken_now[from];
        atomic_store_explicit(&bp->taken[from], bp->taken_now[from], memory_order_seq_cst);
        if (atomic_load_explicit(&bp->waiting[from], memory_order_seq_cst) &&
            atomic_exchange_explicit(&bp->waiting[from], false, memory_order_relaxed) &&
            !w->stopping)
            notify(w, from);
    }
    bp->n_touched = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The timer                                                                                */

static void arm(struct smq_worker *w, int64_t due_ms)
{
    struct smq_backpressure *bp = &w->bp;
    if (w->stopping || due_ms >= bp->timer_due_ms)
        return;
    int64_t delay = due_ms > w->now_ms ? due_ms - w->now_ms : 0;
    uv_timer_start(&bp->timer, on_timer, (uint64_t)delay, 0);
    bp->timer_due_ms = due_ms;
}

static void on_timer(uv_timer_t *timer)
{
    struct smq_worker *w = timer->data;
    struct smq_backpressure *bp = &w->bp;
    smq_worker_enter(w);
    bp->timer_due_ms = INT64_MAX;
    if (w->stopping)
        return;
    if (bp->counted_len > 0 && w->now_ms >= bp->next_sweep_ms) {
        sweep(w);
        bp->next_sweep_ms = w->now_ms + SWEEP_MS;
    }
    if (bp->waits_len > 0)
        release_waits(w);
    resume_ready(w);
    if (bp->ready_len > 0)
        arm(w, w->now_ms);
    if (bp->waits_len > 0)
        arm(w, bp->next_release_ms > w->now_ms ? bp->next_release_ms : w->now_ms + WAIT_POLL_MS);
    if (bp->counted_len > 0)
        arm(w, bp->next_sweep_ms);
}
