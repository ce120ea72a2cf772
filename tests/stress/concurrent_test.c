/* Concurrency stress of the shared RCU structures: the subscription index, the retained store
 * and the session registry, each raced by several RCU-registered threads.
 *
 * A plain C program, not a Criterion suite: Criterion fails at random on startup under
 * ThreadSanitizer (Snaipe/Criterion#274), and these scenarios exist to be run under TSan (and
 * ASan+UBSan). Every scenario is bounded by iteration counts, not by wall time, so a run has
 * the same amount of work on any machine. main() prints one line per scenario and a final
 * `N passed, M failed`, and exits 0 only when every scenario passed.
 *
 * RCU discipline: every thread that touches a structure is registered; main goes offline
 * while it waits in pthread_join() so it never holds up a grace period, ends each scenario
 * with rcu_barrier() (every deferred free done before the refcount and leak checks), and
 * frees the registry only after rcu_unregister_thread(): cds_lfht_destroy() waits for
 * liburcu's resize worker, which waits for a grace period an online reader would block. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/msg.h"
#include "core/rcu.h"
#include "core/registry.h"
#include "core/retained.h"
#include "core/topic_index.h"
#include "proto/errors.h"

/* Reports a failed check of a scenario (from any thread) and counts it. */
static atomic_uint failures;
#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            if (atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed) < 20) {       \
                fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);  \
                fprintf(stderr, __VA_ARGS__);                                               \
                fputc('\n', stderr);                                                        \
            }                                                                               \
        }                                                                                   \
    } while (0)

#define READERS 3

/* Readers run until the writer is done, and at least READER_MIN_ITERS times, at most
 * READER_MAX_ITERS times: iteration counts bound the run, never the clock. */
#define READER_MIN_ITERS 2000
#define READER_MAX_ITERS 400000

/* --- scenario 1: the subscription index -------------------------------------------------- */

#define INDEX_WRITES 4000          /* subscriptions the writer adds (and removes again) */
#define INDEX_WINDOW 24            /* how many of them are live at once */
#define INDEX_KEEP_SESSION 1u      /* subscribed to "sensors/#" for the whole run */
#define INDEX_FIRST_SESSION 1000u  /* the writer's sessions: FIRST + i for i < INDEX_WRITES */

/* The writer's filters; session FIRST + i subscribes to index_filters[i % N]. Every one
 * matches at least one of the readers' topics, so readers see writer targets come and go. */
static const char *const index_filters[] = {
    "sensors/+/temp", "sensors/#", "$share/g/sensors/+/temp", "sensors/a/temp", "#",
    "+/a/#", "$share/g/#", "$share/h/sensors/a/+", "sensors/b/hum", "+/+/+",
};
#define INDEX_NFILTERS (sizeof(index_filters) / sizeof(index_filters[0]))
static const char *const index_topics[] = {"sensors/a/temp", "sensors/b/hum", "sensors/a/b/c"};
#define INDEX_NTOPICS (sizeof(index_topics) / sizeof(index_topics[0]))

struct index_run {
    struct smq_index *index;
    atomic_bool writer_done; /* release by the writer, acquire by readers: orders nothing else */
    atomic_ulong matches;    /* relaxed: a statistic */
    atomic_ulong purged;     /* relaxed: written by the purger before main joins it */
};

/* What a target of session sid must look like: the writer derives every field from sid. */
static struct smq_sub_target index_target(uint64_t sid)
{
    return (struct smq_sub_target){
        .session_id = sid,
        .subscription_id = (uint32_t)(sid * 7u),
        .shard = (uint16_t)(sid % 8u),
        .qos = (uint8_t)(sid % 3u),
        .flags = 0,
    };
}

struct index_match {
    unsigned keep_seen;
    unsigned bad;
};

