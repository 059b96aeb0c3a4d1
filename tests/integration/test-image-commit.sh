#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox commit / export / gc on the host, without systemd: a container that was run and downed leaves
# <storage_root>/containers/NAME/{upper,work,image}. The test makes that writable layer the way a
# container does — a real overlayfs mount (the kernel writes the whiteout and the opaque dir) over the
# layers of a really imported busybox image — then:
#   commit: the new image's layer stack (mounted as overlay lowers) shows the new file, not the deleted
#           one, and the opaque dir hides the base's entries; the committed layer has OCI whiteouts;
#   export: the tar of the merged view lists the new file and not the deleted one; FILE is atomic
#           (no temporaries left, an unwritable target fails without a partial file); "-" streams;
#   gc:     keeps the storage of a container whose upper holds changes, removes an empty one (which
#           releases its image), and after image rm frees the layers, reporting the bytes.
# Needs root (overlay mounts) and the busybox-static package.
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
SRC="${CBOX_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
[ "$(id -u)" = 0 ] || { echo "needs root (overlay mounts)"; exit 77; }
[ -x /bin/busybox ] || { echo "needs busybox-static (/bin/busybox)"; exit 77; }
command -v tar >/dev/null || { echo "needs tar"; exit 77; }

T=$(mktemp -d /tmp/test-image-commit.XXXXXX)
M="$T/mnt"
cleanup() {
        mountpoint -q "$M" && umount "$M"
        mountpoint -q "$T/small" && umount "$T/small"
        rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }

