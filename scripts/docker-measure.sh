#!/usr/bin/env bash
# Measures a compose network written by `careledger compose`: time from `up` to the first finalized
# block, finalized blocks per minute with every hospital up and with one stopped, and how long the
# stopped one takes to catch up after it is started again. Leaves the network down (volumes kept:
# the chains live in the hospital-N/ bind mounts).
#
# usage: scripts/docker-measure.sh DIR [SECONDS]     (DIR holds docker-compose.yml; default 60 s windows)
set -euo pipefail

DIR="$(cd "${1:?usage: scripts/docker-measure.sh DIR [SECONDS]}" && pwd)"
WINDOW="${2:-60}"
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
dc() { "${COMPOSE[@]}" -f "$DIR/docker-compose.yml" --project-directory "$DIR" "$@"; }
now_ms() { date +%s%3N; }
# Finalized height of one hospital, asked inside its container with its own token.
height() { dc exec -T "$1" careledger rpc chain_head | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).finalizedHeight))'; }
mapfile -t SERVICES < <(dc config --services)
LAST="${SERVICES[-1]}"

T_UP=$(now_ms)
dc up -d >/dev/null 2>&1
FIRST=""
for _ in $(seq 1 240); do
  FIRST=$(dc logs --no-color "${SERVICES[0]}" 2>/dev/null | grep -m1 '"msg":"finalized block"' | sed -E 's/.*"time":([0-9]+).*/\1/' || true)
  [ -n "$FIRST" ] && break
  sleep 0.5
done
[ -n "$FIRST" ] || { echo "no finalized block within 120 s" >&2; dc down >/dev/null 2>&1; exit 1; }
echo "up -> first finalized block on ${SERVICES[0]}: $((FIRST - T_UP)) ms"

rate() { # blocks per minute on $1 over WINDOW seconds
  local a b t0 t1
  a=$(height "$1"); t0=$(now_ms); sleep "$WINDOW"; b=$(height "$1"); t1=$(now_ms)
  node -e "console.log((($b - $a) * 60000 / ($t1 - $t0)).toFixed(1))"
}
echo "finalized blocks per minute, all ${#SERVICES[@]} up: $(rate "${SERVICES[0]}")"

dc stop "$LAST" >/dev/null 2>&1
echo "finalized blocks per minute, $LAST stopped: $(rate "${SERVICES[0]}")"

TARGET=$(height "${SERVICES[0]}")
T_START=$(now_ms)
dc start "$LAST" >/dev/null 2>&1
for _ in $(seq 1 180); do
  H=$(height "$LAST" 2>/dev/null || echo 0)
  [ "$H" -ge "$TARGET" ] && break
  sleep 1
done
echo "$LAST started again: at height $H (target $TARGET) after $(($(now_ms) - T_START)) ms"
dc down >/dev/null 2>&1
