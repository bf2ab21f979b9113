"""Shipped weights: trained models that travel with a plugin as package data, each with a model card.

A plugin registers folders through the `register_weights_dirs` hook; each `NAME.toml` there is a
model card naming its weights file (`file = "NAME.pt"`, beside the card) and the sha256 of that file:

    name = "deepphys-synth-v2"
    method = "deepphys"
    file = "deepphys-synth-v2.pt"
    sha256 = "<hex digest of the whole file>"
    licence = "Apache-2.0"
    summary = "One line: what these weights are."
    limits = ["what they cannot do", ...]
    [recipe]       name, version, digest of the recipe they were trained at
    [training]     command, commit, hardware, seconds, selected epoch
    [data]         generator, preset, seed, identities for training, selection and testing
    [preprocess]   face crop settings the model was trained with (size, enlarge), used by `predict`
    [[evaluation]] measured metrics (overall and per scenario) on held-out data

The file is verified against the card's sha256 before it is used (and the weights file's own checksum
header by `load_checkpoint`), so a damaged or swapped file is refused naming it. A method's recipe
`pretrained` names the weights it evaluates (`weights = "NAME"`); `rppgbench predict` uses those
when no `--weights` is given. Nothing here imports PyTorch.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rppgbench.errors import ConfigError, DataError, UnknownNameError

PRETRAINED_RECIPE = "pretrained"
"""The recipe name that evaluates a method's shipped weights (`rppgbench run --recipe pretrained`)."""

_REQUIRED = {"name": str, "method": str, "file": str, "sha256": str, "licence": str, "summary": str}


@dataclass(frozen=True)
class ShippedWeights:
    """One shipped weights file and its model card."""

    name: str
    method: str
    path: Path
    card_path: Path
    sha256: str
    licence: str
    summary: str
    card: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def size_bytes(self) -> int:
        """Size of the weights file (0 when it is missing)."""
        return self.path.stat().st_size if self.path.is_file() else 0

    @property
    def preprocess(self) -> dict[str, Any]:
        """Face-crop settings the model was trained with (`size`, `enlarge`, `face`), from the card."""
        return dict(self.card.get("preprocess", {}))

    @property
    def evaluations(self) -> list[dict[str, Any]]:
        """The card's measured evaluations (each: name, protocol, overall and per-scenario metrics)."""
        return [dict(e) for e in self.card.get("evaluation", [])]

    def verify(self) -> Path:
        """The weights file, after checking that its sha256 is the card's; DataError naming it otherwise."""
        if not self.path.is_file():
            raise DataError(f"{self.path}: the weights file of {self.card_path} is missing")
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        if digest != self.sha256:
            raise DataError(
                f"{self.path}: damaged weights file (its sha256 {digest[:16]}... is not the "
                f"{self.sha256[:16]}... its model card {self.card_path.name} records); refusing to load it"
            )
        return self.path

    def record(self) -> dict[str, Any]:
        """What a result records about the weights it used."""
        return {"name": self.name, "method": self.method, "sha256": self.sha256, "file": self.path.name}


