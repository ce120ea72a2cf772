/* MQTT 5.0 connection features against the real shardmq: CONNECT and CONNACK properties,
 * every CONNACK reason code the broker sends, enhanced authentication (AUTH), server-sent
 * DISCONNECT reasons, session expiry and the Will Delay Interval.
 *
 * Each test starts its own broker with 4 workers and talks to it with libmosquitto's v5 API
 * (mqtt_client.h), or with raw packets built and read by proto/ (raw5.h) where the library
 * cannot produce the case or hides the answer (AUTH exchanges, malformed CONNECTs, exact
 * property sets, a client that goes silent or drops its socket). Time-driven checks use 1-2 s
 * intervals and bound both sides: not before the interval, and not much after. */
#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mqtt_client.h"
#include "proto/props.h"
#include "proto/reason.h"
#include "proto/span.h"
#include "raw5.h"

#define SECRET      "s3cret"
#define TEST_METHOD "SMQ-TEST-CHALLENGE"

/* Expects a refusal: CONNACK reason, then the socket closes. */
static void expect_refused(const struct smq_connect *ck, int reason)
{
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, ck, &rx, reason);
    cr_assert(raw_wait_closed(fd, 2000), "socket left open after CONNACK 0x%02x", reason);
    close(fd);
}

/* ---- libmosquitto helpers --------------------------------------------------------------- */

/* A v5 client connected with the given Session Expiry (-1: no property); asserts CONNACK 0. */
static struct tc *client5(const char *id, bool clean, long expiry)
{
    struct tc *c = tc_new5(id, clean);
    cr_assert_not_null(c);
    mosquitto_property *props = NULL;
    if (expiry >= 0)
        mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, (uint32_t)expiry);
    cr_assert_eq(tc_connect5(c, &tc_broker, 60, props), 0, "%s: CONNACK", id);
    mosquitto_property_free_all(&props);
    return c;
}

static bool wait_log(const char *needle, int count, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (broker_log_count(&tc_broker, needle) < count && now_ms() < deadline)
        pump(20);
    return broker_log_count(&tc_broker, needle) >= count;
}

/* ---- CONNACK properties ------------------------------------------------------------------ */

Test(v5_connect, v5_client_is_accepted, .init = tc_start, .fini = tc_stop)
{
    struct tc *c = tc_new5("v5-basic", true);
    cr_assert_eq(tc_connect5(c, &tc_broker, 60, NULL), 0);
    tc_disconnect(c);
}

Test(v5_connect, connack_announces_the_defaults, .init = tc_start, .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("defaults");
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    const struct smq_props *p = &rx.pkt.u.connack.props;
    cr_assert_eq(rx.pkt.u.connack.session_present, false);
    cr_assert(smq_props_has(p, SMQ_PROP_RECEIVE_MAXIMUM));
    cr_assert_eq(p->receive_maximum, 100, "max_awaiting_rel's default");
    cr_assert(smq_props_has(p, SMQ_PROP_MAXIMUM_PACKET_SIZE));
    cr_assert_eq(p->maximum_packet_size, 1048576);
    cr_assert(smq_props_has(p, SMQ_PROP_TOPIC_ALIAS_MAXIMUM));
    cr_assert_eq(p->topic_alias_maximum, 10);
    /* Everything available, nothing capped, nothing assigned: not said. */
    const enum smq_prop_id absent[] = {
        SMQ_PROP_MAXIMUM_QOS,       SMQ_PROP_RETAIN_AVAILABLE,     SMQ_PROP_WILDCARD_SUB_AVAILABLE,
        SMQ_PROP_SUB_ID_AVAILABLE,  SMQ_PROP_SHARED_SUB_AVAILABLE, SMQ_PROP_SESSION_EXPIRY,
        SMQ_PROP_SERVER_KEEP_ALIVE, SMQ_PROP_ASSIGNED_CLIENT_ID,   SMQ_PROP_RESPONSE_INFO,
        SMQ_PROP_REASON_STRING,     SMQ_PROP_AUTH_METHOD,
    };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        cr_assert_not(smq_props_has(p, absent[i]), "property 0x%02x sent", absent[i]);
    close(fd);
}

static void start_limited(void)
{
    tc_start_with("max_topic_alias 0\n" /* scoped to the harness's listener */
                  "max_qos 1\nretain_available false\nwildcard_subscription_available false\n"
                  "subscription_identifier_available false\nshared_subscription_available false\n"
                  "max_packet_size 4096\nmax_awaiting_rel 65535\n");
}

Test(v5_connect, connack_announces_what_is_disabled, .init = start_limited, .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("limited");
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    const struct smq_props *p = &rx.pkt.u.connack.props;
    cr_assert(smq_props_has(p, SMQ_PROP_MAXIMUM_QOS));
    cr_assert_eq(p->maximum_qos, 1);
    cr_assert(smq_props_has(p, SMQ_PROP_RETAIN_AVAILABLE));
    cr_assert_eq(p->retain_available, 0);
    cr_assert(smq_props_has(p, SMQ_PROP_WILDCARD_SUB_AVAILABLE));
    cr_assert_eq(p->wildcard_sub_available, 0);
    cr_assert(smq_props_has(p, SMQ_PROP_SUB_ID_AVAILABLE));
    cr_assert_eq(p->sub_id_available, 0);
    cr_assert(smq_props_has(p, SMQ_PROP_SHARED_SUB_AVAILABLE));
    cr_assert_eq(p->shared_sub_available, 0);
    cr_assert_eq(p->maximum_packet_size, 4096);
    cr_assert_not(smq_props_has(p, SMQ_PROP_RECEIVE_MAXIMUM), "65535 is the default: not said");
    cr_assert_not(smq_props_has(p, SMQ_PROP_TOPIC_ALIAS_MAXIMUM), "0 is the default: not said");
    close(fd);
}

static void start_expiry_cap(void)
{
    tc_start_with("max_session_expiry_interval 1\n");
}

