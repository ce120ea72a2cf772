/* Aborting allocators (see alloc.h). */
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size)
{
    fprintf(stderr, "shardmq: out of memory allocating %zu bytes\n", size);
    abort();
}

void *smq_alloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        out_of_memory(size);
    return p;
}

void *smq_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory(n * size);
    return p;
}

void *smq_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        out_of_memory(size);
    return p;
}

void smq_free(void *ptr)
{
    free(ptr);
}

char *smq_strndup(const char *src, size_t len)
{
    char *p = smq_alloc(len + 1);
    memcpy(p, src, len);
    p[len] = '\0';
    return p;
}
