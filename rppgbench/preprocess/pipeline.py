"""Prepare records into cached clips: stream frames, find the face, crop, write, validate; in parallel.

Each video is streamed frame by frame from its loader through the frame pipeline
(`rppgbench.preprocess.stream`) into its clip file (the HDF5 sink, `ClipWriter`) one chunk at a
time, so a worker holds a few frames whatever the video length. Every problem with one video becomes
that video's `PrepResult` error (file and reason); the other videos carry on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import ConfigError, DataError, StorageError
from rppgbench.integrity import clean_stale_temporaries
from rppgbench.preprocess.cache import (
    COMPRESSIONS,
    DEFAULT_COMPRESSION,
    ClipWriter,
    cache_path,
    ensure_space,
    frame_count,
    record_to_dict,
    verify_clip,
)
from rppgbench.preprocess.config import PreprocessConfig
from rppgbench.preprocess.crop import FaceTracker
from rppgbench.preprocess.face import Box, FaceDetector
from rppgbench.preprocess.stream import stream_crops
from rppgbench.video import MAX_FPS, MIN_FPS, plausible_rate

# Plausible native sampling rates (Hz) per reference kind; outside them the loader has the rate wrong.
REFERENCE_RATE_LIMITS = {"ppg": (10.0, 10_000.0), "ecg": (50.0, 10_000.0), "hr": (0.05, 1_000.0)}
# How far (s) the reference may stop short of the frames at either end, beyond two of its own samples.
REFERENCE_SLACK_S = 0.5
log = logging.getLogger("rppgbench.preprocess")


@dataclass(frozen=True)
class PrepResult:
    """Outcome of preparing one record: `ok` with the clip file `path`, or `error` ("<file>: <reason>")."""

    record_id: str
    ok: bool
    path: Path | None = None
    error: str | None = None
    n_frames: int = 0
    reused: bool = False
    seconds: float = 0.0


def prepare(
    loader: DatasetLoader,
    records: Iterable[Record],
    config: PreprocessConfig,
    cache_root: Path | None = None,
    workers: int = 1,
    progress: bool = True,
    *,
    compression: str = DEFAULT_COMPRESSION,
) -> dict[str, PrepResult]:
    """Make sure every record has a cached clip; return each record id's result, failures included.

    Clips already in the cache are reused. workers > 1 prepares videos in parallel in spawned
    processes (the loader is pickled to them); workers = 0 means one per core; 1 works in this process. `compression`
    ("none", "lzf", "gzip") only trades disk space for speed (see rppgbench.preprocess.cache).
    """
    if compression not in COMPRESSIONS:
        raise ConfigError(f"compression {compression!r} is not one of {list(COMPRESSIONS)}")
    records = list(records)
    workers = workers if workers > 0 else os.cpu_count() or 1
    duplicates = sorted(name for name, count in Counter(r.id for r in records).items() if count > 1)
    if duplicates:
        raise ConfigError(f"dataset {loader.name!r} lists record ids more than once: {', '.join(duplicates)}")
    results: dict[str, PrepResult] = {}
    jobs: list[tuple[Record, Path]] = []
    cleaned: set[Path] = set()
    for record in records:
        path = cache_path(loader, record, config, cache_root)
        if path.parent not in cleaned:  # temporary files of killed writers
            cleaned.add(path.parent)
            clean_stale_temporaries(path.parent)
        cached = _verified_length(path, record) if path.is_file() else None
        if cached is not None:
            results[record.id] = PrepResult(record.id, True, path, reused=True, n_frames=cached)
        else:  # not there, or damaged: prepared again and replaced
            jobs.append((record, path))
    with tqdm(
        total=len(records),
        initial=len(results),
        desc=f"prepare {loader.name}",
        unit="video",
        disable=not progress,
    ) as bar:
        failed = 0

        def done(result: PrepResult) -> None:
            nonlocal failed
            results[result.record_id] = result
            failed += not result.ok
            bar.update(1)
            bar.set_postfix(failed=failed, refresh=False)

        if workers <= 1 or len(jobs) <= 1:
            global _KEEP_DETECTORS
            keep, _KEEP_DETECTORS = _KEEP_DETECTORS, True
            try:
                for record, path in jobs:
                    done(prepare_record(loader, record, config, path, compression))
            finally:
                _KEEP_DETECTORS = keep
                if not keep:
                    close_detectors()
        else:
            _check_picklable(loader)
            _run_pool(loader, jobs, config, workers, done, compression)
    return {record.id: results[record.id] for record in records}


def _verified_length(path: Path, record: Record) -> int | None:
    """Frames in an intact cached clip; None (with a warning naming the file and the fault) if damaged."""
    problem = verify_clip(path)
    if problem is None:
        with h5py.File(path, "r") as f:
            owner = f.attrs.get("record_id")
            if owner == record.id:
                return frame_count(path)
            problem = f"it holds the clip of {owner!r}"
    message = f"{path}: cached clip of {record.id} is damaged ({problem}); preparing it again"
    log.warning(message)
    return None


def _check_picklable(loader: DatasetLoader) -> None:
    try:
        pickle.dumps(loader)
    except Exception as exc:
        raise ConfigError(
            f"dataset loader {loader.name!r} cannot be sent to worker processes ({exc}); use workers=1"
        ) from exc


def _run_pool(
    loader: DatasetLoader,
    jobs: list[tuple[Record, Path]],
    config: PreprocessConfig,
    workers: int,
    done: Any,
    compression: str,
) -> None:
    """Run jobs in a spawned process pool with at most `workers` in flight.

    If a worker dies (crash, out of memory) the pool breaks; only the videos in flight are suspects,
    so each is re-run alone in its own process to tell the culprit from the bystanders, and the rest
    continue in a fresh pool.
    """
    context = multiprocessing.get_context("spawn")
    queue = deque(jobs)
    while queue:
        suspects: list[tuple[Record, Path]] = []
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            inflight: dict[Future, tuple[Record, Path]] = {}
            while queue or inflight:
                while queue and len(inflight) < workers and not suspects:
                    record, path = queue.popleft()
                    future = pool.submit(prepare_record, loader, record, config, path, compression)
                    inflight[future] = (record, path)
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in finished:
                    record, path = inflight.pop(future)
                    try:
                        done(future.result())
                    except StorageError:
                        raise
                    except BrokenProcessPool:
                        suspects.append((record, path))
                    except Exception as exc:  # e.g. a result that could not be sent back
                        done(_failure(record, f"{type(exc).__name__}: {exc}"))
                if suspects:
                    for future in list(inflight):  # the pool is broken: every job in flight failed with it
                        suspects.append(inflight.pop(future))
                    break
        for record, path in suspects:
            done(_run_alone(loader, record, config, path, context, compression))


def _init_worker() -> None:
    """Worker processes already run one per core: OpenCV's own threads would only oversubscribe."""
    import cv2

    global _KEEP_DETECTORS
    _KEEP_DETECTORS = True
    cv2.setNumThreads(1)


