/* The command line of shardmq-bench: emqtt-bench's subcommands and flags, plus the ones a
 * measured run needs (duration, threads, fixed aggregate rate, JSON output, drain). */
#ifndef SMQ_BENCH_OPTIONS_H
#define SMQ_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum smq_bench_mode {
    SMQ_BENCH_CONN = 0, /* open connections and hold them */
    SMQ_BENCH_SUB,      /* subscribers only: measure what arrives */
    SMQ_BENCH_PUB,      /* publishers only */
    SMQ_BENCH_RUN,      /* publishers and subscribers together, measured end to end */
};

struct smq_bench_opts {
    enum smq_bench_mode mode;
    const char *host;             /* borrowed: argv */
    uint16_t port;
    uint8_t version;              /* 3, 4 or 5 */
    uint32_t pubs;                /* publishers (pub: -c; run: --pubs or -c) */
    uint32_t subs;                /* subscribers (sub: -c; run: --subs) */
    uint32_t conns;               /* conn: -c */
    uint32_t start;               /* -n: first client sequence number */
    uint32_t connect_interval_ms; /* -i: between two connection attempts, all threads */
    uint32_t pub_interval_ms;     /* -I: per publisher; 0 = not interval-paced */
    double rate;                  /* -R: aggregate messages per second; 0 = not rate-paced */
    const char *topic;            /* -t: publish topic (pub, run) or filter (sub) */
    const char *sub_topic;        /* --sub-topic (run): filter; defaults to topic */
    uint32_t size;                /* -s: payload bytes, >= SMQ_BENCH_PAYLOAD_HDR */
    uint8_t qos;                  /* -q: publish QoS (and subscribe QoS in sub) */
    uint8_t sub_qos;              /* --sub-qos (run): defaults to qos */
    uint16_t keepalive;           /* -k: seconds */
    const char *user;             /* -u, may be NULL */
    const char *password;         /* -P, may be NULL */
    bool clean;                   /* -C */
    bool has_expiry;              /* -x given */
    uint32_t session_expiry;      /* -x: seconds (MQTT 5 only) */
    uint64_t limit;               /* -L: messages per publisher, 0 = unlimited */
    double duration_s;            /* -d: 0 = until -L is reached or SIGINT */
    uint32_t threads;             /* -j */
    uint32_t inflight;            /* --inflight: QoS 1/2 unacknowledged per publisher */
    uint32_t drain_ms;            /* --drain-ms */
    const char *prefix;           /* --prefix: client id prefix */
    bool json;                    /* --json */
    char **ifaddrs;               /* owned: --ifaddr list, each owned */
    uint32_t nifaddrs;
};

/* Parses argv into o. Returns 0 to run, 1 when --help was printed (exit 0), or -1 after
 * printing a diagnostic to err (exit 2). */
int smq_bench_opts_parse(struct smq_bench_opts *o, int argc, char **argv, FILE *err);

/* Prints the usage text. */
void smq_bench_opts_usage(FILE *out);

/* Frees what parse allocated. */
void smq_bench_opts_dispose(struct smq_bench_opts *o);

/* Returns the subcommand's name ("run"). */
const char *smq_bench_mode_name(enum smq_bench_mode mode);

#endif
