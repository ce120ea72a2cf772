/* shardmq-bench: the control thread.
 *
 * It plans every client (ids, topics expanded from their templates, the PUBLISH of each
 * publisher encoded once), deals them to -j worker threads, and then drives the phases
 * from a 100 ms tick of its own loop: CONNECT until every client is ready or failed, RUN
 * for -d seconds (or until every publisher reached -L, or SIGINT), DRAIN until every
 * expected delivery and acknowledgement is in or --drain-ms passed, STOP. Each second it
 * prints a progress line from the workers' counters and latency snapshots; at the end it
 * joins the workers, merges their counters and histograms and prints the summary. */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/client.h"
#include "bench/fanout.h"
#include "bench/options.h"
#include "bench/report.h"
#include "bench/run.h"
#include "bench/template.h"
#include "bench/worker.h"
#include "proto/topic.h"

#define TICK_MS 100

struct control {
    struct smq_bench_run *run;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uint64_t start_ns, run_ns, drain_ns, stop_ns;
    uint64_t print_ns, print_sent, print_recv;
    struct smq_bench_hist interval; /* latencies since the last progress line */
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "shardmq-bench: out of memory\n");
        abort();
    }
    return p;
}

static int resolve(struct smq_bench_run *run)
{
    const struct smq_bench_opts *o = run->opts;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    char port[8];
    snprintf(port, sizeof(port), "%u", o->port);
    int rc = getaddrinfo(o->host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "shardmq-bench: cannot resolve %s: %s\n", o->host, gai_strerror(rc));
        return -1;
    }
    memcpy(&run->broker, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    run->ifaddrs = xcalloc(o->nifaddrs, sizeof(*run->ifaddrs));
    for (uint32_t i = 0; i < o->nifaddrs; i++) {
        struct sockaddr_storage *a = &run->ifaddrs[i];
        if (uv_ip4_addr(o->ifaddrs[i], 0, (struct sockaddr_in *)a) != 0 &&
            uv_ip6_addr(o->ifaddrs[i], 0, (struct sockaddr_in6 *)a) != 0) {
            fprintf(stderr, "shardmq-bench: --ifaddr %s is not an IP address\n", o->ifaddrs[i]);
            return -1;
        }
        if (a->ss_family != run->broker.ss_family) {
            fprintf(stderr, "shardmq-bench: --ifaddr %s is not of the broker's address family\n",
                    o->ifaddrs[i]);
            return -1;
        }
    }
    run->nifaddrs = o->nifaddrs;
    return 0;
}

/* Names client c and expands its topic template. Returns 0 or -1 after a diagnostic. */
static int plan_client(struct smq_bench_client *c, uint8_t role, uint32_t seq, uint32_t index,
                       const char *tmpl, const char *prefix, uint64_t *rng)
{
    static const char *const kind[] = {"conn", "pub", "sub"};
    c->role = role;
    c->seq = seq;
    c->index = index;
    snprintf(c->id, sizeof(c->id), "%s_%s_%u", prefix, kind[role], seq);
    if (!tmpl)
        return 0;
    char topic[4096];
    ssize_t n = smq_bench_template_expand(topic, sizeof(topic), tmpl, seq, c->id, rng);
    if (n < 0) {
        fprintf(stderr, "shardmq-bench: bad topic template '%s'\n", tmpl);
        return -1;
    }
    struct smq_span s = {(const uint8_t *)topic, (size_t)n};
    bool valid = role == SMQ_ROLE_SUB ? smq_topic_filter_is_valid(s) : smq_topic_name_is_valid(s);
    if (!valid) {
        fprintf(stderr, "shardmq-bench: '%s' is not a valid topic %s\n", topic,
                role == SMQ_ROLE_SUB ? "filter" : "name (no wildcards)");
        return -1;
    }
    c->topic = strdup(topic);
    if (!c->topic)
        abort();
    return 0;
}

/* Plans every client: subscribers first, then publishers, then idle connections. */
static int plan(struct smq_bench_run *run)
{
    const struct smq_bench_opts *o = run->opts;
    run->nsubs = o->subs;
    run->npubs = o->pubs;
    run->nclients = o->subs + o->pubs + o->conns;
    run->clients = xcalloc(run->nclients, sizeof(*run->clients));
    uint64_t rng = ((uint64_t)run->run_id << 32) | 0x9E3779B9u;
    uint32_t k = 0;
    const char *filter = o->sub_topic ? o->sub_topic : o->topic;
    for (uint32_t i = 0; i < o->subs; i++, k++) {
        if (plan_client(&run->clients[k], SMQ_ROLE_SUB, o->start + i, i, filter, o->prefix, &rng))
            return -1;
    }
    for (uint32_t i = 0; i < o->pubs; i++, k++) {
        if (plan_client(&run->clients[k], SMQ_ROLE_PUB, o->start + i, i, o->topic, o->prefix, &rng))
            return -1;
    }
    for (uint32_t i = 0; i < o->conns; i++, k++)
        plan_client(&run->clients[k], SMQ_ROLE_CONN, o->start + i, i, NULL, o->prefix, &rng);
    return 0;
}

