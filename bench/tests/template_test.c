/* Tests of bench/template.c: %i, %c, %rand_N and errors. */
#include <criterion/criterion.h>

#include "bench/template.h"
#include "proto/errors.h"

Test(template, expands_sequence_and_client_id)
{
    char out[64];
    uint64_t rng = 1;
    cr_assert_eq(smq_bench_template_expand(out, sizeof(out), "t/%i/%c", 17, "smqb_pub_17", &rng),
                 (ssize_t)strlen("t/17/smqb_pub_17"));
    cr_assert_str_eq(out, "t/17/smqb_pub_17");
}

Test(template, rand_stays_below_its_bound)
{
    char out[64];
    uint64_t rng = 12345;
    for (int i = 0; i < 1000; i++) {
        cr_assert_gt(smq_bench_template_expand(out, sizeof(out), "%rand_10", 0, "x", &rng), 0);
        cr_assert(strlen(out) == 1 && out[0] >= '0' && out[0] <= '9', "got %s", out);
    }
}

Test(template, rand_number_ends_at_the_first_non_digit)
{
    char out[64];
    uint64_t rng = 99;
    cr_assert_gt(smq_bench_template_expand(out, sizeof(out), "a/%rand_1/b", 0, "x", &rng), 0);
    cr_assert_str_eq(out, "a/0/b");
}

Test(template, other_percent_sequences_stay)
{
    char out[64];
    uint64_t rng = 1;
    smq_bench_template_expand(out, sizeof(out), "100%/%x", 0, "x", &rng);
    cr_assert_str_eq(out, "100%/%x");
}

Test(template, errors)
{
    char out[8];
    uint64_t rng = 1;
    cr_assert_eq(smq_bench_template_expand(out, sizeof(out), "%rand_", 0, "x", &rng), SMQ_EINVAL);
    cr_assert_eq(smq_bench_template_expand(out, sizeof(out), "%rand_0", 0, "x", &rng), SMQ_EINVAL);
    cr_assert_eq(smq_bench_template_expand(out, sizeof(out), "12345678", 0, "x", &rng),
                 SMQ_ENOBUFS);
}
