/* CONNECT: deciding whether a client may connect, finding or creating its session on the
 * worker that owns it, taking over an older connection, and answering with CONNACK.
 *
 * A session lives on one worker for its whole life. The registry says which; a CONNECT
 * read by another worker is handed there with its socket and bytes (conn.c), so a
 * takeover never moves session state between threads and never races a delivery. */
#include <stdio.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "broker/worker.h"
#include "core/registry.h"
#include "proto/reason.h"
#include "proto/topic.h"

/* Most handovers a CONNECT may take: more means the registry keeps changing under it. */
#define MAX_HOPS 4

static void send_connack(struct smq_conn *c, bool session_present, uint8_t reason)
{
    struct smq_packet pkt = {.type = SMQ_CONNACK};
    pkt.u.connack.session_present = session_present;
    pkt.u.connack.reason = c->version >= SMQ_V5 ? reason : smq_reason_to_v3_connack(reason);
    smq_conn_send(c, &pkt);
}

static void refuse(struct smq_conn *c, uint8_t reason, const char *why)
{
    smq_log(SMQ_LOG_NOTICE, "connect refused addr=%s reason=0x%02x (%s): %s", c->addr, reason,
            smq_reason_name(reason), why);
    send_connack(c, false, reason);
    smq_conn_close(c, SMQ_CLOSE_REFUSED);
}

void smq_refuse_undecodable_connect(struct smq_conn *c, const struct smq_packet *pkt,
                                    uint8_t reason)
{
    uint8_t level = pkt->u.connect.version;
    if (reason == SMQ_RC_UNSUPPORTED_VERSION) {
        /* [MQTT-3.1.2-2] 0x01 in the 3.1.1 format: a client asking for an unknown level
         * cannot be assumed to read 5.0's CONNACK (Mosquitto answers the same way). */
        c->version = SMQ_V311;
        send_connack(c, false, reason);
    } else if (level == SMQ_V5) {
        c->version = SMQ_V5; /* 3.2.2.2: CONNACK may carry 0x81 / 0x82 before closing */
        send_connack(c, false, reason);
    }
}

/* Checks the client identifier; fills out with the one to use (assigned when empty).
 * Returns 0 or the reason code to refuse with. */
static uint8_t choose_client_id(struct smq_conn *c, const struct smq_connect *pkt, char *out,
                                size_t cap, size_t *out_len)
{
    const struct smq_settings *set = &c->w->broker->settings;
    if (pkt->client_id.len > set->max_clientid_length || pkt->client_id.len >= cap)
        return SMQ_RC_CLIENT_ID_INVALID;
    if (pkt->client_id.len > 0) {
        memcpy(out, pkt->client_id.ptr, pkt->client_id.len);
        *out_len = pkt->client_id.len;
        return 0;
    }
    /* [MQTT-3.1.3-7] [MQTT-3.1.3-8]: an empty id only with a clean session, and 3.1 has
     * no empty ids at all. */
    if (!pkt->clean_start || !set->allow_zero_length_clientid || pkt->version == SMQ_V31)
        return SMQ_RC_CLIENT_ID_INVALID;
    uint64_t n = atomic_fetch_add_explicit(&c->w->broker->next_auto_id, 1, memory_order_relaxed);
    int len = snprintf(out, cap, "%s%u-%llu", set->auto_id_prefix, c->w->id,
                       (unsigned long long)n);
    *out_len = (size_t)len;
    return 0;
}

/* Closes s's current connection for a takeover, publishing its will. */
static void take_over(struct smq_session *s)
{
    struct smq_conn *old = s->conn;
    smq_log(SMQ_LOG_INFO, "session taken over client=%s old_addr=%s", smq_session_log_id(s),
            old->addr);
    if (old->version >= SMQ_V5) {
        struct smq_packet pkt = {.type = SMQ_DISCONNECT};
        pkt.u.disconnect.reason = SMQ_RC_SESSION_TAKEN_OVER;
        smq_conn_send(old, &pkt);
    }
    smq_conn_close(old, SMQ_CLOSE_TAKEN_OVER); /* detaches: s is now offline */
}

/* Finds the session for id on this worker, or hands c to the worker that owns it.
 * Returns the session, or NULL when c was handed over or refused. */
