#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/demo-run.sh — the demo's steps; needs root and a systemd PID 1 on cgroup v2 (tools/demo.sh
# runs it on the host when that is so, else inside the test VM). $CBOX is the binary to use.
set -euo pipefail
cd "$(dirname "$0")/.."
CBOX=${CBOX:?}
step() { printf '\n== %s\n' "$*"; }
run() {
        printf '$ cbox %s\n' "$*"
        "$CBOX" "$@"
}

step "the embedded busybox image (from Debian's busybox-static, no network)"
tools/mkbusybox-rootfs.sh /var/lib/cbox/rootfs/busybox

step "a container in the foreground: prints its greeting and exits with its code"
run up --foreground examples/hello.toml

step "a detached container, its transient scope and its limits"
run up examples/sleeper.toml
run list
run status sleeper | head -n 20
printf 'memory.max of its cgroup: %s\n' "$(cat /sys/fs/cgroup/machine.slice/cbox-sleeper.scope/memory.max)"
if command -v machinectl >/dev/null; then
        printf '$ machinectl list\n'
        machinectl list --no-pager || true
fi
run exec sleeper -- ps
run logs -n 5 sleeper
step "stop it; nothing is left behind"
run down sleeper
run list --all
