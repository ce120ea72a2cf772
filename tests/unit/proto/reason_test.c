/* Tests for proto/reason.c: reason code names, which codes each packet type may carry
 * (2.4 of MQTT 5.0, table 2-6, and the per-packet lists of chapter 3), and the mapping of
 * v5 CONNACK reasons to the 3.1.1 return codes (3.2.2.3 of 3.1.1).
 *
 * The allowed sets are written out here from the spec, one row per code, and compared with
 * smq_reason_allowed() for every (packet type, byte) pair. */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto/packet.h"
#include "proto/reason.h"

#define B(t) (1u << (t))
#define CONNACK B(SMQ_CONNACK)
#define PUBACK B(SMQ_PUBACK)
#define PUBREC B(SMQ_PUBREC)
#define PUBREL B(SMQ_PUBREL)
#define PUBCOMP B(SMQ_PUBCOMP)
#define SUBACK B(SMQ_SUBACK)
#define UNSUBACK B(SMQ_UNSUBACK)
#define DISCONNECT B(SMQ_DISCONNECT)
#define AUTH B(SMQ_AUTH)

/* Table 2-6 of MQTT 5.0: each reason code, its name, and the packets that may carry it. */
static const struct {
    uint8_t code;
    const char *name;
    uint32_t packets;
} spec[] = {
    {0x00, "Success",
     CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | UNSUBACK | AUTH | DISCONNECT | SUBACK},
    {0x01, "Granted QoS 1", SUBACK},
    {0x02, "Granted QoS 2", SUBACK},
    {0x04, "Disconnect with Will Message", DISCONNECT},
    {0x10, "No matching subscribers", PUBACK | PUBREC},
    {0x11, "No subscription existed", UNSUBACK},
    {0x18, "Continue authentication", AUTH},
    {0x19, "Re-authenticate", AUTH},
    {0x80, "Unspecified error", CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT},
    {0x81, "Malformed Packet", CONNACK | DISCONNECT},
    {0x82, "Protocol Error", CONNACK | DISCONNECT},
    {0x83, "Implementation specific error",
     CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT},
    {0x84, "Unsupported Protocol Version", CONNACK},
    {0x85, "Client Identifier not valid", CONNACK},
    {0x86, "Bad User Name or Password", CONNACK},
    {0x87, "Not authorized", CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT},
    {0x88, "Server unavailable", CONNACK},
    {0x89, "Server busy", CONNACK | DISCONNECT},
    {0x8A, "Banned", CONNACK},
    {0x8B, "Server shutting down", DISCONNECT},
    {0x8C, "Bad authentication method", CONNACK | DISCONNECT},
    {0x8D, "Keep Alive timeout", DISCONNECT},
    {0x8E, "Session taken over", DISCONNECT},
    {0x8F, "Topic Filter invalid", SUBACK | UNSUBACK | DISCONNECT},
    {0x90, "Topic Name invalid", CONNACK | PUBACK | PUBREC | DISCONNECT},
    {0x91, "Packet Identifier in use", PUBACK | PUBREC | SUBACK | UNSUBACK},
    {0x92, "Packet Identifier not found", PUBREL | PUBCOMP},
    {0x93, "Receive Maximum exceeded", DISCONNECT},
    {0x94, "Topic Alias invalid", DISCONNECT},
    {0x95, "Packet too large", CONNACK | DISCONNECT},
    {0x96, "Message rate too high", DISCONNECT},
    {0x97, "Quota exceeded", CONNACK | PUBACK | PUBREC | SUBACK | DISCONNECT},
    {0x98, "Administrative action", DISCONNECT},
    {0x99, "Payload format invalid", CONNACK | PUBACK | PUBREC | DISCONNECT},
    {0x9A, "Retain not supported", CONNACK | DISCONNECT},
    {0x9B, "QoS not supported", CONNACK | DISCONNECT},
    {0x9C, "Use another server", CONNACK | DISCONNECT},
    {0x9D, "Server moved", CONNACK | DISCONNECT},
    {0x9E, "Shared Subscriptions not supported", SUBACK | DISCONNECT},
    {0x9F, "Connection rate exceeded", CONNACK | DISCONNECT},
    {0xA0, "Maximum connect time", DISCONNECT},
    {0xA1, "Subscription Identifiers not supported", SUBACK | DISCONNECT},
    {0xA2, "Wildcard Subscriptions not supported", SUBACK | DISCONNECT},
};
#define NSPEC (sizeof spec / sizeof spec[0])

