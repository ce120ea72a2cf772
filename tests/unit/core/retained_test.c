/* Tests for core/retained.c: the retained store.
 *
 * Store, replace (the old message released: refcounts), delete and match (exact, `+`, `#`
 * with its parent level, the `$` rule, empty levels), the max_messages limit, pruning (the
 * heap back where it was), 100,000 topics, a topic of 32,768 levels, a cross-check against
 * smq_topic_matches(), and three reader threads matching while a writer sets and deletes.
 * Every test thread is RCU-registered (the store releases through call_rcu()) and each test
 * ends with rcu_barrier(), so the ASan build sees every deferred free. The TSan build runs the
 * same tests with tests/tsan.supp. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/msg.h"
#include "core/rcu.h"
#include "core/retained.h"
#include "proto/errors.h"
#include "proto/topic.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

/* heap_in_use() returns the bytes the program holds on the heap: exact under a sanitizer's
 * allocator; glibc's count also holds what its per-thread caches keep after free(). */
#ifdef SANITIZED
size_t __sanitizer_get_current_allocated_bytes(void); /* ASan and TSan runtimes */
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

static void register_thread(void)
{
    rcu_register_thread();
}

static void unregister_thread(void)
{
    rcu_barrier();
    rcu_unregister_thread();
}

/* The timeout guards against a hang; plain builds take seconds, TSan builds a minute. */
TestSuite(retained, .init = register_thread, .fini = unregister_thread, .timeout = 240);

static struct smq_msg *new_msg(const char *topic, const char *payload)
{
    struct smq_msg_init init = {
        .topic = smq_span_str(topic),
        .payload = smq_span_str(payload),
        .retain = true,
    };
    return smq_msg_new(&init);
}

static unsigned refs(struct smq_msg *msg)
{
    return atomic_load(&msg->refs);
}

/* Sets topic to payload ("" deletes) and expects rc. */
static void set_rc(struct smq_retained *store, const char *topic, const char *payload, uint64_t max,
                   int rc)
{
    struct smq_msg *msg = new_msg(topic, payload);
    cr_assert_eq(smq_retained_set(store, msg, max, 0), rc, "set %s", topic);
    smq_msg_unref(msg);
    /* As a worker does once per loop iteration: the deferred frees wait for every online
     * thread to pass a quiescent state. */
    static unsigned writes;
    if (++writes % 64 == 0)
        rcu_quiescent_state();
}

static void set(struct smq_retained *store, const char *topic, const char *payload)
{
    set_rc(store, topic, payload, 0, 0);
}

/* What a match reported: topic copies, in report order. */
struct found {
    char **topics;
    size_t n;
};

static void collect_cb(void *ctx, struct smq_msg *msg)
{
    struct found *f = ctx;
    f->topics = realloc(f->topics, (f->n + 1) * sizeof(*f->topics));
    f->topics[f->n++] = strndup((const char *)msg->topic.ptr, msg->topic.len);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct found match(struct smq_retained *store, const char *filter)
{
    struct found f = {0};
    smq_retained_match(store, smq_span_str(filter), collect_cb, &f);
    if (f.n > 1)
        qsort(f.topics, f.n, sizeof(*f.topics), cmp_str);
    return f;
}

static void found_free(struct found *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->topics[i]);
    free(f->topics);
}

/* Expects filter to report exactly the topics of the NULL-terminated list, sorted. */
static void expect_match(struct smq_retained *store, const char *filter, const char **want)
{
    struct found f = match(store, filter);
    size_t n = 0;
    while (want[n] != NULL)
        n++;
    cr_expect_eq(f.n, n, "filter '%s': %zu reported, %zu expected", filter, f.n, n);
    for (size_t i = 0; i < f.n && i < n; i++)
        cr_expect_str_eq(f.topics[i], want[i], "filter '%s' #%zu", filter, i);
    found_free(&f);
}

#define EXPECT(store, filter, ...) expect_match(store, filter, (const char *[]){__VA_ARGS__, NULL})
#define EXPECT_NONE(store, filter) expect_match(store, filter, (const char *[]){NULL})

/* The payload of filter's only match. */
static void payload_cb(void *ctx, struct smq_msg *msg)
{
    char *out = ctx;
    memcpy(out, msg->payload.ptr, msg->payload.len);
    out[msg->payload.len] = '\0';
}

