#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/soak/inside.sh BUILD — the cycles of tests/soak/run, run where systemd is PID 1.
# BENCH_DIR holds rootfs/busybox and out/; CYCLES; REV names the commit in the report.
set -uo pipefail
export LC_ALL=C
BUILD=$1
W=${BENCH_DIR:?}
N=${CYCLES:-1000}
CBOX=$BUILD/src/cli/cbox
O=$W/out
RF=$W/rootfs/busybox
RUN=/run/cbox
say() { echo "soak: $*" >&2; }
[ -x "$CBOX" ] || { say "no cbox at $CBOX"; exit 1; }
command -v /usr/bin/time >/dev/null || { say "GNU time is missing"; exit 1; }

# one figure per line: NAME VALUE
snapshot() {
        local cg=/sys/fs/cgroup
        [ -d $cg/unified ] && cg=$cg/unified
        echo "pid1_fds $(ls /proc/1/fd | wc -l)"
        echo "pid1_rss_kib $(awk '/^VmRSS:/ { print $2 }' /proc/1/status)"
        echo "units $(systemctl list-units --all --no-legend --plain | wc -l)"
        echo "cbox_units $(systemctl list-units --all --no-legend --plain 'cbox-*' | wc -l)"
        echo "cgroups $(find $cg -type d | wc -l)"
        echo "links $(ip -o link | wc -l)"
        echo "mounts $(wc -l </proc/self/mountinfo)"
        echo "nft_elements $(nft -j list table inet cbox 2>/dev/null | jq '[.nftables[] | (.set // .map // empty) | (.elem // []) | length] | add // 0')"
        echo "nft_rules $(nft -a list table inet cbox 2>/dev/null | grep -c '# handle')"
        echo "machines $(machinectl list --no-legend 2>/dev/null | grep -c .)"
        echo "leases $(cat $RUN/ipam/*/leases 2>/dev/null | grep -c .)"
        echo "state_dirs $(ls $RUN/containers 2>/dev/null | wc -l)"
        echo "run_files $(find $RUN -xdev 2>/dev/null | wc -l)"
}

cat >"$O/soak.toml" <<E
rootfs = "$RF"
command = ["/bin/sleep", "3600"]
[network]
mode = "bridge"
ports = ["18080:80"]
E
rm -f "$O"/soak-*.txt
# the first cycle creates what stays by design (the bridge, cbox's table, the seccomp cache): the
# baseline is taken after it
"$CBOX" -q up "$O/soak.toml" >/dev/null && "$CBOX" -q down soak >/dev/null || { say "the first cycle failed"; exit 1; }
snapshot >"$O/soak-0.txt"
: >"$O/soak-rss.txt"
fails=0
t0=$SECONDS
for i in $(seq 1 "$N"); do
        /usr/bin/time -a -o "$O/soak-rss.txt" -f 'up %M' "$CBOX" -q up "$O/soak.toml" >/dev/null 2>>"$O/soak-err.txt" || fails=$((fails + 1))
        /usr/bin/time -a -o "$O/soak-rss.txt" -f 'down %M' "$CBOX" -q down soak >/dev/null 2>>"$O/soak-err.txt" || fails=$((fails + 1))
        [ $((i % (N / 4 > 0 ? N / 4 : 1))) = 0 ] && snapshot >"$O/soak-$i.txt" && say "$i cycles, $((SECONDS - t0)) s"
done
secs=$((SECONDS - t0))
snapshot >"$O/soak-end.txt"

{
        echo "# cbox soak: $N up/down cycles"
        echo
        echo "Written by tests/soak/run on $(date -u '+%Y-%m-%d %H:%M UTC') at $REV, in $secs s ($fails failed commands)."
        echo "Each cycle: \`cbox up\` of a detached busybox sleeper with a bridged network and one published port,"
        echo "then \`cbox down\`. systemd $(systemctl --version | awk 'NR == 1 { print $2 }'), kernel $(uname -r)."
        echo "The baseline is taken after one cycle (the bridge, cbox's table and the seccomp cache stay by design)."
        echo
        hdr="| figure | before"
        sep="|---|---"
        files=("$O/soak-0.txt")
        for f in $(ls "$O"/soak-[0-9]*.txt | grep -v 'soak-0.txt' | sort -t- -k2 -n); do
                files+=("$f")
                k=${f##*/soak-}
                hdr="$hdr | after ${k%.txt}"
                sep="$sep|---"
        done
        files+=("$O/soak-end.txt")
        echo "$hdr | end | flat |"
        echo "$sep|---|---|"
        notflat=()
        while read -r name v0; do
                row="| $name | $v0"
                for f in "${files[@]:1}"; do row="$row | $(awk -v n="$name" '$1 == n { print $2 }' "$f")"; done
                vend=$(awk -v n="$name" '$1 == n { print $2 }' "$O/soak-end.txt")
                # PID 1's RSS moves with its allocator and journal traffic: allowed 10% (and 2 MiB) of
                # growth; no count may end above its baseline (one below it is the freshly booted
                # environment settling: a boot-time unit's cgroup and fd going away)
                flat=yes
                if [ "$name" = pid1_rss_kib ]; then
                        [ $((vend - v0)) -gt $((v0 / 10 > 2048 ? v0 / 10 : 2048)) ] && flat=no
                else
                        [ "$vend" -gt "$v0" ] && flat=no
                fi
                [ $flat = no ] && notflat+=("$name $v0 → $vend")
                echo "$row | $flat |"
        done <"$O/soak-0.txt"
        echo
        up_max=$(awk '$1 == "up" { if ($2 > m) m = $2 } END { print m + 0 }' "$O/soak-rss.txt")
        down_max=$(awk '$1 == "down" { if ($2 > m) m = $2 } END { print m + 0 }' "$O/soak-rss.txt")
        first=$(awk '$1 == "up" { n++; if (n <= 100) { s += $2; c++ } } END { printf "%d", c ? s / c : 0 }' "$O/soak-rss.txt")
        last=$(awk '$1 == "up" { v[++n] = $2 } END { for (i = n - 99; i <= n; i++) if (i > 0) { s += v[i]; c++ } printf "%d", c ? s / c : 0 }' "$O/soak-rss.txt")
        echo "cbox's peak RSS (GNU time %M): up at most $up_max KiB, down at most $down_max KiB; mean of up over the first 100 cycles $first KiB, over the last 100 $last KiB."
        echo
        if [ ${#notflat[@]} -gt 0 ] || [ "$fails" -gt 0 ]; then
                echo "Not flat: ${notflat[*]:-} ${fails} failed commands"
                tail -5 "$O/soak-err.txt" 2>/dev/null | sed 's/^/    /'
        else
                echo "Flat: no count ends above its baseline and PID 1's memory grew less than 10%."
        fi
} >"$O/SOAK.md"
