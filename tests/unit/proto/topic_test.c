/* Tests for proto/topic.c: topic names, topic filters, shared subscriptions and matching
 * (4.7 and 4.8 of MQTT 5.0, 4.7 of 3.1.1).
 *
 * Validity is syntax only (UTF-8 is checked elsewhere). Matching is checked against the
 * spec's own examples, the `$` rule [MQTT-4.7.2-1], and inputs of 65,000 levels that a
 * recursive or backtracking matcher could not handle in time. */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/span.h"
#include "proto/topic.h"

static bool name_ok(const char *s)
{
    return smq_topic_name_is_valid(smq_span_str(s));
}

static bool filter_ok(const char *s)
{
    return smq_topic_filter_is_valid(smq_span_str(s));
}

static bool matches(const char *filter, const char *topic)
{
    return smq_topic_matches(smq_span_str(filter), smq_span_str(topic));
}

static size_t levels(const char *s)
{
    return smq_topic_levels(smq_span_str(s));
}

/* Returns a heap buffer of n copies of c (not NUL-terminated). */
static uint8_t *repeat(char c, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    memset(p, c, n);
    return p;
}

/* Asserts that split(filter) succeeds with the expected group and inner filter. */
static void expect_split(const char *filter, const char *group, const char *inner)
{
    struct smq_span g = {0}, f = {0};
    cr_assert(smq_topic_share_split(smq_span_str(filter), &g, &f), "split %s", filter);
    cr_assert(smq_span_eq_str(g, group), "group of %s: got %.*s", filter, (int)g.len,
              (const char *)g.ptr);
    cr_assert(smq_span_eq_str(f, inner), "inner of %s: got %.*s", filter, (int)f.len,
              (const char *)f.ptr);
}

/* ---- topic names --------------------------------------------------------------------- */

Test(topic, plain_names_are_valid)
{
    cr_assert(name_ok("a"));
    cr_assert(name_ok("a/b"));
    cr_assert(name_ok("sport/tennis/player1"));
    cr_assert(name_ok("a b"));
    cr_assert(name_ok(" "));
    cr_assert(name_ok("$SYS/broker/load"));
    cr_assert(name_ok("caf\xC3\xA9"));
}

/* 4.7.3: a topic level may be empty, so separators alone make a valid name. */
Test(topic, names_of_separators_only_are_valid)
{
    cr_assert(name_ok("/"));
    cr_assert(name_ok("//"));
    cr_assert(name_ok("/a"));
    cr_assert(name_ok("a/"));
    cr_assert(name_ok("a//b"));
}

/* [MQTT-4.7.3-1] at least one character long. */
Test(topic, empty_name_is_invalid)
{
    cr_assert_not(name_ok(""));
}

/* [MQTT-4.7.0-1] wildcards MUST NOT be used within a Topic Name. */
Test(topic, name_with_plus_is_invalid)
{
    cr_assert_not(name_ok("+"));
    cr_assert_not(name_ok("a/+"));
    cr_assert_not(name_ok("+/a"));
    cr_assert_not(name_ok("a+b"));
}

Test(topic, name_with_hash_is_invalid)
{
    cr_assert_not(name_ok("#"));
    cr_assert_not(name_ok("a/#"));
    cr_assert_not(name_ok("a#"));
    cr_assert_not(name_ok("#/a"));
}

/* [MQTT-4.7.3-3] Topic Names and Filters MUST NOT encode to more than 65,535 bytes. */
Test(topic, name_of_65535_bytes_is_valid)
{
    uint8_t *p = repeat('a', 65535);
    bool ok = smq_topic_name_is_valid((struct smq_span){p, 65535});
    free(p);
    cr_assert(ok);
}

Test(topic, name_longer_than_65535_bytes_is_invalid)
{
    uint8_t *p = repeat('a', 65536);
    bool ok = smq_topic_name_is_valid((struct smq_span){p, 65536});
    free(p);
    cr_assert_not(ok);
}