Test(v5_connect, session_expiry_capped_by_the_server, .init = start_expiry_cap, .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("capped");
    ck.clean_start = false;
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    ck.props.session_expiry = 3600;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    cr_assert(smq_props_has(&rx.pkt.u.connack.props, SMQ_PROP_SESSION_EXPIRY));
    cr_assert_eq(rx.pkt.u.connack.props.session_expiry, 1);
    close(fd); /* no DISCONNECT: the session lives 1 s, not an hour */
    cr_assert(wait_log("session expired client=capped", 1, 4000));
    ck.props.session_expiry = 1; /* within the cap: not echoed */
    fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    cr_assert_eq(rx.pkt.u.connack.session_present, false, "the capped session expired");
    cr_assert_not(smq_props_has(&rx.pkt.u.connack.props, SMQ_PROP_SESSION_EXPIRY));
    close(fd);
}

Test(v5_connect, empty_client_id_gets_a_unique_assigned_one, .init = tc_start, .fini = tc_stop)
{
    char ids[2][64];
    int fds[2];
    for (int i = 0; i < 2; i++) {
        struct smq_connect ck = raw5_connect_packet("");
        struct raw5_pkt rx;
        fds[i] = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
        const struct smq_props *p = &rx.pkt.u.connack.props;
        cr_assert(smq_props_has(p, SMQ_PROP_ASSIGNED_CLIENT_ID));
        struct smq_span id = p->assigned_client_id;
        cr_assert(id.len > 5 && id.len < sizeof(ids[i]));
        memcpy(ids[i], id.ptr, id.len);
        ids[i][id.len] = '\0';
        cr_assert_eq(strncmp(ids[i], "auto-", 5), 0, "%s", ids[i]);
    }
    cr_assert_str_neq(ids[0], ids[1]);
    close(fds[0]);
    close(fds[1]);
}

Test(v5_connect, assigned_client_id_can_resume_its_session, .init = tc_start, .fini = tc_stop)
{
    /* 5.0 assigns an identifier whatever Clean Start says [MQTT-3.1.3-6]. */
    struct smq_connect ck = raw5_connect_packet("");
    ck.clean_start = false;
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    ck.props.session_expiry = 60;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    struct smq_span id = rx.pkt.u.connack.props.assigned_client_id;
    char assigned[64];
    cr_assert(id.len > 0 && id.len < sizeof(assigned));
    memcpy(assigned, id.ptr, id.len);
    assigned[id.len] = '\0';
    raw5_disconnect(fd, 0, NULL);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
    ck.client_id = smq_span_str(assigned);
    fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    cr_assert_eq(rx.pkt.u.connack.session_present, true);
    cr_assert_not(smq_props_has(&rx.pkt.u.connack.props, SMQ_PROP_ASSIGNED_CLIENT_ID));
    close(fd);
}

static void start_max_keepalive(void)
{
    tc_start_with("max_keepalive 10\n");
}

/* Connects with keep-alive ka; returns the Server Keep Alive of the CONNACK, or -1. */
static long server_keep_alive(const char *id, uint16_t ka)
{
    struct smq_connect ck = raw5_connect_packet(id);
    ck.keep_alive = ka;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    long v = smq_props_has(&rx.pkt.u.connack.props, SMQ_PROP_SERVER_KEEP_ALIVE)
                 ? rx.pkt.u.connack.props.server_keep_alive
                 : -1;
    close(fd);
    return v;
}

Test(v5_connect, server_keep_alive_lowers_a_longer_keep_alive, .init = start_max_keepalive,
     .fini = tc_stop)
{
    cr_assert_eq(server_keep_alive("ka60", 60), 10, "above max_keepalive: told, not refused");
    cr_assert_eq(server_keep_alive("ka0", 0), 10, "0 while max_keepalive is set: told");
    cr_assert_eq(server_keep_alive("ka5", 5), -1, "within max_keepalive: not said");
}

static void start_max_keepalive_1(void)
{
    tc_start_with("max_keepalive 1\n");
}

Test(v5_connect, server_keep_alive_is_enforced, .init = start_max_keepalive_1, .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("told-1s");
    ck.keep_alive = 600;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    cr_assert_eq(rx.pkt.u.connack.props.server_keep_alive, 1);
    int64_t t0 = now_ms();
    cr_assert_eq(raw5_await_disconnect(fd, &rx, 4000), SMQ_RC_KEEP_ALIVE_TIMEOUT);
    int64_t took = now_ms() - t0;
    cr_assert(took >= 1400 && took < 3500, "closed after %lld ms for a 1 s keep-alive",
              (long long)took);
    close(fd);
}

static void start_response_info(void)
{
    tc_start_with("response_information true\n");
}

/* Connects id asking (or not) for response information; copies what came into out. */
static bool response_info_of(const char *id, bool ask, char *out, size_t cap)
{
    struct smq_connect ck = raw5_connect_packet(id);
    if (ask) {
        ck.props.present = SMQ_PROP_BIT(SMQ_PROP_REQUEST_RESPONSE_INFO);
        ck.props.request_response_info = 1;
    }
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    const struct smq_props *p = &rx.pkt.u.connack.props;
    bool sent = smq_props_has(p, SMQ_PROP_RESPONSE_INFO);
    if (sent)
        snprintf(out, cap, "%.*s", (int)p->response_info.len, (const char *)p->response_info.ptr);
    close(fd);
    return sent;
}

Test(v5_connect, response_information_when_requested, .init = start_response_info, .fini = tc_stop)
{
    char info[128];
    cr_assert(response_info_of("asker", true, info, sizeof(info)));
    cr_assert_str_eq(info, "reply/asker/");
    cr_assert_not(response_info_of("quiet", false, info, sizeof(info)), "not asked: not sent");
    cr_assert_not(response_info_of("a/b", true, info, sizeof(info)),
                  "an identifier with '/' would change the topic's shape");
}

Test(v5_connect, response_information_off_by_default, .init = tc_start, .fini = tc_stop)
{
    char info[128];
    cr_assert_not(response_info_of("asker", true, info, sizeof(info)));
}

