#!/usr/bin/env bash
# Installs the libtorch that the training engine (tch 0.26) links against: the PyPI
# torch 2.13.0 wheel, in a virtual environment under ~/.cache/moodtune/venv. Also used by
# the PyTorch reference benchmark. Idempotent.
set -euo pipefail
VENV="${MOODTUNE_VENV:-$HOME/.cache/moodtune/venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import torch, safetensors, numpy; assert torch.__version__.startswith("2.13.0")' 2>/dev/null; then
  "$VENV/bin/pip" install --quiet 'torch==2.13.0' numpy safetensors
fi
echo "torch ready in $VENV"
