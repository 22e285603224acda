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

echo "==> cargo build --locked -p credvault-cli  [the CLI the tests write beside]"
cargo build --locked -p credvault-cli

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

# npm test in keyring mode $1 (through wrapper $2). A mode skips exactly the
# tests gated on the other mode (`skip: keyringMode !== 'MODE' && 'needs
# CREDVAULT_TEST_KEYRING=MODE'`), nothing else: a test skipped for another
# reason, or a keychain test that did not run in its mode, fails here.
npm_test_in_mode() {
    local mode="$1" wrapper="$2" log skipped expected
    log="$(mktemp)"
    CREDVAULT_TEST_KEYRING="$mode" bash "$ROOT/scripts/$wrapper" npm test 2>&1 | tee "$log"
    # The summary line of the tap ("# skipped N") or spec ("ℹ skipped N") reporter.
    skipped="$(sed -nE 's/^(#|ℹ) skipped ([0-9]+)$/\2/p' "$log" | tail -n 1)"
    rm -f "$log"
    expected="$(grep -ho "needs CREDVAULT_TEST_KEYRING=[a-z-]*'" test/*.test.js |
        grep -vc "=$mode'" || true)"
    if [[ "$skipped" != "$expected" ]]; then
        echo "npm test with CREDVAULT_TEST_KEYRING=$mode skipped ${skipped:-?} tests; expected exactly the $expected gated on the other keyring mode" >&2
        exit 1
    fi
    echo "ok: CREDVAULT_TEST_KEYRING=$mode skipped only the $expected tests of the other mode"
}

echo "==> npm test  [no D-Bus, CREDVAULT_TEST_KEYRING=absent]"
npm_test_in_mode absent without-dbus.sh

echo "==> npm test  [Secret Service, CREDVAULT_TEST_KEYRING=secret-service]"
npm_test_in_mode secret-service with-secret-service.sh

echo "==> scripts/test-node.sh: PASS"
