/* Versions of shardmq and of the libraries linked at run time (not at build time: a
 * container may carry another libuv or libssl than the one we built against). */
#include "broker/version.h"

#include <uv.h>

#if SMQ_TLS
#include <openssl/crypto.h>
#endif

const char *smq_version(void)
{
    return SMQ_VERSION;
}

const char *smq_version_tls(void)
{
#if SMQ_TLS
    /* OpenSSL_version() exists in OpenSSL >= 1.1 and in BoringSSL alike. */
    return OpenSSL_version(OPENSSL_VERSION);
#else
    return "none";
#endif
}

const char *smq_version_libuv(void)
{
    return uv_version_string();
}