static void expect_payload(struct smq_retained *store, const char *topic, const char *payload)
{
    char got[64] = "";
    smq_retained_match(store, smq_span_str(topic), payload_cb, got);
    cr_expect_str_eq(got, payload, "payload of %s", topic);
}

Test(retained, new_store_is_empty)
{
    struct smq_retained *store = smq_retained_new();
    cr_expect_eq(smq_retained_count(store), 0);
    EXPECT_NONE(store, "#");
    EXPECT_NONE(store, "a");
    smq_retained_free(store);
    smq_retained_free(NULL);
}

Test(retained, stores_and_matches_exact_topic)
{
    struct smq_retained *store = smq_retained_new();
    set(store, "a/b/c", "1");
    set(store, "a/b", "2");
    set(store, "x", "3");
    cr_expect_eq(smq_retained_count(store), 3);
    EXPECT(store, "a/b/c", "a/b/c");
    EXPECT(store, "a/b", "a/b");
    EXPECT(store, "x", "x");
    EXPECT_NONE(store, "a"); /* an inner level without a message */
    EXPECT_NONE(store, "a/b/c/d");
    EXPECT_NONE(store, "A/b"); /* case matters */
    expect_payload(store, "a/b/c", "1");
    expect_payload(store, "a/b", "2");
    smq_retained_free(store);
}

Test(retained, store_takes_its_own_reference)
{
    struct smq_retained *store = smq_retained_new();
    struct smq_msg *msg = new_msg("t", "v");
    cr_assert_eq(smq_retained_set(store, msg, 0, 0), 0);
    cr_expect_eq(refs(msg), 2);
    smq_retained_free(store);
    cr_expect_eq(refs(msg), 1, "free drops the store's reference");
    smq_msg_unref(msg);
}

Test(retained, replace_releases_old_message)
{
    struct smq_retained *store = smq_retained_new();
    struct smq_msg *first = new_msg("a/b", "old");
    struct smq_msg *second = new_msg("a/b", "new");
    cr_assert_eq(smq_retained_set(store, first, 0, 0), 0);
    cr_assert_eq(smq_retained_set(store, second, 0, 0), 0);
    cr_expect_eq(smq_retained_count(store), 1);
    expect_payload(store, "a/b", "new");
    rcu_barrier(); /* the old reference goes after a grace period */
    cr_expect_eq(refs(first), 1);
    cr_expect_eq(refs(second), 2);
    /* Setting the same message again keeps one reference. */
    cr_assert_eq(smq_retained_set(store, second, 0, 0), 0);
    rcu_barrier();
    cr_expect_eq(refs(second), 2);
    smq_retained_free(store);
    cr_expect_eq(refs(second), 1);
    smq_msg_unref(first);
    smq_msg_unref(second);
}

Test(retained, empty_payload_deletes)
{
    struct smq_retained *store = smq_retained_new();
    struct smq_msg *msg = new_msg("a/b", "v");
    cr_assert_eq(smq_retained_set(store, msg, 0, 0), 0);
    set(store, "a/c", "w");
    set(store, "a/b", "");
    cr_expect_eq(smq_retained_count(store), 1);
    EXPECT_NONE(store, "a/b");
    EXPECT(store, "a/#", "a/c");
    rcu_barrier();
    cr_expect_eq(refs(msg), 1, "the deleted message is released");
    smq_msg_unref(msg);
    smq_retained_free(store);
}

Test(retained, delete_of_absent_topic_changes_nothing)
{
    struct smq_retained *store = smq_retained_new();
    set(store, "a/b", "v");
    set(store, "nothing/here", "");
    set(store, "a", "");     /* an inner level without a message */
    set(store, "a/b/c", ""); /* below a stored topic */
    cr_expect_eq(smq_retained_count(store), 1);
    EXPECT(store, "#", "a/b");
    smq_retained_free(store);
}

Test(retained, plus_matches_exactly_one_level)
{
    struct smq_retained *store = smq_retained_new();
    set(store, "s/1/t", "a");
    set(store, "s/2/t", "b");
    set(store, "s/2/h", "c");
    set(store, "s/3", "d");
    set(store, "s/3/t/x", "e");
    EXPECT(store, "s/+/t", "s/1/t", "s/2/t");
    EXPECT(store, "s/+", "s/3");
    EXPECT(store, "+/+/t", "s/1/t", "s/2/t");
    EXPECT(store, "s/+/+", "s/1/t", "s/2/h", "s/2/t");
    EXPECT(store, "+/3/+/x", "s/3/t/x");
    EXPECT_NONE(store, "+");
    EXPECT_NONE(store, "s/+/t/x/+");
    smq_retained_free(store);
}

