#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 12, class 3: the caller's terminal. The caller is a shell under script's pty; sec-probe runs
# inside the container, reads its sid and tty from /proc/self/stat, opens /dev/tty and TIOCSTIs a
# command into fds 0, 1, 2 (and /dev/tty when it opened); whatever lands in the caller's pty is then
# read by the caller's shell and run, so a created file is an escape.
#  - control: the same probe run by the caller's shell itself (its ctty is the pty) types the command
#    into it, and the shell runs it: the probe and the detection work;
#  - `up --foreground` with stdio the caller's terminal but stdin not one (no pty is made), and `exec`
#    without -t (all three fds the caller's terminal): a session of its own, no controlling terminal
#    (tty_nr 0, /dev/tty ENXIO), TIOCSTI refused (EPERM) on each fd of the caller's terminal, nothing
#    runs in the caller's shell;
#  - `exec -t` and `up --foreground` on a terminal: a pty of the container's own (another devpts) is
#    the probe's ctty; its TIOCSTI works, into that pty only (read back by the probe), and nothing
#    runs in the caller's shell. The terminal's mode is restored afterwards, its size copied in, the
#    exit status is the payload's, a signal to cbox still reaches the payload, and a window size
#    change (SIGWINCH) is passed on to the container's pty.
# cbox-test-timeout: 600
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd script stty

PROBE=${CBOX_BUILD_ROOT:-}/tests/system/sec-probe
[ -x "$PROBE" ] || skip "sec-probe is not built ($PROBE)"
R=$(busybox_rootfs)
W=/var/lib/cbox-test-66
rm -rf "$W"
mkdir -p "$W/opt" "$W/io"
on_exit rm -rf "$W"
cp "$PROBE" "$W/opt/sec-probe"
MARK="$W/injected"
INJECT="touch $MARK"
HOSTPTS=$(stat -c %d /dev/pts) # st_dev of the host's devpts, where script's pty is

# t66: the probe as the payload, then exit 7. The TOML "\n" is the newline that makes the typed text a
# command line for the caller's shell.
cat > "$W/t66.toml" <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "/opt/t/sec-probe tty \"\$0\" \$1; exit 7", "$INJECT\n", "-"]
[network]
mode = "none"
[[mount]]
source = "$W/opt"
target = "/opt/t"
read_only = true
E
sed 's|, "-"]$|, "readback"]|' "$W/t66.toml" > "$W/t66rb.toml"
grep -q '"readback"\]' "$W/t66rb.toml" || fail "t66rb.toml: $(cat "$W/t66rb.toml")"
sed 's|^command = .*|command = ["/bin/sleep", "3600"]|' "$W/t66.toml" > "$W/t66x.toml"
# t66s: waits for signals on a pty: SIGWINCH (from the kernel, when cbox resizes the pty) writes the
# size, SIGTERM (forwarded by cbox) ends it with 42
cat > "$W/t66s.toml" <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "trap 'stty size > /io/size' WINCH; trap 'exit 42' TERM; stty size > /io/ready; while :; do sleep 0.1; done"]
[network]
mode = "none"
[[mount]]
source = "$W/io"
target = "/io"
E

# The caller: a shell under script's pty, 40x100. It runs $1, prints its exit status and whether the
# pty's mode is what it was before, then reads whatever was typed into its pty meanwhile
# (non-canonical, without waiting: TIOCSTI queues synchronously) and runs it with sh. (script writes
# ^D into the pty when its own stdin ends; tr drops that and the NUL a canonical-mode EOF leaves.)
under_pty() {
        script -qec "stty rows 40 cols 100; b=\$(stty -g); $1; echo cbox-exit=\$?; echo stty-same=\$([ \"\$(stty -g)\" = \"\$b\" ] && echo yes || echo no); stty -icanon min 0 time 0; head -c 65536 | tr -d '\\000\\004' | sh" /dev/null < /dev/null
}

field() { # KEY OUTPUT: the value of the first KEY=… line
        sed -n "s/^$1=//p" <<< "$2" | head -n 1
}

assert_no_ctty() {
        local out=$1 what=$2 fds=$3
        assert_contains "$out" "tty_nr=0" "$what: no controlling terminal"
        assert_match "$out" "sid=[1-9]" "$what: a session of its own (in the container's pid namespace)"
        assert_contains "$out" "devtty ENXIO" "$what: /dev/tty"
        for fd in $fds; do
                # the fd is the caller's terminal, and TIOCSTI on it is refused
                assert_eq "$(field "dev-$fd" "$out")" "$HOSTPTS" "$what: fd $fd is on the caller's pty"
                assert_contains "$out" "tiocsti-$fd EPERM" "$what: TIOCSTI on fd $fd"
        done
        [ ! -e "$MARK" ] || fail "$what: the injected command ran in the caller's shell"
}

