/* CONNECT: deciding whether a client may connect, finding or creating its session on the
 * worker that owns it, taking over an older connection, and answering with CONNACK and its
 * 5.0 properties.
 *
 * A session lives on one worker for its whole life. The registry says which; a CONNECT
 * read by another worker is handed there with its socket and bytes (conn.c), so a
 * takeover never moves session state between threads and never races a delivery. A CONNECT
 * that names an Authentication Method is handed over first and authenticated on the
 * session's worker (auth.c), which calls back smq_connect_resume() when it succeeds.
 *
 * The order of the checks decides which reason a client with several problems hears:
 * capabilities of the will and keep-alive, then the client identifier, then credentials
 * (or the authentication method), then the session quota. */
#include <stdio.h>
#include <string.h>

#include "broker/acceptor.h"
#include "broker/auth.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/sessions.h"
#include "broker/worker.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/registry.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/reason.h"
#include "proto/topic.h"
#include "proto/varint.h"

/* Most handovers a CONNECT may take: more means the registry keeps changing under it. */
#define MAX_HOPS 4
/* Topic Alias Maximum announced when a connection has no listener to take it from. */
#define DEFAULT_TOPIC_ALIAS_MAX 10

/* Queues CONNACK. props (v5 only, may be NULL) loses its Reason String when the packet
 * would exceed the client's Maximum Packet Size [MQTT-3.2.2-19]. */
static void send_connack(struct smq_conn *c, bool session_present, uint8_t reason,
                         struct smq_props *props)
{
    struct smq_packet pkt = {.type = SMQ_CONNACK};
    pkt.u.connack.session_present = session_present;
    if (c->version < SMQ_V5) {
        pkt.u.connack.reason = smq_reason_to_v3_connack(reason);
        smq_conn_send(c, &pkt);
        return;
    }
    pkt.u.connack.reason = reason;
    if (props)
        pkt.u.connack.props = *props;
    if (c->max_packet_out != 0 && smq_encode_size(c->version, &pkt) > c->max_packet_out)
        pkt.u.connack.props.present &= ~SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
    smq_conn_send(c, &pkt);
}

void smq_connect_refuse(struct smq_conn *c, uint8_t reason, const char *why)
{
    smq_log(SMQ_LOG_NOTICE, "connect refused addr=%s reason=0x%02x (%s): %s", smq_conn_addr(c),
            reason, smq_reason_name(reason), why);
    struct smq_props props = {0};
    /* The choice, stricter than [MQTT-3.1.2-29]: no Reason String in CONNACK either
     * unless the client asked for problem information. */
    if (c->problem_info) {
        props.present = SMQ_PROP_BIT(SMQ_PROP_REASON_STRING);
        props.reason_string = smq_span_str(why);
    }
    send_connack(c, false, reason, &props);
    smq_conn_close(c, SMQ_CLOSE_REFUSED);
}

void smq_refuse_undecodable_connect(struct smq_conn *c, const struct smq_packet *pkt,
                                    uint8_t reason)
{
    if (pkt->type != SMQ_CONNECT) {
        /* A packet of an authentication exchange: the client speaks 5.0 and awaits CONNACK. */
        if (smq_conn_auth(c) != NULL)
            send_connack(c, false,
                         smq_reason_allowed(SMQ_CONNACK, reason) ? reason : SMQ_RC_UNSPECIFIED,
                         NULL);
        return;
    }
    uint8_t level = pkt->u.connect.version;
    if (reason == SMQ_RC_UNSUPPORTED_VERSION) {
        /* [MQTT-3.1.2-2] 0x01 in the 3.1.1 format: a client asking for an unknown level
         * cannot be assumed to read 5.0's CONNACK (Mosquitto answers the same way). */
        c->version = SMQ_V311;
        send_connack(c, false, reason, NULL);
    } else if (level == SMQ_V5) {
        c->version = SMQ_V5; /* 3.2.2.2: CONNACK may carry 0x81 / 0x82 / 0x97 before closing */
        send_connack(c, false, smq_reason_allowed(SMQ_CONNACK, reason) ? reason : SMQ_RC_MALFORMED,
                     NULL);
    }
}

