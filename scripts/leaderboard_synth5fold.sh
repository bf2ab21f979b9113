#!/usr/bin/env bash
# Regenerate every row of the synth-5fold leaderboard from a clean checkout: the classical methods,
# AutoHR's architecture search on fold 1 at the cpu recipe, the neural methods at their cpu recipes
# (AutoHR with that searched genotype), the loss and theta ablations, and the tables.
#
#   bash scripts/leaderboard_synth5fold.sh            # everything (several hours on a 2-core CPU)
#   bash scripts/leaderboard_synth5fold.sh classical  # one step: classical, search, physnet, deepphys,
#                                                     # tscan, efficientphys, physformer, autohr,
#                                                     # rhythmformer, factorizephys, rhythmnet,
#                                                     # synrhythm, hrcnn, i3d, rppgnet,
#                                                     # ablate-loss, ablate-theta, publish
#
# Runs are written under build/leaderboard/ (ignored by git, so the checkout stays clean while they
# run and every run.json records a commit that is not dirty); `publish` then copies them into
# leaderboards/ without weights and training checkpoints and regenerates the tables. Re-running a
# step resumes it: finished folds are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh
WHO=leaderboard
require_clean_checkout leaderboard
export TQDM_DISABLE=${TQDM_DISABLE:-1}
PROTOCOL=synth-5fold
WORK=build/leaderboard
RESULTS=leaderboards/results/$PROTOCOL
GENOTYPE_DIR=leaderboards/genotypes/$PROTOCOL-fold1-cpu
ABLATIONS=leaderboards/ablations/$PROTOCOL-fold1-cpu
CLASSICAL=(green ica pca chrom pos lgi pbv omit ssr li2014 samc)
mkdir -p "$WORK" "$RESULTS"

run_method() {  # run_method NAME [rppgbench run options...]
  local name=$1
  shift
  timed "$name" rppgbench run --method "$name" --protocol "$PROTOCOL" --out "$WORK/$name" --quiet "$@"
}

step_classical() { for m in "${CLASSICAL[@]}"; do run_method "$m"; done; }

step_search() {
  timed search rppgbench search --protocol "$PROTOCOL" --fold 1 --recipe cpu --out "$WORK/search" --quiet
}

step_physnet() { run_method physnet --recipe cpu; }
step_physformer() { run_method physformer --recipe cpu; }
step_deepphys() { run_method deepphys --recipe cpu; }
step_tscan() { run_method tscan --recipe cpu; }
step_efficientphys() { run_method efficientphys --recipe cpu; }
step_rhythmformer() { run_method rhythmformer --recipe cpu; }
step_factorizephys() { run_method factorizephys --recipe cpu; }
step_rhythmnet() { run_method rhythmnet --recipe cpu; }
step_synrhythm() { run_method synrhythm --recipe cpu; }
step_hrcnn() { run_method hrcnn --recipe cpu; }
step_i3d() { run_method i3d --recipe cpu; }
step_rppgnet() { run_method rppgnet --recipe cpu; }
step_autohr() {  # the genotype of this checkout's search step, else the committed one
  local genotype=$WORK/search/genotype.json
  [ -f "$genotype" ] || genotype=$GENOTYPE_DIR/genotype.json
  run_method autohr --recipe cpu --set "genotype=$genotype"
}

step_ablate() {  # step_ablate STUDY
  timed "ablate $1" rppgbench ablate --protocol "$PROTOCOL" --fold 1 --study "$1" --recipe cpu \
    --out "$WORK/ablate" --quiet
}

step_publish() {
  for name in "${CLASSICAL[@]}" physnet deepphys tscan efficientphys physformer autohr rhythmformer factorizephys \
    rhythmnet synrhythm hrcnn i3d rppgnet; do
    [ -f "$WORK/$name/metrics.json" ] && publish_run "$WORK/$name" "$RESULTS/$name"
  done
  if [ -f "$WORK/search/genotype.json" ]; then
    mkdir -p "$GENOTYPE_DIR"
    cp "$WORK/search/"{genotype.json,genotype.png,history.json,search_config.json} "$GENOTYPE_DIR/"
  fi
  for study in loss theta; do
    if [ -f "$WORK/ablate/ablation_$study.md" ]; then
      mkdir -p "$ABLATIONS"
      cp "$WORK/ablate/ablation_$study".{md,csv,png} "$ABLATIONS/"
      cp "$WORK/ablate/ablation_$study.png" "docs/img/autohr-ablation-$study-$PROTOCOL-cpu.png"
    fi
  done
  local runs=("$RESULTS"/*)
  rppgbench compare "${runs[@]}" > "leaderboards/$PROTOCOL.md"
  rppgbench compare "${runs[@]}" --by scenario > "leaderboards/$PROTOCOL-by-scenario.md"
  rppgbench compare "${runs[@]}" --by scenario --stats > "leaderboards/$PROTOCOL-stats.md"
  rppgbench compare "${runs[@]}" --metrics vitals,sdnn_r,rmssd_r,resp_rate_r > "leaderboards/$PROTOCOL-vitals.md"
  local ci_runs=("$RESULTS"/{pos,chrom,physnet,deepphys,autohr})
  local pairs=autohr-physnet,autohr-pos,autohr-chrom,physnet-pos,physnet-chrom,deepphys-pos
  for name in tscan efficientphys physformer rhythmformer factorizephys rhythmnet synrhythm hrcnn i3d rppgnet; do  # newer neural rows, when published
    if [ -d "$RESULTS/$name" ]; then ci_runs+=("$RESULTS/$name"); pairs+=",$name-pos"; fi
  done
  python3 benchmarks/scenario_intervals.py "${ci_runs[@]}" --pairs "$pairs" \
    --out "leaderboards/$PROTOCOL-scenario-ci.md" > /dev/null
  python3 benchmarks/constant_hr_baseline.py "$RESULTS/pos" > "benchmarks/results/constant-hr-$PROTOCOL.txt"
  python3 benchmarks/run_durations.py "${runs[@]}" > "benchmarks/results/leaderboard-durations-$PROTOCOL.txt"
  echo "leaderboard: tables written: leaderboards/$PROTOCOL.md, -by-scenario.md, -stats.md, -vitals.md, -scenario-ci.md"
}

case "${1:-all}" in
  all)
    step_classical; step_search; step_physnet; step_deepphys; step_tscan; step_efficientphys
    step_physformer; step_autohr; step_rhythmformer; step_factorizephys; step_rhythmnet; step_synrhythm
    step_hrcnn; step_i3d; step_rppgnet; step_ablate loss; step_ablate theta; step_publish ;;
  classical|search|physnet|deepphys|tscan|efficientphys|physformer|autohr|rhythmformer|factorizephys|rhythmnet|synrhythm|hrcnn|i3d|rppgnet|publish)
    "step_$1" ;;
  ablate-loss) step_ablate loss ;;
  ablate-theta) step_ablate theta ;;
  *) echo "leaderboard: unknown step $1" >&2; exit 2 ;;
esac
