#!/usr/bin/env bash
# Installs Debian's mpd (Music Player Daemon) for the test that sends a playlist to a
# real player (crates/cli/tests/mpd.rs). Idempotent; needs root (or sudo) and apt.
#
# The test starts its own mpd (`mpd --no-daemon CONFIG`, loopback, a free port, a null
# audio output), so the package's system service is not wanted: while installing, a
# policy-rc.d that answers 101 ("action forbidden") keeps invoke-rc.d and
# deb-systemd-invoke from starting it. An mpd already installed is left as it is.
set -euo pipefail

if [ -x /usr/bin/mpd ]; then
    echo "mpd already installed: $(/usr/bin/mpd --version 2>/dev/null | head -n 1 || true)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

POLICY=/usr/sbin/policy-rc.d
placed_policy=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# Placed by moodtune scripts/setup-test-mpd.sh while installing mpd.\nexit 101\n' \
        | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    placed_policy=1
fi
cleanup() {
    if [ "$placed_policy" = 1 ]; then
        $SUDO rm -f "$POLICY"
    fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends mpd
/usr/bin/mpd --version | head -n 1
