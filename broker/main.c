/* The shardmq process: command line, configuration, the shared structures, the workers, the
 * acceptor on the main thread, and an orderly stop on SIGTERM/SIGINT.
 *
 * Exit status: 0 after a clean stop, 1 when the broker could not start (a port in use), 2 for
 * a bad command line or configuration. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/acceptor.h"
#include "broker/config.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "broker/version.h"
#include "broker/worker.h"
#include "core/alloc.h"
#include "core/rcu.h"
#include "core/registry.h"
#include "core/retained.h"
#include "core/topic_index.h"

static const char usage[] =
    "usage: shardmq [-c FILE] [-p PORT] [-w WORKERS] [-v] [--help] [--version]\n"
    "\n"
    "  -c, --config FILE   read the configuration (Mosquitto's format) from FILE\n"
    "  -p, --port PORT     listen on PORT on every address, replacing configured listeners\n"
    "  -w, --workers N     worker threads (default: one per online CPU)\n"
    "  -v, --verbose       log everything, debug included\n"
    "      --help          show this help\n"
    "      --version       show the version and the libraries in use\n"
    "\n"
    "Every configuration key can also be set from the environment as SHARDMQ_<KEY>,\n"
    "e.g. SHARDMQ_MAX_INFLIGHT_MESSAGES=50. See deploy/shardmq.conf for every key.\n";

struct options {
    const char *config_path;
    const char *port;
    const char *workers;
    bool verbose;
};

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct options *opt)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"port", required_argument, NULL, 'p'},
        {"workers", required_argument, NULL, 'w'}, {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:p:w:v", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            opt->config_path = optarg;
            break;
        case 'p':
            opt->port = optarg;
            break;
        case 'w':
            opt->workers = optarg;
            break;
        case 'v':
            opt->verbose = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'V':
            printf("shardmq %s (libuv %s, TLS %s)\n", smq_version(), smq_version_libuv(),
                   smq_version_tls());
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "shardmq: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    return -1;
}

static void print_diag(const struct smq_config_diag *diag)
{
    for (size_t i = 0; i < diag->count; i++)
        fprintf(stderr, "shardmq: %s: %s\n",
                diag->items[i].severity == SMQ_CONFIG_ERROR ? "error" : "warning",
                diag->items[i].text);
}

/* Loads file, environment and command line, in that order of precedence (last wins). */
static int load_config(struct smq_config *cfg, const struct options *opt, char **envp)
{
    struct smq_config_diag diag;
    smq_config_diag_init(&diag);
    smq_config_init_defaults(cfg);
    int rc = 0;
    if (opt->config_path)
        rc = smq_config_load_file(cfg, opt->config_path, &diag);
    if (rc == 0)
        rc = smq_config_apply_env(cfg, envp, &diag);
    if (rc == 0 && opt->port)
        rc = smq_config_set(cfg, "listener", opt->port, "-p", &diag);
    if (rc == 0 && opt->workers)
        rc = smq_config_set(cfg, "workers", opt->workers, "-w", &diag);
    print_diag(&diag);
    bool failed = rc != 0 || diag.errors > 0;
    smq_config_diag_dispose(&diag);
    return failed ? 2 : 0;
}

static unsigned log_mask_of(const struct smq_config *cfg, bool verbose)
{
    if (verbose)
        return SMQ_LOG_ERROR | SMQ_LOG_WARNING | SMQ_LOG_NOTICE | SMQ_LOG_INFO | SMQ_LOG_DEBUG;
    unsigned t = cfg->log_types, mask = 0;
    if (t & SMQ_CONFIG_LOG_ERROR)
        mask |= SMQ_LOG_ERROR;
    if (t & SMQ_CONFIG_LOG_WARNING)
        mask |= SMQ_LOG_WARNING;
    if (t & SMQ_CONFIG_LOG_NOTICE)
        mask |= SMQ_LOG_NOTICE;
    if (t & SMQ_CONFIG_LOG_INFORMATION)
        mask |= SMQ_LOG_INFO;
    if (t & (SMQ_CONFIG_LOG_DEBUG | SMQ_CONFIG_LOG_SUBSCRIBE | SMQ_CONFIG_LOG_UNSUBSCRIBE))
        mask |= SMQ_LOG_DEBUG;
    return mask;
}

