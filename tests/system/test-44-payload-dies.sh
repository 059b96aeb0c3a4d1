#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 14: the payload dies behind cbox's back — detached, and in the foreground with its cbox killed
# first — and no cbox command follows: the companion cbox-NAME-cleanup.service releases the network
# (nft elements, lease, veth) as the scope goes, and `list --all` shows the container as ended, not
# running. (Under cbox@NAME.service the service's ExecStopPost= does the same: test-50.)
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
for n in t44d t44f; do
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

assert_success "$CBOX" down t44d
assert_success "$CBOX" down t44f
info "ok"