static void index_match_cb(void *ctx, const struct smq_sub_target *t)
{
    struct index_match *m = ctx;
    struct smq_sub_target want = index_target(t->session_id);
    bool is_keep = t->session_id == INDEX_KEEP_SESSION;
    bool is_writer = t->session_id >= INDEX_FIRST_SESSION &&
                     t->session_id < INDEX_FIRST_SESSION + INDEX_WRITES;
    CHECK(is_keep || is_writer, "impossible session id %llu",
          (unsigned long long)t->session_id);
    if (!is_keep && !is_writer) {
        m->bad++;
        return;
    }
    if (is_keep)
        m->keep_seen++;
    bool shared = false;
    if (is_writer)
        shared = strncmp(index_filters[(t->session_id - INDEX_FIRST_SESSION) % INDEX_NFILTERS],
                         "$share/", 7) == 0;
    CHECK(t->subscription_id == want.subscription_id && t->shard == want.shard &&
              t->qos == want.qos,
          "torn target of session %llu", (unsigned long long)t->session_id);
    CHECK(((t->flags & SMQ_SUB_SHARED) != 0) == shared,
          "session %llu: SMQ_SUB_SHARED is %d for a %s subscription",
          (unsigned long long)t->session_id, (t->flags & SMQ_SUB_SHARED) != 0,
          shared ? "shared" : "plain");
}

/* Picks a member of one of the writer's shared groups, skipping one of the writer's
 * sessions, and checks what comes back: a member of that very group (a session the writer
 * subscribed to that filter), whole, never the skipped one. */
static void index_pick(struct index_run *run, unsigned long n)
{
    unsigned f = (unsigned)(n % INDEX_NFILTERS);
    if (strncmp(index_filters[f], "$share/", 7) != 0)
        return;
    uint64_t skip = INDEX_FIRST_SESSION + (n % INDEX_WRITES);
    struct smq_sub_target t;
    int rc = smq_index_pick(run->index, smq_span_str(index_filters[f]), skip, &t);
    CHECK(rc == 0 || rc == SMQ_ENOENT, "pick returned %d", rc);
    if (rc != 0)
        return;
    struct smq_sub_target want = index_target(t.session_id);
    bool is_writer = t.session_id >= INDEX_FIRST_SESSION &&
                     t.session_id < INDEX_FIRST_SESSION + INDEX_WRITES;
    CHECK(is_writer && (t.session_id - INDEX_FIRST_SESSION) % INDEX_NFILTERS == f,
          "picked session %llu, not a member of %s", (unsigned long long)t.session_id,
          index_filters[f]);
    CHECK(t.session_id != skip, "picked the skipped session");
    CHECK(t.subscription_id == want.subscription_id && t.shard == want.shard &&
              t.qos == want.qos && (t.flags & SMQ_SUB_SHARED),
          "torn pick of session %llu", (unsigned long long)t.session_id);
}

static void *index_reader(void *arg)
{
    struct index_run *run = arg;
    rcu_register_thread();
    unsigned long n = 0;
    while (n < READER_MAX_ITERS &&
           (n < READER_MIN_ITERS || !atomic_load_explicit(&run->writer_done,
                                                          memory_order_acquire))) {
        struct index_match m = {0};
        const char *topic = index_topics[n % INDEX_NTOPICS];
        rcu_read_lock();
        smq_index_match(run->index, smq_span_str(topic), index_match_cb, &m);
        rcu_read_unlock();
        CHECK(m.keep_seen == 1, "%s: the subscription held for the whole run was reported %u times",
              topic, m.keep_seen);
        rcu_read_lock();
        index_pick(run, n);
        rcu_read_unlock();
        rcu_quiescent_state();
        n++;
    }
    atomic_fetch_add_explicit(&run->matches, n, memory_order_relaxed);
    rcu_unregister_thread();
    return NULL;
}

static void *index_writer(void *arg)
{
    struct index_run *run = arg;
    rcu_register_thread();
    for (unsigned i = 0; i < INDEX_WRITES + INDEX_WINDOW; i++) {
        if (i < INDEX_WRITES) {
            uint64_t sid = INDEX_FIRST_SESSION + i;
            struct smq_sub_target t = index_target(sid);
            int rc = smq_index_subscribe(run->index,
                                         smq_span_str(index_filters[i % INDEX_NFILTERS]), &t);
            CHECK(rc == 0, "subscribe %u returned %d", i, rc);
        }
        if (i >= INDEX_WINDOW) {
            unsigned j = i - INDEX_WINDOW;
            int rc = smq_index_unsubscribe(run->index,
                                           smq_span_str(index_filters[j % INDEX_NFILTERS]),
                                           INDEX_FIRST_SESSION + j);
            CHECK(rc == 0, "unsubscribe %u returned %d", j, rc);
        }
        rcu_quiescent_state();
    }
    atomic_store_explicit(&run->writer_done, true, memory_order_release);
    rcu_unregister_thread();
    return NULL;
}

