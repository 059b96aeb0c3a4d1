#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `cbox auto-update` (issue 13, must show 4) under the shipped cbox@ unit, against Debian's
# docker-registry on 127.0.0.1 (plain HTTP, configured in conf.d only). t18au follows its tag
# (auto_update = "registry", a [health] check that the image itself answers); t18off, on another
# repository whose tag moves too, did not opt in:
#   - nothing moved: "unchanged", exit 0;
#   (a) the tag moves: --dry-run reports "would-update" with both digests and changes nothing: the
#       store's blobs, images.json, both units' InvocationID;
#   (b) the real run pulls the new digest and restarts the unit on it: "updated", the image file's
#       line 2 and the payload's output show the new image, the unit active;
#   (c) a broken image on the tag is rolled back: "rolled-back", exit 1, the unit active on the
#       previous digest again (image file, a new invocation), the tag names the previous digest again,
#       and the broken image did run in between — once one whose health check never passes (the
#       bound of the wait decides), once one whose command exits at once (the start job fails);
#   (d) t18off is never restarted nor asked about at the registry (the registry's log has no request
#       for its manifests after its tag moved, while auto-update's for t18au's are there).
# The NAME@sha256 entry auto-update keeps the previous image under is gone afterwards. The first run
# is the shipped cbox-auto-update.service; the shipped timer loads, daily, persistent, randomized.
# cbox-test-timeout: 900
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd docker-registry skopeo umoci busybox curl ss jq sha256sum

UNIT_SRC="$CBOX_BUILD_ROOT/units/cbox@.service"
[ -f "$UNIT_SRC" ] || skip "$UNIT_SRC not built"

# ---- four images: v1, v2 (another Cmd) healthy, v3 whose /bin/health fails, v4 that exits at once ----
umoci init --layout oci >/dev/null
umoci new --image oci:base >/dev/null
umoci unpack --image oci:base bundle >/dev/null
mkdir -p bundle/rootfs/bin
cp "$(command -v busybox)" bundle/rootfs/bin/busybox
for a in sh echo sleep; do ln -s busybox "bundle/rootfs/bin/$a"; done
printf '#!/bin/sh\nexit 0\n' >bundle/rootfs/bin/health
chmod 755 bundle/rootfs/bin/health
umoci repack --image oci:good bundle >/dev/null
printf '#!/bin/sh\nexit 1\n' >bundle/rootfs/bin/health
umoci repack --image oci:bad bundle >/dev/null
for v in 1 2 3 4; do
        from=good cmd="exec sleep 1000"
        [ $v = 3 ] && from=bad
        [ $v = 4 ] && cmd="exit 3"
        umoci config --image oci:$from --tag v$v --config.env PATH=/bin --config.cmd /bin/sh \
                --config.cmd -c --config.cmd "echo 't18 image v$v'; $cmd" >/dev/null
done

# the registry logs every request (info level): (d) reads it
REGISTRY_LOG_LEVEL=info start_registry 5260 5319
REG=127.0.0.1:$REGISTRY_PORT
push() { assert_success skopeo copy -q --dest-tls-verify=false "oci:oci:$1" "docker://$REG/$2"; }
registry_digest() { skopeo inspect --tls-verify=false "docker://$REG/$1" | jq -r .Digest; }
push v1 t18/bb:stable
push v1 t18/other:stable

mkdir -p /etc/cbox/conf.d
CONF=/etc/cbox/conf.d/50-t18-registry.toml
printf '[registry."%s"]\ninsecure = true\n' "$REG" >"$CONF"
on_exit rm -f "$CONF"

# ---- the shipped unit, with this build's cbox ----
cleanup_units() {
        local n
        for n in t18au t18off; do
                systemctl stop "cbox@$n.service" 2>/dev/null || true
                systemctl reset-failed "cbox@$n.service" 2>/dev/null || true
                rm -rf "/etc/cbox/$n.toml" "/run/systemd/system/cbox@$n.service.d"
                "$CBOX" down --volumes "$n" 2>/dev/null || true
        done
        systemctl stop cbox-auto-update.service 2>/dev/null || true
        systemctl reset-failed cbox-auto-update.service 2>/dev/null || true
        rm -f /run/systemd/system/cbox@.service /run/systemd/system/cbox-auto-update.service \
                /run/systemd/system/cbox-auto-update.timer
        systemctl daemon-reload
        for n in bb other; do
                "$CBOX" image rm "$REG/t18/$n:stable" 2>/dev/null || true
        done
}
on_exit cleanup_units
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/cbox |\1$CBOX |" "$UNIT_SRC" >/run/systemd/system/cbox@.service
sed "s|^\(ExecStart=\)[^ ]*/cbox |\1$CBOX |" "$CBOX_BUILD_ROOT/units/cbox-auto-update.service" \
        >/run/systemd/system/cbox-auto-update.service
