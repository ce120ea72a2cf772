/* The log-linear histogram of bench/histogram.h.
 *
 * Index layout for sub_bits S and half = 2^(S-1): values below 2^S are their own index;
 * a larger value v with most significant bit m falls in "bucket" b = m - (S-1) >= 1, where
 * v >> b lies in [half, 2^S), and its index is b * half + (v >> b). Consecutive buckets
 * therefore occupy consecutive index ranges of `half` entries each, so the counts are one
 * flat array and merging is a loop of additions. */
#include "bench/histogram.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"

static unsigned msb64(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

uint32_t smq_bench_hist_index(const struct smq_bench_hist *h, uint64_t value)
{
    unsigned s = h->sub_bits;
    if (value < (UINT64_C(1) << s))
        return (uint32_t)value;
    unsigned b = msb64(value) - (s - 1);
    return (uint32_t)(((uint64_t)b << (s - 1)) + (value >> b));
}

uint64_t smq_bench_hist_lowest_at(const struct smq_bench_hist *h, uint32_t i)
{
    unsigned s = h->sub_bits;
    uint32_t half = UINT32_C(1) << (s - 1);
    if (i < (UINT32_C(1) << s))
        return i;
    uint32_t b = i / half - 1;
    uint64_t sub = i - (uint64_t)b * half;
    return sub << b;
}

uint64_t smq_bench_hist_highest_at(const struct smq_bench_hist *h, uint32_t i)
{
    unsigned s = h->sub_bits;
    if (i < (UINT32_C(1) << s))
        return i;
    uint32_t b = i / (UINT32_C(1) << (s - 1)) - 1;
    return smq_bench_hist_lowest_at(h, i) + ((UINT64_C(1) << b) - 1);
}

int smq_bench_hist_init(struct smq_bench_hist *h, uint64_t highest, int digits)
{
    if (digits < 1 || digits > 5 || highest < 2)
        return SMQ_EINVAL;
    memset(h, 0, sizeof(*h));
    /* The linear half of a bucket must hold 10^digits steps so that two values that differ
     * in the last significant digit land in different buckets. */
    uint64_t need = 1;
    for (int d = 0; d < digits; d++)
        need *= 10;
    unsigned s = 1;
    while ((UINT64_C(1) << (s - 1)) < need)
        s++;
    h->sub_bits = (uint8_t)s;
    h->highest = highest;
    h->ncounts = smq_bench_hist_index(h, highest) + 1;
    h->counts = calloc(h->ncounts, sizeof(*h->counts));
    if (!h->counts) {
        fprintf(stderr, "shardmq-bench: out of memory\n");
        abort();
    }
    h->min = UINT64_MAX;
    return 0;
}

void smq_bench_hist_dispose(struct smq_bench_hist *h)
{
    free(h->counts);
    h->counts = NULL;
    h->ncounts = 0;
}

void smq_bench_hist_record(struct smq_bench_hist *h, uint64_t value)
{
    if (value > h->highest) {
        value = h->highest;
        h->clamped++;
    }
    h->counts[smq_bench_hist_index(h, value)]++;
    h->total++;
    h->sum += (long double)value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

int smq_bench_hist_merge(struct smq_bench_hist *dst, const struct smq_bench_hist *src)
{
    if (dst->sub_bits != src->sub_bits || dst->highest != src->highest)
        return SMQ_EINVAL;
    if (src->total == 0)
        return 0;
    for (uint32_t i = 0; i < dst->ncounts; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->clamped += src->clamped;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    return 0;
}

void smq_bench_hist_reset(struct smq_bench_hist *h)
{
    if (h->total != 0)
        memset(h->counts, 0, h->ncounts * sizeof(*h->counts));
    h->total = 0;
    h->clamped = 0;
    h->sum = 0;
    h->min = UINT64_MAX;
    h->max = 0;
}

uint64_t smq_bench_hist_percentile(const struct smq_bench_hist *h, double percentile)
{
    if (h->total == 0)
        return 0;
    if (percentile > 100.0)
        percentile = 100.0;
    if (percentile < 0.0)
        percentile = 0.0;
    /* The epsilon keeps 99.9% of 1000 at 999 when the product rounds up to 999.0000001. */
    uint64_t target = (uint64_t)ceil(percentile / 100.0 * (double)h->total - 1e-9);
    if (target == 0)
        target = 1;
    if (target > h->total)
        target = h->total;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < h->ncounts; i++) {
        seen += h->counts[i];
        if (seen >= target) {
            uint64_t v = smq_bench_hist_highest_at(h, i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double smq_bench_hist_mean(const struct smq_bench_hist *h)
{
    return h->total ? (double)(h->sum / (long double)h->total) : 0.0;
}
