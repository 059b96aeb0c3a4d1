#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox commit / export / gc with real containers: a busybox container from an imported image gets a
# file written and one deleted (cbox exec); commit makes t13new:1 of it, without the empty mount points
# cbox made for the /etc/hosts, resolv.conf and hostname it binds over; a container run from t13new:1
# sees the new file and not the deleted one (the whiteout is honoured). export writes the flattened
# tree (checked with tar -tf), also of the running container. image rm of an image in use is refused;
# after down --volumes and image rm, gc frees the layers; gc removes the storage of a downed container
# that wrote nothing and keeps the one of a container that did.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd tar

"$SRC/tools/mkbusybox-rootfs.sh" --tar bb.tar.gz >/dev/null
assert_success "$CBOX" image import -q bb.tar.gz t13busybox:1
on_exit "$CBOX" image rm t13busybox:1

cat >t13src.toml <<E
image = "t13busybox:1"
command = ["/bin/sleep", "1000"]
[network]
mode = "none"
E
on_exit "$CBOX" down --volumes t13src
assert_success "$CBOX" up t13src.toml
assert_success "$CBOX" exec t13src -- sh -c 'echo committed-file > /etc/added; rm /etc/os-release; mkdir -p /srv/data; echo x > /srv/data/x'
assert_fails "$CBOX" exec t13src -- test -e /etc/os-release

# export of the running container (the merged view while its overlay is mounted)
assert_success "$CBOX" export t13src running.tar
list=$(tar -tf running.tar | sed 's|^\./||')
assert_contains "$list" "etc/added" "running export"
grep -qx 'etc/os-release' <<<"$list" && fail "running export lists the deleted etc/os-release"
assert_eq "$("$CBOX" exec t13src -- cat /etc/added)" committed-file "container still fine after export"

# commit while running works (with a warning), and after stop
out=$("$CBOX" commit t13src t13new:0 2>&1) || fail "commit of a running container: $out"
assert_contains "$out" "not a consistent snapshot" "warning for a running commit"
on_exit "$CBOX" image rm t13new:0
assert_success "$CBOX" stop t13src
out=$("$CBOX" commit t13src t13new:1 2>&1) || fail "commit: $out"
info "$out"
assert_contains "$out" "Committed t13src as t13new:1"
on_exit "$CBOX" image rm t13new:1
assert_eq "$("$CBOX" image inspect t13new:1 | grep -c '"diff_id"')" 2 "layers of t13new:1"
blob=$("$CBOX" image inspect t13new:1 | grep -o '"digest":"sha256:[0-9a-f]*"' | tail -1 | cut -d: -f3 | tr -d '"')
blob_list=$(tar -tf "/var/lib/cbox/blobs/sha256/$blob" | sed 's|^\./||')
info "committed layer: $(paste -sd' ' <<<"$blob_list")"
grep -qx 'etc/\.wh\.os-release' <<<"$blob_list" || fail "the committed layer has no whiteout for etc/os-release"
# cbox's mount points for the files it binds over (the image has none) are in upper, not in the layer
for f in etc/hosts etc/resolv.conf etc/hostname; do
        [ -f "/var/lib/cbox/containers/t13src/upper/$f" ] || fail "no mount point $f in the upper dir"
        grep -qx "$f" <<<"$blob_list" && fail "the committed layer carries cbox's mount point $f"
done
assert_contains "$blob_list" "etc/added" "committed layer"

# a container from the committed image sees the changes
cat >t13new.toml <<E
image = "t13new:1"
command = ["/bin/sleep", "1000"]
[network]
mode = "none"
E
on_exit "$CBOX" down --volumes t13new
assert_success "$CBOX" up t13new.toml
assert_eq "$("$CBOX" exec t13new -- cat /etc/added)" committed-file "new file in the committed image"
assert_eq "$("$CBOX" exec t13new -- cat /srv/data/x)" x "new dir in the committed image"
assert_fails "$CBOX" exec t13new -- test -e /etc/os-release
assert_success "$CBOX" exec t13new -- test -x /bin/busybox

# export: the flattened tree
assert_success "$CBOX" export t13new flat.tar
[ -z "$(ls flat.tar.* 2>/dev/null)" ] || fail "export left a temporary"
list=$(tar -tf flat.tar | sed 's|^\./||')
assert_contains "$list" "etc/added"
assert_contains "$list" "srv/data/x"
assert_contains "$list" "bin/busybox"
grep -qx 'etc/os-release' <<<"$list" && fail "export lists the deleted etc/os-release"
grep -q '\.wh\.' <<<"$list" && fail "export has whiteout entries"
assert_eq "$(tar -xOf flat.tar ./etc/added 2>/dev/null || tar -xOf flat.tar etc/added)" committed-file
"$CBOX" export t13new - | tar -tf - >/dev/null || fail "export to stdout is not a tar"
grep -q "/var/lib/cbox" /proc/self/mountinfo && fail "export left a mount in the host namespace"

# an image in use cannot be removed
assert_fails "$CBOX" image rm t13new:1
out=$("$CBOX" image rm t13new:1 2>&1 || true)
assert_contains "$out" "t13new" "image rm refusal"

# gc: after down --volumes and image rm the committed layer goes
top=$("$CBOX" image inspect t13new:1 | tr -d ' \n' | grep -o '"path":"[^"]*"' | tail -1 | cut -d'"' -f4)
[ -d "$top" ] || fail "no top layer dir for t13new:1 ($top)"
assert_success "$CBOX" down --volumes t13new
assert_success "$CBOX" image rm t13new:1
assert_success "$CBOX" image rm t13new:0
# t13src is downed without --volumes: its changed upper is kept and keeps t13busybox:1
assert_success "$CBOX" down t13src
# a container that wrote nothing, downed without --volumes: its upper holds only cbox's mount points
cat >t13idle.toml <<E
image = "t13busybox:1"
command = ["/bin/sleep", "1000"]
[network]
mode = "none"
E
on_exit "$CBOX" down --volumes t13idle
assert_success "$CBOX" up t13idle.toml
assert_success "$CBOX" down t13idle
info "t13idle upper after down: $(cd /var/lib/cbox/containers/t13idle/upper && find . | sort | paste -sd' ')"
out=$("$CBOX" gc 2>&1) || fail "gc: $out"
info "$out"
assert_match "$out" "Removed [0-9]+ container dir\(s\), [1-9][0-9]* layer\(s\)" "gc removed layers"
assert_match "$out" "freed [0-9.]+[BKMG]" "gc reports bytes"
assert_contains "$out" "Kept /var/lib/cbox/containers/t13src"
assert_contains "$out" "Removed /var/lib/cbox/containers/t13idle"
[ ! -e /var/lib/cbox/containers/t13idle ] || fail "gc kept the storage of t13idle"
[ ! -e "$top" ] || fail "gc left the committed layer $top"
assert_fails "$CBOX" image rm t13busybox:1
assert_success "$CBOX" down --volumes t13src
info "ok"
