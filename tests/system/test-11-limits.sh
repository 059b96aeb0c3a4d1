#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# [resources] are enforced by the scope: memory_max → OOM kill and memory.max 33554432, tasks_max 10 →
# the 11th task cannot fork, cpu_quota 50% → cpu.max "50000 100000", cpuset "0" → cpuset.cpus.effective 0.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd

R=$(busybox_rootfs)

# memory: wait for a go from `cbox exec`, then allocate 100M in the shell
cat > t11mem.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "echo waiting; while [ ! -e /tmp/go ]; do sleep 0.1; done; x=\$(head -c 100000000 /dev/zero | tr '\\\\0' x); echo survived \${#x}"]
[resources]
memory_max = "32M"
memory_swap_max = "0"
[network]
mode = "none"
E
on_exit "$CBOX" down --volumes t11mem
assert_success "$CBOX" up t11mem.toml
cg=$(unit_cgroup cbox-t11mem.scope)
assert_file_eq "$cg/memory.max" 33554432
"$CBOX" exec t11mem -- touch /tmp/go
wait_until 60 sh -c "'$CBOX' list --all --json | grep -q '\"exited\"'"
json=$("$CBOX" list --all --json)
info "$json"
assert_match "$json" '"exit_code": *137' "exit code of the OOM-killed payload"
journalctl -k --no-pager | grep -q "oom_memcg=/machine.slice/cbox-t11mem.scope" ||
        fail "no kernel OOM kill recorded for cbox-t11mem.scope"
if "$CBOX" logs t11mem | grep -q survived; then fail "the payload survived allocating 100M"; fi

# tasks, cpu quota, cpuset: init + sh + 8 sleeps = 10 tasks, so an 11th cannot be created
cat > t11tasks.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1000 & done; echo forked; wait"]
[resources]
tasks_max = 10
cpu_quota = "50%"
cpuset = "0"
cpu_weight = 50
[network]
mode = "none"
E
on_exit "$CBOX" down t11tasks
assert_success "$CBOX" up t11tasks.toml
cg=$(unit_cgroup cbox-t11tasks.scope)
assert_file_eq "$cg/pids.max" 10
wait_until 30 sh -c "'$CBOX' logs t11tasks | grep -q forked"
assert_eq "$(cat "$cg/pids.current")" 10 "pids.current (init + sh + 8 sleeps)"
# the 11th task: cbox exec into the container's cgroup cannot fork
rc=0
"$CBOX" exec t11tasks -- /bin/true 2> exec.err || rc=$?
assert_ne "$rc" 0 "exec into a container at tasks_max"
info "11th task: $(cat exec.err)"
assert_contains "$(cat exec.err)" "Resource temporarily unavailable"
max_events=$(sed -n 's/^max //p' "$cg/pids.events")
[ "$max_events" -ge 1 ] || fail "pids.events shows no refused fork"
assert_eq "$(cat "$cg/pids.current")" 10 "pids.current after the refused fork"
assert_file_eq "$cg/cpu.max" "50000 100000"
assert_file_eq "$cg/cpuset.cpus.effective" 0
assert_file_eq "$cg/cpu.weight" 50
st=$("$CBOX" status t11tasks)
info "$st"
assert_match "$st" "TasksMax: 10" "status"
assert_match "$st" "CPUQuota: 50%" "status"
assert_match "$st" "AllowedCPUs: 0" "status"
info "ok"
