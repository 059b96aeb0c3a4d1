#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# units/cbox@.service as an administrator uses it (issue 6, "must show"): /etc/cbox/web.toml (the
# shipped examples/web.toml with its drop-in) → `systemctl enable --now cbox@web` is active with the
# payload in the unit (status shows its PID and output); a drop-in changes memory_max for the next
# start; `cbox update` changes cpu.max live; stop leaves nothing; SIGKILL of the payload with
# Restart=on-failure restarts it, SIGKILL of cbox itself still releases the network (ExecStopPost);
# examples/worker.toml's failing health check (on_failure = "exit") fails the unit and it restarts; a
# typo in a drop-in fails the start and `systemctl status` names file:line:key.
# cbox-test-timeout: 600
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft curl

R=$(busybox_rootfs)
[ "$R" = /var/lib/cbox/rootfs/busybox ] || fail "the examples expect the busybox rootfs at $R"
UNIT_SRC="$CBOX_BUILD_ROOT/units/cbox@.service"
[ -f "$UNIT_SRC" ] || skip "$UNIT_SRC not built"
PORT=18090

cleanup_all() {
        systemctl disable --now cbox@web.service cbox@worker.service 2>/dev/null || true
        systemctl reset-failed cbox@web.service cbox@worker.service 2>/dev/null || true
        rm -rf /etc/cbox/web.toml /etc/cbox/web.toml.d /etc/cbox/worker.toml \
                /run/systemd/system/cbox@.service /run/systemd/system/cbox@web.service.d \
                /run/systemd/system/cbox@worker.service.d
        systemctl daemon-reload
        "$CBOX" down --volumes web 2>/dev/null || true
        "$CBOX" down --volumes worker 2>/dev/null || true
}
on_exit cleanup_all

# the unit as meson built it, pointing at the cbox under test
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/cbox |\1$CBOX |" "$UNIT_SRC" >/run/systemd/system/cbox@.service
grep -q "^ExecStart=$CBOX up --foreground" /run/systemd/system/cbox@.service || fail "unit not rewritten"
if [ -n "${CBOX_INIT:-}" ]; then
        for n in web worker; do
                mkdir -p /run/systemd/system/cbox@$n.service.d
                printf '[Service]\nEnvironment=CBOX_INIT=%s\n' "$CBOX_INIT" \
                        >/run/systemd/system/cbox@$n.service.d/10-init.conf
        done
fi
mkdir -p /etc/cbox/web.toml.d
sed "s/\"8080:80\"/\"$PORT:80\"/" "$SRC/examples/web.toml" >/etc/cbox/web.toml
cp "$SRC/examples/web.toml.d/50-limits.toml" /etc/cbox/web.toml.d/
systemctl daemon-reload

leader_of() { sed -n 's/^LEADER_PID=//p' /run/cbox/containers/$1/state 2>/dev/null || true; }

# 1. enable --now → active (ready after the first health check), payload in the unit, output in status
assert_success systemctl enable --now cbox@web.service
assert_eq "$(systemctl is-active cbox@web.service)" active "web after enable --now"
assert_eq "$(systemctl is-enabled cbox@web.service)" enabled "web enabled"
cg=$(unit_cgroup cbox@web.service)
leader=$(leader_of web)
[ -n "$leader" ] || fail "no leader in the state"
assert_contains "$(cat "$cg/payload/cgroup.procs")" "$leader" "init in <service>/payload"
assert_match "$("$CBOX" list)" "web +running +cbox@web.service +$leader " "cbox list shows the service"
assert_eq "$(sed -n 's/^STATUS=//p' /run/cbox/containers/web/health)" healthy "health after READY"
assert_eq "$(curl -s --max-time 10 http://127.0.0.1:$PORT/)" "hello from web" "the published port"
wait_until 20 sh -c "journalctl -u cbox@web.service --no-pager -o cat | grep -q 'response:200'"
st=$(systemctl status cbox@web.service --no-pager -n 20 2>&1 || true)
assert_contains "$st" "$leader" "systemctl status shows the payload's init"
assert_contains "$st" "httpd" "systemctl status shows the payload"
assert_contains "$st" "response:200" "systemctl status shows the payload's output"
assert_file_eq "$cg/memory.max" $((256 * 1024 * 1024))
assert_file_eq "$cg/pids.max" 64

