#!/bin/bash
# tools/test.sh — install, build and run the whole test suite (unit, integration, fuzz replay,
# formatting, and the system suite inside a VM with systemd as PID 1).
# Usage: tools/test.sh [BUILDDIR]    (default: build; CBOX_SKIP_BENCH=1 skips the benchmark smoke run)
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

# The benchmark suite's smoke mode (bench/run --quick: every measurement once, small sizes), so the
# benchmarks do not rot. Timings are reported, never asserted; a broken benchmark fails the run.
if [ "${CBOX_SKIP_BENCH:-0}" != 1 ]; then
        echo "== bench/run --quick (log: $B/bench-quick.log)"
        if ! CBOX_BENCH_BUILD=$PWD/$B bench/run --quick >"$B/bench-quick.log" 2>&1; then
                tail -n 40 "$B/bench-quick.log"
                echo "bench/run --quick failed"
                exit 1
        fi
        tail -n 3 "$B/bench-quick.log"
fi

# The whole suite; its summary is the last thing printed.
exec meson test -C "$B" --print-errorlogs
