/* Expected deliveries: how many copies of one message the subscribers of a run should
 * receive, so `lost` can be computed exactly as expected minus received.
 *
 * A message to topic T reaches every subscriber whose filter matches T once, and each
 * shared subscription ($share/group/filter, counted by its whole filter string) once,
 * whichever member it picks. Only subscribers whose SUBSCRIBE was granted count. */
#ifndef SMQ_BENCH_FANOUT_H
#define SMQ_BENCH_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns the deliveries one message to topic should produce among the n subscribers
 * whose filters are filters[i] and whose subscription was granted when granted[i]. */
uint32_t smq_bench_fanout_count(const char *topic, const char *const *filters,
                                const bool *granted, size_t n);

#endif