cp "$SRC/units/cbox-auto-update.timer" /run/systemd/system/
grep -q "^ExecStart=$CBOX up --foreground" /run/systemd/system/cbox@.service || fail "unit not rewritten"
for n in t18au t18off; do
        if [ -n "${CBOX_INIT:-}" ]; then
                mkdir -p "/run/systemd/system/cbox@$n.service.d"
                printf '[Service]\nEnvironment=CBOX_INIT=%s\n' "$CBOX_INIT" \
                        >"/run/systemd/system/cbox@$n.service.d/10-init.conf"
        fi
done
cat >/etc/cbox/t18au.toml <<E
image = "$REG/t18/bb:stable"
auto_update = "registry"
stop_timeout = "5s"
[network]
mode = "none"
[health]
command = ["/bin/health"]
interval = "1s"
timeout = "2s"
retries = 2
E
printf 'image = "%s/t18/other:stable"\nstop_timeout = "5s"\n[network]\nmode = "none"\n' "$REG" \
        >/etc/cbox/t18off.toml
systemctl daemon-reload
assert_success systemctl start cbox@t18au.service cbox@t18off.service

AU=cbox@t18au.service OFF=cbox@t18off.service
image_line2() { sed -n 2p "/var/lib/cbox/containers/$1/image"; }
store_digest() { "$CBOX" image inspect "$1" | jq -r .manifest; }
invocation() { systemctl show -P InvocationID "$1"; }
# the payload's output line in the journal of the unit's current invocation
payload_says() {
        wait_until 60 sh -c "journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID=$(invocation "$1") | grep -q 't18 image'"
        journalctl --no-pager -o cat "_SYSTEMD_INVOCATION_ID=$(invocation "$1")" | grep 't18 image' | head -1
}
# runs cbox auto-update ARGS, sets OUT (its --json) and RC
auto_update() {
        RC=0
        OUT=$("$CBOX" auto-update --json "$@") || RC=$?
        info "auto-update $*: exit $RC: $(jq -c . <<<"$OUT")"
}
field() { jq -r --arg c "$1" ".[] | select(.container == \$c) | .$2" <<<"$OUT"; }

assert_eq "$(systemctl is-active $AU)" active "$AU after start"
assert_eq "$(payload_says $AU)" "t18 image v1" "$AU at start"
d1=$(image_line2 t18au)
assert_eq "$d1" "$(registry_digest t18/bb:stable)" "t18au runs the registry's digest"
off_image=$(cat /var/lib/cbox/containers/t18off/image)
off_inv=$(invocation $OFF)
# requests for the manifests of t18/REPO in the registry's log
requests() { grep -c "/v2/t18/$1/manifests/" registry.log || true; }
assert_ne "$(requests other)" 0 "the registry log records manifest requests (t18off's pull at its start)"

# ---- the shipped timer; nothing moved: the shipped service succeeds ----
assert_eq "$(systemctl show -P Persistent cbox-auto-update.timer)" yes "the timer's Persistent="
assert_eq "$(systemctl show -P RandomizedDelayUSec cbox-auto-update.timer)" 15min "the timer's delay"
assert_contains "$(systemctl show -P TimersCalendar cbox-auto-update.timer)" "OnCalendar=*-*-* 00:00:00" "the timer (daily)"
bb_before=$(requests bb)
assert_success systemctl start cbox-auto-update.service
assert_eq "$(systemctl show -P Result cbox-auto-update.service)" success "the service's result"
[ "$(requests bb)" -gt "$bb_before" ] || fail "auto-update asked the registry nothing about t18/bb"
journalctl --no-pager -o cat -u cbox-auto-update.service | grep -q '^t18au .* unchanged ' ||
        fail "the service's report: $(journalctl --no-pager -o cat -u cbox-auto-update.service)"
auto_update
assert_eq "$RC" 0 "exit status, nothing moved"
assert_eq "$(jq length <<<"$OUT")" 1 "one container reported (t18off did not opt in)"
assert_eq "$(field t18au action)" unchanged "action, nothing moved"
assert_eq "$(field t18au current)" "$d1" "current, nothing moved"

