#!/usr/bin/env bash
# Train the shipped weights of DeepPhys and PhysNet from a clean checkout, on the embedded synthetic
# data only, and write them with their model cards and `pretrained` recipes into the package:
#
#   bash scripts/train_release_weights.sh          # about 30 min on a 2-core CPU shared with other jobs
#
# 1. `rppgbench run --recipe cpu --protocol synth-release --fold 1` per method: the run harness's one
#    training loop, on 9 identities of synth-scenarios at seed 1 (all seven scenarios: stationary,
#    talking, motion, dim, illumination, distance, compression), with the harness's own subject-disjoint
#    validation split selecting the epoch, then a test on the 3 held-out identities (fold 1's test).
#    POS runs on the same held-out videos as a reference.
# 2. `python -m rppgbench.release write`: the fold's model.pt, byte for byte, becomes
#    plugins/neural/weights/METHOD-synth-v1.pt beside its model card (METHOD-synth-v1.toml: recipe,
#    data and identities, commit, machine, training time, the held-out metrics per scenario), and
#    plugins/neural/recipes/METHOD-pretrained.toml names it.
# 3. `rppgbench run --recipe pretrained --protocol synth-5fold`: the shipped files, loaded as users get
#    them, on synth-5fold (seed 0: 20 further identities the weights never saw); POS on the same videos;
#    `python -m rppgbench.release evaluate` adds both to the card.
#
# AutoHR is not shipped: at its cpu recipe it does not learn (docs/neural-cpu.md). Runs are written
# under build/release/ (ignored by git); re-running resumes finished folds.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "$(git status --porcelain --untracked-files=no -- rppgbench plugins protocols scripts)" ]; then
  echo "release: commit your changes first: shipped weights must come from a clean checkout" >&2
  exit 1
fi
export TQDM_DISABLE=${TQDM_DISABLE:-1}
PYTHON=${PYTHON:-python3}
PROTOCOL=synth-release
FOLD=1
WORK=build/release
WEIGHTS=plugins/neural/weights
RECIPES=plugins/neural/recipes
VERSION=v1
METHODS=(deepphys physnet)
LIMITS=(
  "Never saw a real face: trained and selected on rendered synthetic faces only. Accuracy on real video is not measured in this card."
  "Does not follow large head motion or talking: see the motion and talking rows of the evaluations (at the cpu recipes the neural methods fit the training clips of these scenarios without generalising; docs/neural-cpu.md)."
  "The held-out set of synth-release is small (3 identities per scenario); the synth-5fold evaluation (20 per scenario, other identities, no talking, distance or compression clips) is the firmer measurement, and errors differ between the two."
  "Trained on crops of the synthetic face-oval box (forehead to chin) enlarged 1.6x; rppgbench predict crops a BlazeFace box (brows to chin) enlarged 1.6x, which frames a real face a little tighter."
  "Sized for a 2-core CPU (the cpu recipe): small input crops and short windows, trained at 30 fps; other frame rates are untested."
  "Synthetic heart rates span 45-150 bpm; outside that range the weights are untested."
  "Synthetic identities only: drawn faces and variants of one photograph, skin tones Fitzpatrick I-VI; no glasses, beards, make-up or real skin texture."
)

timed() {  # timed LABEL COMMAND...: run it and say how long it took
  local label=$1 start=$SECONDS
  shift
  echo "release: $label started $(date -u +%H:%M:%S)"
  "$@"
  echo "release: $label took $((SECONDS - start)) s"
}

mkdir -p "$WORK"
for method in "${METHODS[@]}"; do
  timed "train $method" rppgbench run --method "$method" --recipe cpu --protocol "$PROTOCOL" --fold "$FOLD" \
    --out "$WORK/$method" --quiet
done
timed "pos on the held-out videos" rppgbench run --method pos --protocol "$PROTOCOL" --fold "$FOLD" \
  --out "$WORK/pos" --quiet
timed "pos on synth-5fold" rppgbench run --method pos --protocol synth-5fold --out "$WORK/pos-synth-5fold" --quiet

limit_args=()
for limit in "${LIMITS[@]}"; do limit_args+=(--limit "$limit"); done
for method in "${METHODS[@]}"; do
  "$PYTHON" -m rppgbench.release write "$WORK/$method" --name "$method-synth-$VERSION" \
    --weights-dir "$WEIGHTS" --recipes-dir "$RECIPES" --reference "$WORK/pos" \
    --command "bash scripts/train_release_weights.sh" "${limit_args[@]}"
done
for method in "${METHODS[@]}"; do
  timed "$method pretrained on synth-5fold" rppgbench run --method "$method" --recipe pretrained \
    --protocol synth-5fold --out "$WORK/$method-pretrained-synth-5fold" --quiet --overwrite
  "$PYTHON" -m rppgbench.release evaluate "$WEIGHTS/$method-synth-$VERSION.toml" \
    "$WORK/$method-pretrained-synth-5fold" --name "synth-5fold" \
    --description "all 80 videos of synth-5fold (synth-default, seed 0): 20 identities the weights never saw, evaluated with --recipe pretrained" \
    --reference "$WORK/pos-synth-5fold"
done
pretrained=()
for method in "${METHODS[@]}"; do pretrained+=("$WORK/$method-pretrained-synth-5fold"); done
{
  echo "# Shipped weights: their held-out measurements"
  echo
  echo "Written by \`scripts/train_release_weights.sh\` (the model cards in \`plugins/neural/weights/\` hold the"
  echo "same numbers). First the runs that trained the weights, on the held-out identities of \`synth-release\`"
  echo "fold 1; then the shipped files evaluated with \`--recipe pretrained\` on all of \`synth-5fold\`, whose"
  echo "identities they never saw. POS on the same videos in both."
  echo
  rppgbench compare "$WORK/pos" "${METHODS[@]/#/$WORK/}" --by scenario
  echo
  rppgbench compare "$WORK/pos-synth-5fold" "${pretrained[@]}" --by scenario
} > leaderboards/shipped-weights.md
rppgbench list weights
echo "release: weights, cards and recipes written to $WEIGHTS and $RECIPES, tables to leaderboards/shipped-weights.md"
