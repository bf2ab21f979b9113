"""Paired statistics against independent computations (scipy, scikit-posthocs, plain numpy)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs
from scipy import stats

from rppgbench.leaderboard import stats as lbstats
from rppgbench.leaderboard.results import RunResult


def make_result(label: str, errors: dict[str, float | None], protocol: str = "p") -> RunResult:
    """An in-memory run: video_id -> signed error (None = failed), reference HR 70 bpm."""
    rows = [
        {"video_id": v, "status": "failed" if e is None else "ok",
         "hr_pred": math.nan if e is None else 70.0 + e, "hr_ref": math.nan if e is None else 70.0}
        for v, e in errors.items()
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    metrics = {"n_videos": len(rows), "n_failed": sum(e is None for e in errors.values())}
    return RunResult(Path(label), label, protocol, {}, {}, {}, metrics, frame)


def test_bootstrap_matches_seeded_reference_and_contains_estimate() -> None:
    errors = np.array([1.0, -2.0, 0.5, 4.0, -1.0, 3.0, -0.5])
    ci = lbstats.bootstrap_ci(errors, "mae", n_resamples=2000, seed=7)
    rng = np.random.default_rng(7)
    index = rng.integers(0, errors.size, size=(2000, errors.size))
    reference = np.array([np.mean(np.abs(errors[row])) for row in index])
    low, high = np.percentile(reference, [2.5, 97.5])
    assert ci.estimate == pytest.approx(np.mean(np.abs(errors)))
    assert (ci.low, ci.high) == (pytest.approx(low), pytest.approx(high))
    assert ci.low <= ci.estimate <= ci.high
    rmse = lbstats.bootstrap_ci(errors, "rmse", n_resamples=2000, seed=7)
    assert rmse.estimate == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert rmse.low <= rmse.estimate <= rmse.high


def test_bootstrap_chunking_does_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    errors = np.random.default_rng(1).normal(0, 3, size=50)
    whole = lbstats.bootstrap_distribution(errors, "rmse", n_resamples=300, seed=3)
    monkeypatch.setattr(lbstats, "_CHUNK_VALUES", 170)  # three rows per chunk
    chunked = lbstats.bootstrap_distribution(errors, "rmse", n_resamples=300, seed=3)
    np.testing.assert_array_equal(whole, chunked)


def test_bootstrap_of_constant_errors_is_degenerate() -> None:
    ci = lbstats.bootstrap_ci(np.full(5, -2.0), "mae", n_resamples=100)
    assert (ci.estimate, ci.low, ci.high) == (2.0, 2.0, 2.0)


def test_paired_bootstrap_difference() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    ci = lbstats.bootstrap_ci(a + 1.0, "mae", n_resamples=500, paired_with=a)
    assert (ci.estimate, ci.low, ci.high) == (pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0))


def test_wilcoxon_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a, b = np.abs(rng.normal(3, 2, 30)), np.abs(rng.normal(4, 2, 30))
    got = lbstats.wilcoxon_test("a", a, "b", b)
    want = stats.wilcoxon(a, b)
    assert got.statistic == pytest.approx(want.statistic) and got.pvalue == pytest.approx(want.pvalue)
    assert got.n == 30 and got.median_difference == pytest.approx(np.median(a - b))
    same = lbstats.wilcoxon_test("a", a, "a2", a.copy())
    assert same.pvalue == 1.0


def test_friedman_nemenyi_and_critical_difference() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.random(12), "y": rng.random(12) + 0.5, "z": rng.random(12) + 1.0})
    got = lbstats.friedman_nemenyi(frame)
    want = stats.friedmanchisquare(frame["x"], frame["y"], frame["z"])
    assert got.statistic == pytest.approx(want.statistic) and got.pvalue == pytest.approx(want.pvalue)
    ranks = frame.rank(axis=1).mean()
    pd.testing.assert_series_equal(got.mean_ranks, ranks, check_names=False)
    reference = scikit_posthocs.posthoc_nemenyi_friedman(frame.to_numpy())
    np.testing.assert_allclose(got.nemenyi.to_numpy(), reference.to_numpy())
    assert list(got.nemenyi.columns) == ["x", "y", "z"]
    # Demšar (2006), Table 5: q_0.05 = 2.343 for k = 3, so CD = 2.343 * sqrt(3 * 4 / (6 * 12)).
    assert got.cd == pytest.approx(2.343 * math.sqrt(12 / 72), abs=1e-3)
    assert lbstats.critical_difference(5, 10) == pytest.approx(2.728 * math.sqrt(30 / 60), abs=1e-3)


def test_alignment_counts_used_and_dropped_videos() -> None:
    a = make_result("a", {"v1": 1.0, "v2": -1.0, "v3": 2.0, "v4": 0.5})
    b = make_result("b", {"v1": 2.0, "v2": None, "v3": -3.0, "v5": 1.0})
    aligned = lbstats.align([a, b])
    assert list(aligned.signed.index) == ["v1", "v3"]
    assert aligned.scored == {"a": 4, "b": 3} and aligned.dropped == {"a": 2, "b": 1}
    assert aligned.failed == {"a": 0, "b": 1}
    np.testing.assert_allclose(aligned.signed["b"], [2.0, -3.0])


def test_paired_statistics_chooses_the_test_by_method_count() -> None:
    errors = {f"v{i}": float(e) for i, e in enumerate([1, -2, 3, -4, 5, 1.5])}
    two = lbstats.paired_statistics(
        [make_result("a", errors), make_result("b", {k: v * 2 for k, v in errors.items()})], n_resamples=200
    )
    assert len(two.wilcoxon) == 1 and two.friedman is None
    assert two.intervals["b"]["mae"].estimate == pytest.approx(2 * two.intervals["a"]["mae"].estimate)
    three = lbstats.paired_statistics(
        [make_result(n, {k: v * s for k, v in errors.items()}) for n, s in (("a", 1), ("b", 2), ("c", 3))],
        n_resamples=200,
    )
    assert three.friedman is not None and list(three.friedman.mean_ranks) == [1.0, 2.0, 3.0]
    text = three.to_markdown()
    assert "Aligned on 6 video(s) scored by all 3 method(s)" in text and "Nemenyi" in text


def test_statistics_refuse_mixed_protocols_and_too_few_videos() -> None:
    with pytest.raises(Exception, match="one protocol"):
        lbstats.align([make_result("a", {"v": 1.0}, "p"), make_result("b", {"v": 1.0}, "q")])
    with pytest.raises(Exception, match="at least 2"):
        lbstats.paired_statistics([make_result("a", {"v": 1.0, "w": 2.0}), make_result("b", {"v": 1.0})])
