/* The publisher side of a bench client (bench/client.h).
 *
 * The whole PUBLISH - fixed header, topic, packet id, payload padding - is encoded once
 * into `pkt` by proto/'s encoder. Sending a message copies it into the output batch and
 * patches the packet id and the 32-byte payload header in place; nothing is encoded per
 * message. Three pacing modes: -I (each publisher owes one message per interval, from
 * its timer), -R (the worker's tick spreads an aggregate rate over its publishers as
 * debts), and max rate (no debt: fill the socket up to SMQ_BENCH_OUT_WATERMARK queued
 * bytes, refilled when a write completes). QoS 1/2 also stop at --inflight unacknowledged
 * messages, so memory and the broker's queues stay bounded in every mode. */
#include <stdlib.h>
#include <string.h>

#include "bench/client.h"
#include "bench/payload.h"
#include "bench/run.h"
#include "bench/worker.h"
#include "proto/encode.h"
#include "proto/errors.h"

#define PID_BITMAP_BYTES (65536 / 8)

int smq_bench_pub_prepare(struct smq_bench_client *c)
{
    const struct smq_bench_opts *o = c->worker->run->opts;
    struct smq_publish pub = {
        .qos = o->qos,
        .topic = smq_span_str(c->topic),
        .packet_id = o->qos ? 1 : 0,
        .payload = {NULL, o->size},
    };
    size_t hsize = smq_encode_publish_header_size(o->version, &pub);
    if (hsize == 0 || (uint64_t)hsize + o->size > UINT32_MAX)
        return SMQ_ELIMIT;
    c->pkt = malloc(hsize + o->size);
    if (!c->pkt)
        abort();
    ssize_t n = smq_encode_publish_header(c->pkt, hsize, o->version, &pub);
    if (n < 0)
        return (int)n;
    /* The packet id is the last field before the properties (v5: an empty block, one
     * byte) and the payload (3.3.2). */
    if (o->qos) {
        c->pid_off = (uint32_t)n - 2 - (o->version == SMQ_V5 ? 1 : 0);
        if (c->pkt[c->pid_off] != 0 || c->pkt[c->pid_off + 1] != 1)
            return SMQ_EINVAL;
        c->pids = calloc(1, PID_BITMAP_BYTES);
        if (!c->pids)
            abort();
    }
    c->payload_off = (uint32_t)n;
    c->pkt_len = (uint32_t)n + o->size;
    /* Printable padding, so a payload shown by another client is readable. */
    for (uint32_t i = SMQ_BENCH_PAYLOAD_HDR; i < o->size; i++)
        c->pkt[c->payload_off + i] = (uint8_t)('a' + i % 26);
    c->next_pid = 1;
    return 0;
}

static bool pid_busy(const struct smq_bench_client *c, uint16_t pid)
{
    return (c->pids[pid >> 3] >> (pid & 7)) & 1;
}

static void pid_set(struct smq_bench_client *c, uint16_t pid, bool busy)
{
    if (busy)
        c->pids[pid >> 3] |= (uint8_t)(1u << (pid & 7));
    else
        c->pids[pid >> 3] &= (uint8_t)~(1u << (pid & 7));
}

/* Returns the next free packet id. The window is below 65535, so one is always free. */
static uint16_t take_pid(struct smq_bench_client *c)
{
    uint16_t pid;
    do {
        pid = c->next_pid++;
        if (c->next_pid == 0)
            c->next_pid = 1;
    } while (pid_busy(c, pid));
    pid_set(c, pid, true);
    return pid;
}

/* Queues one message stamped with send time now. */
static void put_one(struct smq_bench_client *c, uint64_t now)
{
    struct smq_bench_worker *w = c->worker;
    struct smq_bench_run *run = w->run;
    uint8_t *dst = smq_bench_buf_reserve(&c->out, c->pkt_len);
    memcpy(dst, c->pkt, c->pkt_len);
    if (run->opts->qos) {
        uint16_t pid = take_pid(c);
        dst[c->pid_off] = (uint8_t)(pid >> 8);
        dst[c->pid_off + 1] = (uint8_t)pid;
        c->inflight++;
    }
    struct smq_bench_payload hdr = {
        .run_id = run->run_id, .pub_id = c->seq, .seq = c->next_seq++, .sent_ns = now};
    smq_bench_payload_write(dst + c->payload_off, &hdr);
    c->out.len += c->pkt_len;
    smq_bench_stat_add(&w->stat[SMQ_STAT_SENT], 1);
    if (run->fanout)
        smq_bench_stat_add(&w->stat[SMQ_STAT_EXPECTED], run->fanout[c->index]);
}

static size_t queued(const struct smq_bench_client *c)
{
    return c->out.len + uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

void smq_bench_pub_finish(struct smq_bench_client *c)
{
    if (c->pub_done)
        return;
    c->pub_done = true;
    atomic_fetch_add_explicit(&c->worker->run->pubs_done, 1, memory_order_relaxed);
}

void smq_bench_pub_pump(struct smq_bench_client *c)
{
    struct smq_bench_worker *w = c->worker;
    const struct smq_bench_opts *o = w->run->opts;
    if (c->state == SMQ_CLIENT_READY && w->phase == SMQ_PHASE_RUN && !c->pub_done) {
        bool paced = o->pub_interval_ms || o->rate > 0;
        /* One clock read per batch: the batch leaves in one write. */
        uint64_t now = 0;
        while (!paced || c->due > 0) {
            if (o->qos && c->inflight >= o->inflight)
                break;
            if (queued(c) >= SMQ_BENCH_OUT_WATERMARK)
                break;
            if (now == 0)
                now = uv_hrtime();
            put_one(c, now);
            if (paced)
                c->due--;
            if (o->limit && c->next_seq >= o->limit) {
                smq_bench_pub_finish(c);
                break;
            }
        }
    }
    smq_bench_client_flush(c);
}

void smq_bench_pub_owe(struct smq_bench_client *c, uint32_t n)
{
    uint32_t room = SMQ_BENCH_DUE_MAX - c->due;
    if (n > room) {
        smq_bench_stat_add(&c->worker->stat[SMQ_STAT_MISSED], n - room);
        n = room;
    }
    c->due += n;
}

void smq_bench_pub_on_ack(struct smq_bench_client *c, uint8_t type, uint16_t pid)
{
    struct smq_bench_worker *w = c->worker;
    uint8_t qos = w->run->opts->qos;
    bool expected = c->role == SMQ_ROLE_PUB && c->pids && pid_busy(c, pid) &&
                    (type == SMQ_PUBACK ? qos == 1 : qos == 2);
    if (!expected) {
        smq_bench_stat_add(&w->stat[SMQ_STAT_PROTO_ERR], 1);
        return;
    }
    if (type == SMQ_PUBREC) {
        /* [MQTT-4.3.3] the id stays in use until PUBCOMP; a repeated PUBREC gets a
         * repeated PUBREL. */
        smq_bench__client_put_ack(c, SMQ_PUBREL, pid);
        return;
    }
    pid_set(c, pid, false);
    c->inflight--;
    smq_bench_stat_add(&w->stat[SMQ_STAT_ACKED], 1);
}