static int spec_index(unsigned code)
{
    for (size_t i = 0; i < NSPEC; i++)
        if (spec[i].code == code)
            return (int)i;
    return -1;
}

static const char *type_name(int t)
{
    static const char *names[] = {"RESERVED", "CONNECT",     "CONNACK",  "PUBLISH",
                                  "PUBACK",   "PUBREC",      "PUBREL",   "PUBCOMP",
                                  "SUBSCRIBE", "SUBACK",     "UNSUBSCRIBE", "UNSUBACK",
                                  "PINGREQ",  "PINGRESP",    "DISCONNECT", "AUTH"};
    return (t >= 0 && t < 16) ? names[t] : "?";
}

/* ---- names --------------------------------------------------------------------------- */

Test(reason, every_defined_code_has_its_spec_name)
{
    for (size_t i = 1; i < NSPEC; i++) {
        const char *name = smq_reason_name(spec[i].code);
        cr_assert_not_null(name);
        cr_assert_str_eq(name, spec[i].name, "0x%02X: \"%s\"", spec[i].code, name);
    }
}

/* 0x00 has three names in table 2-6 (Success, Normal disconnection, Granted QoS 0). */
Test(reason, success_has_one_of_its_spec_names)
{
    const char *name = smq_reason_name(0x00);
    cr_assert_not_null(name);
    cr_assert(strcmp(name, "Success") == 0 || strcmp(name, "Normal disconnection") == 0 ||
                  strcmp(name, "Granted QoS 0") == 0,
              "0x00: \"%s\"", name);
}

Test(reason, names_of_the_codes_the_decoder_returns)
{
    cr_assert_str_eq(smq_reason_name(SMQ_RC_MALFORMED), "Malformed Packet");
    cr_assert_str_eq(smq_reason_name(SMQ_RC_PROTOCOL_ERROR), "Protocol Error");
    cr_assert_str_eq(smq_reason_name(SMQ_RC_UNSUPPORTED_VERSION), "Unsupported Protocol Version");
    cr_assert_str_eq(smq_reason_name(SMQ_RC_PACKET_TOO_LARGE), "Packet too large");
    cr_assert_str_eq(smq_reason_name(SMQ_RC_QUOTA_EXCEEDED), "Quota exceeded");
}

Test(reason, every_undefined_code_is_unknown)
{
    for (unsigned code = 0; code < 256; code++) {
        if (spec_index(code) >= 0)
            continue;
        const char *name = smq_reason_name((uint8_t)code);
        cr_assert_not_null(name, "0x%02X", code);
        cr_assert_str_eq(name, "Unknown reason", "0x%02X: \"%s\"", code, name);
    }
}

Test(reason, enum_values_match_the_spec_table)
{
    cr_assert_eq(SMQ_RC_SUCCESS, 0x00);
    cr_assert_eq(SMQ_RC_GRANTED_QOS1, 0x01);
    cr_assert_eq(SMQ_RC_GRANTED_QOS2, 0x02);
    cr_assert_eq(SMQ_RC_DISCONNECT_WITH_WILL, 0x04);
    cr_assert_eq(SMQ_RC_NO_MATCHING_SUBSCRIBERS, 0x10);
    cr_assert_eq(SMQ_RC_NO_SUBSCRIPTION_EXISTED, 0x11);
    cr_assert_eq(SMQ_RC_CONTINUE_AUTHENTICATION, 0x18);
    cr_assert_eq(SMQ_RC_REAUTHENTICATE, 0x19);
    cr_assert_eq(SMQ_RC_UNSPECIFIED, 0x80);
    cr_assert_eq(SMQ_RC_MALFORMED, 0x81);
    cr_assert_eq(SMQ_RC_PROTOCOL_ERROR, 0x82);
    cr_assert_eq(SMQ_RC_UNSUPPORTED_VERSION, 0x84);
    cr_assert_eq(SMQ_RC_NOT_AUTHORIZED, 0x87);
    cr_assert_eq(SMQ_RC_TOPIC_FILTER_INVALID, 0x8F);
    cr_assert_eq(SMQ_RC_TOPIC_NAME_INVALID, 0x90);
    cr_assert_eq(SMQ_RC_PACKET_TOO_LARGE, 0x95);
    cr_assert_eq(SMQ_RC_QUOTA_EXCEEDED, 0x97);
    cr_assert_eq(SMQ_RC_WILDCARD_SUBS_NOT_SUPPORTED, 0xA2);
}

