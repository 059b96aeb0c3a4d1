#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/mkbusybox-rootfs.sh [DEST] [--tar FILE] — the tiny busybox image cbox's examples, README
# demo and tests run, made from Debian's busybox-static without network.
#
#   DEST         a rootfs directory (default /var/lib/cbox/rootfs/busybox, what the examples use)
#   --tar FILE   write a rootfs tarball instead (FILE.tar, .tar.gz/.tgz, .tar.xz, .tar.zst), for
#                image import; reproducible: sorted, mtime 0, uid/gid 0, so the same busybox
#                gives the same bytes (and the same digest)
#
# Contents: /bin/busybox and one relative symlink per applet (busybox --list-full), /etc/passwd
# and /etc/group (root, nobody), /etc/os-release naming the image, empty /proc /sys /dev /run
# /var /root, /tmp (1777).  No /etc/hostname: the container's hostname comes from cbox.
# Idempotent: a DEST built from the same busybox by the same script is left alone.  Atomic: built
# in DEST.tmp (or FILE.tmp), then renamed into place.  BUSYBOX=path overrides /bin/busybox (it
# must be static: the image has no libc).
set -euo pipefail
export LC_ALL=C

DEST='' TAR=''
while [ $# -gt 0 ]; do
        case $1 in
        --tar)
                [ $# -ge 2 ] || { echo "mkbusybox-rootfs: --tar needs a FILE" >&2; exit 2; }
                TAR=$2
                shift 2
                ;;
        -h | --help)
                sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        -*)
                echo "mkbusybox-rootfs: unknown option '$1'" >&2
                exit 2
                ;;
        *)
                [ -z "$DEST" ] || { echo "mkbusybox-rootfs: one DEST only" >&2; exit 2; }
                DEST=$1
                shift
                ;;
        esac
done
[ -n "$DEST$TAR" ] || DEST=/var/lib/cbox/rootfs/busybox

die() {
        echo "mkbusybox-rootfs: $*" >&2
        exit 1
}

BB=${BUSYBOX:-/bin/busybox}
[ -x "$BB" ] || die "$BB not found (apt-get install busybox-static, or run tools/setup.sh)"
if ldd "$BB" >/dev/null 2>&1; then
        die "$BB is dynamically linked; the image needs busybox-static"
fi
version=$("$BB" 2>/dev/null | sed -n '1s/^BusyBox v\([^ ]*\).*/\1/p')
[ -n "$version" ] || die "$BB does not look like busybox"
stamp=$( (
        cat "$0"
        cat "$BB"
) | sha256sum | cut -c1-16)

# build the tree in $1 (must not exist)
build_tree() {
        local T=$1 d
        mkdir -p "$T"
        for d in bin sbin usr/bin usr/sbin etc proc sys dev run var root; do
                mkdir -p "$T/$d"
        done
        chmod 0700 "$T/root"
        install -d -m 1777 "$T/tmp"
        install -m 0755 "$BB" "$T/bin/busybox"
        # one relative symlink per applet, so that each resolves inside the image wherever it is
        # mounted (bin/sh -> busybox, usr/bin/env -> ../../bin/busybox); perl (Essential in
        # Debian) makes them all in one process, which matters under the test VM's emulation
        "$BB" --list-full | perl -e '
                my $r = shift;
                while (my $p = <STDIN>) {
                        chomp $p;
                        next if $p eq "bin/busybox" || $p eq "";
                        my ($d) = $p =~ m{^(.*)/[^/]+$};
                        my $t = !defined $d ? "bin/busybox" : $d eq "bin" ? "busybox"
                                : ("../" x ($p =~ tr{/}{})) . "bin/busybox";
                        system("mkdir", "-p", "$r/$d") if defined $d && !-d "$r/$d";
                        next if -e "$r/$p" || -l "$r/$p";
                        symlink($t, "$r/$p") or die "symlink $p: $!\n";
                }
        ' "$T"
        [ -L "$T/bin/sh" ] || die "$BB has no sh applet"
        printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$T/etc/passwd"
        printf 'root:x:0:\nnobody:x:65534:\n' >"$T/etc/group"
        cat >"$T/etc/os-release" <<EOF
NAME="cbox busybox"
ID=cbox-busybox
VERSION_ID=$version
PRETTY_NAME="cbox busybox image (BusyBox $version from Debian's busybox-static)"
HOME_URL="https://busybox.net/"
EOF
        echo "$stamp" >"$T/etc/cbox-busybox.stamp"
}

if [ -n "$TAR" ]; then
        tmp=$TAR.tmp.$$
        work=$(mktemp -d)
        trap 'rm -rf "$work" "$tmp"' EXIT
        build_tree "$work/root"
        targs=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -C "$work/root" -c .)
        case $TAR in
        *.tar.gz | *.tgz) tar "${targs[@]}" | gzip -n -9 >"$tmp" ;;
        *.tar.xz) tar "${targs[@]}" | xz -T1 >"$tmp" ;;
        *.tar.zst) tar "${targs[@]}" | zstd -q >"$tmp" ;;
        *) tar "${targs[@]}" >"$tmp" ;;
        esac
        mv -f "$tmp" "$TAR"
        echo "mkbusybox-rootfs: $TAR (BusyBox $version, $(du -h "$TAR" | cut -f1))"
fi

if [ -n "$DEST" ]; then
        DEST=${DEST%/}
        mkdir -p "$(dirname "$DEST")"
        # one builder per parent directory at a time
        exec 9<"$(dirname "$DEST")"
        flock 9
        if [ -f "$DEST/etc/cbox-busybox.stamp" ] && [ "$(cat "$DEST/etc/cbox-busybox.stamp")" = "$stamp" ]; then
                echo "mkbusybox-rootfs: $DEST is up to date (BusyBox $version)"
                exit 0
        fi
        rm -rf "$DEST.tmp" "$DEST.old"
        build_tree "$DEST.tmp"
        if [ -e "$DEST" ] || [ -L "$DEST" ]; then
                mv -T "$DEST" "$DEST.old"
                mv -T "$DEST.tmp" "$DEST"
                rm -rf "$DEST.old"
        else
                mv -T "$DEST.tmp" "$DEST"
        fi
        echo "mkbusybox-rootfs: $DEST (BusyBox $version, $(find "$DEST" -type l | wc -l) applets)"
fi
