/* Tests for core/topic_index.c: the subscription trie and its lock-free readers.
 *
 * Matching is checked against the spec's wildcard rules (4.7 of 3.1.1 and 5.0): `+` fills
 * exactly one level (an empty one too), `#` the rest including the parent, `$` topics are not
 * matched by a leading wildcard. Then the bookkeeping: replace on resubscribe, unsubscribe,
 * shared groups (round robin, kept apart from plain entries of the same filter), pruning
 * (heap back to where it was), the limits, and a concurrent run of readers against a writer.
 * Every test registers its thread with RCU and waits for pending call_rcu() callbacks
 * (rcu_barrier) before it ends, so ASan's leak check sees everything freed. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rcu.h"
#include "core/topic_index.h"
#include "proto/errors.h"
#include "proto/span.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SMQ_TEST_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SMQ_TEST_SANITIZER 1
#endif
#endif

/* heap_in_use() returns the bytes the program holds on the heap. Sanitizer allocators count
 * exactly; glibc's count includes the chunks its per-thread caches keep after free() (the
 * call_rcu thread frees everything here), which HEAP_SLACK allows for. */
#ifdef SMQ_TEST_SANITIZER
/* Exported by the ASan and TSan runtimes (sanitizer/allocator_interface.h, which gcc does
 * not install). */
size_t __sanitizer_get_current_allocated_bytes(void);
#define HEAP_SLACK 256u
static size_t heap_in_use(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
#include <malloc.h>
#define HEAP_SLACK (64u * 1024u)
static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}
#endif

static void setup(void)
{
    rcu_register_thread();
}

static void teardown(void)
{
    rcu_barrier(); /* runs every pending free */
    rcu_unregister_thread();
}

TestSuite(index, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */

/* What one match reported, in order. */
struct hits {
    size_t n, cap;
    struct smq_sub_target *t;
};

static void collect_cb(void *ctx, const struct smq_sub_target *target)
{
    struct hits *h = ctx;
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->t = realloc(h->t, h->cap * sizeof(*h->t));
        cr_assert_not_null(h->t);
    }
    h->t[h->n++] = *target;
}

static struct hits match(struct smq_index *ix, const char *topic)
{
    struct hits h = {0};
    smq_index_match(ix, smq_span_str(topic), collect_cb, &h);
    return h;
}

/* Returns how many reports name session. */
static size_t hits_of(const struct hits *h, uint64_t session)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++)
        n += h->t[i].session_id == session;
    return n;
}

/* Returns the first report naming session (the test checks it exists). */
static const struct smq_sub_target *hit(const struct hits *h, uint64_t session)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->t[i].session_id == session)
            return &h->t[i];
    }
    cr_assert_fail("session %llu not reported", (unsigned long long)session);
    return NULL;
}

static size_t count_hits(struct smq_index *ix, const char *topic)
{
    struct hits h = match(ix, topic);
    free(h.t);
    return h.n;
}

/* True when topic is reported for session, exactly once. */
static bool matches_once(struct smq_index *ix, const char *topic, uint64_t session)
{
    struct hits h = match(ix, topic);
    size_t n = hits_of(&h, session);
    free(h.t);
    return n == 1;
}

static struct smq_sub_target target(uint64_t session, uint8_t qos)
{
    return (struct smq_sub_target){.session_id = session, .qos = qos, .shard = 1};
}

static int sub(struct smq_index *ix, const char *filter, uint64_t session, uint8_t qos)
{
    struct smq_sub_target t = target(session, qos);
    return smq_index_subscribe(ix, smq_span_str(filter), &t);
}

static int unsub(struct smq_index *ix, const char *filter, uint64_t session)
{
    return smq_index_unsubscribe(ix, smq_span_str(filter), session);
}

/* CPU seconds this thread has used: unlike wall time, not stretched by a busy machine. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Returns n copies of c followed by tail, NUL-terminated (heap). */
static char *repeat(char c, size_t n, const char *tail)
{
    size_t t = strlen(tail);
    char *s = malloc(n + t + 1);
    cr_assert_not_null(s);
    memset(s, c, n);
    memcpy(s + n, tail, t + 1);
    return s;
}

/* ---------------------------------------------------------------------------------------- */
/* Matching                                                                                 */

Test(index, exact_filter_matches_only_its_topic)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "sport/tennis/player1", 1, 1), 0);
    cr_assert(matches_once(ix, "sport/tennis/player1", 1));
    cr_assert_eq(count_hits(ix, "sport/tennis"), 0);
    cr_assert_eq(count_hits(ix, "sport/tennis/player1/ranking"), 0);
    cr_assert_eq(count_hits(ix, "sport/tennis/player2"), 0);
    cr_assert_eq(count_hits(ix, "Sport/tennis/player1"), 0, "levels are case-sensitive");
    cr_assert_eq(count_hits(ix, "sport/tennis/player1/"), 0);
    cr_assert_eq(smq_index_count(ix), 1);
    smq_index_free(ix);
}

Test(index, empty_levels_are_levels)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "a//b", 1, 0), 0);
    cr_assert_eq(sub(ix, "/a", 2, 0), 0);
    cr_assert_eq(sub(ix, "a/", 3, 0), 0);
    cr_assert(matches_once(ix, "a//b", 1));
    cr_assert_eq(count_hits(ix, "a/b"), 0);
    cr_assert(matches_once(ix, "/a", 2));
    cr_assert_eq(count_hits(ix, "a"), 0);
    cr_assert(matches_once(ix, "a/", 3));
    smq_index_free(ix);
}

Test(index, target_fields_are_reported_as_stored)
{
    struct smq_index *ix = smq_index_new();
    struct smq_sub_target t = {.session_id = 42,
                               .subscription_id = 7,
                               .shard = 3,
                               .qos = 2,
                               .flags =
                                   SMQ_SUB_NO_LOCAL | SMQ_SUB_RETAIN_AS_PUBLISHED | SMQ_SUB_SHARED};
    cr_assert_eq(smq_index_subscribe(ix, smq_span_str("a/b"), &t), 0);
    struct hits h = match(ix, "a/b");
    cr_assert_eq(h.n, 1);
    cr_assert_eq(h.t[0].session_id, 42);
    cr_assert_eq(h.t[0].subscription_id, 7);
    cr_assert_eq(h.t[0].shard, 3);
    cr_assert_eq(h.t[0].qos, 2);
    cr_assert_eq(h.t[0].flags, SMQ_SUB_NO_LOCAL | SMQ_SUB_RETAIN_AS_PUBLISHED,
                 "SMQ_SUB_SHARED is the index's to set, only on shared deliveries");
    free(h.t);
    smq_index_free(ix);
}

