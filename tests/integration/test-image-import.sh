#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cbox image import against real peers: an OCI image built with umoci (layer 1: busybox-static with a
# setuid hardlink, a fifo, a device node, a symlink; layer 2: deletes a file and makes an opaque directory
# whose marker comes after its siblings), copied by skopeo to oci-archive, docker-archive and zstd-compressed
# variants, plus a Docker-25-style archive and a plain rootfs tarball. Every import must give the same
# diff_ids, a layer stored once, and a merged overlay view identical to `umoci unpack` (paths, types, modes,
# owners, sizes, contents, link targets, device numbers, mtimes of non-directories).
set -uo pipefail

: "${CBOX:?CBOX must point to the cbox binary}"
skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mknod, chown, overlayfs)"
for t in umoci skopeo python3 unshare mount; do
        command -v "$t" >/dev/null || skip "$t not installed (tools/setup.sh)"
done
BUSYBOX=$(command -v busybox) || skip "busybox-static not installed"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "no overlayfs in this kernel"

W=$(mktemp -d /tmp/test-image-import.XXXXXX)
trap 'rm -rf "$W"' EXIT
S=(--root "$W/store")
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# ---- build the image with umoci ----
cd "$W"
umoci init --layout oci >/dev/null
umoci new --image oci:bb >/dev/null
umoci unpack --image oci:bb bundle >/dev/null
R=bundle/rootfs
mkdir -p $R/bin $R/etc $R/opq/sub $R/usr/sbin $R/dev $R/keep
cp "$BUSYBOX" $R/bin/busybox
ln -s busybox $R/bin/sh
ln -s /bin/busybox $R/usr/sbin/abs-link
ln $R/bin/busybox $R/usr/sbin/bbhard
chmod 4755 $R/bin/busybox
echo 'root:x:0:0::/root:/bin/sh' > $R/etc/passwd
echo deleteme > $R/etc/deleteme
chown 1000:1000 $R/etc/deleteme
echo old > $R/opq/old
echo oldsub > $R/opq/sub/x
echo kept > $R/keep/file
chmod 0700 $R/keep
mkfifo $R/dev/fifo
mknod $R/dev/null c 1 3
umoci repack --image oci:bb bundle >/dev/null
umoci config --image oci:bb --config.cmd /bin/sh --config.cmd -c --config.cmd 'echo hi' \
        --config.env FOO=bar --config.workingdir /opq --config.exposedports 80/tcp >/dev/null