/* ---- allowed sets -------------------------------------------------------------------- */

Test(reason, every_code_in_every_packet_type_matches_table_2_6)
{
    for (int t = 0; t <= 15; t++) {
        for (unsigned code = 0; code < 256; code++) {
            int i = spec_index(code);
            bool expected = i >= 0 && (spec[i].packets & B(t)) != 0;
            bool got = smq_reason_allowed(t, (uint8_t)code);
            cr_assert_eq(got, expected, "0x%02X in %s: got %d, expected %d", code, type_name(t),
                         got, expected);
        }
    }
}

/* 3.1, 3.3, 3.8, 3.10, 3.12, 3.13: these packets carry no reason code at all. */
Test(reason, packets_without_a_reason_code_allow_none)
{
    static const int types[] = {SMQ_CONNECT, SMQ_PUBLISH, SMQ_SUBSCRIBE, SMQ_UNSUBSCRIBE,
                                SMQ_PINGREQ, SMQ_PINGRESP};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (unsigned code = 0; code < 256; code++)
            cr_assert_not(smq_reason_allowed(types[i], (uint8_t)code), "0x%02X in %s", code,
                          type_name(types[i]));
}

Test(reason, out_of_range_packet_types_allow_none)
{
    static const int types[] = {-1, 0, 16, 255, 1000};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        cr_assert_not(smq_reason_allowed(types[i], 0x00), "type %d", types[i]);
        cr_assert_not(smq_reason_allowed(types[i], 0x80), "type %d", types[i]);
    }
}

/* 3.6.2.1 / 3.7.2.1: PUBREL and PUBCOMP know only Success and Packet Identifier not found. */
Test(reason, pubrel_and_pubcomp_allow_only_success_and_not_found)
{
    for (unsigned code = 0; code < 256; code++) {
        bool expected = code == 0x00 || code == 0x92;
        cr_assert_eq(smq_reason_allowed(SMQ_PUBREL, (uint8_t)code), expected, "0x%02X", code);
        cr_assert_eq(smq_reason_allowed(SMQ_PUBCOMP, (uint8_t)code), expected, "0x%02X", code);
    }
}

/* 3.15.2.1: AUTH knows Success, Continue authentication and Re-authenticate. */
Test(reason, auth_allows_only_its_three_codes)
{
    for (unsigned code = 0; code < 256; code++) {
        bool expected = code == 0x00 || code == 0x18 || code == 0x19;
        cr_assert_eq(smq_reason_allowed(SMQ_AUTH, (uint8_t)code), expected, "0x%02X", code);
    }
}

/* 3.9.3: SUBACK grants QoS 0, 1 or 2, or fails. */
Test(reason, suback_allows_granted_qos_and_its_failures)
{
    cr_assert(smq_reason_allowed(SMQ_SUBACK, 0x00));
    cr_assert(smq_reason_allowed(SMQ_SUBACK, 0x01));
    cr_assert(smq_reason_allowed(SMQ_SUBACK, 0x02));
    cr_assert_not(smq_reason_allowed(SMQ_SUBACK, 0x03));
    cr_assert(smq_reason_allowed(SMQ_SUBACK, 0x9E));
    cr_assert(smq_reason_allowed(SMQ_SUBACK, 0xA1));
    cr_assert(smq_reason_allowed(SMQ_SUBACK, 0xA2));
    cr_assert_not(smq_reason_allowed(SMQ_SUBACK, 0x81));
    cr_assert_not(smq_reason_allowed(SMQ_SUBACK, 0x90));
}

