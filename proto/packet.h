/* The MQTT control packets as plain structs, for protocol levels 3 (3.1), 4 (3.1.1), 5 (5.0).
 *
 * The decoder fills these with views (struct smq_span) into the bytes it was given; the
 * encoder reads them back. One struct serves every protocol version: fields a version
 * lacks (properties, reason codes before 5.0) are simply zero there. Lists whose length
 * the peer chooses (subscriptions, SUBACK codes, user properties) are kept as a view of
 * their validated encoded bytes and walked with iterators, so decoding never allocates. */
#ifndef SMQ_PROTO_PACKET_H
#define SMQ_PROTO_PACKET_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/span.h"

enum smq_version {
    SMQ_V31 = 3,  /* MQTT 3.1, protocol name "MQIsdp" */
    SMQ_V311 = 4, /* MQTT 3.1.1 */
    SMQ_V5 = 5,   /* MQTT 5.0 */
};

enum smq_packet_type {
    SMQ_CONNECT = 1,
    SMQ_CONNACK = 2,
    SMQ_PUBLISH = 3,
    SMQ_PUBACK = 4,
    SMQ_PUBREC = 5,
    SMQ_PUBREL = 6,
    SMQ_PUBCOMP = 7,
    SMQ_SUBSCRIBE = 8,
    SMQ_SUBACK = 9,
    SMQ_UNSUBSCRIBE = 10,
    SMQ_UNSUBACK = 11,
    SMQ_PINGREQ = 12,
    SMQ_PINGRESP = 13,
    SMQ_DISCONNECT = 14,
    SMQ_AUTH = 15,
};

enum smq_qos { SMQ_QOS0 = 0, SMQ_QOS1 = 1, SMQ_QOS2 = 2 };

/* Largest value of a variable byte integer, hence of a remaining length (1.5.5). */
#define SMQ_VARINT_MAX 268435455u
/* Largest packet the protocol can express: 1 type byte, 4 length bytes, the rest. */
#define SMQ_PACKET_MAX (SMQ_VARINT_MAX + 5u)
/* Largest UTF-8 string or binary field (a two-byte length prefix). */
#define SMQ_STRING_MAX 65535u