Test(retained, hash_matches_subtree_and_parent)
{
    struct smq_retained *store = smq_retained_new();
    set(store, "a", "1");
    set(store, "a/b", "2");
    set(store, "a/b/c", "3");
    set(store, "a/d/e/f", "4");
    set(store, "ab", "5");
    EXPECT(store, "a/#", "a", "a/b", "a/b/c", "a/d/e/f");
    EXPECT(store, "a/b/#", "a/b", "a/b/c");
    EXPECT(store, "a/d/#", "a/d/e/f"); /* a/d itself holds nothing */
    EXPECT(store, "a/b/c/#", "a/b/c");
    EXPECT(store, "+/#", "a", "a/b", "a/b/c", "a/d/e/f", "ab");
    EXPECT(store, "a/+/#", "a/b", "a/b/c", "a/d/e/f");
    EXPECT_NONE(store, "b/#");
    smq_retained_free(store);
}

Test(retained, hash_on_whole_store_reports_every_topic)
{
    struct smq_retained *store = smq_retained_new();
    set(store, "z", "1");
    set(store, "a/b", "2");
    set(store, "a/b/c/d", "3");
    set(store, "m/n", "4");
    set(store, "/lead", "5");
    EXPECT(store, "#", "/lead", "a/b", "a/b/c/d", "m/n", "z");
    smq_retained_free(store);
}

Test(retained, wildcards_skip_dollar_topics)
{
    struct smq_retained *store = smq_retained_new();
    set(store, "$SYS/broker/uptime", "1");
    set(store, "$SYS", "2");
    set(store, "$x", "3");
    set(store, "a/$b", "4");
    set(store, "a", "5");
    /* [MQTT-4.7.2-1] a filter starting with a wildcard does not match `$` topics. */
    EXPECT(store, "#", "a", "a/$b");
    EXPECT(store, "+", "a");
    EXPECT_NONE(store, "+/broker/+");
    EXPECT(store, "+/#", "a", "a/$b");
    /* `$` below the first level is an ordinary character. */
    EXPECT(store, "a/+", "a/$b");
    EXPECT(store, "a/#", "a", "a/$b");
    /* Filters naming the `$` level match. */
    EXPECT(store, "$SYS/#", "$SYS", "$SYS/broker/uptime");
    EXPECT(store, "$SYS/+/uptime", "$SYS/broker/uptime");
    EXPECT(store, "$x", "$x");
    smq_retained_free(store);
}

Test(retained, empty_levels_are_levels)
{
    struct smq_retained *store = smq_retained_new();
    set(store, "/a", "1");
    set(store, "a//b", "2");
    set(store, "a/", "3");
    set(store, "/", "4");
    EXPECT(store, "+/a", "/a");
    EXPECT(store, "a/+/b", "a//b");
    EXPECT(store, "a/+", "a/");
    EXPECT(store, "+/+", "/", "/a", "a/");
    EXPECT(store, "/#", "/", "/a");
    EXPECT(store, "/", "/");
    EXPECT_NONE(store, "a");
    set(store, "a/", "");
    EXPECT(store, "a/#", "a//b");
    smq_retained_free(store);
}

Test(retained, topic_with_wildcard_is_refused)
{
    struct smq_retained *store = smq_retained_new();
    set_rc(store, "a/+", "v", 0, SMQ_EINVAL);
    set_rc(store, "a/#", "v", 0, SMQ_EINVAL);
    set_rc(store, "", "v", 0, SMQ_EINVAL);
    cr_expect_eq(smq_retained_count(store), 0);
    smq_retained_free(store);
}

Test(retained, max_messages_limits_new_topics_only)
{
    struct smq_retained *store = smq_retained_new();
    set_rc(store, "a", "1", 2, 0);
    set_rc(store, "b/c", "2", 2, 0);
    set_rc(store, "b/d", "3", 2, SMQ_ELIMIT);
    set_rc(store, "b", "3", 2, SMQ_ELIMIT); /* an existing inner level is still a new topic */
    cr_expect_eq(smq_retained_count(store), 2);
    EXPECT(store, "#", "a", "b/c");
    set_rc(store, "a", "1b", 2, 0); /* replacing is always allowed */
    set_rc(store, "b/d", "", 2, 0); /* so is deleting, present or not */
    set_rc(store, "b/c", "", 2, 0);
    set_rc(store, "b/d", "3", 2, 0); /* room again */
    set_rc(store, "e", "4", 0, 0);   /* 0 = no limit */
    cr_expect_eq(smq_retained_count(store), 3);
    EXPECT(store, "#", "a", "b/d", "e");
    expect_payload(store, "a", "1b");
    smq_retained_free(store);
}

