/* The shapes the broker's files share: the process-wide broker, its workers, their
 * connections and sessions, and the messages that cross between threads.
 *
 * Ownership (DESIGN.md "Threads and ownership"): struct smq_broker is written by main
 * before the threads start and read-only afterwards, except the fields under "shared".
 * A worker and everything reachable from it (connections, sessions, timers, buffers) is
 * touched only by that worker's thread. The only way in from another thread is
 * smq_worker_post(). */
#ifndef SMQ_BROKER_BROKER_H
#define SMQ_BROKER_BROKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/expiry.h"
#include "core/msg.h"
#include "core/rcu.h"
#include "core/session.h"
#include "core/topic_index.h"
#include "proto/packet.h"

#include <urcu/wfcqueue.h>

struct smq_worker;
struct smq_conn;
struct smq_listener;

/* Settings the broker runs with; filled by main from the configuration. */
struct smq_settings {
    uint16_t workers;
    bool allow_anonymous;
    bool allow_zero_length_clientid;
    char auto_id_prefix[64];
    uint16_t max_inflight_messages;
    uint32_t max_queued_messages;
    uint64_t max_queued_bytes;
    uint32_t max_packet_size;
    uint16_t max_keepalive;
    uint32_t persistent_client_expiration; /* seconds, 0 = never */
    bool retain_available;
    bool upgrade_outgoing_qos;
    bool queue_qos0_messages;
    uint32_t connect_timeout;              /* seconds */
    uint16_t max_topic_levels;
    uint32_t max_topic_length;
    uint32_t max_subscriptions_per_session; /* 0 = no limit */
    uint16_t max_awaiting_rel;
    uint16_t max_user_properties;
    uint64_t max_retained_messages;        /* 0 = no limit */
    uint32_t max_clientid_length;
    uint32_t max_write_queue_bytes;        /* stop pulling from a session above this */
    uint32_t backpressure_timeout;         /* seconds a subscriber may hold publishers, 0 off */
    bool send_will_on_shutdown;
    uint32_t drain_timeout;                /* seconds */
    uint32_t max_sessions;                 /* connected or not, across workers */
    uint64_t max_retained_bytes;
    bool connection_messages;              /* log a line per connect and disconnect */
    /* MQTT 5.0 (config.h explains each). */
    uint8_t max_qos;
    bool wildcard_subscription_available;
    bool subscription_identifier_available;
    bool shared_subscription_available;
    uint32_t max_session_expiry_interval;
    uint16_t max_topic_alias_broker;
    bool validate_payload_format;
    bool response_information;
};

struct smq_broker {
    struct smq_settings settings;
    /* From settings (smq_session_limits_of), written by main before the workers start and
     * read-only after: every session's state points at it (struct smq_session_state). */
    struct smq_session_limits session_limits;
    struct smq_worker *workers; /* owned: array of settings.workers */
    uint16_t n_workers;
    struct smq_index *index;         /* shared, RCU */
    struct smq_retained *retained;   /* shared, RCU */
    struct smq_registry *registry;   /* shared, RCU */
    /* --- shared: atomics only --- */
    atomic_uint_fast64_t next_session_id; /* relaxed: only uniqueness matters */
    atomic_uint_fast64_t next_auto_id;    /* relaxed: only uniqueness matters */
    atomic_uint next_worker;              /* relaxed: round robin for new connections */
    /* Workers that have closed their connections at shutdown and will never post again:
     * release increment after the last post (stop_worker), acquire load before a worker
     * leaves its loop, so no worker leaves while another may still post to it. */
    atomic_uint stopped_workers;
};

/* Counters a worker keeps; summed across workers for metrics. Written by the owning worker
 * with relaxed atomics so another thread may read them at any time (relaxed loads). */
struct smq_worker_stats {
    atomic_uint_fast64_t connections;       /* gauge */
    atomic_uint_fast64_t sessions;          /* gauge */
    atomic_uint_fast64_t msgs_received;
    atomic_uint_fast64_t msgs_sent;
    atomic_uint_fast64_t msgs_dropped;
    atomic_uint_fast64_t msgs_too_large;    /* over a client's Maximum Packet Size: not sent */
    atomic_uint_fast64_t msgs_expired;      /* Message Expiry passed before sending */
    atomic_uint_fast64_t msgs_refused;      /* PUBLISH refused with PUBACK/PUBREC 0x97, 0x99 */
    atomic_uint_fast64_t protocol_errors;
    atomic_uint_fast64_t bytes_received;
    atomic_uint_fast64_t bytes_sent;
};