/* 3.14.2.1: Disconnect with Will Message is DISCONNECT's alone. */
Test(reason, disconnect_with_will_only_in_disconnect)
{
    for (int t = 1; t <= 15; t++)
        cr_assert_eq(smq_reason_allowed(t, 0x04), t == SMQ_DISCONNECT, "%s", type_name(t));
}

Test(reason, malformed_and_protocol_error_only_in_connack_and_disconnect)
{
    for (int t = 1; t <= 15; t++) {
        bool expected = t == SMQ_CONNACK || t == SMQ_DISCONNECT;
        cr_assert_eq(smq_reason_allowed(t, 0x81), expected, "%s", type_name(t));
        cr_assert_eq(smq_reason_allowed(t, 0x82), expected, "%s", type_name(t));
    }
}

/* ---- v3 CONNACK ---------------------------------------------------------------------- */

/* 3.2.2.3 of 3.1.1, table 3.1: the six return codes. */
Test(reason, v3_connack_constants_match_the_spec)
{
    cr_assert_eq(SMQ_V3_ACCEPTED, 0);
    cr_assert_eq(SMQ_V3_BAD_PROTOCOL_VERSION, 1);
    cr_assert_eq(SMQ_V3_IDENTIFIER_REJECTED, 2);
    cr_assert_eq(SMQ_V3_SERVER_UNAVAILABLE, 3);
    cr_assert_eq(SMQ_V3_BAD_USERNAME_PASSWORD, 4);
    cr_assert_eq(SMQ_V3_NOT_AUTHORIZED, 5);
}

Test(reason, v3_connack_maps_the_codes_with_a_direct_counterpart)
{
    cr_assert_eq(smq_reason_to_v3_connack(SMQ_RC_SUCCESS), SMQ_V3_ACCEPTED);
    cr_assert_eq(smq_reason_to_v3_connack(SMQ_RC_UNSUPPORTED_VERSION),
                 SMQ_V3_BAD_PROTOCOL_VERSION);
    cr_assert_eq(smq_reason_to_v3_connack(SMQ_RC_CLIENT_ID_INVALID), SMQ_V3_IDENTIFIER_REJECTED);
    cr_assert_eq(smq_reason_to_v3_connack(SMQ_RC_SERVER_UNAVAILABLE), SMQ_V3_SERVER_UNAVAILABLE);
    cr_assert_eq(smq_reason_to_v3_connack(SMQ_RC_BAD_USERNAME_PASSWORD),
                 SMQ_V3_BAD_USERNAME_PASSWORD);
    cr_assert_eq(smq_reason_to_v3_connack(SMQ_RC_NOT_AUTHORIZED), SMQ_V3_NOT_AUTHORIZED);
}

Test(reason, v3_connack_maps_busy_server_to_unavailable)
{
    cr_assert_eq(smq_reason_to_v3_connack(SMQ_RC_SERVER_BUSY), SMQ_V3_SERVER_UNAVAILABLE);
}

Test(reason, v3_connack_maps_banned_to_not_authorized)
{
    cr_assert_eq(smq_reason_to_v3_connack(SMQ_RC_BANNED), SMQ_V3_NOT_AUTHORIZED);
}

/* A refusal must never reach a 3.x client as "accepted", and the result must be one of the
 * six 3.1.1 codes. */
Test(reason, v3_connack_never_turns_a_failure_into_accepted)
{
    for (size_t i = 0; i < NSPEC; i++) {
        if (!(spec[i].packets & CONNACK))
            continue;
        uint8_t v3 = smq_reason_to_v3_connack(spec[i].code);
        cr_assert_leq(v3, 5, "0x%02X -> %u", spec[i].code, v3);
        if (spec[i].code >= 0x80)
            cr_assert_neq(v3, SMQ_V3_ACCEPTED, "0x%02X -> accepted", spec[i].code);
    }
}

Test(reason, v3_connack_maps_any_failure_byte_to_a_refusal)
{
    for (unsigned code = 0x80; code < 256; code++) {
        uint8_t v3 = smq_reason_to_v3_connack((uint8_t)code);
        cr_assert(v3 >= 1 && v3 <= 5, "0x%02X -> %u", code, v3);
    }
}
