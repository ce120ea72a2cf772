/* Command-line parsing for shardmq-bench (bench/options.h). Flags follow emqtt-bench where
 * it has one (-h host, -c count, -n start number, -i/-I intervals, -L limit, ...) so its
 * users' scripts carry over; --help is the only way to get help because -h is the host. */
#include "bench/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "bench/payload.h"

static const char usage_text[] =
    "usage: shardmq-bench conn|sub|pub|run [options]\n"
    "\n"
    "  conn   open -c connections and hold them until -d ends (idle-connection memory)\n"
    "  sub    -c subscribers on the filter -t; counts and times what arrives\n"
    "  pub    -c publishers on the topic -t\n"
    "  run    --pubs publishers and --subs subscribers in one process, measured end to end:\n"
    "         sent, received, lost, duplicated, reordered and latency percentiles\n"
    "\n"
    "connection\n"
    "  -h, --host HOST          broker host (default 127.0.0.1)\n"
    "  -p, --port PORT          broker port (default 1883)\n"
    "  -V, --version 3|4|5      MQTT 3.1, 3.1.1 (default) or 5.0\n"
    "  -c, --count N            clients (conn, sub, pub); publishers in run (default 1)\n"
    "      --pubs N             run: publishers (same as -c)\n"
    "      --subs N             run: subscribers (default 1)\n"
    "  -n, --startnumber N      first client sequence number, for %i and client ids\n"
    "                           (default 0; give each of several bench processes its own)\n"
    "  -i, --interval MS        milliseconds between two connection attempts, over all\n"
    "                           threads (default 10; 0 = as fast as 256 pending per thread)\n"
    "  -k, --keepalive S        keep-alive seconds, PINGREQ sent when idle (default 300)\n"
    "  -u, --username USER      user name\n"
    "  -P, --password PASS      password\n"
    "  -C, --clean true|false   clean session / clean start (default true)\n"
    "  -x, --session-expiry S   MQTT 5 Session Expiry Interval\n"
    "      --prefix P           client ids are P_pub_N, P_sub_N, P_conn_N (default smqb)\n"
    "      --ifaddr A,B,...     bind client sockets to these source addresses round robin,\n"
    "                           to use more than one address's ephemeral ports\n"
    "\n"
    "messages\n"
    "  -t, --topic T            publish topic (pub, run) or filter (sub) (default bench/%i)\n"
    "                           %i = client sequence number, %c = client id,\n"
    "                           %rand_N = random in [0,N); expanded once per client\n"
    "      --sub-topic F        run: subscribers' filter (default: -t expanded per subscriber)\n"
    "  -s, --size BYTES         payload size (default 256, minimum 32: every payload starts\n"
    "                           with a 32-byte header: run id, publisher id, sequence number,\n"
    "                           send time)\n"
    "  -q, --qos 0|1|2          publish QoS; also subscribe QoS in sub (default 0)\n"
    "      --sub-qos 0|1|2      run: subscribe QoS (default -q)\n"
    "  -I, --interval_of_msg MS each publisher sends one message every MS milliseconds\n"
    "  -R, --rate N             all publishers together send N messages per second\n"
    "                           (neither -I nor -R: as fast as the broker takes them, with at\n"
    "                           most 64 KiB queued per socket for QoS 0)\n"
    "      --inflight N         QoS 1/2 messages awaiting acknowledgement per publisher\n"
    "                           (default 20)\n"
    "  -L, --limit N            each publisher stops after N messages\n"
    "\n"
    "run control and output\n"
    "  -d, --duration S         publish (or hold, or listen) for S seconds, counted from the\n"
    "                           moment every client is connected or has failed; 0 = until\n"
    "                           -L is reached or SIGINT (default 0)\n"
    "      --drain-ms MS        after publishing stops, wait up to MS for the last messages\n"
    "                           and acknowledgements (default 2000; ends early when all in)\n"
    "  -j, --threads N          event-loop threads, clients spread over them (default 1)\n"
    "      --json               final summary as one JSON object on stdout\n"
    "      --help               this text\n"
    "\n"
    "A progress line goes to stderr every second; the summary goes to stdout. Connection\n"
    "failures are counted, not fatal. The first SIGINT ends publishing (then drains), a\n"
    "second one stops at once.\n"
    "\n"
    "examples\n"
    "  shardmq-bench run --pubs 16 --subs 1 -t 'bench/%i' --sub-topic 'bench/#' -d 10\n"
    "  shardmq-bench run --pubs 1 --subs 64 -t bench/fan -d 10 -q 1\n"
    "  shardmq-bench run --pubs 16 --subs 16 -t 'pair/%i' -q 1 -d 10 -j 2\n"
    "  shardmq-bench run --pubs 16 --subs 16 -t 'pair/%i' -R 20000 -d 10 --json\n"
    "  shardmq-bench conn -c 1000 -i 0 -d 10\n";

void smq_bench_opts_usage(FILE *out)
{
    fputs(usage_text, out);
}

const char *smq_bench_mode_name(enum smq_bench_mode mode)
{
    static const char *const names[] = {"conn", "sub", "pub", "run"};
    return names[mode];
}

