#!/usr/bin/env bash
# Installs Debian's ffmpeg for the tag-writing tests (crates/library/tests/tags.rs): they
# convert a synthesised WAV into FLAC, Ogg Vorbis and M4A (AAC) fixtures, which cannot be
# encoded in pure Rust. Tests only: moodtune itself reads and writes tags with lofty and
# never runs ffmpeg. Idempotent; needs root (or sudo) and apt.
set -euo pipefail

if command -v ffmpeg >/dev/null 2>&1; then
    echo "ffmpeg already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends ffmpeg
