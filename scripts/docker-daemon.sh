#!/usr/bin/env bash
# Starts a private Docker daemon for the docker test, or stops it. The daemon runs inside its own
# network, mount and PID namespaces (unshare), with its data, state and socket under DIR, so its
# bridges, iptables rules and containers never touch the host's network, and everything it
# started dies with it.
#
# usage: scripts/docker-daemon.sh start DIR    prints DOCKER_HOST=unix://DIR/docker.sock; exit 1 with the
#                                              reason (and the end of DIR/dockerd.log) if it does not answer in 60 s
#        scripts/docker-daemon.sh stop DIR     SIGTERM to dockerd, SIGKILL after 30 s, then removes DIR
set -euo pipefail

ACTION="${1:?usage: scripts/docker-daemon.sh start|stop DIR}"
DIR="${2:?usage: scripts/docker-daemon.sh start|stop DIR}"

case "$ACTION" in
start)
  command -v dockerd >/dev/null || { echo "dockerd is not installed" >&2; exit 1; }
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  # --kill-child: if this unshare dies, dockerd gets SIGKILL and with it the whole PID namespace.
  unshare --net --mount --pid --fork --kill-child --mount-proc \
    dockerd --host "unix://$DIR/docker.sock" --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$DIR/dockerd.pid" \
    >"$DIR/dockerd.log" 2>&1 &
  echo $! >"$DIR/unshare.pid"
  for _ in $(seq 1 60); do
    if DOCKER_HOST="unix://$DIR/docker.sock" docker info >/dev/null 2>&1; then
      echo "DOCKER_HOST=unix://$DIR/docker.sock"
      exit 0
    fi
    kill -0 "$(cat "$DIR/unshare.pid")" 2>/dev/null || break
    sleep 1
  done
  echo "dockerd did not start; end of $DIR/dockerd.log:" >&2
  tail -n 20 "$DIR/dockerd.log" >&2 || true
  exit 1
  ;;
stop)
  [ -f "$DIR/unshare.pid" ] || { rm -rf "$DIR"; exit 0; }
  UNSHARE_PID="$(cat "$DIR/unshare.pid")"
  # unshare ignores SIGTERM while it waits; its only child is dockerd, which stops its containers.
  DOCKERD_PID="$(ps -o pid= --ppid "$UNSHARE_PID" | tr -d ' ' || true)"
  [ -n "$DOCKERD_PID" ] && kill -TERM "$DOCKERD_PID" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$UNSHARE_PID" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$UNSHARE_PID" 2>/dev/null; then
    kill -KILL "$UNSHARE_PID" 2>/dev/null || true
    sleep 1
  fi
  rm -rf "$DIR"
  ;;
*)
  echo "usage: scripts/docker-daemon.sh start|stop DIR" >&2
  exit 2
  ;;
esac
