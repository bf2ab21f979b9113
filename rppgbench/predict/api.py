"""Heart rate from any video file: face crops -> a method's rPPG signal -> the shared HR estimator.

`predict(path, method="pos")` is the whole pipeline for one video, with no dataset loader: the video
is streamed into face crops (`rppgbench.predict.faces`), the method turns them into a pulse signal,
and `rppgbench.signal.hr` gives the average HR and an HR series in sliding windows. An optional
reference (CSV or `Reference`) adds reference HRs and errors. The CLI `rppgbench predict` wraps it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import rppgbench
from rppgbench.data import Clip, Record, Reference
from rppgbench.errors import ConfigError, DataError, RppgbenchError, SignalError
from rppgbench.evaluation import uniform_signal
from rppgbench.method import Method
from rppgbench.predict.faces import FaceCrops, read_face_crops
from rppgbench.predict.reference import ReferenceSpec
from rppgbench.preprocess.config import PreprocessConfig
from rppgbench.signal.hr import HRConfig, estimate_hr, hr_over_time, reference_hr, snr_db
from rppgbench.store.layout import MODEL_IN_RUN, find_models, run_of_model

SIGNAL_CSV, HR_CSV, SUMMARY_JSON, FIGURE_PNG = "signal.csv", "hr.csv", "summary.json", "figure.png"


@dataclass
class PredictionResult:
    """HR of one video: the average, the per-window series, the rPPG signal and, given a reference, errors.

    hr_bpm: HR of the whole signal (the shared estimator on all of it); times / hr_series: window centres
    (s) and window HRs (nan where a window has no usable pulse); signal: one value per frame at `fps`;
    face_box: the crop box (x, y, w, h) of the first frame in video pixels; reference_hr and
    reference_series: the same from the reference (None without one); errors: overall and per-window
    error statistics (None without a reference).
    """

    video: Path
    method: dict[str, Any]
    fps: float
    n_frames: int
    hr_bpm: float
    times: np.ndarray
    hr_series: np.ndarray
    signal: np.ndarray
    face_box: tuple[int, int, int, int]
    window_s: float
    step_s: float
    hr_config: HRConfig
    face: dict[str, Any] = field(default_factory=dict)
    weights: Path | None = None
    shipped_weights: dict[str, Any] | None = None
    """Name, sha256 and model card of the shipped weights used (None when none were)."""
    snr_db: float = math.nan
    reference_hr: float | None = None
    reference_series: np.ndarray | None = None
    reference_info: dict[str, Any] | None = None
    errors: dict[str, Any] | None = None
    first_frame: np.ndarray | None = field(default=None, repr=False)
    first_crop: np.ndarray | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    reference: Reference | None = field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        """Seconds of video analysed."""
        return self.n_frames / self.fps

    @property
    def signal_times(self) -> np.ndarray:
        """Time (s) of each signal sample: frame index / fps."""
        return np.arange(len(self.signal), dtype=np.float64) / self.fps

    def window_stats(self) -> dict[str, Any]:
        """Summary of the window HR series: count, usable count, mean, median, SD, min, max (bpm)."""
        finite = self.hr_series[np.isfinite(self.hr_series)]
        stats: dict[str, Any] = {"n_windows": int(self.hr_series.size), "n_valid": int(finite.size)}
        for name, fn in (("mean", np.mean), ("median", np.median), ("min", np.min), ("max", np.max)):
            stats[name] = float(fn(finite)) if finite.size else math.nan
        stats["sd"] = float(np.std(finite, ddof=1)) if finite.size > 1 else math.nan
        return stats

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary: inputs, settings, face box, HR, per-window stats, reference and errors."""
        x, y, w, h = self.face_box
        out: dict[str, Any] = {
            "video": str(self.video),
            "method": self.method,
            "weights": None if self.weights is None else str(self.weights),
            "shipped_weights": self.shipped_weights,
            "fps": self.fps,
            "n_frames": self.n_frames,
            "duration_s": self.duration_s,
            "face_box": {"x": x, "y": y, "w": w, "h": h},
            "face": self.face,
            "hr_bpm": self.hr_bpm,
            "snr_db": self.snr_db,
            "snr_at": "reference_hr" if self.reference_hr is not None else "hr_bpm",
            "window_s": self.window_s,
            "step_s": self.step_s,
            "windows": self.window_stats(),
            "window_times_s": self.times,
            "window_hr_bpm": self.hr_series,
            "hr_estimator": self.hr_config.to_dict(),
            "reference": None,
            "errors": self.errors,
            "notes": list(self.notes),
            "rppgbench_version": rppgbench.__version__,
        }
        if self.reference_info is not None:
            out["reference"] = {
                **self.reference_info,
                "hr_bpm": self.reference_hr,
                "window_hr_bpm": self.reference_series,
            }
        return out

    def save(self, out_dir: Path | str) -> dict[str, Path]:
        """Write signal.csv, hr.csv, summary.json and figure.png into `out_dir`; return their paths."""
        from rppgbench.predict.figure import plot_prediction
        from rppgbench.store import atomic_write_bytes, write_json

        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {name: folder / name for name in (SIGNAL_CSV, HR_CSV, SUMMARY_JSON, FIGURE_PNG)}
        signal_rows = np.column_stack([self.signal_times, self.signal])
        atomic_write_bytes(paths[SIGNAL_CSV], _csv(["time_s", "value"], signal_rows, ["%.4f", "%.7g"]))
        columns, formats = ["time_s", "hr_pred"], ["%.3f", "%.3f"]
        hr_rows = [self.times, self.hr_series]
        if self.reference_series is not None:
            columns.append("hr_ref")
            formats.append("%.3f")
            hr_rows.append(self.reference_series)
        atomic_write_bytes(paths[HR_CSV], _csv(columns, np.column_stack(hr_rows), formats))
        write_json(paths[SUMMARY_JSON], self.to_dict())
        plot_prediction(self, paths[FIGURE_PNG])
        return paths


