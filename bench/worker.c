/* Worker threads (bench/worker.h): the loop, connection pacing, phase changes, the -R
 * tick and the once-a-second chores. */
#include "bench/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/client.h"

/* Connection attempts one worker keeps open at once when -i is 0: enough to connect
 * thousands of clients quickly without overflowing the broker's listen backlog. */
#define MAX_CONNECTING 256u
/* A client not ready this long after its attempt began counts as a connect failure. */
#define CONNECT_TIMEOUT_MS 10000u

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p) {
        fprintf(stderr, "shardmq-bench: out of memory\n");
        abort();
    }
    return p;
}

void smq_bench_worker_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One buffer serves every client of the loop: libuv calls read_cb right after
     * alloc_cb, and read_cb consumes or copies all of it before returning. */
    struct smq_bench_client *c = h->data;
    *buf = uv_buf_init((char *)c->worker->rbuf, SMQ_BENCH_READ_BUF);
}

void smq_bench_worker_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    smq_bench_client_on_read(s->data, nread, (const uint8_t *)buf->base);
}

static void start_next(struct smq_bench_worker *w)
{
    struct smq_bench_client *c = w->clients[w->next_connect++];
    w->connecting++;
    smq_bench_client_start(c);
}

/* -i 0: keep MAX_CONNECTING attempts going. An attempt that fails at once settles inside
 * start_next() and calls back here; the guard turns that recursion into this loop. */
static void connect_more(struct smq_bench_worker *w)
{
    static _Thread_local bool busy;
    if (busy)
        return;
    busy = true;
    while (w->connecting < MAX_CONNECTING && w->next_connect < w->nclients &&
           w->phase < SMQ_PHASE_DRAIN)
        start_next(w);
    busy = false;
}

static void on_connect_timer(uv_timer_t *t)
{
    struct smq_bench_worker *w = t->data;
    if (w->next_connect < w->nclients && w->phase < SMQ_PHASE_DRAIN)
        start_next(w);
    if (w->next_connect >= w->nclients)
        uv_timer_stop(t);
}

void smq_bench_worker_on_settled(struct smq_bench_worker *w)
{
    w->connecting--;
    if (w->run->opts->connect_interval_ms == 0)
        connect_more(w);
}

static void move_hist(struct smq_bench_worker *w)
{
    if (w->hist.total == 0)
        return;
    uv_mutex_lock(&w->snap_lock);
    smq_bench_hist_merge(&w->snap, &w->hist);
    uv_mutex_unlock(&w->snap_lock);
    smq_bench_hist_merge(&w->total, &w->hist);
    smq_bench_hist_reset(&w->hist);
}

static void on_second(uv_timer_t *t)
{
    struct smq_bench_worker *w = t->data;
    uint64_t now = uv_now(&w->loop);
    for (uint32_t i = 0; i < w->nclients; i++) {
        smq_bench_client_check_timeout(w->clients[i], now, CONNECT_TIMEOUT_MS);
        smq_bench_client_keepalive(w->clients[i], now);
    }
    move_hist(w);
}

static bool is_active(const struct smq_bench_client *c)
{
    return c->state == SMQ_CLIENT_READY && !c->pub_done;
}

/* -R: tops up the credit from the elapsed time and deals it over the active publishers. */
static void on_rate(uv_timer_t *t)
{
    struct smq_bench_worker *w = t->data;
    uint64_t now = uv_hrtime();
    w->credit += w->rate * (double)(now - w->credit_ns) / 1e9;
    w->credit_ns = now;
    /* A stall must not turn into a burst: owe at most 100 ms of messages. */
    double cap = w->rate * 0.1 + 1;
    if (w->credit > cap) {
        smq_bench_stat_add(&w->stat[SMQ_STAT_MISSED], (uint64_t)(w->credit - cap));
        w->credit = cap;
    }
    uint32_t active = 0;
    for (uint32_t i = 0; i < w->npubs; i++)
        active += is_active(w->pubs[i]);
    uint32_t n = (uint32_t)w->credit;
    if (active == 0 || n == 0)
        return;
    w->credit -= n;
    uint32_t per = n / active, extra = n % active, k = 0;
    for (uint32_t i = 0; i < w->npubs; i++) {
        struct smq_bench_client *c = w->pubs[(w->rr + i) % w->npubs];
        if (!is_active(c))
            continue;
        uint32_t give = per + (k++ < extra ? 1 : 0);
        if (give) {
            smq_bench_pub_owe(c, give);
            smq_bench_pub_pump(c);
        }
    }
    w->rr = (w->rr + extra) % w->npubs;
}

