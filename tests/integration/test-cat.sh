#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox cat: /etc/cbox/web.toml plus two drop-ins (in /etc and /run) and a masked one in /usr/lib show
# merged values, each with the file and line it came from; --json gives the same model with origins.
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
SRC="${CBOX_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
T=$(mktemp -d /tmp/test-cat.XXXXXX)
trap 'rm -rf "$T"' EXIT
export CBOX_CONFIG_ROOT="$T/root"
R="$CBOX_CONFIG_ROOT"
mkdir -p "$R/usr/lib/cbox/conf.d" "$R/etc/cbox/web.toml.d" "$R/run/cbox/web.toml.d" "$R/usr/lib/cbox/web.toml.d"
cp "$SRC"/conf.d/*.toml "$R/usr/lib/cbox/conf.d/"

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

cat > "$R/etc/cbox/web.toml" <<'TOML'
image   = "busybox:latest"
command = ["httpd", "-f", "-v", "-p", "80", "-h", "/www"]

[resources]
memory_max = "128M"
cpu_quota  = "50%"
tasks_max  = 64

[network]
ports = ["8080:80"]

[[mount]]
source    = "/srv/www"
target    = "/www"
read_only = true
TOML
cat > "$R/etc/cbox/web.toml.d/10-mem.toml" <<'TOML'
# more memory for web
[resources]
memory_max = "256M"
TOML
cat > "$R/run/cbox/web.toml.d/20-ports.toml" <<'TOML'
[network]
ports = ["8080:80", "127.0.0.1:5353:53/udp"]

[env]
GREETING = "hello"
TOML
# masked by /etc/cbox/web.toml.d/10-mem.toml (same file name, higher priority directory)
cat > "$R/usr/lib/cbox/web.toml.d/10-mem.toml" <<'TOML'
[resources]
memory_max = "1G"
TOML

W="$R/etc/cbox/web.toml"; M="$R/etc/cbox/web.toml.d/10-mem.toml"; P="$R/run/cbox/web.toml.d/20-ports.toml"
D="$R/usr/lib/cbox/conf.d/00-defaults.toml"
dline() { grep -n "^$1 = " "$D" | cut -d: -f1; }   # where 00-defaults.toml sets a key
want="# $D
# $W
# $M
# $P
# effective configuration of 'web'

image = \"busybox:latest\"  # from $W:1
pull = \"missing\"  # default
auto_update = \"disabled\"  # default
command = [\"httpd\", \"-f\", \"-v\", \"-p\", \"80\", \"-h\", \"/www\"]  # from $W:2
hostname = \"web\"  # default
read_only = false  # default
stop_signal = \"SIGTERM\"  # default
stop_timeout = \"10s\"  # default
slice = \"machine.slice\"  # from $D:$(dline default_slice)

[env]
GREETING = \"hello\"  # from $P:5

[resources]
memory_max = \"256M\"  # from $M:3
cpu_quota = \"50%\"  # from $W:6
tasks_max = 64  # from $W:7

[network]
mode = \"bridge\"  # default
network = \"cbox0\"  # from $D:$(dline default_network)
ports = [\"8080:80/tcp\", \"127.0.0.1:5353:53/udp\"]  # from $P:2

[security]
no_new_privileges = true  # default
seccomp = \"default\"  # default
user_namespace = false  # default

[[mount]]  # from $W:12
type = \"bind\"  # default
source = \"/srv/www\"  # from $W:13
target = \"/www\"  # from $W:14
read_only = true  # from $W:15
suid = false  # default
dev = false  # default"

got=$("$CBOX" cat web); rc=$?
[ "$rc" = 0 ] || fail "cat web: exit $rc"
if [ "$got" != "$want" ]; then
        fail "cat web: output differs"
        diff -u <(printf '%s\n' "$want") <(printf '%s\n' "$got") >&2
fi
# the same by path
got2=$("$CBOX" cat "$W"); [ "$got2" = "$got" ] || fail "cat by path differs from cat by name"

# the output is valid TOML that verifies and describes the same configuration
cp <(printf '%s\n' "$got") "$T/copy.toml"
"$CBOX" verify -q "$T/copy.toml" || fail "cat output does not verify"
strip() { sed -e 's/  # .*$//' -e '/^#/d' -e '/^$/d'; }
diff <("$CBOX" cat "$T/copy.toml" | strip | grep -v '^hostname') <(printf '%s\n' "$got" | strip | grep -v '^hostname') >&2 ||
        fail "cat of the cat output differs"

# JSON: global option and verb option agree; merged values and origins are there
j1=$("$CBOX" --json cat web); rc=$?
[ "$rc" = 0 ] || fail "--json cat: exit $rc"
j2=$("$CBOX" cat --json web)
[ "$j1" = "$j2" ] || fail "--json cat and cat --json differ"
compact=$(tr -d ' \n' <<<"$j1")
for needle in '"memory_max":"256M"' '"GREETING":"hello"' '"127.0.0.1:5353:53/udp"' \
              "\"resources.memory_max\":{\"file\":\"$M\",\"line\":3,\"column\":1}" \
              "\"network.ports\":{\"file\":\"$P\",\"line\":2,\"column\":1}" \
              "\"mount[0].read_only\":{\"file\":\"$W\",\"line\":15,\"column\":1}"; do
        grep -qF -- "$needle" <<<"$compact" || fail "JSON lacks $needle"
done
if command -v python3 >/dev/null; then
        python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["config"]["resources"]["memory_max"]=="256M"; assert len(d["files"])==4' <<<"$j1" ||
                fail "JSON does not parse or has the wrong content"
fi

# errors: a problem makes cat fail with the problem lines; usage errors exit 2
echo 'bogus = 1' > "$R/etc/cbox/web.toml.d/30-bad.toml"
out=$("$CBOX" cat web 2>&1 >/dev/null); rc=$?
[ "$rc" = 1 ] || fail "cat with a bad drop-in: exit $rc"
case "$out" in "$R/etc/cbox/web.toml.d/30-bad.toml:1:1: bogus: unknown key"*) ;; *) fail "cat with a bad drop-in: '$out'" ;; esac
"$CBOX" cat >/dev/null 2>&1; rc=$?; [ "$rc" = 2 ] || fail "cat without argument: exit $rc"
"$CBOX" cat a b >/dev/null 2>&1; rc=$?; [ "$rc" = 2 ] || fail "cat with two arguments: exit $rc"
"$CBOX" cat nothere >/dev/null 2>&1; rc=$?; [ "$rc" = 1 ] || fail "cat of a missing container: exit $rc"

if [ "$fails" -gt 0 ]; then
        echo "$fails check(s) failed" >&2
        exit 1
fi
echo "cat: all checks passed"
