#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The network modules' tests build bridges, veths, addresses, routes, nftables tables and sysctls —
# always inside network namespaces they create. Run them here and prove the machine's own network
# was not touched: no new links or addresses, the same nftables tables, the same forwarding sysctls.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root" >&2; exit 77; }
B=${CBOX_BUILD_ROOT:?CBOX_BUILD_ROOT not set}
for t in test-netlink test-nft; do
        [ -x "$B/tests/unit/$t" ] || { echo "SKIP: $B/tests/unit/$t not built" >&2; exit 77; }
done
command -v nft >/dev/null || { echo "SKIP: nft CLI missing" >&2; exit 77; }

snapshot() {
        # only what the tests create (names and addresses they use), so unrelated host activity
        # during the run cannot make this flaky
        ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(cbt|vb-)' || true
        ip -o -4 addr show | grep -E ' (10\.200\.|10\.201\.|10\.88\.|192\.168\.77\.)' || true
        nft list tables
        cat /proc/sys/net/ipv4/ip_forward
        for f in /proc/sys/net/ipv4/conf/*/route_localnet; do echo "$f $(cat "$f")"; done
}

before=$(snapshot)
"$B/tests/unit/test-netlink" >/dev/null 2>&1 || { echo "test-netlink failed" >&2; exit 1; }
"$B/tests/unit/test-nft" >/dev/null 2>&1 || { echo "test-nft failed" >&2; exit 1; }
after=$(snapshot)

if [ "$before" != "$after" ]; then
        echo "host network changed by the network tests:" >&2
        diff <(echo "$before") <(echo "$after") >&2 || true
        exit 1
fi
echo "host network untouched (links, addresses, nft tables, ip_forward, route_localnet)"
