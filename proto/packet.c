/* Names of the packet types, for log lines. */
#include "proto/packet.h"

const char *smq_packet_type_name(int type)
{
    static const char *const names[] = {
        "RESERVED", "CONNECT", "CONNACK",  "PUBLISH",     "PUBACK",   "PUBREC",
        "PUBREL",   "PUBCOMP", "SUBSCRIBE", "SUBACK",     "UNSUBSCRIBE", "UNSUBACK",
        "PINGREQ",  "PINGRESP", "DISCONNECT", "AUTH",
    };
    if (type < 0 || type > SMQ_AUTH)
        return "RESERVED";
    return names[type];
}
