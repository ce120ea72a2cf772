/* Progress line and final summary (bench/report.h). Latencies are recorded in nanoseconds
 * and shown in microseconds, with one decimal in the JSON so sub-microsecond differences
 * on a fast loopback are not lost. */
#include "bench/report.h"

#include <inttypes.h>
#include <string.h>

char *smq_bench_report_group(char *buf, size_t cap, uint64_t v)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}


void smq_bench_report_progress(FILE *out, const struct smq_bench_progress *p)
{
    char a[32], b[32], c[32], d[32];
    if (p->phase == SMQ_PHASE_CONNECT) {
        fprintf(out, "%.0fs connecting %s/%s failed %s conns %s\n", p->elapsed_s,
                smq_bench_report_group(a, sizeof(a), p->settled),
                smq_bench_report_group(b, sizeof(b), p->clients),
                smq_bench_report_group(c, sizeof(c), p->failed),
                smq_bench_report_group(d, sizeof(d), p->conns));
        return;
    }
    fprintf(out, "%.0fs", p->elapsed_s);
    if (p->mode == SMQ_BENCH_CONN)
        fputs(" hold", out);
    if (p->mode == SMQ_BENCH_PUB || p->mode == SMQ_BENCH_RUN)
        fprintf(out, " %s %s/s", p->phase == SMQ_PHASE_RUN ? "pub" : "drain",
                smq_bench_report_group(a, sizeof(a), (uint64_t)(p->sent_rate + 0.5)));
    if (p->mode == SMQ_BENCH_SUB || p->mode == SMQ_BENCH_RUN)
        fprintf(out, " recv %s/s",
                smq_bench_report_group(b, sizeof(b), (uint64_t)(p->recv_rate + 0.5)));
    if (p->has_p99)
        fprintf(out, " p99 %sus", smq_bench_report_group(c, sizeof(c), (p->p99_ns + 500) / 1000));
    fprintf(out, " conns %s\n", smq_bench_report_group(d, sizeof(d), p->conns));
}

