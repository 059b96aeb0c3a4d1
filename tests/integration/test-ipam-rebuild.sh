#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A leases file that does not parse (issue 14: it blocked allocation on its network for good) is
# rebuilt, by the next command that needs it, from its lines that still parse plus the address each
# container's state records; `cbox down` of a container then releases its lease as usual. In a network
# namespace of its own, with its own run_root and storage_root; the containers are state files made by
# hand (no systemd needed). Allocation by `up` after a rebuild: tests/system/test-42-ipam-rebuild.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root" >&2; exit 77; }
: "${CBOX:?CBOX must point to the cbox binary}"
for c in jq ip unshare; do
        command -v $c >/dev/null || { echo "SKIP: $c missing" >&2; exit 77; }
done
if [ -z "${CBOX_IPAM_IN_NETNS:-}" ]; then
        unshare --net true 2>/dev/null || { echo "SKIP: cannot unshare --net" >&2; exit 77; }
        exec unshare --net env CBOX_IPAM_IN_NETNS=1 bash "$0" "$@"
fi

T=$(mktemp -d /tmp/test-ipam-rebuild.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

export CBOX_CONFIG_ROOT="$T/root"
mkdir -p "$CBOX_CONFIG_ROOT/etc/cbox/conf.d" "$T/store"
printf 'run_root = "%s"\nstorage_root = "%s"\n[network.lab]\nsubnet = "10.99.0.0/24"\nmasquerade = false\n' \
        "$T/run" "$T/store" >"$CBOX_CONFIG_ROOT/etc/cbox/conf.d/50-test.toml"
ip link set lo up

# two containers known from their state (no leader: exited), one lease only the file knows
for c in alive:10.99.0.7 gone:10.99.0.9; do
        mkdir -p "$T/run/containers/${c%%:*}"
        printf 'NAME=%s\nNETWORK=lab\nADDRESS=%s\nMODE=detached\nEXIT_STATUS=0\nEXIT_TIME=1\n' \
                "${c%%:*}" "${c#*:}" >"$T/run/containers/${c%%:*}/state"
done
mkdir -p "$T/run/ipam/lab"
printf '10.99.0.8 keep\n10.99.0.x broken\n\001\002 garbage\nno-space-here\n10.99.0.9 someone-else\n' \
        >"$T/run/ipam/lab/leases"

leases() { "$CBOX" network inspect lab --json | jq -c '[.leases[] | [.address, .owner]]'; }
if "$CBOX" network inspect lab --json >/dev/null 2>&1; then
        echo "note: network inspect reads the damaged file" >&2
fi

out=$("$CBOX" down gone 2>&1) || fail "down gone: $out"
grep -q "cannot be read, rebuilding them from the containers' state" <<<"$out" ||
        fail "down did not say it rebuilt the leases: $out"
# gone's lease (which its state records; the file's other owner of .9 loses) is released, alive's is
# back from its state, the file's good line kept
got=$(leases) || fail "network inspect after the rebuild"
[ "$got" = '[["10.99.0.7","alive"],["10.99.0.8","keep"]]' ] || fail "leases after the rebuild: $got"
[ ! -e "$T/run/containers/gone" ] || fail "down left the state of gone"

# a second down finds the file readable: no rebuild
out=$("$CBOX" down alive 2>&1) || fail "down alive: $out"
grep -q rebuilding <<<"$out" && fail "rebuilt a readable file: $out"
got=$(leases)
[ "$got" = '[["10.99.0.8","keep"]]' ] || fail "leases after down alive: $got"

[ $fails = 0 ] || exit 1
echo "ipam rebuild: ok"
