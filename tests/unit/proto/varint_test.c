/* Tests for proto/varint.c: the MQTT Variable Byte Integer (1.5.5 of 5.0, 2.2.3 of 3.1.1).
 *
 * Covers every size boundary in both directions, "need more" at every truncation point,
 * the fifth-byte and non-minimal-encoding rejections [MQTT-1.5.5-1], and round trips of
 * encode/size/decode over the whole range (dense at the low end, sampled above). */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/packet.h"
#include "proto/varint.h"

/* Decodes len bytes and returns the result; *out is preset to a sentinel. */
static ssize_t dec(const uint8_t *src, size_t len, uint32_t *out)
{
    *out = 0xDEADBEEFu;
    return smq_varint_decode(src, len, out);
}

/* Asserts that bytes[0..len) decode to value using exactly len bytes. */
static void expect_decodes(const uint8_t *bytes, size_t len, uint32_t value)
{
    uint32_t v;
    ssize_t n = dec(bytes, len, &v);
    cr_assert_eq(n, (ssize_t)len, "decode returned %zd, expected %zu", n, len);
    cr_assert_eq(v, value, "decoded %u, expected %u", v, value);
}

/* Asserts that value encodes to exactly the given bytes and size. */
static void expect_encodes(uint32_t value, const uint8_t *bytes, size_t len)
{
    uint8_t buf[8];
    memset(buf, 0xAA, sizeof buf);
    cr_assert_eq(smq_varint_size(value), len, "size(%u)", value);
    cr_assert_eq(smq_varint_encode(buf, value), len, "encode(%u) length", value);
    cr_assert_arr_eq(buf, bytes, len, "encode(%u) bytes", value);
    cr_assert_eq(buf[len], 0xAA, "encode(%u) wrote past its size", value);
}

/* Asserts that every strict prefix of bytes (lengths 0..len-1) asks for more bytes. */
static void expect_need_more_on_every_prefix(const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint32_t v;
        cr_assert_eq(dec(bytes, i, &v), 0, "prefix of %zu bytes of a %zu-byte varint", i, len);
    }
}

/* Asserts that bytes are rejected as malformed. */
static void expect_eproto(const uint8_t *bytes, size_t len)
{
    uint32_t v;
    cr_assert_eq(dec(bytes, len, &v), SMQ_EPROTO);
}

/* ---- boundaries ---------------------------------------------------------------------- */

static const struct {
    uint32_t value;
    uint8_t bytes[4];
    size_t len;
} boundaries[] = {
    {0, {0x00}, 1},
    {1, {0x01}, 1},
    {127, {0x7F}, 1},
    {128, {0x80, 0x01}, 2},
    {321, {0xC1, 0x02}, 2}, /* the example of 1.5.5 */
    {16383, {0xFF, 0x7F}, 2},
    {16384, {0x80, 0x80, 0x01}, 3},
    {2097151, {0xFF, 0xFF, 0x7F}, 3},
    {2097152, {0x80, 0x80, 0x80, 0x01}, 4},
    {268435455, {0xFF, 0xFF, 0xFF, 0x7F}, 4},
};

Test(varint, decodes_every_size_boundary)
{
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++)
        expect_decodes(boundaries[i].bytes, boundaries[i].len, boundaries[i].value);
}

Test(varint, encodes_every_size_boundary)
{
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++)
        expect_encodes(boundaries[i].value, boundaries[i].bytes, boundaries[i].len);
}

Test(varint, size_changes_exactly_at_the_boundaries)
{
    cr_assert_eq(smq_varint_size(0), 1);
    cr_assert_eq(smq_varint_size(127), 1);
    cr_assert_eq(smq_varint_size(128), 2);
    cr_assert_eq(smq_varint_size(16383), 2);
    cr_assert_eq(smq_varint_size(16384), 3);
    cr_assert_eq(smq_varint_size(2097151), 3);
    cr_assert_eq(smq_varint_size(2097152), 4);
    cr_assert_eq(smq_varint_size(SMQ_VARINT_MAX), 4);
}