def _run_alone(
    loader: DatasetLoader,
    record: Record,
    config: PreprocessConfig,
    path: Path,
    context: Any,
    compression: str,
) -> PrepResult:
    with ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker) as pool:
        try:
            return pool.submit(prepare_record, loader, record, config, path, compression).result()
        except StorageError:
            raise
        except BrokenProcessPool:
            return _failure(record, "the worker process preparing this video died (crash or out of memory)")
        except Exception as exc:
            return _failure(record, f"{type(exc).__name__}: {exc}")


def _failure(record: Record, reason: str) -> PrepResult:
    return PrepResult(record.id, False, error=f"{record.location}: {reason}")


def prepare_record(
    loader: DatasetLoader,
    record: Record,
    config: PreprocessConfig,
    path: Path,
    compression: str = DEFAULT_COMPRESSION,
) -> PrepResult:
    """Prepare one record into `path`; any problem of the video becomes an error result.

    A cache that cannot be written (StorageError) is not the video's fault: it stops the whole job.
    """
    start = time.perf_counter()
    try:
        n_frames = _prepare(loader, record, config, Path(path), compression)
    except StorageError:
        raise
    except DataError as exc:
        message = str(exc)
        if str(record.location) not in message and not message.startswith("/"):
            message = f"{record.location}: {message}"
        return PrepResult(record.id, False, error=message, seconds=time.perf_counter() - start)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        return PrepResult(
            record.id, False, error=f"{record.location}: {reason}", seconds=time.perf_counter() - start
        )
    finally:
        if not _KEEP_DETECTORS:
            close_detectors()
    return PrepResult(record.id, True, Path(path), n_frames=n_frames, seconds=time.perf_counter() - start)