Test(index, plus_matches_exactly_one_level)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "sport/tennis/+", 1, 0), 0);
    cr_assert_eq(sub(ix, "+", 2, 0), 0);
    cr_assert_eq(sub(ix, "+/+", 3, 0), 0);
    cr_assert_eq(sub(ix, "/+", 4, 0), 0);
    cr_assert_eq(sub(ix, "a/+/c", 5, 0), 0);

    cr_assert(matches_once(ix, "sport/tennis/player1", 1));
    cr_assert(matches_once(ix, "sport/tennis/player2", 1));
    cr_assert(matches_once(ix, "sport/tennis/", 1), "an empty level is a level");
    cr_assert_eq(count_hits(ix, "sport/tennis/player1/ranking"), 0);
    struct hits h = match(ix, "sport/tennis");
    cr_assert_eq(hits_of(&h, 1), 0, "sport/tennis/+ needs a third level");
    cr_assert_eq(h.n, 1, "only `+/+`");
    free(h.t);

    /* The spec's examples: "sport/+" does not match "sport", "+/+" and "/+" match "/finance". */
    cr_assert(matches_once(ix, "sport", 2));
    cr_assert(matches_once(ix, "/finance", 3));
    cr_assert(matches_once(ix, "/finance", 4));
    cr_assert_eq(count_hits(ix, "/finance"), 2, "`+` alone does not match two levels");
    cr_assert(matches_once(ix, "a/b/c", 5));
    cr_assert(matches_once(ix, "a//c", 5));
    cr_assert_eq(count_hits(ix, "a/c"), 1, "only `+/+` matches a/c");
    cr_assert_eq(count_hits(ix, "a/b/b/c"), 0);
    smq_index_free(ix);
}

Test(index, hash_matches_everything_below)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "sport/tennis/player1/#", 1, 0), 0);
    cr_assert_eq(sub(ix, "#", 2, 0), 0);
    cr_assert_eq(sub(ix, "sport/+/#", 3, 0), 0);

    cr_assert(matches_once(ix, "sport/tennis/player1/ranking", 1));
    cr_assert(matches_once(ix, "sport/tennis/player1/score/wimbledon", 1));
    cr_assert(matches_once(ix, "sport/tennis/player1/", 1));
    cr_assert_eq(count_hits(ix, "sport/tennis/player2"), 2);
    cr_assert(matches_once(ix, "anything/at/all", 2));
    cr_assert(matches_once(ix, "/", 2));
    cr_assert(matches_once(ix, "sport/x/y/z", 3));
    cr_assert_eq(count_hits(ix, "other/tennis/player1/ranking"), 1);
    smq_index_free(ix);
}

Test(index, hash_matches_parent)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "sport/tennis/player1/#", 1, 0), 0);
    cr_assert_eq(sub(ix, "a/#", 2, 0), 0);
    cr_assert_eq(sub(ix, "+/#", 3, 0), 0);
    /* [MQTT-4.7.1-2] "sport/#" also matches "sport". */
    cr_assert(matches_once(ix, "sport/tennis/player1", 1));
    cr_assert(matches_once(ix, "a", 2));
    cr_assert(matches_once(ix, "a", 3));
    cr_assert_eq(count_hits(ix, "sport/tennis"), 1, "only `+/#` matches sport/tennis");
    cr_assert(matches_once(ix, "sport/tennis", 3));
    cr_assert_eq(count_hits(ix, "b"), 1);
    smq_index_free(ix);
}

Test(index, dollar_topics_skip_leading_wildcards)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "#", 1, 0), 0);
    cr_assert_eq(sub(ix, "+/monitor/Clients", 2, 0), 0);
    cr_assert_eq(sub(ix, "$SYS/#", 3, 0), 0);
    cr_assert_eq(sub(ix, "$SYS/monitor/+", 4, 0), 0);
    cr_assert_eq(sub(ix, "+", 5, 0), 0);
    cr_assert_eq(sub(ix, "$share/g/#", 6, 0), 0);

    /* [MQTT-4.7.2-1] */
    struct hits h = match(ix, "$SYS/monitor/Clients");
    cr_assert_eq(hits_of(&h, 1), 0);
    cr_assert_eq(hits_of(&h, 2), 0);
    cr_assert_eq(hits_of(&h, 3), 1);
    cr_assert_eq(hits_of(&h, 4), 1);
    cr_assert_eq(hits_of(&h, 6), 0, "a shared `#` is still a leading wildcard");
    cr_assert_eq(h.n, 2);
    free(h.t);
    cr_assert_eq(count_hits(ix, "$SYS"), 1, "$SYS/# matches its parent, `+` and `#` do not");
    cr_assert(matches_once(ix, "$SYS", 3));
    /* Only a leading `$` counts. */
    h = match(ix, "a$/monitor/Clients");
    cr_assert_eq(hits_of(&h, 1), 1);
    cr_assert_eq(hits_of(&h, 2), 1);
    cr_assert_eq(hits_of(&h, 6), 1);
    free(h.t);
    smq_index_free(ix);
}

Test(index, overlapping_filters_of_one_session_are_each_reported)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "a/b", 1, 0), 0);
    cr_assert_eq(sub(ix, "a/+", 1, 1), 0);
    cr_assert_eq(sub(ix, "a/#", 1, 2), 0);
    cr_assert_eq(sub(ix, "#", 1, 1), 0);
    cr_assert_eq(smq_index_count(ix), 4);
    struct hits h = match(ix, "a/b");
    cr_assert_eq(h.n, 4, "one report per matching filter: the router dedups per session");
    cr_assert_eq(hits_of(&h, 1), 4);
    int qos_seen = 0;
    for (size_t i = 0; i < h.n; i++)
        qos_seen |= 1 << h.t[i].qos;
    cr_assert_eq(qos_seen, 7);
    free(h.t);
    smq_index_free(ix);
}

