#!/usr/bin/env bash
# Image load throughput: berth vs `umoci unpack` vs `podman load`, one run, same image.
#
# Generates a ~200 MB (uncompressed) 4-layer OCI image (gzip layers; a mix of text-like and
# random files), then times with hyperfine, each from an empty store:
#   berth image load -i image.oci.tar        (OCI archive: verify, store, unpack every layer)
#   umoci unpack --image layout:bench DIR    (unpack the same layers into one rootfs)
#   podman load -i image.oci.tar             (rootful podman, overlay storage)
# and reports each one's peak RSS (GNU time). Needs root, python3, hyperfine, umoci, podman:
#   apt-get install hyperfine umoci podman
# Usage: bench/image_load.sh [WORKDIR]   (default /var/tmp/berth-bench-image)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BERTH=${BERTH:-$HERE/../target/release/berth}
WORK=${1:-/var/tmp/berth-bench-image}
RUNS=${RUNS:-5}
mkdir -p "$WORK"
[ -x "$BERTH" ] || { echo "build first: cargo build --release" >&2; exit 1; }

if [ ! -f "$WORK/image.oci.tar" ]; then
  echo "generating the image in $WORK ..."
  python3 - "$WORK" <<'PY'
import gzip, hashlib, io, json, os, random, sys, tarfile
work = sys.argv[1]
layout = os.path.join(work, "layout")
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)
rnd = random.Random(42)
words = [("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9)))).encode() for _ in range(5000)]
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, h), "wb").write(data)
    return "sha256:" + h
layers, diff_ids = [], []
for n in range(4):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        total, i = 0, 0
        while total < 50_000_000:
            d = f"layer{n}/dir{i % 50}"
            if i < 50:
                ti = tarfile.TarInfo(d); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
            size = rnd.choice([200, 2_000, 20_000, 100_000, 400_000])
            if rnd.random() < 0.6:
                data = b" ".join(rnd.choice(words) for _ in range(size // 6))[:size]
            else:
                data = os.urandom(size)
            ti = tarfile.TarInfo(f"{d}/file{i}"); ti.size = len(data); ti.mode = 0o644; ti.mtime = 1_700_000_000
            t.addfile(ti, io.BytesIO(data))
            total += len(data); i += 1
    raw = buf.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    gz = gzip.compress(raw, 6)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(gz), "size": len(gz)})
    print(f"layer {n}: {len(raw)/1e6:.0f} MB, gzip {len(gz)/1e6:.0f} MB, {i} files", flush=True)
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": len(config)},
    "layers": layers}).encode()
md = put(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "bench"}}]},
    open(os.path.join(layout, "index.json"), "w"))
open(os.path.join(layout, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
  tar -C "$WORK/layout" -cf "$WORK/image.oci.tar" .
fi

export CONTAINERS_STORAGE_CONF=$WORK/podman-storage.conf
cat > "$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
graphroot = "$WORK/podman/storage"
runroot = "$WORK/podman/run"
CONF

echo "image: $(du -sh "$WORK/image.oci.tar" | cut -f1) archive"
hyperfine --runs "$RUNS" --export-markdown "$WORK/results.md" \
  --prepare "rm -rf $WORK/berth-root" \
  -n "berth image load" "$BERTH --root $WORK/berth-root image load -q -i $WORK/image.oci.tar --name localhost/bench" \
  --prepare "rm -rf $WORK/bundle" \
  -n "umoci unpack" "umoci unpack --image $WORK/layout:bench $WORK/bundle" \
  --prepare "podman rmi -af >/dev/null 2>&1 || true" \
  -n "podman load" "podman load -q -i $WORK/image.oci.tar"

echo
echo "peak RSS (KiB):"
rm -rf "$WORK/berth-root"
/usr/bin/time -f "  berth image load  %M" "$BERTH" --root "$WORK/berth-root" image load -q -i "$WORK/image.oci.tar" --name localhost/bench
rm -rf "$WORK/bundle"
/usr/bin/time -f "  umoci unpack      %M" umoci unpack --image "$WORK/layout:bench" "$WORK/bundle" >/dev/null
podman rmi -af >/dev/null 2>&1 || true
/usr/bin/time -f "  podman load       %M" podman load -q -i "$WORK/image.oci.tar" >/dev/null
podman rmi -af >/dev/null 2>&1 || true
rm -rf "$WORK/berth-root" "$WORK/bundle"