def _csv(header: list[str], rows: np.ndarray, formats: list[str]) -> bytes:
    lines = [",".join(header)]
    for row in rows:
        lines.append(
            ",".join("" if not np.isfinite(v) else fmt % v for v, fmt in zip(row, formats, strict=True))
        )
    return ("\n".join(lines) + "\n").encode()


@dataclass
class MethodChoice:
    """A method ready to predict: the instance (weights loaded), its weights, and the crop it was trained on.

    `crop`: `size` and `enlarge` of the training run's protocol (read from the run folder beside the
    weights) or of the shipped weights' model card; empty for untrained methods. `notes` says what was
    chosen for the user (method from the weights file, shipped weights, training crop).
    """

    method: Method
    weights: Path | None = None
    shipped: dict[str, Any] | None = None
    crop: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def preprocess(self, **given: Any) -> PreprocessConfig:
        """The crop settings: `given` fields (None: not given) over the training crop over the defaults."""
        return PreprocessConfig(**{**self.crop, **{k: v for k, v in given.items() if v is not None}})


def choose_method(
    method: str | Method | None = None,
    weights: Path | str | None = None,
    params: dict[str, Any] | None = None,
) -> MethodChoice:
    """The method `predict` runs: a registered name (built with `params`) or an instance, with weights.

    Trained methods take `weights` (a weights file a `rppgbench run` saved as `MODEL_IN_RUN`, or a
    folder holding exactly one); without them, the method's shipped weights (`rppgbench.weights`,
    verified against their model card) are used. Without `method`, the method the weights file names
    is used (POS when there are no weights).
    """
    notes: list[str] = []
    shipped: dict[str, Any] = {}
    instance, weights_path, crop = _method(method, weights, params or {}, notes, shipped)
    crop = {k: int(v) if k == "size" else float(v) for k, v in crop.items()}
    return MethodChoice(instance, weights_path, shipped or None, crop, notes)


