/* Names for the error codes of errors.h, for log lines. */
#include "proto/errors.h"

#include <string.h>

const char *smq_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case SMQ_EPROTO:
        return "protocol violation";
    case SMQ_ENOBUFS:
        return "buffer too small";
    case SMQ_ELIMIT:
        return "limit exceeded";
    case SMQ_EINVAL:
        return "invalid argument";
    case SMQ_ENOENT:
        return "not found";
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}
