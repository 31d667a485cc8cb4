#!/usr/bin/env bash
# `berth run --rm --network none IMAGE true` against `podman run` and `docker run` (each when
# installed) on the same busybox image, side by side; then the memory of berth's monitor per
# running container (PSS and private dirty from /proc/PID/smaps_rollup).
# Needs root, hyperfine, busybox-static; podman/docker optional (apt-get install podman docker.io).
# Usage: bench/container_run.sh [WORKDIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BERTH=${BERTH:-$HERE/../target/release/berth}
WORK=${1:-/var/tmp/berth-bench-container}
RUNS=${RUNS:-30}
[ -x "$BERTH" ] || { echo "build first: cargo build --release" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK/rootfs"/{bin,etc,tmp}
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$WORK/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/:/bin/sh\n' > "$WORK/rootfs/etc/passwd"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
# The peers' harness configures podman (runc, no rlimits this VM cannot raise) and docker.
PEERS=$HERE/../../shared/bench/peers
[ -f "$PEERS/env.sh" ] || PEERS=/work/shared/bench/peers
if [ -f "$PEERS/env.sh" ]; then source "$PEERS/env.sh"; fi
ROOT="$WORK/state"
"$BERTH" --root "$ROOT" image import "$WORK/busybox.tar" bench-busybox:1 >/dev/null
CMDS=(-n "berth run --rm --network none" "$BERTH --root $ROOT run --rm --network none bench-busybox:1 true")
if command -v podman >/dev/null; then
  podman import -q "$WORK/busybox.tar" bench-busybox:1 >/dev/null
  CMDS+=(-n "podman run --rm --network none" "podman run --rm --network none bench-busybox:1 true")
fi
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker import -q "$WORK/busybox.tar" bench-busybox:1 >/dev/null
  CMDS+=(-n "docker run --rm --network none" "docker run --rm --network none bench-busybox:1 true")
fi
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$WORK/results.md" "${CMDS[@]}"
# Monitor memory: five sleeping containers.
for i in 1 2 3 4 5; do "$BERTH" --root "$ROOT" run -d --network none bench-busybox:1 sleep 300 >/dev/null; done
echo "monitor memory (kB):"
for f in "$ROOT"/run/containers/*/monitor.pid; do
  pid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['pid'])" "$f")
  grep -E '^(Rss|Pss|Private_Dirty):' "/proc/$pid/smaps_rollup" | tr -s ' ' | tr '\n' ' '; echo
done
for id in $("$BERTH" --root "$ROOT" ps -aq); do "$BERTH" --root "$ROOT" container rm -f "$id" >/dev/null; done
command -v podman >/dev/null && podman rmi -f bench-busybox:1 >/dev/null 2>&1 || true