/* ---- topic filters ------------------------------------------------------------------- */

Test(topic, plain_filters_are_valid)
{
    cr_assert(filter_ok("a"));
    cr_assert(filter_ok("a/b/c"));
    cr_assert(filter_ok("/"));
    cr_assert(filter_ok("//"));
    cr_assert(filter_ok("a//b"));
    cr_assert(filter_ok("$SYS/x"));
}

Test(topic, empty_filter_is_invalid)
{
    cr_assert_not(filter_ok(""));
}

/* 4.7.1.2: `#` alone, or as the last level after a separator. */
Test(topic, hash_alone_or_last_is_valid)
{
    cr_assert(filter_ok("#"));
    cr_assert(filter_ok("a/#"));
    cr_assert(filter_ok("sport/tennis/player1/#"));
    cr_assert(filter_ok("/#"));
    cr_assert(filter_ok("+/#"));
    cr_assert(filter_ok("$SYS/#"));
}

/* 4.7.1.3: `+` fills one whole level, anywhere. */
Test(topic, plus_as_whole_level_is_valid)
{
    cr_assert(filter_ok("+"));
    cr_assert(filter_ok("a/+/b"));
    cr_assert(filter_ok("+/+"));
    cr_assert(filter_ok("/+"));
    cr_assert(filter_ok("+/"));
    cr_assert(filter_ok("sport/+/player1"));
    cr_assert(filter_ok("+/tennis/#"));
}

/* [MQTT-4.7.1-1] `#` MUST be the last character and follow a separator, if any. */
Test(topic, hash_not_last_is_invalid)
{
    cr_assert_not(filter_ok("a/#/b"));
    cr_assert_not(filter_ok("#/a"));
    cr_assert_not(filter_ok("#/"));
    cr_assert_not(filter_ok("#/#"));
}

Test(topic, hash_sharing_a_level_is_invalid)
{
    cr_assert_not(filter_ok("a#"));
    cr_assert_not(filter_ok("sport/tennis#"));
    cr_assert_not(filter_ok("#a"));
    cr_assert_not(filter_ok("##"));
    cr_assert_not(filter_ok("a/b#"));
    cr_assert_not(filter_ok("a/#b"));
}

/* [MQTT-4.7.1-2] `+` MUST occupy an entire level. */
Test(topic, plus_sharing_a_level_is_invalid)
{
    cr_assert_not(filter_ok("a+"));
    cr_assert_not(filter_ok("+a"));
    cr_assert_not(filter_ok("sport+"));
    cr_assert_not(filter_ok("a/b+/c"));
    cr_assert_not(filter_ok("a/+b/c"));
    cr_assert_not(filter_ok("++"));
    cr_assert_not(filter_ok("+#"));
    cr_assert_not(filter_ok("a/+#"));
}

Test(topic, filter_of_65535_bytes_is_valid)
{
    uint8_t *p = repeat('/', 65535);
    bool ok = smq_topic_filter_is_valid((struct smq_span){p, 65535});
    free(p);
    cr_assert(ok);
}

/* [MQTT-4.7.3-3] */
Test(topic, filter_longer_than_65535_bytes_is_invalid)
{
    uint8_t *p = repeat('a', 65536);
    bool ok = smq_topic_filter_is_valid((struct smq_span){p, 65536});
    free(p);
    cr_assert_not(ok);
}

Test(topic, has_wildcard_sees_plus_and_hash_levels)
{
    cr_assert(smq_topic_has_wildcard(smq_span_str("#")));
    cr_assert(smq_topic_has_wildcard(smq_span_str("+")));
    cr_assert(smq_topic_has_wildcard(smq_span_str("a/+/b")));
    cr_assert(smq_topic_has_wildcard(smq_span_str("a/#")));
    cr_assert_not(smq_topic_has_wildcard(smq_span_str("a/b")));
    cr_assert_not(smq_topic_has_wildcard(smq_span_str("/")));
    cr_assert_not(smq_topic_has_wildcard(smq_span_str("$share/g/t")));
}

