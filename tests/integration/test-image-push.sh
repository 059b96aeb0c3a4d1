#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox image push against a real registry (Debian's docker-registry, the distribution server) on 127.0.0.1,
# checked with skopeo and umoci:
#   - a 3-layer image built by umoci, imported, pushed over plain HTTP (configured insecure): `skopeo inspect`
#     shows cbox's manifest digest and layers, `skopeo copy` pulls it to an OCI layout whose `umoci unpack`
#     tree is the merged overlay view of cbox's layers;
#   - a second push sends no blob (HEAD finds them: no upload in the registry's log) and the same manifest;
#   - DEST defaults to REF, which must then name a registry host (refused clearly otherwise);
#   - a docker-archive (whose layers cbox stores gzip'd itself) pushes and pulls back the same image;
#   - HTTPS + htpasswd Basic auth with a credentials file; wrong credentials are refused clearly and the
#     store stays as it was; a Bearer token server sees the scope repository:NAME:pull,push asked for;
#   - an upload Location from HTTPS to plain HTTP, or a 307 of the POST there, is refused and nothing
#     reaches the HTTP side; a Location on another origin gets no credentials (a sink of the test's own;
#     control: a relative Location on the registry's own origin gets them, and the push completes).
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mknod, chown in layers, overlayfs)"
for t in docker-registry skopeo umoci htpasswd openssl python3 curl unshare mount; do
        command -v "$t" >/dev/null || skip "$t not installed (tools/setup.sh)"
done
BUSYBOX=$(command -v busybox) || skip "busybox-static not installed"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "no overlayfs in this kernel"

W=$(mktemp -d /tmp/test-image-push.XXXXXX)
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