Test(v5_connect, user_properties_in_connect_are_accepted, .init = tc_start, .fini = tc_stop)
{
    struct tc *c = tc_new5("with-user-props", true);
    mosquitto_property *props = NULL;
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "region", "eu");
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "region", "us");
    cr_assert_eq(tc_connect5(c, &tc_broker, 60, props), 0);
    mosquitto_property_free_all(&props);
}

Test(v5_connect, receive_maximum_of_the_client_bounds_inflight, .init = tc_start, .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("small-window");
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_RECEIVE_MAXIMUM);
    ck.props.receive_maximum = 2;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    raw5_subscribe(fd, "rm/t", 1);
    struct tc *pub = client5("rm-pub", true, -1);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(tc_publish5(pub, "rm/t", "m", 1, false, NULL), 0);
    struct raw5_received got[5];
    int n = raw5_read_publishes(fd, 5, got, 600);
    cr_assert_eq(n, 2, "Receive Maximum 2 [MQTT-3.3.4-9]");
    raw5_ack(fd, SMQ_PUBACK, got[n - 1].packet_id, 0);
    cr_assert_eq(raw5_read_publishes(fd, 5, got, 600), 1, "one acknowledged, one more sent");
    close(fd);
}

/* ---- CONNACK reason codes -------------------------------------------------------------- */

Test(v5_connect, malformed_connect_gets_0x81, .init = tc_start, .fini = tc_stop)
{
    /* A CONNECT whose property block holds an unknown identifier (0x7F). */
    const uint8_t pkt[] = {0x10, 17, 0, 4,    'M', 'Q', 'T', 'T', 5,  0x02,
                           0,    60, 2, 0x7F, 0,   0,   2,   'i', 'd'};
    int fd = raw_connect(&tc_broker);
    cr_assert_eq(raw_send(fd, pkt, sizeof(pkt)), 0);
    struct raw5_pkt rx;
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_CONNACK);
    cr_assert_eq(rx.pkt.u.connack.reason, SMQ_RC_MALFORMED);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(v5_connect, protocol_error_in_connect_gets_0x82, .init = tc_start, .fini = tc_stop)
{
    /* Receive Maximum 0 is a protocol error (3.1.2.11.3). */
    const uint8_t pkt[] = {0x10, 18, 0, 4,    'M', 'Q', 'T', 'T', 5,   0x02,
                           0,    60, 3, 0x21, 0,   0,   0,   2,   'i', 'd'};
    int fd = raw_connect(&tc_broker);
    cr_assert_eq(raw_send(fd, pkt, sizeof(pkt)), 0);
    struct raw5_pkt rx;
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_CONNACK);
    cr_assert_eq(rx.pkt.u.connack.reason, SMQ_RC_PROTOCOL_ERROR);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(v5_connect, unknown_protocol_level_gets_0x84_in_311_format, .init = tc_start, .fini = tc_stop)
{
    /* The client asked for level 6: it cannot be assumed to read 5.0's CONNACK, so 0x84
     * goes out as 3.1.1's return code 0x01. */
    struct raw_connect_opts o = RAW_CONNECT_OPTS("level6");
    o.level = 6;
    int fd = raw_connect(&tc_broker);
    cr_assert_eq(raw_connect_with(fd, &o, NULL), 0x01);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

static void start_short_ids(void)
{
    tc_start_with("max_clientid_length 23\n");
}

Test(v5_connect, client_id_too_long_gets_0x85, .init = start_short_ids, .fini = tc_stop)
{
    struct tc *c = tc_new5("abcdefghijklmnopqrstuvwx", true); /* 24 bytes */
    cr_assert_eq(tc_connect5(c, &tc_broker, 60, NULL), SMQ_RC_CLIENT_ID_INVALID);
}

static void start_no_anonymous(void)
{
    tc_start_with("allow_anonymous false\n");
}

Test(v5_connect, credentials_without_a_password_source_get_0x86, .init = start_no_anonymous,
     .fini = tc_stop)
{
    struct tc *c = tc_new5("with-creds", true);
    mosquitto_username_pw_set(c->m, "alice", "secret");
    cr_assert_eq(tc_connect5(c, &tc_broker, 60, NULL), SMQ_RC_BAD_USERNAME_PASSWORD);
}

Test(v5_connect, anonymous_client_gets_0x87_when_not_allowed, .init = start_no_anonymous,
     .fini = tc_stop)
{
    struct tc *c = tc_new5("anon", true);
    cr_assert_eq(tc_connect5(c, &tc_broker, 60, NULL), SMQ_RC_NOT_AUTHORIZED);
}

static void start_short_topics(void)
{
    tc_start_with("max_topic_length 16\n");
}

Test(v5_connect, will_topic_over_the_limit_gets_0x90, .init = start_short_topics, .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("long-will");
    ck.will = true;
    ck.will_topic = smq_span_str("a/will/topic/longer/than/16");
    ck.will_payload = smq_span_str("x");
    expect_refused(&ck, SMQ_RC_TOPIC_NAME_INVALID);
}

static void start_small_packets(void)
{
    tc_start_with("max_packet_size 64\n");
}

Test(v5_connect, connect_larger_than_max_packet_size_gets_0x95, .init = start_small_packets,
     .fini = tc_stop)
{
    char id[120];
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    struct smq_connect ck = raw5_connect_packet(id);
    expect_refused(&ck, SMQ_RC_PACKET_TOO_LARGE);
    /* 3.1.1 has no such code: closed without CONNACK. */
    struct raw_connect_opts o = RAW_CONNECT_OPTS(id);
    int fd = raw_connect(&tc_broker);
    cr_assert_eq(raw_connect_with(fd, &o, NULL), -1);
    close(fd);
}

static void start_one_session(void)
{
    tc_start_with("max_sessions 1\n");
}

Test(v5_connect, session_quota_gets_0x97, .init = start_one_session, .fini = tc_stop)
{
    client5("first", true, -1);
    struct tc *second = tc_new5("second", true);
    cr_assert_eq(tc_connect5(second, &tc_broker, 60, NULL), SMQ_RC_QUOTA_EXCEEDED);
}

static void start_validating(void)
{
    tc_start_with("validate_payload_format true\n");
}

/* A CONNECT whose will says its payload is UTF-8. */
static struct smq_connect utf8_will(const char *id, const char *payload)
{
    struct smq_connect ck = raw5_connect_packet(id);
    ck.will = true;
    ck.will_topic = smq_span_str("will/utf8");
    ck.will_payload = smq_span_str(payload);
    ck.will_props.present = SMQ_PROP_BIT(SMQ_PROP_PAYLOAD_FORMAT);
    ck.will_props.payload_format = 1;
    return ck;
}

Test(v5_connect, will_payload_not_utf8_gets_0x99, .init = start_validating, .fini = tc_stop)
{
    struct smq_connect bad = utf8_will("bad-will", "\xff\xfe not text");
    expect_refused(&bad, SMQ_RC_PAYLOAD_FORMAT_INVALID);
    struct smq_connect good = utf8_will("good-will", "gr\xc3\xbc\xc3\x9f"
                                                     "e");
    struct raw5_pkt rx;
    close(raw5_connect_expect(&tc_broker, &good, &rx, 0));
}

Test(v5_connect, will_payload_format_unchecked_by_default, .init = tc_start, .fini = tc_stop)
{
    struct smq_connect bad = utf8_will("bad-will", "\xff\xfe not text");
    struct raw5_pkt rx;
    close(raw5_connect_expect(&tc_broker, &bad, &rx, 0));
}

static void start_no_retain(void)
{
    tc_start_with("retain_available false\n");
}

Test(v5_connect, retained_will_gets_0x9a_without_retain, .init = start_no_retain, .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("retained-will");
    ck.will = true;
    ck.will_retain = true;
    ck.will_topic = smq_span_str("will/r");
    ck.will_payload = smq_span_str("x");
    expect_refused(&ck, SMQ_RC_RETAIN_NOT_SUPPORTED);
}

static void start_max_qos_1(void)
{
    tc_start_with("max_qos 1\n");
}

Test(v5_connect, will_qos_above_maximum_gets_0x9b, .init = start_max_qos_1, .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("qos2-will");
    ck.will = true;
    ck.will_qos = 2;
    ck.will_topic = smq_span_str("will/q");
    ck.will_payload = smq_span_str("x");
    expect_refused(&ck, SMQ_RC_QOS_NOT_SUPPORTED);
    ck.will_qos = 1;
    struct raw5_pkt rx;
    close(raw5_connect_expect(&tc_broker, &ck, &rx, 0));
}

/* ---- Request Problem Information ------------------------------------------------------- */

/* Connects refused (allow_anonymous false) with problem information asked or not; returns
 * whether the CONNACK carried a Reason String. */
static bool refusal_has_reason_string(const char *id, bool problem_info)
{
    struct smq_connect ck = raw5_connect_packet(id);
    if (!problem_info) {
        ck.props.present = SMQ_PROP_BIT(SMQ_PROP_REQUEST_PROBLEM_INFO);
        ck.props.request_problem_info = 0;
    }
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, SMQ_RC_NOT_AUTHORIZED);
    bool sent = smq_props_has(&rx.pkt.u.connack.props, SMQ_PROP_REASON_STRING);
    close(fd);
    return sent;
}

