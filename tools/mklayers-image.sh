#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/mklayers-image.sh OCI-DIR N TAG [MB] — adds to the OCI layout OCI-DIR (created when missing) an
# image of N layers named TAG: busybox at the bottom, then in layer i the file /layers/li holding i,
# and every layer rewriting /layers/top with its own i (so the highest layer's copy must win). Its
# Cmd prints "layers=COUNT top=T first=F last=L" from inside. For tests and benchmarks of images of
# many layers (test-16, bench/lib/layers.sh); written by hand (tar, gzip, sha256sum, jq) so that even
# 128 layers take a second, where umoci repacks the whole tree once per layer. With MB, every layer
# also holds /layers/fill-i: MB MiB of base64 text of random bytes (gzip leaves ~3/4 of it), for
# benchmarks of pulls and imports whose layers weigh what real ones do (bench/lib/pull.sh).
set -euo pipefail
[ $# = 3 ] || [ $# = 4 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] && [[ ${4:-0} =~ ^[0-9]+$ ]] || {
        echo "usage: tools/mklayers-image.sh OCI-DIR N TAG [MB]" >&2
        exit 2
}
oci=$1 n=$2 tag=$3 mb=${4:-0}
for t in busybox jq sha256sum tar gzip base64 head; do
        command -v $t >/dev/null || {
                echo "mklayers-image: $t is missing" >&2
                exit 1
        }
done
mkdir -p "$oci/blobs/sha256"
[ -f "$oci/oci-layout" ] || echo '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
[ -f "$oci/index.json" ] || echo '{"schemaVersion":2,"manifests":[]}' >"$oci/index.json"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

# blob FILE: moves FILE into the layout under its digest, prints "DIGEST SIZE"
blob() {
        local d s
        d=$(sha256sum "$1" | cut -d' ' -f1)
        s=$(stat -c %s "$1")
        mv "$1" "$oci/blobs/sha256/$d"
        echo "sha256:$d $s"
}

layers='' diffs=''
for ((i = 0; i < n; i++)); do
        rm -rf "$w/t" && mkdir -p "$w/t/layers"
        if [ $i = 0 ]; then
                mkdir -p "$w/t/bin"
                cp "$(command -v busybox)" "$w/t/bin/busybox"
                for a in sh cat ls grep wc echo true; do ln -s busybox "$w/t/bin/$a"; done
        fi
        echo $i >"$w/t/layers/l$i"
        echo $i >"$w/t/layers/top"
        [ "$mb" = 0 ] || head -c $((mb * 786432)) /dev/urandom | base64 -w 76 >"$w/t/layers/fill-$i"
        tar -C "$w/t" --numeric-owner --owner=0 --group=0 -cf "$w/layer.tar" .
        diff=sha256:$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
        gzip -n -1 "$w/layer.tar"
        read -r dg sz < <(blob "$w/layer.tar.gz")
        layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$dg\",\"size\":$sz}"
        diffs+="${diffs:+,}\"$diff\""
done
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh","-c","echo layers=$(ls /layers | grep -c ^l) top=$(cat /layers/top) first=$(cat /layers/l0) last=$(cat /layers/l%d)"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
        $((n - 1)) "$diffs" >"$w/config.json"
read -r dg sz < <(blob "$w/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
        "$dg" "$sz" "$layers" >"$w/manifest.json"
read -r dg sz < <(blob "$w/manifest.json")
jq -c --arg d "$dg" --argjson s "$sz" --arg t "$tag" \
        '.manifests |= map(select(.annotations["org.opencontainers.image.ref.name"] != $t)) |
         .manifests += [{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":$d,"size":$s,"annotations":{"org.opencontainers.image.ref.name":$t}}]' \
        "$oci/index.json" >"$w/index.json"
mv "$w/index.json" "$oci/index.json"