static void scenario_index(void)
{
    struct index_run run = {.index = smq_index_new()};
    atomic_init(&run.writer_done, false);
    atomic_init(&run.matches, 0);
    struct smq_sub_target keep = index_target(INDEX_KEEP_SESSION);
    CHECK(smq_index_subscribe(run.index, smq_span_str("sensors/#"), &keep) == 0, "keep");

    pthread_t readers[READERS], writer;
    rcu_thread_offline(); /* main only waits from here: never hold up a grace period */
    for (int i = 0; i < READERS; i++)
        pthread_create(&readers[i], NULL, index_reader, &run);
    pthread_create(&writer, NULL, index_writer, &run);
    pthread_join(writer, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(readers[i], NULL);
    rcu_thread_online();

    CHECK(smq_index_count(run.index) == 1, "count %llu after the writer removed all its own",
          (unsigned long long)smq_index_count(run.index));
    rcu_barrier();
    smq_index_free(run.index);
    rcu_barrier();
    printf("  index: %lu matches and picks by %d readers during %u subscribe/unsubscribe pairs\n",
           atomic_load(&run.matches), READERS, INDEX_WRITES);
}

/* --- scenario 2: the retained store -------------------------------------------------------- */

#define RETAINED_WRITES 4000 /* messages the writer sets; every 5th is a delete */
#define RETAINED_TOPICS 64   /* the writer's topics r/<n>/x */

struct retained_run {
    struct smq_retained *store;
    struct smq_msg *msgs[RETAINED_WRITES + 2]; /* owned: one reference each, main's */
    atomic_bool writer_done; /* release by the writer, acquire by readers */
    atomic_ulong matches;    /* relaxed: a statistic */
    atomic_ulong purged;     /* relaxed: written by the purger before main joins it */
};

/* A message whose payload is "p" + topic, so a reader can check the two belong together
 * (an empty payload when del: a delete). */
static struct smq_msg *retained_msg(const char *topic, bool del)
{
    char payload[64];
    snprintf(payload, sizeof(payload), "p%s", topic);
    struct smq_msg_init init = {
        .topic = smq_span_str(topic),
        .payload = smq_span_str(del ? "" : payload),
        .qos = 1,
        .retain = true,
    };
    return smq_msg_new(&init);
}

/* A retained message like retained_msg()'s that expired long ago: the purger deletes it. */
static struct smq_msg *expired_retained_msg(const char *topic)
{
    char payload[64];
    snprintf(payload, sizeof(payload), "p%s", topic);
    struct smq_props props = {.present = SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY),
                              .message_expiry = 1};
    struct smq_msg_init init = {
        .topic = smq_span_str(topic),
        .payload = smq_span_str(payload),
        .qos = 1,
        .retain = true,
        .props = &props,
    };
    return smq_msg_new(&init);
}

struct retained_match {
    bool all; /* the filter is "#" */
    unsigned keep_seen;
};

static void retained_match_cb(void *ctx, struct smq_msg *msg)
{
    struct retained_match *m = ctx;
    unsigned refs = atomic_load_explicit(&msg->refs, memory_order_relaxed);
    CHECK(refs >= 1, "a reported message has %u references", refs);
    CHECK(msg->topic.len > 0 && msg->topic.ptr[0] != '$', "bad topic (len %zu)",
          msg->topic.len);
    CHECK(msg->payload.len == msg->topic.len + 1 && msg->payload.ptr[0] == 'p' &&
              memcmp(msg->payload.ptr + 1, msg->topic.ptr, msg->topic.len) == 0,
          "payload does not belong to its topic (%zu, %zu bytes)", msg->topic.len,
          msg->payload.len);
    if (smq_span_eq_str(msg->topic, "keep/me"))
        m->keep_seen++;
    else
        CHECK(msg->topic.len > 2 && memcmp(msg->topic.ptr, "r/", 2) == 0,
              "a topic nobody set: %.*s", (int)msg->topic.len, (const char *)msg->topic.ptr);
}