Test(v5_connect, problem_info_0_suppresses_the_connack_reason_string, .init = start_no_anonymous,
     .fini = tc_stop)
{
    cr_assert(refusal_has_reason_string("talkative", true));
    cr_assert_not(refusal_has_reason_string("terse", false));
}

/* Sends a second CONNECT on an accepted connection; returns whether the DISCONNECT 0x82
 * carried a Reason String. */
static bool protocol_error_has_reason_string(const char *id, bool problem_info)
{
    struct smq_connect ck = raw5_connect_packet(id);
    if (!problem_info) {
        ck.props.present = SMQ_PROP_BIT(SMQ_PROP_REQUEST_PROBLEM_INFO);
        ck.props.request_problem_info = 0;
    }
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    struct smq_packet again = {.type = SMQ_CONNECT};
    again.u.connect = ck;
    raw5_send(fd, &again);
    cr_assert_eq(raw5_await_disconnect(fd, &rx, 3000), SMQ_RC_PROTOCOL_ERROR);
    bool sent = smq_props_has(&rx.pkt.u.disconnect.props, SMQ_PROP_REASON_STRING);
    if (sent)
        cr_assert(smq_span_eq_str(rx.pkt.u.disconnect.props.reason_string, "second CONNECT"));
    close(fd);
    return sent;
}

Test(v5_connect, problem_info_0_suppresses_the_disconnect_reason_string, .init = tc_start,
     .fini = tc_stop)
{
    cr_assert(protocol_error_has_reason_string("talkative", true));
    cr_assert_not(protocol_error_has_reason_string("terse", false));
}

Test(v5_connect, reason_string_dropped_beyond_the_clients_maximum_packet_size,
     .init = start_no_anonymous, .fini = tc_stop)
{
    /* [MQTT-3.2.2-19]: the refusal fits in 20 bytes only without its Reason String. */
    struct smq_connect ck = raw5_connect_packet("tiny");
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_MAXIMUM_PACKET_SIZE);
    ck.props.maximum_packet_size = 20;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, SMQ_RC_NOT_AUTHORIZED);
    cr_assert_not(smq_props_has(&rx.pkt.u.connack.props, SMQ_PROP_REASON_STRING));
    close(fd);
}

/* ---- enhanced authentication ------------------------------------------------------------ */

static void start_auth(void)
{
    setenv("SMQ_TEST_AUTH_SECRET", SECRET, 1);
    tc_start_with("allow_anonymous false\n"); /* the method admits; nothing else does */
}

