#!/usr/bin/env bash
# Set up rppgbench for development on a fresh machine: the right PyTorch build, then the package.
#
# PyTorch: with an NVIDIA GPU (nvidia-smi present) the default CUDA build from PyPI; without one, the
# CPU build (a local wheel if pip's find-links has one, else PyTorch's CPU index), which avoids
# several GB of CUDA packages. Set TORCH_SPEC to choose another build, PYTHON for another interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

if "$PY" -c "import torch" 2>/dev/null; then
  echo "setup: keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
elif command -v nvidia-smi >/dev/null 2>&1; then
  "$PY" -m pip install "$TORCH_SPEC"
elif ! "$PY" -m pip install --no-index "$TORCH_SPEC" 2>/dev/null; then
  "$PY" -m pip install "$TORCH_SPEC" --index-url https://download.pytorch.org/whl/cpu
fi
"$PY" -m pip install -e ".[dev]"