static int make_workers(struct smq_bench_run *run)
{
    run->nworkers = run->opts->threads;
    run->workers = xcalloc(run->nworkers, sizeof(*run->workers));
    for (uint32_t i = 0; i < run->nworkers; i++) {
        int rc = smq_bench_worker_init(&run->workers[i], run, i);
        if (rc < 0) {
            fprintf(stderr, "shardmq-bench: event loop: %s\n", uv_strerror(rc));
            return -1;
        }
    }
    for (uint32_t k = 0; k < run->nclients; k++) {
        struct smq_bench_client *c = &run->clients[k];
        smq_bench_worker_add(&run->workers[k % run->nworkers], c);
        if (c->role == SMQ_ROLE_PUB && smq_bench_pub_prepare(c) < 0) {
            fprintf(stderr, "shardmq-bench: cannot encode a PUBLISH to '%s' of %u bytes\n",
                    c->topic, run->opts->size);
            return -1;
        }
    }
    return 0;
}

/* The deliveries each publisher's messages should produce, from the subscriptions that
 * were granted. Called once every client has settled, before the phase becomes RUN. */
static void compute_fanout(struct smq_bench_run *run)
{
    if (run->opts->mode != SMQ_BENCH_RUN)
        return;
    const char **filters = xcalloc(run->nsubs, sizeof(*filters));
    bool *granted = xcalloc(run->nsubs, sizeof(*granted));
    for (uint32_t i = 0; i < run->nsubs; i++) {
        filters[i] = run->clients[i].topic;
        granted[i] = run->clients[i].ok;
    }
    run->fanout = xcalloc(run->npubs, sizeof(*run->fanout));
    for (uint32_t p = 0; p < run->npubs; p++)
        run->fanout[p] = smq_bench_fanout_count(run->clients[run->nsubs + p].topic, filters,
                                                granted, run->nsubs);
    free(filters);
    free(granted);
}

static uint64_t sum(const struct smq_bench_run *run, enum smq_bench_stat s)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < run->nworkers; i++)
        n += atomic_load_explicit(&run->workers[i].stat[s], memory_order_relaxed);
    return n;
}

static void set_phase(struct control *ctl, int phase)
{
    struct smq_bench_run *run = ctl->run;
    /* Release: publishes the fan-out table to the workers (acquire in on_wake). */
    atomic_store_explicit(&run->phase, phase, memory_order_release);
    for (uint32_t i = 0; i < run->nworkers; i++)
        smq_bench_worker_wake(&run->workers[i]);
}

static void go_stop(struct control *ctl)
{
    ctl->stop_ns = uv_hrtime();
    if (ctl->drain_ns == 0)
        ctl->drain_ns = ctl->stop_ns;
    set_phase(ctl, SMQ_PHASE_STOP);
    uv_close((uv_handle_t *)&ctl->tick, NULL);
    uv_close((uv_handle_t *)&ctl->sigint, NULL);
    uv_close((uv_handle_t *)&ctl->sigterm, NULL);
}

static void go_drain(struct control *ctl)
{
    enum smq_bench_mode mode = ctl->run->opts->mode;
    ctl->drain_ns = uv_hrtime();
    if (ctl->run_ns == 0)
        ctl->run_ns = ctl->drain_ns;
    /* Without publishers in this process there is nothing to wait for. */
    if (mode == SMQ_BENCH_CONN || mode == SMQ_BENCH_SUB) {
        go_stop(ctl);
        return;
    }
    set_phase(ctl, SMQ_PHASE_DRAIN);
}

/* True once every expected delivery and acknowledgement has arrived. */
static bool drained(struct control *ctl)
{
    struct smq_bench_run *run = ctl->run;
    /* Acquire: pairs with each worker's release in enter_drain, so EXPECTED and SENT are
     * final when all have drained. */
    if (atomic_load_explicit(&run->workers_drained, memory_order_acquire) < run->nworkers)
        return false;
    if (run->opts->qos > 0 && sum(run, SMQ_STAT_ACKED) < sum(run, SMQ_STAT_SENT))
        return false;
    return run->opts->mode != SMQ_BENCH_RUN ||
           sum(run, SMQ_STAT_UNIQUE) >= sum(run, SMQ_STAT_EXPECTED);
}

