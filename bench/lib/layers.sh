# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/lib/layers.sh — sourced by inside.sh: measurement 7, start-to-exit of an image of 24 layers
# against the same image content in 1 layer (tools/mklayers-image.sh), both imported into cbox's
# store, `cbox up --foreground` with network none. Goal: 24 layers add at most 2 ms.
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
        md "Goal: 24 layers add at most 2 ms → $(
                if [ -n "$one" ] && [ -n "$many" ]; then awk -v a="$many" -v b="$one" 'BEGIN { printf "measured %+.2f ms (%.2f×)", a - b, a / b }'; else echo "n/a"; fi)."
        md ""
        phases "1 layer" "$W/m/bench-l1.toml"
        phases "24 layers" "$W/m/bench-l24.toml"
        for n in 1 24; do
                "$CBOX" -q down --volumes bench-l$n >/dev/null 2>&1
                "$CBOX" -q image rm "bench-layers:l$n" >/dev/null 2>&1
        done
        return 0
}