export CBOX_CONFIG_ROOT="$T/root"
mkdir -p "$CBOX_CONFIG_ROOT/etc/cbox/conf.d" "$CBOX_CONFIG_ROOT/usr/lib/cbox/conf.d" "$T/run" "$T/store" "$M"
cp "$SRC"/conf.d/*.toml "$CBOX_CONFIG_ROOT/usr/lib/cbox/conf.d/" 2>/dev/null || true
printf 'run_root = "%s"\nstorage_root = "%s"\n' "$T/run" "$T/store" >"$CBOX_CONFIG_ROOT/etc/cbox/conf.d/50-test.toml"
S="$T/store"

"$SRC/tools/mkbusybox-rootfs.sh" --tar "$T/bb.tar.gz" >/dev/null || die "mkbusybox-rootfs.sh"
"$CBOX" image --root="$S" import -q "$T/bb.tar.gz" t13base:1 || die "image import"
# a second layer with a directory to make opaque later
mkdir -p "$T/l2/opt/app" && echo one >"$T/l2/opt/app/a" && echo two >"$T/l2/opt/app/b"
lowers() { "$CBOX" image --root="$S" inspect "$1" | tr -d ' \n' | grep -o '"path":"[^"]*"' | cut -d'"' -f4 | tac | paste -sd: -; }

# lowerdir= order is top first; image inspect lists bottom first (hence tac)
base_lowers=$(lowers t13base:1)
[ -n "$base_lowers" ] || die "no layers for t13base:1"

# "run" container c1: its upper/work where container/ puts them, written through a real overlay
C="$S/containers/c1"
mkdir -p "$C/upper" "$C/work"
echo t13base:1 >"$C/image"
mount -t overlay overlay -o "lowerdir=$base_lowers,upperdir=$C/upper,workdir=$C/work" "$M" || die "overlay mount"
echo hello >"$M/etc/added"
rm "$M/etc/os-release"
mkdir -p "$M/srv/data" && echo x >"$M/srv/data/x"
rm -rf "$M/root" && mkdir "$M/root" && echo new >"$M/root/only" # a dir replaced: opaque in the upper
umount "$M"
[ -c "$C/upper/etc/os-release" ] || echo "note: the kernel did not write a 0:0 char device whiteout"

# commit
out=$("$CBOX" commit c1 t13new:1 2>&1) || fail "commit: $out"
[[ $out == *"Committed c1 as t13new:1"* ]] || fail "commit output: $out"
new_lowers=$(lowers t13new:1)
n_base=$(tr ':' '\n' <<<"$base_lowers" | wc -l)
n_new=$(tr ':' '\n' <<<"$new_lowers" | wc -l)
[ "$n_new" = $((n_base + 1)) ] || fail "t13new:1 has $n_new layers, expected $((n_base + 1))"
top=$(cut -d: -f1 <<<"$new_lowers")
[ -c "$top/etc/os-release" ] || fail "committed layer: no whiteout for etc/os-release"
# the committed image through the kernel's eyes
mount -t overlay overlay -o "ro,lowerdir=$new_lowers" "$M" || die "overlay mount of t13new:1"
[ "$(cat "$M/etc/added" 2>/dev/null)" = hello ] || fail "t13new:1: /etc/added missing"
[ ! -e "$M/etc/os-release" ] || fail "t13new:1: the deleted /etc/os-release is back"
[ "$(cat "$M/srv/data/x" 2>/dev/null)" = x ] || fail "t13new:1: /srv/data/x missing"
[ "$(ls -A "$M/root")" = only ] || fail "t13new:1: /root is not opaque: $(ls -A "$M/root" | paste -sd' ')"
[ -x "$M/bin/busybox" ] || fail "t13new:1: base content missing"
umount "$M"
# the blob is an OCI layer: .wh. entries
blob_has_wh=$("$CBOX" image --root="$S" inspect t13new:1 | tr -d ' \n' | grep -o '"digest":"sha256:[0-9a-f]*"' | tail -1 | cut -d: -f3 | tr -d '"')
blob_list=$(tar -tf "$S/blobs/sha256/$blob_has_wh" | sed 's|^\./||')
grep -qx 'etc/\.wh\.os-release' <<<"$blob_list" || fail "committed layer blob has no etc/.wh.os-release: $blob_list"
grep -qx 'root/\.wh\.\.wh\.\.opq' <<<"$blob_list" || fail "committed layer blob has no root/.wh..wh..opq: $blob_list"

# commit refusals: unknown container, bad ref (usage), rootfs-dir container (no image file)
"$CBOX" commit nosuch t13x:1 >/dev/null 2>&1 && fail "commit of an unknown container succeeded"
rc=0; "$CBOX" commit c1 'BAD REF' >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "commit with an invalid ref exited $rc, expected 2"
mkdir -p "$S/containers/rf/upper" "$S/containers/rf/work" && echo z >"$S/containers/rf/upper/z"
out=$("$CBOX" commit rf t13x:1 2>&1) && fail "commit of a rootfs-dir container succeeded"
[[ $out == *"no base image"* ]] || fail "rootfs refusal message: $out"

# the manifest digest on line 2 of containers/NAME/image (what the container was started from) must
# still be what the tag names: a re-imported tag is refused rather than committed onto / exported from
m=$("$CBOX" image --root="$S" inspect t13base:1 | grep -o '"manifest":"[^"]*"' | cut -d'"' -f4)
printf 't13base:1\n%s\n' "$m" >"$C/image"
"$CBOX" commit -q c1 t13new:2 || fail "commit with a matching digest line"
"$CBOX" image --root="$S" rm t13new:2 >/dev/null
printf 't13base:1\nsha256:%064d\n' 0 >"$C/image"
out=$("$CBOX" commit c1 t13x:1 2>&1) && fail "commit onto a re-imported tag succeeded"
[[ $out == *"not sha256:000"*"started from"* ]] || fail "stale base message: $out"
out=$("$CBOX" export c1 "$T/stale.tar" 2>&1) && fail "export with a re-imported tag succeeded"
[ ! -e "$T/stale.tar" ] || fail "refused export left a file"
echo t13base:1 >"$C/image"

# export
"$CBOX" export c1 "$T/c1.tar" || fail "export"
list=$(tar -tf "$T/c1.tar" | sed 's|^\./||')
grep -qx 'etc/added' <<<"$list" || fail "export: etc/added missing"
grep -qx 'etc/os-release' <<<"$list" && fail "export: deleted etc/os-release present"
grep -q '\.wh\.' <<<"$list" && fail "export: whiteout entries in a flattened tree"
grep -qx 'bin/busybox' <<<"$list" || fail "export: bin/busybox missing"
grep -qx 'root/only' <<<"$list" || fail "export: root/only missing"
[ "$(tar -xOf "$T/c1.tar" etc/added 2>/dev/null || tar -xOf "$T/c1.tar" ./etc/added)" = hello ] || fail "export: content of etc/added"
for f in "$T"/c1.tar.*; do [ -e "$f" ] && fail "export left a temporary: $f"; done
grep -q "$S" /proc/self/mountinfo && fail "export left a mount in the host namespace"
# stdout, and the same tree gives the same bytes
"$CBOX" export c1 - >"$T/c1-stdout.tar" || fail "export to stdout"
# (libarchive pads the last block when writing to fd 1: same entries, same bytes up to the file's end)
cmp -n "$(stat -c %s "$T/c1.tar")" "$T/c1.tar" "$T/c1-stdout.tar" || fail "export to a file and to stdout differ"
# a failing export leaves no partial file: a full file system mid-write (a 64 KiB tmpfs)
mkdir -p "$T/small" && mount -t tmpfs -o size=64k tmpfs "$T/small" || die "tmpfs"
out=$("$CBOX" export c1 "$T/small/x.tar" 2>&1) && fail "export to a full file system succeeded"
[[ $out == *"export failed"* ]] || fail "export to a full file system: $out"
[ -z "$(ls -A "$T/small")" ] || fail "failed export left files: $(ls -A "$T/small")"
umount "$T/small"
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if "$CBOX" export nosuch "$T/ro/x.tar" 2>/dev/null; then fail "export of an unknown container succeeded"; fi
[ -z "$(ls -A "$T/ro")" ] || fail "failed export left files: $(ls -A "$T/ro")"

# cbox gc also reconciles the network (ports in `inet cbox`, veths) with the containers of ITS run_root:
# run it in a network namespace of its own, so the host's (and other tests') containers are not seen
unshare --net true 2>/dev/null || { echo "needs unshare --net"; exit 77; }
gc() { unshare --net "$CBOX" gc "$@"; }

# gc: c1 has changes (kept, keeps t13base:1); c2 holds only what cbox makes in an upper (dirs, the
# empty etc/resolv.conf, etc/hosts and etc/hostname mount points: removed); c4 only deleted a file (a whiteout the
# kernel wrote: kept); rf has changes but no image (kept)
mkdir -p "$S/containers/c2/upper/etc" "$S/containers/c2/upper/data" "$S/containers/c2/work"
: >"$S/containers/c2/upper/etc/resolv.conf" && : >"$S/containers/c2/upper/etc/hosts"
: >"$S/containers/c2/upper/etc/hostname"
echo t13new:1 >"$S/containers/c2/image"
mkdir -p "$S/containers/c4/upper" "$S/containers/c4/work" && echo t13base:1 >"$S/containers/c4/image"
mount -t overlay overlay -o "lowerdir=$base_lowers,upperdir=$S/containers/c4/upper,workdir=$S/containers/c4/work" "$M" || die "overlay mount c4"
rm "$M/etc/passwd"
umount "$M"
"$CBOX" image --root="$S" rm t13new:1 >/dev/null 2>&1 && fail "image rm of an image named by c2 succeeded"
out=$(gc 2>&1) || fail "gc: $out"
echo "$out"
[ -d "$C/upper" ] || fail "gc removed c1's writable layer"
[ -e "$S/containers/c2" ] && fail "gc kept c2's empty storage"
[[ $out == *"Kept $C"* ]] || fail "gc does not say it kept c1: $out"
[ -d "$S/containers/c4/upper" ] || fail "gc removed c4, whose only change is a deletion"
rm -rf "$S/containers/c4"
"$CBOX" image --root="$S" rm t13new:1 >/dev/null || fail "image rm t13new:1 after gc"
out=$(gc --json 2>&1) || fail "gc --json: $out"
echo "$out"
[[ $out == *'"layers_removed":1'* ]] || fail "gc after image rm did not remove the committed layer: $out"
freed=$(grep -o '"bytes_freed":[0-9]*' <<<"$out" | cut -d: -f2)
[ "${freed:-0}" -gt 0 ] || fail "gc freed no bytes: $out"
[ -d "$top" ] && fail "the committed layer $top is still there"
# base still in use by c1
for l in $(tr ':' ' ' <<<"$base_lowers"); do [ -d "$l" ] || fail "gc removed base layer $l that c1 uses"; done
rm -rf "$C" "$S/containers/rf"
"$CBOX" image --root="$S" rm t13base:1 >/dev/null || fail "image rm t13base:1"
out=$(gc --json) || fail "gc"
for l in "$S"/layers/*; do [ -e "$l" ] && fail "layer left after the last gc: $l"; done

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo ok