Test(index, several_sessions_on_one_filter)
{
    struct smq_index *ix = smq_index_new();
    for (uint64_t s = 1; s <= 20; s++)
        cr_assert_eq(sub(ix, "home/+/temp", s, (uint8_t)(s % 3)), 0);
    cr_assert_eq(sub(ix, "home/kitchen/temp", 21, 0), 0);
    struct hits h = match(ix, "home/kitchen/temp");
    cr_assert_eq(h.n, 21);
    for (uint64_t s = 1; s <= 21; s++) {
        cr_assert_eq(hits_of(&h, s), 1);
        cr_assert_eq(hit(&h, s)->qos, s == 21 ? 0 : s % 3);
    }
    free(h.t);
    cr_assert_eq(count_hits(ix, "home/hall/temp"), 20);
    smq_index_free(ix);
}

/* ---------------------------------------------------------------------------------------- */
/* Subscribe and unsubscribe                                                                */

Test(index, resubscribe_replaces_options)
{
    struct smq_index *ix = smq_index_new();
    for (uint64_t s = 1; s <= 12; s++) /* past the linear-search size too */
        cr_assert_eq(sub(ix, "a/b", s, 0), 0);
    cr_assert_eq(sub(ix, "a/b", 5, 2), 1);
    struct smq_sub_target t = {.session_id = 7, .qos = 1, .subscription_id = 99, .shard = 4};
    cr_assert_eq(smq_index_subscribe(ix, smq_span_str("a/b"), &t), 1);
    cr_assert_eq(smq_index_count(ix), 12);
    struct hits h = match(ix, "a/b");
    cr_assert_eq(h.n, 12);
    cr_assert_eq(hits_of(&h, 5), 1);
    cr_assert_eq(hit(&h, 5)->qos, 2);
    cr_assert_eq(hit(&h, 7)->subscription_id, 99);
    cr_assert_eq(hit(&h, 7)->shard, 4);
    cr_assert_eq(hit(&h, 1)->qos, 0);
    free(h.t);
    /* The same session on another filter is another subscription. */
    cr_assert_eq(sub(ix, "a/+", 5, 1), 0);
    cr_assert_eq(smq_index_count(ix), 13);
    smq_index_free(ix);
}

Test(index, unsubscribe_removes_only_that_subscription)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "a/b", 1, 0), 0);
    cr_assert_eq(sub(ix, "a/b", 2, 0), 0);
    cr_assert_eq(sub(ix, "a/+", 1, 0), 0);
    cr_assert_eq(unsub(ix, "a/b", 1), 0);
    struct hits h = match(ix, "a/b");
    cr_assert_eq(h.n, 2);
    cr_assert_eq(hits_of(&h, 1), 1, "a/+ of session 1 stays");
    cr_assert_eq(hits_of(&h, 2), 1);
    free(h.t);
    cr_assert_eq(smq_index_count(ix), 2);
    smq_index_free(ix);
}

Test(index, unsubscribe_absent_returns_enoent)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(unsub(ix, "a/b", 1), SMQ_ENOENT, "empty index");
    cr_assert_eq(sub(ix, "a/b", 1, 0), 0);
    cr_assert_eq(unsub(ix, "a/b", 2), SMQ_ENOENT, "other session");
    cr_assert_eq(unsub(ix, "a/c", 1), SMQ_ENOENT, "other filter");
    cr_assert_eq(unsub(ix, "a", 1), SMQ_ENOENT, "a prefix of the filter");
    cr_assert_eq(unsub(ix, "a/+", 1), SMQ_ENOENT, "a filter that matches it");
    cr_assert_eq(unsub(ix, "$share/g/a/b", 1), SMQ_ENOENT, "the shared twin");
    cr_assert_eq(unsub(ix, "$share/g", 1), SMQ_ENOENT, "not a valid filter");
    cr_assert_eq(unsub(ix, "a/b", 1), 0);
    cr_assert_eq(unsub(ix, "a/b", 1), SMQ_ENOENT, "twice");
    cr_assert_eq(smq_index_count(ix), 0);
    smq_index_free(ix);
}

Test(index, invalid_filters_are_refused)
{
    struct smq_index *ix = smq_index_new();
    const char *bad[] = {"",         "a/#/b",     "a+",        "#a",
                         "$share/g", "$share//t", "$share/g/", "$share/g+/t"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(sub(ix, bad[i], 1, 0), SMQ_EINVAL, "%s", bad[i]);
    cr_assert_eq(smq_index_count(ix), 0);
    smq_index_free(ix);
}

/* ---------------------------------------------------------------------------------------- */
/* Shared subscriptions                                                                     */

Test(index, shared_group_reports_one_member_round_robin)
{
    struct smq_index *ix = smq_index_new();
    for (uint64_t s = 1; s <= 3; s++)
        cr_assert_eq(sub(ix, "$share/g/jobs/+", s, 1), 0);
    cr_assert_eq(smq_index_count(ix), 3);
    uint64_t order[9];
    for (int i = 0; i < 9; i++) {
        struct hits h = match(ix, "jobs/render");
        cr_assert_eq(h.n, 1, "one member per group and message");
        cr_assert(h.t[0].flags & SMQ_SUB_SHARED);
        cr_assert_eq(h.t[0].qos, 1);
        order[i] = h.t[0].session_id;
        free(h.t);
    }
    /* Every run of three visits each member once, in the same order each time. */
    for (int i = 0; i < 3; i++) {
        cr_assert_neq(order[i], order[(i + 1) % 3]);
        cr_assert_eq(order[i], order[i + 3]);
        cr_assert_eq(order[i], order[i + 6]);
    }
    cr_assert_eq(count_hits(ix, "jobs"), 0);
    cr_assert_eq(count_hits(ix, "jobs/render/x"), 0);
    smq_index_free(ix);
}

Test(index, round_robin_skips_removed_members)
{
    struct smq_index *ix = smq_index_new();
    for (uint64_t s = 1; s <= 4; s++)
        cr_assert_eq(sub(ix, "$share/g/t", s, 0), 0);
    cr_assert_eq(unsub(ix, "$share/g/t", 2), 0);
    size_t seen[5] = {0};
    for (int i = 0; i < 300; i++) {
        struct hits h = match(ix, "t");
        cr_assert_eq(h.n, 1);
        seen[h.t[0].session_id]++;
        free(h.t);
    }
    cr_assert_eq(seen[2], 0);
    cr_assert(seen[1] > 0 && seen[3] > 0 && seen[4] > 0);
    smq_index_free(ix);
}

Test(index, each_group_of_a_filter_gets_a_copy)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "$share/a/t", 1, 0), 0);
    cr_assert_eq(sub(ix, "$share/a/t", 2, 0), 0);
    cr_assert_eq(sub(ix, "$share/b/t", 3, 0), 0);
    cr_assert_eq(sub(ix, "$share/b/t", 1, 0), 0, "one session in two groups");
    cr_assert_eq(sub(ix, "$share/c/+", 4, 0), 0);
    cr_assert_eq(sub(ix, "$share/a/t", 1, 2), 1, "same session, group and filter: replace");
    for (int i = 0; i < 4; i++) {
        struct hits h = match(ix, "t");
        cr_assert_eq(h.n, 3, "groups a, b and c");
        for (size_t j = 0; j < h.n; j++)
            cr_assert(h.t[j].flags & SMQ_SUB_SHARED);
        cr_assert_eq(hits_of(&h, 4), 1);
        free(h.t);
    }
    cr_assert_eq(unsub(ix, "$share/a/t", 1), 0);
    for (int i = 0; i < 4; i++) {
        struct hits h = match(ix, "t");
        cr_assert_eq(h.n, 3);
        cr_assert_eq(hits_of(&h, 2), 1, "session 2 is all that is left of group a");
        free(h.t);
    }
    cr_assert_eq(smq_index_count(ix), 4);
    smq_index_free(ix);
}

