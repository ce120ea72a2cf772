/* Tests for core/alias.c: the inbound table (alias -> topic the client set) and the outbound
 * table (topic -> alias the broker chose, least recently used replaced first).
 *
 * Limits are checked at both ends (alias 0, alias max, max + 1), topics of every length the
 * protocol allows (1 byte to 65,535), replacement of a topic by a longer and a shorter one,
 * and the exact eviction order of the outbound table. ASan catches leaks and overruns of the
 * reused topic buffers. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alias.h"
#include "proto/errors.h"

static struct smq_span str(const char *s)
{
    return smq_span_str(s);
}

static bool in_is(const struct smq_alias_in *t, uint16_t alias, const char *topic)
{
    struct smq_span got;
    return smq_alias_in_get(t, alias, &got) == 0 && smq_span_eq_str(got, topic);
}

/* ---- inbound ------------------------------------------------------------------------- */

Test(alias_in, set_then_get_returns_a_copy)
{
    struct smq_alias_in *t = smq_alias_in_new(10);
    char topic[] = "sensors/1/temp";
    cr_assert_eq(smq_alias_in_set(t, 3, str(topic)), 0);
    memset(topic, 'x', strlen(topic)); /* the table holds its own copy */
    cr_expect(in_is(t, 3, "sensors/1/temp"));
    smq_alias_in_free(t);
}

Test(alias_in, unknown_alias_is_enoent)
{
    struct smq_alias_in *t = smq_alias_in_new(10);
    struct smq_span got;
    cr_expect_eq(smq_alias_in_get(t, 1, &got), SMQ_ENOENT); /* nothing set at all */
    cr_assert_eq(smq_alias_in_set(t, 2, str("a")), 0);
    cr_expect_eq(smq_alias_in_get(t, 1, &got), SMQ_ENOENT);  /* a neighbour */
    cr_expect_eq(smq_alias_in_get(t, 10, &got), SMQ_ENOENT); /* beyond the slots grown */
    smq_alias_in_free(t);
}

Test(alias_in, zero_and_above_max_are_einval)
{
    struct smq_alias_in *t = smq_alias_in_new(5);
    struct smq_span got;
    cr_expect_eq(smq_alias_in_set(t, 0, str("a")), SMQ_EINVAL);
    cr_expect_eq(smq_alias_in_set(t, 6, str("a")), SMQ_EINVAL);
    cr_expect_eq(smq_alias_in_get(t, 0, &got), SMQ_EINVAL);
    cr_expect_eq(smq_alias_in_get(t, 6, &got), SMQ_EINVAL);
    cr_expect_eq(smq_alias_in_set(t, 5, str("last")), 0); /* max itself is allowed */
    cr_expect(in_is(t, 5, "last"));
    cr_expect_eq(smq_alias_in_set(t, 1, str("")), SMQ_EINVAL); /* an empty topic sets nothing */
    cr_expect_eq(smq_alias_in_get(t, 1, &got), SMQ_ENOENT);
    smq_alias_in_free(t);
}

Test(alias_in, an_alias_can_change_topic_longer_and_shorter)
{
    struct smq_alias_in *t = smq_alias_in_new(2);
    cr_assert_eq(smq_alias_in_set(t, 1, str("short")), 0);
    cr_assert_eq(smq_alias_in_set(t, 1, str("a/much/longer/topic/than/before")), 0);
    cr_expect(in_is(t, 1, "a/much/longer/topic/than/before"));
    cr_assert_eq(smq_alias_in_set(t, 1, str("x")), 0);
    cr_expect(in_is(t, 1, "x"));
    cr_assert_eq(smq_alias_in_set(t, 2, str("other")), 0);
    cr_expect(in_is(t, 1, "x"));
    cr_expect(in_is(t, 2, "other"));
    smq_alias_in_free(t);
}

