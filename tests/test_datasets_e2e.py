"""End to end through the CLI (with plugin commands): `rppgbench prepare`, then
`rppgbench run --method pos` on each dataset's fixture tree (real layout, known HR) with a tiny
2-fold protocol file; broken videos become listed per-video failures while healthy ones get results.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("rppgbench.runner")
pytest.importorskip("rppgbench.preprocess")
pytest.importorskip("rppgbench_plugins.classical")

from rppgbench.cli import build_cli  # noqa: E402
from rppgbench.testing import break_empty_subject, break_missing_reference, break_video, make_tree  # noqa: E402

DATASETS = [
    "vipl", "mahnob", "mmse", "ubfc", "pure", "cohface", "scamps", "mmpd", "ubfcphys", "ibvp", "lgippgi", "bp4d",
]  # fmt: skip


def write_protocol(
    path, dataset: str | None = None, cross: tuple[str, str] | None = None, reference="waveform"
):
    """A tiny protocol file: 2 subject folds (or train/test datasets), BlazeFace, whole-video HR."""
    if cross:
        train, test = cross
        head = f'[split]\nkind = "cross"\n[split.train]\nname = "{train}"\n[split.test]\nname = "{test}"\n'
    else:
        head = f'[dataset]\nname = "{dataset}"\n[split]\nkind = "kfold"\nfolds = 2\nseed = 0\n'
    path.write_text(
        f'name = "tiny"\ndescription = "fixture protocol"\n{head}'
        '[preprocess]\nface = "blazeface"\nsize = 64\n'
        '[test]\nmode = "whole"\nmin_seconds = 3.0\n'
        f'[reference]\nsource = "{reference}"\n'
        "[hr]\nband_bpm = [40, 180]\n"
    )
    return path


def invoke(args):
    result = CliRunner().invoke(build_cli(), args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("dataset", DATASETS)
def test_prepare_and_run_pos_on_each_dataset_fixture(dataset, tmp_path):
    fixture = make_tree(dataset, tmp_path / "data")
    reference = "dataset_hr" if fixture.reference_kind == "hr" else "waveform"
    protocol = write_protocol(tmp_path / "tiny.toml", dataset, reference=reference)
    prepared = invoke(["prepare", "--dataset", dataset, "--data-root", str(fixture.root), "--quiet"])
    assert "fail" not in prepared.output.lower() or "0 failed" in prepared.output.lower()
    out = tmp_path / "run"
    invoke(["run", "--method", "pos", "--protocol", str(protocol), "--data-root", str(fixture.root),
            "--out", str(out), "--quiet"])  # fmt: skip

    predictions = pd.read_csv(out / "predictions.csv", dtype={"subject": str, "session": str})
    metrics = json.loads((out / "metrics.json").read_text())
    known = fixture.by_id()
    assert sorted(predictions["video_id"]) == sorted(known)
    assert (predictions["status"] == "ok").all(), predictions["error"].tolist()
    assert set(predictions["fold"].astype(str)) == {"1", "2"}
    assert metrics["n_failed"] == 0 and metrics["overall"]["n"] == len(known)
    for row in predictions.itertuples():
        assert row.hr_ref == pytest.approx(known[row.video_id].hr_bpm, abs=3.0)
        assert row.hr_pred == pytest.approx(known[row.video_id].hr_bpm, abs=6.0)  # POS reads the pulse


def test_broken_videos_are_listed_and_healthy_ones_scored(tmp_path):
    fixture = make_tree("ubfc", tmp_path / "data", subjects=4)
    corrupt = break_video(fixture, 0)
    missing = break_missing_reference(fixture, 1)
    empty = break_empty_subject(fixture)
    protocol = write_protocol(tmp_path / "tiny.toml", "ubfc")
    out = tmp_path / "run"
    result = invoke(["run", "--method", "pos", "--protocol", str(protocol), "--data-root", str(fixture.root),
                     "--out", str(out), "--quiet"])  # fmt: skip

    metrics = json.loads((out / "metrics.json").read_text())
    failures = {f["video_id"]: f["error"] for f in metrics["failures"]}
    assert set(failures) == {"ubfc/subject1/1", "ubfc/subject2/1", "ubfc/subject99/1"}
    assert str(corrupt) in failures["ubfc/subject1/1"]
    assert str(missing) in failures["ubfc/subject2/1"]
    assert str(empty) in failures["ubfc/subject99/1"]
    assert metrics["n_failed"] == 3 and metrics["overall"]["n"] == 2
    predictions = pd.read_csv(out / "predictions.csv")
    ok = predictions[predictions["status"] == "ok"]
    assert sorted(ok["video_id"]) == ["ubfc/subject3/1", "ubfc/subject4/1"]
    assert "subject99" in result.output  # the summary names the failed videos


def test_cross_dataset_protocol_with_named_data_roots(tmp_path):
    train = make_tree("pure", tmp_path / "pure", subjects=2)
    test = make_tree("ubfc", tmp_path / "ubfc", subjects=2)
    protocol = write_protocol(tmp_path / "cross.toml", cross=("pure", "ubfc"))
    out = tmp_path / "run"
    invoke(["run", "--method", "pos", "--protocol", str(protocol), "--data-root", f"pure={train.root}",
            "--data-root", f"ubfc={test.root}", "--out", str(out), "--quiet"])  # fmt: skip
    predictions = pd.read_csv(out / "predictions.csv")
    assert sorted(predictions["video_id"]) == sorted(test.by_id())
    assert (predictions["status"] == "ok").all()
    assert (predictions["dataset"] == "ubfc").all()


@pytest.mark.parametrize(
    "name",
    [
        "vipl-5fold", "mahnob-5fold", "vipl-to-mmse", "ubfc", "pure", "pure-to-ubfc", "ubfc-to-pure", "cohface",
        "scamps-to-ubfc", "scamps-to-mmpd", "pure-to-mmpd", "ubfc-to-mmpd", "pure-scamps-to-ubfc",
    ],
)  # fmt: skip
def test_shipped_protocols_load_and_build_their_loaders(name, tmp_path):
    from rppgbench.plugins import registry
    from rppgbench.protocol import load_protocol

    protocol = load_protocol(name)
    assert protocol.preprocess["face"] == "blazeface"
    for spec in protocol.datasets.values():
        loader = registry().dataset(spec.name)(tmp_path, **spec.options)
        if spec.name == "mahnob":
            assert loader.options["frame_range"] == (306, 2135) and loader.options["ecg_channel"] == "EXG2"