static struct smq_session *claim_session(struct smq_conn *c, const char *id, size_t id_len,
                                         const uint8_t *raw, size_t raw_len)
{
    struct smq_worker *w = c->w;
    struct smq_span key = {(const uint8_t *)id, id_len};
    for (int attempt = 0; attempt < 2; attempt++) {
        struct smq_registry_entry e;
        if (smq_registry_lookup(w->broker->registry, key, &e) == 0) {
            if (e.shard != w->id) {
                if (c->hops >= MAX_HOPS) {
                    refuse(c, SMQ_RC_SERVER_BUSY, "session keeps moving");
                    return NULL;
                }
                smq_conn_hand_over(c, &w->broker->workers[e.shard], raw, (uint32_t)raw_len);
                return NULL;
            }
            struct smq_session *s = smq_worker_find_session(w, e.session_id);
            if (s)
                return s;
            continue; /* ended between the registry and here: look again */
        }
        if (smq_broker_session_count(w->broker) >= w->broker->settings.max_sessions) {
            refuse(c, SMQ_RC_QUOTA_EXCEEDED, "max_sessions reached");
            return NULL;
        }
        struct smq_session *s = smq_session_create(w, id, id_len);
        if (smq_registry_claim(w->broker->registry, key, w->id, s->id, &e) == 0)
            return s;
        smq_session_end(w, s); /* another worker claimed it first: go there */
    }
    refuse(c, SMQ_RC_SERVER_BUSY, "session registry busy");
    return NULL;
}

static void log_connect(const struct smq_conn *c, const struct smq_connect *pkt)
{
    if (!smq_log_enabled(SMQ_LOG_INFO) || !c->w->broker->settings.connection_messages)
        return;
    char id[128];
    smq_log_escape(id, sizeof(id), c->session->client_id, c->session->client_id_len);
    smq_log(SMQ_LOG_INFO, "connect client=\"%s\" addr=%s protocol=%s clean=%d keepalive=%u", id,
            c->addr, pkt->version == SMQ_V31 ? "3.1" : pkt->version == SMQ_V311 ? "3.1.1" : "5.0",
            pkt->clean_start, pkt->keep_alive);
}

static void attach_will(struct smq_conn *c, const struct smq_connect *pkt)
{
    if (!pkt->will)
        return;
    struct smq_msg_init init = {
        .topic = pkt->will_topic,
        .payload = pkt->will_payload,
        .qos = pkt->will_qos,
        .retain = pkt->will_retain,
        .origin_session = c->session->id,
        .now_ms = c->w->now_ms,
        .props = pkt->version >= SMQ_V5 ? &pkt->will_props : NULL,
    };
    c->will = smq_msg_new(&init);
}

/* Checks what the broker's settings allow; returns 0 or the reason to refuse with. */
static uint8_t check_admission(const struct smq_conn *c, const struct smq_connect *pkt)
{
    const struct smq_settings *set = &c->w->broker->settings;
    if (!set->allow_anonymous)
        return SMQ_RC_NOT_AUTHORIZED; /* no password or auth source is configured */
    if (pkt->version < SMQ_V5 && pkt->keep_alive > set->max_keepalive)
        return SMQ_RC_CLIENT_ID_INVALID; /* 3.x has no Server Keep Alive: refuse as Mosquitto */
    if (pkt->will && !set->retain_available && pkt->will_retain)
        return SMQ_RC_RETAIN_NOT_SUPPORTED;
    /* The will is published like a PUBLISH: the same topic limits (publish.c). */
    if (pkt->will && (pkt->will_topic.len > set->max_topic_length ||
                      smq_topic_levels(pkt->will_topic) > set->max_topic_levels))
        return SMQ_RC_TOPIC_NAME_INVALID;
    return 0;
}

void smq_handle_connect(struct smq_conn *c, const struct smq_connect *pkt, const uint8_t *raw,
                        size_t raw_len)
{
    c->version = pkt->version;
    uint8_t bad = check_admission(c, pkt);
    if (bad) {
        refuse(c, bad, "not admitted");
        return;
    }
    char id[SMQ_STRING_MAX + 1];
    size_t id_len = 0;
    if ((bad = choose_client_id(c, pkt, id, sizeof(id), &id_len))) {
        refuse(c, bad, "client identifier");
        return;
    }
    struct smq_session *s = claim_session(c, id, id_len, raw, raw_len);
    if (s == NULL)
        return;
    /* s->version is 0 only for a session created just now. An old clean session ends with
     * its connection, so it counts as absent; it is parked, not freed, by the takeover. */
    bool existed = s->version != 0 && !s->clean;
    if (s->conn) {
        s->clean = false;
        take_over(s);
    }
    bool present = existed && !pkt->clean_start;
    if (s->version != 0 && !present)
        smq_session_reset(c->w, s); /* [MQTT-3.1.2-6] discard the old state */
    smq_session_set_online(c->w, s);
    s->version = pkt->version;
    s->clean = pkt->clean_start;
    s->conn = c;
    c->session = s;
    attach_will(c, pkt);
    send_connack(c, present, SMQ_RC_SUCCESS);
    c->state = SMQ_CONN_ACTIVE;
    c->keep_alive = pkt->keep_alive;
    smq_worker_wheel_remove(c->w, c);
    c->deadline_s = 0;
    smq_conn_touch(c);
    smq_worker_wheel_insert(c->w, c);
    log_connect(c, pkt);
    smq_session_resume(&s->st); /* [MQTT-4.4.0-1] resend what was inflight */
    smq_pump(s);
}
