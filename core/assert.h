/* SMQ_ASSERT: an always-on check of our own invariants (never of peer input, which ends in
 * a reason code instead). A failed one prints the condition and its place, then aborts. */
#ifndef SMQ_CORE_ASSERT_H
#define SMQ_CORE_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define SMQ_ASSERT(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "shardmq: assertion failed: %s (%s:%d)\n", #cond, __FILE__,     \
                    __LINE__);                                                               \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

#endif
