#!/usr/bin/env bash
# Compare credvault with its peers on this machine, in one run, and write
# benches/RESULTS.md. See benches/README.md for what each number means.
#
#   bash benches/compare.sh
#
# Knobs (environment):
#   COMPARE_QUICK=1   few runs and small stores (100 / 1,000 entries, 50
#                     inserts), for developing this script; the numbers are
#                     not meant to be quoted. Writes RESULTS.quick.md in the
#                     results directory unless COMPARE_OUT is set.
#   COMPARE_OUT=PATH  where to write the results (default benches/RESULTS.md).
#                     Text outside the generated markers of an existing file
#                     is kept.
#   CARGO_TARGET_DIR  honoured; the hyperfine JSON and logs are kept in
#                     TARGET/credvault-compare/ (re-render them with
#                     `python3 benches/compare_report.py DIR OUT`).
#
# What it does:
#   1. installs the peers and tools from Debian when any is missing (as root;
#      `apt-get update` first): pass gnupg keepassxc age argon2 hyperfine jq,
#      and what credvault's keychain mode needs: dbus-daemon dbus-bin
#      dbus-user-session gnome-keyring libsecret-tools keyutils;
#   2. builds credvault and the helpers (benches/src/bin) in release mode,
#      plus a sequential-Argon2 kdf-once, and copies the binaries aside so a
#      concurrent rebuild cannot change them mid-run;
#   3. builds every store in a private temp dir (HOME, GNUPGHOME,
#      PASSWORD_STORE_DIR, the vault paths, XDG dirs: never your real
#      stores or keyrings) and measures each operation with hyperfine;
#   4. renders the medians, the targets and the machine into RESULTS.md.
#
# The keychain part runs inside scripts/with-secret-service.sh (a private
# D-Bus session with an unlocked gnome-keyring); this script re-enters
# itself there with the argument __keychain_phase__.
set -Eeuo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
self="$repo/benches/compare.sh"

