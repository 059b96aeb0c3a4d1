#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/lib/inside.sh BUILDDIR — the measurements of bench/run, run inside the benchmark
# environment (systemd as PID 1).  Writes $W/out/body.md (the tables) and
# $W/out/versions.md; raw hyperfine JSON and driver output stay in $W/out/.
# QUICK=1 shrinks repeats and sizes (smoke mode).  Nothing here asserts a time.
set -uo pipefail
export LC_ALL=C
# measured as a user runs it from a shell: with INVOCATION_ID set (we run as a systemd-run service),
# cbox up --foreground would take the cbox@.service path (a sub-cgroup of the calling service)
unset INVOCATION_ID
B=$1
CBOX=$B/src/cli/cbox
PORTMAP=$B/bench/bench-portmap-scale
W=${BENCH_DIR:-/bench}
O=$W/out
RF=$W/rootfs/busybox
QUICK=${QUICK:-0}
mkdir -p "$O" $W/m
rm -f "$O"/*.json "$O"/*.tsv "$O"/body.md
: >"$O/body.md"
exec 3>>"$O/body.md"

say() { echo "bench: $*" >&2; }
md() { echo "$*" >&3; }

if [ "$QUICK" = 1 ]; then
        RUNS=10 WARM=2 PM_REPEATS=5 PM_SIZES="0 100 1000" MEM_N=10 DENS_N=20 DENS_CAP=60 IMG_MB=20 IMG_RUNS=3 PULL_N=8 PULL_MB=2
else
        RUNS=40 WARM=5 PM_REPEATS=20 PM_SIZES="0 100 1000 10000" MEM_N=100 DENS_N=1000 DENS_CAP=300 IMG_MB=100 IMG_RUNS=5 PULL_N=16 PULL_MB=8
fi

# ---------------------------------------------------------------- versions
{
        echo "| component | version |"
        echo "|---|---|"
        echo "| cbox | $("$CBOX" --version 2>&1 | head -1) (${CBOX_REV:-?}) |"
        echo "| crun | $(crun --version | head -1) |"
        echo "| podman | $(podman --version) (conmon $(conmon --version 2>/dev/null | head -1 | awk '{print $3}'), netavark $(/usr/lib/podman/netavark --version 2>/dev/null | awk '{print $2}')) |"
        echo "| systemd / systemd-nspawn | $(systemctl --version | head -1) |"
        echo "| util-linux unshare | $(unshare --version) |"
        echo "| hyperfine | $(hyperfine --version) |"
        echo "| umoci | $(umoci --version) |"
        echo "| skopeo / docker-registry | $(skopeo --version 2>/dev/null | awk '{print $3}') / $(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null) |"
        echo "| GNU tar | $(tar --version | head -1) |"
        echo "| gzip / zstd | $(gzip --version | head -1) / $(zstd --version) |"
        echo "| busybox (the rootfs every tool runs) | $("$RF/bin/busybox" 2>&1 | head -1 | awk '{print $2}') |"
} >"$O/versions.md"

# ---------------------------------------------------------------- helpers
# hf NAME-OF-JSON hyperfine-args…  (-N: no shell in between)
hf() {
        local j=$O/$1.json
        shift
        hyperfine -N --style basic --export-json "$j" "$@" >&2 || say "hyperfine failed: $*"
}
# runset JSON WARMUP RUNS SPEC…  with SPEC "name|prepare|command" (prepare may be empty): each
# command runs once first; those that fail are left out (their last stderr line goes to
# JSON.fail as "name<TAB>reason") and the rest run in one hyperfine invocation, back to back.
runset() {
        local j=$1 warm=$2 runs=$3 spec name prep cmd err args=()
        shift 3
        : >"$O/$j.fail"
        for spec in "$@"; do
                IFS='|' read -r name prep cmd <<<"$spec"
                [ -n "$prep" ] && sh -c "$prep" >/dev/null 2>&1
                # shellcheck disable=SC2086
                if ! err=$($cmd 2>&1 >/dev/null); then
                        err=$(echo "$err" | grep -v '^ *$' | tail -1)
                        printf '%s\t%s\n' "$name" "${err:-exit status $?}" >>"$O/$j.fail"
                        say "$name fails, left out: $err"
                        continue
                fi
                args+=(-n "$name")
                [ -n "$prep" ] && args+=(--prepare "sh -c '$prep'")
                args+=("$cmd")
        done
        [ ${#args[@]} -gt 0 ] && hf "$j" --warmup "$warm" --runs "$runs" "${args[@]}"
}
failreason() { awk -F'\t' -v n="$2" '$1 == n { print $2 }' "$O/$1.fail" 2>/dev/null | sed 's/|/\\|/g'; }

# stats JSON NAME → "median p25 p75 min max" in ms (empty if missing)
stats() {
        jq -r --arg n "$2" '.results[] | select(.command == $n) | .times | sort |
                [ (if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end),
                  .[(length*0.25)|floor], .[(length*0.75)|floor], .[0], .[-1] ] | map(. * 1000) |
                map(tostring) | join(" ")' "$1" 2>/dev/null
}
fmt() { awk -v x="$1" 'BEGIN { if (x == "") print "—"; else if (x < 10) printf "%.2f", x; else printf "%.1f", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "—"; else printf "%.2f", a / b }'; }

# ---------------------------------------------------------------- the shared image
# One busybox rootfs (made on the host by tools/mkbusybox-rootfs.sh, at $RF): the crun bundle
# points at it, nspawn runs it, cbox runs it, and the OCI layout podman pulls holds its tarball.
prepare_images() {
        local oci=$W/m/oci
        if ! podman image exists localhost/bench-busybox:latest 2>/dev/null; then
                rm -rf "$oci"
                umoci init --layout "$oci" &&
                        umoci new --image "$oci:busybox" &&
                        umoci raw add-layer --image "$oci:busybox" $W/busybox.tar &&
                        umoci config --image "$oci:busybox" --config.cmd /bin/sh >/dev/null &&
                        podman pull -q "oci:$oci:busybox" >"$O/podman-pull.id" &&
                        podman tag "$(cat "$O/podman-pull.id")" localhost/bench-busybox:latest || say "podman image: failed"
        fi
        mkdir -p $W/m/bundle
        (cd $W/m/bundle && rm -f config.json && crun spec >/dev/null) &&
                jq --arg r "$RF" '.root.path = $r | .root.readonly = true | .process.args = ["/bin/true"] |
                        .process.terminal = false | .hostname = "crun"' $W/m/bundle/config.json >$W/m/bundle/c.json &&
                mv $W/m/bundle/c.json $W/m/bundle/config.json
}

cbox_file() { # NAME NETWORK-MODE COMMAND-JSON-ARRAY
        local f=$W/m/$1.toml
        {
                echo "rootfs = \"$RF\""
                echo "command = $3"
                echo "[network]"
                echo "mode = \"$2\""
        } >"$f"
        echo "$f"
}

# ---------------------------------------------------------------- 1. start-to-exit
m1() {
        say "1. start-to-exit of /bin/true"
        local tnone tbr
        tnone=$(cbox_file bench-true none '["/bin/true"]')
        tbr=$(cbox_file bench-truebr bridge '["/bin/true"]')
        "$CBOX" down bench-true bench-truebr >/dev/null 2>&1
        runset m1 "$WARM" "$RUNS" \
                "cbox-none||$CBOX -q up --foreground $tnone" \
                "cbox-bridge||$CBOX -q up --foreground $tbr" \
                "crun||crun --cgroup-manager=systemd run --bundle $W/m/bundle bench-crun" \
                "podman||podman run --rm --network none localhost/bench-busybox /bin/true" \
                "nspawn||systemd-nspawn -q --register=no -D $RF /bin/true" \
                "floor||unshare -fpmuin --mount-proc /bin/true"

        local c crun_m pod_m floor_m none_m br_m
        read -r none_m _ <<<"$(stats "$O/m1.json" cbox-none)"
        read -r br_m _ <<<"$(stats "$O/m1.json" cbox-bridge)"
        read -r crun_m _ <<<"$(stats "$O/m1.json" crun)"
        read -r pod_m _ <<<"$(stats "$O/m1.json" podman)"
        read -r floor_m _ <<<"$(stats "$O/m1.json" floor)"
        md "## 1. Start-to-exit of /bin/true"
        md ""
        md "hyperfine -N, $WARM warm-up + $RUNS runs per command, interleaved tool by tool in one invocation."
        md "Median, interquartile range (p25–p75) and min–max in ms; ratio = cbox (network none) median / this row's median."
        md ""
        md "| command | median ms | p25–p75 | min–max | cbox-none / this |"
        md "|---|---|---|---|---|"
        for c in cbox-none cbox-bridge crun podman nspawn floor; do
                local line m p25 p75 mn mx label
                case $c in
                cbox-none) label="\`cbox up --foreground\` (network none)" ;;
                cbox-bridge) label="\`cbox up --foreground\` (bridge network)" ;;
                crun) label="\`crun --cgroup-manager=systemd run\` (same rootfs, read-only)" ;;
                podman) label="\`podman run --rm --network none\` (image from the same OCI layout)" ;;
                nspawn) label="\`systemd-nspawn --register=no -D rootfs /bin/true\`" ;;
                floor) label="floor: \`unshare -fpmuin --mount-proc /bin/true\`" ;;
                esac
                line=$(stats "$O/m1.json" "$c")
                if [ -z "$line" ]; then
                        md "| $label | n/a — failed here: $(failreason m1 "$c") | | | |"
                        continue
                fi
                read -r m p25 p75 mn mx <<<"$line"
                md "| $label | **$(fmt "$m")** | $(fmt "$p25")–$(fmt "$p75") | $(fmt "$mn")–$(fmt "$mx") | $(ratio "$none_m" "$m") |"
        done
        md ""
        md "Goals: cbox ≤ 1.2× crun → measured $(ratio "$none_m" "$crun_m")×; ≥ 10× faster than podman → measured $(ratio "$pod_m" "$none_m")× faster;"
        md "≤ 3× the floor → measured $(ratio "$none_m" "$floor_m")×; bridge networking adds ≤ 5 ms → $(
                if [ -n "$br_m" ]; then awk -v a="$br_m" -v b="$none_m" 'BEGIN { printf "measured %+.2f ms", a - b }'; else echo "n/a"; fi)."
        md ""
        echo "$none_m $crun_m $pod_m $floor_m ${br_m:-}" >"$O/m1.medians"
        phases none "$tnone"
        [ -n "$br_m" ] && phases bridge "$tbr"
        slowest cbox-up-none "$CBOX" -q up --foreground "$tnone"
        [ -n "$br_m" ] && slowest cbox-up-bridge "$CBOX" -q up --foreground "$tbr"
}

# ---------------------------------------------------------------- 2. port-map scaling
m2() {
        say "2. port-map scaling"
        md "## 2. Port-map scaling: adding one container's 32 port maps with N maps already present"
        md ""
        if [ ! -x "$PORTMAP" ]; then
                md "n/a — $PORTMAP not built"
                md ""
                return
        fi
        # shellcheck disable=SC2086
        BENCH_PHASES=1 "$PORTMAP" "$PM_REPEATS" $PM_SIZES >"$O/m2.tsv" 2>"$O/m2.phases"
        md "bench/portmap-scale.c, a fresh private network namespace per N; one warm-up + $PM_REPEATS timed adds."
        md "cbox: \`nft_ports_add()\` of cbox's nft module (32 elements into the \`ports\` map, one batch,"
        md "with its duplicate check), removed again after each timed add. rule-per-port: one"
        md "\`tcp dport P dnat ip to A:80\` rule per port appended to one nat chain (what netavark and"
        md "Docker do), 32 rules in one batch through libnftnl; repeat i sees N + 32·i rules."
        md ""
        md "| existing maps N | cbox median ms (min–max) | rule-per-port median ms (min–max) | cbox / rule-per-port |"
        md "|---|---|---|---|"
        local n
        for n in $PM_SIZES; do
                local a b
                a=$(awk -F'\t' -v n="$n" '$1 == "cbox-maps" && $2 == n { print $3, $4, $5 }' "$O/m2.tsv")
                b=$(awk -F'\t' -v n="$n" '$1 == "rule-per-port" && $2 == n { print $3, $4, $5 }' "$O/m2.tsv")
                read -r am an ax <<<"$a"
                read -r bm bn bx <<<"$b"
                md "| $n | **$(fmt "$am")** ($(fmt "$an")–$(fmt "$ax")) | **$(fmt "$bm")** ($(fmt "$bn")–$(fmt "$bx")) | $(ratio "$am" "$bm") |"
        done
        md ""
        md "Profile: the duplicate check inside \`nft_ports_add()\` reads every element of the three port maps"
        md "before each add; the same read through \`nft_ports_list()\`, timed once per N:"
        md ""
        md '```'
        sed 's/^phase: //' "$O/m2.phases" >&3
        md '```'
        md ""
}

# ---------------------------------------------------------------- 3. memory per container
pss_kib() { # PIDS… → summed Pss in KiB
        local p s=0 v
        for p in "$@"; do
                v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
                s=$((s + ${v:-0}))
        done
        echo $s
}
m3() {
        say "3. host-side memory per running container ($MEM_N sleepers)"
        local i f names=() t0 t1 leaders cpids cb pb
        f=$(cbox_file bench-sleep none '["/bin/sleep", "1000000"]')
        for i in $(seq "$MEM_N"); do
                cp "$f" "$W/m/bs$i.toml"
                names+=("bs$i")
        done
        t0=$EPOCHREALTIME
        for i in $(seq "$MEM_N"); do "$CBOX" -q up "$W/m/bs$i.toml" || say "cbox up bs$i failed"; done
        t1=$EPOCHREALTIME
        leaders=$("$CBOX" list --json | jq -r '.[] | select(.name | test("^bs[0-9]+$")) | .leader')
        local nrun
        nrun=$(echo "$leaders" | grep -c .)
        # shellcheck disable=SC2086
        cb=$(pss_kib $leaders)
        local others first
        others=$(pgrep -x cbox | wc -l)
        first=$(echo "$leaders" | head -1)
        [ -n "$first" ] && cat "/proc/$first/smaps" >"$O/m3-cbox-init.smaps" 2>/dev/null
        local cbox_rate
        cbox_rate=$(awk -v n="$MEM_N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
        "$CBOX" down "${names[@]}" >/dev/null 2>&1

        podman rm -f -t 0 -a >/dev/null 2>&1
        t0=$EPOCHREALTIME
        for i in $(seq "$MEM_N"); do
                podman run -d -q --network none --name "ps$i" localhost/bench-busybox /bin/sleep 1000000 >/dev/null || say "podman run ps$i failed"
        done
        t1=$EPOCHREALTIME
        cpids=$(pgrep -x conmon)
        first=$(echo "$cpids" | head -1)
        [ -n "$first" ] && cat "/proc/$first/smaps" >"$O/m3-conmon.smaps" 2>/dev/null
        local prun
        prun=$(podman ps -q | wc -l)
        # shellcheck disable=SC2086
        pb=$(pss_kib $cpids)
        local pod_rate
        pod_rate=$(awk -v n="$MEM_N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
        podman rm -f -t 0 -a >/dev/null 2>&1

        md "## 3. Host-side memory per running container"
        md ""
        md "$MEM_N busybox \`sleep\` containers (network none) started one after the other, then the"
        md "proportional set size (Pss, /proc/PID/smaps_rollup) of every process the tool leaves running"
        md "beside the payload, summed and divided by the number running.  cbox: cbox-init (the"
        md "container's PID 1 as seen from the host; no cbox process stays: $others found).  podman:"
        md "conmon (crun exits once the container runs; podman has no daemon).  The payload itself is the"
        md "same for both and not counted; systemd's own per-unit memory is not counted either."
        md ""
        md "| tool | running | Pss total KiB | Pss per container KiB | starts/s (sequential) |"
        md "|---|---|---|---|---|"
        md "| cbox | $nrun | $cb | **$(awk -v a="$cb" -v n="$nrun" 'BEGIN { if (n) printf "%.0f", a / n; else print "—" }')** | $cbox_rate |"
        md "| podman (conmon) | $prun | $pb | **$(awk -v a="$pb" -v n="$prun" 'BEGIN { if (n) printf "%.0f", a / n; else print "—" }')** | $pod_rate |"
        md ""
        if [ -f "$O/m3-cbox-init.smaps" ]; then
                md "Where one cbox-init's Pss goes (its /proc/PID/smaps, KiB per mapping):"
                md ""
                md '```'
                awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6 " " $7) } /^Pss:/ { p[name] += $2 } /^Rss:/ { r[name] += $2 }
                     END { for (k in p) printf "Pss %6d  Rss %6d  %s\n", p[k], r[k], k }' "$O/m3-cbox-init.smaps" | sort -k2 -rn | head -8 >&3
                md '```'
                md ""
        fi
        md "Goal ≤ 256 KiB per container: $(awk -v a="$cb" -v n="$nrun" 'BEGIN { if (!n) print "not measured"; else if (a / n <= 256) printf "met (%.0f KiB)", a / n; else printf "missed by %.0f KiB (%.0f KiB)", a / n - 256, a / n }');"
        md "cbox / podman: $(awk -v a="$cb" -v n="$nrun" -v b="$pb" -v m="$prun" 'BEGIN { if (n && m && b) printf "%.2f", (a / n) / (b / m); else print "—" }')."
        md ""
}

# ---------------------------------------------------------------- 4. density
density_cbox() { # MODE → "running seconds started"
        local mode=$1 i f t0 t1 started=0 names=()
        f=$(cbox_file bench-dens "$mode" '["/bin/sleep", "1000000"]')
        t0=$EPOCHREALTIME
        for i in $(seq "$DENS_N"); do
                cp "$f" "$W/m/d$i.toml"
                if ! "$CBOX" -q up "$W/m/d$i.toml" 2>>"$O/m4-cbox-$mode.err"; then
                        break
                fi
                names+=("d$i")
                started=$i
                awk -v a="$t0" -v b="$EPOCHREALTIME" -v c="$DENS_CAP" 'BEGIN { exit !(b - a > c) }' && break
        done
        t1=$EPOCHREALTIME
        local running
        running=$("$CBOX" list --json | jq '[.[] | select(.name | test("^d[0-9]+$")) | select(.state == "running")] | length')
        echo "$running $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $started"
        [ ${#names[@]} -gt 0 ] && "$CBOX" down "${names[@]}" >/dev/null 2>&1
}
density_podman() {
        local i t0 t1 started=0
        podman rm -f -t 0 -a >/dev/null 2>&1
        t0=$EPOCHREALTIME
        for i in $(seq "$DENS_N"); do
                if ! podman run -d -q --name "pd$i" localhost/bench-busybox /bin/sleep 1000000 >/dev/null 2>>"$O/m4-podman.err"; then
                        break
                fi
                started=$i
                awk -v a="$t0" -v b="$EPOCHREALTIME" -v c="$DENS_CAP" 'BEGIN { exit !(b - a > c) }' && break
        done
        t1=$EPOCHREALTIME
        echo "$(podman ps -q | wc -l) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $started"
        podman rm -f -t 0 -a >/dev/null 2>&1
}
m4() {
        say "4. density (up to $DENS_N, ${DENS_CAP}s per tool)"
        local br none pod br_err=
        md "## 4. Density: sleepers started one after the other, up to $DENS_N (or ${DENS_CAP} s per tool)"
        md ""
        md "| tool | network | running at the end | started | seconds | starts/s |"
        md "|---|---|---|---|---|---|"
        br=$(density_cbox bridge)
        read -r r s n <<<"$br"
        if [ "${n:-0}" -gt 0 ]; then
                md "| cbox | bridge (cbox0) | **$r** | $n | $s | $(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.1f", n / s }') |"
        else
                br_err=$(grep -v '^$' "$O/m4-cbox-bridge.err" 2>/dev/null | tail -1)
                md "| cbox | bridge | n/a — ${br_err:-failed} | | | |"
        fi
        none=$(density_cbox none)
        read -r r s n <<<"$none"
        md "| cbox | none (for reference) | **$r** | $n | $s | $(awk -v n="$n" -v s="$s" 'BEGIN { if (s > 0) printf "%.1f", n / s }') |"
        pod=$(density_podman)
        read -r r s n <<<"$pod"
        md "| podman run -d | bridge (netavark, podman0) | **$r** | $n | $s | $(awk -v n="$n" -v s="$s" 'BEGIN { if (s > 0) printf "%.1f", n / s }') |"
        md ""
        md "A Linux bridge has port numbers 1–1023 (BR_MAX_PORTS = 1 024, port 0 reserved): one network's"
        md "bridge caps the containers attached to it at 1 023; the next enslavement of a veth fails in the"
        md "kernel with EXFULL; \`cbox up\` then fails with \"bridge ... is full\" and undoes its steps"
        md "(test-netlink fills a bridge; not exercised here: the suite stops at 1 000)."
        md ""
}

# ---------------------------------------------------------------- 5. image import
m5() {
        say "5. image import (~${IMG_MB} MB gzip layer)"
        local d=$W/m5-$IMG_MB
        if [ ! -f "$d/ready" ]; then
                rm -rf "$d"
                mkdir -p "$d"
                # real binaries and libraries from the environment's /usr until ~3×IMG_MB uncompressed
                # (gzip -6 shrinks them ~3×); sorted, so the same environment gives the same layer
                (cd / && find usr/lib/x86_64-linux-gnu usr/bin usr/libexec usr/share -type f 2>/dev/null | sort 2>/dev/null |
                        awk -v lim=$((IMG_MB * 3 * 1024 * 1024)) '{ cmd = "stat -c %s \"" $0 "\""; cmd | getline s; close(cmd); t += s; print; if (t > lim) exit }') >"$d/list"
                tar -C / --sort=name --mtime=@0 --owner=0 --group=0 -cf "$d/layer.tar" -T "$d/list"
                gzip -6 -n -c "$d/layer.tar" >"$d/layer.tar.gz"
                zstd -q -3 -c "$d/layer.tar" >"$d/layer.tar.zst"
                umoci init --layout "$d/oci" && umoci new --image "$d/oci:img" &&
                        umoci raw add-layer --image "$d/oci:img" "$d/layer.tar" && touch "$d/ready"
        fi
        local gz zs raw
        gz=$(stat -c %s "$d/layer.tar.gz") zs=$(stat -c %s "$d/layer.tar.zst") raw=$(stat -c %s "$d/layer.tar")
        local st=$d/store
        runset m5 1 "$IMG_RUNS" \
                "cbox-gz|rm -rf $st|$CBOX image -q --root=$st import $d/layer.tar.gz bench:gz" \
                "tar-xzf|rm -rf $d/x; mkdir $d/x|tar -C $d/x -xzf $d/layer.tar.gz" \
                "cbox-zst|rm -rf $st|$CBOX image -q --root=$st import $d/layer.tar.zst bench:zst" \
                "tar-zstd|rm -rf $d/x; mkdir $d/x|tar -C $d/x --zstd -xf $d/layer.tar.zst" \
                "cbox-oci|rm -rf $st|$CBOX image -q --root=$st import $d/oci bench:oci" \
                "umoci-unpack|rm -rf $d/bundle|umoci unpack --image $d/oci:img $d/bundle"
        rm -rf "$st" "$d/x" "$d/bundle"
        "$CBOX" image -q --root="$st" import "$d/layer.tar.gz" bench:gz >/dev/null 2>&1
        hf m5re --warmup 1 --runs "$IMG_RUNS" -n cbox-reimport "$CBOX image -q --root=$st import $d/layer.tar.gz bench:gz2"
        rm -rf "$st"

        md "## 5. Image import"
        md ""
        md "One layer: $(wc -l <"$d/list") files of the environment's /usr, $((raw / 1048576)) MiB as tar,"
        md "$((gz / 1048576)) MiB gzip -6, $((zs / 1048576)) MiB zstd -3; the OCI layout holds the same tar (gzip by umoci)."
        md "Fresh store/target before each run (not timed), page cache warm; $IMG_RUNS runs after 1 warm-up."
        md ""
        md "| what | cbox median s (min–max) | peer | peer median s (min–max) | cbox / peer |"
        md "|---|---|---|---|---|"
        local pair
        for pair in "cbox-gz tar-xzf gzip_layer_tarball tar_-xzf" "cbox-zst tar-zstd zstd_layer_tarball tar_--zstd_-xf" "cbox-oci umoci-unpack OCI_layout umoci_unpack"; do
                read -r a b what peer <<<"$pair"
                local am an ax bm bn bx
                read -r am _ _ an ax <<<"$(stats "$O/m5.json" "$a")"
                read -r bm _ _ bn bx <<<"$(stats "$O/m5.json" "$b")"
                s() { awk -v x="$1" 'BEGIN { if (x == "") print "—"; else printf "%.2f", x / 1000 }'; }
                md "| ${what//_/ } | $(if [ -n "$am" ]; then echo "**$(s "$am")** ($(s "$an")–$(s "$ax"))"; else echo "n/a — $(failreason m5 "$a")"; fi) | ${peer//_/ } | $(if [ -n "$bm" ]; then echo "**$(s "$bm")** ($(s "$bn")–$(s "$bx"))"; else echo "n/a — $(failreason m5 "$b")"; fi) | $(ratio "$am" "$bm") |"
        done
        local rm_ rn rx
        read -r rm_ _ _ rn rx <<<"$(stats "$O/m5re.json" cbox-reimport)"
        md "| re-import of a known layer (gzip) | **$(fmt "$rm_") ms** ($(fmt "$rn")–$(fmt "$rx")) | | | |"
        md ""
        slowest cbox-import-gz "$CBOX" image -q --root="$st" import "$d/layer.tar.gz" bench:gz
        rm -rf "$st"
}

# ---------------------------------------------------------------- profiles
# slowest NAME CMD… — one traced run (strace -f -T): wall time, the CPU time of the traced processes,
# and the syscalls that took longest (where the wall time goes: waits on systemd, the kernel, disk)
slowest() {
        local name=$1 t0 t1
        shift
        command -v strace >/dev/null || { md "(no strace in the environment: no profile)"; return; }
        t0=$EPOCHREALTIME
        strace -f -qq -T -o "$O/$name.strace" "$@" >/dev/null 2>&1
        t1=$EPOCHREALTIME
        md ""
        md "<details><summary>profile: $name — one run under strace -f -T, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }') ms wall (strace slows syscalls down)</summary>"
        md ""
        md "Syscalls by time spent in them (summed over the traced processes; waits included):"
        md ""
        md '```'
        awk '{ if (match($0, /<[0-9.]+>$/)) { d = substr($0, RSTART + 1, RLENGTH - 2); c = $2; if (c == "<...") c = $3; sub(/\(.*/, "", c); t[c] += d; n[c]++ } }
             END { for (c in t) printf "%9.2f ms %6d× %s\n", t[c] * 1000, n[c], c }' "$O/$name.strace" | sort -rn 2>/dev/null | head -8 >&3
        md ""
        md "Slowest single calls:"
        awk '{ if (match($0, /<[0-9.]+>$/)) { d = substr($0, RSTART + 1, RLENGTH - 2); printf "%9.2f ms  %s\n", d * 1000, substr($0, 1, 110) } }' \
                "$O/$name.strace" | sort -rn 2>/dev/null | head -8 >&3
        md '```'
        md "</details>"
        md ""
}