assert_own_pty() {
        local out=$1 what=$2
        assert_match "$out" "sid=[1-9]" "$what: a session of its own"
        assert_match "$out" "tty_nr=[1-9]" "$what: a controlling terminal"
        for fd in 0 1 2; do
                assert_ne "$(field "dev-$fd" "$out")" "$HOSTPTS" "$what: fd $fd is not on the caller's devpts"
                assert_contains "$out" "tiocsti-$fd OK" "$what: TIOCSTI on fd $fd (its own pty)"
        done
        assert_contains "$out" "devtty OK" "$what: /dev/tty is the container's pty"
        assert_contains "$out" "tiocsti-devtty OK" "$what: TIOCSTI on /dev/tty"
        assert_contains "$out" "readback OK" "$what: the typed text is in its own pty"
        assert_contains "$out" "stty-same=yes" "$what: the caller's terminal mode is restored"
        [ ! -e "$MARK" ] || fail "$what: the injected command ran in the caller's shell"
}

# 0. control: the caller's shell runs the probe itself; its TIOCSTI types into the caller's pty, and
#    the caller's shell runs the command (kernel 6.1 allows TIOCSTI on one's controlling terminal)
out=$(under_pty "$W/opt/sec-probe tty '$INJECT
'" | tr -d '\r')
info "control, on the host: $(tr '\n' ' ' <<< "$out")"
if [[ $out == *"tiocsti-0 EIO"* ]]; then
        skip "TIOCSTI is disabled on this kernel (dev.tty.legacy_tiocsti = 0): nothing to attack"
fi
assert_contains "$out" "tiocsti-0 OK" "control: TIOCSTI into one's own ctty"
[ -e "$MARK" ] || fail "control: the typed command did not run in the caller's shell: $out"
rm -f "$MARK"

# 1. up --foreground with stdin not a terminal: no pty, the payload inherits stdio, stdout/stderr
#    are the caller's terminal
out=$(under_pty "$CBOX up --foreground --quiet $W/t66.toml < /dev/null" | tr -d '\r')
info "up --foreground, stdin not a tty: $(tr '\n' ' ' <<< "$out")"
assert_no_ctty "$out" "up --foreground (stdin not a tty)" "1 2"
assert_contains "$out" "tiocsti-0 ENOTTY" "up --foreground: fd 0 is /dev/null"
assert_contains "$out" "cbox-exit=7" "up --foreground: the payload's exit status"
[[ $out != *"winsize="* ]] || fail "up --foreground (stdin not a tty): got a terminal on fd 0: $out"

# 2. exec without -t on a terminal: all three fds are the caller's terminal
on_exit "$CBOX" down t66x
assert_success "$CBOX" up -q "$W/t66x.toml"
out=$(under_pty "$CBOX exec t66x /opt/t/sec-probe tty '$INJECT
'" | tr -d '\r')
info "exec: $(tr '\n' ' ' <<< "$out")"
assert_no_ctty "$out" "exec" "0 1 2"
assert_contains "$out" "cbox-exit=0" "exec: the probe's exit status"

# 3. exec -t: the container's pty; the probe's TIOCSTI types into it and reads it back
out=$(under_pty "$CBOX exec -t t66x /opt/t/sec-probe tty '$INJECT
' readback" | tr -d '\r')
info "exec -t: $(tr '\n' ' ' <<< "$out")"
assert_own_pty "$out" "exec -t"
assert_contains "$out" "winsize=40x100" "exec -t: the caller's window size"
assert_contains "$out" "cbox-exit=0" "exec -t: the probe's exit status"

# 4. up --foreground on a terminal: the same, the container's own pty relayed by cbox
out=$(under_pty "$CBOX up --foreground --quiet $W/t66rb.toml" | tr -d '\r')
info "up --foreground on a tty: $(tr '\n' ' ' <<< "$out")"
assert_own_pty "$out" "up --foreground on a tty"
assert_contains "$out" "winsize=40x100" "up --foreground on a tty: the caller's window size"
assert_contains "$out" "cbox-exit=7" "up --foreground on a tty: the payload's exit status"

# 5. up --foreground on a terminal, signals: a resize of the caller's terminal + SIGWINCH to cbox
#    reaches the payload as the kernel's SIGWINCH for its pty with the new size; SIGTERM to cbox is
#    forwarded (exit 42); the caller's terminal mode is restored
rm -f "$W/io/ready" "$W/io/size"
# (in the background of a non-interactive shell stdin would be /dev/null: give it the pty explicitly)
under_pty "t=\$(tty); echo \$t > $W/io/tty; $CBOX up --foreground --quiet $W/t66s.toml < \$t & echo \$! > $W/io/cbox.pid; wait \$!" > "$W/io/out" &
spid=$!
on_exit "$CBOX" down t66s
wait_until 120 test -s "$W/io/ready"
wait_until 10 test -s "$W/io/cbox.pid"
assert_eq "$(cat "$W/io/ready")" "40 100" "the payload's initial pty size"
stty -F "$(cat "$W/io/tty")" rows 33 cols 77
kill -WINCH "$(cat "$W/io/cbox.pid")"
wait_until 60 test -s "$W/io/size"
assert_eq "$(cat "$W/io/size")" "33 77" "the payload's pty size after SIGWINCH"
kill -TERM "$(cat "$W/io/cbox.pid")"
wait "$spid" || true
out=$(tr -d '\r' < "$W/io/out")
info "up --foreground on a tty, signals: $(tr '\n' ' ' <<< "$out")"
assert_contains "$out" "cbox-exit=42" "a SIGTERM forwarded to the payload on its pty"
assert_contains "$out" "stty-same=yes" "the caller's terminal mode is restored after the signal"
