#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/vm/mkimage.sh [-f] — build (or reuse) the system-test VM image; prints its directory.
#
# Builds, under $CBOX_TEST_CACHE (default /var/tmp/cbox-test, never in the repository):
#   img-<stamp>/                one image per version of this script (so that checkouts of two
#                               versions sharing the cache do not rebuild in turn); renamed into
#                               place when complete; the 3 most recently used are kept
#   current -> img-<stamp>/     the newest build (a symlink, replaced atomically; for humans)
#     vmlinuz                   Debian's linux-image-*-amd64 kernel (extracted from the .deb,
#                               never installed on the host)
#     initrd.cpio               a tiny busybox initramfs: virtio + ext4 modules, mounts /dev/vda,
#                               switch_root into systemd
#     rootfs.img                ext4: debootstrapped bookworm with systemd as PID 1, dbus,
#                               machined, the tools the tests check with, and the runtime
#                               libraries cbox links; booted read-only (-snapshot) by run.sh
#     stamp, kernel-version, build.log
#   debs/                       debootstrap's package cache (makes a rebuild cheaper)
#   lock                        flock: one build at a time, concurrent callers wait
#   build-failed.log            the log of the last build that failed
#
# The stamp hashes this script and the package list: when it matches, nothing is done.
# -f rebuilds anyway.  Needs root, debootstrap, cpio, e2fsprogs, dpkg-deb, apt and the Debian
# mirror (tools/setup.sh installs the tools).  Exit status: 0 ready, 1 failed (reason on stderr).
set -euo pipefail
export LC_ALL=C
exec 3>&1 1>&2 # stdout carries only the image directory

SUITE=bookworm
# In the guest: systemd as PID 1 and what the tests check cbox's work with ...
PKGS=(systemd systemd-sysv dbus udev kmod systemd-container iproute2 nftables procps util-linux
      psmisc busybox-static curl jq libcap2-bin netcat-openbsd iputils-ping
      # a real registry to pull from (the test starts its own on 127.0.0.1), and what builds and
      # pushes an image to it
      # (netavark: the smallest provider of skopeo's virtual dependency container-network-stack, which
      # debootstrap cannot resolve by itself)
      docker-registry skopeo netavark umoci
      # ... and the runtime libraries of the cbox binary built on the host and run over 9p
      libsystemd0 libnftnl11 libmnl0 libarchive13 libjson-c5 libcurl4 libssl3 libseccomp2)
if [ -n "${CBOX_VM_EXTRA_PKGS:-}" ]; then
        read -r -a extra <<<"${CBOX_VM_EXTRA_PKGS//,/ }"
        PKGS+=("${extra[@]}")
fi

C=${CBOX_TEST_CACHE:-/var/tmp/cbox-test}
FORCE=0
[ "${1:-}" = -f ] && FORCE=1

die() {
        [ -z "${LOG:-}" ] || echo "mkimage: the build's log is kept in $C/build-failed.log" >&2
        echo "mkimage: $*" >&2 # last: run.sh shows it as the reason
        exit 1
}
trap 'echo "mkimage: failed (status $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

stamp=$( (
        cat "$0"
        echo "$SUITE ${PKGS[*]}"
) | sha256sum | cut -c1-16)

I=$C/img-$stamp
is_ready() {
        [ -f "$I/stamp" ] && [ -f "$I/rootfs.img" ] && [ -f "$I/vmlinuz" ] && [ -f "$I/initrd.cpio" ]
}
ready() {
        touch "$I/stamp" 2>/dev/null || true # last use, for the clean-up of old images
        echo "$I" >&3
        exit 0
}

if [ $FORCE = 0 ] && is_ready; then
        ready
fi

[ "$(id -u)" = 0 ] || die "building the VM image needs root (debootstrap, chroot)"
missing=()
for t in debootstrap cpio mkfs.ext4 dpkg-deb apt-get chroot sha256sum flock; do
        command -v $t >/dev/null || missing+=("$t")
