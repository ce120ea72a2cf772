/* The acceptor: listening sockets and the hand-off of accepted sockets to workers.
 *
 * It runs on the main thread's loop and does no TLS and no MQTT work: it accepts with
 * accept4() until EAGAIN, counts the listener's connections against max_connections, and
 * posts each socket to a worker (round robin) through the worker's inbox. When the process
 * runs out of descriptors (EMFILE/ENFILE) it stops polling that listener for a moment
 * instead of spinning on a socket that stays readable, logs once (rate limited), counts,
 * and resumes. */
#ifndef SMQ_BROKER_ACCEPTOR_H
#define SMQ_BROKER_ACCEPTOR_H

#include <stdatomic.h>
#include <uv.h>

#include "broker/broker.h"
#include "broker/config.h"
#include "broker/log.h"

struct smq_listener {
    uv_poll_t poll;
    uv_timer_t retry;              /* resumes accepting after EMFILE */
    int fd;
    char name[80];                 /* "address:port" for logs */
    uint16_t port;                 /* the bound port (the kernel's choice for port 0) */
    int32_t max_connections;       /* -1: bounded by the descriptor limit only */
    uint16_t max_topic_alias;      /* v5 Topic Alias Maximum we accept from a client */
    struct smq_broker *broker;     /* borrowed */
    struct smq_log_ratelimit emfile_log;
    struct smq_log_ratelimit resume_log;
    bool paused;                   /* the last accept failed for lack of descriptors */
    /* --- shared: atomics only --- */
    atomic_int connections;        /* relaxed: incremented here, decremented by workers */
    atomic_uint_fast64_t refused;  /* relaxed: max_connections reached */
    atomic_uint_fast64_t fd_exhausted; /* relaxed: accept failed for lack of descriptors */
};

struct smq_acceptor {
    struct smq_listener *listeners; /* owned */
    size_t n_listeners;
};

/* Opens every listener of cfg on loop. Returns 0, or a negative error after logging which
 * listener failed (the ones opened are closed again). Main thread. */
int smq_acceptor_open(struct smq_acceptor *a, uv_loop_t *loop, struct smq_broker *broker,
                      const struct smq_config *cfg);

/* Stops accepting and closes the listening sockets. Main thread. */
void smq_acceptor_close(struct smq_acceptor *a);

/* Releases the listeners once their handles are closed (after the loop ran). */
void smq_acceptor_dispose(struct smq_acceptor *a);

#endif
