#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox image import against hostile and broken input: each archive is refused with a message naming the
# entry and the reason, nothing is written outside the store, and nothing of it stays in the store (no
# layer, no temporary, no index entry). Also: blob and diff_id digest mismatches in an OCI layout, and an
# import killed with SIGKILL midway leaves only a temporary that gc removes.
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mknod, chown)"
command -v python3 >/dev/null || skip "python3 missing"

W=$(mktemp -d /tmp/test-image-hostile.XXXXXX)
OUT=$(mktemp -d /tmp/test-image-outside.XXXXXX)
trap 'rm -rf "$W" "$OUT"' EXIT
S=(--root "$W/store")
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
passwd_before=$(sha256sum /etc/passwd)
cd "$W"

python3 - "$OUT" <<'EOF'
import gzip, io, os, sys, tarfile, time
out = sys.argv[1]
def ti(name, typ=tarfile.REGTYPE, size=0, **kw):
    t = tarfile.TarInfo(name); t.type = typ; t.size = size; t.mtime = 1700000000; t.mode = 0o644
    for k, v in kw.items(): setattr(t, k, v)
    return t
def make(path, entries, mode="w"):
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as t:
        for e, data in entries:
            t.addfile(e, io.BytesIO(data) if data is not None else None)
ok = (ti("ok", size=2), b"ok")
make("abs.tar", [ok, (ti("/tmp/cbox-abs-evil", size=1), b"x")])
make("dotdot.tar", [ok, (ti("a/../../cbox-dotdot-evil", size=1), b"x")])
make("symlink.tar", [ok, (ti("link", tarfile.SYMTYPE, linkname=out), None),
                     (ti("link/pwned", size=5), b"pwned")])
make("symlink-rel.tar", [ok, (ti("up", tarfile.SYMTYPE, linkname="../../../../../../../.." + out), None),
                         (ti("up/pwned", size=5), b"pwned")])
make("hardlink-passwd.tar", [ok, (ti("passwd", tarfile.LNKTYPE, linkname="/etc/passwd"), None)])
make("hardlink-shadow.tar", [ok, (ti("shadow", tarfile.LNKTYPE, linkname="../../../../../etc/shadow"), None)])
make("hardlink-via-link.tar", [ok, (ti("etc", tarfile.SYMTYPE, linkname="/etc"), None),
                                (ti("stolen", tarfile.LNKTYPE, linkname="etc/passwd"), None)])
make("deep.tar", [ok, (ti("d/" * 300 + "f", size=1), b"x")])
make("opaque-root-escape.tar", [ok, (ti("../.wh..wh..opq"), b"")])
make("whiteout-escape.tar", [ok, (ti("x/.wh...", size=0), b"")])
# a 10 GiB file declared in the header (a sparse bomb), with no data behind it
with open("sparse10g.tar", "wb") as f:
    f.write(ti("ok", size=2).tobuf(tarfile.PAX_FORMAT) + b"ok".ljust(512, b"\0"))
    f.write(ti("huge", size=10 << 30).tobuf(tarfile.PAX_FORMAT))
    f.write(b"\0" * 4096)
# a gzip bomb: 1 GiB of zeros, about 1 MiB compressed
class Zeros(io.RawIOBase):
    def __init__(s, n): s.n = n
    def readable(s): return True
    def readinto(s, b):
        k = min(len(b), s.n); b[:k] = bytes(k); s.n -= k; return k
with tarfile.open("gzbomb.tar.gz", "w:gz", compresslevel=9) as t:
    t.addfile(ti("zeros", size=1 << 30), io.BufferedReader(Zeros(1 << 30), 1 << 20))
# a million empty entries
with tarfile.open("million.tar.gz", "w:gz", compresslevel=1) as t:
    for i in range(1000000):
        t.addfile(ti("f%07d" % i))
# a truncated gzip stream
data = gzip.compress(open("deep.tar", "rb").read() + os.urandom(200000))
open("truncated.tar.gz", "wb").write(data[: len(data) // 2])
EOF

check_clean() {
        local what=$1
        local left
        left=$(find "$W/store/layers" "$W/store/blobs/sha256" -mindepth 1 -maxdepth 1 -name '.tmp-*' 2>/dev/null)
        [ -z "$left" ] || fail "$what: temporaries left: $left"
        left=$(find "$W/store/layers" -mindepth 1 -maxdepth 1 ! -name '.tmp-*' 2>/dev/null)
        [ -z "$left" ] || fail "$what: layer left in the store: $left"
        [ -z "$(ls -A "$OUT")" ] || fail "$what: wrote outside the store: $(ls -A "$OUT")"
        [ ! -e /tmp/cbox-abs-evil ] && [ ! -e "$W/cbox-dotdot-evil" ] && [ ! -e /tmp/cbox-dotdot-evil ] ||
                fail "$what: wrote outside the store"
        [ "$(sha256sum /etc/passwd)" = "$passwd_before" ] || fail "$what: /etc/passwd changed"
        if "$CBOX" image "${S[@]}" inspect bad:1 >/dev/null 2>&1; then
                fail "$what: image indexed"
        fi
}

# refuse FILE 'EXPECTED STDERR SUBSTRING'
refuse() {
        local f=$1 want=$2 err rc start end
        start=$(date +%s%N)
        err=$("$CBOX" image "${S[@]}" -q import "$f" bad:1 2>&1 >/dev/null)
        rc=$?
        end=$(date +%s%N)
        echo "$f ($(((end - start) / 1000000)) ms): $err"
        [ $rc = 1 ] || fail "$f: exit $rc, expected 1"
        case $err in *"$want"*) ;; *) fail "$f: message lacks '$want': $err" ;; esac
        check_clean "$f"
}

