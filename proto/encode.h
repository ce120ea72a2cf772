/* Encoding MQTT packets into caller-provided buffers.
 *
 * Ask for the size first (smq_encode_size), then encode into at least that many bytes.
 * A PUBLISH can be encoded without its payload (smq_encode_publish_header) so one payload
 * is shared by every subscriber's packet: the caller sends header and payload as two
 * buffers of one writev. The encoder trusts its input to be valid for the version (it is
 * ours, not the peer's) except for sizes, which it checks. */
#ifndef SMQ_PROTO_ENCODE_H
#define SMQ_PROTO_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/packet.h"

/* Returns the size of pkt encoded for protocol level version (a CONNECT uses its own
 * version field), or 0 when it exceeds SMQ_PACKET_MAX. */
size_t smq_encode_size(uint8_t version, const struct smq_packet *pkt);

/* Encodes pkt at dst. Returns the bytes written, SMQ_ENOBUFS when cap is too small, or
 * SMQ_ELIMIT when the packet exceeds the protocol's maximum size. */
ssize_t smq_encode(uint8_t *dst, size_t cap, uint8_t version, const struct smq_packet *pkt);

/* Returns the size of a PUBLISH's fixed and variable header (everything but the payload),
 * or 0 when the whole packet would exceed SMQ_PACKET_MAX. */
size_t smq_encode_publish_header_size(uint8_t version, const struct smq_publish *pub);

/* Encodes the fixed and variable header of pub; its remaining length counts
 * pub->payload.len bytes that the caller sends right after. Returns the bytes written,
 * SMQ_ENOBUFS or SMQ_ELIMIT. */
ssize_t smq_encode_publish_header(uint8_t *dst, size_t cap, uint8_t version,
                                  const struct smq_publish *pub);

#endif
