/* A connection's peer address, kept compact and formatted only when a log line needs it.
 *
 * Every connection keeps its peer's address for its log lines, for its whole life: a
 * formatted string would cost 64 bytes per connection, this costs 18. An IPv4 address is
 * kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d) and printed as IPv4, which also covers
 * IPv4 clients of a dual-stack listener. Pure functions: any thread. */
#ifndef SMQ_BROKER_PEER_H
#define SMQ_BROKER_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct smq_peer {
    uint8_t addr[16]; /* IPv6, or IPv4-mapped IPv6; all zero: unknown */
    uint16_t port;    /* host byte order */
};

/* Longest text smq_peer_format writes: "[" IPv6 "]:" port and a NUL. */
#define SMQ_PEER_TEXT_MAX 56

/* Fills *out from an AF_INET or AF_INET6 address; anything else leaves it unknown. */
void smq_peer_set(struct smq_peer *out, const struct sockaddr *sa);

/* Writes the peer as "a.b.c.d:port", "[v6]:port", or "?" when unknown, into buf (cap bytes,
 * SMQ_PEER_TEXT_MAX is always enough) and returns buf. */
char *smq_peer_format(const struct smq_peer *p, char *buf, size_t cap);

#endif
