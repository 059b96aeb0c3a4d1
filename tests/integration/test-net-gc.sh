#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `cbox network list|inspect` and the network part of `cbox gc` on the host, without systemd, in a
# network namespace of its own (the machine's network is never looked at or touched) and with its own
# run_root and storage_root. The leftovers of crashed containers are made by hand: map elements of
# `inet cbox` whose owner (comment) has no state dir, veths marked (alias cbox:NAME) as such owners'.
# gc removes exactly those; a container with a state dir, look-alike links without the mark (even
# named after a known owner) and another table's elements stay. (Leases and a real crash are covered by tests/system/test-24 in the VM.)
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root" >&2; exit 77; }
: "${CBOX:?CBOX must point to the cbox binary}"
for c in nft jq ip unshare; do
        command -v $c >/dev/null || { echo "SKIP: $c missing" >&2; exit 77; }
done
if [ -z "${CBOX_NET_GC_IN_NETNS:-}" ]; then
        unshare --net true 2>/dev/null || { echo "SKIP: cannot unshare --net" >&2; exit 77; }
        exec unshare --net env CBOX_NET_GC_IN_NETNS=1 bash "$0" "$@"
fi

T=$(mktemp -d /tmp/test-net-gc.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

export CBOX_CONFIG_ROOT="$T/root"
mkdir -p "$CBOX_CONFIG_ROOT/etc/cbox/conf.d" "$T/run/containers/alive" "$T/store/containers/stale"
printf 'run_root = "%s"\nstorage_root = "%s"\n[network.lab]\nsubnet = "10.99.0.0/24"\nmasquerade = false\n' \
        "$T/run" "$T/store" >"$CBOX_CONFIG_ROOT/etc/cbox/conf.d/50-test.toml"
ip link set lo up

# network list: the default network and ours; no bridge exists yet
out=$("$CBOX" network list --json) || fail "network list --json"
[ "$(jq -c '[.[] | .name] | sort' <<<"$out")" = '["cbox0","lab"]' ] || fail "networks: $out"
[ "$(jq -c '.[] | select(.name == "lab") | [.bridge, .subnet, .gateway, .masquerade, .bridge_exists]' <<<"$out")" = \
        '["lab","10.99.0.0/24","10.99.0.1",false,false]' ] || fail "lab in network list: $out"
ip link add lab type bridge
[ "$("$CBOX" network list --json | jq '.[] | select(.name == "lab") | .bridge_exists')" = true ] ||
        fail "bridge lab not seen"
"$CBOX" network inspect nope >/dev/null 2>&1 && fail "inspect of an unknown network succeeds"
rc=0 && "$CBOX" network inspect >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "inspect without a name is not a usage error ($rc)"

# leftovers: elements of ghost (gone) and alive (has a state dir); veths marked as cbox's (alias
# cbox:NAME) of ghost (one named by the pattern, one renamed), of orphan (known only from its mark)
# and of alive; look-alikes without the mark: vb-stale (stale is known from containers/stale) and
# vb-unknown. gc goes by the mark, never by the name.
nft -f - <<'E'
table inet cbox {
        map ports {
                type inet_proto . inet_service : ipv4_addr . inet_service
                elements = { tcp . 20700 comment "ghost" : 10.88.0.5 . 80,
                             udp . 20701 comment "ghost" : 10.88.0.5 . 53,
                             tcp . 20702 comment "alive" : 10.88.0.6 . 80 }
        }
}
table inet foreign {
        set s {
                type inet_service
                elements = { 20700 comment "ghost" }
        }
}
E
ip link add vb-ghost type veth peer name ghost-peer
ip link add xx-ghost type veth peer name ghost-peer2
ip link add vb-orphan type veth peer name orphan-peer
ip link add vb-stale type veth peer name stale-peer
ip link add vb-alive type veth peer name alive-peer
ip link add vb-unknown type veth peer name unknown-peer
ip link set vb-ghost alias cbox:ghost
ip link set xx-ghost alias cbox:ghost
ip link set vb-orphan alias cbox:orphan
ip link set vb-alive alias cbox:alive

out=$("$CBOX" network inspect cbox0 --json) || fail "network inspect cbox0"
[ "$(jq -c '[.ports[] | .owner] | sort' <<<"$out")" = '["alive","ghost","ghost"]' ] || fail "ports before gc: $out"
[ "$(jq -c '.ports[] | select(.host_port == 20701) | [.protocol, .container_address, .container_port]' <<<"$out")" = \
        '["udp","10.88.0.5",53]' ] || fail "udp entry: $out"

out=$("$CBOX" gc --json 2>&1) || fail "gc: $out"
[[ $out == *'"ports_removed":2'* && $out == *'"links_removed":3'* ]] || fail "gc --json: $out"
owners=$(nft -j list map inet cbox ports | jq -c '[.nftables[] | select(.map) | .map.elem // [] | .[] | .[0].elem.comment] | sort')
[ "$owners" = '["alive"]' ] || fail "elements after gc: $owners"
ip link show vb-ghost >/dev/null 2>&1 && fail "vb-ghost remains"
ip link show ghost-peer >/dev/null 2>&1 && fail "the peer of vb-ghost remains"
ip link show xx-ghost >/dev/null 2>&1 && fail "xx-ghost (marked cbox:ghost) remains"
ip link show vb-orphan >/dev/null 2>&1 && fail "vb-orphan (marked cbox:orphan) remains"
ip link show vb-stale >/dev/null 2>&1 || fail "gc removed vb-stale (a look-alike without cbox's mark)"
ip link show vb-alive >/dev/null 2>&1 || fail "gc removed vb-alive (its container has a state dir)"
ip link show vb-unknown >/dev/null 2>&1 || fail "gc removed vb-unknown (no owner cbox knows)"
[[ $(nft list set inet foreign s) == *20700* ]] || fail "gc touched another table"
ip link show lab >/dev/null 2>&1 || fail "gc removed a bridge"
out=$("$CBOX" gc --json 2>&1) || fail "second gc: $out"
[[ $out == *'"ports_removed":0'* ]] || fail "second gc removed ports: $out"

[ $fails = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok: network list/inspect and gc of ports and marked veths, look-alikes and the rest untouched"