/* Returns true when bytes start a CONNECT whose protocol name and level (5.0) are there. */
static bool is_v5_connect(const uint8_t *bytes, size_t len)
{
    static const uint8_t v5[] = {0, 4, 'M', 'Q', 'T', 'T', SMQ_V5};
    if (len < 2 || bytes[0] >> 4 != SMQ_CONNECT)
        return false;
    uint32_t remaining;
    ssize_t n = smq_varint_decode(bytes + 1, len - 1, &remaining);
    if (n <= 0 || len < 1 + (size_t)n + sizeof(v5))
        return false;
    return memcmp(bytes + 1 + n, v5, sizeof(v5)) == 0;
}

void smq_refuse_bad_header(struct smq_conn *c, const uint8_t *bytes, size_t len, uint8_t reason)
{
    if (smq_conn_auth(c) != NULL) { /* during the exchange: a 5.0 client awaits CONNACK */
        send_connack(c, false,
                     smq_reason_allowed(SMQ_CONNACK, reason) ? reason : SMQ_RC_UNSPECIFIED, NULL);
        return;
    }
    /* 3.2.2.2: a CONNECT over max_packet_size hears 0x95 when it is 5.0. The level sits 7
     * bytes into the body: a client sends header and body together, so they are normally
     * here; when they are not, the connection is closed without CONNACK. */
    if (reason == SMQ_RC_PACKET_TOO_LARGE && is_v5_connect(bytes, len)) {
        c->version = SMQ_V5;
        send_connack(c, false, reason, NULL);
    }
}

/* Reads what a v5 CONNECT asks of the connection (3.1.2.11); 3.x gets the zero values. */
static void read_connect_props(struct smq_conn *c, const struct smq_connect *pkt)
{
    const struct smq_settings *set = &c->w->broker->settings;
    if (pkt->version < SMQ_V5)
        return;
    const struct smq_props *p = &pkt->props;
    /* [MQTT-3.1.2-29] problem information unless the client says 0. */
    c->problem_info = !smq_props_has(p, SMQ_PROP_REQUEST_PROBLEM_INFO) || p->request_problem_info;
    /* [MQTT-3.1.2-24] the broker never sends a packet larger than this. */
    c->max_packet_out = smq_props_has(p, SMQ_PROP_MAXIMUM_PACKET_SIZE) ? p->maximum_packet_size : 0;
    /* [MQTT-3.1.2-26] aliases we may send: the client's maximum, capped by our own. */
    uint16_t client_max =
        smq_props_has(p, SMQ_PROP_TOPIC_ALIAS_MAXIMUM) ? p->topic_alias_maximum : 0;
    c->topic_alias_max_out =
        client_max < set->max_topic_alias_broker ? client_max : set->max_topic_alias_broker;
    c->topic_alias_max_in = c->listener ? c->listener->max_topic_alias : DEFAULT_TOPIC_ALIAS_MAX;
}

/* Checks the will and keep-alive against the broker's capabilities; returns 0 or the
 * reason to refuse with (*why: a short fixed text). */