refuse abs.tar "/tmp/cbox-abs-evil: absolute path"
refuse dotdot.tar "a/../../cbox-dotdot-evil: path escapes the layer"
refuse symlink.tar "link/pwned: path goes through a symlink"
refuse symlink-rel.tar "up/pwned: path goes through a symlink"
refuse hardlink-passwd.tar "passwd: hardlink target '/etc/passwd' refused: absolute path"
refuse hardlink-shadow.tar "shadow: hardlink target '../../../../../etc/shadow' refused"
refuse hardlink-via-link.tar "stolen: hardlink target 'etc/passwd' refused: path goes through a symlink or non-directory ('etc')"
refuse deep.tar "path deeper than 256 components"
refuse opaque-root-escape.tar "../.wh..wh..opq: path escapes the layer"
refuse whiteout-escape.tar "invalid whiteout name"
refuse sparse10g.tar "huge: file of 10737418240 bytes exceeds the limit"
refuse gzbomb.tar.gz "expands more than 200x"
refuse million.tar.gz "more than 500000 entries in the layer"
refuse truncated.tar.gz "truncated gzip input"
printf "garbage, not a tar" > garbage.tar
refuse garbage.tar "not a readable archive"

# ---- digest mismatches in an OCI layout ----
python3 - <<'EOF'
import hashlib, io, json, os, tarfile
def blob(d, data):
    h = hashlib.sha256(data).hexdigest()
    os.makedirs(d + "/blobs/sha256", exist_ok=True)
    open(d + "/blobs/sha256/" + h, "wb").write(data)
    return "sha256:" + h
def layout(d, corrupt_blob=False, wrong_diff_id=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("hello"); ti.size = 5; t.addfile(ti, io.BytesIO(b"world"))
    layer = buf.getvalue()
    diff = "sha256:" + hashlib.sha256(layer).hexdigest()
    if wrong_diff_id:
        diff = "sha256:" + "0" * 64
    ld = blob(d, layer)
    cfg = blob(d, json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/hello"]},
                              "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode())
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": 1},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld,
                                  "size": len(layer)}]}).encode()
    md = blob(d, man)
    open(d + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
    open(d + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(man)}]}))
    if corrupt_blob:
        p = d + "/blobs/sha256/" + ld.split(":")[1]
        data = bytearray(open(p, "rb").read()); data[600] ^= 1; open(p, "wb").write(bytes(data))
layout("good")
layout("corrupt", corrupt_blob=True)
layout("wrongdiff", wrong_diff_id=True)
EOF
refuse corrupt "digest mismatch: expected sha256:"
refuse wrongdiff "layer diff_id mismatch: expected sha256:0000"
"$CBOX" image "${S[@]}" -q import good good:1 || fail "import of the intact layout"
"$CBOX" image "${S[@]}" -q rm good:1
"$CBOX" image "${S[@]}" -q gc

# ---- SIGKILL in the middle of an import ----
python3 - <<'EOF'
import io, os, tarfile
with tarfile.open("big.tar.gz", "w:gz", compresslevel=1) as t:
    for d in range(100):
        ti = tarfile.TarInfo("d%03d" % d); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
        for i in range(100):
            data = os.urandom(8192)
            ti = tarfile.TarInfo("d%03d/f%03d" % (d, i)); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
EOF
killed=0
"$CBOX" image "${S[@]}" -q import big.tar.gz big:1 &
pid=$!
# kill it while it unpacks: once its temporary layer directory exists
for _ in $(seq 200); do
        [ -n "$(find "$W/store/layers" -mindepth 1 -maxdepth 1 -name '.tmp-*' 2>/dev/null)" ] && break
        sleep 0.05
done
sleep 0.2
kill -KILL $pid 2>/dev/null && killed=1
wait $pid 2>/dev/null
if [ $killed = 1 ]; then
        # nothing under a final name unless complete; no index entry
        if "$CBOX" image "${S[@]}" inspect big:1 >/dev/null 2>&1; then
                echo "(the import finished before the kill)"
        else
                final=$(find "$W/store/layers" -mindepth 1 -maxdepth 1 ! -name '.tmp-*')
                for l in $final; do
                        n=$(find "$l" -type f | wc -l)
                        [ "$n" = 10000 ] || fail "partial layer under its final name: $l ($n files)"
                done
                tmps=$(find "$W/store/layers" -mindepth 1 -maxdepth 1 -name '.tmp-*' | wc -l)
                echo "after SIGKILL: $tmps temporary layer dir(s), final layers: ${final:-none}"
                out=$("$CBOX" image "${S[@]}" gc) || fail "gc after kill"
                echo "gc: $out"
                left=$(find "$W/store/layers" -mindepth 1 -maxdepth 1 -name '.tmp-*')
                [ -z "$left" ] || fail "gc left temporaries: $left"
        fi
        "$CBOX" image "${S[@]}" import big.tar.gz big:1 || fail "import after kill"
        l=$(find "$W/store/layers" -mindepth 1 -maxdepth 1 ! -name '.tmp-*')
        n=$(find $l -type f | wc -l)
        [ "$n" = 10000 ] || fail "re-import after kill: $n files, expected 10000"
else
        echo "(could not kill the import midway: it was too fast)"
fi

[ $fails = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "image hostile: all refused, nothing left behind"
