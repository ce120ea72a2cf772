/* A worker: one thread, one libuv loop, one shard of connections and sessions.
 *
 * Other threads reach a worker only through smq_worker_post(): a wait-free MPSC queue
 * (liburcu wfcqueue) and a uv_async_t that is signalled only when the queue turns from empty
 * to non-empty; the worker drains the whole queue per wake-up. The worker reports an RCU
 * quiescent state every loop iteration by going offline before it polls (uv_prepare_t) and
 * online again at the first callback that may read a shared structure (smq_worker_enter),
 * so an idle worker never delays a grace period. Keep-alive and CONNECT timeouts live in a
 * per-worker timer wheel with one-second slots, not in a timer per connection; session
 * expiry and delayed wills in a per-worker deadline heap (core/expiry.h) behind one libuv
 * timer set to its earliest deadline. */
#ifndef SMQ_BROKER_WORKER_H
#define SMQ_BROKER_WORKER_H

#include "broker/broker.h"

#define SMQ_WHEEL_SLOTS 64u
#define SMQ_READ_CHUNK (64u * 1024u)

/* Congested sessions are counted per slot of a hash of their id (backpressure.c). */
#define SMQ_BP_SLOTS 4096u
/* The slot value of a wait on an inbox rather than on a congested session. */
#define SMQ_BP_LAG UINT16_MAX

/* A connection of this worker that stopped reading until something at another worker (or
 * this one) clears: a congested slot, or the inbox lag (slot SMQ_BP_LAG). */
struct smq_bp_wait {
    uint64_t session; /* the connection's session here, and its epoch: which connection */
    uint16_t epoch;
    uint16_t to;      /* the worker it waits for */
    uint16_t slot;
};

/* One worker's share of publisher backpressure (broker/backpressure.h explains it). */
struct smq_backpressure {
    /* --- shared: atomics only --- */
    /* This worker's congested sessions, counted per slot and in all. The owner adds when a
     * congestion starts (relaxed: a late reader only lets a message or so more through,
     * bounded by the inbox lag) and subtracts when it ends (seq_cst, then it loads waiting:
     * Dekker with the seq_cst store of waiting and load of the slot in backpressure.c, so
     * a worker that stopped a publisher on this slot is either told or sees it clear).
     * Every worker loads them (relaxed) when it routes a message here. */
    _Alignas(64) atomic_uint n_congested;
    atomic_uint_least16_t *congested;   /* [SMQ_BP_SLOTS] */
    /* [n_workers]: deliveries from worker i this worker has handled, stored (seq_cst) by the
     * owner once per inbox drain and read by worker i; and whether worker i has connections
     * waiting for this one (a slot or its inbox), set (seq_cst) by i and exchanged by the
     * owner after each such store or subtraction, which then notifies i. */
    atomic_uint_fast64_t *taken;
    atomic_bool *waiting;
    /* Set (release) by a worker that notifies this one, with a wake-up; exchanged by the
     * owner in on_wake (acquire). A cache line of its own. */
    _Alignas(64) atomic_bool notified;

    /* --- owned by the worker --- */
    _Alignas(64) bool enabled;
    uint32_t slow_ms;           /* backpressure_timeout in ms */
    uint32_t lag_limit;         /* deliveries one worker may have unhandled at another */
    uint64_t *posted;           /* [n_workers]: deliveries posted to worker i */
    uint64_t *taken_now;        /* [n_workers]: taken[i] as counted during a drain */
    uint64_t *taken_shown;      /* [n_workers]: taken[i] as last stored */
    uint16_t *touched;          /* [n_workers]: sources of this drain's deliveries */
    uint32_t n_touched;
    uint64_t *counted;          /* owned: this worker's sessions counted as congested */
    uint32_t counted_len, counted_cap;
    struct smq_bp_wait *waits;  /* owned: this worker's stopped connections, oldest first */
    uint32_t waits_len, waits_cap;
    uint64_t *ready;            /* owned: sessions whose connection may read again */
    uint32_t ready_len, ready_cap;
    uint32_t ready_rotor;       /* where the next round of resume_ready() starts */
    int64_t next_sweep_ms;      /* the next check of counted */
    int64_t next_release_ms;    /* waits are let go one batch per RELEASE_PACE_MS */
    int64_t timer_due_ms;       /* what timer is set for, INT64_MAX: not set */
    uv_timer_t timer;
};

