#!/usr/bin/env bash
# A tour of credvault on a throwaway vault in a temporary directory:
#
#   bash scripts/demo.sh
#
# Builds the CLI, creates a passphrase-protected vault (weak, fast KDF
# parameters: this is a demo), stores three credentials, lists, retrieves,
# deletes one, and shows status. Nothing outside the temp dir is touched.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

echo "==> building credvault"
cargo build --quiet --locked --release -p credvault-cli
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/credvault"

DEMO="$(mktemp -d)"
trap 'rm -rf "$DEMO"' EXIT
export CREDVAULT_VAULT="$DEMO/demo.cvault"
# The passphrase comes from a file, never from argv.
printf '%s\n' 'correct horse battery staple' >"$DEMO/passphrase"
chmod 600 "$DEMO/passphrase"
PW=(--passphrase-file "$DEMO/passphrase" --no-keychain)

run() {
    printf '\n$ %s\n' "$*"
    "$@"
}

run "$BIN" "${PW[@]}" init --kdf-memory-mib 19 --kdf-iterations 2 --kdf-parallelism 1
printf 'pg-s3cret\n' | run "$BIN" "${PW[@]}" set postgresql.password
printf 'sk-ant-demo-key\n' | run "$BIN" "${PW[@]}" store anthropic.apiKey
printf 'ghp_demo_token\n' | run "$BIN" "${PW[@]}" set github.token
run "$BIN" "${PW[@]}" ls
run "$BIN" "${PW[@]}" ls github.
run "$BIN" "${PW[@]}" get postgresql.password
run "$BIN" "${PW[@]}" has anthropic.apiKey && echo "(exit 0: present)"
run "$BIN" "${PW[@]}" rm github.token
set +e
run "$BIN" "${PW[@]}" get github.token
echo "(exit $?: not found)"
set -e
run "$BIN" "${PW[@]}" status
run "$BIN" "${PW[@]}" --json status
printf '\n$ od -c %s | head -2   # the file on disk: magic, version, CBOR header, ciphertext\n' "$CREDVAULT_VAULT"
od -c "$CREDVAULT_VAULT" | head -2
echo
echo "==> demo finished; the temporary vault is removed"
