#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An image whose /etc/resolv.conf is a dangling symlink (../run/systemd/resolve/stub-resolv.conf, as
# systemd-based images ship it) starts and sees cbox's resolv.conf; a hostile variant whose /etc/hosts and
# /etc/hostname point at /etc/../../../../<host file> cannot make cbox write or bind on the host: the
# image's symlinks are replaced in the container's writable layer (as podman does), never followed. The
# control shows those symlinks, followed from the host, do reach the host files.
# cbox-test-timeout: 300
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd umoci jq

N=t68etc
HOSTF=/var/tmp/t68-host-file
HOSTN=/var/tmp/t68-host-hostname
echo "host file, keep" > $HOSTF
echo "host hostname, keep" > $HOSTN
on_exit rm -f $HOSTF $HOSTN
touch -d @1000000000 $HOSTF $HOSTN
before=$(stat -c '%s %Y %i' $HOSTF $HOSTN)
stub=/run/systemd/resolve/stub-resolv.conf
stub_before=$(stat -c '%s %Y %i' $stub 2>/dev/null || echo none)

R=$(busybox_rootfs)
umoci init --layout oci >/dev/null
umoci new --image oci:t68 >/dev/null
umoci unpack --image oci:t68 bundle >/dev/null
cp -a "$R"/. bundle/rootfs/
mkdir -p bundle/rootfs/etc
rm -f bundle/rootfs/etc/resolv.conf bundle/rootfs/etc/hosts bundle/rootfs/etc/hostname
ln -s ../run/systemd/resolve/stub-resolv.conf bundle/rootfs/etc/resolv.conf
ln -s /etc/../../../..$HOSTF bundle/rootfs/etc/hosts
ln -s ../../../../../..$HOSTN bundle/rootfs/etc/hostname
umoci repack --image oci:t68 bundle >/dev/null
assert_success "$CBOX" image import -q oci t68img:1
on_exit "$CBOX" image rm t68img:1

# control: followed from the host, the image's links reach the host files (and resolv.conf dangles)
layer=$("$CBOX" image inspect t68img:1 | jq -r '.layers[-1].path')
assert_eq "$(readlink -f "$layer/etc/hosts")" $HOSTF "control: etc/hosts followed on the host"
assert_eq "$(cat "$layer/etc/hostname")" "host hostname, keep" "control: etc/hostname followed on the host"
[ -e "$layer/etc/resolv.conf" ] && fail "premise: the image's resolv.conf resolves on the host"

cat > $N.toml <<E
image = "t68img:1"
hostname = "t68host"
command = ["/bin/sh", "-c", "echo started; exec sleep 1000"]
[network]
dns = ["192.0.2.53"]
E
on_exit "$CBOX" down --volumes $N
out=$("$CBOX" up $N.toml 2>&1) || fail "up of an image with /etc symlinks: $out"
wait_until 20 sh -c "'$CBOX' logs $N | grep -q started"
assert_eq "$("$CBOX" exec $N -- cat /etc/resolv.conf)" "nameserver 192.0.2.53" "resolv.conf inside"
assert_match "$("$CBOX" exec $N -- cat /etc/hosts)" $'\t'"t68host" "hosts inside"
assert_eq "$("$CBOX" exec $N -- cat /etc/hostname)" t68host "hostname inside"
assert_eq "$("$CBOX" exec $N -- hostname)" t68host "hostname"
# the image's symlinks were replaced in the writable layer, the image layer is untouched
upper=/var/lib/cbox/containers/$N/upper
[ -f $upper/etc/resolv.conf ] && [ ! -L $upper/etc/resolv.conf ] || fail "resolv.conf not replaced in the upper layer"
assert_eq "$(readlink "$layer/etc/resolv.conf")" ../run/systemd/resolve/stub-resolv.conf "image layer"
assert_eq "$(readlink "$layer/etc/hosts")" /etc/../../../..$HOSTF "image layer"
# nothing on the host: the files are intact, nothing is mounted on them, no stub created
assert_eq "$(stat -c '%s %Y %i' $HOSTF $HOSTN)" "$before" "host files"
assert_eq "$(cat $HOSTF)" "host file, keep" "host file"
assert_eq "$(stat -c '%s %Y %i' $stub 2>/dev/null || echo none)" "$stub_before" "host's stub-resolv.conf"
grep -qE " ($HOSTF|$HOSTN|$stub) " /proc/self/mountinfo && fail "a bind on a host file"
# inside the container the links' targets are its own (absent) paths, not the host files
assert_fails "$CBOX" exec $N -- test -e $HOSTF
"$CBOX" exec $N -- sh -c 'echo x > /etc/resolv.conf' 2>/dev/null && fail "the bound resolv.conf is writable"
assert_success "$CBOX" down $N
assert_eq "$(stat -c '%s %Y %i' $HOSTF $HOSTN)" "$before" "host files after down"
# again on the kept upper layer (the replaced files are there now)
out=$("$CBOX" up $N.toml 2>&1) || fail "second up: $out"
assert_eq "$("$CBOX" exec $N -- cat /etc/resolv.conf)" "nameserver 192.0.2.53" "resolv.conf on the second up"
assert_success "$CBOX" down --volumes $N
assert_eq "$(stat -c '%s %Y %i' $HOSTF $HOSTN)" "$before" "host files at the end"
info "ok"
