# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/system/lib.sh — helpers for tests/system/test-*.sh.  Source it first:
#
#   . "$(dirname "$0")/lib.sh"
#
# It turns on `set -euo pipefail` (an unexpected failing command fails the test and is reported
# with its file:line) and sets SRC (the source root), CBOX (the binary under test, may be empty:
# use require_cbox).  A test exits 0 = pass, 77 = skip (skip "reason"), else fail.
#
#   info MSG...                 progress line on stdout
#   fail MSG...                 print "FAIL: MSG (file:line)" and exit 1
#   skip MSG...                 print the reason and exit 77
#   assert_eq ACTUAL EXPECTED [WHAT]     assert_ne ACTUAL UNEXPECTED [WHAT]
#   assert_match STRING REGEX [WHAT]     (bash =~ regex)
#   assert_contains HAYSTACK NEEDLE [WHAT]
#   assert_file_eq FILE EXPECTED         (whole content, trailing newline ignored)
#   assert_success CMD [ARG]...          assert_fails CMD [ARG]...
#   assert_exit STATUS CMD [ARG]...      (runs CMD, checks its exit status exactly)
#   wait_until TIMEOUT CMD [ARG]...      poll (0.2 s) until CMD succeeds, fail after TIMEOUT s;
#   wait_until "SHELL CODE" TIMEOUT      the same, the task's form (code is eval'ed)
#   on_exit CMD [ARG]...                 cleanup, run at exit in reverse order, even on failure
#   require_cmd NAME...                  skip unless all are in PATH
#   require_cbox                         skip unless $CBOX is an executable
#   require_systemd                      skip unless PID 1 is systemd on a unified cgroup2 host
#   stop_unit UNIT...                   stop units (and reset-failed them) if loaded, quietly
#   unit_cgroup UNIT                     print /sys/fs/cgroup/<the unit's ControlGroup>
#   busybox_rootfs                       print the path of the busybox rootfs (built once per
#                                        boot by tools/mkbusybox-rootfs.sh, in /var/lib/cbox)
#   start_registry FIRST LAST            Debian's docker-registry on the first free 127.0.0.1 port in
#                                        FIRST..LAST (skip when none), storage in ./registry, killed
#                                        at exit; sets REGISTRY_PORT once /v2/ answers
set -euo pipefail

SRC=${CBOX_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CBOX=${CBOX:-}

__lib_where() {
        # the first frame outside this file
        local i
        for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
                if [ "${BASH_SOURCE[$i]}" != "${BASH_SOURCE[0]}" ]; then
                        echo "${BASH_SOURCE[$i]##*/}:${BASH_LINENO[$((i - 1))]}"
                        return
                fi
        done
        echo "?"
}

info() { echo "$*"; }

fail() {
        echo "FAIL: $* ($(__lib_where))" >&2
        exit 1
}

skip() {
        echo "$*"
        exit 77
}

assert_eq() {
        [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

assert_ne() {
        [ "$1" != "$2" ] || fail "${3:-value}: expected anything but '$2'"
}

assert_match() {
        [[ $1 =~ $2 ]] || fail "${3:-value}: '$1' does not match /$2/"
}

assert_contains() {
        [[ $1 == *"$2"* ]] || fail "${3:-value}: '$2' not found in: $1"
}

assert_file_eq() {
        [ -e "$1" ] || fail "$1 does not exist"
        local got
        got=$(cat "$1")
        [ "$got" = "$2" ] || fail "$1: expected '$2', got '$got'"
}

assert_success() {
        local rc=0
        "$@" || rc=$?
        [ $rc = 0 ] || fail "'$*' exited with $rc, expected success"
}

assert_fails() {
        local rc=0
        "$@" || rc=$?
        [ $rc != 0 ] || fail "'$*' succeeded, expected failure"
}

assert_exit() {
        local want=$1 rc=0
        shift
        "$@" || rc=$?
        [ "$rc" = "$want" ] || fail "'$*' exited with $rc, expected $want"
}

wait_until() {
        local tmo deadline
        if [ $# = 2 ] && ! [[ $1 =~ ^[0-9]+$ ]] && [[ $2 =~ ^[0-9]+$ ]]; then
                tmo=$2
                set -- eval "$1"
        else
                tmo=$1
                shift
        fi
        deadline=$((SECONDS + tmo))
        until "$@"; do
                [ $SECONDS -lt $deadline ] || fail "timed out after ${tmo} s waiting for: $*"
                sleep 0.2
        done
}

__lib_exit_cmds=()
__lib_run_exit() {
        local rc=$? i
        set +e
        trap - ERR
        for ((i = ${#__lib_exit_cmds[@]} - 1; i >= 0; i--)); do
                eval "${__lib_exit_cmds[$i]}"
        done
        exit $rc
}
on_exit() {
        __lib_exit_cmds+=("$(printf '%q ' "$@")")
}
trap __lib_run_exit EXIT

__lib_err() {
        local rc=$?
        echo "FAIL: command exited with $rc at $(__lib_where): $BASH_COMMAND" >&2
}
set -E
trap __lib_err ERR

require_cmd() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null || skip "$c is not installed"
        done
}

require_cbox() {
        [ -n "$CBOX" ] || skip "CBOX is not set (run through meson test or set CBOX=path/to/cbox)"
        [ -x "$CBOX" ] || skip "CBOX=$CBOX is not an executable"
}

require_systemd() {
        [ "$(cat /proc/1/comm)" = systemd ] || skip "PID 1 is $(cat /proc/1/comm), not systemd"
        [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || skip "/sys/fs/cgroup is not cgroup2 (unified)"
}

stop_unit() {
        local u
        for u in "$@"; do
                systemctl stop "$u" 2>/dev/null || true
                systemctl reset-failed "$u" 2>/dev/null || true
        done
}

unit_cgroup() {
        local cg
        cg=$(systemctl show -P ControlGroup "$1")
        [ -n "$cg" ] || fail "unit $1 has no control group"
        echo "/sys/fs/cgroup$cg"
}

busybox_rootfs() {
        local d=/var/lib/cbox/rootfs/busybox
        if [ ! -x "$d/bin/busybox" ]; then
                "$SRC/tools/mkbusybox-rootfs.sh" "$d" >&2 || fail "cannot build the busybox rootfs"
        fi
        echo "$d"
}

start_registry() {
        local p
        REGISTRY_PORT=
        for p in $(seq "$1" "$2"); do
                if ! ss -Hltn "sport = :$p" | grep -q .; then
                        REGISTRY_PORT=$p
                        break
                fi
        done
        [ -n "$REGISTRY_PORT" ] || skip "no free port in $1-$2 on 127.0.0.1"
        mkdir -p registry
        cat >registry.yml <<E
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $PWD/registry
http:
  addr: 127.0.0.1:$REGISTRY_PORT
E
        docker-registry serve registry.yml >registry.log 2>&1 &
        on_exit kill "$!"
        wait_until 60 curl -sf -o /dev/null "http://127.0.0.1:$REGISTRY_PORT/v2/"
}
