"""Release shipped weights from finished runs: the weights file, its model card and a `pretrained` recipe.

`scripts/train_release_weights.sh` trains with `rppgbench run` (the one training loop) and then calls

    python -m rppgbench.release write RUN --name NAME --weights-dir DIR --recipes-dir DIR --reference POS_RUN
    python -m rppgbench.release evaluate CARD RUN --name NAME --description TEXT --reference POS_RUN

`write` copies the fold's `model.pt` byte for byte beside a model card (`rppgbench.weights`) that
records what the run says: method, recipe, data and identities, commit, machine, training time, and
the metrics measured on the run's held-out test videos, per scenario, beside a reference method's
on the same videos. It also writes the method's `pretrained` recipe naming the weights. `evaluate`
adds the metrics of another run (e.g. `--recipe pretrained` on another protocol) to the card.
Every number in a card comes from a run folder; nothing is typed in by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import shutil
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rppgbench.errors import ConfigError, DataError
from rppgbench.metrics import hr_metrics
from rppgbench.store import FoldStore, RunStore, atomic_write_bytes, read_json
from rppgbench.weights import PRETRAINED_RECIPE, read_card

CARD_METRICS = ("n", "mae", "rmse", "r", "mape")
LICENCE = "Apache-2.0"


# -- a small TOML writer (the standard library reads TOML but does not write it) -----------------------
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(float(f"{value:.6g}"))  # six significant digits: 5e-05 stays 5e-05
    if isinstance(value, str):
        if "\n" in value:
            return '"""\n' + value.replace("\\", "\\\\").replace('"""', '\\"""') + '"""'
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Sequence):
        items = [_toml_value(v) for v in value]
        one_line = "[" + ", ".join(items) + "]"
        return one_line if len(one_line) <= 100 else "[\n" + "".join(f"  {i},\n" for i in items) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML: {value!r}")


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_table(v) for v in value)


def _key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else _toml_value(name)


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """TOML text of nested dicts and lists (scalars first, then tables, then arrays of tables)."""
    lines = [
        f"{_key(k)} = {_toml_value(v)}" for k, v in data.items() if not (_is_table(v) or _is_table_array(v))
    ]
    for k, v in data.items():
        path = f"{prefix}{_key(k)}"
        if _is_table(v):
            body = to_toml(v, path + ".")
            lines += ["", f"[{path}]", body] if body else ["", f"[{path}]"]
        elif _is_table_array(v):
            for item in v:
                lines += ["", f"[[{path}]]", to_toml(item, path + ".")]
    return "\n".join(line for line in lines if line is not None).strip("\n")


# -- reading a run ------------------------------------------------------------------------------------
def _trained_fold(run: Path) -> FoldStore:
    folds = [fold for fold in RunStore(run).fold_stores() if fold.model_path.is_file()]
    if len(folds) != 1:
        raise ConfigError(f"{run}: a release needs exactly one trained fold with weights, found {len(folds)}")
    return folds[0]


def _finished(run: Path) -> dict[str, Any]:
    manifest = RunStore(run).read_manifest()
    if manifest.get("status") != "complete":
        raise DataError(f"{run}: the run is {manifest.get('status')!r}, not complete")
    return manifest


def _metrics(rows: Any) -> dict[str, Any]:
    ok = rows[rows["status"] == "ok"]
    if ok.empty:
        return {"n": 0}
    values = hr_metrics(ok["hr_pred"].to_numpy(np.float64), ok["hr_ref"].to_numpy(np.float64))
    return {key: (int(values[key]) if key == "n" else float(values[key])) for key in CARD_METRICS}


def measured(run: Path, reference: Path | None = None) -> dict[str, Any]:
    """Overall and per-scenario metrics of a run's predictions (and a reference run's on the same videos)."""
    rows = RunStore(run).read_predictions()
    out: dict[str, Any] = {
        "videos": int(len(rows)),
        "failed": int((rows["status"] != "ok").sum()),
        "overall": _metrics(rows),
        "scenarios": {s: _metrics(rows[rows["scenario"] == s]) for s in sorted(set(rows["scenario"]))},
    }
    if reference is not None:
        other = RunStore(reference).read_predictions()
        if sorted(other["video_id"]) != sorted(rows["video_id"]):
            raise DataError(f"{reference}: the reference run did not test the same videos as {run}")
        method = RunStore(reference).read_manifest()["method"]
        out["reference"] = {
            "method": method,
            "run_note": f"{method} on the same videos, same protocol and HR estimator",
            "overall": _metrics(other),
            "scenarios": {s: _metrics(other[other["scenario"] == s]) for s in sorted(set(other["scenario"]))},
        }
    return out


def hardware(provenance: Mapping[str, Any]) -> str:
    """`N-core CPU (model), no GPU` or the accelerator's name, from a run's provenance."""
    cpu = f"{provenance.get('cpu_count', '?')}-core CPU ({provenance.get('cpu') or 'model not recorded'})"
    accelerator = provenance.get("accelerator")
    return f"{cpu}, {'GPU ' + accelerator if accelerator else 'no GPU'}"


def _evaluation(run: Path, name: str, description: str, reference: Path | None) -> dict[str, Any]:
    manifest = _finished(run)
    protocol = manifest["config"]["protocol"]
    test = protocol.get("test", {})
    result = measured(run, reference)
    return {
        "name": name,
        "description": description,
        "protocol": manifest["protocol"],
        "dataset": _dataset_text(manifest["config"]["datasets"]),
        "folds": list(manifest["folds"]),
        "test_windows": f"{test.get('mode')}: {test.get('n_clips')} x {test.get('clip_seconds')} s per video, averaged",
        "commit": manifest["provenance"]["git"]["commit"],
        **result,
    }


def _dataset_text(datasets: Mapping[str, Any]) -> str:
    parts = []
    for role, spec in datasets.items():
        options = ", ".join(f"{k}={v}" for k, v in spec.get("options", {}).items())
        parts.append(f"{'' if role == 'data' else role + ': '}{spec['name']} ({options})")
    return "; ".join(parts)


def _generator_version(options: Mapping[str, Any]) -> str:
    from rppgbench.plugins import registry

    loader = registry().dataset("synthetic")(None, **options)
    return str(loader.meta.get("generator_version", "?"))


# -- writing a release --------------------------------------------------------------------------------
def write_release(
    run: Path,
    name: str,
    weights_dir: Path,
    recipes_dir: Path,
    reference: Path | None = None,
    command: str = "",
    limits: Sequence[str] = (),
    recipe_version: int = 1,
) -> Path:
    """Copy the run's weights to `weights_dir/NAME.pt`, write `NAME.toml` and the `pretrained` recipe."""
    from rppgbench.preprocess.config import PreprocessConfig
    from rppgbench.training.neural_method import read_weights_info
    from rppgbench.training_params import RUNTIME_PARAMS

    manifest = _finished(run)
    config, provenance = manifest["config"], manifest["provenance"]
    fold = _trained_fold(run)
    training = read_json(fold.training_path)
    timings = fold.read_metrics().get("timings", {})
    info = read_weights_info(fold.model_path)  # verifies the checksum header
    method = info["method"]
    dataset = next(
        spec for role, spec in config["datasets"].items() if role.split(":")[0] in ("data", "train")
    )
    if dataset["name"] != "synthetic":
        raise ConfigError(
            f"{run}: shipped weights are trained on the synthetic dataset only, not {dataset['name']!r}"
        )
    tested = sorted(set(RunStore(run).read_predictions()["subject"]))
    prep = asdict(PreprocessConfig.from_dict(config["protocol"].get("preprocess", {})))
    recipe = config.get("recipe", {})

    weights_dir.mkdir(parents=True, exist_ok=True)
    target = weights_dir / f"{name}.pt"
    shutil.copyfile(fold.model_path, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    card = {
        "name": name,
        "method": method,
        "file": target.name,
        "sha256": digest,
        "bytes": target.stat().st_size,
        "licence": LICENCE,
        "summary": (
            f"{method} trained only on rppgbench's synthetic face videos (it never saw a real face), "
            f"at the {recipe.get('name', '?')} recipe"
        ),
        "limits": list(limits),
        "recipe": {k: recipe[k] for k in ("name", "version", "digest") if k in recipe},
        "model": {k: v for k, v in info["config"].items() if k not in RUNTIME_PARAMS},
        "training": {
            "command": command,
            "run_command": " ".join(provenance.get("command", [])),
            "commit": provenance["git"]["commit"],
            "dirty": bool(provenance["git"]["dirty"]),
            "hardware": hardware(provenance),
            "rppgbench": provenance.get("rppgbench", ""),
            "torch": provenance.get("packages", {}).get("torch") or "",
            "started": manifest["started"],
            "finished": manifest["updated"],
            "train_seconds": round(float(timings.get("train_s", math.nan)), 1),
            "epochs": int(info["config"].get("epochs", 0)),
            "selected_epoch": int(training["best_epoch"]) + 1,
            "select_metric": training.get("select_metric", ""),
            "selected_value": float(training.get("best_metric", math.nan)),
            "run_seed": int(config.get("seed", 0)),
        },
        "data": {
            "dataset": dataset["name"],
            "generator_version": _generator_version(dataset.get("options", {})),
            **{k: v for k, v in dataset.get("options", {}).items()},
            "protocol": manifest["protocol"],
            "fold": fold.name,
            "train_identities": training.get("subjects", {}).get("train", []),
            "selection_identities": training.get("subjects", {}).get("validation", []),
            "heldout_identities": tested,
            "note": (
                "Identities are disjoint: the weights were fitted on train_identities, the epoch was "
                "selected on selection_identities, and the held-out metrics come from heldout_identities."
            ),
        },
        "preprocess": {k: prep[k] for k in ("face", "size", "enlarge") if k in prep},
        "evaluation": [
            _evaluation(
                run,
                "held-out identities",
                f"the {len(tested)} identities of {manifest['protocol']} fold {fold.name} that training never saw",
                reference,
            )
        ],
    }
    header = (
        f"# Model card of the shipped weights {name} ({target.name} beside this file).\n"
        f"# Written by `python -m rppgbench.release` from the run that trained them; every number is\n"
        f"# measured by that run or by the evaluations below. Read it with `rppgbench show weights {name}`.\n\n"
    )
    card_path = weights_dir / f"{name}.toml"
    atomic_write_bytes(card_path, (header + to_toml(card) + "\n").encode())
    read_card(card_path).verify()  # the card reads back and matches its file
    write_pretrained_recipe(recipes_dir, method, name, recipe_version)
    return card_path


def write_pretrained_recipe(recipes_dir: Path, method: str, weights: str, version: int = 1) -> Path:
    """The method's recipe `pretrained`, which evaluates the shipped `weights` instead of training."""
    recipe = {
        "method": method,
        "name": PRETRAINED_RECIPE,
        "version": version,
        "description": f"The shipped weights {weights} (trained on synthetic faces only): evaluated, never trained.",
        "hardware": "any (inference only)",
        "weights": weights,
        "notes": (
            f"Loads the shipped weights {weights} (verified against their model card) in every fold and\n"
            "evaluates them on the fold's test videos: no training, so on a real dataset's protocol this\n"
            "is a zero-shot synthetic -> real row. The parameters are those the weights were trained with;\n"
            f"`--set` may change inference settings only. Card: `rppgbench show weights {weights}`.\n"
        ),
    }
    header = f"# Written by `python -m rppgbench.release` with the shipped weights {weights}.\n"
    path = recipes_dir / f"{method}-{PRETRAINED_RECIPE}.toml"
    atomic_write_bytes(path, (header + to_toml(recipe) + "\n").encode())
    return path


def add_evaluation(
    card_path: Path, run: Path, name: str, description: str, reference: Path | None = None
) -> None:
    """Append the metrics of `run` (which evaluated these weights) to the model card."""
    card = tomllib.loads(card_path.read_text(encoding="utf-8"))
    manifest = _finished(run)
    used = manifest["config"].get("weights", {})
    if used.get("sha256") != card["sha256"]:
        raise DataError(f"{run}: this run did not evaluate the weights of {card_path} (sha256 differs)")
    card["evaluation"] = [e for e in card.get("evaluation", []) if e.get("name") != name]
    card["evaluation"].append(_evaluation(run, name, description, reference))
    header = (
        "".join(line + "\n" for line in card_path.read_text().splitlines() if line.startswith("#")) + "\n"
    )
    atomic_write_bytes(card_path, (header + to_toml(card) + "\n").encode())
    read_card(card_path)


def main(argv: list[str] | None = None) -> None:
    """`python -m rppgbench.release write|evaluate ...` (used by scripts/train_release_weights.sh)."""
    parser = argparse.ArgumentParser(prog="python -m rppgbench.release", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    write = sub.add_parser(
        "write", help="copy a run's weights and write their model card and pretrained recipe"
    )
    write.add_argument("run", type=Path)
    write.add_argument("--name", required=True)
    write.add_argument("--weights-dir", type=Path, required=True)
    write.add_argument("--recipes-dir", type=Path, required=True)
    write.add_argument("--reference", type=Path, help="run of a reference method on the same videos")
    write.add_argument("--command", default="", help="the command that trained the weights (recorded)")
    write.add_argument("--limit", action="append", default=[], help="a known limit (repeatable)")
    write.add_argument("--recipe-version", type=int, default=1)
    evaluate = sub.add_parser("evaluate", help="add a run's metrics of the weights to their model card")
    evaluate.add_argument("card", type=Path)
    evaluate.add_argument("run", type=Path)
    evaluate.add_argument("--name", required=True)
    evaluate.add_argument("--description", required=True)
    evaluate.add_argument("--reference", type=Path, help="run of a reference method on the same videos")
    args = parser.parse_args(argv)
    if args.step == "write":
        card = write_release(args.run, args.name, args.weights_dir, args.recipes_dir, args.reference,
                             args.command, args.limit, args.recipe_version)  # fmt: skip
        print(f"release: wrote {card} and its weights")
    else:
        add_evaluation(args.card, args.run, args.name, args.description, args.reference)
        print(f"release: added evaluation {args.name!r} to {args.card}")


if __name__ == "__main__":
    main()
