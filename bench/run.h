/* What one benchmark run shares between the control thread (bench/main.c) and the worker
 * threads (bench/worker.c): the plan, the phase, and per-worker counters.
 *
 * The control thread plans every client before any worker starts, and computes the
 * expected fan-out once every client has settled, before it announces SMQ_PHASE_RUN; both
 * are read-only afterwards. Everything else written by one thread and read by another is
 * an atomic: the phase (release by the control thread, acquire by the workers), the
 * settle counts (release by workers, acquire by the control thread) and the counters,
 * which each worker alone writes with relaxed load+store (no locked instruction on the hot
 * path) and any thread reads relaxed for the progress line. */
#ifndef SMQ_BENCH_RUN_H
#define SMQ_BENCH_RUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/options.h"

enum smq_bench_phase {
    SMQ_PHASE_CONNECT = 0, /* clients connect and subscribe */
    SMQ_PHASE_RUN,         /* publishers publish; -d counts from here */
    SMQ_PHASE_DRAIN,       /* publishers stop; the last messages and acks arrive */
    SMQ_PHASE_STOP,        /* workers disconnect everything and exit */
};

/* Per-worker counters, summed at report time. */
enum smq_bench_stat {
    SMQ_STAT_SENT = 0,  /* PUBLISH packets queued by publishers */
    SMQ_STAT_ACKED,     /* QoS 1 PUBACK / QoS 2 PUBCOMP received by publishers */
    SMQ_STAT_EXPECTED,  /* deliveries the subscribers should see (run: sent x fan-out) */
    SMQ_STAT_RECEIVED,  /* messages of this run received, duplicates included */
    SMQ_STAT_UNIQUE,    /* of those, distinct (publisher, sequence) per subscriber */
    SMQ_STAT_DUP,       /* received again by the same subscriber */
    SMQ_STAT_REORDERED, /* arrived after a later sequence of the same publisher */
    SMQ_STAT_FOREIGN,   /* PUBLISH without our header, or from another run (in run) */
    SMQ_STAT_MISSED,    /* -I/-R sends skipped: the publisher was more than 1000 behind */
    SMQ_STAT_CONN_OK,   /* CONNACK accepted */
    SMQ_STAT_CONN_FAIL, /* TCP failure, refusal, timeout or close before ready */
    SMQ_STAT_SUB_FAIL,  /* SUBACK with a failure code */
    SMQ_STAT_CLOSED,    /* connections lost after the CONNACK */
    SMQ_STAT_PROTO_ERR, /* undecodable input or acks for unknown packet ids */
    SMQ_STAT_COUNT,
};

/* Adds n to a counter this thread alone writes: a relaxed load and store, no lock prefix. */
static inline void smq_bench_stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

struct smq_bench_client;
struct smq_bench_worker;

struct smq_bench_run {
    const struct smq_bench_opts *opts;  /* borrowed: lives as long as main() */
    struct sockaddr_storage broker;     /* resolved -h/-p */
    struct sockaddr_storage *ifaddrs;   /* owned: nifaddrs source addresses */
    uint32_t nifaddrs;
    uint32_t run_id;                    /* random, in every payload */
    struct smq_bench_client *clients;   /* owned: nclients, subscribers first */
    uint32_t nclients;
    uint32_t npubs, nsubs;              /* clients[nsubs..] are publishers in run */
    uint32_t *fanout;                   /* owned: deliveries per publisher index (run) */
    struct smq_bench_worker *workers;   /* owned: nworkers */
    uint32_t nworkers;

    /* --- shared: atomics only --- */
    _Atomic int phase;                  /* enum smq_bench_phase */
    _Atomic uint32_t settled;           /* clients ready or failed */
    _Atomic uint32_t pubs_ready;        /* publishers that got their CONNACK */
    _Atomic uint32_t pubs_done;         /* publishers past -L or disconnected */
    _Atomic uint32_t workers_drained;   /* workers that stopped their publishers */
};

/* Returns the phase as a worker must read it (acquire: pairs with the control thread's
 * release store, which publishes the fan-out table). */
static inline int smq_bench_run_phase(struct smq_bench_run *run)
{
    return atomic_load_explicit(&run->phase, memory_order_acquire);
}

#endif