# phases KIND FILE — where the time of `cbox up --foreground` goes: 7 runs under strace -f -ttt,
# each split into phases by bench/lib/phases.awk, the median of each phase
phases() {
        local kind=$1 f=$2 i
        command -v strace >/dev/null || return
        rm -f "$O/phases-$kind.tsv"
        for i in 1 2 3 4 5 6 7; do
                strace -f -ttt -qq -o "$O/phases-$kind.strace" "$CBOX" -q up --foreground "$f" >/dev/null 2>&1
                awk -f "$(dirname "$0")/phases.awk" "$O/phases-$kind.strace" >>"$O/phases-$kind.tsv" || say "phases: run $i not split"
        done
        md ""
        md "Phases of \`cbox up --foreground\` ($kind), median of 7 runs under strace -f (which slows every syscall):"
        md ""
        md "| phase | ms | what |"
        md "|---|---|---|"
        local ph what
        for ph in startup scope setup run teardown release total; do
                case $ph in
                startup) what="exec of cbox → clone3 of the container: ld.so, config, state, overlay preparation" ;;
                scope) what="clone3 → child released: transient scope + machined over D-Bus$([ "$kind" = bridge ] && echo ", bridge/veth/address/nft")" ;;
                setup) what="child: mounts, pivot_root, capabilities → exec of cbox-init" ;;
                run) what="cbox-init and the payload" ;;
                teardown) what="cbox-init's exit → cbox sees it (kernel releases the namespaces)" ;;
                release) what="unit stop, machined, state$([ "$kind" = bridge ] && echo ", veth/lease/nft release")" ;;
                total) what="" ;;
                esac
                md "| $ph | $(awk -F'\t' -v p="$ph" '$1 == p { print $2 }' "$O/phases-$kind.tsv" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "—" }') | $what |"
        done
        md ""
}