/* Parses a whole decimal number in [lo, hi]. */
static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    if (*s == '-' || *s == '\0')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= 0))
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static int split_ifaddrs(struct smq_bench_opts *o, const char *list)
{
    char *copy = strdup(list);
    if (!copy)
        abort();
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char **grown = realloc(o->ifaddrs, (o->nifaddrs + 1) * sizeof(*grown));
        if (!grown)
            abort();
        o->ifaddrs = grown;
        o->ifaddrs[o->nifaddrs] = strdup(tok);
        if (!o->ifaddrs[o->nifaddrs])
            abort();
        o->nifaddrs++;
    }
    free(copy);
    return o->nifaddrs > 0 ? 0 : -1;
}

enum long_only {
    OPT_HELP = 256,
    OPT_JSON,
    OPT_IFADDR,
    OPT_PUBS,
    OPT_SUBS,
    OPT_INFLIGHT,
    OPT_DRAIN,
    OPT_SUB_TOPIC,
    OPT_SUB_QOS,
    OPT_PREFIX,
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, 'h'},
    {"port", required_argument, NULL, 'p'},
    {"version", required_argument, NULL, 'V'},
    {"count", required_argument, NULL, 'c'},
    {"startnumber", required_argument, NULL, 'n'},
    {"interval", required_argument, NULL, 'i'},
    {"interval_of_msg", required_argument, NULL, 'I'},
    {"topic", required_argument, NULL, 't'},
    {"size", required_argument, NULL, 's'},
    {"qos", required_argument, NULL, 'q'},
    {"keepalive", required_argument, NULL, 'k'},
    {"username", required_argument, NULL, 'u'},
    {"password", required_argument, NULL, 'P'},
    {"clean", required_argument, NULL, 'C'},
    {"session-expiry", required_argument, NULL, 'x'},
    {"limit", required_argument, NULL, 'L'},
    {"duration", required_argument, NULL, 'd'},
    {"threads", required_argument, NULL, 'j'},
    {"rate", required_argument, NULL, 'R'},
    {"help", no_argument, NULL, OPT_HELP},
    {"json", no_argument, NULL, OPT_JSON},
    {"ifaddr", required_argument, NULL, OPT_IFADDR},
    {"pubs", required_argument, NULL, OPT_PUBS},
    {"subs", required_argument, NULL, OPT_SUBS},
    {"inflight", required_argument, NULL, OPT_INFLIGHT},
    {"drain-ms", required_argument, NULL, OPT_DRAIN},
    {"sub-topic", required_argument, NULL, OPT_SUB_TOPIC},
    {"sub-qos", required_argument, NULL, OPT_SUB_QOS},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {NULL, 0, NULL, 0},
};

static void set_defaults(struct smq_bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 1883;
    o->version = 4;
    o->connect_interval_ms = 10;
    o->topic = "bench/%i";
    o->size = 256;
    o->keepalive = 300;
    o->clean = true;
    o->threads = 1;
    o->inflight = 20;
    o->drain_ms = 2000;
    o->prefix = "smqb";
}

/* What apply() collects besides the fields of o: -c means something per mode, and the
 * defaults of --subs and --sub-qos depend on other flags. */
