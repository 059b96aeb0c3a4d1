#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The harness's self-test: proves the environment the system suite runs in is real — systemd as
# PID 1, a unified cgroup2 hierarchy with the controllers cbox maps limits to, limits that are
# enforced, machined and journald answering.  If this fails, no other system test means anything.
# cbox-test-timeout: 120
. "$(dirname "$0")/lib.sh"

assert_eq "$(cat /proc/1/comm)" systemd "PID 1"
assert_eq "$(stat -fc %T /sys/fs/cgroup)" cgroup2fs "/sys/fs/cgroup file system"
ctrls=$(cat /sys/fs/cgroup/cgroup.controllers)
for c in memory cpu cpuset pids; do
        assert_match " $ctrls " " $c " "cgroup.controllers"
done
info "systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'), controllers: $ctrls"
state=$(systemctl is-system-running || true)
assert_match "$state" '^(running|degraded)$' "system state"

# A transient scope with MemoryMax=32M: the kernel applies it and OOM-kills a 100M hog.
unit=cbox-harness-$$.scope
on_exit stop_unit "$unit"
rc=0
systemd-run --quiet --scope --unit="$unit" -p MemoryMax=32M -p MemorySwapMax=0 \
        bash -c 'cat "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max" > memory.max;
                 exec head -c 100M /dev/zero | tail > /dev/null' || rc=$?
assert_file_eq memory.max 33554432
assert_ne "$rc" 0 "exit status of the 100M hog under MemoryMax=32M"
# the kernel's OOM report names the scope's cgroup
wait_until 10 bash -c "journalctl -k -q --no-pager | grep -q 'oom-kill:.*$unit'"
info "OOM kill: $(journalctl -k -q --no-pager -o cat | grep -m1 'Killed process')"

# TasksMax and CPU limits land in their files
unit2=cbox-harness2-$$.scope
on_exit stop_unit "$unit2"
systemd-run --quiet --scope --unit="$unit2" -p TasksMax=10 -p CPUQuota=50% -p AllowedCPUs=0 \
        bash -c 'cg="/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)";
                 cat "$cg/pids.max" "$cg/cpu.max" "$cg/cpuset.cpus.effective"' >limits
assert_file_eq limits "$(printf '10\n50000 100000\n0')"

# machined answers on the bus
assert_success machinectl list --no-legend
busctl --quiet call org.freedesktop.machine1 /org/freedesktop/machine1 \
        org.freedesktop.machine1.Manager ListMachines >/dev/null || fail "machined does not answer ListMachines"

# journald receives a message
tag=cbox-harness-$$-$RANDOM
echo "hello from the harness" | systemd-cat -t "$tag"
wait_until 10 bash -c "journalctl -q --no-pager -t $tag | grep -q 'hello from the harness'"
info "journald: $(journalctl -q --no-pager -t "$tag" -o cat)"