def _prepare(
    loader: DatasetLoader, record: Record, config: PreprocessConfig, path: Path, compression: str
) -> int:
    reference = loader.load_reference(record)
    check_reference(reference, record)
    source = loader.open_frames(record)
    fps = float(record.fps or source.fps or 0.0)  # nominal; the timestamps decide (see _timestamps)
    start, stop = record.frame_range
    if start < 0 or (stop is not None and stop <= start):
        raise DataError(f"{record.location}: invalid frame_range ({start}, {stop})")
    if config.max_frames:
        stop = start + config.max_frames if stop is None else min(stop, start + config.max_frames)
    detector = shared_detector(config.min_confidence) if config.face == "blazeface" else None
    expected = (stop or source.frame_count() or 0) - start
    ensure_space(path.parent, max(expected, 0) * config.size * config.size * 3)
    with ClipWriter(path, config.size, compression=compression) as writer:
        tracker = FaceTracker(
            config, detector, _first_face_locator(config, detector, loader, record),
            _annotated_boxes(config, loader, record, start),
        )  # fmt: skip
        n = stream_crops(source, tracker, writer, where=str(record.location), start=start, stop=stop).n_frames
        if n == 0:
            raise DataError(f"{record.location}: the video has no frames at or after frame {start}")
        if stop is not None and record.frame_range[1] is not None and n < stop - start:
            raise DataError(
                f"{record.location}: frame_range ({start}, {record.frame_range[1]}) runs past the end of "
                f"the video, which has {start + n} frames"
            )
        _check_complete(source, record, start, stop, n)
        timestamps = _timestamps(loader, record, source, start, n, fps)
        check_coverage(reference, timestamps, record)
        attrs = {
            "record": record_to_dict(record),
            "record_id": record.id,
            "config": config.to_dict(),
            "loader": loader.describe(),
            "fps": _mean_rate(timestamps) or fps,
            "source_frame_shape": list(tracker.frame_shape),
            **_face_facts(tracker, record),
        }
        writer.commit(timestamps, reference, attrs)
    return n


_DETECTORS: dict[float, FaceDetector] = {}
_KEEP_DETECTORS = False  # True in pool workers and during an in-process `prepare` loop


def shared_detector(min_confidence: float) -> FaceDetector:
    """One detector per threshold, reused across videos (creating one costs ~0.1-0.4 s).

    In this process they are closed when `prepare` finishes (MediaPipe cannot close them once the
    interpreter shuts its threads down); pool workers keep theirs until they exit.
    """
    if min_confidence not in _DETECTORS:
        _DETECTORS[min_confidence] = FaceDetector(min_confidence)
    return _DETECTORS[min_confidence]


def close_detectors() -> None:
    """Release every shared detector of this process."""
    while _DETECTORS:
        _DETECTORS.popitem()[1].close()


def _check_complete(source: Any, record: Record, start: int, stop: int | None, n: int) -> None:
    """Fail a video that decodes to fewer frames than its container announces (a truncated file).

    Allows 1% (at least 2 frames) for containers whose frame count is an estimate.
    """
    count = getattr(source, "frame_count", None)
    announced = count() if callable(count) else None
    if not announced:
        return
    expected = (announced if stop is None else min(announced, stop)) - start
    if expected > 0 and n < expected - max(2, int(0.01 * announced)):
        raise DataError(
            f"{record.location}: decoded {start + n} of the {announced} frames the file announces "
            "(truncated or corrupt video)"
        )


