#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/demo.sh — install what is missing, build cbox, and run its main job: containers from the
# shipped examples on the embedded busybox image (tools/demo-run.sh).
#
# Containers need a systemd PID 1 on a cgroup v2 host (limits live in systemd scopes). Where this
# machine has one, the demo runs here; where it does not (a container, or a host whose cgroup
# controllers are held by cgroup v1), it boots the test VM (tests/vm/run.sh: QEMU, systemd as PID 1)
# and runs the very same steps in there, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}

tools/setup.sh
[ -d "$B" ] || meson setup "$B" --werror >/dev/null
meson compile -C "$B" >/dev/null
CBOX=$PWD/$B/src/cli/cbox
export CBOX CBOX_INIT=$PWD/$B/src/init/cbox-init

echo "== cbox $("$CBOX" --version | cut -d' ' -f2): the shipped container files verify"
"$CBOX" verify examples/*.toml
echo
echo "== the effective configuration of examples/web.toml (with its drop-in) and where each value came from"
"$CBOX" cat examples/web.toml

if [ -d /run/systemd/system ] && [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] &&
        grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
        echo
        echo "== running containers on this host (systemd is PID 1, cgroup v2)"
        exec tools/demo-run.sh
fi
echo
echo "== this host's PID 1 is not systemd on cgroup v2, so the containers run in the test VM"
echo "   (QEMU with systemd 252 as PID 1; the first run builds its image, ~2 minutes)"
exec tests/vm/run.sh -t 900 -- "$PWD/tools/demo-run.sh"
