#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# After cbox down nothing of the container remains: no mount, cgroup, unit, machined entry, state
# dir or process; --volumes removes the writable layer, without it the layer is kept.
# cbox-test-timeout: 180
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd

R=$(busybox_rootfs)
N=t40gone
cat > $N.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "echo data > /persisted; sleep 1000 & sleep 1000 & wait"]
[resources]
memory_max = "64M"
[network]
mode = "none"
E
on_exit "$CBOX" down --volumes $N
assert_success "$CBOX" up $N.toml
wait_until 20 test -e /var/lib/cbox/containers/$N/upper/persisted
leader=$("$CBOX" list --json | sed -n 's/.*"leader": *\([0-9]*\).*/\1/p')
cg=$(unit_cgroup cbox-$N.scope)
procs=$(cat "$cg/cgroup.procs" | tr '\n' ' ')
info "leader $leader, cgroup $cg, processes $procs"
[ -d "$cg" ] || fail "no cgroup"

assert_success "$CBOX" down $N
grep -E "/run/cbox/containers/$N|containers/$N" /proc/self/mountinfo && fail "a mount of $N remains"
[ ! -d "$cg" ] || fail "cgroup $cg remains"
assert_eq "$(systemctl show -P LoadState cbox-$N.scope)" not-found "unit after down"
if systemctl list-units --all --no-legend --plain 'cbox-*' | grep -q "cbox-$N"; then fail "unit listed"; fi
if command -v machinectl >/dev/null; then
        if machinectl list --no-legend --no-pager | grep -q "^$N "; then fail "machined still lists $N"; fi
fi
[ ! -e /run/cbox/containers/$N ] || fail "/run/cbox/containers/$N remains"
[ ! -e /run/cbox/locks/$N ] || fail "/run/cbox/locks/$N remains"
for p in $leader $procs; do
        [ ! -d /proc/$p ] || fail "process $p ($(cat /proc/$p/comm 2>/dev/null)) remains"
done
if "$CBOX" list --all | grep -q "$N"; then fail "list --all still shows $N"; fi
# the writable layer is kept without --volumes …
assert_file_eq /var/lib/cbox/containers/$N/upper/persisted data
# … and survives into the next up
assert_success "$CBOX" up $N.toml
assert_eq "$("$CBOX" exec $N -- cat /persisted)" data "upper layer reused"
assert_success "$CBOX" down --volumes $N
[ ! -e /var/lib/cbox/containers/$N ] || fail "--volumes left the storage dir"

# down of an unknown container fails with a message naming it
rc=0
"$CBOX" down no-such-container 2> down.err || rc=$?
assert_eq "$rc" 1 "down of an unknown container"
assert_contains "$(cat down.err)" "no-such-container: no such container"

# down of an exited container cleans it up too
cat > t40exited.toml <<E
rootfs = "$R"
command = ["/bin/true"]
[network]
mode = "none"
E
assert_success "$CBOX" up t40exited.toml
wait_until 20 sh -c "'$CBOX' list --all | grep -q 't40exited *exited'"
assert_success "$CBOX" down --volumes t40exited
[ ! -e /run/cbox/containers/t40exited ] || fail "state of an exited container remains after down"
info "ok"
