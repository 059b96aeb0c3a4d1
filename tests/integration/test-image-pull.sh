#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox image pull against a real registry (Debian's docker-registry, the distribution server) on 127.0.0.1,
# fed by skopeo: plain HTTP (explicitly insecure), HTTPS with a self-signed CA, HTTPS + htpasswd Basic auth
# with a credentials file, Bearer tokens from a token server of the test's own; a multi-platform index
# (the host's platform is picked); retries (503) and redirects (307 to another host:port) through a proxy of
# the test's own; a corrupted blob in the registry fails with a digest error and leaves nothing.
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mknod, chown in layers)"
for t in docker-registry skopeo umoci htpasswd openssl python3 curl; do
        command -v "$t" >/dev/null || skip "$t not installed (tools/setup.sh)"
done
BUSYBOX=$(command -v busybox) || skip "busybox-static not installed"

W=$(mktemp -d /tmp/test-image-pull.XXXXXX)
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

# start_registry NAME PORT [extra YAML for http:] [auth YAML]
start_registry() {
        local name=$1 port=$2 tls=${3:-} auth=${4:-}
        mkdir -p "$W/$name"
        cat > "$W/$name.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $W/$name
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$tls
$auth
EOF
        docker-registry serve "$W/$name.yml" > "$W/$name.log" 2>&1 &
        PIDS+=($!)
        for _ in $(seq 100); do
                curl -sk -o /dev/null "http://127.0.0.1:$port/v2/" && return 0
                curl -sk -o /dev/null "https://127.0.0.1:$port/v2/" && return 0
                sleep 0.1
        done
        cat "$W/$name.log" >&2
        return 1
}

# ---- a two-layer image with a config ----
umoci init --layout oci >/dev/null
umoci new --image oci:bb >/dev/null
umoci unpack --image oci:bb bundle >/dev/null
mkdir -p bundle/rootfs/bin bundle/rootfs/srv
cp "$BUSYBOX" bundle/rootfs/bin/busybox
ln -s busybox bundle/rootfs/bin/sh
umoci repack --image oci:bb bundle >/dev/null
umoci unpack --image oci:bb bundle2 >/dev/null
echo hello > bundle2/rootfs/srv/index.html
umoci repack --image oci:bb bundle2 >/dev/null
umoci config --image oci:bb --config.cmd httpd --config.cmd -f --config.env GREETING=hi \
        --config.workingdir /srv >/dev/null
"$CBOX" image --root "$W/local" -q import oci bb:local || fail "local import"
want=$("$CBOX" image --root "$W/local" inspect bb:local |
        python3 -c 'import json,sys; print(" ".join(l["diff_id"] for l in json.load(sys.stdin)["layers"]))')

check_pulled() {
        local store=$1 ref=$2
        got=$("$CBOX" image --root "$store" inspect "$ref" |
                python3 -c 'import json,sys; print(" ".join(l["diff_id"] for l in json.load(sys.stdin)["layers"]))')
        [ "$got" = "$want" ] || fail "$ref: diff_ids '$got', expected '$want'"
        "$CBOX" image --root "$store" inspect "$ref" | python3 -c '
import json, sys
c = json.load(sys.stdin)["image_config"]
assert c["Cmd"] == ["httpd", "-f"], c
assert "GREETING=hi" in c["Env"], c
assert c["WorkingDir"] == "/srv", c' || fail "$ref: config not carried over"
}

# ---- plain HTTP, only when asked for ----
P1=$(free_port)
start_registry reg-http "$P1" || skip "docker-registry does not start"
skopeo copy -q --dest-tls-verify=false oci:oci:bb "docker://127.0.0.1:$P1/test/bb:1" || fail "skopeo push (http)"
out=$("$CBOX" image --root "$W/s1" pull --insecure-registry "127.0.0.1:$P1" "127.0.0.1:$P1/test/bb:1") ||
        fail "pull over HTTP"
echo "$out"
check_pulled "$W/s1" "127.0.0.1:$P1/test/bb:1"
# pulling again downloads and unpacks nothing
out=$("$CBOX" image --root "$W/s1" --json pull --insecure-registry "127.0.0.1:$P1" "127.0.0.1:$P1/test/bb:1") ||
        fail "second pull"