# 2. a drop-in changes memory_max; after a restart memory.max follows
printf '[resources]\nmemory_max = "300M"\n' >/etc/cbox/web.toml.d/50-mem.toml
assert_success systemctl restart cbox@web.service
cg=$(unit_cgroup cbox@web.service)
assert_file_eq "$cg/memory.max" $((300 * 1024 * 1024))
assert_ne "$(leader_of web)" "$leader" "a new container after restart"

# 3. cbox update applies cpu_quota at runtime, without a restart; other changes are only named
leader=$(leader_of web)
assert_file_eq "$cg/cpu.max" "50000 100000"
sed -i 's/^cpu_quota *= *"50%"/cpu_quota  = "80%"/' /etc/cbox/web.toml
rc=0; out=$("$CBOX" update web 2>&1) || rc=$?
info "$out"
assert_eq "$rc" 0 "update of cpu_quota"
assert_contains "$out" "applied cpu_quota" "update output"
assert_file_eq "$cg/cpu.max" "80000 100000"
assert_eq "$(leader_of web)" "$leader" "no restart by update"
assert_eq "$(systemctl show -P CPUQuotaPerSecUSec cbox@web.service)" 800ms "the unit's property"
sed -i 's/^hostname = "web"/hostname = "web2"/' /etc/cbox/web.toml
rc=0; out=$("$CBOX" update web) || rc=$?
assert_eq "$rc" 3 "update with a change that needs a restart"
assert_contains "$out" "needs a restart: hostname" "update names the key"
assert_eq "$(leader_of web)" "$leader" "not restarted"
sed -i 's/^hostname = "web2"/hostname = "web"/' /etc/cbox/web.toml
assert_success "$CBOX" update web

# cbox start/stop/restart of a container with /etc/cbox/NAME.toml go through the unit
assert_contains "$("$CBOX" status web)" "healthy" "cbox status shows the health"
assert_success "$CBOX" stop web
assert_eq "$(systemctl is-active cbox@web.service || true)" inactive "cbox stop stops the unit"
[ ! -e /run/cbox/containers/web ] || fail "state of web remains after cbox stop"
assert_success "$CBOX" start web
assert_eq "$(systemctl is-active cbox@web.service)" active "cbox start starts the unit"
leader=$(leader_of web)
assert_success "$CBOX" restart web
assert_eq "$(systemctl is-active cbox@web.service)" active "cbox restart: unit active"
assert_ne "$(leader_of web)" "$leader" "cbox restart: a new container"
leader=$(leader_of web)
cg=$(unit_cgroup cbox@web.service)
# bash completion offers the running container's name
got=$(bash --norc -c '. "$1"; COMP_WORDS=("$2" stop w); COMP_CWORD=2; _cbox; printf "%s\n" "${COMPREPLY[@]}"' \
        x "$SRC/src/cli/completion/cbox.bash" "$CBOX")
assert_eq "$got" web "completion of a running container's name"

# 4. stop leaves nothing: mounts, cgroup, veth, port element, lease, state
veth=$(sed -n 's/^HOST_IFNAME=//p' /run/cbox/containers/web/state)
[ -n "$veth" ] || fail "no veth in the state"
assert_contains "$(nft list map inet cbox ports)" "$PORT"
assert_success systemctl stop cbox@web.service
assert_eq "$(systemctl is-active cbox@web.service || true)" inactive "web after stop"
assert_eq "$(systemctl show -P Result cbox@web.service)" success "stop result"
if grep -E "/run/cbox/containers/web|containers/web/" /proc/self/mountinfo; then fail "a mount of web remains"; fi
[ ! -d "$cg/payload" ] || fail "cgroup $cg/payload remains"
if ip link show "$veth" 2>/dev/null; then fail "veth $veth remains"; fi
if nft list map inet cbox ports | grep -q "$PORT"; then fail "port element remains"; fi
if grep -qs " web\$" /run/cbox/ipam/cbox0/leases; then fail "lease of web remains"; fi
[ ! -e /run/cbox/containers/web ] || fail "state of web remains"
[ ! -d "/proc/$leader" ] || fail "init $leader remains"
if "$CBOX" list --all | grep -q "^web "; then fail "list --all still shows web"; fi

