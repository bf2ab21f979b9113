"""The training clips of one fold of a protocol, prepared through the runner (for search and ablation)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rppgbench.data import Clip
from rppgbench.errors import RppgbenchError


def fold_training_clips(
    protocol: str | Path,
    fold: str,
    out: Path,
    data_roots: Mapping[str, Path],
    *,
    cache_root: Path | None = None,
    workers: int = 1,
    split_file: Path | None = None,
    progress: bool = True,
    seed: int = 0,
) -> tuple[list[Clip], dict[str, Any]]:
    """Preprocess (or reuse from the cache) and load the training videos of `fold`; also return provenance.

    `out` is the folder the caller writes to (the runner refuses one holding a different run).
    """
    from rppgbench.preprocess import PreprocessConfig, load_clip, prepare
    from rppgbench.runner import RunOptions, plan_run

    options = RunOptions(
        method="autohr", protocol=protocol, data_roots=dict(data_roots), seed=seed, workers=workers,
        cache_root=cache_root, folds=[str(fold)], split_file=split_file, progress=progress,
        out=Path(out),
    )  # fmt: skip
    plan = plan_run(options)
    (chosen,) = plan.folds
    config = PreprocessConfig.from_dict(plan.protocol.preprocess)
    wanted = {r.id for r in chosen.train}
    prepared: dict[str, Any] = {}
    for role, loader in plan.loaders.items():  # each record is prepared by the loader of its dataset role
        records = [r for r in plan.records[role] if r.id in wanted and r.id not in prepared]
        if records:
            prepared |= prepare(loader, records, config, cache_root, workers, progress)
    ok = [r for r in chosen.train if prepared.get(r.id) is not None and prepared[r.id].ok]
    failed = {
        r.id: getattr(prepared.get(r.id), "error", "not preprocessed") for r in chosen.train if r not in ok
    }
    if not ok:
        raise RppgbenchError(f"fold {fold}: no usable training video (all {len(chosen.train)} failed)")
    clips = [load_clip(prepared[r.id].path, r) for r in ok]
    info = {"protocol": plan.protocol.name, "fold": chosen.name, "n_train_videos": len(ok), "failed": failed}
    return clips, info
