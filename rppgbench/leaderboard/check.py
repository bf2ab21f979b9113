"""Metric baselines and regression checks for CI.

`make_baseline` freezes a run's overall metrics, video counts and provenance into a JSON file;
`check_run` compares a new run of the same protocol and method against it, direction-aware (errors
must not grow, r must not shrink) within per-metric tolerances. More failed videos is a regression too.

Default tolerances are tight because runs reproduce: the same command on the same data gives the
same metrics (identical for the CI baselines on CPU). Error metrics (sd, mae, rmse, mape) may worsen
by 1% of the baseline's value (relative, so a 14% MAE regression fails whatever the scale), r by
0.01, and no video more may fail. `--tolerance mae=0.5` sets an absolute allowance, `mae=5%` a
relative one.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rppgbench.errors import ConfigError
from rppgbench.leaderboard.results import RunResult
from rppgbench.leaderboard.tables import HIGHER_IS_BETTER
from rppgbench.protocol import FINGERPRINT_SECTIONS, fingerprint
from rppgbench.provenance import now_iso
from rppgbench.store import write_json

FORMAT = "rppgbench-baseline/2"
LEGACY_FORMAT = "rppgbench-baseline/1"
"""Baselines whose fingerprint leaves out [dataset]; still checked, with a note to regenerate them."""
LEGACY_SECTIONS = ("split", "test", "reference", "hr")
BASELINE_METRICS = ("sd", "mae", "rmse", "mape", "r")


@dataclass(frozen=True)
class Tolerance:
    """How much a metric may worsen: an absolute amount, or a percentage of the baseline's value."""

    value: float
    relative: bool = False

    def allowed(self, baseline: float) -> float:
        """The allowed worsening for this baseline value."""
        return self.value / 100.0 * abs(baseline) if self.relative else self.value

    @classmethod
    def parse(cls, text: str | float) -> Tolerance:
        """`0.5` (absolute) or `2%` (relative); ValueError if malformed or negative."""
        raw = str(text).strip()
        relative = raw.endswith("%")
        number = float(raw.rstrip("%"))
        if not math.isfinite(number) or number < 0:
            raise ValueError(raw)
        return cls(number, relative)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.relative else f"{self.value:g}"


DEFAULT_TOLERANCES = {
    "sd": Tolerance(1.0, True),
    "mae": Tolerance(1.0, True),
    "rmse": Tolerance(1.0, True),
    "mape": Tolerance(1.0, True),
    "r": Tolerance(0.01),
    "failed": Tolerance(0),
}


def parse_tolerances(text: str | None) -> dict[str, Tolerance]:
    """`"mae=0.5,rmse=2%,r=0.05"` over the defaults; ConfigError on a malformed or negative entry."""
    tolerances = dict(DEFAULT_TOLERANCES)
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        try:
            tolerance = Tolerance.parse(value)
        except ValueError:
            tolerance = None
        if not sep or not key.strip() or tolerance is None:
            raise ConfigError(
                f"--tolerance entry {item.strip()!r} is not METRIC=NUMBER or METRIC=PERCENT% (non-negative)"
            )
        tolerances[key.strip().lower()] = tolerance
    return tolerances