Test(retained, pruning_empties_the_store)
{
    struct smq_retained *store = smq_retained_new();
    const char *topics[] = {"a/b/c", "a/b", "a/x/y/z", "q", "a/b/c/d/e", "$s/1"};
    size_t n = sizeof(topics) / sizeof(topics[0]);
    for (size_t i = 0; i < n; i++)
        set(store, topics[i], "v");
    cr_expect_eq(smq_retained_count(store), n);
    /* Deleting an inner topic keeps the levels below; deleting a leaf keeps a parent that
     * holds a message. */
    set(store, "a/b", "");
    EXPECT(store, "a/b/#", "a/b/c", "a/b/c/d/e");
    set(store, "a/b/c/d/e", "");
    EXPECT(store, "a/b/#", "a/b/c");
    for (size_t i = 0; i < n; i++)
        set(store, topics[i], "");
    cr_expect_eq(smq_retained_count(store), 0);
    EXPECT_NONE(store, "#");
    EXPECT_NONE(store, "$s/#");
    /* The pruned levels come back when used again. */
    set(store, "a/b/c", "again");
    EXPECT(store, "a/#", "a/b/c");
    set(store, "a/b/c", "");
    cr_expect_eq(smq_retained_count(store), 0);
    smq_retained_free(store);
    rcu_barrier(); /* every pruned node freed: the ASan build checks for leaks */
}

Test(retained, pruning_returns_every_node)
{
    struct smq_retained *store = smq_retained_new();
    set(store, "keep", "v");
    set(store, "keep", "w"); /* a first call_rcu(): liburcu sets up its worker lazily */
    rcu_barrier();
    size_t before = heap_in_use();
    char topic[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(topic, sizeof(topic), "p/%d/a/b%d", i, i % 7);
        set(store, topic, "v");
    }
    size_t full = heap_in_use(); /* checked at the end: an expectation allocates */
    for (int i = 0; i < 5000; i++) {
        snprintf(topic, sizeof(topic), "p/%d/a/b%d", i, i % 7);
        set(store, topic, "");
    }
    rcu_barrier(); /* runs the deferred frees of nodes, messages and outgrown tables */
    size_t after = heap_in_use();
    cr_expect_gt(full, before + 5000 * 64 * 3, "the nodes take memory");
    cr_expect_leq(after, before + HEAP_SLACK, "heap %zu -> %zu: nodes left behind", before, after);
    EXPECT(store, "#", "keep");
    smq_retained_free(store);
}

Test(retained, offline_caller_is_put_online_for_a_write)
{
    struct smq_retained *store = smq_retained_new();
    struct smq_msg *v = new_msg("a/b", "v"), *w = new_msg("a/b", "w");
    rcu_thread_offline(); /* as a worker between two polls */
    cr_expect_eq(smq_retained_set(store, v, 0, 0), 0);
    cr_expect_eq(smq_retained_set(store, w, 0, 0), 0);
    cr_expect_eq(rcu_read_ongoing(), 0, "the caller is offline again");
    rcu_thread_online();
    smq_msg_unref(v);
    smq_msg_unref(w);
    EXPECT(store, "a/#", "a/b");
    expect_payload(store, "a/b", "w");
    smq_retained_free(store);
}

/* A subscriber that delivers later takes a reference during the callback. */
static void take_cb(void *ctx, struct smq_msg *msg)
{
    *(struct smq_msg **)ctx = smq_msg_ref(msg);
}

Test(retained, reader_reference_outlives_delete)
{
    struct smq_retained *store = smq_retained_new();
    set(store, "k", "kept");
    struct smq_msg *kept = NULL;
    smq_retained_match(store, smq_span_str("k"), take_cb, &kept);
    cr_assert_not_null(kept);
    set(store, "k", "");
    smq_retained_free(store);
    rcu_barrier();
    cr_expect_eq(refs(kept), 1);
    cr_expect_eq(memcmp(kept->payload.ptr, "kept", 4), 0);
    smq_msg_unref(kept);
}

