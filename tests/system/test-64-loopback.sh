#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Host loopback through the bridge (issue 12, class 7; CVE-2020-8558), tried as an attacker would.
# cbox sets route_localnet on its bridge (so localhost:PORT can be DNAT'ed to a container), which
# also makes the kernel accept packets to 127.0.0.0/8 arriving on the bridge. A probe inside the
# container (raw-udp, AF_PACKET with CAP_NET_RAW added in the file) sends a UDP datagram to
# 127.0.0.1:17999 as a raw frame to the gateway's MAC; a host service bound to 127.0.0.1:17999
# records what it receives.
# Controls: with cbox0 taken out of cbox's set @bridges (the protection deliberately absent) the
# same probe reaches the loopback service — the attack is real here; the probe to the gateway's own
# address on the bridge reaches a service there; a published port answers on localhost:PORT.
# Asserted: with the protection (restored by the next `cbox up`), the loopback service gets nothing.
# cbox-test-timeout: 300
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft curl jq
PROBE=${CBOX_BUILD_ROOT:-}/tests/system/raw-udp
[ -x "$PROBE" ] || skip "raw-udp is not built ($PROBE)"

R=$(busybox_rootfs)
mkdir -p bin
cp "$PROBE" bin/raw-udp
cat >t64.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "mkdir -p /www && echo hello-t64 > /www/index.html && exec httpd -f -p 80 -h /www"]
[network]
ports = ["18064:80"]
[security]
capabilities.add = ["CAP_NET_RAW"]
[[mount]]
type = "bind"
source = "$PWD/bin"
target = "/opt/t"
read_only = true
E
printf 'rootfs = "%s"\ncommand = ["/bin/sleep", "3600"]\n' "$R" >t64b.toml
on_exit "$CBOX" down t64
on_exit "$CBOX" down t64b

assert_success "$CBOX" up t64.toml
addr=$(sed -n 's/^ADDRESS=//p' /run/cbox/containers/t64/state)
gw=$(ip -4 -j addr show cbox0 | jq -r '.[0].addr_info[0].local')
mac=$(cat /sys/class/net/cbox0/address)
info "t64 $addr, gateway $gw ($mac), route_localnet=$(cat /proc/sys/net/ipv4/conf/cbox0/route_localnet)"
assert_eq "$(cat /proc/sys/net/ipv4/conf/cbox0/route_localnet)" 1 "route_localnet of cbox0"

# the host services: one on loopback (the target), one on the gateway address (the control)
: >lo.log
: >gw.log
"$PROBE" listen 127.0.0.1 17999 "$PWD/lo.log" &
on_exit kill $!
"$PROBE" listen "$gw" 17999 "$PWD/gw.log" &
on_exit kill $!
probe() { "$CBOX" exec t64 /opt/t/raw-udp send eth0 "$mac" "$addr" "$1" 17999 "$2"; }
sent_to() { # FILE PAYLOAD: send PAYLOAD to the gateway until FILE shows it (the first frames after
        local i # the listener started may find it not yet bound)
        for i in $(seq 30); do
                probe "$gw" "$2" || return 1
                grep -qx "$2" "$1" && return 0
                sleep 0.5
        done
        return 1
}

# control: the probe reaches a service on the gateway's own address
sent_to gw.log ctrl0 || fail "the probe's frame to $gw:17999 never arrived: $(cat gw.log)"

# control: without cbox0 in @bridges the same frame to 127.0.0.1 gets in (the attack is real)
nft list set inet cbox bridges | grep -q '"cbox0"' || fail "cbox0 is not in @bridges: $(nft list set inet cbox bridges)"
nft delete element inet cbox bridges '{ "cbox0" }'
for i in $(seq 30); do
        probe 127.0.0.1 "loop-open-$i" || fail "the probe could not send"
        grep -q '^loop-open' lo.log && break
        sleep 0.5
done
grep -q '^loop-open' lo.log || fail "without the protection the probe did not reach 127.0.0.1 (probe broken?)"
info "unprotected: the loopback service received $(grep -c '^loop-open' lo.log) frame(s)"

# the next up puts cbox0 back into @bridges
assert_success "$CBOX" up t64b.toml
nft list set inet cbox bridges | grep -q '"cbox0"' || fail "up did not restore cbox0 in @bridges"
: >lo.log
for i in 1 2 3; do
        probe 127.0.0.1 "loop-$i" || fail "the probe could not send"
done
# frames on the veth keep their order: once these controls are in, the loopback ones were handled
sent_to gw.log ctrl1 || fail "control after the loopback frames never arrived"
sent_to gw.log ctrl2 || fail "second control never arrived"
[ ! -s lo.log ] || fail "the host's loopback service received the container's frames: $(cat lo.log)"
nft list chain inet cbox localnet | grep -q 'iifname @bridges ip daddr 127.0.0.0/8 drop' ||
        fail "no drop rule in chain localnet: $(nft list chain inet cbox localnet)"

# localhost publishing from the host keeps working
out=$(curl -sf --max-time 10 http://127.0.0.1:18064/) || fail "curl localhost:18064 failed"
assert_eq "$out" hello-t64 "localhost:18064"

echo "ok: a raw frame to 127.0.0.1 through the gateway is dropped; gateway and localhost:PORT work"