Test(varint, max_constant_is_the_spec_maximum)
{
    cr_assert_eq(SMQ_VARINT_MAX, 268435455u);
}

Test(varint, decode_uses_only_its_own_bytes_when_more_follow)
{
    const uint8_t one[] = {0x7F, 0xFF, 0xFF};
    const uint8_t two[] = {0x80, 0x01, 0x80};
    const uint8_t four[] = {0xFF, 0xFF, 0xFF, 0x7F, 0x80, 0x80};
    uint32_t v;
    cr_assert_eq(dec(one, sizeof one, &v), 1);
    cr_assert_eq(v, 127);
    cr_assert_eq(dec(two, sizeof two, &v), 2);
    cr_assert_eq(v, 128);
    cr_assert_eq(dec(four, sizeof four, &v), 4);
    cr_assert_eq(v, SMQ_VARINT_MAX);
}

/* ---- need more ----------------------------------------------------------------------- */

Test(varint, empty_input_needs_more)
{
    uint32_t v;
    cr_assert_eq(dec(NULL, 0, &v), 0);
    const uint8_t b[] = {0x05};
    cr_assert_eq(dec(b, 0, &v), 0);
}

Test(varint, every_truncation_of_every_boundary_needs_more)
{
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++)
        expect_need_more_on_every_prefix(boundaries[i].bytes, boundaries[i].len);
}

Test(varint, continuation_bytes_without_end_need_more_up_to_three)
{
    const uint8_t b[] = {0x80, 0x80, 0x80};
    uint32_t v;
    cr_assert_eq(dec(b, 1, &v), 0);
    cr_assert_eq(dec(b, 2, &v), 0);
    cr_assert_eq(dec(b, 3, &v), 0);
}

Test(varint, every_truncation_of_encoded_values_needs_more)
{
    static const uint32_t values[] = {200, 5000, 16383, 16385, 100000, 2097151,
                                      3000000, 123456789, SMQ_VARINT_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t buf[4];
        size_t n = smq_varint_encode(buf, values[i]);
        expect_need_more_on_every_prefix(buf, n);
    }
}

/* ---- fifth byte ---------------------------------------------------------------------- */

/* [MQTT-1.5.5-1] at most four bytes: a fourth byte with its continuation bit set asks for a
 * fifth, which is malformed whether the fifth byte is there or not. */
Test(varint, fourth_byte_with_continuation_is_malformed_before_fifth_arrives)
{
    const uint8_t b[] = {0xFF, 0xFF, 0xFF, 0xFF};
    expect_eproto(b, sizeof b);
    const uint8_t c[] = {0x80, 0x80, 0x80, 0x80};
    expect_eproto(c, sizeof c);
}

