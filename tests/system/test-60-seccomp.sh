#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The default seccomp filter is an allow-list like Docker's (issue 12, class 8). A static probe in a
# busybox container tries io_uring_setup, personality(ADDR_NO_RANDOMIZE), pidfd_getfd,
# socket(AF_VSOCK), clone with CLONE_NEWUSER/CLONE_NEWNS, unshare, clone3 and a number above every
# system call: EPERM, or ENOSYS where userspace falls back (clone3, unknown numbers), while the shell,
# busybox applets and a UDP socket work. Controls: the same probe under seccomp = "unconfined" (the
# calls are not refused, or refused by the kernel for another reason: no CAP_SYS_ADMIN), and with
# CAP_SYS_ADMIN added, which opens namespaces and clone3 as in Docker. A profile file that denies
# mkdir makes mkdir fail with its errno; a broken profile fails verify and up, naming the file.
# cbox-test-timeout: 600
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
PROBE=${CBOX_BUILD_ROOT:-}/tests/system/seccomp-probe
[ -x "$PROBE" ] || skip "seccomp-probe is not built ($PROBE)"

R=$(busybox_rootfs)
mkdir -p bin
cp "$PROBE" bin/seccomp-probe

# container NAME SECCOMP [CAPS] COMMAND...: writes NAME.toml
container() {
        local name=$1 seccomp=$2 caps=$3
        shift 3
        local cmd="" a
        for a in "$@"; do cmd+="\"$a\", "; done
        cat > "$name.toml" <<E
rootfs = "$R"
command = [${cmd%, }]
[network]
mode = "none"
[security]
seccomp = "$seccomp"
capabilities.add = [$caps]
[[mount]]
type = "bind"
source = "$PWD/bin"
target = "/opt/t"
read_only = true
E
}

# field OUTPUT NAME: the probe's result for NAME
field() { sed -n "s/^$2=//p" <<<"$1"; }