static void *retained_reader(void *arg)
{
    struct retained_run *run = arg;
    rcu_register_thread();
    unsigned long n = 0;
    while (n < READER_MAX_ITERS &&
           (n < READER_MIN_ITERS || !atomic_load_explicit(&run->writer_done,
                                                          memory_order_acquire))) {
        struct retained_match m = {.all = n % 2 == 0};
        rcu_read_lock();
        smq_retained_match(run->store, smq_span_str(m.all ? "#" : "r/+/x"), retained_match_cb,
                           &m);
        rcu_read_unlock();
        if (m.all)
            CHECK(m.keep_seen == 1, "# reported the topic set before the run %u times",
                  m.keep_seen);
        else
            CHECK(m.keep_seen == 0, "r/+/x reported keep/me");
        rcu_quiescent_state();
        n++;
    }
    atomic_fetch_add_explicit(&run->matches, n, memory_order_relaxed);
    rcu_unregister_thread();
    return NULL;
}

static void *retained_writer(void *arg)
{
    struct retained_run *run = arg;
    rcu_register_thread();
    for (unsigned i = 0; i < RETAINED_WRITES; i++) {
        char topic[32];
        /* A `$` topic now and then: `#` must never report it [MQTT-4.7.2-1]. */
        if (i % 97 == 0)
            snprintf(topic, sizeof(topic), "$SYS/%u", i % 4);
        else
            snprintf(topic, sizeof(topic), "r/%u/x", i % RETAINED_TOPICS);
        /* The message is main's (run->msgs[i]); the store takes its own reference. */
        struct smq_msg *msg =
            i % 7 == 3 ? expired_retained_msg(topic) : retained_msg(topic, i % 5 == 4);
        run->msgs[i] = msg;
        int rc = smq_retained_set(run->store, msg, 0, 0);
        CHECK(rc == 0, "set %u returned %d", i, rc);
        rcu_quiescent_state();
    }
    atomic_store_explicit(&run->writer_done, true, memory_order_release);
    rcu_unregister_thread();
    return NULL;
}

/* Deletes expired messages while the writer sets and the readers match, as worker 0 does
 * once a second: a second writer, under the store's lock. */
static void *retained_purger(void *arg)
{
    struct retained_run *run = arg;
    rcu_register_thread();
    unsigned long purged = 0;
    while (!atomic_load_explicit(&run->writer_done, memory_order_acquire)) {
        purged += smq_retained_purge_expired(run->store, INT64_MAX / 2);
        rcu_quiescent_state();
    }
    atomic_store_explicit(&run->purged, purged, memory_order_relaxed);
    rcu_unregister_thread();
    return NULL;
}

