/* Allocation for core/ and broker/: abort on failure, never return NULL.
 *
 * Memory is bounded by explicit budgets (limits with config keys) that return SMQ_ELIMIT,
 * not by hoping malloc fails; so a failed malloc is treated as fatal, with one line on
 * stderr naming the size. The process links jemalloc, which provides malloc itself. */
#ifndef SMQ_CORE_ALLOC_H
#define SMQ_CORE_ALLOC_H

#include <stddef.h>

/* Returns size bytes of uninitialised memory. Any thread. */
void *smq_alloc(size_t size);

/* Returns n * size zeroed bytes (overflow aborts). Any thread. */
void *smq_calloc(size_t n, size_t size);

/* Resizes ptr (which may be NULL) to size bytes. Any thread. */
void *smq_realloc(void *ptr, size_t size);

/* Releases ptr; NULL is allowed. Any thread. */
void smq_free(void *ptr);

/* Returns a heap copy of the len bytes at src followed by a NUL. */
char *smq_strndup(const char *src, size_t len);

#endif
