#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The firewall heals: a flush of the whole ruleset (as `nft flush ruleset`, Debian's nftables.conf on
# every start of nftables.service, or a firewall manager's reload do) wipes `inet cbox`, and the
# running containers' published ports go dead (the control). `cbox network reload` puts back the
# table, each network's rules and every running container's ports as they were published at up
# (twice: idempotent), and the shipped cbox-network-reload.service does it by itself after
# `systemctl restart nftables`: the ports answer again, the time it took is printed.
# cbox-test-timeout: 300
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd nft curl busybox
UNIT_SRC="${CBOX_BUILD_ROOT:-}/units/cbox-network-reload.service"
[ -f "$UNIT_SRC" ] || skip "the unit is not built ($UNIT_SRC)"
systemctl cat nftables.service >/dev/null 2>&1 || skip "no nftables.service here"
[ -f /etc/nftables.conf ] && grep -q '^flush ruleset' /etc/nftables.conf ||
        skip "/etc/nftables.conf does not flush the ruleset"

R=$(busybox_rootfs)
for n in a b; do
        cat >t31$n.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "mkdir -p /www && echo hello-from-t31$n > /www/index.html; exec httpd -f -p 80 -h /www"]
E
done
printf '[network]\nports = ["18181:80"]\n' >>t31a.toml
printf '[network]\nports = ["18182:80", "127.0.0.1:18183:80"]\n' >>t31b.toml
on_exit "$CBOX" down t31a t31b
assert_success "$CBOX" up t31a.toml
assert_success "$CBOX" up t31b.toml

# answers PORT NAME: localhost:PORT is served by container NAME
answers() { [ "$(curl -sf --max-time 2 "http://127.0.0.1:$1/")" = "hello-from-$2" ]; }
all_answer() { answers 18181 t31a && answers 18182 t31b && answers 18183 t31b; }
wait_until 30 all_answer
elements() { nft list table inet cbox 2>/dev/null | grep -cE '1818[1-3]' || true; }
before=$(elements)
info "elements with the published ports: $before"
[ "$before" -ge 3 ] || fail "expected the three ports in inet cbox, found $before lines"

# ---- the control: a flushed ruleset kills the ports ----
nft flush ruleset
if answers 18181 t31a; then fail "the port still answers after nft flush ruleset (the control is void)"; fi

# ---- cbox network reload ----
out=$("$CBOX" network reload) || fail "network reload: $out"
info "$out"
assert_contains "$out" "2 running container(s), 3 port map(s)" "what reload says"
wait_until 10 all_answer
assert_eq "$(elements)" "$before" "elements after reload"
assert_success "$CBOX" network reload
assert_eq "$(elements)" "$before" "elements after a second reload (idempotent)"
assert_eq "$("$CBOX" network reload --json | jq -r .ports)" 3 "reload --json"

# ---- the shipped unit after a restart of nftables.service ----
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/cbox |\1$CBOX |" "$UNIT_SRC" >/run/systemd/system/cbox-network-reload.service
stop_all() {
        systemctl disable --runtime cbox-network-reload.service 2>/dev/null || true
        systemctl stop nftables.service cbox-network-reload.service 2>/dev/null || true
        rm -f /run/systemd/system/cbox-network-reload.service
        systemctl daemon-reload
}
on_exit stop_all
systemctl daemon-reload
assert_success systemctl enable --runtime cbox-network-reload.service
t0=${EPOCHREALTIME/./}
assert_success systemctl restart nftables.service
wait_until 60 all_answer
t1=${EPOCHREALTIME/./}
info "ports answered again $(((t1 - t0) / 1000)) ms after 'systemctl restart nftables' began"
assert_eq "$(systemctl is-active cbox-network-reload.service)" active "the reload unit ran"
# and again: PartOf= restarts it with nftables
nft flush ruleset
if answers 18181 t31a; then fail "still answers after the second flush"; fi
t0=${EPOCHREALTIME/./}
assert_success systemctl restart nftables.service
wait_until 60 all_answer
t1=${EPOCHREALTIME/./}
info "second restart: ports answered again after $(((t1 - t0) / 1000)) ms"
assert_eq "$(elements)" "$before" "elements after the restarts"
# nothing of other tables was touched by cbox: nftables.conf's own table is there as it loaded it
nft list tables | grep -q 'inet filter' || fail "nftables.conf's table is missing"

assert_success "$CBOX" down t31a t31b
info "ok"