def read_card(path: Path | str) -> ShippedWeights:
    """The shipped weights described by the model card at `path`; every problem names the card."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"model card {path}: cannot be read ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"model card {path}: not valid TOML: {exc}") from exc
    for key, kind in _REQUIRED.items():
        if not isinstance(data.get(key), kind) or not data[key]:
            raise ConfigError(f"model card {path}: {key} must be a non-empty {kind.__name__}")
    if "/" in data["file"] or "\\" in data["file"]:
        raise ConfigError(f"model card {path}: file must name a file beside the card, got {data['file']!r}")
    return ShippedWeights(
        name=data["name"],
        method=data["method"],
        path=path.parent / data["file"],
        card_path=path,
        sha256=data["sha256"].lower(),
        licence=data["licence"],
        summary=data["summary"],
        card=data,
    )


def _folder_path(folder: Any) -> Path | None:
    """A registered folder (path or importlib.resources traversable) as a filesystem path, if it is one."""
    path = Path(str(folder))
    return path if path.is_dir() else None


def available_weights() -> dict[str, ShippedWeights]:
    """Every shipped weights of a loaded method, by name, from the folders plugins registered."""
    from rppgbench.plugins import registry

    plugins = registry()
    found: dict[str, ShippedWeights] = {}
    seen: set[Path] = set()
    for folder in plugins.weights_dirs:
        path = _folder_path(folder)
        if path is None or path in seen:
            continue
        seen.add(path)
        for card in sorted(path.glob("*.toml")):
            weights = read_card(card)
            if weights.method not in plugins.methods:  # its method's plugin is not loaded
                continue
            if weights.name in found:
                raise ConfigError(f"shipped weights {weights.name!r} are described twice: "
                                  f"{found[weights.name].card_path} and {card}")  # fmt: skip
            found[weights.name] = weights
    return found


def list_weights(method: str | None = None) -> list[ShippedWeights]:
    """Shipped weights of `method` (all when None), sorted by method and name."""
    return sorted(
        (w for w in available_weights().values() if method is None or w.method == method),
        key=lambda w: (w.method, w.name),
    )


def get_weights(name: str) -> ShippedWeights:
    """The shipped weights called `name`, or an error listing those installed."""
    table = available_weights()
    if name not in table:
        raise UnknownNameError("shipped weights", name, sorted(table))
    return table[name]


def default_weights(method: str) -> ShippedWeights | None:
    """The weights `predict` uses for `method` without `--weights`: those its `pretrained` recipe names."""
    from rppgbench.recipes import list_recipes

    for recipe in list_recipes(method):
        if recipe.name == PRETRAINED_RECIPE and recipe.weights:
            return get_weights(recipe.weights)
    return None


def headline(weights: ShippedWeights) -> str:
    """One line on what the weights were trained on and how they measured on held-out data."""
    data = weights.card.get("data", {})
    trained = f"trained on {data.get('dataset', '?')} {data.get('preset', '')} seed {data.get('seed', '?')}".rstrip()
    evaluations = weights.evaluations
    if evaluations:
        first = evaluations[0]
        overall = first.get("overall", {})
        if "mae" in overall:
            trained += (
                f"; held-out MAE {overall['mae']:.2f} bpm over {overall.get('n', '?')} videos "
                f"({first.get('name', first.get('protocol', ''))})"
            )
    return trained


def describe_card(weights: ShippedWeights) -> str:
    """The model card as text (`rppgbench show weights NAME`)."""
    card = weights.card
    lines = [
        f"{weights.name}: {weights.summary}",
        f"method: {weights.method}",
        f"file: {weights.path} ({weights.size_bytes / 1e6:.2f} MB, sha256 {weights.sha256})",
        f"card: {weights.card_path}",
        f"licence: {weights.licence}",
    ]
    recipe = card.get("recipe", {})
    if recipe:
        lines.append(
            f"recipe: {recipe.get('name')} v{recipe.get('version')} (digest {recipe.get('digest', '?')})"
        )
    for section in ("training", "data", "preprocess"):
        table = card.get(section, {})
        if table:
            lines.append(f"{section}:")
            lines += [f"  {key}: {_text(value)}" for key, value in table.items()]
    for evaluation in weights.evaluations:
        lines.append(
            f"evaluation: {evaluation.get('name', '')} - {evaluation.get('description', '')}".rstrip()
        )
        reference = evaluation.get("reference", {})
        label = reference.get("method", "")
        groups = {"overall": evaluation.get("overall", {}), **evaluation.get("scenarios", {})}
        known = {"overall": reference.get("overall", {}), **reference.get("scenarios", {})}
        for group, metrics in groups.items():
            other = known.get(group, {})
            beside = f"  |  {label} on the same videos: mae {other['mae']:.2f}" if "mae" in other else ""
            lines.append(f"  {group}: {_metrics(metrics)}{beside}")
    limits = card.get("limits", [])
    if limits:
        lines.append("known limits:")
        lines += [f"  - {limit}" for limit in limits]
    return "\n".join(lines)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _metrics(metrics: dict[str, Any]) -> str:
    parts = []
    for key in ("n", "mae", "rmse", "r"):
        if key in metrics:
            value = metrics[key]
            parts.append(f"{key} {value:.2f}" if isinstance(value, float) else f"{key} {value}")
    return ", ".join(parts)