/* MQTT 5.0 property identifiers (section 2.2.2.2). */
enum smq_prop_id {
    SMQ_PROP_PAYLOAD_FORMAT = 0x01,
    SMQ_PROP_MESSAGE_EXPIRY = 0x02,
    SMQ_PROP_CONTENT_TYPE = 0x03,
    SMQ_PROP_RESPONSE_TOPIC = 0x08,
    SMQ_PROP_CORRELATION_DATA = 0x09,
    SMQ_PROP_SUBSCRIPTION_ID = 0x0B,
    SMQ_PROP_SESSION_EXPIRY = 0x11,
    SMQ_PROP_ASSIGNED_CLIENT_ID = 0x12,
    SMQ_PROP_SERVER_KEEP_ALIVE = 0x13,
    SMQ_PROP_AUTH_METHOD = 0x15,
    SMQ_PROP_AUTH_DATA = 0x16,
    SMQ_PROP_REQUEST_PROBLEM_INFO = 0x17,
    SMQ_PROP_WILL_DELAY = 0x18,
    SMQ_PROP_REQUEST_RESPONSE_INFO = 0x19,
    SMQ_PROP_RESPONSE_INFO = 0x1A,
    SMQ_PROP_SERVER_REFERENCE = 0x1C,
    SMQ_PROP_REASON_STRING = 0x1F,
    SMQ_PROP_RECEIVE_MAXIMUM = 0x21,
    SMQ_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    SMQ_PROP_TOPIC_ALIAS = 0x23,
    SMQ_PROP_MAXIMUM_QOS = 0x24,
    SMQ_PROP_RETAIN_AVAILABLE = 0x25,
    SMQ_PROP_USER_PROPERTY = 0x26,
    SMQ_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    SMQ_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
    SMQ_PROP_SUB_ID_AVAILABLE = 0x29,
    SMQ_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

/* Bit for property id in smq_props.present (every id is below 64). */
#define SMQ_PROP_BIT(id) (UINT64_C(1) << (id))

/* The properties of one packet (or of a will). A field is meaningful only when its bit is
 * set in `present`. User Property and Subscription Identifier may repeat, so they are not
 * fields: they are read, in order, from the encoded property entries in `multi` (the
 * decoder points it at the whole property block and counts them; a builder fills it with
 * smq_props_put_user()). The encoder writes every present scalar, then the subscription
 * identifiers of `sub_ids`, then the User Property and Subscription Identifier entries found
 * in `multi`. */
struct smq_props {
    uint64_t present;
    uint32_t message_expiry;
    uint32_t session_expiry;
    uint32_t will_delay;
    uint32_t maximum_packet_size;
    uint32_t subscription_id; /* decode only: the first one (encode from sub_ids) */
    uint16_t server_keep_alive;
    uint16_t receive_maximum;
    uint16_t topic_alias_maximum;
    uint16_t topic_alias;
    uint8_t payload_format;
    uint8_t request_problem_info;
    uint8_t request_response_info;
    uint8_t maximum_qos;
    uint8_t retain_available;
    uint8_t wildcard_sub_available;
    uint8_t sub_id_available;
    uint8_t shared_sub_available;
    struct smq_span content_type;
    struct smq_span response_topic;
    struct smq_span correlation_data;
    struct smq_span assigned_client_id;
    struct smq_span auth_method;
    struct smq_span auth_data;
    struct smq_span response_info;
    struct smq_span server_reference;
    struct smq_span reason_string;
    struct smq_span multi;    /* encoded entries; only 0x26 and 0x0B entries are read */
    uint16_t user_count;      /* User Property entries in multi (set by the decoder) */
    uint16_t sub_id_count;    /* Subscription Identifier entries in multi (decoder) */
    const uint32_t *sub_ids;  /* borrowed, encode only: identifiers written first */
    uint16_t sub_ids_len;
};

/* Returns true when property id is present in props. */
static inline bool smq_props_has(const struct smq_props *props, enum smq_prop_id id)
{
    return (props->present & SMQ_PROP_BIT(id)) != 0;
}

struct smq_connect {
    uint8_t version; /* enum smq_version; on a decode error, the level read so far or 0 */
    bool clean_start;
    uint16_t keep_alive;
    struct smq_span client_id;
    bool will;
    uint8_t will_qos;
    bool will_retain;
    struct smq_span will_topic;
    struct smq_span will_payload;
    struct smq_props will_props;
    bool has_username;
    struct smq_span username;
    bool has_password;
    struct smq_span password;
    struct smq_props props;
};

struct smq_connack {
    bool session_present;
    uint8_t reason; /* v5 reason code, or the 3.x return code for protocol levels 3 and 4 */
    struct smq_props props;
};

struct smq_publish {
    uint8_t qos;
    bool dup;
    bool retain;
    struct smq_span topic;
    uint16_t packet_id; /* 0 for QoS 0 */
    struct smq_props props;
    struct smq_span payload;
};

/* PUBACK, PUBREC, PUBREL and PUBCOMP share one shape. */
struct smq_ack {
    uint16_t packet_id;
    uint8_t reason;
    struct smq_props props;
};

/* One Topic Filter of a SUBSCRIBE with its options (3.8.3.1). */
struct smq_sub_entry {
    struct smq_span filter;
    uint8_t qos;
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling;
};

/* SUBSCRIBE. Decoded entries are a view of the validated payload (walk them with
 * smq_subscribe_next()); to encode, point `list` at `count` entries. */
struct smq_subscribe {
    uint16_t packet_id;
    struct smq_props props;
    uint32_t count;
    struct smq_span entries;            /* decode: the encoded entries */
    const struct smq_sub_entry *list;   /* borrowed, encode only */
};

/* UNSUBSCRIBE, with the same conventions as SUBSCRIBE. */
struct smq_unsubscribe {
    uint16_t packet_id;
    struct smq_props props;
    uint32_t count;
    struct smq_span entries;            /* decode: the encoded filters */
    const struct smq_span *list;        /* borrowed, encode only */
};

/* SUBACK and UNSUBACK: one reason code per filter, in order. A 3.x UNSUBACK has none. */
struct smq_sub_ack {
    uint16_t packet_id;
    struct smq_props props;
    struct smq_span reasons;
};

/* DISCONNECT and AUTH: a reason code and properties (5.0 only; 3.x DISCONNECT is empty). */
struct smq_reason_packet {
    uint8_t reason;
    struct smq_props props;
};

struct smq_packet {
    uint8_t type;  /* enum smq_packet_type */
    uint8_t flags; /* the low nibble of the fixed header */
    union {
        struct smq_connect connect;
        struct smq_connack connack;
        struct smq_publish publish;
        struct smq_ack ack;               /* PUBACK PUBREC PUBREL PUBCOMP */
        struct smq_subscribe subscribe;
        struct smq_sub_ack sub_ack;       /* SUBACK UNSUBACK */
        struct smq_unsubscribe unsubscribe;
        struct smq_reason_packet disconnect;
        struct smq_reason_packet auth;
    } u;
};

/* Returns the packet type's name ("PUBLISH"), or "RESERVED" for 0 and out-of-range values. */
const char *smq_packet_type_name(int type);

#endif
