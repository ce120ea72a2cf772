/* Error codes shared by every layer of shardmq.
 *
 * Fallible calls return 0 (or a count) on success and a negative code on failure, in the
 * style of libuv: small negative numbers are negated errno values (SMQ_ERR(errno)), the
 * codes below sit far from them so the two never collide. */
#ifndef SMQ_PROTO_ERRORS_H
#define SMQ_PROTO_ERRORS_H

#define SMQ_ERR(e) (-(e))

/* The peer broke the protocol; the MQTT reason code to send is returned beside it. */
#define SMQ_EPROTO (-10001)
/* The caller's output buffer is too small. */
#define SMQ_ENOBUFS (-10002)
/* A configured budget (size, count, bytes) would be exceeded. */
#define SMQ_ELIMIT (-10003)
/* A value the caller passed cannot be encoded (our bug, not the peer's). */
#define SMQ_EINVAL (-10004)
/* The thing looked up does not exist. */
#define SMQ_ENOENT (-10005)

/* Returns a static, human-readable name for one of the codes above or a negated errno. */
const char *smq_strerror(int err);

#endif
