/* Publisher backpressure: a publisher faster than an online subscriber of its messages is
 * slowed down by no longer reading its socket (TCP flow control then slows it) instead of
 * the broker dropping messages for the subscriber.
 *
 * Subscriber side. Each delivery to a session (route.c) checks its queue against the
 * watermarks of core/session.h. When a congestion starts, the worker owning the session
 * counts it in its congestion filter: SMQ_BP_SLOTS counters indexed by a hash of the session
 * id, atomics every worker may read. When it ends (drained to the low watermark, smq_pump),
 * the session turns slow, goes offline or ends (a check every SWEEP_MS of the worker's
 * counted sessions), the count is taken back and the workers waiting on this one notified.
 *
 * Publisher side. The worker that reads a PUBLISH routes it (smq_route), and looks each
 * target up in the filter of the target's worker (one relaxed load per target, none while
 * that worker has no congested session). A congested target stops the publisher: its
 * connection stops reading after this packet, mid-buffer (the rest of what was read stays
 * in its partial buffer and is handled first when it reads again), and waits, in this
 * worker's list, until the slot is clear. No signal crosses workers to stop a publisher, so
 * however many publishers converge on a session, each gets at most the message that found
 * it congested past the high watermark. Reading starts again from the worker's timer, never
 * from inside packet handling, at most RELEASE_BATCH connections every RELEASE_PACE_MS,
 * oldest first: released all at once, hundreds of publishers would each get a message in.
 *
 * A connection whose own deliveries wait on its client (smq_session_needs_client: congested,
 * or the inflight window full with more queued) is not stopped: its acknowledgements
 * (PUBACK, PUBREC, PUBCOMP) sit behind its PUBLISHes in the same stream, and it must read
 * them to drain. This is re-decided after every pump of its session. A stopped connection
 * is not closed for keep-alive (worker.c).
 *
 * Inbox lag. What a worker routes to another before that one's filter shows a congestion
 * lands above the high watermark; to bound it, a worker may have at most lag_limit
 * deliveries posted to another one and not yet handled there. Reaching it, the publisher of
 * the message waits (lag_paused) until the other worker catches up.
 *
 * Waking up. A worker with connections waiting on another sets a flag there; that worker,
 * after ending a congestion or draining its inbox, notifies it (an atomic flag and a
 * wake-up, no allocation). A check every WAIT_POLL_MS catches anything else.
 *
 * Policy. A session congested for backpressure_timeout without draining to its low watermark
 * is a slow consumer: it leaves the filter, logged once, and what does not fit its queue is
 * dropped and counted as before, until it drains to the low watermark again.
 * backpressure_timeout 0 turns all of this off. */
#ifndef SMQ_BROKER_BACKPRESSURE_H
#define SMQ_BROKER_BACKPRESSURE_H

#include "broker/conn.h"
#include "broker/worker.h"

/* Sets up w->bp (caller: smq_worker_init, main thread, after the loop exists). */
void smq_backpressure_init(struct smq_worker *w);

/* Frees what w->bp holds. Main thread, after the join. */
void smq_backpressure_dispose(struct smq_worker *w);

void smq__backpressure_notified(struct smq_worker *w);

/* In on_wake: when another worker notified w, looks at w's waiting connections soon. */
static inline void smq_backpressure_woken(struct smq_worker *w)
{
    if (atomic_load_explicit(&w->bp.notified, memory_order_relaxed))
        smq__backpressure_notified(w);
}

/* The filter slot of a session id. */
static inline uint32_t smq_backpressure_slot(uint64_t session_id)
{
    return (uint32_t)((session_id * 0x9e3779b97f4a7c15ull) >> 52) & (SMQ_BP_SLOTS - 1);
}

/* True when worker w's filter says session_id may be congested. Any worker. */
static inline bool smq_backpressure_is_congested(const struct smq_worker *w, uint64_t session_id)
{
    return atomic_load_explicit(&w->bp.n_congested, memory_order_relaxed) != 0 &&
           atomic_load_explicit(&w->bp.congested[smq_backpressure_slot(session_id)],
                                memory_order_relaxed) != 0;
}

void smq__backpressure_note(struct smq_worker *w, struct smq_session *s);
void smq__backpressure_relieve(struct smq_worker *w, struct smq_session *s);
void smq__backpressure_lagging(struct smq_worker *w, uint16_t to, const struct smq_msg *msg);

/* Stops the publisher of msg (if it is a connection of w) until `to`'s congested session
 * session_id is relieved (route.c, after routing msg). Worker thread. */
void smq_backpressure_stop(struct smq_worker *w, const struct smq_msg *msg, uint16_t to,
                           uint64_t session_id);

/* After a delivery was queued (or dropped) for s and s was pumped: counts s in the filter
 * when a congestion starts. Worker thread (s's). Two comparisons when s is not congested. */
static inline void smq_backpressure_note(struct smq_worker *w, struct smq_session *s)
{
    if (s->st.congested || smq_session_above_high(&s->st))
        smq__backpressure_note(w, s);
}

/* Re-evaluates whether c reads: stopped while it waits for something, unless its own
 * session needs the client's packets (smq_session_needs_client). Stops at once; reading
 * again goes through the timer. */
void smq_backpressure_update(struct smq_conn *c);

/* After smq_pump(s), s's connection active: ends s's congestion once it is back at its low
 * watermark, and re-decides whether that connection reads when it waits as a publisher
 * itself (its own deliveries may now wait on it, or no longer). Worker thread. */
static inline void smq_backpressure_pumped(struct smq_worker *w, struct smq_session *s)
{
    if (s->st.congested && smq_session_relieved(&s->st))
        smq__backpressure_relieve(w, s);
    if (s->conn->congestion_paused || s->conn->lag_paused)
        smq_backpressure_update(s->conn);
}

/* After a delivery of msg was posted to worker `to` (route.c): when too many are unhandled
 * there, stops msg's publisher until they are. Worker thread. */
static inline void smq_backpressure_posted(struct smq_worker *w, uint16_t to,
                                           const struct smq_msg *msg)
{
    if (!w->bp.enabled)
        return;
    const struct smq_worker *b = &w->broker->workers[to];
    uint64_t lag = ++w->bp.posted[to] -
                   atomic_load_explicit(&b->bp.taken[w->id], memory_order_relaxed);
    if (lag >= w->bp.lag_limit)
        smq__backpressure_lagging(w, to, msg);
}

/* Counts one delivery from worker `from` handled here (worker.c, per inbox item); the count
 * is shown to `from` by smq_backpressure_drained_inbox(). */
static inline void smq_backpressure_taken(struct smq_worker *w, uint16_t from)
{
    struct smq_backpressure *bp = &w->bp;
    if (bp->enabled && bp->taken_now[from]++ == bp->taken_shown[from])
        bp->touched[bp->n_touched++] = from;
}

/* After an inbox drain: shows the counts and notifies the workers waiting for them. */
void smq_backpressure_drained_inbox(struct smq_worker *w);

#endif
