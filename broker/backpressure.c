/* Publisher backpressure (see backpressure.h): the holds a worker keeps for its congested
 * sessions, the PAUSE / RESUME / LAG_RESUME signals between workers, the publisher side that
 * stops and restarts reading, and the timer that restarts reading, sweeps the holds and
 * bounds lag pauses.
 *
 * Holds are an open-addressing table keyed by the publisher's (session id, epoch), so a
 * publisher is signalled once however many messages of it reach congested sessions here; a
 * hold names one holding session, and its RESUME goes out when that session is relieved.
 * Another congested session here meets the publisher's next message and holds it again. A
 * publisher held by several workers counts them and reads again at zero. */
#include "broker/backpressure.h"

#include <string.h>

#include "broker/log.h"
#include "broker/sessions.h"
#include "core/alloc.h"
#include "core/tsan.h"

/* How often the holds are checked against their sessions (ended, offline, slow). */
#define SWEEP_MS 20
/* How long a publisher waits at most for an inbox to catch up when no LAG_RESUME comes. */
#define LAG_SAFETY_MS 20
/* Deliveries unhandled at another worker, in all, before a publisher waits for them: the
 * half of a default queue above its high watermark (500 messages) must hold what is in
 * flight from every other worker. */
#define LAG_BUDGET 256u
#define LAG_MIN    32u

#define SLOT_EMPTY 0u
#define SLOT_GONE  UINT64_MAX

enum signal_kind {
    SIG_PAUSE = 1,  /* one more worker holds (session, epoch) */
    SIG_RESUME,     /* one fewer */
    SIG_LAG_RESUME, /* the sender handled its inbox: lag-paused publishers read again */
};

struct bp_signal {
    struct cds_wfcq_node node;
    uint64_t session;
    uint16_t epoch;
    uint8_t kind;
};

/* A publisher held by this worker on behalf of one of its sessions. origin is SLOT_EMPTY
 * for a free slot, SLOT_GONE for a deleted one (session ids start at 1, never reach it). */
struct smq_bp_hold {
    uint64_t origin;  /* the publisher's session id */
    uint64_t holder;  /* the congested session of this worker */
    uint16_t epoch;   /* the publisher's connection */
    uint16_t worker;  /* the publisher's worker */
};

static void arm(struct smq_worker *w, int64_t due_ms);

/* ---------------------------------------------------------------------------------------- */
/* Setup                                                                                    */

static void on_timer(uv_timer_t *timer);

void smq_backpressure_init(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    uint16_t n = w->broker->n_workers;
    cds_wfcq_init(&bp->head, &bp->tail);
    atomic_init(&bp->pending, false);
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
    struct cds_wfcq_node *node;
    while ((node = __cds_wfcq_dequeue_blocking(&bp->head, &bp->tail)) != NULL) {
        struct bp_signal *sig = caa_container_of(node, struct bp_signal, node);
        SMQ_TSAN_ACQUIRE(sig);
        smq_free(sig);
    }
    cds_wfcq_destroy(&bp->head, &bp->tail);
    smq_free(bp->taken);
    smq_free(bp->waiting);
    smq_free(bp->posted);
    smq_free(bp->taken_now);
    smq_free(bp->taken_shown);
    smq_free(bp->touched);
    smq_free(bp->holds);
    smq_free(bp->ready);
    smq_free(bp->lagging);
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
    return (c->pause_holds > 0 || c->lag_paused) && !needed && c->state == SMQ_CONN_ACTIVE;
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
 * take all the room there is before the others are paused again, so each round starts one
 * further down the list: otherwise the same publisher would come first every time (the
 * list is built in the same order each round) and the others would starve. */
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

/* Lag-paused connections read again (their inbox caught up, or the safety delay passed). */
static void release_lagging(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    uint32_t n = bp->lagging_len;
    bp->lagging_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct smq_session *s = smq_worker_find_session(w, bp->lagging[i]);
        struct smq_conn *c = s ? s->conn : NULL;
        if (c != NULL && c->lag_paused) {
            c->lag_paused = false;
            smq_backpressure_update(c);
        }
    }
}

static void apply(struct smq_worker *w, uint8_t kind, uint64_t session, uint16_t epoch)
{
    if (kind == SIG_LAG_RESUME) {
        release_lagging(w);
        return;
    }
    struct smq_conn *c = conn_of(w, session, epoch);
    if (c == NULL)
        return; /* that connection is gone: its holds went with it */
    if (kind == SIG_PAUSE)
        c->pause_holds++;
    else if (c->pause_holds > 0)
        c->pause_holds--;
    smq_backpressure_update(c);
}