Test(index, unsubscribe_plain_leaves_shared_of_same_filter)
{
    struct smq_index *ix = smq_index_new();
    /* [PITFALLS] SUBSCRIBE $share/g/t and t, UNSUBSCRIBE t: two entries, not one. */
    cr_assert_eq(sub(ix, "$share/g/t", 1, 1), 0);
    cr_assert_eq(sub(ix, "t", 1, 0), 0, "a different subscription, not a replacement");
    cr_assert_eq(smq_index_count(ix), 2);
    struct hits h = match(ix, "t");
    cr_assert_eq(h.n, 2);
    free(h.t);

    cr_assert_eq(unsub(ix, "t", 1), 0);
    h = match(ix, "t");
    cr_assert_eq(h.n, 1);
    cr_assert_eq(h.t[0].session_id, 1);
    cr_assert(h.t[0].flags & SMQ_SUB_SHARED);
    cr_assert_eq(h.t[0].qos, 1);
    free(h.t);
    cr_assert_eq(unsub(ix, "t", 1), SMQ_ENOENT);

    /* And the other way round. */
    cr_assert_eq(sub(ix, "t", 1, 0), 0);
    cr_assert_eq(unsub(ix, "$share/g/t", 1), 0);
    h = match(ix, "t");
    cr_assert_eq(h.n, 1);
    cr_assert_eq(h.t[0].flags & SMQ_SUB_SHARED, 0);
    free(h.t);
    cr_assert_eq(unsub(ix, "$share/g/t", 1), SMQ_ENOENT);
    cr_assert_eq(unsub(ix, "t", 1), 0);
    cr_assert_eq(smq_index_count(ix), 0);
    cr_assert_eq(count_hits(ix, "t"), 0);
    smq_index_free(ix);
}

/* ---------------------------------------------------------------------------------------- */
/* Shared-group selection                                                                   */

/* Matches topic rounds times and counts, per session (< 64), the shared reports. */
static void tally_shared(struct smq_index *ix, const char *topic, int rounds, size_t seen[64])
{
    for (int i = 0; i < rounds; i++) {
        struct hits h = match(ix, topic);
        cr_assert_eq(h.n, 1, "one member per group and message");
        cr_assert(h.t[0].flags & SMQ_SUB_SHARED);
        cr_assert_lt(h.t[0].session_id, 64);
        seen[h.t[0].session_id]++;
        free(h.t);
    }
}

Test(index, shared_selection_is_exactly_fair_over_n_members)
{
    struct smq_index *ix = smq_index_new();
    for (uint64_t s = 1; s <= 7; s++)
        cr_assert_eq(sub(ix, "$share/g/a/+", s, 1), 0);
    size_t seen[64] = {0};
    tally_shared(ix, "a/b", 7 * 300, seen);
    for (uint64_t s = 1; s <= 7; s++)
        cr_assert_eq(seen[s], 300, "member %llu had %zu turns", (unsigned long long)s, seen[s]);
    smq_index_free(ix);
}

Test(index, shared_selection_with_one_member_always_picks_it)
{
    struct smq_index *ix = smq_index_new();
    cr_assert_eq(sub(ix, "$share/solo/t", 9, 2), 0);
    size_t seen[64] = {0};
    tally_shared(ix, "t", 10, seen);
    cr_assert_eq(seen[9], 10);
    struct smq_sub_target t;
    cr_assert_eq(smq_index_pick(ix, smq_span_str("$share/solo/t"), 9, &t), SMQ_ENOENT,
                 "no member but the one skipped");
    cr_assert_eq(smq_index_pick(ix, smq_span_str("$share/solo/t"), 1, &t), 0);
    cr_assert_eq(t.session_id, 9);
    cr_assert_eq(t.qos, 2);
    cr_assert(t.flags & SMQ_SUB_SHARED);
    smq_index_free(ix);
}

/* A member leaving mid-rotation: its turns are spread over the others, not given to its
 * neighbour in the slot array (which would then take two turns a lap). */