/* ---- shared subscriptions ------------------------------------------------------------ */

/* 4.8.2: $share/{ShareName}/{filter}. */
Test(topic, shared_filters_are_valid)
{
    cr_assert(filter_ok("$share/g/t"));
    cr_assert(filter_ok("$share/group/a/b/c"));
    cr_assert(filter_ok("$share/g/#"));
    cr_assert(filter_ok("$share/g/+"));
    cr_assert(filter_ok("$share/g/+/x/#"));
    cr_assert(filter_ok("$share/g//"));
    cr_assert(filter_ok("$share/g/$SYS/x"));
}

Test(topic, is_shared_needs_the_exact_prefix)
{
    cr_assert(smq_topic_is_shared(smq_span_str("$share/g/t")));
    cr_assert(smq_topic_is_shared(smq_span_str("$share/ab")));
    cr_assert(smq_topic_is_shared(smq_span_str("$share//t")));
    cr_assert_not(smq_topic_is_shared(smq_span_str("$share")));
    cr_assert_not(smq_topic_is_shared(smq_span_str("$SHARE/g/t")));
    cr_assert_not(smq_topic_is_shared(smq_span_str("$sharex/g/t")));
    cr_assert_not(smq_topic_is_shared(smq_span_str("share/g/t")));
    cr_assert_not(smq_topic_is_shared(smq_span_str("a/$share/g/t")));
    cr_assert_not(smq_topic_is_shared(smq_span_str("")));
}

/* [MQTT-4.8.2-1] a ShareName at least one character long, then a separator and a filter. */
Test(topic, shared_filter_without_inner_filter_is_invalid)
{
    cr_assert_not(filter_ok("$share/ab"));
    cr_assert_not(filter_ok("$share/g"));
    cr_assert_not(filter_ok("$share/"));
}

Test(topic, shared_filter_with_empty_group_is_invalid)
{
    cr_assert_not(filter_ok("$share//t"));
    cr_assert_not(filter_ok("$share//"));
}

Test(topic, shared_filter_with_empty_inner_filter_is_invalid)
{
    cr_assert_not(filter_ok("$share/g/"));
}

/* [MQTT-4.8.2-2] the ShareName MUST NOT contain `/`, `+` or `#`. */
Test(topic, shared_group_with_wildcard_is_invalid)
{
    cr_assert_not(filter_ok("$share/a+b/t"));
    cr_assert_not(filter_ok("$share/a#/t"));
    cr_assert_not(filter_ok("$share/+/t"));
    cr_assert_not(filter_ok("$share/#/t"));
    cr_assert_not(filter_ok("$share/#"));
    cr_assert_not(filter_ok("$share/+"));
}

Test(topic, shared_inner_filter_must_be_valid)
{
    cr_assert_not(filter_ok("$share/g/a/#/b"));
    cr_assert_not(filter_ok("$share/g/a#"));
    cr_assert_not(filter_ok("$share/g/a+"));
    cr_assert_not(filter_ok("$share/g/#/a"));
}

Test(topic, share_split_returns_group_and_inner_filter)
{
    expect_split("$share/g/t", "g", "t");
    expect_split("$share/group/a/b/c", "group", "a/b/c");
    expect_split("$share/g/#", "g", "#");
    expect_split("$share/g/+/x", "g", "+/x");
    expect_split("$share/g//", "g", "/");
}

Test(topic, share_split_views_point_into_the_filter)
{
    const char *s = "$share/grp/a/b";
    struct smq_span g, f;
    cr_assert(smq_topic_share_split(smq_span_str(s), &g, &f));
    cr_assert_eq(g.ptr, (const uint8_t *)s + 7);
    cr_assert_eq(f.ptr, (const uint8_t *)s + 11);
}