case $out in *'"layers_unpacked":0'*'"blob_bytes":0'*) ;; *) fail "second pull did work again: $out" ;; esac
err=$("$CBOX" image --root "$W/s1b" pull "127.0.0.1:$P1/test/bb:1" 2>&1) && fail "HTTPS to a plain HTTP registry succeeded"
echo "without --insecure-registry: $err"
err=$("$CBOX" image --root "$W/s1b" pull --insecure-registry "127.0.0.1:$P1" "127.0.0.1:$P1/test/nope:1" 2>&1) &&
        fail "pull of a missing repository succeeded"
case $err in *"HTTP 404"*) ;; *) fail "missing repository: $err" ;; esac
echo "missing repository: $err"

# ---- a multi-platform index: the manifest for this host's platform is picked ----
# a second image for another architecture (its own layer, its own config and Cmd), and an OCI index
# naming both, the other one first
umoci unpack --image oci:bb bundle3 >/dev/null
echo other > bundle3/rootfs/srv/index.html
umoci repack --image oci:other bundle3 >/dev/null
umoci config --image oci:other --config.cmd other-arch >/dev/null
python3 - <<'PY' || fail "building the multi-platform index"
import hashlib, json, platform
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
other = "s390x" if arch != "s390x" else "amd64"
idx = json.load(open("oci/index.json"))
def desc(tag):
    return next(m for m in idx["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
def blob(digest):
    return open("oci/blobs/sha256/" + digest.split(":")[1], "rb").read()
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open("oci/blobs/sha256/" + h, "wb").write(data)
    return "sha256:" + h
# the "other" image's config says its architecture is the other one
om = json.loads(blob(desc("other")["digest"]))
oc = json.loads(blob(om["config"]["digest"]))
oc["architecture"] = other
ocd = json.dumps(oc).encode()
om["config"]["digest"], om["config"]["size"] = put(ocd), len(ocd)
omd = json.dumps(om).encode()
entries = []
for d, a in ((dict(desc("other"), digest=put(omd), size=len(omd)), other), (desc("bb"), arch)):
    e = {k: v for k, v in d.items() if k != "annotations"}
    e["platform"] = {"os": "linux", "architecture": a}
    entries.append(e)
ix = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": entries}).encode()
idx["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(ix),
                         "size": len(ix), "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(idx, open("oci/index.json", "w"))
PY
skopeo copy -q --all --dest-tls-verify=false oci:oci:multi "docker://127.0.0.1:$P1/test/multi:1" ||
        fail "skopeo push of the index"
ctype=$(curl -s -o /dev/null -w '%{content_type}' \
        -H 'Accept: application/vnd.oci.image.index.v1+json' "http://127.0.0.1:$P1/v2/test/multi/manifests/1")
case $ctype in *index*) ;; *) fail "the registry does not serve an index for test/multi:1 ($ctype)" ;; esac
"$CBOX" image --root "$W/s6" -q pull --insecure-registry "127.0.0.1:$P1" "127.0.0.1:$P1/test/multi:1" ||
        fail "pull of a multi-platform index"
check_pulled "$W/s6" "127.0.0.1:$P1/test/multi:1"

# ---- by digest: NAME@sha256:… (a manifest, and an index), verified, stored under that name ----
content_digest() { # REPO REF ACCEPT
        curl -sI -H "Accept: $3" "http://127.0.0.1:$P1/v2/$1/manifests/$2" |
                tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}
bb_digest=$(content_digest test/bb 1 application/vnd.oci.image.manifest.v1+json)
multi_digest=$(content_digest test/multi 1 application/vnd.oci.image.index.v1+json)
[[ $bb_digest =~ ^sha256:[0-9a-f]{64}$ && $multi_digest =~ ^sha256:[0-9a-f]{64}$ ]] ||
        fail "no digests from the registry: '$bb_digest' '$multi_digest'"
"$CBOX" image --root "$W/s9" -q pull --insecure-registry "127.0.0.1:$P1" "127.0.0.1:$P1/test/bb:ignored@$bb_digest" ||
        fail "pull by digest"
check_pulled "$W/s9" "127.0.0.1:$P1/test/bb@$bb_digest"
got=$("$CBOX" image --root "$W/s9" inspect "127.0.0.1:$P1/test/bb@$bb_digest" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"])')
[ "$got" = "$bb_digest" ] || fail "pulled by digest: manifest $got, asked for $bb_digest"
"$CBOX" image --root "$W/s9" inspect "127.0.0.1:$P1/test/bb:ignored" >/dev/null 2>&1 &&
        fail "a pull by digest also named the image by the tag beside the digest"
"$CBOX" image --root "$W/s9" -q pull --insecure-registry "127.0.0.1:$P1" "127.0.0.1:$P1/test/multi@$multi_digest" ||
        fail "pull of an index by digest"
check_pulled "$W/s9" "127.0.0.1:$P1/test/multi@$multi_digest"
absent=sha256:$(printf nothing | sha256sum | cut -d' ' -f1)
err=$("$CBOX" image --root "$W/s9" pull --insecure-registry "127.0.0.1:$P1" "127.0.0.1:$P1/test/bb@$absent" 2>&1) &&
        fail "pull of an absent digest succeeded"
echo "absent digest: $err"
err=$("$CBOX" image --root "$W/s9" import oci "bb@$bb_digest" 2>&1) && fail "import under a digest name succeeded"
echo "import under a digest name: $err"

# ---- retries and redirects: a proxy that answers each blob 503 once, then redirects it ----
cat > flaky-proxy.py <<'PY'
# In front of the registry at UPSTREAM: manifests and everything else are passed through; a GET of a
# blob gets 503 the first time, then a 307 to the registry itself (another host:port); the blobs of
# test/multi get 503 every time; test/tamper is test/bb with a byte appended to each manifest;
# test/slow is test/bb with its blobs sent slowly. Logs.
import http.client, http.server, sys, time
port, upstream, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
seen = set()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def note(self, what):
        with open(log, "a") as f: f.write(what + " " + self.path + "\n")
    def do_GET(self): self.relay(True)
    def do_HEAD(self): self.relay(False)
    def relay(self, body):
        path = self.path.replace("/test/tamper/", "/test/bb/").replace("/test/slow/", "/test/bb/")
        if path != self.path: # test/tamper and test/slow are test/bb
            c = http.client.HTTPConnection(upstream)
            c.request(self.command, path, headers={"Accept": self.headers.get("Accept", "*/*")})
            r = c.getresponse(); data = r.read()
            if "/test/tamper/" in self.path and "/manifests/" in path: data += b" "
            self.send_response(r.status)
            self.send_header("Content-Type", r.getheader("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(data))); self.end_headers()
            if not body: return
            if "/test/slow/" in self.path and "/blobs/" in path: # 64 KiB every 20 ms
                for i in range(0, len(data), 65536):
                    self.wfile.write(data[i:i + 65536]); self.wfile.flush(); time.sleep(0.02)
            else:
                self.wfile.write(data)
            return
        if "/blobs/" in self.path and body:
            if self.path not in seen or "/test/multi/" in self.path:
                seen.add(self.path); self.note("503")
                self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers(); return
            self.note("307")
            self.send_response(307); self.send_header("Location", "http://" + upstream + self.path)
            self.send_header("Content-Length", "0"); self.end_headers(); return
        c = http.client.HTTPConnection(upstream)
        c.request(self.command, self.path,
                  headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")})
        r = c.getresponse(); data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"): self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)) if body else r.getheader("Content-Length", "0"))
        self.end_headers()
        if body: self.wfile.write(data)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
PX=$(free_port)
python3 flaky-proxy.py "$PX" "127.0.0.1:$P1" "$W/proxy.log" &
PIDS+=($!)
for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PX/v2/" && break
        sleep 0.1
done
"$CBOX" image --root "$W/s7" -q pull --insecure-registry "127.0.0.1:$PX" "127.0.0.1:$PX/test/bb:1" ||
        fail "pull through the flaky, redirecting proxy"
check_pulled "$W/s7" "127.0.0.1:$PX/test/bb:1"
n503=$(grep -c '^503 ' "$W/proxy.log" || true)
n307=$(grep -c '^307 ' "$W/proxy.log" || true)
echo "through the proxy: $n503 blob request(s) answered 503 and retried, $n307 redirected"
[ "$n503" -ge 3 ] && [ "$n307" -ge 3 ] || fail "expected the config and both layers retried and redirected"
# by digest, a manifest that does not hash to it is refused
err=$("$CBOX" image --root "$W/s10" pull --insecure-registry "127.0.0.1:$PX" "127.0.0.1:$PX/test/tamper@$bb_digest" 2>&1) &&
        fail "pull by digest accepted a manifest with another digest"
echo "tampered manifest: $err"
case $err in *"digest mismatch"*) ;; *) fail "tampered manifest: no digest error: $err" ;; esac
"$CBOX" image --root "$W/s10" inspect "127.0.0.1:$PX/test/tamper@$bb_digest" >/dev/null 2>&1 && fail "tampered image indexed"
# by tag, the same bytes are taken (nothing to check them against) — the control for the case above
"$CBOX" image --root "$W/s10" -q pull --insecure-registry "127.0.0.1:$PX" "127.0.0.1:$PX/test/tamper:1" ||
        fail "pull of the tampered manifest by tag"

# progress: on a terminal one line redrawn in place with bytes, total and rate; otherwise plain lines
if command -v script >/dev/null; then
        script -qec "'$CBOX' image --root '$W/s13' pull --insecure-registry 127.0.0.1:$PX 127.0.0.1:$PX/test/slow:1" \
                "$W/tty.out" >/dev/null || fail "pull on a terminal"
        tr '\r' '\n' < "$W/tty.out" | grep -aE $'^\e\\[KDownloading sha256:[0-9a-f]{12} [0-9.]+[KM]/[0-9.]+[KM] [0-9.]+[BKMG]?/s' ||
                fail "no progress line with bytes, total and rate on a terminal: $(cat -v "$W/tty.out")"
else
        fail "script (util-linux) is missing: cannot check the progress on a terminal"
fi
plain=$("$CBOX" image --root "$W/s14" pull --insecure-registry "127.0.0.1:$PX" "127.0.0.1:$PX/test/slow:1" 2>&1) ||
        fail "pull without a terminal"
case $plain in *$'\e'*|*$'\r'*) fail "terminal control characters without a terminal: $(cat -v <<<"$plain")" ;; esac
grep -q '^Downloading sha256:' <<<"$plain" || fail "no plain progress lines: $plain"

# a blob that always fails: a bounded number of attempts, then a clear error, nothing stored
: > "$W/proxy.log"
err=$("$CBOX" image --root "$W/s8" pull --insecure-registry "127.0.0.1:$PX" "127.0.0.1:$PX/test/multi:1" 2>&1) &&
        fail "a pull succeeded through a proxy that always fails its blobs"
echo "a blob that always fails: $err"
case $err in *503*) ;; *) fail "the error does not name the 503: $err" ;; esac
attempts=$(grep -c '^503 ' "$W/proxy.log" || true)
[ "$attempts" = 3 ] || fail "expected 3 attempts at the failing blob, saw $attempts"
"$CBOX" image --root "$W/s8" inspect "127.0.0.1:$PX/test/multi:1" >/dev/null 2>&1 && fail "failed pull indexed"
[ -z "$(ls -A "$W/s8/layers" 2>/dev/null)" ] || fail "failed pull left layers"

