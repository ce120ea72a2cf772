/* A worker's loop (see worker.h): the inbox, the per-iteration flush and RCU quiescent
 * state, the one-second tick that drives the keep-alive wheel, and the expiry timer that
 * follows the earliest deadline of the session heap. */
#include "broker/worker.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/acceptor.h"
#include "broker/auth.h"
#include "broker/backpressure.h"
#include "broker/conn.h"
#include "broker/ghosts.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "core/alloc.h"
#include "core/retained.h"
#include "core/tsan.h"
#include "proto/reason.h"

static unsigned long hash_session_id(uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdull;
    id ^= id >> 33;
    return (unsigned long)id;
}

static int match_session_id(struct cds_lfht_node *node, const void *key)
{
    const struct smq_session *s = caa_container_of(node, struct smq_session, by_id);
    return s->id == *(const uint64_t *)key;
}

uint64_t smq_broker_session_count(const struct smq_broker *b)
{
    uint64_t n = 0;
    for (uint16_t i = 0; i < b->n_workers; i++)
        n += atomic_load_explicit(&b->workers[i].stats.sessions, memory_order_relaxed);
    return n;
}

void smq_worker_enter(struct smq_worker *w)
{
    if (!w->rcu_online) {
        rcu_thread_online();
        w->rcu_online = true;
    }
    w->now_ms = (int64_t)uv_now(&w->loop);
}