done
[ ${#missing[@]} = 0 ] || die "missing host tools: ${missing[*]} (run tools/setup.sh)"

mkdir -p "$C" || die "cannot create the cache directory $C"
exec 9>"$C/lock"
if ! flock -n 9; then
        echo "mkimage: waiting for another image build in $C" >&2
        flock -w 1800 9 || die "timed out waiting for the lock on $C/lock"
fi
# another caller may have finished the same build while we waited
if [ $FORCE = 0 ] && is_ready; then
        ready
fi

# The mirror the host's apt uses (deb822 or one-line format), unless told otherwise.
mirror=${CBOX_VM_MIRROR:-}
if [ -z "$mirror" ]; then
        mirror=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
        mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
                /etc/apt/sources.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

t0=$(date +%s)
# the tree itself on tmpfs when there is room: dpkg's fsyncs then cost nothing
shm=${CBOX_VM_BUILD_TMP:-/dev/shm}
rm -rf "$C"/tmp.* "$shm"/cbox-vm-rootfs.* # leftovers of a killed build (we hold the lock)
W=$(mktemp -d "$C/tmp.XXXXXX")
if [ -d "$shm" ] && [ "$(df -Pm "$shm" 2>/dev/null | awk 'NR == 2 { print $4 }')" -ge 2048 ] 2>/dev/null; then
        R=$(mktemp -d "$shm/cbox-vm-rootfs.XXXXXX")
else
        R=$W/rootfs
fi
LOG=$W/build.log
on_exit() {
        local rc=$?
        [ $rc = 0 ] || cp -f "$LOG" "$C/build-failed.log" 2>/dev/null
        rm -rf "$W" "$R"
}
trap on_exit EXIT
mkdir -p "$C/debs"
echo "mkimage: building the $SUITE VM image in $C (stamp $stamp, mirror $mirror)" >&2

# ---- the kernel .deb, fetched while debootstrap runs.  The host is bookworm too, so its apt
# knows the current linux-image-<abi>-amd64; refresh the lists once if the .deb is gone.
fetch_kernel() {
        local kpkg
        cd "$W"
        for attempt in 1 2; do
                kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
                        awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
                if [ -n "$kpkg" ] && apt-get download -qq "$kpkg" >/dev/null 2>&1; then
                        return 0
                fi
                [ $attempt = 1 ] && apt-get update -qq >/dev/null 2>&1
        done
        echo "cannot download linux-image-amd64's kernel package (${kpkg:-unknown}) with apt" >"$W/kernel.err"
        return 1
}
fetch_kernel &
kpid=$!

# ---- the root file system
if ! debootstrap --variant=minbase --cache-dir="$C/debs" --include="$(
        IFS=,
        echo "${PKGS[*]}"
)" "$SUITE" "$R" "$mirror" >>"$LOG" 2>&1; then
        tail -25 "$LOG" >&2
        wait $kpid || true
        die "debootstrap of $SUITE from $mirror failed (log above)"
fi
t1=$(date +%s)
wait $kpid || die "$(cat "$W/kernel.err")"

# ---- kernel and modules (minus the hardware drivers a virtio VM never loads)
deb=$(ls "$W"/linux-image-*.deb)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$R" --wildcards './boot/vmlinuz-*' './lib/modules/*' \
        --exclude='*/drivers/gpu/*' --exclude='*/drivers/media/*' --exclude='*/sound/*' \
        --exclude='*/drivers/net/wireless/*' --exclude='*/drivers/net/ethernet/*' \
        --exclude='*/drivers/infiniband/*' --exclude='*/drivers/scsi/*' --exclude='*/drivers/staging/*' \
        --exclude='*/drivers/usb/*' --exclude='*/drivers/hid/*' --exclude='*/drivers/bluetooth/*' \
        --exclude='*/net/wireless/*' --exclude='*/net/mac80211/*' --exclude='*/net/bluetooth/*' \
        --exclude='*/drivers/iio/*' --exclude='*/drivers/input/*' --exclude='*/drivers/isdn/*' \
        --exclude='*/drivers/mtd/*' --exclude='*/drivers/hwmon/*' --exclude='*/drivers/platform/*' \
        --exclude='*/drivers/md/*' --exclude='*/drivers/nvme/*' --exclude='*/drivers/ata/*' \
        --exclude='*/fs/ocfs2/*' --exclude='*/fs/gfs2/*' --exclude='*/fs/nls/*' ||
        die "cannot extract the kernel from $(basename "$deb")"
rm -f "$deb"
KV=$(ls "$R/lib/modules" | sort -V | tail -1)
[ -f "$R/boot/vmlinuz-$KV" ] || die "no vmlinuz-$KV in $(basename "$deb")"
chroot "$R" depmod -a "$KV" || die "depmod failed"

# ---- guest configuration
echo cbox-test >"$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 cbox-test\n::1 localhost ip6-localhost\n' >"$R/etc/hosts"
# root is mounted read-write by the initrd: no fstab entry, so boot never waits for dev-vda.device
echo '# the root file system is mounted by the initrd' >"$R/etc/fstab"
chroot "$R" passwd -d root >/dev/null
# the machine-id debootstrap generated stays: an empty one would make every (snapshot) boot a
# first boot (preset-all, firstboot)
[ -s "$R/etc/machine-id" ] || chroot "$R" systemd-machine-id-setup >/dev/null
ln -sf /dev/null "$R/etc/systemd/system/systemd-firstboot.service"
# units cbox never needs that cost seconds of an emulated boot (measured: userspace 20 s -> 10 s
# with the host under load); logind stays, a real host has it
for u in modprobe@drm.service modprobe@dm_mod.service modprobe@fuse.service modprobe@loop.service \
        sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount sys-kernel-config.mount \
        systemd-update-utmp.service systemd-update-utmp-runlevel.service; do
        ln -sf /dev/null "$R/etc/systemd/system/$u"
done
# the packaged registry (:5000, htpasswd): tests run their own with a config they write
rm -f "$R"/etc/systemd/system/*.wants/docker-registry.service
# timers and jobs that only slow a 1-minute machine down
for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
        fstrim.timer man-db.timer e2scrub_reap.service getty@tty1.service systemd-pstore.service; do
        rm -f "$R"/etc/systemd/system/*.wants/$u
done
mkdir -p "$R/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$R/etc/systemd/journald.conf.d/cbox-test.conf"
# serial console autologin, for run.sh -i
mkdir -p "$R/etc/systemd/system/serial-getty@ttyS0.service.d"
cat >"$R/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %I $TERM
EOF
# The hook run.sh drives: when the kernel command line says cbox.run=1, mount the 9p share
# "cboxctl" and run the guest.sh that run.sh put there (so the logic in the guest can change
# without rebuilding this image).  Type=simple: boot reaches "running" while it works.  It starts
# right after the root file system is writable, so that loading the 9p modules (seconds under
# emulation) and mounting the shares overlap the rest of the boot instead of following it.
cat >"$R/usr/local/sbin/cbox-vm-hook" <<'EOF'
#!/bin/sh
mkdir -p /run/cbox-ctl
modprobe -q 9pnet_virtio 2>/dev/null
# modprobe returns while a concurrent modprobe of udev's may still bind the devices: wait for the
# tag (30 s at most), and retry the mount, before giving up
i=0
until cat /sys/bus/virtio/drivers/9pnet_virtio/virtio*/mount_tag 2>/dev/null | tr '\0' '\n' | grep -qx cboxctl &&
        err=$(mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none cboxctl /run/cbox-ctl 2>&1); do
        i=$((i + 1))
        if [ $i -ge 150 ]; then
                echo "cbox-vm-hook: cannot mount the control share: ${err:-the 9p transport never bound it}" >/dev/console
                exec systemctl --force --force poweroff
        fi
        sleep 0.2
done
exec /bin/bash /run/cbox-ctl/guest.sh
EOF
chmod 755 "$R/usr/local/sbin/cbox-vm-hook"
cat >"$R/etc/systemd/system/cbox-vm-hook.service" <<'EOF'
[Unit]
Description=Run the command handed over by tests/vm/run.sh, then power off
ConditionKernelCommandLine=cbox.run=1
DefaultDependencies=no
After=systemd-remount-fs.service systemd-journald.socket

[Service]
Type=simple
ExecStart=/usr/local/sbin/cbox-vm-hook
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
chroot "$R" systemctl enable -q cbox-vm-hook.service
# smaller image, faster mkfs
rm -rf "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/info/* "$R"/var/cache/apt/archives/*.deb \
        "$R"/var/lib/apt/lists/*_Packages
[ -d "$R/usr/share/locale" ] && find "$R/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# ---- initramfs: static busybox from the guest + the modules that reach the root disk
IR=$W/initrd
mkdir -p "$IR"/{bin,dev,proc,sys,root,lib/modules}
cp "$R/bin/busybox" "$IR/bin/busybox"
for m in virtio_pci virtio_blk ext4; do
        chroot "$R" modprobe -S "$KV" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
        cp "$R$ko" "$IR/lib/modules/"
        echo "/lib/modules/$(basename "$ko")" >>"$IR/modules.list"
done
touch "$IR/modules.list"
cat >"$IR/init" <<'EOF'
#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev
for m in $($B cat /modules.list); do $B insmod $m 2>/dev/null; done
root=/dev/vda fstype=ext4 flags=rw init=/sbin/init
for a in $($B cat /proc/cmdline); do
        case $a in
        root=*) root=${a#root=} ;;
        rootfstype=*) fstype=${a#rootfstype=} ;;
        init=*) init=${a#init=} ;;
        ro) flags=ro ;;
        esac
