/* The connection side of a bench client (bench/client.h): connect, handshake, batched
 * writes, reads decoded in place, subscriber acknowledgements and sequence tracking,
 * keep-alive, close. Publishing is bench/publish.c.
 *
 * Failures are never fatal to the run: a client that cannot connect, is refused, times out
 * or loses its connection is counted and closed, and the run goes on with the others. */
#include "bench/client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "bench/histogram.h"
#include "bench/payload.h"
#include "bench/run.h"
#include "bench/worker.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/errors.h"

static const struct smq_bench_opts *opts_of(const struct smq_bench_client *c)
{
    return c->worker->run->opts;
}

static void count(struct smq_bench_client *c, enum smq_bench_stat s, uint64_t n)
{
    smq_bench_stat_add(&c->worker->stat[s], n);
}

static void on_close(uv_handle_t *h)
{
    struct smq_bench_client *c = h->data;
    if (--c->open_handles == 0)
        c->state = SMQ_CLIENT_CLOSED;
}

static void close_handles(struct smq_bench_client *c)
{
    c->state = SMQ_CLIENT_CLOSING;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
    if (c->has_timer && !uv_is_closing((uv_handle_t *)&c->pub_timer))
        uv_close((uv_handle_t *)&c->pub_timer, on_close);
}

/* Counts c as settled once: ready (ok) or failed with counter `why`. */
static void settle(struct smq_bench_client *c, bool ok, enum smq_bench_stat why)
{
    if (c->settled)
        return;
    c->settled = true;
    c->ok = ok;
    struct smq_bench_run *run = c->worker->run;
    if (!ok)
        count(c, why, 1);
    else if (c->role == SMQ_ROLE_PUB)
        atomic_fetch_add_explicit(&run->pubs_ready, 1, memory_order_relaxed);
    /* Release: c->ok is read by the control thread once settled reaches every client. */
    atomic_fetch_add_explicit(&run->settled, 1, memory_order_release);
    smq_bench_worker_on_settled(c->worker);
}

static void fail_with(struct smq_bench_client *c, enum smq_bench_stat why)
{
    if (c->state >= SMQ_CLIENT_CLOSING || c->state == SMQ_CLIENT_IDLE)
        return;
    if (!c->settled) {
        settle(c, false, why);
    } else if (smq_bench_run_phase(c->worker->run) < SMQ_PHASE_STOP) {
        count(c, SMQ_STAT_CLOSED, 1);
        if (c->role == SMQ_ROLE_PUB && c->ok)
            smq_bench_pub_finish(c);
    }
    close_handles(c);
}

void smq_bench_client_fail(struct smq_bench_client *c)
{
    fail_with(c, SMQ_STAT_CONN_FAIL);
}

/* Appends pkt encoded for c's protocol version to c->out. */
static int put_packet(struct smq_bench_client *c, const struct smq_packet *pkt)
{
    uint8_t version = opts_of(c)->version;
    size_t size = smq_encode_size(version, pkt);
    if (size == 0)
        return SMQ_ELIMIT;
    ssize_t n = smq_encode(smq_bench_buf_reserve(&c->out, size), size, version, pkt);
    if (n < 0)
        return (int)n;
    c->out.len += (size_t)n;
    return 0;
}

/* The acknowledgements have one fixed 4-byte form in every version (a v5 ack may omit a
 * Success reason code, 3.4.2.1), so they are written directly on the hot path. */
static void put_ack(struct smq_bench_client *c, uint8_t type, uint16_t pid)
{
    uint8_t *p = smq_bench_buf_reserve(&c->out, 4);
    p[0] = (uint8_t)(type << 4 | (type == SMQ_PUBREL ? 0x2 : 0));
    p[1] = 2;
    p[2] = (uint8_t)(pid >> 8);
    p[3] = (uint8_t)pid;
    c->out.len += 4;
}

void smq_bench__client_put_ack(struct smq_bench_client *c, uint8_t type, uint16_t pid)
{
    put_ack(c, type, pid);
}

static int put_connect(struct smq_bench_client *c)
{
    const struct smq_bench_opts *o = opts_of(c);
    struct smq_packet pkt = {.type = SMQ_CONNECT};
    struct smq_connect *cn = &pkt.u.connect;
    cn->version = o->version;
    cn->clean_start = o->clean;
    cn->keep_alive = o->keepalive;
    cn->client_id = smq_span_str(c->id);
    if (o->user) {
        cn->has_username = true;
        cn->username = smq_span_str(o->user);
    }
    /* 3.x forbids a password without a user name [MQTT-3.1.2-22]. */
    if (o->password && (o->user || o->version == SMQ_V5)) {
        cn->has_password = true;
        cn->password = smq_span_str(o->password);
    }
    if (o->version == SMQ_V5 && o->has_expiry) {
        cn->props.present |= SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
        cn->props.session_expiry = o->session_expiry;
    }
    return put_packet(c, &pkt);
}

