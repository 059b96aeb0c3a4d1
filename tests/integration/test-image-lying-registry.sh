#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox image pull against a registry that lies (lying-registry.py, on 127.0.0.1 ports of the test's own):
#   - a layer declared 100 bytes that streams 300 MB (with and without a Content-Length) is refused after
#     little more than its size: the server could write only what the socket buffers hold before the
#     connection was closed, and nothing of it is in the store (no blob, no temporary, no layer, no index);
#   - a blob redirect from HTTPS to plain HTTP is refused, and nothing is asked of the HTTP side;
#   - a blob redirect to another origin is followed, and the Basic credentials are not sent there (control:
#     they were sent to the registry, and the image is pulled);
#   - an HTTPS registry's plain-HTTP Bearer realm gets no credentials: refused with credentials configured,
#     asked anonymously without; control: the registry configured insecure in conf.d, they are sent.
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
: "${CBOX_SOURCE_ROOT:?}"
skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (chown in layers)"
for t in python3 openssl; do
        command -v "$t" >/dev/null || skip "$t not installed"
done

W=$(mktemp -d /tmp/test-image-lying.XXXXXX)
SRV=
cleanup() {
        [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
        rm -rf "$W"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
cd "$W"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=cbox lying CA" \
        2>/dev/null || skip "openssl cannot make a CA"
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile san.ext \
        2>/dev/null || skip "openssl cannot sign a certificate"

PH=$(free_port) PT=$(free_port) PO=$(free_port)
python3 "$CBOX_SOURCE_ROOT/tests/integration/lying-registry.py" "$PH" "$PT" "$PO" srv.pem srv.key "$W/log" &
SRV=$!
for _ in $(seq 100); do
        grep -q '"ready"' "$W/log" 2>/dev/null && break
        sleep 0.1
done
grep -q '"ready"' "$W/log" || { fail "the lying registry does not start"; exit 1; }

TLS=127.0.0.1:$PT
INS=127.0.0.1:$PH
printf '{"auths":{"%s":{"auth":"%s"},"%s":{"auth":"%s"}}}' "$TLS" "$(printf cboxuser:s3cret | base64)" \
        "$INS" "$(printf cboxuser:s3cret | base64)" > auth.json
echo '{"auths":{}}' > none.json

# requests (and streams) logged since the last mark
mark() { : > "$W/log"; }
logged() { python3 -c "import json,sys
for l in open('$W/log'):
    e = json.loads(l)
    if $1: print(json.dumps(e))"; }

store_is_empty_of() { # STORE DIGEST-HEX WHAT
        local st=$1 hex=$2 what=$3
        [ ! -e "$st/blobs/sha256/$hex" ] || fail "$what: the refused blob is in the store"
        [ -z "$(find "$st" -name '.tmp-*' 2>/dev/null)" ] || fail "$what: temporaries left: $(find "$st" -name '.tmp-*')"
        [ -z "$(ls -A "$st/layers" 2>/dev/null)" ] || fail "$what: layers left: $(ls -A "$st/layers")"
        "$CBOX" image --root "$st" list 2>/dev/null | grep -q "$TLS" && fail "$what: the image is indexed"
        return 0
}

# the liar's layer digest, from its manifest
layer_hex=$(python3 -c "import json,ssl,urllib.request
c = ssl.create_default_context(cafile='$W/ca.pem')
m = json.load(urllib.request.urlopen('https://$TLS/v2/liar/manifests/1', context=c))
assert m['layers'][0]['size'] == 100, m
print(m['layers'][0]['digest'].split(':')[1])") || fail "cannot read the liar's manifest"

# ---- declared 100 bytes, streams 300 MB ----
for repo in liar liar-cl; do
        mark
        err=$("$CBOX" image --root "$W/s-$repo" pull --ca-file ca.pem --auth-file none.json "$TLS/$repo:1" 2>&1) &&
                fail "$repo: a blob past its declared size was accepted"
        echo "$repo: $err"
        case $err in *"more than the 100 bytes"*) ;; *) fail "$repo: the error does not say the size was exceeded: $err" ;; esac
        # the server's stream ends when cbox closes the connection (or when it has sent all 300 MB)
        for _ in $(seq 300); do
                [ -n "$(logged '"stream" in e')" ] && break
                sleep 0.1
        done
        st=$(logged '"stream" in e')
        echo "$repo: server stream: $st"
        sent=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['sent'])" "$st" 2>/dev/null) ||
                { fail "$repo: the server logged no stream"; continue; }
        # what the socket buffers of a loopback connection hold, far from 300 MB
        [ "$sent" -lt $((32 * 1024 * 1024)) ] || fail "$repo: the server sent $sent bytes before cbox stopped"
        n=$(logged '"path" in e and "/blobs/sha256:'"$layer_hex"'" in e["path"]' | wc -l)
        [ "$n" = 1 ] || fail "$repo: the oversized blob was asked for $n times (a refusal is not retried)"
        store_is_empty_of "$W/s-$repo" "$layer_hex" "$repo"
done

# ---- https → http redirect ----
mark
err=$("$CBOX" image --root "$W/s-down" pull --ca-file ca.pem --auth-file none.json "$TLS/down:1" 2>&1) &&
        fail "a redirect from HTTPS to plain HTTP was followed"
echo "down: $err"
case $err in *"HTTPS to plain HTTP"*) ;; *) fail "down: the error does not name the downgrade: $err" ;; esac
[ -z "$(logged 'e.get("port") == '"$PH")" ] || fail "down: cbox asked the plain HTTP side: $(logged 'e.get("port") == '"$PH")"
[ -n "$(logged 'e.get("port") == '"$PT"' and "/v2/down/blobs/" in e["path"]')" ] ||
        fail "down: the redirecting blob was never asked for (the test did not test the redirect)"
