#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/lib/nspawn.sh ROOTFS WORKDIR SRCDIR -- CMD…  — boot ROOTFS (bench/lib/mkenv.sh) with
# systemd-nspawn -b at native speed, wait until its systemd is running, run CMD inside as a
# transient service (systemd-run --wait --pipe), power the environment off, exit with CMD's
# status.  The rootfs stays untouched (--volatile=overlay); WORKDIR (on the host's disk) is bound
# at /bench and holds every tool's storage (/var/lib/cbox, /var/lib/containers are bound from it:
# overlayfs cannot use an overlayfs upper); SRCDIR is bound at the same path read-only, so a cbox
# build tree inside it works unchanged.  Private network: every bridge, veth and nft table lives
# in the environment's own network namespace.
#
# The host's PID 1 is not systemd and its cgroup controllers are v1: the environment's systemd
# runs in hybrid mode under a child cgroup of ours in every host hierarchy (removed afterwards);
# fine for timing, not for proving limits.  Where the host's PID 1 is systemd, bench/run uses the
# host directly instead.
set -uo pipefail
[ $# -ge 4 ] && [ "$4" = -- ] || { echo "usage: $0 ROOTFS WORKDIR SRCDIR -- CMD..." >&2; exit 2; }
R=$1 W=$2 S=$3
shift 4
name=cboxbench$$
mkdir -p "$W/cbox" "$W/containers"

cgdirs=()
while IFS=: read -r _ ctl path; do
        case "$ctl" in
        "") d=/sys/fs/cgroup/unified ;;
        name=systemd) d=/sys/fs/cgroup/systemd ;;
        *) d=/sys/fs/cgroup/$ctl ;;
        esac
        [ -d "$d$path" ] || continue
        d=${d%/}${path%/}/$name
        mkdir -p "$d" 2>/dev/null || continue
        cgdirs+=("$d")
        if [ "$ctl" = cpuset ]; then
                cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"
                cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
        fi
done </proc/self/cgroup

npid=
cleanup() {
        if [ -n "$npid" ] && kill -0 "$npid" 2>/dev/null; then
                [ -n "${leader:-}" ] && nsenter -t "$leader" -a systemctl poweroff --no-block >/dev/null 2>&1
                for _ in $(seq 50); do kill -0 "$npid" 2>/dev/null || break; sleep 0.2; done
                kill -TERM "$npid" 2>/dev/null
                sleep 1
                kill -KILL "$npid" 2>/dev/null
        fi
        # a systemd still busy shutting down hundreds of units outlives nspawn: end its PID namespace
        if [ -n "${leader:-}" ] && kill -0 "$leader" 2>/dev/null; then
                kill -KILL "$leader" 2>/dev/null
                for _ in $(seq 50); do kill -0 "$leader" 2>/dev/null || break; sleep 0.2; done
        fi
        wait 2>/dev/null
        for d in "${cgdirs[@]}"; do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
        rm -rf "/run/systemd/nspawn/propagate/$name" "/run/systemd/nspawn/unix-export/$name" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log=$W/nspawn.log
(
        for d in "${cgdirs[@]}"; do echo $BASHPID >"$d/cgroup.procs"; done
        exec systemd-nspawn -q -D "$R" --volatile=overlay -b -M "$name" --register=no --keep-unit \
                --private-network --bind="$W:/bench" --bind="$W/cbox:/var/lib/cbox" \
                --bind="$W/containers:/var/lib/containers" --bind-ro="$S:$S" \
                --capability=all --system-call-filter='@known' --console=pipe </dev/null >"$log" 2>&1
) &
npid=$!
leader=
for _ in $(seq 300); do
        leader=$(pgrep -P "$npid" -x systemd 2>/dev/null | head -1)
        if [ -n "$leader" ] && nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null | grep -qE 'running|degraded'; then
                break
        fi
        kill -0 "$npid" 2>/dev/null || break
        sleep 0.1
done
if [ -z "$leader" ]; then
        echo "nspawn: the environment did not boot:" >&2
        cat "$log" >&2
        exit 125
fi
nsenter -t "$leader" -a systemctl is-system-running --wait >/dev/null 2>&1
# nspawn mounts the v1 controller hierarchies read-only; crun and podman (and systemd's own unit
# cgroups) need them writable.  They show only our own child cgroups of the host's hierarchies.
nsenter -t "$leader" -m sh -c 'for m in /sys/fs/cgroup/*; do [ "$(stat -fc %T "$m")" = cgroupfs ] && mount -o remount,bind,rw "$m"; done; true'
nsenter -t "$leader" -a systemctl daemon-reexec
nsenter -t "$leader" -a systemd-run --wait --pipe --quiet -p LimitNOFILE=1048576 -p TasksMax=infinity \
        --working-directory=/bench -- "$@"
