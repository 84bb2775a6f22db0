#!/usr/bin/env bash
# Installs Debian's hyperrogue-music: real recorded Ogg Vorbis music for the audio
# analysis tests (crates/audio/tests/files.rs). Idempotent; needs root (or sudo) and apt.
set -euo pipefail

if [ -d /usr/share/hyperrogue/music ]; then
    echo "hyperrogue-music already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends hyperrogue-music