Test(topic, share_split_rejects_malformed_shared_filters)
{
    static const char *bad[] = {"$share/ab", "$share//t", "$share/a+b/t", "$share/a#/t",
                                "$share/", "$share//", "$share/+/t", "$share/#/t"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct smq_span g, f;
        cr_assert_not(smq_topic_share_split(smq_span_str(bad[i]), &g, &f), "%s", bad[i]);
    }
}

/* topic.h: the inner filter of `$share/{group}/{filter}` is non-empty. */
Test(topic, share_split_rejects_empty_inner_filter)
{
    struct smq_span g, f;
    cr_assert_not(smq_topic_share_split(smq_span_str("$share/g/"), &g, &f));
}

Test(topic, share_split_rejects_non_shared_filters)
{
    struct smq_span g, f;
    cr_assert_not(smq_topic_share_split(smq_span_str("a/b/c"), &g, &f));
    cr_assert_not(smq_topic_share_split(smq_span_str("$SYS/x"), &g, &f));
    cr_assert_not(smq_topic_share_split(smq_span_str("#"), &g, &f));
}

Test(topic, dollar_share_prefix_lookalikes_are_plain_filters)
{
    cr_assert(filter_ok("$sharex/g/t"));
    cr_assert(filter_ok("$SHARE/g/t"));
    cr_assert(filter_ok("a/$share/g"));
}

/* ---- levels -------------------------------------------------------------------------- */

Test(topic, levels_count_separators_plus_one)
{
    cr_assert_eq(levels("a"), 1);
    cr_assert_eq(levels("a/b"), 2);
    cr_assert_eq(levels("a/b/c"), 3);
    cr_assert_eq(levels("/"), 2);
    cr_assert_eq(levels("//"), 3);
    cr_assert_eq(levels("a/"), 2);
    cr_assert_eq(levels("/a/"), 3);
    cr_assert_eq(levels("#"), 1);
    cr_assert_eq(levels(""), 1);
}

Test(topic, levels_of_65000_separators)
{
    uint8_t *p = repeat('/', 65000);
    size_t n = smq_topic_levels((struct smq_span){p, 65000});
    free(p);
    cr_assert_eq(n, 65001);
}

/* A zero span (the zero value of a struct field) is an empty string, not a crash. */
Test(topic, zero_spans_are_empty_strings)
{
    const struct smq_span none = {NULL, 0};
    struct smq_span g, f;
    cr_assert_not(smq_topic_name_is_valid(none));
    cr_assert_not(smq_topic_filter_is_valid(none));
    cr_assert_not(smq_topic_is_shared(none));
    cr_assert_not(smq_topic_share_split(none, &g, &f));
    cr_assert_not(smq_topic_has_wildcard(none));
    cr_assert_eq(smq_topic_levels(none), 1);
}

/* ---- matching: exact ----------------------------------------------------------------- */

Test(topic, exact_filter_matches_only_the_same_name)
{
    cr_assert(matches("a/b", "a/b"));
    cr_assert(matches("/", "/"));
    cr_assert(matches("a//b", "a//b"));
    cr_assert_not(matches("a/b", "a/c"));
    cr_assert_not(matches("a/b", "a"));
    cr_assert_not(matches("a/b", "a/b/c"));
    cr_assert_not(matches("a/b", "a/b/"));
    cr_assert_not(matches("a/b", "/a/b"));
    cr_assert_not(matches("a", "ab"));
    cr_assert_not(matches("ab", "a"));
}

/* 4.7.3: topic names and filters are case sensitive. */
Test(topic, matching_is_case_sensitive)
{
    cr_assert_not(matches("ACCOUNTS", "Accounts"));
    cr_assert_not(matches("a/B", "a/b"));
}

