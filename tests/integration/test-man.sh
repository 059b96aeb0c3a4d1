#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The man pages: each renders with `man -l` without a warning, and they cover what the code knows —
# every verb of `cbox --help` (and `cbox image --help`) and every long option of each verb's --help in
# cbox(1), every key of the schema tables in src/config/config-keys.c in cbox.toml(5), and the unit's
# directives in cbox@.service(8). Needs man-db and groff (tools/setup.sh); no root.
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
SRC="${CBOX_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
for c in man groff; do
        command -v $c >/dev/null || { echo "SKIP: $c is not installed (tools/setup.sh)" >&2; exit 77; }
done
T=$(mktemp -d /tmp/test-man.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# 1. every page renders, without warnings
pages=("$SRC/man/cbox.1" "$SRC/man/cbox.toml.5" "$SRC/man/cbox@.service.8")
for p in "${pages[@]}"; do
        [ -f "$p" ] || { fail "missing page $p"; continue; }
        w=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
        [ -z "$w" ] || fail "$(basename "$p") renders with warnings: $w"
        MANWIDTH=80 MAN_KEEP_FORMATTING=0 man -l "$p" 2>/dev/null | col -bx >"$T/$(basename "$p").txt"
        [ -s "$T/$(basename "$p").txt" ] || fail "$(basename "$p") renders empty"
done
P1="$T/cbox.1.txt" P5="$T/cbox.toml.5.txt" P8="$T/cbox@.service.8.txt"

has_word() { grep -qw -- "$2" "$1"; }

# 2. every verb in --help is in cbox(1), with every long option of its own --help
verbs=$("$CBOX" --help | sed -n '/^Verbs:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ "$(echo "$verbs" | wc -w)" -ge 10 ] || fail "cannot read the verbs from cbox --help: $verbs"
for v in $verbs; do
        has_word "$P1" "$v" || fail "verb '$v' is not in cbox(1)"
        for o in $("$CBOX" "$v" --help 2>/dev/null | awk 'NR == 1 || /^ +(-[a-zA-Z] )?--[a-z]/' |
                   grep -o -- '--[a-z][a-z-]*' | sort -u); do
                [ "$o" = --help ] && continue
                grep -q -- "$o\b" "$P1" || fail "option $o of 'cbox $v' is not in cbox(1)"
        done
done
for v in $("$CBOX" image --help 2>/dev/null | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'); do
        has_word "$P1" "$v" || fail "'image $v' is not in cbox(1)"
done
# global options
for o in $("$CBOX" --help | sed -n '/^Options:/,/^$/p' | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        grep -q -- "$o\b" "$P1" || fail "global option $o is not in cbox(1)"
done

# 3. every key of the schema tables is in cbox.toml(5): each part of a dotted key is a word of the page
keys=$(awk '/^(static )?const ConfigKey [a-z_]+\[\] = \{/ { t = 1; next }
            t && /^};/ { t = 0 }
            t && match($0, /^        \{ "[a-z_.]+"/) { s = substr($0, RSTART + 11, RLENGTH - 12); print s }' \
        "$SRC/src/config/config-keys.c" | sort -u)
[ "$(echo "$keys" | wc -w)" -ge 40 ] || fail "cannot read the keys from config-keys.c: $keys"
for k in $keys; do
        for part in ${k//./ }; do
                has_word "$P5" "$part" || fail "key '$k' ('$part') is not in cbox.toml(5)"
        done
done
# [health] is documented as a section with each of its keys
grep -q '\[health\]' "$P5" || fail "no [health] section in cbox.toml(5)"

# 4. cbox@.service(8) describes what the unit does
unit="$SRC/units/cbox@.service.in"
for d in $(sed -n 's/^\(Type\|NotifyAccess\|Delegate\|KillMode\|Slice\|DevicePolicy\)=.*/\1/p' "$unit"); do
        grep -q "$d=" "$P8" || fail "cbox@.service(8) does not mention $d="
done
for v in verify up cleanup update; do
        grep -q "cbox $v" "$P8" || fail "cbox@.service(8) does not mention 'cbox $v'"
done
for w in READY=1 STOPPING=1 Restart=on-failure on_failure start_period drop-in; do
        grep -q -- "$w" "$P8" || fail "cbox@.service(8) does not mention $w"
done

[ $fails -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok: 3 pages render; $(echo $verbs | wc -w) verbs, $(echo $keys | wc -w) keys checked"
