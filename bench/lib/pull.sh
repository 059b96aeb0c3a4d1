# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/lib/pull.sh — sourced by inside.sh: measurement 8, pull of a multi-layer image from a local
# registry (Debian's docker-registry on 127.0.0.1, plain http) into an empty store: `cbox image
# pull` against `skopeo copy docker://… oci:DIR` followed by `cbox image import DIR`, the way to
# the same store without cbox's pull. The image: tools/mklayers-image.sh, $PULL_N gzip layers of
# $PULL_MB MiB of text each, pushed by skopeo. Goal: cbox's pull faster than the two together.
M8_PORT=5123

# m8_registry_up DIR — docker-registry serving DIR/registry on 127.0.0.1:$M8_PORT as a transient
# unit; returns once /v2/ answers
m8_registry_up() {
        local d=$1
        cat >"$d/registry.yml" <<CONF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $d/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$M8_PORT
CONF
        systemctl stop cbox-bench-registry.service 2>/dev/null
        systemctl reset-failed cbox-bench-registry.service 2>/dev/null
        systemd-run --quiet --unit=cbox-bench-registry -- /usr/bin/docker-registry serve "$d/registry.yml" || return 1
        for _ in $(seq 100); do
                [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$M8_PORT/v2/")" = 200 ] && return 0
                sleep 0.1
        done
        return 1
}

m8() {
        local SRC
        SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
        say "8. pull of a $PULL_N-layer image: cbox image pull vs skopeo copy + cbox image import"
        md "## 8. Pull of a $PULL_N-layer image from a local registry"
        md ""
        local t
        for t in skopeo docker-registry curl; do
                command -v $t >/dev/null || { md "n/a — $t is not installed in the environment"; md ""; return 0; }
        done
        local d=$W/m/pull reg=127.0.0.1:$M8_PORT
        local ref=$reg/bench/pull:latest
        rm -rf "$d"
        mkdir -p "$d/registry"
        if ! m8_registry_up "$d"; then
                md "n/a — docker-registry did not start: $(journalctl -q -u cbox-bench-registry -n 3 --no-pager 2>&1 | tail -1)"
                md ""
                return 0
        fi
        "$SRC/tools/mklayers-image.sh" "$d/oci" "$PULL_N" pull "$PULL_MB" >/dev/null &&
                skopeo copy -q --dest-tls-verify=false "oci:$d/oci:pull" "docker://$ref" >/dev/null 2>"$d/push.err" || {
                md "n/a — pushing the image failed: $(tail -1 "$d/push.err")"
                md ""
                systemctl stop cbox-bench-registry.service
                return 0
        }
        local blobs
        blobs=$(du -sm "$d/oci/blobs" | cut -f1)
        # the two ways, and each half of the second alone (its OCI layout copied once beforehand)
        cat >"$d/skopeo-import.sh" <<SH
skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$d/sk:pull" >/dev/null &&
        exec "$CBOX" image -q --root="$d/st" import "$d/sk" bench/pull:latest >/dev/null
SH
        skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$d/sk1:pull" >/dev/null
        runset m8 1 "$IMG_RUNS" \
                "cbox-pull|rm -rf $d/st|$CBOX image -q --root=$d/st --insecure-registry=$reg pull $ref" \
                "skopeo-import|rm -rf $d/st $d/sk|bash $d/skopeo-import.sh" \
                "skopeo-copy|rm -rf $d/sk|skopeo copy -q --src-tls-verify=false docker://$ref oci:$d/sk:pull" \
                "cbox-import|rm -rf $d/st|$CBOX image -q --root=$d/st import $d/sk1 bench/pull:latest"
        md "tools/mklayers-image.sh: $PULL_N gzip layers, each $PULL_MB MiB of base64 text (plus busybox in the"
        md "first); $blobs MB of blobs. Pushed by skopeo to Debian's docker-registry on 127.0.0.1 (plain http,"
        md "filesystem storage on the same disk). Each run starts from an empty store (hyperfine --prepare"
        md "removes it, and skopeo's OCI layout); 1 warm-up + $IMG_RUNS runs each."
        md ""
        md "| command | median s | min–max s | / cbox pull |"
        md "|---|---|---|---|"
        local c pull_m
        read -r pull_m _ <<<"$(stats "$O/m8.json" cbox-pull)"
        for c in cbox-pull skopeo-import skopeo-copy cbox-import; do
                local line m mn mx label
                case $c in
                cbox-pull) label="\`cbox image pull\`" ;;
                skopeo-import) label="\`skopeo copy docker://… oci:DIR\` then \`cbox image import DIR\`" ;;
                skopeo-copy) label="… of which \`skopeo copy\` alone" ;;
                cbox-import) label="… of which \`cbox image import\` alone" ;;
                esac
                line=$(stats "$O/m8.json" "$c")
                if [ -z "$line" ]; then
                        md "| $label | n/a — failed here: $(failreason m8 "$c") | | |"
                        continue
                fi
                read -r m _ _ mn mx <<<"$line"
                s() { awk -v x="$1" 'BEGIN { printf "%.2f", x / 1000 }'; }
                md "| $label | **$(s "$m")** | $(s "$mn")–$(s "$mx") | $(ratio "$m" "$pull_m") |"
        done
        local two_m
        read -r two_m _ <<<"$(stats "$O/m8.json" skopeo-import)"
        md ""
        md "Goal: cbox's pull faster than skopeo + import → measured $(
                if [ -n "$pull_m" ] && [ -n "$two_m" ]; then awk -v a="$two_m" -v b="$pull_m" 'BEGIN { printf "%.2f× faster (%.2f s against %.2f s)", a / b, b / 1000, a / 1000 }'; else echo "n/a"; fi)."
        md ""
        rm -rf "$d/st"
        slowest cbox-pull "$CBOX" image -q --root="$d/st" --insecure-registry="$reg" pull "$ref"
        systemctl stop cbox-bench-registry.service
        rm -rf "$d"
        return 0
}