void smq_backpressure_take(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    /* The exchange pairs with the release store of send_signal(): the signals before it are
     * linked. Without the flag, a signal may still be on its way to it (enqueued, flag not
     * yet stored): on_wake looks at the queue itself, which costs no atomic when empty. */
    if (atomic_load_explicit(&bp->pending, memory_order_relaxed))
        atomic_exchange_explicit(&bp->pending, false, memory_order_acquire);
    else if (cds_wfcq_empty(&bp->head, &bp->tail))
        return;
    struct cds_wfcq_head head;
    struct cds_wfcq_tail tail;
    cds_wfcq_init(&head, &tail);
    if (__cds_wfcq_splice_blocking(&head, &tail, &bp->head, &bp->tail) == CDS_WFCQ_RET_SRC_EMPTY)
        return;
    struct cds_wfcq_node *node, *next;
    __cds_wfcq_for_each_blocking_safe(&head, &tail, node, next) {
        struct bp_signal *sig = caa_container_of(node, struct bp_signal, node);
        SMQ_TSAN_ACQUIRE(sig); /* pairs with the release in send_signal() */
        apply(w, sig->kind, sig->session, sig->epoch);
        smq_free(sig);
    }
}

/* Sends a signal to worker `to` (applied at once when it is w). */
static void send_signal(struct smq_worker *w, uint16_t to, uint8_t kind, uint64_t session,
                        uint16_t epoch)
{
    if (to == w->id) {
        apply(w, kind, session, epoch);
        return;
    }
    if (to >= w->broker->n_workers)
        return;
    struct smq_worker *dst = &w->broker->workers[to];
    struct bp_signal *sig = smq_alloc(sizeof(*sig));
    cds_wfcq_node_init(&sig->node);
    sig->session = session;
    sig->epoch = epoch;
    sig->kind = kind;
    SMQ_TSAN_RELEASE(sig); /* the queue's ordering is invisible to TSan */
    bool was_empty = !cds_wfcq_enqueue(&dst->bp.head, &dst->bp.tail, &sig->node);
    /* Pairs with the acquire exchange in smq_backpressure_take(). */
    atomic_store_explicit(&dst->bp.pending, true, memory_order_release);
    if (was_empty)
        uv_async_send(&dst->wake); /* an idle worker takes it in on_wake */
}

/* ---------------------------------------------------------------------------------------- */
/* Holds (subscriber side)                                                                  */

static uint32_t hold_hash(uint64_t origin, uint16_t epoch)
{
    uint64_t h = origin ^ ((uint64_t)epoch << 48);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

/* The slot of (origin, epoch), or -1. */
static int64_t hold_find(const struct smq_backpressure *bp, uint64_t origin, uint16_t epoch)
{
    if (bp->holds_cap == 0)
        return -1;
    uint32_t mask = bp->holds_cap - 1;
    for (uint32_t i = hold_hash(origin, epoch) & mask;; i = (i + 1) & mask) {
        const struct smq_bp_hold *h = &bp->holds[i];
        if (h->origin == SLOT_EMPTY)
            return -1;
        if (h->origin == origin && h->epoch == epoch)
            return i;
    }
}

static void hold_put(struct smq_backpressure *bp, const struct smq_bp_hold *e)
{
    uint32_t mask = bp->holds_cap - 1;
    uint32_t i = hold_hash(e->origin, e->epoch) & mask;
    while (bp->holds[i].origin != SLOT_EMPTY && bp->holds[i].origin != SLOT_GONE)
        i = (i + 1) & mask;
    if (bp->holds[i].origin == SLOT_EMPTY)
        bp->holds_used++;
    bp->holds[i] = *e;
    bp->holds_live++;
}

/* Makes room for one more hold: at most 3/4 of the slots used, deleted ones included. */
static void hold_reserve(struct smq_backpressure *bp)
{
    if ((bp->holds_used + 1) * 4 <= bp->holds_cap * 3)
        return;
    uint32_t cap = 16;
    while (cap < (bp->holds_live + 1) * 4)
        cap *= 2;
    struct smq_bp_hold *old = bp->holds;
    uint32_t old_cap = bp->holds_cap;
    bp->holds = smq_calloc(cap, sizeof(*bp->holds));
    bp->holds_cap = cap;
    bp->holds_used = bp->holds_live = 0;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (old[i].origin != SLOT_EMPTY && old[i].origin != SLOT_GONE)
            hold_put(bp, &old[i]);
    }
    smq_free(old);
}

/* Ends the hold in slot i: the publisher hears RESUME. */
static void hold_end(struct smq_worker *w, uint32_t i)
{
    struct smq_backpressure *bp = &w->bp;
    struct smq_bp_hold h = bp->holds[i];
    bp->holds[i].origin = SLOT_GONE;
    bp->holds_live--;
    if (bp->holds_live == 0) { /* start clean: no deleted slots to probe past */
        memset(bp->holds, 0, bp->holds_cap * sizeof(*bp->holds));
        bp->holds_used = 0;
    }
    send_signal(w, h.worker, SIG_RESUME, h.origin, h.epoch);
}

/* Releases every publisher held for s. The publisher released first reads first and may
 * fill the queue to its high watermark alone, so the walk starts one slot further each time:
 * each publisher gets its turn at the front. */