# ---------------------------------------------------------------- 6. the seccomp filter
# start-to-exit with the default allow-list against seccomp = "unconfined", same run, interleaved.
# The filter is compiled once per profile and capability set and kept under the run root, so the
# first start pays libseccomp (~20 ms here) and the others only read it: a warm-up run fills it.
m6() {
        say "6. start-to-exit with the default seccomp filter vs unconfined"
        local fdef func def_m unc_m
        fdef=$(cbox_file bench-sc-default none '["/bin/true"]')
        func=$(cbox_file bench-sc-unconfined none '["/bin/true"]')
        printf '[security]\nseccomp = "unconfined"\n' >>"$func"
        "$CBOX" down bench-sc-default bench-sc-unconfined >/dev/null 2>&1
        # a few rounds in alternating order, pooled: hyperfine runs one command's runs back to back,
        # and on a loaded machine a drift between the two halves would otherwise show as a ratio
        local round rounds=4 per=$(((RUNS + 3) / 4)) specs
        for round in $(seq 1 $rounds); do
                specs=("seccomp-default||$CBOX -q up --foreground $fdef"
                        "seccomp-unconfined||$CBOX -q up --foreground $func")
                [ $((round % 2)) = 0 ] && specs=("${specs[1]}" "${specs[0]}")
                runset "m6-$round" "$WARM" "$per" "${specs[@]}"
                cat "$O/m6-$round.fail" >>"$O/m6.fail.all" 2>/dev/null || :
        done
        sort -u "$O/m6.fail.all" >"$O/m6.fail" 2>/dev/null || : >"$O/m6.fail"
        rm -f "$O/m6.fail.all"
        jq -s '{ results: ([ .[].results[] ] | group_by(.command) |
                map({ command: .[0].command, times: (map(.times) | add) })) }' \
                $(for round in $(seq 1 $rounds); do echo "$O/m6-$round.json"; done) >"$O/m6.json" 2>/dev/null ||
                say "m6: no results to pool"
        local def_min unc_min
        read -r def_m _ _ def_min _ <<<"$(stats "$O/m6.json" seccomp-default)"
        read -r unc_m _ _ unc_min _ <<<"$(stats "$O/m6.json" seccomp-unconfined)"
        md "## 6. Start-to-exit with the seccomp filter"
        md ""
        md "hyperfine -N, 4 rounds of $WARM warm-up + $(((RUNS + 3) / 4)) runs per command, the order swapped every round, pooled; network none."
        md ""
        md "| command | median ms | p25–p75 | min–max |"
        md "|---|---|---|---|"
        for c in seccomp-default seccomp-unconfined; do
                local line m p25 p75 mn mx
                line=$(stats "$O/m6.json" "$c")
                if [ -z "$line" ]; then
                        md "| $c | n/a — failed here: $(failreason m6 "$c") | | |"
                        continue
                fi
                read -r m p25 p75 mn mx <<<"$line"
                md "| \`$c\` | **$(fmt "$m")** | $(fmt "$p25")–$(fmt "$p75") | $(fmt "$mn")–$(fmt "$mx") |"
        done
        md ""
        md "Goal: the default allow-list within 10% of no filter → measured $(ratio "$def_m" "$unc_m")× (default / unconfined, medians; minimums: $(ratio "$def_min" "$unc_min")×, the steadier figure on a loaded machine)."
        md ""
        m6_pairs "$fdef" "$func"
}