Test(alias_in, the_whole_alias_range_of_65535)
{
    struct smq_alias_in *t = smq_alias_in_new(65535);
    cr_assert_eq(smq_alias_in_set(t, 65535, str("top")), 0);
    cr_assert_eq(smq_alias_in_set(t, 1, str("bottom")), 0);
    cr_assert_eq(smq_alias_in_set(t, 40000, str("middle")), 0);
    cr_expect(in_is(t, 65535, "top"));
    cr_expect(in_is(t, 1, "bottom"));
    cr_expect(in_is(t, 40000, "middle"));
    struct smq_span got;
    cr_expect_eq(smq_alias_in_get(t, 39999, &got), SMQ_ENOENT);
    smq_alias_in_free(t);
}

Test(alias_in, longest_topic_is_kept_whole)
{
    size_t len = 65535;
    char *topic = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        topic[i] = (char)('a' + i % 26);
    topic[len] = '\0';
    struct smq_alias_in *t = smq_alias_in_new(1);
    cr_assert_eq(smq_alias_in_set(t, 1, str(topic)), 0);
    cr_expect(in_is(t, 1, topic));
    smq_alias_in_free(t);
    free(topic);
}

Test(alias_in, free_accepts_null)
{
    smq_alias_in_free(NULL);
    smq_alias_out_free(NULL);
}

/* ---- outbound ------------------------------------------------------------------------ */

Test(alias_out, first_use_assigns_later_uses_find)
{
    struct smq_alias_out *t = smq_alias_out_new(10);
    cr_expect_eq(smq_alias_out_find(t, str("a/b")), 0);
    uint16_t a = smq_alias_out_assign(t, str("a/b"));
    cr_expect_eq(a, 1);
    cr_expect_eq(smq_alias_out_find(t, str("a/b")), 1);
    cr_expect_eq(smq_alias_out_find(t, str("a/b")), 1);
    cr_expect_eq(smq_alias_out_find(t, str("a/c")), 0);
    cr_expect_eq(smq_alias_out_assign(t, str("a/c")), 2);
    cr_expect_eq(smq_alias_out_count(t), 2);
    smq_alias_out_free(t);
}

Test(alias_out, topic_is_copied)
{
    struct smq_alias_out *t = smq_alias_out_new(4);
    char topic[] = "copied/topic";
    smq_alias_out_assign(t, str(topic));
    memset(topic, 'z', strlen(topic));
    cr_expect_eq(smq_alias_out_find(t, str("copied/topic")), 1);
    cr_expect_eq(smq_alias_out_find(t, str(topic)), 0);
    smq_alias_out_free(t);
}

Test(alias_out, topics_differing_in_length_or_last_byte_are_distinct)
{
    struct smq_alias_out *t = smq_alias_out_new(8);
    smq_alias_out_assign(t, str("abc"));
    cr_expect_eq(smq_alias_out_find(t, str("ab")), 0);
    cr_expect_eq(smq_alias_out_find(t, str("abcd")), 0);
    cr_expect_eq(smq_alias_out_find(t, str("abd")), 0);
    cr_expect_eq(smq_alias_out_find(t, str("abc")), 1);
    smq_alias_out_free(t);
}

Test(alias_out, full_table_replaces_the_least_recently_used)
{
    struct smq_alias_out *t = smq_alias_out_new(3);
    cr_assert_eq(smq_alias_out_assign(t, str("t1")), 1);
    cr_assert_eq(smq_alias_out_assign(t, str("t2")), 2);
    cr_assert_eq(smq_alias_out_assign(t, str("t3")), 3);
    /* Use t1 again: t2 becomes the least recently used. */
    cr_assert_eq(smq_alias_out_find(t, str("t1")), 1);
    cr_expect_eq(smq_alias_out_assign(t, str("t4")), 2);
    cr_expect_eq(smq_alias_out_find(t, str("t2")), 0, "t2 lost its alias");
    cr_expect_eq(smq_alias_out_find(t, str("t4")), 2);
    /* Recency now (oldest first): t3, t1, t4. */
    cr_expect_eq(smq_alias_out_assign(t, str("t5")), 3);
    cr_expect_eq(smq_alias_out_find(t, str("t3")), 0);
    cr_expect_eq(smq_alias_out_assign(t, str("t6")), 1);
    cr_expect_eq(smq_alias_out_find(t, str("t1")), 0);
    cr_expect_eq(smq_alias_out_find(t, str("t4")), 2);
    cr_expect_eq(smq_alias_out_find(t, str("t5")), 3);
    cr_expect_eq(smq_alias_out_find(t, str("t6")), 1);
    cr_expect_eq(smq_alias_out_count(t), 3, "never more than max aliases");
    smq_alias_out_free(t);
}