/* Sets up logging; returns the fd of a log file to close at exit, or -1. */
static int configure_logging(const struct smq_config *cfg, bool verbose)
{
    struct smq_log_options opts = {
        .mask = log_mask_of(cfg, verbose),
        .fd = -1,
        .syslog = (cfg->log_dests & SMQ_CONFIG_LOGDEST_SYSLOG) != 0,
        .facility = cfg->log_facility,
        .timestamps = cfg->log_timestamp,
    };
    int file_fd = -1;
    if (cfg->log_dests & SMQ_CONFIG_LOGDEST_FILE) {
        file_fd = open(cfg->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (file_fd < 0)
            fprintf(stderr, "shardmq: cannot open log file %s: %s; logging to stderr\n",
                    cfg->log_file, strerror(errno));
        opts.fd = file_fd >= 0 ? file_fd : 2;
    } else if (cfg->log_dests & SMQ_CONFIG_LOGDEST_STDOUT) {
        opts.fd = 1;
    } else if (cfg->log_dests & SMQ_CONFIG_LOGDEST_STDERR) {
        opts.fd = 2;
    }
    if (verbose && opts.fd < 0)
        opts.fd = 2;
    smq_log_configure(&opts);
    return file_fd;
}

static uint16_t worker_count(const struct smq_config *cfg)
{
    long n = cfg->workers ? (long)cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > 1024)
        n = 1024;
    return (uint16_t)n;
}

static void settings_from_config(struct smq_settings *s, const struct smq_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->workers = worker_count(cfg);
    s->allow_anonymous = cfg->allow_anonymous;
    s->allow_zero_length_clientid = cfg->allow_zero_length_clientid;
    snprintf(s->auto_id_prefix, sizeof(s->auto_id_prefix), "%s", cfg->auto_id_prefix);
    s->max_inflight_messages = cfg->max_inflight_messages ? cfg->max_inflight_messages : 1;
    s->max_queued_messages = cfg->max_queued_messages;
    s->max_queued_bytes = cfg->max_queued_bytes;
    s->max_packet_size = cfg->max_packet_size;
    s->max_keepalive = cfg->max_keepalive ? cfg->max_keepalive : UINT16_MAX;
    s->persistent_client_expiration = cfg->persistent_client_expiration;
    s->retain_available = cfg->retain_available;
    s->upgrade_outgoing_qos = cfg->upgrade_outgoing_qos;
    s->queue_qos0_messages = cfg->queue_qos0_messages;
    s->connect_timeout = cfg->connect_timeout;
    s->max_topic_levels = (uint16_t)(cfg->max_topic_levels < SMQ_INDEX_MAX_LEVELS
                                         ? cfg->max_topic_levels
                                         : SMQ_INDEX_MAX_LEVELS);
    s->max_topic_length = cfg->max_topic_length;
    s->max_subscriptions_per_session = cfg->max_subscriptions_per_session;
    s->max_awaiting_rel = cfg->max_awaiting_rel;
    s->max_user_properties = (uint16_t)cfg->max_user_properties;
    s->max_retained_messages = cfg->max_retained_messages;
    s->max_clientid_length = cfg->max_clientid_length;
    s->max_write_queue_bytes = 1u << 20;
    s->backpressure_timeout = cfg->backpressure_timeout;
    s->send_will_on_shutdown = cfg->send_will_on_shutdown;
    s->drain_timeout = cfg->drain_timeout;
    s->max_sessions = cfg->max_sessions;
    s->max_retained_bytes = cfg->max_retained_bytes;
    s->connection_messages = cfg->connection_messages;
    s->max_qos = cfg->max_qos;
    s->wildcard_subscription_available = cfg->wildcard_subscription_available;
    s->subscription_identifier_available = cfg->subscription_identifier_available;
    s->shared_subscription_available = cfg->shared_subscription_available;
    s->max_session_expiry_interval = cfg->max_session_expiry_interval;
    s->max_topic_alias_broker = cfg->max_topic_alias_broker;
    s->validate_payload_format = cfg->validate_payload_format;
    s->response_information = cfg->response_information;
}