def make_baseline(run: RunResult) -> dict[str, Any]:
    """The baseline record of a run: protocol, method, metrics, counts and a provenance summary."""
    overall = run.overall
    prov = run.provenance
    git = prov.get("git") or {}
    return {
        "format": FORMAT,
        "protocol": run.protocol,
        "protocol_fingerprint": run.fingerprint,
        "method": run.method,
        "params": run.params,
        "metrics": {m: _number(overall.get(m)) for m in BASELINE_METRICS if m in overall},
        "n_videos": run.n_videos,
        "n_failed": run.n_failed,
        "provenance": {
            "created": now_iso(),
            "run_dir": str(run.path),
            "run_status": run.run.get("status"),
            "run_started": run.run.get("started"),
            "git_commit": git.get("commit"),
            "git_dirty": git.get("dirty"),
            "rppgbench": prov.get("rppgbench"),
            "python": prov.get("python"),
            "platform": prov.get("platform"),
            "accelerator": prov.get("accelerator"),
            "packages": prov.get("packages"),
        },
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def write_baseline(run: RunResult, path: str | Path) -> dict[str, Any]:
    """Write the baseline of `run` to `path` (JSON); returns it."""
    path = Path(path)
    if path.suffix.lower() not in (".json", ""):
        raise ConfigError(f"{path}: baselines are written as JSON; use a .json file name")
    baseline = make_baseline(run)
    write_json(path, baseline)
    return baseline


def read_baseline(path: str | Path) -> dict[str, Any]:
    """Read a baseline (.json, or .toml with the same keys); ConfigError names the file and problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: baseline file not found") from exc
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: malformed baseline ({exc})") from exc
    missing = [k for k in ("protocol", "method", "metrics") if k not in data]
    if missing:
        raise ConfigError(f"{path}: baseline lacks {', '.join(missing)}")
    return data


@dataclass(frozen=True)
class Finding:
    """One metric compared with its baseline."""

    metric: str
    baseline: float | None
    now: float | None
    tolerance: Tolerance
    higher_is_better: bool

    def describe(self) -> str:
        """`metric: baseline X, now Y, tolerance T (higher/lower is better)`."""
        way = "higher" if self.higher_is_better else "lower"
        return (
            f"{self.metric}: baseline {_fmt(self.baseline)}, now {_fmt(self.now)}, "
            f"tolerance {self.tolerance} ({way} is better)"
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


@dataclass
class CheckResult:
    """Regressions (beyond tolerance, in the bad direction), improvements beyond tolerance, and notes."""

    regressions: list[Finding] = field(default_factory=list)
    improvements: list[Finding] = field(default_factory=list)
    passed: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing regressed."""
        return not self.regressions


def check_run(
    run: RunResult, baseline: dict[str, Any], tolerances: dict[str, Tolerance | float] | None = None
) -> CheckResult:
    """Compare `run` with `baseline`; ConfigError (exit 2) when they are not the same benchmark.

    A plain number as tolerance is absolute (bpm for the errors).
    """
    given = {k: v if isinstance(v, Tolerance) else Tolerance(float(v)) for k, v in (tolerances or {}).items()}
    tolerances = {**DEFAULT_TOLERANCES, **given}
    if baseline.get("protocol") != run.protocol or baseline.get("method") != run.method:
        raise ConfigError(
            f"baseline is {baseline.get('method')!r} on {baseline.get('protocol')!r} but the run "
            f"{run.path} is {run.method!r} on {run.protocol!r}: choose the matching baseline"
        )
    legacy = baseline.get("format") == LEGACY_FORMAT
    sections = LEGACY_SECTIONS if legacy else FINGERPRINT_SECTIONS
    now = fingerprint(run.protocol_definition, sections)
    if baseline.get("protocol_fingerprint") not in (None, now):
        raise ConfigError(
            f"protocol {run.protocol!r} changed ({'/'.join(sections)}) since the baseline was made; "
            "regenerate it with `rppgbench baseline`"
        )
    if baseline.get("n_videos") is not None and int(baseline["n_videos"]) != run.n_videos:
        raise ConfigError(
            f"the baseline covers {baseline['n_videos']} test videos but the run has {run.n_videos}: "
            "they did not evaluate the same videos; regenerate the baseline"
        )
    result = CheckResult()
    if legacy:
        result.notes.append(
            f"the baseline ({LEGACY_FORMAT}) does not fingerprint [dataset]; regenerate it so that a changed "
            "dataset option is noticed"
        )
    if baseline.get("params") is not None and baseline["params"] != run.params:
        result.notes.append(
            f"method parameters differ from the baseline's: {baseline['params']} -> {run.params}"
        )
    overall = run.overall
    for metric, base in baseline["metrics"].items():
        if base is None or metric not in tolerances:
            if base is not None:
                result.notes.append(f"{metric}: no tolerance given, not checked")
            continue
        now = _number(overall.get(metric))
        finding = Finding(metric, float(base), now, tolerances[metric], metric in HIGHER_IS_BETTER)
        _classify(result, finding)
    if baseline.get("n_failed") is not None:
        finding = Finding("failed videos", float(baseline["n_failed"]), float(run.n_failed),
                          tolerances["failed"], False)  # fmt: skip
        _classify(result, finding)
    return result


def _classify(result: CheckResult, finding: Finding) -> None:
    base, now = finding.baseline, finding.now
    if now is None:  # a metric that could be computed before and no longer can is a regression
        result.regressions.append(finding)
        return
    change = (now - base) if finding.higher_is_better else (base - now)  # positive = better
    tol = finding.tolerance.allowed(base)
    if change < -tol - 1e-12:
        result.regressions.append(finding)
    elif change > tol + 1e-12:
        result.improvements.append(finding)
    else:
        result.passed.append(finding)


def format_check(run: RunResult, baseline_path: str | Path, result: CheckResult) -> str:
    """Human-readable check outcome: regressions first, then improvements, notes and a verdict."""
    lines = [f"check {run.method} on {run.protocol} ({run.path}) against {baseline_path}"]
    for finding in result.regressions:
        lines.append(f"  REGRESSION {finding.describe()}")
    for finding in result.improvements:
        lines.append(f"  improved   {finding.describe()} (consider updating the baseline)")
    for finding in result.passed:
        lines.append(f"  ok         {finding.describe()}")
    lines += [f"  note: {note}" for note in result.notes]
    verdict = "FAILED" if result.regressions else "passed"
    lines.append(f"{verdict}: {len(result.regressions)} regression(s)")
    return "\n".join(lines) + "\n"