# m6_pairs DEFAULT_FILE UNCONFINED_FILE — the same comparison as pairs: each pair runs the two starts
# back to back (the order alternating), and the ratio of each pair is taken before the median, so a
# load that drifts over seconds (other jobs on a shared machine) cancels out instead of landing on
# one side, as it can between hyperfine's blocks of runs
m6_pairs() {
        local fdef=$1 func=$2 i n=$((RUNS * 2)) a b
        # ms one start of FILE takes (empty when it failed)
        start_ms() {
                local t0=$EPOCHREALTIME
                "$CBOX" -q up --foreground "$1" >/dev/null 2>&1 || return 0
                awk -v x="$t0" -v y="$EPOCHREALTIME" 'BEGIN { print (y - x) * 1000 }'
        }
        : >"$O/m6-pairs.tsv"
        for i in $(seq 1 "$n"); do
                if [ $((i % 2)) = 0 ]; then
                        a=$(start_ms "$fdef") b=$(start_ms "$func")
                else
                        b=$(start_ms "$func") a=$(start_ms "$fdef")
                fi
                [ -n "$a" ] && [ -n "$b" ] && printf '%s\t%s\n' "$a" "$b" >>"$O/m6-pairs.tsv"
        done
        local pairs med
        pairs=$(wc -l <"$O/m6-pairs.tsv")
        [ "$pairs" -gt 0 ] || { md "Pairs: none ran."; return; }
        med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
        # what installing the filter itself costs: seccomp(2)'s own time (strace -T) in the child, which
        # is where the kernel checks and JITs the ~2,500 instructions of the cached program
        if command -v strace >/dev/null; then
                local k
                : >"$O/m6-install.txt"
                for k in 1 2 3 4 5 6 7; do
                        strace -f -T -qq -e trace=seccomp -o "$O/m6-install.strace" "$CBOX" -q up --foreground "$fdef" >/dev/null 2>&1
                        awk -F'<' '/seccomp\(SECCOMP_SET_MODE_FILTER/ { sub(/>.*/, "", $NF); s += $NF } END { print s * 1000 }' \
                                "$O/m6-install.strace" >>"$O/m6-install.txt"
                done
                md "Installing the cached filter: seccomp(2) takes $(fmt "$(med <"$O/m6-install.txt")") ms per start (median of 7 under strace -T)."
                md ""
        fi
        md "Paired: $pairs pairs run back to back in alternating order; medians default $(fmt "$(cut -f1 "$O/m6-pairs.tsv" | med)") ms, unconfined $(fmt "$(cut -f2 "$O/m6-pairs.tsv" | med)") ms; median of the per-pair ratios (default / unconfined): **$(awk -F'\t' '$2 > 0 { print $1 / $2 }' "$O/m6-pairs.tsv" | med | xargs printf '%.3f')×**, p25–p75 $(awk -F'\t' '$2 > 0 { print $1 / $2 }' "$O/m6-pairs.tsv" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f–%.2f", v[int(NR * 0.25) + 1], v[int(NR * 0.75)] }')."
        md ""
}

# 7. start-to-exit of an image of 24 layers against 1
. "$(dirname "$0")/layers.sh"
# 8. pull from a local registry against skopeo copy + cbox image import
. "$(dirname "$0")/pull.sh"
# 9. start-to-exit with a user namespace against without
. "$(dirname "$0")/userns.sh"

prepare_images
# BENCH_ONLY="m1 m6" runs a subset (for profiling by hand; bench/run runs them all)
for m in ${BENCH_ONLY:-m1 m2 m3 m4 m5 m6 m7 m8 m9}; do
        "$m"
done
say "done"
