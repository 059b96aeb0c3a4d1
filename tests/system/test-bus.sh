#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sd-bus and journal modules against the VM's real systemd: scope limits land in cgroup v2 and are
# enforced (OOM kill, pids.max), ResetFailedUnit of a failed leftover, systemd's error text for a bad
# slice, machined register/terminate, journal_read of container entries (-n, -f) and of a scope's stream.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${CBOX_BUILD_ROOT:-$here/../../build}
bin=$build/tests/system/test-bus
if [ ! -x "$bin" ]; then
        echo "test-bus: $bin not built" >&2
        exit 1
fi
if [ ! -d /run/systemd/system ]; then
        echo "SKIP: no systemd as PID 1" >&2
        exit 77
fi
exec "$bin" "$@"
