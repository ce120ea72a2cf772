/* A session's message state: the QoS 0/1/2 state machines of both directions and the
 * outbound queue, without I/O (sections 4.3 and 4.4 of the specs).
 *
 * Outbound, a delivery waits in the queue until the inflight window has room; then it gets
 * a packet identifier and, for QoS 1/2, stays inflight until PUBACK, or PUBREC then PUBCOMP.
 * Inbound, a QoS 2 packet identifier is remembered from PUBLISH until PUBREL so a
 * retransmitted PUBLISH is not delivered twice. Every collection is bounded by
 * struct smq_session_limits, and the queue's high and low watermarks tell the broker when to
 * slow the publishers down (smq_session_pressure). Only the worker that owns the session calls
 * these. */
#ifndef SMQ_CORE_SESSION_H
#define SMQ_CORE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"

struct smq_session_limits {
    uint16_t max_inflight;        /* QoS 1/2 messages sent and not yet acknowledged */
                                  /* (the inflight ring's capacity; see window below) */
    uint32_t max_queued_messages; /* waiting behind the window (0 = none may wait) */
    uint64_t max_queued_bytes;    /* smq_msg_cost() of those (0 = no byte limit) */
    uint16_t max_awaiting_rel;    /* inbound QoS 2 identifiers awaiting PUBREL */
    bool queue_qos0_offline;      /* keep QoS 0 messages for a disconnected session */
};

/* One message on its way to this session's client. */
struct smq_delivery {
    struct smq_msg *msg;      /* owned: one reference */
    uint32_t subscription_id; /* v5, 0 when none: the first matching subscription's */
    /* v5: the identifiers of the other matching subscriptions of this session [MQTT-3.3.4-3
     * note]: owned, NULL when n_more_sub_ids is 0 (the usual case costs no allocation). */
    uint32_t *more_sub_ids;
    uint16_t n_more_sub_ids;
    uint8_t qos;              /* the QoS it is sent with: min(message, granted) */
    bool retain;              /* the RETAIN flag to send */
    bool shared;              /* came through a shared subscription (may go to another member) */
};

/* Releases what a delivery owns (its message reference and extra identifiers). */
void smq_delivery_release(struct smq_delivery *d);

enum smq_outbound_state {
    SMQ_OUT_WAIT_PUBACK = 1,  /* QoS 1 sent */
    SMQ_OUT_WAIT_PUBREC,      /* QoS 2 sent */
    SMQ_OUT_WAIT_PUBCOMP,     /* QoS 2, PUBREL sent */
};

struct smq_inflight {
    struct smq_delivery d;
    uint16_t packet_id;
    uint8_t state;            /* enum smq_outbound_state; acknowledged entries leave the ring */
};

/* What the connection layer sends next (smq_session_next). */
struct smq_send {
    enum { SMQ_SEND_PUBLISH = 1, SMQ_SEND_PUBREL } kind;
    /* QoS 1/2 and PUBREL: borrowed from the session's inflight ring, valid until the next
     * call on the session. QoS 0: &qos0 below (so a copy of the struct must re-point it). */
    const struct smq_delivery *d;
    uint16_t packet_id;           /* 0 for QoS 0 */
    bool dup;
    /* A QoS 0 PUBLISH's delivery, which leaves the session at once: owned by the caller once
     * returned: release with smq_send_release(). Empty (msg NULL) for anything else. */
    struct smq_delivery qos0;
};

/* Releases what snd owns: the QoS 0 delivery smq_session_next() handed over (a no-op for
 * QoS 1/2 and PUBREL, whose delivery stays in the session, and when called twice). */
void smq_send_release(struct smq_send *snd);

