/* Topic templates, as emqtt-bench writes them: `%i` is the client's sequence number, `%c`
 * its client id, `%rand_N` a random number in [0, N). A template is expanded once per
 * client when the run is planned, so a publisher keeps one topic (its PUBLISH header is
 * encoded once) and the expected deliveries of each publisher are known in advance. */
#ifndef SMQ_BENCH_TEMPLATE_H
#define SMQ_BENCH_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Expands tmpl into dst (cap bytes, NUL-terminated). rng is a xorshift state (non-zero)
 * advanced by each %rand_N. Returns the length written, SMQ_ENOBUFS when cap is too small,
 * or SMQ_EINVAL for %rand_ without a positive number. Other `%` sequences stay as they are. */
ssize_t smq_bench_template_expand(char *dst, size_t cap, const char *tmpl, uint64_t seq,
                                  const char *client_id, uint64_t *rng);

/* Returns the next value of the xorshift64 generator at *state (non-zero). */
uint64_t smq_bench_rand(uint64_t *state);

#endif
