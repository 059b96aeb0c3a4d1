#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox image pull of the manifest and layer formats registries serve (issue 13, "registry behaviour of the
# real world"), against Debian's docker-registry on 127.0.0.1 fed by skopeo:
#   - Docker schema 2 (skopeo --format v2s2: gzip layers, Docker media types) and OCI manifests;
#   - zstd-compressed layers (skopeo --dest-compress-format zstd), and gzip ones;
#   - each pulled image has the same diff_ids and the same files as the OCI layout it came from;
#   - a manifest with a foreign layer (Docker's foreign.diff.tar.gzip with urls, as Windows base images
#     have) and one with an OCI non-distributable layer are refused, naming the layer and why, with
#     nothing requested from the urls and nothing left in the store.
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mknod, chown in layers)"
for t in docker-registry skopeo umoci python3 curl jq; do
        command -v "$t" >/dev/null || skip "$t not installed (tools/setup.sh)"
done
BUSYBOX=$(command -v busybox) || skip "busybox-static not installed"

W=$(mktemp -d /tmp/test-image-pull-formats.XXXXXX)
PIDS=()
cleanup() {
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
        rm -rf "$W"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
cd "$W"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# the registry accepts manifests whose layers have urls (distribution refuses them by default), so that
# a foreign layer can be put there as registries of Windows images have them
P=$(free_port)
mkdir -p reg
cat >reg.yml <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $W/reg
validation:
  manifests:
    urls:
      allow:
        - ^https?://
http:
  addr: 127.0.0.1:$P
EOF
docker-registry serve reg.yml >reg.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$P/v2/" && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$P/v2/" || { cat reg.log >&2; skip "docker-registry does not start"; }
REG=127.0.0.1:$P
pull() { "$CBOX" image --root "$W/$1" pull --insecure-registry "$REG" "$REG/$2"; }

# ---- a two-layer image: busybox and files, then a file added and one removed ----
umoci init --layout oci >/dev/null
umoci new --image oci:bb >/dev/null
umoci unpack --image oci:bb b1 >/dev/null
mkdir -p b1/rootfs/bin b1/rootfs/srv
cp "$BUSYBOX" b1/rootfs/bin/busybox
ln -s busybox b1/rootfs/bin/sh
echo one >b1/rootfs/srv/one
echo gone >b1/rootfs/srv/gone
umoci repack --image oci:bb b1 >/dev/null
umoci unpack --image oci:bb b2 >/dev/null
echo two >b2/rootfs/srv/two
rm b2/rootfs/srv/gone
umoci repack --image oci:bb b2 >/dev/null
"$CBOX" image --root "$W/local" -q import oci bb:local || fail "local import"
want=$("$CBOX" image --root "$W/local" inspect bb:local | jq -r '[.layers[].diff_id] | join(" ")')

# check STORE REF MEDIA: the manifest's media type, its layers' media types, diff_ids and files
check() {
        local store=$1 ref=$2 media=$3 layer_media=$4 got
        got=$("$CBOX" image --root "$W/$store" inspect "$REG/$ref" | jq -r '[.layers[].diff_id] | join(" ")')
        [ "$got" = "$want" ] || fail "$ref: diff_ids '$got', expected '$want'"
        local mt lmt accept=(-H "Accept: application/vnd.oci.image.manifest.v1+json"
                -H "Accept: application/vnd.docker.distribution.manifest.v2+json")
        mt=$(curl -s -o /dev/null -w '%{content_type}' "${accept[@]}" "http://$REG/v2/${ref%:*}/manifests/${ref##*:}")
        lmt=$(curl -s "${accept[@]}" "http://$REG/v2/${ref%:*}/manifests/${ref##*:}" |
                jq -r '[.layers[].mediaType] | unique | join(" ")')
        [ "$mt" = "$media" ] || fail "$ref: the registry serves a $mt manifest, expected $media"
        [ "$lmt" = "$layer_media" ] || fail "$ref: layers are '$lmt', expected '$layer_media'"
        echo "$ref: $mt, layers $lmt, diff_ids match"
        # the top layer as the store unpacked it
        local top
        top=$(find "$W/$store/layers" -mindepth 1 -maxdepth 1 -type d -name "${want##*sha256:}")
        [ -n "$top" ] || fail "$ref: top layer dir missing"
        [ -f "$top/srv/two" ] || fail "$ref: the top layer lacks srv/two"
        [ -c "$top/srv/gone" ] || fail "$ref: the top layer's whiteout of srv/gone is not a 0:0 char device"
}

# ---- OCI with zstd layers (first, into a repository of its own: skopeo would reuse the gzip blobs
# of a repository that has them) ----
skopeo copy -q --dest-tls-verify=false --format oci --dest-compress-format zstd oci:oci:bb \
        "docker://$REG/fmt/zstd:1" || fail "skopeo push zstd"
pull s-zstd fmt/zstd:1 >/dev/null || fail "pull of an image with zstd layers"
check s-zstd fmt/zstd:1 application/vnd.oci.image.manifest.v1+json application/vnd.oci.image.layer.v1.tar+zstd

# ---- Docker schema 2 with gzip layers ----
skopeo copy -q --dest-tls-verify=false --format v2s2 oci:oci:bb "docker://$REG/fmt/bb:v2s2" ||
        fail "skopeo push v2s2"
pull s-v2s2 fmt/bb:v2s2 >/dev/null || fail "pull of a Docker schema 2 image"
check s-v2s2 fmt/bb:v2s2 application/vnd.docker.distribution.manifest.v2+json \
        application/vnd.docker.image.rootfs.diff.tar.gzip

# ---- OCI with gzip layers ----
skopeo copy -q --dest-tls-verify=false --format oci oci:oci:bb "docker://$REG/fmt/bb:oci" || fail "skopeo push oci"
pull s-oci fmt/bb:oci >/dev/null || fail "pull of an OCI image"
check s-oci fmt/bb:oci application/vnd.oci.image.manifest.v1+json application/vnd.oci.image.layer.v1.tar+gzip

# ---- a foreign layer and a non-distributable one: refused by name, nothing fetched, nothing kept ----
# the OCI gzip image's manifest with its first layer's media type changed (and urls pointing at a server
# of the test's own that records every request)
UP=$(free_port)
python3 - "$UP" >urls.log 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print("GET", self.path, flush=True)
        self.send_response(404); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
PIDS+=($!)
base=$(curl -s -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$REG/v2/fmt/bb/manifests/oci")
put_manifest() { # TAG MEDIATYPE-OF-MANIFEST JSON
        curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $2" --data-binary "$3" \
                "http://$REG/v2/fmt/bb/manifests/$1"
}
foreign=$(echo "$base" | jq -c --arg u "http://127.0.0.1:$UP/layer" \
        '.mediaType = "application/vnd.docker.distribution.manifest.v2+json" | .config.mediaType = "application/vnd.docker.container.image.v1+json" | .layers |= map(.mediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip") | .layers[0].mediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" | .layers[0].urls = [$u]')
code=$(put_manifest foreign application/vnd.docker.distribution.manifest.v2+json "$foreign")
[ "$code" = 201 ] || fail "the registry did not take the foreign-layer manifest (HTTP $code): $(tail -3 reg.log)"
nondist=$(echo "$base" | jq -c '.layers[1].mediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"')
code=$(put_manifest nondist application/vnd.oci.image.manifest.v1+json "$nondist")
[ "$code" = 201 ] || fail "the registry did not take the non-distributable manifest (HTTP $code)"
l0=$(echo "$base" | jq -r '.layers[0].digest')
l1=$(echo "$base" | jq -r '.layers[1].digest')

for t in foreign:"$l0":"layer 0" nondist:"$l1":"layer 1"; do
        tag=${t%%:*}
        rest=${t#*:}
        digest=${rest%:*}
        which=${rest##*:}
        err=$(pull "s-$tag" "fmt/bb:$tag" 2>&1) && fail "$tag: the pull succeeded"
        echo "$tag: $err"
        case $err in *"$which ($digest) is a foreign, non-distributable layer"*) ;;
        *) fail "$tag: the error does not name $which ($digest) as foreign: $err" ;;
        esac
        "$CBOX" image --root "$W/s-$tag" inspect "$REG/fmt/bb:$tag" >/dev/null 2>&1 && fail "$tag: an image was stored"
        n=$(find "$W/s-$tag/layers" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
        [ "$n" = 0 ] || fail "$tag: $n layer dir(s) left in the store"
done
[ -s urls.log ] && fail "cbox fetched a foreign layer's urls: $(cat urls.log)"

if [ "$fails" -gt 0 ]; then
        echo "$fails failure(s)" >&2
        exit 1
fi
echo "all checks passed"