def predict(
    path: Path | str,
    method: str | Method | MethodChoice | None = None,
    weights: Path | str | None = None,
    window: float = 10.0,
    step: float = 1.0,
    reference: Path | str | Reference | ReferenceSpec | None = None,
    params: dict[str, Any] | None = None,
    *,
    hr: HRConfig | dict[str, Any] | None = None,
    preprocess: PreprocessConfig | None = None,
    box: tuple[float, float, float, float] | None = None,
    fps: float | None = None,
    progress: bool = False,
) -> PredictionResult:
    """Heart rate of the face in the video at `path` with `method` (a registered name or an instance).

    `method`, `weights` and `params` choose the method as `choose_method` does (or pass its
    `MethodChoice`). `window`/`step`: seconds of the sliding HR windows. `reference`: a CSV path (read
    with `read_reference_csv`'s detection), a `ReferenceSpec` (a CSV and how to read it) or a
    `Reference` in seconds from the first frame. `preprocess`: how faces are found, cropped and sized,
    the same `PreprocessConfig` as dataset preprocessing; by default the training run's crop `size`
    and `enlarge` for a trained method (when its run folder or model card says) and the defaults
    otherwise. `box` (x, y, w, h in pixels of the first frame) replaces face detection. `fps`
    overrides the frame rate the video reports. Every problem raises an RppgbenchError subclass with
    a one-line message.
    """
    if not (_positive(window) and _positive(step)):
        raise ConfigError(f"window and step must be positive seconds, got {window!r} and {step!r}")
    hr_config = hr if isinstance(hr, HRConfig) else HRConfig.from_dict(hr)
    if isinstance(method, MethodChoice):
        if weights is not None or params:
            raise ConfigError("weights and params cannot be combined with a MethodChoice; choose them in it")
        chosen = method
    else:
        chosen = choose_method(method, weights, params)
    prep = preprocess if preprocess is not None else chosen.preprocess()
    if not isinstance(prep, PreprocessConfig):
        raise ConfigError(f"preprocess must be a PreprocessConfig, not {type(prep).__name__}")
    if box is not None:
        if prep.face == "full":
            raise ConfigError(f"a face box replaces detection; it cannot be combined with face={prep.face!r}")
        prep = replace(prep, face="dataset")
    notes = list(chosen.notes)
    crops = read_face_crops(path, prep, box=box, fps=fps, progress=progress)
    if crops.duration < window:
        raise SignalError(
            f"{crops.path}: the clip is {crops.duration:.2f} s long ({crops.n_frames} frames at "
            f"{crops.fps:g} fps), shorter than one {window:g} s HR window; use a shorter --window"
        )
    instance = chosen.method
    signal, _ = uniform_signal(_signal(instance, crops), crops.timestamps)  # variable frame rate: resampled
    hr_bpm = estimate_hr(signal, crops.fps, hr_config, name=f"{crops.path.name} rPPG signal")
    times, series = hr_over_time(signal, crops.fps, window, step, hr_config)
    result = PredictionResult(
        video=crops.path,
        method=instance.describe(),
        fps=crops.fps,
        n_frames=crops.n_frames,
        hr_bpm=float(hr_bpm),
        times=times,
        hr_series=series,
        signal=signal,
        face_box=tuple(int(v) for v in crops.crop_boxes[0]),  # type: ignore[arg-type]
        window_s=float(window),
        step_s=float(step),
        hr_config=hr_config,
        face=crops.describe(),
        weights=chosen.weights,
        shipped_weights=chosen.shipped or None,
        first_frame=crops.first_frame,
        first_crop=crops.frames[0].copy(),
        notes=notes,
    )
    max_frames = prep.max_frames
    expected = min(crops.announced_frames, max_frames or crops.announced_frames)
    if expected and crops.n_frames < expected - max(2, int(0.01 * expected)):
        notes.append(
            f"decoded {crops.n_frames} of the {crops.announced_frames} frames the file announces "
            "(truncated or corrupt video?)"
        )
    if crops.missed_frames:
        notes.append(
            f"face not found at {len(crops.missed_frames)} re-detections (first at frame "
            f"{crops.missed_frames[0]}); the previous box was kept"
        )
    if reference is not None:
        _add_reference(result, reference)
    else:
        result.snr_db = _snr(signal, crops.fps, hr_bpm, hr_config)
    return result


