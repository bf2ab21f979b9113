"""Shipped weights: model cards and checksums, the release command's cards, `predict` without `--weights`,
`--recipe pretrained` (evaluation without training), and `list`/`show`."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from rppgbench.cli import build_cli
from rppgbench.errors import DataError
from rppgbench.plugins import registry
from rppgbench.recipes import get_recipe, parse_recipe
from rppgbench.release import add_evaluation, to_toml, write_release
from rppgbench.runner import RunOptions, run
from rppgbench.store import read_json
from rppgbench.training.checkpoint import load_checkpoint
from rppgbench.weights import default_weights, get_weights, list_weights, read_card

ROOT = Path(__file__).resolve().parents[1]
LICENCE = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
SHIPPED = {
    "deepphys": "deepphys-synth-v2",
    "physnet": "physnet-synth-v2",
    "rppgnet": "rppgnet-synth-v2",
    "autohr": "autohr-synth-v2",
    "tscan": "tscan-synth-v2",
    "physformer": "physformer-synth-v2",
    "i3d": "i3d-synth-v2",
}
RELEASE_SCENARIOS = {
    "stationary", "talking", "motion", "dim", "illumination", "distance", "compression", "h264-mid", "h264-low",
}  # fmt: skip


def _cli(*args: str):
    return CliRunner().invoke(build_cli(), [*map(str, args)])


def _damaged_copy(weights, folder: Path):
    """A copy of shipped weights and their card in `folder`, with one byte of the weights flipped."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(weights.card_path, folder / weights.card_path.name)
    data = bytearray(weights.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / weights.path.name).write_bytes(bytes(data))
    return read_card(folder / weights.card_path.name)


# -- the release command, on a tiny real training run ----------------------------------------------------
@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory):
    """DeepPhys trained for one short epoch on synth-mini fold 1, POS on the same fold, and their release."""
    root = tmp_path_factory.mktemp("release")
    params = {"epochs": 1, "windows_per_clip": 1, "size": 12}
    trained = run(RunOptions(method="deepphys", protocol="synth-mini", recipe="cpu", params=params,
                             folds=["1"], out=root / "deepphys", progress=False))  # fmt: skip
    pos = run(RunOptions(method="pos", protocol="synth-mini", folds=["1"], out=root / "pos", progress=False))
    card = write_release(trained, "deepphys-tiny-v1", root / "weights", root / "recipes", reference=pos,
                         command="pytest", limits=["tiny test weights"])  # fmt: skip
    return {"root": root, "trained": trained, "pos": pos, "card": card}


def test_release_copies_the_weights_and_writes_a_card_from_the_run(tiny_release):
    trained, card_path = tiny_release["trained"], tiny_release["card"]
    weights = read_card(card_path)
    model = trained / "folds" / "1" / "model.pt"
    assert weights.verify().read_bytes() == model.read_bytes()
    assert weights.sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    card = weights.card
    assert (
        card["method"] == "deepphys"
        and card["licence"] == LICENCE
        and card["limits"] == ["tiny test weights"]
    )
    assert card["recipe"]["name"] == "cpu" and card["model"]["size"] == 12
    assert "CPU" in card["training"]["hardware"] and card["training"]["commit"]
    data = card["data"]
    assert (data["dataset"], data["preset"], data["seed"]) == ("synthetic", "synth-mini", 0)
    groups = [set(data[k]) for k in ("train_identities", "selection_identities", "heldout_identities")]
    assert all(groups) and not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert set.union(*groups) == {f"p00{i}" for i in range(1, 7)}
    assert card["preprocess"] == {"face": "dataset", "size": 64, "enlarge": 1.6}

    (evaluation,) = weights.evaluations
    run_metrics = read_json(trained / "metrics.json")["overall"]
    assert evaluation["overall"]["n"] == run_metrics["n"] == 4
    assert evaluation["overall"]["mae"] == pytest.approx(run_metrics["mae"], abs=1e-4)
    assert set(evaluation["scenarios"]) == {"stationary", "motion"}
    assert evaluation["scenarios"]["stationary"]["n"] == 2
    pos_mae = read_json(tiny_release["pos"] / "metrics.json")["overall"]["mae"]
    assert evaluation["reference"]["method"] == "pos"
    assert evaluation["reference"]["overall"]["mae"] == pytest.approx(pos_mae, abs=1e-4)

    recipe_file = tiny_release["root"] / "recipes" / "deepphys-pretrained.toml"
    recipe = parse_recipe(recipe_file.read_text(), str(recipe_file))
    assert (recipe.method, recipe.name, recipe.weights) == ("deepphys", "pretrained", "deepphys-tiny-v1")
    assert recipe.notes


