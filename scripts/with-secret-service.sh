#!/usr/bin/env bash
# Run a command inside a fresh, private D-Bus session bus that has a real,
# unlocked Secret Service (gnome-keyring-daemon, secrets component only).
#
#   scripts/with-secret-service.sh CMD [ARGS...]
#
# - The keyring lives in private temp dirs (XDG_RUNTIME_DIR, XDG_DATA_HOME,
#   XDG_CONFIG_HOME, XDG_CACHE_HOME), so your real login keyring is never
#   touched; everything is removed on exit.
# - DISPLAY / WAYLAND_DISPLAY are unset, so a locked keyring fails fast
#   instead of waiting on an unlock prompt.
# - CMD inherits this script's stdin/stdout/stderr; its exit status is ours.
# - The daemon is killed when CMD exits.
#
# Environment knobs:
#   SECRET_SERVICE_PASSWORD  keyring password (unset or empty: a fixed test
#                            value; an empty password would create no login
#                            keyring and every write would fail)
#   SECRET_SERVICE_LOCKED=1  start the daemon WITHOUT --unlock (keyring locked
#                            / absent) to test the locked-keyring path
#   SECRET_SERVICE_TIMEOUT   seconds to wait for org.freedesktop.secrets
#                            (default 10)
#
# Needs Debian packages: dbus-daemon dbus-bin gnome-keyring (and
# libsecret-tools for secret-tool); scripts/test.sh installs them.
set -euo pipefail

if [[ "${1:-}" == "__credvault_inner__" ]]; then
    # ---- inside dbus-run-session -------------------------------------------
    shift
    log="$XDG_RUNTIME_DIR/gnome-keyring.log"
    pw="${SECRET_SERVICE_PASSWORD:-credvault-test-keyring}"
    if [[ "${SECRET_SERVICE_LOCKED:-0}" == 1 ]]; then
        gnome-keyring-daemon --foreground --components=secrets </dev/null >"$log" 2>&1 &
    else
        printf '%s' "$pw" | gnome-keyring-daemon --foreground --unlock --components=secrets >"$log" 2>&1 &
    fi
    gkd_pid=$!
    unset pw SECRET_SERVICE_PASSWORD

    # shellcheck disable=SC2317  # invoked via trap
    stop_daemon() {
        if kill -0 "$gkd_pid" 2>/dev/null; then
            kill "$gkd_pid" 2>/dev/null || true
            wait "$gkd_pid" 2>/dev/null || true
        fi
    }
    trap stop_daemon EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    # Wait until the Secret Service bus name has an owner.
    deadline=$((SECONDS + ${SECRET_SERVICE_TIMEOUT:-10}))
    until dbus-send --session --print-reply --dest=org.freedesktop.DBus \
            /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
            string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; do
        if ! kill -0 "$gkd_pid" 2>/dev/null; then
            echo "with-secret-service: gnome-keyring-daemon exited early; its log:" >&2
            cat "$log" >&2 || true
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            echo "with-secret-service: org.freedesktop.secrets got no owner within ${SECRET_SERVICE_TIMEOUT:-10}s; daemon log:" >&2
            cat "$log" >&2 || true
            exit 1
        fi
        sleep 0.05
    done

    # Run CMD (not exec: the EXIT trap must still kill the daemon).
    set +e
    "$@"
    rc=$?
    set -e
    exit "$rc"
fi

# ---- outside: set up private dirs, start a private bus, re-enter ------------
if (($# == 0)); then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "with-secret-service: '$tool' not found (apt-get install dbus-daemon dbus-bin gnome-keyring)" >&2
        exit 127
    fi
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/credvault-ss.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/run" "$tmp/data" "$tmp/config" "$tmp/cache"

unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
export XDG_RUNTIME_DIR="$tmp/run" XDG_DATA_HOME="$tmp/data" \
    XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"

# Not exec: the EXIT trap removes $tmp afterwards.
set +e
dbus-run-session -- bash "${BASH_SOURCE[0]}" __credvault_inner__ "$@"
rc=$?
set -e
exit "$rc"
