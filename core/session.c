/* The QoS state machines of one session (see session.h).
 *
 * The queue is a ring that doubles when full and is freed when it empties, so an idle
 * session holds no queue memory. The inflight ring keeps send order, which is the order
 * retransmissions must follow [MQTT-4.6.0-1], and holds only unacknowledged entries, so its
 * length is what the window counts; acknowledgements normally arrive in that order, so
 * finding and removing one is O(1) at the head, and an out-of-order one is a short scan and
 * shift within a window of at most max_inflight entries. Rings are kept while traffic flows
 * (no allocation per message) and released by smq_session_trim() when the connection goes
 * idle. */
#include "core/session.h"

#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "proto/errors.h"

void smq_session_state_init(struct smq_session_state *st, const struct smq_session_limits *lim)
{
    SMQ_ASSERT(lim->max_inflight > 0); /* smq_session_limits_of sees to it */
    memset(st, 0, sizeof(*st));
    st->limits = lim;
    st->next_packet_id = 1;
    st->window = lim->max_inflight;
}

void smq_delivery_release(struct smq_delivery *d)
{
    smq_msg_unref(d->msg);
    d->msg = NULL;
    smq_free(d->more_sub_ids);
    d->more_sub_ids = NULL;
    d->n_more_sub_ids = 0;
}

void smq_send_release(struct smq_send *snd)
{
    smq_delivery_release(&snd->qos0);
}

void smq_session_set_window(struct smq_session_state *st, uint16_t receive_max)
{
    uint16_t w = st->limits->max_inflight;
    if (receive_max != 0 && receive_max < w)
        w = receive_max;
    st->window = w;
}

static struct smq_delivery *queue_at(struct smq_session_state *st, uint32_t i)
{
    return &st->queue[(st->queue_head + i) & (st->queue_cap - 1)];
}

static struct smq_inflight *inflight_at(struct smq_session_state *st, uint16_t i)
{
    return &st->inflight[(st->inflight_head + i) % st->inflight_cap];
}

void smq_session_state_dispose(struct smq_session_state *st)
{
    for (uint32_t i = 0; i < st->queue_len; i++)
        smq_delivery_release(queue_at(st, i));
    for (uint16_t i = 0; i < st->inflight_len; i++)
        smq_delivery_release(&inflight_at(st, i)->d);
    smq_free(st->queue);
    smq_free(st->inflight);
    smq_free(st->awaiting_rel);
    memset(st, 0, sizeof(*st));
}

static void queue_grow(struct smq_session_state *st)
{
    uint32_t cap = st->queue_cap ? st->queue_cap * 2 : 8;
    struct smq_delivery *ring = smq_alloc(cap * sizeof(*ring));
    for (uint32_t i = 0; i < st->queue_len; i++)
        ring[i] = *queue_at(st, i);
    smq_free(st->queue);
    st->queue = ring;
    st->queue_cap = cap;
    st->queue_head = 0;
}

/* True when a delivery enqueued now leaves the queue at the next smq_session_next(): the
 * session is online and the window takes it and every QoS 1/2 delivery ahead of it (a QoS 0
 * one needs no room, only an empty queue ahead of it). */
static bool goes_out_at_once(const struct smq_session_state *st, bool qos0)
{
    if (!st->online)
        return false;
    uint32_t room = st->inflight_len < st->window ? (uint32_t)(st->window - st->inflight_len) : 0;
    return st->queue_len < room || (qos0 && st->queue_len == 0);
}

/* The limits bound the deliveries waiting behind the window, not the ones it takes at once:
 * otherwise max_queued_messages 0 ("none may wait") would refuse every delivery, and a byte
 * budget below one message would stop an idle online session. */
static bool queue_has_room(const struct smq_session_state *st, size_t cost, bool qos0)
{
    const struct smq_session_limits *lim = st->limits;
    if (goes_out_at_once(st, qos0))
        return true;
    if (st->queue_len >= lim->max_queued_messages)
        return false;
    return lim->max_queued_bytes == 0 || st->queued_bytes + cost <= lim->max_queued_bytes;
}

