#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox up --foreground under a service, as cbox@.service runs it (Type=notify, Delegate=yes,
# KillMode=mixed): the payload lives in a sub-cgroup of the service (systemctl status shows it), the
# limits are set on the service, stopping the service stops the payload with SIGTERM and leaves
# nothing, and `cbox down` of such a container stops its service.
# cbox-test-timeout: 180
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd systemd-run

R=$(busybox_rootfs)
N=t15svc
U="cbox@$N.service"
cat > $N.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "trap 'echo got-sigterm; exit 0' TERM; echo svc-ready; while :; do sleep 0.2; done"]
[resources]
memory_max = "48M"
tasks_max = 50
[network]
mode = "none"
E
run_service() {
        systemd-run --quiet --unit="$U" -p Type=notify -p NotifyAccess=main -p Delegate=yes -p KillMode=mixed \
                -p TimeoutStopSec=20s --setenv=CBOX_INIT="${CBOX_INIT:-}" "$CBOX" up --foreground "$PWD/$N.toml"
}
on_exit stop_unit "$U"
on_exit "$CBOX" down $N

# systemd-run returns once READY=1 arrived (Type=notify)
assert_success run_service
assert_eq "$(systemctl is-active "$U")" active "service state"
cg=$(unit_cgroup "$U")
wait_until 20 sh -c "'$CBOX' logs $N 2>/dev/null | grep -q svc-ready || journalctl -u '$U' --no-pager | grep -q svc-ready"
leader=$("$CBOX" list --json | tr -d ' \n' | sed -n 's/.*"leader":\([0-9]*\).*/\1/p')
assert_contains "$(cat "$cg/payload/cgroup.procs")" "$leader" "init in <service>/payload"
assert_file_eq "$cg/memory.max" 50331648
assert_file_eq "$cg/pids.max" 50
assert_match "$("$CBOX" list)" "$N +running +$U +$leader " "list shows the service as the unit"
assert_contains "$(systemctl status "$U" --no-pager)" "cbox-init" "systemctl status shows the payload"
assert_eq "$(systemctl show -P LoadState cbox-$N.scope)" not-found "no scope of its own"

# stopping the service: SIGTERM reaches the payload through cbox and init, nothing remains
assert_success systemctl stop "$U"
assert_contains "$(journalctl -u "$U" --no-pager -o cat)" got-sigterm "payload saw SIGTERM (output is the unit's journal stream)"
[ ! -e /run/cbox/containers/$N ] || fail "state of $N remains after the service stopped"
[ ! -d "/proc/$leader" ] || fail "init $leader remains"

# cbox down of a service-run container stops the service
assert_success run_service
wait_until 20 sh -c "'$CBOX' list | grep -q '$N *running'"
assert_success "$CBOX" down $N
assert_ne "$(systemctl is-active "$U" || true)" active "service after cbox down"
[ ! -e /run/cbox/containers/$N ] || fail "state of $N remains after down"
info "ok"
