/* Reading and writing the benchmark payload header (bench/payload.h). Byte by byte so the
 * format does not depend on the host's byte order or alignment. */
#include "bench/payload.h"

#include <string.h>

static void put_le(uint8_t *dst, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        dst[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *src, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)src[i] << (8 * i);
    return v;
}

void smq_bench_payload_write(uint8_t *dst, const struct smq_bench_payload *p)
{
    put_le(dst, SMQ_BENCH_PAYLOAD_MAGIC, 4);
    put_le(dst + 4, p->run_id, 4);
    put_le(dst + 8, p->pub_id, 4);
    put_le(dst + 12, 0, 4);
    put_le(dst + 16, p->seq, 8);
    put_le(dst + 24, p->sent_ns, 8);
}

bool smq_bench_payload_read(const uint8_t *src, size_t len, struct smq_bench_payload *out)
{
    if (len < SMQ_BENCH_PAYLOAD_HDR || get_le(src, 4) != SMQ_BENCH_PAYLOAD_MAGIC)
        return false;
    out->run_id = (uint32_t)get_le(src + 4, 4);
    out->pub_id = (uint32_t)get_le(src + 8, 4);
    out->seq = get_le(src + 16, 8);
    out->sent_ns = get_le(src + 24, 8);
    return true;
}