def _positive(value: Any) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _method(
    method: str | Method,
    weights: Path | str | None,
    params: dict[str, Any],
    notes: list[str],
    shipped_info: dict[str, Any],
) -> tuple[Method, Path | None, dict[str, Any]]:
    """The method instance, with weights loaded for a trained method, and the training preprocessing
    (`shipped_info` receives the record of the shipped weights, when those are used)."""
    if method is None:
        method = weights_method(resolve_weights(Path(weights))) if weights is not None else "pos"
        if weights is not None:
            notes.append(f"method {method} taken from the weights file")
    if isinstance(method, Method):
        if params:
            raise ConfigError("params cannot be combined with a Method instance; configure the instance")
        instance = method
    else:
        from rppgbench.plugins import registry

        cls = registry().method(method)
        instance = cls(**params)
    if not instance.trains:
        if weights is not None:
            raise ConfigError(
                f"method {instance.name!r} does not train; --weights is only for trained methods"
            )
        return instance, None, {}
    if weights is None:
        if isinstance(method, Method):
            return instance, None, {}  # the caller's instance: fitted or loaded already
        from rppgbench.weights import default_weights

        shipped = default_weights(instance.name)
        if shipped is None:
            raise ConfigError(
                f"method {instance.name!r} is trained and ships no weights: give its weights with "
                f"--weights FILE (a `rppgbench run` saves them as {MODEL_IN_RUN})"
            )
        shipped_info.update(shipped.record(), card=str(shipped.card_path))
        return _load_shipped(instance, shipped, notes)
    path = resolve_weights(Path(weights))
    try:
        instance.load(path)
    except RppgbenchError:
        raise
    except NotImplementedError as exc:
        raise ConfigError(f"method {instance.name!r} cannot load weights: {exc}") from exc
    except Exception as exc:
        raise ConfigError(f"{path}: cannot load weights for method {instance.name!r}: {exc}") from exc
    prep = training_preprocess(path)
    run = run_of_model(path)
    if prep and run is not None:
        notes.append(f"crop size and enlargement taken from the training run ({run.manifest_path})")
    return instance, path, prep


def _load_shipped(instance: Method, shipped: Any, notes: list[str]) -> tuple[Method, Path, dict[str, Any]]:
    """Load shipped weights (verified against their model card) and their training crop settings."""
    path = shipped.verify()
    instance.load(path)
    notes.append(
        f"no --weights given: the shipped weights {shipped.name} were used (trained only on synthetic "
        f"faces; model card: rppgbench show weights {shipped.name})"
    )
    prep = {
        k: v
        for k, v in shipped.preprocess.items()
        if k in ("size", "enlarge") and isinstance(v, (int, float))
    }
    return instance, path, prep


def weights_method(path: Path) -> str:
    """The name of the method a weights file was saved by."""
    from rppgbench.training.neural_method import read_weights_info

    try:
        return str(read_weights_info(path)["method"])
    except RppgbenchError:
        raise
    except Exception as exc:
        raise ConfigError(f"{path}: not a readable rppgbench weights file ({exc})") from exc


def resolve_weights(path: Path) -> Path:
    """A weights file, or the only weights file inside a folder (a fold folder or a whole run folder)."""
    if path.is_file():
        return path
    if not path.exists():
        raise ConfigError(f"weights {path} not found")
    found = find_models(path)
    if len(found) == 1:
        return found[0]
    if not found:
        model = Path(MODEL_IN_RUN)
        raise ConfigError(
            f"weights folder {path} holds no {model.name} (nor {model.parent.parent.name}/*/{model.name})"
        )
    listed = ", ".join(str(p.relative_to(path)) for p in found)
    raise ConfigError(f"weights folder {path} holds several models ({listed}); give one file with --weights")


