"""The training clips of one fold of a protocol, through the core's `prepare_fold` (for search and ablation)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rppgbench.data import Clip


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

    `out` (the caller's output folder) and `seed` are accepted for compatibility; the clips depend on neither.
    """
    from rppgbench.preparation import prepare_fold

    prepared = prepare_fold(
        protocol, str(fold), data_roots, split_file=split_file, cache_root=cache_root, workers=workers,
        progress=progress,
    )  # fmt: skip
    clips = prepared.training_clips()
    info = {"protocol": prepared.protocol, "fold": prepared.name, "n_train_videos": len(clips),
            "failed": prepared.failed_training()}  # fmt: skip
    return clips, info
