#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 12, class 4: container root (CAP_MKNOD is in the default set) makes a node for the VM's raw disk
# (block) and for /dev/mem (char) and tries to read them: refused (EPERM, the device policy) in a scope,
# under cbox@.service and under another Delegate=yes service that runs `cbox up --foreground`
# (systemd-run). The probe makes its nodes on a bind mount with dev = true, so only the device policy
# stops it. Controls: the same probe reads both on the host; on the same bind it makes and reads a node
# of /dev/null, which the policy allows; a loop device listed in security.devices ("r") reads in every
# mode; a node of /dev/null made on the overlay root does not open (EACCES: the root is nodev).
# The device program really covers the payload: in each mode the BPF_CGROUP_DEVICE programs attached to
# the unit's cgroup are in effect in the payload's cgroup (BPF_PROG_QUERY), and a Delegate=yes service
# without cbox has none (so they are the policy cbox set). Under cbox@ the unit's own DeviceAllow lines
# are replaced, not added to.
# cbox-test-timeout: 600
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd losetup systemd-run

PROBE=${CBOX_BUILD_ROOT:-}/tests/system/sec-probe
[ -x "$PROBE" ] || skip "sec-probe is not built ($PROBE)"
UNIT_SRC="$CBOX_BUILD_ROOT/units/cbox@.service"
[ -f "$UNIT_SRC" ] || skip "$UNIT_SRC not built"
R=$(busybox_rootfs)
DISK=/dev/vda
[ -b "$DISK" ] || skip "no $DISK in this VM"
MAJ=$((0x$(stat -c %t "$DISK"))); MIN=$((0x$(stat -c %T "$DISK")))

# not under /tmp: a nodev tmpfs there would make the dev = true bind nodev too
W=/var/lib/cbox-test-67
rm -rf "$W"; mkdir -p "$W/opt"
on_exit rm -rf "$W"
cp "$PROBE" "$W/opt/sec-probe"
P=$W/opt/sec-probe

# the probe's control: as host root it reads the disk and /dev/mem through nodes it makes, on the
# file system that the container's dev = true bind shows
assert_eq "$("$P" mknod-read "$W/opt/vda-host" b $MAJ $MIN)" "read OK" "probe on the host: $DISK"
assert_eq "$("$P" mknod-read "$W/opt/mem-host" c 1 1)" "read OK" "probe on the host: /dev/mem"
rm -f "$W/opt/vda-host" "$W/opt/mem-host"

truncate -s 1M "$W/loop.img"
LOOP=$(losetup -f --show "$W/loop.img")
on_exit losetup -d "$LOOP"

write_conf() {
        cat > "$1" <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
[[mount]]
source = "$W/opt"
target = "/opt/t"
dev = true
[security]
devices = ["$LOOP:r"]
E
}

leader_of() { sed -n 's/^LEADER_PID=//p' "/run/cbox/containers/$1/state"; }

