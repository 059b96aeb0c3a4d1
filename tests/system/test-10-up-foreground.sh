#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox up --foreground: the greeting of examples/hello.toml, the payload's exit code passed through,
# bad input refused with verify's message and nothing created, nothing left after the payload ends.
# cbox-test-timeout: 180
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd

R=$(busybox_rootfs)

# 1. the shipped example (its rootfs is the busybox image at the path busybox_rootfs builds)
out=$("$CBOX" up --foreground "$SRC/examples/hello.toml")
info "hello: $out"
assert_match "$out" '^Hello from hello, PID 2$' "greeting of examples/hello.toml"

# 2. exit codes pass through
cat > t10exit.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "echo bye; exit 3"]
[network]
mode = "none"
E
assert_exit 3 "$CBOX" up --foreground t10exit.toml
cat > t10kill.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "kill -9 \$\$"]
[network]
mode = "none"
E
assert_exit 137 "$CBOX" up --foreground t10kill.toml

# a foreground container leaves nothing behind
for n in hello t10exit t10kill; do
        [ ! -e "/run/cbox/containers/$n" ] || fail "/run/cbox/containers/$n left behind"
        assert_eq "$(systemctl show -P LoadState "cbox-$n.scope")" not-found "unit of $n after exit"
done

# stdin is inherited in the foreground
cat > t10cat.toml <<E
rootfs = "$R"
command = ["/bin/cat"]
[network]
mode = "none"
E
out=$(echo "piped in" | "$CBOX" up --foreground t10cat.toml)
assert_eq "$out" "piped in" "payload's stdin"

# 3. SIGTERM to cbox is forwarded to the payload through init
cat > t10term.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.2; done"]
[network]
mode = "none"
E
"$CBOX" up --foreground t10term.toml > term.out &
pid=$!
on_exit "$CBOX" down t10term
wait_until 30 grep -q ready term.out
kill -TERM $pid
rc=0
wait $pid || rc=$?
assert_eq "$rc" 7 "exit code after a forwarded SIGTERM"
assert_contains "$(cat term.out)" got-term

# 4. invalid input: exit 1, the same lines as `cbox verify`, nothing created
cat > t10bad.toml <<E
rootfs = "relative/path"
command = ["/bin/true"]
bogus_key = 1
[resources]
memory_max = "12Q"
E
rc=0
"$CBOX" up t10bad.toml 2> up.err || rc=$?
assert_eq "$rc" 1 "exit status of up with an invalid file"
"$CBOX" verify t10bad.toml 2> verify.err || true
assert_eq "$(cat up.err)" "$(cat verify.err)" "up's message vs verify's"
assert_contains "$(cat up.err)" "t10bad.toml:3:1: bogus_key: unknown key"
[ ! -e /run/cbox/containers/t10bad ] || fail "state dir created for an invalid file"
[ ! -e /run/cbox/locks/t10bad ] || fail "lock file created for an invalid file"
[ ! -e /var/lib/cbox/containers/t10bad ] || fail "storage created for an invalid file"
assert_eq "$(systemctl show -P LoadState cbox-t10bad.scope)" not-found "unit for an invalid file"

# a valid file that cannot run (missing rootfs) fails and creates nothing either
cat > t10norootfs.toml <<E
rootfs = "/nonexistent/rootfs"
command = ["/bin/true"]
[network]
mode = "none"
E
assert_exit 1 "$CBOX" up t10norootfs.toml
[ ! -e /run/cbox/containers/t10norootfs ] || fail "state dir left by a failed up"
[ ! -e /var/lib/cbox/containers/t10norootfs ] || fail "storage left by a failed up"

# a payload that does not exist: up fails? no — init reports 127 (like a shell)
cat > t10missing.toml <<E
rootfs = "$R"
command = ["/no/such/binary"]
[network]
mode = "none"
E
assert_exit 127 "$CBOX" up --foreground t10missing.toml

# under a service WITHOUT Delegate=yes (systemd-run, a unit of the user's own): not the cbox@.service
# path (its cgroup is not ours to split) but a scope of its own, as from a shell
out=$(systemd-run --quiet --wait --pipe --unit=t10plain.service -p Type=exec --setenv=CBOX_INIT="${CBOX_INIT:-}" \
        "$CBOX" up --foreground "$SRC/examples/hello.toml")
assert_match "$out" '^Hello from hello, PID 2$' "greeting from a service without Delegate=yes"
info "ok"
