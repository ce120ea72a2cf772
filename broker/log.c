/* Log lines (see log.h). */
#include "broker/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Written once before threads start, read by all afterwards. */
static unsigned log_mask = SMQ_LOG_ERROR | SMQ_LOG_WARNING | SMQ_LOG_NOTICE | SMQ_LOG_INFO;
static int log_fd = 2;
static bool log_syslog;
static bool log_timestamps = true;
static _Thread_local char thread_tag[16] = "main";

void smq_log_configure(const struct smq_log_options *opts)
{
    log_mask = opts->mask;
    log_fd = opts->fd;
    log_timestamps = opts->timestamps;
    log_syslog = opts->syslog;
    if (log_syslog)
        openlog("shardmq", LOG_PID | LOG_NDELAY, opts->facility);
}

static int syslog_priority(enum smq_log_level level)
{
    switch (level) {
    case SMQ_LOG_ERROR:
        return LOG_ERR;
    case SMQ_LOG_WARNING:
        return LOG_WARNING;
    case SMQ_LOG_NOTICE:
        return LOG_NOTICE;
    case SMQ_LOG_INFO:
        return LOG_INFO;
    default:
        return LOG_DEBUG;
    }
}

bool smq_log_enabled(enum smq_log_level level)
{
    return (log_mask & level) != 0;
}

void smq_log_set_thread(const char *tag)
{
    snprintf(thread_tag, sizeof(thread_tag), "%s", tag);
}

static const char *level_name(enum smq_log_level level)
{
    switch (level) {
    case SMQ_LOG_ERROR:
        return "ERROR";
    case SMQ_LOG_WARNING:
        return "WARN";
    case SMQ_LOG_NOTICE:
        return "NOTICE";
    case SMQ_LOG_INFO:
        return "INFO";
    default:
        return "DEBUG";
    }
}

__attribute__((format(printf, 3, 0))) static void write_line(enum smq_log_level level,
                                                           const char *prefix, const char *fmt,
                                                           va_list ap)
{
    char line[2048];
    int n = 0;
    if (log_timestamps) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000);
    }
    int head = n;
    n += snprintf(line + n, sizeof(line) - (size_t)n, "%s [%s] %s", level_name(level),
                  thread_tag, prefix);
    if ((size_t)n < sizeof(line))
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if ((size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    if (log_syslog) {
        line[n] = '\0';
        syslog(syslog_priority(level), "%s", line + head);
    }
    if (log_fd < 0)
        return;
    line[n++] = '\n';
    ssize_t unused = write(log_fd, line, (size_t)n);
    (void)unused; /* nowhere to report a failing log */
}

void smq_log(enum smq_log_level level, const char *fmt, ...)
{
    if (!smq_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    write_line(level, "", fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void smq_log_limited(struct smq_log_ratelimit *rl, int64_t interval_ms, enum smq_log_level level,
                     const char *fmt, ...)
{
    if (!smq_log_enabled(level))
        return;
    int64_t now = now_ms();
    if (now < rl->next_ms) {
        rl->suppressed++;
        return;
    }
    char prefix[64] = "";
    if (rl->suppressed)
        snprintf(prefix, sizeof(prefix), "(%llu similar suppressed) ",
                 (unsigned long long)rl->suppressed);
    rl->suppressed = 0;
    rl->next_ms = now + interval_ms;
    va_list ap;
    va_start(ap, fmt);
    write_line(level, prefix, fmt, ap);
    va_end(ap);
}

const char *smq_log_escape(char *out, size_t cap, const void *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = text;
    size_t o = 0;
    if (cap < 8) {
        if (cap > 0)
            out[0] = '\0';
        return out;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        bool plain = c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need + 4 > cap) { /* room for "..." and the NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}