# the unit's device programs are in effect in the payload's cgroup
check_bpf() {
        local name=$1 unit=$2 ucg pcg u p att eff leader
        leader=$(leader_of "$name")
        [ -n "$leader" ] || fail "$name: no leader"
        ucg=$(unit_cgroup "$unit")
        pcg=/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$leader/cgroup")
        u=$("$P" bpf-query "$ucg"); p=$("$P" bpf-query "$pcg")
        info "$unit: $u; payload $pcg: $p"
        att=${u#attached=}; att=${att%% *}
        eff=${p#*effective=}
        [ "$att" != - ] || fail "$unit: no device program on $ucg"
        for id in ${att//,/ }; do
                [[ ",$eff," == *",$id,"* ]] || fail "$unit: program $id not in effect in $pcg ($p)"
        done
}

# attack + controls inside running container NAME (mode: what is shown in messages)
check() {
        local name=$1 mode=$2 out
        rm -f "$W/opt/vda" "$W/opt/mem" "$W/opt/null"
        out=$("$CBOX" exec "$name" /opt/t/sec-probe mknod-read /opt/t/vda b $MAJ $MIN || true)
        assert_match "$out" "^(mknod|open) EPERM$" "$mode: raw disk through mknod"
        out=$("$CBOX" exec "$name" /opt/t/sec-probe mknod-read /opt/t/mem c 1 1 || true)
        assert_match "$out" "^(mknod|open) EPERM$" "$mode: /dev/mem through mknod"
        out=$("$CBOX" exec "$name" /opt/t/sec-probe mknod-read /opt/t/null c 1 3 || true)
        assert_eq "$out" "read OK" "$mode: an allowed node on the dev = true bind"
        out=$("$CBOX" exec "$name" /opt/t/sec-probe read "$LOOP" || true)
        assert_eq "$out" "read OK" "$mode: $LOOP from security.devices"
        out=$("$CBOX" exec "$name" /opt/t/sec-probe mknod-read /nodev-null c 1 3 || true)
        assert_eq "$out" "open EACCES" "$mode: a node on the nodev root"
        info "$mode: raw disk and /dev/mem refused, security.devices readable, the root nodev"
}

# 1. a scope (detached up)
write_conf "$W/t67s.toml"
on_exit "$CBOX" down t67s
assert_success "$CBOX" up -q "$W/t67s.toml"
check t67s scope
check_bpf t67s cbox-t67s.scope
"$CBOX" down t67s

# 2. cbox@.service: its own DeviceAllow lines are replaced by the container's list
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/cbox |\1$CBOX |" "$UNIT_SRC" >/run/systemd/system/cbox@.service
if [ -n "${CBOX_INIT:-}" ]; then
        mkdir -p /run/systemd/system/cbox@t67u.service.d
        printf '[Service]\nEnvironment=CBOX_INIT=%s\n' "$CBOX_INIT" >/run/systemd/system/cbox@t67u.service.d/10-init.conf
fi
mkdir -p /etc/cbox
write_conf /etc/cbox/t67u.toml
on_exit systemctl daemon-reload
on_exit rm -rf /etc/cbox/t67u.toml /run/systemd/system/cbox@.service /run/systemd/system/cbox@t67u.service.d \
        /run/systemd/system.control/cbox@t67u.service.d
on_exit stop_unit cbox@t67u.service
systemctl daemon-reload
systemctl start cbox@t67u.service
wait_until 120 "$CBOX" exec t67u /bin/true
allow=$(systemctl show -P DeviceAllow cbox@t67u.service)
info "cbox@t67u DeviceAllow: $allow"
assert_contains "$allow" "$LOOP r" "security.devices in the unit's DeviceAllow"
assert_eq "$(grep -o '/dev/null rwm' <<<"$allow" | wc -l)" 1 "/dev/null once: the unit's lines replaced"
check t67u cbox@.service
check_bpf t67u cbox@t67u.service
stop_unit cbox@t67u.service

# 3. any other service with Delegate=yes (what cbox@ is, without its DevicePolicy lines); control: such a
#    service without cbox has no device program at all
on_exit stop_unit t67-plain.service
systemd-run -q --unit=t67-plain -p Delegate=yes /bin/sleep 3600
assert_eq "$("$P" bpf-query "$(unit_cgroup t67-plain.service)")" "attached=- effective=-" \
        "a Delegate=yes service without cbox"
stop_unit t67-plain.service
write_conf "$W/t67d.toml"
on_exit rm -rf /run/systemd/system.control/t67-delegated.service.d
on_exit stop_unit t67-delegated.service
systemd-run -q --unit=t67-delegated -p Delegate=yes ${CBOX_INIT:+--setenv=CBOX_INIT=$CBOX_INIT} \
        "$CBOX" up --foreground --quiet "$W/t67d.toml"
wait_until 120 "$CBOX" exec t67d /bin/true
assert_eq "$(systemctl show -P DevicePolicy t67-delegated.service)" closed "DevicePolicy of the service"
check t67d "Delegate=yes service"
check_bpf t67d t67-delegated.service
stop_unit t67-delegated.service
