/* A client connection: socket I/O, framing, write coalescing and its place in the
 * keep-alive wheel. What the packets mean is handled by the protocol files (connect.c,
 * publish.c, subscribe.c); this file only moves bytes.
 *
 * Reads land in the worker's shared 64 KiB buffer and complete packets are handled right
 * there; only an incomplete packet's bytes are copied into a buffer of the connection's own,
 * grown as bytes arrive up to the size the fixed header declared (already checked against
 * max_packet_size), and freed once the packet completes. So an idle connection holds no read
 * buffer. Output of one loop iteration is gathered into one batch (small packets in an
 * arena, payloads referenced from their shared message) and leaves in one uv_write. */
#ifndef SMQ_BROKER_CONN_H
#define SMQ_BROKER_CONN_H

#include "broker/broker.h"
#include "broker/peer.h"
#include "proto/framer.h"

enum smq_conn_state {
    SMQ_CONN_AWAIT_CONNECT = 0,
    SMQ_CONN_ACTIVE,
    SMQ_CONN_CLOSING,
};

/* Why a connection ends; decides the will, the log line and the v5 DISCONNECT. */
enum smq_close_reason {
    SMQ_CLOSE_CLIENT_DISCONNECT = 1, /* DISCONNECT received: no will */
    SMQ_CLOSE_DISCONNECT_WITH_WILL,  /* v5 DISCONNECT 0x04: the will is published */
    SMQ_CLOSE_PEER_CLOSED,           /* EOF without DISCONNECT */
    SMQ_CLOSE_SOCKET_ERROR,
    SMQ_CLOSE_PROTOCOL_ERROR,
    SMQ_CLOSE_KEEPALIVE,
    SMQ_CLOSE_CONNECT_TIMEOUT,
    SMQ_CLOSE_TAKEN_OVER,
    SMQ_CLOSE_REFUSED,               /* CONNACK with an error code sent */
    SMQ_CLOSE_SHUTDOWN,
    SMQ_CLOSE_HANDED_OVER,           /* moved to the session's worker: not an end */
};

struct smq_wbatch;
struct smq_alias_in;
struct smq_alias_out;
struct smq_auth_state;

/* What few connections need, allocated on first use (smq_conn_extra) and freed with the
 * connection: a will, an enhanced authentication. */
struct smq_conn_extra {
    struct smq_msg *will;             /* owned: published on an abnormal end */
    struct smq_auth_state *auth;      /* owned: an enhanced authentication in progress */
};

/* Every idle connection holds one of these, so it is packed to fit one 384-byte allocation
 * class (libuv's uv_tcp_t is 248 of the bytes): narrow integers and one-bit flags, the peer
 * address in binary, and what few connections use behind `x`. A field added here should
 * take a spare bit or replace one: the next class is 448 bytes. */
struct smq_conn {
    uv_tcp_t tcp;
    struct smq_worker *w;             /* borrowed: owner */
    struct smq_session *session;      /* borrowed: owned by the worker */
    struct smq_wbatch *out;           /* owned: output not yet handed to uv_write */
    struct smq_conn *dirty_next;
    struct smq_conn *wheel_next, *wheel_prev;
    struct smq_listener *listener;    /* borrowed: outlives every connection */
    struct smq_conn_extra *x;         /* owned: NULL until a will or an authentication */
    struct smq_alias_in *alias_in;    /* owned: aliases the client set, NULL until one is */
    struct smq_alias_out *alias_out;  /* owned: aliases we set, NULL until one is */
    /* An incomplete packet: its bytes so far (owned) and the size it will have. */
    uint8_t *partial;
    uint32_t partial_len, partial_cap, partial_need;
    uint32_t deadline_s;              /* keep-alive / CONNECT deadline, seconds of loop clock */
    uint16_t keep_alive;              /* seconds, as agreed */
    uint8_t state : 2;                /* enum smq_conn_state */
    uint8_t version : 3;              /* protocol level once CONNECT is read */
    uint8_t hops : 3;                 /* handovers before this worker (at most MAX_HOPS) */
    bool dirty : 1;
    bool in_wheel : 1;
    bool handed_over : 1;
    bool reading_paused : 1;          /* backpressure: the socket is not read (see below) */
    bool lag_paused : 1;              /* backpressure: waits for another worker's inbox */
    bool congestion_paused : 1;       /* backpressure: waits for a congested session */
    bool closed : 1;                  /* socket closed while dirty: the flush pass frees it */
    bool problem_info : 1;            /* v5 Request Problem Information (reason strings allowed) */
    struct smq_peer peer;             /* for logs: smq_conn_addr() */
    /* MQTT 5.0: what the client asked for in CONNECT (3.x: the zero values). */
    uint16_t topic_alias_max_out;     /* client's Topic Alias Maximum: aliases we may send */
    uint16_t topic_alias_max_in;      /* Topic Alias Maximum we announced */
    uint32_t max_packet_out;          /* client's Maximum Packet Size, 0 = protocol maximum */
};

