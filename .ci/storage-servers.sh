#!/usr/bin/env bash
# Installs what tests/storage_servers/ needs beyond requirements-dev.txt:
# Node.js and npm (Debian packages, only if npm is missing) and Azurite, the
# Azure Blob emulator (npm, pinned), into ~/.cache/tributary-test/azurite,
# where the azurite_server fixture looks for it. The S3, GCS and SFTP servers
# are Python packages in requirements-dev.txt.
#
# Idempotent and quick when everything is there (no network then).
# Usage: bash .ci/storage-servers.sh   (as root, or with sudo available)
set -euo pipefail

# 3.35.0: the newest Azurite that runs on Node.js < 21 (3.36+ require Node >= 21;
# Debian 12's nodejs is 18, this machine kind's is 20).
AZURITE_VERSION=3.35.0
# Resolve Azurite's own dependencies as they were on this day, so a fresh
# machine gets the tree these fixtures were tested with (npm has no lock here).
NPM_BEFORE=2026-11-28
CACHE="${TRIBUTARY_TEST_CACHE:-$HOME/.cache/tributary-test}"
PREFIX="$CACHE/azurite"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "storage-servers: installing Node.js and npm (apt)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi

installed="$(node -p "require('$PREFIX/node_modules/azurite/package.json').version" 2>/dev/null || true)"
if [ "$installed" = "$AZURITE_VERSION" ] && [ -x "$PREFIX/node_modules/.bin/azurite-blob" ]; then
  echo "storage-servers: Azurite $AZURITE_VERSION already in $PREFIX (node $(node --version))"
  exit 0
fi

echo "storage-servers: installing Azurite $AZURITE_VERSION into $PREFIX (node $(node --version))"
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
  --before="$NPM_BEFORE" "azurite@$AZURITE_VERSION"
"$PREFIX/node_modules/.bin/azurite-blob" --version >/dev/null
echo "storage-servers: Azurite $("$PREFIX/node_modules/.bin/azurite-blob" --version) ready"
