/* Truncation: a valid packet of every type and protocol level, encoded, then offered to
 * smq_decode_packet() one prefix at a time. Every prefix 0..n-1 must answer 0 ("need more
 * bytes") without reading past the prefix, and the whole packet answers n. Each prefix is
 * copied into a buffer of exactly its size so a sanitizer build catches any over-read. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/errors.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/reason.h"

#include "packet_catalog.h"

/* ---------------------------------------------------------------------------------------
 * Prefixes
 * ------------------------------------------------------------------------------------- */

static void check_prefixes(const struct sample *s, const struct smq_decode_opts *opts)
{
    size_t size = smq_encode_size(s->version, &s->pkt);
    uint8_t *full = malloc(size);
    cr_assert_not_null(full);
    cr_assert_eq(smq_encode(full, size, s->version, &s->pkt), (ssize_t)size, "%s", s->name);
    for (size_t len = 0; len < size; len++) {
        /* An exact-size copy: reading byte `len` would be out of bounds. */
        uint8_t *prefix = malloc(len ? len : 1);
        cr_assert_not_null(prefix);
        memcpy(prefix, full, len);
        struct smq_packet out;
        uint8_t reason = 0xEE;
        ssize_t n = smq_decode_packet(prefix, len, opts, &out, &reason);
        cr_assert_eq(n, 0, "%s: prefix %zu of %zu returned %zd (reason 0x%02x)", s->name, len, size,
                     n, reason);
        free(prefix);
    }
    struct smq_packet out;
    uint8_t reason = 0xEE;
    ssize_t n = smq_decode_packet(full, size, opts, &out, &reason);
    cr_assert_eq(n, (ssize_t)size, "%s: whole packet returned %zd (reason 0x%02x)", s->name, n,
                 reason);
    cr_assert_eq(out.type, s->pkt.type, "%s", s->name);
    cr_assert_eq(out.flags, expected_flags(&s->pkt), "%s", s->name);
    free(full);
}

/* Checks every sample of one type and level; returns how many there were. */
static size_t truncate_type(uint8_t type, uint8_t version)
{
    build_catalog();
    size_t done = 0;
    for (size_t i = 0; i < n_samples; i++) {
        const struct sample *s = &samples[i];
        if (s->pkt.type != type || s->version != version)
            continue;
        struct smq_decode_opts opts = {.version = version};
        check_prefixes(s, &opts);
        done++;
    }
    return done;
}

#define TRUNCATION_TEST(name, type)                                                                \
    Test(truncation, name##_v31)                                                                   \
    {                                                                                              \
        cr_assert_gt(truncate_type(type, SMQ_V31), 0);                                             \
    }                                                                                              \
    Test(truncation, name##_v311)                                                                  \
    {                                                                                              \
        cr_assert_gt(truncate_type(type, SMQ_V311), 0);                                            \
    }                                                                                              \
    Test(truncation, name##_v5)                                                                    \
    {                                                                                              \
        cr_assert_gt(truncate_type(type, SMQ_V5), 0);                                              \
    }

TRUNCATION_TEST(connect, SMQ_CONNECT)
TRUNCATION_TEST(connack, SMQ_CONNACK)
TRUNCATION_TEST(publish, SMQ_PUBLISH)
TRUNCATION_TEST(puback, SMQ_PUBACK)
TRUNCATION_TEST(pubrec, SMQ_PUBREC)
TRUNCATION_TEST(pubrel, SMQ_PUBREL)
TRUNCATION_TEST(pubcomp, SMQ_PUBCOMP)
TRUNCATION_TEST(subscribe, SMQ_SUBSCRIBE)
TRUNCATION_TEST(suback, SMQ_SUBACK)
TRUNCATION_TEST(unsubscribe, SMQ_UNSUBSCRIBE)
TRUNCATION_TEST(unsuback, SMQ_UNSUBACK)
TRUNCATION_TEST(pingreq, SMQ_PINGREQ)
TRUNCATION_TEST(pingresp, SMQ_PINGRESP)
TRUNCATION_TEST(disconnect, SMQ_DISCONNECT)

Test(truncation, auth_v5)
{
    cr_assert_eq(truncate_type(SMQ_AUTH, SMQ_V5), 3);
}

Test(truncation, prefixes_with_the_senders_role)
{
    /* The same holds when the decoder knows who sent the bytes, for every packet that
     * sender may send (a server sends the 5.0 PUBLISH with Subscription Identifiers). */
    build_catalog();
    for (size_t i = 0; i < n_samples; i++) {
        const struct sample *s = &samples[i];
        uint8_t t = s->pkt.type;
        bool from_client =
            t == SMQ_CONNECT || t == SMQ_SUBSCRIBE || t == SMQ_UNSUBSCRIBE || t == SMQ_PINGREQ;
        bool from_server = t == SMQ_CONNACK || t == SMQ_SUBACK || t == SMQ_UNSUBACK ||
                           t == SMQ_PINGRESP || t == SMQ_PUBLISH;
        if (t == SMQ_DISCONNECT && s->version < SMQ_V5)
            from_client = true;
        struct smq_decode_opts opts = {
            .version = s->version,
            .sender = from_client   ? SMQ_SENDER_CLIENT
                      : from_server ? SMQ_SENDER_SERVER
                                    : SMQ_SENDER_CLIENT,
        };
        check_prefixes(s, &opts);
    }
}

Test(truncation, prefixes_of_a_connect_awaited_first)
{
    build_catalog();
    for (size_t i = 0; i < n_samples; i++) {
        if (samples[i].pkt.type != SMQ_CONNECT)
            continue;
        struct smq_decode_opts opts = {.sender = SMQ_SENDER_CLIENT, .awaiting_connect = true};
        check_prefixes(&samples[i], &opts);
    }
}

Test(truncation, prefixes_within_the_size_limit)
{
    /* With max_packet_size equal to the packet's size, no prefix is refused. */
    build_catalog();
    for (size_t i = 0; i < n_samples; i++) {
        const struct sample *s = &samples[i];
        struct smq_decode_opts opts = {.version = s->version,
                                       .max_packet_size =
                                           (uint32_t)smq_encode_size(s->version, &s->pkt)};
        check_prefixes(s, &opts);
    }
}

Test(truncation, every_sample_was_checked)
{
    build_catalog();
    size_t total = 0;
    for (uint8_t v = SMQ_V31; v <= SMQ_V5; v++)
        for (uint8_t t = SMQ_CONNECT; t <= SMQ_AUTH; t++)
            total += truncate_type(t, v);
    cr_assert_eq(total, n_samples);
}
