#!/bin/bash
# tools/demo.sh — install what is missing, build cbox, and run its main job.
#
# Today's main job: check the shipped container files and show their effective configuration
# (`cbox verify`, `cbox cat`). Running containers lands with the runtime; this script will then
# start examples/hello.toml for real (on a host whose PID 1 is systemd, or else inside the test VM).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}

tools/setup.sh
[ -d "$B" ] || meson setup "$B" --werror >/dev/null
meson compile -C "$B" >/dev/null
CBOX=$B/src/cli/cbox

echo "== cbox $($CBOX --version | cut -d' ' -f2): verifying the shipped configuration"
"$CBOX" verify examples/*.toml
echo
echo "== the effective configuration of examples/web.toml (with its drop-in) and where each value came from"
"$CBOX" cat examples/web.toml
