# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/lib/layers.sh — sourced by inside.sh: measurement 7, start-to-exit of an image of 24 layers
# against the same image content in 1 layer (tools/mklayers-image.sh), both imported into cbox's
# store, `cbox up --foreground` with network none. Goal: 24 layers add at most 2 ms.
#
# hyperfine runs each command's runs as one block, so on a shared machine a load that drifts over
# seconds lands on one side and shows as a difference of several ms that is not the layers'. The
# figure the goal is judged by is therefore paired: each pair runs the two starts back to back (the
# order alternating) and the median of the per-pair differences is taken. Beside it: the CPU time
# of cbox's process tree (perf stat task-clock, which waits on the machine do not inflate), and the
# kernel's own share, measured on peers in the same run on the same two images' layer directories:
# an overlay mount of 24 lowers against 1 (mount(8) in a new mount namespace, the namespace's
# teardown included), and crun starting /bin/true on an overlay of the 24 lowers against 1
# (mounted once by the bench: the path lookups through 24 lowers at exec time).

# m7_pairs NAME N CMD-A CMD-B — N pairs of (A, B) back to back, the order alternating, kept in
# $O/m7-pairs-NAME.tsv; prints "A-median B-median median-of-(B-A) p25 p75" in ms (empty when a
# side failed every time)
m7_pairs() {
        local n=$2 a=$3 b=$4 i x y tsv=$O/m7-pairs-$1.tsv
        start_ms() {
                local t0=$EPOCHREALTIME
                # shellcheck disable=SC2086
                $1 >/dev/null 2>&1 || return 0
                awk -v x="$t0" -v y="$EPOCHREALTIME" 'BEGIN { print (y - x) * 1000 }'
        }
        : >"$tsv"
        for i in $(seq 1 "$n"); do
                if [ $((i % 2)) = 0 ]; then
                        x=$(start_ms "$a") y=$(start_ms "$b")
                else
                        y=$(start_ms "$b") x=$(start_ms "$a")
                fi
                [ -n "$x" ] && [ -n "$y" ] && printf '%s\t%s\n' "$x" "$y" >>"$tsv"
        done
        [ -s "$tsv" ] || return 0
        med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
        echo "$(cut -f1 "$tsv" | med) $(cut -f2 "$tsv" | med) $(awk -F'\t' '{ print $2 - $1 }' "$tsv" | med)" \
                "$(awk -F'\t' '{ print $2 - $1 }' "$tsv" | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s", v[int(NR * 0.25) + 1], v[int(NR * 0.75)] }')"
}

# m7_cpu CMD — CPU ms of CMD and its children (perf stat task-clock, mean of $RUNS runs), empty
# without perf: the work done, which waits on a loaded machine do not inflate
m7_cpu() {
        command -v perf >/dev/null || return 0
        # shellcheck disable=SC2086
        perf stat -x, -e task-clock -r "$RUNS" -o "$O/m7-cpu.txt" $1 >/dev/null 2>&1 || return 0
        awk -F, '/task-clock/ { print $1 }' "$O/m7-cpu.txt"
}