# ---- HTTPS with a self-signed CA ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=cbox test CA" \
        2>/dev/null || fail "openssl CA"
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile san.ext \
        2>/dev/null || fail "openssl server cert"
TLS="  tls:
    certificate: $W/srv.pem
    key: $W/srv.key"
P2=$(free_port)
start_registry reg-https "$P2" "$TLS" || fail "registry with TLS does not start"
skopeo copy -q --dest-tls-verify=false oci:oci:bb "docker://127.0.0.1:$P2/test/bb:2" || fail "skopeo push (https)"
"$CBOX" image --root "$W/s2" pull --ca-file "$W/ca.pem" "127.0.0.1:$P2/test/bb:2" || fail "pull over HTTPS with CA"
check_pulled "$W/s2" "127.0.0.1:$P2/test/bb:2"
err=$("$CBOX" image --root "$W/s2b" pull "127.0.0.1:$P2/test/bb:2" 2>&1) && fail "pull without the CA succeeded"
echo "without the CA: $err"

# ---- HTTPS + htpasswd Basic auth ----
htpasswd -Bbn cboxuser s3cret > htpasswd
AUTH="auth:
  htpasswd:
    realm: cbox-test
    path: $W/htpasswd"
P3=$(free_port)
start_registry reg-auth "$P3" "$TLS" "$AUTH" || fail "registry with auth does not start"
skopeo copy -q --dest-tls-verify=false --dest-creds cboxuser:s3cret oci:oci:bb "docker://127.0.0.1:$P3/test/bb:3" ||
        fail "skopeo push (auth)"