static uint8_t check_capabilities(const struct smq_conn *c, const struct smq_connect *pkt,
                                  const char **why)
{
    const struct smq_settings *set = &c->w->broker->settings;
    if (pkt->version < SMQ_V5 && pkt->keep_alive > set->max_keepalive) {
        *why = "keep-alive above max_keepalive";
        return SMQ_RC_CLIENT_ID_INVALID; /* 3.x has no Server Keep Alive: refuse as Mosquitto */
    }
    if (!pkt->will)
        return 0;
    if (pkt->will_qos > set->max_qos) {
        *why = "will QoS above the maximum QoS";
        return SMQ_RC_QOS_NOT_SUPPORTED; /* [MQTT-3.2.2-12] */
    }
    if (pkt->will_retain && !set->retain_available) {
        *why = "retained wills are not supported";
        return SMQ_RC_RETAIN_NOT_SUPPORTED; /* [MQTT-3.2.2-13] */
    }
    /* The will is published like a PUBLISH: the same topic limits (publish.c). */
    if (pkt->will_topic.len > set->max_topic_length ||
        smq_topic_levels(pkt->will_topic) > set->max_topic_levels) {
        *why = "will topic too long or too deep";
        return SMQ_RC_TOPIC_NAME_INVALID;
    }
    /* 3.1.3.2.3: a will that says UTF-8 must be, when the broker checks payloads. */
    if (set->validate_payload_format && pkt->version >= SMQ_V5 &&
        smq_props_has(&pkt->will_props, SMQ_PROP_PAYLOAD_FORMAT) &&
        pkt->will_props.payload_format == 1 && !smq_msg_payload_is_utf8(pkt->will_payload)) {
        *why = "will payload is not UTF-8";
        return SMQ_RC_PAYLOAD_FORMAT_INVALID;
    }
    return 0;
}

/* Without an Authentication Method: returns 0 when the client may connect, or the reason.
 * No password source exists yet, so credentials cannot be verified: a client presenting a
 * user name where anonymous clients are refused hears "bad user name or password" (0x86),
 * one presenting none "not authorized" (0x87). */
static uint8_t check_credentials(const struct smq_conn *c, const struct smq_connect *pkt,
                                 const char **why)
{
    if (c->w->broker->settings.allow_anonymous)
        return 0;
    if (pkt->has_username || pkt->has_password) {
        *why = "credentials cannot be verified (no password source)";
        return SMQ_RC_BAD_USERNAME_PASSWORD;
    }
    *why = "anonymous clients are not allowed";
    return SMQ_RC_NOT_AUTHORIZED;
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
    /* 3.x [MQTT-3.1.3-7] [MQTT-3.1.3-8]: an empty id only with a clean session, and 3.1 has
     * no empty ids at all. 5.0 [MQTT-3.1.3-6] assigns one whatever Clean Start says: the
     * client learns it from CONNACK and may resume the session with it. */
    if (!set->allow_zero_length_clientid || pkt->version == SMQ_V31 ||
        (pkt->version < SMQ_V5 && !pkt->clean_start))
        return SMQ_RC_CLIENT_ID_INVALID;
    uint64_t n = atomic_fetch_add_explicit(&c->w->broker->next_auto_id, 1, memory_order_relaxed);
    int len = snprintf(out, cap, "%s%u-%llu", set->auto_id_prefix, c->w->id, (unsigned long long)n);
    *out_len = (size_t)len;
    return 0;
}

/* Closes s's current connection for a takeover, publishing (or delaying) its will. */
static void take_over(struct smq_session *s)
{
    struct smq_conn *old = s->conn;
    smq_log(SMQ_LOG_INFO, "session taken over client=%s old_addr=%s", smq_session_log_id(s),
            smq_conn_addr(old));
    /* [MQTT-3.1.4-3] */
    smq_conn_disconnect(old, SMQ_RC_SESSION_TAKEN_OVER, "another connection took the session");
    smq_conn_close(old, SMQ_CLOSE_TAKEN_OVER); /* detaches: s is now offline */
}

/* Hands c to worker shard, which owns its session (or refuses c when it moved too often). */
static void hand_to_owner(struct smq_conn *c, uint16_t shard, const uint8_t *raw, size_t raw_len)
{
    if (c->hops >= MAX_HOPS) {
        smq_connect_refuse(c, SMQ_RC_SERVER_BUSY, "session keeps moving");
        return;
    }
    smq_conn_hand_over(c, &c->w->broker->workers[shard], raw, (uint32_t)raw_len);
}

/* Hands c to the worker that owns id's session, if another one does. Returns true when c
 * was handed over or refused. */
static bool route_to_owner(struct smq_conn *c, const char *id, size_t id_len, const uint8_t *raw,
                           size_t raw_len)
{
    struct smq_worker *w = c->w;
    struct smq_registry_entry e;
    struct smq_span key = {(const uint8_t *)id, id_len};
    if (smq_registry_lookup(w->broker->registry, key, &e) != 0 || e.shard == w->id)
        return false;
    hand_to_owner(c, e.shard, raw, raw_len);
    return true;
}

