/* Tests of bench/payload.c: the 32-byte header round trip and rejection of other payloads. */
#include <criterion/criterion.h>

#include "bench/payload.h"

Test(payload, header_round_trips)
{
    uint8_t buf[64];
    struct smq_bench_payload in = {.run_id = 0xdeadbeef, .pub_id = 4242,
                                   .seq = UINT64_C(0x0123456789abcdef),
                                   .sent_ns = UINT64_C(987654321012345)};
    smq_bench_payload_write(buf, &in);
    struct smq_bench_payload out;
    cr_assert(smq_bench_payload_read(buf, sizeof(buf), &out));
    cr_assert_eq(out.run_id, in.run_id);
    cr_assert_eq(out.pub_id, in.pub_id);
    cr_assert_eq(out.seq, in.seq);
    cr_assert_eq(out.sent_ns, in.sent_ns);
}

Test(payload, layout_is_little_endian_with_magic_first)
{
    uint8_t buf[SMQ_BENCH_PAYLOAD_HDR];
    struct smq_bench_payload in = {.run_id = 1, .pub_id = 2, .seq = 3, .sent_ns = 4};
    smq_bench_payload_write(buf, &in);
    cr_assert_eq(memcmp(buf, "SMQB", 4), 0);
    cr_assert_eq(buf[4], 1);
    cr_assert_eq(buf[8], 2);
    cr_assert_eq(buf[16], 3);
    cr_assert_eq(buf[24], 4);
}

Test(payload, short_payloads_are_not_ours)
{
    uint8_t buf[SMQ_BENCH_PAYLOAD_HDR];
    struct smq_bench_payload in = {0}, out;
    smq_bench_payload_write(buf, &in);
    cr_assert_not(smq_bench_payload_read(buf, SMQ_BENCH_PAYLOAD_HDR - 1, &out));
    cr_assert(smq_bench_payload_read(buf, SMQ_BENCH_PAYLOAD_HDR, &out));
}

Test(payload, payloads_without_the_magic_are_not_ours)
{
    uint8_t buf[SMQ_BENCH_PAYLOAD_HDR] = "hello, this is not a bench msg.";
    struct smq_bench_payload out;
    cr_assert_not(smq_bench_payload_read(buf, sizeof(buf), &out));
}
