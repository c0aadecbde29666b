#!/usr/bin/env bash
# Builds the CareLedger node image from this checkout: compiles the packages, stages the built
# workspace with production-only node_modules (pruned offline from the installed tree), and runs
# docker build on docker/Dockerfile with BASE_IMAGE.
#
# usage: scripts/docker-build.sh [TAG]              (default careledger:local)
# env:   BASE_IMAGE   base image (default careledger-base:local, from scripts/docker-base-image.sh)
#        DOCKER       docker client (default: docker)
#        NO_COMPILE=1 skip the TypeScript build (use packages/*/dist as they are)
set -euo pipefail

TAG="${1:-careledger:local}"
BASE_IMAGE="${BASE_IMAGE:-careledger-base:local}"
DOCKER="${DOCKER:-docker}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACKAGES=(core network client node)

cd "$REPO"
if ! "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "base image $BASE_IMAGE not found: run scripts/docker-base-image.sh first" >&2
  exit 1
fi
if [ "${NO_COMPILE:-}" != "1" ]; then
  npx tsc -b "${PACKAGES[@]/#/packages/}"
fi

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
APP="$STAGE/app"
mkdir -p "$APP/packages"
cp package.json package-lock.json "$APP/"
for p in "${PACKAGES[@]}"; do
  [ -f "packages/$p/dist/src/index.js" ] || { echo "packages/$p is not built (packages/$p/dist/src/index.js missing)" >&2; exit 1; }
  mkdir -p "$APP/packages/$p/dist"
  cp "packages/$p/package.json" "$APP/packages/$p/"
  cp -r "packages/$p/dist/src" "$APP/packages/$p/dist/"
done
cp -a node_modules "$APP/"
# Drop dev dependencies without the network: npm works from the lockfile and the copied tree.
(cd "$APP" && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund --loglevel=error)
# Native prebuilds for other platforms are dead weight in a linux-x64 image.
find "$APP/node_modules" -path '*/prebuilds/*' -mindepth 1 -maxdepth 4 -type d ! -name 'linux-x64' -prune -exec rm -rf {} + 2>/dev/null || true
cp docker/careledger "$STAGE/careledger"

# The legacy builder needs no buildx plugin and runs FROM a local-only image without pulling.
DOCKER_BUILDKIT=0 "$DOCKER" build --build-arg "BASE_IMAGE=$BASE_IMAGE" -f docker/Dockerfile -t "$TAG" "$STAGE"

echo "built $TAG on $BASE_IMAGE"
"$DOCKER" image ls "$TAG" --format '  image {{.ID}} size {{.Size}}'
"$DOCKER" run --rm "$TAG" --help | head -1