/* Finds the session for id on this worker, or hands c to the worker that owns it (only
 * when may_hand_over: after an authentication exchange the CONNECT cannot be replayed).
 * Returns the session, or NULL when c was handed over or refused: never NULL with c left
 * waiting.
 *
 * The registry is read once per attempt and acted on as read. Reading it again to hand c
 * over lost CONNECTs: a session released between the two reads left c handed nowhere. */
static struct smq_session *claim_session(struct smq_conn *c, const char *id, size_t id_len,
                                         const uint8_t *raw, size_t raw_len, bool may_hand_over)
{
    struct smq_worker *w = c->w;
    struct smq_span key = {(const uint8_t *)id, id_len};
    for (int attempt = 0; attempt < 2; attempt++) {
        struct smq_registry_entry e;
        if (smq_registry_lookup(w->broker->registry, key, &e) == 0) {
            if (e.shard != w->id) {
                if (may_hand_over)
                    hand_to_owner(c, e.shard, raw, raw_len);
                else
                    smq_connect_refuse(c, SMQ_RC_SERVER_BUSY, "session moved while authenticating");
                return NULL;
            }
            struct smq_session *s = smq_worker_find_session(w, e.session_id);
            if (s)
                return s;
            continue; /* ended between the registry and here: look again */
        }
        if (smq_broker_session_count(w->broker) >= w->broker->settings.max_sessions) {
            smq_connect_refuse(c, SMQ_RC_QUOTA_EXCEEDED, "max_sessions reached");
            return NULL;
        }
        struct smq_session *s = smq_session_create(w, id, id_len);
        if (smq_registry_claim(w->broker->registry, key, w->id, s->id, &e) == 0)
            return s;
        smq_session_end(w, s); /* another worker claimed it first: go there */
    }
    smq_connect_refuse(c, SMQ_RC_SERVER_BUSY, "session registry busy");
    return NULL;
}

static void log_connect(const struct smq_conn *c, const struct smq_connect *pkt)
{
    if (!smq_log_enabled(SMQ_LOG_INFO) || !c->w->broker->settings.connection_messages)
        return;
    char id[128];
    smq_log_escape(id, sizeof(id), c->session->client_id, c->session->client_id_len);
    smq_log(SMQ_LOG_INFO, "connect client=\"%s\" addr=%s protocol=%s clean=%d keepalive=%u", id,
            smq_conn_addr(c),
            pkt->version == SMQ_V31    ? "3.1"
            : pkt->version == SMQ_V311 ? "3.1.1"
                                       : "5.0",
            pkt->clean_start, c->keep_alive);
}

static void attach_will(struct smq_conn *c, const struct smq_connect *pkt)
{
    if (!pkt->will)
        return;
    /* The will's properties are forwarded as a PUBLISH's are (core/msg.c keeps Payload
     * Format, Content Type, Response Topic, Correlation Data, User Properties; never the
     * Will Delay Interval); its Message Expiry restarts at publication (sessions.c). */
    struct smq_msg_init init = {
        .topic = pkt->will_topic,
        .payload = pkt->will_payload,
        .qos = pkt->will_qos,
        .retain = pkt->will_retain,
        .origin_session = c->session->id,
        .now_ms = c->w->now_ms,
        .props = pkt->version >= SMQ_V5 ? &pkt->will_props : NULL,
    };
    smq_conn_extra(c)->will = smq_msg_new(&init);
}

/* What a CONNECT settled, for the session and the CONNACK. */
struct outcome {
    bool present;        /* Session Present */
    bool expiry_capped;  /* Session Expiry lowered by max_session_expiry_interval */
    bool keep_alive_set; /* Server Keep Alive differs from the client's */
    bool assigned_id;    /* the client sent an empty identifier */
};

