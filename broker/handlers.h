/* The protocol side of a connection: what each decoded packet means to the broker.
 * conn.c calls in here; the files behind it are connect.c, publish.c, subscribe.c and
 * sessions.c. Worker thread only. */
#ifndef SMQ_BROKER_HANDLERS_H
#define SMQ_BROKER_HANDLERS_H

#include "broker/conn.h"
#include "proto/packet.h"

/* Handles one complete packet of c. raw/raw_len are the packet's bytes followed by every
 * byte read after it (a CONNECT handed to another worker takes them along). After the
 * call, c may be closing or handed over: the caller checks c->state. */
void smq_handle_packet(struct smq_conn *c, const struct smq_packet *pkt, const uint8_t *raw,
                       size_t raw_len);

/* connect.c */
void smq_handle_connect(struct smq_conn *c, const struct smq_connect *pkt, const uint8_t *raw,
                        size_t raw_len);
/* Sends the CONNACK refusing a packet that failed to decode before CONNACK (the CONNECT, or
 * a packet of its authentication exchange), when the version allows. The caller closes. */
void smq_refuse_undecodable_connect(struct smq_conn *c, const struct smq_packet *pkt,
                                    uint8_t reason);
/* The same for a fixed header refused before CONNACK (bytes/len: what was read from it on):
 * a 5.0 CONNECT larger than max_packet_size hears CONNACK 0x95 when its protocol level has
 * arrived with the header. The caller closes. */
void smq_refuse_bad_header(struct smq_conn *c, const uint8_t *bytes, size_t len, uint8_t reason);
/* Refuses a CONNECT: CONNACK with reason (why as Reason String when the client allows
 * problem information), one log line, close. */
void smq_connect_refuse(struct smq_conn *c, uint8_t reason, const char *why);
/* Completes a CONNECT whose enhanced authentication succeeded: raw/raw_len are its bytes,
 * client_id the identifier chosen for it. Does not keep them. */
void smq_connect_resume(struct smq_conn *c, const uint8_t *raw, size_t raw_len,
                        const char *client_id, size_t client_id_len);

/* publish.c */
void smq_handle_publish(struct smq_conn *c, const struct smq_publish *pkt);
void smq_handle_ack(struct smq_conn *c, uint8_t type, const struct smq_ack *ack);
/* route.c */
/* Routes msg to every matching subscription on every worker. Takes no ownership. Returns
 * the number of sessions it went to (0: no matching subscriber). */
uint32_t smq_route(struct smq_worker *w, struct smq_msg *msg);
/* Delivers msg to this worker's sessions among targets[0..n), which are sorted as smq_route
 * sorts them (each session's targets side by side: plain ones first, then by identifier).
 * One delivery per session for its plain subscriptions, one per shared-group target. */
void smq_deliver_local(struct smq_worker *w, struct smq_msg *msg,
                       const struct smq_sub_target *targets, uint32_t n);
/* Hands the QoS 1/2 messages that s's shared subscriptions gave it and it has not taken
 * (queued, or QoS 1 inflight) to other members of their groups; called as s ends. */
void smq_route_orphans(struct smq_worker *w, struct smq_session *s);
/* Returns the shared subscription among subs[0..n) that a shared delivery of topic with
 * subscription_id came through: the one whose inner filter matches topic and whose
 * Subscription Identifier is subscription_id, else the first matching one (one session in
 * two groups of the same filter), or NULL when none matches (it unsubscribed since). */
const struct smq_subscription *smq_route_shared_origin(const struct smq_subscription *subs,
                                                      uint32_t n, struct smq_span topic,
                                                      uint32_t subscription_id);
/* Delivers msg to one target, on this worker or through its shard's inbox. */
void smq_route_target(struct smq_worker *w, struct smq_msg *msg,
                      const struct smq_sub_target *target);
/* Sends what session s may send now to its connection. */
void smq_pump(struct smq_session *s);

/* subscribe.c */
void smq_handle_subscribe(struct smq_conn *c, const struct smq_subscribe *pkt);
void smq_handle_unsubscribe(struct smq_conn *c, const struct smq_unsubscribe *pkt);

/* sessions.c */
/* Detaches c from its session as the connection ends for why: publishes the will when due,
 * ends a clean session, or parks a persistent one offline. */
void smq_session_detach(struct smq_conn *c, int why);
/* Ends a session: removes its subscriptions, registry entry and state. */
void smq_session_end(struct smq_worker *w, struct smq_session *s);
/* Handles the deadlines of w's heap that have passed: ends expired offline sessions and
 * publishes delayed wills. Called from the worker's expiry timer. */
void smq_sessions_expire(struct smq_worker *w);
/* Publishes msg as a will (routing and retained store). Takes ownership of msg. */
void smq_publish_will(struct smq_worker *w, struct smq_msg *msg);

#endif