enum smq_enqueue_result smq_session_enqueue(struct smq_session_state *st,
                                            const struct smq_delivery *d)
{
    bool qos0 = d->qos == SMQ_QOS0;
    size_t cost = smq_msg_cost(d->msg);
    if (qos0 && !st->online && !st->limits->queue_qos0_offline) {
        st->dropped_qos0++;
        struct smq_delivery dropped = *d;
        smq_delivery_release(&dropped);
        return SMQ_ENQ_DROPPED_QOS0;
    }
    if (!queue_has_room(st, cost, qos0)) {
        struct smq_delivery dropped = *d;
        smq_delivery_release(&dropped);
        if (qos0) {
            st->dropped_qos0++;
            return SMQ_ENQ_DROPPED_QOS0;
        }
        st->dropped_full++;
        return SMQ_ENQ_DROPPED_FULL;
    }
    if (st->queue_len == st->queue_cap)
        queue_grow(st);
    *queue_at(st, st->queue_len++) = *d;
    st->queued_bytes += cost;
    return SMQ_ENQ_QUEUED;
}

static void queue_pop(struct smq_session_state *st, struct smq_delivery *out)
{
    *out = *queue_at(st, 0);
    st->queue_head = (st->queue_head + 1) & (st->queue_cap - 1);
    st->queue_len--;
    st->queued_bytes -= smq_msg_cost(out->msg);
}

static bool packet_id_in_use(struct smq_session_state *st, uint16_t id)
{
    for (uint16_t i = 0; i < st->inflight_len; i++) {
        if (inflight_at(st, i)->packet_id == id)
            return true;
    }
    return false;
}

/* [MQTT-2.2.1-3] a fresh non-zero identifier not used by any unacknowledged message. */
static uint16_t allocate_packet_id(struct smq_session_state *st)
{
    for (;;) {
        uint16_t id = st->next_packet_id;
        st->next_packet_id = id == UINT16_MAX ? 1 : (uint16_t)(id + 1);
        if (!packet_id_in_use(st, id))
            return id;
    }
}

static void inflight_remove(struct smq_session_state *st, uint16_t i);

/* True for an inflight QoS 1 message whose expiry passed: it is dropped rather than resent.
 * Its delivery had started, which the spec lets finish [MQTT-3.3.2-5], but a client that has
 * it already acknowledged it, and one that has not gets nothing stale (Mosquitto does the
 * same). QoS 2 awaiting PUBREC is always resent: the client may hold its packet identifier
 * until PUBREL and would take a new message reusing that identifier for this one
 * [MQTT-4.3.3-10]. */
static bool resend_expired(const struct smq_inflight *f, int64_t now_ms)
{
    return f->state == SMQ_OUT_WAIT_PUBACK && smq_msg_is_expired(f->d.msg, now_ms);
}

/* Retransmits the next due inflight entry after a resume. */
static bool next_resend(struct smq_session_state *st, int64_t now_ms, struct smq_send *out)
{
    while (st->resend_pos < st->inflight_len) {
        struct smq_inflight *f = inflight_at(st, st->resend_pos);
        if (resend_expired(f, now_ms)) {
            st->dropped_expired++;
            smq_delivery_release(&f->d);
            inflight_remove(st, st->resend_pos); /* the next entry moves into its place */
            continue;
        }
        st->resend_pos++;
        out->d = &f->d;
        out->packet_id = f->packet_id;
        out->kind = f->state == SMQ_OUT_WAIT_PUBCOMP ? SMQ_SEND_PUBREL : SMQ_SEND_PUBLISH;
        out->dup = out->kind == SMQ_SEND_PUBLISH; /* [MQTT-3.3.1-1] */
        return true;
    }
    return false;
}

static void ensure_inflight_ring(struct smq_session_state *st)
{
    if (st->inflight == NULL) {
        st->inflight_cap = st->limits->max_inflight;
        st->inflight = smq_alloc(st->inflight_cap * sizeof(*st->inflight));
    }
}

bool smq_session_next(struct smq_session_state *st, int64_t now_ms, struct smq_send *out)
{
    out->qos0 = (struct smq_delivery){0}; /* what the caller owns only for a QoS 0 PUBLISH */
    if (!st->online)
        return false;
    if (next_resend(st, now_ms, out))
        return true;
    while (st->queue_len > 0) {
        struct smq_delivery *head = queue_at(st, 0);
        if (head->qos > 0 && st->inflight_len >= st->window)
            return false; /* the window is full: wait for an acknowledgement */
        struct smq_delivery d;
        queue_pop(st, &d);
        if (smq_msg_is_expired(d.msg, now_ms)) {
            st->dropped_expired++;
            smq_delivery_release(&d);
            continue;
        }
        out->kind = SMQ_SEND_PUBLISH;
        out->dup = false;
        if (d.qos == SMQ_QOS0) {
            /* It leaves the session now: the caller owns it (smq_send_release). */
            out->qos0 = d;
            out->d = &out->qos0;
            out->packet_id = 0;
            return true;
        }
        ensure_inflight_ring(st);
        struct smq_inflight *f = inflight_at(st, st->inflight_len++);
        f->d = d;
        f->packet_id = allocate_packet_id(st);
        f->state = d.qos == SMQ_QOS1 ? SMQ_OUT_WAIT_PUBACK : SMQ_OUT_WAIT_PUBREC;
        st->resend_pos = st->inflight_len;
        out->d = &f->d;
        out->packet_id = f->packet_id;
        return true;
    }
    return false;
}