# m7_mount_ms FILE — the time cbox's child spends in the syscalls that make the overlay (fsopen,
# fsconfig, fsmount of it; or mount(2) on kernels before 6.8), 7 runs under strace -T: "min median"
m7_mount_ms() {
        command -v strace >/dev/null || return 0
        local i
        : >"$O/m7-mount.txt"
        for i in 1 2 3 4 5 6 7; do
                strace -f -T -qq -e trace=fsopen,fsconfig,fsmount,mount -o "$O/m7-mount.strace" \
                        "$CBOX" -q up --foreground "$1" >/dev/null 2>&1
                awk '{ if (!match($0, /<[0-9.]+>$/)) next; d = substr($0, RSTART + 1, RLENGTH - 2) }
                     /fsopen\("overlay"/ { ov[$1] = $(NF - 1); s += d; next }
                     /fsopen\(/ { if ($1 in ov && ov[$1] == $(NF - 1)) delete ov[$1]; next }
                     /fsconfig\(|fsmount\(/ { split($2, a, /[(,]/); if ($1 in ov && a[2] == ov[$1]) s += d; next }
                     /mount\("overlay"/ { s += d }
                     END { print s * 1000 }' "$O/m7-mount.strace" >>"$O/m7-mount.txt"
        done
        sort -g "$O/m7-mount.txt" | awk '{ v[NR] = $1 } END { if (NR) print v[1], v[int((NR + 1) / 2)] }'
}

m7() {
        local SRC
        SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
        say "7. start-to-exit: 24 layers vs 1"
        local oci=$W/m/layers-oci n f
        rm -rf "$oci"
        for n in 1 24; do
                "$SRC/tools/mklayers-image.sh" "$oci" $n "l$n" >/dev/null || { say "m7: cannot make the $n-layer image"; return 0; }
                "$CBOX" -q image import "$oci" "bench-layers:l$n" >/dev/null || { say "m7: import of $n layers failed"; return 0; }
                f=$W/m/bench-l$n.toml
                printf 'image = "bench-layers:l%s"\ncommand = ["/bin/true"]\n[network]\nmode = "none"\n' $n >"$f"
                "$CBOX" down --volumes bench-l$n >/dev/null 2>&1
        done
        runset m7 "$WARM" "$RUNS" \
                "layers-1||$CBOX -q up --foreground $W/m/bench-l1.toml" \
                "layers-24||$CBOX -q up --foreground $W/m/bench-l24.toml"
        local one many
        read -r one _ <<<"$(stats "$O/m7.json" layers-1)"
        read -r many _ <<<"$(stats "$O/m7.json" layers-24)"

        # the peers on the same layer directories (top first, as cbox passes them)
        local lowers1 lowers24 pe=$W/m/layers-peer
        lowers1=$("$CBOX" image inspect bench-layers:l1 | jq -r '[.layers[].path] | reverse | join(":")')
        lowers24=$("$CBOX" image inspect bench-layers:l24 | jq -r '[.layers[].path] | reverse | join(":")')
        for n in 1 24; do
                umount "$pe/m$n" 2>/dev/null
                rm -rf "$pe/u$n" "$pe/w$n" "$pe/b$n"
                mkdir -p "$pe/u$n" "$pe/w$n" "$pe/m$n" "$pe/b$n"
                (cd "$pe/b$n" && crun spec >/dev/null) &&
                        jq --arg r "$pe/m$n" '.root.path = $r | .root.readonly = true | .process.args = ["/bin/true"] |
                                .process.terminal = false | .hostname = "crun"' "$pe/b$n/config.json" >"$pe/b$n/c.json" &&
                        mv "$pe/b$n/c.json" "$pe/b$n/config.json"
        done
        local opts1="lowerdir=$lowers1,upperdir=$pe/u1,workdir=$pe/w1" opts24="lowerdir=$lowers24,upperdir=$pe/u24,workdir=$pe/w24"
        mount -t overlay -o "$opts1" overlay "$pe/m1" && mount -t overlay -o "$opts24" overlay "$pe/m24" ||
                say "m7: cannot mount the peers' overlays"
        local np=$((RUNS * 3))
        local -A pr cpu
        pr[cb]=$(m7_pairs cb "$np" "$CBOX -q up --foreground $W/m/bench-l1.toml" "$CBOX -q up --foreground $W/m/bench-l24.toml")
        pr[mnt]=$(m7_pairs mnt "$np" "unshare -m mount -t overlay -o $opts1 overlay $pe/m1" "unshare -m mount -t overlay -o $opts24 overlay $pe/m24")
        pr[cr]=$(m7_pairs cr "$np" "crun --cgroup-manager=systemd run --bundle $pe/b1 bench-crun-l1" "crun --cgroup-manager=systemd run --bundle $pe/b24 bench-crun-l24")
        local c1 c24
        c1=$(m7_cpu "$CBOX -q up --foreground $W/m/bench-l1.toml") c24=$(m7_cpu "$CBOX -q up --foreground $W/m/bench-l24.toml")
        cpu[cb]="$c1 $c24"
        c1=$(m7_cpu "unshare -m mount -t overlay -o $opts1 overlay $pe/m1") c24=$(m7_cpu "unshare -m mount -t overlay -o $opts24 overlay $pe/m24")
        cpu[mnt]="$c1 $c24"
        c1=$(m7_cpu "crun --cgroup-manager=systemd run --bundle $pe/b1 bench-crun-l1") c24=$(m7_cpu "crun --cgroup-manager=systemd run --bundle $pe/b24 bench-crun-l24")
        cpu[cr]="$c1 $c24"
        umount "$pe/m1" "$pe/m24" 2>/dev/null
        rm -rf "$pe"

        md "## 7. Start-to-exit of an image of 24 layers against 1 layer"
        md ""
        md "The same content (busybox + one file a layer) as 1 and as 24 layers (tools/mklayers-image.sh), imported"
        md "into the store; \`cbox up --foreground\`, network none, /bin/true. hyperfine -N, $WARM warm-up + $RUNS runs each."
        md ""
        md "| image | median ms | p25–p75 | min–max |"
        md "|---|---|---|---|"
        for n in 1 24; do
                local m p25 p75 mn mx line
                line=$(stats "$O/m7.json" "layers-$n")
                if [ -z "$line" ]; then
                        md "| $n layer(s) | n/a — failed here: $(failreason m7 "layers-$n") | | |"
                        continue
                fi
                read -r m p25 p75 mn mx <<<"$line"
                md "| $n layer(s) | **$(fmt "$m")** | $(fmt "$p25")–$(fmt "$p75") | $(fmt "$mn")–$(fmt "$mx") |"
        done
        md ""
        md "hyperfine's difference of medians (blocks of runs, exposed to drifting load): $(
                if [ -n "$one" ] && [ -n "$many" ]; then awk -v a="$many" -v b="$one" 'BEGIN { printf "%+.2f ms (%.2f×)", a - b, a / b }'; else echo "n/a"; fi)."
        md ""
        md "Paired, $np pairs of (1 layer, 24 layers) run back to back in alternating order; the kernel's share"
        md "measured the same way on the same layer directories in the same run:"
        md ""
        md "| what | 1 layer median ms | 24 layers median ms | median of per-pair (24 − 1) ms | p25–p75 | CPU ms 1 → 24 layers |"
        md "|---|---|---|---|---|---|"
        local spec label key a b d q1 q3 u1 u24
        for spec in "cb|\`cbox up --foreground\`" "mnt|kernel: overlay mount + teardown (\`unshare -m mount -t overlay\`)" "cr|kernel: lookups at exec (\`crun run\` on an overlay mounted once)"; do
                label=${spec#*|} key=${spec%%|*}
                read -r a b d q1 q3 <<<"${pr[$key]}"
                if [ -z "$d" ]; then
                        md "| $label | n/a | | | | |"
                        continue
                fi
                read -r u1 u24 <<<"${cpu[$key]}"
                md "| $label | $(fmt "$a") | $(fmt "$b") | **$(awk -v x="$d" 'BEGIN { printf "%+.2f", x }')** | $(awk -v x="$q1" -v y="$q3" 'BEGIN { printf "%+.2f – %+.2f", x, y }') | $(fmt "$u1") → $(fmt "$u24") |"
        done
        md ""
        md "CPU ms: perf stat task-clock of the command and its children, mean of $RUNS runs (the work done, which"
        md "waits on a loaded machine do not inflate; systemd's and machined's share of cbox's start is not in it)."
        md ""
        md "Goal: 24 layers add at most 2 ms → measured $(
                read -r _ _ d _ <<<"${pr[cb]}"
                if [ -n "$d" ]; then awk -v x="$d" 'BEGIN { printf "%+.2f ms", x }'; else echo "n/a"; fi) (paired median)."
        md ""
        local m1 m24
        m1=$(m7_mount_ms "$W/m/bench-l1.toml")
        m24=$(m7_mount_ms "$W/m/bench-l24.toml")
        [ -n "$m1" ] && md "Making the overlay in the child (fsopen/fsconfig/fsmount, or mount(2) before 6.8; strace -T, min and median of 7 runs): 1 layer $(
                read -r a b <<<"$m1"; echo "$(fmt "$a")/$(fmt "$b")") ms, 24 layers $(read -r a b <<<"$m24"; echo "$(fmt "$a")/$(fmt "$b")") ms."
        md ""
        phases "1 layer" "$W/m/bench-l1.toml"
        phases "24 layers" "$W/m/bench-l24.toml"
        for n in 1 24; do
                "$CBOX" -q down --volumes bench-l$n >/dev/null 2>&1
                "$CBOX" -q image rm "bench-layers:l$n" >/dev/null 2>&1
        done
        return 0
}
