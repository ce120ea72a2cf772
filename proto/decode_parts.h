/* Internal to proto/: the per-packet body decoders that decode.c dispatches to.
 *
 * Each takes a reader spanning exactly the packet's body and returns 0, or the reason code
 * to fail with; the caller turns that into SMQ_EPROTO. */
#ifndef SMQ_PROTO_DECODE_PARTS_H
#define SMQ_PROTO_DECODE_PARTS_H

#include "proto/framer.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/reader.h"
#include "proto/reason.h"

uint8_t smq__decode_connect(struct smq_reader *r, const struct smq_decode_opts *opts,
                            struct smq_connect *out);
uint8_t smq__decode_subscribe(struct smq_reader *r, const struct smq_decode_opts *opts,
                              struct smq_subscribe *out);
uint8_t smq__decode_unsubscribe(struct smq_reader *r, const struct smq_decode_opts *opts,
                                struct smq_unsubscribe *out);
uint8_t smq__decode_sub_ack(struct smq_reader *r, const struct smq_decode_opts *opts, uint8_t type,
                            struct smq_sub_ack *out);

/* Reads a property block for context ctx at the reader's position. */
static inline uint8_t smq__read_props(struct smq_reader *r, int ctx,
                                      const struct smq_decode_opts *opts, struct smq_props *out)
{
    uint8_t reason = 0;
    ssize_t n = smq_props_decode(r->pos, smq__left(r), ctx, opts->max_user_props, out, &reason);
    if (n < 0)
        return reason;
    r->pos += n;
    return 0;
}

/* Reads a packet identifier, which must not be 0 [MQTT-2.2.1-3]. */
static inline uint8_t smq__read_packet_id(struct smq_reader *r, uint16_t *out)
{
    if (!smq__read_u16(r, out))
        return SMQ_RC_MALFORMED;
    return *out == 0 ? SMQ_RC_PROTOCOL_ERROR : 0;
}

#endif