void smq_session_resume(struct smq_session_state *st)
{
    st->online = true;
    st->resend_pos = 0;
    st->epoch = st->epoch == UINT16_MAX ? 1 : (uint16_t)(st->epoch + 1);
}

void smq_session_suspend(struct smq_session_state *st)
{
    st->online = false;
    st->congested = st->slow = false;
}

bool smq_session_below_low(const struct smq_session_state *st)
{
    uint64_t max_bytes = st->limits->max_queued_bytes; /* 0: no byte limit */
    return st->queue_len <= st->limits->max_queued_messages / 4 &&
           (max_bytes == 0 || st->queued_bytes <= max_bytes / 4);
}

enum smq_pressure smq_session_pressure(struct smq_session_state *st, int64_t now_ms,
                                       uint32_t slow_ms)
{
    if (!st->online || slow_ms == 0) {
        st->congested = st->slow = false;
        return SMQ_PRESSURE_NONE;
    }
    if (st->congested && smq_session_below_low(st))
        st->congested = st->slow = false;
    if (!st->congested) {
        if (!smq_session_above_high(st))
            return SMQ_PRESSURE_NONE;
        st->congested = true;
        st->congested_at = (uint32_t)now_ms;
    }
    if (st->slow)
        return SMQ_PRESSURE_NONE;
    /* Unsigned difference of truncated clocks: right for any span under 49 days. */
    if ((uint32_t)now_ms - st->congested_at >= slow_ms) {
        st->slow = true;
        return SMQ_PRESSURE_SLOW;
    }
    return SMQ_PRESSURE_PAUSE;
}

bool smq_session_relieved(struct smq_session_state *st)
{
    if (!st->congested || !smq_session_below_low(st))
        return false;
    st->congested = st->slow = false;
    return true;
}

/* Returns the position of the entry with id in state, or -1. */
static int find_inflight(struct smq_session_state *st, uint16_t id, uint8_t state)
{
    for (uint16_t i = 0; i < st->inflight_len; i++) {
        struct smq_inflight *f = inflight_at(st, i);
        if (f->packet_id == id && f->state == state)
            return i;
    }
    return -1;
}

/* Removes the acknowledged entry at position i. An out-of-order acknowledgement closes its
 * gap at once, so the window counts only unacknowledged messages: a QoS 2 message slow to
 * PUBCOMP at the head must not keep the slots of the QoS 1 messages acknowledged after it.
 * The entries ahead of i move up one and the head advances, keeping send order (O(1) for
 * the usual in-order acknowledgement at the head). */
static void inflight_remove(struct smq_session_state *st, uint16_t i)
{
    for (uint16_t j = i; j > 0; j--)
        *inflight_at(st, j) = *inflight_at(st, (uint16_t)(j - 1));
    st->inflight_head = (uint16_t)((st->inflight_head + 1) % st->inflight_cap);
    st->inflight_len--;
    if (st->resend_pos > i)
        st->resend_pos--; /* it was before the position: one fewer (re)sent entry */
}

static int complete(struct smq_session_state *st, uint16_t id, uint8_t state)
{
    int i = find_inflight(st, id, state);
    if (i < 0)
        return SMQ_ENOENT;
    struct smq_inflight *f = inflight_at(st, (uint16_t)i);
    smq_delivery_release(&f->d);
    inflight_remove(st, (uint16_t)i);
    return 0;
}

int smq_session_on_puback(struct smq_session_state *st, uint16_t packet_id)
{
    return complete(st, packet_id, SMQ_OUT_WAIT_PUBACK);
}

