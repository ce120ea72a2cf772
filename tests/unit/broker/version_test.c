#include <criterion/criterion.h>
#include <string.h>
#include <uv.h>

#include "broker/version.h"

Test(version, reports_project_version)
{
    cr_assert_str_eq(smq_version(), SMQ_VERSION);
    cr_assert_gt(strlen(smq_version()), 0);
}

Test(version, reports_the_tls_library_chosen_at_build_time)
{
#if defined(SMQ_TLS_BORINGSSL)
    cr_assert_str_eq(smq_version_tls(), "BoringSSL");
#elif defined(SMQ_TLS_OPENSSL)
    cr_assert(strncmp(smq_version_tls(), "OpenSSL", 7) == 0, "got %s", smq_version_tls());
#else
    cr_assert_str_eq(smq_version_tls(), "none");
#endif
}

Test(version, reports_the_libuv_linked_at_run_time)
{
    cr_assert_str_eq(smq_version_libuv(), uv_version_string());
}
