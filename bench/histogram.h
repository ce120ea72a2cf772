/* A log-linear latency histogram in the manner of HdrHistogram, written here because Debian
 * packages no C HdrHistogram.
 *
 * Values are unsigned integers (the bench records nanoseconds). The range [0, 2^sub_bits)
 * is counted exactly; above it every power-of-two range [2^k, 2^(k+1)) is split into
 * 2^(sub_bits-1) equal buckets, so any value is known to within one part in 2^(sub_bits-1):
 * 3 significant digits need sub_bits = 11 (one part in 1024). Recording is one shift, one
 * count-leading-zeros and one increment; merging adds arrays of one shape. A histogram is
 * owned by one thread; readers merge copies (bench/worker.c). */
#ifndef SMQ_BENCH_HISTOGRAM_H
#define SMQ_BENCH_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct smq_bench_hist {
    uint64_t *counts; /* owned: ncounts entries */
    uint32_t ncounts;
    uint8_t sub_bits;     /* log2 of the exact range [0, 2^sub_bits) */
    uint64_t highest;     /* values above it are recorded as it (and counted in clamped) */
    uint64_t total;       /* values recorded */
    uint64_t clamped;     /* values that were above highest */
    uint64_t min;         /* exact, UINT64_MAX when empty */
    uint64_t max;         /* exact (after clamping), 0 when empty */
    long double sum;      /* for the mean */
};

/* Initialises h for values in [0, highest] known to `digits` significant decimal digits
 * (1..5). Allocation failure aborts. Returns 0, or SMQ_EINVAL for digits out of range or
 * highest below 2. */
int smq_bench_hist_init(struct smq_bench_hist *h, uint64_t highest, int digits);

/* Frees the counts of h (h itself is the caller's). Accepts a zeroed h. */
void smq_bench_hist_dispose(struct smq_bench_hist *h);

/* Records one value; values above h->highest count as h->highest. */
void smq_bench_hist_record(struct smq_bench_hist *h, uint64_t value);

/* Adds every count of src to dst. Both must have been initialised with the same highest and
 * digits; returns 0 or SMQ_EINVAL when they differ. */
int smq_bench_hist_merge(struct smq_bench_hist *dst, const struct smq_bench_hist *src);

/* Empties h, keeping its shape. */
void smq_bench_hist_reset(struct smq_bench_hist *h);

/* Returns the smallest value v such that at least `percentile` percent (0..100) of the
 * recorded values are <= v, reported as the highest value of v's bucket (as HdrHistogram
 * does) but never above the exact maximum. Returns 0 for an empty histogram. */
uint64_t smq_bench_hist_percentile(const struct smq_bench_hist *h, double percentile);

/* Returns the mean of the recorded values, 0 when empty. */
double smq_bench_hist_mean(const struct smq_bench_hist *h);

/* The bucketing, exposed for tests: the counts index of value (<= h->highest), and the
 * lowest and highest values that share index i. */
uint32_t smq_bench_hist_index(const struct smq_bench_hist *h, uint64_t value);
uint64_t smq_bench_hist_lowest_at(const struct smq_bench_hist *h, uint32_t i);
uint64_t smq_bench_hist_highest_at(const struct smq_bench_hist *h, uint32_t i);

#endif
