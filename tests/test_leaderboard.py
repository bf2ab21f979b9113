"""Leaderboard commands on result-directory fixtures: compare tables, published rows, check, report."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rppgbench.leaderboard.commands import baseline_command, check_command, compare_command, report_command
from rppgbench.leaderboard.published import FAMILIES, load_published
from rppgbench.leaderboard.results import load_run, load_runs
from rppgbench.store import write_json, write_predictions

PROTOCOL = {
    "name": "synth-mini",
    "description": "fixture",
    "dataset": {"name": "synthetic"},
    "split": {"kind": "kfold", "folds": 2, "seed": 0},
    "test": {"mode": "clips"},
    "reference": {"source": "waveform"},
    "hr": {"method": "welch"},
}
VIDEOS = [  # video_id, subject, scenario, source, reference HR
    ("synth/s1/a", "s1", "still", "rgb", 60.0),
    ("synth/s1/b", "s1", "talk", "rgb", 72.0),
    ("synth/s2/a", "s2", "still", "nir", 85.0),
    ("synth/s2/b", "s2", "talk", "nir", 98.0),
    ("synth/s3/a", "s3", "still", "rgb", 110.0),
    ("synth/s3/b", "s3", "talk", "rgb", 125.0),
]


def make_run(
    folder: Path,
    method: str,
    errors: list[float | None],
    overall: dict[str, float],
    protocol: dict | None = None,
    params: dict | None = None,
    trains: bool = False,
) -> Path:
    """Write a run directory like the runner does: per-video errors (None = failed video) and metrics."""
    protocol = protocol or PROTOCOL
    rows = []
    for (video, subject, scenario, source, ref), error in zip(VIDEOS, errors, strict=True):
        failed = error is None
        rows.append({
            "video_id": video, "dataset": "synthetic", "subject": subject, "session": video[-1],
            "scenario": scenario, "source": source, "fold": "1" if subject != "s3" else "2",
            "status": "failed" if failed else "ok", "error": "no face found" if failed else "",
            "hr_pred": math.nan if failed else ref + error, "hr_ref": math.nan if failed else ref,
            "abs_error": math.nan if failed else abs(error), "snr_db": 1.0, "n_windows": 3,
            "window_hr_pred": "", "window_hr_ref": "",
        })  # fmt: skip
    n_failed = sum(e is None for e in errors)
    write_predictions(folder / "predictions.csv", rows)
    write_json(folder / "metrics.json", {
        "overall": overall, "folds": {}, "n_videos": len(rows), "n_ok": len(rows) - n_failed,
        "n_failed": n_failed, "failures": [],
    })  # fmt: skip
    write_json(folder / "run.json", {
        "status": "complete",
        "config": {"method": {"name": method, "api_version": 1, "trains": trains, "params": params or {}},
                   "protocol": protocol, "seed": 0, "hr": {}, "datasets": {}},
        "method": method, "protocol": protocol["name"], "folds": ["1", "2"],
        "started": "2025-01-01T00:00:00+00:00",
        "provenance": {"rppgbench": "0.1.0", "python": "3.11", "host": "ci",
                       "git": {"commit": "abc123", "dirty": False}},
    })  # fmt: skip
    return folder


CHROM_ERRORS = [1.0, -2.0, 3.0, -1.5, 0.5, 2.5]
POS_ERRORS = [2.0, -3.0, 1.0, -4.0, 2.5, 3.5]
PHYSNET_ERRORS = [0.5, -1.0, None, -2.0, 1.0, 1.5]
OVERALL = {
    "chrom": {"n": 6, "sd": 2.21, "mae": 1.75, "rmse": 1.97, "mape": 2.1, "r": 0.991},
    "pos": {"n": 6, "sd": 3.19, "mae": 2.67, "rmse": 2.85, "mape": 3.3, "r": 0.972},
    "physnet": {"n": 5, "sd": 1.39, "mae": 1.2, "rmse": 1.32, "mape": 1.4, "r": 0.996},
}


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """Three runs of synth-mini under one folder; physnet failed one video."""
    make_run(tmp_path / "runs" / "chrom", "chrom", CHROM_ERRORS, OVERALL["chrom"])
    make_run(tmp_path / "runs" / "pos", "pos", POS_ERRORS, OVERALL["pos"])
    make_run(tmp_path / "runs" / "physnet", "physnet", PHYSNET_ERRORS, OVERALL["physnet"], trains=True)
    return tmp_path / "runs"


def invoke(command, args: list[str]):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


EXPECTED_MARKDOWN = """\
### synth-mini

