#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 12, class 3: the caller's terminal. Under a pty (script), `up --foreground` and `exec` without
# -t run a probe that reads its sid and tty from /proc/self/stat, opens /dev/tty and TIOCSTIs a command
# into fds 0, 1, 2: the payload is in a session of its own without a controlling terminal (tty_nr 0,
# /dev/tty ENXIO), every TIOCSTI is refused (EPERM: the caller's terminal is not its ctty), and the
# command it tried to type never runs in the caller's shell. Control: under `exec -t` the same probe has
# the container's own pty as ctty and its TIOCSTI works (kernel 6.1 allows it) — into that pty only.
# cbox-test-timeout: 300
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd script

PROBE=${CBOX_BUILD_ROOT:-}/tests/system/sec-probe
[ -x "$PROBE" ] || skip "sec-probe is not built ($PROBE)"
R=$(busybox_rootfs)
W=/var/lib/cbox-test-66
rm -rf "$W"; mkdir -p "$W/opt"
on_exit rm -rf "$W"
cp "$PROBE" "$W/opt/sec-probe"
MARK="$W/injected"
INJECT="touch $MARK
"

cat > "$W/t66.toml" <<E
rootfs = "$R"
command = ["/opt/t/sec-probe", "tty", "$INJECT"]
[[mount]]
source = "$W/opt"
target = "/opt/t"
read_only = true
E
sed 's|^command = .*|command = ["/bin/sleep", "3600"]|' "$W/t66.toml" > "$W/t66x.toml"

# the caller's shell: bash under script's pty; whatever is typed into that pty after cbox returns is
# read by the shell (read -t 0 would race; bash reads the rest of its input from the tty queue: the
# trailing `cat` consumes whatever was injected, and the shell then runs it through sh)
under_pty() {
        script -qec "$1; stty -icanon min 0 time 0; head -c 4096 | sh" /dev/null </dev/null
}

assert_denied() {
        local out=$1 what=$2
        assert_contains "$out" "tty_nr=0" "$what: no controlling terminal"
        assert_match "$out" "sid=[1-9]" "$what: a session of its own"
        assert_contains "$out" "devtty ENXIO" "$what: /dev/tty"
        for fd in 0 1 2; do
                assert_contains "$out" "tiocsti-$fd EPERM" "$what: TIOCSTI on fd $fd"
        done
        [ ! -e "$MARK" ] || fail "$what: the injected command ran in the caller's shell"
}

# 1. up --foreground on a terminal
out=$(under_pty "$CBOX up --foreground --quiet $W/t66.toml" | tr -d '\r')
info "up --foreground: $(echo "$out" | tr '\n' ' ')"
assert_denied "$out" "up --foreground"

# 2. exec without -t on a terminal
on_exit "$CBOX" down t66x
assert_success "$CBOX" up -q "$W/t66x.toml"
out=$(under_pty "$CBOX exec t66x /opt/t/sec-probe tty '$INJECT'" | tr -d '\r')
info "exec: $(echo "$out" | tr '\n' ' ')"
assert_denied "$out" "exec"

# 3. control: exec -t, the container's own pty is the probe's ctty; its TIOCSTI lands there (read by
#    nobody, the probe exits) and still not in the caller's shell
out=$(under_pty "$CBOX exec -t t66x /opt/t/sec-probe tty '$INJECT'" | tr -d '\r')
info "exec -t: $(echo "$out" | tr '\n' ' ')"
assert_contains "$out" "devtty OK" "exec -t: /dev/tty is the container's pty"
assert_contains "$out" "tiocsti-devtty OK" "exec -t: TIOCSTI into its own pty"
assert_match "$out" "sid=[1-9]" "exec -t: a session of its own"
[ ! -e "$MARK" ] || fail "exec -t: the injected command ran in the caller's shell"
