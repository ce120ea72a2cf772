/* Tests of bench/histogram.c: bucketing precision, percentiles, merge and reset. */
#include <criterion/criterion.h>

#include "bench/histogram.h"
#include "proto/errors.h"

#define MAX_NS UINT64_C(100000000000)

static struct smq_bench_hist h;

static void setup(void)
{
    cr_assert_eq(smq_bench_hist_init(&h, MAX_NS, 3), 0);
}

static void teardown(void)
{
    smq_bench_hist_dispose(&h);
}

TestSuite(histogram, .init = setup, .fini = teardown);

Test(histogram, small_values_are_exact)
{
    for (uint64_t v = 0; v < 2048; v++) {
        uint32_t i = smq_bench_hist_index(&h, v);
        cr_assert_eq(smq_bench_hist_lowest_at(&h, i), v);
        cr_assert_eq(smq_bench_hist_highest_at(&h, i), v);
    }
}

Test(histogram, every_value_is_within_a_thousandth)
{
    uint64_t v = 1;
    while (v < MAX_NS) {
        uint32_t i = smq_bench_hist_index(&h, v);
        uint64_t lo = smq_bench_hist_lowest_at(&h, i), hi = smq_bench_hist_highest_at(&h, i);
        cr_assert(lo <= v && v <= hi, "value %llu outside [%llu, %llu]", (unsigned long long)v,
                  (unsigned long long)lo, (unsigned long long)hi);
        cr_assert_leq((double)(hi - lo), (double)v / 1000.0, "bucket too wide at %llu",
                      (unsigned long long)v);
        v = v * 3 + 7;
    }
}

Test(histogram, indexes_are_contiguous_and_monotonic)
{
    uint64_t prev_hi = 0;
    for (uint32_t i = 1; i < h.ncounts; i++) {
        cr_assert_eq(smq_bench_hist_lowest_at(&h, i), prev_hi + 1, "gap before index %u", i);
        cr_assert_eq(smq_bench_hist_index(&h, smq_bench_hist_lowest_at(&h, i)), i);
        prev_hi = smq_bench_hist_highest_at(&h, i);
    }
    cr_assert_geq(prev_hi, MAX_NS);
}

Test(histogram, percentiles_of_a_uniform_range)
{
    for (uint64_t v = 1; v <= 100000; v++)
        smq_bench_hist_record(&h, v * 1000); /* 1 us .. 100 ms */
    cr_assert_eq(h.total, 100000);
    uint64_t p50 = smq_bench_hist_percentile(&h, 50);
    uint64_t p99 = smq_bench_hist_percentile(&h, 99);
    uint64_t p999 = smq_bench_hist_percentile(&h, 99.9);
    cr_assert(p50 >= 50000000 && p50 <= 50000000 + 50000, "p50 %llu", (unsigned long long)p50);
    cr_assert(p99 >= 99000000 && p99 <= 99000000 + 99000, "p99 %llu", (unsigned long long)p99);
    cr_assert(p999 >= 99900000 && p999 <= 99900000 + 99900, "p99.9 %llu",
              (unsigned long long)p999);
    cr_assert_eq(smq_bench_hist_percentile(&h, 100), 100000000);
    cr_assert_eq(h.min, 1000);
    cr_assert_eq(h.max, 100000000);
    cr_assert_float_eq(smq_bench_hist_mean(&h), 50000500.0, 1.0);
}

Test(histogram, percentile_never_exceeds_the_exact_max)
{
    smq_bench_hist_record(&h, 123457);
    cr_assert_eq(smq_bench_hist_percentile(&h, 50), 123457);
    cr_assert_eq(smq_bench_hist_percentile(&h, 99.9), 123457);
}

Test(histogram, ninety_nine_point_nine_of_a_thousand_is_the_999th)
{
    for (uint64_t v = 1; v <= 1000; v++)
        smq_bench_hist_record(&h, v);
    cr_assert_eq(smq_bench_hist_percentile(&h, 99.9), 999);
    cr_assert_eq(smq_bench_hist_percentile(&h, 50), 500);
}

Test(histogram, empty_reports_zero)
{
    cr_assert_eq(smq_bench_hist_percentile(&h, 99), 0);
    cr_assert_eq(smq_bench_hist_mean(&h), 0.0);
}

Test(histogram, values_above_highest_are_clamped_and_counted)
{
    smq_bench_hist_record(&h, MAX_NS * 5);
    cr_assert_eq(h.clamped, 1);
    cr_assert_eq(h.max, MAX_NS);
    cr_assert_eq(smq_bench_hist_percentile(&h, 100), MAX_NS);
}

Test(histogram, merge_adds_counts_and_extremes)
{
    struct smq_bench_hist other;
    smq_bench_hist_init(&other, MAX_NS, 3);
    smq_bench_hist_record(&h, 10);
    smq_bench_hist_record(&other, 5);
    smq_bench_hist_record(&other, 1000000);
    cr_assert_eq(smq_bench_hist_merge(&h, &other), 0);
    cr_assert_eq(h.total, 3);
    cr_assert_eq(h.min, 5);
    cr_assert_eq(h.max, 1000000);
    cr_assert_eq(smq_bench_hist_percentile(&h, 50), 10);
    smq_bench_hist_dispose(&other);
}

Test(histogram, merge_refuses_another_shape)
{
    struct smq_bench_hist other;
    smq_bench_hist_init(&other, MAX_NS, 2);
    cr_assert_eq(smq_bench_hist_merge(&h, &other), SMQ_EINVAL);
    smq_bench_hist_dispose(&other);
}

Test(histogram, reset_empties)
{
    smq_bench_hist_record(&h, 42);
    smq_bench_hist_reset(&h);
    cr_assert_eq(h.total, 0);
    cr_assert_eq(smq_bench_hist_percentile(&h, 50), 0);
    smq_bench_hist_record(&h, 7);
    cr_assert_eq(h.min, 7);
    cr_assert_eq(h.max, 7);
}

Test(histogram, init_rejects_bad_shapes)
{
    struct smq_bench_hist bad;
    cr_assert_eq(smq_bench_hist_init(&bad, MAX_NS, 0), SMQ_EINVAL);
    cr_assert_eq(smq_bench_hist_init(&bad, MAX_NS, 6), SMQ_EINVAL);
    cr_assert_eq(smq_bench_hist_init(&bad, 1, 3), SMQ_EINVAL);
}