/* -I: owes one message per interval elapsed since the first, counted on the monotonic
 * clock, so the loop's millisecond timer granularity and callback delays do not make the
 * rate drift below 1000 / -I. */
static void on_pub_timer(uv_timer_t *t)
{
    struct smq_bench_client *c = t->data;
    uint64_t interval_ns = (uint64_t)c->worker->run->opts->pub_interval_ms * 1000000u;
    uint64_t now = uv_hrtime();
    if (c->paced_start_ns == 0)
        c->paced_start_ns = now;
    /* Rounded to the nearest boundary: libuv's millisecond timer may fire a little early. */
    uint64_t ticks = (now - c->paced_start_ns + interval_ns / 2) / interval_ns + 1;
    if (ticks <= c->paced_ticks)
        return;
    smq_bench_pub_owe(c, (uint32_t)(ticks - c->paced_ticks));
    c->paced_ticks = ticks;
    smq_bench_pub_pump(c);
}

static void enter_run(struct smq_bench_worker *w)
{
    const struct smq_bench_opts *o = w->run->opts;
    w->phase = SMQ_PHASE_RUN;
    for (uint32_t i = 0; i < w->npubs; i++) {
        struct smq_bench_client *c = w->pubs[i];
        /* Start offsets spread the publishers over one interval. */
        if (c->has_timer && c->state == SMQ_CLIENT_READY)
            uv_timer_start(&c->pub_timer, on_pub_timer, c->index % o->pub_interval_ms,
                           o->pub_interval_ms);
        else if (!c->has_timer && o->rate <= 0)
            smq_bench_pub_pump(c);
    }
    if (o->rate > 0 && w->npubs > 0) {
        w->credit = 0;
        w->credit_ns = uv_hrtime();
        uv_timer_start(&w->rate_timer, on_rate, 1, 1);
    }
}

static void enter_drain(struct smq_bench_worker *w)
{
    w->phase = SMQ_PHASE_DRAIN;
    uv_timer_stop(&w->rate_timer);
    uv_timer_stop(&w->connect_timer);
    for (uint32_t i = 0; i < w->npubs; i++) {
        if (w->pubs[i]->has_timer)
            uv_timer_stop(&w->pubs[i]->pub_timer);
    }
    /* Release: every EXPECTED count this worker made is visible to the control thread
     * once it sees this increment (acquire). */
    atomic_fetch_add_explicit(&w->run->workers_drained, 1, memory_order_release);
}

static void enter_stop(struct smq_bench_worker *w)
{
    w->phase = SMQ_PHASE_STOP;
    for (uint32_t i = 0; i < w->nclients; i++)
        smq_bench_client_stop(w->clients[i]);
    uv_close((uv_handle_t *)&w->wake, NULL);
    uv_close((uv_handle_t *)&w->connect_timer, NULL);
    uv_close((uv_handle_t *)&w->rate_timer, NULL);
    uv_close((uv_handle_t *)&w->second_timer, NULL);
}

static void on_wake(uv_async_t *a)
{
    struct smq_bench_worker *w = a->data;
    int phase = smq_bench_run_phase(w->run);
    /* A run that ended before this worker saw it start (SIGINT while connecting, or RUN
     * and DRAIN announced within one wake-up) publishes nothing. */
    if (phase == SMQ_PHASE_RUN && w->phase < SMQ_PHASE_RUN)
        enter_run(w);
    if (phase >= SMQ_PHASE_DRAIN && w->phase < SMQ_PHASE_DRAIN)
        enter_drain(w);
    if (phase >= SMQ_PHASE_STOP && w->phase < SMQ_PHASE_STOP)
        enter_stop(w);
}

