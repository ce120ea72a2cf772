/* Tests for core/expiry.c: the indexed deadline heap behind session expiry and delayed
 * wills.
 *
 * Each test drives the heap the way a worker does (schedule, reschedule, cancel, pop what is
 * due at a clock value) and checks what comes out and in which order; the large tests
 * compare against a brute-force model after every operation. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>

#include "core/expiry.h"

/* Pops everything due at now into out (at most cap); returns how many. */
static size_t pop_all(struct smq_expiry *q, int64_t now, struct smq_expiry_node **out, size_t cap)
{
    size_t n = 0;
    struct smq_expiry_node *e;
    while ((e = smq_expiry_pop_due(q, now)) != NULL) {
        cr_assert_lt(n, cap);
        out[n++] = e;
    }
    return n;
}

Test(expiry, empty_heap_has_nothing_due)
{
    struct smq_expiry q;
    smq_expiry_init(&q);
    cr_assert_null(smq_expiry_pop_due(&q, INT64_MAX));
    cr_assert_eq(smq_expiry_next(&q), INT64_MAX);
    cr_assert_eq(smq_expiry_count(&q), 0);
    smq_expiry_dispose(&q);
}

Test(expiry, pops_in_deadline_order_only_when_due)
{
    struct smq_expiry q;
    smq_expiry_init(&q);
    struct smq_expiry_node n[5] = {0};
    const int64_t at[5] = {500, 100, 400, 200, 300};
    for (int i = 0; i < 5; i++)
        smq_expiry_schedule(&q, &n[i], at[i]);
    cr_assert_eq(smq_expiry_next(&q), 100);
    cr_assert_null(smq_expiry_pop_due(&q, 99), "nothing is due before 100");
    struct smq_expiry_node *out[5];
    cr_assert_eq(pop_all(&q, 250, out, 5), 2);
    cr_assert_eq(out[0], &n[1]);
    cr_assert_eq(out[1], &n[3]);
    cr_assert_not(smq_expiry_is_scheduled(&n[1]), "a popped node is idle");
    cr_assert_eq(pop_all(&q, 1000, out, 5), 3);
    cr_assert_eq(out[0], &n[4]);
    cr_assert_eq(out[1], &n[2]);
    cr_assert_eq(out[2], &n[0]);
    cr_assert_eq(smq_expiry_count(&q), 0);
    smq_expiry_dispose(&q);
}

Test(expiry, equal_deadlines_pop_in_scheduling_order)
{
    struct smq_expiry q;
    smq_expiry_init(&q);
    struct smq_expiry_node n[8] = {0};
    for (int i = 0; i < 8; i++)
        smq_expiry_schedule(&q, &n[i], 1000);
    struct smq_expiry_node *out[8];
    cr_assert_eq(pop_all(&q, 1000, out, 8), 8);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(out[i], &n[i], "position %d", i);
    smq_expiry_dispose(&q);
}

Test(expiry, cancel_removes_and_is_idempotent)
{
    struct smq_expiry q;
    smq_expiry_init(&q);
    struct smq_expiry_node a = {0}, b = {0}, c = {0};
    smq_expiry_schedule(&q, &a, 10);
    smq_expiry_schedule(&q, &b, 20);
    smq_expiry_schedule(&q, &c, 30);
    smq_expiry_cancel(&q, &a);
    smq_expiry_cancel(&q, &a);
    struct smq_expiry_node idle = {0};
    smq_expiry_cancel(&q, &idle); /* never scheduled: nothing happens */
    cr_assert_eq(smq_expiry_count(&q), 2);
    cr_assert_eq(smq_expiry_next(&q), 20);
    smq_expiry_cancel(&q, &c); /* the last slot */
    struct smq_expiry_node *out[3];
    cr_assert_eq(pop_all(&q, 100, out, 3), 1);
    cr_assert_eq(out[0], &b);
    smq_expiry_dispose(&q);
}

Test(expiry, reschedule_moves_a_node_both_ways)
{
    struct smq_expiry q;
    smq_expiry_init(&q);
    struct smq_expiry_node a = {0}, b = {0}, c = {0};
    smq_expiry_schedule(&q, &a, 100);
    smq_expiry_schedule(&q, &b, 200);
    smq_expiry_schedule(&q, &c, 300);
    smq_expiry_schedule(&q, &a, 400); /* later */
    smq_expiry_schedule(&q, &c, 50);  /* earlier */
    cr_assert_eq(smq_expiry_count(&q), 3, "rescheduling does not add a node");
    struct smq_expiry_node *out[3];
    cr_assert_eq(pop_all(&q, 1000, out, 3), 3);
    cr_assert_eq(out[0], &c);
    cr_assert_eq(out[1], &b);
    cr_assert_eq(out[2], &a);
    smq_expiry_dispose(&q);
}

Test(expiry, a_popped_node_can_be_scheduled_again)
{
    struct smq_expiry q;
    smq_expiry_init(&q);
    struct smq_expiry_node a = {0};
    smq_expiry_schedule(&q, &a, 5);
    cr_assert_eq(smq_expiry_pop_due(&q, 5), &a);
    smq_expiry_schedule(&q, &a, 15);
    cr_assert_null(smq_expiry_pop_due(&q, 14));
    cr_assert_eq(smq_expiry_pop_due(&q, 15), &a);
    smq_expiry_dispose(&q);
}

