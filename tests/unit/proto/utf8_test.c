/* Tests for proto/utf8.c: MQTT UTF-8 Encoded Strings (1.5.4 of 5.0, 1.5.3 of 3.1.1).
 *
 * The policy under test (proto/utf8.h, proto/README.md): ill-formed UTF-8, overlong forms,
 * surrogates, code points above U+10FFFF and U+0000 are rejected; other control characters
 * and non-characters are accepted (choice). Besides hand-picked cases, every one-, two- and
 * three-byte sequence is checked against a small reference validator written from the
 * Unicode "well-formed byte sequences" table (Unicode 3.9, table 3-7). */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto/utf8.h"

static bool valid_bytes(const uint8_t *s, size_t len)
{
    return smq_utf8_is_valid(s, len);
}

/* A C string literal (which may hold "\x00" only via valid_n). */
static bool valid_str(const char *s)
{
    return smq_utf8_is_valid((const uint8_t *)s, strlen(s));
}

static bool valid_n(const char *s, size_t len)
{
    return smq_utf8_is_valid((const uint8_t *)s, len);
}

/* Reference: the length of the well-formed sequence starting at s (table 3-7), or 0. */
static size_t ref_seq(const uint8_t *s, size_t len)
{
    uint8_t b0 = s[0];
    if (b0 <= 0x7F)
        return 1;
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
    } else if (b0 == 0xE0) {
        n = 3;
        lo = 0xA0;
    } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
        n = 3;
    } else if (b0 == 0xED) {
        n = 3;
        hi = 0x9F;
    } else if (b0 == 0xF0) {
        n = 4;
        lo = 0x90;
    } else if (b0 >= 0xF1 && b0 <= 0xF3) {
        n = 4;
    } else if (b0 == 0xF4) {
        n = 4;
        hi = 0x8F;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* Reference validator with the MQTT policy: well-formed, and no U+0000. */
static bool ref_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] == 0x00)
            return false;
        size_t n = ref_seq(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* ---- accepted ------------------------------------------------------------------------ */

Test(utf8, empty_string_is_valid)
{
    cr_assert(valid_bytes(NULL, 0));
    cr_assert(valid_str(""));
}

Test(utf8, ascii_is_valid)
{
    cr_assert(valid_str("hello"));
    cr_assert(valid_str("sport/tennis/player1"));
    cr_assert(valid_str(" !\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~"));
}

Test(utf8, two_byte_sequences_are_valid)
{
    cr_assert(valid_str("\xC2\x80"));         /* U+0080, lowest two-byte */
    cr_assert(valid_str("\xC3\xA9"));         /* U+00E9 */
    cr_assert(valid_str("\xDF\xBF"));         /* U+07FF, highest two-byte */
    cr_assert(valid_str("caf\xC3\xA9 cr\xC3\xA8me"));
}

Test(utf8, three_byte_sequences_are_valid)
{
    cr_assert(valid_str("\xE0\xA0\x80")); /* U+0800, lowest three-byte */
    cr_assert(valid_str("\xE2\x82\xAC")); /* U+20AC euro sign */
    cr_assert(valid_str("\xED\x9F\xBF")); /* U+D7FF, just below the surrogates */
    cr_assert(valid_str("\xEE\x80\x80")); /* U+E000, just above the surrogates */
    cr_assert(valid_str("\xEF\xBF\xBD")); /* U+FFFD */
}

Test(utf8, four_byte_sequences_are_valid)
{
    cr_assert(valid_str("\xF0\x90\x80\x80")); /* U+10000, lowest four-byte */
    cr_assert(valid_str("\xF0\x9F\x98\x80")); /* U+1F600 */
    cr_assert(valid_str("\xF3\xBF\xBF\xBF")); /* U+FFFFF */
    cr_assert(valid_str("\xF4\x8F\xBF\xBF")); /* U+10FFFF, the highest code point */
}

Test(utf8, mixed_widths_are_valid)
{
    cr_assert(valid_str("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z"));
}

/* [MQTT-1.5.4-3] a leading U+FEFF is a character like any other, not to be skipped. */
Test(utf8, byte_order_mark_is_valid)
{
    cr_assert(valid_str("\xEF\xBB\xBF" "abc"));
}

/* Policy (choice): control characters other than U+0000 are accepted; the spec says only
 * that senders SHOULD NOT send them (1.5.4). */
Test(utf8, control_characters_are_accepted)
{
    cr_assert(valid_str("\x01"));
    cr_assert(valid_str("a\tb\r\n"));
    cr_assert(valid_str("\x1F"));
    cr_assert(valid_str("\x7F"));
    cr_assert(valid_str("\xC2\x80")); /* U+0080 */
    cr_assert(valid_str("\xC2\x9F")); /* U+009F */
}

/* Policy (choice): non-characters are accepted. */
Test(utf8, non_characters_are_accepted)
{
    cr_assert(valid_str("\xEF\xBF\xBF"));     /* U+FFFF */
    cr_assert(valid_str("\xEF\xBF\xBE"));     /* U+FFFE */
    cr_assert(valid_str("\xEF\xB7\x90"));     /* U+FDD0 */
    cr_assert(valid_str("\xEF\xB7\xAF"));     /* U+FDEF */
    cr_assert(valid_str("\xF0\x9F\xBF\xBF")); /* U+1FFFF */
    cr_assert(valid_str("\xF4\x8F\xBF\xBE")); /* U+10FFFE */
}

Test(utf8, only_len_bytes_are_examined)
{
    cr_assert(valid_n("ab\xFF", 2));
    cr_assert(valid_n("ab\x00", 2));
    cr_assert(valid_n("\xC3\xA9\x80", 2));
}

/* ---- U+0000 -------------------------------------------------------------------------- */

/* [MQTT-1.5.4-2] a UTF-8 Encoded String MUST NOT include U+0000. */
Test(utf8, nul_alone_is_rejected)
{
    cr_assert_not(valid_n("\x00", 1));
}

Test(utf8, nul_inside_is_rejected)
{
    cr_assert_not(valid_n("a\x00" "b", 3));
    cr_assert_not(valid_n("abc\x00", 4));
    cr_assert_not(valid_n("\x00" "abc", 4));
}

Test(utf8, nul_in_two_byte_overlong_form_is_rejected)
{
    cr_assert_not(valid_str("\xC0\x80"));
}

/* ---- surrogates ---------------------------------------------------------------------- */

/* [MQTT-1.5.4-1] the code points U+D800..U+DFFF MUST NOT be included. */
Test(utf8, lowest_and_highest_surrogates_are_rejected)
{
    cr_assert_not(valid_str("\xED\xA0\x80")); /* U+D800 */
    cr_assert_not(valid_str("\xED\xAF\xBF")); /* U+DBFF */
    cr_assert_not(valid_str("\xED\xB0\x80")); /* U+DC00 */
    cr_assert_not(valid_str("\xED\xBF\xBF")); /* U+DFFF */
}

Test(utf8, every_surrogate_is_rejected)
{
    for (unsigned b1 = 0xA0; b1 <= 0xBF; b1++) {
        for (unsigned b2 = 0x80; b2 <= 0xBF; b2++) {
            const uint8_t s[] = {0xED, (uint8_t)b1, (uint8_t)b2};
            cr_assert_not(valid_bytes(s, 3), "ED %02X %02X", b1, b2);
        }
    }
}

Test(utf8, surrogate_pair_encoded_as_cesu8_is_rejected)
{
    cr_assert_not(valid_str("\xED\xA0\xBD\xED\xB8\x80")); /* U+1F600 as two surrogates */
}

Test(utf8, surrogate_after_valid_text_is_rejected)
{
    cr_assert_not(valid_str("abc\xED\xA0\x80"));
    cr_assert_not(valid_str("\xED\xBF\xBF" "abc"));
}

/* ---- overlong forms ------------------------------------------------------------------ */

Test(utf8, two_byte_overlongs_are_rejected)
{
    cr_assert_not(valid_str("\xC0\x80"));
    cr_assert_not(valid_str("\xC0\xAF")); /* '/' */
    cr_assert_not(valid_str("\xC1\xBF")); /* U+007F */
    for (unsigned b1 = 0x80; b1 <= 0xBF; b1++) {
        const uint8_t c0[] = {0xC0, (uint8_t)b1};
        const uint8_t c1[] = {0xC1, (uint8_t)b1};
        cr_assert_not(valid_bytes(c0, 2));
        cr_assert_not(valid_bytes(c1, 2));
    }
}

Test(utf8, three_byte_overlongs_are_rejected)
{
    cr_assert_not(valid_str("\xE0\x80\x80")); /* U+0000 */
    cr_assert_not(valid_str("\xE0\x80\xAF")); /* '/' */
    cr_assert_not(valid_str("\xE0\x9F\xBF")); /* U+07FF */
}

Test(utf8, four_byte_overlongs_are_rejected)
{
    cr_assert_not(valid_str("\xF0\x80\x80\x80")); /* U+0000 */
    cr_assert_not(valid_str("\xF0\x80\x80\xAF")); /* '/' */
    cr_assert_not(valid_str("\xF0\x8F\xBF\xBF")); /* U+FFFF */
}

/* ---- above U+10FFFF and impossible lead bytes ---------------------------------------- */

Test(utf8, code_point_above_10ffff_is_rejected)
{
    cr_assert_not(valid_str("\xF4\x90\x80\x80")); /* U+110000 */
    cr_assert_not(valid_str("\xF4\xBF\xBF\xBF")); /* U+13FFFF */
    cr_assert_not(valid_str("\xF7\xBF\xBF\xBF")); /* U+1FFFFF */
}

Test(utf8, lead_bytes_f5_to_ff_are_rejected)
{
    for (unsigned lead = 0xF5; lead <= 0xFF; lead++) {
        const uint8_t s[] = {(uint8_t)lead, 0x80, 0x80, 0x80};
        cr_assert_not(valid_bytes(s, 4), "lead %02X", lead);
        cr_assert_not(valid_bytes(s, 1), "lead %02X alone", lead);
    }
}

Test(utf8, five_and_six_byte_forms_are_rejected)
{
    cr_assert_not(valid_str("\xF8\x88\x80\x80\x80"));
    cr_assert_not(valid_str("\xFC\x84\x80\x80\x80\x80"));
}

/* ---- stray and missing continuation bytes -------------------------------------------- */

Test(utf8, stray_continuation_bytes_are_rejected)
{
    cr_assert_not(valid_str("\x80"));
    cr_assert_not(valid_str("\xBF"));
    cr_assert_not(valid_str("a\x80" "b"));
    cr_assert_not(valid_str("\xC3\xA9\xA9"));        /* one continuation too many */
    cr_assert_not(valid_str("\xE2\x82\xAC\x80"));
    cr_assert_not(valid_str("\xF0\x9F\x98\x80\x80"));
}

Test(utf8, every_lone_continuation_byte_is_rejected)
{
    for (unsigned b = 0x80; b <= 0xBF; b++) {
        const uint8_t s[] = {'x', (uint8_t)b, 'y'};
        cr_assert_not(valid_bytes(s, 3), "%02X", b);
    }
}

Test(utf8, truncated_sequences_are_rejected)
{
    cr_assert_not(valid_str("\xC3"));
    cr_assert_not(valid_str("\xE2"));
    cr_assert_not(valid_str("\xE2\x82"));
    cr_assert_not(valid_str("\xF0"));
    cr_assert_not(valid_str("\xF0\x9F"));
    cr_assert_not(valid_str("\xF0\x9F\x98"));
    cr_assert_not(valid_str("abc\xC3"));
    cr_assert_not(valid_str("abc\xF0\x9F\x98"));
}

Test(utf8, sequence_cut_by_len_is_rejected)
{
    cr_assert_not(valid_n("\xC3\xA9", 1));
    cr_assert_not(valid_n("\xE2\x82\xAC", 2));
    cr_assert_not(valid_n("\xF0\x9F\x98\x80", 3));
}

Test(utf8, lead_followed_by_non_continuation_is_rejected)
{
    cr_assert_not(valid_str("\xC3" "A"));
    cr_assert_not(valid_str("\xE2\x28\xA1"));
    cr_assert_not(valid_str("\xE2\x82\x28"));
    cr_assert_not(valid_str("\xF0\x28\x8C\xBC"));
    cr_assert_not(valid_str("\xF0\x90\x28\xBC"));
    cr_assert_not(valid_str("\xF0\x90\x8C\x28"));
    cr_assert_not(valid_str("\xC3\xC3\xA9")); /* a lead where a continuation belongs */
}

/* ---- exhaustive comparison with the reference ----------------------------------------- */

Test(utf8, agrees_with_reference_on_every_one_and_two_byte_string)
{
    for (unsigned a = 0; a < 256; a++) {
        const uint8_t s1[] = {(uint8_t)a};
        cr_assert_eq(valid_bytes(s1, 1), ref_valid(s1, 1), "%02X", a);
        for (unsigned b = 0; b < 256; b++) {
            const uint8_t s2[] = {(uint8_t)a, (uint8_t)b};
            cr_assert_eq(valid_bytes(s2, 2), ref_valid(s2, 2), "%02X %02X", a, b);
        }
    }
}

Test(utf8, agrees_with_reference_on_every_three_byte_string, .timeout = 60)
{
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            for (unsigned c = 0; c < 256; c++) {
                const uint8_t s[] = {(uint8_t)a, (uint8_t)b, (uint8_t)c};
                bool got = valid_bytes(s, 3);
                if (got != ref_valid(s, 3))
                    cr_assert_fail("%02X %02X %02X: got %d", a, b, c, got);
            }
        }
    }
}

