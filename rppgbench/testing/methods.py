"""The conformance kit for method plugins: `check_method(cls, params)` checks the method contract.

In the spirit of scikit-learn's `check_estimator`: every method, built-in or third-party, should
pass it in its own tests, with a tiny configuration so that a training method fits in seconds. The
checks run on in-memory pulse clips (`rppgbench.testing.clips`): the class declares a valid contract;
its parameters resolve, unknown ones are refused and the description is plain JSON; `predict` gives
one finite value per frame (for clip lengths that are no multiple of anything) and leaves the clip
alone; two instances with the same parameters and seed give the same output (after the same training);
and a trained method's `save` / `load` round trip reproduces its predictions. A method that
`estimates_hr` is held to the same checks on `predict_hr` (one finite HR in bpm per clip, within
`HR_RANGE_BPM`), and on `predict` only when it `gives_signal`. A failure raises `AssertionError`
naming the check and the method.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rppgbench.data import Clip
from rppgbench.errors import ConfigError
from rppgbench.method import METHOD_API_VERSION, FitContext, Method
from rppgbench.params import Param
from rppgbench.testing.clips import make_pulse_clips

TRAIN_HR = (58.0, 72.0, 86.0, 100.0)
TEST_HR = (66.0, 94.0)
HR_RANGE_BPM = (20.0, 300.0)
"""Where a method's own HR estimate must lie (a sanity bound, not an accuracy check)."""


@dataclass
class MethodCheck:
    """What the checks of one method share: the class, its parameters, clips and the trained instances."""

    cls: type[Method]
    params: dict[str, Any]
    work_dir: Path
    seed: int = 0
    train_frames: int = 128
    test_frames: tuple[int, ...] = (131, 97)
    size: int = 32
    _fitted: dict[str, Method] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """`method 'name'`, for messages."""
        return f"method {getattr(self.cls, 'name', self.cls.__name__)!r}"

    def training_clips(self) -> list[Clip]:
        return make_pulse_clips(TRAIN_HR, frames=self.train_frames, size=self.size, seed=self.seed + 1)

    def test_clips(self) -> list[Clip]:
        return [
            make_pulse_clips([hr], frames=n, size=self.size, seed=self.seed + 2 + i)[0]
            for i, (hr, n) in enumerate(zip(TEST_HR, self.test_frames, strict=False))
        ]

    def instance(self, key: str = "a") -> Method:
        """A ready instance (trained once per `key` when the method trains; cached)."""
        if key not in self._fitted:
            method = self.cls(**self.params)
            if method.trains:
                context = FitContext(
                    work_dir=self.work_dir / f"fit-{key}", seed=self.seed, fold="check", progress=False
                )
                method.fit(self.training_clips(), context)
            self._fitted[key] = method
        return self._fitted[key]


def _check(condition: bool, state: MethodCheck, message: str) -> None:
    if not condition:
        raise AssertionError(f"{state.label}: {message}")


def _same(got: np.ndarray, want: np.ndarray, state: MethodCheck, message: str, tol: float = 1e-5) -> None:
    """Equal signals (to `tol`, relative to the signal's scale), else AssertionError with the difference."""
    _check(np.shape(got) == np.shape(want), state, f"{message} (shapes {np.shape(got)} and {np.shape(want)})")
    scale = max(float(np.max(np.abs(want))), 1e-12) if len(want) else 1.0
    difference = float(np.max(np.abs(np.asarray(got) - want))) if len(want) else 0.0
    _check(
        difference <= tol * scale,
        state,
        f"{message} (largest difference {difference:.3g}, scale {scale:.3g})",
    )


def check_contract(state: MethodCheck) -> None:
    """Class attributes of the contract: name, API version, trains, description, params, methods."""
    cls = state.cls
    _check(
        isinstance(cls, type) and issubclass(cls, Method),
        state,
        "is not a subclass of rppgbench.method.Method",
    )
    _check(
        isinstance(getattr(cls, "name", None), str) and bool(cls.name.strip()),
        state,
        "needs a non-empty `name`",
    )
    _check(
        cls.api_version == METHOD_API_VERSION,
        state,
        f"implements method API v{cls.api_version}, rppgbench speaks v{METHOD_API_VERSION}",
    )
    _check(isinstance(cls.trains, bool), state, "`trains` must be True or False")
    _check(isinstance(cls.description, str), state, "`description` must be a string")
    _check(
        not getattr(cls, "__abstractmethods__", ()),
        state,
        f"leaves abstract methods unimplemented: {sorted(cls.__abstractmethods__)}",
    )
    params = cls.params
    _check(
        isinstance(params, tuple) and all(isinstance(p, Param) for p in params),
        state,
        "`params` must be a tuple of rppgbench.params.Param",
    )
    names = [p.name for p in params]
    _check(len(names) == len(set(names)), state, f"declares a parameter twice: {names}")
    _check(
        isinstance(cls.estimates_hr, bool) and isinstance(cls.gives_signal, bool),
        state,
        "`estimates_hr` and `gives_signal` must be True or False",
    )
    _check(cls.gives_signal or cls.estimates_hr, state, "gives neither an rPPG signal nor an HR")
    if cls.estimates_hr:
        _check(
            cls.predict_hr is not Method.predict_hr,
            state,
            "estimates_hr but does not implement `predict_hr`",
        )
    if cls.trains:
        for hook in ("fit", "save", "load"):
            _check(
                getattr(cls, hook) is not getattr(Method, hook),
                state,
                f"trains but does not implement `{hook}`",
            )