static int put_subscribe(struct smq_bench_client *c)
{
    struct smq_sub_entry entry = {.filter = smq_span_str(c->topic),
                                  .qos = opts_of(c)->sub_qos};
    struct smq_packet pkt = {.type = SMQ_SUBSCRIBE};
    pkt.u.subscribe.packet_id = 1;
    pkt.u.subscribe.count = 1;
    pkt.u.subscribe.list = &entry;
    return put_packet(c, &pkt);
}

static void on_write(uv_write_t *req, int status)
{
    struct smq_bench_client *c = req->data;
    c->writing = false;
    c->wbuf.len = 0;
    if (c->state >= SMQ_CLIENT_CLOSING)
        return;
    if (status < 0) {
        smq_bench_client_fail(c);
        return;
    }
    if (c->read_paused && c->out.len < SMQ_BENCH_OUT_PAUSE / 4) {
        c->read_paused = false;
        uv_read_start((uv_stream_t *)&c->tcp, smq_bench_worker_alloc_cb, smq_bench_worker_read_cb);
    }
    if (c->role == SMQ_ROLE_PUB)
        smq_bench_pub_pump(c); /* refills in max-rate mode, then flushes */
    else
        smq_bench_client_flush(c);
}

void smq_bench_client_flush(struct smq_bench_client *c)
{
    if (c->writing || c->out.len == 0 || c->state < SMQ_CLIENT_CONNACK ||
        c->state >= SMQ_CLIENT_CLOSING)
        return;
    /* Swap so that packets produced while this write is in flight gather in `out` for the
     * next one: one syscall per batch, not per packet. */
    struct smq_bench_buf tmp = c->wbuf;
    c->wbuf = c->out;
    c->out = tmp;
    uv_buf_t b = uv_buf_init((char *)c->wbuf.data, (unsigned)c->wbuf.len);
    c->write_req.data = c;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        c->wbuf.len = 0;
        smq_bench_client_fail(c);
        return;
    }
    c->writing = true;
    c->last_tx_ms = uv_now(c->tcp.loop);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct smq_bench_client *c = req->data;
    if (c->state >= SMQ_CLIENT_CLOSING)
        return;
    if (status < 0) {
        smq_bench_client_fail(c);
        return;
    }
    c->state = SMQ_CLIENT_CONNACK;
    if (put_connect(c) < 0) {
        smq_bench_client_fail(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, smq_bench_worker_alloc_cb, smq_bench_worker_read_cb);
    smq_bench_client_flush(c);
}

/* Creates the socket (bound to the next --ifaddr, without reserving a port for it: the
 * kernel then picks the port at connect time per destination, so one source address
 * serves more connections) and starts connecting. */
static int open_socket(struct smq_bench_client *c)
{
    struct smq_bench_run *run = c->worker->run;
    const struct sockaddr *dst = (const struct sockaddr *)&run->broker;
    int rc = uv_tcp_init_ex(&c->worker->loop, &c->tcp, dst->sa_family);
    if (rc < 0)
        return rc;
    c->tcp.data = c;
    c->open_handles++;
    uv_tcp_nodelay(&c->tcp, 1);
    if (run->nifaddrs) {
        uv_os_fd_t fd;
        int one = 1;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        const struct sockaddr *src =
            (const struct sockaddr *)&run->ifaddrs[c->seq % run->nifaddrs];
        rc = uv_tcp_bind(&c->tcp, src, 0);
        if (rc < 0)
            return rc;
    }
    c->connect_req.data = c;
    return uv_tcp_connect(&c->connect_req, &c->tcp, dst, on_connect);
}

void smq_bench_client_start(struct smq_bench_client *c)
{
    c->state = SMQ_CLIENT_TCP;
    c->started_ms = uv_now(&c->worker->loop);
    int rc = open_socket(c);
    if (rc == 0 && c->role == SMQ_ROLE_PUB && opts_of(c)->pub_interval_ms) {
        uv_timer_init(&c->worker->loop, &c->pub_timer);
        c->pub_timer.data = c;
        c->has_timer = true;
        c->open_handles++;
    }
    if (rc < 0) {
        if (c->open_handles == 0) {
            /* uv_tcp_init_ex failed (out of descriptors): nothing to close. */
            c->state = SMQ_CLIENT_CLOSED;
            settle(c, false, SMQ_STAT_CONN_FAIL);
            return;
        }
        smq_bench_client_fail(c);
    }
}