struct pending {
    uint64_t count;
    int sub_qos;
    bool subs_set;
};

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;
    if (!parse_u64(s, lo, hi, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_small(const char *s, uint32_t lo, uint32_t hi, void *out, size_t size)
{
    uint32_t v;
    if (!parse_u32(s, lo, hi, &v))
        return false;
    if (size == 1)
        *(uint8_t *)out = (uint8_t)v;
    else
        *(uint16_t *)out = (uint16_t)v;
    return true;
}

/* Applies one option; returns false when its argument is invalid. */
static bool apply(struct smq_bench_opts *o, int c, const char *arg, struct pending *p)
{
    uint32_t v;
    switch (c) {
    case 'h': o->host = arg; return true;
    case 'p': return parse_small(arg, 1, 65535, &o->port, sizeof(o->port));
    case 'V': return parse_small(arg, 3, 5, &o->version, sizeof(o->version));
    case 'c':
    case OPT_PUBS: return parse_u64(arg, c == 'c' ? 1 : 0, 10000000, &p->count);
    case OPT_SUBS:
        p->subs_set = true;
        return parse_u32(arg, 0, 10000000, &o->subs);
    case 'n': return parse_u32(arg, 0, UINT32_MAX / 2, &o->start);
    case 'i': return parse_u32(arg, 0, 3600000, &o->connect_interval_ms);
    case 'I': return parse_u32(arg, 1, 3600000, &o->pub_interval_ms);
    case 'R': return parse_double(arg, &o->rate) && o->rate > 0;
    case 't': o->topic = arg; return *arg != '\0';
    case OPT_SUB_TOPIC: o->sub_topic = arg; return *arg != '\0';
    case 's': return parse_u32(arg, SMQ_BENCH_PAYLOAD_HDR, 64u << 20, &o->size);
    case 'q': return parse_small(arg, 0, 2, &o->qos, sizeof(o->qos));
    case OPT_SUB_QOS:
        if (!parse_u32(arg, 0, 2, &v))
            return false;
        p->sub_qos = (int)v;
        return true;
    case 'k': return parse_small(arg, 0, 65535, &o->keepalive, sizeof(o->keepalive));
    case 'u': o->user = arg; return true;
    case 'P': o->password = arg; return true;
    case 'C': return parse_bool(arg, &o->clean);
    case 'x':
        o->has_expiry = true;
        return parse_u32(arg, 0, UINT32_MAX, &o->session_expiry);
    case 'L': return parse_u64(arg, 1, UINT64_MAX, &o->limit);
    case 'd': return parse_double(arg, &o->duration_s);
    case 'j': return parse_u32(arg, 1, 256, &o->threads);
    case OPT_INFLIGHT: return parse_u32(arg, 1, 65535, &o->inflight);
    case OPT_DRAIN: return parse_u32(arg, 0, 3600000, &o->drain_ms);
    /* Short prefixes keep ids within the 23 characters MQTT 3.1 allows. */
    case OPT_PREFIX: o->prefix = arg; return *arg != '\0' && strlen(arg) <= 8;
    case OPT_JSON: o->json = true; return true;
    case OPT_IFADDR: return split_ifaddrs(o, arg) == 0;
    default: return false;
    }
}

/* Returns the option's name for diagnostics ("-p", "--pubs"). */
static const char *opt_name(int c, char *buf, size_t cap)
{
    for (const struct option *lo = long_opts; lo->name; lo++) {
        if (lo->val == c && c >= 256) {
            snprintf(buf, cap, "--%s", lo->name);
            return buf;
        }
    }
    snprintf(buf, cap, "-%c", c);
    return buf;
}

static bool parse_mode(const char *s, enum smq_bench_mode *mode)
{
    for (int m = SMQ_BENCH_CONN; m <= SMQ_BENCH_RUN; m++) {
        if (strcmp(s, smq_bench_mode_name((enum smq_bench_mode)m)) == 0) {
            *mode = (enum smq_bench_mode)m;
            return true;
        }
    }
    return false;
}

/* Cross-flag checks and the per-mode meaning of -c. */
static int finish(struct smq_bench_opts *o, const struct pending *p, FILE *err)
{
    if (o->pub_interval_ms && o->rate > 0) {
        fprintf(err, "shardmq-bench: -I and -R are exclusive\n");
        return -1;
    }
    uint32_t count = (uint32_t)p->count;
    o->sub_qos = p->sub_qos >= 0 ? (uint8_t)p->sub_qos : o->qos;
    switch (o->mode) {
    case SMQ_BENCH_CONN: o->conns = count; break;
    case SMQ_BENCH_SUB: o->subs = count; break;
    case SMQ_BENCH_PUB: o->pubs = count; break;
    case SMQ_BENCH_RUN:
        o->pubs = count;
        if (!p->subs_set)
            o->subs = 1;
        break;
    }
    if (o->mode != SMQ_BENCH_RUN && o->sub_topic) {
        fprintf(err, "shardmq-bench: --sub-topic is for run (sub takes its filter from -t)\n");
        return -1;
    }
    if (o->has_expiry && o->version != 5)
        fprintf(err, "shardmq-bench: warning: -x needs -V 5, ignored\n");
    return 0;
}

int smq_bench_opts_parse(struct smq_bench_opts *o, int argc, char **argv, FILE *err)
{
    set_defaults(o);
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        smq_bench_opts_usage(stdout);
        return 1;
    }
    if (argc < 2 || !parse_mode(argv[1], &o->mode)) {
        fprintf(err, "shardmq-bench: the first argument must be conn, sub, pub or run "
                     "(see --help)\n");
        return -1;
    }
    struct pending p = {.count = 1, .sub_qos = -1};
    char name[32];
    optind = 0; /* glibc: 0 also resets getopt's internal state between calls */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, ":h:p:V:c:n:i:I:t:s:q:k:u:P:C:x:L:d:j:R:",
                            long_opts, NULL)) != -1) {
        if (c == OPT_HELP) {
            smq_bench_opts_usage(stdout);
            return 1;
        }
        if (c == '?' || c == ':') {
            /* optind already moved past the offending word of argv + 1. */
            fprintf(err, "shardmq-bench: %s option %s (see --help)\n",
                    c == '?' ? "unknown" : "missing argument for", argv[optind]);
            return -1;
        }
        if (!apply(o, c, optarg, &p)) {
            fprintf(err, "shardmq-bench: bad value '%s' for %s (see --help)\n",
                    optarg ? optarg : "", opt_name(c, name, sizeof(name)));
            return -1;
        }
    }
    if (optind < argc - 1) {
        fprintf(err, "shardmq-bench: unexpected argument '%s'\n", argv[optind + 1]);
        return -1;
    }
    return finish(o, &p, err);
}

void smq_bench_opts_dispose(struct smq_bench_opts *o)
{
    for (uint32_t i = 0; i < o->nifaddrs; i++)
        free(o->ifaddrs[i]);
    free(o->ifaddrs);
    o->ifaddrs = NULL;
    o->nifaddrs = 0;
}
