#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/mkbusybox-rootfs.sh in the guest: the image the other system tests run (busybox_rootfs)
# is complete, runs without anything from the host, is rebuilt only when needed, and its tarball
# is reproducible.
# cbox-test-timeout: 300
. "$(dirname "$0")/lib.sh"

R=$(busybox_rootfs)
assert_eq "$R" /var/lib/cbox/rootfs/busybox "busybox_rootfs"
for f in bin/busybox bin/sh etc/passwd etc/group etc/os-release; do
        [ -e "$R/$f" ] || fail "$R/$f missing"
done
[ ! -e "$R/etc/hostname" ] || fail "the image must not carry /etc/hostname"
assert_eq "$(stat -c %a "$R/tmp")" 1777 "mode of /tmp"
for d in proc sys dev run var; do
        [ -d "$R/$d" ] && [ -z "$(ls -A "$R/$d")" ] || fail "/$d must be an empty directory"
done
assert_eq "$(readlink "$R/usr/bin/env")" ../../bin/busybox "usr/bin/env link"
assert_contains "$(cat "$R/etc/passwd")" "nobody:x:65534:65534:"

# runs with nothing but what is in the image (a chroot sees no host library)
out=$(chroot "$R" /bin/sh -c '. /etc/os-release; echo "$ID $(id -un) $(ls /usr/bin | wc -l)"')
assert_match "$out" '^cbox-busybox root [0-9]+$' "applets in the chroot"
info "chroot: $out"

# idempotent: a second run leaves the tree alone
ino=$(stat -c %i "$R/bin")
"$SRC/tools/mkbusybox-rootfs.sh" "$R" >/dev/null
assert_eq "$(stat -c %i "$R/bin")" "$ino" "inode of bin/ after a second run"

# reproducible tarball
"$SRC/tools/mkbusybox-rootfs.sh" --tar a.tar.gz >/dev/null
sleep 1
"$SRC/tools/mkbusybox-rootfs.sh" --tar b.tar.gz >/dev/null
assert_success cmp -s a.tar.gz b.tar.gz
assert_contains "$(tar -tzf a.tar.gz)" "./bin/busybox"
info "tarball: $(du -h a.tar.gz | cut -f1), sha256 $(sha256sum a.tar.gz | cut -c1-16)"