# ---- (a) the tag moves; --dry-run changes nothing ----
push v2 t18/bb:stable
push v2 t18/other:stable
other_before=$(requests other) # after the push, which asked for them too
d2=$(registry_digest t18/bb:stable)
assert_ne "$d2" "$d1" "v2 is another digest"
store_state() {
        (cd /var/lib/cbox && find blobs layers -maxdepth 2 | sort && cat images.json) | sha256sum
}
before=$(store_state) inv1=$(invocation $AU)
auto_update --dry-run
assert_eq "$RC" 0 "exit status of --dry-run"
assert_eq "$(field t18au action)" would-update "--dry-run action"
assert_eq "$(field t18au previous)" "$d1" "--dry-run previous"
assert_eq "$(field t18au current)" "$d2" "--dry-run current (the registry's)"
assert_eq "$(store_state)" "$before" "--dry-run: store and images.json unchanged"
assert_eq "$(invocation $AU)" "$inv1" "--dry-run: $AU not restarted"
assert_eq "$(image_line2 t18au)" "$d1" "--dry-run: t18au still on v1"
assert_eq "$(store_digest "$REG/t18/bb:stable")" "$d1" "--dry-run: the store's tag did not move"

# ---- (b) the real run: pulled, restarted on v2 ----
auto_update
assert_eq "$RC" 0 "exit status of the update"
assert_eq "$(field t18au action)" updated "action of the update"
assert_eq "$(field t18au previous)" "$d1" "previous of the update"
assert_eq "$(field t18au current)" "$d2" "current of the update"
assert_eq "$(field t18au error)" null "error of the update"
assert_eq "$(systemctl is-active $AU)" active "$AU after the update"
assert_ne "$(invocation $AU)" "$inv1" "$AU was restarted"
assert_eq "$(image_line2 t18au)" "$d2" "t18au's image file after the update"
assert_eq "$(payload_says $AU)" "t18 image v2" "the payload after the update"
assert_eq "$(store_digest "$REG/t18/bb:stable")" "$d2" "the store's tag after the update"
"$CBOX" image inspect "$REG/t18/bb@$d1" >/dev/null 2>&1 && fail "the hold of the previous image was left"

# ---- (c) a broken image (health never passes): rolled back ----
push v3 t18/bb:stable
d3=$(registry_digest t18/bb:stable)
inv2=$(invocation $AU)
auto_update
assert_eq "$RC" 1 "exit status of the rollback"
assert_eq "$(field t18au action)" rolled-back "action of the rollback"
assert_eq "$(field t18au previous)" "$d2" "previous of the rollback"
assert_eq "$(field t18au current)" "$d2" "current of the rollback"
assert_contains "$(field t18au error)" "did not become ready" "error of the rollback"
assert_eq "$(systemctl is-active $AU)" active "$AU after the rollback"
assert_ne "$(invocation $AU)" "$inv2" "$AU was restarted"
assert_eq "$(image_line2 t18au)" "$d2" "t18au's image file after the rollback"
assert_eq "$(payload_says $AU)" "t18 image v2" "the payload after the rollback"
assert_eq "$(store_digest "$REG/t18/bb:stable")" "$d2" "the store's tag names the previous digest again"
journalctl --no-pager -o cat -u $AU | grep -q 't18 image v3' || fail "the broken image never ran"
assert_ne "$d3" "$d2" "v3 is another digest"
"$CBOX" image inspect "$REG/t18/bb@$d2" >/dev/null 2>&1 && fail "the hold of the previous image was left"

# ---- (c') a command that exits at once: the start fails, rolled back ----
push v4 t18/bb:stable
inv3=$(invocation $AU)
auto_update
assert_eq "$RC" 1 "exit status of the second rollback"
assert_eq "$(field t18au action)" rolled-back "action of the second rollback"
assert_eq "$(field t18au current)" "$d2" "current of the second rollback"
assert_contains "$(field t18au error)" "finished with result 'failed'" "error of the second rollback"
assert_eq "$(systemctl is-active $AU)" active "$AU after the second rollback"
assert_ne "$(invocation $AU)" "$inv3" "$AU was restarted"
assert_eq "$(image_line2 t18au)" "$d2" "t18au's image file after the second rollback"
assert_eq "$(payload_says $AU)" "t18 image v2" "the payload after the second rollback"
assert_eq "$(store_digest "$REG/t18/bb:stable")" "$d2" "the tag after the second rollback"
journalctl --no-pager -o cat -u $AU | grep -q 't18 image v4' || fail "the image that exits never ran"

# ---- (d) t18off: not restarted, not asked about ----
assert_eq "$(invocation $OFF)" "$off_inv" "$OFF not restarted"
assert_eq "$(cat /var/lib/cbox/containers/t18off/image)" "$off_image" "t18off's image file"
assert_eq "$(requests other)" "$other_before" "no registry request for t18off's manifests"
info "ok"
