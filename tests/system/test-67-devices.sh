#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 12, class 4: container root (CAP_MKNOD is in the default set) makes a node for the VM's raw disk
# and tries to read it: refused (EPERM, the device cgroup) in a scope, under cbox@.service and under
# another Delegate=yes service that runs `cbox up --foreground` (systemd-run). The probe works there: it
# mknods and reads on a bind mount with dev = true, so only the device policy stops it. Controls: the same
# probe reads the disk on the host, and a loop device listed in security.devices reads in every mode.
# Also: a node made on the overlay root opens with EACCES (the root is nodev).
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

# the probe's control: as host root it reads the disk through a node it makes
out=$("$W/opt/sec-probe" mknod-read "$W/opt/vda-host" b $MAJ $MIN)
assert_eq "$out" "read OK" "probe on the host"
rm -f "$W/opt/vda-host"

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

# attack + control inside running container NAME (mode: what is shown in messages)
check() {
        local name=$1 mode=$2 out
        rm -f "$W/opt/vda"
        out=$("$CBOX" exec "$name" /opt/t/sec-probe mknod-read /opt/t/vda b $MAJ $MIN || true)
        assert_match "$out" "^(mknod|open) EPERM$" "$mode: raw disk through mknod"
        out=$("$CBOX" exec "$name" /opt/t/sec-probe read "$LOOP" || true)
        assert_eq "$out" "read OK" "$mode: $LOOP from security.devices"
        out=$("$CBOX" exec "$name" /opt/t/sec-probe mknod-read /tmp/null c 1 3 || true)
        assert_eq "$out" "open EACCES" "$mode: a node on the nodev root"
        out=$("$CBOX" exec "$name" /opt/t/sec-probe mknod-read /opt/t/null c 1 3 || true)
        assert_eq "$out" "read OK" "$mode: an allowed node on the dev = true bind"
        info "$mode: raw disk refused, security.devices readable"
}

# 1. a scope (detached up)
write_conf "$W/t67s.toml"
on_exit "$CBOX" down t67s
assert_success "$CBOX" up -q "$W/t67s.toml"
check t67s scope
"$CBOX" down t67s

# 2. cbox@.service
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/cbox |\1$CBOX |" "$UNIT_SRC" >/run/systemd/system/cbox@.service
if [ -n "${CBOX_INIT:-}" ]; then
        mkdir -p /run/systemd/system/cbox@t67u.service.d
        printf '[Service]\nEnvironment=CBOX_INIT=%s\n' "$CBOX_INIT" >/run/systemd/system/cbox@t67u.service.d/10-init.conf
fi
write_conf /etc/cbox/t67u.toml
on_exit systemctl daemon-reload
on_exit rm -rf /etc/cbox/t67u.toml /run/systemd/system/cbox@.service /run/systemd/system/cbox@t67u.service.d
on_exit stop_unit cbox@t67u.service
systemctl daemon-reload
systemctl start cbox@t67u.service
wait_until 120 "$CBOX" exec t67u /bin/true
check t67u cbox@.service
stop_unit cbox@t67u.service

# 3. any other service with Delegate=yes (what cbox@ is, without its DevicePolicy lines)
write_conf "$W/t67d.toml"
on_exit stop_unit t67-delegated.service
systemd-run -q --unit=t67-delegated -p Delegate=yes ${CBOX_INIT:+--setenv=CBOX_INIT=$CBOX_INIT} \
        "$CBOX" up --foreground --quiet "$W/t67d.toml"
wait_until 120 "$CBOX" exec t67d /bin/true
assert_eq "$(systemctl show -P DevicePolicy t67-delegated.service)" closed "DevicePolicy of the service"
check t67d "Delegate=yes service"
stop_unit t67-delegated.service