# SECONDS goes on counting inside the keychain phase (CMP_SECONDS).
SECONDS=${CMP_SECONDS:-0}
log() { printf '[compare %4ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'compare: error: %s\n' "$*" >&2; exit 1; }

# ---- measuring ---------------------------------------------------------------

# bench NAME RUNS WARMUP [HYPERFINE OPTIONS...] -- COMMAND
# One hyperfine benchmark, exported to $CMP_JSON/NAME.json. RUNS is a
# count, or MIN-MAX: as many runs as fit in hyperfine's 3 s budget within
# those bounds (slow commands get MIN). A failure is logged and recorded in
# $CMP_JSON/failed, and the run goes on.
bench() {
    local name=$1 runs=$2 warmup=$3
    shift 3
    local opts=()
    if [[ $runs == *-* ]]; then
        opts+=(--min-runs "${runs%-*}" --max-runs "${runs#*-}")
    else
        opts+=(--runs "$runs")
    fi
    while (($#)) && [[ $1 != -- ]]; do
        opts+=("$1")
        shift
    done
    shift
    local cmd=$1
    if hyperfine --style none --warmup "$warmup" "${opts[@]}" \
        --export-json "$CMP_JSON/$name.json" --command-name "$name" "$cmd" \
        >"$CMP_JSON/$name.log" 2>&1; then
        jq -r '.results[0] | "  \(.command): median \((.median * 100000 | floor) / 100) ms, \(.times | length) runs"' \
            "$CMP_JSON/$name.json" >&2
    else
        printf '  %s: FAILED (log: %s)\n' "$name" "$CMP_JSON/$name.log" >&2
        sed 's/^/    /' "$CMP_JSON/$name.log" | tail -5 >&2
        rm -f "$CMP_JSON/$name.json"
        echo "$name" >>"$CMP_JSON/failed"
    fi
}

# restore NAME: put the pristine copy of store NAME back in place.
restore_cmd() { printf 'rm -rf %s/stores/%s && cp -a %s/pristine/%s %s/stores/%s' \
    "$CMP_W" "$1" "$CMP_W" "$1" "$CMP_W" "$1"; }

# The measurements of one credvault vault flavour (kc: keychain, pp:
# passphrase + session unlock). Its stores cv-TAG-{small,big,scratch} exist.
measure_credvault() {
    local tag=$1 cv="$CMP_BIN/credvault" s=$CMP_W/stores
    local vs="$s/cv-$tag-small/v.cvault" vb="$s/cv-$tag-big/v.cvault" vx="$s/cv-$tag-scratch/v.cvault"
    "$cv" --vault "$vs" get "$CMP_KEY" >/dev/null # first contact (keychain, session)

    log "credvault ($tag): $CMP_INS inserts, one command each"
    bench "insert.cv-$tag" "$CMP_R_INS" 0 --prepare "$(restore_cmd "cv-$tag-scratch")" -- \
        "$CMP_BIN/insert-loop credvault $s/cv-$tag-scratch $CMP_W/data/insert.tsv"
    log "credvault ($tag): get, ls, set"
    for size in small big; do
        local v=$vs
        [[ $size == big ]] && v=$vb
        bench "get-$size.cv-$tag" "$CMP_R_FAST" "$CMP_W_FAST" -N -- "$cv --vault $v get $CMP_KEY"
        bench "ls-$size.cv-$tag" "$CMP_R_FAST" "$CMP_W_FAST" -N -- "$cv --vault $v ls"
        bench "set-$size.cv-$tag" "$CMP_R_SET" "$CMP_W_SET" -- \
            "printf 'v%s\\n' \$\$ | $cv --vault $v set $CMP_KEY"
    done
    log "credvault ($tag): import of $CMP_BIG entries into an empty vault"
    bench "import-big.cv-$tag" "$CMP_R_IMPORT" 1 --prepare "$(restore_cmd "cv-$tag-scratch")" -- \
        "$cv --vault $vx import $CMP_W/data/e$CMP_BIG.json"
}

# init_credvault TAG INIT_OPTIONS...: the vaults of one flavour, made by
# `credvault [CV_OPTS] init INIT_OPTIONS`; CV_OPTS (an array) also unlocks
# them for the imports.
init_credvault() {
    local tag=$1
    shift
    local cv="$CMP_BIN/credvault" d
    for d in small big scratch; do
        mkdir -p "$CMP_W/stores/cv-$tag-$d"
        # The recovery code printed by init is the throwaway vault's.
        "$cv" --vault "$CMP_W/stores/cv-$tag-$d/v.cvault" "${CV_OPTS[@]}" init --no-recovery "$@" >/dev/null
    done
    "$cv" --vault "$CMP_W/stores/cv-$tag-small/v.cvault" "${CV_OPTS[@]}" \
        import "$CMP_W/data/e$CMP_SMALL.json" >/dev/null
    "$cv" --vault "$CMP_W/stores/cv-$tag-big/v.cvault" "${CV_OPTS[@]}" \
        import "$CMP_W/data/e$CMP_BIG.json" >/dev/null
}

# Inside scripts/with-secret-service.sh: credvault with a keychain slot.
keychain_phase() {
    log "credvault (keychain): vaults in a private Secret Service"
    # No passphrase slot, so no KDF parameters to give.
    CV_OPTS=()
    init_credvault kc 2>>"$CMP_JSON/setup.log"
    cp -a "$CMP_W/stores/cv-kc-scratch" "$CMP_W/pristine/cv-kc-scratch"
    "$CMP_BIN/credvault" --vault "$CMP_W/stores/cv-kc-small/v.cvault" --json status \
        >"$CMP_JSON/status.cv-kc.json" 2>>"$CMP_JSON/setup.log" || true
    for size in small big; do
        printf 'cv-kc-%s\t%s\n' "$size" "$(du -sb "$CMP_W/stores/cv-kc-$size" | cut -f1)"
    done >>"$CMP_JSON/store-sizes.tsv"
    measure_credvault kc
}

if [[ "${1:-}" == __keychain_phase__ ]]; then
    keychain_phase
    exit 0
fi

# Ends the session unlocks and the gpg-agent this run started, removes $W.
cleanup() {
    local v
    log "cleaning up"
    for v in "$CMP_W"/stores/cv-pp-*/v.cvault; do
        if [[ -e $v ]]; then
            "$CMP_W/bin/credvault" --vault "$v" lock >/dev/null 2>&1 || true
        fi
    done
    gpgconf --kill all >/dev/null 2>&1 || true
    rm -rf "$CMP_W"
    log "cleaned up"
}

# ---- 1. packages ---------------------------------------------------------------

packages=(pass gnupg keepassxc age argon2 hyperfine jq
    dbus-daemon dbus-bin dbus-user-session gnome-keyring libsecret-tools keyutils)
missing=()
for p in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "not root and no sudo; install: ${missing[*]}"
        sudo=(sudo)
    fi
    log "installing: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in cargo python3 git findmnt; do
    command -v "$tool" >/dev/null || die "'$tool' not found"
done

# ---- 2. build --------------------------------------------------------------------

quick=${COMPARE_QUICK:-0}
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
cd "$repo"
target_dir="$(cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
results="$target_dir/credvault-compare"
if [[ $quick == 1 ]]; then
    out="${COMPARE_OUT:-$results/RESULTS.quick.md}"
else
    out="${COMPARE_OUT:-$repo/benches/RESULTS.md}"
fi
# The interpreter itself, not a shim that would look for its config in $HOME.
py="$(python3 -c 'import sys; print(sys.executable)')"

log "building (release): sequential kdf-once, then credvault and the helpers"
cargo build --release --quiet -p credvault-benches --no-default-features --bin kdf-once
umask 077
W="$(mktemp -d "${TMPDIR:-/tmp}/credvault-compare.XXXXXX")"
[[ "$W" =~ ^[A-Za-z0-9/._-]+$ ]] || die "temp dir '$W' has characters the hyperfine commands cannot carry"
mkdir -p "$W/bin" "$W/data" "$W/stores" "$W/pristine" "$W/home" "$W/run"
case "$(findmnt -n -o FSTYPE -T "$W")" in
tmpfs | ramfs) log "WARNING: $W is on a $(findmnt -n -o FSTYPE -T "$W"): fsync is free there and the durable numbers mean nothing (set TMPDIR to a dir on a disk, e.g. /var/tmp)" ;;
esac
export CMP_W="$W"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cp "$target_dir/release/kdf-once" "$W/bin/kdf-once-seq"
cargo build --release --quiet -p credvault-cli -p credvault-benches
cp "$target_dir/release/credvault" "$target_dir/release/durable-floor" \
    "$target_dir/release/kdf-once" "$W/bin/"

rm -rf "$results/json"
mkdir -p "$results/json"
export CMP_BIN="$W/bin" CMP_JSON="$results/json"
setup_log="$CMP_JSON/setup.log"
trap 'echo "compare: failed at line $LINENO; the store set-up log is $setup_log" >&2' ERR

# ---- 3. private environment --------------------------------------------------

export HOME="$W/home" GNUPGHOME="$W/gnupg" XDG_RUNTIME_DIR="$W/run"
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"
unset DBUS_SESSION_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY GPG_AGENT_INFO SSH_AUTH_SOCK \
    GNOME_KEYRING_CONTROL PASSWORD_STORE_DIR PASSWORD_STORE_KEY PASSWORD_STORE_GPG_OPTS \
    CREDVAULT_VAULT CREDVAULT_PASSPHRASE CREDVAULT_NEW_PASSPHRASE CREDVAULT_RECOVERY \
    CREDVAULT_GENERATIONS CREDVAULT_AUDIT CREDVAULT_AUDIT_LOG CREDVAULT_AUDIT_MAX_BYTES
mkdir -m 700 "$GNUPGHOME"

if [[ $quick == 1 ]]; then
    export CMP_SMALL=100 CMP_BIG=1000 CMP_INS=50
    export CMP_R_FAST=5 CMP_W_FAST=1 CMP_R_SET=5 CMP_W_SET=1 CMP_R_KDF=3 CMP_R_IMPORT=3
    export CMP_R_INS=1 CMP_R_INS_KPXC=1
else
    export CMP_SMALL=1000 CMP_BIG=10000 CMP_INS=1000
    export CMP_R_FAST=10-30 CMP_W_FAST=3 CMP_R_SET=10-20 CMP_W_SET=2 CMP_R_KDF=15 CMP_R_IMPORT=10
    # One run of each loop: it is already the mean of $CMP_INS commands.
    export CMP_R_INS=1 CMP_R_INS_KPXC=1
fi

# ---- 4. data -------------------------------------------------------------------------

log "generating $CMP_SMALL- and $CMP_BIG-entry data sets"
# Entry i is field i%4 of service i/4 (the criterion benches' naming): 17 to
# 22-byte names, 32 to 40-byte URL-safe values, deterministic (seed 9).
CMP_KEY="$("$py" - "$W/data" "$CMP_SMALL" "$CMP_BIG" "$CMP_INS" <<'PY'
import base64, json, os, random, sys
from xml.sax.saxutils import escape

out, small, big, ins = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(9)
FIELDS = ["password", "token", "api-key", "client-secret"]
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

def name(i):
    return f"svc{i // 4:05d}.{FIELDS[i % 4]}"

def value():
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(32, 40)))

