#!/usr/bin/env bash
# Set up rppgbench for development on a fresh machine: the right PyTorch build, then the package.
#
# PyTorch: with an NVIDIA GPU (nvidia-smi present) the default CUDA build from the package index;
# without one, the CPU build: a local wheel when pip can find one (its find-links or a local index),
# else PyTorch's CPU index when it answers within a few seconds. An unreachable index is reported at
# once, never waited on. TORCH_SPEC chooses another build, TORCH_CPU_INDEX another CPU index,
# PYTHON another interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
say() { echo "setup: $*"; }

reachable() {  # does URL answer within 5 seconds?
  "$PY" - "$1" <<'PY'
import sys
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1], timeout=5).close()
except Exception as exc:  # unreachable, refused, DNS failure, HTTP error
    print(f"setup: {sys.argv[1]} did not answer: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

local_torch() {  # a wheel pip finds without any index (its find-links), copied into folder $1
  "$PY" -m pip download --quiet --no-deps --no-index --dest "$1" "$TORCH_SPEC" >/dev/null 2>&1
}

install_torch() {
  if "$PY" -c "import torch" 2>/dev/null; then
    say "keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
    return
  fi
  if command -v nvidia-smi >/dev/null 2>&1; then
    say "NVIDIA GPU found: installing $TORCH_SPEC (CUDA build) from the package index"
    "$PY" -m pip install "$TORCH_SPEC"
    return
  fi
  wheels=$(mktemp -d)
  if local_torch "$wheels" && ls "$wheels"/torch-*.whl >/dev/null 2>&1; then
    say "installing the local wheel $(basename "$wheels"/torch-*.whl) (CPU, no download)"
    "$PY" -m pip install "$wheels"/torch-*.whl
  elif reachable "$TORCH_CPU_INDEX/"; then
    say "no local PyTorch wheel: installing the CPU build of $TORCH_SPEC from $TORCH_CPU_INDEX"
    "$PY" -m pip install --retries 1 --timeout 30 "$TORCH_SPEC" --index-url "$TORCH_CPU_INDEX"
  else
    say "no local wheel of $TORCH_SPEC and $TORCH_CPU_INDEX cannot be reached." >&2
    say "install PyTorch yourself (e.g. pip install $TORCH_SPEC, or put a wheel in pip's find-links)," >&2
    say "then run this script again; or set TORCH_CPU_INDEX to a reachable index." >&2
    rm -rf "$wheels"
    exit 1
  fi
  rm -rf "$wheels"
}

install_torch
"$PY" -m pip install -e ".[dev]"
