#!/usr/bin/env bash
# The OAuth tests' own step (called by scripts/test.sh):
#
#   bash scripts/test-oauth.sh
#
# 1. checks Node (20 or newer), npm, openssl and curl,
# 2. `npm ci` in tests/oauth-server: panva's oidc-provider at the version
#    pinned in package-lock.json (the cargo tests also run it when
#    node_modules is missing, so `cargo test` alone works too),
# 3. runs the OAuth integration tests (tests/cli/oauth.rs) against it.
# Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

for tool in node npm openssl curl; do
    if ! command -v "$tool" >/dev/null; then
        echo "test-oauth.sh: $tool is required (Node 20+ with npm; Debian: openssl curl)" >&2
        exit 1
    fi
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if ((major < 20)); then
    echo "test-oauth.sh: Node $(node --version) is too old for oidc-provider 9; need 20 or newer" >&2
    exit 1
fi

echo "==> npm ci (tests/oauth-server: oidc-provider, pinned)"
(cd tests/oauth-server && npm ci --no-audit --no-fund)
node --check tests/oauth-server/server.mjs

echo "==> cargo test --locked -p credvault-cli --test cli oauth::"
cargo test --locked -p credvault-cli --test cli oauth::
