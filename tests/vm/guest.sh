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

while read -r tag path; do
        [ -n "$tag" ] || continue
        mkdir -p "$path" && mount -t 9p -o "$opts" "$tag" "$path" ||
                echo "cbox-vm: cannot mount share $tag at $path" >>$ctl/boot-errors
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
