/* Deadlines without a timer each: an indexed binary min-heap of intrusive nodes.
 *
 * A worker holds one struct smq_expiry for every time-driven event of its sessions (session
 * expiry, delayed wills). The owner embeds a struct smq_expiry_node in each object that may
 * be scheduled; the heap keeps pointers to the nodes and each node knows its own position,
 * so scheduling, rescheduling and cancelling are O(log n) and a cancelled node leaves no
 * garbage behind (no lazy deletion: a client that connects and disconnects in a loop cannot
 * grow the heap). Popping the due nodes is O(log n) each; the earliest deadline is O(1).
 *
 * Deadlines are absolute int64 milliseconds on the owner's clock and are only compared,
 * never subtracted, so any value works, including intervals of 0xFFFFFFFE seconds. Equal
 * deadlines pop in the order they were scheduled. Pure data: no clock, no I/O; one thread
 * (the owner) uses a heap and its nodes. */
#ifndef SMQ_CORE_EXPIRY_H
#define SMQ_CORE_EXPIRY_H

#include <stdbool.h>
#include <stdint.h>

/* A schedulable entry, embedded in its owner (caller's storage; zero value = idle). */
struct smq_expiry_node {
    int64_t deadline_ms; /* meaningful while scheduled */
    uint64_t seq;        /* scheduling order: breaks ties between equal deadlines */
    uint32_t pos;        /* 1 + index in the heap while scheduled, 0 while idle */
    uint8_t tag;         /* the owner's: which of its timers this node is */
};

struct smq_expiry {
    struct smq_expiry_node **heap; /* owned array of borrowed nodes */
    uint32_t len, cap;
    uint64_t next_seq;
};

/* Starts an empty heap (caller's storage). The zero value is also an empty heap. */
void smq_expiry_init(struct smq_expiry *q);

/* Releases the heap's array; the nodes still scheduled become idle. */
void smq_expiry_dispose(struct smq_expiry *q);

/* Schedules n at deadline_ms, or moves it there when it is scheduled already. n must stay
 * at the same address until it is popped or cancelled. */
void smq_expiry_schedule(struct smq_expiry *q, struct smq_expiry_node *n, int64_t deadline_ms);

/* Unschedules n; does nothing when n is idle. */
void smq_expiry_cancel(struct smq_expiry *q, struct smq_expiry_node *n);

/* Returns true while n is scheduled. */
static inline bool smq_expiry_is_scheduled(const struct smq_expiry_node *n)
{
    return n->pos != 0;
}

/* Removes and returns the earliest node whose deadline is at or before now_ms (it becomes
 * idle), or NULL when none is due. */
struct smq_expiry_node *smq_expiry_pop_due(struct smq_expiry *q, int64_t now_ms);

/* Returns the earliest deadline, or INT64_MAX when nothing is scheduled. */
int64_t smq_expiry_next(const struct smq_expiry *q);

/* Returns the number of scheduled nodes. */
static inline uint32_t smq_expiry_count(const struct smq_expiry *q)
{
    return q->len;
}

/* Returns now_ms + seconds * 1000: the deadline of an interval in seconds. Every uint32_t
 * interval fits (0xFFFFFFFF s is about 4.3e12 ms), so this cannot overflow for any clock
 * value below INT64_MAX - 4.3e12. */
static inline int64_t smq_expiry_after(int64_t now_ms, uint32_t seconds)
{
    return now_ms + (int64_t)seconds * 1000;
}

#endif
