#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 14: a crash at any step is repaired by the next command. For every step that
# `cbox-fault --list-fault-points` names (src/basic/fault.h: FAULT_POINT()), cbox is SIGKILLed right
# after that step ($CBOX_FAULT_AT), then each repair in turn — `down --volumes`, `gc`, `up` again;
# for image import, pull and commit: `gc`, the same command again — must succeed, and afterwards nothing of the container is left: no unit (scope, cleanup companion),
# machined registration, veth (by its alias cbox:NAME, bridge port or retired), nft element of cbox's
# table, address lease, mount, cgroup, process, state dir, lock file, container storage, store
# temporary; its image is not pinned (image rm succeeds at the end); after an image verb, the store
# holds the layers and blobs it held before, once the image is removed. `image pull` is walked against
# Debian's docker-registry on 127.0.0.1 (one for the whole walk, started at the first pull point; the
# registry configured insecure in conf.d, as test-17 does), serving a 2-layer image that skopeo copies
# there; after each repair another pull succeeds and the pulled image runs.
#
# A point is found by its verb (the part before the dot); a point of a verb this walk does not know
# fails the test, and so does a point the walk does not reach: a new step of a known verb is covered
# without editing this file, a new verb needs its setup here.
#
# The killing binary is $CBOX_FAULT (tests/system/cbox-fault of the build; cbox itself when built with
# -Dfault-injection=true); every repair runs the production $CBOX. CBOX_WALK_ONLY=REGEX walks only
# the points it matches, CBOX_WALK_REPAIRS="down gc up" and CBOX_WALK_IMAGE_REPAIRS="gc again" choose
# the repairs (for development).
# cbox-test-timeout: 1800
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft jq tar

CF=${CBOX_FAULT:-${CBOX_BUILD_ROOT:+$CBOX_BUILD_ROOT/tests/system/cbox-fault}}
if [ -z "$CF" ] || [ ! -x "$CF" ]; then
        if "$CBOX" --list-fault-points >/dev/null 2>&1; then
                CF=$CBOX
        else
                skip "no fault-injection binary (CBOX_FAULT, \$CBOX_BUILD_ROOT/tests/system/cbox-fault)"
        fi
