#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A container from the image store (image = "NAME:TAG"): the layers are the overlay's lowers, the
# image is marked in use (image rm refuses), writes land in the container's upper layer only, and
# -t gives exec a terminal; when the name moves to another image, up takes it and warns that the kept
# writable layer's changes are laid over it.
# cbox-test-timeout: 180
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd jq tar

"$SRC/tools/mkbusybox-rootfs.sh" --tar bb.tar.gz >/dev/null
assert_success "$CBOX" image import -q bb.tar.gz t12busybox:1
on_exit "$CBOX" image rm t12busybox:1

cat > t12img.toml <<E
image = "t12busybox:1"
command = ["/bin/sh", "-c", "echo changed > /etc/motd; echo from-image; sleep 1000"]
[network]
mode = "none"
E
on_exit "$CBOX" down --volumes t12img
assert_success "$CBOX" up t12img.toml
wait_until 20 sh -c "'$CBOX' logs t12img | grep -q from-image"
assert_eq "$(head -1 /var/lib/cbox/containers/t12img/image)" t12busybox:1 "in-use marker"
assert_fails "$CBOX" image rm t12busybox:1
assert_eq "$("$CBOX" exec t12img -- cat /etc/motd)" changed "write inside the container"
assert_file_eq /var/lib/cbox/containers/t12img/upper/etc/motd changed
layers=$("$CBOX" image inspect t12busybox:1 | tr -d ' \n' | sed -n 's/.*"path":"\([^"]*\)".*/\1/p')
[ -n "$layers" ] && [ ! -e "$layers/etc/motd" ] || [ "$(cat "$layers/etc/motd" 2>/dev/null)" != changed ] ||
        fail "the write reached the image layer $layers"
assert_contains "$("$CBOX" status t12img)" "t12busybox:1"

# exec -t: a terminal from the container's devpts
out=$("$CBOX" exec -t t12img -- sh -c 'tty; [ -t 0 ] && echo is-a-tty' </dev/null || true)
info "exec -t: $out"
assert_match "$out" "/dev/pts/[0-9]+" "tty inside"

# the name moves to another image while the writable layer (kept by down) holds changes: up takes the
# new image and says so; without changes it says nothing
assert_success "$CBOX" down t12img
mkdir -p extra/etc && echo v2 > extra/etc/version
tar -xzf bb.tar.gz -C extra && tar -czf bb2.tar.gz -C extra .
assert_success "$CBOX" image import -q bb2.tar.gz t12busybox:1
out=$("$CBOX" up t12img.toml 2>&1) || fail "up on the moved image: $out"
info "$out"
assert_contains "$out" "its writable layer holds changes made on image" "warning"
assert_eq "$("$CBOX" exec t12img -- cat /etc/version)" v2 "the new image's file"
assert_eq "$("$CBOX" exec t12img -- cat /etc/motd)" changed "the kept change"
assert_eq "$(sed -n 2p /var/lib/cbox/containers/t12img/image)" "$("$CBOX" image inspect t12busybox:1 | jq -r .manifest)" \
        "image file follows the new manifest"
assert_success "$CBOX" down --volumes t12img
out=$("$CBOX" up t12img.toml 2>&1) || fail "up: $out"
case $out in *"writable layer holds changes"*) fail "warned for a fresh writable layer: $out" ;; esac

assert_success "$CBOX" down --volumes t12img
assert_success "$CBOX" image rm t12busybox:1
info "ok"