Test(index, shared_member_leaving_mid_rotation_keeps_rotation_fair)
{
    struct smq_index *ix = smq_index_new();
    for (uint64_t s = 1; s <= 4; s++)
        cr_assert_eq(sub(ix, "$share/g/t", s, 1), 0);
    size_t seen[64] = {0};
    tally_shared(ix, "t", 2, seen); /* two turns into the lap */
    cr_assert_eq(unsub(ix, "$share/g/t", 2), 0);
    memset(seen, 0, sizeof(seen));
    tally_shared(ix, "t", 300, seen);
    cr_assert_eq(seen[2], 0);
    for (uint64_t s = 1; s <= 4; s += s == 1 ? 2 : 1)
        cr_assert(seen[s] >= 99 && seen[s] <= 101, "member %llu had %zu turns of 300",
                  (unsigned long long)s, seen[s]);
    /* Two of four leave, then one joins: still one share each. */
    cr_assert_eq(unsub(ix, "$share/g/t", 3), 0);
    cr_assert_eq(sub(ix, "$share/g/t", 5, 1), 0);
    memset(seen, 0, sizeof(seen));
    tally_shared(ix, "t", 300, seen);
    for (uint64_t s = 1; s <= 5; s++) {
        bool member = s == 1 || s == 4 || s == 5;
        cr_assert(member ? seen[s] >= 99 && seen[s] <= 101 : seen[s] == 0,
                  "session %llu had %zu turns of 300", (unsigned long long)s, seen[s]);
    }
    smq_index_free(ix);
}

Test(index, pick_takes_turns_with_matches_and_skips_the_leaver)
{
    struct smq_index *ix = smq_index_new();
    for (uint64_t s = 1; s <= 3; s++)
        cr_assert_eq(sub(ix, "$share/g/x/#", s, 1), 0);
    struct smq_span g = smq_span_str("$share/g/x/#");
    /* Picks skipping session 2 share the group's rotation with matches, and never name 2. */
    size_t seen[64] = {0};
    for (int i = 0; i < 200; i++) {
        struct smq_sub_target t;
        cr_assert_eq(smq_index_pick(ix, g, 2, &t), 0);
        cr_assert_neq(t.session_id, 2);
        cr_assert(t.flags & SMQ_SUB_SHARED);
        seen[t.session_id]++;
    }
    cr_assert_eq(seen[1], 100);
    cr_assert_eq(seen[3], 100);
    memset(seen, 0, sizeof(seen));
    tally_shared(ix, "x/y", 300, seen);
    cr_assert_eq(seen[1] + seen[2] + seen[3], 300);
    for (uint64_t s = 1; s <= 3; s++)
        cr_assert(seen[s] >= 99 && seen[s] <= 101);
    /* No such group, filter or node; a plain filter is no group. */
    struct smq_sub_target t;
    cr_assert_eq(smq_index_pick(ix, smq_span_str("$share/h/x/#"), 0, &t), SMQ_ENOENT);
    cr_assert_eq(smq_index_pick(ix, smq_span_str("$share/g/x/+"), 0, &t), SMQ_ENOENT);
    cr_assert_eq(smq_index_pick(ix, smq_span_str("$share/g/y/#"), 0, &t), SMQ_ENOENT);
    cr_assert_eq(sub(ix, "x/#", 4, 0), 0);
    cr_assert_eq(smq_index_pick(ix, smq_span_str("x/#"), 0, &t), SMQ_ENOENT);
    cr_assert_eq(smq_index_pick(ix, smq_span_str("$share/g"), 0, &t), SMQ_ENOENT);
    /* The group empties: gone. */
    for (uint64_t s = 1; s <= 3; s++)
        cr_assert_eq(unsub(ix, "$share/g/x/#", s), 0);
    cr_assert_eq(smq_index_pick(ix, g, 0, &t), SMQ_ENOENT);
    smq_index_free(ix);
}

#define FAIR_THREADS 4
#define FAIR_MEMBERS 5
#define FAIR_MATCHES 20000 /* per thread */

struct fair_run {
    struct smq_index *ix;
    atomic_ulong turns[FAIR_MEMBERS + 1];
    atomic_ulong bad; /* matches reporting other than exactly one member */
};

static void fair_cb(void *ctx, const struct smq_sub_target *t)
{
    struct fair_run *run = ctx;
    if (t->session_id >= 1 && t->session_id <= FAIR_MEMBERS)
        atomic_fetch_add(&run->turns[t->session_id], 1);
    else
        atomic_fetch_add(&run->bad, 1);
}

static void *fair_reader(void *arg)
{
    struct fair_run *run = arg;
    rcu_register_thread();
    for (int i = 0; i < FAIR_MATCHES; i++) {
        smq_index_match(run->ix, smq_span_str("w/q"), fair_cb, run);
        if (i % 64 == 0)
            rcu_quiescent_state();
    }
    rcu_unregister_thread();
    return NULL;
}

/* Readers on several threads (workers) share one cursor per group: every match takes its
 * own turn, so the members' shares are exact whatever the interleaving. */
Test(index, shared_selection_is_fair_across_concurrent_readers)
{
    struct fair_run run = {.ix = smq_index_new()};
    for (uint64_t s = 1; s <= FAIR_MEMBERS; s++)
        cr_assert_eq(sub(run.ix, "$share/g/w/q", s, 1), 0);
    pthread_t th[FAIR_THREADS];
    for (int i = 0; i < FAIR_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, fair_reader, &run), 0);
    rcu_thread_offline();
    for (int i = 0; i < FAIR_THREADS; i++)
        pthread_join(th[i], NULL);
    rcu_thread_online();
    cr_assert_eq(atomic_load(&run.bad), 0);
    unsigned long share = (unsigned long)FAIR_THREADS * FAIR_MATCHES / FAIR_MEMBERS;
    for (int s = 1; s <= FAIR_MEMBERS; s++)
        cr_assert_eq(atomic_load(&run.turns[s]), share, "member %d: %lu turns, not %lu", s,
                     atomic_load(&run.turns[s]), share);
    smq_index_free(run.ix);
}

/* ---------------------------------------------------------------------------------------- */
/* Pruning and limits                                                                       */

/* Subscribes a mix of plain, wildcard and shared filters for 4,000 sessions, removes them
 * all in another order, and checks the heap is back where it started. */