/* Sets s's expiry from the CONNECT (see struct smq_session.expiry_interval). */
static void set_session_expiry(struct smq_session *s, const struct smq_settings *set,
                               const struct smq_connect *pkt, struct outcome *o)
{
    if (pkt->version < SMQ_V5) {
        uint32_t keep = set->persistent_client_expiration;
        s->expiry_interval = pkt->clean_start ? 0 : keep ? keep : UINT32_MAX;
        s->expiry_was_zero = false;
        return;
    }
    uint32_t asked = smq_props_has(&pkt->props, SMQ_PROP_SESSION_EXPIRY)
                         ? pkt->props.session_expiry
                         : 0; /* 3.1.2.11.2: absent means 0 */
    s->expiry_was_zero = asked == 0;
    o->expiry_capped = asked > set->max_session_expiry_interval;
    s->expiry_interval = o->expiry_capped ? set->max_session_expiry_interval : asked;
}

/* The keep-alive c runs with. 5.0 is never refused for it: above max_keepalive, or 0 (no
 * keep-alive) while max_keepalive is configured, the client is told the server's value
 * [MQTT-3.2.2-21] as Mosquitto does. */
static uint16_t agree_keep_alive(const struct smq_settings *set, const struct smq_connect *pkt,
                                 struct outcome *o)
{
    uint16_t ka = pkt->keep_alive;
    if (pkt->version >= SMQ_V5 && set->max_keepalive != UINT16_MAX &&
        (ka == 0 || ka > set->max_keepalive)) {
        o->keep_alive_set = true;
        return set->max_keepalive;
    }
    return ka;
}

/* Builds the Response Information for s into a heap string (owned by the caller), or
 * returns NULL: "reply/<client id>/" when the server offers it, the client asked
 * (3.1.2.11.6) and the identifier cannot change the topic's shape (no '+', '#' or '/'). */
static char *response_info(const struct smq_settings *set, const struct smq_connect *pkt,
                           const struct smq_session *s)
{
    if (!set->response_information || !smq_props_has(&pkt->props, SMQ_PROP_REQUEST_RESPONSE_INFO) ||
        pkt->props.request_response_info != 1)
        return NULL;
    size_t len = s->client_id_len;
    if (memchr(s->client_id, '+', len) || memchr(s->client_id, '#', len) ||
        memchr(s->client_id, '/', len) || len + 7 > SMQ_STRING_MAX)
        return NULL;
    char *text = smq_alloc((size_t)s->client_id_len + 8);
    memcpy(text, "reply/", 6);
    memcpy(text + 6, s->client_id, s->client_id_len);
    memcpy(text + 6 + s->client_id_len, "/", 2);
    return text;
}

/* Adds a one-byte capability that is off (sent only when false, 3.2.2.3). */
static void put_unavailable(struct smq_props *p, enum smq_prop_id id, uint8_t *field, bool on)
{
    if (on)
        return;
    p->present |= SMQ_PROP_BIT(id);
    *field = 0;
}

