#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bad network input is refused with a clear error naming the key, and nothing is created (issue 4,
# must show 6): a host port another container publishes (single port and overlapping range), a
# static address leased to another container, a static address outside the subnet or the gateway's,
# an unknown network name; four concurrent ups publishing the same port: exactly one wins and the
# losers leave nothing behind. "Nothing" = no veth, no lease, no map element, no state dir, no unit,
# no storage dir of the refused container.
# cbox-test-timeout: 180
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft

R=$(busybox_rootfs)
LEASES=/run/cbox/ipam/cbox0/leases

mk() { # NAME [network] lines...
        local name=$1
        shift
        {
                echo "rootfs = \"$R\""
                echo 'command = ["/bin/sleep", "3600"]'
                echo "[network]"
                printf '%s\n' "$@"
        } > $name.toml
        on_exit "$CBOX" down $name
}
nothing_of() {
        local n=$1
        if ip link show vb-$n >/dev/null 2>&1; then fail "$n: veth vb-$n exists"; fi
        if grep -qs " $n\$" $LEASES; then fail "$n: has a lease"; fi
        if nft list map inet cbox ports 2>/dev/null | grep -q "comment \"$n\""; then fail "$n: has port elements"; fi
        if nft list map inet cbox addrports 2>/dev/null | grep -q "comment \"$n\""; then fail "$n: has addrports elements"; fi
        if nft list map inet cbox portranges 2>/dev/null | grep -q "comment \"$n\""; then fail "$n: has portranges elements"; fi
        [ ! -e /run/cbox/containers/$n ] || fail "$n: state dir /run/cbox/containers/$n exists"
        [ ! -e /var/lib/cbox/containers/$n ] || fail "$n: storage dir exists"
        assert_eq "$(systemctl show -P LoadState cbox-$n.scope)" not-found "unit of $n"
        assert_eq "$(systemctl show -P LoadState cbox-$n-cleanup.service)" not-found "companion of $n"
}
# refused NAME PATTERN...: up fails, its stderr matches every PATTERN, nothing of NAME exists
refused() {
        local n=$1 rc=0 err
        shift
        "$CBOX" up -q $n.toml 2> $n.err || rc=$?
        err=$(cat $n.err)
        info "$n: exit $rc: $err"
        [ $rc != 0 ] || fail "up $n succeeded"
        for p in "$@"; do assert_contains "$err" "$p" "error of $n"; done
        nothing_of $n
}

mk t29a 'address = "10.88.250.10"' 'ports = ["19500:80", "127.0.0.1:19501:53/udp"]'
assert_success "$CBOX" up -q t29a.toml
assert_eq "$(sed -n 's/^ADDRESS=//p' /run/cbox/containers/t29a/state)" 10.88.250.10 "static address of t29a"

info "a host port another container publishes"
mk t29port 'ports = ["19600:80", "19500:8080"]'
refused t29port "t29port.toml:" "network.ports[1]" "19500" "t29a"
mk t29range 'ports = ["19490-19510:19490-19510"]'
refused t29range "network.ports[0]" "t29a"
mk t29udp 'ports = ["19501:53/udp"]'
refused t29udp "network.ports[0]" "19501" "t29a"
# the same number on the other protocol is another port
mk t29tcp 'ports = ["19501:53"]'
assert_success "$CBOX" up -q t29tcp.toml
assert_success "$CBOX" down t29tcp

info "a static address leased to another container"
mk t29addr 'address = "10.88.250.10"'
refused t29addr "t29addr.toml:" "network.address" "10.88.250.10" "t29a"

info "a static address outside the subnet, the gateway"
mk t29out 'address = "10.99.0.5"'
refused t29out "network.address" "outside the subnet"
mk t29gw 'address = "10.88.0.1"'
refused t29gw "network.address" "gateway"

info "an unknown network"
mk t29net 'network = "nosuch"'
refused t29net "network.network" "nosuch"

info "four ups publishing the same port at once: one wins"
racers=(t29d t29e t29f t29g)
pids=()
for n in "${racers[@]}"; do mk $n 'ports = ["19700:80"]'; done
for n in "${racers[@]}"; do
        "$CBOX" up -q $n.toml 2> $n.err &
        pids+=($!)
done
winners=()
for i in "${!racers[@]}"; do
        n=${racers[$i]}
        if wait "${pids[$i]}"; then
                winners+=($n)
        else
                info "$n lost: $(cat $n.err)"
                assert_contains "$(cat $n.err)" "19700" "error of $n"
                assert_contains "$(cat $n.err)" "$n.toml:" "error of $n"
                nothing_of $n
        fi
done
assert_eq "${#winners[@]}" 1 "winners (${winners[*]:-none})"
assert_eq "$(nft list map inet cbox ports | grep -c ' 19700 comment')" 1 "elements of port 19700"
assert_contains "$(nft list map inet cbox ports)" " 19700 comment \"${winners[0]}\"" "the winner's element"

# t29a is untouched by all of that
assert_contains "$(nft list map inet cbox ports)" " 19500 comment \"t29a\"" "t29a's port"
assert_eq "$(grep -c " t29a\$" $LEASES)" 1 "t29a's lease"
info "ok"