# start_registry NAME PORT [TLS YAML for http:] [auth YAML]; logs every request (level info)
start_registry() {
        local name=$1 port=$2 tls=${3:-} auth=${4:-}
        mkdir -p "$W/$name"
        cat > "$W/$name.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $W/$name
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

field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
manifest_of() { "$CBOX" image --root "$1" inspect "$2" | field manifest; }
layers_of() { # the layer blob digests, bottom first
        "$CBOX" image --root "$1" inspect "$2" |
                python3 -c 'import json,sys; print(" ".join(l["digest"] for l in json.load(sys.stdin)["layers"]))'
}
diff_ids_of() {
        "$CBOX" image --root "$1" inspect "$2" |
                python3 -c 'import json,sys; print(" ".join(l["diff_id"] for l in json.load(sys.stdin)["layers"]))'
}
skopeo_check() { # REF DIGEST LAYERS [skopeo options]: what the registry serves is that image
        local ref=$1 digest=$2 layers=$3
        shift 3
        local got
        got=$(skopeo inspect "$@" "docker://$ref" |
                python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["Digest"], " ".join(d["Layers"]))') ||
                { fail "skopeo inspect $ref"; return; }
        [ "$got" = "$digest $layers" ] || fail "$ref: skopeo sees '$got', cbox has '$digest $layers'"
}
# requests of a method to a path (a grep pattern) in a registry's access log ("POST /v2/… HTTP/1.1" 202 …)
requests() { grep -c "\"$2 [^ \"]*$3[^ \"]* HTTP/" "$W/$1.log" || true; }

# ---- a 3-layer image: busybox; a file and a whiteout of a file of layer 1; another file ----
umoci init --layout oci >/dev/null
umoci new --image oci:bb >/dev/null
umoci unpack --image oci:bb b1 >/dev/null
mkdir -p b1/rootfs/bin b1/rootfs/srv b1/rootfs/etc
cp "$BUSYBOX" b1/rootfs/bin/busybox
ln -s busybox b1/rootfs/bin/sh
echo old > b1/rootfs/etc/deleteme
umoci repack --image oci:bb b1 >/dev/null
umoci unpack --image oci:bb b2 >/dev/null
echo hello > b2/rootfs/srv/index.html
rm b2/rootfs/etc/deleteme
umoci repack --image oci:bb b2 >/dev/null
umoci unpack --image oci:bb b3 >/dev/null
mkdir -p b3/rootfs/srv/sub
echo three > b3/rootfs/srv/sub/third
chmod 4750 b3/rootfs/srv/sub/third
umoci repack --image oci:bb b3 >/dev/null
umoci config --image oci:bb --config.cmd httpd --config.cmd -f --config.env GREETING=hi >/dev/null
S=$W/store
"$CBOX" image --root "$S" -q import oci push/bb:1 || fail "import"
[ "$(layers_of "$S" push/bb:1 | wc -w)" = 3 ] || fail "premise: not 3 layers: $(layers_of "$S" push/bb:1)"
digest=$(manifest_of "$S" push/bb:1)
layers=$(layers_of "$S" push/bb:1)

# the tree of a directory, one line per entry (type, mode, owner, size, content hash, link target)
cat > list.py <<'EOF'
import hashlib, os, stat, sys
root = sys.argv[1]
for dp, dns, fns in os.walk(root):
    dns.sort()
    for n in sorted(dns + fns):
        p = os.path.join(dp, n); st = os.lstat(p); rel = os.path.relpath(p, root)
        line = [rel, stat.filemode(st.st_mode), "%d:%d" % (st.st_uid, st.st_gid)]
        if stat.S_ISREG(st.st_mode):
            line += [str(st.st_size), hashlib.sha256(open(p, "rb").read()).hexdigest()[:16], str(int(st.st_mtime))]
        elif stat.S_ISLNK(st.st_mode):
            line += ["->", os.readlink(p)]
        print(" ".join(line))
EOF
merged_view() { # STORE REF: the overlay of its layers, listed, in a private mount namespace
        local lower
        lower=$("$CBOX" image --root "$1" inspect "$2" |
                python3 -c 'import json,sys; print(":".join(l["path"] for l in reversed(json.load(sys.stdin)["layers"])))')
        mkdir -p "$W/merged"
        unshare -m --propagation private sh -c 'mount -t overlay overlay -o ro,lowerdir="$1" "$2" && python3 "$3" "$2"' \
                sh "$lower" "$W/merged" "$W/list.py"
}

# ---- plain HTTP (configured insecure): push, skopeo inspect, skopeo copy + umoci unpack ----
P1=$(free_port)
start_registry reg-http "$P1" || skip "docker-registry does not start"
R1=127.0.0.1:$P1
out=$("$CBOX" image --root "$S" --json push --insecure-registry "$R1" push/bb:1 "$R1/test/bb:1") || fail "push over HTTP"
echo "first push: $out"
python3 - "$out" "$digest" <<'EOF' || fail "first push: unexpected summary: $out"
import json, sys
o = json.loads(sys.argv[1])
assert o["manifest"] == sys.argv[2] and o["blobs"] == 4 and o["blobs_uploaded"] == 4 and o["blobs_present"] == 0, o
EOF
[ "$(requests reg-http POST /blobs/uploads/)" = 4 ] || fail "expected 4 uploads, the registry saw $(requests reg-http POST /blobs/uploads/)"
skopeo_check "$R1/test/bb:1" "$digest" "$layers" --tls-verify=false
skopeo copy -q --src-tls-verify=false "docker://$R1/test/bb:1" oci:pulled:bb || fail "skopeo copy of the pushed image"
umoci unpack --image pulled:bb pulled-bundle >/dev/null || fail "umoci unpack of what skopeo pulled"
python3 list.py pulled-bundle/rootfs > want.txt
merged_view "$S" push/bb:1 > got.txt || fail "overlay mount of cbox's layers"
diff -u want.txt got.txt >&2 || fail "skopeo's pull of the pushed image differs from cbox's tree"
grep -q '^srv/sub/third -rwsr-x---' got.txt && ! grep -q '^etc/deleteme' got.txt ||
        fail "premise: the tree lacks what the layers made: $(cat got.txt)"
skopeo inspect --config --tls-verify=false "docker://$R1/test/bb:1" | python3 -c '
import json, sys
c = json.load(sys.stdin)["config"]
assert c["Cmd"] == ["httpd", "-f"] and "GREETING=hi" in c["Env"], c' || fail "the pushed config is not the image's"

# a second push: every blob is there (HEAD), nothing is uploaded, the manifest is the same
out=$("$CBOX" image --root "$S" --json push --insecure-registry "$R1" push/bb:1 "$R1/test/bb:1") || fail "second push"
echo "second push: $out"
case $out in *'"blobs_uploaded":0,"blobs_present":4'*) ;; *) fail "second push uploaded again: $out" ;; esac
[ "$(requests reg-http POST /blobs/uploads/)" = 4 ] || fail "the second push opened uploads"
[ "$(requests reg-http HEAD "/blobs/sha256:[0-9a-f]*")" -ge 8 ] || fail "the pushes did not ask for the blobs by HEAD"
# the same blobs to another tag and repository: a new repository has none of them
"$CBOX" image --root "$S" -q push --insecure-registry "$R1" push/bb:1 "$R1/test/bb:again" || fail "push to a second tag"
skopeo_check "$R1/test/bb:again" "$digest" "$layers" --tls-verify=false