# 5. Restart=on-failure: SIGKILL of the payload's init → restarted with a new leader
mkdir -p /run/systemd/system/cbox@web.service.d
printf '[Service]\nRestart=on-failure\nRestartSec=1\n' >/run/systemd/system/cbox@web.service.d/50-restart.conf
systemctl daemon-reload
assert_success systemctl start cbox@web.service
leader=$(leader_of web)
kill -KILL "$leader"
wait_until 60 sh -c "[ \"\$(systemctl show -P NRestarts cbox@web.service)\" -ge 1 ] && systemctl is-active -q cbox@web.service && [ -n \"\$(sed -n 's/^LEADER_PID=//p' /run/cbox/containers/web/state)\" ] && ! grep -q '^LEADER_PID=$leader\$' /run/cbox/containers/web/state"
assert_ne "$(leader_of web)" "$leader" "new leader after the restart"
assert_eq "$(curl -s --max-time 10 http://127.0.0.1:$PORT/)" "hello from web" "serving again"

# SIGKILL of cbox itself (no restart): ExecStopPost releases the network and the state
rm /run/systemd/system/cbox@web.service.d/50-restart.conf
systemctl daemon-reload
veth=$(sed -n 's/^HOST_IFNAME=//p' /run/cbox/containers/web/state)
main=$(systemctl show -P MainPID cbox@web.service)
kill -KILL "$main"
wait_until 60 sh -c "[ \"\$(systemctl show -P ActiveState cbox@web.service)\" = failed ]"
if ip link show "$veth" 2>/dev/null; then fail "veth $veth remains after cbox was killed"; fi
if nft list map inet cbox ports | grep -q "$PORT"; then fail "port element remains after cbox was killed"; fi
if grep -qs " web\$" /run/cbox/ipam/cbox0/leases; then fail "lease remains after cbox was killed"; fi
[ ! -e /run/cbox/containers/web ] || fail "state of web remains after cbox was killed: $(cat /run/cbox/containers/web/state)"
systemctl reset-failed cbox@web.service

# 6. examples/worker.toml: healthy, then wedged → unhealthy → on_failure = "exit" → unit fails, restarts
cp "$SRC/examples/worker.toml" /etc/cbox/worker.toml
mkdir -p /run/systemd/system/cbox@worker.service.d
printf '[Service]\nRestart=on-failure\nRestartSec=1\n' >/run/systemd/system/cbox@worker.service.d/50-restart.conf
systemctl daemon-reload
assert_success systemctl start cbox@worker.service
assert_eq "$(sed -n 's/^STATUS=//p' /run/cbox/containers/worker/health)" healthy "worker health after READY"
assert_contains "$("$CBOX" list)" "healthy" "cbox list shows the health"
wcg=$(unit_cgroup cbox@worker.service)
assert_file_eq "$wcg/cpu.max" "25000 100000"
wleader=$(leader_of worker)
assert_success "$CBOX" exec worker -- touch /tmp/wedged
wait_until 120 sh -c "[ \"\$(systemctl show -P NRestarts cbox@worker.service)\" -ge 1 ]"
wait_until 60 sh -c "systemctl is-active -q cbox@worker.service"
assert_ne "$(leader_of worker)" "$wleader" "worker restarted"
j=$(journalctl -u cbox@worker.service --no-pager -o cat)
assert_contains "$j" "worker: unhealthy" "the journal says why"
assert_contains "$j" "health check failed" "failed checks are logged"
assert_eq "$(sed -n 's/^STATUS=//p' /run/cbox/containers/worker/health)" healthy "healthy again after the restart"
systemctl stop cbox@worker.service

# 7. a typo in a drop-in: verify stops the start, systemctl status names file:line:key
printf '[resources]\nmemroy_max = "1G"\n' >/etc/cbox/web.toml.d/60-typo.toml
assert_fails systemctl start cbox@web.service
st=$(systemctl status cbox@web.service --no-pager -n 20 2>&1 || true)
assert_contains "$st" "/etc/cbox/web.toml.d/60-typo.toml:2:1: resources.memroy_max: unknown key" "status names the typo"
[ ! -e /run/cbox/containers/web ] || fail "state of web after a failed verify"
rm /etc/cbox/web.toml.d/60-typo.toml
systemctl reset-failed cbox@web.service
info "ok"
