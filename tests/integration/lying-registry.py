# SPDX-License-Identifier: LGPL-2.1-or-later
# A registry that lies, for test-image-lying-registry.sh. One process, three ports:
#   HTTP  (argv[1])  plain http: a token realm, the target of a downgrade, an insecure registry
#   TLS   (argv[2])  https, the registry cbox is pointed at
#   OTHER (argv[3])  https, another origin that blobs are redirected to
# with a certificate (argv[4], key argv[5]) for 127.0.0.1; every request is logged to argv[6] as one
# JSON line {"port", "path", "auth"} (auth: the Authorization header or null), and what the blob streams
# wrote as {"stream", "sent", "complete"}.
#
# Repositories (each /v2/REPO/manifests/1 is an OCI manifest of one real image, config and layer):
#   liar      the layer's descriptor declares 100 bytes; its blob streams 300 MB of zeros without a
#             Content-Length (the connection's end would end it)
#   liar-cl   the same with "Content-Length: 300000000"
#   down      (TLS) the layer blob is a 307 to the same path on the plain HTTP port
#   auth      Basic auth (WWW-Authenticate with a comma inside the quoted realm); the blobs are 307s to
#             OTHER, which serves them to anyone
#   bearer    Bearer auth whose realm is http://127.0.0.1:HTTP/token; the token server answers anyone (and
#             logs what Authorization it got); the registry accepts the token it hands out
import gzip, hashlib, http.server, io, json, socket, ssl, sys, tarfile, threading

HTTP, TLS, OTHER = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
CERT, KEY, LOG = sys.argv[4], sys.argv[5], sys.argv[6]
STREAM = 300 * 1000 * 1000
BASIC = "Basic Y2JveHVzZXI6czNjcmV0"  # cboxuser:s3cret
TOKEN = "tok-7f3a"
lock = threading.Lock()


def log(**kw):
    with lock, open(LOG, "a") as f:
        f.write(json.dumps(kw) + "\n")


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


# one real image: a layer with /hello, its config
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
    data = b"hello from the lying registry\n"
    ti = tarfile.TarInfo("hello")
    ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
    t.addfile(ti, io.BytesIO(data))
layer = gzip.compress(raw.getvalue(), mtime=0)
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": [sha(raw.getvalue())]}}).encode()
blobs = {sha(layer): layer, sha(config): config}


def manifest(layer_size=None):
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(layer),
                    "size": len(layer) if layer_size is None else layer_size}]}).encode()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def stream(self, with_length):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if with_length:
            self.send_header("Content-Length", str(STREAM))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        chunk, sent = b"\0" * 4096, 0
        try:
            while sent < STREAM:
                self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        log(stream=self.path, sent=sent, complete=sent >= STREAM)

    def do_GET(self):
        port = self.server.server_address[1]
        auth = self.headers.get("Authorization")
        log(port=port, path=self.path, auth=auth)
        parts = self.path.split("?")[0].split("/")  # "", "v2", REPO, "manifests"|"blobs", REF
        if self.path.startswith("/token"):
            return self.send(200, json.dumps({"token": TOKEN}).encode(),
                             [("Content-Type", "application/json")])
        if self.path == "/v2/":
            return self.send(200, b"{}")
        if len(parts) != 5 or parts[1] != "v2":
            return self.send(404)
        repo, kind, ref = parts[2], parts[3], parts[4]
        if repo == "auth" and port == TLS and auth != BASIC:
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                             [("WWW-Authenticate", 'Basic realm="cbox, the lying registry", charset="UTF-8"')])
        if repo == "bearer" and port in (TLS, HTTP) and auth != "Bearer " + TOKEN:
            realm = "http://127.0.0.1:%d/token" % HTTP
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                             [("WWW-Authenticate",
                               'Bearer realm="%s",service="lying, registry",scope="repository:bearer:pull"'
                               % realm)])
        if kind == "manifests":
            m = manifest(100) if repo in ("liar", "liar-cl") else manifest()
            return self.send(200, m, [("Content-Type", "application/vnd.oci.image.manifest.v1+json")])
        if kind != "blobs":
            return self.send(404)
        if repo in ("liar", "liar-cl") and ref == sha(layer):
            return self.stream(repo == "liar-cl")
        if repo == "down" and port == TLS and ref == sha(layer):
            return self.send(307, headers=[("Location", "http://127.0.0.1:%d%s" % (HTTP, self.path))])
        if repo == "auth" and port == TLS:
            return self.send(307, headers=[("Location", "https://localhost:%d%s" % (OTHER, self.path))])
        if ref in blobs:
            return self.send(200, blobs[ref], [("Content-Type", "application/octet-stream")])
        return self.send(404)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(port, tls):
    s = Server(("127.0.0.1", port), H)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
        s.socket = ctx.wrap_socket(s.socket, server_side=True)
    s.serve_forever()


for p, tls in ((HTTP, False), (TLS, True), (OTHER, True)):
    threading.Thread(target=serve, args=(p, tls), daemon=True).start()
log(ready=True)
threading.Event().wait()