# DEST defaults to REF, which must then name a registry
"$CBOX" image --root "$S" -q tag push/bb:1 "$R1/self/bb:2" || fail "tag"
"$CBOX" image --root "$S" -q push --insecure-registry "$R1" "$R1/self/bb:2" || fail "push without DEST"
skopeo_check "$R1/self/bb:2" "$digest" "$layers" --tls-verify=false
err=$("$CBOX" image --root "$S" push --insecure-registry "$R1" push/bb:1 2>&1) && fail "push of a name without a registry succeeded"
echo "no registry host: $err"
case $err in *"names no registry host"*) ;; *) fail "no registry host: unclear error: $err" ;; esac
err=$("$CBOX" image --root "$S" push --insecure-registry "$R1" nosuch:1 "$R1/test/x:1" 2>&1) && fail "push of a missing image succeeded"
echo "missing image: $err"
# a registry not configured insecure is spoken to over TLS only: this one is plain HTTP
err=$("$CBOX" image --root "$S" push push/bb:1 "$R1/test/tls:1" 2>&1) && fail "push over HTTPS to a plain HTTP registry succeeded"
echo "not configured insecure: $err"

# ---- a docker-archive, whose layers cbox stores gzip'd itself: pushes, and pulls back the same ----
skopeo copy -q oci:oci:bb docker-archive:bb-docker.tar:dock/bb:1 || fail "skopeo docker-archive"
"$CBOX" image --root "$S" -q import bb-docker.tar dock/bb:1 || fail "docker-archive import"
ddigest=$(manifest_of "$S" dock/bb:1)
dlayers=$(layers_of "$S" dock/bb:1)
[ "$ddigest" != "$digest" ] || fail "premise: the docker-archive's image is the OCI one"
"$CBOX" image --root "$S" -q push --insecure-registry "$R1" dock/bb:1 "$R1/test/dock:1" || fail "push of the docker-archive"
skopeo_check "$R1/test/dock:1" "$ddigest" "$dlayers" --tls-verify=false
"$CBOX" image --root "$W/back" -q pull --insecure-registry "$R1" "$R1/test/dock:1" || fail "pull back"
[ "$(manifest_of "$W/back" "$R1/test/dock:1")" = "$ddigest" ] || fail "pulled back: another manifest"
[ "$(diff_ids_of "$W/back" "$R1/test/dock:1")" = "$(diff_ids_of "$S" push/bb:1)" ] || fail "pulled back: other layers"

# ---- HTTPS + htpasswd Basic auth ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=cbox test CA" \
        2>/dev/null || fail "openssl CA"
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile san.ext \
        2>/dev/null || fail "openssl server cert"
