#!/usr/bin/env bash
# Run a command with NO D-Bus session bus reachable (and no display), in
# private, empty XDG dirs: any Secret Service client fails fast, so the
# "no OS keychain" fallback paths are exercised.
#
#   scripts/without-dbus.sh CMD [ARGS...]
#
# HOME is kept (cargo/rustup need it). Temp dirs are removed on exit.
set -euo pipefail

if (($# == 0)); then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/credvault-nodbus.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/run" "$tmp/data" "$tmp/config" "$tmp/cache"

# zbus/libdbus fall back to $XDG_RUNTIME_DIR/bus when DBUS_SESSION_BUS_ADDRESS
# is unset; that path does not exist here. Without DISPLAY there is no X11
# autolaunch either.
unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
export XDG_RUNTIME_DIR="$tmp/run" XDG_DATA_HOME="$tmp/data" \
    XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"

set +e
"$@"
rc=$?
set -e
exit "$rc"
