#!/usr/bin/env bash
# The GPU measurements in one command, sized for at most ~8 minutes on one H100/H200:
#  - PhysNet training clips/s at the paper size (3x160x112x112) with batches read from the real
#    clip cache (HDF5 clips written by the preprocessing cache's writer), fp32 vs bf16 +
#    channels_last_3d, batch 4 and 16, and peak GPU memory (target: 140 clips/s at batch 4 on an H100);
#  - one AutoHR PC-DARTS bi-level search step at the paper size (3x128x112x112, 8 channels, batch 2),
#    its peak memory, and the full search cost extrapolated to 12 epochs of VIPL-HR fold 1 against the
#    paper's ten P100-days (target: at most 2 H100-hours).
# Figures are printed and written as JSON (and the text tables) into benchmarks/results/gpu/.
#
#   bash benchmarks/gpu_suite.sh             # on the GPU machine
#   bash benchmarks/gpu_suite.sh --dry-run   # the same steps at toy sizes on the CPU (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ "${1:-}" = "--dry-run" ]; then
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
  physnet=(--quick --device cpu --precisions fp32 --steps 1 --warmup 1)
  search=(--device cpu --frames 16 --size 16 --channels 2 --batch 1 --steps 1 --warmup 1 --threads 1)
else
  OUT=${GPU_SUITE_OUT:-benchmarks/results/gpu}
  physnet=(--frames 160 --size 112 --batches 4,16 --precisions fp32,bf16+cl3d --steps 20 --warmup 5
           --workers 8 --clips 16)
  search=(--device cuda --frames 128 --size 112 --channels 8 --batch 2 --steps 5 --warmup 2)
fi
mkdir -p "$OUT"
start=$SECONDS
{ command -v nvidia-smi >/dev/null && nvidia-smi; "$PY" -c "import torch; print('torch', torch.__version__)"; } \
  > "$OUT/machine.txt" 2>&1 || true
echo "gpu suite: PhysNet training and inference throughput"
"$PY" benchmarks/bench_physnet.py "${physnet[@]}" --json "$OUT/physnet.json" | tee "$OUT/physnet.txt"
echo "gpu suite: AutoHR search step and search-cost estimate"
"$PY" benchmarks/bench_autohr_search.py "${search[@]}" --json "$OUT/autohr_search.json" | tee "$OUT/autohr_search.txt"
"$PY" - "$OUT" "$((SECONDS - start))" <<'PY'
import json, sys
from pathlib import Path

out, seconds = Path(sys.argv[1]), int(sys.argv[2])
summary = {"seconds": seconds}
for name in ("physnet", "autohr_search"):
    summary[name] = json.loads((out / f"{name}.json").read_text())
(out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
print(f"gpu suite: done in {seconds} s; JSON in {out}")
PY