/* The CONNACK properties of an accepted v5 CONNECT (3.2.2.3). */
static void connack_props(const struct smq_conn *c, const struct outcome *o, const char *resp_info,
                          struct smq_props *p)
{
    const struct smq_settings *set = &c->w->broker->settings;
    const struct smq_session *s = c->session;
    if (o->expiry_capped) { /* 3.2.2.3.2: the server's value replaces the client's */
        p->present |= SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
        p->session_expiry = s->expiry_interval;
    }
    if (set->max_awaiting_rel != UINT16_MAX) { /* QoS 2 awaiting PUBREL we accept (publish.c) */
        p->present |= SMQ_PROP_BIT(SMQ_PROP_RECEIVE_MAXIMUM);
        p->receive_maximum = set->max_awaiting_rel;
    }
    if (set->max_qos < SMQ_QOS2) {
        p->present |= SMQ_PROP_BIT(SMQ_PROP_MAXIMUM_QOS);
        p->maximum_qos = set->max_qos;
    }
    put_unavailable(p, SMQ_PROP_RETAIN_AVAILABLE, &p->retain_available, set->retain_available);
    if (set->max_packet_size != 0 && set->max_packet_size < SMQ_PACKET_MAX) {
        p->present |= SMQ_PROP_BIT(SMQ_PROP_MAXIMUM_PACKET_SIZE);
        p->maximum_packet_size = set->max_packet_size;
    }
    if (o->assigned_id) { /* [MQTT-3.2.2-16] */
        p->present |= SMQ_PROP_BIT(SMQ_PROP_ASSIGNED_CLIENT_ID);
        p->assigned_client_id = (struct smq_span){(const uint8_t *)s->client_id, s->client_id_len};
    }
    if (c->topic_alias_max_in > 0) {
        p->present |= SMQ_PROP_BIT(SMQ_PROP_TOPIC_ALIAS_MAXIMUM);
        p->topic_alias_maximum = c->topic_alias_max_in;
    }
    put_unavailable(p, SMQ_PROP_WILDCARD_SUB_AVAILABLE, &p->wildcard_sub_available,
                    set->wildcard_subscription_available);
    put_unavailable(p, SMQ_PROP_SUB_ID_AVAILABLE, &p->sub_id_available,
                    set->subscription_identifier_available);
    put_unavailable(p, SMQ_PROP_SHARED_SUB_AVAILABLE, &p->shared_sub_available,
                    set->shared_subscription_available);
    if (o->keep_alive_set) {
        p->present |= SMQ_PROP_BIT(SMQ_PROP_SERVER_KEEP_ALIVE);
        p->server_keep_alive = c->keep_alive;
    }
    if (resp_info) {
        p->present |= SMQ_PROP_BIT(SMQ_PROP_RESPONSE_INFO);
        p->response_info = smq_span_str(resp_info);
    }
    if (smq_conn_auth(c)) { /* [MQTT-4.12.0-5] the method again, with the method's last data */
        p->present |= SMQ_PROP_BIT(SMQ_PROP_AUTH_METHOD);
        p->auth_method = smq_auth_method(c);
        struct smq_span data = smq_auth_success_data(c);
        if (data.len > 0) {
            p->present |= SMQ_PROP_BIT(SMQ_PROP_AUTH_DATA);
            p->auth_data = data;
        }
    }
}

static void send_accept(struct smq_conn *c, const struct smq_connect *pkt, const struct outcome *o)
{
    if (c->version < SMQ_V5) {
        send_connack(c, o->present, SMQ_RC_SUCCESS, NULL);
        return;
    }
    char *resp = response_info(&c->w->broker->settings, pkt, c->session);
    struct smq_props props = {0};
    connack_props(c, o, resp, &props);
    send_connack(c, o->present, SMQ_RC_SUCCESS, &props);
    smq_free(resp);
}

/* Binds c to s as the CONNECT says: session state, will, window, keep-alive. */
static void bind_session(struct smq_conn *c, struct smq_session *s, const struct smq_connect *pkt,
                         struct outcome *o)
{
    const struct smq_settings *set = &c->w->broker->settings;
    smq_session_set_online(c->w, s);
    s->version = pkt->version;
    s->clean = pkt->clean_start;
    set_session_expiry(s, set, pkt, o);
    smq_session_set_will_delay(s, pkt->will && pkt->version >= SMQ_V5 &&
                                          smq_props_has(&pkt->will_props, SMQ_PROP_WILL_DELAY)
                                      ? pkt->will_props.will_delay
                                      : 0);
    s->conn = c;
    c->session = s;
    attach_will(c, pkt);
    /* [MQTT-3.3.4-9] at most the client's Receive Maximum unacknowledged; 3.x: the default. */
    smq_session_set_window(&s->st, pkt->version >= SMQ_V5 &&
                                           smq_props_has(&pkt->props, SMQ_PROP_RECEIVE_MAXIMUM)
                                       ? pkt->props.receive_maximum
                                       : 0);
    c->keep_alive = agree_keep_alive(set, pkt, o);
}