store_is_empty_of "$W/s-down" "$layer_hex" "down"

# ---- a redirect to another origin: followed, without the credentials ----
mark
"$CBOX" image --root "$W/s-auth" -q pull --ca-file ca.pem --auth-file auth.json "$TLS/auth:1" ||
        fail "auth: pull with Basic auth and blobs on another origin"
"$CBOX" image --root "$W/s-auth" inspect "$TLS/auth:1" >/dev/null || fail "auth: not pulled"
echo "auth: requests: $(logged '"path" in e')"
[ -n "$(logged 'e.get("port") == '"$PT"' and e["auth"] == "Basic Y2JveHVzZXI6czNjcmV0"')" ] ||
        fail "auth: the credentials never reached the registry (the control failed)"
[ -n "$(logged 'e.get("port") == '"$PO")" ] || fail "auth: the other origin was never asked"
[ -z "$(logged 'e.get("port") == '"$PO"' and e["auth"]')" ] ||
        fail "auth: credentials went to another origin: $(logged 'e.get("port") == '"$PO"' and e["auth"]')"

# ---- an https registry's plain-http Bearer realm ----
mark
err=$("$CBOX" image --root "$W/s-bearer" pull --ca-file ca.pem --auth-file auth.json "$TLS/bearer:1" 2>&1) &&
        fail "bearer: credentials configured, a plain-HTTP realm, and the pull went ahead"
echo "bearer, credentials: $err"
case $err in *"plain-HTTP token realm"*) ;; *) fail "bearer: the error does not name the realm: $err" ;; esac
[ -z "$(logged '"/token" in e.get("path", "") and e["auth"]')" ] ||
        fail "bearer: credentials went over plain HTTP: $(logged '"/token" in e.get("path", "") and e["auth"]')"
store_is_empty_of "$W/s-bearer" "$layer_hex" "bearer"
# without credentials: the token is asked for anonymously, and the pull works
mark
"$CBOX" image --root "$W/s-bearer2" -q pull --ca-file ca.pem --auth-file none.json "$TLS/bearer:1" ||
        fail "bearer: anonymous token from a plain-HTTP realm"
[ -n "$(logged '"/token" in e.get("path", "")')" ] || fail "bearer: no token was asked for"
[ -z "$(logged '"/token" in e.get("path", "") and e["auth"]')" ] || fail "bearer: credentials sent without any configured"
# control: the registry configured insecure in conf.d (plain HTTP to it), the credentials go to its realm
CR=$W/cfgroot
mkdir -p "$CR/etc/cbox/conf.d"
cat > "$CR/etc/cbox/conf.d/50-registries.toml" <<TOML
[registry."$INS"]
insecure = true
auth_file = "$W/auth.json"
TOML
mark
CBOX_CONFIG_ROOT=$CR "$CBOX" image --root "$W/s-bearer3" -q pull "$INS/bearer:1" ||
        fail "bearer: pull from the insecure registry with its plain-HTTP realm"
