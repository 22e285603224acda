#!/usr/bin/env bash
# The Node/Electron module's tests (bindings/node), run by scripts/test.sh:
#
#   bash scripts/test-node.sh
#
# 1. Node >= 18 and npm (Debian's nodejs and npm if missing),
# 2. the `credvault` CLI (the tests write beside it; cargo reuses target/),
# 3. in bindings/node: npm ci, npm run build (a release build of the one
#    cdylib), and a check that the committed index.d.ts / index.js are
#    what the build generates,
# 4. examples/electron-main type-checked with tsc --noEmit,
# 5. npm test twice: with no D-Bus at all (CREDVAULT_TEST_KEYRING=absent)
#    and inside a private Secret Service (CREDVAULT_TEST_KEYRING=secret-service).
#
# Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

echo "==> node and npm"
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v npm >/dev/null 2>&1 || (($(node_major) < 18)); then
    SUDO=()
    if ((EUID != 0)); then SUDO=(sudo); fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq update </dev/null >/dev/null
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -y --no-install-recommends \
        install nodejs npm </dev/null >/dev/null
fi
echo "node $(node --version), npm $(npm --version)"

echo "==> cargo build -p credvault-cli  [the CLI the tests write beside]"
cargo build -p credvault-cli

cd "$ROOT/bindings/node"
echo "==> npm ci"
npm ci --no-audit --no-fund

echo "==> npm run build"
npm run build

if command -v git >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1; then
    echo "==> the committed index.d.ts and index.js are the generated ones"
    git diff --exit-code -- index.d.ts index.js
fi

echo "==> tsc --noEmit examples/electron-main"
./node_modules/.bin/tsc --noEmit -p "$ROOT/examples/electron-main"

echo "==> npm test  [no D-Bus, CREDVAULT_TEST_KEYRING=absent]"
CREDVAULT_TEST_KEYRING=absent bash "$ROOT/scripts/without-dbus.sh" npm test

echo "==> npm test  [Secret Service, CREDVAULT_TEST_KEYRING=secret-service]"
CREDVAULT_TEST_KEYRING=secret-service bash "$ROOT/scripts/with-secret-service.sh" npm test

echo "==> scripts/test-node.sh: PASS"