static bool on_connack(struct smq_bench_client *c, const struct smq_connack *ack)
{
    if (c->state != SMQ_CLIENT_CONNACK || ack->reason != 0) {
        smq_bench_client_fail(c);
        return false;
    }
    count(c, SMQ_STAT_CONN_OK, 1);
    if (c->role == SMQ_ROLE_SUB) {
        c->state = SMQ_CLIENT_SUBACK;
        if (put_subscribe(c) < 0) {
            smq_bench_client_fail(c);
            return false;
        }
        return true;
    }
    c->state = SMQ_CLIENT_READY;
    settle(c, true, SMQ_STAT_CONN_OK);
    return true;
}

static bool on_suback(struct smq_bench_client *c, const struct smq_sub_ack *ack)
{
    if (c->state != SMQ_CLIENT_SUBACK)
        return true; /* not ours: ignore */
    if (ack->reasons.len < 1 || ack->reasons.ptr[0] >= 0x80) {
        fail_with(c, SMQ_STAT_SUB_FAIL);
        return false;
    }
    c->state = SMQ_CLIENT_READY;
    settle(c, true, SMQ_STAT_CONN_OK);
    return true;
}

static void on_publish(struct smq_bench_client *c, const struct smq_publish *p, uint64_t now)
{
    struct smq_bench_worker *w = c->worker;
    if (p->qos == SMQ_QOS1)
        put_ack(c, SMQ_PUBACK, p->packet_id);
    else if (p->qos == SMQ_QOS2)
        put_ack(c, SMQ_PUBREC, p->packet_id);
    struct smq_bench_payload hdr;
    /* In run mode the publishers are ours, so another run id is a leftover (retained, or
     * queued in a persistent session); in sub mode any bench publisher counts. */
    if (!smq_bench_payload_read(p->payload.ptr, p->payload.len, &hdr) ||
        (w->run->opts->mode == SMQ_BENCH_RUN && hdr.run_id != w->run->run_id)) {
        count(c, SMQ_STAT_FOREIGN, 1);
        return;
    }
    count(c, SMQ_STAT_RECEIVED, 1);
    if (atomic_load_explicit(&w->first_rx_ns, memory_order_relaxed) == 0)
        atomic_store_explicit(&w->first_rx_ns, now, memory_order_relaxed);
    atomic_store_explicit(&w->last_rx_ns, now, memory_order_relaxed);
    uint64_t key = (uint64_t)hdr.run_id << 32 | hdr.pub_id;
    switch (smq_bench_track_see(&c->track, key, hdr.seq)) {
    case SMQ_SEEN_DUP:
        count(c, SMQ_STAT_DUP, 1);
        return;
    case SMQ_SEEN_LATE:
        count(c, SMQ_STAT_REORDERED, 1);
        count(c, SMQ_STAT_UNIQUE, 1);
        break;
    default:
        count(c, SMQ_STAT_UNIQUE, 1);
        break;
    }
    if (now >= hdr.sent_ns)
        smq_bench_hist_record(&w->hist, now - hdr.sent_ns);
}

/* Handles one decoded packet. Returns false when c was closed. */
static bool handle(struct smq_bench_client *c, const struct smq_packet *pkt, uint64_t now)
{
    switch (pkt->type) {
    case SMQ_CONNACK:
        return on_connack(c, &pkt->u.connack);
    case SMQ_SUBACK:
        return on_suback(c, &pkt->u.sub_ack);
    case SMQ_PUBLISH:
        on_publish(c, &pkt->u.publish, now);
        return true;
    case SMQ_PUBACK:
    case SMQ_PUBREC:
    case SMQ_PUBCOMP:
        smq_bench_pub_on_ack(c, pkt->type, pkt->u.ack.packet_id);
        return true;
    case SMQ_PUBREL:
        put_ack(c, SMQ_PUBCOMP, pkt->u.ack.packet_id);
        return true;
    case SMQ_DISCONNECT:
        smq_bench_client_fail(c);
        return false;
    default:
        return true; /* PINGRESP, UNSUBACK, AUTH: nothing to do */
    }
}

static struct smq_decode_opts decode_opts(const struct smq_bench_client *c)
{
    const struct smq_bench_opts *o = opts_of(c);
    /* Room for our own messages and then some; larger packets close the connection
     * instead of growing `partial` without bound. */
    uint32_t max = o->size + (1u << 20);
    return (struct smq_decode_opts){.version = o->version, .sender = SMQ_SENDER_SERVER,
                                    .max_packet_size = max};
}

/* Decodes and handles the whole packets at src. Returns the bytes used, or -1 when c was
 * closed (a protocol error, or a packet that ended the connection). */
static ssize_t parse(struct smq_bench_client *c, const uint8_t *src, size_t len, uint64_t now)
{
    struct smq_decode_opts dopts = decode_opts(c);
    size_t off = 0;
    while (off < len) {
        struct smq_packet pkt;
        uint8_t reason;
        ssize_t n = smq_decode_packet(src + off, len - off, &dopts, &pkt, &reason);
        if (n == 0)
            break;
        if (n < 0) {
            count(c, SMQ_STAT_PROTO_ERR, 1);
            smq_bench_client_fail(c);
            return -1;
        }
        if (!handle(c, &pkt, now))
            return -1;
        off += (size_t)n;
    }
    return (ssize_t)off;
}