done
i=0
while [ ! -b $root ] && [ $i -lt 500 ]; do $B usleep 20000; i=$((i + 1)); done
if ! $B mount -t $fstype -o $flags $root /root; then
        echo "initrd: cannot mount $root ($fstype)"
        $B poweroff -f
fi
$B mount --move /dev /root/dev
$B umount /proc /sys
exec $B switch_root /root $init
EOF
chmod 755 "$IR/init"
(cd "$IR" && find . | cpio -o -H newc --quiet) >"$W/initrd.cpio"

# ---- artefacts, then the atomic switch of "current"
O=$W/img
mkdir -p "$O"
cp "$R/boot/vmlinuz-$KV" "$O/vmlinuz"
mv "$W/initrd.cpio" "$O/initrd.cpio"
size=$(du -sm "$R" | cut -f1)
mkfs.ext4 -q -F -L cboxroot -E lazy_itable_init=1,lazy_journal_init=1 -d "$R" "$O/rootfs.img" \
        "$((size + 3072))M" >>"$LOG" 2>&1 || die "mkfs.ext4 -d failed"
echo "$KV" >"$O/kernel-version"
echo "$stamp" >"$O/stamp"
cp "$LOG" "$O/build.log"
rm -rf "$I"
mv "$O" "$I"
ln -sfn "img-$stamp" "$C/current.new"
mv -T "$C/current.new" "$C/current"
# keep the 3 most recently used images (a VM still running from a removed one keeps its files)
ls -1td "$C"/img-*/stamp 2>/dev/null | tail -n +4 | while read -r f; do rm -rf "${f%/stamp}"; done
echo "mkimage: done in $(($(date +%s) - t0)) s (debootstrap $((t1 - t0)) s); kernel $KV; rootfs ${size} MB" >&2
echo "$I" >&3
