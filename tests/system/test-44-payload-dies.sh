#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 14: the payload dies behind cbox's back — detached, and in the foreground with its cbox killed
# first — and no cbox command follows: the companion cbox-NAME-cleanup.service releases the network
# (nft elements, lease, veth) as the scope goes, and `list --all` shows the container as ended, not
# running. (Under cbox@NAME.service the service's ExecStopPost= does the same: test-50.)
# Also: an administrator's `systemctl stop` of a detached container's scope releases its network too
# (the companion's cleanup runs after the scope's stop, once the payload is gone); and the companion a
# foreground cbox leaves to stop by itself at exit does not get in the way of the next up of the name,
# foreground or detached, started at once.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd jq nft ip

R=$(busybox_rootfs)
LEASES=/run/cbox/ipam/cbox0/leases
elems_of() {
        local j
        j=$(nft -j list table inet cbox 2>/dev/null) || { echo 0; return; }
        jq --arg o "$1" '[.nftables[] | select(.map) | .map.elem // [] | .[] | .[0].elem // . |
                select(.comment == $o)] | length' <<<"$j"
}
links_of() { ip -j link show | jq -r --arg a "cbox:$1" '.[] | select(.ifalias == $a) | .ifname'; }
state_of() { "$CBOX" list --all --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .state'; }
released() {
        [ "$(elems_of "$1")" = 0 ] && ! grep -qs " $1\$" $LEASES && [ -z "$(links_of "$1")" ]
}

port=20644
for n in t44d t44f t44s t44r; do
        cat > $n.toml <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
[network]
ports = ["$port:80"]
E
        port=$((port + 1))
        on_exit "$CBOX" down $n
        on_exit stop_unit cbox-$n.scope cbox-$n-cleanup.service
done

info "detached"
assert_success "$CBOX" up -q t44d.toml
assert_eq "$(elems_of t44d)" 1 "elements of t44d"
assert_success systemctl kill --signal=KILL cbox-t44d.scope
wait_until 60 released t44d
wait_until 30 eval '[ "$(state_of t44d)" != running ]'
info "t44d: $(state_of t44d)"
assert_match "$(state_of t44d)" '^(exited|dead)$' "t44d in list --all"

info "foreground, cbox killed first"
"$CBOX" up -q --foreground t44f.toml >fg.log 2>&1 &
fg=$!
wait_until 60 eval '[ "$(state_of t44f)" = running ]'
assert_eq "$(elems_of t44f)" 1 "elements of t44f"
kill -KILL $fg
wait $fg || :
# the payload runs on without its cbox; nothing is released yet
assert_eq "$(state_of t44f)" running "t44f after its cbox was killed"
assert_success systemctl kill --signal=KILL cbox-t44f.scope
wait_until 60 released t44f
wait_until 30 eval '[ "$(state_of t44f)" != running ]'
info "t44f: $(state_of t44f)"
assert_match "$(state_of t44f)" '^(exited|dead)$' "t44f in list --all"

info "detached, its scope stopped by systemctl"
assert_success "$CBOX" up -q t44s.toml
assert_eq "$(elems_of t44s)" 1 "elements of t44s"
assert_success systemctl stop cbox-t44s.scope
wait_until 60 released t44s
assert_match "$(state_of t44s)" '^(exited|dead)$' "t44s in list --all"

info "the same name up again at once: foreground, then detached"
sed -i 's|"/bin/sleep", "3600"|"/bin/true"|' t44r.toml
for i in 1 2 3; do
        assert_success "$CBOX" up -q --foreground t44r.toml
done
sed -i 's|"/bin/true"|"/bin/sleep", "3600"|' t44r.toml
assert_success "$CBOX" up -q t44r.toml
assert_eq "$(state_of t44r)" running "t44r detached after three foreground runs"
assert_success "$CBOX" down t44r
assert_success "$CBOX" up -q t44r.toml
assert_success "$CBOX" down t44r
wait_until 60 released t44r
wait_until 60 eval '[ "$(systemctl show -P LoadState cbox-t44r-cleanup.service)" = not-found ]'
[ ! -e /run/cbox/containers/t44r ] || fail "state of t44r left"

assert_success "$CBOX" down t44d
assert_success "$CBOX" down t44f
assert_success "$CBOX" down t44s
info "ok"
