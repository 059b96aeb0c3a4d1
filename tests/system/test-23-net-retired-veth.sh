#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Releasing a container's network retires its veth instead of deleting it (the kernel deletes the
# pair with the container's network namespace): after `down` the name vb-NAME is free at once and,
# with nothing else holding the namespace, no link of the container is left. While another process
# holds that namespace (nsenter), the retired host end stays as a down vbx-IFINDEX on the bridge;
# `cbox gc` deletes it, and leaves alone a link that merely looks like one (a dummy named vbx-…, and a
# veth named vbx-… on no bridge of ours).
# cbox-test-timeout: 180
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nsenter jq

R=$(busybox_rootfs)
cat >t23.toml <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
E
on_exit "$CBOX" down t23
on_exit stop_unit cbox-t23.scope cbox-t23-cleanup.service

links() { ip -j link show | jq -r '.[].ifname'; }

# ---- nothing holds the namespace: after down no link of the container is left ----
assert_success "$CBOX" up t23.toml
ifindex=$(ip -j link show vb-t23 | jq -r '.[0].ifindex')
assert_match "$ifindex" '^[0-9]+$' "ifindex of vb-t23"
assert_success "$CBOX" down t23
links | grep -qx vb-t23 && fail "vb-t23 still exists after down"
wait_until 10 sh -c "! ip link show vbx-$ifindex >/dev/null 2>&1"

# ---- a process holds the namespace: the retired end stays, down, on the bridge; gc deletes it ----
assert_success "$CBOX" up t23.toml
ifindex=$(ip -j link show vb-t23 | jq -r '.[0].ifindex')
leader=$("$CBOX" list --json | jq -r '.[] | select(.name == "t23") | .leader')
assert_match "$leader" '^[0-9]+$' "leader of t23"
nsenter --net="/proc/$leader/ns/net" sleep 600 &
holder=$!
on_exit kill "$holder"
wait_until 10 sh -c "[ \"\$(readlink /proc/$holder/ns/net)\" = \"\$(readlink /proc/$leader/ns/net)\" ]"
assert_success "$CBOX" down t23
links | grep -qx vb-t23 && fail "vb-t23 still exists after down"
ip link show "vbx-$ifindex" >/dev/null || fail "no retired vbx-$ifindex while its namespace is held"
# the name is free: the same container comes up again at once, while the old pair still exists
assert_success "$CBOX" up t23.toml
ip link show vb-t23 >/dev/null || fail "no vb-t23 for the new t23"
assert_success "$CBOX" down t23
info "retired: $(ip -br link show "vbx-$ifindex")"
assert_eq "$(ip -j link show "vbx-$ifindex" | jq -r '.[0].operstate')" DOWN "retired link state"
assert_eq "$(ip -j link show "vbx-$ifindex" | jq -r '.[0].master')" cbox0 "retired link's bridge"

# look-alikes gc must leave alone
ip link add vbx-90001 type dummy
on_exit ip link del vbx-90001
ip link add vbx-90002 type veth peer name t23-peer
on_exit ip link del vbx-90002

out=$("$CBOX" gc 2>&1) || fail "gc: $out"
info "$out"
ip link show "vbx-$ifindex" >/dev/null 2>&1 && fail "gc left the retired vbx-$ifindex"
ip link show vbx-90001 >/dev/null 2>&1 || fail "gc deleted a dummy named vbx-90001"
ip link show vbx-90002 >/dev/null 2>&1 || fail "gc deleted a veth vbx-90002 on no bridge of ours"
# the holder's namespace lost its end with the pair
nsenter --net="/proc/$holder/ns/net" ip -br link show eth0 >/dev/null 2>&1 &&
        fail "the container's eth0 survived gc of its host end"
info "ok"