Test(expiry, longest_intervals_do_not_wrap)
{
    /* Session Expiry 0xFFFFFFFE s and a will delay of 0xFFFFFFFF s from a clock far from
     * zero: deadlines stay ordered after the short ones and never come due early. */
    struct smq_expiry q;
    smq_expiry_init(&q);
    const int64_t now = INT64_C(1700000000000);
    struct smq_expiry_node longest = {0}, longer = {0}, soon = {0};
    smq_expiry_schedule(&q, &longest, smq_expiry_after(now, UINT32_MAX));
    smq_expiry_schedule(&q, &longer, smq_expiry_after(now, 0xFFFFFFFEu));
    smq_expiry_schedule(&q, &soon, smq_expiry_after(now, 1));
    cr_assert_eq(smq_expiry_after(now, 0xFFFFFFFEu), now + INT64_C(4294967294000));
    cr_assert_eq(smq_expiry_pop_due(&q, now + 1000), &soon);
    cr_assert_null(smq_expiry_pop_due(&q, now + INT64_C(4294967293999)));
    cr_assert_eq(smq_expiry_pop_due(&q, now + INT64_C(4294967294000)), &longer);
    cr_assert_null(smq_expiry_pop_due(&q, now + INT64_C(4294967294999)));
    cr_assert_eq(smq_expiry_pop_due(&q, INT64_MAX), &longest);
    smq_expiry_dispose(&q);
}

Test(expiry, extreme_deadlines_compare_without_overflow)
{
    struct smq_expiry q;
    smq_expiry_init(&q);
    struct smq_expiry_node lo = {0}, hi = {0}, mid = {0};
    smq_expiry_schedule(&q, &hi, INT64_MAX);
    smq_expiry_schedule(&q, &lo, INT64_MIN);
    smq_expiry_schedule(&q, &mid, 0);
    cr_assert_eq(smq_expiry_pop_due(&q, -1), &lo);
    cr_assert_eq(smq_expiry_pop_due(&q, 0), &mid);
    cr_assert_null(smq_expiry_pop_due(&q, INT64_MAX - 1));
    cr_assert_eq(smq_expiry_pop_due(&q, INT64_MAX), &hi);
    smq_expiry_dispose(&q);
}

Test(expiry, dispose_leaves_scheduled_nodes_idle)
{
    struct smq_expiry q;
    smq_expiry_init(&q);
    struct smq_expiry_node a = {0}, b = {0};
    smq_expiry_schedule(&q, &a, 1);
    smq_expiry_schedule(&q, &b, 2);
    smq_expiry_dispose(&q);
    cr_assert_not(smq_expiry_is_scheduled(&a));
    cr_assert_not(smq_expiry_is_scheduled(&b));
    cr_assert_eq(smq_expiry_count(&q), 0);
}

/* The model: the earliest scheduled node by (deadline, seq), found by a scan. */
static struct smq_expiry_node *model_min(struct smq_expiry_node *nodes, const bool *live, size_t n)
{
    struct smq_expiry_node *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!live[i])
            continue;
        struct smq_expiry_node *e = &nodes[i];
        if (best == NULL || e->deadline_ms < best->deadline_ms ||
            (e->deadline_ms == best->deadline_ms && e->seq < best->seq))
            best = e;
    }
    return best;
}

Test(expiry, random_operations_match_a_model)
{
    enum { N = 2000, OPS = 60000 };
    struct smq_expiry q;
    smq_expiry_init(&q);
    struct smq_expiry_node *nodes = calloc(N, sizeof(*nodes));
    bool *live = calloc(N, sizeof(*live));
    uint32_t count = 0;
    srand(42);
    int64_t now = 0;
    for (int op = 0; op < OPS; op++) {
        size_t i = (size_t)rand() % N;
        switch (rand() % 4) {
        case 0:
        case 1: /* schedule or reschedule, with many equal deadlines */
            smq_expiry_schedule(&q, &nodes[i], now + rand() % 500);
            count += !live[i];
            live[i] = true;
            break;
        case 2:
            smq_expiry_cancel(&q, &nodes[i]);
            count -= live[i];
            live[i] = false;
            break;
        default: { /* time passes: pop what is due, checking the order */
            now += rand() % 50;
            struct smq_expiry_node *e;
            while ((e = smq_expiry_pop_due(&q, now)) != NULL) {
                cr_assert_eq(e, model_min(nodes, live, N), "op %d", op);
                live[e - nodes] = false;
                count--;
            }
            struct smq_expiry_node *m = model_min(nodes, live, N);
            cr_assert(m == NULL || m->deadline_ms > now, "a due node was left at op %d", op);
            break;
        }
        }
        cr_assert_eq(smq_expiry_count(&q), count);
        for (size_t k = 0; k < 4; k++) {
            size_t j = (size_t)rand() % N;
            cr_assert_eq(smq_expiry_is_scheduled(&nodes[j]), live[j]);
        }
    }
    smq_expiry_dispose(&q);
    free(nodes);
    free(live);
}

Test(expiry, hundred_thousand_nodes_drain_in_order)
{
    enum { N = 100000 };
    struct smq_expiry q;
    smq_expiry_init(&q);
    struct smq_expiry_node *nodes = calloc(N, sizeof(*nodes));
    srand(7);
    for (size_t i = 0; i < N; i++)
        smq_expiry_schedule(&q, &nodes[i], (int64_t)(rand() % 100000) * 1000);
    for (size_t i = 0; i < N; i += 2)
        smq_expiry_cancel(&q, &nodes[i]);
    cr_assert_eq(smq_expiry_count(&q), N / 2);
    int64_t last = INT64_MIN;
    size_t popped = 0;
    struct smq_expiry_node *e;
    while ((e = smq_expiry_pop_due(&q, INT64_MAX)) != NULL) {
        cr_assert_geq(e->deadline_ms, last);
        cr_assert_eq((e - nodes) % 2, 1, "a cancelled node came out");
        last = e->deadline_ms;
        popped++;
    }
    cr_assert_eq(popped, N / 2);
    smq_expiry_dispose(&q);
    free(nodes);
}