/* 4.7.1.3: "a/b" is not matched by "a/b/" and "/a" and "a" are distinct topics. */
Test(topic, leading_and_trailing_separators_are_significant)
{
    cr_assert_not(matches("/finance", "finance"));
    cr_assert_not(matches("finance", "/finance"));
    cr_assert_not(matches("finance/", "finance"));
}

/* ---- matching: + --------------------------------------------------------------------- */

Test(topic, plus_matches_exactly_one_level)
{
    cr_assert(matches("sport/tennis/+", "sport/tennis/player1"));
    cr_assert(matches("sport/tennis/+", "sport/tennis/player2"));
    cr_assert_not(matches("sport/tennis/+", "sport/tennis/player1/ranking"));
    cr_assert(matches("a/+/b", "a/x/b"));
    cr_assert_not(matches("a/+/b", "a/b"));
    cr_assert_not(matches("a/+/b", "a/x/y/b"));
    cr_assert(matches("+", "a"));
    cr_assert_not(matches("+", "a/b"));
}

/* 4.7.1.3: "sport/+" does not match "sport" but does match "sport/". */
Test(topic, plus_matches_an_empty_level)
{
    cr_assert(matches("sport/+", "sport/"));
    cr_assert_not(matches("sport/+", "sport"));
    cr_assert(matches("a/+/b", "a//b"));
    cr_assert(matches("+/x", "/x"));
}

/* 4.7.1.3: "/finance" matches "+/+" and "/+", but not "+". */
Test(topic, plus_with_leading_separator_follows_the_spec_example)
{
    cr_assert(matches("+/+", "/finance"));
    cr_assert(matches("/+", "/finance"));
    cr_assert_not(matches("+", "/finance"));
    cr_assert(matches("+/+", "/"));
    cr_assert_not(matches("+", "/"));
}

Test(topic, several_plus_levels_match)
{
    cr_assert(matches("+/+/+", "a/b/c"));
    cr_assert_not(matches("+/+/+", "a/b"));
    cr_assert_not(matches("+/+/+", "a/b/c/d"));
    cr_assert(matches("+/tennis/+", "sport/tennis/x"));
}

/* ---- matching: # --------------------------------------------------------------------- */

Test(topic, hash_alone_matches_every_ordinary_topic)
{
    cr_assert(matches("#", "a"));
    cr_assert(matches("#", "a/b/c"));
    cr_assert(matches("#", "/"));
    cr_assert(matches("#", "//"));
    cr_assert(matches("#", "/a"));
}

