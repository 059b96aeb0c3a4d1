#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/lib/mkenv.sh — build (or reuse) the benchmark environment: a debootstrapped Debian 12
# rootfs with systemd as PID 1 and every peer installed from Debian (crun, podman + conmon,
# systemd-nspawn, hyperfine, umoci, zstd), plus the runtime libraries of the cbox binary built
# on the host.  bench/lib/nspawn.sh boots it with systemd-nspawn -b at native speed.
# Prints the rootfs directory on stdout.  Cached under $CBOX_BENCH_CACHE (default
# /var/tmp/cbox-bench) by a stamp of this script; -f rebuilds.
set -euo pipefail
export LC_ALL=C
exec 3>&1 1>&2

PKGS=(systemd systemd-sysv dbus systemd-container iproute2 nftables procps util-linux psmisc
      busybox-static jq zstd gzip tar iptables
      # the peers
      crun podman conmon netavark aardvark-dns catatonit hyperfine umoci
      # the cbox binary's runtime libraries
      libsystemd0 libnftnl11 libmnl0 libarchive13 libjson-c5 libcurl4 libssl3 libseccomp2)

# for profiling where cbox misses a goal; installed into an existing rootfs without a rebuild
EXTRA_PKGS=(strace linux-perf)

C=${CBOX_BENCH_CACHE:-/var/tmp/cbox-bench}
FORCE=0
[ "${1:-}" = -f ] && FORCE=1
mkdir -p "$C"
exec 9>"$C/lock"
flock 9
stamp=$( (cat "$0"; printf '%s\n' "${PKGS[@]}") | sha256sum | cut -c1-16)
R=$C/rootfs
extras() {
        local p missing=()
        for p in "${EXTRA_PKGS[@]}"; do chroot "$1" dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
        [ ${#missing[@]} -eq 0 ] && return 0
        echo "mkenv: installing ${missing[*]} into the environment" >&2
        cp /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
        chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$C/build.log" 2>&1 ||
                echo "mkenv: could not install ${missing[*]} (profiling tools only; continuing)" >&2
}
if [ "$FORCE" = 0 ] && [ -f "$C/stamp" ] && [ "$(cat "$C/stamp")" = "$stamp" ] && [ -x "$R/lib/systemd/systemd" ]; then
        extras "$R"
        echo "$R" >&3
        exit 0
fi
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
mirror=${CBOX_BENCH_MIRROR:-http://deb.debian.org/debian}
rm -rf "$R.tmp" "$C/stamp"
mkdir -p "$C/debs"
inc=$(IFS=,; echo "${PKGS[*]}")
echo "mkenv: debootstrap bookworm from $mirror into $R.tmp" >&2
debootstrap --variant=minbase --include="$inc" --cache-dir="$C/debs" bookworm "$R.tmp" "$mirror" >"$C/build.log" 2>&1 || {
        tail -20 "$C/build.log" >&2
        exit 1
}
# the environment's own configuration: no getty, no networkd, quiet journal, podman's storage on
# the overlay driver with cgroupfs under systemd's manager
ln -sf /dev/null "$R.tmp/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$R.tmp/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$R.tmp/etc/systemd/system/systemd-networkd.service" 2>/dev/null || true
echo cbox-bench >"$R.tmp/etc/hostname"
mkdir -p "$R.tmp/etc/containers"
cat >"$R.tmp/etc/containers/storage.conf" <<'CONF'
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
CONF
cat >"$R.tmp/etc/containers/registries.conf" <<'CONF'
unqualified-search-registries = []
CONF
extras "$R.tmp"
rm -rf "$R"
mv "$R.tmp" "$R"
echo "$stamp" >"$C/stamp"
echo "$R" >&3
