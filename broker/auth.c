/* Enhanced authentication (see auth.h): the method table, the AUTH exchange before CONNACK
 * and re-authentication after it, and the test-only method.
 *
 * The exchange before CONNACK: the CONNECT named a method and its first step answered
 * "continue", so its bytes are kept here and every AUTH 0x18 the client sends goes to the
 * method; "success" hands the CONNECT back to connect.c (smq_connect_resume) with the
 * method's last data for the CONNACK, "fail" refuses with CONNACK. After CONNACK, AUTH 0x19
 * with the same method starts a re-authentication on a fresh method state; the client's
 * session goes on meanwhile (4.12.1); success answers AUTH 0x00, failure DISCONNECT. */
#include "broker/auth.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "core/alloc.h"
#include "proto/reason.h"

/* Most methods the table holds. */
#define MAX_METHODS 8

static const struct smq_authenticator *methods[MAX_METHODS];
static size_t n_methods;
static uv_once_t init_once = UV_ONCE_INIT;

enum phase {
    PHASE_IDLE = 0, /* authenticated (or between re-authentications) */
    PHASE_CONNECT,  /* waiting for the client's AUTH before CONNACK */
    PHASE_REAUTH,   /* waiting for the client's AUTH during a re-authentication */
};

struct smq_auth_state {
    const struct smq_authenticator *impl; /* borrowed: the table outlives connections */
    uint8_t phase;                        /* enum phase */
    void *method_state;                   /* owned: impl->state_size bytes */
    struct smq_auth_reply last;           /* the method's latest answer */
    uint8_t *connect;                     /* owned: the CONNECT while PHASE_CONNECT */
    size_t connect_len;
    char *client_id; /* owned: the identifier chosen for it */
    size_t client_id_len;
};

/* ---- the test-only method ---------------------------------------------------------------
 *
 * "SMQ-TEST-CHALLENGE", registered only when SMQ_TEST_AUTH_SECRET is set in the broker's
 * environment (the integration tests set it; nothing else should). Not a security
 * mechanism: the secret crosses the wire in clear. Its steps:
 *   - CONNECT / AUTH 0x19 data equal to the secret: success at once, data "welcome";
 *   - empty data: continue with a challenge "n-<counter>"; the client's AUTH 0x18 must then
 *     carry "<secret>:<challenge>" for success ("welcome"), anything else fails with 0x87;
 *   - any other data: fail with 0x87. */

#define TEST_METHOD     "SMQ-TEST-CHALLENGE"
#define TEST_SECRET_MAX 64

static char test_secret[TEST_SECRET_MAX + 1];
static atomic_uint_fast64_t test_counter; /* relaxed: only uniqueness matters */

struct test_state {
    char challenge[32];
    size_t challenge_len;
};

static bool equals_secret(struct smq_span data, const char *prefix, size_t prefix_len)
{
    size_t secret_len = strlen(test_secret);
    if (data.len != prefix_len + (prefix_len ? 1 : 0) + secret_len)
        return false;
    if (sodium_memcmp(data.ptr, test_secret, secret_len) != 0)
        return false;
    return prefix_len == 0 || (data.ptr[secret_len] == ':' &&
                               memcmp(data.ptr + secret_len + 1, prefix, prefix_len) == 0);
}

static void test_start(void *state, const struct smq_auth_client *who, struct smq_span data,
                       struct smq_auth_reply *out)
{
    struct test_state *t = state;
    (void)who;
    if (data.len == 0) {
        uint64_t n = atomic_fetch_add_explicit(&test_counter, 1, memory_order_relaxed);
        t->challenge_len =
            (size_t)snprintf(t->challenge, sizeof(t->challenge), "n-%llu", (unsigned long long)n);
        *out = (struct smq_auth_reply){
            SMQ_AUTH_CONTINUE, 0, {(const uint8_t *)t->challenge, t->challenge_len}};
    } else if (equals_secret(data, NULL, 0)) {
        *out = (struct smq_auth_reply){SMQ_AUTH_SUCCESS, 0, smq_span_str("welcome")};
    } else {
        *out = (struct smq_auth_reply){SMQ_AUTH_FAIL, SMQ_RC_NOT_AUTHORIZED, {NULL, 0}};
    }
}

static void test_continue(void *state, struct smq_span data, struct smq_auth_reply *out)
{
    struct test_state *t = state;
    if (t->challenge_len > 0 && equals_secret(data, t->challenge, t->challenge_len))
        *out = (struct smq_auth_reply){SMQ_AUTH_SUCCESS, 0, smq_span_str("welcome")};
    else
        *out = (struct smq_auth_reply){SMQ_AUTH_FAIL, SMQ_RC_NOT_AUTHORIZED, {NULL, 0}};
}

static const struct smq_authenticator test_method = {
    .method = TEST_METHOD,
    .state_size = sizeof(struct test_state),
    .start_cb = test_start,
    .continue_cb = test_continue,
    .dispose_cb = NULL,
};

/* ---- the table --------------------------------------------------------------------------- */

