#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A detached container: machinectl lists it, its output is in the journal (journalctl, cbox logs,
# logs -f follows), list/status show it, exec sees the container (PID 1 = init, same hostname and
# mounts, masked /proc/kcore and /proc/kallsyms, no mount, read-only /proc/sys), top lists its processes; up is
# idempotent, a changed file is refused without --replace; cbox-init cannot be written through
# /proc/PID/exe (CVE-2019-5736), not even after it exited.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd

R=$(busybox_rootfs)
N=t20web
nl=$'\n'
cat > $N.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "cat /proc/self/mountinfo > /tmp/payload-mounts; echo hostname=\$(hostname); i=0; while :; do echo tick \$i; i=\$((i+1)); sleep 0.5; done"]
hostname = "webhost"
[env]
GREETING = "hi"
[network]
mode = "none"
E
on_exit "$CBOX" down --volumes $N

out=$("$CBOX" up $N.toml)
assert_eq "$out" $N "up prints the name"
leader=$("$CBOX" list --json | sed -n 's/.*"leader": *\([0-9]*\).*/\1/p')
[ -n "$leader" ] && [ -d "/proc/$leader" ] || fail "no live leader in list --json"

# unit, machined
assert_eq "$(systemctl is-active cbox-$N.scope)" active "scope state"
assert_eq "$(systemctl show -P Slice cbox-$N.scope)" machine.slice "slice"
assert_eq "$(systemctl show -P Delegate cbox-$N.scope)" yes "Delegate"
if systemctl is-active -q systemd-machined || [ -e /usr/lib/systemd/systemd-machined ]; then
        ml=$(machinectl list --no-legend --no-pager)
        info "machinectl: $ml"
        assert_match "$ml" "(^|$nl)$N +container +cbox" "machinectl list"
fi

# journal
wait_until 30 sh -c "journalctl --no-pager CBOX_CONTAINER=$N | grep -q 'tick 2'"
assert_contains "$(journalctl --no-pager -t $N -o cat)" "hostname=webhost" "journalctl -t $N"
logs=$("$CBOX" logs $N)
assert_contains "$logs" "tick 1"
assert_eq "$("$CBOX" logs -n 1 $N | wc -l)" 1 "logs -n 1"

# logs -f follows new lines
"$CBOX" logs -f -n 0 $N > follow.out &
fpid=$!
stop_follower() { kill "$fpid" 2>/dev/null || true; }
on_exit stop_follower
wait_until 20 sh -c "[ \$(grep -c tick follow.out) -ge 3 ]"
kill -INT $fpid
wait $fpid || true
info "followed: $(tr '\n' ' ' < follow.out)"

# list / status / top
assert_match "$("$CBOX" list)" "$N +running +cbox-$N.scope +$leader " "list"
st=$("$CBOX" status $N)
assert_contains "$st" "State: running"
assert_contains "$st" "tick"
top=$("$CBOX" top $N)
info "$top"
assert_match "$top" "$leader +1 +root +cbox-init" "top: init is PID 1"
assert_match "$top" "[0-9]+ +2 +root +/bin/sh -c" "top: the payload is PID 2"

# exec
ps=$("$CBOX" exec $N -- ps)
info "$ps"
assert_match "$ps" "(^|$nl) +1 +root .*cbox-init" "exec ps: PID 1 is init"
assert_match "$ps" "(^|$nl) +2 +root .*/bin/sh -c" "exec ps: PID 2 is the payload"
assert_eq "$("$CBOX" exec $N -- hostname)" webhost "hostname seen by exec"
assert_contains "$("$CBOX" exec $N -- cat /etc/hosts)" "127.0.1.1"$'\t'"webhost" "/etc/hosts"
assert_eq "$("$CBOX" exec $N -- cat /proc/self/mountinfo)" "$("$CBOX" exec $N -- cat /tmp/payload-mounts)" \
        "mounts seen by exec vs the payload's"