python3 - <<'EOF'
import io, tarfile
def add(t, name, typ=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.uid = uid; ti.gid = gid
    ti.mtime = 1700000000; ti.size = len(data) if typ == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
with tarfile.open("layer2.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "etc/", tarfile.DIRTYPE, mode=0o755)
    add(t, "etc/.wh.deleteme")
    add(t, "etc/hostname", data=b"layer2\n")
    add(t, "opq/", tarfile.DIRTYPE, mode=0o755)
    add(t, "opq/new", data=b"new\n", mode=0o600, uid=33, gid=33)
    add(t, "opq/.wh..wh..opq")                     # the marker after a sibling…
    add(t, "opq/after", data=b"after the marker\n")  # …and before another
EOF
umoci raw add-layer --image oci:bb layer2.tar >/dev/null
umoci unpack --image oci:bb ref >/dev/null

# Layer tars without the end-of-archive blocks (the issue reports umoci 0.4.7 writing them; Debian's
# build writes them, so make one): cbox accepts them, as umoci, skopeo and GNU tar do. A tar cut inside an
# entry is still refused (test-image-hostile.sh).
python3 - <<'EOF'
d = open("layer2.tar", "rb").read()
while d.endswith(b"\0" * 512):
    d = d[:-512]
open("noeoa.tar", "wb").write(d)
EOF
"$CBOX" image --root "$W/store-noeoa" -q import noeoa.tar noeoa:1 || fail "layer without end-of-archive blocks refused"
"$CBOX" image --root "$W/store-noeoa" inspect noeoa:1 >/dev/null || fail "inspect noeoa:1"

# ---- the other formats, with skopeo ----
skopeo copy -q oci:oci:bb oci-archive:oa.tar:bb:oa || fail "skopeo oci-archive"
skopeo copy -q oci:oci:bb docker-archive:da.tar:bb:da || fail "skopeo docker-archive"
skopeo copy -q --dest-compress --dest-compress-format zstd oci:oci:bb oci:ozstd:bb || fail "skopeo zstd"
skopeo copy -q --dest-compress --dest-compress-format zstd oci:oci:bb oci-archive:oz.tar:bb:oz || fail "skopeo zstd archive"

# A Docker 25+ `docker save` layout: blobs/sha256 + index.json + manifest.json naming blobs/… paths
python3 - <<'EOF'
import io, json, os, tarfile
idx = json.load(open("oci/index.json"))
md = idx["manifests"][0]["digest"]
m = json.load(open("oci/blobs/sha256/" + md.split(":")[1]))
man = [{"Config": "blobs/sha256/" + m["config"]["digest"].split(":")[1], "RepoTags": ["bb:d25"],
        "Layers": ["blobs/sha256/" + l["digest"].split(":")[1] for l in m["layers"]]}]
for name, with_layout in (("d25.tar", True), ("d25-nolayout.tar", False)):
    with tarfile.open(name, "w") as t:
        for d in [m["config"]["digest"], md] + [l["digest"] for l in m["layers"]]:
            t.add("oci/blobs/sha256/" + d.split(":")[1], "blobs/sha256/" + d.split(":")[1])
        def addbytes(n, b):
            ti = tarfile.TarInfo(n); ti.size = len(b); t.addfile(ti, io.BytesIO(b))
        if with_layout:
            addbytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            i2 = {"schemaVersion": 2, "manifests": [dict(idx["manifests"][0], annotations={
                "io.containerd.image.name": "docker.io/library/bb:d25", "org.opencontainers.image.ref.name": "d25"})]}
            addbytes("index.json", json.dumps(i2).encode())
        addbytes("manifest.json", json.dumps(man).encode())
EOF

# ---- import each ----
import_json() { "$CBOX" image "${S[@]}" --json -q import "$@"; }
declare -A REF
REF[oci]=bb:oci; REF[oa.tar]=bb:oa; REF[da.tar]=bb:da; REF[ozstd]=bb:ozstd; REF[oz.tar]=bb:oz
REF[d25.tar]=bb:d25; REF[d25-nolayout.tar]=bb:d25nl
first=1
for src in oci oa.tar da.tar ozstd oz.tar d25.tar d25-nolayout.tar; do
        ref=${REF[$src]}
        # the names the sources carry: only for some, the others get an explicit one
        case $src in
        oa.tar | da.tar | oz.tar | d25.tar) out=$(import_json "$src") ;;
        *) out=$(import_json "$src" "$ref") ;;
        esac || { fail "import $src"; continue; }
        got=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ref"])' "$out")
        [ "$got" = "$ref" ] || fail "import $src: named '$got', expected '$ref'"
        unpacked=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["layers_unpacked"])' "$out")
        if [ $first = 1 ]; then
                [ "$unpacked" = 2 ] || fail "first import unpacked $unpacked layers, expected 2"
                first=0
        else
                # every later format has the same uncompressed layers: nothing to unpack again
                [ "$unpacked" = 0 ] || fail "import $src unpacked $unpacked layers, expected 0 (shared)"
        fi
done

# same diff_ids for every format; each layer stored once
diffs() { "$CBOX" image "${S[@]}" inspect "$1" | python3 -c 'import json,sys; print(" ".join(l["diff_id"] for l in json.load(sys.stdin)["layers"]))'; }
want=$(diffs bb:oci)
for ref in "${REF[@]}"; do
        [ "$(diffs "$ref")" = "$want" ] || fail "$ref: diff_ids differ: $(diffs "$ref") vs $want"
done
n=$(find "$W/store/layers" -mindepth 1 -maxdepth 1 | wc -l)
[ "$n" = 2 ] || fail "store holds $n layer directories, expected 2"

# ---- docker save before Docker 25: manifest.json names "<id>/layer.tar", here symlinks to the blobs ----
python3 - <<'EOF'
import io, json, tarfile
src = tarfile.open("da.tar")
man = json.load(src.extractfile("manifest.json"))
links = {m.linkname.split("/")[-1]: m.name for m in src.getmembers() if m.issym() and m.name.endswith("/layer.tar")}
man[0]["Layers"] = [links[l] for l in man[0]["Layers"]]
man[0]["RepoTags"] = ["bb:old"]
with tarfile.open("da-old.tar", "w") as out:
    for m in src.getmembers():
        if m.name == "manifest.json":
            continue
        out.addfile(m, src.extractfile(m) if m.isfile() else None)
    data = json.dumps(man).encode()
    ti = tarfile.TarInfo("manifest.json"); ti.size = len(data); out.addfile(ti, io.BytesIO(data))