fi
mapfile -t points < <("$CF" --list-fault-points | sort -u)
[ ${#points[@]} -gt 0 ] || fail "$CF lists no fault points"
info "${#points[@]} fault points in $CF: ${points[*]}"
repairs=(${CBOX_WALK_REPAIRS:-down gc up})

N=t41
RUN=/run/cbox
STORE=/var/lib/cbox
PORT=20641

"$SRC/tools/mkbusybox-rootfs.sh" --tar bb.tar.gz >/dev/null
assert_success "$CBOX" image import -q bb.tar.gz t41busybox:1
on_exit "$CBOX" image rm t41busybox:1
# detached: runs until stopped; foreground (fg/): ends by itself, for the steps after the payload's end
cat > $N.toml <<E
image = "t41busybox:1"
command = ["/bin/sleep", "3600"]
[network]
ports = ["$PORT:80"]
E
mkdir fg
cat > fg/$N.toml <<E
image = "t41busybox:1"
command = ["/bin/true"]
[network]
ports = ["$PORT:80"]
E
on_exit "$CBOX" down --volumes $N
on_exit stop_unit cbox-$N.scope cbox-$N-cleanup.service

# --- what "nothing left" means ---------------------------------------------------------------------
links_of() { ip -j link show | jq -r --arg a "cbox:$1" '.[] | select(.ifalias == $a) | .ifname'; }
elems_of() {
        local j
        j=$(nft -j list table inet cbox 2>/dev/null) || { echo 0; return; } # no table, no element
        jq --arg o "$1" '[.nftables[] | (.map // .set // empty) | .elem // [] | .[] |
                        (if type == "array" then .[0] else . end) | (.elem? // .) |
                        select(type == "object" and .comment == $o)] | length' <<<"$j"
}
unit_loaded() {
        local s
        s=$(systemctl show -P LoadState "$1" 2>/dev/null) || return 1
        [ "$s" = loaded ] && [ "$(systemctl show -P ActiveState "$1")" != inactive ]
}
machine_known() { machinectl list --no-legend --no-pager 2>/dev/null | grep -q "^$1 "; }
cgroup_there() { [ -n "$(find /sys/fs/cgroup -type d -name "cbox-$1.scope" -print -quit)" ]; }
leader_pid=
assert_clean() {
        local where=$1 l
        # the kernel deletes a retired veth with its namespace, systemd and machined let go of a unit in
        # their own time: polled, each with its own limit
        wait_until 60 eval '[ -z "$(links_of $N)" ]'
        wait_until 60 eval '! cgroup_there $N'
        wait_until 60 eval '! machine_known $N'
        ! unit_loaded cbox-$N.scope || fail "$where: cbox-$N.scope is $(systemctl show -P ActiveState cbox-$N.scope)"
        ! unit_loaded cbox-$N-cleanup.service || fail "$where: the cleanup companion of $N is active"
        assert_eq "$(elems_of $N)" 0 "$where: nft elements of $N"
        if grep -qs " $N\$" $RUN/ipam/*/leases; then fail "$where: a lease of $N is left"; fi
        if grep -q "containers/$N" /proc/self/mountinfo; then fail "$where: a mount of $N is left"; fi
        [ ! -e $RUN/containers/$N ] || fail "$where: state dir $RUN/containers/$N left: $(ls $RUN/containers/$N)"
        [ ! -e $RUN/locks/$N ] || fail "$where: lock file $RUN/locks/$N left"
        [ ! -e $STORE/containers/$N ] || fail "$where: storage $STORE/containers/$N left"
        l=$(find $STORE -name '.tmp-*' | head -3)
        [ -z "$l" ] || fail "$where: store temporaries left: $l"
        if [ -n "$leader_pid" ]; then
                wait_until 60 eval "[ ! -e /proc/$leader_pid ] || [ \"\$(cut -d' ' -f3 /proc/$leader_pid/stat)\" = Z ]"
        fi
        if "$CBOX" list --all | grep -q "^$N "; then fail "$where: list --all still shows $N"; fi
        # the published port is free for the next container: the walk's next up takes it
}
status_of() { "$CBOX" list --all --json | jq -r --arg n "$N" '.[] | select(.name == $n) | .state'; }
remember_leader() {
        leader_pid=$(sed -n 's/^LEADER_PID=//p' $RUN/containers/$N/state 2>/dev/null || true)
        [ "$leader_pid" != 0 ] || leader_pid=
}

# --- kill at a point, repair, check ----------------------------------------------------------------
declare -A mode_of # the mode (detached, foreground) in which an up point is reached
# runs "$@" under CBOX_FAULT_AT=$point; 0 when it was killed there (SIGKILL: 137), 1 when it ended
killed_at() {
        local point=$1 rc=0
        shift
        # in a subshell, whose stderr takes bash's "Killed" notice
        (CBOX_FAULT_AT=$point "$@" >kill.out 2>&1; exit $?) 2>/dev/null || rc=$?
        [ $rc = 137 ] && return 0
        [ $rc = 0 ] || { cat kill.out; fail "$*: exited with $rc instead of being killed at $point"; }
        return 1
}
# puts the container in the state of an up killed at $1
kill_up() {
        local p=$1 m=${mode_of[$1]:-}
        if [ "$m" != foreground ] && killed_at "$p" "$CF" up -q $N.toml; then
                mode_of[$p]=detached
                return
        fi
        if [ -z "$m" ]; then # not reached detached: up completed, try the foreground
                assert_success "$CBOX" down --volumes $N
                assert_clean "up (detached, not killed at $p)"
        fi
        killed_at "$p" "$CF" up -q --foreground fg/$N.toml || fail "up never reaches $p (detached nor foreground)"
        mode_of[$p]=foreground
}
# the repair $1 after a kill; afterwards what is left is a container that is complete (or none)
repair() {
        local how=$1 st
        remember_leader
        case $how in
        down)
                # nothing to name when the kill came before the state dir (up) or after its removal (down)
                local rc=0
                "$CBOX" down --volumes $N 2>down.err || rc=$?
                if [ $rc != 0 ]; then
                        cat down.err
                        [ $rc = 1 ] && [ ! -d $RUN/containers/$N ] && grep -q "$N: no such container" down.err ||
                                fail "down --volumes $N exited with $rc"
                fi
                ;;
        gc)
                assert_success "$CBOX" gc -q
                # what gc leaves is a container someone can use (running, or exited/dead and listed as
                # such), never a half-made one
                st=$(status_of)
                case $st in starting | interrupted) fail "gc left $N $st" ;; esac
                [ -z "$st" ] || assert_success "$CBOX" down --volumes $N
                ;;
        up)
                assert_success "$CBOX" up -q $N.toml
                assert_eq "$(status_of)" running "$N after the repairing up"
                remember_leader
                assert_success "$CBOX" down --volumes $N
                ;;
        *) fail "unknown repair $how" ;;
        esac
}

# the setup of a point of each verb: leaves $N in the state the killed command left
setup_kill() {
        local p=$1
        case ${p%%.*} in
        up)
                kill_up "$p"
                # no up is at work any more: what it left is shown as interrupted, never as starting (once
                # the container's child, which shares the up's lock until it execs, saw its parent die)
                wait_until 60 eval '[ "$(status_of)" != starting ]'
                ;;
        down)
                assert_success "$CBOX" up -q $N.toml
                killed_at "$p" "$CF" down $N || fail "down never reaches $p"
                ;;
        gc)
                # something for gc to reclaim: the leftovers of an up killed with its network set up
                kill_up up.network
                killed_at "$p" "$CF" gc -q || fail "gc never reaches $p"
                ;;
        stop)
                assert_success "$CBOX" up -q $N.toml
                killed_at "$p" "$CF" stop $N || fail "stop never reaches $p"
                ;;
        start)
                assert_success "$CBOX" up -q $N.toml
                assert_success "$CBOX" stop $N
                killed_at "$p" "$CF" start $N || fail "start never reaches $p"
                ;;
        update)
                # a limit changed in the file: update applies it to the running scope
                assert_success "$CBOX" up -q $N.toml
                cp $N.toml $N.toml.orig
                printf '[resources]\nmemory_max = "96M"\n' >>$N.toml
                killed_at "$p" "$CF" update $N || fail "update never reaches $p"
                mv $N.toml.orig $N.toml
                ;;
        cleanup)
                # the payload died and nobody released its network yet: the companion that would have
                # is stopped first (its cleanup finds the container running and does nothing)
                assert_success "$CBOX" up -q $N.toml
                stop_unit cbox-$N-cleanup.service
                assert_success systemctl kill --signal=KILL cbox-$N.scope
                wait_until 60 eval '! unit_loaded cbox-$N.scope'
                killed_at "$p" "$CF" cleanup $N || fail "cleanup never reaches $p"
                ;;
        *) fail "fault point $p: the walk does not know the verb '${p%%.*}' (add its setup here)" ;;
        esac
}

# --- the image store's verbs: import (and the store's steps it shares with pull and commit), pull, commit
# A kill leaves at most unreferenced blobs and layers, or stale temporaries: the repair is gc, or the
# same command again; afterwards, with the image removed, the store holds what it held before.
REG=
# the registry of the pull points and its image: busybox, then a layer with /l2 on top
pull_setup() {
        [ -z "$REG" ] || return 0
        require_cmd docker-registry skopeo umoci busybox curl ss
        umoci init --layout oci >/dev/null
        umoci new --image oci:v1 >/dev/null
        umoci unpack --image oci:v1 bundle >/dev/null
        mkdir -p bundle/rootfs/bin
        cp "$(command -v busybox)" bundle/rootfs/bin/busybox
        ln -s busybox bundle/rootfs/bin/cat
        umoci repack --image oci:v1 bundle >/dev/null
        rm -rf bundle
        umoci unpack --image oci:v1 bundle >/dev/null
        echo "t41 layer 2" >bundle/rootfs/l2
        umoci repack --image oci:v1 bundle >/dev/null
        rm -rf bundle
        start_registry 5241 5299
        REG=127.0.0.1:$REGISTRY_PORT
        assert_success skopeo copy -q --dest-tls-verify=false oci:oci:v1 "docker://$REG/t41/pull:1"
        mkdir -p /etc/cbox/conf.d
        printf '[registry."%s"]\ninsecure = true\n' "$REG" >/etc/cbox/conf.d/50-t41-registry.toml
        on_exit rm -f /etc/cbox/conf.d/50-t41-registry.toml
        on_exit "$CBOX" image rm "$REG/t41/pull:1"
        # the container that runs it (a name of its own: $N's checks stay $N's)
        printf 'image = "%s/t41/pull:1"\ncommand = ["/bin/cat", "/l2"]\n[network]\nmode = "none"\n' \
                "$REG" >t41p.toml
        on_exit "$CBOX" down --volumes t41p
        layers=$(skopeo inspect --tls-verify=false "docker://$REG/t41/pull:1" | jq '.Layers | length')
        assert_eq "$layers" 2 "layers of the pull walk's image"
}
store_count() { # unpacked layers and blobs (blobs/sha256/HEX), temporaries included
        local d n=0
        for d in $STORE/layers $STORE/blobs/sha256; do
                [ ! -d $d ] || n=$((n + $(find $d -mindepth 1 -maxdepth 1 | wc -l)))
        done
        echo $n
}
image_cmd() {
        case ${1%%.*} in
        import | store) echo image import -q imp.tar.gz t41imp:1 ;;
        pull) echo image pull -q "$REG/t41/pull:1" ;;
        commit) echo commit $N t41com:1 ;;
        esac
}
image_walk() {
        local p=$1 how=$2 img before l
        [ "${p%%.*}" != pull ] || pull_setup
        img=$(image_cmd "$p" | awk '{print $NF}')
        before=$(store_count)
        case ${p%%.*} in
        import | store)
                # content of its own each time, so that every step (unpacking a new layer) is reached
                rm -rf imp && mkdir imp && echo "$p $how" >imp/walk
                tar -czf imp.tar.gz -C imp .
                ;;
        commit)
                assert_success "$CBOX" up -q $N.toml
                assert_success "$CBOX" exec $N -- /bin/sh -c "echo '$p $how' > /walk"
                ;;
        pull) ;; # the image is the registry's; none of it is in the store (the last walk's gc took it)
        esac
        # shellcheck disable=SC2046 # the command's words
        killed_at "$p" "$CF" $(image_cmd "$p") || fail "$(image_cmd "$p") never reaches $p"
        case $how in
        gc) assert_success "$CBOX" gc -q ;;
        # shellcheck disable=SC2046
        again) assert_success "$CBOX" $(image_cmd "$p") ;;
        *) fail "unknown repair $how" ;;
        esac
        l=$(find $STORE -name '.tmp-*' | head -3)
        [ -z "$l" ] || fail "killed at $p, repaired by $how: store temporaries left: $l"
        if [ "${p%%.*}" = pull ]; then
                # another pull succeeds (after gc, it has something to do), and what it pulled runs
                # shellcheck disable=SC2046
                [ "$how" != gc ] || assert_success "$CBOX" $(image_cmd "$p")
                local out
                out=$("$CBOX" up -q --foreground t41p.toml) ||
                        fail "killed at $p, repaired by $how: the pulled image does not run"
                assert_eq "$out" "t41 layer 2" "killed at $p, repaired by $how: the pulled image's output"
                assert_success "$CBOX" down --volumes t41p # its storage pins the image
        fi
        if "$CBOX" image inspect "$img" >/dev/null 2>&1; then
                assert_success "$CBOX" image rm "$img"
        fi
        [ "${p%%.*}" != commit ] || assert_success "$CBOX" down --volumes $N
        assert_success "$CBOX" gc -q
        assert_eq "$(store_count)" "$before" "killed at $p, repaired by $how: layers and blobs in the store"
}

# list --all: "starting" while an up is at work (holding the name's lock: stopped at a point), then
# "interrupted" once it was killed there; down releases what it left
info "an up at work, then killed: starting, then interrupted"
CBOX_FAULT_STOP=up.network "$CF" up -q $N.toml >stop.out 2>&1 &
upid=$!
wait_until 120 eval '[ "$(cut -d" " -f3 /proc/$upid/stat)" = T ]'
assert_eq "$(status_of)" starting "$N while its up is stopped at up.network"
kill -KILL $upid
wait $upid 2>/dev/null || :
wait_until 60 eval '[ "$(status_of)" = interrupted ]'
assert_success "$CBOX" down --volumes $N
assert_clean "up stopped at up.network, killed, down"

t0=$SECONDS
walked=0
for p in "${points[@]}"; do
        [[ $p =~ ${CBOX_WALK_ONLY:-.} ]] || continue
        case ${p%%.*} in
        import | store | pull | commit) hows=(${CBOX_WALK_IMAGE_REPAIRS:-gc again}) ;;
        *) hows=("${repairs[@]}") ;;
        esac
        for how in "${hows[@]}"; do
                t=$SECONDS
                case ${p%%.*} in
                import | store | pull | commit) image_walk "$p" "$how" ;;
                *)
                        setup_kill "$p"
                        repair "$how"
                        ;;
                esac
                assert_clean "killed at $p, repaired by $how"
                walked=$((walked + 1))
                info "ok: killed at $p${mode_of[$p]:+ (${mode_of[$p]})}, repaired by $how ($((SECONDS - t)) s)"
        done
done
[ $walked -gt 0 ] || fail "nothing walked"

# nothing pins the image: it can go, and gc leaves no temporaries behind
assert_success "$CBOX" image rm t41busybox:1
assert_success "$CBOX" gc -q
l=$(find $STORE -name '.tmp-*' | head -3)
[ -z "$l" ] || fail "store temporaries left: $l"
info "walked $walked kills in $((SECONDS - t0)) s"