struct smq_session_state {
    /* Outbound queue: a ring of deliveries, grown by doubling, freed when empty. */
    struct smq_delivery *queue;   /* owned */
    uint32_t queue_cap, queue_head, queue_len;
    uint64_t queued_bytes;
    /* Inflight: a ring in send order, capacity max_inflight. */
    struct smq_inflight *inflight; /* owned */
    uint16_t inflight_cap, inflight_head, inflight_len;
    uint16_t resend_pos;          /* entries before it were (re)sent on this connection */
    uint16_t next_packet_id;
    /* New QoS 1/2 sends stop at this many inflight: min(max_inflight, the client's v5
     * Receive Maximum) [MQTT-4.9.0-2]; set per connection by smq_session_set_window(). */
    uint16_t window;
    /* Inbound QoS 2 identifiers awaiting PUBREL. */
    uint16_t *awaiting_rel;       /* owned */
    uint16_t awaiting_rel_len, awaiting_rel_cap;
    bool online;
    /* Backpressure (smq_session_pressure). Fields of their own in the padding after online,
     * so a session costs no more memory than before. */
    bool congested : 1;           /* reached the high watermark, not yet back to the low one */
    bool slow : 1;                /* congested longer than allowed: a slow consumer */
    bool in_filter : 1;           /* broker: counted in its worker's congestion filter */
    uint16_t epoch;               /* connections so far (smq_session_resume); 0 is never one */
    uint32_t congested_at;        /* when the congestion began: loop ms, truncated */
    /* borrowed: shared by every session of a broker (read-only once threads run) and lives
     * as long as it; max_inflight is at least 1 (smq_session_state_init's caller sees to it). */
    const struct smq_session_limits *limits;
    /* Counters for metrics; the owner reads them, as deltas computed in uint32_t (they wrap). */
    uint32_t dropped_qos0, dropped_full, dropped_expired;
};

enum smq_enqueue_result {
    SMQ_ENQ_QUEUED = 0,
    SMQ_ENQ_DROPPED_QOS0,    /* queue full or offline: QoS 0 dropped and counted */
    SMQ_ENQ_DROPPED_FULL,    /* queue full: QoS 1/2 dropped and counted */
};

/* Starts an empty state (caller's storage) bounded by lim, which is borrowed for the state's
 * whole life (until smq_session_state_dispose) and must have max_inflight of at least 1. */
void smq_session_state_init(struct smq_session_state *st, const struct smq_session_limits *lim);

/* Releases every queued and inflight message. */
void smq_session_state_dispose(struct smq_session_state *st);

/* Queues a delivery; takes ownership of d->msg's reference whatever the result. */
enum smq_enqueue_result smq_session_enqueue(struct smq_session_state *st,
                                            const struct smq_delivery *d);

/* Returns the next packet to send while the window allows: first retransmissions after
 * smq_session_resume() (PUBLISH with DUP, or PUBREL), then queued messages. Expired
 * messages are dropped on the way (counted in dropped_expired): queued ones, and inflight
 * QoS 1 ones due for retransmission. Returns false when nothing may be sent now. A QoS 0
 * PUBLISH is handed over in out->qos0: the caller releases it with smq_send_release() after
 * sending (or after smq_session_discard), before reusing out. */
bool smq_session_next(struct smq_session_state *st, int64_t now_ms, struct smq_send *out);

/* Marks the connection up or down. Going up makes every inflight message due again
 * [MQTT-4.4.0-1]: resent with DUP (PUBLISH) or as PUBREL, in the original order, and starts
 * a new epoch (the connection's identity for backpressure). Going down ends a congestion. */
void smq_session_resume(struct smq_session_state *st);

/* Sets the send window for the current connection: min(limits->max_inflight, receive_max),
 * receive_max 0 meaning none given (65,535). */
void smq_session_set_window(struct smq_session_state *st, uint16_t receive_max);
void smq_session_suspend(struct smq_session_state *st);

/* Acknowledgements from the client. Each returns 0, or SMQ_ENOENT for an identifier that is
 * not in the matching state (the caller answers 0x92 where the spec says so, or ignores). */
int smq_session_on_puback(struct smq_session_state *st, uint16_t packet_id);
int smq_session_on_pubrec(struct smq_session_state *st, uint16_t packet_id);
int smq_session_on_pubcomp(struct smq_session_state *st, uint16_t packet_id);
/* A v5 PUBREC with a reason code of 0x80 or more: the message was refused and its flow ends
 * there, without PUBREL [MQTT-4.3.3-4]; its packet identifier and window slot are free. */
int smq_session_on_pubrec_error(struct smq_session_state *st, uint16_t packet_id);

