#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 12, "Also": [[mount]] binds and volumes are nosuid,nodev unless the mount's suid/dev keys say
# otherwise, and no [[mount]] lands on /proc, /sys or /dev. A set-user-ID root copy of the probe on a
# default bind gives a user in the container nothing (euid stays 65534), on a bind with suid = true it
# gives euid 0 (the control; no_new_privileges = false so that only the mount flag decides), and
# /proc/self/mountinfo shows nosuid,nodev on the bind and the volume, neither with suid/dev = true.
# A mount at /d/shm where the image has a symlink /d -> /dev passes verify (it cannot see the image) and
# up refuses it, naming the mount; the same mount through a symlink to /mnt runs.
# cbox-test-timeout: 300
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd setpriv

PROBE=${CBOX_BUILD_ROOT:-}/tests/system/sec-probe
[ -x "$PROBE" ] || skip "sec-probe is not built ($PROBE)"
R=$(busybox_rootfs)
W=/var/lib/cbox-test-69
rm -rf "$W"; mkdir -p "$W/plain" "$W/suid"
on_exit rm -rf "$W"
for d in plain suid; do
        cp "$PROBE" "$W/$d/sec-probe"
        chown root:root "$W/$d/sec-probe"
        chmod 4755 "$W/$d/sec-probe"
done

# the probe's control: on the host the set-user-ID copy makes nobody euid 0
assert_eq "$(setpriv --reuid=65534 --regid=65534 --clear-groups "$W/plain/sec-probe" ids)" "ruid=65534 euid=0" \
        "set-user-ID probe on the host"

cat > "$W/t69.toml" <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
[security]
no_new_privileges = false
[[mount]]
source = "$W/plain"
target = "/p"
[[mount]]
source = "$W/suid"
target = "/s"
suid = true
dev = true
[[mount]]
type = "volume"
source = "t69vol"
target = "/v"
E
on_exit "$CBOX" down --volumes t69
assert_success "$CBOX" up -q "$W/t69.toml"

assert_eq "$("$CBOX" exec -u 65534 t69 /p/sec-probe ids)" "ruid=65534 euid=65534" "set-user-ID on a default bind"
assert_eq "$("$CBOX" exec -u 65534 t69 /s/sec-probe ids)" "ruid=65534 euid=0" "set-user-ID on a bind with suid = true"

mi=$("$CBOX" exec t69 cat /proc/self/mountinfo)
opts() { awk -v t="$1" '$5 == t { print $6 }' <<<"$mi"; }
info "mount options: /p $(opts /p), /s $(opts /s), /v $(opts /v)"
for t in /p /v; do
        assert_match "$(opts $t)" "(^|,)nosuid(,|$)" "$t nosuid"
        assert_match "$(opts $t)" "(^|,)nodev(,|$)" "$t nodev"
done
[ -n "$(opts /s)" ] || fail "/s is not in mountinfo"
[[ $(opts /s) =~ (^|,)(nosuid|nodev)(,|$) ]] && fail "/s with suid = true, dev = true: $(opts /s)"
"$CBOX" down --volumes t69

# a symlink in the image leads a mount into /dev: verify cannot know, up refuses
cp -a "$R" "$W/root"
ln -s /dev "$W/root/d"
ln -s /mnt "$W/root/m"
mkdir -p "$W/root/mnt"
cat > "$W/t69b.toml" <<E
rootfs = "$W/root"
command = ["/bin/true"]
[[mount]]
source = "$W/plain"
target = "/d/shm"
E
assert_success "$CBOX" verify -q "$W/t69b.toml"
on_exit "$CBOX" down t69b
rc=0; out=$("$CBOX" up --foreground "$W/t69b.toml" 2>&1) || rc=$?
info "up through /d -> /dev: exit $rc: $out"
assert_ne "$rc" 0 "up with a mount through /d -> /dev"
assert_contains "$out" "mount at '/d/shm': it resolves to '/dev/shm', in /dev"
sed -i 's|^target = "/d/shm"|target = "/m/x"|' "$W/t69b.toml"
assert_success "$CBOX" up --foreground -q "$W/t69b.toml"
