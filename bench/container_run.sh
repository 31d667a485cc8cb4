#!/usr/bin/env bash
# `berth run --rm --network none IMAGE true` against `podman run` and `docker run` (each when
# installed) on the same busybox image, side by side; then the memory of berth's monitor per
# running container (PSS and private dirty from /proc/PID/smaps_rollup), next to conmon's.
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
# env.sh names the peers' binaries (an unrelated newer docker CLI may come first in PATH).
DOCKER=${DOCKER_BIN:-docker}
PODMAN=${PODMAN_BIN:-podman}
ROOT="$WORK/state"
"$BERTH" --root "$ROOT" image import "$WORK/busybox.tar" bench-busybox:1 >/dev/null
CMDS=(-n "berth run --rm --network none" "$BERTH --root $ROOT run --rm --network none bench-busybox:1 true")
if command -v "$PODMAN" >/dev/null; then
  "$PODMAN" import -q "$WORK/busybox.tar" bench-busybox:1 >/dev/null
  CMDS+=(-n "podman run --rm --network none" "$PODMAN run --rm --network none bench-busybox:1 true")
fi
if command -v "$DOCKER" >/dev/null && "$DOCKER" info >/dev/null 2>&1; then
  "$DOCKER" import "$WORK/busybox.tar" bench-busybox:1 >/dev/null
  CMDS+=(-n "docker run --rm --network none" "$DOCKER run --rm --network none bench-busybox:1 true")
fi
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$WORK/results.md" "${CMDS[@]}"
# Memory per running container: N sleeping containers (10, as the peers' figures), read from
# /proc/PID/smaps_rollup once every monitor has handed its loop to berth-supervisor; then
# podman's conmon for the same N containers when podman is installed.
N=${N:-10}
pss() { # PIDs... -> "RSS PSS PRIVATE_DIRTY" averages in KiB
  for pid in "$@"; do grep -E '^(Rss|Pss|Private_Dirty):' "/proc/$pid/smaps_rollup" | awk '{printf "%s ", $2}'; echo; done |
    awk '{r+=$1; p+=$2; d+=$3; n++} END {printf "RSS %.0f KiB, PSS %.0f KiB, private dirty %.0f KiB (mean of %d)\n", r/n, p/n, d/n, n}'
}
for i in $(seq "$N"); do "$BERTH" --root "$ROOT" run -d --network none bench-busybox:1 sleep 300 >/dev/null; done
PIDS=()
for f in "$ROOT"/run/containers/*/monitor.pid; do
  PIDS+=("$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['pid'])" "$f")")
done
for pid in "${PIDS[@]}"; do # the hand-over comes a second after the start
  for _ in $(seq 100); do [ "$(cat "/proc/$pid/comm")" = berth-superviso ] && break; sleep 0.05; done
done
echo "berth monitor (berth-supervisor), $N containers: $(pss "${PIDS[@]}")"
for id in $("$BERTH" --root "$ROOT" ps -aq); do "$BERTH" --root "$ROOT" container rm -f "$id" >/dev/null; done
if command -v "$PODMAN" >/dev/null; then
  CIDS=$(for i in $(seq "$N"); do "$PODMAN" run -d --network none bench-busybox:1 sleep 300; done)
  CONMON=$(for c in $CIDS; do "$PODMAN" inspect -f '{{.State.ConmonPid}}' "$c"; done)
  # shellcheck disable=SC2086
  echo "podman conmon, $N containers: $(pss $CONMON)"
  # shellcheck disable=SC2086
  "$PODMAN" rm -f -t 0 $CIDS >/dev/null
  "$PODMAN" rmi -f bench-busybox:1 >/dev/null 2>&1 || true
fi
if command -v "$DOCKER" >/dev/null && "$DOCKER" info >/dev/null 2>&1; then
  "$DOCKER" rmi -f bench-busybox:1 >/dev/null 2>&1 || true
fi