/* A small pseudo-random generator, so failures repeat. */
static uint32_t next_rand(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*state >> 33);
}

static void random_name(uint64_t *rng, char *out, size_t cap, bool filter)
{
    static const char *levels[] = {"a", "b", "$c", "", "dd"};
    size_t depth = 1 + next_rand(rng) % 4, len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < depth; i++) {
        const char *level = levels[next_rand(rng) % 5];
        if (filter) {
            uint32_t r = next_rand(rng) % 6;
            if (r == 0)
                level = "+";
            else if (r == 1 && i == depth - 1)
                level = "#";
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "/" : "", level);
    }
}

Test(retained, matches_agree_with_topic_matches)
{
    struct smq_retained *store = smq_retained_new();
    uint64_t rng = 42;
    enum { TOPICS = 300, FILTERS = 400 };
    char topics[TOPICS][40];
    size_t stored = 0;
    for (size_t i = 0; i < TOPICS; i++) {
        random_name(&rng, topics[stored], sizeof(topics[stored]), false);
        bool dup = topics[stored][0] == '\0'; /* not a topic name */
        for (size_t j = 0; j < stored; j++)
            dup = dup || strcmp(topics[j], topics[stored]) == 0;
        if (!dup)
            set(store, topics[stored++], "v");
    }
    cr_assert_eq(smq_retained_count(store), stored);
    for (size_t i = 0; i < FILTERS; i++) {
        char filter[40];
        random_name(&rng, filter, sizeof(filter), true);
        struct found f = match(store, filter);
        size_t want = 0;
        for (size_t j = 0; j < stored; j++) {
            if (!smq_topic_matches(smq_span_str(filter), smq_span_str(topics[j])))
                continue;
            want++;
            cr_expect_not_null(
                bsearch(&(const char *){topics[j]}, f.topics, f.n, sizeof(*f.topics), cmp_str),
                "filter '%s' misses '%s'", filter, topics[j]);
        }
        cr_expect_eq(f.n, want, "filter '%s': %zu reported, %zu match", filter, f.n, want);
        found_free(&f);
    }
    smq_retained_free(store);
}

static void count_cb(void *ctx, struct smq_msg *msg)
{
    (*(size_t *)ctx)++;
}

static size_t count_matches(struct smq_retained *store, const char *filter)
{
    size_t n = 0;
    smq_retained_match(store, smq_span_str(filter), count_cb, &n);
    return n;
}

Test(retained, hundred_thousand_topics)
{
    enum { N = 100000 };
    struct smq_retained *store = smq_retained_new();
    char topic[64];
    for (int i = 0; i < N; i++) {
        snprintf(topic, sizeof(topic), "dev/%d/state", i);
        set(store, topic, "on");
    }
    cr_expect_eq(smq_retained_count(store), N);
    cr_expect_eq(count_matches(store, "dev/+/state"), N);
    cr_expect_eq(count_matches(store, "#"), N);
    cr_expect_eq(count_matches(store, "dev/#"), N);
    cr_expect_eq(count_matches(store, "+/+/+"), N);
    cr_expect_eq(count_matches(store, "dev/+"), 0);
    EXPECT(store, "dev/4242/state", "dev/4242/state");
    EXPECT(store, "dev/99999/#", "dev/99999/state");
    EXPECT(store, "+/31337/+", "dev/31337/state");
    for (int i = 0; i < N; i += 2) {
        snprintf(topic, sizeof(topic), "dev/%d/state", i);
        set(store, topic, "");
    }
    cr_expect_eq(smq_retained_count(store), N / 2);
    cr_expect_eq(count_matches(store, "dev/+/state"), N / 2);
    EXPECT_NONE(store, "dev/4242/state");
    EXPECT(store, "dev/4243/state", "dev/4243/state");
    for (int i = 1; i < N; i += 2) {
        snprintf(topic, sizeof(topic), "dev/%d/state", i);
        set(store, topic, "");
    }
    cr_expect_eq(smq_retained_count(store), 0);
    cr_expect_eq(count_matches(store, "#"), 0);
    for (int i = 0; i < N; i++) { /* freed with the store, not one by one */
        snprintf(topic, sizeof(topic), "t/%d", i % 1000);
        set(store, topic, "x");
    }
    cr_expect_eq(smq_retained_count(store), 1000);
    smq_retained_free(store);
}

