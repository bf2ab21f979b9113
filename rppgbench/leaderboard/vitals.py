"""HRV and respiration metrics of runs, computed from their stored signals when a table asks for them.

A run's folds keep every scored video's rPPG signal per window (the signals file that `rescore`
reads), so vitals need no new run: `compare --metrics sdnn_mae,resp_rate_mae` estimates them from
those signals (`rppgbench.vitals`) with the run's recorded HR settings and its protocol's `[vitals]`
settings. References come from the run's dataset when its loader knows more than the waveform
(`DatasetLoader.vitals_reference`: the synthetic clips' true beats and breathing rate), otherwise
from the stored reference waveform (ECG R peaks or contact-PPG peaks; no respiration reference).
Nothing is written into the run folder: published results stay as they are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from rppgbench.errors import RppgbenchError
from rppgbench.leaderboard.results import RunResult
from rppgbench.metrics import VITAL_METRIC_NAMES, vital_metrics
from rppgbench.vitals import VITALS, VitalsConfig, VitalsReference, beats_from_reference, video_vitals

GROUPS = {"hrv": ("sdnn", "rmssd", "pnn50", "lf_hf"), "resp": ("resp_rate",)}
"""`--metrics` words that stand for several vital metrics (their MAE); `vitals`: the protocol's measures."""


def vitals_config(run: RunResult) -> VitalsConfig:
    """The run's protocol `[vitals]` settings (defaults when the protocol has none)."""
    return VitalsConfig.from_dict(run.protocol_definition.get("vitals"))


def expand_metrics(metrics: Iterable[str], protocol_definition: dict[str, Any] | None) -> list[str]:
    """`vitals` -> MAE of each of the protocol's vitals; `hrv`, `resp` -> their MAEs; others kept."""
    out: list[str] = []
    for metric in metrics:
        if metric == "vitals":
            measures = VitalsConfig.from_dict((protocol_definition or {}).get("vitals")).measures
            out += [f"{m}_mae" for m in measures]
        elif metric in GROUPS:
            out += [f"{m}_mae" for m in GROUPS[metric]]
        else:
            out.append(metric)
    return list(dict.fromkeys(out))


def wants_vitals(metrics: Iterable[str]) -> bool:
    """True when any of `metrics` is a vital metric."""
    return any(m in VITAL_METRIC_NAMES for m in metrics)


@lru_cache(maxsize=8)
def _dataset_references(described: str) -> Callable[[str], VitalsReference | None]:
    """video id -> the dataset's VitalsReference (None: not known) for one recorded dataset."""
    from rppgbench.dataset import DatasetLoader
    from rppgbench.plugins import registry

    desc = json.loads(described)
    try:
        cls = registry().dataset(desc["name"])
        if cls.vitals_reference is DatasetLoader.vitals_reference:
            return lambda _id: None
        loader = cls(Path(desc["root"]) if desc.get("root") else None, **(desc.get("options") or {}))
        records = {record.id: record for record in loader.records()}
    except (RppgbenchError, OSError, KeyError, TypeError):
        return lambda _id: None
    return lambda video_id: loader.vitals_reference(records[video_id]) if video_id in records else None


def _reference_for(run: RunResult) -> Callable[[str], VitalsReference | None]:
    lookups = [_dataset_references(json.dumps(desc, sort_keys=True, default=str))
               for desc in (run.run.get("config", {}).get("datasets") or {}).values()]  # fmt: skip

    def find(video_id: str) -> VitalsReference | None:
        for lookup in lookups:
            found = lookup(video_id)
            if found is not None:
                return found
        return None

    return find


def run_vitals(run: RunResult) -> pd.DataFrame:
    """Per scored video of `run`: `video_id`, `pred_<vital>` and `ref_<vital>` (cached on the run)."""
    if "vitals" in run.extra:
        return run.extra["vitals"]
    from rppgbench.signal.hr import HRConfig
    from rppgbench.store import RunStore

    config = vitals_config(run)
    hr = HRConfig.from_dict(run.run.get("config", {}).get("hr") or {})
    dataset_reference = _reference_for(run)
    scored = set(run.ok["video_id"]) if "video_id" in run.ok else set()
    rows = []
    for fold in RunStore(run.path).fold_stores():
        if not fold.finished():
            continue
        try:
            videos = fold.read_signals()
        except RppgbenchError:
            continue
        for video in videos:
            if video.video_id not in scored:
                continue
            reference = dataset_reference(video.video_id)
            if reference is None:
                reference = (
                    beats_from_reference(video.reference, hr) if video.reference else VitalsReference()
                )
            try:
                pred, ref = video_vitals(video.signals, video.times, reference, config, hr)
            except (RppgbenchError, ValueError):
                pred = ref = {}
            rows.append({"video_id": video.video_id,
                         **{f"pred_{v}": pred.get(v, math.nan) for v in VITALS},
                         **{f"ref_{v}": ref.get(v, math.nan) for v in VITALS}})  # fmt: skip
    columns = ["video_id", *(f"pred_{v}" for v in VITALS), *(f"ref_{v}" for v in VITALS)]
    table = pd.DataFrame(rows, columns=columns)
    run.extra["vitals"] = table
    return table


def vitals_metrics(run: RunResult, video_ids: Iterable[str] | None = None) -> dict[str, float]:
    """Every vital metric (`<vital>_mae`, `_rmse`, `_r`, `_n`) of `run`, over `video_ids` (default all)."""
    table = run_vitals(run)
    if video_ids is not None:
        table = table[table["video_id"].isin(set(video_ids))]
    pred = {v: table[f"pred_{v}"].to_numpy(float) for v in VITALS}
    ref = {v: table[f"ref_{v}"].to_numpy(float) for v in VITALS}
    return vital_metrics(pred, ref)
