/* Tests of bench/fanout.c: expected deliveries for fan-in, fan-out, pairs and $share. */
#include <criterion/criterion.h>

#include "bench/fanout.h"

Test(fanout, counts_matching_granted_subscribers)
{
    const char *filters[] = {"bench/#", "bench/1", "bench/+", "other/#"};
    bool granted[] = {true, true, true, true};
    cr_assert_eq(smq_bench_fanout_count("bench/1", filters, granted, 4), 3);
    cr_assert_eq(smq_bench_fanout_count("bench/2", filters, granted, 4), 2);
    cr_assert_eq(smq_bench_fanout_count("nothing", filters, granted, 4), 0);
}

Test(fanout, refused_subscriptions_do_not_count)
{
    const char *filters[] = {"a", "a"};
    bool granted[] = {true, false};
    cr_assert_eq(smq_bench_fanout_count("a", filters, granted, 2), 1);
}

Test(fanout, a_shared_subscription_counts_once)
{
    const char *filters[] = {"$share/g/a/#", "$share/g/a/#", "$share/h/a/#", "a/b"};
    bool granted[] = {true, true, true, true};
    cr_assert_eq(smq_bench_fanout_count("a/b", filters, granted, 4), 3);
}

Test(fanout, dollar_topics_escape_leading_wildcards)
{
    const char *filters[] = {"#"};
    bool granted[] = {true};
    cr_assert_eq(smq_bench_fanout_count("$SYS/x", filters, granted, 1), 0);
}