/* Returns "L/L/.../L" with n levels of the one-character level L. */
static char *levels_of(char level, size_t n, const char *last)
{
    size_t len = 2 * n - 1 + (last ? strlen(last) + 1 : 0);
    char *s = malloc(len + 1);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = level;
        if (i + 1 < n)
            s[2 * i + 1] = '/';
    }
    s[2 * n - 1] = '\0';
    if (last) {
        strcat(s, "/");
        strcat(s, last);
    }
    return s;
}

Test(retained, deep_topic_does_not_overflow)
{
    enum { LEVELS = 32768 }; /* 65,535 bytes: the longest topic there is */
    struct smq_retained *store = smq_retained_new();
    char *topic = levels_of('a', LEVELS, NULL);
    cr_assert_eq(strlen(topic), 65535);
    set(store, topic, "deep");
    char *shallow = levels_of('a', 3, NULL);
    set(store, shallow, "shallow");
    cr_expect_eq(count_matches(store, topic), 1);
    char *pluses = levels_of('+', LEVELS, NULL);
    cr_expect_eq(count_matches(store, pluses), 1);
    char *plus_hash = levels_of('+', LEVELS - 1, "#");
    cr_expect_eq(count_matches(store, plus_hash), 1);
    char *half = levels_of('a', LEVELS / 2, "#");
    cr_expect_eq(count_matches(store, half), 1);
    cr_expect_eq(count_matches(store, "#"), 2);
    cr_expect_eq(count_matches(store, "a/#"), 2);
    set(store, topic, "");
    cr_expect_eq(count_matches(store, "#"), 1);
    set(store, shallow, "");
    cr_expect_eq(smq_retained_count(store), 0);
    set(store, topic, "again"); /* left in the store: freed without recursion */
    free(topic);
    free(shallow);
    free(pluses);
    free(plus_hash);
    free(half);
    smq_retained_free(store);
}

/* --- concurrency ----------------------------------------------------------------------- */

enum { SLOTS = 64, READERS = 3, WRITES = 20000 };

struct shared {
    struct smq_retained *store;
    atomic_bool stop;
    atomic_uint readers_ready;
};

struct reader {
    pthread_t thread;
    struct shared *shared;
    const char *filter;
    uint8_t seen[2][SLOTS + 1]; /* per walk: how often each topic was reported */
    unsigned long walks, reports, failures;
};

/* Reports of a topic `c/<slot>/v` or `c/<slot>`, checked and counted per slot. */
static void reader_cb(void *ctx, struct smq_msg *msg)
{
    struct reader *r = ctx;
    r->reports++;
    if (!smq_topic_matches(smq_span_str(r->filter), msg->topic) || msg->payload.len == 0 ||
        msg->payload.ptr[0] != 'p') {
        r->failures++;
        return;
    }
    unsigned slot = SLOTS;
    if (msg->topic.len > 2 && msg->topic.ptr[0] == 'c')
        slot = (unsigned)strtoul((const char *)msg->topic.ptr + 2, NULL, 10) % SLOTS;
    if (r->seen[msg->topic.ptr[msg->topic.len - 1] == 'v'][slot]++ > 0)
        r->failures++;       /* one walk reports each topic once */
    if (r->reports % 7 == 0) /* a subscriber keeping the message for later */
        smq_msg_unref(smq_msg_ref(msg));
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    rcu_register_thread();
    atomic_fetch_add(&r->shared->readers_ready, 1);
    while (!atomic_load_explicit(&r->shared->stop, memory_order_relaxed)) {
        memset(r->seen, 0, sizeof(r->seen));
        rcu_read_lock();
        smq_retained_match(r->shared->store, smq_span_str(r->filter), reader_cb, r);
        rcu_read_unlock();
        rcu_quiescent_state();
        r->walks++;
    }
    rcu_unregister_thread();
    return NULL;
}

