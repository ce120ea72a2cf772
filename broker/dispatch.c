/* Which handler a decoded packet goes to, and the packets too small for a file of their
 * own: PINGREQ and DISCONNECT. The framer has already refused packets a client never sends
 * and anything but CONNECT first; between a CONNECT and its CONNACK, while an enhanced
 * authentication runs (auth.c), only AUTH and DISCONNECT are accepted here. */
#include "broker/auth.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/worker.h"
#include "proto/reason.h"

/* A v5 DISCONNECT may change the Session Expiry Interval (3.14.2.2.2). Returns false when c
 * was closed for a protocol error. */
static bool update_session_expiry(struct smq_conn *c, const struct smq_reason_packet *pkt)
{
    struct smq_session *s = c->session;
    if (c->version < SMQ_V5 || s == NULL || !smq_props_has(&pkt->props, SMQ_PROP_SESSION_EXPIRY))
        return true;
    uint32_t asked = pkt->props.session_expiry;
    if (s->expiry_was_zero && asked != 0) {
        /* [MQTT-3.14.2-2] from 0 in CONNECT to non-zero at DISCONNECT */
        smq_conn_fail(c, SMQ_RC_PROTOCOL_ERROR, "DISCONNECT raising Session Expiry from 0");
        return false;
    }
    uint32_t cap = c->w->broker->settings.max_session_expiry_interval;
    s->expiry_interval = asked < cap ? asked : cap;
    return true;
}

static void handle_disconnect(struct smq_conn *c, const struct smq_reason_packet *pkt)
{
    if (!update_session_expiry(c, pkt))
        return;
    /* [MQTT-3.14.4-3] a DISCONNECT discards the will; 5.0's 0x04 asks to keep it. */
    if (c->version < SMQ_V5 || pkt->reason != SMQ_RC_DISCONNECT_WITH_WILL)
        smq_msg_unref(smq_conn_take_will(c));
    smq_conn_close(c, smq_conn_will(c) ? SMQ_CLOSE_DISCONNECT_WITH_WILL
                                       : SMQ_CLOSE_CLIENT_DISCONNECT);
}

/* A packet between CONNECT and CONNACK while the client authenticates (4.12). */
static void handle_while_authenticating(struct smq_conn *c, const struct smq_packet *pkt)
{
    switch (pkt->type) {
    case SMQ_AUTH:
        smq_handle_auth(c, &pkt->u.auth);
        break;
    case SMQ_DISCONNECT:
        smq_conn_close(c, SMQ_CLOSE_CLIENT_DISCONNECT); /* gives up: no session, no will yet */
        break;
    case SMQ_CONNECT:
        smq_connect_refuse(c, SMQ_RC_PROTOCOL_ERROR, "second CONNECT"); /* [MQTT-3.1.0-2] */
        break;
    default:
        smq_connect_refuse(c, SMQ_RC_PROTOCOL_ERROR, "packet before CONNACK");
        break;
    }
}

void smq_handle_packet(struct smq_conn *c, const struct smq_packet *pkt, const uint8_t *raw,
                       size_t raw_len)
{
    if (c->state == SMQ_CONN_AWAIT_CONNECT && smq_conn_auth(c) != NULL) {
        handle_while_authenticating(c, pkt);
        return;
    }
    if (pkt->type == SMQ_CONNECT) {
        if (c->state != SMQ_CONN_AWAIT_CONNECT) {
            smq_conn_fail(c, SMQ_RC_PROTOCOL_ERROR, "second CONNECT"); /* [MQTT-3.1.0-2] */
            return;
        }
        smq_handle_connect(c, &pkt->u.connect, raw, raw_len);
        return;
    }
    switch (pkt->type) {
    case SMQ_PUBLISH:
        smq_handle_publish(c, &pkt->u.publish);
        break;
    case SMQ_PUBACK:
    case SMQ_PUBREC:
    case SMQ_PUBREL:
    case SMQ_PUBCOMP:
        smq_handle_ack(c, pkt->type, &pkt->u.ack);
        break;
    case SMQ_SUBSCRIBE:
        smq_handle_subscribe(c, &pkt->u.subscribe);
        break;
    case SMQ_UNSUBSCRIBE:
        smq_handle_unsubscribe(c, &pkt->u.unsubscribe);
        break;
    case SMQ_PINGREQ: {
        struct smq_packet pong = {.type = SMQ_PINGRESP};
        smq_conn_send(c, &pong); /* [MQTT-3.12.4-1] */
        break;
    }
    case SMQ_DISCONNECT:
        handle_disconnect(c, &pkt->u.disconnect);
        break;
    case SMQ_AUTH:
        smq_handle_auth(c, &pkt->u.auth); /* re-authentication */
        break;
    default:
        smq_conn_fail(c, SMQ_RC_PROTOCOL_ERROR, smq_packet_type_name(pkt->type));
        break;
    }
}
