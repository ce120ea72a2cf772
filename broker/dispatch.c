/* Which handler a decoded packet goes to, and the packets too small for a file of their
 * own: PINGREQ and DISCONNECT. The framer has already refused packets a client never sends
 * and anything but CONNECT first. */
#include "broker/conn.h"
#include "broker/handlers.h"
#include "proto/reason.h"

static void handle_disconnect(struct smq_conn *c, const struct smq_reason_packet *pkt)
{
    /* [MQTT-3.14.4-3] a DISCONNECT discards the will; 5.0's 0x04 asks to keep it. */
    if (c->version < SMQ_V5 || pkt->reason != SMQ_RC_DISCONNECT_WITH_WILL) {
        smq_msg_unref(c->will);
        c->will = NULL;
    }
    smq_conn_close(c, c->will ? SMQ_CLOSE_DISCONNECT_WITH_WILL : SMQ_CLOSE_CLIENT_DISCONNECT);
}

void smq_handle_packet(struct smq_conn *c, const struct smq_packet *pkt, const uint8_t *raw,
                       size_t raw_len)
{
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
    default:
        /* AUTH: no authentication method is offered, so none can be continued. */
        smq_conn_fail(c, SMQ_RC_PROTOCOL_ERROR, smq_packet_type_name(pkt->type));
        break;
    }
}
