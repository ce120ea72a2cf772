/* Connection I/O (see conn.h): reading and framing, the output batch, closing, handover. */
#include "broker/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "broker/acceptor.h"
#include "broker/auth.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "broker/wbatch.h"
#include "broker/worker.h"
#include "core/alias.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/errors.h"
#include "proto/reason.h"

#define MIN_PARTIAL 256u

/* Keeps the peer's address: later, after a reset, the socket may not tell it any more. */
static void remember_peer(struct smq_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        smq_peer_set(&c->peer, (const struct sockaddr *)&ss);
}

const char *smq_conn_addr(const struct smq_conn *c)
{
    static _Thread_local char buf[SMQ_PEER_TEXT_MAX];
    return smq_peer_format(&c->peer, buf, sizeof(buf));
}

struct smq_conn_extra *smq_conn_extra(struct smq_conn *c)
{
    if (c->x == NULL)
        c->x = smq_calloc(1, sizeof(*c->x));
    return c->x;
}

const char *smq_conn_client_id(const struct smq_conn *c)
{
    return c->session ? smq_session_log_id(c->session) : "-";
}

static struct smq_decode_opts decode_opts(const struct smq_conn *c)
{
    const struct smq_settings *set = &c->w->broker->settings;
    return (struct smq_decode_opts){
        .version = c->version ? c->version : SMQ_V311,
        .sender = SMQ_SENDER_CLIENT,
        /* AUTH may follow CONNECT before CONNACK (4.12): dispatch.c sorts those out. */
        .awaiting_connect = c->state == SMQ_CONN_AWAIT_CONNECT && smq_conn_auth(c) == NULL,
        .max_user_props = set->max_user_properties,
        .max_packet_size = set->max_packet_size,
    };
}

/* Handles the complete packets at the front of buf, until c closes or is paused. Returns
 * the bytes consumed; sets *need to the size of the incomplete packet that follows, when
 * known (else 0, also when paused before the end). */
static size_t handle_packets(struct smq_conn *c, const uint8_t *buf, size_t len, uint32_t *need)
{
    size_t off = 0;
    *need = 0;
    while (off < len && c->state != SMQ_CONN_CLOSING && !c->reading_paused) {
        struct smq_decode_opts opts = decode_opts(c);
        struct smq_fixed_header hdr;
        uint8_t reason = 0;
        ssize_t n = smq_decode_fixed_header(buf + off, len - off, &opts, &hdr, &reason);
        if (n == 0)
            break;
        if (n < 0) {
            if (c->state == SMQ_CONN_AWAIT_CONNECT)
                smq_refuse_bad_header(c, buf + off, len - off, reason);
            smq_conn_fail(c, reason, "bad fixed header");
            break;
        }
        size_t total = (size_t)n + hdr.remaining;
        if (len - off < total) {
            *need = (uint32_t)total;
            break;
        }
        struct smq_packet pkt;
        if (smq_decode_body(&hdr, buf + off + n, &opts, &pkt, &reason) < 0) {
            if (hdr.type == SMQ_CONNECT || c->state == SMQ_CONN_AWAIT_CONNECT)
                smq_refuse_undecodable_connect(c, &pkt, reason);
            smq_conn_fail(c, reason, smq_packet_type_name(hdr.type));
            break;
        }
        smq_stat_add(&c->w->stats.bytes_received, total);
        if (c->state == SMQ_CONN_ACTIVE)
            smq_conn_touch(c);
        smq_handle_packet(c, &pkt, buf + off, len - off);
        off += total;
    }
    return off;
}