Test(retained, concurrent_readers_and_writer)
{
    static const char *filters[READERS] = {"#", "c/+/v", "+/+/#"};
    struct shared shared = {.store = smq_retained_new()};
    struct reader readers[READERS] = {0};
    for (int i = 0; i < READERS; i++) {
        readers[i].shared = &shared;
        readers[i].filter = filters[i];
        cr_assert_eq(pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]), 0);
    }
    while (atomic_load(&shared.readers_ready) < READERS)
        sched_yield();

    bool model[2][SLOTS] = {{false}};
    uint64_t expected = 0, rng = 7;
    char topic[32], payload[32];
    set(shared.store, "$c/hidden", "p"); /* never reported by these filters... */
    expected++;
    for (int i = 0; i < WRITES; i++) {
        unsigned slot = next_rand(&rng) % SLOTS, kind = next_rand(&rng) % 2;
        bool del = next_rand(&rng) % 3 == 0;
        snprintf(topic, sizeof(topic), kind ? "c/%u" : "c/%u/v", slot);
        snprintf(payload, sizeof(payload), "p%d", i);
        set(shared.store, topic, del ? "" : payload);
        if (del && model[kind][slot])
            expected--;
        else if (!del && !model[kind][slot])
            expected++;
        model[kind][slot] = !del;
    }
    atomic_store(&shared.stop, true);
    for (int i = 0; i < READERS; i++) {
        cr_assert_eq(pthread_join(readers[i].thread, NULL), 0);
        cr_expect_gt(readers[i].walks, 0);
        cr_expect_eq(readers[i].failures, 0, "reader '%s': %lu bad reports of %lu", filters[i],
                     readers[i].failures, readers[i].reports);
    }
    cr_expect_eq(smq_retained_count(shared.store), expected);
    cr_expect_eq(count_matches(shared.store, "$c/#"), 1); /* ...but by this one */
    size_t live = 0;
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < SLOTS; s++)
            live += model[k][s];
    cr_expect_eq(count_matches(shared.store, "#"), live);
    smq_retained_free(shared.store);
    rcu_barrier();
}

Test(retained, max_bytes_refuses_growth_but_allows_deletes)
{
    struct smq_retained *store = smq_retained_new();
    struct smq_msg_init init = {.topic = smq_span_str("a"), .payload = smq_span_str("x"),
                                .retain = true};
    struct smq_msg *small = smq_msg_new(&init);
    smq_retained_set_max_bytes(store, 2 * smq_msg_cost(small) + 1);
    cr_assert_eq(smq_retained_set(store, small, 0, 0), 0);
    init.topic = smq_span_str("b");
    struct smq_msg *second = smq_msg_new(&init);
    cr_assert_eq(smq_retained_set(store, second, 0, 0), 0);
    cr_assert_eq(smq_retained_bytes(store), 2 * smq_msg_cost(small));
    init.topic = smq_span_str("c");
    struct smq_msg *third = smq_msg_new(&init);
    cr_assert_eq(smq_retained_set(store, third, 0, 0), SMQ_ELIMIT, "a new topic past the limit");
    init.topic = smq_span_str("a");
    init.payload = smq_span_str("a much longer payload than before");
    struct smq_msg *bigger = smq_msg_new(&init);
    cr_assert_eq(smq_retained_set(store, bigger, 0, 0), SMQ_ELIMIT, "a replacement that grows");
    init.payload = (struct smq_span){NULL, 0};
    struct smq_msg *del = smq_msg_new(&init);
    cr_assert_eq(smq_retained_set(store, del, 0, 0), 0);
    cr_assert_eq(smq_retained_count(store), 1);
    cr_assert_eq(smq_retained_bytes(store), smq_msg_cost(second));
    cr_assert_eq(smq_retained_set(store, third, 0, 0), 0, "room again after the delete");
    smq_msg_unref(small);
    smq_msg_unref(second);
    smq_msg_unref(third);
    smq_msg_unref(bigger);
    smq_msg_unref(del);
    rcu_barrier();
    smq_retained_free(store);
}

/* A retained message on topic that expires expiry_s seconds after now_ms (0: never). */
static struct smq_msg *expiring_msg(const char *topic, uint32_t expiry_s, int64_t now_ms)
{
    struct smq_props props = {0};
    if (expiry_s) {
        props.present = SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY);
        props.message_expiry = expiry_s;
    }
    struct smq_msg_init init = {.topic = smq_span_str(topic), .payload = smq_span_str("p"),
                                .retain = true, .now_ms = now_ms, .props = &props};
    return smq_msg_new(&init);
}

/* Sets a message of expiring_msg() and drops the caller's reference; returns the set's rc. */
static int set_expiring(struct smq_retained *store, const char *topic, uint32_t expiry_s,
                        int64_t now_ms, uint64_t max)
{
    struct smq_msg *msg = expiring_msg(topic, expiry_s, now_ms);
    int rc = smq_retained_set(store, msg, max, now_ms);
    smq_msg_unref(msg);
    return rc;
}