def training_preprocess(weights: Path) -> dict[str, Any]:
    """`size` and `enlarge` of the protocol a run trained with, read from the manifest of the run whose
    fold folder holds `weights`; empty when there is no such run or it does not say."""
    run = run_of_model(weights)
    if run is None:
        return {}
    try:
        prep = run.read_manifest()["protocol"]["preprocess"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(prep, dict):
        return {}
    return {k: prep[k] for k in ("size", "enlarge") if isinstance(prep.get(k), (int, float))}


def _signal(method: Method, crops: FaceCrops) -> np.ndarray:
    if not method.gives_signal:
        raise ConfigError(
            f"method {method.name!r} estimates HR directly and gives no rPPG signal, which `predict` "
            "needs; score it with `rppgbench run`"
        )
    record = Record(dataset="video", subject=crops.path.stem, session="", location=crops.path, fps=crops.fps)
    clip = Clip(record=record, frames=crops.frames, timestamps=crops.timestamps, face_boxes=crops.crop_boxes)
    signal = np.asarray(method.predict(clip), dtype=np.float64).reshape(-1)
    if signal.size != crops.n_frames:
        raise SignalError(
            f"method {method.name!r} returned {signal.size} values "
            f"for the {crops.n_frames} frames of {crops.path}"
        )
    if not np.all(np.isfinite(signal)):
        raise SignalError(f"method {method.name!r} returned non-finite values for {crops.path}")
    return signal


def _snr(signal: np.ndarray, fps: float, hr_bpm: float | None, config: HRConfig) -> float:
    if hr_bpm is None or not math.isfinite(hr_bpm):
        return math.nan
    try:
        return snr_db(signal, fps, hr_bpm, config)
    except SignalError:
        return math.nan


def _add_reference(result: PredictionResult, reference: Path | str | Reference | ReferenceSpec) -> None:
    """Reference HR (whole clip and per window), errors and the SNR at the reference HR, into `result`."""
    from rppgbench.metrics import hr_metrics

    if isinstance(reference, Reference):
        ref, info = reference, {"file": None, "kind": reference.kind, "rate_hz": reference.rate}
    else:
        spec = reference if isinstance(reference, ReferenceSpec) else ReferenceSpec(reference)
        ref, info = spec.read(fps=result.fps, n_frames=result.n_frames)
    config, duration = result.hr_config, result.duration_s
    try:
        overall = reference_hr(ref, 0.0, duration, config)
    except SignalError as exc:
        raise DataError(f"{info.get('file') or 'reference'}: no reference HR over the video: {exc}") from exc
    half = result.window_s / 2.0
    series = np.full(result.times.shape, np.nan)
    failed: list[str] = []
    for i, centre in enumerate(result.times):
        try:
            series[i] = reference_hr(ref, centre - half, centre + half, config)
        except SignalError as exc:
            failed.append(f"{centre:.1f} s: {exc}")
    if failed:
        result.notes.append(f"{len(failed)} windows have no reference HR (first: {failed[0]})")
    paired = np.isfinite(series) & np.isfinite(result.hr_series)
    errors: dict[str, Any] = {
        "error_bpm": result.hr_bpm - overall,
        "abs_error_bpm": abs(result.hr_bpm - overall),
        "windows_compared": int(paired.sum()),
        "windows_without_reference": len(failed),
        "windows_without_prediction": int((~np.isfinite(result.hr_series)).sum()),
        "window": None,
    }
    if paired.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            errors["window"] = hr_metrics(result.hr_series[paired], series[paired])
    result.reference = ref
    result.reference_hr = float(overall)
    result.reference_series = series
    result.reference_info = info
    result.errors = errors
    result.snr_db = _snr(result.signal, result.fps, overall, config)
