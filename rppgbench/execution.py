"""Execution of one fold: train on its training clips (if the method trains), score its test videos.

`run_fold` is the job an executor runs for a fold. It writes the fold's files through its
`FoldStore`; a video that fails is recorded with its reason and the fold goes on.
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from rppgbench.aggregation import summarise
from rppgbench.data import Record
from rppgbench.errors import ConfigError, RppgbenchError
from rppgbench.evaluation import evaluate_video
from rppgbench.method import FitContext, Method
from rppgbench.preparation import PreparedFold
from rppgbench.protocol import Protocol
from rppgbench.signal.hr import HRConfig
from rppgbench.signals import VideoSignals, window_rows

if TYPE_CHECKING:
    from rppgbench.planning import RunPlan


def prediction_row(record: Record, fold: str, **values: Any) -> dict[str, Any]:
    """A predictions.csv row of `record`: its identity, the fold, and `values`."""
    identity = {"video_id": record.id, "dataset": record.dataset, "subject": record.subject}
    where = {"session": record.session, "scenario": record.scenario, "source": record.source, "fold": fold}
    return identity | where | {"error": ""} | values


def failed_row(record: Record, fold: str, reason: str) -> dict[str, Any]:
    """The predictions.csv row of a video that could not be scored, with the reason."""
    return prediction_row(record, fold, status="failed", error=reason, n_windows=0)


def run_fold(plan: RunPlan, prepared: PreparedFold, is_main: bool = True) -> dict[str, Any]:
    """Train on the fold's training clips (if the method trains), score its test videos, write its files.

    `is_main` is False on torchrun's other ranks: they take part in training and write nothing.
    """
    store = plan.store.fold(prepared.name)
    timings: dict[str, float] = {}
    method = plan.method_class(**plan.options.params)
    if plan.weights is not None:  # a `pretrained` recipe: the shipped weights, no training
        begin = time.perf_counter()
        method.load(plan.weights.verify())
        timings["load_s"] = time.perf_counter() - begin
    elif method.trains:
        clips = prepared.training_clips()
        begin = time.perf_counter()
        context = FitContext(work_dir=store.work_dir, seed=plan.options.seed, device=plan.options.device,
                             fold=prepared.name, progress=plan.options.progress)  # fmt: skip
        method.fit(clips, context)
        method.save(store.model_path)
        if is_main:  # per-epoch losses, kept beside the fold's results
            store.keep_training_history()
        timings["train_s"] = time.perf_counter() - begin
    if not is_main:
        return {"timings": timings}
    rows, windows, kept = [], [], []
    hr_config = plan.protocol.hr_config()
    begin = time.perf_counter()
    for record in tqdm(
        prepared.test, desc=f"fold {prepared.name}", disable=not plan.options.progress, unit="video"
    ):
        row, scored = _score(plan, method, prepared, record, hr_config)
        rows.append(row)
        if scored is not None:
            windows += scored[0]
            kept.append(scored[1])
    timings["test_s"] = time.perf_counter() - begin
    summary = summarise(rows) | {"timings": timings, "n_train": len(prepared.train)}
    store.write_results(rows, summary, kept, windows, plan.options.window_format)
    return summary


def _score(
    plan: RunPlan, method: Method, prepared: PreparedFold, record: Record, hr_config: HRConfig
) -> tuple[dict[str, Any], tuple[list[dict[str, Any]], VideoSignals] | None]:
    """One test video's row, and its window rows and signals when it was scored."""
    fold = prepared.name
    reason = prepared.error(record)
    if reason is not None:
        return failed_row(record, fold, reason), None
    path = prepared.clip_path(record)
    try:
        clip = prepared.clip(record)
        check_reference(plan.protocol, clip.reference)
        estimate = evaluate_video(method, clip, plan.protocol.test, hr_config)
    except Exception as exc:  # one bad video never stops the run; its reason is kept
        reason = str(exc) if isinstance(exc, RppgbenchError | ValueError) else traceback.format_exc(limit=3)
        if str(record.location) not in reason and str(path) not in reason:
            reason = f"{record.location}: {reason}"  # every reason names the file
        return failed_row(record, fold, f"{type(exc).__name__}: {reason}".strip()), None
    row = prediction_row(
        record, fold, status="ok", hr_pred=estimate.hr_pred, hr_ref=estimate.hr_ref,
        abs_error=abs(estimate.hr_pred - estimate.hr_ref), snr_db=estimate.snr_db,
        n_windows=len(estimate.window_hr_pred), macc=estimate.macc,
    )  # fmt: skip
    signals = VideoSignals(record.id, clip.fps, estimate.signals, estimate.times, clip.reference,
                           estimate.window_hr_pred if estimate.method_hr else None)  # fmt: skip
    return row, (window_rows(record.id, fold, estimate), signals)


def check_reference(protocol: Protocol, reference: Any) -> None:
    """The clip has a reference of the kind the protocol scores against (RppgbenchError otherwise)."""
    if reference is None:
        raise RppgbenchError("the dataset gives no reference for this video")
    wanted_hr = protocol.reference_source == "dataset_hr"
    if wanted_hr != (reference.kind == "hr"):
        raise ConfigError(
            f"protocol {protocol.name!r} scores against {protocol.reference_source!r} "
            f"but the dataset's reference is of kind {reference.kind!r}"
        )