Test(index, unsubscribe_all_prunes_nodes_and_groups)
{
    struct smq_index *ix = smq_index_new();
    /* Let liburcu allocate its call_rcu thread and per-thread data before the baseline. */
    cr_assert_eq(sub(ix, "warm/up", 1, 0), 0);
    cr_assert_eq(unsub(ix, "warm/up", 1), 0);
    rcu_barrier();
    size_t base = heap_in_use();

    char f[128];
    const int n = 4000;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < n; i++) {
            snprintf(f, sizeof(f), "p/%d/q/%d/+/#", i % 97, i);
            cr_assert_eq(sub(ix, f, (uint64_t)i, 0), 0);
            snprintf(f, sizeof(f), "$share/g%d/s/%d", i % 13, i % 50);
            cr_assert_eq(sub(ix, f, (uint64_t)i, 0), 0);
            cr_assert_eq(sub(ix, "fan/out", (uint64_t)i, 0), 0);
        }
        cr_assert_eq(smq_index_count(ix), 3 * (uint64_t)n);
        cr_assert(heap_in_use() > base + 1000000, "the subscriptions took memory");
        for (int i = n - 1; i >= 0; i -= 2) { /* odd ones first, from the end */
            snprintf(f, sizeof(f), "p/%d/q/%d/+/#", i % 97, i);
            cr_assert_eq(unsub(ix, f, (uint64_t)i), 0);
            snprintf(f, sizeof(f), "$share/g%d/s/%d", i % 13, i % 50);
            cr_assert_eq(unsub(ix, f, (uint64_t)i), 0);
            cr_assert_eq(unsub(ix, "fan/out", (uint64_t)i), 0);
        }
        for (int i = 0; i < n; i += 2) {
            snprintf(f, sizeof(f), "p/%d/q/%d/+/#", i % 97, i);
            cr_assert_eq(unsub(ix, f, (uint64_t)i), 0);
            snprintf(f, sizeof(f), "$share/g%d/s/%d", i % 13, i % 50);
            cr_assert_eq(unsub(ix, f, (uint64_t)i), 0);
            cr_assert_eq(unsub(ix, "fan/out", (uint64_t)i), 0);
        }
        cr_assert_eq(smq_index_count(ix), 0);
        cr_assert_eq(count_hits(ix, "fan/out"), 0);
        cr_assert_eq(count_hits(ix, "s/3"), 0);
        rcu_barrier();
        size_t now = heap_in_use();
        cr_assert(now <= base + HEAP_SLACK, "round %d: %zu bytes left behind", round, now - base);
    }
    smq_index_free(ix);
}

Test(index, filter_of_65000_slashes_is_refused)
{
    struct smq_index *ix = smq_index_new();
    char *deep = repeat('/', 65000, "");
    struct smq_sub_target t = target(1, 0);
    cr_assert_eq(smq_index_subscribe(ix, smq_span_str(deep), &t), SMQ_ELIMIT);
    cr_assert_eq(smq_index_unsubscribe(ix, smq_span_str(deep), 1), SMQ_ENOENT);
    free(deep);
    deep = repeat('/', 65000, "#");
    cr_assert_eq(smq_index_subscribe(ix, smq_span_str(deep), &t), SMQ_ELIMIT);
    free(deep);
    char *shared = malloc(65000 + 16);
    cr_assert_not_null(shared);
    strcpy(shared, "$share/g/");
    memset(shared + 9, '/', 65000 - 9);
    shared[65000] = '\0';
    cr_assert_eq(smq_index_subscribe(ix, smq_span_str(shared), &t), SMQ_ELIMIT);
    free(shared);
    cr_assert_eq(smq_index_count(ix), 0);
    smq_index_free(ix);
}

Test(index, filter_levels_limit_is_exact)
{
    struct smq_index *ix = smq_index_new();
    /* SMQ_INDEX_MAX_LEVELS levels: that many - 1 separators. */
    char *at_limit = repeat('/', SMQ_INDEX_MAX_LEVELS - 1, "#");
    char *over = repeat('/', SMQ_INDEX_MAX_LEVELS, "#");
    struct smq_sub_target t = target(1, 0);
    cr_assert_eq(smq_index_subscribe(ix, smq_span_str(at_limit), &t), 0);
    cr_assert_eq(smq_index_subscribe(ix, smq_span_str(over), &t), SMQ_ELIMIT);
    char *shared = malloc(SMQ_INDEX_MAX_LEVELS + 16);
    cr_assert_not_null(shared);
    snprintf(shared, SMQ_INDEX_MAX_LEVELS + 16, "$share/g/%s", at_limit);
    cr_assert_eq(smq_index_subscribe(ix, smq_span_str(shared), &t), 0,
                 "the `$share/g/` prefix is not a level of the filter");
    cr_assert_eq(smq_index_count(ix), 2);
    /* The deepest node matches: 255 empty levels then `#`, topic of 256 empty levels. */
    char *topic = repeat('/', SMQ_INDEX_MAX_LEVELS - 1, "");
    cr_assert_eq(count_hits(ix, topic), 2);
    cr_assert_eq(smq_index_unsubscribe(ix, smq_span_str(at_limit), 1), 0);
    cr_assert_eq(smq_index_unsubscribe(ix, smq_span_str(shared), 1), 0);
    cr_assert_eq(smq_index_count(ix), 0);
    free(at_limit);
    free(over);
    free(shared);
    free(topic);
    smq_index_free(ix);
}