int smq_bench_worker_init(struct smq_bench_worker *w, struct smq_bench_run *run, uint32_t index)
{
    memset(w, 0, sizeof(*w));
    for (int i = 0; i < SMQ_STAT_COUNT; i++)
        atomic_init(&w->stat[i], 0);
    atomic_init(&w->first_rx_ns, 0);
    atomic_init(&w->last_rx_ns, 0);
    w->index = index;
    w->run = run;
    w->phase = SMQ_PHASE_CONNECT;
    int rc = uv_loop_init(&w->loop);
    if (rc < 0)
        return rc;
    uv_async_init(&w->loop, &w->wake, on_wake);
    uv_timer_init(&w->loop, &w->connect_timer);
    uv_timer_init(&w->loop, &w->rate_timer);
    uv_timer_init(&w->loop, &w->second_timer);
    w->wake.data = w->connect_timer.data = w->rate_timer.data = w->second_timer.data = w;
    w->rbuf = xrealloc(NULL, SMQ_BENCH_READ_BUF);
    smq_bench_hist_init(&w->hist, SMQ_BENCH_HIST_MAX_NS, SMQ_BENCH_HIST_DIGITS);
    smq_bench_hist_init(&w->total, SMQ_BENCH_HIST_MAX_NS, SMQ_BENCH_HIST_DIGITS);
    smq_bench_hist_init(&w->snap, SMQ_BENCH_HIST_MAX_NS, SMQ_BENCH_HIST_DIGITS);
    uv_mutex_init(&w->snap_lock);
    return 0;
}

void smq_bench_worker_add(struct smq_bench_worker *w, struct smq_bench_client *c)
{
    c->worker = w;
    /* Grown by doubling: the counts are powers of two plus what was added before. */
    if ((w->nclients & (w->nclients - 1)) == 0)
        w->clients = xrealloc(w->clients, (w->nclients ? w->nclients * 2 : 1) * sizeof(c));
    w->clients[w->nclients++] = c;
    if (c->role == SMQ_ROLE_PUB) {
        if ((w->npubs & (w->npubs - 1)) == 0)
            w->pubs = xrealloc(w->pubs, (w->npubs ? w->npubs * 2 : 1) * sizeof(c));
        w->pubs[w->npubs++] = c;
    }
}

static void thread_main(void *arg)
{
    struct smq_bench_worker *w = arg;
    const struct smq_bench_run *run = w->run;
    uint64_t interval = run->opts->connect_interval_ms;
    if (run->opts->rate > 0 && run->npubs > 0)
        w->rate = run->opts->rate * w->npubs / run->npubs;
    if (interval == 0)
        connect_more(w);
    else if (w->nclients > 0)
        /* Worker k starts k intervals late, so together they connect one client per -i. */
        uv_timer_start(&w->connect_timer, on_connect_timer, w->index * interval,
                       interval * run->nworkers);
    uv_timer_start(&w->second_timer, on_second, 1000, 1000);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    move_hist(w);
    uv_loop_close(&w->loop);
}

int smq_bench_worker_start(struct smq_bench_worker *w)
{
    return uv_thread_create(&w->thread, thread_main, w);
}

void smq_bench_worker_wake(struct smq_bench_worker *w)
{
    uv_async_send(&w->wake);
}

void smq_bench_worker_join(struct smq_bench_worker *w)
{
    uv_thread_join(&w->thread);
}

void smq_bench_worker_take_snapshot(struct smq_bench_worker *w, struct smq_bench_hist *into)
{
    uv_mutex_lock(&w->snap_lock);
    smq_bench_hist_merge(into, &w->snap);
    smq_bench_hist_reset(&w->snap);
    uv_mutex_unlock(&w->snap_lock);
}

void smq_bench_worker_dispose(struct smq_bench_worker *w)
{
    free(w->clients);
    free(w->pubs);
    free(w->rbuf);
    smq_bench_hist_dispose(&w->hist);
    smq_bench_hist_dispose(&w->total);
    smq_bench_hist_dispose(&w->snap);
    uv_mutex_destroy(&w->snap_lock);
}