/* Returns c's extra fields, allocating them on first use. Worker thread. */
struct smq_conn_extra *smq_conn_extra(struct smq_conn *c);

/* Returns c's will (borrowed), or NULL. */
static inline struct smq_msg *smq_conn_will(const struct smq_conn *c)
{
    return c->x ? c->x->will : NULL;
}

/* Removes c's will and returns it (the caller owns it), or NULL. */
static inline struct smq_msg *smq_conn_take_will(struct smq_conn *c)
{
    struct smq_msg *will = smq_conn_will(c);
    if (will)
        c->x->will = NULL;
    return will;
}

/* Returns c's enhanced authentication in progress (borrowed), or NULL. */
static inline struct smq_auth_state *smq_conn_auth(const struct smq_conn *c)
{
    return c->x ? c->x->auth : NULL;
}

/* Returns c's peer address as text, in a per-thread buffer valid until the next call on
 * this thread. */
const char *smq_conn_addr(const struct smq_conn *c);

/* Adopts the socket of in as a new connection of w and processes the bytes already read
 * from it (a handover). Worker thread. Returns 0 or a negative error (the socket is closed
 * then). */
int smq_conn_open(struct smq_worker *w, const struct smq_inbox_conn *in);

/* Appends len bytes of one or more encoded packets to c's output. Worker thread. */
void smq_conn_write(struct smq_conn *c, const void *bytes, size_t len);

/* Returns room for exactly len bytes at the end of c's output, to encode into. */
uint8_t *smq_conn_reserve(struct smq_conn *c, size_t len);

/* Appends msg's payload to c's output without copying it (takes a reference). */
void smq_conn_write_payload(struct smq_conn *c, struct smq_msg *msg);

/* Encodes pkt for c's protocol version and appends it. */
void smq_conn_send(struct smq_conn *c, const struct smq_packet *pkt);

/* Hands c's pending output to libuv. Called once per loop iteration for dirty connections;
 * a connection whose socket closed while it was on the dirty list is freed here instead. */
void smq_conn_flush(struct smq_conn *c);

/* Returns bytes queued in libuv for c and not yet written, plus c's unflushed batch. */
size_t smq_conn_backlog(const struct smq_conn *c);

/* Ends the connection: publishes the will when why calls for it, detaches the session,
 * flushes what was queued (a CONNACK or DISCONNECT goes out first) and closes the socket.
 * Safe to call more than once. Worker thread. */
void smq_conn_close(struct smq_conn *c, enum smq_close_reason why);

/* Closes every connection of w that is not closing yet, each as smq_conn_disconnect(c,
 * reason, text) then smq_conn_close(c, why) would. Worker thread. */
void smq_conn_close_all(struct smq_worker *w, uint8_t reason, const char *text,
                        enum smq_close_reason why);

/* Closes the socket of a closing connection now, dropping unsent output. */
void smq_conn_abort(struct smq_conn *c);

/* Queues a v5 DISCONNECT with reason, and text as its Reason String when the client allows
 * problem information (text may be NULL); nothing for 3.x, before CONNACK, or a reason
 * DISCONNECT cannot carry. Does not close c. Worker thread. */
void smq_conn_disconnect(struct smq_conn *c, uint8_t reason, const char *text);

/* Closes c for a protocol violation: v5 DISCONNECT with reason (never before CONNACK; what
 * is its Reason String), one log line naming client and reason, one metric. */
void smq_conn_fail(struct smq_conn *c, uint8_t reason, const char *what);

/* Moves c's socket and the unhandled bytes to the worker that owns the session of its
 * client identifier. Worker thread. */
void smq_conn_hand_over(struct smq_conn *c, struct smq_worker *to, const uint8_t *bytes,
                        uint32_t len);

/* Returns the client id of c's session escaped for logs (smq_session_log_id), or "-"
 * before CONNECT was accepted. */
const char *smq_conn_client_id(const struct smq_conn *c);

/* Stops reading c (backpressure.h decides when): a packet being handled is the last one;
 * what follows it in the bytes already read stays in c's partial buffer. Worker thread. */
void smq_conn_pause_reading(struct smq_conn *c);

/* Reads c again: first the complete packets kept while paused (which may pause it again),
 * then the socket. Worker thread, never from inside packet handling (backpressure.c calls
 * it from its timer). */
void smq_conn_resume_reading(struct smq_conn *c);

/* Refreshes c's keep-alive deadline after a complete packet. */
void smq_conn_touch(struct smq_conn *c);

#endif
