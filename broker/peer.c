/* Compact peer addresses (see peer.h). */
#include "broker/peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void smq_peer_set(struct smq_peer *out, const struct sockaddr *sa)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(out->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix));
        memcpy(out->addr + 12, &in->sin_addr, 4);
        out->port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(out->addr, &in6->sin6_addr, 16);
        out->port = ntohs(in6->sin6_port);
    }
}

char *smq_peer_format(const struct smq_peer *p, char *buf, size_t cap)
{
    static const uint8_t zero[16];
    char host[INET6_ADDRSTRLEN];
    if (memcmp(p->addr, zero, sizeof(zero)) == 0) {
        snprintf(buf, cap, "?");
    } else if (memcmp(p->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
        inet_ntop(AF_INET, p->addr + 12, host, sizeof(host));
        snprintf(buf, cap, "%s:%u", host, p->port);
    } else {
        inet_ntop(AF_INET6, p->addr, host, sizeof(host));
        snprintf(buf, cap, "[%s]:%u", host, p->port);
    }
    return buf;
}