TLS="  tls:
    certificate: $W/srv.pem
    key: $W/srv.key"
htpasswd -Bbn cboxuser s3cret > htpasswd
AUTH="auth:
  htpasswd:
    realm: cbox-test
    path: $W/htpasswd"
P3=$(free_port)
start_registry reg-auth "$P3" "$TLS" "$AUTH" || fail "registry with auth does not start"
R3=127.0.0.1:$P3
store_state() { (cd "$S" && find . -printf '%p %y %s %T@\n' | sort && cat images.json) | sha256sum; }
before=$(store_state)
printf '{"auths":{"%s":{"username":"cboxuser","password":"wrong"}}}' "$R3" > bad.json
err=$("$CBOX" image --root "$S" push --ca-file "$W/ca.pem" --auth-file "$W/bad.json" push/bb:1 "$R3/test/bb:3" 2>&1) &&
        fail "push with a wrong password succeeded"
echo "wrong password: $err"
case $err in *"refused the credentials: HTTP 401"*) ;; *) fail "wrong password: unclear error: $err" ;; esac
case $err in *"blob sha256:"*) ;; *) fail "wrong password: the error names no object: $err" ;; esac
err=$("$CBOX" image --root "$S" push --ca-file "$W/ca.pem" --auth-file "$W/none.json" push/bb:1 "$R3/test/bb:3" 2>&1) &&
        fail "push without credentials succeeded"
echo "without credentials: $err"
[ "$(store_state)" = "$before" ] || fail "a refused push changed the store"
[ "$(requests reg-auth PUT /blobs/uploads/)" = 0 ] || fail "a refused push uploaded"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$R3" "$(printf cboxuser:s3cret | base64)" > auth.json
"$CBOX" image --root "$S" -q push --ca-file "$W/ca.pem" --auth-file "$W/auth.json" push/bb:1 "$R3/test/bb:3" ||
        fail "push with Basic auth over HTTPS"
skopeo_check "$R3/test/bb:3" "$digest" "$layers" --tls-verify=false --creds cboxuser:s3cret
# the same from conf.d's [registry."HOST"] (ca_file, auth_file)
CR=$W/cfgroot
mkdir -p "$CR/etc/cbox/conf.d"
cat > "$CR/etc/cbox/conf.d/50-registries.toml" <<TOML
[registry."$R3"]
ca_file = "$W/ca.pem"
auth_file = "$W/auth.json"
TOML
CBOX_CONFIG_ROOT=$CR "$CBOX" image --root "$S" -q push dock/bb:1 "$R3/test/dock:3" || fail "push with conf.d's settings"
skopeo_check "$R3/test/dock:3" "$ddigest" "$dlayers" --tls-verify=false --creds cboxuser:s3cret

# ---- Bearer tokens: a token server of our own, which logs the scopes asked for ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout tok.key -out tok.pem -days 2 -subj "/CN=cbox token issuer" \
        2>/dev/null || fail "openssl token cert"
openssl x509 -in tok.pem -outform DER -out tok.der
cat > token-server.py <<'EOF'
# Issues RS256 JWTs (signed with the openssl CLI) to tokenuser:tokpass, granting what the scopes ask for;
# logs each request's scopes, one line per token.
import base64, http.server, json, subprocess, sys, time, urllib.parse
port, key, der, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"tokenuser:tokpass").decode():
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
        with open(log, "a") as f: f.write(" ".join(q.get("scope", [])) + "\n")
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
        self.wfile.write(json.dumps({"token": signing.decode() + "." + b64(sig)}).encode())
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
TP=$(free_port)
python3 token-server.py "$TP" "$W/tok.key" "$W/tok.der" "$W/scopes" &
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
R5=127.0.0.1:$P5
printf '{"auths":{"%s":{"username":"tokenuser","password":"tokpass"}}}' "$R5" > tok-auth.json
"$CBOX" image --root "$S" -q push --insecure-registry "$R5" --auth-file "$W/tok-auth.json" push/bb:1 "$R5/test/bb:5" ||
        fail "push with a Bearer token"