/* A CONNECT naming the test method with data (NULL: none). */
static struct smq_connect auth_connect(const char *id, const char *method, const char *data)
{
    struct smq_connect ck = raw5_connect_packet(id);
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_AUTH_METHOD);
    ck.props.auth_method = smq_span_str(method);
    if (data) {
        ck.props.present |= SMQ_PROP_BIT(SMQ_PROP_AUTH_DATA);
        ck.props.auth_data = smq_span_str(data);
    }
    return ck;
}

/* Runs the challenge exchange up to the AUTH 0x18 from the server; copies the challenge. */
static int challenged(const char *id, char *challenge, size_t cap)
{
    struct smq_connect ck = auth_connect(id, TEST_METHOD, NULL);
    struct raw5_pkt rx;
    int fd = raw5_open_with(&tc_broker, &ck, &rx);
    cr_assert_eq(rx.pkt.type, SMQ_AUTH, "got packet type %d", rx.pkt.type);
    const struct smq_reason_packet *a = &rx.pkt.u.auth;
    cr_assert_eq(a->reason, SMQ_RC_CONTINUE_AUTHENTICATION);
    cr_assert(smq_span_eq_str(a->props.auth_method, TEST_METHOD), "[MQTT-4.12.0-5]");
    cr_assert(smq_props_has(&a->props, SMQ_PROP_AUTH_DATA));
    snprintf(challenge, cap, "%.*s", (int)a->props.auth_data.len,
             (const char *)a->props.auth_data.ptr);
    return fd;
}

Test(v5_connect, auth_one_step_success, .init = start_auth, .fini = tc_stop)
{
    struct smq_connect ck = auth_connect("one-step", TEST_METHOD, SECRET);
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    const struct smq_props *p = &rx.pkt.u.connack.props;
    cr_assert(smq_span_eq_str(p->auth_method, TEST_METHOD));
    cr_assert(smq_span_eq_str(p->auth_data, "welcome"));
    cr_assert(raw_ping(fd), "the connection works");
    close(fd);
}

Test(v5_connect, auth_continue_then_success, .init = start_auth, .fini = tc_stop)
{
    char challenge[64], answer[128];
    int fd = challenged("two-step", challenge, sizeof(challenge));
    snprintf(answer, sizeof(answer), "%s:%s", SECRET, challenge);
    raw5_auth(fd, SMQ_RC_CONTINUE_AUTHENTICATION, TEST_METHOD, answer);
    struct raw5_pkt rx;
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_CONNACK);
    cr_assert_eq(rx.pkt.u.connack.reason, 0);
    cr_assert(smq_span_eq_str(rx.pkt.u.connack.props.auth_method, TEST_METHOD));
    cr_assert(smq_span_eq_str(rx.pkt.u.connack.props.auth_data, "welcome"));
    cr_assert(raw_ping(fd));
    close(fd);
}

Test(v5_connect, auth_wrong_answer_gets_0x87, .init = start_auth, .fini = tc_stop)
{
    char challenge[64];
    int fd = challenged("wrong", challenge, sizeof(challenge));
    raw5_auth(fd, SMQ_RC_CONTINUE_AUTHENTICATION, TEST_METHOD, "guess:n-0");
    struct raw5_pkt rx;
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_CONNACK);
    cr_assert_eq(rx.pkt.u.connack.reason, SMQ_RC_NOT_AUTHORIZED);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(v5_connect, auth_unsupported_method_gets_0x8c, .init = start_auth, .fini = tc_stop)
{
    struct smq_connect ck = auth_connect("unknown-method", "SCRAM-SHA-512", "n,,n=user");
    expect_refused(&ck, SMQ_RC_BAD_AUTH_METHOD);
}

Test(v5_connect, auth_test_method_off_without_its_variable, .init = tc_start, .fini = tc_stop)
{
    struct smq_connect ck = auth_connect("no-test-method", TEST_METHOD, SECRET);
    expect_refused(&ck, SMQ_RC_BAD_AUTH_METHOD);
}

Test(v5_connect, auth_with_another_method_before_connack_gets_0x82, .init = start_auth,
     .fini = tc_stop)
{
    char challenge[64];
    int fd = challenged("switcher", challenge, sizeof(challenge));
    raw5_auth(fd, SMQ_RC_CONTINUE_AUTHENTICATION, "OTHER", "x");
    struct raw5_pkt rx;
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_CONNACK);
    cr_assert_eq(rx.pkt.u.connack.reason, SMQ_RC_PROTOCOL_ERROR);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(v5_connect, auth_without_a_method_before_connack_gets_0x82, .init = start_auth,
     .fini = tc_stop)
{
    char challenge[64];
    int fd = challenged("methodless", challenge, sizeof(challenge));
    const uint8_t bare_auth[2] = {0xf0, 0}; /* AUTH, reason 0x00, no properties */
    cr_assert_eq(raw_send(fd, bare_auth, 2), 0);
    struct raw5_pkt rx;
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_CONNACK);
    cr_assert_eq(rx.pkt.u.connack.reason, SMQ_RC_PROTOCOL_ERROR);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(v5_connect, other_packet_during_auth_gets_0x82, .init = start_auth, .fini = tc_stop)
{
    char challenge[64];
    int fd = challenged("impatient", challenge, sizeof(challenge));
    const uint8_t ping[2] = {0xc0, 0};
    cr_assert_eq(raw_send(fd, ping, 2), 0);
    struct raw5_pkt rx;
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_CONNACK);
    cr_assert_eq(rx.pkt.u.connack.reason, SMQ_RC_PROTOCOL_ERROR);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

/* An authenticated connection (one step). */
static int authenticated(const char *id)
{
    struct smq_connect ck = auth_connect(id, TEST_METHOD, SECRET);
    struct raw5_pkt rx;
    return raw5_connect_expect(&tc_broker, &ck, &rx, 0);
}