static void print_progress(struct control *ctl, uint64_t now, int phase)
{
    struct smq_bench_run *run = ctl->run;
    double dt = (double)(now - ctl->print_ns) / 1e9;
    uint64_t sent = sum(run, SMQ_STAT_SENT), recv = sum(run, SMQ_STAT_RECEIVED);
    for (uint32_t i = 0; i < run->nworkers; i++)
        smq_bench_worker_take_snapshot(&run->workers[i], &ctl->interval);
    uint64_t lost = sum(run, SMQ_STAT_CLOSED) + sum(run, SMQ_STAT_SUB_FAIL);
    uint64_t ok = sum(run, SMQ_STAT_CONN_OK);
    struct smq_bench_progress p = {
        .elapsed_s = (double)(now - ctl->start_ns) / 1e9,
        .phase = phase,
        .mode = run->opts->mode,
        .sent_rate = dt > 0 ? (double)(sent - ctl->print_sent) / dt : 0,
        .recv_rate = dt > 0 ? (double)(recv - ctl->print_recv) / dt : 0,
        .has_p99 = ctl->interval.total > 0,
        .p99_ns = smq_bench_hist_percentile(&ctl->interval, 99),
        .conns = ok > lost ? ok - lost : 0,
        .settled = atomic_load_explicit(&run->settled, memory_order_relaxed),
        .clients = run->nclients,
        .failed = sum(run, SMQ_STAT_CONN_FAIL) + sum(run, SMQ_STAT_SUB_FAIL),
    };
    smq_bench_report_progress(stderr, &p);
    smq_bench_hist_reset(&ctl->interval);
    ctl->print_ns = now;
    ctl->print_sent = sent;
    ctl->print_recv = recv;
}

