/* The header every benchmark message carries at the start of its payload.
 *
 * 32 bytes, little-endian: magic "SMQB", run id (random per bench process, so messages
 * left over from an earlier run - retained or queued in a persistent session - are told
 * apart), publisher id, reserved, sequence number (0, 1, 2, ... per publisher) and the send
 * time in CLOCK_MONOTONIC nanoseconds (uv_hrtime), meaningful only on the machine that sent
 * it. The rest of the payload, up to -s bytes, is padding. */
#ifndef SMQ_BENCH_PAYLOAD_H
#define SMQ_BENCH_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMQ_BENCH_PAYLOAD_MAGIC 0x42514d53u /* "SMQB" read as a little-endian u32 */
#define SMQ_BENCH_PAYLOAD_HDR 32u           /* the smallest payload -s accepts */

struct smq_bench_payload {
    uint32_t run_id;
    uint32_t pub_id;
    uint64_t seq;
    uint64_t sent_ns;
};

/* Writes the header of p at dst, which has room for SMQ_BENCH_PAYLOAD_HDR bytes. */
void smq_bench_payload_write(uint8_t *dst, const struct smq_bench_payload *p);

/* Reads a header from the len bytes at src. Returns false when they are too short or do
 * not start with the magic (a message that is not ours). */
bool smq_bench_payload_read(const uint8_t *src, size_t len, struct smq_bench_payload *out);

#endif
