#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Images of 1, 3, 24 and 128 layers start, on Debian 12's kernel 6.1 too, where one fsconfig() value
# holds at most 256 bytes (fewer than three store paths) and overlayfs has no "lowerdir+" yet.
# Each image is an OCI layout written by tools/mklayers-image.sh (busybox at the bottom, then one
# layer per file /layers/lN, each layer also rewriting /layers/top), and reaches the store three ways: imported
# from the OCI layout, imported from a docker-archive that skopeo made of it, and pulled from a real
# registry (Debian's docker-registry on 127.0.0.1) that skopeo pushed it to. Every container sees
# every layer's file, and the highest layer's /layers/top.
# cbox-test-timeout: 600
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd docker-registry skopeo busybox curl ss jq sha256sum tar gzip

# ---- a registry of our own on a free loopback port ----
start_registry 5200 5259
port=$REGISTRY_PORT

# run_image NAME REF N: a container of REF prints what it sees of its N layers
run_image() {
        local out
        cat >"$1.toml" <<E
image = "$2"
[network]
mode = "none"
E
        on_exit "$CBOX" down --volumes "$1"
        out=$("$CBOX" up --foreground "$1.toml" 2>&1) || fail "$1: up of $3 layers failed: $out"
        info "$1 ($3 layers): $out"
        assert_contains "$out" "layers=$3 top=$(($3 - 1)) first=0 last=$(($3 - 1))" "$1: every layer visible"
        assert_success "$CBOX" down --volumes "$1"
}

for n in 1 3 24 128; do
        "$SRC/tools/mklayers-image.sh" oci $n "l$n"
        info "image of $n layers: $(du -sh oci | cut -f1)"

        on_exit "$CBOX" image rm "t16/oci:l$n"
        assert_success "$CBOX" image import oci "t16/oci:l$n"
        run_image t16oci$n "t16/oci:l$n" $n

        assert_success skopeo copy -q "oci:oci:l$n" "docker-archive:da$n.tar:t16/da:l$n"
        on_exit "$CBOX" image rm "t16/da:l$n"
        assert_success "$CBOX" image import "da$n.tar" "t16/da:l$n"
        run_image t16da$n "t16/da:l$n" $n

        REF=127.0.0.1:$port/t16/reg:l$n
        assert_success skopeo copy -q --dest-tls-verify=false "oci:oci:l$n" "docker://$REF"
        on_exit "$CBOX" image rm "$REF"
        assert_success "$CBOX" image pull -q --insecure-registry "127.0.0.1:$port" "$REF"
        run_image t16reg$n "$REF" $n

        for r in "t16/oci:l$n" "t16/da:l$n" "$REF"; do
                assert_success "$CBOX" image rm "$r"
        done
done
info "ok"
