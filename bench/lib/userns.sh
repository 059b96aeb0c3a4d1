# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by bench/lib/inside.sh: measurement 9, start-to-exit of /bin/true with
# security.user_namespace = "auto" against without (issue 16: +2 ms at most, which idmapped layers
# allow and a chowned copy would not). Paired, as m6_pairs: each pair runs the two starts back to
# back in alternating order, so a load drifting over seconds cancels out.

m9() {
        say "9. start-to-exit with a user namespace vs without"
        local fno fus i n=$((RUNS * 2)) a b
        fno=$(cbox_file bench-userns-off none '["/bin/true"]')
        fus=$(cbox_file bench-userns-auto none '["/bin/true"]')
        printf '[security]\nuser_namespace = "auto"\n' >>"$fus"
        "$CBOX" down --volumes bench-userns-off bench-userns-auto >/dev/null 2>&1
        start_ms() {
                local t0=$EPOCHREALTIME
                "$CBOX" -q up --foreground "$1" >/dev/null 2>&1 || return 0
                awk -v x="$t0" -v y="$EPOCHREALTIME" 'BEGIN { print (y - x) * 1000 }'
        }
        # warm-up: the uid range is leased, the upper directory made, the page cache filled
        for i in $(seq 1 "$WARM"); do
                start_ms "$fno" >/dev/null
                start_ms "$fus" >/dev/null
        done
        : >"$O/m9-pairs.tsv"
        for i in $(seq 1 "$n"); do
                if [ $((i % 2)) = 0 ]; then
                        a=$(start_ms "$fus") b=$(start_ms "$fno")
                else
                        b=$(start_ms "$fno") a=$(start_ms "$fus")
                fi
                [ -n "$a" ] && [ -n "$b" ] && printf '%s\t%s\n' "$a" "$b" >>"$O/m9-pairs.tsv"
        done
        "$CBOX" down --volumes bench-userns-off bench-userns-auto >/dev/null 2>&1
        md "## 9. Start-to-exit with a user namespace"
        md ""
        local pairs
        pairs=$(wc -l <"$O/m9-pairs.tsv")
        if [ "$pairs" = 0 ]; then
                md "n/a — no pair ran here (user_namespace = \"auto\" failed to start)."
                md ""
                return
        fi
        med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
        md "cbox up --foreground of /bin/true, network none: $pairs pairs run back to back in alternating order (after $WARM warm-up starts of each)."
        md ""
        md "| command | median ms |"
        md "|---|---|"
        md "| \`user_namespace = \"auto\"\` | **$(fmt "$(cut -f1 "$O/m9-pairs.tsv" | med)")** |"
        md "| \`user_namespace = false\` | **$(fmt "$(cut -f2 "$O/m9-pairs.tsv" | med)")** |"
        md ""
        md "Goal: +2 ms at most → measured: median of the per-pair differences **$(awk -F'\t' '{ print $1 - $2 }' "$O/m9-pairs.tsv" | med | xargs printf '%+.2f') ms**, median of the per-pair ratios $(awk -F'\t' '$2 > 0 { print $1 / $2 }' "$O/m9-pairs.tsv" | med | xargs printf '%.3f')×."
        md ""
}