def test_pretrained_recipe_evaluates_registered_weights_and_the_card_takes_the_result(
    tiny_release, monkeypatch
):
    root = tiny_release["root"]
    plugins = registry()
    monkeypatch.setattr(plugins, "weights_dirs", [root / "weights"])
    monkeypatch.setattr(plugins, "recipe_dirs", [root / "recipes"])
    out = run(RunOptions(method="deepphys", protocol="synth-mini", recipe="pretrained", out=root / "pretrained",
                         progress=False))  # fmt: skip
    fold = read_json(out / "folds" / "1" / "metrics.json")
    trained = read_json(tiny_release["trained"] / "folds" / "1" / "metrics.json")
    assert fold["metrics"]["mae"] == pytest.approx(
        trained["metrics"]["mae"]
    )  # the same file, the same numbers
    assert "train_s" not in fold["timings"] and "load_s" in fold["timings"]
    assert not list(out.glob("folds/*/model.pt")) and not list(out.glob("folds/*/training.json"))
    config = read_json(out / "run.json")["config"]
    assert config["weights"]["name"] == "deepphys-tiny-v1" and config["method"]["params"]["size"] == 12

    add_evaluation(tiny_release["card"], out, "synth-mini", "all of synth-mini")
    names = [e["name"] for e in read_card(tiny_release["card"]).evaluations]
    assert names == ["held-out identities", "synth-mini"]
    with pytest.raises(DataError, match="did not evaluate the weights"):
        add_evaluation(tiny_release["card"], tiny_release["pos"], "pos", "not these weights")


def test_toml_writer_round_trips():
    data = {"a": 1, "b": "x \"q\"", "c": [1.5, float("nan")], "t": {"u": True, "v": {"w": "y"}},
            "arr": [{"n": 1, "s": {"k": 2.0}}, {"n": 2}], "text": "two\nlines"}  # fmt: skip
    back = tomllib.loads(to_toml(data))
    assert back["b"] == data["b"] and back["t"] == data["t"] and back["arr"] == data["arr"]
    assert back["c"][0] == 1.5 and np.isnan(back["c"][1]) and back["text"] == "two\nlines"


# -- the shipped weights ----------------------------------------------------------------------------------
def test_shipped_weights_verify_fit_the_budget_and_have_full_cards():
    shipped = {w.method: w for w in list_weights()}
    assert {m: w.name for m, w in shipped.items()} == SHIPPED
    assert sum(w.size_bytes for w in shipped.values()) <= 20 * 2**20
    for method, weights in shipped.items():
        weights.verify()
        assert load_checkpoint(weights.path)["method"] == method
        assert default_weights(method) == weights == get_weights(weights.name)
        assert get_recipe(method, "pretrained").weights == weights.name
        card = weights.card
        assert card["licence"] == LICENCE and "never saw a real face" in card["summary"]
        assert card["recipe"]["name"] == "cpu" and card["training"]["dirty"] is False
        assert "2-core CPU" in card["training"]["hardware"] and card["limits"]
        assert card["data"]["dataset"] == "synthetic" and card["data"]["heldout_identities"]
        heldout = weights.evaluations[0]
        assert heldout["name"] == "held-out identities" and set(heldout["scenarios"]) == RELEASE_SCENARIOS
        assert heldout["reference"]["method"] == "pos"
    assert default_weights("efficientphys") is None and not list_weights("efficientphys")


def test_damaged_shipped_weights_are_refused_naming_the_file(tmp_path, monkeypatch):
    damaged = _damaged_copy(get_weights(SHIPPED["deepphys"]), tmp_path / "damaged")
    with pytest.raises(DataError, match=rf"{re.escape(str(damaged.path))}: damaged weights file"):
        damaged.verify()
    with pytest.raises(DataError, match=rf"{re.escape(str(damaged.path))}: damaged weights file"):
        load_checkpoint(damaged.path)  # the file's own checksum header, without the card
    import rppgbench.weights

    monkeypatch.setattr(rppgbench.weights, "available_weights", lambda: {damaged.name: damaged})
    result = _cli("run", "--method", "deepphys", "--recipe", "pretrained", "--protocol", "synth-mini",
                  "--out", tmp_path / "run", "--quiet")  # fmt: skip
    assert result.exit_code == 1 and f"{damaged.path}: damaged weights file" in result.output


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    """12 s of synth-mini's stationary clip of p001 (a photograph-based face BlazeFace finds) as FFV1."""
    from rppgbench_plugins.datasets.synthetic import SyntheticDataset

    dataset = SyntheticDataset(preset="synth-mini", seed=0)
    record = next(r for r in dataset.records() if r.subject == "p001" and r.scenario == "stationary")
    path = tmp_path_factory.mktemp("video") / "face.avi"
    writer = None
    for frame in dataset.open_frames(record):
        if writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), record.fps, (w, h))
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path, float(record.meta["hr_bpm"])