static double rate(uint64_t n, double s)
{
    return s > 0 ? (double)n / s : 0.0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static const char *pacing(const struct smq_bench_opts *o, char *buf, size_t cap)
{
    if (o->rate > 0)
        snprintf(buf, cap, "%.0f msg/s in all", o->rate);
    else if (o->pub_interval_ms)
        snprintf(buf, cap, "1 msg per %" PRIu32 " ms per publisher", o->pub_interval_ms);
    else
        snprintf(buf, cap, "max rate");
    return buf;
}

static const char *version_name(uint8_t v)
{
    return v == 3 ? "3.1" : v == 4 ? "3.1.1" : "5.0";
}

static void text_summary(FILE *out, const struct smq_bench_opts *o,
                         const struct smq_bench_result *r)
{
    const uint64_t *s = r->stat;
    char a[32], b[32], c[32], d[32], e[32], f[64];
    fprintf(out, "shardmq-bench %s: %s:%u MQTT %s, pubs %" PRIu32 " subs %" PRIu32
                 " conns %" PRIu32 ", QoS %u/%u, payload %" PRIu32 " B, %s, %" PRIu32
                 " thread(s)\n",
            smq_bench_mode_name(o->mode), o->host, o->port, version_name(o->version), o->pubs,
            o->subs, o->conns, o->qos, o->sub_qos, o->size, pacing(o, f, sizeof(f)),
            o->threads);
    fprintf(out, "connect   %s ok, %s failed, %s subscribe failures, %.2f s\n",
            smq_bench_report_group(a, sizeof(a), s[SMQ_STAT_CONN_OK]),
            smq_bench_report_group(b, sizeof(b), s[SMQ_STAT_CONN_FAIL]),
            smq_bench_report_group(c, sizeof(c), s[SMQ_STAT_SUB_FAIL]), r->connect_s);
    if (o->mode == SMQ_BENCH_PUB || o->mode == SMQ_BENCH_RUN)
        fprintf(out, "publish   %.2f s: sent %s (%s/s), acked %s\n", r->run_s,
                smq_bench_report_group(a, sizeof(a), s[SMQ_STAT_SENT]),
                smq_bench_report_group(b, sizeof(b), (uint64_t)rate(s[SMQ_STAT_SENT], r->run_s)),
                smq_bench_report_group(c, sizeof(c), s[SMQ_STAT_ACKED]));
    else
        fprintf(out, "%s      %.2f s\n", o->mode == SMQ_BENCH_CONN ? "hold" : "listen", r->run_s);
    if (o->mode == SMQ_BENCH_SUB || o->mode == SMQ_BENCH_RUN) {
        fprintf(out, "receive   %s (%s/s)", smq_bench_report_group(a, sizeof(a), s[SMQ_STAT_RECEIVED]),
                smq_bench_report_group(b, sizeof(b), (uint64_t)rate(s[SMQ_STAT_UNIQUE], r->recv_s)));
        if (o->mode == SMQ_BENCH_RUN)
            fprintf(out, ", expected %s", smq_bench_report_group(c, sizeof(c), s[SMQ_STAT_EXPECTED]));
        if (r->has_lost) {
            uint64_t base = o->mode == SMQ_BENCH_RUN ? s[SMQ_STAT_EXPECTED]
                                                     : s[SMQ_STAT_UNIQUE] + r->lost;
            fprintf(out, ", lost %s (%.3f%%)", smq_bench_report_group(d, sizeof(d), r->lost),
                    base ? 100.0 * (double)r->lost / (double)base : 0.0);
        }
        fprintf(out, ", duplicated %s, reordered %s\n",
                smq_bench_report_group(e, sizeof(e), s[SMQ_STAT_DUP]),
                smq_bench_report_group(a, sizeof(a), s[SMQ_STAT_REORDERED]));
        const struct smq_bench_hist *h = r->latency;
        fprintf(out, "latency   p50 %.0f us, p90 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us"
                     " (mean %.0f us, n %s)\n",
                us(smq_bench_hist_percentile(h, 50)), us(smq_bench_hist_percentile(h, 90)),
                us(smq_bench_hist_percentile(h, 99)), us(smq_bench_hist_percentile(h, 99.9)),
                us(h->max), smq_bench_hist_mean(h) / 1000.0,
                smq_bench_report_group(b, sizeof(b), h->total));
    }
    fprintf(out, "other     connections lost %s, protocol errors %s, foreign %s, missed %s,"
                 " drain %.2f s\n",
            smq_bench_report_group(a, sizeof(a), s[SMQ_STAT_CLOSED]),
            smq_bench_report_group(b, sizeof(b), s[SMQ_STAT_PROTO_ERR]),
            smq_bench_report_group(c, sizeof(c), s[SMQ_STAT_FOREIGN]),
            smq_bench_report_group(d, sizeof(d), s[SMQ_STAT_MISSED]), r->drain_s);
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static void json_scenario(FILE *out, const struct smq_bench_opts *o)
{
    fprintf(out, "\"scenario\":{\"mode\":");
    json_string(out, smq_bench_mode_name(o->mode));
    fprintf(out, ",\"host\":");
    json_string(out, o->host);
    fprintf(out, ",\"port\":%u,\"version\":%u,\"pubs\":%" PRIu32 ",\"subs\":%" PRIu32
                 ",\"conns\":%" PRIu32 ",\"qos\":%u,\"sub_qos\":%u,\"size\":%" PRIu32 ",\"topic\":",
            o->port, o->version, o->pubs, o->subs, o->conns, o->qos, o->sub_qos, o->size);
    json_string(out, o->topic);
    fprintf(out, ",\"sub_topic\":");
    json_string(out, o->sub_topic ? o->sub_topic : o->topic);
    fprintf(out, ",\"pacing\":\"%s\",\"rate\":%.0f,\"interval_ms\":%" PRIu32
                 ",\"inflight\":%" PRIu32 ",\"limit\":%" PRIu64 ",\"duration_s\":%g"
                 ",\"threads\":%" PRIu32 ",\"clean\":%s,\"keepalive\":%u,\"ifaddrs\":%" PRIu32 "}",
            o->rate > 0 ? "rate" : o->pub_interval_ms ? "interval" : "max", o->rate,
            o->pub_interval_ms, o->inflight, o->limit, o->duration_s, o->threads,
            o->clean ? "true" : "false", o->keepalive, o->nifaddrs);
}

static void json_summary(FILE *out, const struct smq_bench_opts *o,
                         const struct smq_bench_result *r)
{
    const uint64_t *s = r->stat;
    const struct smq_bench_hist *h = r->latency;
    fputc('{', out);
    json_scenario(out, o);
    fprintf(out, ",\"run_id\":\"%08" PRIx32 "\",\"connect_s\":%.3f,\"duration_s\":%.3f"
                 ",\"drain_s\":%.3f",
            r->run_id, r->connect_s, r->run_s, r->drain_s);
    fprintf(out, ",\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"expected\":%" PRIu64
                 ",\"received\":%" PRIu64 ",\"unique\":%" PRIu64,
            s[SMQ_STAT_SENT], s[SMQ_STAT_ACKED], s[SMQ_STAT_EXPECTED], s[SMQ_STAT_RECEIVED],
            s[SMQ_STAT_UNIQUE]);
    if (r->has_lost)
        fprintf(out, ",\"lost\":%" PRIu64, r->lost);
    else
        fprintf(out, ",\"lost\":null");
    fprintf(out, ",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"foreign\":%" PRIu64
                 ",\"missed\":%" PRIu64,
            s[SMQ_STAT_DUP], s[SMQ_STAT_REORDERED], s[SMQ_STAT_FOREIGN], s[SMQ_STAT_MISSED]);
    fprintf(out, ",\"sent_per_s\":%.1f,\"received_per_s\":%.1f",
            rate(s[SMQ_STAT_SENT], r->run_s), rate(s[SMQ_STAT_UNIQUE], r->recv_s));
    fprintf(out, ",\"latency_us\":{\"count\":%" PRIu64 ",\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f"
                 ",\"p99_9\":%.1f,\"max\":%.1f,\"mean\":%.1f}",
            h->total, us(smq_bench_hist_percentile(h, 50)), us(smq_bench_hist_percentile(h, 90)),
            us(smq_bench_hist_percentile(h, 99)), us(smq_bench_hist_percentile(h, 99.9)),
            us(h->max), smq_bench_hist_mean(h) / 1000.0);
    fprintf(out, ",\"connect_ok\":%" PRIu64 ",\"connect_failures\":%" PRIu64
                 ",\"subscribe_failures\":%" PRIu64 ",\"connections_lost\":%" PRIu64
                 ",\"protocol_errors\":%" PRIu64 "}\n",
            s[SMQ_STAT_CONN_OK], s[SMQ_STAT_CONN_FAIL], s[SMQ_STAT_SUB_FAIL],
            s[SMQ_STAT_CLOSED], s[SMQ_STAT_PROTO_ERR]);
}

void smq_bench_report_summary(FILE *out, const struct smq_bench_opts *opts,
                              const struct smq_bench_result *r)
{
    if (opts->json)
        json_summary(out, opts, r);
    else
        text_summary(out, opts, r);
    fflush(out);
}
