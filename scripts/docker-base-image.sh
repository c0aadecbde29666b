#!/usr/bin/env bash
# Builds a minimal local base image for CareLedger without any registry: the host's node binary,
# the shared libraries it and the repository's native addons link against (found with ldd), an
# /etc/passwd entry for the unprivileged `careledger` user (uid 10001) and an empty /data owned by it.
#
# usage: scripts/docker-base-image.sh [TAG]        (default careledger-base:local)
# env:   NODE_BIN     node binary to package (default: the one on PATH)
#        DOCKER       docker client (default: docker)
#        ADDON_DIR    directory searched for native addons (*.node) whose libraries are added too
#                     (default: the repository's node_modules)
set -euo pipefail

TAG="${1:-careledger-base:local}"
DOCKER="${DOCKER:-docker}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_BIN="$(readlink -f "${NODE_BIN:-$(command -v node)}")"
ADDON_DIR="${ADDON_DIR:-$REPO/node_modules}"
APP_UID=10001

[ -x "$NODE_BIN" ] || { echo "node binary not found (set NODE_BIN)" >&2; exit 1; }
command -v ldd >/dev/null || { echo "ldd is required" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"
mkdir -p "$ROOT/usr/local/bin" "$ROOT/etc" "$ROOT/tmp" "$ROOT/data" "$ROOT/home/careledger"

cp "$NODE_BIN" "$ROOT/usr/local/bin/node"

# Every ELF whose libraries the image needs: node itself plus glibc native addons (musl builds skipped).
ELVES=("$NODE_BIN")
if [ -d "$ADDON_DIR" ]; then
  while IFS= read -r addon; do ELVES+=("$addon"); done < <(find "$ADDON_DIR" -name '*.node' -path '*linux-x64*' ! -name '*musl*' 2>/dev/null)
fi

declare -A LIBS=()
for elf in "${ELVES[@]}"; do
  # ldd prints "name => /path (addr)" for libraries and "/path (addr)" for the loader.
  while IFS= read -r lib; do LIBS["$lib"]=1; done < <(ldd "$elf" 2>/dev/null | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}')
done
for lib in "${!LIBS[@]}"; do
  mkdir -p "$ROOT$(dirname "$lib")"
  # Copy the file the link points at, under the name the loader asks for.
  cp -L "$lib" "$ROOT$lib"
done

cat > "$ROOT/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
careledger:x:$APP_UID:$APP_UID:CareLedger node:/home/careledger:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
PASSWD
cat > "$ROOT/etc/group" <<GROUP
root:x:0:
careledger:x:$APP_UID:
nobody:x:65534:
GROUP
# glibc resolves service names (/dns4/hospital-1) through Docker's DNS with this order.
echo "hosts: files dns" > "$ROOT/etc/nsswitch.conf"
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/data"

# Ownership is set in the archive, so this works without root on the host.
tar --numeric-owner --owner=0 --group=0 -C "$ROOT" -cf "$WORK/base.tar" --exclude=./data --exclude=./home .
tar --numeric-owner --owner=$APP_UID --group=$APP_UID -C "$ROOT" -rf "$WORK/base.tar" ./data ./home

"$DOCKER" import \
  --change "ENV PATH=/usr/local/bin" \
  --change "ENV HOME=/home/careledger" \
  --message "careledger base: node $("$NODE_BIN" --version) and its shared libraries" \
  "$WORK/base.tar" "$TAG" >/dev/null

echo "built $TAG from scratch:"
echo "  node $("$NODE_BIN" --version) ($NODE_BIN)"
echo "  shared libraries: $(printf '%s\n' "${!LIBS[@]}" | sort | tr '\n' ' ')"
echo "  native addons checked: $((${#ELVES[@]} - 1))"
echo "  user careledger uid $APP_UID, /data owned by it"
"$DOCKER" image ls "$TAG" --format '  image {{.ID}} size {{.Size}}'
"$DOCKER" run --rm "$TAG" node -e 'console.log("  runs: node " + process.version + " as uid " + process.getuid())' || {
  echo "the base image does not run node" >&2
  exit 1
}
