#!/usr/bin/env bash
# npm run test:faults: runs the multi-host fault suite (test/faults/suite.ts, docs/faults.md) as root
# inside its own network, mount and PID namespaces. Every host, bridge, address and iptables rule
# the suite makes lives inside them, and everything it started dies with them. Skips (exit 0) with
# the reason when this machine cannot do that; install the tools with test/faults/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

skip() {
  echo "fault suite SKIPPED: $*"
  exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces and iptables rules (run as root, e.g. in CI)"
for tool in unshare ip iptables faketime; do
  command -v "$tool" >/dev/null || skip "'$tool' is not installed (test/faults/setup.sh installs iproute2, iptables and faketime)"
done
[ -f test/dist/faults/suite.js ] || { echo "test/dist/faults/suite.js is missing: run npm run build" >&2; exit 1; }

# The same things the suite does, on a small scale: a private /run for named namespaces, a
# namespace with a veth pair, an iptables chain with the statistic match.
PROBE='mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip netns add probe &&
  ip -n probe link add pa type veth peer name pb && ip netns exec probe iptables -N PROBE &&
  ip netns exec probe iptables -A PROBE -m statistic --mode random --probability 0.5 -j DROP && ip netns del probe'
if ! reason=$(unshare --net --mount --pid --fork --kill-child bash -c "$PROBE" 2>&1); then
  skip "cannot create network namespaces, veth pairs or iptables rules here: ${reason:-unshare failed}"
fi

exec unshare --net --mount --pid --fork --kill-child \
  bash -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/netns && exec node test/dist/faults/suite.js'