/* Everything after the admission checks (and a successful authentication). */
static void finish_connect(struct smq_conn *c, const struct smq_connect *pkt, const char *id,
                           size_t id_len, const uint8_t *raw, size_t raw_len, bool may_hand_over)
{
    struct smq_session *s = claim_session(c, id, id_len, raw, raw_len, may_hand_over);
    if (s == NULL)
        return;
    /* s->version is 0 only for a session created just now; one that ends with its
     * connection (expiry 0) counts as absent even while that connection lives. */
    bool existed = s->version != 0 && s->expiry_interval != 0;
    if (s->conn)
        take_over(s); /* the session is parked, not ended, whatever its expiry */
    struct outcome o = {.assigned_id = pkt->client_id.len == 0};
    o.present = existed && !pkt->clean_start;
    /* A will still waiting for its delay: dropped when the session goes on, published when
     * the old session ends here [MQTT-3.1.3-9]. */
    smq_session_settle_will(c->w, s, !o.present);
    if (s->version != 0 && !o.present)
        smq_session_reset(c->w, s); /* [MQTT-3.1.2-4] (3.1.1: -6) discard the old state */
    bind_session(c, s, pkt, &o);
    send_accept(c, pkt, &o);
    c->state = SMQ_CONN_ACTIVE;
    smq_worker_wheel_remove(c->w, c);
    c->deadline_s = 0;
    smq_conn_touch(c);
    smq_worker_wheel_insert(c->w, c);
    log_connect(c, pkt);
    smq_session_resume(&s->st); /* [MQTT-4.4.0-1] resend what was inflight */
    smq_pump(s);
}

/* Returns the size of the CONNECT at the start of raw (raw holds it whole). */
static size_t connect_size(const uint8_t *raw, size_t raw_len)
{
    uint32_t remaining = 0;
    ssize_t n = smq_varint_decode(raw + 1, raw_len - 1, &remaining);
    SMQ_ASSERT(n > 0 && 1 + (size_t)n + remaining <= raw_len);
    return 1 + (size_t)n + remaining;
}

void smq_handle_connect(struct smq_conn *c, const struct smq_connect *pkt, const uint8_t *raw,
                        size_t raw_len)
{
    c->version = pkt->version;
    read_connect_props(c, pkt);
    const char *why = NULL;
    uint8_t bad = check_capabilities(c, pkt, &why);
    if (bad) {
        smq_connect_refuse(c, bad, why);
        return;
    }
    char id[SMQ_STRING_MAX + 1];
    size_t id_len = 0;
    if ((bad = choose_client_id(c, pkt, id, sizeof(id), &id_len))) {
        smq_connect_refuse(c, bad, "client identifier not valid");
        return;
    }
    bool authenticate = pkt->version >= SMQ_V5 && smq_props_has(&pkt->props, SMQ_PROP_AUTH_METHOD);
    if (!authenticate) {
        if ((bad = check_credentials(c, pkt, &why))) {
            smq_connect_refuse(c, bad, why);
            return;
        }
        finish_connect(c, pkt, id, id_len, raw, raw_len, true);
        return;
    }
    /* An authentication exchange cannot move between workers: move first. */
    if (route_to_owner(c, id, id_len, raw, raw_len))
        return;
    if (smq_auth_connect(c, pkt, raw, connect_size(raw, raw_len), id, id_len))
        finish_connect(c, pkt, id, id_len, raw, raw_len, false);
}

void smq_connect_resume(struct smq_conn *c, const uint8_t *raw, size_t raw_len,
                        const char *client_id, size_t client_id_len)
{
    struct smq_decode_opts opts = {
        .version = SMQ_V5,
        .sender = SMQ_SENDER_CLIENT,
        .awaiting_connect = true,
        .max_user_props = c->w->broker->settings.max_user_properties,
    };
    struct smq_packet pkt;
    uint8_t reason = 0;
    /* These bytes decoded once already (smq_handle_connect): the same result again. */
    ssize_t n = smq_decode_packet(raw, raw_len, &opts, &pkt, &reason);
    SMQ_ASSERT(n == (ssize_t)raw_len && pkt.type == SMQ_CONNECT);
    finish_connect(c, &pkt.u.connect, client_id, client_id_len, raw, raw_len, false);
}