int smq_session_on_pubrec(struct smq_session_state *st, uint16_t packet_id)
{
    int i = find_inflight(st, packet_id, SMQ_OUT_WAIT_PUBREC);
    if (i < 0)
        return SMQ_ENOENT;
    struct smq_inflight *f = inflight_at(st, (uint16_t)i);
    /* 4.3.3: after PUBREC the PUBLISH is never sent again, only PUBREL; the message is
     * released now so a client slow to PUBCOMP holds an identifier, not a payload. */
    f->state = SMQ_OUT_WAIT_PUBCOMP;
    smq_delivery_release(&f->d);
    return 0;
}

int smq_session_on_pubcomp(struct smq_session_state *st, uint16_t packet_id)
{
    return complete(st, packet_id, SMQ_OUT_WAIT_PUBCOMP);
}

int smq_session_on_pubrec_error(struct smq_session_state *st, uint16_t packet_id)
{
    return complete(st, packet_id, SMQ_OUT_WAIT_PUBREC);
}

void smq_session_discard(struct smq_session_state *st, struct smq_send *snd)
{
    if (snd->qos0.msg != NULL) {
        smq_send_release(snd);
        return;
    }
    for (uint16_t i = 0; i < st->inflight_len; i++) {
        struct smq_inflight *f = inflight_at(st, i);
        if (&f->d == snd->d) {
            smq_delivery_release(&f->d);
            inflight_remove(st, i);
            return;
        }
    }
}

int smq_session_on_qos2_publish(struct smq_session_state *st, uint16_t packet_id)
{
    for (uint16_t i = 0; i < st->awaiting_rel_len; i++) {
        if (st->awaiting_rel[i] == packet_id)
            return 0; /* [MQTT-4.3.3-9]: do not deliver it again */
    }
    if (st->awaiting_rel_len >= st->limits->max_awaiting_rel)
        return SMQ_ELIMIT;
    if (st->awaiting_rel_len == st->awaiting_rel_cap) {
        /* Doubled in 32 bits: past 32,768 the double does not fit a uint16_t. */
        uint32_t cap = st->awaiting_rel_cap ? st->awaiting_rel_cap * 2u : 4u;
        if (cap > st->limits->max_awaiting_rel)
            cap = st->limits->max_awaiting_rel;
        st->awaiting_rel = smq_realloc(st->awaiting_rel, cap * sizeof(uint16_t));
        st->awaiting_rel_cap = (uint16_t)cap;
    }
    st->awaiting_rel[st->awaiting_rel_len++] = packet_id;
    return 1;
}

/* Forgets an inbound QoS 2 identifier; returns 0, or SMQ_ENOENT when it was not kept. */
static int forget_awaiting(struct smq_session_state *st, uint16_t packet_id)
{
    for (uint16_t i = 0; i < st->awaiting_rel_len; i++) {
        if (st->awaiting_rel[i] == packet_id) {
            st->awaiting_rel[i] = st->awaiting_rel[--st->awaiting_rel_len];
            if (st->awaiting_rel_len == 0) {
                smq_free(st->awaiting_rel);
                st->awaiting_rel = NULL;
                st->awaiting_rel_cap = 0;
            }
            return 0;
        }
    }
    return SMQ_ENOENT;
}

int smq_session_on_pubrel(struct smq_session_state *st, uint16_t packet_id)
{
    return forget_awaiting(st, packet_id);
}

void smq_session_cancel_qos2(struct smq_session_state *st, uint16_t packet_id)
{
    forget_awaiting(st, packet_id);
}

void smq_session_drop_qos0(struct smq_session_state *st)
{
    uint32_t kept = 0, len = st->queue_len;
    for (uint32_t i = 0; i < len; i++) {
        struct smq_delivery d = *queue_at(st, i);
        if (d.qos == SMQ_QOS0) {
            st->queued_bytes -= smq_msg_cost(d.msg);
            smq_delivery_release(&d);
            st->dropped_qos0++;
        } else {
            *queue_at(st, kept++) = d;
        }
    }
    st->queue_len = kept;
    smq_session_trim(st);
}

void smq_session_trim(struct smq_session_state *st)
{
    if (st->queue_len == 0 && st->queue != NULL) {
        smq_free(st->queue);
        st->queue = NULL;
        st->queue_cap = st->queue_head = 0;
    }
    if (st->inflight_len == 0 && st->inflight != NULL) {
        smq_free(st->inflight);
        st->inflight = NULL;
        st->inflight_head = 0;
        st->resend_pos = 0;
    }
}
