#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/vm/guest.sh — runs INSIDE the test VM, as root, from cbox-vm-hook.service (see
# mkimage.sh), which mounted run.sh's control directory at /run/cbox-ctl (9p, uncached) and
# runs this copy of the script from there.  Files in the control directory:
#   in:  shares (lines "TAG PATH": 9p tags to mount at the same absolute path as on the host),
#        env (sourced), cwd, cmd (a bash script), timeout (seconds the whole run may take),
#        mode ("run" or "interactive")
#   out: boot (system state and uptime once boot settled), out, err (CMD's stdout/stderr),
#        rc (CMD's exit status, written last)
ctl=/run/cbox-ctl
opts=trans=virtio,version=9p2000.L,msize=512000,cache=${CBOX_VM_9P_CACHE:-loose}

# The tags the 9p transport has bound so far. modprobe of 9pnet_virtio returns while udev's own
# modprobe of it (coldplug) still probes the devices one by one, so the control share can be
# mounted while a later device is not yet bound: mount then fails with ENOENT ("no channels
# available"), which made the first boot of a fresh machine fail now and then.
tags_bound() {
        cat /sys/bus/virtio/drivers/9pnet_virtio/virtio*/mount_tag 2>/dev/null | tr '\0' '\n'
}
# mount_share TAG PATH: waits (30 s at most) until the transport has the tag, then mounts, retrying;
# on failure says which share, why (mount's own words), which tags were bound and what the kernel said
mount_share() {
        local tag=$1 path=$2 i err=
        mkdir -p "$path" || {
                echo "cbox-vm: cannot mount share $tag at $path: cannot create the mount point" >>$ctl/boot-errors
                return 1
        }
        for ((i = 0; i < 150; i++)); do
                if tags_bound | grep -qxF "$tag"; then
                        err=$(mount -t 9p -o "$opts" "$tag" "$path" 2>&1) && return 0
                fi
                sleep 0.2
        done
        {
                echo "cbox-vm: cannot mount share $tag at $path: ${err:-the 9p transport never bound tag '$tag'}"
                echo "cbox-vm: tags bound: $(tags_bound | tr '\n' ' ')"
                dmesg | grep -iE '9p|virtio' | tail -n 5 | sed 's/^/cbox-vm: kernel: /'
        } >>$ctl/boot-errors
        return 1
}

while read -r tag path; do
        [ -n "$tag" ] || continue
        mount_share "$tag" "$path"
done <$ctl/shares

if [ "$(cat $ctl/mode)" = interactive ]; then
        exit 0
fi

# Type=simple unit: boot goes on; wait until it settled (running, or degraded)
state=$(timeout 300 systemctl is-system-running --wait 2>&1)
read -r up _ </proc/uptime
{
        echo "state=$state uptime=$up"
        [ "$state" = running ] || systemctl --failed --no-legend --plain
} >$ctl/boot

tmo=$(cat $ctl/timeout)
tmo=$((tmo - ${up%.*} - 20)) # leave time to report and power off before the host gives up
[ $tmo -gt 10 ] || tmo=10
(
        set -a
        . $ctl/env
        set +a
        cd "$(cat $ctl/cwd)" || cd /
        exec timeout -k 10 $tmo bash $ctl/cmd </dev/null >$ctl/out 2>$ctl/err
)
rc=$?
echo $rc >$ctl/rc.new
mv $ctl/rc.new $ctl/rc

sync
while read -r tag path; do
        [ -n "$tag" ] && umount "$path" 2>/dev/null
done <$ctl/shares
umount $ctl
# the disk is a throw-away snapshot and the shares are unmounted: skip the orderly shutdown
systemctl --force --force poweroff
