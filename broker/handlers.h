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
/* Sends the CONNACK refusing a CONNECT that failed to decode, when the version allows. */
void smq_refuse_undecodable_connect(struct smq_conn *c, const struct smq_packet *pkt,
                                    uint8_t reason);

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
/* Ends offline sessions whose expiry has passed. Called from the worker's tick. */
void smq_sessions_expire(struct smq_worker *w);
/* Publishes msg as a will (routing and retained store). Takes ownership of msg. */
void smq_publish_will(struct smq_worker *w, struct smq_msg *msg);

#endif