Test(varint, five_byte_encodings_are_malformed)
{
    const uint8_t a[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    const uint8_t b[] = {0x80, 0x80, 0x80, 0x80, 0x01};
    const uint8_t c[] = {0x80, 0x80, 0x80, 0x80, 0x00};
    const uint8_t d[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    expect_eproto(a, sizeof a);
    expect_eproto(b, sizeof b);
    expect_eproto(c, sizeof c);
    expect_eproto(d, sizeof d);
}

/* ---- non-minimal encodings ----------------------------------------------------------- */

/* [MQTT-1.5.5-1] "MUST use the minimum number of bytes": a multi-byte encoding whose last
 * byte is 0 has a shorter form. */
Test(varint, zero_in_two_bytes_is_malformed)
{
    const uint8_t b[] = {0x80, 0x00};
    expect_eproto(b, sizeof b);
}

Test(varint, zero_in_three_and_four_bytes_is_malformed)
{
    const uint8_t b3[] = {0x80, 0x80, 0x00};
    const uint8_t b4[] = {0x80, 0x80, 0x80, 0x00};
    expect_eproto(b3, sizeof b3);
    expect_eproto(b4, sizeof b4);
}

Test(varint, one_byte_value_in_two_bytes_is_malformed)
{
    const uint8_t b[] = {0xFF, 0x00}; /* 127 */
    const uint8_t c[] = {0x81, 0x00}; /* 1 */
    expect_eproto(b, sizeof b);
    expect_eproto(c, sizeof c);
}

Test(varint, two_byte_value_in_three_bytes_is_malformed)
{
    const uint8_t b[] = {0xFF, 0xFF, 0x00}; /* 16383 */
    const uint8_t c[] = {0x80, 0x81, 0x00}; /* 128 */
    expect_eproto(b, sizeof b);
    expect_eproto(c, sizeof c);
}

Test(varint, three_byte_value_in_four_bytes_is_malformed)
{
    const uint8_t b[] = {0xFF, 0xFF, 0xFF, 0x00}; /* 2097151 */
    const uint8_t c[] = {0x80, 0x80, 0x81, 0x00}; /* 16384 */
    expect_eproto(b, sizeof b);
    expect_eproto(c, sizeof c);
}

Test(varint, non_minimal_is_malformed_even_when_bytes_follow)
{
    const uint8_t b[] = {0x80, 0x00, 0x05, 0x06};
    expect_eproto(b, sizeof b);
}

Test(varint, every_two_byte_encoding_is_accepted_iff_minimal)
{
    for (unsigned lo = 0x80; lo <= 0xFF; lo++) {
        for (unsigned hi = 0; hi <= 0x7F; hi++) {
            const uint8_t b[] = {(uint8_t)lo, (uint8_t)hi};
            uint32_t v;
            ssize_t n = dec(b, 2, &v);
            if (hi == 0) {
                cr_assert_eq(n, SMQ_EPROTO, "%02x %02x", lo, hi);
            } else {
                cr_assert_eq(n, 2, "%02x %02x", lo, hi);
                cr_assert_eq(v, (lo & 0x7Fu) | (hi << 7));
            }
        }
    }
}

/* ---- round trips --------------------------------------------------------------------- */

static void round_trip(uint32_t value)
{
    uint8_t buf[8];
    size_t size = smq_varint_size(value);
    cr_assert(size >= 1 && size <= 4, "size(%u) = %zu", value, size);
    cr_assert_eq(smq_varint_encode(buf, value), size, "encode(%u)", value);
    uint32_t v;
    cr_assert_eq(dec(buf, size, &v), (ssize_t)size, "decode(encode(%u))", value);
    cr_assert_eq(v, value);
    /* The encoder's output is minimal: one byte less is always a truncation. */
    cr_assert_eq(dec(buf, size - 1, &v), 0);
}

Test(varint, round_trips_every_value_up_to_three_bytes_start)
{
    for (uint32_t value = 0; value <= 20000; value++)
        round_trip(value);
}

Test(varint, round_trips_values_around_each_boundary)
{
    static const uint32_t edges[] = {128, 16384, 2097152, SMQ_VARINT_MAX};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        for (uint32_t d = 0; d < 64; d++) {
            round_trip(edges[i] - 1 - d);
            if (edges[i] + d <= SMQ_VARINT_MAX)
                round_trip(edges[i] + d);
        }
    }
}

Test(varint, round_trips_a_sample_of_the_whole_range)
{
    for (uint32_t value = 0; value < SMQ_VARINT_MAX - 7919; value += 7919)
        round_trip(value);
    round_trip(SMQ_VARINT_MAX);
}

Test(varint, size_agrees_with_bytes_written_over_the_range)
{
    uint8_t buf[8];
    for (uint32_t value = 1; value <= SMQ_VARINT_MAX && value != 0; value = value * 3 + 1)
        cr_assert_eq(smq_varint_encode(buf, value), smq_varint_size(value), "%u", value);
}
