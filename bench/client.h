/* One MQTT connection of the bench: a publisher, a subscriber or an idle connection.
 *
 * A client connects (TCP, optionally bound to a source address), sends CONNECT, and for a
 * subscriber SUBSCRIBE; once acknowledged it is ready and counts as settled. Output is
 * batched: packets are appended to `out` and handed to libuv in one uv_write whenever no
 * write is in flight, so every packet produced while handling one read (acks) or one
 * publishing round goes out in one syscall. Input is read into the worker's large buffer
 * and decoded in place with proto/; only a packet cut by the end of a read is copied into
 * `partial`. Every field belongs to the worker thread that owns the client, except the
 * plan fields, which the control thread writes before the workers start and reads after
 * they stop, and `ok`, which it reads once every client has settled. */
#ifndef SMQ_BENCH_CLIENT_H
#define SMQ_BENCH_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bench/buf.h"
#include "bench/track.h"

enum smq_bench_role { SMQ_ROLE_CONN = 0, SMQ_ROLE_PUB, SMQ_ROLE_SUB };

enum smq_bench_state {
    SMQ_CLIENT_IDLE = 0,      /* not started */
    SMQ_CLIENT_TCP,           /* TCP connect in progress */
    SMQ_CLIENT_CONNACK,       /* CONNECT sent */
    SMQ_CLIENT_SUBACK,        /* SUBSCRIBE sent */
    SMQ_CLIENT_READY,
    SMQ_CLIENT_CLOSING,       /* uv_close called */
    SMQ_CLIENT_CLOSED,
};

/* Output beyond this makes a subscriber stop reading until it drains (bounded memory). */
#define SMQ_BENCH_OUT_PAUSE (1u << 20)
/* A publisher queues no more than this in `out` plus libuv's write queue. */
#define SMQ_BENCH_OUT_WATERMARK (64u << 10)
/* A paced publisher (-I, -R) more than this many messages behind skips the excess. */
#define SMQ_BENCH_DUE_MAX 1000u

struct smq_bench_client {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_timer_t pub_timer;           /* -I pacing; initialised only for publishers with -I */
    struct smq_bench_worker *worker; /* borrowed: owns this client */

    /* plan: written by the control thread before the workers start */
    uint8_t role;                   /* enum smq_bench_role */
    uint32_t seq;                   /* client sequence number (%i), also the publisher id */
    uint32_t index;                 /* index among the clients of its role */
    char id[32];                    /* client identifier */
    char *topic;                    /* owned: publish topic or subscription filter */

    /* worker state */
    uint8_t state;                  /* enum smq_bench_state */
    bool settled;                   /* counted in run->settled */
    bool ok;                        /* became ready; read by the control thread once settled */
    bool has_timer;                 /* pub_timer was initialised */
    bool writing;                   /* write_req in flight */
    bool read_paused;
    bool pub_done;                  /* counted in run->pubs_done */
    bool dirty;                     /* on the worker's flush list */
    uint8_t open_handles;           /* handles still to close */
    uint64_t started_ms;            /* uv_now when the connection attempt began */
    uint64_t last_tx_ms;            /* uv_now of the last write, for keep-alive */
    struct smq_bench_buf out;       /* packets not yet handed to libuv */
    struct smq_bench_buf wbuf;      /* the bytes of write_req */
    struct smq_bench_buf partial;   /* the start of a packet cut by a read */

    /* publisher */
    uint8_t *pkt;                   /* owned: the whole PUBLISH, encoded once */
    uint32_t pkt_len;
    uint32_t pid_off;               /* offset of the packet id in pkt (QoS > 0) */
    uint32_t payload_off;           /* offset of the payload in pkt */
    uint64_t next_seq;
    uint32_t inflight;              /* QoS 1/2 messages not yet completed */
    uint32_t due;                   /* paced sends owed */
    uint64_t paced_start_ns;        /* -I: when the first interval began */
    uint64_t paced_ticks;           /* -I: intervals already turned into debt */
    uint16_t next_pid;
    uint8_t *pids;                  /* owned: 8 KiB bitmap of packet ids in flight */

    /* subscriber */
    struct smq_bench_track track;
};

/* Starts connecting c (state IDLE). Failures settle c as failed. Worker thread only. */
void smq_bench_client_start(struct smq_bench_client *c);

/* Feeds the result of one read (nread bytes at data, or a negative libuv error). */
void smq_bench_client_on_read(struct smq_bench_client *c, ssize_t nread, const uint8_t *data);

/* Appends a 4-byte PUBACK, PUBREC, PUBREL or PUBCOMP for pid to c's output. */
void smq_bench__client_put_ack(struct smq_bench_client *c, uint8_t type, uint16_t pid);

/* Hands `out` to libuv if no write is in flight. */
void smq_bench_client_flush(struct smq_bench_client *c);

/* Sends PINGREQ when c has written nothing for half its keep-alive. */
void smq_bench_client_keepalive(struct smq_bench_client *c, uint64_t now_ms);

/* Fails c when it has not become ready within timeout_ms of starting. */
void smq_bench_client_check_timeout(struct smq_bench_client *c, uint64_t now_ms,
                                    uint64_t timeout_ms);

/* Sends DISCONNECT (best effort) and closes every handle of c; on_closed runs when the
 * last one is closed. Safe in any state. */
void smq_bench_client_stop(struct smq_bench_client *c);

/* Closes c after an error or a refusal: settles it as failed if it was not yet settled,
 * counts a lost connection otherwise. */
void smq_bench_client_fail(struct smq_bench_client *c);

/* Frees what c owns once its handles are closed (or were never opened). */
void smq_bench_client_dispose(struct smq_bench_client *c);

/* Publisher side, bench/publish.c. */

/* Encodes c's PUBLISH template once its plan is known. Returns 0 or a negative SMQ_E*. */
int smq_bench_pub_prepare(struct smq_bench_client *c);

/* Publishes what the pacing mode and the window allow, then flushes. */
void smq_bench_pub_pump(struct smq_bench_client *c);

/* Adds n paced sends to c's debt (capped at SMQ_BENCH_DUE_MAX, the excess counted missed). */
void smq_bench_pub_owe(struct smq_bench_client *c, uint32_t n);

/* Handles PUBACK, PUBREC or PUBCOMP for packet id pid. */
void smq_bench_pub_on_ack(struct smq_bench_client *c, uint8_t type, uint16_t pid);

/* Counts c in run->pubs_done once (limit reached, or connection lost). */
void smq_bench_pub_finish(struct smq_bench_client *c);

#endif