def _first_face_locator(
    config: PreprocessConfig, detector: FaceDetector | None, loader: DatasetLoader, record: Record
) -> Callable[[np.ndarray], Box | None]:
    """How the first frame's face is found: the loader's annotation or the detector (None = whole frame)."""
    annotation = loader.face_box(record) if config.face == "dataset" else None
    if config.face == "dataset" and annotation is None:
        raise DataError(
            f"{record.location}: dataset {record.dataset!r} gives no face box for this record "
            "(preprocess face='dataset'); use face='blazeface'"
        )

    def locate(frame: np.ndarray) -> Box | None:
        if annotation is not None:
            x, y, w, h = (float(v) for v in annotation)
            height, width = frame.shape[:2]
            if w <= 0 or h <= 0 or x + w <= 0 or y + h <= 0 or x >= width or y >= height:
                raise DataError(
                    f"{record.location}: the dataset's face box {annotation} is not inside "
                    f"the {width}x{height} frame"
                )
            return Box(x, y, w, h, 1.0)
        box = detector.detect(frame)  # type: ignore[union-attr]
        if box is None and config.on_no_face == "fail":
            raise DataError(
                f"{record.location}: no face found on frame {record.frame_range[0]} (the clip's first frame; "
                f"min_confidence={config.min_confidence}); set on_no_face='full' to use the "
                "whole frame instead"
            )
        return box

    return locate


def _annotated_boxes(
    config: PreprocessConfig, loader: DatasetLoader, record: Record, start: int
) -> Callable[[int], Box | None] | None:
    """With face="dataset" and redetect_every: the dataset's face box of the frame at an offset from
    `start` (None past the annotated frames, counted as a miss); DataError if the dataset has none."""
    if config.face != "dataset" or not config.redetect_every:
        return None
    boxes = loader.face_boxes(record)
    if boxes is None:
        raise DataError(
            f"{record.location}: dataset {record.dataset!r} annotates no face box per frame, so "
            f"face='dataset' cannot follow the face (redetect_every={config.redetect_every}); use "
            "face='blazeface' or redetect_every=0"
        )
    boxes = np.asarray(boxes, dtype=np.float64)

    def annotated(offset: int) -> Box | None:
        index = start + offset
        if index >= len(boxes):
            return None
        x, y, w, h = boxes[index]
        return Box(x, y, w, h, 1.0) if w > 0 and h > 0 else None

    return annotated


def _face_facts(tracker: FaceTracker, record: Record) -> dict[str, Any]:
    """What the cache file records about face finding."""
    scores = ([tracker.first_box.score] if tracker.first_box else []) + tracker.redetect_scores
    misses = [record.frame_range[0] + offset for offset in tracker.misses]
    return {
        "face_source": tracker.config.face,
        "no_face_fallback": tracker.fallback,
        "detection_score": tracker.first_box.score if tracker.first_box else float("nan"),
        "mean_detection_score": float(np.mean(scores)) if scores else float("nan"),
        "n_detections": len(scores),
        "redetect_misses": len(misses),
        "redetect_miss_frames": misses[:1000],
    }


def _timestamps(
    loader: DatasetLoader, record: Record, source: Any, start: int, n: int, fps: float
) -> np.ndarray:
    """Frame times (s from the record's first frame) of frames [start, start + n) of the video.

    Asked for after streaming, because the frame count of many videos is only known once decoded.
    The loader's `frame_timestamps` wins if it overrides the default; else the source's own timestamps.
    """
    total = start + n
    if getattr(source, "timestamps", None) is not None:  # the loader's file, or the container's clock
        times = np.asarray(source.timestamps, dtype=np.float64)
    elif getattr(source, "problem", None):
        raise DataError(source.problem)
    elif not plausible_rate(fps):
        raise DataError(
            f"{record.location}: no frame timestamps and no plausible frame rate ({fps:g} fps) for this "
            "video; pass the rate to the dataset loader"
        )
    else:
        times = np.asarray(loader.frame_timestamps(record, total, fps), dtype=np.float64)
    if times.ndim != 1 or len(times) < total:
        raise DataError(f"{record.location}: {len(times)} frame timestamps for {total} decoded frames")
    times = times[start:total]
    if not np.all(np.isfinite(times)):
        raise DataError(f"{record.location}: frame timestamps contain NaN or infinite values")
    steps = np.diff(times)
    if np.any(steps <= 0):
        bad = int(np.flatnonzero(steps <= 0)[0]) + start + 1
        raise DataError(f"{record.location}: frame timestamps do not increase at frame {bad}")
    rate = _mean_rate(times)
    if rate is not None and not plausible_rate(rate):
        raise DataError(
            f"{record.location}: the frame timestamps give an absurd frame rate of {rate:.4g} fps "
            f"(expected {MIN_FPS:g}-{MAX_FPS:g})"
        )
    return times