static void add_method(const struct smq_authenticator *m)
{
    if (n_methods < MAX_METHODS)
        methods[n_methods++] = m;
}

static void init_table(void)
{
    const char *secret = getenv("SMQ_TEST_AUTH_SECRET");
    if (secret && secret[0] != '\0' && strlen(secret) <= TEST_SECRET_MAX) {
        snprintf(test_secret, sizeof(test_secret), "%s", secret);
        add_method(&test_method);
        smq_log(SMQ_LOG_WARNING,
                "test-only authentication method %s enabled by "
                "SMQ_TEST_AUTH_SECRET: never use it in production",
                TEST_METHOD);
    }
}

void smq_auth_init(void)
{
    uv_once(&init_once, init_table);
}

const struct smq_authenticator *smq_auth_find(struct smq_span name)
{
    for (size_t i = 0; i < n_methods; i++) {
        if (smq_span_eq_str(name, methods[i]->method))
            return methods[i];
    }
    return NULL;
}

/* ---- the exchange -------------------------------------------------------------------- */

static struct smq_auth_state *state_new(const struct smq_authenticator *impl)
{
    struct smq_auth_state *st = smq_calloc(1, sizeof(*st));
    st->impl = impl;
    st->method_state = smq_calloc(1, impl->state_size ? impl->state_size : 1);
    return st;
}

/* Starts the method over on a zeroed state (a CONNECT or a re-authentication). */
static void start(struct smq_auth_state *st, const struct smq_auth_client *who,
                  struct smq_span data)
{
    if (st->impl->dispose_cb)
        st->impl->dispose_cb(st->method_state);
    memset(st->method_state, 0, st->impl->state_size ? st->impl->state_size : 1);
    st->last = (struct smq_auth_reply){SMQ_AUTH_FAIL, SMQ_RC_NOT_AUTHORIZED, {NULL, 0}};
    st->impl->start_cb(st->method_state, who, data, &st->last);
}

static void drop_connect(struct smq_auth_state *st)
{
    smq_free(st->connect);
    smq_free(st->client_id);
    st->connect = NULL;
    st->client_id = NULL;
    st->connect_len = st->client_id_len = 0;
}

void smq_auth_state_free(struct smq_auth_state *st)
{
    if (st == NULL)
        return;
    if (st->impl->dispose_cb)
        st->impl->dispose_cb(st->method_state);
    smq_free(st->method_state);
    drop_connect(st);
    smq_free(st);
}

struct smq_span smq_auth_method(const struct smq_conn *c)
{
    const struct smq_auth_state *st = smq_conn_auth(c);
    if (st == NULL)
        return (struct smq_span){NULL, 0};
    return smq_span_str(st->impl->method);
}

struct smq_span smq_auth_success_data(const struct smq_conn *c)
{
    const struct smq_auth_state *st = smq_conn_auth(c);
    if (st == NULL || st->last.verdict != SMQ_AUTH_SUCCESS)
        return (struct smq_span){NULL, 0};
    return st->last.data;
}

/* Sends AUTH with reason, c's method and data (no Reason String: AUTH is not one of the
 * packets [MQTT-3.1.2-29] leaves it on, and nothing needs it). */
static void send_auth(struct smq_conn *c, uint8_t reason, struct smq_span data)
{
    struct smq_packet pkt = {.type = SMQ_AUTH};
    pkt.u.auth.reason = reason;
    pkt.u.auth.props.present = SMQ_PROP_BIT(SMQ_PROP_AUTH_METHOD);
    pkt.u.auth.props.auth_method = smq_auth_method(c);
    if (data.len > 0) {
        pkt.u.auth.props.present |= SMQ_PROP_BIT(SMQ_PROP_AUTH_DATA);
        pkt.u.auth.props.auth_data = data;
    }
    smq_conn_send(c, &pkt);
}

static uint8_t fail_reason(const struct smq_auth_reply *r)
{
    return r->reason ? r->reason : SMQ_RC_NOT_AUTHORIZED;
}

bool smq_auth_connect(struct smq_conn *c, const struct smq_connect *pkt, const uint8_t *raw,
                      size_t raw_len, const char *client_id, size_t client_id_len)
{
    const struct smq_authenticator *impl = smq_auth_find(pkt->props.auth_method);
    if (impl == NULL) {
        smq_connect_refuse(c, SMQ_RC_BAD_AUTH_METHOD, "authentication method not supported");
        return false;
    }
    struct smq_auth_state *st = state_new(impl);
    smq_conn_extra(c)->auth = st;
    struct smq_auth_client who = {pkt->client_id, pkt->has_username, pkt->username};
    start(st, &who, pkt->props.auth_data);
    switch (st->last.verdict) {
    case SMQ_AUTH_SUCCESS:
        return true;
    case SMQ_AUTH_CONTINUE:
        st->phase = PHASE_CONNECT;
        st->connect = smq_alloc(raw_len);
        memcpy(st->connect, raw, raw_len);
        st->connect_len = raw_len;
        st->client_id = smq_strndup(client_id, client_id_len);
        st->client_id_len = client_id_len;
        send_auth(c, SMQ_RC_CONTINUE_AUTHENTICATION, st->last.data);
        return false;
    default:
        smq_connect_refuse(c, fail_reason(&st->last), "authentication failed");
        return false;
    }
}