struct smq_session *smq_worker_find_session(struct smq_worker *w, uint64_t session_id)
{
    struct cds_lfht_iter iter;
    cds_lfht_lookup(w->sessions, hash_session_id(session_id), match_session_id, &session_id,
                    &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    return node ? caa_container_of(node, struct smq_session, by_id) : NULL;
}

void smq_worker_add_session(struct smq_worker *w, struct smq_session *s)
{
    cds_lfht_node_init(&s->by_id);
    cds_lfht_add(w->sessions, hash_session_id(s->id), &s->by_id);
    smq_stat_add(&w->stats.sessions, 1);
}

void smq_worker_remove_session(struct smq_worker *w, struct smq_session *s)
{
    cds_lfht_del(w->sessions, &s->by_id);
    atomic_fetch_sub_explicit(&w->stats.sessions, 1, memory_order_relaxed);
}

void smq_worker_wheel_insert(struct smq_worker *w, struct smq_conn *c)
{
    if (c->in_wheel || c->deadline_s == 0)
        return;
    uint64_t slot_second = c->deadline_s > w->wheel_second ? c->deadline_s : w->wheel_second + 1;
    struct smq_conn **slot = &w->wheel[slot_second % SMQ_WHEEL_SLOTS];
    c->wheel_prev = NULL;
    c->wheel_next = *slot;
    if (*slot)
        (*slot)->wheel_prev = c;
    *slot = c;
    c->in_wheel = true;
}

void smq_worker_wheel_remove(struct smq_worker *w, struct smq_conn *c)
{
    if (!c->in_wheel)
        return;
    if (c->wheel_prev) {
        c->wheel_prev->wheel_next = c->wheel_next;
    } else {
        for (unsigned i = 0; i < SMQ_WHEEL_SLOTS; i++) {
            if (w->wheel[i] == c) {
                w->wheel[i] = c->wheel_next;
                break;
            }
        }
    }
    if (c->wheel_next)
        c->wheel_next->wheel_prev = c->wheel_prev;
    c->wheel_next = c->wheel_prev = NULL;
    c->in_wheel = false;
}

void smq_worker_mark_dirty(struct smq_worker *w, struct smq_conn *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->dirty_next = w->dirty;
    w->dirty = c;
}

/* A connection whose deadline passed. */
static void expire(struct smq_conn *c)
{
    if (c->state == SMQ_CONN_AWAIT_CONNECT) {
        smq_conn_close(c, SMQ_CLOSE_CONNECT_TIMEOUT);
    } else if (c->state == SMQ_CONN_ACTIVE) {
        /* [MQTT-3.1.2-22] 1.5 x Keep Alive without a packet: v5 hears 0x8D first. */
        smq_conn_disconnect(c, SMQ_RC_KEEP_ALIVE_TIMEOUT, "no packet within 1.5 x Keep Alive");
        smq_conn_close(c, SMQ_CLOSE_KEEPALIVE);
    } else {
        smq_conn_abort(c); /* closing, but the peer does not read its last packet */
    }
}

static void run_wheel(struct smq_worker *w)
{
    uint64_t now = smq_worker_now_s(w);
    uint64_t from = w->wheel_second + 1;
    if (now >= from + SMQ_WHEEL_SLOTS)
        from = now - SMQ_WHEEL_SLOTS + 1; /* the loop stalled: one round covers every slot */
    for (uint64_t second = from; second <= now; second++) {
        w->wheel_second = second;
        struct smq_conn *c = w->wheel[second % SMQ_WHEEL_SLOTS];
        w->wheel[second % SMQ_WHEEL_SLOTS] = NULL;
        while (c) {
            struct smq_conn *next = c->wheel_next;
            c->in_wheel = false;
            c->wheel_next = c->wheel_prev = NULL;
            if (c->deadline_s != 0 && c->deadline_s <= now && c->reading_paused &&
                c->state == SMQ_CONN_ACTIVE) {
                /* Backpressure stopped reading it: its packets are waiting on our side. */
                smq_conn_touch(c);
                smq_worker_wheel_insert(w, c);
            } else if (c->deadline_s != 0 && c->deadline_s <= now)
                expire(c);
            else
                smq_worker_wheel_insert(w, c);
            c = next;
        }
    }
}

static void check_drained(struct smq_worker *w);
static void drain_inbox(struct smq_worker *w);
static void on_expiry(uv_timer_t *timer);

/* Once a second on worker 0: retained messages whose Message Expiry passed give back their
 * memory and their place under max_retained_messages/bytes even when no new retained message
 * asks for it (a relaxed load when none can have expired). */
static void purge_expired_retained(struct smq_worker *w)
{
    size_t n = smq_retained_purge_expired(w->broker->retained, w->now_ms);
    if (n > 0)
        smq_log(SMQ_LOG_DEBUG, "retained: deleted %zu expired messages", n);
}

static void on_tick(uv_timer_t *timer)
{
    struct smq_worker *w = timer->data;
    smq_worker_enter(w);
    if (w->stopping) {
        check_drained(w);
        return;
    }
    run_wheel(w);
    if (w->ghosts)
        drain_inbox(w); /* frees ghosts even when nothing else arrives */
    if (w->id == 0)
        purge_expired_retained(w);
}

static void arm_expiry(struct smq_worker *w, int64_t deadline_ms)
{
    int64_t delay = deadline_ms > w->now_ms ? deadline_ms - w->now_ms : 0;
    uv_timer_start(&w->expiry_timer, on_expiry, (uint64_t)delay, 0);
    w->expiry_armed_ms = deadline_ms;
}

/* The earliest deadline came: handle everything due, then wait for the next one. A timer
 * set for a deadline that was cancelled meanwhile finds nothing due and moves on. */
static void on_expiry(uv_timer_t *timer)
{
    struct smq_worker *w = timer->data;
    smq_worker_enter(w);
    w->expiry_armed_ms = INT64_MAX;
    if (w->stopping)
        return; /* every session ends when the loop does */
    smq_sessions_expire(w);
    int64_t next = smq_expiry_next(&w->timers);
    if (next != INT64_MAX)
        arm_expiry(w, next);
}

void smq_worker_schedule(struct smq_worker *w, struct smq_expiry_node *n, int64_t deadline_ms)
{
    smq_expiry_schedule(&w->timers, n, deadline_ms);
    if (!w->stopping && deadline_ms < w->expiry_armed_ms)
        arm_expiry(w, deadline_ms);
}

/* Hands every dirty connection's output to libuv (and frees the ones closed meanwhile:
 * see on_closed in conn.c). */
static void flush_dirty(struct smq_worker *w)
{
    while (w->dirty) {
        struct smq_conn *c = w->dirty;
        w->dirty = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        smq_conn_flush(c);
    }
}

static void on_before_poll(uv_prepare_t *prepare)
{
    struct smq_worker *w = prepare->data;
    flush_dirty(w);
    if (w->rcu_online) {
        /* Offline implies a quiescent state: readers hold nothing across iterations. */
        rcu_thread_offline();
        w->rcu_online = false;
    }
}

/* uv_walk callback: counts sockets still open (a last packet still leaving). */
static void count_open_sockets(uv_handle_t *h, void *arg)
{
    if (uv_handle_get_type(h) == UV_TCP && !uv_is_closing(h))
        ++*(unsigned *)arg;
}

/* uv_walk callback: closes whatever is left so uv_run returns. */
static void close_everything(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h))
        return;
    if (uv_handle_get_type(h) == UV_TCP)
        smq_conn_abort(h->data);
    else
        uv_close(h, NULL);
}

