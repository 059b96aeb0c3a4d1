#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Names that collide with cbox's own state, and link names (issue 12, classes 5 and 6), tried as an
# attacker would:
# - containers named like cbox's internal entries (ipam — the leases' directory before —, x.lock —
#   the lock file of x before —, locks, containers) run without disturbing the leases: two further
#   containers get distinct addresses, and `down ipam` leaves every other lease in place (before,
#   it deleted the leases of every network and the next two containers got one address);
# - webapp-02098x and webapp-07084x hash to one vb- name: both run at once with distinct veths
#   (each marked cbox:NAME), and the up and the down of each leave the other's network working
#   (pinged from the host);
# - a look-alike link made by the test with cbox's naming pattern (vb-t63look, on cbox0) is left
#   alone by the up, the down and `cbox gc` of the container t63look, which gets another name.
# cbox-test-timeout: 420
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip jq ping

R=$(busybox_rootfs)
LEASES=/run/cbox/ipam/cbox0/leases
state_of() { sed -n "s/^$2=//p" "/run/cbox/containers/$1/state"; }
alias_of() { ip -j -d link show "$1" | jq -r '.[0].ifalias // ""'; }
pings() { ping -c 1 -W 3 "$1" >/dev/null 2>&1; }

mk() { printf 'rootfs = "%s"\ncommand = ["/bin/sleep", "3600"]\n' "$R" >"$1.toml"; }
for n in ipam x.lock x locks containers t63a t63b t63c webapp-02098x webapp-07084x t63look; do
        mk "$n"
        on_exit "$CBOX" down "$n"
done

# ---- names of internal state ----
assert_success "$CBOX" up t63a.toml
for n in ipam x.lock x locks containers; do
        assert_success "$CBOX" up "$n.toml"
        [ -f "/run/cbox/containers/$n/state" ] || fail "no state of '$n' under /run/cbox/containers"
done
assert_success "$CBOX" up t63b.toml
a=$(state_of t63a ADDRESS)
b=$(state_of t63b ADDRESS)
info "t63a $a, t63b $b, ipam $(state_of ipam ADDRESS), x.lock $(state_of x.lock ADDRESS)"
assert_ne "$a" "$b" "addresses of t63a and t63b"
# every running container holds exactly one lease, and no two hold one address
for n in ipam x.lock x locks containers t63a t63b; do
        assert_eq "$(grep -c " $n\$" $LEASES)" 1 "leases of $n"
done
assert_eq "$(awk '{print $1}' $LEASES | sort | uniq -d)" "" "an address leased twice"
# x.lock's lock is not x's: both are listed, and downing x.lock leaves x running
"$CBOX" list --json | jq -e '[.[] | .name] | index("x.lock") and index("x")' >/dev/null ||
        fail "list does not show both x and x.lock: $("$CBOX" list --json)"

assert_success "$CBOX" down ipam
assert_success "$CBOX" down x.lock
[ -f $LEASES ] || fail "down ipam removed the lease file"
for n in x locks containers t63a t63b; do
        assert_eq "$(grep -c " $n\$" $LEASES)" 1 "lease of $n after down ipam and x.lock"
done
grep -q " ipam\$" $LEASES && fail "lease of ipam remains after its down"
"$CBOX" status x >/dev/null || fail "x is not running after down x.lock"
assert_success "$CBOX" up t63c.toml
c=$(state_of t63c ADDRESS)
info "t63c $c"
[ "$c" != "$a" ] && [ "$c" != "$b" ] || fail "t63c got the address of t63a or t63b ($c)"
for n in x locks containers t63a t63b t63c; do
        assert_success "$CBOX" down "$n"
done

# ---- two names whose veth names collide ----
assert_success "$CBOX" up webapp-02098x.toml
v1=$(state_of webapp-02098x HOST_IFNAME)
a1=$(state_of webapp-02098x ADDRESS)
wait_until 30 pings "$a1"
assert_success "$CBOX" up webapp-07084x.toml
v2=$(state_of webapp-07084x HOST_IFNAME)
a2=$(state_of webapp-07084x ADDRESS)
info "webapp-02098x: $v1 $a1; webapp-07084x: $v2 $a2"
assert_ne "$v1" "$v2" "veths of the colliding names"
assert_eq "$(alias_of "$v1")" cbox:webapp-02098x "mark of $v1"
assert_eq "$(alias_of "$v2")" cbox:webapp-07084x "mark of $v2"
# the second one's up left the first one's network alone
pings "$a1" || fail "webapp-02098x unreachable after webapp-07084x came up"
wait_until 30 pings "$a2"
assert_success "$CBOX" down webapp-02098x
ip link show "$v2" >/dev/null || fail "down webapp-02098x took $v2"
assert_eq "$(ip -j link show "$v2" | jq -r '.[0].master')" cbox0 "master of $v2"
pings "$a2" || fail "webapp-07084x unreachable after down webapp-02098x"
# and the other way round: up again (its first name is free now), then down the other one
assert_success "$CBOX" up webapp-02098x.toml
a1=$(state_of webapp-02098x ADDRESS)
wait_until 30 pings "$a1"
pings "$a2" || fail "webapp-07084x unreachable after webapp-02098x came up again"
assert_success "$CBOX" down webapp-07084x
pings "$a1" || fail "webapp-02098x unreachable after down webapp-07084x"
assert_success "$CBOX" down webapp-02098x

# ---- a look-alike link, not cbox's ----
ip link add vb-t63look type veth peer name t63look-p
on_exit ip link del vb-t63look
ip link set vb-t63look master cbox0
ip link set vb-t63look up
look=$(ip -j link show vb-t63look | jq -r '.[0].ifindex')
assert_success "$CBOX" up t63look.toml
v=$(state_of t63look HOST_IFNAME)
info "t63look got $v"
assert_ne "$v" vb-t63look "veth of t63look"
assert_eq "$(alias_of "$v")" cbox:t63look "mark of $v"
wait_until 30 pings "$(state_of t63look ADDRESS)"
assert_success "$CBOX" down t63look
assert_success "$CBOX" gc
assert_eq "$(ip -j link show vb-t63look | jq -r '.[0].ifindex')" "$look" "the look-alike after up, down and gc"
ip -j link show vb-t63look | jq -e '.[0].flags | index("UP") != null' >/dev/null ||
        fail "the look-alike was set down"
ip link show t63look-p >/dev/null || fail "the look-alike's peer is gone"

echo "ok: internal names, colliding veth names and a look-alike link"
