/* Topic template expansion (bench/template.h). */
#include "bench/template.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"

uint64_t smq_bench_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* Appends n bytes of s at dst + *len, keeping room for the NUL. */
static int append(char *dst, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > cap)
        return SMQ_ENOBUFS;
    memcpy(dst + *len, s, n);
    *len += n;
    dst[*len] = '\0';
    return 0;
}

ssize_t smq_bench_template_expand(char *dst, size_t cap, const char *tmpl, uint64_t seq,
                                  const char *client_id, uint64_t *rng)
{
    size_t len = 0;
    char num[24];
    int rc = 0;
    if (cap == 0)
        return SMQ_ENOBUFS;
    dst[0] = '\0';
    for (const char *p = tmpl; *p && rc == 0;) {
        if (strncmp(p, "%i", 2) == 0) {
            int n = snprintf(num, sizeof(num), "%" PRIu64, seq);
            rc = append(dst, cap, &len, num, (size_t)n);
            p += 2;
        } else if (strncmp(p, "%c", 2) == 0) {
            rc = append(dst, cap, &len, client_id, strlen(client_id));
            p += 2;
        } else if (strncmp(p, "%rand_", 6) == 0) {
            char *end;
            unsigned long long bound = strtoull(p + 6, &end, 10);
            if (end == p + 6 || bound == 0)
                return SMQ_EINVAL;
            int n = snprintf(num, sizeof(num), "%" PRIu64, smq_bench_rand(rng) % (uint64_t)bound);
            rc = append(dst, cap, &len, num, (size_t)n);
            p = end;
        } else {
            rc = append(dst, cap, &len, p, 1);
            p++;
        }
    }
    return rc < 0 ? rc : (ssize_t)len;
}
