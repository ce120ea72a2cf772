/* A worker thread: one libuv loop driving a share of the clients.
 *
 * Clients are dealt to workers round robin by the control thread. A worker paces its
 * connection attempts (-i, interleaved with the other workers), runs the -R rate tick,
 * sends keep-alives, fails clients that take too long to connect, and once a second
 * moves its latency histogram into a snapshot the control thread reads for the progress
 * line. The control thread talks to it only through the run's phase and `wake`. */
#ifndef SMQ_BENCH_WORKER_H
#define SMQ_BENCH_WORKER_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "bench/histogram.h"
#include "bench/run.h"

#define SMQ_BENCH_READ_BUF (256u << 10)

struct smq_bench_worker {
    uint32_t index;
    struct smq_bench_run *run;           /* borrowed: lives as long as main() */
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;                     /* the phase changed */
    uv_timer_t connect_timer;            /* paces connection attempts */
    uv_timer_t rate_timer;               /* -R: 1 ms tick */
    uv_timer_t second_timer;             /* keep-alive, timeouts, histogram snapshot */
    struct smq_bench_client **clients;   /* owned array; the clients are the run's */
    uint32_t nclients;
    struct smq_bench_client **pubs;      /* owned array: the publishers among clients */
    uint32_t npubs;
    uint32_t next_connect;               /* clients[next_connect] starts next */
    uint32_t connecting;                 /* started, not yet settled */
    int phase;                           /* the phase this worker has acted on */
    double rate;                         /* -R share of this worker, messages per second */
    double credit;                       /* -R messages owed, fractional */
    uint64_t credit_ns;                  /* when credit was last topped up */
    uint32_t rr;                         /* -R round-robin cursor over pubs */
    uint8_t *rbuf;                       /* owned: SMQ_BENCH_READ_BUF, shared by all reads */
    struct smq_bench_hist hist;          /* latencies since the last snapshot */
    struct smq_bench_hist total;         /* every latency moved out of hist */

    uv_mutex_t snap_lock;                /* guards snap; taken once a second, off the hot path */
    struct smq_bench_hist snap;          /* latencies not yet shown by the progress line */

    /* --- shared: atomics only (written by this worker, read by the control thread) --- */
    _Atomic uint64_t stat[SMQ_STAT_COUNT];
    _Atomic uint64_t first_rx_ns;        /* uv_hrtime of the first message of this run */
    _Atomic uint64_t last_rx_ns;         /* uv_hrtime of the last one */
};

/* Prepares w (control thread, before start). Allocation failure aborts. Returns 0 or a
 * negative libuv error. */
int smq_bench_worker_init(struct smq_bench_worker *w, struct smq_bench_run *run, uint32_t index);

/* Adds client c to w (control thread, before start). */
void smq_bench_worker_add(struct smq_bench_worker *w, struct smq_bench_client *c);

/* Starts w's thread. Returns 0 or a negative libuv error. */
int smq_bench_worker_start(struct smq_bench_worker *w);

/* Tells w that the run's phase changed. Any thread. */
void smq_bench_worker_wake(struct smq_bench_worker *w);

/* Waits for w's thread to end (after SMQ_PHASE_STOP). */
void smq_bench_worker_join(struct smq_bench_worker *w);

/* Frees what w owns (after join, or when never started). */
void smq_bench_worker_dispose(struct smq_bench_worker *w);

/* Control thread: merges w's unread latencies into into and forgets them. */
void smq_bench_worker_take_snapshot(struct smq_bench_worker *w, struct smq_bench_hist *into);

/* Worker thread, from bench/client.c: one more client settled (ready or failed). */
void smq_bench_worker_on_settled(struct smq_bench_worker *w);

/* libuv callbacks for every client's reads: the worker's buffer, then the client. */
void smq_bench_worker_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void smq_bench_worker_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Histogram shape shared by every worker and the reports: nanoseconds up to 100 s, three
 * significant digits. */
#define SMQ_BENCH_HIST_MAX_NS UINT64_C(100000000000)
#define SMQ_BENCH_HIST_DIGITS 3

#endif