EOF
out=$(import_json da-old.tar) || fail "import of an old-layout docker archive"
case $out in *'"ref":"bb:old"'*'"layers_unpacked":0'*) ;; *) fail "old docker layout: $out" ;; esac
[ "$(diffs bb:old)" = "$want" ] || fail "bb:old: diff_ids differ"
"$CBOX" image "${S[@]}" -q rm bb:old

# ---- two imports of the same new image at once: both succeed, the layer is stored once ----
"$CBOX" image --root "$W/store-race" -q import oci race:1 & p1=$!
"$CBOX" image --root "$W/store-race" -q import oa.tar race:2 & p2=$!
wait $p1 || fail "concurrent import 1"
wait $p2 || fail "concurrent import 2"
n=$(find "$W/store-race/layers" -mindepth 1 -maxdepth 1 | wc -l)
[ "$n" = 2 ] || fail "concurrent imports: $n entries in layers/, expected 2"
"$CBOX" image --root "$W/store-race" inspect race:1 >/dev/null && "$CBOX" image --root "$W/store-race" inspect race:2 >/dev/null ||
        fail "concurrent imports: an index entry is missing"

# ---- a multi-platform index: the manifest for this host's architecture is picked ----
python3 - <<'EOF'
import hashlib, json, os, platform, shutil
shutil.copytree("oci", "multi")
idx = json.load(open("multi/index.json"))
desc = dict(idx["manifests"][0]); desc.pop("annotations", None)
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
decoy = {"mediaType": desc["mediaType"], "digest": "sha256:" + "e" * 64, "size": 1,
         "platform": {"os": "linux", "architecture": "s390x" if arch != "s390x" else "amd64"}}
real = dict(desc, platform={"os": "linux", "architecture": arch})
inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [decoy, real]}).encode()
h = hashlib.sha256(inner).hexdigest()
open("multi/blobs/sha256/" + h, "wb").write(inner)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
           "digest": "sha256:" + h, "size": len(inner)}]}, open("multi/index.json", "w"))
EOF
"$CBOX" image "${S[@]}" -q import multi bb:multi || fail "import of a multi-platform index"
[ "$(diffs bb:multi)" = "$want" ] || fail "bb:multi: diff_ids differ"
"$CBOX" image "${S[@]}" -q rm bb:multi

# config fed through
cfg=$("$CBOX" image "${S[@]}" inspect bb:da)
python3 - "$cfg" <<'EOF' || fail "image config not as set by umoci: $cfg"
import json, sys
c = json.loads(sys.argv[1])["image_config"]
assert c["Cmd"] == ["/bin/sh", "-c", "echo hi"], c
assert "FOO=bar" in c["Env"], c
assert c["WorkingDir"] == "/opq", c
assert c["ExposedPorts"] == ["80/tcp"], c
EOF

