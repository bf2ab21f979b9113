#!/usr/bin/env bash
# The video-coding study on synthetic faces: POS, CHROM and every shipped set of weights (trained on
# other identities, with H.264 at 0.5 and 0.15 bits per pixel among their clips) on `synth-h264`,
# lossless and at four H.264 bitrates, then the table by scenario (= bitrate) in leaderboards/synth-h264.md.
#
#   bash scripts/study_h264.sh          # runs (resumable) into build/h264/, then publishes
#
# Like the synth-5fold leaderboard, runs must come from a clean checkout (provenance not dirty).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh
require_clean_checkout study
export TQDM_DISABLE=${TQDM_DISABLE:-1}
PROTOCOL=synth-h264
WORK=build/h264
RESULTS=leaderboards/results/$PROTOCOL
mkdir -p "$WORK" "$RESULTS"
for method in pos chrom; do
  rppgbench run --method "$method" --protocol "$PROTOCOL" --out "$WORK/$method" --quiet
done
# every method with shipped weights, as the installed package lists them
mapfile -t SHIPPED < <(python3 -c 'from rppgbench.weights import list_weights; print(*sorted({w.method for w in list_weights()}), sep="\n")')
for method in "${SHIPPED[@]}"; do
  rppgbench run --method "$method" --protocol "$PROTOCOL" --recipe pretrained --out "$WORK/$method-pretrained" --quiet
done
for name in pos chrom "${SHIPPED[@]/%/-pretrained}"; do
  publish_run "$WORK/$name" "$RESULTS/$name"
done
{
  echo "# synth-h264: heart rate from H.264-coded faces"
  echo
  echo "Written by \`scripts/study_h264.sh\` (runs in \`$RESULTS/\`). Scenario = storage: lossless"
  echo "(stationary) or H.264 at 2 (high), 0.5 (mid), 0.15 (low) and 0.05 (min) bits per pixel per frame."
  echo "The neural rows: the shipped weights (\`--recipe pretrained\`), trained on other identities, with"
  echo "H.264 at 0.5 and 0.15 bits per pixel among their training clips."
  echo
  rppgbench compare "$RESULTS"/* --by scenario
} > leaderboards/synth-h264.md
echo "study: wrote leaderboards/synth-h264.md"