err=$("$CBOX" image --root "$W/s3" pull --ca-file "$W/ca.pem" --auth-file "$W/none.json" "127.0.0.1:$P3/test/bb:3" 2>&1) &&
        fail "pull without credentials succeeded"
echo "without credentials: $err"
printf '{"auths":{"127.0.0.1:%s":{"username":"cboxuser","password":"wrong"}}}' "$P3" > bad.json
err=$("$CBOX" image --root "$W/s3" pull --ca-file "$W/ca.pem" --auth-file "$W/bad.json" "127.0.0.1:$P3/test/bb:3" 2>&1) &&
        fail "pull with a wrong password succeeded"
echo "wrong password: $err"
printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$P3" "$(printf cboxuser:s3cret | base64)" > auth.json
"$CBOX" image --root "$W/s3" pull --ca-file "$W/ca.pem" --auth-file "$W/auth.json" "127.0.0.1:$P3/test/bb:3" ||
        fail "pull with Basic auth"
check_pulled "$W/s3" "127.0.0.1:$P3/test/bb:3"

# ---- the same settings from conf.d: storage_root and [registry."HOST"] insecure / ca_file / auth_file ----
CR=$W/cfgroot
mkdir -p "$CR/etc/cbox/conf.d"
cat > "$CR/etc/cbox/conf.d/50-registries.toml" <<TOML
storage_root = "$W/s11"
[registry."127.0.0.1:$P1"]
insecure = true
[registry."127.0.0.1:$P2"]
ca_file = "$W/ca.pem"
[registry."127.0.0.1:$P3"]
ca_file = "$W/ca.pem"
auth_file = "$W/auth.json"
TOML
for ref in "127.0.0.1:$P1/test/bb:1" "127.0.0.1:$P2/test/bb:2" "127.0.0.1:$P3/test/bb:3"; do
        CBOX_CONFIG_ROOT=$CR "$CBOX" image -q pull "$ref" || fail "pull of $ref with the settings from conf.d"
        check_pulled "$W/s11" "$ref"
