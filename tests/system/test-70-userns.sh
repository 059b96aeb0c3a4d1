#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# security.user_namespace = "auto" (issue 16): two containers get disjoint ranges of host uids above
# 65535, their root is that range's first uid on the host, the image's files are root's inside and
# stay uid 0 on disk, what they write is owned by the range, a name gets its range back after down
# and up, a volume made for it is its root's, and exec joins the user namespace. With every
# capability added, container root still cannot read
# a root-owned 0600 host file bound in, write a read-only bind, or make a device node; the control
# is the same container without a user namespace, which reads the file.
# cbox-test-timeout: 300
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd

R=$(busybox_rootfs)
mkdir -p host
echo secret > host/secret
chmod 600 host/secret
echo ro > host/ro

make_toml() { # NAME USERNS
        cat > $1.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "echo made > /made; echo v > /data/v; cat /secret > /tmp/read 2>&1; echo \$? > /read-rc; echo x > /ro 2>/dev/null; echo \$? > /ro-rc; mknod /dev/x c 1 3 2>/dev/null; echo \$? > /mknod-rc; exec sleep 1000"]
[network]
mode = "none"
[security]
user_namespace = $2
capabilities.add = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]
[[mount]]
source = "$PWD/host/secret"
target = "/secret"
[[mount]]
source = "$PWD/host/ro"
target = "/ro"
read_only = true
[[mount]]
type = "volume"
source = "$1-vol"
target = "/data"
E
}
leader_of() { "$CBOX" status "$1" | sed -n 's/^ *Leader: *\([0-9]*\).*/\1/p'; }
range_of() { read -r inside start count < "/proc/$1/uid_map"; echo "$inside $start $count"; }

make_toml t70a '"auto"'
make_toml t70b '"auto"'
make_toml t70c false
on_exit "$CBOX" down --volumes t70a
on_exit "$CBOX" down --volumes t70b
on_exit "$CBOX" down --volumes t70c

for n in t70a t70b t70c; do "$CBOX" up $n.toml > /dev/null || fail "up $n"; done
for n in t70a t70b t70c; do wait_until 30 test -e "/proc/$(leader_of $n)/root/mknod-rc"; done

la=$(leader_of t70a); lb=$(leader_of t70b); lc=$(leader_of t70c)
read -r ia sa ca <<<"$(range_of $la)"
read -r ib sb cb <<<"$(range_of $lb)"
info "t70a: 0 -> $sa ($ca), t70b: 0 -> $sb ($cb), t70c: $(range_of $lc)"
assert_eq "$ia:$ca" "0:65536" "t70a maps 0 and 65536 ids"
assert_eq "$ib:$cb" "0:65536" "t70b maps 0 and 65536 ids"
[ "$sa" -ge 65536 ] && [ "$sb" -ge 65536 ] || fail "ranges start below 65536: $sa $sb"
[ $((sa + ca)) -le "$sb" ] || [ $((sb + cb)) -le "$sa" ] || fail "ranges overlap: $sa+$ca $sb+$cb"
assert_eq "$(range_of $lc)" "0 0 4294967295" "no user namespace without it"

# the payload is the range's root on the host; the image is root's inside and uid 0 on disk
assert_eq "$(stat -c %u /proc/$la)" "$sa" "t70a's init runs as its range's first uid"
assert_eq "$(awk '/^Uid:/ {print $2}' /proc/$la/status)" "$sa" "t70a's uid on the host"
assert_eq "$("$CBOX" exec t70a stat -c %u:%g /bin/busybox)" "0:0" "image files are root's inside"
assert_eq "$("$CBOX" exec t70a id -u)" "0" "exec runs as root of the namespace"
assert_eq "$("$CBOX" exec t70a cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')" "0 $sa 65536" "exec joins the user namespace"
assert_eq "$(stat -c %u "$R/bin/busybox")" 0 "the image stays owned by uid 0 on disk"
assert_eq "$(stat -c %u /proc/$la/root/made)" "$sa" "a file made inside is owned by the range"
assert_eq "$(stat -c %u /proc/$lb/root/made)" "$sb" "and in t70b by its range"
assert_eq "$(stat -c %u:%g /var/lib/cbox/volumes/t70a-vol)" "$sa:$sa" "a volume made for it is its root's"
assert_eq "$(stat -c %u /var/lib/cbox/volumes/t70a-vol/v)" "$sa" "what it writes there is its range's"

# every capability, and still nothing of the host's beyond the range
assert_eq "$(cat /proc/$lc/root/read-rc)" 0 "control: host root reads the 0600 file"
assert_eq "$(cat /proc/$la/root/read-rc)" 1 "container root cannot read a root-owned 0600 host file"
assert_ne "$(cat /proc/$la/root/ro-rc)" 0 "nor write a read-only bind"
assert_eq "$(cat /proc/$la/root/mknod-rc)" 1 "nor make a device node"
assert_eq "$(cat host/ro)" ro "the read-only file is unchanged"

# the same range after down and up
"$CBOX" down t70a > /dev/null || fail "down t70a"
"$CBOX" up t70a.toml > /dev/null || fail "up t70a again"
wait_until 30 test -e "/proc/$(leader_of t70a)/root/mknod-rc"
read -r _ sa2 _ <<<"$(range_of "$(leader_of t70a)")"
assert_eq "$sa2" "$sa" "t70a gets its range back"
assert_eq "$("$CBOX" exec t70a cat /made)" made "its upper layer is still its own"

# down keeps the range held (its upper still has its files); down --volumes then forgets it
"$CBOX" down t70a > /dev/null || fail "down t70a"
assert_match "$(cat /var/lib/cbox/uidpool/leases)" "held $sa 65536 t70a" "down keeps t70a's range"
for n in t70a t70b t70c; do "$CBOX" down --volumes $n > /dev/null || fail "down --volumes $n"; done
leases=/var/lib/cbox/uidpool/leases
[ -f $leases ] || fail "no $leases"
info "leases after down --volumes: $(tr '\n' ';' < $leases)"
assert_eq "$(awk '/t70/ { n++ } END { print n + 0 }' $leases)" 0 "down --volumes forgets the ranges"
