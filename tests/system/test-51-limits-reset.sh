#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A limit removed from a container file stops applying. systemd keeps what SetUnitProperties(runtime)
# set in drop-ins under /run/systemd/system.control/UNIT.d/ until reboot, across stops and starts, so
# cbox sends every limit with the reset value for those the file does not set:
#  1. cbox@t51.service started with a drop-in setting every [resources] limit: properties and cgroup
#     files follow it; cbox update after removing tasks_max from the drop-in: pids.max back to
#     DefaultTasksMax at once; stop (the runtime drop-ins stay: MemoryMax still reads 64M); the drop-in
#     deleted, start again: every property and cgroup file is back to what an unlimited unit has
#     (infinity, "max", DefaultTasksMax, the slice's CPUs, default weights).
#  2. a detached container (cbox-t51d.scope): keys removed from its file, cbox update: memory.max,
#     pids.max, cpu.max and cpuset.cpus.effective back to unlimited while the others keep their values.
# cbox-test-timeout: 400
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd

R=$(busybox_rootfs)
UNIT_SRC="$CBOX_BUILD_ROOT/units/cbox@.service"
[ -f "$UNIT_SRC" ] || skip "$UNIT_SRC not built"
U=cbox@t51.service

cleanup_all() {
        systemctl stop $U 2>/dev/null || true
        systemctl reset-failed $U 2>/dev/null || true
        rm -rf /etc/cbox/t51.toml /etc/cbox/t51.toml.d /run/systemd/system/cbox@.service \
                /run/systemd/system/cbox@t51.service.d
        systemctl daemon-reload
        "$CBOX" down --volumes t51 2>/dev/null || true
        "$CBOX" down --volumes t51d 2>/dev/null || true
}
on_exit cleanup_all

default_tasks_max=$(systemctl show -P DefaultTasksMax)
[[ $default_tasks_max =~ ^[0-9]+$ ]] || fail "DefaultTasksMax of the manager: '$default_tasks_max'"
slice_cpus=$(cat /sys/fs/cgroup/machine.slice/cpuset.cpus.effective 2>/dev/null ||
        cat /sys/fs/cgroup/cpuset.cpus.effective)
info "DefaultTasksMax=$default_tasks_max, machine.slice CPUs $slice_cpus"
[ "$slice_cpus" != 0 ] || skip "one CPU only: a cpuset of CPU 0 cannot be told from none"

# the unit as meson built it, pointing at the cbox under test (as test-50)
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/cbox |\1$CBOX |" "$UNIT_SRC" >/run/systemd/system/cbox@.service
grep -q "^ExecStart=$CBOX up --foreground" /run/systemd/system/cbox@.service || fail "unit not rewritten"
if [ -n "${CBOX_INIT:-}" ]; then
        mkdir -p /run/systemd/system/$U.d
        printf '[Service]\nEnvironment=CBOX_INIT=%s\n' "$CBOX_INIT" >/run/systemd/system/$U.d/10-init.conf
fi
mkdir -p /etc/cbox/t51.toml.d
cat >/etc/cbox/t51.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "echo started; exec sleep 100000"]
[network]
mode = "none"
E
# every limit cbox sets, each away from its default
ALL_LIMITS='memory_max = "64M"
memory_high = "60M"
memory_swap_max = "0"
tasks_max = 32
cpu_quota = "50%"
cpu_weight = 50
io_weight = 200
cpuset = "0"'
printf '[resources]\n%s\n' "$ALL_LIMITS" >/etc/cbox/t51.toml.d/50-limits.toml
systemctl daemon-reload

prop() { systemctl show -P "$1" "$2"; }

# the limits of the drop-in, on the unit and in its cgroup
check_limited() {
        local u=$1 cg
        cg=$(unit_cgroup "$u")
        assert_eq "$(prop MemoryMax "$u")" 67108864 "$u MemoryMax"
        assert_eq "$(prop TasksMax "$u")" 32 "$u TasksMax"
        assert_eq "$(prop CPUQuotaPerSecUSec "$u")" 500ms "$u CPUQuotaPerSecUSec"
        assert_eq "$(prop AllowedCPUs "$u")" 0 "$u AllowedCPUs"
        assert_file_eq "$cg/memory.max" 67108864
        assert_file_eq "$cg/memory.high" 62914560
        assert_file_eq "$cg/memory.swap.max" 0
        assert_file_eq "$cg/pids.max" 32
        assert_file_eq "$cg/cpu.max" "50000 100000"
        assert_file_eq "$cg/cpu.weight" 50
        assert_file_eq "$cg/cpuset.cpus.effective" 0
}