/* While stopping: ends the loop once every socket is closed or the drain time is over. */
static void check_drained(struct smq_worker *w)
{
    /* A will published by another stopping worker may still be on its way here: leave the
     * loop (and stop reading the inbox) only after every worker is past its last post. */
    unsigned stopped = atomic_load_explicit(&w->broker->stopped_workers, memory_order_acquire);
    if (stopped < w->broker->n_workers)
        return;
    unsigned open = 0;
    uv_walk(&w->loop, count_open_sockets, &open);
    if (open == 0 || w->now_ms >= w->stop_deadline_ms)
        uv_walk(&w->loop, close_everything, NULL);
}

static void stop_worker(struct smq_worker *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    uv_timer_stop(&w->expiry_timer);
    w->expiry_armed_ms = INT64_MAX;
    smq_conn_close_all(w, SMQ_RC_SERVER_SHUTTING_DOWN, "server shutting down", SMQ_CLOSE_SHUTDOWN);
    smq_sessions_stop(w);
    /* Nothing is routed from here on: no connection is left to publish or leave a will. */
    atomic_fetch_add_explicit(&w->broker->stopped_workers, 1, memory_order_release);
    w->stop_deadline_ms = w->now_ms + (int64_t)w->broker->settings.drain_timeout * 1000;
    uv_timer_start(&w->tick, on_tick, 50, 50);
}

static void handle_item(struct smq_worker *w, struct smq_inbox_item *item)
{
    SMQ_TSAN_ACQUIRE(item); /* pairs with the release in smq_worker_post() */
    switch (item->kind) {
    case SMQ_INBOX_CONN: {
        struct smq_inbox_conn *in = (struct smq_inbox_conn *)item;
        if (w->stopping) {
            close(in->fd);
            if (in->listener)
                atomic_fetch_sub_explicit(&in->listener->connections, 1, memory_order_relaxed);
        } else {
            smq_conn_open(w, in);
        }
        break;
    }
    case SMQ_INBOX_DELIVER: {
        struct smq_inbox_deliver *d = (struct smq_inbox_deliver *)item;
        smq_backpressure_taken(w, d->from);
        if (!w->stopping)
            smq_deliver_local(w, d->msg, d->targets, d->n_targets);
        smq_msg_unref(d->msg);
        break;
    }
    case SMQ_INBOX_STOP:
        stop_worker(w);
        break;
    default:
        break;
    }
    smq_free(item);
}

/* Handles everything posted so far. Ghosts whose grace period ended before the drain are
 * freed after it (ghosts.h). */
static void drain_inbox(struct smq_worker *w)
{
    smq_ghosts_collect(w);
    struct cds_wfcq_head head;
    struct cds_wfcq_tail tail;
    cds_wfcq_init(&head, &tail);
    __cds_wfcq_splice_blocking(&head, &tail, &w->inbox_head, &w->inbox_tail);
    struct cds_wfcq_node *node, *next;
    __cds_wfcq_for_each_blocking_safe(&head, &tail, node, next) {
        handle_item(w, caa_container_of(node, struct smq_inbox_item, node));
    }
    smq_backpressure_drained_inbox(w); /* shows what was taken to the workers that wait */
    smq_ghosts_release(w);
}

