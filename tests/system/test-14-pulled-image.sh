#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A container runs from a *pulled* image, with the image's Env, Cmd and WorkingDir as its defaults:
# umoci builds a busybox image whose config sets them, skopeo pushes it to a real registry (Debian's
# docker-registry, started here on 127.0.0.1 with a config this test writes), `cbox image pull` fetches
# it, and a TOML that names only the image runs the image's Cmd in the image's WorkingDir with the
# image's Env. A second TOML overrides all three, and the file wins. The container's image file records
# the manifest digest it was started from (line 2), which gc and commit rely on. The same image pulled
# by digest (NAME@sha256:…) runs under that name too.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd docker-registry skopeo umoci busybox curl ss

# ---- the image: busybox, config Env/Cmd/WorkingDir ----
umoci init --layout oci >/dev/null
umoci new --image oci:bb >/dev/null
umoci unpack --image oci:bb bundle >/dev/null
mkdir -p bundle/rootfs/bin bundle/rootfs/srv/app bundle/rootfs/tmp
cp "$(command -v busybox)" bundle/rootfs/bin/busybox
for a in sh echo sleep pwd cat env; do ln -s busybox "bundle/rootfs/bin/$a"; done
umoci repack --image oci:bb bundle >/dev/null
# the payload prints what it got; "$GREETING" and "$(pwd)" are expanded inside the container
umoci config --image oci:bb --config.env GREETING=hello-from-the-image --config.env PATH=/bin \
        --config.workingdir /srv/app \
        --config.cmd /bin/sh --config.cmd -c \
        --config.cmd 'echo "payload: greeting=$GREETING cwd=$(pwd)"; exec sleep 1000' >/dev/null

# ---- a registry of our own on a free loopback port ----
start_registry 5140 5199
port=$REGISTRY_PORT

REF=127.0.0.1:$port/t14/bb:1
assert_success skopeo copy -q --dest-tls-verify=false oci:oci:bb "docker://$REF"

# ---- pull ----
on_exit "$CBOX" image rm "$REF"
out=$("$CBOX" image pull --insecure-registry "127.0.0.1:$port" "$REF" 2>&1) || fail "pull: $out"
info "$out"
digest=$("$CBOX" image inspect "$REF" | jq -r .manifest)
assert_match "$digest" '^sha256:[0-9a-f]{64}$' "manifest digest of the pulled image"
assert_eq "$("$CBOX" image inspect "$REF" | jq -r '.image_config.WorkingDir')" /srv/app "pulled config"

# run_expect NAME MARKER EXPECTED WHAT: up NAME.toml (written before), wait for its first output line
# with MARKER, and check that line
run_expect() {
        on_exit "$CBOX" down --volumes "$1"
        assert_success "$CBOX" up "$1.toml"
        wait_until 30 sh -c "'$CBOX' logs $1 | grep -q '$2'"
        local line
        line=$("$CBOX" logs "$1" | grep "$2" | head -1)
        info "$1: $line"
        assert_contains "$line" "$3" "$4"
}

# ---- a container that names only the image: the image's defaults apply ----
cat >t14pulled.toml <<E
image = "$REF"
[network]
mode = "none"
E
run_expect t14pulled 'payload:' "payload: greeting=hello-from-the-image cwd=/srv/app" "image defaults"
# the payload's own environment, seen from its /proc (exec has an environment of its own)
child_env=$("$CBOX" exec t14pulled -- sh -c 'for p in /proc/[0-9]*; do
        [ "$(cat $p/comm)" = sleep ] && cat $p/environ && break; done' | tr '\0' '\n')
assert_contains "$child_env" "GREETING=hello-from-the-image" "payload environment"
# the image file: line 1 the ref, line 2 the manifest the layers came from
assert_eq "$(sed -n 1p /var/lib/cbox/containers/t14pulled/image)" "$REF" "image file, line 1"
assert_eq "$(sed -n 2p /var/lib/cbox/containers/t14pulled/image)" "$digest" "image file, line 2"
assert_fails "$CBOX" image rm "$REF"

# ---- the file overrides each default ----
cat >t14override.toml <<E
image = "$REF"
command = ["/bin/sh", "-c", "echo \"override: greeting=\$GREETING cwd=\$(pwd)\"; exec sleep 1000"]
workdir = "/tmp"
[env]
GREETING = "from-the-file"
[network]
mode = "none"
E
run_expect t14override 'override:' "override: greeting=from-the-file cwd=/tmp" "file over image"

# ---- pulled by digest, run by digest ----
DREF=127.0.0.1:$port/t14/bb@$digest
on_exit "$CBOX" image rm "$DREF"
assert_success "$CBOX" image pull -q --insecure-registry "127.0.0.1:$port" "$DREF"
cat >t14digest.toml <<E
image = "$DREF"
[network]
mode = "none"
E
run_expect t14digest 'payload:' "payload: greeting=hello-from-the-image cwd=/srv/app" "image pulled by digest"
assert_eq "$(sed -n 1p /var/lib/cbox/containers/t14digest/image)" "$DREF" "image file of a digest reference"
assert_success "$CBOX" down --volumes t14digest
assert_success "$CBOX" image rm "$DREF"

assert_success "$CBOX" down --volumes t14override
assert_success "$CBOX" down --volumes t14pulled
assert_success "$CBOX" image rm "$REF"
info "ok"
