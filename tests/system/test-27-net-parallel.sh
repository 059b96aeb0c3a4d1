#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 50 `cbox up` at the same time (issue 4, must show 3; issue 14, 3): 50 distinct addresses, 50 leases, 50 veths on
# the bridge, 50 published ports (concurrent nftables batches: each retries on a changed ruleset
# generation until a deadline, none is lost); then 50 parallel downs leave no lease, veth or element of them.
# cbox-test-timeout: 900
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft

R=$(busybox_rootfs)
N=50
names=()
for i in $(seq -w 1 $N); do
        names+=("t27-$i")
        cat > t27-$i.toml <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
[network]
ports = ["190$i:80"]
E
        on_exit "$CBOX" down "t27-$i"
done

info "starting $N containers at once"
start=$SECONDS
pids=()
for n in "${names[@]}"; do
        "$CBOX" up -q $n.toml > $n.log 2>&1 &
        pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
                echo "up ${names[$i]} failed: $(cat ${names[$i]}.log)" >&2
                failed=$((failed + 1))
        fi
done
assert_eq "$failed" 0 "failed ups"
info "$N parallel ups took $((SECONDS - start)) s"

addrs=$(for n in "${names[@]}"; do sed -n 's/^ADDRESS=//p' /run/cbox/containers/$n/state; done)
assert_eq "$(echo "$addrs" | grep -c .)" $N "containers with an address"
assert_eq "$(echo "$addrs" | sort -u | wc -l)" $N "distinct addresses"
for n in "${names[@]}"; do
        assert_eq "$(grep -c " $n\$" /run/cbox/ipam/cbox0/leases)" 1 "leases of $n"
        assert_contains "$(ip -o link show "vb-$n")" "master cbox0" "veth of $n"
done
ports=$(nft list map inet cbox ports)
for i in $(seq -w 1 $N); do
        assert_match "$ports" " 190$i comment \"t27-$i\" : 10\.88\." "element of port 190$i"
done
# each container's own address answers from its own eth0
n=${names[7]}
a=$(sed -n 's/^ADDRESS=//p' /run/cbox/containers/$n/state)
assert_contains "$("$CBOX" exec $n -- ip -4 addr show eth0)" "$a/16" "eth0 of $n"

info "downing them at once"
pids=()
for n in "${names[@]}"; do
        "$CBOX" down $n > $n.log 2>&1 &
        pids+=($!)
done
for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || fail "down ${names[$i]} failed: $(cat ${names[$i]}.log)"
done
if grep -qs " t27-" /run/cbox/ipam/cbox0/leases; then fail "leases remain: $(grep " t27-" /run/cbox/ipam/cbox0/leases)"; fi
if ip -o link show | grep -q "vb-t27-"; then fail "veths remain"; fi
if nft list map inet cbox ports | grep -q "comment \"t27-"; then fail "elements remain"; fi
if systemctl list-units --all --no-legend 'cbox-t27-*' | grep -q .; then
        fail "units remain: $(systemctl list-units --all --no-legend 'cbox-t27-*')"
fi
if machinectl list --no-legend | grep -q t27-; then fail "machines remain: $(machinectl list --no-legend)"; fi
if ls /run/cbox/containers | grep -q '^t27-'; then fail "state remains: $(ls /run/cbox/containers)"; fi
info "ok"
