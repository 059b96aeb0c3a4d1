#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 14: a leases file that does not parse no longer blocks allocation for good. With t42a running,
# the file of cbox0 is overwritten with garbage; `up` of t42b rebuilds it from the containers' state
# (t42a's lease comes back) and gets another address; down of both leaves no lease of theirs.
# cbox-test-timeout: 180
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd jq

R=$(busybox_rootfs)
LEASES=/run/cbox/ipam/cbox0/leases
for n in t42a t42b; do
        cat > $n.toml <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
E
        on_exit "$CBOX" down $n
done
addr() { "$CBOX" list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .address'; }

assert_success "$CBOX" up -q t42a.toml
a=$(addr t42a)
assert_match "$a" '^10\.88\.' "address of t42a"
assert_contains "$(cat $LEASES)" "$a t42a"
printf '\001garbage\nnot a lease\n' >$LEASES

assert_success "$CBOX" up -q t42b.toml 2>up.err
cat up.err
assert_contains "$(cat up.err)" "cannot be read, rebuilding them from the containers' state"
b=$(addr t42b)
assert_match "$b" '^10\.88\.' "address of t42b"
assert_ne "$b" "$a" "address of t42b"
assert_contains "$(cat $LEASES)" "$a t42a"
assert_contains "$(cat $LEASES)" "$b t42b"
if grep -q garbage $LEASES; then fail "the garbage line is still in the leases file"; fi

assert_success "$CBOX" down t42a
assert_success "$CBOX" down t42b
if grep -qE ' t42[ab]$' $LEASES; then fail "a lease of t42a/t42b is left: $(cat $LEASES)"; fi
info "ok"
