/* Logging: one line per event, levels selectable, written with a single write(2) so lines
 * from several threads never interleave.
 *
 * A line is "2026-11-25T14:00:00.123Z LEVEL [wN] message". Anything a client chose (client
 * ids, topics, usernames) must go through smq_log_escape() first: they may hold control
 * characters. Rate-limited variants keep a flood of identical events (dropped messages,
 * EMFILE) from costing more than the events themselves. Any thread may log. */
#ifndef SMQ_BROKER_LOG_H
#define SMQ_BROKER_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smq_log_level {
    SMQ_LOG_ERROR = 0x01,
    SMQ_LOG_WARNING = 0x02,
    SMQ_LOG_NOTICE = 0x04,
    SMQ_LOG_INFO = 0x08,
    SMQ_LOG_DEBUG = 0x10,
};

struct smq_log_options {
    unsigned mask;     /* levels written: SMQ_LOG_* */
    int fd;            /* 1, 2, or a file opened by the caller; -1 for none */
    bool syslog;       /* also to syslog(3), with facility */
    int facility;
    bool timestamps;   /* prefix lines with the UTC time */
};

/* Sets which levels are written and where. Call before any thread starts. */
void smq_log_configure(const struct smq_log_options *opts);

/* Returns true when level would be written (to skip building expensive arguments). */
bool smq_log_enabled(enum smq_log_level level);

/* Writes one line. */
void smq_log(enum smq_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A rate limit for one kind of event: at most one line per interval_ms; the next line says
 * how many were suppressed. Each limiter is used by one thread only. */
struct smq_log_ratelimit {
    int64_t next_ms;
    uint64_t suppressed;
};

/* Writes one line unless rl allowed one less than interval_ms ago. */
void smq_log_limited(struct smq_log_ratelimit *rl, int64_t interval_ms, enum smq_log_level level,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Copies len bytes of untrusted text into out (cap bytes, NUL-terminated), replacing
 * control characters, quotes and backslashes by \xNN escapes and cutting long values with
 * "...". Returns out, for use as a printf argument. */
const char *smq_log_escape(char *out, size_t cap, const void *text, size_t len);

/* Sets this thread's tag in log lines ("acceptor", "w0", ...). */
void smq_log_set_thread(const char *tag);

#endif
