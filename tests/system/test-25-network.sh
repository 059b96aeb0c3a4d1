#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bridge networking through cbox up/down: eth0 with a lease from cbox0 in the container, the gateway
# reachable, a published port reachable from the host (127.0.0.1 and the host's own address) and
# after down no veth, no map element, no lease of the container.
# cbox-test-timeout: 180
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft curl

R=$(busybox_rootfs)
N=t25web
cat > $N.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "mkdir -p /www && echo hello-from-\$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"]
[network]
ports = ["18080:80"]
dns = ["192.0.2.53"]
hosts = ["db.internal:10.99.0.5"]
E
on_exit "$CBOX" down --volumes $N
assert_success "$CBOX" up $N.toml

json=$("$CBOX" list --json | tr -d ' \n')
addr=$(echo "$json" | sed -n 's/.*"address":"\([0-9.]*\)".*/\1/p')
assert_match "$addr" '^10\.88\.[0-9]+\.[0-9]+$' "container address in list --json"
info "address $addr"
assert_contains "$(ip -4 addr show cbox0)" "10.88.0.1/16" "bridge address"
veth=$(sed -n 's/^HOST_IFNAME=//p' /run/cbox/containers/$N/state)
assert_eq "$veth" "vb-$N" "veth name"
assert_contains "$(ip link show master cbox0)" "$veth" "veth on the bridge"
assert_contains "$("$CBOX" exec $N -- ip -4 addr show eth0)" "$addr/16" "eth0 in the container"
assert_contains "$("$CBOX" exec $N -- ip route)" "default via 10.88.0.1" "default route"
assert_success "$CBOX" exec $N -- ping -c 1 -W 5 10.88.0.1
assert_eq "$("$CBOX" exec $N -- cat /etc/resolv.conf)" "nameserver 192.0.2.53" "network.dns"
hosts=$("$CBOX" exec $N -- cat /etc/hosts)
assert_match "$hosts" "$addr"$'\t'"$N" "/etc/hosts names the container's address"
assert_match "$hosts" "10.99.0.5"$'\t'"db.internal" "network.hosts"
assert_contains "$(nft list map inet cbox ports)" "18080" "published port in the ports map"

wait_until 20 curl -sf --max-time 2 -o /dev/null "http://$addr:80/"
assert_eq "$(curl -sf --max-time 5 http://127.0.0.1:18080/)" "hello-from-$N" "via 127.0.0.1:18080"
hostaddr=$(ip -4 -o addr show scope global | awk '$2 != "cbox0" {print $4}' | cut -d/ -f1 | head -1)
if [ -n "$hostaddr" ]; then
        assert_eq "$(curl -sf --max-time 5 "http://$hostaddr:18080/")" "hello-from-$N" "via $hostaddr:18080"
fi

companion=cbox-$N-cleanup.service
assert_eq "$(systemctl is-active $companion)" active "cleanup companion"
assert_success "$CBOX" down $N
assert_eq "$(systemctl show -P LoadState $companion)" not-found "companion after down"
if ip link show "$veth" 2>/dev/null; then fail "veth $veth remains"; fi
if nft list map inet cbox ports | grep -q 18080; then fail "port element remains"; fi
if grep -qs " $N\$" /run/cbox/ipam/cbox0/leases; then fail "lease of $N remains"; fi

# a detached payload that exits by itself: the companion releases its network, list --all keeps it
cat > t25exit.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "sleep 1; exit 4"]
[network]
ports = ["18081:81"]
E
on_exit "$CBOX" down t25exit
assert_success "$CBOX" up t25exit.toml
v2=$(sed -n 's/^HOST_IFNAME=//p' /run/cbox/containers/t25exit/state)
assert_eq "$v2" vb-t25exit "veth of t25exit"
assert_contains "$(nft list map inet cbox ports)" "18081"
wait_until 30 sh -c "'$CBOX' list --all | grep -q 't25exit *exited'"
wait_until 20 sh -c "! ip link show $v2 >/dev/null 2>&1"
wait_until 10 sh -c "! nft list map inet cbox ports | grep -q 18081"
if grep -qs " t25exit\$" /run/cbox/ipam/cbox0/leases; then fail "lease of t25exit remains after it exited"; fi
assert_match "$("$CBOX" list --all)" "t25exit +exited +cbox-t25exit.scope +- +4 " "list --all"
assert_eq "$(systemctl show -P LoadState cbox-t25exit-cleanup.service)" not-found "companion after the exit"
assert_success "$CBOX" down t25exit
info "ok"