/* Keeps the len unhandled bytes at src as c's partial packet. */
static void keep_partial(struct smq_conn *c, const uint8_t *src, size_t len, uint32_t need)
{
    size_t cap = need > len ? need : len;
    if (cap < MIN_PARTIAL)
        cap = MIN_PARTIAL;
    /* Grow as bytes arrive: never reserve the declared size up front. */
    if (cap > 2 * len + MIN_PARTIAL)
        cap = 2 * len + MIN_PARTIAL;
    if (c->partial == NULL || c->partial_cap < cap) {
        uint8_t *p = smq_alloc(cap);
        memcpy(p, src, len);
        smq_free(c->partial);
        c->partial = p;
        c->partial_cap = (uint32_t)cap;
    } else if (src != c->partial) {
        memmove(c->partial, src, len);
    }
    c->partial_len = (uint32_t)len;
    c->partial_need = need;
}

static void drop_partial(struct smq_conn *c)
{
    smq_free(c->partial);
    c->partial = NULL;
    c->partial_len = c->partial_cap = c->partial_need = 0;
}

/* Handles everything in buf (the worker's read buffer or c's partial buffer). */
static void handle_bytes(struct smq_conn *c, const uint8_t *buf, size_t len)
{
    uint32_t need;
    size_t used = handle_packets(c, buf, len, &need);
    if (c->state == SMQ_CONN_CLOSING) {
        drop_partial(c);
        return;
    }
    if (used == len)
        drop_partial(c);
    else
        keep_partial(c, buf + used, len - used, need);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct smq_conn *c = handle->data;
    if (c->partial) {
        if (c->partial_len == c->partial_cap) {
            size_t cap = (size_t)c->partial_cap * 2;
            if (c->partial_need && cap > c->partial_need)
                cap = c->partial_need > c->partial_cap ? c->partial_need : cap;
            c->partial = smq_realloc(c->partial, cap);
            c->partial_cap = (uint32_t)cap;
        }
        *buf = uv_buf_init((char *)c->partial + c->partial_len, c->partial_cap - c->partial_len);
        return;
    }
    *buf = uv_buf_init((char *)c->w->read_buf, SMQ_READ_CHUNK);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct smq_conn *c = stream->data;
    smq_worker_enter(c->w);
    if (nread < 0) {
        smq_conn_close(c, nread == UV_EOF ? SMQ_CLOSE_PEER_CLOSED : SMQ_CLOSE_SOCKET_ERROR);
        return;
    }
    if (nread == 0 || c->state == SMQ_CONN_CLOSING)
        return;
    if (c->partial && (uint8_t *)buf->base == c->partial + c->partial_len) {
        c->partial_len += (uint32_t)nread;
        handle_bytes(c, c->partial, c->partial_len);
    } else {
        handle_bytes(c, (const uint8_t *)buf->base, (size_t)nread);
    }
}

void smq_conn_pause_reading(struct smq_conn *c)
{
    if (c->reading_paused || c->state != SMQ_CONN_ACTIVE)
        return;
    c->reading_paused = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

void smq_conn_resume_reading(struct smq_conn *c)
{
    if (!c->reading_paused || c->state != SMQ_CONN_ACTIVE)
        return;
    c->reading_paused = false;
    /* What was read before the pause comes before anything read after it. partial_need 0
     * means the kept bytes may hold complete packets (paused mid-buffer). */
    if (c->partial != NULL && (c->partial_need == 0 || c->partial_len >= c->partial_need))
        handle_bytes(c, c->partial, c->partial_len);
    if (c->reading_paused || c->state != SMQ_CONN_ACTIVE)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        smq_conn_close(c, SMQ_CLOSE_SOCKET_ERROR);
}

/* The worker's connections are its loop's TCP handles (smq_conn_close_all): no list. */
static void link_conn(struct smq_worker *w, struct smq_conn *c)
{
    (void)c;
    w->n_conns++;
    smq_stat_add(&w->stats.connections, 1);
}

static void unlink_conn(struct smq_worker *w, struct smq_conn *c)
{
    (void)c;
    w->n_conns--;
    atomic_fetch_sub_explicit(&w->stats.connections, 1, memory_order_relaxed);
}

static void release_listener_slot(struct smq_listener *l)
{
    if (l)
        atomic_fetch_sub_explicit(&l->connections, 1, memory_order_relaxed);
}

/* The wheel second for a deadline ms from now. The wheel expires a connection at its first
 * tick within that second, so the second is rounded up: rounding down closed connections
 * up to a second before the CONNECT timeout or 1.5 x keep-alive had passed. */
static uint64_t deadline_in(const struct smq_worker *w, uint64_t ms)
{
    return ((uint64_t)w->now_ms + ms + 999) / 1000;
}

int smq_conn_open(struct smq_worker *w, const struct smq_inbox_conn *in)
{
    struct smq_conn *c = smq_calloc(1, sizeof(*c));
    c->w = w;
    c->hops = in->hops;
    c->listener = in->listener;
    int rc = uv_tcp_init(&w->loop, &c->tcp);
    if (rc == 0)
        rc = uv_tcp_open(&c->tcp, in->fd);
    if (rc < 0) {
        close(in->fd);
        release_listener_slot(c->listener);
        smq_free(c);
        return rc;
    }
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    remember_peer(c);
    link_conn(w, c);
    c->deadline_s = deadline_in(w, (uint64_t)w->broker->settings.connect_timeout * 1000);
    smq_worker_wheel_insert(w, c);
    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        smq_conn_close(c, SMQ_CLOSE_SOCKET_ERROR);
        return rc;
    }
    if (in->len > 0)
        handle_bytes(c, in->bytes, in->len);
    return 0;
}