/* 4.7.1.2: "sport/tennis/player1/#" matches the level itself and everything below it. */
Test(topic, hash_matches_the_parent_level_and_all_below)
{
    cr_assert(matches("sport/tennis/player1/#", "sport/tennis/player1"));
    cr_assert(matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
    cr_assert(matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
    cr_assert(matches("a/#", "a"));
    cr_assert(matches("a/#", "a/"));
    cr_assert(matches("a/#", "a/b/c/d"));
}

Test(topic, hash_does_not_match_other_branches)
{
    cr_assert_not(matches("a/#", "b"));
    cr_assert_not(matches("a/#", "ab"));
    cr_assert_not(matches("a/#", "ab/c"));
    cr_assert_not(matches("a/b/#", "a"));
    cr_assert_not(matches("a/#", "/a"));
}

Test(topic, plus_and_hash_together)
{
    cr_assert(matches("+/#", "a"));
    cr_assert(matches("+/#", "a/b/c"));
    cr_assert(matches("+/#", "/"));
    cr_assert(matches("+/b/#", "a/b"));
    cr_assert(matches("+/b/#", "a/b/c"));
    cr_assert_not(matches("+/b/#", "a/c/b"));
    cr_assert(matches("/#", "/"));
    cr_assert(matches("/#", "/a"));
    cr_assert_not(matches("/#", "a"));
}

/* ---- matching: $ topics -------------------------------------------------------------- */

/* [MQTT-4.7.2-1] a filter starting with a wildcard MUST NOT match a name starting with $. */
Test(topic, hash_does_not_match_dollar_topics)
{
    cr_assert_not(matches("#", "$SYS/x"));
    cr_assert_not(matches("#", "$SYS"));
    cr_assert_not(matches("#", "$"));
}

Test(topic, leading_plus_does_not_match_dollar_topics)
{
    cr_assert_not(matches("+/x", "$SYS/x"));
    cr_assert_not(matches("+", "$SYS"));
    cr_assert_not(matches("+/monitor/Clients", "$SYS/monitor/Clients"));
    cr_assert_not(matches("+/#", "$SYS/x"));
}

Test(topic, explicit_dollar_filters_match_dollar_topics)
{
    cr_assert(matches("$SYS/#", "$SYS/x"));
    cr_assert(matches("$SYS/#", "$SYS"));
    cr_assert(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    cr_assert(matches("$SYS/x", "$SYS/x"));
    cr_assert(matches("$SYS/+", "$SYS/x"));
}

Test(topic, dollar_rule_applies_to_the_first_level_only)
{
    cr_assert(matches("a/+", "a/$b"));
    cr_assert(matches("a/#", "a/$b/c"));
    cr_assert(matches("#", "a$"));
}

/* ---- matching: size ------------------------------------------------------------------ */

Test(topic, filter_and_topic_of_65000_separators_match_quickly, .timeout = 5)
{
    uint8_t *p = repeat('/', 65000);
    struct smq_span s = {p, 65000};
    bool ok = smq_topic_matches(s, s);
    free(p);
    cr_assert(ok);
}

Test(topic, separators_differing_by_one_do_not_match, .timeout = 5)
{
    uint8_t *p = repeat('/', 65000);
    bool longer_filter = smq_topic_matches((struct smq_span){p, 65000}, (struct smq_span){p, 64999});
    bool longer_topic = smq_topic_matches((struct smq_span){p, 64999}, (struct smq_span){p, 65000});
    free(p);
    cr_assert_not(longer_filter);
    cr_assert_not(longer_topic);
}

/* "+/+/.../+" of 32,768 levels against a name of 32,767 separators (32,768 empty levels). */
Test(topic, plus_on_every_one_of_32768_levels_matches_quickly, .timeout = 5)
{
    const size_t nlev = 32768;
    uint8_t *f = malloc(2 * nlev - 1);
    cr_assert_not_null(f);
    for (size_t i = 0; i < nlev; i++) {
        f[2 * i] = '+';
        if (i + 1 < nlev)
            f[2 * i + 1] = '/';
    }
    uint8_t *t = repeat('/', nlev - 1);
    bool same = smq_topic_matches((struct smq_span){f, 2 * nlev - 1}, (struct smq_span){t, nlev - 1});
    bool fewer = smq_topic_matches((struct smq_span){f, 2 * nlev - 1}, (struct smq_span){t, nlev - 2});
    free(f);
    free(t);
    cr_assert(same);
    cr_assert_not(fewer);
}

Test(topic, hash_after_65000_separators_matches_quickly, .timeout = 5)
{
    uint8_t *f = repeat('/', 65001);
    f[65000] = '#';
    uint8_t *t = repeat('/', 65000);
    /* "/.../#": 65,000 empty levels then `#`. It matches a name of 65,001 empty levels
     * (`#` takes the last) and one of 65,000 (`#` matches its parent). */
    bool below = smq_topic_matches((struct smq_span){f, 65001}, (struct smq_span){t, 65000});
    bool parent = smq_topic_matches((struct smq_span){f, 65001}, (struct smq_span){t, 64999});
    bool above = smq_topic_matches((struct smq_span){f, 65001}, (struct smq_span){t, 64998});
    free(f);
    free(t);
    cr_assert(below);
    cr_assert(parent);
    cr_assert_not(above);
}
