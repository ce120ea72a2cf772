/* The reason code table of MQTT 5.0 (section 2.4): names and which packets may carry each.
 *
 * The allowed sets follow the per-packet reason code tables of sections 3.2.2.2 (CONNACK),
 * 3.4.2.1 (PUBACK), 3.5.2.1 (PUBREC), 3.6.2.1 (PUBREL), 3.7.2.1 (PUBCOMP), 3.9.3 (SUBACK),
 * 3.11.3 (UNSUBACK), 3.14.2.1 (DISCONNECT) and 3.15.2.1 (AUTH). */
#include "proto/reason.h"

#include "proto/packet.h"

struct reason_info {
    uint8_t code;
    const char *name;
    uint16_t packets; /* bit per enum smq_packet_type */
};

#define P(t) (1u << (t))
#define PUB_ACKS (P(SMQ_PUBACK) | P(SMQ_PUBREC))
#define SUB_ACKS (P(SMQ_SUBACK) | P(SMQ_UNSUBACK))

static const struct reason_info reasons[] = {
    {0x00, "Success",
     P(SMQ_CONNACK) | PUB_ACKS | P(SMQ_PUBREL) | P(SMQ_PUBCOMP) | SUB_ACKS | P(SMQ_DISCONNECT) |
         P(SMQ_AUTH)},
    {0x01, "Granted QoS 1", P(SMQ_SUBACK)},
    {0x02, "Granted QoS 2", P(SMQ_SUBACK)},
    {0x04, "Disconnect with Will Message", P(SMQ_DISCONNECT)},
    {0x10, "No matching subscribers", PUB_ACKS},
    {0x11, "No subscription existed", P(SMQ_UNSUBACK)},
    {0x18, "Continue authentication", P(SMQ_AUTH)},
    {0x19, "Re-authenticate", P(SMQ_AUTH)},
    {0x80, "Unspecified error", P(SMQ_CONNACK) | PUB_ACKS | SUB_ACKS | P(SMQ_DISCONNECT)},
    {0x81, "Malformed Packet", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0x82, "Protocol Error", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0x83, "Implementation specific error",
     P(SMQ_CONNACK) | PUB_ACKS | SUB_ACKS | P(SMQ_DISCONNECT)},
    {0x84, "Unsupported Protocol Version", P(SMQ_CONNACK)},
    {0x85, "Client Identifier not valid", P(SMQ_CONNACK)},
    {0x86, "Bad User Name or Password", P(SMQ_CONNACK)},
    {0x87, "Not authorized", P(SMQ_CONNACK) | PUB_ACKS | SUB_ACKS | P(SMQ_DISCONNECT)},
    {0x88, "Server unavailable", P(SMQ_CONNACK)},
    {0x89, "Server busy", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0x8A, "Banned", P(SMQ_CONNACK)},
    {0x8B, "Server shutting down", P(SMQ_DISCONNECT)},
    {0x8C, "Bad authentication method", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0x8D, "Keep Alive timeout", P(SMQ_DISCONNECT)},
    {0x8E, "Session taken over", P(SMQ_DISCONNECT)},
    {0x8F, "Topic Filter invalid", SUB_ACKS | P(SMQ_DISCONNECT)},
    {0x90, "Topic Name invalid", P(SMQ_CONNACK) | PUB_ACKS | P(SMQ_DISCONNECT)},
    {0x91, "Packet Identifier in use", PUB_ACKS | SUB_ACKS},
    {0x92, "Packet Identifier not found", P(SMQ_PUBREL) | P(SMQ_PUBCOMP)},
    {0x93, "Receive Maximum exceeded", P(SMQ_DISCONNECT)},
    {0x94, "Topic Alias invalid", P(SMQ_DISCONNECT)},
    {0x95, "Packet too large", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0x96, "Message rate too high", P(SMQ_DISCONNECT)},
    {0x97, "Quota exceeded", P(SMQ_CONNACK) | PUB_ACKS | P(SMQ_SUBACK) | P(SMQ_DISCONNECT)},
    {0x98, "Administrative action", P(SMQ_DISCONNECT)},
    {0x99, "Payload format invalid", P(SMQ_CONNACK) | PUB_ACKS | P(SMQ_DISCONNECT)},
    {0x9A, "Retain not supported", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0x9B, "QoS not supported", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0x9C, "Use another server", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0x9D, "Server moved", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0x9E, "Shared Subscriptions not supported", P(SMQ_SUBACK) | P(SMQ_DISCONNECT)},
    {0x9F, "Connection rate exceeded", P(SMQ_CONNACK) | P(SMQ_DISCONNECT)},
    {0xA0, "Maximum connect time", P(SMQ_DISCONNECT)},
    {0xA1, "Subscription Identifiers not supported", P(SMQ_SUBACK) | P(SMQ_DISCONNECT)},
    {0xA2, "Wildcard Subscriptions not supported", P(SMQ_SUBACK) | P(SMQ_DISCONNECT)},
};

static const struct reason_info *find(uint8_t code)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (reasons[i].code == code)
            return &reasons[i];
    }
    return NULL;
}

const char *smq_reason_name(uint8_t reason)
{
    const struct reason_info *info = find(reason);
    return info ? info->name : "Unknown reason";
}

bool smq_reason_allowed(int packet_type, uint8_t reason)
{
    const struct reason_info *info = find(reason);
    if (info == NULL || packet_type < SMQ_CONNECT || packet_type > SMQ_AUTH)
        return false;
    return (info->packets & P(packet_type)) != 0;
}

uint8_t smq_reason_to_v3_connack(uint8_t reason)
{
    switch (reason) {
    case SMQ_RC_SUCCESS:
        return SMQ_V3_ACCEPTED;
    case SMQ_RC_UNSUPPORTED_VERSION:
        return SMQ_V3_BAD_PROTOCOL_VERSION;
    case SMQ_RC_CLIENT_ID_INVALID:
        return SMQ_V3_IDENTIFIER_REJECTED;
    case SMQ_RC_BAD_USERNAME_PASSWORD:
    case SMQ_RC_BAD_AUTH_METHOD:
        return SMQ_V3_BAD_USERNAME_PASSWORD;
    case SMQ_RC_NOT_AUTHORIZED:
    case SMQ_RC_BANNED:
        return SMQ_V3_NOT_AUTHORIZED;
    default:
        /* Busy, unavailable, quotas, malformed: 3.1.1 has only "server unavailable". */
        return SMQ_V3_SERVER_UNAVAILABLE;
    }
}