def uuid():
    return base64.b64encode(rng.randbytes(16)).decode()

def keepass_xml(entries):
    rows = [f"<Entry><UUID>{uuid()}</UUID>"
            f"<String><Key>Title</Key><Value>{escape(k)}</Value></String>"
            f"<String><Key>Password</Key><Value>{escape(v)}</Value></String></Entry>"
            for k, v in entries.items()]
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            "<KeePassFile><Meta><Generator>credvault-compare</Generator>"
            "<DatabaseName>bench</DatabaseName></Meta><Root><Group>"
            f"<UUID>{uuid()}</UUID><Name>Root</Name>\n" + "\n".join(rows) +
            "\n</Group></Root></KeePassFile>\n")

for n in (small, big):
    entries = {name(i): value() for i in range(n)}
    with open(f"{out}/e{n}.json", "w") as f:  # credvault-export-v1
        json.dump({"format": "credvault-export-v1",
                   "entries": {k: {"value": v, "kind": "password"} for k, v in entries.items()}}, f)
    with open(f"{out}/a{n}.json", "w") as f:  # the age store's plaintext
        json.dump(entries, f)
    with open(f"{out}/k{n}.xml", "w") as f:
        f.write(keepass_xml(entries))
    os.makedirs(f"{out}/p{n}")  # pass: one plaintext file per entry, encrypted below
    for k, v in entries.items():
        with open(f"{out}/p{n}/{k}", "w") as f:
            f.write(v + "\n")
