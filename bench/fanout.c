/* Expected deliveries per topic (bench/fanout.h), with proto/'s topic matching. The cost
 * is publishers x subscribers matches once per run, plus a quadratic pass over matching
 * shared filters to count each one once; both are negligible next to the run itself. */
#include "bench/fanout.h"

#include <string.h>

#include "proto/span.h"
#include "proto/topic.h"

static bool filter_matches(const char *filter, struct smq_span topic)
{
    struct smq_span f = smq_span_str(filter);
    if (smq_topic_is_shared(f)) {
        struct smq_span group, inner;
        if (!smq_topic_share_split(f, &group, &inner))
            return false;
        f = inner;
    }
    return smq_topic_matches(f, topic);
}

uint32_t smq_bench_fanout_count(const char *topic, const char *const *filters,
                                const bool *granted, size_t n)
{
    struct smq_span t = smq_span_str(topic);
    uint32_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!granted[i] || !filter_matches(filters[i], t))
            continue;
        bool counted = false;
        if (smq_topic_is_shared(smq_span_str(filters[i]))) {
            for (size_t j = 0; j < i && !counted; j++)
                counted = granted[j] && strcmp(filters[j], filters[i]) == 0;
        }
        count += counted ? 0 : 1;
    }
    return count;
}