echo "token scopes asked for: $(tr '\n' '|' < scopes)"
grep -q 'repository:test/bb:pull,push' scopes || fail "no token asked for repository:test/bb:pull,push"
skopeo_check "$R5/test/bb:5" "$digest" "$layers" --tls-verify=false --creds tokenuser:tokpass

# ---- Location: from HTTPS to plain HTTP refused, another origin without credentials ----
# A registry sink of our own: HTTPS (and a plain HTTP port that logs what reaches it). Basic auth on
# 127.0.0.1; no blob is present; POST .../uploads/ answers 202 with a Location by repository:
#   down   http://127.0.0.1:HTTP/upload/… (a downgrade)
#   other  https://localhost:TLS/upload/… (the same server under another origin)
#   rel    /upload/… (relative: the registry's own origin), as for any other repository
# except redir, whose POST is answered with a 307 to the same path on the plain HTTP port.
# PUT of an upload stores nothing and answers 201 with the digest asked for; PUT of a manifest answers
# 201 with its sha256 (for the repository reject: 400 with a JSON error body). Every request is logged as JSON {port, host, method, path, auth}.
cat > sink.py <<'EOF'
import hashlib, http.server, json, ssl, sys, threading, urllib.parse
HTTP, TLS, CERT, KEY, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
BASIC = "Basic Y2JveHVzZXI6czNjcmV0"  # cboxuser:s3cret
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", "0"); self.end_headers()
    def handle_any(self):
        port, host = self.server.server_address[1], self.headers.get("Host", "")
        auth = self.headers.get("Authorization")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        with lock, open(LOG, "a") as f:
            f.write(json.dumps({"port": port, "host": host, "method": self.command, "path": self.path,
                                "auth": auth}) + "\n")
        u = urllib.parse.urlparse(self.path)
        if port != TLS:
            return self.send(404)
        if u.path.startswith("/upload/"):  # any origin: storage, as a registry may hand out
            d = urllib.parse.parse_qs(u.query).get("digest", [""])[0]
            return self.send(201, [("Docker-Content-Digest", d)])
        if host.startswith("127.0.0.1") and auth != BASIC:
            return self.send(401, [("WWW-Authenticate", 'Basic realm="sink"')])
        parts = u.path.split("/")  # "", "v2", REPO, "blobs"|"manifests", …
        if len(parts) < 5 or parts[1] != "v2":
            return self.send(404)
        repo = parts[2]
        if self.command == "HEAD":
            return self.send(404)
        if self.command == "POST" and parts[3:5] == ["blobs", "uploads"] and repo == "redir":
            return self.send(307, [("Location", "http://127.0.0.1:%d%s" % (HTTP, self.path))])
        if self.command == "POST" and parts[3:5] == ["blobs", "uploads"]:
            loc = {"down": "http://127.0.0.1:%d/upload/%s" % (HTTP, repo),
                   "other": "https://localhost:%d/upload/%s" % (TLS, repo)}.get(repo, "/upload/" + repo)
            return self.send(202, [("Location", loc)])
        if self.command == "PUT" and parts[3] == "manifests" and repo == "reject":
            err = b'{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}'
            self.send_response(400); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(err))); self.end_headers(); return self.wfile.write(err)
        if self.command == "PUT" and parts[3] == "manifests":
            return self.send(201, [("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())])
        return self.send(404)
    do_HEAD = do_POST = do_PUT = do_GET = handle_any
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
def serve(port, tls):
    s = Server(("127.0.0.1", port), H)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(CERT, KEY)
        s.socket = ctx.wrap_socket(s.socket, server_side=True)
    s.serve_forever()
for p, tls in ((HTTP, False), (TLS, True)):
    threading.Thread(target=serve, args=(p, tls), daemon=True).start()
with open(LOG, "a") as f: f.write('{"ready": true}\n')
threading.Event().wait()
EOF
PH=$(free_port) PT=$(free_port)
python3 sink.py "$PH" "$PT" srv.pem srv.key "$W/sink.log" &
PIDS+=($!)
for _ in $(seq 100); do
        grep -q '"ready"' "$W/sink.log" 2>/dev/null && break
        sleep 0.1
done
grep -q '"ready"' "$W/sink.log" || fail "the sink does not start"
RS=127.0.0.1:$PT
printf '{"auths":{"%s":{"auth":"%s"}}}' "$RS" "$(printf cboxuser:s3cret | base64)" > sink-auth.json
sink() { python3 -c "import json,sys
for l in open('$W/sink.log'):
    o = json.loads(l)
    if 'ready' not in o and eval(sys.argv[1]): print(o['method'], o['port'], o['host'], o['path'], o['auth'])" "$1"; }
spush() { "$CBOX" image --root "$S" -q push --ca-file "$W/ca.pem" --auth-file "$W/sink-auth.json" push/bb:1 "$RS/$1:1"; }

err=$(spush down 2>&1) && fail "push through an upload Location on plain HTTP succeeded"
echo "Location https -> http: $err"
case $err in *"refusing the Location from HTTPS to plain HTTP"*) ;; *) fail "downgrade: unclear error: $err" ;; esac
[ -z "$(sink "o['port'] == $PH")" ] || fail "the plain HTTP side was asked: $(sink "o['port'] == $PH")"
[ -n "$(sink "o['path'].startswith('/v2/down/blobs/uploads')")" ] || fail "premise: the sink opened no upload"

err=$(spush redir 2>&1) && fail "push through a 307 of its POST to plain HTTP succeeded"
echo "POST redirected https -> http: $err"
case $err in *"refusing the redirect from HTTPS to plain HTTP"*) ;; *) fail "POST downgrade: unclear error: $err" ;; esac
[ -z "$(sink "o['port'] == $PH")" ] || fail "the plain HTTP side was asked: $(sink "o['port'] == $PH")"
[ -n "$(sink "o['path'].startswith('/v2/redir/blobs/uploads')")" ] || fail "premise: the sink got no POST"

