#!/bin/bash
# tools/test.sh — install, build and run the whole test suite (unit, integration, fuzz replay,
# formatting, and the system suite inside a VM with systemd as PID 1).
# Usage: tools/test.sh [BUILDDIR]    (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}

tools/setup.sh

if [ ! -d "$B" ]; then
        meson setup "$B" --werror
fi
meson compile -C "$B"

# Once more under ASan+UBSan: the unit suite (separate build dir, no VM).
if [ ! -d "$B-asan" ]; then
        meson setup "$B-asan" --werror -Db_sanitize=address,undefined -Db_lundef=false -Dvm-tests=disabled
fi
meson compile -C "$B-asan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C "$B-asan" --suite unit --print-errorlogs

# The whole suite; its summary is the last thing printed.
exec meson test -C "$B" --print-errorlogs
