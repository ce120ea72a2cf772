/* Sequence tracking on the subscriber side: which messages of each publisher one
 * subscriber has seen, so duplicates and reordering are counted and losses can be derived.
 *
 * Per publisher id the tracker keeps one past the highest sequence seen (`next`), a 64-bit
 * window of which of the 64 sequences below it arrived, and the count of distinct sequences
 * seen. A sequence at or above `next` is new (skipping some is a gap, which later arrivals
 * may fill); one below it inside the window is a duplicate when its bit is set and a late
 * (reordered) arrival otherwise; one older than the window is counted as late and unique,
 * since a duplicate that old needs a redelivery the bench never provokes. The table is an
 * open-addressing hash keyed by run id and publisher id, so ids need not be dense and a
 * publisher process that restarts is a new publisher. One tracker belongs
 * to one subscriber connection and is touched only by its worker thread. */
#ifndef SMQ_BENCH_TRACK_H
#define SMQ_BENCH_TRACK_H

#include <stdbool.h>
#include <stdint.h>

/* Distinct publishers one subscriber tracks; messages of more publishers are untracked. */
#define SMQ_BENCH_TRACK_MAX_PUBS (1u << 20)

enum smq_bench_seen {
    SMQ_SEEN_NEXT = 0,  /* the next sequence expected */
    SMQ_SEEN_GAP,       /* new, but sequences between it and the last one are missing */
    SMQ_SEEN_LATE,      /* new, below the highest seen: reordered */
    SMQ_SEEN_DUP,       /* seen before */
    SMQ_SEEN_UNTRACKED, /* the table is full */
};

struct smq_bench_seq {
    uint64_t key;  /* publisher: run id << 32 | publisher id */
    bool used;
    uint64_t next;   /* one past the highest sequence seen */
    uint64_t window; /* bit i set: sequence next - 1 - i was seen */
    uint64_t unique; /* distinct sequences seen */
};

struct smq_bench_track {
    struct smq_bench_seq *slots; /* owned: cap entries, cap a power of two (or 0) */
    uint32_t cap;
    uint32_t count;
};

/* Records that sequence seq of publisher key (run id << 32 | publisher id) arrived and says how it relates to the
 * earlier ones. A zeroed tracker is empty and valid. Allocation failure aborts. */
enum smq_bench_seen smq_bench_track_see(struct smq_bench_track *t, uint64_t key, uint64_t seq);

/* Returns the sequences missing below the highest seen, summed over publishers: what
 * never arrived, when a publisher's last messages arrived (a lower bound otherwise). */
uint64_t smq_bench_track_gaps(const struct smq_bench_track *t);

/* Returns the distinct sequences seen, summed over publishers. */
uint64_t smq_bench_track_unique(const struct smq_bench_track *t);

/* Frees the table; t is empty again. */
void smq_bench_track_dispose(struct smq_bench_track *t);

#endif
