/* The build's identity: shardmq's version and the versions of the libraries it runs on,
 * for `shardmq --version` and the first log line. Any thread may call these. */
#ifndef SMQ_BROKER_VERSION_H
#define SMQ_BROKER_VERSION_H

/* Returns shardmq's version, e.g. "0.1.0". */
const char *smq_version(void);

/* Returns the TLS library linked at run time ("BoringSSL", "OpenSSL 3.0.x ...") or "none". */
const char *smq_version_tls(void);

/* Returns the libuv version linked at run time, e.g. "1.44.2". */
const char *smq_version_libuv(void);

#endif
