#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 60: CI),
# two at a time, from the committed seed corpus plus a scratch corpus:
#
#   bash scripts/fuzz.sh [SECONDS]
#
# Installs cargo-fuzz if missing. Builds on the stable toolchain
# (RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags) without a
# sanitizer by default (several times more executions per second; the
# library has no unsafe code); FUZZ_SANITIZER=address picks ASan.
# New inputs go to a scratch directory, never into fuzz/corpus/; a crash
# stops the script and is kept in fuzz/artifacts/TARGET/ (see
# fuzz/README.md for turning it into a regression test).
set -euo pipefail

SECONDS_EACH="${1:-60}"
SANITIZER="${FUZZ_SANITIZER:-none}"
TARGETS=(fuzz_header fuzz_body fuzz_open fuzz_mutate_valid fuzz_merge)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
cargo fuzz --version

# cargo fuzz has no --locked: refuse a stale fuzz/Cargo.lock first, as
# every other cargo invocation of the scripts does.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null

echo "==> building the fuzz targets (sanitizer: $SANITIZER)"
cargo fuzz build -s "$SANITIZER" --fuzz-dir fuzz

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT

run() {
    local t="$1"
    mkdir -p "$SCRATCH/$t"
    cargo fuzz run -s "$SANITIZER" --fuzz-dir fuzz "$t" "$SCRATCH/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -dict="fuzz/$t.dict" >"$SCRATCH/$t.log" 2>&1
}

summary() {
    local t="$1" log="$SCRATCH/$1.log"
    local done execs rate
    done="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
    echo "$t: ${execs:-?} executions (${rate:-?}/s); ${done#*DONE }"
}

echo "==> fuzzing ${#TARGETS[@]} targets for ${SECONDS_EACH}s each, two at a time"
failed=()
for ((i = 0; i < ${#TARGETS[@]}; i += 2)); do
    pids=()
    pair=("${TARGETS[@]:i:2}")
    for t in "${pair[@]}"; do
        run "$t" &
        pids+=($!)
    done
    for j in "${!pair[@]}"; do
        if ! wait "${pids[$j]}"; then
            failed+=("${pair[$j]}")
            echo "---- ${pair[$j]} FAILED; the end of its log:" >&2
            tail -n 40 "$SCRATCH/${pair[$j]}.log" >&2
        fi
    done
done

echo "==> results"
for t in "${TARGETS[@]}"; do summary "$t"; done
if ((${#failed[@]})); then
    echo "fuzzing found a failure in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