Test(utf8, agrees_with_reference_on_four_byte_strings_with_interesting_bytes)
{
    static const uint8_t picks[] = {0x00, 0x01, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                    0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF,
                                    0xF0, 0xF4, 0xF5, 0xFF};
    const size_t np = sizeof picks;
    for (unsigned a = 0xC0; a < 256; a++) {
        for (unsigned b = 0x80; b < 0xC0; b++) {
            for (size_t i = 0; i < np; i++) {
                for (size_t j = 0; j < np; j++) {
                    const uint8_t s[] = {(uint8_t)a, (uint8_t)b, picks[i], picks[j]};
                    bool got = valid_bytes(s, 4);
                    if (got != ref_valid(s, 4))
                        cr_assert_fail("%02X %02X %02X %02X: got %d", a, b, picks[i],
                                       picks[j], got);
                }
            }
        }
    }
}

Test(utf8, every_code_point_encoded_by_the_test_is_judged_by_policy)
{
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        uint8_t s[4];
        size_t n;
        if (cp < 0x80) {
            s[0] = (uint8_t)cp;
            n = 1;
        } else if (cp < 0x800) {
            s[0] = (uint8_t)(0xC0 | (cp >> 6));
            s[1] = (uint8_t)(0x80 | (cp & 0x3F));
            n = 2;
        } else if (cp < 0x10000) {
            s[0] = (uint8_t)(0xE0 | (cp >> 12));
            s[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            s[2] = (uint8_t)(0x80 | (cp & 0x3F));
            n = 3;
        } else {
            s[0] = (uint8_t)(0xF0 | (cp >> 18));
            s[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
            s[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            s[3] = (uint8_t)(0x80 | (cp & 0x3F));
            n = 4;
        }
        bool expected = cp != 0 && !(cp >= 0xD800 && cp <= 0xDFFF);
        bool got = valid_bytes(s, n);
        if (got != expected)
            cr_assert_fail("U+%04X: got %d, expected %d", cp, got, expected);
    }
}