Test(index, topic_of_65000_slashes_matches_quickly)
{
    struct smq_index *ix = smq_index_new();
    char *deepest = repeat('/', SMQ_INDEX_MAX_LEVELS - 1, "#"); /* 256 levels */
    char *plus_chain = malloc(2 * SMQ_INDEX_MAX_LEVELS);
    cr_assert_not_null(plus_chain);
    size_t p = 0;
    for (unsigned i = 0; i < SMQ_INDEX_MAX_LEVELS - 1; i++) {
        plus_chain[p++] = '+';
        plus_chain[p++] = '/';
    }
    plus_chain[p++] = '#';
    plus_chain[p] = '\0';
    cr_assert_eq(sub(ix, "#", 1, 0), 0);
    cr_assert_eq(sub(ix, "+/#", 2, 0), 0);
    cr_assert_eq(sub(ix, deepest, 3, 0), 0);
    cr_assert_eq(sub(ix, plus_chain, 4, 0), 0);
    cr_assert_eq(sub(ix, "/", 5, 0), 0);
    cr_assert_eq(sub(ix, "+/+", 6, 0), 0);
    /* Every prefix of empty levels and `+` levels, so the walk branches at each level. */
    for (unsigned d = 1; d < 64; d++) {
        char *f = repeat('/', d, "+");
        cr_assert_eq(sub(ix, f, 100 + d, 0), 0);
        free(f);
    }

    char *topic = repeat('/', 65000, "");
    double t0 = cpu_s();
    struct hits h = {0};
    for (int i = 0; i < 10; i++) {
        h.n = 0;
        smq_index_match(ix, smq_span_str(topic), collect_cb, &h);
    }
    double elapsed = cpu_s() - t0;
    cr_assert_eq(h.n, 4, "#, +/#, the 256-level `#` filters; not / nor +/+");
    for (uint64_t s = 1; s <= 4; s++)
        cr_assert_eq(hits_of(&h, s), 1);
    cr_assert(elapsed < 1.0, "10 matches took %.3f s", elapsed);
    free(h.t);
    free(topic);
    free(deepest);
    free(plus_chain);
    smq_index_free(ix);
}

/* ---------------------------------------------------------------------------------------- */
/* Scale                                                                                    */

/* Subscribes n distinct topics, matches each one, unsubscribes them all. Returns the CPU
 * time this thread spent. */
static double distinct_topics(int n)
{
    struct smq_index *ix = smq_index_new();
    char f[64];
    double t0 = cpu_s();
    for (int i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "site/%d/dev/%d/temp", i % 100, i);
        cr_assert_eq(sub(ix, f, (uint64_t)i + 1, (uint8_t)(i % 3)), 0);
    }
    cr_assert_eq(smq_index_count(ix), (uint64_t)n);
    struct hits h = {0};
    for (int i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "site/%d/dev/%d/temp", i % 100, i);
        h.n = 0;
        smq_index_match(ix, smq_span_str(f), collect_cb, &h);
        cr_assert_eq(h.n, 1, "%s", f);
        cr_assert_eq(h.t[0].session_id, (uint64_t)i + 1);
        cr_assert_eq(h.t[0].qos, i % 3);
    }
    cr_assert_eq(count_hits(ix, "site/1/dev/2/temp"), 0, "device 2 is on site 2");
    for (int i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "site/%d/dev/%d/temp", i % 100, i);
        cr_assert_eq(unsub(ix, f, (uint64_t)i + 1), 0);
    }
    double spent = cpu_s() - t0;
    cr_assert_eq(smq_index_count(ix), 0);
    free(h.t);
    smq_index_free(ix);
    return spent;
}

/* Ten times the work must cost about ten times the CPU (linear gives ~10, quadratic ~100).
 * A ratio of CPU times holds on a loaded machine and under sanitizers, where wall-clock
 * bounds do not. */
static void check_linear(double small, double large)
{
    if (small < 0.005)
        small = 0.005; /* too short to measure well: compare with 5 ms */
    cr_assert(large / small < 40.0, "10x the work took %.1fx the time (%.3f s, %.3f s)",
              large / small, small, large);
}

Test(index, hundred_thousand_distinct_topics)
{
    double small = distinct_topics(10000);
    double large = distinct_topics(100000);
    check_linear(small, large);
}

/* n subscribers of one filter and n members of one group, built, matched and torn down.
 * Returns the CPU time this thread spent. */
static double fan_out(uint64_t n)
{
    struct smq_index *ix = smq_index_new();
    double t0 = cpu_s();
    for (uint64_t s = 1; s <= n; s++) {
        cr_assert_eq(sub(ix, "news/+", s, 0), 0);
        cr_assert_eq(sub(ix, "$share/workers/news/+", s, 1), 0);
    }
    cr_assert_eq(sub(ix, "news/+", n / 2, 2), 1, "replace found among n");
    cr_assert_eq(smq_index_count(ix), 2 * n);
    struct hits h = match(ix, "news/today");
    cr_assert_eq(h.n, n + 1);
    cr_assert_eq(hit(&h, n / 2)->qos, 2);
    free(h.t);
    /* Remove every other subscriber, then the rest in reverse. */
    for (uint64_t s = 1; s <= n; s += 2) {
        cr_assert_eq(unsub(ix, "news/+", s), 0);
        cr_assert_eq(unsub(ix, "$share/workers/news/+", s), 0);
    }
    cr_assert_eq(count_hits(ix, "news/today"), n / 2 + 1);
    for (uint64_t s = n; s >= 2; s -= 2) {
        cr_assert_eq(unsub(ix, "news/+", s), 0);
        cr_assert_eq(unsub(ix, "$share/workers/news/+", s), 0);
    }
    double spent = cpu_s() - t0;
    cr_assert_eq(smq_index_count(ix), 0);
    cr_assert_eq(count_hits(ix, "news/today"), 0);
    smq_index_free(ix);
    return spent;
}

/* 100,000 subscribers of one filter and 100,000 members of one group: building and tearing
 * them down is linear, not quadratic. */
Test(index, hundred_thousand_subscribers_of_one_filter)
{
    double small = fan_out(10000);
    double large = fan_out(100000);
    check_linear(small, large);
}

/* ---------------------------------------------------------------------------------------- */
/* Concurrency                                                                              */

/* Stable subscriptions, present for the whole run:
 *   1: c/a/b (its options replaced again and again by the writer), 2: c/+/b, 3: c/#,
 *   4 and 5: members of $share/g/c/a/b (6 joins and leaves), 7: $share/g/c/+/b alone.
 * The writer churns plain and shared entries on the same nodes, siblings that grow and
 * shrink the child tables, and deep paths it creates and prunes. */
#define WRITER_ROUNDS 3000
#define READERS       3
#define CHURN_BASE    1000u

struct run {
    struct smq_index *ix;
    atomic_bool done;
    atomic_ulong failures;        /* matches that broke an invariant */
    atomic_ulong writer_failures; /* writer calls that returned the wrong value */
    atomic_ulong matches[READERS];
    atomic_int next_reader;
};

