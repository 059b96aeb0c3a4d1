#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion (src/cli/completion/cbox.bash): completes every verb of `cbox --help`, options, the
# names `cbox list --all` prints (containers of a run_root set through $CBOX_CONFIG_ROOT), container
# files (NAME.toml under /etc/cbox of that root), and the images `cbox image --root=DIR list` prints
# (a real import). Drives the completion function as bash does: COMP_WORDS, COMP_CWORD, then _cbox.
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
SRC="${CBOX_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
COMPLETION="$SRC/src/cli/completion/cbox.bash"
T=$(mktemp -d /tmp/test-completion.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

export CBOX_CONFIG_ROOT="$T/root"
mkdir -p "$CBOX_CONFIG_ROOT/etc/cbox/conf.d" "$CBOX_CONFIG_ROOT/usr/lib/cbox/conf.d" "$T/run" "$T/store"
cp "$SRC"/conf.d/*.toml "$CBOX_CONFIG_ROOT/usr/lib/cbox/conf.d/"
printf 'run_root = "%s"\nstorage_root = "%s"\n' "$T/run" "$T/store" >"$CBOX_CONFIG_ROOT/etc/cbox/conf.d/50-test.toml"

# complete WORD…: the candidates bash would offer for the last word, one per line, sorted
complete_words() {
        bash --norc --noprofile -c '
                . "$1"; shift
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                _cbox cbox "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                printf "%s\n" "${COMPREPLY[@]}"' complete "$COMPLETION" "$@" 2>&1 | sort
}
expect_has() { # expect_has WHAT WORD… ::: CANDIDATE…
        local what="$1" got; shift
        local words=() c
        while [ "$1" != ::: ]; do words+=("$1"); shift; done; shift
        got=$(complete_words "${words[@]}")
        for c in "$@"; do
                grep -qx -- "$c" <<<"$got" || fail "$what: '${words[*]}' does not offer '$c' (got: $(echo $got))"
        done
}
expect_not() { # expect_not WHAT WORD… ::: CANDIDATE…
        local what="$1" got; shift
        local words=() c
        while [ "$1" != ::: ]; do words+=("$1"); shift; done; shift
        got=$(complete_words "${words[@]}")
        for c in "$@"; do
                ! grep -qx -- "$c" <<<"$got" || fail "$what: '${words[*]}' offers '$c'"
        done
}

# the long options of a verb: from its synopsis line and its option lines ("  -x --long …")
verb_options() {
        "$CBOX" "$1" --help 2>/dev/null | awk 'NR == 1 || /^ +(-[a-zA-Z] )?--[a-z]/' |
                grep -o -- '--[a-z][a-z-]*' | sort -u | grep -vx -- --help
}

# 1. verbs: every one in cbox --help, and a prefix narrows them
verbs=$("$CBOX" --help | sed -n '/^Verbs:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ "$(echo "$verbs" | wc -w)" -ge 10 ] || fail "cannot read the verbs from cbox --help"
expect_has "verbs" "$CBOX" "" ::: $verbs
expect_has "prefix" "$CBOX" "st" ::: start stop status
expect_not "prefix" "$CBOX" "st" ::: up down
expect_has "global options" "$CBOX" "--" ::: --help --version --json
expect_has "verb options" "$CBOX" up "--" ::: --foreground --replace
expect_has "verb options" "$CBOX" logs "-" ::: --follow -n
# every long option of each verb's --help is offered
for v in $verbs; do
        opts=$(verb_options "$v")
        [ -n "$opts" ] && expect_has "options of $v" "$CBOX" "$v" "--" ::: $opts
done

# 2. container names from cbox list --all: two stopped containers in the test's run_root (state as
# cbox writes it; list --all is the source the completion reads)
for n in alpha beta2; do
        mkdir -p "$T/run/containers/$n"
        printf 'NAME=%s\nUNIT=cbox-%s.scope\nSTART_TIME=1\nMODE=detached\nSTOPPED=1\nEXIT_STATUS=0\nEXIT_TIME=2\n' \
                $n $n >"$T/run/containers/$n/state"
done
"$CBOX" list --all | grep -q '^alpha ' || fail "precondition: cbox list --all does not show alpha: $("$CBOX" list --all 2>&1)"
for v in down start stop restart status logs exec top update; do
        expect_has "names for $v" "$CBOX" "$v" "" ::: alpha beta2
done
expect_has "name prefix" "$CBOX" stop "be" ::: beta2
expect_not "name prefix" "$CBOX" stop "be" ::: alpha
expect_has "kill -s" "$CBOX" kill -s "" ::: TERM KILL
expect_has "kill NAME" "$CBOX" kill -s KILL "" ::: alpha

# 3. container files: NAME.toml in /etc/cbox (of the config root) and paths
echo 'rootfs = "/"' >"$CBOX_CONFIG_ROOT/etc/cbox/webfile.toml"
expect_has "files for up" "$CBOX" up "" ::: webfile
expect_has "files for verify" "$CBOX" verify "we" ::: webfile
mkdir -p "$T/dir" && touch "$T/dir/x.toml"
expect_has "paths for up" "$CBOX" up "$T/dir/" ::: "$T/dir/x.toml"

# 4. images: a real import into a store given with --root (both spellings bash produces)
BUSYBOX=$(command -v busybox)
if [ -n "$BUSYBOX" ]; then
        mkdir -p "$T/rootfs/bin" && cp "$BUSYBOX" "$T/rootfs/bin/busybox"
        tar -C "$T/rootfs" -cf "$T/rootfs.tar" . || fail "tar"
        "$CBOX" image --root "$T/store" -q import "$T/rootfs.tar" compl:1 >/dev/null || fail "image import"
        expect_has "image subcommands" "$CBOX" image "" ::: import pull list inspect tag rm gc
        expect_has "images" "$CBOX" image --root "$T/store" rm "" ::: compl:1
        expect_has "images (--root=)" "$CBOX" image --root = "$T/store" inspect "co" ::: compl:1
else
        echo "note: busybox not installed, image names not checked" >&2
fi

[ $fails -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok"
