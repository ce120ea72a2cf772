/* Publisher backpressure: a publisher faster than an online subscriber of its messages is
 * slowed down by no longer reading its socket (TCP flow control then slows it) instead of
 * the broker dropping messages for the subscriber.
 *
 * Subscriber side. Each delivery to a session on this worker (route.c) checks its queue
 * against the watermarks of core/session.h. While the session is congested, the connection
 * that published the message just queued (msg->origin_worker, origin_session, origin_epoch:
 * no pointer crosses threads) is held: this worker records the hold in its table, once per
 * publisher, and signals PAUSE to the publisher's worker (directly when it is this one).
 * When the session drains to its low watermark (smq_pump), becomes a slow consumer, goes
 * offline or ends, its holds are released with RESUME. A check every SWEEP_MS of the table
 * catches the sessions that went offline or ended, and the slow consumers nobody sends to.
 *
 * Publisher side. A connection counts the workers holding it (pause_holds). It stops reading
 * as soon as the first hold arrives, mid-buffer: the rest of what was read stays in its
 * partial buffer and is handled first when it reads again. Signals from other workers are
 * taken between two packets (an atomic flag loaded per packet, on a cache line written only
 * by signals), so a publisher stops within a packet or so. Reading starts again from the
 * worker's timer, never from inside another connection's packet handling. A connection whose
 * own deliveries wait on its client (smq_session_needs_client: congested, or the inflight
 * window full with more queued) is not paused: its acknowledgements (PUBACK, PUBREC,
 * PUBCOMP) sit behind its PUBLISHes in the same stream, and it must read them to drain. This
 * is re-decided after every pump of its session. A paused connection is not closed for
 * keep-alive (worker.c).
 *
 * Inbox lag. What a publisher's worker routes to another worker before the pause arrives
 * lands on the congested session above its high watermark; to bound it, a worker may have at
 * most lag_limit deliveries posted to another one and not yet handled there. Reaching it,
 * the worker stops reading the publisher of the message (lag_paused) until the other worker,
 * after its next inbox drain, answers with LAG_RESUME (or LAG_SAFETY_MS passed).
 *
 * Policy. A session congested for backpressure_timeout without draining to its low watermark
 * is a slow consumer: its publishers are released, logged once, and what does not fit its
 * queue is dropped and counted as before, until it drains to the low watermark again.
 * backpressure_timeout 0 turns all of this off. */
#ifndef SMQ_BROKER_BACKPRESSURE_H
#define SMQ_BROKER_BACKPRESSURE_H

#include "broker/conn.h"
#include "broker/worker.h"

/* Sets up w->bp (caller: smq_worker_init, main thread, after the loop exists). */
void smq_backpressure_init(struct smq_worker *w);

/* Frees what w->bp holds, signals not taken included. Main thread, after the join. */
void smq_backpressure_dispose(struct smq_worker *w);

/* Takes the pause and resume signals other workers sent to w. Worker thread, anywhere:
 * pausing is immediate, resuming is left to the timer. */
void smq_backpressure_take(struct smq_worker *w);

/* The per-packet check (conn.c): takes signals when some were sent. */
static inline void smq_backpressure_poll(struct smq_worker *w)
{
    if (atomic_load_explicit(&w->bp.pending, memory_order_relaxed))
        smq_backpressure_take(w);
}

void smq__backpressure_note(struct smq_worker *w, struct smq_session *s,
                            const struct smq_msg *msg);
void smq__backpressure_relieve(struct smq_worker *w, struct smq_session *s);
void smq__backpressure_lagging(struct smq_worker *w, uint16_t to, const struct smq_msg *msg);

/* After msg was queued (or dropped) for s and s was pumped: holds msg's publisher while s
 * is congested. Worker thread (s's). Costs two comparisons when s is not congested. */
static inline void smq_backpressure_note(struct smq_worker *w, struct smq_session *s,
                                         const struct smq_msg *msg)
{
    if (s->st.congested || smq_session_above_high(&s->st))
        smq__backpressure_note(w, s, msg);
}

/* Re-evaluates whether c reads: paused while some worker holds it or an inbox lags, unless
 * its own session needs the client's packets (smq_session_needs_client). Pauses at once;
 * resuming goes through the timer. */
void smq_backpressure_update(struct smq_conn *c);

/* After smq_pump(s), s's connection active: releases s's publishers once it is back at its
 * low watermark, and re-decides whether that connection reads when it is held as a
 * publisher itself (its own deliveries may now wait on it, or no longer). Worker thread. */
static inline void smq_backpressure_pumped(struct smq_worker *w, struct smq_session *s)
{
    if (s->st.congested && smq_session_relieved(&s->st))
        smq__backpressure_relieve(w, s);
    if (s->conn->pause_holds > 0 || s->conn->lag_paused)
        smq_backpressure_update(s->conn);
}

/* After a delivery of msg was posted to worker `to` (route.c): when too many are unhandled
 * there, stops reading msg's publisher until they are. Worker thread. */
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

/* After an inbox drain: shows the counts and answers the workers waiting for them. */
void smq_backpressure_drained_inbox(struct smq_worker *w);

#endif