static void on_wake(uv_async_t *async)
{
    struct smq_worker *w = async->data;
    smq_worker_enter(w);
    /* Backpressure notifications share the wake-up (backpressure.h). */
    smq_backpressure_woken(w);
    drain_inbox(w);
}

void smq_worker_post(struct smq_worker *w, struct smq_inbox_item *item)
{
    cds_wfcq_node_init(&item->node);
    SMQ_TSAN_RELEASE(item); /* the queue's own ordering is invisible to TSan */
    /* Returns false when the queue was empty: only then does the worker need waking. */
    if (!cds_wfcq_enqueue(&w->inbox_head, &w->inbox_tail, &item->node))
        uv_async_send(&w->wake);
}

int smq_worker_init(struct smq_worker *w, struct smq_broker *broker, uint16_t id)
{
    memset(w, 0, sizeof(*w));
    smq_auth_init(); /* main thread, before any worker runs: the method table is read-only */
    w->id = id;
    w->broker = broker;
    cds_wfcq_init(&w->inbox_head, &w->inbox_tail);
    int rc = uv_loop_init(&w->loop);
    if (rc < 0)
        return rc;
    uv_async_init(&w->loop, &w->wake, on_wake);
    uv_prepare_init(&w->loop, &w->before_poll);
    uv_timer_init(&w->loop, &w->tick);
    uv_timer_init(&w->loop, &w->expiry_timer);
    smq_backpressure_init(w);
    w->wake.data = w->before_poll.data = w->tick.data = w->expiry_timer.data = w;
    smq_expiry_init(&w->timers);
    w->expiry_armed_ms = INT64_MAX;
    w->read_buf = smq_alloc(SMQ_READ_CHUNK);
    /* Accounting makes the table resize on its element count. Without it cds_lfht grows on
     * chain length alone; some chain reaches 3 at almost any load, so during a connection
     * storm the bucket array kept doubling (up to 16 MiB for 10,000 idle sessions). */
    w->sessions =
        cds_lfht_new(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    w->now_ms = (int64_t)uv_now(&w->loop);
    w->wheel_second = smq_worker_now_s(w);
    return 0;
}

static void worker_main(void *arg)
{
    struct smq_worker *w = arg;
    char tag[16];
    snprintf(tag, sizeof(tag), "w%u", w->id);
    smq_log_set_thread(tag);
    rcu_register_thread();
    w->rcu_online = true;
    uv_prepare_start(&w->before_poll, on_before_poll);
    uv_timer_start(&w->tick, on_tick, 1000, 1000);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    flush_dirty(w); /* the loop ended: nothing polls again, free what closed last */
    if (!w->rcu_online)
        rcu_thread_online();
    w->rcu_online = true;
    smq_sessions_end_all(w);
    rcu_unregister_thread();
}

int smq_worker_start(struct smq_worker *w)
{
    return uv_thread_create(&w->thread, worker_main, w);
}

void smq_worker_join(struct smq_worker *w)
{
    uv_thread_join(&w->thread);
    uv_loop_close(&w->loop);
    smq_ghosts_dispose(w);
    smq_backpressure_dispose(w);
    /* Items posted after the worker stopped. */
    struct cds_wfcq_node *node;
    while ((node = __cds_wfcq_dequeue_blocking(&w->inbox_head, &w->inbox_tail)) != NULL) {
        struct smq_inbox_item *item = caa_container_of(node, struct smq_inbox_item, node);
        SMQ_TSAN_ACQUIRE(item);
        if (item->kind == SMQ_INBOX_CONN)
            close(((struct smq_inbox_conn *)item)->fd);
        else if (item->kind == SMQ_INBOX_DELIVER)
            smq_msg_unref(((struct smq_inbox_deliver *)item)->msg);
        smq_free(item);
    }
    cds_lfht_destroy(w->sessions, NULL);
    smq_expiry_dispose(&w->timers);
    smq_free(w->read_buf);
    smq_free(w->scratch);
    cds_wfcq_destroy(&w->inbox_head, &w->inbox_tail);
}
