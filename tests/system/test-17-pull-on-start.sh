#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The container file's pull key (issue 13, must show 3), against Debian's docker-registry on 127.0.0.1
# with the registry's settings only in /etc/cbox/conf.d (insecure = true: plain HTTP), never on the
# command line:
#   - pull = "missing" (the default): `cbox up` of a file naming an image not in the store pulls it and
#     runs it; so does `systemctl start cbox@NAME` (the shipped unit) for another one;
#   - pull = "never": a missing image fails `up` clearly, naming the key, and nothing is pulled;
#   - the tag moves on the registry: "missing" keeps running the stored image, "always" pulls and runs
#     the new one.
# cbox-test-timeout: 600
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd docker-registry skopeo umoci busybox curl ss jq

UNIT_SRC="$CBOX_BUILD_ROOT/units/cbox@.service"
[ -f "$UNIT_SRC" ] || skip "$UNIT_SRC not built"

# ---- two versions of an image: busybox, a Cmd that prints its version ----
umoci init --layout oci >/dev/null
umoci new --image oci:v1 >/dev/null
umoci unpack --image oci:v1 bundle >/dev/null
mkdir -p bundle/rootfs/bin
cp "$(command -v busybox)" bundle/rootfs/bin/busybox
for a in sh echo sleep; do ln -s busybox "bundle/rootfs/bin/$a"; done
umoci repack --image oci:v1 bundle >/dev/null
umoci config --image oci:v1 --config.env PATH=/bin --config.cmd /bin/sh --config.cmd -c \
        --config.cmd 'echo "t17 image v1"; exec sleep 1000' >/dev/null
umoci config --image oci:v1 --tag v2 --config.cmd /bin/sh --config.cmd -c \
        --config.cmd 'echo "t17 image v2"; exec sleep 1000' >/dev/null

start_registry 5200 5259
REG=127.0.0.1:$REGISTRY_PORT
for t in a b c; do
        assert_success skopeo copy -q --dest-tls-verify=false oci:oci:v1 "docker://$REG/t17/bb:$t"
done

# ---- the registry's settings, in conf.d only ----
mkdir -p /etc/cbox/conf.d
CONF=/etc/cbox/conf.d/50-t17-registry.toml
printf '[registry."%s"]\ninsecure = true\n' "$REG" >"$CONF"
on_exit rm -f "$CONF"
for t in a b c; do
        on_exit "$CBOX" image rm "$REG/t17/bb:$t"
        "$CBOX" image inspect "$REG/t17/bb:$t" >/dev/null 2>&1 && fail "$REG/t17/bb:$t is in the store already"
done

# up NAME, wait for its output line, set LINE to it
up_and_see() {
        on_exit "$CBOX" down --volumes "$1"
        assert_success "$CBOX" up "$1.toml"
        wait_until 60 sh -c "'$CBOX' logs $1 | grep -q 't17 image'"
        LINE=$("$CBOX" logs "$1" | grep 't17 image' | head -1)
        info "$1: $LINE"
}
digest_of() { "$CBOX" image inspect "$1" | jq -r .manifest; }

# ---- "missing" (the default): up pulls what the store lacks ----
printf 'image = "%s/t17/bb:a"\n[network]\nmode = "none"\n' "$REG" >t17miss.toml
up_and_see t17miss
assert_eq "$LINE" "t17 image v1" "payload of the pulled image"
d1=$(digest_of "$REG/t17/bb:a")
assert_match "$d1" '^sha256:[0-9a-f]{64}$' "the pulled image in the store"
assert_eq "$(sed -n 2p /var/lib/cbox/containers/t17miss/image)" "$d1" "the container's image file"

# ---- "never": refused, nothing pulled ----
printf 'image = "%s/t17/bb:b"\npull = "never"\n[network]\nmode = "none"\n' "$REG" >t17never.toml
on_exit "$CBOX" down --volumes t17never
err=$("$CBOX" up t17never.toml 2>&1) && fail "up of a missing image with pull = never succeeded"
info "t17never: $err"
assert_contains "$err" "is not in the store" "the error of pull = never"
assert_contains "$err" 'pull = "never"' "the error names the key"
"$CBOX" image inspect "$REG/t17/bb:b" >/dev/null 2>&1 && fail "pull = never pulled the image"
"$CBOX" list | grep -q '^t17never ' && fail "a container was left by the refused up"

# ---- the tag moves: "missing" keeps the stored image, "always" follows the tag ----
assert_success skopeo copy -q --dest-tls-verify=false oci:oci:v2 "docker://$REG/t17/bb:a"
printf 'image = "%s/t17/bb:a"\n[network]\nmode = "none"\n' "$REG" >t17miss2.toml
up_and_see t17miss2
assert_eq "$LINE" "t17 image v1" "missing: the stored image, not the moved tag"
assert_eq "$(digest_of "$REG/t17/bb:a")" "$d1" "missing: the store's name did not move"
printf 'image = "%s/t17/bb:a"\npull = "always"\n[network]\nmode = "none"\n' "$REG" >t17always.toml
up_and_see t17always
assert_eq "$LINE" "t17 image v2" "always: the moved tag's image"
d2=$(digest_of "$REG/t17/bb:a")
assert_ne "$d2" "$d1" "always: the store's name follows the tag"
assert_eq "$(sed -n 2p /var/lib/cbox/containers/t17always/image)" "$d2" "always: the container's image file"

# ---- cbox@NAME (the shipped unit) pulls a missing image too ----
U=cbox@t17svc.service
cleanup_unit() {
        systemctl stop "$U" 2>/dev/null || true
        systemctl reset-failed "$U" 2>/dev/null || true
        rm -rf /etc/cbox/t17svc.toml /run/systemd/system/cbox@.service /run/systemd/system/$U.d
        systemctl daemon-reload
        "$CBOX" down --volumes t17svc 2>/dev/null || true
}
on_exit cleanup_unit
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/cbox |\1$CBOX |" "$UNIT_SRC" >/run/systemd/system/cbox@.service
grep -q "^ExecStart=$CBOX up --foreground" /run/systemd/system/cbox@.service || fail "unit not rewritten"
if [ -n "${CBOX_INIT:-}" ]; then
        mkdir -p /run/systemd/system/$U.d
        printf '[Service]\nEnvironment=CBOX_INIT=%s\n' "$CBOX_INIT" >/run/systemd/system/$U.d/10-init.conf
fi
printf 'image = "%s/t17/bb:c"\n[network]\nmode = "none"\n' "$REG" >/etc/cbox/t17svc.toml
systemctl daemon-reload
assert_success systemctl start "$U"
assert_eq "$(systemctl is-active "$U")" active "$U after start"
wait_until 60 sh -c "journalctl -u '$U' --no-pager -o cat | grep -q 't17 image v1'"
assert_match "$(digest_of "$REG/t17/bb:c")" '^sha256:[0-9a-f]{64}$' "the image cbox@ pulled"
assert_success systemctl stop "$U"

assert_success "$CBOX" down --volumes t17always
assert_success "$CBOX" down --volumes t17miss2
assert_success "$CBOX" down --volumes t17miss
info "ok"
