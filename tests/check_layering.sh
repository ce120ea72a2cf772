#!/usr/bin/env bash
# Enforces the dependency arrow proto -> core -> broker at the #include level.
#
# Usage: check_layering.sh SOURCE_ROOT OUTPUT. Run by the build (a custom_target of the
# top-level meson.build) on every build. Greps the sources of each folder for includes it
# may not use (DESIGN.md, "Top level"), prints each offence as file:line, and exits 1 when
# there is one; otherwise touches OUTPUT. proto/ is pure (libc only), core/ does no I/O,
# bench/ speaks only the wire format.
set -euo pipefail

if (($# != 2)); then
    echo "usage: $0 SOURCE_ROOT OUTPUT" >&2
    exit 2
fi
root=$1
output=$2
cd "$root"

status=0

# check FOLDER RULE REGEX: reports every #include line of FOLDER's .c/.h files that matches
# REGEX (an extended regex applied to the text after `#include`).
check() {
    local folder=$1 rule=$2 regex=$3 hits
    [[ -d "$folder" ]] || return 0
    hits=$(grep -rnE --include='*.c' --include='*.h' \
        "^[[:space:]]*#[[:space:]]*include[[:space:]]*${regex}" "$folder" || true)
    if [[ -n "$hits" ]]; then
        while IFS= read -r hit; do
            # hit is file:line:text
            echo "layering: ${hit%%:*}:$(cut -d: -f2 <<<"$hit"): $rule: $(cut -d: -f3- <<<"$hit" | sed 's/^[[:space:]]*//')" >&2
        done <<<"$hits"
        status=1
    fi
}

check proto "proto/ may include only libc and proto/ headers" \
    '("(\.\./)*(core|broker)/|<(uv\.h|openssl/|urcu|sys/socket\.h|netinet/|pthread\.h|jemalloc/))'
check core "core/ may not include broker/ headers, libuv, TLS or socket headers" \
    '("(\.\./)*broker/|<(uv\.h|openssl/|sys/socket\.h|netinet/))'
check bench "bench/ may include proto/ but not core/ or broker/" \
    '"(\.\./)*(core|broker)/'

if ((status != 0)); then
    echo "layering: the arrow is proto -> core -> broker (see DESIGN.md); move the code or the include." >&2
    exit 1
fi
touch "$output"