# ---- compare the merged view with umoci's unpack ----
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
            line += ["->", os.readlink(p), str(int(st.st_mtime))]
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            line += ["%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))]
        print(" ".join(line))
EOF
python3 list.py ref/rootfs > want.txt
grep -q '^etc/deleteme' want.txt && fail "premise: umoci kept the deleted file"

for ref in "${REF[@]}"; do
        lower=$("$CBOX" image "${S[@]}" inspect "$ref" |
                python3 -c 'import json,sys; print(":".join(l["path"] for l in reversed(json.load(sys.stdin)["layers"])))')
        mkdir -p "$W/merged"
        # a private mount namespace: the host never sees the overlay
        if ! unshare -m --propagation private sh -c \
                'mount -t overlay overlay -o ro,lowerdir="$1" "$2" && python3 "$3" "$2"' \
                sh "$lower" "$W/merged" "$W/list.py" > got.txt; then
                fail "$ref: overlay mount of $lower failed"
                continue
        fi
        if ! diff -u want.txt got.txt >&2; then
                fail "$ref: merged view differs from umoci unpack"
        fi
        grep -q '^etc/deleteme' got.txt && fail "$ref: deleted file visible"
        grep -qE '^opq/(old|sub)' got.txt && fail "$ref: opaque directory shows lower entries"
        grep -q '^opq/new' got.txt && grep -q '^opq/after' got.txt || fail "$ref: opaque dir lost its own entries"
        grep -q '\.wh\.' got.txt && fail "$ref: whiteout markers visible"
done

# ---- layers as real images write them ----
# Layer 2 (python, via umoci raw add-layer) has: a hardlink to a file of layer 1 (containers-storage
# accepts it); whiteouts next to an entry of the same name in the same layer (they hide only layer 1's,
# OCI image spec "Whiteouts"), before and after it; and xattrs overlayfs would obey (trusted.overlay.opaque
# on a directory, user.overlay.opaque for a userxattr mount): they must never reach the layer.
umoci init --layout rloci >/dev/null
umoci new --image rloci:rl >/dev/null
umoci unpack --image rloci:rl rlb >/dev/null
mkdir -p rlb/rootfs/bin rlb/rootfs/a rlb/rootfs/b rlb/rootfs/t rlb/rootfs/u
echo tool > rlb/rootfs/bin/tool
chmod 4711 rlb/rootfs/bin/tool
for d in a b t u; do echo "$d old" > rlb/rootfs/$d/old; done
umoci repack --image rloci:rl rlb >/dev/null
python3 - <<'EOF'
import io, tarfile
def add(t, name, typ=tarfile.REGTYPE, data=b"", link="", pax=None):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = 0o755 if typ == tarfile.DIRTYPE else 0o644
    ti.mtime = 1700000000; ti.linkname = link; ti.size = len(data) if typ == tarfile.REGTYPE else 0
    if pax: ti.pax_headers = pax
    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
with tarfile.open("rl2.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "usr/bin/tool", tarfile.LNKTYPE, link="bin/tool")   # target only in layer 1
    add(t, "a/new", data=b"a new\n"); add(t, ".wh.a")            # whiteout after the entry
    add(t, ".wh.b"); add(t, "b/new", data=b"b new\n")            # whiteout before it
    add(t, "t/", tarfile.DIRTYPE, pax={"SCHILY.xattr.trusted.overlay.opaque": "y"})
    add(t, "u/", tarfile.DIRTYPE, pax={"SCHILY.xattr.user.overlay.opaque": "y"})
EOF
umoci raw add-layer --image rloci:rl rl2.tar >/dev/null
"$CBOX" image "${S[@]}" -q import rloci rl:1 || fail "import of an image with a hardlink to a lower layer"
cat > probe.sh <<'EOF'
set -e
lower=$1 m=$2
mkdir -p "$m/t" "$m/u" "$m/c/lo/c" "$m/c/hi/c" "$m/c/m"
mount -t overlay overlay -o ro,lowerdir="$lower" "$m/t"
cat "$m/t/usr/bin/tool"; stat -c 'tool %a %h' "$m/t/usr/bin/tool"
echo "a: $(ls "$m/t/a" | xargs) b: $(ls "$m/t/b" | xargs) t: $(ls "$m/t/t" | xargs)"
mount -t overlay overlay -o ro,userxattr,lowerdir="$lower" "$m/u"
echo "userxattr u: $(ls "$m/u/u" | xargs)"
# control: the userxattr mount does obey a user.overlay.opaque it finds
touch "$m/c/lo/c/old"
python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.overlay.opaque", b"y")' "$m/c/hi/c"
mount -t overlay overlay -o ro,userxattr,lowerdir="$m/c/hi:$m/c/lo" "$m/c/m"
echo "control: [$(ls "$m/c/m/c" | xargs)]"
EOF
lower=$("$CBOX" image "${S[@]}" inspect rl:1 |
        python3 -c 'import json,sys; print(":".join(l["path"] for l in reversed(json.load(sys.stdin)["layers"])))')
mkdir -p "$W/rlm"
if out=$(unshare -m --propagation private bash probe.sh "$lower" "$W/rlm" 2>&1); then
        echo "$out"
        grep -qx tool <<<"$out" && grep -qx 'tool 4711 1' <<<"$out" ||
                fail "hardlink to a lower layer's file: not a copy with its mode: $out"
        grep -qx 'a: new b: new t: old' <<<"$out" ||
                fail "whiteouts beside entries of their own layer, or the archive's trusted.overlay.opaque: $out"
        grep -qx 'userxattr u: old' <<<"$out" || fail "the archive's user.overlay.opaque hid u/old: $out"
        grep -qx 'control: \[\]' <<<"$out" || fail "control: userxattr ignored a user.overlay.opaque: $out"
else
        fail "overlay probe failed: $out"
fi
"$CBOX" image "${S[@]}" -q rm rl:1 || fail "rm rl:1"
# a hardlink to a file that no layer has is still refused
python3 - <<'EOF'
import tarfile
with tarfile.open("rl3.tar", "w") as t:
    ti = tarfile.TarInfo("stolen"); ti.type = tarfile.LNKTYPE; ti.linkname = "bin/nope"; t.addfile(ti)
EOF
cp -a rloci rloci-bad && umoci raw add-layer --image rloci-bad:rl rl3.tar >/dev/null
err=$("$CBOX" image "${S[@]}" -q import rloci-bad bad:1 2>&1) && fail "a hardlink to no layer's file imported"
case $err in *"stolen: hardlink target 'bin/nope' is in no layer"*) ;; *) fail "hardlink to no layer: $err" ;; esac
rm -rf rloci-bad