def _mean_rate(times: np.ndarray) -> float | None:
    """Frames per second over the whole clip (robust to jitter and to variable frame rate)."""
    return (
        float((len(times) - 1) / (times[-1] - times[0])) if len(times) > 1 and times[-1] > times[0] else None
    )


def _reference_file(record: Record, kind: str) -> Path:
    """The file a reference problem is reported against."""
    for key in ("reference", kind, "ground_truth", "gt", "physio", "bdf"):
        if key in record.files:
            return Path(record.files[key])
    return Path(next(iter(record.files.values()))) if len(record.files) == 1 else Path(record.location)


def check_reference(reference: Reference, record: Record) -> None:
    """Reject references no method could be scored against: NaNs, flat, too short, bad times or rate."""
    if not isinstance(reference, Reference):
        raise DataError(f"{record.location}: the loader returned {type(reference).__name__}, not a Reference")
    where = _reference_file(record, reference.kind)
    kind = reference.kind
    if kind not in REFERENCE_RATE_LIMITS:
        raise DataError(f"{where}: unknown reference kind {kind!r}; expected ppg, ecg or hr")
    values, times = (
        np.asarray(reference.values, dtype=np.float64),
        np.asarray(reference.times, dtype=np.float64),
    )
    if len(values) < 2:
        raise DataError(f"{where}: the {kind} reference has {len(values)} samples")
    nan_values = ~np.isfinite(values)
    if nan_values.any():
        first = float(times[np.argmax(nan_values)])
        raise DataError(
            f"{where}: the {kind} reference has {int(nan_values.sum())} NaN/infinite values of {len(values)} "
            f"(first at {first:.3f} s)"
        )
    if not np.all(np.isfinite(times)):
        raise DataError(f"{where}: the {kind} reference times contain NaN or infinite values")
    steps = np.diff(times)
    if np.any(steps <= 0):
        bad = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise DataError(
            f"{where}: the {kind} reference times do not increase at sample {bad} ({times[bad]:.6f} s)"
        )
    if kind != "hr" and np.ptp(values) == 0:
        raise DataError(f"{where}: the {kind} reference is a flat line (all values {values[0]:g})")
    low, high = REFERENCE_RATE_LIMITS[kind]
    rate = reference.rate
    if not low <= rate <= high:
        raise DataError(
            f"{where}: the {kind} reference's sampling rate is {rate:.3g} Hz, outside the plausible "
            f"{low:g}-{high:g} Hz; the loader probably assumes the wrong rate"
        )
    if kind == "hr" and (np.nanmin(values) < 20 or np.nanmax(values) > 250):
        raise DataError(
            f"{where}: the hr reference runs {np.min(values):.1f}-{np.max(values):.1f} bpm, "
            "outside 20-250 bpm"
        )


def check_coverage(reference: Reference, timestamps: np.ndarray, record: Record) -> None:
    """The reference must span the frames (within REFERENCE_SLACK_S plus two of its samples at each end)."""
    where = _reference_file(record, reference.kind)
    slack = REFERENCE_SLACK_S + 2.0 / max(reference.rate, 1e-9)
    ref_start, ref_stop = float(reference.times[0]), float(reference.times[-1])
    first, last = float(timestamps[0]), float(timestamps[-1])
    if ref_stop < last - slack or ref_start > first + slack:
        shorter = "shorter than" if ref_stop - ref_start < last - first else "offset from"
        raise DataError(
            f"{where}: the {reference.kind} reference covers {ref_start:.2f}-{ref_stop:.2f} s but the frames "
            f"span {first:.2f}-{last:.2f} s (reference {shorter} the video; wrong sampling rate or a cut "
            "recording?)"
        )
