#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/system/run-all.sh [TEST]... — the system suite, as TAP on stdout.
#
# Runs on a host with systemd as PID 1 and cgroup v2 — in practice inside the test VM:
#   tests/vm/run.sh -- tests/system/run-all.sh [TEST]...      (or: meson test --suite vm)
# Runs every tests/system/test-*.sh in lexical order (or the TESTs named: "test-00-harness.sh",
# "test-00-harness", a prefix such as "test-00", or a glob such as "test-1*"), one at a time, each as
# `bash FILE` from a fresh empty directory (also in $TEST_TMPDIR, removed afterwards), with
# stdin /dev/null and a time limit: CBOX_SYSTEM_TEST_TIMEOUT (default 300 s), or a line
# "# cbox-test-timeout: SECS" in the test file.  A test's stdout and stderr are passed through as
# TAP comments ("# ...") while it runs.  Exit 0 = ok, 77 = skip (its last output line is the
# reason), anything else = not ok (then the journal lines logged meanwhile follow as comments); a
# time-out is not ok.  Processes a test leaves behind in its process group are reported and
# killed.  Exit status: 0 when nothing failed, else 1.
set -uo pipefail
shopt -s nullglob
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

tests=()
if [ $# -gt 0 ]; then
        for a in "$@"; do
                a=${a##*/}
                m=()
                # shellcheck disable=SC2206 # a glob on purpose
                for f in "$HERE"/$a; do
                        [[ -f $f && ${f##*/} == test-*.sh ]] && m+=("$f")
                done
                if [ ${#m[@]} = 0 ]; then
                        m=("$HERE/$a".sh) # "test-00-harness"
                        [ -f "${m[0]}" ] || m=("$HERE/$a"*.sh) # a prefix: "test-00"
                fi
                [ ${#m[@]} -gt 0 ] || {
                        echo "Bail out! no system test matches '$a'"
                        exit 1
                }
                tests+=("${m[@]}")
        done
else
        tests=("$HERE"/test-*.sh)
fi

# the processes of group $1 that are not zombies, with their command names
live_in_group() {
        local p st
        for p in $(pgrep -g "$1" 2>/dev/null); do
                st=$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null) || continue
                [ "$st" = Z ] || printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"
        done
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
secs() { printf '%d.%01d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

echo "1..${#tests[@]}"
echo "# system suite on $(uname -n), kernel $(uname -r), PID 1 $(cat /proc/1/comm), $(nproc) CPUs"
failed=0 i=0
for t in "${tests[@]}"; do
        i=$((i + 1))
        name=${t##*/}
        tmo=$(sed -n 's/^# cbox-test-timeout: *\([0-9]\+\).*/\1/p' "$t" | head -1)
        tmo=${tmo:-${CBOX_SYSTEM_TEST_TIMEOUT:-300}}
        dir=$(mktemp -d /var/tmp/cbox-systest.XXXXXX)
        log=$dir.log
        : >"$log"
        t0=$(now_ms)
        since=$(date +%s)
        # timeout makes itself a process group leader: $tpid is the test's process group
        (cd "$dir" && TEST_TMPDIR=$dir exec timeout -k 10 "$tmo" bash "$t" </dev/null >"$log" 2>&1) &
        tpid=$!
        tail -n +1 -s 0.2 -F --pid=$tpid "$log" 2>/dev/null | sed -u 's/^/# /' &
        lpid=$!
        wait $tpid 2>/dev/null
        rc=$?
        wait $lpid
        ms=$(($(now_ms) - t0))
        if [ -n "$(live_in_group $tpid)" ]; then
                sleep 0.5 # let the group's last processes finish dying
                left=$(live_in_group $tpid)
                if [ -n "$left" ]; then
                        echo "# $name left processes behind, killing them: $left"
                        kill -KILL -- -$tpid 2>/dev/null
                fi
        fi
        case $rc in
        0) echo "ok $i - $name" ;;
        77)
                reason=$(tail -n 1 "$log")
                echo "ok $i - $name # SKIP ${reason:-no reason given}"
                ;;
        124 | 137)
                echo "not ok $i - $name"
                echo "# $name timed out after ${tmo} s"
                failed=$((failed + 1))
                ;;
        *)
                echo "not ok $i - $name"
                echo "# $name exited with status $rc"
                failed=$((failed + 1))
                ;;
        esac
        if [ "$rc" != 0 ] && [ "$rc" != 77 ] && command -v journalctl >/dev/null; then
                # the VM is gone after the run: keep what the system logged meanwhile
                echo "# --- $name: the journal since it started (last 60 lines)"
                journalctl -q --no-pager --since "@$since" -n 60 -o short-monotonic 2>/dev/null | sed 's/^/#   /'
        fi
        echo "# $name took $(secs $ms) s"
        rm -rf "$dir" "$log"
done
[ $failed = 0 ]
