/* Integration test harness: starts the real shardmq on an ephemeral port, and gives tests
 * raw sockets to it.
 *
 * The broker binary comes from $SMQ_TEST_BROKER when set, else $SMQ_TEST_SHARDMQ (meson
 * sets it). Its log goes to a file in
 * $TMPDIR so a failing test can print it; the port is read from its "listening on" line. */
#ifndef SMQ_TESTS_HARNESS_H
#define SMQ_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct broker_proc {
    pid_t pid;
    int port;
    char log_path[256];
    char conf_path[256];
};

/* Starts shardmq with `workers` workers (0 = default) and the extra configuration lines
 * conf (may be NULL). Waits until it listens. Returns 0 or -1 (with the log printed). */
int broker_start(struct broker_proc *b, int workers, const char *conf);

/* Sends SIGTERM and waits for the exit; returns the exit status (or 128+signal). */
int broker_stop(struct broker_proc *b);

/* Prints the broker's log to stderr (for failing tests). */
void broker_dump_log(const struct broker_proc *b);

/* Returns how many lines of the broker's log contain needle. */
int broker_log_count(const struct broker_proc *b, const char *needle);

/* Opens a TCP connection to the broker; returns the fd (blocking, 5 s timeouts) or -1. */
int raw_connect(const struct broker_proc *b);

/* Sends all len bytes; returns 0 or -1. */
int raw_send(int fd, const void *bytes, size_t len);

/* Reads exactly len bytes within timeout_ms; returns len, or the number read before EOF or
 * the timeout. */
ssize_t raw_recv(int fd, void *out, size_t len, int timeout_ms);

/* Returns true when the peer closed the connection within timeout_ms (reads and discards
 * whatever arrives before the close). */
bool raw_wait_closed(int fd, int timeout_ms);

/* Sends a 3.1.1 CONNECT for client_id (clean session, keep-alive 60) and reads the CONNACK;
 * returns its return code, or -1. */
int raw_mqtt_connect(int fd, const char *client_id);

/* Milliseconds on a monotonic clock. */
int64_t now_ms(void);

#endif
