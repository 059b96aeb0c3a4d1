#!/bin/bash
# tools/setup.sh — install what building and testing cbox needs on Debian 12 (bookworm).
# Idempotent: installs only missing packages. Needs root.
set -euo pipefail

PKGS=(
        # build
        gcc meson ninja-build pkg-config
        libsystemd-dev libnftnl-dev libmnl-dev libarchive-dev libjson-c-dev libcurl4-openssl-dev
        libssl-dev libseccomp-dev
        # the embedded busybox image, formatting check, fuzzers
        busybox-static clang-format clang libclang-rt-14-dev
        # tests: checking what cbox did, real peers
        iproute2 nftables procps util-linux file
        # image tests: building and converting OCI images
        umoci skopeo docker-registry apache2-utils
        # the system suite: a QEMU (TCG) VM booting a debootstrapped bookworm (tests/vm/)
        qemu-system-x86 debootstrap cpio e2fsprogs
        # man page and completion tests
        man-db groff bsdextrautils
)
[ -n "${CBOX_EXTRA_PKGS:-}" ] && PKGS+=($CBOX_EXTRA_PKGS)

missing=()
for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: build dependencies present"
