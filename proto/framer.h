/* The fixed header: where a packet is judged before any of its body is buffered.
 *
 * From the first byte alone the framer rejects a reserved type, reserved flags that are
 * wrong for the type [MQTT-2.1.3-1], QoS 3 [MQTT-3.3.1-4], a packet the peer's role never
 * sends, AUTH before 5.0, and anything but CONNECT while a connection awaits its CONNECT.
 * From the remaining length it rejects a fifth length byte, a non-minimal encoding and a
 * packet larger than the caller's maximum, so a caller never reserves room for a size
 * it would refuse. */
#ifndef SMQ_PROTO_FRAMER_H
#define SMQ_PROTO_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Which side sent the bytes being decoded. */
enum smq_sender {
    SMQ_SENDER_ANY = 0, /* tests and tools: accept every packet type */
    SMQ_SENDER_CLIENT,  /* the broker decoding what a client sent */
    SMQ_SENDER_SERVER,  /* a client decoding what the broker sent */
};

/* What the decoder knows of the connection. Zero-initialised means: any sender, protocol
 * level 4, the protocol's maximum packet size, SMQ_DEFAULT_MAX_USER_PROPS. */
struct smq_decode_opts {
    uint8_t version;          /* enum smq_version of the connection; ignored for CONNECT */
    uint8_t sender;           /* enum smq_sender */
    bool awaiting_connect;    /* the first packet of a connection must be CONNECT */
    uint16_t max_user_props;  /* 0 means SMQ_DEFAULT_MAX_USER_PROPS */
    uint32_t max_packet_size; /* whole packet, fixed header included; 0 means no limit */
};

struct smq_fixed_header {
    uint8_t type;            /* enum smq_packet_type */
    uint8_t flags;           /* low nibble of the first byte */
    uint8_t header_len;      /* 2..5 */
    uint32_t remaining;      /* bytes after the fixed header */
};

/* Decodes the fixed header at src. Returns the header's length (2..5) when complete, 0 when
 * more bytes are needed, or SMQ_EPROTO with *reason set: 0x81 malformed (reserved type or
 * flags, QoS 3, bad length encoding, AUTH before 5.0), 0x82 protocol error (a packet this
 * sender never sends, or not CONNECT first), 0x95 packet too large. */
ssize_t smq_decode_fixed_header(const uint8_t *src, size_t len, const struct smq_decode_opts *opts,
                                struct smq_fixed_header *out, uint8_t *reason);

#endif