[ -n "$(logged '"/token" in e.get("path", "") and e["auth"] == "Basic Y2JveHVzZXI6czNjcmV0"')" ] ||
        fail "bearer: the insecure registry's realm did not get the credentials (the control failed): $(logged '"path" in e')"
[ -n "$(logged 'e.get("port") == '"$PH"' and e["auth"] == "Bearer tok-7f3a"')" ] ||
        fail "bearer: the token was not used"

# ---- where credentials come from without --auth-file: podman's and docker's files, a helper ----
# (only when the host has no /etc/cbox/auth.json, which is searched first)
if [ ! -e /etc/cbox/auth.json ]; then
        b64=$(printf cboxuser:s3cret | base64)
        sent_basic() { [ -n "$(logged 'e.get("port") == '"$PT"' and e["auth"] == "Basic Y2JveHVzZXI6czNjcmV0"')" ]; }
        # control: no file anywhere, the registry refuses
        mkdir -p "$W/home" "$W/xdg/containers" "$W/bin"
        mark
        HOME=$W/home XDG_RUNTIME_DIR=$W/xdg DOCKER_CONFIG= REGISTRY_AUTH_FILE= "$CBOX" image --root "$W/s-c0" -q \
                pull --ca-file ca.pem "$TLS/auth:1" 2>/dev/null && fail "creds: pulled without any credentials"
        sent_basic && fail "creds: credentials sent with none configured"
        # $XDG_RUNTIME_DIR/containers/auth.json (podman's)
        printf '{"auths":{"%s":{"auth":"%s"}}}' "$TLS" "$b64" > "$W/xdg/containers/auth.json"
        mark
        HOME=$W/home XDG_RUNTIME_DIR=$W/xdg "$CBOX" image --root "$W/s-c1" -q pull --ca-file ca.pem "$TLS/auth:1" ||
                fail "creds: podman's auth.json in \$XDG_RUNTIME_DIR"
        sent_basic || fail "creds: podman's auth.json was not used"
        rm -f "$W/xdg/containers/auth.json"
        # ~/.docker/config.json with the key as docker writes it, username+password form
        mkdir -p "$W/home/.docker"
        printf '{"auths":{"https://%s/v1/":{"username":"cboxuser","password":"s3cret"}}}' "$TLS" > "$W/home/.docker/config.json"
        mark
        HOME=$W/home XDG_RUNTIME_DIR=$W/xdg "$CBOX" image --root "$W/s-c2" -q pull --ca-file ca.pem "$TLS/auth:1" ||
                fail "creds: ~/.docker/config.json"
        sent_basic || fail "creds: docker's config.json was not used"
        # credHelpers: docker-credential-NAME get, the registry on stdin (the test's helper records it)
        cat > "$W/bin/docker-credential-cboxtest" <<E
#!/bin/sh
[ "\$1" = get ] || exit 2
read -r reg
echo "\$reg" > "$W/helper-asked"
printf '{"ServerURL":"%s","Username":"cboxuser","Secret":"s3cret"}' "\$reg"
E
        chmod +x "$W/bin/docker-credential-cboxtest"
        printf '{"credHelpers":{"%s":"cboxtest"}}' "$TLS" > "$W/home/.docker/config.json"
        mark
        PATH=$W/bin:$PATH HOME=$W/home XDG_RUNTIME_DIR=$W/xdg "$CBOX" image --root "$W/s-c3" -q pull --ca-file ca.pem \
                "$TLS/auth:1" || fail "creds: a credential helper"
        sent_basic || fail "creds: the helper's credentials were not used"
        [ "$(cat "$W/helper-asked" 2>/dev/null)" = "$TLS" ] || fail "creds: the helper was not asked for $TLS"
        # a helper that is missing is an error naming it, not a silent anonymous pull
        printf '{"credHelpers":{"%s":"nosuchhelper"}}' "$TLS" > "$W/home/.docker/config.json"
        err=$(HOME=$W/home XDG_RUNTIME_DIR=$W/xdg "$CBOX" image --root "$W/s-c4" pull --ca-file ca.pem "$TLS/auth:1" 2>&1) &&
                fail "creds: pulled with a missing credential helper"
        case $err in *docker-credential-nosuchhelper*) ;; *) fail "creds: the error does not name the helper: $err" ;; esac
else
        echo "creds: /etc/cbox/auth.json exists on this host, the search of the other files is not tested"
fi

[ $fails = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "lying registry: oversized blobs refused early and not stored, downgrade refused, credentials kept to their origin and to TLS: all as expected"
