#!/usr/bin/env bash
# Installs what the fault suite needs (Debian/Ubuntu, as root): ip (iproute2), iptables with the
# statistic match, and libfaketime. Does nothing when they are already there.
set -euo pipefail
if command -v ip >/dev/null && command -v iptables >/dev/null && command -v faketime >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "fault suite setup: not root or no apt-get; install iproute2, iptables and faketime yourself" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 iptables faketime >/dev/null