Test(v5_connect, reauthentication_succeeds, .init = start_auth, .fini = tc_stop)
{
    int fd = authenticated("reauth");
    raw5_auth(fd, SMQ_RC_REAUTHENTICATE, TEST_METHOD, NULL);
    struct raw5_pkt rx;
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_AUTH);
    cr_assert_eq(rx.pkt.u.auth.reason, SMQ_RC_CONTINUE_AUTHENTICATION);
    char answer[128];
    snprintf(answer, sizeof(answer), "%s:%.*s", SECRET, (int)rx.pkt.u.auth.props.auth_data.len,
             (const char *)rx.pkt.u.auth.props.auth_data.ptr);
    raw5_auth(fd, SMQ_RC_CONTINUE_AUTHENTICATION, TEST_METHOD, answer);
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_AUTH);
    cr_assert_eq(rx.pkt.u.auth.reason, SMQ_RC_SUCCESS);
    cr_assert(smq_span_eq_str(rx.pkt.u.auth.props.auth_method, TEST_METHOD));
    cr_assert(smq_span_eq_str(rx.pkt.u.auth.props.auth_data, "welcome"));
    cr_assert(raw_ping(fd), "the connection goes on");
    /* And once more, in one step. */
    raw5_auth(fd, SMQ_RC_REAUTHENTICATE, TEST_METHOD, SECRET);
    cr_assert_eq(raw5_read(fd, &rx, 3000), SMQ_AUTH);
    cr_assert_eq(rx.pkt.u.auth.reason, SMQ_RC_SUCCESS);
    close(fd);
}

