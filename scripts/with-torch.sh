#!/usr/bin/env bash
# Runs a command with the environment tch needs to build and run against the torch
# wheel installed by scripts/setup-torch.sh, e.g.
#   scripts/with-torch.sh cargo run --release --features train -- fer train --arch slimvgg
set -euo pipefail
VENV="${MOODTUNE_VENV:-$HOME/.cache/moodtune/venv}"
[ -x "$VENV/bin/python" ] || { echo "no torch environment: run scripts/setup-torch.sh first" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
TORCH_LIB="$("$VENV/bin/python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$@"