Test(retained, purge_deletes_only_what_expired)
{
    struct smq_retained *store = smq_retained_new();
    cr_assert_eq(set_expiring(store, "e/one", 1, 1000, 0), 0);
    cr_assert_eq(set_expiring(store, "e/two", 2, 1000, 0), 0);
    cr_assert_eq(set_expiring(store, "e/deep/three", 1, 1000, 0), 0);
    cr_assert_eq(set_expiring(store, "keep", 0, 1000, 0), 0);
    uint64_t keep_bytes = smq_retained_bytes(store);
    cr_expect_eq(smq_retained_purge_expired(store, 1999), 0, "nothing expired yet");
    cr_expect_eq(smq_retained_count(store), 4);
    /* [MQTT-3.3.2-5] at exactly its expiry a message is gone. */
    cr_expect_eq(smq_retained_purge_expired(store, 2000), 2);
    cr_expect_eq(smq_retained_count(store), 2);
    cr_expect_eq(count_matches(store, "#"), 2);
    cr_expect_eq(count_matches(store, "e/#"), 1);
    cr_expect_eq(smq_retained_purge_expired(store, 2999), 0, "e/two is due at 3000");
    cr_expect_eq(smq_retained_purge_expired(store, 3000), 1);
    cr_expect_eq(count_matches(store, "#"), 1);
    cr_expect_eq(count_matches(store, "keep"), 1, "a message without expiry stays");
    cr_expect_lt(smq_retained_bytes(store), keep_bytes);
    cr_expect_eq(smq_retained_purge_expired(store, INT64_MAX), 0);
    rcu_barrier();
    smq_retained_free(store);
}

Test(retained, replacing_an_expiring_message_keeps_the_new_one)
{
    struct smq_retained *store = smq_retained_new();
    cr_assert_eq(set_expiring(store, "r", 1, 1000, 0), 0);
    cr_assert_eq(set_expiring(store, "r", 0, 1500, 0), 0); /* replaced before it expired */
    cr_expect_eq(smq_retained_purge_expired(store, 5000), 0);
    cr_expect_eq(count_matches(store, "r"), 1);
    /* The purge that found nothing learned that nothing expires: the next one is free. */
    cr_assert_eq(set_expiring(store, "s", 10, 5000, 0), 0);
    cr_expect_eq(smq_retained_purge_expired(store, 14999), 0);
    cr_expect_eq(smq_retained_purge_expired(store, 15000), 1);
    rcu_barrier();
    smq_retained_free(store);
}

Test(retained, expired_messages_do_not_hold_places_under_the_limits)
{
    struct smq_retained *store = smq_retained_new();
    cr_assert_eq(set_expiring(store, "a", 1, 0, 2), 0);
    cr_assert_eq(set_expiring(store, "b", 0, 0, 2), 0);
    cr_expect_eq(set_expiring(store, "c", 0, 999, 2), SMQ_ELIMIT, "full, nothing expired");
    cr_expect_eq(smq_retained_count(store), 2);
    cr_expect_eq(set_expiring(store, "c", 0, 1000, 2), 0, "a's place, once a expired");
    cr_expect_eq(count_matches(store, "#"), 2);
    cr_expect_eq(count_matches(store, "a"), 0);
    cr_expect_eq(set_expiring(store, "d", 0, 1000, 2), SMQ_ELIMIT, "full of live messages");
    rcu_barrier();
    smq_retained_free(store);
}

Test(retained, expired_messages_do_not_hold_bytes_under_the_byte_limit)
{
    struct smq_retained *store = smq_retained_new();
    struct smq_msg *probe = expiring_msg("x", 1, 0);
    smq_retained_set_max_bytes(store, smq_msg_cost(probe) + 1);
    cr_assert_eq(smq_retained_set(store, probe, 0, 0), 0);
    cr_expect_eq(set_expiring(store, "y", 1, 500, 0), SMQ_ELIMIT);
    cr_expect_eq(set_expiring(store, "y", 1, 1000, 0), 0, "x's bytes, once x expired");
    cr_expect_eq(smq_retained_count(store), 1);
    cr_expect_eq(smq_retained_bytes(store), smq_msg_cost(probe));
    smq_msg_unref(probe);
    rcu_barrier();
    smq_retained_free(store);
}
