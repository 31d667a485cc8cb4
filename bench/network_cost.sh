#!/usr/bin/env bash
# What bridged networking adds to a container start: `berth run --rm --network none` against
# `berth run --rm` on the default network (netns + veth + address + route over netlink, DNS
# records), and the same namespace + veth + bridge set up with `ip` commands for scale.
# Everything runs inside a network namespace of the script's own: no bridge, rule or packet
# touches the host's network.
# Needs root, hyperfine, busybox-static, iproute2, nftables.
# Usage: bench/network_cost.sh [WORKDIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BERTH=${BERTH:-$HERE/../target/release/berth}
WORK=${1:-/var/tmp/berth-bench-network}
RUNS=${RUNS:-30}
[ -x "$BERTH" ] || { echo "build first: cargo build --release" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK/rootfs"/{bin,etc,tmp}
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$WORK/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/:/bin/sh\n' > "$WORK/rootfs/etc/passwd"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
ROOT="$WORK/state"
NS="$WORK/netns"
touch "$NS"
unshare --net="$NS" true
IN="nsenter --net=$NS"
cleanup() {
  for id in $($IN "$BERTH" --root "$ROOT" ps -aq 2>/dev/null); do
    $IN "$BERTH" --root "$ROOT" container rm -f "$id" >/dev/null 2>&1 || true
  done
  for n in $($IN "$BERTH" --root "$ROOT" network ls -q 2>/dev/null); do
    $IN "$BERTH" --root "$ROOT" network rm "$n" >/dev/null 2>&1 || true
  done
  umount "$NS" 2>/dev/null || true
}
trap cleanup EXIT
$IN ip link set lo up
"$BERTH" --root "$ROOT" image import "$WORK/busybox.tar" bench-busybox:1 >/dev/null
# The default network and its DNS server exist before timing (made once per host).
$IN "$BERTH" --root "$ROOT" run --rm bench-busybox:1 true
# The ip-command baseline: a namespace, a veth pair into it, an address and a route.
cat > "$WORK/ip-setup.sh" <<'SH'
set -e
ip netns add bench-x
ip link add bthbench type veth peer name eth0 netns bench-x
ip link set bthbench master berth0 up
ip -n bench-x addr add 172.17.200.2/16 dev eth0
ip -n bench-x link set eth0 up
ip -n bench-x link set lo up
ip -n bench-x route add default via 172.17.0.1
ip link del bthbench
ip netns del bench-x
SH
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$WORK/results.md" \
  -n "berth run --rm --network none" "$IN $BERTH --root $ROOT run --rm --network none bench-busybox:1 true" \
  -n "berth run --rm (berth0 bridge)" "$IN $BERTH --root $ROOT run --rm bench-busybox:1 true" \
  -n "ip commands: netns+veth+addr+route" "$IN sh $WORK/ip-setup.sh"