Test(alias_out, max_one_alias_is_always_reused)
{
    struct smq_alias_out *t = smq_alias_out_new(1);
    cr_expect_eq(smq_alias_out_assign(t, str("first/topic")), 1);
    cr_expect_eq(smq_alias_out_assign(t, str("second")), 1);
    cr_expect_eq(smq_alias_out_find(t, str("first/topic")), 0);
    cr_expect_eq(smq_alias_out_find(t, str("second")), 1);
    cr_expect_eq(smq_alias_out_assign(t, str("a/third/topic/that/is/much/longer")), 1);
    cr_expect_eq(smq_alias_out_find(t, str("a/third/topic/that/is/much/longer")), 1);
    smq_alias_out_free(t);
}

/* Many topics through a table that grows, rehashes and then evicts in strict LRU order. */
Test(alias_out, growth_and_round_robin_eviction_keep_every_mapping_right)
{
    enum { MAX = 300, TOPICS = 1000 };
    struct smq_alias_out *t = smq_alias_out_new(MAX);
    uint16_t alias_of[TOPICS] = {0};
    char name[32];
    for (int i = 0; i < TOPICS; i++) {
        snprintf(name, sizeof(name), "dev/%d/state", i);
        cr_assert_eq(smq_alias_out_find(t, str(name)), 0);
        alias_of[i] = smq_alias_out_assign(t, str(name));
        /* Never touched again, so replacement is round robin: i, i - MAX, ... share one. */
        cr_assert_eq(alias_of[i], i % MAX + 1, "topic %d got %u", i, alias_of[i]);
    }
    cr_expect_eq(smq_alias_out_count(t), MAX);
    for (int i = 0; i < TOPICS; i++) {
        snprintf(name, sizeof(name), "dev/%d/state", i);
        uint16_t want = i >= TOPICS - MAX ? alias_of[i] : 0;
        cr_assert_eq(smq_alias_out_find(t, str(name)), want, "topic %d", i);
    }
    smq_alias_out_free(t);
}

Test(alias_out, full_65535_aliases)
{
    struct smq_alias_out *t = smq_alias_out_new(65535);
    char name[32];
    for (int i = 0; i < 65535; i++) {
        snprintf(name, sizeof(name), "%d", i);
        cr_assert_eq(smq_alias_out_assign(t, str(name)), i + 1);
    }
    cr_expect_eq(smq_alias_out_find(t, str("0")), 1);
    cr_expect_eq(smq_alias_out_find(t, str("65534")), 65535);
    /* "1" is now the least recently used ("0" was just found). */
    cr_expect_eq(smq_alias_out_assign(t, str("new")), 2);
    cr_expect_eq(smq_alias_out_find(t, str("1")), 0);
    smq_alias_out_free(t);
}

Test(alias_out, longest_topic_and_reuse_of_its_buffer)
{
    size_t len = 65535;
    char *topic = malloc(len + 1);
    memset(topic, 'q', len);
    topic[len] = '\0';
    struct smq_alias_out *t = smq_alias_out_new(1);
    cr_assert_eq(smq_alias_out_assign(t, str(topic)), 1);
    cr_expect_eq(smq_alias_out_find(t, str(topic)), 1);
    topic[len - 1] = 'r'; /* differs only in the last byte */
    cr_expect_eq(smq_alias_out_find(t, str(topic)), 0);
    cr_expect_eq(smq_alias_out_assign(t, str("tiny")), 1);
    cr_expect_eq(smq_alias_out_find(t, str("tiny")), 1);
    smq_alias_out_free(t);
    free(topic);
}