/* An AUTH between CONNECT and CONNACK: it must continue the CONNECT's method (4.12). */
static void auth_before_connack(struct smq_conn *c, const struct smq_reason_packet *pkt)
{
    struct smq_auth_state *st = smq_conn_auth(c);
    if (pkt->reason != SMQ_RC_CONTINUE_AUTHENTICATION ||
        !smq_span_eq_str(pkt->props.auth_method, st->impl->method)) {
        /* [MQTT-4.12.0-3] the client answers with 0x18; [MQTT-4.12.0-5] in the method of
         * its CONNECT. */
        smq_connect_refuse(c, SMQ_RC_PROTOCOL_ERROR, "AUTH does not continue the CONNECT");
        return;
    }
    st->impl->continue_cb(st->method_state, pkt->props.auth_data, &st->last);
    switch (st->last.verdict) {
    case SMQ_AUTH_CONTINUE:
        send_auth(c, SMQ_RC_CONTINUE_AUTHENTICATION, st->last.data);
        break;
    case SMQ_AUTH_SUCCESS: {
        st->phase = PHASE_IDLE;
        uint8_t *raw = st->connect;
        char *id = st->client_id;
        size_t raw_len = st->connect_len, id_len = st->client_id_len;
        st->connect = NULL;
        st->client_id = NULL;
        smq_connect_resume(c, raw, raw_len, id, id_len);
        smq_free(raw);
        smq_free(id);
        break;
    }
    default:
        smq_connect_refuse(c, fail_reason(&st->last), "authentication failed");
        break;
    }
}

/* A re-authentication failed: DISCONNECT and close [MQTT-4.12.1-2]; the will is due, as for
 * any close the client did not ask for. */
static void reauth_failed(struct smq_conn *c, uint8_t reason)
{
    smq_log(SMQ_LOG_NOTICE, "re-authentication failed client=%s addr=%s reason=0x%02x (%s)",
            smq_conn_client_id(c), smq_conn_addr(c), reason, smq_reason_name(reason));
    if (!smq_reason_allowed(SMQ_DISCONNECT, reason))
        reason = SMQ_RC_NOT_AUTHORIZED; /* 0x86 and the like are CONNACK-only */
    smq_conn_disconnect(c, reason, "re-authentication failed");
    smq_conn_close(c, SMQ_CLOSE_PROTOCOL_ERROR);
}

/* An AUTH after CONNACK: starts (0x19) or continues (0x18) a re-authentication. */
static void auth_after_connack(struct smq_conn *c, const struct smq_reason_packet *pkt)
{
    struct smq_auth_state *st = smq_conn_auth(c);
    if (st == NULL) {
        /* [MQTT-4.12.0-7] no AUTH from a client whose CONNECT named no method. */
        smq_conn_fail(c, SMQ_RC_PROTOCOL_ERROR, "AUTH without an Authentication Method");
        return;
    }
    if (!smq_span_eq_str(pkt->props.auth_method, st->impl->method)) {
        /* [MQTT-4.12.1-1] re-authentication keeps the method of the CONNECT. */
        smq_conn_fail(c, SMQ_RC_BAD_AUTH_METHOD, "AUTH with another Authentication Method");
        return;
    }
    if (pkt->reason == SMQ_RC_REAUTHENTICATE && st->phase == PHASE_IDLE) {
        struct smq_auth_client who = {0};
        if (c->session) {
            who.client_id.ptr = (const uint8_t *)c->session->client_id;
            who.client_id.len = c->session->client_id_len;
        }
        st->phase = PHASE_REAUTH;
        start(st, &who, pkt->props.auth_data);
    } else if (pkt->reason == SMQ_RC_CONTINUE_AUTHENTICATION && st->phase == PHASE_REAUTH) {
        st->impl->continue_cb(st->method_state, pkt->props.auth_data, &st->last);
    } else {
        smq_conn_fail(c, SMQ_RC_PROTOCOL_ERROR, "AUTH out of sequence");
        return;
    }
    switch (st->last.verdict) {
    case SMQ_AUTH_CONTINUE:
        send_auth(c, SMQ_RC_CONTINUE_AUTHENTICATION, st->last.data);
        break;
    case SMQ_AUTH_SUCCESS:
        st->phase = PHASE_IDLE;
        send_auth(c, SMQ_RC_SUCCESS, st->last.data);
        break;
    default:
        reauth_failed(c, fail_reason(&st->last));
        break;
    }
}

void smq_handle_auth(struct smq_conn *c, const struct smq_reason_packet *pkt)
{
    if (c->state == SMQ_CONN_AWAIT_CONNECT)
        auth_before_connack(c, pkt);
    else
        auth_after_connack(c, pkt);
}
