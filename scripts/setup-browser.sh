#!/usr/bin/env bash
# Installs Debian's headless Chromium for the browser test of `moodtune serve`
# (crates/cli/tests/browser.rs). Idempotent; needs root (or sudo) and apt.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wenquanyi"; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || true)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# fonts-liberation gives the screenshots readable text and fonts-wqy-zenhei (7 MB) the
# Chinese song titles of the demo library; no recommends keeps it small.
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation fonts-wqy-zenhei
chromium --version
