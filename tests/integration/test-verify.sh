#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox verify: every shipped file verifies; each kind of problem is one exact FILE:LINE:COL: key: … line
# and exit 1; usage errors exit 2. Runs against a temporary $CBOX_CONFIG_ROOT; needs no root.
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
SRC="${CBOX_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
T=$(mktemp -d /tmp/test-verify.XXXXXX)
trap 'rm -rf "$T"' EXIT
export CBOX_CONFIG_ROOT="$T/root"
mkdir -p "$CBOX_CONFIG_ROOT/usr/lib/cbox/conf.d" "$CBOX_CONFIG_ROOT/etc/cbox"
cp "$SRC"/conf.d/*.toml "$CBOX_CONFIG_ROOT/usr/lib/cbox/conf.d/"

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect EXIT_CODE EXPECTED_STDERR ARGS…: runs cbox verify ARGS and compares exit code and stderr exactly
expect() {
        local code="$1" want="$2"; shift 2
        local got rc
        got=$("$CBOX" verify "$@" 2>&1 >/dev/null); rc=$?
        [ "$rc" = "$code" ] || fail "verify $*: exit $rc, expected $code"
        if [ "$got" != "$want" ]; then
                fail "verify $*: output differs"
                diff -u <(printf '%s\n' "$want") <(printf '%s\n' "$got") >&2
        fi
}

# 1. every shipped example and conf.d file verifies, with "FILE: OK"
for f in "$SRC"/examples/*.toml "$SRC"/conf.d/*.toml; do
        out=$("$CBOX" verify "$f" 2>&1); rc=$?
        [ "$rc" = 0 ] || fail "shipped $f: exit $rc: $out"
        [ "$out" = "$f: OK" ] || fail "shipped $f: '$out'"
done
out=$("$CBOX" verify -q "$SRC"/examples/*.toml); rc=$?
[ "$rc" = 0 ] && [ -z "$out" ] || fail "verify -q: exit $rc, output '$out'"
# by NAME from /etc/cbox
cp "$SRC/examples/web.toml" "$CBOX_CONFIG_ROOT/etc/cbox/web.toml"
out=$("$CBOX" verify web); rc=$?
[ "$rc" = 0 ] && [ "$out" = "$CBOX_CONFIG_ROOT/etc/cbox/web.toml: OK" ] || fail "verify web: exit $rc '$out'"

# a drop-in is checked as part of its container (beside it, or found by NAME)
out=$("$CBOX" verify "$SRC/examples/web.toml.d/50-limits.toml"); rc=$?
[ "$rc" = 0 ] && [ "$out" = "$SRC/examples/web.toml: OK" ] || fail "verify of a drop-in: exit $rc '$out'"
mkdir -p "$CBOX_CONFIG_ROOT/run/cbox/web.toml.d"
printf '[resources]\nmemory_max = "lots"\n' > "$CBOX_CONFIG_ROOT/run/cbox/web.toml.d/60-bad.toml"
expect 1 "$CBOX_CONFIG_ROOT/run/cbox/web.toml.d/60-bad.toml:2:14: resources.memory_max: invalid size 'lots' (a size: a number with optional K, M, G or T suffix (base 1024), or an integer of bytes, or \"infinity\")" "$CBOX_CONFIG_ROOT/run/cbox/web.toml.d/60-bad.toml"
expect 1 "$CBOX_CONFIG_ROOT/run/cbox/web.toml.d/60-bad.toml:2:14: resources.memory_max: invalid size 'lots' (a size: a number with optional K, M, G or T suffix (base 1024), or an integer of bytes, or \"infinity\")" web
rm -r "$CBOX_CONFIG_ROOT/run/cbox/web.toml.d"

# 2. each problem alone
D="$T/files"; mkdir -p "$D"
base='rootfs = "/var/lib/cbox/rootfs/busybox"
command = ["/bin/true"]'

printf '%s\ncomand = ["x"]\n' "$base" > "$D/typo.toml"
expect 1 "$D/typo.toml:3:1: comand: unknown key (did you mean 'command'? known keys: image, rootfs, pull, auto_update, command, entrypoint, env, env_files, workdir, user, hostname, read_only, stop_signal, stop_timeout, slice, resources, network, mount, security, health)" "$D/typo.toml"

printf '%s\n[resources]\nmemory_max = "12Q"\n' "$base" > "$D/size.toml"
expect 1 "$D/size.toml:4:14: resources.memory_max: invalid size '12Q' (a size: a number with optional K, M, G or T suffix (base 1024), or an integer of bytes, or \"infinity\")" "$D/size.toml"

printf '%s\n[network]\nports = ["8080:80", "70000:80/tcp"]\n' "$base" > "$D/port.toml"
expect 1 "$D/port.toml:4:21: network.ports[1]: out of range port spec '70000:80/tcp' (an array of \"HOST:CONTAINER\", \"ADDRESS:HOST:CONTAINER\" with optional \"/tcp\" or \"/udp\"; ports 1-65535 or ranges \"A-B\" of equal length)" "$D/port.toml"

printf '%s\nauto_update = "nightly"\n' "$base" > "$D/autoupdate.toml"
expect 1 "$D/autoupdate.toml:3:15: auto_update: invalid value 'nightly' (\"registry\" or \"disabled\")" "$D/autoupdate.toml"
printf '%s\nauto_update = "registry"\n' "$base" > "$D/autoupdate-rootfs.toml"
expect 1 "$D/autoupdate-rootfs.toml:3:1: auto_update: auto_update = \"registry\" follows the tag of 'image' on its registry: it needs an image by tag (\"HOST/REPO:TAG\"), not a rootfs" "$D/autoupdate-rootfs.toml"

printf '%s\n[resources\nmemory_max = "1G"\n' "$base" > "$D/syntax.toml"
expect 1 "$D/syntax.toml:3:11: TOML syntax error: expected ']' at the end of a table header" "$D/syntax.toml"

# 3. combined in one file, plus a drop-in with a syntax error and one with a bad value: all reported,
#    each naming its own file, in file order
printf '%s\ncomand = ["x"]\n[resources]\nmemory_max = "12Q"\n[network]\nports = ["8000-8010:80-81"]\n' "$base" > "$D/all.toml"
mkdir -p "$D/all.toml.d"
printf 'hostname = "ok"\nread_only = yes\n' > "$D/all.toml.d/10-syntax.toml"
printf '[resources]\ncpu_quota = "0%%"\n' > "$D/all.toml.d/20-quota.toml"
expect 1 "$D/all.toml:3:1: comand: unknown key (did you mean 'command'? known keys: image, rootfs, pull, auto_update, command, entrypoint, env, env_files, workdir, user, hostname, read_only, stop_signal, stop_timeout, slice, resources, network, mount, security, health)
$D/all.toml:5:14: resources.memory_max: invalid size '12Q' (a size: a number with optional K, M, G or T suffix (base 1024), or an integer of bytes, or \"infinity\")
$D/all.toml:7:10: network.ports[0]: invalid port spec '8000-8010:80-81' (an array of \"HOST:CONTAINER\", \"ADDRESS:HOST:CONTAINER\" with optional \"/tcp\" or \"/udp\"; ports 1-65535 or ranges \"A-B\" of equal length)
$D/all.toml.d/10-syntax.toml:2:13: TOML syntax error: $("$CBOX" verify "$D/all.toml.d/10-syntax.toml" 2>&1 | sed -n 's/.*TOML syntax error: //p')
$D/all.toml.d/20-quota.toml:2:13: resources.cpu_quota: out of range CPU quota '0%' (a percentage above 0 like \"50%\" or \"150%\" for 1.5 CPUs)" "$D/all.toml"

# 4. cross-field problems
printf 'image = "busybox:latest"\nrootfs = "/r"\n[network]\naddress = "10.99.0.2"\nports = ["8080:80", "8080:8080"]\n[[mount]]\nsource = "/a"\ntarget = "/data"\n[[mount]]\ntype = "tmpfs"\ntarget = "/data"\n' > "$D/cross.toml"
expect 1 "$D/cross.toml:2:1: rootfs: both 'image' (set at $D/cross.toml:1) and 'rootfs' are set (exactly one of them)
$D/cross.toml:4:1: network.address: address 10.99.0.2 is outside the subnet 10.88.0.0/16 of network 'cbox0' (an IPv4 address inside the network's subnet)
$D/cross.toml:5:21: network.ports[1]: host port of '8080:8080/tcp' is already published by network.ports[0] (each host port and protocol once)
$D/cross.toml:11:10: mount[1].target: target '/data' is already mounted by the [[mount]] at line 6 (one mount per target)" "$D/cross.toml"

printf 'rootfs = "var/lib/x"\n' > "$D/relative.toml"
expect 1 "$D/relative.toml:1:10: rootfs: invalid path 'var/lib/x' (an absolute path to the root directory)" "$D/relative.toml"

# a [[mount]] on or below /proc, /sys or /dev (which could unmask a masked path) is refused, naming the key;
# a sibling that only shares the prefix is fine, and so are suid/dev
for t in /proc /proc/kcore /sys /sys/firmware /dev /dev/shm/x; do
        printf '%s\n[[mount]]\nsource = "/srv"\ntarget = "%s"\n' "$base" "$t" > "$D/mnt.toml"
        k=${t#/}; k=/${k%%/*}
        expect 1 "$D/mnt.toml:5:10: mount[0].target: cannot mount on or below '$k' (cbox mounts it for the container)" "$D/mnt.toml"
done
printf '%s\n[[mount]]\ntype = "tmpfs"\ntarget = "/proc/sys"\n' "$base" > "$D/mnt.toml"
expect 1 "$D/mnt.toml:5:10: mount[0].target: cannot mount on or below '/proc' (cbox mounts it for the container)" "$D/mnt.toml"
printf '%s\n[[mount]]\nsource = "/srv"\ntarget = "/devices"\nsuid = true\ndev = true\n' "$base" > "$D/mnt.toml"
out=$("$CBOX" verify "$D/mnt.toml" 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$out" = "$D/mnt.toml: OK" ] || fail "mount at /devices: exit $rc '$out'"

# 5. several arguments: OK ones still say OK, the exit code is 1
out=$("$CBOX" verify "$SRC/examples/hello.toml" "$D/size.toml" 2>/dev/null); rc=$?
[ "$rc" = 1 ] && [ "$out" = "$SRC/examples/hello.toml: OK" ] || fail "mixed: exit $rc '$out'"

# 6. missing files, bad names, usage
expect 1 "cbox: nothere: no such container file (looked for NAME.toml in /etc/cbox, /run/cbox, /usr/lib/cbox)" nothere
expect 1 "cbox: $D/missing.toml: no such file" "$D/missing.toml"
expect 1 "invalid container name '-x' (letters, digits, '_', '.', '-', up to 64, not starting with '.' or '-')" -- -x
"$CBOX" verify >/dev/null 2>&1; rc=$?; [ "$rc" = 2 ] || fail "no arguments: exit $rc, expected 2"
"$CBOX" verify --bogus x >/dev/null 2>&1; rc=$?; [ "$rc" = 2 ] || fail "bad option: exit $rc, expected 2"

# 7. a broken global conf.d file is reported too
printf '[network.cbox0]\nsubnet = "10.88.0.1/16"\n' > "$CBOX_CONFIG_ROOT/etc/cbox/conf.d.tmp" 
mkdir -p "$CBOX_CONFIG_ROOT/etc/cbox/conf.d"
mv "$CBOX_CONFIG_ROOT/etc/cbox/conf.d.tmp" "$CBOX_CONFIG_ROOT/etc/cbox/conf.d/50-bad.toml"
expect 1 "$CBOX_CONFIG_ROOT/etc/cbox/conf.d/50-bad.toml:2:10: network.cbox0.subnet: invalid subnet '10.88.0.1/16' (an IPv4 subnet like \"10.88.0.0/16\", prefix 8 to 30)" "$SRC/examples/hello.toml"

# 8. what up refuses beyond the file: an unsupported key, a seccomp profile that does not load
rm "$CBOX_CONFIG_ROOT/etc/cbox/conf.d/50-bad.toml"
printf '%s\n[security]\nuser_namespace = "auto"\n' "$base" > "$D/userns.toml"
out=$("$CBOX" verify "$D/userns.toml" 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$out" = "$D/userns.toml: OK" ] || fail "user_namespace: exit $rc '$out'"
printf '%s\nread_only = true\n[security]\nuser_namespace = "auto"\n' "$base" > "$D/userns.toml"
expect 1 "cbox: $D/userns.toml:5: security.user_namespace: a user namespace with read_only = true is not supported yet" "$D/userns.toml"
printf '{"defaultAction": "SCMP_ACT_ALLOW",\n "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_EXPLODE"}]}\n' > "$D/bad-action.json"
printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [' > "$D/truncated.json"
printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "no_such_call"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}' > "$D/good.json"
for p in bad-action truncated good missing; do
        printf '%s\n[security]\nseccomp = "%s"\n' "$base" "$D/$p.json" > "$D/seccomp-$p.toml"
done
expect 1 "cbox: $D/seccomp-bad-action.toml:4: security.seccomp: '$D/bad-action.json': syscalls[0].action: unknown action 'SCMP_ACT_EXPLODE'" "$D/seccomp-bad-action.toml"
expect 1 "cbox: $D/seccomp-truncated.toml:4: security.seccomp: '$D/truncated.json': invalid JSON at byte 49: unexpected end of document" "$D/seccomp-truncated.toml"
expect 1 "cbox: $D/seccomp-missing.toml:4: security.seccomp: cannot read '$D/missing.json': No such file or directory" "$D/seccomp-missing.toml"
# a name this libseccomp does not know is skipped (as runc does) with a warning, not an error
expect 0 "cbox: $D/seccomp-good.toml:4: security.seccomp: '$D/good.json': syscalls[0].names[1]: unknown system call 'no_such_call', skipped" "$D/seccomp-good.toml"

if [ "$fails" -gt 0 ]; then
        echo "$fails check(s) failed" >&2
        exit 1
fi
echo "verify: all checks passed"