@pytest.mark.parametrize("method", sorted(SHIPPED))
def test_predict_without_weights_uses_the_shipped_ones_and_says_so(face_video, method, tmp_path):
    video, true_hr = face_video
    weights = get_weights(SHIPPED[method])
    result = _cli("predict", video, "--method", method, "--quiet", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert (
        f"weights:   {weights.name} (shipped with rppgbench, trained only on synthetic faces)"
        in result.output
    )
    assert f"shipped weights {weights.name} were used" in result.output
    hr = float(re.search(r"^HR:\s+([0-9.]+) bpm", result.output, flags=re.MULTILINE).group(1))
    assert abs(hr - true_hr) < 5.0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["shipped_weights"]["sha256"] == weights.sha256 and summary["weights"] == str(weights.path)
    assert summary["face"]["crop_size"] == weights.preprocess["size"]


def test_predict_refuses_damaged_shipped_weights_and_methods_without_any(face_video, tmp_path, monkeypatch):
    damaged = _damaged_copy(get_weights(SHIPPED["physnet"]), tmp_path / "damaged")
    import rppgbench.weights

    monkeypatch.setattr(rppgbench.weights, "default_weights", lambda method: damaged)
    result = _cli("predict", face_video[0], "--method", "physnet", "--quiet")
    assert result.exit_code == 1 and f"{damaged.path}: damaged weights file" in result.output
    monkeypatch.undo()
    result = _cli("predict", face_video[0], "--method", "efficientphys", "--quiet")
    assert result.exit_code == 2 and "ships no weights: give its weights with --weights FILE" in result.output


def test_pretrained_recipe_runs_the_shipped_weights_without_training(tmp_path):
    weights = get_weights(SHIPPED["physnet"])
    out = tmp_path / "run"
    result = _cli("run", "--method", "physnet", "--recipe", "pretrained", "--protocol", "synth-mini", "--out", out,
                  "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = read_json(out / "run.json")
    assert manifest["config"]["weights"]["sha256"] == weights.sha256
    assert manifest["config"]["recipe"]["name"] == "pretrained"
    assert manifest["config"]["method"]["params"]["size"] == weights.card["model"]["size"]
    for fold in ("1", "2", "3"):
        timings = read_json(out / "folds" / fold / "metrics.json")["timings"]
        assert "train_s" not in timings and "load_s" in timings
    assert not list(out.glob("folds/*/model.pt")) and not list(out.glob("folds/*/work"))
    assert read_json(out / "metrics.json")["n_ok"] == 12


def test_list_and_show_name_the_shipped_weights_and_their_cards():
    listed = _cli("list", "weights")
    assert listed.exit_code == 0 and all(name in listed.output for name in SHIPPED.values())
    assert "never saw a real face" in listed.output
    shown = _cli("show", "deepphys")
    assert shown.exit_code == 0 and "shipped weights" in shown.output
    assert (
        "deepphys-synth-v2 [used by `predict` without --weights and by --recipe pretrained]" in shown.output
    )
    assert "held-out MAE" in shown.output and "deepphys-synth-v2.toml" in shown.output
    assert "pretrained (v1)" in shown.output
    card = _cli("show", "weights", "physnet-synth-v2")
    assert card.exit_code == 0, card.output
    for text in ("licence: Apache-2.0", "heldout_identities", "evaluation: held-out identities", "known limits",
                 "compression:", "2-core CPU"):  # fmt: skip
        assert text in card.output, text
    assert "shipped weights: none" in _cli("show", "efficientphys").output
    missing = _cli("show", "weights", "nosuch")
    assert missing.exit_code == 2 and "unknown shipped weights 'nosuch'" in missing.output