info "default profile"
container t60def default "" /bin/sh -c 'grep ^Seccomp: /proc/self/status; /opt/t/seccomp-probe; echo hi | tr h H; ls / >/dev/null && echo ls=OK; mkdir /made && echo mkdir=OK'
out=$("$CBOX" up --foreground t60def.toml)
info "$out"
assert_match "$out" $'Seccomp:\t2' "the payload runs under a filter"
assert_eq "$(field "$out" io_uring_setup)" EPERM io_uring_setup
assert_eq "$(field "$out" personality_addr_no_randomize)" EPERM "personality(ADDR_NO_RANDOMIZE)"
assert_eq "$(field "$out" personality_query)" OK "personality(0xffffffff)"
assert_eq "$(field "$out" pidfd_open)" OK pidfd_open
assert_eq "$(field "$out" pidfd_getfd)" EPERM pidfd_getfd
assert_eq "$(field "$out" socket_vsock)" EPERM "socket(AF_VSOCK)"
assert_eq "$(field "$out" clone_newuser)" EPERM "clone(CLONE_NEWUSER)"
assert_eq "$(field "$out" clone_newns)" EPERM "clone(CLONE_NEWNS)"
assert_eq "$(field "$out" unshare_newns)" EPERM "unshare(CLONE_NEWNS)"
assert_eq "$(field "$out" clone3)" ENOSYS "clone3 (so that libc falls back to clone)"
assert_eq "$(field "$out" syscall_1000)" ENOSYS "a number above every system call"
# a normal payload works
assert_eq "$(field "$out" clone_plain)" OK "clone without namespace flags (fork)"
assert_eq "$(field "$out" udp_loopback)" OK "a UDP socket over lo"
assert_contains "$out" $'\nHi\n' "a shell pipeline"
assert_eq "$(field "$out" ls)" OK "busybox ls"
assert_eq "$(field "$out" mkdir)" OK "busybox mkdir"
# compiled once: the filter is kept under the run root for the next start
ls /run/cbox/seccomp/*.bpf >/dev/null 2>&1 || fail "no compiled filter under /run/cbox/seccomp"

info "control: unconfined"
container t60unc unconfined "" /bin/sh -c 'grep ^Seccomp: /proc/self/status; /opt/t/seccomp-probe'
out=$("$CBOX" up --foreground t60unc.toml)
info "$out"
assert_match "$out" $'Seccomp:\t0' "no filter"
assert_eq "$(field "$out" io_uring_setup)" OK io_uring_setup
assert_eq "$(field "$out" personality_addr_no_randomize)" OK "personality(ADDR_NO_RANDOMIZE)"
assert_eq "$(field "$out" pidfd_getfd)" OK pidfd_getfd
vsock=$(field "$out" socket_vsock)
assert_ne "$vsock" EPERM "socket(AF_VSOCK) without a filter (no vsock transport: another errno)"
assert_eq "$(field "$out" clone_newuser)" OK "clone(CLONE_NEWUSER)"
assert_eq "$(field "$out" clone3)" OK clone3
# refused by the kernel for want of CAP_SYS_ADMIN, not by a filter: the next control opens them
assert_eq "$(field "$out" clone_newns)" EPERM "clone(CLONE_NEWNS) without CAP_SYS_ADMIN"

info "control: CAP_SYS_ADMIN opens what Docker opens for it"
container t60adm default '"CAP_SYS_ADMIN"' /opt/t/seccomp-probe
out=$("$CBOX" up --foreground t60adm.toml)
info "$out"
assert_eq "$(field "$out" clone_newns)" OK "clone(CLONE_NEWNS) with CAP_SYS_ADMIN"
assert_eq "$(field "$out" unshare_newns)" OK "unshare(CLONE_NEWNS) with CAP_SYS_ADMIN"
assert_eq "$(field "$out" clone3)" OK "clone3 with CAP_SYS_ADMIN"
assert_eq "$(field "$out" io_uring_setup)" EPERM "io_uring_setup (never)"
assert_eq "$(field "$out" socket_vsock)" EPERM "socket(AF_VSOCK) (never)"

info "a profile file that denies mkdir"
cat > deny-mkdir.json <<'E'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "archMap": [ { "architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] } ],
  "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 } ]
}
E
container t60file "$PWD/deny-mkdir.json" "" /opt/t/seccomp-probe mkdir /made
assert_success "$CBOX" verify t60file.toml
out=$("$CBOX" up --foreground t60file.toml)
assert_eq "$(field "$out" mkdir)" EACCES "mkdir under the profile (its errnoRet 13)"
container t60file2 "$PWD/deny-mkdir.json" "" /bin/sh -c 'mkdir /made 2>&1; echo rc=$?'
out=$("$CBOX" up --foreground t60file2.toml)
assert_contains "$out" "Permission denied" "busybox mkdir's message"
assert_eq "$(field "$out" rc)" 1 "busybox mkdir's exit status"
# control: the same command without the profile
container t60nofile default "" /opt/t/seccomp-probe mkdir /made
out=$("$CBOX" up --foreground t60nofile.toml)
assert_eq "$(field "$out" mkdir)" OK "mkdir under the default profile"

info "a broken profile"
printf '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALOW"}]}\n' > broken.json
container t60broken "$PWD/broken.json" "" /bin/true
err=$("$CBOX" verify t60broken.toml 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "verify's exit status"
assert_contains "$err" "security.seccomp: '$PWD/broken.json': syscalls[0].action: unknown action 'SCMP_ACT_ALOW'" "verify's message"
uerr=$("$CBOX" up --foreground t60broken.toml 2>&1) && rc=0 || rc=$?
assert_ne "$rc" 0 "up's exit status"
assert_contains "$uerr" "'$PWD/broken.json': syscalls[0].action: unknown action 'SCMP_ACT_ALOW'" "up's message"
[ ! -e /run/cbox/t60broken ] || fail "a refused up left state behind"