struct main_loop {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    struct smq_acceptor acceptor;
    struct smq_broker *broker;
    bool stopping;
};

static void on_signal(uv_signal_t *sig, int signum)
{
    struct main_loop *m = sig->data;
    if (m->stopping)
        return;
    m->stopping = true;
    smq_log(SMQ_LOG_NOTICE, "received %s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    smq_acceptor_close(&m->acceptor);
    for (uint16_t i = 0; i < m->broker->n_workers; i++) {
        struct smq_inbox_item *stop = smq_alloc(sizeof(*stop));
        stop->kind = SMQ_INBOX_STOP;
        smq_worker_post(&m->broker->workers[i], stop);
    }
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
}

static int start_workers(struct smq_broker *b)
{
    b->n_workers = b->settings.workers;
    b->workers = smq_calloc(b->n_workers, sizeof(*b->workers));
    for (uint16_t i = 0; i < b->n_workers; i++) {
        int rc = smq_worker_init(&b->workers[i], b, i);
        if (rc < 0)
            return rc;
    }
    for (uint16_t i = 0; i < b->n_workers; i++) {
        int rc = smq_worker_start(&b->workers[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void free_broker(struct smq_broker *b)
{
    rcu_barrier(); /* the workers' call_rcu callbacks have run */
    smq_index_free(b->index);
    smq_retained_free(b->retained);
    smq_registry_free(b->registry);
    smq_free(b->workers);
    smq_free(b);
}

static int run(const struct smq_config *cfg)
{
    struct smq_broker *b = smq_calloc(1, sizeof(*b));
    settings_from_config(&b->settings, cfg);
    b->session_limits = smq_session_limits_of(&b->settings);
    atomic_init(&b->next_session_id, 1);
    b->index = smq_index_new();
    b->retained = smq_retained_new();
    smq_retained_set_max_bytes(b->retained, b->settings.max_retained_bytes);
    b->registry = smq_registry_new();
    struct main_loop m = {.broker = b};
    uv_loop_init(&m.loop);
    smq_log_set_thread("acceptor");
    if (start_workers(b) < 0 || smq_acceptor_open(&m.acceptor, &m.loop, b, cfg) < 0) {
        smq_log(SMQ_LOG_ERROR, "shardmq could not start");
        _exit(1); /* threads are running: leave without tearing them down */
    }
    smq_log(SMQ_LOG_NOTICE, "shardmq %s running with %u workers", smq_version(), b->n_workers);
    uv_signal_init(&m.loop, &m.sigterm);
    uv_signal_init(&m.loop, &m.sigint);
    m.sigterm.data = m.sigint.data = &m;
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_run(&m.loop, UV_RUN_DEFAULT);
    for (uint16_t i = 0; i < b->n_workers; i++)
        smq_worker_join(&b->workers[i]);
    uv_loop_close(&m.loop);
    smq_acceptor_dispose(&m.acceptor);
    free_broker(b);
    smq_log(SMQ_LOG_NOTICE, "stopped");
    return 0;
}

int main(int argc, char **argv, char **envp)
{
    struct options opt = {0};
    int status = parse_args(argc, argv, &opt);
    if (status >= 0)
        return status;
    struct smq_config cfg;
    if (load_config(&cfg, &opt, envp) != 0) {
        smq_config_dispose(&cfg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int log_file = configure_logging(&cfg, opt.verbose);
    status = run(&cfg);
    smq_config_dispose(&cfg);
    if (log_file >= 0)
        close(log_file);
    return status;
}
