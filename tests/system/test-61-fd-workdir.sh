#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# runc CVE-2024-21626: a working directory of /proc/self/fd/N, from the file's workdir and from an
# image's WorkingDir, for every N from 3 to 32, must not start the payload in a host directory. The
# probe inside climbs "../" up to 32 levels towards a host file it must not see: each attempt is
# either refused with a clear error naming the working directory, or the probe finds itself
# contained. Controls: the probe run on the host finds the file (it can tell an escape), a legitimate
# workdir (file and image) starts and the probe reads the file it should there. An image whose User
# breaks the rules of the file's user key is refused with the image named.
# cbox-test-timeout: 900
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd umoci tar

PROBE=${CBOX_BUILD_ROOT:-$(dirname "$CBOX")/../..}/tests/system/escape-probe
[ -x "$PROBE" ] || skip "escape-probe is not built ($PROBE)"

secret=/var/tmp/t61-secret-$$
echo "t61-host-secret-$$" > "$secret"
on_exit rm -f "$secret"
rel=${secret#/}

# control 1: the probe reports an escape when it is outside (a host directory, no container)
mkdir -p hostdir/a/b
out=$(cd hostdir/a/b && "$PROBE" climb "$rel") && fail "the probe on the host did not find $secret: $out"
assert_contains "$out" "ESCAPED" "probe on the host"
assert_contains "$out" "t61-host-secret-$$" "probe on the host"

# ---- the image: busybox, the probe, /srv/inside; one tag per WorkingDir ----
"$SRC/tools/mkbusybox-rootfs.sh" --tar bb.tar.gz >/dev/null
umoci init --layout oci >/dev/null
umoci new --image oci:base >/dev/null
umoci unpack --image oci:base bundle >/dev/null
tar -xzf bb.tar.gz -C bundle/rootfs
cp "$PROBE" bundle/rootfs/bin/escape-probe
mkdir -p bundle/rootfs/srv
echo inside-ok > bundle/rootfs/srv/inside
umoci repack --image oci:base bundle >/dev/null
umoci config --image oci:base --tag srv --config.workingdir /srv >/dev/null
umoci config --image oci:base --tag baduser --config.user 'no such user!' >/dev/null
for n in $(seq 3 32); do
        umoci config --image oci:base --tag "fd$n" --config.workingdir "/proc/self/fd/$n" >/dev/null
done
for tag in base srv baduser $(seq -f 'fd%g' 3 32); do
        on_exit "$CBOX" image rm "t61:$tag"
        assert_success "$CBOX" image import -q oci "t61:$tag"
done

on_exit "$CBOX" down --volumes t61c
# one foreground run; prints the output, returns up's status
run() { # IMAGE WORKDIR(or "") CONTROL(or "")
        {
                echo "image = \"$1\""
                [ -z "$2" ] || echo "workdir = \"$2\""
                echo "command = [\"/bin/escape-probe\", \"climb\", \"$rel\"${3:+, \"$3\"}]"
                printf '[network]\nmode = "none"\n'
        } > t61c.toml
        "$CBOX" up --foreground t61c.toml 2>&1
}

# refused with a clear error, or started contained; never an escape
check() { # WHAT RC OUTPUT
        case $3 in *ESCAPED* | *t61-host-secret*) fail "$1: the payload reached the host: $3" ;; esac
        if [ "$2" = 0 ]; then
                assert_contains "$3" "contained" "$1"
        else
                assert_contains "$3" "working directory" "$1: the error names the working directory"
        fi
}

refused=0
for n in $(seq 3 32); do
        rc=0
        out=$(run t61:base "/proc/self/fd/$n" "") || rc=$?
        check "file workdir /proc/self/fd/$n" "$rc" "$out"
        [ "$rc" = 0 ] || refused=$((refused + 1))
        rc=0
        out=$(run "t61:fd$n" "" "") || rc=$?
        check "image WorkingDir /proc/self/fd/$n" "$rc" "$out"
        [ "$rc" = 0 ] || refused=$((refused + 1))
done
info "last: $out"
info "$refused of 60 refused, the rest started contained"

# controls: a legitimate workdir, from the file and from the image, starts there and reads its file
out=$(run t61:base /srv inside) || fail "file workdir /srv: $out"
assert_contains "$out" "cwd=/srv" "file workdir"
assert_contains "$out" "control=inside-ok" "file workdir"
assert_contains "$out" "contained" "file workdir"
out=$(run t61:srv "" inside) || fail "image WorkingDir /srv: $out"
assert_contains "$out" "cwd=/srv" "image WorkingDir"
assert_contains "$out" "control=inside-ok" "image WorkingDir"

# an image's User is held to the file's rules, and the error names the image
rc=0
out=$(run t61:baduser "" "") || rc=$?
assert_ne "$rc" 0 "image with an invalid User"
assert_contains "$out" "image 't61:baduser'" "the error names the image"
assert_contains "$out" "User" "the error names the field"
info "ok"