| Method   | Family              |    SD (bpm) |   MAE (bpm) |   RMSE (bpm) |           r |   Failed |
|:---------|:--------------------|------------:|------------:|-------------:|------------:|---------:|
| chrom    | traditional         | <u>2.21</u> | <u>1.75</u> |  <u>1.97</u> | <u>0.99</u> |      0/6 |
| physnet  | end-to-end learning |    **1.39** |    **1.20** |     **1.32** |    **1.00** |      1/6 |
| pos      | traditional         |        3.19 |        2.67 |         2.85 |        0.97 |      0/6 |

Best in bold, second best underlined (lowest error, highest r).
Failed: videos that could not be scored / test videos of the run.
"""


def test_compare_markdown_exact(runs_dir: Path) -> None:
    result = invoke(compare_command, [runs_dir])
    assert result.exit_code == 0
    assert result.output == EXPECTED_MARKDOWN


def test_compare_latex_booktabs_and_marks(runs_dir: Path) -> None:
    out = invoke(compare_command, [runs_dir, "--format", "latex", "--metrics", "mae,r"]).output
    assert r"\toprule" in out and r"\midrule" in out and r"\bottomrule" in out
    assert r"physnet & end-to-end learning & \textbf{1.20} & \textbf{1.00} & 1/6 \\" in out
    assert r"chrom & traditional & \underline{1.75} & \underline{0.99} & 0/6 \\" in out


def test_compare_csv_and_json_carry_raw_values(runs_dir: Path) -> None:
    csv_text = invoke(compare_command, [runs_dir, "--format", "csv"]).output
    header, *lines = csv_text.strip().splitlines()
    assert header.split(",")[:5] == ["protocol", "method", "family", "published", "source"]
    assert len(lines) == 3
    data = json.loads(
        invoke(compare_command, [runs_dir, "--format", "json", "--metrics", "mae,rmse,r,mape"]).output
    )
    rows = {r["method"]: r for r in data["tables"][0]["rows"]}
    assert rows["physnet"]["mae"] == 1.2 and rows["physnet"]["n_failed"] == 1
    assert rows["physnet"]["best"] == ["mae", "rmse", "r", "mape"]
    assert rows["pos"]["published"] is False and rows["pos"]["mape"] == 3.3


def test_published_rows_for_vipl_without_runs() -> None:
    result = invoke(compare_command, ["--protocol", "vipl-5fold", "--with-published"])
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if line.startswith("| ")][1:]
    methods = [line.split("|")[1].strip() for line in lines]
    names = ("Tulyakov2016", "POS", "CHROM", "RhythmNet", "I3D", "PhysNet", "DeepPhys", "AutoHR")
    assert methods == [f"{m}†" for m in names]
    # The paper's own marks: RhythmNet best on every column, AutoHR second.
    assert (
        "| RhythmNet†    | non-end-to-end learning |    **8.11** |    **5.30** |     **8.14** |    **0.76** |"
        in (result.output)
    )
    assert (
        "| AutoHR†       | end-to-end learning     | <u>8.48</u> | <u>5.68</u> |  <u>8.68</u> | <u>0.72</u> |"
        in (result.output)
    )
    assert (
        "| Tulyakov2016† | traditional             |       18.00 |       15.90 |        21.00 |        0.11 |"
        in (result.output)
    )
    assert (
        "† published result, not reproduced here: Yu et al., AutoHR, IEEE SPL 2020, Table I." in result.output
    )


def test_published_data_is_complete_and_classified() -> None:
    rows = load_published()
    assert {r.protocol for r in rows} == {"vipl-5fold", "mahnob-5fold", "vipl-to-mmse"}
    assert [len(load_published(p)) for p in ("vipl-5fold", "mahnob-5fold", "vipl-to-mmse")] == [8, 10, 6]
    families = {r.method: r.family for r in rows}
    assert {m for m, f in families.items() if f == "traditional"} == {
        "Tulyakov2016",
        "POS",
        "CHROM",
        "Poh2011",
        "Li2014",
    }
    assert {m for m, f in families.items() if f == "non-end-to-end learning"} == {"RhythmNet", "SynRhythm"}
    assert set(families.values()) <= set(FAMILIES)
    deepphys = next(r for r in load_published("mahnob-5fold") if r.method == "DeepPhys")
    assert (
        deepphys.values["mae"] == 4.57
        and math.isnan(deepphys.values["sd"])
        and math.isnan(deepphys.values["r"])
    )
    autohr = next(r for r in load_published("vipl-to-mmse") if r.method == "AutoHR")
    assert autohr.values == {"sd": 5.71, "rmse": 5.87, "r": 0.89} and autohr.published
    assert all(r.method_citation and r.source.startswith("Yu et al., AutoHR") for r in rows)


def test_with_published_keeps_runs_apart(runs_dir: Path, tmp_path: Path) -> None:
    vipl = dict(PROTOCOL, name="vipl-5fold")
    ours = {"sd": 9.0, "mae": 5.0, "rmse": 9.0, "r": 0.8}
    make_run(tmp_path / "vipl" / "chrom", "chrom", CHROM_ERRORS, ours, protocol=vipl)
    data = json.loads(
        invoke(compare_command, [tmp_path / "vipl", "--with-published", "--format", "json"]).output
    )
    rows = data["tables"][0]["rows"]
    ours = [r for r in rows if not r["published"]]
    assert len(rows) == 9 and [r["method"] for r in ours] == ["chrom"]
    assert {r["method"] for r in rows if r["published"]} >= {"CHROM", "AutoHR"}
    assert next(r for r in rows if r["method"] == "chrom")["best"] == [
        "mae",
        "r",
    ]  # beats RhythmNet 5.30, 0.76


def test_one_table_per_protocol_and_mixing_is_an_error(runs_dir: Path, tmp_path: Path) -> None:
    other = make_run(tmp_path / "other" / "chrom", "chrom", CHROM_ERRORS, OVERALL["chrom"],
                     protocol=dict(PROTOCOL, name="synth-other"))  # fmt: skip
    both = invoke(compare_command, [runs_dir, other])
    assert both.exit_code == 0
    assert "### synth-mini" in both.output and "### synth-other" in both.output
    mixed = CliRunner().invoke(
        compare_command, ["--protocol", "synth-mini", str(runs_dir / "pos"), str(other)]
    )
    assert mixed.exit_code == 2
    assert "other protocols" in mixed.output and "synth-other" in mixed.output
    # the same protocol name with a different split is a different benchmark
    changed = make_run(tmp_path / "changed" / "pos", "pos", POS_ERRORS, OVERALL["pos"],
                       protocol=dict(PROTOCOL, split={"kind": "kfold", "folds": 3, "seed": 1}))  # fmt: skip
    clash = CliRunner().invoke(compare_command, [str(runs_dir / "chrom"), str(changed)])
    assert clash.exit_code == 2 and "different protocol definitions" in clash.output


def test_breakdown_by_scenario_recomputes_per_group(runs_dir: Path) -> None:
    out = invoke(
        compare_command, [runs_dir, "--by", "scenario", "--format", "json", "--metrics", "mae,rmse"]
    ).output
    table = json.loads(out)["tables"][1]
    assert table["by"] == "scenario"
    got = {(r["scenario"], r["method"]): r for r in table["rows"]}
    still = np.abs(np.array(CHROM_ERRORS)[[0, 2, 4]])
    assert got[("still", "chrom")]["mae"] == pytest.approx(still.mean())
    assert got[("still", "chrom")]["rmse"] == pytest.approx(np.sqrt(np.mean(still**2)))
    assert got[("still", "physnet")]["n_failed"] == 1 and got[("still", "physnet")]["n_videos"] == 3
    assert got[("still", "physnet")]["mae"] == pytest.approx(0.75)


def test_compare_without_anything_is_a_usage_error() -> None:
    result = CliRunner().invoke(compare_command, [])
    assert result.exit_code == 2 and "nothing to compare" in result.output


def test_compare_stats_reports_alignment(runs_dir: Path) -> None:
    out = invoke(compare_command, [runs_dir, "--stats", "--resamples", "500"]).output
    assert "Aligned on 5 video(s) scored by all 3 method(s)" in out
    assert re.search(r"\| chrom +\| +6 \| +1 \| +0 \|", out)  # chrom lost synth/s2/a to the alignment
    assert "Friedman test" in out and "Nemenyi" in out


def test_load_run_reports_missing_files(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{}")
    with pytest.raises(Exception, match="missing metrics.json, predictions.csv"):
        load_run(tmp_path / "broken")


def test_tidy_labels_duplicate_methods(tmp_path: Path) -> None:
    make_run(tmp_path / "a" / "chrom-w", "chrom", CHROM_ERRORS, OVERALL["chrom"], params={"window": 1.6})
    make_run(tmp_path / "a" / "chrom-d", "chrom", POS_ERRORS, OVERALL["pos"])
    labels = sorted(r.label for r in load_runs([tmp_path / "a"]))
    assert labels == ["chrom (chrom-d)", "chrom (chrom-w)"]


def test_baseline_and_check_exit_codes(runs_dir: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert invoke(baseline_command, [runs_dir / "chrom", "--out", baseline]).exit_code == 0
    saved = json.loads(baseline.read_text())
    assert saved["method"] == "chrom" and saved["protocol"] == "synth-mini"
    assert saved["metrics"]["mae"] == 1.75 and saved["n_failed"] == 0
    assert saved["provenance"]["git_commit"] == "abc123"

    same = CliRunner().invoke(check_command, [str(runs_dir / "chrom"), "--baseline", str(baseline)])
    assert same.exit_code == 0, same.output
    assert "passed: 0 regression(s)" in same.output

    worse = dict(OVERALL["chrom"], mae=2.5, r=0.9)  # MAE +43% > 1%; r -0.091 > 0.01
    make_run(tmp_path / "new" / "chrom", "chrom", CHROM_ERRORS, worse)
    regressed = CliRunner().invoke(
        check_command, [str(tmp_path / "new" / "chrom"), "--baseline", str(baseline)]
    )
    assert regressed.exit_code == 1
    assert "REGRESSION mae: baseline 1.75, now 2.5, tolerance 1% (lower is better)" in regressed.output
    assert "REGRESSION r: baseline 0.991, now 0.9, tolerance 0.01 (higher is better)" in regressed.output
    loose = CliRunner().invoke(check_command, [str(tmp_path / "new" / "chrom"), "--baseline", str(baseline),
                                               "--tolerance", "mae=1,r=0.1"])  # fmt: skip
    assert loose.exit_code == 0, loose.output

    better = dict(OVERALL["chrom"], r=0.999, mae=1.0)  # improvements never fail
    make_run(tmp_path / "better" / "chrom", "chrom", CHROM_ERRORS, better)
    assert (
        CliRunner()
        .invoke(check_command, [str(tmp_path / "better" / "chrom"), "--baseline", str(baseline)])
        .exit_code
        == 0
    )


def test_default_tolerance_fails_a_14_percent_mae_regression_and_passes_reproduction(
    runs_dir: Path, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    invoke(baseline_command, [runs_dir / "chrom", "--out", baseline])
    folders = {}
    for factor, code in ((1.14, 1), (1.0 + 1e-4 / 1.75, 0)):  # 14% worse fails; a 1e-4 bpm wobble passes
        folders[factor] = folder = tmp_path / f"x{factor}" / "chrom"
        make_run(folder, "chrom", CHROM_ERRORS, dict(OVERALL["chrom"], mae=1.75 * factor))
        result = CliRunner().invoke(check_command, [str(folder), "--baseline", str(baseline)])
        assert result.exit_code == code, result.output
    loose = [str(folders[1.14]), "--baseline", str(baseline), "--tolerance", "mae=20%"]
    assert CliRunner().invoke(check_command, loose).exit_code == 0


def test_check_more_failed_videos_is_a_regression(runs_dir: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    invoke(baseline_command, [runs_dir / "chrom", "--out", baseline])
    make_run(tmp_path / "f" / "chrom", "chrom", [None, *CHROM_ERRORS[1:]], OVERALL["chrom"])
    result = CliRunner().invoke(check_command, [str(tmp_path / "f" / "chrom"), "--baseline", str(baseline)])
    assert result.exit_code == 1
    assert "REGRESSION failed videos: baseline 0, now 1" in result.output


def test_check_mismatched_method_or_protocol_exits_2(runs_dir: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    invoke(baseline_command, [runs_dir / "chrom", "--out", baseline])
    result = CliRunner().invoke(check_command, [str(runs_dir / "pos"), "--baseline", str(baseline)])
    assert result.exit_code == 2 and "choose the matching baseline" in result.output
    other = make_run(tmp_path / "o" / "chrom", "chrom", CHROM_ERRORS, OVERALL["chrom"],
                     protocol=dict(PROTOCOL, name="synth-other"))  # fmt: skip
    assert CliRunner().invoke(check_command, [str(other), "--baseline", str(baseline)]).exit_code == 2
    bad = CliRunner().invoke(
        check_command, [str(runs_dir / "chrom"), "--baseline", str(baseline), "--tolerance", "mae"]
    )
    assert bad.exit_code == 2


def test_check_notices_a_changed_dataset_option(runs_dir: Path, tmp_path: Path) -> None:
    """A frame range or an ECG channel is part of what is measured: `check` refuses to compare across it."""
    baseline = tmp_path / "b.json"
    invoke(baseline_command, [runs_dir / "chrom", "--out", baseline])
    dataset = {"name": "synthetic", "options": {"frame_range": [306, 2135]}}
    moved = make_run(tmp_path / "d" / "chrom", "chrom", CHROM_ERRORS, OVERALL["chrom"],
                     protocol=dict(PROTOCOL, dataset=dataset))  # fmt: skip
    result = CliRunner().invoke(check_command, [str(moved), "--baseline", str(baseline)])
    assert result.exit_code == 2 and "changed (dataset/split/test/reference/hr)" in result.output, (
        result.output
    )
    # a baseline of the format before [dataset] was fingerprinted still checks, and says to regenerate it
    from rppgbench.leaderboard.check import LEGACY_FORMAT, LEGACY_SECTIONS
    from rppgbench.protocol import fingerprint

    old = json.loads(baseline.read_text())
    old.update(format=LEGACY_FORMAT, protocol_fingerprint=fingerprint(PROTOCOL, LEGACY_SECTIONS))
    baseline.write_text(json.dumps(old))
    legacy = CliRunner().invoke(check_command, [str(runs_dir / "chrom"), "--baseline", str(baseline)])
    assert legacy.exit_code == 0 and "does not fingerprint [dataset]" in legacy.output, legacy.output


def test_report_is_self_contained_html(runs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = invoke(report_command, [runs_dir, "--out", out, "--stats", "--resamples", "2000"])
    assert result.exit_code == 0
    page = (out / "index.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from anywhere
    assert "<link" not in page and "<script" not in page
    assert "<table class='results'>" in page and "<b>1.20</b>" in page and "<u>1.75</u>" in page
    assert page.count("<svg") >= 2 + 3  # bars, HR range, CD diagram, one agreement figure per run
    assert "Friedman test" in page
    assert (out / "figures" / "synth-mini-bars.png").stat().st_size > 1000
    assert (out / "figures" / "synth-mini-physnet-agreement.svg").is_file()
    assert (out / "tables" / "synth-mini.tex").read_text().count(r"\toprule") == 1


def test_a_missing_path_is_an_error_not_the_packaged_results(tmp_path: Path) -> None:
    missing = invoke(compare_command, [tmp_path / "results" / "synth-5fold"])
    assert missing.exit_code != 0 and "no such run directory" in missing.output
    assert "leaderboard:synth-5fold" in missing.output  # the packaged results are named, not used
    packaged = invoke(compare_command, ["leaderboard:synth-5fold"])
    assert packaged.exit_code == 0 and "chrom" in packaged.output


def test_report_figure_helpers_keep_labels_apart() -> None:
    from rppgbench.leaderboard.plots import cd_cliques, spread_labels

    placed = spread_labels([0.10, 0.0, 0.05], gap=1.0)
    ordered = sorted(placed)
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(ordered, ordered[1:], strict=False))
    assert placed.index(min(placed)) == 1  # the lowest line keeps the lowest label
    assert cd_cliques([1.0, 1.5, 1.9, 3.5, 3.6], cd=1.0) == [(0, 2), (3, 4)]


def test_report_has_html_statistics_intervals_and_loss_curves(runs_dir: Path, tmp_path: Path) -> None:
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e} for e in (1, 2, 3)]
    fold = runs_dir / "physnet" / "folds" / "1"
    fold.mkdir(parents=True, exist_ok=True)
    (fold / "training.json").write_text(json.dumps({"history": history}))
    out = tmp_path / "report"
    result = invoke(report_command, [runs_dir, "--out", out, "--stats", "--resamples", "500"])
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    assert "<th>MAE 95% CI</th>" in page and "<pre>" not in page
    assert "95% bootstrap intervals" in page
    assert (out / "figures" / "synth-mini-physnet-loss.svg").is_file()
    assert not (out / "figures" / "synth-mini-pos-loss.svg").exists()