/* How many bytes to move from the next read into `partial`: what completes its first
 * packet, or a few more bytes when even the fixed header is incomplete. */
static ssize_t partial_missing(struct smq_bench_client *c)
{
    struct smq_decode_opts dopts = decode_opts(c);
    struct smq_fixed_header hdr;
    uint8_t reason;
    ssize_t n = smq_decode_fixed_header(c->partial.data, c->partial.len, &dopts, &hdr, &reason);
    if (n < 0)
        return -1;
    if (n == 0)
        return 4;
    return (ssize_t)((size_t)n + hdr.remaining - c->partial.len);
}

/* Feeds the bytes of one read. Returns false when c was closed. */
static bool ingest(struct smq_bench_client *c, const uint8_t *data, size_t len, uint64_t now)
{
    while (c->partial.len > 0 && len > 0) {
        ssize_t want = partial_missing(c);
        if (want < 0) {
            count(c, SMQ_STAT_PROTO_ERR, 1);
            smq_bench_client_fail(c);
            return false;
        }
        size_t take = (size_t)want < len ? (size_t)want : len;
        smq_bench_buf_append(&c->partial, data, take);
        data += take;
        len -= take;
        ssize_t used = parse(c, c->partial.data, c->partial.len, now);
        if (used < 0)
            return false;
        smq_bench_buf_consume(&c->partial, (size_t)used);
    }
    if (len == 0)
        return true;
    ssize_t used = parse(c, data, len, now);
    if (used < 0)
        return false;
    if ((size_t)used < len)
        smq_bench_buf_append(&c->partial, data + used, len - (size_t)used);
    return true;
}

void smq_bench_client_on_read(struct smq_bench_client *c, ssize_t nread, const uint8_t *data)
{
    if (c->state >= SMQ_CLIENT_CLOSING)
        return;
    if (nread < 0) {
        smq_bench_client_fail(c);
        return;
    }
    if (nread == 0)
        return;
    uint64_t now = uv_hrtime();
    if (!ingest(c, data, (size_t)nread, now))
        return;
    if (c->role == SMQ_ROLE_PUB)
        smq_bench_pub_pump(c); /* acks opened the window */
    else
        smq_bench_client_flush(c);
    /* A subscriber whose acks cannot be written stops reading: bounded memory, and the
     * broker sees the backpressure a slow client exerts. */
    if (c->out.len > SMQ_BENCH_OUT_PAUSE && !c->read_paused && c->state < SMQ_CLIENT_CLOSING) {
        c->read_paused = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

void smq_bench_client_keepalive(struct smq_bench_client *c, uint64_t now_ms)
{
    uint16_t ka = opts_of(c)->keepalive;
    if (ka == 0 || c->state < SMQ_CLIENT_SUBACK || c->state >= SMQ_CLIENT_CLOSING)
        return;
    if (now_ms - c->last_tx_ms < (uint64_t)ka * 500)
        return;
    static const uint8_t pingreq[2] = {SMQ_PINGREQ << 4, 0};
    smq_bench_buf_append(&c->out, pingreq, sizeof(pingreq));
    smq_bench_client_flush(c);
}

void smq_bench_client_check_timeout(struct smq_bench_client *c, uint64_t now_ms,
                                    uint64_t timeout_ms)
{
    if (!c->settled && c->state > SMQ_CLIENT_IDLE && c->state < SMQ_CLIENT_CLOSING &&
        now_ms - c->started_ms >= timeout_ms)
        smq_bench_client_fail(c);
}

void smq_bench_client_stop(struct smq_bench_client *c)
{
    if (c->state == SMQ_CLIENT_IDLE) {
        c->state = SMQ_CLIENT_CLOSED;
        return;
    }
    if (c->state >= SMQ_CLIENT_CLOSING)
        return;
    if (c->state == SMQ_CLIENT_READY) {
        /* Best effort: written now if the socket takes it, dropped by the close otherwise. */
        struct smq_packet pkt = {.type = SMQ_DISCONNECT};
        if (put_packet(c, &pkt) == 0)
            smq_bench_client_flush(c);
    }
    close_handles(c);
}

void smq_bench_client_dispose(struct smq_bench_client *c)
{
    smq_bench_buf_free(&c->out);
    smq_bench_buf_free(&c->wbuf);
    smq_bench_buf_free(&c->partial);
    smq_bench_track_dispose(&c->track);
    free(c->pkt);
    free(c->pids);
    free(c->topic);
    c->pkt = NULL;
    c->pids = NULL;
    c->topic = NULL;
}
