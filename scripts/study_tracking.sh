#!/usr/bin/env bash
# The face-tracking study: do the synth-5fold errors under head motion come from the face moving
# inside a fixed crop? The same methods, videos, folds and test clips as the synth-5fold leaderboard,
# on `synth-5fold-tracked`, whose crop follows the true face box on every frame (an ideal tracker),
# then paired per-scenario differences against the synth-5fold rows (the fixed first-frame box).
#
#   bash scripts/study_tracking.sh      # about 40 min on a 2-core CPU; resumable; then publishes
#
# Like the synth-5fold leaderboard, runs must come from a clean checkout (provenance not dirty).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh
WHO=study
require_clean_checkout study
export TQDM_DISABLE=${TQDM_DISABLE:-1}
PROTOCOL=synth-5fold-tracked
FIXED=leaderboards/results/synth-5fold
WORK=build/tracking
RESULTS=leaderboards/results/$PROTOCOL
CLASSICAL=(green chrom pos)
NEURAL=(physnet deepphys)  # at their cpu recipes, as in the synth-5fold rows
mkdir -p "$WORK" "$RESULTS"
for method in "${CLASSICAL[@]}"; do
  timed "$method" rppgbench run --method "$method" --protocol "$PROTOCOL" --out "$WORK/$method" --quiet
done
for method in "${NEURAL[@]}"; do
  timed "$method" rppgbench run --method "$method" --protocol "$PROTOCOL" --recipe cpu --out "$WORK/$method" --quiet
done
pairs=()
rm -rf "$WORK/paired" && mkdir -p "$WORK/paired"
for method in "${CLASSICAL[@]}" "${NEURAL[@]}"; do
  publish_run "$WORK/$method" "$RESULTS/$method"
  ln -s "$PWD/$FIXED/$method" "$WORK/paired/${method}_fixed"
  ln -s "$PWD/$RESULTS/$method" "$WORK/paired/${method}_tracked"
  pairs+=("${method}_tracked-${method}_fixed")
done
for method in "${NEURAL[@]}"; do pairs+=("${method}_tracked-pos_tracked"); done
{
  echo "# synth-5fold-tracked: the crop follows the face"
  echo
  echo "Written by \`scripts/study_tracking.sh\` (runs in \`$RESULTS/\`). The videos, folds and test clips of"
  echo "synth-5fold; the crop box is moved to the true face box on every frame instead of staying at the"
  echo "first frame's. Neural rows at their \`cpu\` recipes. Paired differences against the synth-5fold rows:"
  echo "\`leaderboards/synth-5fold-tracked-scenario-ci.md\`."
  echo
  rppgbench compare "$RESULTS"/* --by scenario
} > "leaderboards/$PROTOCOL.md"
(IFS=,; python3 benchmarks/scenario_intervals.py "$WORK/paired"/* --pairs "${pairs[*]}" \
  --out "leaderboards/$PROTOCOL-scenario-ci.md" > /dev/null)
echo "study: wrote leaderboards/$PROTOCOL.md and leaderboards/$PROTOCOL-scenario-ci.md"