with open(f"{out}/k-empty.xml", "w") as f:
    f.write(keepass_xml({}))
with open(f"{out}/a-empty.json", "w") as f:
    f.write("{}")
with open(f"{out}/insert.tsv", "w") as f:
    for i in range(ins):
        f.write(f"{name(i)}\t{value()}\n")
print(name(small // 2))  # in both stores: the entry every get and set uses
PY
)"
export CMP_KEY
printf 'bench passphrase for the compared vaults\n' >"$W/data/passphrase"
export CMP_KPXC_PW="bench-keepassxc-password"
printf '%s\n' "$CMP_KPXC_PW" >"$W/data/kpxc-pw"

# ---- 5. stores -------------------------------------------------------------------------

log "pass: gpg key (ed25519/cv25519, no passphrase) and stores"
gpg --batch --quiet --passphrase '' --quick-gen-key 'credvault-compare <bench@example.invalid>' \
    future-default default never 2>>"$setup_log"
fpr="$(gpg --with-colons --list-secret-keys 2>>"$setup_log" | awk -F: '/^fpr/ { print $10; exit }')"
[[ -n $fpr ]] || die "gpg key generation failed"
# As pass encrypts (binary, --compress-algo=none, to the .gpg-id key), but
# one gpg process per batch of files instead of one per file.
make_pass_store() { # DIR [PLAINTEXT_DIR]
    mkdir -p "$1"
    echo "$fpr" >"$1/.gpg-id"
    [[ -n ${2:-} ]] || return 0
    (
        cd "$2"
        find . -maxdepth 1 -type f -printf '%f\0' |
            xargs -0 -n 500 gpg --batch --quiet --yes --trust-model always --compress-algo=none \
                --no-encrypt-to -r "$fpr" --encrypt-files 2>>"$setup_log"
    )
    mv "$2"/*.gpg "$1/"
    rm -rf "$2"
}
make_pass_store "$W/stores/pass-small" "$W/data/p$CMP_SMALL"
make_pass_store "$W/stores/pass-big" "$W/data/p$CMP_BIG"
make_pass_store "$W/pristine/pass-scratch"

log "keepassxc: databases by keepassxc-cli import"
make_kpxc_db() { # DIR XML
    mkdir -p "$1"
    printf '%s\n%s\n' "$CMP_KPXC_PW" "$CMP_KPXC_PW" |
        keepassxc-cli import -q -p "$2" "$1/db.kdbx" >/dev/null 2>>"$setup_log"
}
make_kpxc_db "$W/stores/kpxc-small" "$W/data/k$CMP_SMALL.xml"
make_kpxc_db "$W/stores/kpxc-big" "$W/data/k$CMP_BIG.xml"
make_kpxc_db "$W/pristine/kpxc-scratch" "$W/data/k-empty.xml"
keepassxc-cli db-info -q "$W/stores/kpxc-small/db.kdbx" <"$W/data/kpxc-pw" >"$CMP_JSON/kpxc-db-info.txt" 2>>"$setup_log"

log "age: X25519 identity and encrypted JSON stores"
age-keygen -o "$W/data/age-id" 2>/dev/null
age_recipient="$(age-keygen -y "$W/data/age-id")"
make_age_store() { # DIR JSON
    mkdir -p "$1"
    age -r "$age_recipient" -o "$1/store.age" "$2"
}
make_age_store "$W/stores/age-small" "$W/data/a$CMP_SMALL.json"
make_age_store "$W/stores/age-big" "$W/data/a$CMP_BIG.json"
make_age_store "$W/pristine/age-scratch" "$W/data/a-empty.json"

# The age store's operations. set: decrypt, jq update, encrypt to a temp
# file, fsync it (sync FILE), rename, fsync the directory (sync DIR).
cat >"$W/bin/age-get" <<EOF
#!/bin/sh
# age-get FILE NAME
age -d -i $W/data/age-id "\$1" | jq -r --arg k "\$2" '.[\$k]'
EOF
cat >"$W/bin/age-ls" <<EOF
#!/bin/sh
# age-ls FILE
age -d -i $W/data/age-id "\$1" | jq -r 'keys[]'
EOF
cat >"$W/bin/age-set" <<EOF
#!/bin/bash
# age-set FILE NAME, the value on stdin (one trailing newline stripped)
set -euo pipefail
exec 3<&0
age -d -i $W/data/age-id "\$1" |
    jq -c --arg k "\$2" --rawfile v /dev/fd/3 '.[\$k] = (\$v | rtrimstr("\n"))' |
    age -r $age_recipient -o "\$1.tmp"
sync "\$1.tmp"
mv -f "\$1.tmp" "\$1"
sync "\$(dirname "\$1")"
EOF
# insert-loop TOOL STORE_DIR LIST: one insert command per line NAME<TAB>VALUE
# of LIST, the value on the command's stdin.
cat >"$W/bin/insert-loop" <<EOF
#!/bin/bash
set -euo pipefail
tool=\$1 store=\$2
export PASSWORD_STORE_DIR="\$store"
while IFS=\$'\t' read -r name value; do
    case \$tool in
    credvault) printf '%s\n' "\$value" | $W/bin/credvault --vault "\$store/v.cvault" set "\$name" ;;
    pass) printf '%s\n' "\$value" | pass insert -e -f "\$name" >/dev/null ;;
    keepassxc) printf '%s\n%s\n' "$CMP_KPXC_PW" "\$value" | keepassxc-cli add -q -p "\$store/db.kdbx" "\$name" ;;
    age) printf '%s\n' "\$value" | $W/bin/age-set "\$store/store.age" "\$name" ;;
    esac
done <"\$3"
EOF
chmod 700 "$W/bin/age-get" "$W/bin/age-ls" "$W/bin/age-set" "$W/bin/insert-loop"

log "credvault (passphrase): vaults with fixed Argon2id m=64 MiB t=3 p=4, session unlock 1h"
CV_OPTS=(--no-keychain --passphrase-file "$W/data/passphrase")
init_credvault pp --kdf-memory-mib 64 --kdf-iterations 3 --kdf-parallelism 4 2>>"$setup_log"
for d in small big scratch; do
    "$W/bin/credvault" --vault "$W/stores/cv-pp-$d/v.cvault" --passphrase-file "$W/data/passphrase" \
        unlock --for 1h >/dev/null 2>>"$setup_log"
done
# The scratch vault keeps its id when restored, so its session stays valid.
cp -a "$W/stores/cv-pp-scratch" "$W/pristine/cv-pp-scratch"
for t in pass kpxc age; do
    cp -a "$W/pristine/$t-scratch" "$W/stores/$t-scratch"
done
"$W/bin/credvault" --vault "$W/stores/cv-pp-small/v.cvault" --json status >"$CMP_JSON/status.cv-pp.json" 2>>"$setup_log" || true

# Sizes of the stores, for the report.
for d in "$W"/stores/*; do
    printf '%s\t%s\n' "$(basename "$d")" "$(du -sb "$d" | cut -f1)"
done >"$CMP_JSON/store-sizes.tsv"
for size in small big; do
    printf 'cv-pp-%s/v.cvault\t%s\n' "$size" "$(stat -c %s "$W/stores/cv-pp-$size/v.cvault")"
done >>"$CMP_JSON/store-sizes.tsv"

# ---- 6. measurements ---------------------------------------------------------------

s="$W/stores"
measure_credvault pp

log "pass: warm gpg-agent, then $CMP_INS inserts, show, ls, insert -f"
export PASSWORD_STORE_DIR="$s/pass-small"
pass show "$CMP_KEY" >/dev/null
bench insert.pass "$CMP_R_INS" 0 --prepare "$(restore_cmd pass-scratch)" -- \
    "$W/bin/insert-loop pass $s/pass-scratch $W/data/insert.tsv"
for size in small big; do
    export PASSWORD_STORE_DIR="$s/pass-$size"
    bench "get-$size.pass" "$CMP_R_FAST" "$CMP_W_FAST" -N -- "pass show $CMP_KEY"
    bench "ls-$size.pass" "$CMP_R_FAST" "$CMP_W_FAST" -N -- "pass ls"
    bench "set-$size.pass" "$CMP_R_SET" "$CMP_W_SET" -- "printf 'v%s\\n' \$\$ | pass insert -e -f $CMP_KEY"
done
unset PASSWORD_STORE_DIR

log "keepassxc-cli: $CMP_INS adds, show, ls, edit (password on stdin)"
bench insert.kpxc "$CMP_R_INS_KPXC" 0 --prepare "$(restore_cmd kpxc-scratch)" -- \
    "$W/bin/insert-loop keepassxc $s/kpxc-scratch $W/data/insert.tsv"
for size in small big; do
    db="$s/kpxc-$size/db.kdbx"
    bench "get-$size.kpxc" "$CMP_R_FAST" "$CMP_W_FAST" -- \
        "keepassxc-cli show -q -a password $db $CMP_KEY < $W/data/kpxc-pw"
    bench "ls-$size.kpxc" "$CMP_R_FAST" "$CMP_W_FAST" -- "keepassxc-cli ls -q $db < $W/data/kpxc-pw"
    bench "set-$size.kpxc" "$CMP_R_SET" "$CMP_W_SET" -- \
        "printf '%s\\nv%s\\n' $CMP_KPXC_PW \$\$ | keepassxc-cli edit -q -p $db $CMP_KEY"
done

log "age + jq: $CMP_INS inserts, get, ls, set"
bench insert.age "$CMP_R_INS" 0 --prepare "$(restore_cmd age-scratch)" -- \
    "$W/bin/insert-loop age $s/age-scratch $W/data/insert.tsv"
for size in small big; do
    f="$s/age-$size/store.age"
    bench "get-$size.age" "$CMP_R_FAST" "$CMP_W_FAST" -N -- "$W/bin/age-get $f $CMP_KEY"
    bench "ls-$size.age" "$CMP_R_FAST" "$CMP_W_FAST" -N -- "$W/bin/age-ls $f"
    bench "set-$size.age" "$CMP_R_SET" "$CMP_W_SET" -- "printf 'v%s\\n' \$\$ | $W/bin/age-set $f $CMP_KEY"
done

log "floors: cat of the vault file, durable replace with and without AEAD"
mkdir -p "$W/floor"
for size in small big; do
    v="$s/cv-pp-$size/v.cvault"
    "$W/bin/durable-floor" seal "$v" "$W/floor/$size.bin"
    bench "get-$size.floor" "$CMP_R_FAST" "$CMP_W_FAST" -N -- "cat $v"
    bench "set-$size.floor" "$CMP_R_SET" "$CMP_W_SET" -N -- "$W/bin/durable-floor $W/floor/$size.bin"
    bench "setbare-$size.floor" "$CMP_R_SET" "$CMP_W_SET" -N -- \
        "$W/bin/durable-floor --no-aead $W/floor/$size.bin"
done

log "Argon2id m=64 MiB t=3 p=4, 32 bytes: reference CLI and credvault (parallel, sequential)"
ref="$(printf pw | argon2 somesalt16bytes! -id -t 3 -k 65536 -p 4 -l 32 -r)"
for k in kdf-once kdf-once-seq; do
    [[ "$("$W/bin/$k")" == "$ref" ]] || die "$k and the argon2 CLI disagree: not the same derivation"
done
printf pw >"$W/data/argon2-pw"
bench kdf.argon2 "$CMP_R_KDF" 2 -- "argon2 somesalt16bytes! -id -t 3 -k 65536 -p 4 -l 32 -r < $W/data/argon2-pw"
bench kdf.cv-par "$CMP_R_KDF" 2 -N -- "$W/bin/kdf-once"
bench kdf.cv-seq "$CMP_R_KDF" 2 -N -- "$W/bin/kdf-once-seq"

log "credvault (keychain): entering a private D-Bus session with gnome-keyring"
export CMP_SECONDS=$SECONDS
# (dbus-daemon's complaint that it may not raise its fd limit is harmless.)
"$repo/scripts/with-secret-service.sh" bash "$self" __keychain_phase__ 2>&1 |
    { grep -v 'Failed to set fd limit' || true; } >&2 || echo keychain-phase >>"$CMP_JSON/failed"

# ---- 7. report ------------------------------------------------------------------------

log "writing $out"
if rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null)"; then
    [[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ]] || rev="$rev+dirty"
else
    rev=unknown
fi
{
    echo "started_at=$started_at"
    echo "quick=$quick"
    echo "small=$CMP_SMALL"
    echo "big=$CMP_BIG"
    echo "inserts=$CMP_INS"
    echo "key=$CMP_KEY"
    echo "runs=fast $CMP_R_FAST (warmup $CMP_W_FAST), set $CMP_R_SET (warmup $CMP_W_SET), kdf $CMP_R_KDF, import $CMP_R_IMPORT, insert loops $CMP_R_INS (keepassxc $CMP_R_INS_KPXC)"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "cores=$(nproc)"
    echo "ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel=$(uname -sr)"
    echo "fs=$(findmnt -n -o FSTYPE -T "$W") ($(findmnt -n -o SOURCE -T "$W"), temp dir ${TMPDIR:-/tmp})"
    echo "credvault=$("$W/bin/credvault" --version) (git $rev)"
    for p in pass gnupg keepassxc age argon2 hyperfine jq gnome-keyring; do
        echo "pkg_$p=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
    done
    echo "gpg=$(gpg --version | head -1)"
    echo "keepassxc_cli=$(keepassxc-cli --version)"
    echo "age=$(age --version)"
    echo "hyperfine=$(hyperfine --version)"
    echo "kpxc_kdf=$(sed -n 's/^KDF: *//p' "$CMP_JSON/kpxc-db-info.txt")"
    echo "kpxc_cipher=$(sed -n 's/^Cipher: *//p' "$CMP_JSON/kpxc-db-info.txt")"
    echo "load=$load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo "elapsed_s=$SECONDS"
} >"$CMP_JSON/meta.txt"
mkdir -p "$(dirname "$out")"
"$py" "$repo/benches/compare_report.py" "$CMP_JSON" "$out"
log "done in ${SECONDS}s: $out (hyperfine JSON in $CMP_JSON)"
if [[ -s "$CMP_JSON/failed" ]]; then
    log "FAILED measurements: $(tr '\n' ' ' <"$CMP_JSON/failed")"
    exit 1
fi
