#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# security.user_namespace = "auto" in every mode (issue 16, must show 3): cbox@NAME of the shipped
# examples/web.toml with a drop-in that turns it on is active (ready once its health check passed,
# which runs in the user namespace), serves its published port, has memory_max on the service, and
# status and list --json show its range; exec works; and a detached container in a user namespace
# is OOM-killed at its memory_max.
# cbox-test-timeout: 300
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd curl

R=$(busybox_rootfs)
[ "$R" = /var/lib/cbox/rootfs/busybox ] || fail "the examples expect the busybox rootfs at $R"
UNIT_SRC="$CBOX_BUILD_ROOT/units/cbox@.service"
[ -f "$UNIT_SRC" ] || skip "$UNIT_SRC not built"
PORT=18091
N=t71web

cleanup_all() {
        systemctl stop cbox@$N.service 2>/dev/null
        systemctl reset-failed cbox@$N.service 2>/dev/null
        rm -rf /etc/cbox/$N.toml /etc/cbox/$N.toml.d /run/systemd/system/cbox@.service \
                /run/systemd/system/cbox@$N.service.d
        systemctl daemon-reload
        "$CBOX" down --volumes $N 2>/dev/null
        "$CBOX" down --volumes t71mem 2>/dev/null
        return 0
}
on_exit cleanup_all

sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/cbox |\1$CBOX |" "$UNIT_SRC" >/run/systemd/system/cbox@.service
if [ -n "${CBOX_INIT:-}" ]; then
        mkdir -p /run/systemd/system/cbox@$N.service.d
        printf '[Service]\nEnvironment=CBOX_INIT=%s\n' "$CBOX_INIT" >/run/systemd/system/cbox@$N.service.d/10-init.conf
fi
mkdir -p /etc/cbox/$N.toml.d
sed "s/\"8080:80\"/\"$PORT:80\"/; s/^interval = .*/interval = \"2s\"/" "$SRC/examples/web.toml" >/etc/cbox/$N.toml
printf '[security]\nuser_namespace = "auto"\n' >/etc/cbox/$N.toml.d/50-userns.toml
systemctl daemon-reload

assert_success systemctl start cbox@$N.service
assert_eq "$(systemctl is-active cbox@$N.service)" active "cbox@$N active (its health check passed)"
leader=$(sed -n 's/^LEADER_PID=//p' /run/cbox/containers/$N/state)
[ -n "$leader" ] || fail "no leader in the state"
read -r inside start count < /proc/$leader/uid_map
assert_eq "$inside:$count" "0:65536" "the service's container has a user namespace"
[ "$start" -ge 65536 ] || fail "range starts at $start"
assert_eq "$(awk '/^Uid:/ {print $2}' /proc/$leader/status)" "$start" "its init is the range's root"
assert_eq "$(curl -s --max-time 10 http://127.0.0.1:$PORT/)" "hello from web" "the published port"
assert_eq "$(sed -n 's/^STATUS=//p' /run/cbox/containers/$N/health)" healthy "health"
cg=$(unit_cgroup cbox@$N.service)
assert_file_eq "$cg/memory.max" $((128 * 1024 * 1024))
assert_contains "$(cat "$cg/payload/cgroup.procs")" "$leader" "init in <service>/payload"
assert_eq "$("$CBOX" exec $N id -u)" 0 "exec"
assert_contains "$("$CBOX" status $N)" "User namespace: 0-65535 are host uids and gids $start-$((start + 65535))" "status shows the range"
assert_contains "$("$CBOX" list --json | tr -d ' \n')" "\"user_range\":{\"start\":$start,\"count\":65536}" "list --json shows the range"
assert_success systemctl stop cbox@$N.service

# detached, memory_max enforced on a payload in a user namespace
cat > t71mem.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; x=\$(head -c 100000000 /dev/zero | tr '\\\\0' x); echo survived \${#x}"]
[resources]
memory_max = "32M"
memory_swap_max = "0"
[network]
mode = "none"
[security]
user_namespace = "auto"
E
assert_success "$CBOX" up t71mem.toml
assert_file_eq "$(unit_cgroup cbox-t71mem.scope)/memory.max" 33554432
"$CBOX" exec t71mem -- touch /tmp/go
wait_until 60 sh -c "'$CBOX' list --all --json | grep -q '\"exited\"'"
assert_match "$("$CBOX" list --all --json)" '"exit_code": *137' "the payload is OOM-killed at memory_max"
