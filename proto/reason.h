/* MQTT reason codes: the v5.0 table (section 2.4) and the v3.1.1 CONNACK return codes.
 *
 * The broker thinks in v5 reason codes everywhere; smq_reason_to_v3_connack() maps a
 * CONNACK reason to the closest 3.1/3.1.1 return code when the client speaks an older
 * version. smq_reason_allowed() tells whether a code may appear in a given packet type. */
#ifndef SMQ_PROTO_REASON_H
#define SMQ_PROTO_REASON_H

#include <stdbool.h>
#include <stdint.h>

enum smq_reason {
    SMQ_RC_SUCCESS = 0x00, /* also Normal disconnection and Granted QoS 0 */
    SMQ_RC_GRANTED_QOS1 = 0x01,
    SMQ_RC_GRANTED_QOS2 = 0x02,
    SMQ_RC_DISCONNECT_WITH_WILL = 0x04,
    SMQ_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    SMQ_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    SMQ_RC_CONTINUE_AUTHENTICATION = 0x18,
    SMQ_RC_REAUTHENTICATE = 0x19,
    SMQ_RC_UNSPECIFIED = 0x80,
    SMQ_RC_MALFORMED = 0x81,
    SMQ_RC_PROTOCOL_ERROR = 0x82,
    SMQ_RC_IMPLEMENTATION_ERROR = 0x83,
    SMQ_RC_UNSUPPORTED_VERSION = 0x84,
    SMQ_RC_CLIENT_ID_INVALID = 0x85,
    SMQ_RC_BAD_USERNAME_PASSWORD = 0x86,
    SMQ_RC_NOT_AUTHORIZED = 0x87,
    SMQ_RC_SERVER_UNAVAILABLE = 0x88,
    SMQ_RC_SERVER_BUSY = 0x89,
    SMQ_RC_BANNED = 0x8A,
    SMQ_RC_SERVER_SHUTTING_DOWN = 0x8B,
    SMQ_RC_BAD_AUTH_METHOD = 0x8C,
    SMQ_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    SMQ_RC_SESSION_TAKEN_OVER = 0x8E,
    SMQ_RC_TOPIC_FILTER_INVALID = 0x8F,
    SMQ_RC_TOPIC_NAME_INVALID = 0x90,
    SMQ_RC_PACKET_ID_IN_USE = 0x91,
    SMQ_RC_PACKET_ID_NOT_FOUND = 0x92,
    SMQ_RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93,
    SMQ_RC_TOPIC_ALIAS_INVALID = 0x94,
    SMQ_RC_PACKET_TOO_LARGE = 0x95,
    SMQ_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    SMQ_RC_QUOTA_EXCEEDED = 0x97,
    SMQ_RC_ADMINISTRATIVE_ACTION = 0x98,
    SMQ_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    SMQ_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    SMQ_RC_QOS_NOT_SUPPORTED = 0x9B,
    SMQ_RC_USE_ANOTHER_SERVER = 0x9C,
    SMQ_RC_SERVER_MOVED = 0x9D,
    SMQ_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
    SMQ_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    SMQ_RC_MAXIMUM_CONNECT_TIME = 0xA0,
    SMQ_RC_SUBSCRIPTION_IDS_NOT_SUPPORTED = 0xA1,
    SMQ_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* CONNACK return codes of MQTT 3.1 and 3.1.1 (section 3.2.2.3 of 3.1.1). */
enum smq_v3_connack {
    SMQ_V3_ACCEPTED = 0x00,
    SMQ_V3_BAD_PROTOCOL_VERSION = 0x01,
    SMQ_V3_IDENTIFIER_REJECTED = 0x02,
    SMQ_V3_SERVER_UNAVAILABLE = 0x03,
    SMQ_V3_BAD_USERNAME_PASSWORD = 0x04,
    SMQ_V3_NOT_AUTHORIZED = 0x05,
};

/* Returns the spec's name of a v5 reason code ("Malformed Packet"), or "Unknown reason". */
const char *smq_reason_name(uint8_t reason);

/* Returns true when the v5 spec lets reason appear in a packet of the given type
 * (enum smq_packet_type). */
bool smq_reason_allowed(int packet_type, uint8_t reason);

/* Maps a v5 CONNACK reason code to the nearest 3.1.1 CONNACK return code. */
uint8_t smq_reason_to_v3_connack(uint8_t reason);

#endif
