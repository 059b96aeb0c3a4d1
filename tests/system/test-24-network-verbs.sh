#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 4, the last pieces:
#   - `cbox network list|inspect [--json]` show the bridge, a container's lease (address → owner) and
#     its published ports (proto, host port → container address:port, owner);
#   - /etc/hostname inside the container reads its hostname (our file, bound read-only);
#   - a crashed container (its state dir removed by hand, its init SIGKILLed: nothing released its
#     network) leaves elements and a lease behind; `cbox gc` removes them and its leftover veth, and
#     leaves another running container's elements, lease and veth, a link that merely looks like ours
#     and another nftables table alone.
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft jq

R=$(busybox_rootfs)
LEASES=/run/cbox/ipam/cbox0/leases

cat > t24a.toml <<E
rootfs = "$R"
hostname = "t24-host"
command = ["/bin/sleep", "3600"]
[network]
ports = ["20600:80", "20601:81/udp", "20610-20612:20610-20612"]
E
cat > t24b.toml <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
[network]
ports = ["20620:80"]
E
on_exit "$CBOX" down t24a
on_exit "$CBOX" down t24b
on_exit stop_unit cbox-t24a.scope cbox-t24a-cleanup.service
# elements of the port maps owned by $1
elems() {
        nft -j list table inet cbox |
                jq --arg o "$1" '[.nftables[] | select(.map) | .map.elem // [] | .[] | .[0].elem // . |
                        select(.comment == $o)] | length'
}
has_lease() { grep -qs " $1\$" $LEASES; }

assert_success "$CBOX" up -q t24a.toml
assert_success "$CBOX" up -q t24b.toml
addr_a=$("$CBOX" list --json | jq -r '.[] | select(.name == "t24a") | .address')
addr_b=$("$CBOX" list --json | jq -r '.[] | select(.name == "t24b") | .address')
info "t24a at $addr_a, t24b at $addr_b"

info "network list"
list=$("$CBOX" network list --json)
assert_eq "$(jq -r '.[] | select(.name == "cbox0") | .bridge' <<<"$list")" cbox0 "bridge of cbox0"
assert_eq "$(jq -r '.[] | select(.name == "cbox0") | .bridge_exists' <<<"$list")" true "cbox0 exists"
assert_eq "$(jq -r '.[] | select(.name == "cbox0") | .subnet' <<<"$list")" 10.88.0.0/16 "subnet of cbox0"
assert_eq "$(jq -r '.[] | select(.name == "cbox0") | .gateway' <<<"$list")" 10.88.0.1 "gateway of cbox0"
assert_eq "$(jq -r '.[] | select(.name == "cbox0") | .masquerade' <<<"$list")" true "masquerade of cbox0"
assert_match "$("$CBOX" network list)" "cbox0 +cbox0 +10\.88\.0\.0/16 +10\.88\.0\.1 +yes +present" "network list"

info "network inspect"
ins=$("$CBOX" network inspect cbox0 --json)
assert_eq "$(jq -r --arg a "$addr_a" '.leases[] | select(.address == $a) | .owner' <<<"$ins")" t24a "lease of t24a"
assert_eq "$(jq -r --arg a "$addr_b" '.leases[] | select(.address == $a) | .owner' <<<"$ins")" t24b "lease of t24b"
assert_eq "$(jq -c '[.ports[] | select(.owner == "t24a")] | length' <<<"$ins")" 3 "port entries of t24a"
assert_eq "$(jq -c '.ports[] | select(.host_port == 20600) |
        [.protocol, .host_address, .container_address, .container_port, .owner]' <<<"$ins")" \
        "[\"tcp\",\"0.0.0.0\",\"$addr_a\",80,\"t24a\"]" "tcp port 20600"
assert_eq "$(jq -c '.ports[] | select(.host_port == 20601) | [.protocol, .container_port]' <<<"$ins")" \
        '["udp",81]' "udp port 20601"
assert_eq "$(jq -c '.ports[] | select(.host_port == 20610) | [.host_port_end, .container_port_end]' <<<"$ins")" \
        '[20612,20612]' "port range 20610-20612"
assert_contains "$("$CBOX" network inspect cbox0)" "tcp *:20600 -> $addr_a:80 (t24a)" "inspect text"
assert_exit 1 "$CBOX" network inspect t24-no-such-network
assert_exit 2 "$CBOX" network frobnicate

info "/etc/hostname"
assert_eq "$("$CBOX" exec t24a /bin/cat /etc/hostname)" t24-host "/etc/hostname of t24a"
assert_eq "$("$CBOX" exec t24b /bin/cat /etc/hostname)" t24b "/etc/hostname of t24b"
assert_fails "$CBOX" exec t24a /bin/sh -c 'echo x > /etc/hostname'

info "crash t24a: its state dir removed, its init SIGKILLed"
leader=$("$CBOX" list --json | jq -r '.[] | select(.name == "t24a") | .leader')
rm -rf /run/cbox/containers/t24a
# (a gc now would stop the scope, cbox's by its description, and release its network at once: issue 14,
# tests/system/test-41-fault-walk; here the network is left behind by the crash for gc's network part)
kill -KILL "$leader"
wait_until 30 sh -c "! kill -0 $leader 2>/dev/null"
wait_until 30 sh -c '! systemctl is-active -q cbox-t24a.scope'
wait_until 30 sh -c '! machinectl status t24a >/dev/null 2>&1'
assert_eq "$(elems t24a)" 3 "elements of t24a left behind (the range is one interval element)"
assert_success has_lease t24a
# the kernel took the veth with the namespace; recreate one as a crash could leave it (a link of ours,
# marked cbox:t24a as cbox marks its veths, whose namespace lives on), plus a look-alike whose owner
# cbox does not know
ip link del vb-t24a 2>/dev/null || true
assert_success ip link add vb-t24a type veth peer name t24a-peer
assert_success ip link set vb-t24a alias cbox:t24a
assert_success ip link add vb-t24zz type dummy
on_exit ip link del vb-t24zz
on_exit ip link del vb-t24a
nft add table inet t24foreign
on_exit nft delete table inet t24foreign
nft add set inet t24foreign s '{ type inet_service; }'
nft add element inet t24foreign s '{ 20600 comment "t24a" }'

assert_success "$CBOX" gc
assert_eq "$(elems t24a)" 0 "elements of t24a after gc"
if has_lease t24a; then fail "lease of t24a remains after gc"; fi
if ip link show vb-t24a >/dev/null 2>&1; then fail "veth of t24a remains after gc"; fi
if ip link show t24a-peer >/dev/null 2>&1; then fail "veth peer of t24a remains after gc"; fi
info "t24b and foreign things untouched"
assert_eq "$(elems t24b)" 1 "elements of t24b after gc"
assert_success has_lease t24b
assert_success ip link show vb-t24b >/dev/null
assert_success ip link show vb-t24zz >/dev/null
assert_contains "$(nft list set inet t24foreign s)" 20600 "the foreign table's element"
assert_match "$("$CBOX" list)" "t24b +running" "t24b still runs"
assert_eq "$("$CBOX" network inspect cbox0 --json | jq -c '[.leases[].owner, .ports[].owner | select(startswith("t24"))] | unique')" \
        '["t24b"]' "owners in inspect after gc"
assert_success "$CBOX" gc
assert_eq "$(elems t24b)" 1 "elements of t24b after a second gc"
assert_success "$CBOX" down t24b
info "ok"