# ---- a plain rootfs tarball, compressed three ways; second import unpacks nothing ----
tar -C ref/rootfs --numeric-owner -cf rootfs.tar .
gzip -k rootfs.tar && xz -k -T1 rootfs.tar && zstd -q -k rootfs.tar
for f in rootfs.tar rootfs.tar.gz rootfs.tar.xz rootfs.tar.zst; do
        out=$(import_json "$f") || { fail "import $f"; continue; }
        echo "$f: $out"
done
[ "$("$CBOX" image "${S[@]}" inspect rootfs | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["layers"]))')" = 1 ] ||
        fail "rootfs import is not a single-layer image"
start=$(date +%s%N)
out=$(import_json rootfs.tar.gz rootfs:again) || fail "re-import"
end=$(date +%s%N)
echo "re-import of rootfs.tar.gz: $(((end - start) / 1000000)) ms: $out"
case $out in *'"layers_unpacked":0'*'"unpacked_bytes":0'*) ;; *) fail "re-import unpacked something: $out" ;; esac

# ---- list, rm refused while a container uses the image, gc ----
"$CBOX" image "${S[@]}" list || fail "list"
"$CBOX" image "${S[@]}" list --json | python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 9' ||
        fail "list --json: expected 9 images"
# DISK: the allocated bytes of each image's blobs and unpacked layer trees (hardlinked inodes once), as
# walked independently here
"$CBOX" image "${S[@]}" list | head -1 | grep -q ' DISK ' || fail "list: no DISK column"
"$CBOX" image "${S[@]}" list --json > list.json
mkdir -p inspect
for ref in "${REF[@]}"; do "$CBOX" image "${S[@]}" inspect "$ref" > "inspect/$ref.json"; done
python3 - "$W/store" <<'EOF' || fail "image list: disk usage differs from the store's files"
import glob, json, os, sys
store = sys.argv[1]
listed = {i["ref"]: i for i in json.load(open("list.json"))}
def blocks(p): return os.lstat(p).st_blocks * 512
def tree(root):
    total, seen = blocks(root), set()
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            st = os.lstat(os.path.join(dp, n))
            if st.st_nlink > 1 and not os.path.isdir(os.path.join(dp, n)):
                if st.st_ino in seen: continue
                seen.add(st.st_ino)
            total += st.st_blocks * 512
    return total
blob = lambda d: blocks(store + "/blobs/sha256/" + d.split(":")[1])
for f in sorted(glob.glob("inspect/*.json")):
    i = json.load(open(f))
    want = blob(i["manifest"]) + blob(i["config"]) + sum(blob(l["digest"]) + tree(l["path"]) for l in i["layers"])
    got = listed[i["ref"]]["disk"]
    print("%s: disk %d bytes (layer blobs %d)" % (i["ref"], got, sum(l["size"] for l in i["layers"])))
    assert got == want, (i["ref"], got, want)
EOF
# a docker-archive's layers (uncompressed tars) are stored gzip-compressed, not beside their unpacked
# trees as they came; the same archive gives the same blobs, so the same image, every time
python3 - "$W/store" inspect/bb:da.json <<'EOF' || fail "docker-archive layer blobs are not gzip"
import json, sys
for l in json.load(open(sys.argv[2]))["layers"]:
    head = open(sys.argv[1] + "/blobs/sha256/" + l["digest"].split(":")[1], "rb").read(2)
    assert head == b"\x1f\x8b", (l["digest"], head)
EOF
out=$(import_json da.tar bb:da-again) || fail "re-import of da.tar"
[ "$("$CBOX" image "${S[@]}" inspect bb:da-again | python3 -c "import json,sys; print(json.load(sys.stdin)['manifest'])")" = "$("$CBOX" image "${S[@]}" inspect bb:da | python3 -c "import json,sys; print(json.load(sys.stdin)['manifest'])")" ] ||
        fail "the same docker-archive gave another image"