/* Drops the PUBLISH that smq_session_next() just returned in snd without sending it (it is
 * larger than the client's Maximum Packet Size): a QoS 1/2 one leaves the inflight window as
 * if it had been acknowledged [MQTT-3.1.2-25], a QoS 0 one is released (smq_send_release).
 * Call before any other call on st. */
void smq_session_discard(struct smq_session_state *st, struct smq_send *snd);

/* Inbound QoS 2 PUBLISH with packet_id: returns 1 when new (deliver it, send PUBREC), 0 when
 * a retransmission of one not yet released (send PUBREC only), SMQ_ELIMIT when
 * max_awaiting_rel identifiers already wait. */
int smq_session_on_qos2_publish(struct smq_session_state *st, uint16_t packet_id);

/* Inbound PUBREL: returns 0 when packet_id was awaiting release, SMQ_ENOENT otherwise
 * (PUBCOMP is sent in both cases; v5 with 0x92 for the latter). */
int smq_session_on_pubrel(struct smq_session_state *st, uint16_t packet_id);

/* Forgets inbound QoS 2 packet_id after a PUBREC with a reason code of 0x80 or more: no
 * PUBREL follows, and a later PUBLISH with that identifier is a new message [MQTT-4.3.3-9]. */
void smq_session_cancel_qos2(struct smq_session_state *st, uint16_t packet_id);

/* Drops QoS 0 deliveries from the queue (a persistent session going offline). */
void smq_session_drop_qos0(struct smq_session_state *st);

/* Backpressure watermarks. A session is congested from the moment its queue reaches the
 * high watermark, half of max_queued_messages (at least 1) or half of max_queued_bytes, until
 * it drains to the low watermark, a quarter of each. While it is congested the broker stops
 * reading the connections whose messages keep arriving for it (broker/backpressure.h), so
 * the half above the high watermark is room for what was already on its way. */
static inline bool smq_session_above_high(const struct smq_session_state *st)
{
    uint32_t high = st->limits->max_queued_messages / 2;
    uint64_t high_bytes = st->limits->max_queued_bytes / 2;
    return st->queue_len >= (high ? high : 1) ||
           (high_bytes != 0 && st->queued_bytes >= high_bytes);
}

/* True when what st sends waits on the client's packets: the inflight window is full with
 * more queued behind it (its PUBACK / PUBREC / PUBCOMP free the window), or the queue is
 * congested. A connection in that state must be read even when it is held as a publisher:
 * its acknowledgements sit behind its PUBLISHes in the same stream. */
static inline bool smq_session_needs_client(const struct smq_session_state *st)
{
    return st->congested || (st->queue_len > 0 && st->inflight_len >= st->window);
}

/* True when the queue is at or below the low watermark (see smq_session_above_high). */
bool smq_session_below_low(const struct smq_session_state *st);

enum smq_pressure {
    SMQ_PRESSURE_NONE = 0, /* not congested, offline, or a slow consumer already */
    SMQ_PRESSURE_PAUSE,    /* congested: whoever fills the queue should pause */
    SMQ_PRESSURE_SLOW,     /* congested for slow_ms: from now on a slow consumer, whose
                            * publishers are released and whose overflow is dropped */
};

/* Updates and returns the congestion of st at now_ms (the caller's loop clock), after a
 * delivery was queued or dropped, or on a periodic check. Only an online session is
 * congested; one that stays congested for slow_ms becomes a slow consumer (SMQ_PRESSURE_SLOW
 * once, then SMQ_PRESSURE_NONE) until it drains to the low watermark. slow_ms 0 turns
 * backpressure off (always SMQ_PRESSURE_NONE). */
enum smq_pressure smq_session_pressure(struct smq_session_state *st, int64_t now_ms,
                                       uint32_t slow_ms);

/* After the queue shrank: returns true, once, when a congestion ended (the queue is at the
 * low watermark or below), clearing congested and slow. */
bool smq_session_relieved(struct smq_session_state *st);

/* Frees the rings that are empty; the connection layer calls it when it goes idle so an
 * idle session holds no queue memory. */
void smq_session_trim(struct smq_session_state *st);

#endif
