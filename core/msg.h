/* The message: one immutable, refcounted object per publication, shared by every subscriber
 * on every worker, by the retained store and by offline queues.
 *
 * It is built once from a decoded PUBLISH (or a will) in a single allocation that holds the
 * topic, the payload and the properties to forward, so a fan-out to N subscribers copies the
 * payload zero times. After smq_msg_new() nothing in it changes except the refcount (and
 * a will's expiry clock, restarted before anyone else sees the message). */
#ifndef SMQ_CORE_MSG_H
#define SMQ_CORE_MSG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/packet.h"
#include "proto/span.h"

/* What a message is made from; every span is copied into the message. */
struct smq_msg_init {
    struct smq_span topic;
    struct smq_span payload;
    uint8_t qos;
    bool retain;
    uint64_t origin_session; /* the publisher's session id (No Local), 0 for none */
    /* For backpressure: the worker that read the PUBLISH and the epoch of the publisher's
     * session when it did (smq_session_state.epoch); epoch 0: not read from a connection
     * (a will), nobody to pause. */
    uint16_t origin_worker;
    uint16_t origin_epoch;
    int64_t now_ms;          /* the creator's clock, for the expiry below */
    /* v5 properties forwarded unchanged (3.3.2.3); NULL for a 3.x publisher. Topic Alias and
     * Subscription Identifiers are per hop and never copied. */
    const struct smq_props *props;
};

struct smq_msg {
    /* --- shared: atomics only --- */
    /* Increments are relaxed (the holder already owns a reference); the decrement is
     * acq_rel so that the last owner's free sees every other owner's reads done. */
    atomic_uint refs;

    /* --- immutable once shared (smq_msg_new, smq_msg_restart_expiry); read by any thread --- */
    uint8_t qos;
    bool retain;
    bool has_expiry;
    uint64_t origin_session;
    int64_t expires_at_ms;    /* valid when has_expiry: creator's clock + Message Expiry */
    uint32_t expiry_interval; /* valid when has_expiry: the Message Expiry Interval received */
    /* The connection that published it, without a pointer (smq_msg_init): the worker that
     * read it and the epoch of origin_session then; origin_epoch 0 is none. */
    uint16_t origin_worker;
    uint16_t origin_epoch;
    struct smq_span topic;    /* views into data[] */
    struct smq_span payload;
    struct smq_props props;   /* forwarded v5 properties; spans view data[] */
    uint8_t data[];
};

/* Returns a new message with one reference, copying everything init points to. */
struct smq_msg *smq_msg_new(const struct smq_msg_init *init);

/* Adds a reference and returns msg. Any thread that holds a reference. */
static inline struct smq_msg *smq_msg_ref(struct smq_msg *msg)
{
    atomic_fetch_add_explicit(&msg->refs, 1, memory_order_relaxed);
    return msg;
}

/* Drops a reference; the last one frees the message. NULL is allowed. Any thread. */
void smq_msg_unref(struct smq_msg *msg);

/* Returns true when msg has a Message Expiry and it has passed at now_ms. */
static inline bool smq_msg_is_expired(const struct smq_msg *msg, int64_t now_ms)
{
    return msg->has_expiry && now_ms >= msg->expires_at_ms;
}

/* Returns the whole seconds of Message Expiry left at now_ms (at least 1 while not expired),
 * for the Message Expiry Interval sent on forwarding [MQTT-3.3.2-6]. */
uint32_t smq_msg_expiry_left(const struct smq_msg *msg, int64_t now_ms);

/* Starts msg's Message Expiry over at now_ms. Only for a message nobody else holds yet: a
 * will, built at CONNECT, whose interval counts from its publication (3.1.3.2.4). */
void smq_msg_restart_expiry(struct smq_msg *msg, int64_t now_ms);

/* Returns true when payload is well-formed UTF-8 (RFC 3629), what a Payload Format
 * Indicator of 1 promises (3.3.2.3.2): the MQTT string rules without their ban on U+0000,
 * a character like any other in a payload. */
bool smq_msg_payload_is_utf8(struct smq_span payload);

/* Returns the bytes the message accounts for in queue budgets. */
size_t smq_msg_cost(const struct smq_msg *msg);

#endif
