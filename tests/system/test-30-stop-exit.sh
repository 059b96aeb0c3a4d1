#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox stop delivers SIGTERM (stop_signal) and SIGKILLs a payload that ignores it after stop_timeout;
# a payload that exits by itself shows as exited with its code in list --all; init reaps orphans;
# start runs a stopped container again.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd

R=$(busybox_rootfs)

# graceful stop
cat > t30term.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "trap 'echo got-sigterm; exit 0' TERM; echo ready; while :; do sleep 0.2; done"]
stop_timeout = "20s"
[network]
mode = "none"
E
on_exit "$CBOX" down t30term
assert_success "$CBOX" up t30term.toml
wait_until 20 sh -c "'$CBOX' logs t30term | grep -q ready"
start=$SECONDS
assert_success "$CBOX" stop t30term
[ $((SECONDS - start)) -lt 10 ] || fail "a graceful stop took $((SECONDS - start)) s"
assert_contains "$("$CBOX" logs t30term)" got-sigterm "payload saw SIGTERM"
assert_match "$("$CBOX" list --all)" "t30term +stopped +cbox-t30term.scope +- +0 " "list --all after stop"
assert_eq "$(systemctl show -P LoadState cbox-t30term.scope)" not-found "unit after stop"
[ -e /run/cbox/containers/t30term/state ] || fail "stop removed the state"

# start runs it again, from its file
assert_success "$CBOX" start t30term
assert_match "$("$CBOX" list)" "t30term +running " "after start"
assert_success "$CBOX" restart t30term
assert_match "$("$CBOX" list)" "t30term +running " "after restart"

# a payload that ignores SIGTERM is SIGKILLed after stop_timeout
cat > t30stubborn.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.2; done"]
stop_timeout = "3s"
[network]
mode = "none"
E
on_exit "$CBOX" down t30stubborn
assert_success "$CBOX" up t30stubborn.toml
assert_eq "$(systemctl show -P TimeoutStopUSec cbox-t30stubborn.scope)" 3s "TimeoutStopUSec"
assert_eq "$(systemctl show -P KillSignal cbox-t30stubborn.scope)" 15 "KillSignal"
wait_until 20 sh -c "'$CBOX' logs t30stubborn | grep -q ready"
start=$SECONDS
assert_success "$CBOX" stop t30stubborn
took=$((SECONDS - start))
info "stop of a payload ignoring SIGTERM took ${took}s"
[ $took -ge 2 ] && [ $took -lt 15 ] || fail "stop took ${took}s, expected about stop_timeout (3s)"
assert_match "$("$CBOX" list --all)" "t30stubborn +stopped +cbox-t30stubborn.scope +- +137 " "killed"

# exits by itself with its code
cat > t30exit.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "echo working; sleep 0.5; exit 42"]
[network]
mode = "none"
E
on_exit "$CBOX" down t30exit
assert_success "$CBOX" up t30exit.toml
wait_until 30 sh -c "'$CBOX' list --all | grep -q 't30exit *exited'"
assert_match "$("$CBOX" list --all)" "t30exit +exited +cbox-t30exit.scope +- +42 " "list --all"
if "$CBOX" list | grep -q t30exit; then fail "list without --all shows an exited container"; fi
json=$("$CBOX" list --all --json | tr -d ' \n')
assert_contains "$json" '"name":"t30exit","state":"exited","unit":"cbox-t30exit.scope","leader":null,"exit_code":42' \
        "list --all --json"
assert_eq "$(systemctl show -P LoadState cbox-t30exit.scope)" not-found "an exited scope is collected"
# start of the exited one runs it again
assert_success "$CBOX" start t30exit
wait_until 30 sh -c "'$CBOX' list --all | grep -q 't30exit *exited'"

# 100 orphans leave no zombies
cat > t30orphans.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "for i in \$(seq 1 100); do (sleep 0.3 &); done; echo spawned; while :; do sleep 1; done"]
[network]
mode = "none"
E
on_exit "$CBOX" down t30orphans
assert_success "$CBOX" up t30orphans.toml
wait_until 30 sh -c "'$CBOX' logs t30orphans | grep -q spawned"
cg=$(unit_cgroup cbox-t30orphans.scope)
sleep 3
z=0 n=0
for p in $(cat "$cg/cgroup.procs"); do
        n=$((n + 1))
        if grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then z=$((z + 1)); fi
done
info "processes in the container: $n, zombies: $z"
assert_eq "$z" 0 "zombies"
[ "$n" -le 4 ] || fail "$n processes left in the container, the orphans were not reaped"
info "ok"
