#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A host whose firewall drops forwarded traffic (issue 14, "to build" 6): an administrator's table
# with `policy drop` in a forward chain breaks a published port reached from another host whatever
# cbox's own table accepts. Shown: the port answers a client in a namespace of our own through the
# host (the control); with the administrator's drop chain it does not (the drop is real), and `up`
# says which chain drops and what to set, without touching it; with forward_accept_chain naming the
# chain in conf.d (the opt-in), `cbox network reload` adds cbox's accept rules at the head of that
# chain, the port answers, `up` no longer warns; with the opt-in withdrawn, reload removes exactly
# cbox's rules and the chain is as the administrator wrote it. The client lives on a documentation
# subnet that exists only inside the VM:  client 203.0.113.2/24 <-> t32c 203.0.113.1/24 (the host).
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft curl

R=$(busybox_rootfs)
CONF=/etc/cbox/conf.d/90-t32.toml
[ -e "$CONF" ] && fail "$CONF exists already"
if [ ! -d /etc/cbox/conf.d ]; then
        on_exit rmdir /etc/cbox/conf.d
        mkdir -p /etc/cbox/conf.d
fi
on_exit rm -f "$CONF"
on_exit nft delete table inet t32admin
on_exit ip netns del t32client
on_exit ip link del t32c
ip netns add t32client
ip link add t32c type veth peer name eth0 netns t32client
ip addr add 203.0.113.1/24 dev t32c
ip link set t32c up
ip -n t32client addr add 203.0.113.2/24 dev eth0
ip -n t32client link set lo up
ip -n t32client link set eth0 up

cat > t32web.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "mkdir -p /www && echo hello-t32 > /www/index.html && exec httpd -f -p 80 -h /www"]
[network]
ports = ["18032:80"]
E
cat > t32b.toml <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
E
on_exit "$CBOX" down t32web t32b
assert_success "$CBOX" up t32web.toml
answers() { [ "$(ip netns exec t32client curl -s --max-time 3 http://203.0.113.1:18032/)" = hello-t32 ]; }
wait_until 30 answers || fail "control: the published port does not answer the client"

# ---- the administrator's drop chain, no opt-in ----
nft -f - <<'E'
table inet t32admin {
        chain guard {
                type filter hook forward priority 0; policy drop;
                ct state established,related accept
        }
}
E
admin_rules() { nft list chain inet t32admin guard | grep -v 'cbox: accept'; }
before=$(admin_rules)
if answers; then fail "the port answers through a forward chain with policy drop (the drop is not real)"; fi
out=$("$CBOX" up t32b.toml 2>&1) || fail "up under a dropping firewall: $out"
info "$out"
assert_contains "$out" "nftables chain inet t32admin guard (policy drop) drops forwarded traffic" "up's warning"
assert_contains "$out" 'forward_accept_chain = "inet t32admin guard"' "what up says to set"
assert_eq "$(nft list chain inet t32admin guard)" "$before" "the administrator's chain without the opt-in"
if answers; then fail "the port answers although the drop chain was left alone"; fi
assert_success "$CBOX" down t32b

# ---- the opt-in ----
echo 'forward_accept_chain = "inet t32admin guard"' > "$CONF"
assert_success "$CBOX" verify t32b.toml
out=$("$CBOX" network reload 2>&1) || fail "network reload with the opt-in: $out"
chain=$(nft list chain inet t32admin guard)
info "$chain"
assert_contains "$chain" 'iifname "cbox0" accept comment "cbox: accept from cbox0"' "cbox's rule from the bridge"
assert_contains "$chain" 'oifname "cbox0" accept comment "cbox: accept to cbox0"' "cbox's rule to the bridge"
assert_contains "$chain" "policy drop" "the chain's policy"
assert_eq "$(admin_rules)" "$before" "the administrator's rules with the opt-in"
wait_until 10 answers || fail "the published port does not answer with the opt-in"
out=$("$CBOX" up t32b.toml 2>&1) || fail "up with the opt-in: $out"
[[ $out != *"drops forwarded traffic"* ]] || fail "up warns with the opt-in: $out"
assert_success "$CBOX" network reload
assert_eq "$(nft list chain inet t32admin guard | grep -c 'cbox: accept')" 2 "cbox's rules after a second reload (once)"

# a bad value is refused with the file and key named
echo 'forward_accept_chain = "inet t32admin"' > "$CONF"
out=$("$CBOX" verify t32b.toml 2>&1) && fail "verify accepted a chain without its table: $out"
assert_contains "$out" "90-t32.toml" "verify names the file"
assert_contains "$out" "forward_accept_chain" "verify names the key"

# ---- withdrawn ----
rm -f "$CONF"
assert_success "$CBOX" network reload
assert_eq "$(nft list chain inet t32admin guard)" "$before" "the chain after the opt-in is withdrawn"
if answers; then fail "the port still answers with the opt-in withdrawn"; fi
info "ok"