"$CBOX" image "${S[@]}" -q rm bb:da-again
mkdir -p "$W/store/containers/web"
echo bb:oci > "$W/store/containers/web/image"
"$CBOX" image "${S[@]}" rm bb:oci 2>err.txt && fail "rm of an image in use succeeded"
grep -q "used by container 'web'" err.txt || fail "rm in use: $(cat err.txt)"
rm "$W/store/containers/web/image"
for ref in "${REF[@]}"; do "$CBOX" image "${S[@]}" -q rm "$ref" || fail "rm $ref"; done
out=$("$CBOX" image "${S[@]}" gc) || fail "gc"
echo "gc: $out"
# the rootfs images remain and still resolve
"$CBOX" image "${S[@]}" inspect rootfs:again >/dev/null || fail "rootfs:again lost by gc"
n=$(find "$W/store/layers" -mindepth 1 -maxdepth 1 | wc -l)
[ "$n" = 1 ] || fail "after gc: $n layer directories, expected 1"

# ---- image tag: a second name of the same manifest, which outlives the first ----
T=(--root "$W/store-tag")
"$CBOX" image "${T[@]}" -q import "$W/rootfs.tar.gz" tagsrc:1 || fail "import for tag"
"$CBOX" image "${T[@]}" -q tag tagsrc:1 team/tagged:2 || fail "image tag"
m1=$("$CBOX" image "${T[@]}" inspect tagsrc:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"])')
m2=$("$CBOX" image "${T[@]}" inspect team/tagged:2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"])')
[ -n "$m1" ] && [ "$m1" = "$m2" ] || fail "tag: manifests differ: '$m1' '$m2'"
"$CBOX" image "${T[@]}" -q rm tagsrc:1 && "$CBOX" image "${T[@]}" -q gc || fail "rm + gc after tag"
"$CBOX" image "${T[@]}" inspect team/tagged:2 >/dev/null || fail "the tag did not outlive the first name"
# a name by digest only for that digest (what auto-update keeps a replaced image under)
"$CBOX" image "${T[@]}" -q tag team/tagged:2 "team/tagged@$m2" || fail "tag to the manifest's own digest"
m3=$("$CBOX" image "${T[@]}" inspect "team/tagged@$m2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"])')
[ "$m3" = "$m2" ] || fail "tag by digest: '$m3', expected '$m2'"
other=sha256:$(printf '%064d' 0)
out=$("$CBOX" image "${T[@]}" tag team/tagged:2 "team/tagged@$other" 2>&1) && fail "tag to another digest succeeded"
grep -q "not this digest" <<<"$out" || fail "tag to another digest: $out"
"$CBOX" image "${T[@]}" inspect "team/tagged@$other" >/dev/null 2>&1 && fail "tag to another digest left a name"
out=$("$CBOX" image "${T[@]}" tag nosuch:1 x:1 2>&1) && fail "tag of a missing image succeeded"
grep -q "No such image 'nosuch:1'" <<<"$out" || fail "tag of a missing image: $out"
out=$("$CBOX" image "${T[@]}" tag team/tagged:2 'bad name' 2>&1) && fail "tag to an invalid name succeeded"
grep -q "invalid image name" <<<"$out" || fail "tag to an invalid name: $out"

# ---- progress: on a terminal the bytes unpacked so far, redrawn in place; otherwise plain lines ----
if command -v script >/dev/null; then
        script -qec "'$CBOX' image --root '$W/tty-store' import '$W/rootfs.tar.gz' tty:1" "$W/tty.out" >/dev/null ||
                fail "import on a terminal"
        tr '\r' '\n' < "$W/tty.out" | grep -aqE $'^\e\\[KUnpacking the rootfs tarball [0-9.]+[KM]' ||
                fail "no progress line with bytes on a terminal: $(cat -v "$W/tty.out")"
else
        fail "script (util-linux) is missing: cannot check the progress on a terminal"
fi
plain=$("$CBOX" image --root "$W/plain-store" import "$W/rootfs.tar.gz" plain:1 2>&1) || fail "import without a terminal"
case $plain in *$'\e'*|*$'\r'*) fail "terminal control characters without a terminal: $(cat -v <<<"$plain")" ;; esac
grep -qx 'Unpacking the rootfs tarball' <<<"$plain" || fail "no plain progress line: $plain"

[ $fails = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "image import: all formats match umoci unpack"