done
CBOX_CONFIG_ROOT=$CR "$CBOX" image list | grep -q "127.0.0.1:$P3/test/bb" || fail "image list does not read storage_root"
# an option on the command line wins over conf.d
err=$(CBOX_CONFIG_ROOT=$CR "$CBOX" image --root "$W/s12" pull --auth-file "$W/bad.json" "127.0.0.1:$P3/test/bb:3" 2>&1) &&
        fail "--auth-file did not override the registry's auth_file"
echo "--auth-file over conf.d: $err"

# ---- Bearer tokens: a registry with token auth and a small token server of our own ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout tok.key -out tok.pem -days 2 -subj "/CN=cbox token issuer" \
        2>/dev/null || fail "openssl token cert"
openssl x509 -in tok.pem -outform DER -out tok.der
cat > token-server.py <<'EOF'
# Issues RS256 JWTs (signed with the openssl CLI) to clients that present tokenuser:tokpass, granting
# what the scope asks for; counts the tokens issued.
import base64, http.server, json, subprocess, sys, time, urllib.parse
port, key, der, counter = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        want = "Basic " + base64.b64encode(b"tokenuser:tokpass").decode()
        if self.headers.get("Authorization") != want:
            self.send_response(401); self.end_headers(); return
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        access = []
        for s in q.get("scope", []):
            typ, name, actions = s.split(":")
            access.append({"type": typ, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        hdr = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(open(der, "rb").read()).decode()]}
        claims = {"iss": "cbox-token", "sub": "tokenuser", "aud": q.get("service", [""])[0], "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(now), "access": access}
        signing = (b64(json.dumps(hdr).encode()) + "." + b64(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing, capture_output=True,
                             check=True).stdout
        body = json.dumps({"token": signing.decode() + "." + b64(sig)}).encode()
        with open(counter, "a") as f: f.write("x")
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
TP=$(free_port)
python3 token-server.py "$TP" "$W/tok.key" "$W/tok.der" "$W/tokens" &
PIDS+=($!)
for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$TP/token" && break
        sleep 0.1
done
TOKAUTH="auth:
  token:
    realm: http://127.0.0.1:$TP/token
    service: cbox-registry
    issuer: cbox-token
    rootcertbundle: $W/tok.pem"
P5=$(free_port)
start_registry reg-token "$P5" "" "$TOKAUTH" || fail "registry with token auth does not start"
skopeo copy -q --dest-tls-verify=false --dest-creds tokenuser:tokpass oci:oci:bb "docker://127.0.0.1:$P5/test/bb:5" ||
        fail "skopeo push (token)"
: > tokens
err=$("$CBOX" image --root "$W/s5" pull --insecure-registry "127.0.0.1:$P5" --auth-file "$W/none.json" \
        "127.0.0.1:$P5/test/bb:5" 2>&1) && fail "pull without token credentials succeeded"
echo "token server without credentials: $err"
printf '{"auths":{"127.0.0.1:%s":{"username":"tokenuser","password":"tokpass"}}}' "$P5" > tok-auth.json
"$CBOX" image --root "$W/s5" pull --insecure-registry "127.0.0.1:$P5" --auth-file "$W/tok-auth.json" \
        "127.0.0.1:$P5/test/bb:5" || fail "pull with a Bearer token"
check_pulled "$W/s5" "127.0.0.1:$P5/test/bb:5"
[ -s tokens ] || fail "no token was issued"
echo "tokens issued: $(wc -c < tokens)"

# ---- a corrupted blob in the registry ----
layer=$("$CBOX" image --root "$W/local" inspect bb:local |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"].split(":")[1])')
data="$W/reg-http/docker/registry/v2/blobs/sha256/${layer:0:2}/$layer/data"
if [ -f "$data" ]; then
        python3 - "$data" <<'EOF'
import sys
p = sys.argv[1]; d = bytearray(open(p, "rb").read()); d[len(d) // 2] ^= 0xff; open(p, "wb").write(bytes(d))
EOF
        err=$("$CBOX" image --root "$W/s4" pull --insecure-registry "127.0.0.1:$P1" "127.0.0.1:$P1/test/bb:1" 2>&1) &&
                fail "pull of a corrupted blob succeeded"
        echo "corrupted blob: $err"
        case $err in *"digest mismatch"*) ;; *) fail "corrupted blob: no digest error: $err" ;; esac
        [ -z "$(ls -A "$W/s4/layers")" ] || fail "corrupted blob: layers left: $(ls -A "$W/s4/layers")"
        [ ! -e "$W/s4/blobs/sha256/$layer" ] || fail "corrupted blob stored"
        [ -z "$(find "$W/s4/blobs/sha256" -name '.tmp-*')" ] || fail "corrupted blob: temporaries left"
        "$CBOX" image --root "$W/s4" inspect "127.0.0.1:$P1/test/bb:1" >/dev/null 2>&1 && fail "corrupted image indexed"
else
        fail "registry storage layout unexpected: no $data"
fi

[ $fails = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "image pull: HTTP, platform index, retries, redirects, HTTPS+CA, Basic auth, Bearer token, corrupted blob: conf.d registry settings: all as expected"