/* A reader's tally of one match. */
struct tally {
    unsigned by_session[8]; /* stable sessions 1..7 */
    unsigned g_members;     /* reports of group g at c/a/b: sessions 4, 5, 6 */
    unsigned unshared_from_groups;
    unsigned unknown;
    unsigned bad_qos;
};

static void tally_cb(void *ctx, const struct smq_sub_target *t)
{
    struct tally *y = ctx;
    bool shared = t->flags & SMQ_SUB_SHARED;
    if (t->qos > 2)
        y->bad_qos++;
    if (t->session_id >= 4 && t->session_id <= 6) {
        y->g_members++;
        y->unshared_from_groups += !shared;
    }
    if (t->session_id >= 1 && t->session_id <= 7)
        y->by_session[t->session_id]++;
    else if (t->session_id < CHURN_BASE || t->session_id >= CHURN_BASE + 1000)
        y->unknown++;
}

static void *reader_main(void *arg)
{
    struct run *run = arg;
    int me = atomic_fetch_add(&run->next_reader, 1);
    rcu_register_thread();
    while (!atomic_load(&run->done)) {
        struct tally y = {0};
        smq_index_match(run->ix, smq_span_str("c/a/b"), tally_cb, &y);
        bool ok = y.by_session[1] == 1 && y.by_session[2] == 1 && y.by_session[3] == 1 &&
                  y.g_members == 1 && y.by_session[7] == 1 && y.unknown == 0 && y.bad_qos == 0 &&
                  y.unshared_from_groups == 0;
        struct tally z = {0};
        smq_index_match(run->ix, smq_span_str("c/x/b"), tally_cb, &z);
        ok = ok && z.by_session[1] == 0 && z.by_session[2] == 1 && z.by_session[3] == 1 &&
             z.g_members == 0 && z.by_session[7] == 1 && z.unknown == 0;
        if (!ok)
            atomic_fetch_add(&run->failures, 1);
        atomic_fetch_add(&run->matches[me], 1);
        rcu_quiescent_state(); /* once per "loop iteration", as a worker does */
    }
    rcu_unregister_thread();
    return NULL;
}

/* Adds (on) or removes the churn entries of round i. Sessions cycle over 97 so no two rounds
 * of the 50 that overlap share a (filter, session) pair: every call must succeed outright. */
static void churn(struct run *run, unsigned i, bool on)
{
    struct smq_index *ix = run->ix;
    uint64_t s = CHURN_BASE + i % 97;
    char f[6][64];
    snprintf(f[0], sizeof(f[0]), "c/a/b");
    snprintf(f[1], sizeof(f[1]), "$share/g2/c/a/b");
    snprintf(f[2], sizeof(f[2]), "c/+/+");
    snprintf(f[3], sizeof(f[3]), "c/a/b/%u/deep/%u", i % 64, i); /* created, then pruned */
    snprintf(f[4], sizeof(f[4]), "c/s%u/b", i % 200);            /* siblings of c/a */
    snprintf(f[5], sizeof(f[5]), "$share/h%u/c/a/b", i % 16);    /* groups of one node */
    for (int k = 0; k < 6; k++) {
        int r = on ? sub(ix, f[k], s, 0) : unsub(ix, f[k], s);
        if (r != 0)
            atomic_fetch_add(&run->writer_failures, 1);
    }
}

static void *writer_main(void *arg)
{
    struct run *run = arg;
    rcu_register_thread();
    struct smq_index *ix = run->ix;
    for (unsigned i = 0; i < WRITER_ROUNDS; i++) {
        /* Options of a stable subscription replaced: readers must see it exactly once. */
        struct smq_sub_target t = target(1, (uint8_t)(i % 3));
        t.subscription_id = i;
        int r = smq_index_subscribe(ix, smq_span_str("c/a/b"), &t);
        /* A third member of g comes and goes. */
        int r6 = i % 2 == 0 ? sub(ix, "$share/g/c/a/b", 6, 0) : unsub(ix, "$share/g/c/a/b", 6);
        if (r != 1 || r6 != 0)
            atomic_fetch_add(&run->writer_failures, 1);
        churn(run, i, true);
        if (i >= 50)
            churn(run, i - 50, false);
        rcu_quiescent_state();
    }
    for (unsigned i = WRITER_ROUNDS - 50; i < WRITER_ROUNDS; i++)
        churn(run, i, false);
    rcu_unregister_thread();
    atomic_store(&run->done, true);
    return NULL;
}

Test(index, concurrent_readers_see_stable_subscriptions)
{
    struct run run = {.ix = smq_index_new()};
    cr_assert_eq(sub(run.ix, "c/a/b", 1, 0), 0);
    cr_assert_eq(sub(run.ix, "c/+/b", 2, 0), 0);
    cr_assert_eq(sub(run.ix, "c/#", 3, 0), 0);
    cr_assert_eq(sub(run.ix, "$share/g/c/a/b", 4, 0), 0);
    cr_assert_eq(sub(run.ix, "$share/g/c/a/b", 5, 0), 0);
    cr_assert_eq(sub(run.ix, "$share/g/c/+/b", 7, 0), 0);

    pthread_t readers[READERS], writer;
    for (int i = 0; i < READERS; i++)
        cr_assert_eq(pthread_create(&readers[i], NULL, reader_main, &run), 0);
    cr_assert_eq(pthread_create(&writer, NULL, writer_main, &run), 0);
    /* Blocked in join, this thread must not hold up grace periods. */
    rcu_thread_offline();
    pthread_join(writer, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(readers[i], NULL);
    rcu_thread_online();

    cr_assert_eq(atomic_load(&run.writer_failures), 0);
    cr_assert_eq(atomic_load(&run.failures), 0, "%lu matches broke an invariant",
                 atomic_load(&run.failures));
    for (int i = 0; i < READERS; i++)
        cr_assert_gt(atomic_load(&run.matches[i]), 0, "reader %d never ran", i);
    cr_assert_eq(smq_index_count(run.ix), 6, "only the stable subscriptions are left");
    struct hits h = match(run.ix, "c/a/b");
    cr_assert_eq(h.n, 5);
    cr_assert_eq(hit(&h, 1)->subscription_id, WRITER_ROUNDS - 1);
    free(h.t);
    smq_index_free(run.ix); /* the fixture's rcu_barrier() then runs every deferred free */
}
