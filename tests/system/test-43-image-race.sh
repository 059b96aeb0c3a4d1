#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 14: `image rm` and `gc` while an `up` is resolving the same image. The up is stopped (SIGSTOP,
# $CBOX_FAULT_STOP of the fault-injection build) right after it resolved the image to its layers and
# before its image file names them; meanwhile the image is removed and gc runs. gc must wait for the up
# (it holds the store's shared lock until its image file names the manifest), so the layers survive:
# the up completes and its container runs, and keeps running through another gc. After down, gc
# removes the layers: the store holds what it held before the import.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd tar

CF=${CBOX_FAULT:-${CBOX_BUILD_ROOT:+$CBOX_BUILD_ROOT/tests/system/cbox-fault}}
[ -n "$CF" ] && [ -x "$CF" ] || skip "no fault-injection binary (CBOX_FAULT)"
"$CF" --list-fault-points | grep -qx up.image-resolved || fail "$CF has no fault point up.image-resolved"
STORE=/var/lib/cbox
store_count() { # unpacked layers and blobs (blobs/sha256/HEX), temporaries included
        local d n=0
        for d in $STORE/layers $STORE/blobs/sha256; do
                [ ! -d $d ] || n=$((n + $(find $d -mindepth 1 -maxdepth 1 | wc -l)))
        done
        echo $n
}

mkdir rootfs
cp -a "$(busybox_rootfs)/." rootfs/
echo t43 >rootfs/t43-marker # layers of their own, not shared with another test's image
tar -czf t43.tar.gz -C rootfs .
# what an earlier test left unreferenced is not ours to count: collected first
assert_success "$CBOX" gc -q
before=$(store_count)
assert_success "$CBOX" image import -q t43.tar.gz t43img:1
cat > t43.toml <<E
image = "t43img:1"
command = ["/bin/sleep", "3600"]
[network]
mode = "none"
E
on_exit "$CBOX" down --volumes t43
on_exit "$CBOX" image rm t43img:1

CBOX_FAULT_STOP=up.image-resolved "$CF" up -q t43.toml &
up=$!
on_exit kill -CONT $up
wait_until 60 eval "[ \"\$(cut -d' ' -f3 /proc/$up/stat)\" = T ]"
info "up stopped after resolving the image"

# no image file names it yet: rm may take the name (the up keeps its layers by their manifest)
rc=0
"$CBOX" image rm t43img:1 || rc=$?
info "image rm while up resolves: exit $rc"
"$CBOX" gc -q &
gc=$!
# gc either finished (the layers are gone: the race) or waits for the store lock the up holds
wait_until 60 eval "[ ! -e /proc/$gc ] || grep -Eq -- '-> FLOCK +ADVISORY +WRITE +$gc ' /proc/locks"
[ -e /proc/$gc ] || fail "gc ran to its end while an up was between resolving its image and pinning it"
info "gc waits for the up"

kill -CONT $up
rc=0
wait $up || rc=$?
assert_eq "$rc" 0 "exit status of the up"
rc=0
wait $gc || rc=$?
assert_eq "$rc" 0 "exit status of gc"
assert_eq "$("$CBOX" exec t43 -- /bin/cat /t43-marker)" t43 "the container's root"
assert_success "$CBOX" gc -q
assert_eq "$("$CBOX" exec t43 -- /bin/cat /t43-marker)" t43 "the container's root after another gc"

assert_success "$CBOX" down --volumes t43
"$CBOX" image rm t43img:1 2>/dev/null || :
assert_success "$CBOX" gc -q
assert_eq "$(store_count)" "$before" "layers and blobs once the container and image are gone"
info "ok"