assert_eq "$("$CBOX" exec $N -- sh -c 'echo $GREETING')" hi "env in exec"
assert_eq "$("$CBOX" exec -e GREETING=yo $N -- sh -c 'echo $GREETING')" yo "exec -e"
assert_eq "$("$CBOX" exec -w /etc $N -- pwd)" /etc "exec -w"
assert_eq "$("$CBOX" exec -u nobody $N -- id -u)" 65534 "exec -u"
assert_exit 5 "$CBOX" exec $N -- sh -c 'exit 5'
assert_eq "$("$CBOX" exec $N -- sh -c 'head -c 64 /proc/kcore | wc -c')" 0 "/proc/kcore is masked"
# /proc/kallsyms too (the addresses read as 0 without CAP_SYSLOG, the names still help an exploit); the
# control: the host's reads
assert_eq "$(head -c 64 /proc/kallsyms | wc -c)" 64 "/proc/kallsyms on the host"
assert_eq "$("$CBOX" exec $N -- sh -c 'head -c 64 /proc/kallsyms | wc -c')" 0 "/proc/kallsyms is masked"
# no CAP_SYS_ADMIN: mounting fails with EPERM (the mount point exists: /mnt is made here)
"$CBOX" exec $N -- mkdir -p /mnt
rc=0
"$CBOX" exec $N -- mount -t tmpfs x /mnt 2> mount.err || rc=$?
assert_ne "$rc" 0 "mount -t tmpfs in the container"
info "mount: $(cat mount.err)"
assert_match "$(cat mount.err)" "denied|not permitted" "mount error"
assert_fails "$CBOX" exec $N -- sh -c 'echo x > /proc/sys/kernel/hostname'
assert_eq "$(hostname)" "$(cat /proc/sys/kernel/hostname)" "host hostname unchanged"
grep -q "/run/cbox/containers/$N" /proc/self/mountinfo && fail "the container's root is visible on the host"

# idempotent
assert_eq "$("$CBOX" up $N.toml)" $N "second up"
assert_match "$("$CBOX" list)" "$N +running +cbox-$N.scope +$leader " "leader unchanged after a second up"

# a changed file is refused without --replace, replaced with it
sed -i 's/GREETING = "hi"/GREETING = "hello"/' $N.toml
rc=0
"$CBOX" up $N.toml 2> up.err || rc=$?
assert_eq "$rc" 1 "up with a changed file"
assert_contains "$(cat up.err)" "--replace"
assert_match "$("$CBOX" list)" "$N +running +cbox-$N.scope +$leader " "still the old container"
assert_success "$CBOX" up --replace $N.toml
new=$("$CBOX" list --json | sed -n 's/.*"leader": *\([0-9]*\).*/\1/p')
assert_ne "$new" "$leader" "leader after --replace"
assert_eq "$("$CBOX" exec $N -- sh -c 'echo $GREETING')" hello "env after --replace"
[ ! -d "/proc/$leader" ] || fail "old leader $leader still alive after --replace"

# kill: TERM goes through init to the payload (which exits 143)
assert_success "$CBOX" kill $N
wait_until 20 sh -c "'$CBOX' list --all | grep -q '$N *exited'"
assert_match "$("$CBOX" list --all)" "$N +exited +cbox-$N.scope +- +143" "killed by SIGTERM"
# CVE-2019-5736: init's /proc/PID/exe, kept open (root on the host can), cannot be written, not
# even once init is gone: cbox-init runs from a read-only mount of its own (EROFS). A private copy
# of cbox-init that nothing else executes (while anything does, ETXTBSY comes first).
init=${CBOX_INIT:-$(dirname "$CBOX")/../init/cbox-init}
cp "$init" init-copy
cat > t20exe.toml <<E
rootfs = "$R"
command = ["/bin/sleep", "1000"]
[network]
mode = "none"
E
on_exit "$CBOX" down t20exe
CBOX_INIT=$PWD/init-copy "$CBOX" up t20exe.toml > /dev/null
l=$("$CBOX" list | awk '$1 == "t20exe" { print $4 }')
[ -n "$l" ] && [ -d "/proc/$l" ] || fail "no live leader for t20exe"
exec {exe}< "/proc/$l/exe"
"$CBOX" down t20exe
[ ! -d "/proc/$l" ] || fail "t20exe's init $l still alive after down"
rc=0
(: >> "/proc/self/fd/$exe") 2> exe.err || rc=$?
exec {exe}<&-
assert_ne "$rc" 0 "reopen cbox-init's /proc/PID/exe for writing"
assert_contains "$(cat exe.err)" "Read-only file system" "the error"
cmp -s "$init" init-copy || fail "cbox-init's copy changed"
info "ok"