static inline void smq_stat_add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* Returns the sessions held by every worker (a sum of relaxed gauges: approximate while
 * they change). Any thread. */
uint64_t smq_broker_session_count(const struct smq_broker *b);

/* What one inbox entry carries. */
enum smq_inbox_kind {
    SMQ_INBOX_CONN = 1, /* an accepted socket, or a connection handed over with its bytes */
    SMQ_INBOX_DELIVER,  /* one message for some of this worker's sessions */
    SMQ_INBOX_STOP,     /* close everything and leave the loop */
};

struct smq_inbox_item {
    struct cds_wfcq_node node;
    uint8_t kind;
};

/* An accepted socket, or one handed from the worker that read its CONNECT to the worker
 * that owns the session; `bytes` are what was read and not yet handled. */
struct smq_inbox_conn {
    struct smq_inbox_item item;
    int fd;                 /* owned until the receiver opens it */
    struct smq_listener *listener; /* borrowed: counts the connection against its limit */
    uint8_t hops;           /* handovers so far: bounded so a race cannot loop */
    uint32_t len;
    uint8_t bytes[];
};

/* A delivery plan for one shard: the message and the sessions that want it. */
struct smq_inbox_deliver {
    struct smq_inbox_item item;
    struct smq_msg *msg;    /* owned: one reference */
    uint16_t from;          /* the posting worker (backpressure counts per pair of workers) */
    uint32_t n_targets;
    struct smq_sub_target targets[];
};

/* What only some sessions need, allocated when first needed and freed once idle again (see
 * sessions.c): the deadlines of an offline persistent session and of a v5 delayed will. Most
 * sessions never have one, and an idle connection should not pay for two heap nodes. */
struct smq_session_timers {
    struct smq_session *session;  /* borrowed: the owner */
    struct smq_msg *pending_will; /* owned: a v5 will waiting for its Will Delay Interval */
    uint32_t will_delay;          /* v5 Will Delay Interval of the connection's will, seconds */
    /* In the worker's deadline heap (w->timers): when an offline session ends, and when its
     * pending will is published; idle otherwise. */
    struct smq_expiry_node expiry_timer;
    struct smq_expiry_node will_timer;
};

/* One client's session, owned by one worker for its whole life. One allocation with its client
 * identifier (fields packed so that, with an identifier of up to 23 bytes, it takes one
 * 192-byte allocation class: every idle connection has one; the struct is 168 bytes on
 * 64-bit, the limits it follows are shared (smq_broker.session_limits) and a QoS 0 delivery
 * leaves it with struct smq_send). */
struct smq_session {
    uint64_t id;
    struct smq_conn *conn;         /* borrowed: NULL while offline */
    struct smq_session_timers *timers; /* owned: NULL while no deadline nor will delay */
    struct smq_subscription *subs; /* owned array */
    uint32_t n_subs, subs_cap;
    struct cds_lfht_node by_id;    /* in the worker's session table */
    /* How long the session outlives its connection, in seconds: 0 ends it with the
     * connection, UINT32_MAX never expires. v5: the Session Expiry Interval in effect (after
     * the server's cap and a DISCONNECT's update); 3.x: 0 for a clean session, else
     * persistent_client_expiration (UINT32_MAX when that is 0). */
    uint32_t expiry_interval;
    uint16_t client_id_len;
    uint8_t version;
    bool clean : 1;                /* the last CONNECT's clean session / clean start flag */
    bool expiry_was_zero : 1;      /* v5 CONNECT asked for 0: DISCONNECT may not raise it */
    struct smq_session_state st;
    char client_id[];              /* client_id_len bytes and a NUL */
};

struct smq_subscription {
    char *filter;               /* owned, NUL-terminated */
    uint16_t len;
    uint8_t qos;
    uint8_t flags;
    uint32_t subscription_id;
};

/* Argument for building a will or a publish from a connection. */
struct smq_will {
    struct smq_msg *msg;        /* owned */
};

#endif
