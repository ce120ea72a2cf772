/* Tests of bench/track.c: in-order, gaps, duplicates, reordering, many publishers. */
#include <criterion/criterion.h>

#include "bench/track.h"

static struct smq_bench_track t;

static void teardown(void)
{
    smq_bench_track_dispose(&t);
}

TestSuite(track, .fini = teardown);

Test(track, in_order_sequences_are_next)
{
    for (uint64_t s = 0; s < 1000; s++)
        cr_assert_eq(smq_bench_track_see(&t, 7, s), SMQ_SEEN_NEXT);
    cr_assert_eq(smq_bench_track_unique(&t), 1000);
    cr_assert_eq(smq_bench_track_gaps(&t), 0);
}

Test(track, a_skipped_sequence_is_a_gap_until_it_arrives)
{
    cr_assert_eq(smq_bench_track_see(&t, 1, 0), SMQ_SEEN_NEXT);
    cr_assert_eq(smq_bench_track_see(&t, 1, 3), SMQ_SEEN_GAP);
    cr_assert_eq(smq_bench_track_gaps(&t), 2);
    cr_assert_eq(smq_bench_track_see(&t, 1, 2), SMQ_SEEN_LATE);
    cr_assert_eq(smq_bench_track_see(&t, 1, 1), SMQ_SEEN_LATE);
    cr_assert_eq(smq_bench_track_gaps(&t), 0);
    cr_assert_eq(smq_bench_track_see(&t, 1, 4), SMQ_SEEN_NEXT);
}

Test(track, a_first_message_after_zero_is_a_gap)
{
    cr_assert_eq(smq_bench_track_see(&t, 1, 5), SMQ_SEEN_GAP);
    cr_assert_eq(smq_bench_track_gaps(&t), 5);
}

Test(track, duplicates_are_told_from_late_arrivals)
{
    cr_assert_eq(smq_bench_track_see(&t, 9, 0), SMQ_SEEN_NEXT);
    cr_assert_eq(smq_bench_track_see(&t, 9, 1), SMQ_SEEN_NEXT);
    cr_assert_eq(smq_bench_track_see(&t, 9, 1), SMQ_SEEN_DUP);
    cr_assert_eq(smq_bench_track_see(&t, 9, 0), SMQ_SEEN_DUP);
    cr_assert_eq(smq_bench_track_see(&t, 9, 3), SMQ_SEEN_GAP);
    cr_assert_eq(smq_bench_track_see(&t, 9, 2), SMQ_SEEN_LATE);
    cr_assert_eq(smq_bench_track_see(&t, 9, 2), SMQ_SEEN_DUP);
    cr_assert_eq(smq_bench_track_unique(&t), 4);
}

Test(track, the_window_reaches_63_back)
{
    cr_assert_eq(smq_bench_track_see(&t, 2, 0), SMQ_SEEN_NEXT);
    cr_assert_eq(smq_bench_track_see(&t, 2, 63), SMQ_SEEN_GAP);
    cr_assert_eq(smq_bench_track_see(&t, 2, 0), SMQ_SEEN_DUP);
    cr_assert_eq(smq_bench_track_see(&t, 2, 1), SMQ_SEEN_LATE);
    /* A jump past the window forgets it: older arrivals count as late. */
    cr_assert_eq(smq_bench_track_see(&t, 2, 1000), SMQ_SEEN_GAP);
    cr_assert_eq(smq_bench_track_see(&t, 2, 5), SMQ_SEEN_LATE);
    cr_assert_eq(smq_bench_track_see(&t, 2, 999), SMQ_SEEN_LATE);
    cr_assert_eq(smq_bench_track_see(&t, 2, 999), SMQ_SEEN_DUP);
}

Test(track, publishers_are_independent)
{
    cr_assert_eq(smq_bench_track_see(&t, 1, 0), SMQ_SEEN_NEXT);
    cr_assert_eq(smq_bench_track_see(&t, 2, 0), SMQ_SEEN_NEXT);
    cr_assert_eq(smq_bench_track_see(&t, (UINT64_C(5) << 32) | 1, 0), SMQ_SEEN_NEXT);
    cr_assert_eq(smq_bench_track_see(&t, 1, 1), SMQ_SEEN_NEXT);
    cr_assert_eq(smq_bench_track_see(&t, 2, 0), SMQ_SEEN_DUP);
}

Test(track, many_publishers_grow_the_table)
{
    for (uint64_t round = 0; round < 3; round++) {
        for (uint64_t p = 0; p < 5000; p++)
            cr_assert_eq(smq_bench_track_see(&t, p * 7919, round), SMQ_SEEN_NEXT);
    }
    cr_assert_eq(t.count, 5000);
    cr_assert_eq(smq_bench_track_unique(&t), 15000);
    cr_assert_eq(smq_bench_track_gaps(&t), 0);
}
