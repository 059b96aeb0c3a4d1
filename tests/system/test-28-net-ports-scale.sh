#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Published ports live in nftables maps, not rules (issue 4, must show 4 and 5):
#   - `nft -j list table inet cbox` shows the same number of rules with containers publishing 1, 32
#     and 100 ports (and the maps grow by exactly those elements, each carrying its owner);
#   - `cbox down` of one container removes exactly its elements, its veth and its lease, and leaves the
#     others' alone; after the last down only the skeleton (no element) remains;
#   - a detached container whose payload exits by itself releases lease, elements and veth without any
#     cbox command (the cbox-NAME-cleanup.service companion); the delay is measured and printed.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft jq

R=$(busybox_rootfs)
LEASES=/run/cbox/ipam/cbox0/leases

# ports of container $1 with $2 ports from host port $3 up (container ports 1001…)
mk() {
        local name=$1 n=$2 base=$3 ports="" i
        for ((i = 0; i < n; i++)); do
                ports+="${i:+, }\"$((base + i)):$((1001 + i))\""
        done
        ports=${ports#, }
        cat > $name.toml <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
[network]
ports = [$ports]
E
}
rules() { nft -j list table inet cbox | jq '[.nftables[] | select(.rule)] | length'; }
# elements of the ports map owned by $1 (their comment), or all with no argument
elems() {
        nft -j list map inet cbox ports |
                jq --arg o "${1:-}" '[.nftables[] | select(.map) | .map.elem // [] | .[] | .[0].elem // . |
                        select($o == "" or .comment == $o)] | length'
}
has_lease() { grep -qs " $1\$" $LEASES; }

mk t28p1 1 20000
mk t28p32 32 20100
mk t28p100 100 20200
for n in t28p1 t28p32 t28p100; do on_exit "$CBOX" down $n; done

assert_success "$CBOX" up -q t28p1.toml
base_rules=$(rules)
info "rules with 1 port: $base_rules"
assert_eq "$(elems t28p1)" 1 "elements of t28p1"
assert_success "$CBOX" up -q t28p32.toml
assert_eq "$(rules)" "$base_rules" "rules with 1 + 32 ports"
assert_eq "$(elems t28p32)" 32 "elements of t28p32"
t0=$(date +%s%N)
assert_success "$CBOX" up -q t28p100.toml
info "up with 100 ports: $((($(date +%s%N) - t0) / 1000000)) ms"
assert_eq "$(rules)" "$base_rules" "rules with 1 + 32 + 100 ports"
assert_eq "$(elems t28p100)" 100 "elements of t28p100"
assert_eq "$(elems)" 133 "elements in the ports map"
assert_contains "$(nft list map inet cbox ports)" " 20299 comment \"t28p100\" : " "last port of t28p100"

info "down t28p32 removes exactly its own"
assert_success "$CBOX" down t28p32
assert_eq "$(elems t28p32)" 0 "elements of t28p32 after its down"
assert_eq "$(elems t28p1)" 1 "elements of t28p1 after t28p32's down"
assert_eq "$(elems t28p100)" 100 "elements of t28p100 after t28p32's down"
if ip link show vb-t28p32 >/dev/null 2>&1; then fail "veth of t28p32 remains"; fi
assert_success ip link show vb-t28p1 >/dev/null
assert_success ip link show vb-t28p100 >/dev/null
if has_lease t28p32; then fail "lease of t28p32 remains"; fi
assert_success has_lease t28p1
assert_success has_lease t28p100
assert_eq "$(rules)" "$base_rules" "rules after a down"

assert_success "$CBOX" down t28p1
assert_success "$CBOX" down t28p100
assert_eq "$(elems)" 0 "elements after the last down"
# only the skeleton: no element in any of the three maps (when no other container runs)
if [ "$("$CBOX" list --json | jq length)" = 0 ]; then
        assert_eq "$(nft -j list table inet cbox | jq '[.nftables[] | select(.map) | .map.elem // [] | length] | add')" 0 \
                "elements of all maps after the last down"
fi
assert_eq "$(rules)" "$base_rules" "the skeleton's rules after the last down"
for n in t28p1 t28p100; do
        if has_lease $n; then fail "lease of $n remains"; fi
        if ip link show vb-$n >/dev/null 2>&1; then fail "veth of $n remains"; fi
done

info "a payload that exits by itself"
cat > t28exit.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "sleep 2; exit 3"]
[network]
ports = ["20500:80", "20501:81/udp"]
E
on_exit "$CBOX" down t28exit
assert_success "$CBOX" up -q t28exit.toml
assert_eq "$(elems t28exit)" 2 "elements of t28exit"
assert_success has_lease t28exit
wait_until 30 test -s /run/cbox/containers/t28exit/exit
wait_until 30 sh -c "! grep -qs ' t28exit\$' $LEASES && ! ip link show vb-t28exit >/dev/null 2>&1"
released=$(date +%s%N)
assert_eq "$(elems t28exit)" 0 "elements of t28exit after it exited"
exit_usec=$(sed -n 's/^EXIT_TIME=//p' /run/cbox/containers/t28exit/exit)
info "lease, veth and elements released $(((released / 1000 - exit_usec) / 1000)) ms after the payload exited"
assert_match "$("$CBOX" list --all)" "t28exit +exited" "list --all after the exit"
assert_success "$CBOX" down t28exit
info "ok"