static struct smq_wbatch *batch_of(struct smq_conn *c)
{
    if (c->out == NULL) {
        c->out = smq_wbatch_new();
        c->out->owner = c;
    }
    smq_worker_mark_dirty(c->w, c);
    return c->out;
}

uint8_t *smq_conn_reserve(struct smq_conn *c, size_t len)
{
    return smq_wbatch_reserve(batch_of(c), len);
}

void smq_conn_write(struct smq_conn *c, const void *bytes, size_t len)
{
    memcpy(smq_conn_reserve(c, len), bytes, len);
}

void smq_conn_write_payload(struct smq_conn *c, struct smq_msg *msg)
{
    smq_wbatch_add_payload(batch_of(c), msg);
}

void smq_conn_send(struct smq_conn *c, const struct smq_packet *pkt)
{
    uint8_t version = c->version ? c->version : SMQ_V311;
    size_t size = smq_encode_size(version, pkt);
    SMQ_ASSERT(size > 0);
    uint8_t *dst = smq_conn_reserve(c, size);
    ssize_t n = smq_encode(dst, size, version, pkt);
    SMQ_ASSERT(n == (ssize_t)size);
}

static void on_write(uv_write_t *req, int status)
{
    struct smq_wbatch *b = (struct smq_wbatch *)req;
    struct smq_conn *c = b->owner; /* write callbacks run before the close callback */
    smq_wbatch_free(b);
    if (status < 0 || c->state != SMQ_CONN_ACTIVE || c->session == NULL)
        return; /* a failed write shows up as a read error or EOF too */
    /* Room in the socket again: send what waited for it. */
    smq_worker_enter(c->w);
    smq_pump(c->session);
}

void smq_conn_flush(struct smq_conn *c)
{
    if (c->closed) { /* see on_closed */
        smq_free(c);
        return;
    }
    struct smq_wbatch *b = c->out;
    if (b == NULL)
        return;
    c->out = NULL;
    if (b->bytes == 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
        smq_wbatch_free(b);
        return;
    }
    unsigned n;
    uv_buf_t *bufs = smq_wbatch_bufs(b, &n);
    smq_stat_add(&c->w->stats.bytes_sent, b->bytes);
    if (uv_write(&b->req, (uv_stream_t *)&c->tcp, bufs, n, on_write) < 0) {
        smq_wbatch_free(b);
        smq_conn_close(c, SMQ_CLOSE_SOCKET_ERROR);
    }
}

size_t smq_conn_backlog(const struct smq_conn *c)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) +
           (c->out ? c->out->bytes : 0);
}

