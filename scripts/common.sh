# Shared by the scripts that produce committed results (sourced, not run): the clean-checkout guard,
# a timer, and the copy of a finished run folder into leaderboards/.

require_clean_checkout() {  # require_clean_checkout WHO: refuse to run on uncommitted code
  if [ -n "$(git status --porcelain --untracked-files=no -- rppgbench plugins protocols scripts)" ]; then
    echo "$1: commit your changes first: results must come from a clean checkout" >&2
    exit 1
  fi
}

timed() {  # timed LABEL COMMAND...: run it and say how long it took
  local label=$1 start=$SECONDS
  shift
  echo "${WHO:-run}: $label started $(date -u +%H:%M:%S)"
  "$@"
  echo "${WHO:-run}: $label took $((SECONDS - start)) s"
}

publish_run() {  # publish_run FROM TO: copy a finished run folder without weights and checkpoints
  local from=$1 to=$2 dest
  rm -rf "${to:?}"
  mkdir -p "$to"
  dest=$(cd "$to" && pwd)
  (cd "$from" && find . -type f ! -name '*.pt' ! -path '*/checkpoints/*' -print0 |
    xargs -0 -I{} cp --parents {} "$dest/")
}