Test(v5_connect, failed_reauthentication_disconnects_0x87, .init = start_auth, .fini = tc_stop)
{
    int fd = authenticated("reauth-fail");
    raw5_auth(fd, SMQ_RC_REAUTHENTICATE, TEST_METHOD, "not the secret");
    struct raw5_pkt rx;
    cr_assert_eq(raw5_await_disconnect(fd, &rx, 3000), SMQ_RC_NOT_AUTHORIZED);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(v5_connect, reauthentication_with_another_method_disconnects_0x8c, .init = start_auth,
     .fini = tc_stop)
{
    int fd = authenticated("reauth-other");
    raw5_auth(fd, SMQ_RC_REAUTHENTICATE, "OTHER", SECRET);
    struct raw5_pkt rx;
    cr_assert_eq(raw5_await_disconnect(fd, &rx, 3000), SMQ_RC_BAD_AUTH_METHOD);
    close(fd);
}

Test(v5_connect, auth_without_a_method_in_connect_disconnects_0x82, .init = tc_start,
     .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("no-method");
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    raw5_auth(fd, SMQ_RC_REAUTHENTICATE, TEST_METHOD, SECRET);
    cr_assert_eq(raw5_await_disconnect(fd, &rx, 3000), SMQ_RC_PROTOCOL_ERROR);
    close(fd);
}

/* ---- server DISCONNECT ------------------------------------------------------------------ */

Test(v5_connect, shutdown_sends_0x8b, .init = tc_start, .fini = tc_stop)
{
    struct tc *c = client5("at-shutdown", true, -1);
    struct smq_connect ck = raw5_connect_packet("raw-at-shutdown");
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    cr_assert_eq(broker_stop(&tc_broker), 0); /* SIGTERM; waits for the exit */
    WAIT_FOR(c->disconnected, 3000);
    cr_assert_eq(c->disconnect_reason, SMQ_RC_SERVER_SHUTTING_DOWN);
    /* libmosquitto does not hand DISCONNECT properties over: read them raw. */
    cr_assert_eq(raw5_await_disconnect(fd, &rx, 1000), SMQ_RC_SERVER_SHUTTING_DOWN);
    cr_assert(smq_span_eq_str(rx.pkt.u.disconnect.props.reason_string, "server shutting down"));
    close(fd);
}

Test(v5_connect, silent_client_gets_0x8d, .init = tc_start, .fini = tc_stop)
{
    struct smq_connect ck = raw5_connect_packet("silent");
    ck.keep_alive = 1;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    int64_t t0 = now_ms();
    cr_assert_eq(raw5_await_disconnect(fd, &rx, 4000), SMQ_RC_KEEP_ALIVE_TIMEOUT);
    int64_t took = now_ms() - t0;
    cr_assert(took >= 1400 && took < 3500, "after %lld ms", (long long)took);
    cr_assert(smq_props_has(&rx.pkt.u.disconnect.props, SMQ_PROP_REASON_STRING));
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
}

Test(v5_connect, takeover_sends_0x8e, .init = tc_start, .fini = tc_stop)
{
    struct tc *first = client5("twin", true, -1);
    struct tc *second = client5("twin", true, -1);
    WAIT_FOR(first->disconnected, 3000);
    cr_assert_eq(first->disconnect_reason, SMQ_RC_SESSION_TAKEN_OVER);
    cr_assert_not(second->disconnected);
}

/* ---- the Will Delay Interval ------------------------------------------------------------- */

/* A raw v5 connection with a will on topic, delayed by delay s, in a session that lives
 * expiry s (clean start false). */
static int connect_with_will(const char *id, const char *topic, uint32_t delay, uint32_t expiry)
{
    struct smq_connect ck = raw5_connect_packet(id);
    ck.clean_start = false;
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    ck.props.session_expiry = expiry;
    ck.will = true;
    ck.will_qos = 1;
    ck.will_topic = smq_span_str(topic);
    ck.will_payload = smq_span_str("gone");
    if (delay) {
        ck.will_props.present = SMQ_PROP_BIT(SMQ_PROP_WILL_DELAY);
        ck.will_props.will_delay = delay;
    }
    struct raw5_pkt rx;
    return raw5_connect_expect(&tc_broker, &ck, &rx, 0);
}

/* A subscriber for topic. */
static struct tc *will_watcher(const char *topic)
{
    struct tc *sub = client5("watcher", true, -1);
    cr_assert_eq(tc_subscribe5(sub, topic, 1, 0, NULL), 1);
    return sub;
}

Test(v5_connect, will_waits_for_its_delay, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/delayed");
    int fd = connect_with_will("delayed", "will/delayed", 1, 60);
    close(fd); /* no DISCONNECT: the will is due, after 1 s */
    int64_t t0 = now_ms();
    WAIT_FOR(tc_count(sub, "will/delayed", "gone") == 1, 4000);
    int64_t took = now_ms() - t0;
    cr_assert_eq(tc_count(sub, "will/delayed", "gone"), 1);
    cr_assert(took >= 900 && took < 2500, "will after %lld ms, delay 1 s", (long long)took);
}

Test(v5_connect, will_without_delay_goes_at_once, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/now");
    int fd = connect_with_will("prompt", "will/now", 0, 60);
    close(fd);
    int64_t t0 = now_ms();
    WAIT_FOR(tc_count(sub, "will/now", "gone") == 1, 3000);
    cr_assert_eq(tc_count(sub, "will/now", "gone"), 1);
    cr_assert_lt(now_ms() - t0, 800);
}

Test(v5_connect, reconnect_within_the_delay_cancels_the_will, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/cancelled");
    int fd = connect_with_will("comeback", "will/cancelled", 1, 60);
    close(fd);
    pump_for(200);
    /* [MQTT-3.1.3-9] back within the delay, resuming the session: no will. */
    struct smq_connect ck = raw5_connect_packet("comeback");
    ck.clean_start = false;
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    ck.props.session_expiry = 60;
    struct raw5_pkt rx;
    fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    cr_assert_eq(rx.pkt.u.connack.session_present, true);
    pump_for(1800);
    cr_assert_eq(tc_count(sub, "will/cancelled", NULL), 0, "the will was published");
    close(fd);
}

Test(v5_connect, clean_start_reconnect_ends_the_session_and_sends_the_will, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/ended");
    int fd = connect_with_will("restart", "will/ended", 30, 60);
    close(fd);
    pump_for(200);
    cr_assert_eq(tc_count(sub, "will/ended", NULL), 0);
    /* Clean start: the old session ends now. */
    struct smq_connect ck = raw5_connect_packet("restart");
    struct raw5_pkt rx;
    fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    cr_assert_eq(rx.pkt.u.connack.session_present, false);
    WAIT_FOR(tc_count(sub, "will/ended", "gone") == 1, 2000);
    cr_assert_eq(tc_count(sub, "will/ended", "gone"), 1);
    close(fd);
}

/* Takes the session of id over with Clean Start clean; returns the new socket after checking
 * the old one heard 0x8E. */
static int take_over_raw(int old_fd, const char *id, bool clean)
{
    struct smq_connect ck = raw5_connect_packet(id);
    ck.clean_start = clean;
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    ck.props.session_expiry = 60;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    cr_assert_eq(rx.pkt.u.connack.session_present, !clean);
    cr_assert_eq(raw5_await_disconnect(old_fd, &rx, 3000), SMQ_RC_SESSION_TAKEN_OVER);
    close(old_fd);
    return fd;
}

Test(v5_connect, takeover_resuming_the_session_cancels_a_delayed_will, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/taken");
    int old_fd = connect_with_will("taken", "will/taken", 1, 60);
    int fd = take_over_raw(old_fd, "taken", false);
    pump_for(1600);
    cr_assert_eq(tc_count(sub, "will/taken", NULL), 0, "[MQTT-3.1.3-9]");
    close(fd);
}

Test(v5_connect, takeover_with_clean_start_sends_a_delayed_will, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/replaced");
    int old_fd = connect_with_will("replaced", "will/replaced", 30, 60);
    int fd = take_over_raw(old_fd, "replaced", true);
    WAIT_FOR(tc_count(sub, "will/replaced", "gone") == 1, 2000);
    cr_assert_eq(tc_count(sub, "will/replaced", "gone"), 1, "the old session ended");
    close(fd);
}

Test(v5_connect, will_goes_when_the_session_expires_first, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/expired");
    int fd = connect_with_will("short-lived", "will/expired", 30, 1);
    close(fd);
    int64_t t0 = now_ms();
    WAIT_FOR(tc_count(sub, "will/expired", "gone") == 1, 4000);
    int64_t took = now_ms() - t0;
    cr_assert_eq(tc_count(sub, "will/expired", "gone"), 1);
    cr_assert(took >= 900 && took < 2500, "will after %lld ms: session expiry 1 s, delay 30 s",
              (long long)took);
}

Test(v5_connect, will_with_session_expiry_0_ignores_the_delay, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/zero");
    int fd = connect_with_will("no-session", "will/zero", 30, 0);
    close(fd); /* the session ends with the connection: so does the wait */
    WAIT_FOR(tc_count(sub, "will/zero", "gone") == 1, 1500);
    cr_assert_eq(tc_count(sub, "will/zero", "gone"), 1);
}

Test(v5_connect, will_properties_are_forwarded_and_expiry_starts_at_publication, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/props");
    struct smq_connect ck = raw5_connect_packet("propful");
    ck.will = true;
    ck.will_topic = smq_span_str("will/props");
    ck.will_payload = smq_span_str("bye");
    ck.will_props.present = SMQ_PROP_BIT(SMQ_PROP_CONTENT_TYPE) |
                            SMQ_PROP_BIT(SMQ_PROP_MESSAGE_EXPIRY) |
                            SMQ_PROP_BIT(SMQ_PROP_WILL_DELAY);
    ck.will_props.content_type = smq_span_str("text/plain");
    ck.will_props.message_expiry = 2;
    ck.will_props.will_delay = 2;
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    ck.props.session_expiry = 60;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    close(fd);
    WAIT_FOR(tc_count(sub, "will/props", "bye") == 1, 4000);
    const struct tmsg *m = tc_find(sub, "will/props");
    cr_assert_not_null(m);
    char ct[64];
    cr_assert(tc_prop_str(m->props, MQTT_PROP_CONTENT_TYPE, ct, sizeof(ct)));
    cr_assert_str_eq(ct, "text/plain");
    /* Counted from CONNECT, 2 s of expiry would be gone after the 2 s delay. */
    cr_assert_eq(tc_prop_int(m->props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL), 2);
}

Test(v5_connect, disconnect_0x04_sends_the_will, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/asked");
    int fd = connect_with_will("asks", "will/asked", 0, 0);
    raw5_disconnect(fd, SMQ_RC_DISCONNECT_WITH_WILL, NULL);
    WAIT_FOR(tc_count(sub, "will/asked", "gone") == 1, 2000);
    cr_assert_eq(tc_count(sub, "will/asked", "gone"), 1);
    close(fd);
}

Test(v5_connect, normal_disconnect_drops_a_delayed_will, .init = tc_start, .fini = tc_stop)
{
    struct tc *sub = will_watcher("will/dropped");
    int fd = connect_with_will("polite", "will/dropped", 1, 60);
    raw5_disconnect(fd, 0, NULL);
    cr_assert(raw_wait_closed(fd, 2000));
    close(fd);
    pump_for(1600);
    cr_assert_eq(tc_count(sub, "will/dropped", NULL), 0);
}

/* ---- session expiry ----------------------------------------------------------------------- */

Test(v5_connect, session_lives_its_expiry_then_ends, .init = tc_start, .fini = tc_stop)
{
    struct tc *c = client5("lives-1s", false, 1);
    cr_assert_eq(tc_subscribe5(c, "exp/t", 1, 0, NULL), 1);
    tc_disconnect(c);
    tc_free(c);
    c = client5("lives-1s", false, 1);
    cr_assert_eq(c->session_present, 1, "kept within its expiry");
    tc_disconnect(c);
    tc_free(c);
    int64_t t0 = now_ms();
    cr_assert(wait_log("session expired client=lives-1s", 1, 4000), "never expired");
    int64_t took = now_ms() - t0;
    cr_assert(took >= 900 && took < 2500, "expired after %lld ms, expiry 1 s", (long long)took);
    c = client5("lives-1s", false, 1);
    cr_assert_eq(c->session_present, 0, "expired session still present");
}

Test(v5_connect, absent_session_expiry_ends_the_session_with_the_connection, .init = tc_start,
     .fini = tc_stop)
{
    struct tc *c = client5("no-expiry", false, -1);
    tc_disconnect(c);
    tc_free(c);
    c = client5("no-expiry", false, -1);
    cr_assert_eq(c->session_present, 0, "3.1.2.11.2: absent means 0");
}

Test(v5_connect, clean_start_with_expiry_survives_the_connection, .init = tc_start, .fini = tc_stop)
{
    struct tc *c = client5("fresh-but-kept", true, 60);
    cr_assert_eq(c->session_present, 0);
    cr_assert_eq(tc_subscribe5(c, "kept/t", 1, 0, NULL), 1);
    tc_disconnect(c);
    tc_free(c);
    struct tc *pub = client5("kept-pub", true, -1);
    cr_assert_eq(tc_publish5(pub, "kept/t", "queued", 1, false, NULL), 0);
    c = client5("fresh-but-kept", false, 60);
    cr_assert_eq(c->session_present, 1);
    WAIT_FOR(tc_count(c, "kept/t", "queued") == 1, 3000);
    cr_assert_eq(tc_count(c, "kept/t", "queued"), 1, "the offline queue survived");
}

Test(v5_connect, sessions_expire_on_every_worker, .init = tc_start, .fini = tc_stop)
{
    char id[32];
    for (int i = 0; i < 8; i++) { /* round robin: two per worker */
        snprintf(id, sizeof(id), "spread-%d", i);
        struct tc *c = client5(id, false, 1);
        tc_disconnect(c);
        tc_free(c);
    }
    cr_assert(wait_log("session expired client=spread-", 8, 5000), "%d of 8 expired",
              broker_log_count(&tc_broker, "session expired client=spread-"));
}

/* Connects id (clean start false) with Session Expiry connect_expiry and leaves with a
 * DISCONNECT carrying disconnect_expiry; returns the reason of the server's DISCONNECT, or
 * -1 when the broker just closed. */
static int leave_with_expiry(const char *id, uint32_t connect_expiry, uint32_t disconnect_expiry)
{
    struct smq_connect ck = raw5_connect_packet(id);
    ck.clean_start = false;
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    ck.props.session_expiry = connect_expiry;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    struct smq_props props = {.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY),
                              .session_expiry = disconnect_expiry};
    raw5_disconnect(fd, 0, &props);
    int reason = raw5_await_disconnect(fd, &rx, 1000);
    close(fd);
    return reason;
}