static void on_closed(uv_handle_t *handle)
{
    struct smq_conn *c = handle->data;
    smq_wbatch_free(c->out);
    c->out = NULL;
    drop_partial(c);
    if (c->x) {
        smq_msg_unref(c->x->will);
        smq_auth_state_free(c->x->auth);
        smq_free(c->x);
        c->x = NULL;
    }
    smq_alias_in_free(c->alias_in); /* aliases live as long as the connection [MQTT-3.3.2-7] */
    smq_alias_out_free(c->alias_out);
    c->alias_in = NULL;
    c->alias_out = NULL;
    if (!c->handed_over)
        release_listener_slot(c->listener);
    /* A close that waited for a last write (smq_conn_close) left c in the wheel; and output
     * queued in the iteration that closed c left it on the worker's dirty list, which the
     * flush pass walks before the next poll: free it there (smq_conn_flush). */
    smq_worker_wheel_remove(c->w, c);
    if (c->dirty) {
        c->closed = true;
        return;
    }
    smq_free(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct smq_conn *c = req->handle->data;
    smq_free(req);
    (void)status;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

struct conn_list {
    struct smq_conn **items; /* owned */
    size_t n, cap;
};

/* uv_walk callback: collects the loop's connections that are not closing yet. */
static void collect_open(uv_handle_t *h, void *arg)
{
    struct conn_list *list = arg;
    if (uv_handle_get_type(h) != UV_TCP || uv_is_closing(h))
        return;
    struct smq_conn *c = h->data;
    if (c->state == SMQ_CONN_CLOSING)
        return;
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 64;
        list->items = smq_realloc(list->items, list->cap * sizeof(*list->items));
    }
    list->items[list->n++] = c;
}

void smq_conn_close_all(struct smq_worker *w, uint8_t reason, const char *text,
                        enum smq_close_reason why)
{
    /* Collected first: closing changes the loop's handle queue. A connection is freed only
     * by its close callback, on a later iteration, so every pointer stays valid here. */
    struct conn_list list = {0};
    uv_walk(&w->loop, collect_open, &list);
    for (size_t i = 0; i < list.n; i++) {
        smq_conn_disconnect(list.items[i], reason, text);
        smq_conn_close(list.items[i], why);
    }
    smq_free(list.items);
}

void smq_conn_abort(struct smq_conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static const char *close_reason_name(enum smq_close_reason why)
{
    switch (why) {
    case SMQ_CLOSE_CLIENT_DISCONNECT:
        return "client disconnected";
    case SMQ_CLOSE_DISCONNECT_WITH_WILL:
        return "client disconnected with will";
    case SMQ_CLOSE_PEER_CLOSED:
        return "connection closed by peer";
    case SMQ_CLOSE_SOCKET_ERROR:
        return "socket error";
    case SMQ_CLOSE_PROTOCOL_ERROR:
        return "protocol error";
    case SMQ_CLOSE_KEEPALIVE:
        return "keep-alive timeout";
    case SMQ_CLOSE_CONNECT_TIMEOUT:
        return "no CONNECT in time";
    case SMQ_CLOSE_TAKEN_OVER:
        return "session taken over";
    case SMQ_CLOSE_REFUSED:
        return "connection refused";
    case SMQ_CLOSE_SHUTDOWN:
        return "server shutting down";
    default:
        return "handed over";
    }
}

void smq_conn_close(struct smq_conn *c, enum smq_close_reason why)
{
    if (c->state == SMQ_CONN_CLOSING)
        return;
    bool was_active = c->state == SMQ_CONN_ACTIVE;
    c->state = SMQ_CONN_CLOSING;
    smq_worker_wheel_remove(c->w, c);
    if (why != SMQ_CLOSE_HANDED_OVER && (was_active || why != SMQ_CLOSE_PEER_CLOSED) &&
        c->w->broker->settings.connection_messages)
        smq_log(SMQ_LOG_INFO, "disconnect client=%s addr=%s reason=\"%s\"", smq_conn_client_id(c),
                smq_conn_addr(c), close_reason_name(why));
    if (c->session)
        smq_session_detach(c, why);
    unlink_conn(c->w, c);
    uv_read_stop((uv_stream_t *)&c->tcp);
    smq_conn_flush(c);
    /* Let a final CONNACK or DISCONNECT leave before the socket closes; a peer that does not
     * read is cut off by the wheel (deadline below). */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    uv_shutdown_t *req = smq_alloc(sizeof(*req));
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        smq_free(req);
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    c->deadline_s = smq_worker_now_s(c->w) + 5;
    smq_worker_wheel_insert(c->w, c);
}

void smq_conn_disconnect(struct smq_conn *c, uint8_t reason, const char *text)
{
    /* [MQTT-4.13.1-1] 5.0 only, and never before CONNACK: until then CONNACK carries the
     * reason (3.2.2.2). */
    if (c->version < SMQ_V5 || c->state != SMQ_CONN_ACTIVE ||
        !smq_reason_allowed(SMQ_DISCONNECT, reason))
        return;
    struct smq_packet pkt = {.type = SMQ_DISCONNECT};
    pkt.u.disconnect.reason = reason;
    /* [MQTT-3.1.2-29] reason strings only for a client that asked for problem information;
     * [MQTT-3.14.2-3] and not when it would exceed the client's Maximum Packet Size. */
    if (c->problem_info && text != NULL) {
        pkt.u.disconnect.props.present = SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
        pkt.u.disconnect.props.reason_string = smq_span_str(text);
        if (c->max_packet_out != 0 && smq_encode_size(c->version, &pkt) > c->max_packet_out)
            pkt.u.disconnect.props.present = 0;
    }
    smq_conn_send(c, &pkt);
}

void smq_conn_fail(struct smq_conn *c, uint8_t reason, const char *what)
{
    if (c->state == SMQ_CONN_CLOSING)
        return;
    smq_stat_add(&c->w->stats.protocol_errors, 1);
    smq_log(SMQ_LOG_NOTICE, "protocol error client=%s addr=%s packet=%s reason=0x%02x (%s)",
            smq_conn_client_id(c), smq_conn_addr(c), what, reason, smq_reason_name(reason));
    smq_conn_disconnect(c, reason, what);
    smq_conn_close(c, SMQ_CLOSE_PROTOCOL_ERROR);
}

void smq_conn_hand_over(struct smq_conn *c, struct smq_worker *to, const uint8_t *bytes,
                        uint32_t len)
{
    uv_os_fd_t fd;
    int dupfd = -1;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        dupfd = dup(fd);
    if (dupfd < 0) {
        smq_log(SMQ_LOG_WARNING, "handover failed addr=%s: %s", smq_conn_addr(c), strerror(errno));
        smq_conn_close(c, SMQ_CLOSE_SOCKET_ERROR);
        return;
    }
    struct smq_inbox_conn *msg = smq_alloc(sizeof(*msg) + len);
    msg->item.kind = SMQ_INBOX_CONN;
    msg->fd = dupfd;
    msg->hops = (uint8_t)(c->hops + 1);
    msg->listener = c->listener; /* the slot moves with the socket */
    c->handed_over = true;
    msg->len = len;
    memcpy(msg->bytes, bytes, len);
    smq_wbatch_free(c->out); /* nothing was answered yet */
    c->out = NULL;
    smq_log(SMQ_LOG_DEBUG, "handover addr=%s to=w%u hops=%u", smq_conn_addr(c), (unsigned)to->id,
            (unsigned)msg->hops);
    smq_conn_close(c, SMQ_CLOSE_HANDED_OVER);
    smq_worker_post(to, &msg->item);
}

void smq_conn_touch(struct smq_conn *c)
{
    if (c->keep_alive == 0)
        return;
    /* [MQTT-3.1.2-24] one and a half times the keep-alive; the wheel looks lazily. */
    c->deadline_s = deadline_in(c->w, (uint64_t)c->keep_alive * 1500);
}