spush other || fail "push through an upload Location on another origin"
[ -n "$(sink "o['path'].startswith('/upload/other')")" ] || fail "premise: nothing was uploaded to the other origin"
[ -z "$(sink "o['path'].startswith('/upload/other') and o['auth']")" ] ||
        fail "credentials went to another origin: $(sink "o['path'].startswith('/upload/other')")"
# control: a relative Location is the registry's origin, and gets the credentials
spush rel || fail "push through a relative upload Location"
uploads=$(sink "o['path'].startswith('/upload/rel') and o['auth'] == 'Basic Y2JveHVzZXI6czNjcmV0' and o['host'] == '$RS'" | wc -l)
[ "$uploads" = 4 ] || fail "relative Location: expected 4 authenticated uploads, saw $uploads: $(sink "o['path'].startswith('/upload/rel')")"
[ -n "$(sink "o['method'] == 'PUT' and o['path'] == '/v2/rel/manifests/1'")" ] || fail "relative Location: no manifest PUT"
# a manifest refused: the error names it, and says the registry's code and message
err=$(spush reject 2>&1) && fail "push of a manifest the registry refuses succeeded"
echo "manifest refused: $err"
case $err in *": manifest: "*"HTTP 400: MANIFEST_INVALID: manifest invalid"*) ;; *) fail "manifest refused: unclear error: $err" ;; esac

[ "$(store_state)" = "$before" ] || fail "pushing changed the store"
[ $fails = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "image push: HTTP (skopeo inspect, skopeo copy + umoci unpack), no re-upload, DEST defaults, docker-archive, HTTPS+Basic, wrong credentials, conf.d, Bearer pull,push, Location downgrade and origin: all as expected"