static void on_tick(uv_timer_t *t)
{
    struct control *ctl = t->data;
    struct smq_bench_run *run = ctl->run;
    const struct smq_bench_opts *o = run->opts;
    uint64_t now = uv_hrtime();
    int phase = atomic_load_explicit(&run->phase, memory_order_relaxed);
    if (now - ctl->print_ns >= 1000000000u - TICK_MS * 500000u)
        print_progress(ctl, now, phase);
    switch (phase) {
    case SMQ_PHASE_CONNECT:
        /* Acquire: pairs with the workers' release increments, making every c->ok visible. */
        if (atomic_load_explicit(&run->settled, memory_order_acquire) >= run->nclients) {
            compute_fanout(run);
            ctl->run_ns = now;
            set_phase(ctl, SMQ_PHASE_RUN);
        }
        break;
    case SMQ_PHASE_RUN: {
        uint32_t ready = atomic_load_explicit(&run->pubs_ready, memory_order_relaxed);
        uint32_t done = atomic_load_explicit(&run->pubs_done, memory_order_relaxed);
        bool timed_out = o->duration_s > 0 && (double)(now - ctl->run_ns) / 1e9 >= o->duration_s;
        bool pubs_over = run->npubs > 0 && done >= ready && (o->limit > 0 || ready == 0);
        if (timed_out || pubs_over)
            go_drain(ctl);
        break;
    }
    case SMQ_PHASE_DRAIN:
        if (drained(ctl) || now - ctl->drain_ns >= (uint64_t)o->drain_ms * 1000000u)
            go_stop(ctl);
        break;
    default:
        break;
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct control *ctl = s->data;
    int phase = atomic_load_explicit(&ctl->run->phase, memory_order_relaxed);
    fprintf(stderr, "shardmq-bench: %s, %s\n", strsignal(signum),
            phase < SMQ_PHASE_DRAIN ? "stopping the publishers" : "stopping now");
    if (phase < SMQ_PHASE_DRAIN)
        go_drain(ctl);
    else if (phase < SMQ_PHASE_STOP)
        go_stop(ctl);
}

/* Runs the control loop until STOP. */
static void control(struct control *ctl)
{
    uv_loop_init(&ctl->loop);
    uv_timer_init(&ctl->loop, &ctl->tick);
    uv_signal_init(&ctl->loop, &ctl->sigint);
    uv_signal_init(&ctl->loop, &ctl->sigterm);
    ctl->tick.data = ctl->sigint.data = ctl->sigterm.data = ctl;
    uv_signal_start(&ctl->sigint, on_signal, SIGINT);
    uv_signal_start(&ctl->sigterm, on_signal, SIGTERM);
    uv_timer_start(&ctl->tick, on_tick, TICK_MS, TICK_MS);
    uv_run(&ctl->loop, UV_RUN_DEFAULT);
    uv_loop_close(&ctl->loop);
}

static void collect(struct control *ctl, struct smq_bench_result *r, struct smq_bench_hist *lat)
{
    struct smq_bench_run *run = ctl->run;
    uint64_t first = 0, last = 0;
    for (int s = 0; s < SMQ_STAT_COUNT; s++)
        r->stat[s] = sum(run, (enum smq_bench_stat)s);
    for (uint32_t i = 0; i < run->nworkers; i++) {
        struct smq_bench_worker *w = &run->workers[i];
        smq_bench_hist_merge(lat, &w->total);
        uint64_t f = atomic_load_explicit(&w->first_rx_ns, memory_order_relaxed);
        uint64_t l = atomic_load_explicit(&w->last_rx_ns, memory_order_relaxed);
        if (f && (first == 0 || f < first))
            first = f;
        if (l > last)
            last = l;
    }
    r->latency = lat;
    r->run_id = run->run_id;
    r->connect_s = ctl->run_ns ? (double)(ctl->run_ns - ctl->start_ns) / 1e9 : 0;
    r->run_s = ctl->run_ns ? (double)(ctl->drain_ns - ctl->run_ns) / 1e9 : 0;
    r->drain_s = (double)(ctl->stop_ns - ctl->drain_ns) / 1e9;
    r->recv_s = last > first ? (double)(last - first) / 1e9 : 0;
    if (run->opts->mode == SMQ_BENCH_RUN) {
        uint64_t exp = r->stat[SMQ_STAT_EXPECTED], got = r->stat[SMQ_STAT_UNIQUE];
        r->has_lost = true;
        r->lost = exp > got ? exp - got : 0;
    } else if (run->opts->mode == SMQ_BENCH_SUB) {
        /* No publishers here: what is known missing is the holes below each highest
         * sequence seen (a publisher's lost tail cannot be seen). */
        r->has_lost = true;
        for (uint32_t i = 0; i < run->nsubs; i++)
            r->lost += smq_bench_track_gaps(&run->clients[i].track);
    }
}

static void cleanup(struct smq_bench_run *run)
{
    for (uint32_t i = 0; i < run->nworkers; i++)
        smq_bench_worker_dispose(&run->workers[i]);
    for (uint32_t k = 0; k < run->nclients; k++)
        smq_bench_client_dispose(&run->clients[k]);
    free(run->workers);
    free(run->clients);
    free(run->fanout);
    free(run->ifaddrs);
}

int main(int argc, char **argv)
{
    struct smq_bench_opts opts;
    int rc = smq_bench_opts_parse(&opts, argc, argv, stderr);
    if (rc != 0) {
        smq_bench_opts_dispose(&opts);
        return rc > 0 ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct smq_bench_run run = {.opts = &opts};
    if (uv_random(NULL, NULL, &run.run_id, sizeof(run.run_id), 0, NULL) != 0)
        run.run_id = (uint32_t)uv_hrtime() ^ (uint32_t)uv_os_getpid();
    struct control ctl = {.run = &run};
    smq_bench_hist_init(&ctl.interval, SMQ_BENCH_HIST_MAX_NS, SMQ_BENCH_HIST_DIGITS);
    int status = 2;
    if (resolve(&run) < 0 || plan(&run) < 0 || make_workers(&run) < 0)
        goto out;
    ctl.start_ns = ctl.print_ns = uv_hrtime();
    for (uint32_t i = 0; i < run.nworkers; i++) {
        rc = smq_bench_worker_start(&run.workers[i]);
        if (rc < 0) {
            fprintf(stderr, "shardmq-bench: thread: %s\n", uv_strerror(rc));
            abort(); /* the started workers cannot be stopped cleanly from here */
        }
    }
    control(&ctl);
    for (uint32_t i = 0; i < run.nworkers; i++)
        smq_bench_worker_join(&run.workers[i]);
    struct smq_bench_result result = {0};
    struct smq_bench_hist lat;
    smq_bench_hist_init(&lat, SMQ_BENCH_HIST_MAX_NS, SMQ_BENCH_HIST_DIGITS);
    collect(&ctl, &result, &lat);
    smq_bench_report_summary(stdout, &opts, &result);
    smq_bench_hist_dispose(&lat);
    /* Scripts can tell a run that measured nothing from one that measured a slow broker. */
    status = run.nclients > 0 && result.stat[SMQ_STAT_CONN_OK] == 0 ? 1 : 0;
out:
    smq_bench_hist_dispose(&ctl.interval);
    cleanup(&run);
    smq_bench_opts_dispose(&opts);
    return status;
}