static void release(struct smq_worker *w, struct smq_session *s)
{
    struct smq_backpressure *bp = &w->bp;
    if (!s->st.holding)
        return;
    s->st.holding = false;
    uint32_t mask = bp->holds_cap - 1, start = bp->rotor++;
    for (uint32_t k = 0; k < bp->holds_cap && bp->holds_live > 0; k++) {
        uint32_t i = (start + k) & mask;
        if (bp->holds[i].origin != SLOT_EMPTY && bp->holds[i].origin != SLOT_GONE &&
            bp->holds[i].holder == s->id)
            hold_end(w, i);
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

void smq__backpressure_note(struct smq_worker *w, struct smq_session *s, const struct smq_msg *msg)
{
    struct smq_backpressure *bp = &w->bp;
    if (!bp->enabled || w->stopping)
        return;
    bool was_congested = s->st.congested;
    enum smq_pressure p = smq_session_pressure(&s->st, w->now_ms, bp->slow_ms);
    if (!was_congested && s->st.congested && s->conn != NULL && s->conn->reading_paused)
        smq_backpressure_update(s->conn); /* a congested subscriber reads its acks */
    if (p == SMQ_PRESSURE_SLOW) {
        log_slow(w, s);
        release(w, s);
        return;
    }
    if (p != SMQ_PRESSURE_PAUSE || msg->origin_epoch == 0 || msg->origin_session == s->id)
        return;
    if (hold_find(bp, msg->origin_session, msg->origin_epoch) >= 0)
        return; /* held already, by this session or another one of this worker */
    hold_reserve(bp);
    struct smq_bp_hold h = {
        .origin = msg->origin_session,
        .holder = s->id,
        .epoch = msg->origin_epoch,
        .worker = msg->origin_worker,
    };
    hold_put(bp, &h);
    s->st.holding = true;
    if (bp->holds_live == 1) {
        bp->next_sweep_ms = w->now_ms + SWEEP_MS;
        arm(w, bp->next_sweep_ms);
    }
    send_signal(w, h.worker, SIG_PAUSE, h.origin, h.epoch);
}

void smq__backpressure_relieve(struct smq_worker *w, struct smq_session *s)
{
    if (!w->stopping)
        release(w, s);
}

/* Ends the holds whose session is no longer congested, ended, went offline, or turned slow
 * without a delivery noticing (nobody sends to it while its publishers wait). */
static void sweep(struct smq_worker *w)
{
    struct smq_backpressure *bp = &w->bp;
    for (uint32_t i = 0; i < bp->holds_cap && bp->holds_live > 0; i++) {
        struct smq_bp_hold *h = &bp->holds[i];
        if (h->origin == SLOT_EMPTY || h->origin == SLOT_GONE)
            continue;
        struct smq_session *s = smq_worker_find_session(w, h->holder);
        enum smq_pressure p =
            s ? smq_session_pressure(&s->st, w->now_ms, bp->slow_ms) : SMQ_PRESSURE_NONE;
        if (p == SMQ_PRESSURE_PAUSE)
            continue;
        if (p == SMQ_PRESSURE_SLOW)
            log_slow(w, s);
        if (s != NULL)
            s->st.holding = false; /* every hold of s ends in this pass: same verdict */
        hold_end(w, i);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Inbox lag                                                                                */

void smq__backpressure_lagging(struct smq_worker *w, uint16_t to, const struct smq_msg *msg)
{
    struct smq_backpressure *bp = &w->bp;
    struct smq_worker *b = &w->broker->workers[to];
    /* Dekker with smq_backpressure_drained_inbox(): flag, then look again. Either this load
     * sees b's newer count, or b's load after storing it sees the flag and answers. */
    atomic_store_explicit(&b->bp.waiting[w->id], true, memory_order_seq_cst);
    uint64_t lag =
        bp->posted[to] - atomic_load_explicit(&b->bp.taken[w->id], memory_order_seq_cst);
    if (lag < bp->lag_limit || w->stopping)
        return; /* caught up meanwhile (b may still answer: harmless) */
    if (msg->origin_epoch == 0 || msg->origin_worker != w->id)
        return; /* a will or a handed-over message: no publisher reading here */
    struct smq_conn *c = conn_of(w, msg->origin_session, msg->origin_epoch);
    if (c == NULL || c->lag_paused)
        return;
    c->lag_paused = true;
    push_id(&bp->lagging, &bp->lagging_len, &bp->lagging_cap, msg->origin_session);
    if (bp->lagging_len == 1) {
        bp->lag_deadline_ms = w->now_ms + LAG_SAFETY_MS;
        arm(w, bp->lag_deadline_ms);
    }
    smq_backpressure_update(c);
}

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
            send_signal(w, from, SIG_LAG_RESUME, 0, 0);
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
    if (bp->lagging_len > 0 && w->now_ms >= bp->lag_deadline_ms)
        release_lagging(w);
    if (bp->holds_live > 0 && w->now_ms >= bp->next_sweep_ms) {
        sweep(w);
        bp->next_sweep_ms = w->now_ms + SWEEP_MS;
    }
    resume_ready(w);
    if (bp->ready_len > 0)
        arm(w, w->now_ms);
    if (bp->lagging_len > 0)
        arm(w, bp->lag_deadline_ms);
    if (bp->holds_live > 0)
        arm(w, bp->next_sweep_ms);
}