struct smq_worker {
    uint16_t id;
    struct smq_broker *broker;      /* borrowed: outlives the worker */
    uv_thread_t thread;

    /* --- shared: the inbox; any thread enqueues, only this worker dequeues --- */
    struct cds_wfcq_head inbox_head;
    struct cds_wfcq_tail inbox_tail;
    uv_async_t wake;                /* uv_async_send is the one libuv call safe from others */
    struct smq_worker_stats stats;  /* relaxed atomics: written here, read anywhere */

    /* --- owned by this worker's thread --- */
    uv_loop_t loop;
    uv_prepare_t before_poll;
    uv_timer_t tick;
    bool rcu_online;
    bool stopping;
    int64_t stop_deadline_ms;       /* while stopping: when to cut remaining sockets */
    int64_t now_ms;                 /* loop time, refreshed per callback */
    struct cds_lfht *sessions;      /* session id -> struct smq_session */
    struct smq_expiry timers;       /* session expiry and delayed wills (sessions.h) */
    uv_timer_t expiry_timer;        /* fires at the earliest deadline of timers */
    int64_t expiry_armed_ms;        /* the deadline expiry_timer is set for, INT64_MAX: none */
    struct smq_conn *dirty;         /* connections with output to flush before polling */
    struct smq_conn *wheel[SMQ_WHEEL_SLOTS];
    uint64_t wheel_second;          /* the last slot processed */
    uint8_t *read_buf;              /* owned: SMQ_READ_CHUNK bytes shared by all reads */
    bool read_buf_lent;
    struct smq_ghost *ghosts;       /* owned: ended shared members (ghosts.h) */
    struct smq_sub_target *scratch; /* owned: routing targets of one publish */
    uint32_t scratch_len, scratch_cap;
    uint32_t n_conns;
    struct smq_backpressure bp;     /* shared and owned parts, as marked there */
};

/* Prepares w (caller's storage) as worker number id of broker. Main thread. */
int smq_worker_init(struct smq_worker *w, struct smq_broker *broker, uint16_t id);

/* Starts the worker's thread. Main thread. */
int smq_worker_start(struct smq_worker *w);

/* Waits for the worker's thread to end and releases the worker. Main thread. */
void smq_worker_join(struct smq_worker *w);

/* Hands item to w; ownership moves to w. Any thread. */
void smq_worker_post(struct smq_worker *w, struct smq_inbox_item *item);

/* Makes the calling worker an online RCU reader and refreshes w->now_ms; the first thing
 * every callback that may read shared structures does. Worker thread. */
void smq_worker_enter(struct smq_worker *w);

/* Finds one of w's sessions by id, or NULL. Worker thread. */
struct smq_session *smq_worker_find_session(struct smq_worker *w, uint64_t session_id);

/* Adds a session to / removes it from w's session table. Worker thread. */
void smq_worker_add_session(struct smq_worker *w, struct smq_session *s);
void smq_worker_remove_session(struct smq_worker *w, struct smq_session *s);

/* Puts a connection in / takes it out of the keep-alive wheel; worker thread. */
void smq_worker_wheel_insert(struct smq_worker *w, struct smq_conn *c);
void smq_worker_wheel_remove(struct smq_worker *w, struct smq_conn *c);

/* Schedules n in w's deadline heap at deadline_ms (moving it if scheduled) and makes sure
 * the expiry timer fires by then. Worker thread. */
void smq_worker_schedule(struct smq_worker *w, struct smq_expiry_node *n, int64_t deadline_ms);

/* Marks c as having output to flush before the loop polls again. Worker thread. */
void smq_worker_mark_dirty(struct smq_worker *w, struct smq_conn *c);

/* Returns the loop's clock in whole seconds. */
static inline uint64_t smq_worker_now_s(const struct smq_worker *w)
{
    return (uint64_t)(w->now_ms / 1000);
}

#endif
