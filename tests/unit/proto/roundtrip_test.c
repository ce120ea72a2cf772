/* Round trips: every packet type in every protocol level where it exists (AUTH only in 5.0)
 * is built as a struct, encoded, decoded with opts.version set, and compared field by field.
 * The 5.0 samples carry every property their packet may carry, repeated User Properties and
 * Subscription Identifiers included. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/errors.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/reason.h"

#include "packet_catalog.h"

/* ---------------------------------------------------------------------------------------
 * Comparison
 * ------------------------------------------------------------------------------------- */

static void same_span(struct smq_span want, struct smq_span got, const char *name,
                      const char *field)
{
    cr_assert(smq_span_eq(want, got), "%s: %s \"%.*s\" (len %zu), expected \"%.*s\" (len %zu)",
              name, field, (int)got.len, got.ptr ? (const char *)got.ptr : "", got.len,
              (int)want.len, want.ptr ? (const char *)want.ptr : "", want.len);
}

/* Compares decoded properties with the ones encoded. */
static void same_props(const struct smq_props *want, const struct smq_props *got, const char *name)
{
    /* User Properties of the input, walked like the decoder's. */
    size_t pos = 0, users = 0;
    struct smq_span k, v;
    while (smq_props_next_user(want, &pos, &k, &v))
        users++;
    uint64_t present = want->present;
    if (users)
        present |= SMQ_PROP_BIT(SMQ_PROP_USER_PROPERTY);
    if (want->sub_ids_len)
        present |= SMQ_PROP_BIT(SMQ_PROP_SUBSCRIPTION_ID);
    cr_assert_eq(got->present, present, "%s: present %#llx, expected %#llx", name,
                 (unsigned long long)got->present, (unsigned long long)present);

#define SAME_NUM(field, id)                                                                        \
    if (smq_props_has(want, SMQ_PROP_##id))                                                        \
    cr_assert_eq(got->field, want->field, "%s: " #field " %u, expected %u", name,                  \
                 (unsigned)got->field, (unsigned)want->field)
#define SAME_SPAN(field, id)                                                                       \
    if (smq_props_has(want, SMQ_PROP_##id))                                                        \
    same_span(want->field, got->field, name, #field)

    SAME_NUM(payload_format, PAYLOAD_FORMAT);
    SAME_NUM(message_expiry, MESSAGE_EXPIRY);
    SAME_NUM(session_expiry, SESSION_EXPIRY);
    SAME_NUM(will_delay, WILL_DELAY);
    SAME_NUM(maximum_packet_size, MAXIMUM_PACKET_SIZE);
    SAME_NUM(server_keep_alive, SERVER_KEEP_ALIVE);
    SAME_NUM(receive_maximum, RECEIVE_MAXIMUM);
    SAME_NUM(topic_alias_maximum, TOPIC_ALIAS_MAXIMUM);
    SAME_NUM(topic_alias, TOPIC_ALIAS);
    SAME_NUM(request_problem_info, REQUEST_PROBLEM_INFO);
    SAME_NUM(request_response_info, REQUEST_RESPONSE_INFO);
    SAME_NUM(maximum_qos, MAXIMUM_QOS);
    SAME_NUM(retain_available, RETAIN_AVAILABLE);
    SAME_NUM(wildcard_sub_available, WILDCARD_SUB_AVAILABLE);
    SAME_NUM(sub_id_available, SUB_ID_AVAILABLE);
    SAME_NUM(shared_sub_available, SHARED_SUB_AVAILABLE);
    SAME_SPAN(content_type, CONTENT_TYPE);
    SAME_SPAN(response_topic, RESPONSE_TOPIC);
    SAME_SPAN(correlation_data, CORRELATION_DATA);
    SAME_SPAN(assigned_client_id, ASSIGNED_CLIENT_ID);
    SAME_SPAN(auth_method, AUTH_METHOD);
    SAME_SPAN(auth_data, AUTH_DATA);
    SAME_SPAN(response_info, RESPONSE_INFO);
    SAME_SPAN(server_reference, SERVER_REFERENCE);
    SAME_SPAN(reason_string, REASON_STRING);
#undef SAME_NUM
#undef SAME_SPAN

    /* User Properties: same pairs, same order. */
    cr_assert_eq(got->user_count, users, "%s: user_count %u, expected %zu", name, got->user_count,
                 users);
    size_t wpos = 0, gpos = 0;
    struct smq_span wk, wv, gk, gv;
    for (size_t i = 0; i < users; i++) {
        cr_assert(smq_props_next_user(want, &wpos, &wk, &wv));
        cr_assert(smq_props_next_user(got, &gpos, &gk, &gv), "%s: user property %zu missing", name,
                  i);
        same_span(wk, gk, name, "user key");
        same_span(wv, gv, name, "user value");
    }
    cr_assert(!smq_props_next_user(got, &gpos, &gk, &gv), "%s: extra user property", name);

    /* Subscription Identifiers: same values, same order; the first one in the field. */
    cr_assert_eq(got->sub_id_count, want->sub_ids_len, "%s: sub_id_count %u, expected %u", name,
                 got->sub_id_count, want->sub_ids_len);
    if (want->sub_ids_len)
        cr_assert_eq(got->subscription_id, want->sub_ids[0], "%s", name);
    pos = 0;
    uint32_t id;
    for (uint16_t i = 0; i < want->sub_ids_len; i++) {
        cr_assert(smq_props_next_sub_id(got, &pos, &id), "%s: sub id %u missing", name, i);
        cr_assert_eq(id, want->sub_ids[i], "%s: sub id %u is %u, expected %u", name, i, id,
                     want->sub_ids[i]);
    }
    cr_assert(!smq_props_next_sub_id(got, &pos, &id), "%s: extra sub id", name);
}

static void no_props(const struct smq_props *got, const char *name)
{
    cr_assert_eq(got->present, 0, "%s: properties on a 3.x packet", name);
    cr_assert_eq(got->user_count, 0, "%s", name);
    cr_assert_eq(got->sub_id_count, 0, "%s", name);
}

static void check_props(uint8_t version, const struct smq_props *want, const struct smq_props *got,
                        const char *name)
{
    if (version >= SMQ_V5)
        same_props(want, got, name);
    else
        no_props(got, name);
}

static void same_connect(const struct smq_connect *w, const struct smq_connect *g, const char *name)
{
    cr_assert_eq(g->version, w->version, "%s", name);
    cr_assert_eq(g->clean_start, w->clean_start, "%s", name);
    cr_assert_eq(g->keep_alive, w->keep_alive, "%s", name);
    same_span(w->client_id, g->client_id, name, "client_id");
    cr_assert_eq(g->will, w->will, "%s", name);
    cr_assert_eq(g->will_qos, w->will_qos, "%s", name);
    cr_assert_eq(g->will_retain, w->will_retain, "%s", name);
    if (w->will) {
        same_span(w->will_topic, g->will_topic, name, "will_topic");
        same_span(w->will_payload, g->will_payload, name, "will_payload");
        check_props(w->version, &w->will_props, &g->will_props, name);
    }
    cr_assert_eq(g->has_username, w->has_username, "%s", name);
    if (w->has_username)
        same_span(w->username, g->username, name, "username");
    cr_assert_eq(g->has_password, w->has_password, "%s", name);
    if (w->has_password)
        same_span(w->password, g->password, name, "password");
    check_props(w->version, &w->props, &g->props, name);
}

static void same_packet(uint8_t version, const struct smq_packet *w, const struct smq_packet *g,
                        const char *name)
{
    cr_assert_eq(g->type, w->type, "%s: type %d", name, g->type);
    cr_assert_eq(g->flags, expected_flags(w), "%s: flags %x", name, g->flags);
    switch (w->type) {
    case SMQ_CONNECT:
        same_connect(&w->u.connect, &g->u.connect, name);
        break;
    case SMQ_CONNACK:
        cr_assert_eq(g->u.connack.session_present, w->u.connack.session_present, "%s", name);
        cr_assert_eq(g->u.connack.reason, w->u.connack.reason, "%s", name);
        check_props(version, &w->u.connack.props, &g->u.connack.props, name);
        break;
    case SMQ_PUBLISH: {
        const struct smq_publish *wp = &w->u.publish, *gp = &g->u.publish;
        cr_assert_eq(gp->qos, wp->qos, "%s", name);
        cr_assert_eq(gp->dup, wp->dup, "%s", name);
        cr_assert_eq(gp->retain, wp->retain, "%s", name);
        same_span(wp->topic, gp->topic, name, "topic");
        cr_assert_eq(gp->packet_id, wp->qos ? wp->packet_id : 0, "%s", name);
        same_span(wp->payload, gp->payload, name, "payload");
        check_props(version, &wp->props, &gp->props, name);
        break;
    }
    case SMQ_PUBACK:
    case SMQ_PUBREC:
    case SMQ_PUBREL:
    case SMQ_PUBCOMP:
        cr_assert_eq(g->u.ack.packet_id, w->u.ack.packet_id, "%s", name);
        cr_assert_eq(g->u.ack.reason, version >= SMQ_V5 ? w->u.ack.reason : 0, "%s", name);
        check_props(version, &w->u.ack.props, &g->u.ack.props, name);
        break;
    case SMQ_SUBSCRIBE: {
        const struct smq_subscribe *ws = &w->u.subscribe, *gs = &g->u.subscribe;
        cr_assert_eq(gs->packet_id, ws->packet_id, "%s", name);
        cr_assert_eq(gs->count, ws->count, "%s: count %u", name, gs->count);
        size_t pos = 0;
        for (uint32_t i = 0; i < ws->count; i++) {
            struct smq_sub_entry e;
            cr_assert(smq_subscribe_next(gs, version, &pos, &e), "%s: entry %u", name, i);
            const struct smq_sub_entry *we = &ws->list[i];
            same_span(we->filter, e.filter, name, "filter");
            cr_assert_eq(e.qos, we->qos, "%s: entry %u qos", name, i);
            bool v5 = version >= SMQ_V5;
            cr_assert_eq(e.no_local, v5 && we->no_local, "%s: entry %u", name, i);
            cr_assert_eq(e.retain_as_published, v5 && we->retain_as_published, "%s", name);
            cr_assert_eq(e.retain_handling, v5 ? we->retain_handling : 0, "%s", name);
        }
        struct smq_sub_entry e;
        cr_assert(!smq_subscribe_next(gs, version, &pos, &e), "%s: extra entry", name);
        check_props(version, &ws->props, &gs->props, name);
        break;
    }
    case SMQ_SUBACK:
    case SMQ_UNSUBACK: {
        const struct smq_sub_ack *wa = &w->u.sub_ack, *ga = &g->u.sub_ack;
        cr_assert_eq(ga->packet_id, wa->packet_id, "%s", name);
        if (w->type == SMQ_UNSUBACK && version < SMQ_V5)
            cr_assert_eq(ga->reasons.len, 0, "%s", name);
        else
            same_span(wa->reasons, ga->reasons, name, "reasons");
        check_props(version, &wa->props, &ga->props, name);
        break;
    }
    case SMQ_UNSUBSCRIBE: {
        const struct smq_unsubscribe *wu = &w->u.unsubscribe, *gu = &g->u.unsubscribe;
        cr_assert_eq(gu->packet_id, wu->packet_id, "%s", name);
        cr_assert_eq(gu->count, wu->count, "%s", name);
        size_t pos = 0;
        struct smq_span f;
        for (uint32_t i = 0; i < wu->count; i++) {
            cr_assert(smq_unsubscribe_next(gu, &pos, &f), "%s: filter %u", name, i);
            same_span(wu->list[i], f, name, "filter");
        }
        cr_assert(!smq_unsubscribe_next(gu, &pos, &f), "%s: extra filter", name);
        check_props(version, &wu->props, &gu->props, name);
        break;
    }
    case SMQ_DISCONNECT:
    case SMQ_AUTH:
        cr_assert_eq(g->u.disconnect.reason, version >= SMQ_V5 ? w->u.disconnect.reason : 0, "%s",
                     name);
        check_props(version, &w->u.disconnect.props, &g->u.disconnect.props, name);
        break;
    default:
        break;
    }
}

/* Encodes sample i, decodes it back with the connection's level, and compares. */
static void round_trip(const struct sample *s)
{
    size_t size = smq_encode_size(s->version, &s->pkt);
    cr_assert_gt(size, 0, "%s", s->name);
    uint8_t *buf = malloc(size);
    cr_assert_not_null(buf);
    cr_assert_eq(smq_encode(buf, size, s->version, &s->pkt), (ssize_t)size, "%s", s->name);
    struct smq_decode_opts opts = {.version = s->version, .sender = SMQ_SENDER_ANY};
    struct smq_packet got;
    memset(&got, 0xA5, sizeof got);
    uint8_t reason = 0;
    ssize_t n = smq_decode_packet(buf, size, &opts, &got, &reason);
    cr_assert_eq(n, (ssize_t)size, "%s: decode returned %zd (reason 0x%02x)", s->name, n, reason);
    same_packet(s->version, &s->pkt, &got, s->name);
    free(buf);
}

/* Round-trips every sample of one type; returns how many there were. */
static size_t round_trip_type(uint8_t type, uint8_t version)
{
    build_catalog();
    size_t done = 0;
    for (size_t i = 0; i < n_samples; i++) {
        if (samples[i].pkt.type == type && samples[i].version == version) {
            round_trip(&samples[i]);
            done++;
        }
    }
    return done;
}

#define ROUND_TRIP_TEST(name, type)                                                                \
    Test(roundtrip, name##_v31)                                                                    \
    {                                                                                              \
        cr_assert_gt(round_trip_type(type, SMQ_V31), 0);                                           \
    }                                                                                              \
    Test(roundtrip, name##_v311)                                                                   \
    {                                                                                              \
        cr_assert_gt(round_trip_type(type, SMQ_V311), 0);                                          \
    }                                                                                              \
    Test(roundtrip, name##_v5)                                                                     \
    {                                                                                              \
        cr_assert_gt(round_trip_type(type, SMQ_V5), 0);                                            \
    }

ROUND_TRIP_TEST(connect, SMQ_CONNECT)
ROUND_TRIP_TEST(connack, SMQ_CONNACK)
ROUND_TRIP_TEST(publish, SMQ_PUBLISH)
ROUND_TRIP_TEST(puback, SMQ_PUBACK)
ROUND_TRIP_TEST(pubrec, SMQ_PUBREC)
ROUND_TRIP_TEST(pubrel, SMQ_PUBREL)
ROUND_TRIP_TEST(pubcomp, SMQ_PUBCOMP)
ROUND_TRIP_TEST(subscribe, SMQ_SUBSCRIBE)
ROUND_TRIP_TEST(suback, SMQ_SUBACK)
ROUND_TRIP_TEST(unsubscribe, SMQ_UNSUBSCRIBE)
ROUND_TRIP_TEST(unsuback, SMQ_UNSUBACK)
ROUND_TRIP_TEST(pingreq, SMQ_PINGREQ)
ROUND_TRIP_TEST(pingresp, SMQ_PINGRESP)
ROUND_TRIP_TEST(disconnect, SMQ_DISCONNECT)

Test(roundtrip, auth_v5)
{
    cr_assert_eq(round_trip_type(SMQ_AUTH, SMQ_V5), 3);
}

Test(roundtrip, catalog_covers_every_type_in_every_level)
{
    build_catalog();
    for (uint8_t v = SMQ_V31; v <= SMQ_V5; v++) {
        for (uint8_t t = SMQ_CONNECT; t <= SMQ_AUTH; t++) {
            size_t found = 0;
            for (size_t i = 0; i < n_samples; i++)
                found += samples[i].version == v && samples[i].pkt.type == t;
            if (t == SMQ_AUTH && v < SMQ_V5)
                cr_assert_eq(found, 0);
            else
                cr_assert_gt(found, 0, "no %s for level %d", smq_packet_type_name(t), v);
        }
    }
}

Test(roundtrip, v5_samples_carry_every_allowed_property)
{
    /* Property ids allowed per packet (2.2.2.2), less User Property and Subscription
     * Identifier, which the comparison checks through multi and sub_ids. */
    static const struct {
        uint8_t type;
        uint64_t ids;
    } allowed[] = {
        {SMQ_CONNECT, BIT(SESSION_EXPIRY) | BIT(RECEIVE_MAXIMUM) | BIT(MAXIMUM_PACKET_SIZE) |
                          BIT(TOPIC_ALIAS_MAXIMUM) | BIT(REQUEST_RESPONSE_INFO) |
                          BIT(REQUEST_PROBLEM_INFO) | BIT(AUTH_METHOD) | BIT(AUTH_DATA)},
        {SMQ_CONNACK, BIT(SESSION_EXPIRY) | BIT(RECEIVE_MAXIMUM) | BIT(MAXIMUM_QOS) |
                          BIT(RETAIN_AVAILABLE) | BIT(MAXIMUM_PACKET_SIZE) |
                          BIT(ASSIGNED_CLIENT_ID) | BIT(TOPIC_ALIAS_MAXIMUM) | BIT(REASON_STRING) |
                          BIT(WILDCARD_SUB_AVAILABLE) | BIT(SUB_ID_AVAILABLE) |
                          BIT(SHARED_SUB_AVAILABLE) | BIT(SERVER_KEEP_ALIVE) | BIT(RESPONSE_INFO) |
                          BIT(SERVER_REFERENCE) | BIT(AUTH_METHOD) | BIT(AUTH_DATA)},
        {SMQ_PUBLISH, BIT(PAYLOAD_FORMAT) | BIT(MESSAGE_EXPIRY) | BIT(TOPIC_ALIAS) |
                          BIT(RESPONSE_TOPIC) | BIT(CORRELATION_DATA) | BIT(CONTENT_TYPE)},
        {SMQ_PUBACK, BIT(REASON_STRING)},
        {SMQ_PUBREC, BIT(REASON_STRING)},
        {SMQ_PUBREL, BIT(REASON_STRING)},
        {SMQ_PUBCOMP, BIT(REASON_STRING)},
        {SMQ_SUBACK, BIT(REASON_STRING)},
        {SMQ_UNSUBACK, BIT(REASON_STRING)},
        {SMQ_DISCONNECT, BIT(SESSION_EXPIRY) | BIT(REASON_STRING) | BIT(SERVER_REFERENCE)},
        {SMQ_AUTH, BIT(AUTH_METHOD) | BIT(AUTH_DATA) | BIT(REASON_STRING)},
    };
    build_catalog();
    for (size_t a = 0; a < sizeof allowed / sizeof allowed[0]; a++) {
        uint64_t seen = 0;
        bool users = false;
        for (size_t i = 0; i < n_samples; i++) {
            const struct sample *s = &samples[i];
            if (s->version != SMQ_V5 || s->pkt.type != allowed[a].type)
                continue;
            const struct smq_props *pr =
                s->pkt.type == SMQ_CONNECT                                 ? &s->pkt.u.connect.props
                : s->pkt.type == SMQ_CONNACK                               ? &s->pkt.u.connack.props
                : s->pkt.type == SMQ_PUBLISH                               ? &s->pkt.u.publish.props
                : s->pkt.type == SMQ_SUBACK || s->pkt.type == SMQ_UNSUBACK ? &s->pkt.u.sub_ack.props
                : s->pkt.type >= SMQ_DISCONNECT ? &s->pkt.u.disconnect.props
                                                : &s->pkt.u.ack.props;
            seen |= pr->present;
            users |= pr->multi.len > 0;
        }
        cr_assert_eq(seen, allowed[a].ids, "%s: properties %#llx, expected %#llx",
                     smq_packet_type_name(allowed[a].type), (unsigned long long)seen,
                     (unsigned long long)allowed[a].ids);
        cr_assert(users, "%s: no User Property sample", smq_packet_type_name(allowed[a].type));
    }
}

Test(roundtrip, decoded_packet_reencodes_to_the_same_bytes)
{
    /* A broker forwards what it decoded: re-encoding the decoded struct (its `multi` view
     * holds the User Properties and Subscription Identifiers) gives the same bytes. SUBSCRIBE
     * and UNSUBSCRIBE are skipped: decoding fills `entries`, encoding reads `list`. */
    build_catalog();
    for (size_t i = 0; i < n_samples; i++) {
        const struct sample *s = &samples[i];
        if (s->pkt.type == SMQ_SUBSCRIBE || s->pkt.type == SMQ_UNSUBSCRIBE)
            continue;
        uint8_t first[1024], second[1024];
        ssize_t n = smq_encode(first, sizeof first, s->version, &s->pkt);
        cr_assert_gt(n, 0, "%s", s->name);
        struct smq_decode_opts opts = {.version = s->version};
        struct smq_packet got;
        uint8_t reason = 0;
        cr_assert_eq(smq_decode_packet(first, (size_t)n, &opts, &got, &reason), n, "%s", s->name);
        ssize_t m = smq_encode(second, sizeof second, s->version, &got);
        cr_assert_eq(m, n, "%s: re-encoded to %zd bytes, first %zd", s->name, m, n);
        cr_assert_eq(memcmp(first, second, (size_t)n), 0, "%s: bytes differ", s->name);
    }
}