static bool session_present(const char *id)
{
    struct smq_connect ck = raw5_connect_packet(id);
    ck.clean_start = false;
    ck.props.present = SMQ_PROP_BIT(SMQ_PROP_SESSION_EXPIRY);
    ck.props.session_expiry = 60;
    struct raw5_pkt rx;
    int fd = raw5_connect_expect(&tc_broker, &ck, &rx, 0);
    close(fd);
    return rx.pkt.u.connack.session_present;
}

Test(v5_connect, disconnect_lowers_session_expiry_to_0, .init = tc_start, .fini = tc_stop)
{
    cr_assert_eq(leave_with_expiry("lowered", 60, 0), -1);
    pump_for(100);
    cr_assert_not(session_present("lowered"), "DISCONNECT set 0: ended at once");
}

Test(v5_connect, disconnect_raises_a_nonzero_session_expiry, .init = tc_start, .fini = tc_stop)
{
    cr_assert_eq(leave_with_expiry("raised", 1, 60), -1);
    pump_for(1800);
    cr_assert(session_present("raised"), "DISCONNECT set 60 s: alive after 1.8 s");
}

Test(v5_connect, disconnect_raising_expiry_from_0_gets_0x82, .init = tc_start, .fini = tc_stop)
{
    /* [MQTT-3.14.2-2] */
    cr_assert_eq(leave_with_expiry("from-zero", 0, 30), SMQ_RC_PROTOCOL_ERROR);
    pump_for(100);
    cr_assert_not(session_present("from-zero"), "the session ended with its connection");
}
