/* What the bench prints: the progress line on stderr every second, and the final summary
 * as text or as one JSON object on stdout. Pure formatting: the numbers are computed by
 * bench/main.c. */
#ifndef SMQ_BENCH_REPORT_H
#define SMQ_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/histogram.h"
#include "bench/options.h"
#include "bench/run.h"

struct smq_bench_progress {
    double elapsed_s;     /* since the bench started */
    int phase;            /* enum smq_bench_phase */
    enum smq_bench_mode mode;
    double sent_rate;     /* messages per second over the last interval */
    double recv_rate;
    bool has_p99;
    uint64_t p99_ns;      /* of the latencies of the last interval */
    uint64_t conns;       /* connections open */
    uint64_t settled;     /* clients ready or failed */
    uint64_t clients;
    uint64_t failed;      /* connect and subscribe failures */
};

struct smq_bench_result {
    uint64_t stat[SMQ_STAT_COUNT];
    bool has_lost;        /* lost is meaningful (run: exact; sub: sequence gaps) */
    uint64_t lost;
    double connect_s;     /* from start until every client settled */
    double run_s;         /* publishing (or holding, or listening) time */
    double drain_s;
    double recv_s;        /* from the first message received to the last */
    const struct smq_bench_hist *latency; /* borrowed: every latency of the run */
    uint32_t run_id;
};

/* Writes one progress line. */
void smq_bench_report_progress(FILE *out, const struct smq_bench_progress *p);

/* Writes the final summary, as text or JSON by opts->json. */
void smq_bench_report_summary(FILE *out, const struct smq_bench_opts *opts,
                              const struct smq_bench_result *r);

/* Formats v with thousands separators ("1,234,567") into buf; returns buf. */
char *smq_bench_report_group(char *buf, size_t cap, uint64_t v);

#endif