def check_params(state: MethodCheck) -> None:
    """Parameters resolve into `config` (one key each), unknown ones are refused, `describe` is JSON."""
    method = state.cls(**state.params)
    _check(
        set(method.config) == {p.name for p in state.cls.params},
        state,
        f"config keys {sorted(method.config)} are not its declared params",
    )
    missing = [name for name in state.params if name not in method.config]
    _check(not missing, state, f"parameters given but not in config: {missing}")
    try:
        state.cls(**state.params, no_such_parameter_of_any_method=1)
    except ConfigError:
        pass
    else:
        raise AssertionError(f"{state.label}: an unknown parameter must raise ConfigError")
    described = method.describe()
    _check(
        described.get("name") == state.cls.name and described.get("params") == method.config,
        state,
        "describe() must give its name and resolved params",
    )
    try:
        json.dumps(described)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{state.label}: describe() is not plain JSON ({exc})") from exc
    if state.cls.declaration is not None:
        declared = state.cls.declaration
        same = (declared.name, declared.trains, declared.params, declared.estimates_hr,
                declared.gives_signal) == (state.cls.name, state.cls.trains, state.cls.params,
                                           state.cls.estimates_hr, state.cls.gives_signal)  # fmt: skip
        _check(same, state, "differs from its MethodDeclaration")


def _hr(method: Method, clip: Clip, state: MethodCheck) -> np.ndarray:
    """`predict_hr` of `clip` as a 1-element array, checked to be one finite plausible HR."""
    value = method.predict_hr(clip)
    _check(
        isinstance(value, float | int | np.floating | np.integer) and not isinstance(value, bool),
        state,
        f"predict_hr returned {type(value).__name__}, not a number",
    )
    low, high = HR_RANGE_BPM
    _check(
        bool(np.isfinite(value)) and low <= float(value) <= high,
        state,
        f"predict_hr gave {value!r} bpm, outside [{low:g}, {high:g}]",
    )
    return np.array([float(value)])


def _outputs(method: Method, clip: Clip, state: MethodCheck) -> np.ndarray:
    """What the method gives for `clip`, as one array: its signal and/or its HR, in that order."""
    parts = []
    if state.cls.gives_signal:
        parts.append(np.asarray(method.predict(clip), dtype=np.float64))
    if state.cls.estimates_hr:
        parts.append(_hr(method, clip, state))
    return np.concatenate(parts)


def check_output(state: MethodCheck) -> None:
    """`predict` gives a 1-D finite float array with one value per frame, and leaves the clip alone;
    a method that `estimates_hr` gives one finite HR per clip from `predict_hr`, leaving it alone too."""
    method = state.instance()
    for clip in state.test_clips():
        before = np.array(clip.frames, copy=True)
        if state.cls.estimates_hr:
            _hr(method, clip, state)
            _check(
                np.array_equal(before, np.asarray(clip.frames)), state, "predict_hr changed the clip's frames"
            )
        if not state.cls.gives_signal:
            continue
        signal = method.predict(clip)
        _check(
            isinstance(signal, np.ndarray), state, f"predict returned {type(signal).__name__}, not an array"
        )
        _check(
            signal.ndim == 1 and len(signal) == len(clip),
            state,
            f"predict gave shape {signal.shape} for a clip of {len(clip)} frames",
        )
        _check(
            np.issubdtype(signal.dtype, np.floating), state, f"predict gave dtype {signal.dtype}, not float"
        )
        _check(bool(np.isfinite(signal).all()), state, "predict gave non-finite values")
        _check(np.array_equal(before, np.asarray(clip.frames)), state, "predict changed the clip's frames")


def check_determinism(state: MethodCheck) -> None:
    """Same parameters and seed (and the same training, for a training method) give the same signal."""
    first, second = state.instance("a"), state.instance("b")
    for clip in state.test_clips():
        once = _outputs(first, clip, state)
        _same(_outputs(first, clip, state), once, state, "predicting twice differs")
        _same(
            _outputs(second, clip, state),
            once,
            state,
            "two instances (same params, seed and training) differ",
        )


def check_save_load(state: MethodCheck) -> None:
    """A trained method's weights reload into a fresh instance that predicts the same; others save nothing."""
    method = state.instance()
    path = state.work_dir / "weights" / "model.bin"
    try:
        method.save(path)
    except NotImplementedError:
        _check(not method.trains, state, "trains but cannot save its weights")
        return
    _check(path.is_file(), state, f"save({path}) wrote no file")
    fresh = state.cls(**state.params)
    fresh.load(path)
    for clip in state.test_clips():
        _same(_outputs(fresh, clip, state), _outputs(method, clip, state), state,
              "save then load changes the predictions")  # fmt: skip


METHOD_CHECKS: tuple[Callable[[MethodCheck], None], ...] = (
    check_contract,
    check_params,
    check_output,
    check_determinism,
    check_save_load,
)
"""Every check, in the order `check_method` runs them (the contract first: the others rely on it)."""


def check_method(
    cls: type[Method],
    params: Mapping[str, Any] | None = None,
    *,
    work_dir: Path | None = None,
    seed: int = 0,
    **clips: Any,
) -> list[str]:
    """Run every conformance check on method class `cls` built with `params`; the checks' names.

    `params` should be small: a training method is fitted twice (determinism). `work_dir` holds its
    training folders and weights (a temporary folder when None). `clips` tunes the test data:
    `train_frames` (128), `test_frames` ((131, 97)), `size` (32 pixels). Raises AssertionError naming
    the failed check.
    """
    with tempfile.TemporaryDirectory(prefix="rppgbench-check-") as scratch:
        state = MethodCheck(cls, dict(params or {}), Path(work_dir or scratch), seed, **clips)
        for check in METHOD_CHECKS:
            try:
                check(state)
            except AssertionError as exc:
                raise AssertionError(f"{check.__name__}: {exc}") from exc
    return [check.__name__ for check in METHOD_CHECKS]
