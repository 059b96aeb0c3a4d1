#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sd-bus and journal modules against the VM's real systemd (tests/system/test-bus.c): scope limits land
# in cgroup v2 and are enforced (OOM kill at MemoryMax, the 11th task fails at TasksMax), DevicePolicy
# and KillSignal, ResetFailedUnit of a failed leftover, systemd's message for a bad slice, machined
# register/terminate, the cleanup companion, journal_read of container entries (-n, -f) and of a
# scope's stream. Then the unit tests of both modules, which need systemd/journald too.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_systemd

build=${CBOX_BUILD_ROOT:-$SRC/build}
bin=$build/tests/system/test-bus
[ -x "$bin" ] || fail "$bin is not built"
"$bin"
for t in test-bus test-journal; do
        [ -x "$build/tests/unit/$t" ] || fail "$build/tests/unit/$t is not built"
        "$build/tests/unit/$t"
done
