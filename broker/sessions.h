/* Session lifecycle on a worker: creation, takeover, expiry and delayed wills, and the
 * session's own list of subscriptions (kept so a session's end can remove them from the
 * shared index).
 *
 * An offline session that may expire, and a will waiting for its Will Delay Interval, each
 * hold a node in the worker's deadline heap (core/expiry.h, w->timers): one timer per
 * worker fires at the earliest deadline, so expiry costs O(log n) per event and nothing per
 * idle session, with no scan of the offline sessions. Worker thread only. */
#ifndef SMQ_BROKER_SESSIONS_H
#define SMQ_BROKER_SESSIONS_H

#include "broker/broker.h"

struct smq_worker;

/* Creates a session of w for client_id with a fresh id and adds it to w's table. */
struct smq_session *smq_session_create(struct smq_worker *w, const char *client_id,
                                       size_t client_id_len);

/* Removes every subscription and queued message of s, keeping its id and registry entry
 * (a clean start over an existing session). */
void smq_session_reset(struct smq_worker *w, struct smq_session *s);

/* Tags of the session's nodes in the worker's deadline heap (struct smq_expiry_node.tag). */
enum smq_session_timer {
    SMQ_TIMER_SESSION = 0, /* expiry_timer: an offline session ends */
    SMQ_TIMER_WILL = 1,    /* will_timer: a delayed will is published */
};

/* Cancels s's expiry (it has a connection again). */
void smq_session_set_online(struct smq_worker *w, struct smq_session *s);

/* Sets the v5 Will Delay Interval of the will of s's connection (0: none, or 3.x). */
void smq_session_set_will_delay(struct smq_session *s, uint32_t seconds);

/* Settles the will still waiting for its Will Delay Interval when s gets a new connection:
 * published when the old session ends now (clean start, or it was to end with its
 * connection), dropped otherwise [MQTT-3.1.3-9]. */
void smq_session_settle_will(struct smq_worker *w, struct smq_session *s, bool session_ends);

/* The worker is stopping and has closed its connections: publishes the wills still waiting
 * for their delay when send_will_on_shutdown is set, like those of connected clients, and
 * drops them otherwise. */
void smq_sessions_stop(struct smq_worker *w);

/* Ends every session of w, after the loop has ended (smq_sessions_stop ran before). */
void smq_sessions_end_all(struct smq_worker *w);

/* Records a subscription in s's own list; returns true when it replaced one. */
bool smq_session_add_sub(struct smq_session *s, struct smq_span filter, uint8_t qos,
                         uint8_t flags, uint32_t subscription_id);

/* Removes filter from s's own list; returns false when s had no such subscription. */
bool smq_session_remove_sub(struct smq_session *s, struct smq_span filter);

/* Returns s's client id escaped for a log line (control characters as \xNN, cut at 96
 * bytes), in a per-thread buffer valid until the next call on this thread. */
const char *smq_session_log_id(const struct smq_session *s);

/* Returns the session limits from the broker's settings (max_inflight 0 becomes 1). Main
 * fills broker->session_limits with it once, before the workers start. */
struct smq_session_limits smq_session_limits_of(const struct smq_settings *set);

#endif
