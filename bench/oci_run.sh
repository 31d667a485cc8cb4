#!/usr/bin/env bash
# `berth oci run` vs `crun run` vs `runc run` on the same busybox bundle (process /bin/true,
# Docker's default namespaces incl. a new, unconfigured network namespace, read-only root).
# crun runs through ../shared/bench/peers/crun-masked when this host is cgroup-hybrid (crun
# refuses that layout; the wrapper hides the cgroup2 controllers file, as the peers' harness does).
# Needs root, hyperfine, crun, runc, busybox-static:  apt-get install hyperfine crun runc busybox-static
# Usage: bench/oci_run.sh [WORKDIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BERTH=${BERTH:-$HERE/../target/release/berth}
WORK=${1:-/var/tmp/berth-bench-oci}
RUNS=${RUNS:-50}
[ -x "$BERTH" ] || { echo "build first: cargo build --release" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK/bundle/rootfs"/{bin,proc,dev,sys,etc,tmp}
cp /bin/busybox "$WORK/bundle/rootfs/bin/busybox"
ln -s busybox "$WORK/bundle/rootfs/bin/true"
ln -s busybox "$WORK/bundle/rootfs/bin/sh"
"$BERTH" oci spec --bundle "$WORK/bundle"
python3 - "$WORK/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(p, "w"), indent=1)
PY
CRUN=/usr/bin/crun
if grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then
  CRUN=$HERE/../../shared/bench/peers/crun-masked
  [ -x "$CRUN" ] || CRUN=/work/shared/bench/peers/crun-masked
fi
mkdir -p "$WORK/berth" "$WORK/crun" "$WORK/runc"
cd "$WORK/bundle"
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$WORK/results.md" \
  -n "berth oci run" "$BERTH --root $WORK/berth oci run -b $WORK/bundle b" \
  -n "crun run" "$CRUN --root $WORK/crun run -b $WORK/bundle c" \
  -n "runc run" "runc --root $WORK/runc run -b $WORK/bundle r"