# what a unit has when nothing sets a limit
check_unlimited() {
        local u=$1 cg
        cg=$(unit_cgroup "$u")
        assert_eq "$(prop MemoryMax "$u")" infinity "$u MemoryMax"
        assert_eq "$(prop MemoryHigh "$u")" infinity "$u MemoryHigh"
        assert_eq "$(prop MemorySwapMax "$u")" infinity "$u MemorySwapMax"
        assert_eq "$(prop TasksMax "$u")" "$default_tasks_max" "$u TasksMax"
        assert_eq "$(prop CPUQuotaPerSecUSec "$u")" infinity "$u CPUQuotaPerSecUSec"
        assert_eq "$(prop CPUWeight "$u")" "[not set]" "$u CPUWeight"
        assert_eq "$(prop IOWeight "$u")" "[not set]" "$u IOWeight"
        assert_eq "$(prop AllowedCPUs "$u")" "" "$u AllowedCPUs"
        assert_file_eq "$cg/memory.max" max
        assert_file_eq "$cg/memory.high" max
        assert_file_eq "$cg/memory.swap.max" max
        assert_file_eq "$cg/pids.max" "$default_tasks_max"
        assert_file_eq "$cg/cpu.max" "max 100000"
        assert_file_eq "$cg/cpu.weight" 100
        assert_file_eq "$cg/cpuset.cpus.effective" "$slice_cpus"
        if [ -e "$cg/io.weight" ]; then
                assert_eq "$(head -n1 "$cg/io.weight")" "default 100" "$cg/io.weight"
        fi
}

# 1. service mode
assert_success systemctl start $U
assert_eq "$(systemctl is-active $U)" active "$U after start"
check_limited $U
# systemd 252 takes drop-ins written out of name order for a change on disk ("Run 'systemctl
# daemon-reload'" on every systemctl call): cbox sends the limits in that order
assert_eq "$(prop NeedDaemonReload $U)" no "NeedDaemonReload after the limits were set"

# cbox update after tasks_max left the drop-in: pids.max back to the default at once, the rest stays
sed -i '/^tasks_max/d' /etc/cbox/t51.toml.d/50-limits.toml
rc=0; out=$("$CBOX" update t51 2>&1) || rc=$?
info "$out"
assert_eq "$rc" 0 "update after removing tasks_max"
assert_contains "$out" "applied tasks_max" "update output"
cg=$(unit_cgroup $U)
assert_file_eq "$cg/pids.max" "$default_tasks_max"
assert_eq "$(prop TasksMax $U)" "$default_tasks_max" "TasksMax after update"
assert_file_eq "$cg/memory.max" 67108864
assert_file_eq "$cg/cpuset.cpus.effective" 0
assert_eq "$(prop NeedDaemonReload $U)" no "NeedDaemonReload after update"

assert_success systemctl stop $U
# what made the bug: the runtime drop-ins outlive the unit's run
assert_eq "$(prop MemoryMax $U)" 67108864 "MemoryMax of the stopped unit (runtime drop-in)"

rm /etc/cbox/t51.toml.d/50-limits.toml
assert_success systemctl start $U
assert_eq "$(systemctl is-active $U)" active "$U after the second start"
check_unlimited $U
assert_eq "$(prop NeedDaemonReload $U)" no "NeedDaemonReload after the second start"
wait_until 20 sh -c "journalctl -u $U --no-pager -o cat | grep -q started"

# and back: the same drop-in applies again on the next start
printf '[resources]\nmemory_max = "64M"\n' >/etc/cbox/t51.toml.d/50-limits.toml
assert_success systemctl restart $U
assert_file_eq "$(unit_cgroup $U)/memory.max" 67108864
assert_file_eq "$(unit_cgroup $U)/pids.max" "$default_tasks_max"
assert_success systemctl stop $U

# 2. cbox update of a detached container
cat >t51d.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "exec sleep 100000"]
[resources]
$ALL_LIMITS
[network]
mode = "none"
E
assert_success "$CBOX" up t51d.toml
S=cbox-t51d.scope
check_limited $S
cg=$(unit_cgroup $S)

# memory_max and cpuset removed: those two back to unlimited, the others unchanged
sed -i '/^memory_max/d; /^cpuset/d' t51d.toml
rc=0; out=$("$CBOX" update t51d 2>&1) || rc=$?
info "$out"
assert_eq "$rc" 0 "update after removing memory_max and cpuset"
assert_contains "$out" "applied memory_max" "update output"
assert_contains "$out" "applied cpuset" "update output"
assert_file_eq "$cg/memory.max" max
assert_eq "$(prop MemoryMax $S)" infinity "MemoryMax after update"
assert_file_eq "$cg/cpuset.cpus.effective" "$slice_cpus"
assert_eq "$(prop AllowedCPUs $S)" "" "AllowedCPUs after update"
assert_file_eq "$cg/pids.max" 32
assert_file_eq "$cg/cpu.max" "50000 100000"
assert_file_eq "$cg/memory.high" 62914560

# every limit removed
sed -i '/^\[resources\]/,/^\[network\]/{/^\[/!d}' t51d.toml
info "$(cat t51d.toml)"
rc=0; out=$("$CBOX" update t51d 2>&1) || rc=$?
info "$out"
assert_eq "$rc" 0 "update after removing every limit"
check_unlimited $S
assert_contains "$("$CBOX" status t51d)" "running" "still running"
info "ok"