static void scenario_retained(void)
{
    struct retained_run *run = calloc(1, sizeof(*run));
    run->store = smq_retained_new();
    atomic_init(&run->writer_done, false);
    atomic_init(&run->matches, 0);
    struct smq_msg *keep = retained_msg("keep/me", false);
    run->msgs[RETAINED_WRITES] = keep;
    CHECK(smq_retained_set(run->store, keep, 0, 0) == 0, "set keep/me");

    atomic_init(&run->purged, 0);
    pthread_t readers[READERS], writer, purger;
    rcu_thread_offline();
    for (int i = 0; i < READERS; i++)
        pthread_create(&readers[i], NULL, retained_reader, run);
    pthread_create(&writer, NULL, retained_writer, run);
    pthread_create(&purger, NULL, retained_purger, run);
    pthread_join(writer, NULL);
    pthread_join(purger, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(readers[i], NULL);
    rcu_thread_online();
    /* Whatever expired message the purger had no turn for: the store ends without one. */
    unsigned long purged = atomic_load_explicit(&run->purged, memory_order_relaxed) +
                           smq_retained_purge_expired(run->store, INT64_MAX / 2);
    CHECK(purged > 0, "the purger deleted no expired message");

    /* After a grace period the store holds exactly one reference per stored topic: every
     * replaced or deleted message is back to main's reference alone. */
    rcu_barrier();
    uint64_t held = 0;
    for (unsigned i = 0; i <= RETAINED_WRITES; i++) {
        unsigned refs = atomic_load_explicit(&run->msgs[i]->refs, memory_order_relaxed);
        CHECK(refs == 1 || refs == 2, "message %u has %u references", i, refs);
        held += refs - 1;
    }
    uint64_t count = smq_retained_count(run->store);
    CHECK(held == count, "the store holds %llu references for %llu topics",
          (unsigned long long)held, (unsigned long long)count);
    CHECK(atomic_load_explicit(&keep->refs, memory_order_relaxed) == 2, "keep/me not held");

    smq_retained_free(run->store);
    rcu_barrier();
    for (unsigned i = 0; i <= RETAINED_WRITES; i++) {
        unsigned refs = atomic_load_explicit(&run->msgs[i]->refs, memory_order_relaxed);
        CHECK(refs == 1, "message %u has %u references after the store was freed", i, refs);
        smq_msg_unref(run->msgs[i]);
    }
    printf("  retained: %lu matches by %d readers during %u sets, %lu expired ones purged, "
           "%llu topics at the end\n",
           atomic_load(&run->matches), READERS, RETAINED_WRITES, purged,
           (unsigned long long)count);
    free(run);
}

/* --- scenario 3: the session registry ------------------------------------------------------ */

#define REG_THREADS 4
#define REG_IDS 2000

struct claim {
    int rc;                            /* smq_registry_claim()'s result */
    struct smq_registry_entry existing; /* filled when rc == 1 */
};

struct registry_run {
    struct smq_registry *reg;
    pthread_barrier_t phase; /* each phase reads only what the previous phases wrote */
    struct claim claims[REG_THREADS][REG_IDS]; /* [t][i]: written by thread t only */
    int winner[REG_IDS];                       /* written by main between phases */
};

struct registry_thread {
    struct registry_run *run;
    int t;
};

static uint64_t reg_session(int t, int i)
{
    return (uint64_t)(t + 1) * 1000000u + (uint64_t)i;
}

static void reg_id(char *buf, size_t size, int i)
{
    snprintf(buf, size, "client-%d", i);
}

/* Waits for the other threads offline, so no grace period waits for a parked thread. */
static void reg_phase(struct registry_run *run)
{
    rcu_thread_offline();
    pthread_barrier_wait(&run->phase);
    rcu_thread_online();
}

static void *registry_thread(void *arg)
{
    struct registry_thread *self = arg;
    struct registry_run *run = self->run;
    int t = self->t;
    char id[32];
    rcu_register_thread();

    /* Phase 1: every thread claims every id, each starting at a different place so the
     * threads meet on the same ids from different directions. */
    reg_phase(run);
    for (int k = 0; k < REG_IDS; k++) {
        int i = (k + t * (REG_IDS / REG_THREADS)) % REG_IDS;
        if (t % 2 == 1)
            i = REG_IDS - 1 - i;
        reg_id(id, sizeof(id), i);
        struct claim *c = &run->claims[t][i];
        c->rc = smq_registry_claim(run->reg, smq_span_str(id), (uint16_t)t, reg_session(t, i),
                                   &c->existing);
        rcu_quiescent_state();
    }
    reg_phase(run); /* main computes winner[] */
    reg_phase(run);

    /* Phase 2: lookups see the winner; a release by a loser's session id fails and
     * leaves the entry alone. */
    for (int i = 0; i < REG_IDS; i++) {
        reg_id(id, sizeof(id), i);
        int w = run->winner[i];
        struct smq_registry_entry e;
        int rc = smq_registry_lookup(run->reg, smq_span_str(id), &e);
        CHECK(rc == 0 && e.shard == w && e.session_id == reg_session(w, i),
              "%s: lookup rc %d shard %u session %llu", id, rc, e.shard,
              (unsigned long long)e.session_id);
        if (w != t) {
            rc = smq_registry_release(run->reg, smq_span_str(id), reg_session(t, i));
            CHECK(rc == SMQ_ENOENT, "%s: release by non-owner %d returned %d", id, t, rc);
        }
        rcu_quiescent_state();
    }
    reg_phase(run);
    for (int i = 0; i < REG_IDS; i++) {
        reg_id(id, sizeof(id), i);
        int w = run->winner[i];
        struct smq_registry_entry e;
        int rc = smq_registry_lookup(run->reg, smq_span_str(id), &e);
        CHECK(rc == 0 && e.session_id == reg_session(w, i),
              "%s: gone after non-owner releases (rc %d)", id, rc);
        rcu_quiescent_state();
    }
    reg_phase(run);

    /* Phase 3: the owners release; a second release, and lookups, find nothing. */
    for (int i = 0; i < REG_IDS; i++) {
        if (run->winner[i] != t)
            continue;
        reg_id(id, sizeof(id), i);
        int rc = smq_registry_release(run->reg, smq_span_str(id), reg_session(t, i));
        CHECK(rc == 0, "%s: release by its owner returned %d", id, rc);
        rc = smq_registry_release(run->reg, smq_span_str(id), reg_session(t, i));
        CHECK(rc == SMQ_ENOENT, "%s: second release returned %d", id, rc);
        rcu_quiescent_state();
    }
    reg_phase(run);
    for (int i = t; i < REG_IDS; i += REG_THREADS) {
        reg_id(id, sizeof(id), i);
        struct smq_registry_entry e;
        CHECK(smq_registry_lookup(run->reg, smq_span_str(id), &e) == SMQ_ENOENT,
              "%s: still registered after its release", id);
    }
    rcu_unregister_thread();
    return NULL;
}

/* Between phases 1 and 2 (all threads parked at the barrier): exactly one winner per id,
 * every loser told the winner's shard and session id. */
static void registry_check_claims(struct registry_run *run)
{
    for (int i = 0; i < REG_IDS; i++) {
        int w = -1, wins = 0;
        for (int t = 0; t < REG_THREADS; t++) {
            if (run->claims[t][i].rc == 0) {
                w = t;
                wins++;
            } else {
                CHECK(run->claims[t][i].rc == 1, "client-%d: claim %d returned %d", i, t,
                      run->claims[t][i].rc);
            }
        }
        CHECK(wins == 1, "client-%d: %d winners", i, wins);
        run->winner[i] = w < 0 ? 0 : w;
        for (int t = 0; t < REG_THREADS && wins == 1; t++) {
            const struct claim *c = &run->claims[t][i];
            if (t != w)
                CHECK(c->existing.shard == w && c->existing.session_id == reg_session(w, i),
                      "client-%d: loser %d told shard %u session %llu, winner is %d", i, t,
                      c->existing.shard, (unsigned long long)c->existing.session_id, w);
        }
    }
}

static void scenario_registry(void)
{
    struct registry_run *run = calloc(1, sizeof(*run));
    run->reg = smq_registry_new();
    pthread_barrier_init(&run->phase, NULL, REG_THREADS + 1);
    struct registry_thread threads[REG_THREADS];
    pthread_t tids[REG_THREADS];
    rcu_thread_offline();
    for (int t = 0; t < REG_THREADS; t++) {
        threads[t] = (struct registry_thread){run, t};
        pthread_create(&tids[t], NULL, registry_thread, &threads[t]);
    }
    pthread_barrier_wait(&run->phase); /* start claiming */
    pthread_barrier_wait(&run->phase); /* claims done */
    registry_check_claims(run);
    uint64_t claimed = smq_registry_count(run->reg);
    CHECK(claimed == REG_IDS, "count %llu after the claims", (unsigned long long)claimed);
    pthread_barrier_wait(&run->phase); /* winner[] written: lookups and non-owner releases */
    pthread_barrier_wait(&run->phase); /* lookups after them */
    pthread_barrier_wait(&run->phase); /* owner releases */
    pthread_barrier_wait(&run->phase); /* final lookups */
    for (int t = 0; t < REG_THREADS; t++)
        pthread_join(tids[t], NULL);
    rcu_thread_online();
    CHECK(smq_registry_count(run->reg) == 0, "count %llu after every release",
          (unsigned long long)smq_registry_count(run->reg));
    rcu_barrier(); /* every released entry freed */
    /* cds_lfht_destroy() must not run on an online registered thread: unregister first. */
    rcu_unregister_thread();
    smq_registry_free(run->reg);
    rcu_register_thread();
    pthread_barrier_destroy(&run->phase);
    printf("  registry: %d threads claimed %d ids (%d claims each), released them\n",
           REG_THREADS, REG_IDS, REG_IDS);
    free(run);
}

/* --- main ---------------------------------------------------------------------------------- */

struct scenario {
    const char *name;
    void (*run)(void);
};

int main(void)
{
    static const struct scenario scenarios[] = {
        {"index", scenario_index},
        {"retained", scenario_retained},
        {"registry", scenario_registry},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    rcu_register_thread(); /* main subscribes, sets and calls rcu_barrier() */
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        atomic_store(&failures, 0);
        scenarios[i].run();
        unsigned f = atomic_load(&failures);
        if (f == 0) {
            passed++;
            printf("PASS %s\n", scenarios[i].name);
        } else {
            failed++;
            printf("FAIL %s (%u failed checks)\n", scenarios[i].name, f);
        }
    }
    rcu_unregister_thread();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
