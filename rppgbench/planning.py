"""Planning a run: a method, a protocol and the datasets resolved into folds and an output folder.

`plan_data` resolves the protocol's datasets into loaders, records and folds (what a plugin needs to
prepare a fold's clips); `plan_run` adds the method, its parameters, the recipe and the run folder,
and refuses a run folder that holds a run of another configuration. Nothing here runs or writes.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rppgbench.data import Record
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import ConfigError, DamagedRunError, UnknownNameError
from rppgbench.method import Method
from rppgbench.plugins import registry
from rppgbench.protocol import (
    Fold,
    Protocol,
    check_preprocess,
    excluded_records,
    load_protocol,
    make_folds,
    role_of,
)
from rppgbench.protocol_schema import resolve_protocol
from rppgbench.recipes import Recipe, get_recipe, layered_params
from rppgbench.store import FoldStore, RunStore, normalised
from rppgbench.store.verify import effective_status, fold_intact
from rppgbench.weights import ShippedWeights, get_weights

RESULTS_ROOT = Path("results")


@dataclass
class RunOptions:
    """What `rppgbench run` was asked to do."""

    method: str
    protocol: str | Path
    params: dict[str, Any] = field(default_factory=dict)
    data_roots: Mapping[str, Path] = field(default_factory=dict)
    out: Path | None = None
    seed: int = 0
    workers: int = 1
    cache_root: Path | None = None
    device: str | None = None
    folds: list[str] | None = None
    split_file: Path | None = None
    progress: bool = True
    recipe: str | None = None
    window_format: str = "parquet"
    """Format of the window-level HR tables: parquet or csv."""
    overwrite: bool = False
    """Replace an existing run folder of another configuration instead of refusing."""


@dataclass
class DataPlan:
    """A protocol's datasets resolved: a loader and its records per dataset role, and the folds."""

    protocol: Protocol
    loaders: dict[str, DatasetLoader]
    records: dict[str, list[Record]]
    folds: list[Fold]
    excluded: list[Record] = field(default_factory=list)
    """Records the split file excludes (counted, never scored)."""
    not_selected: list[Record] = field(default_factory=list)
    """Test records of the folds that a fold selection left out."""

    def fold(self, name: str) -> Fold:
        """The fold called `name` (ConfigError listing the folds otherwise)."""
        for fold in self.folds:
            if fold.name == name:
                return fold
        raise ConfigError(f"unknown fold {name!r}; this plan has {[f.name for f in self.folds]}")

    def by_loader(self, ids: Iterable[str]) -> list[tuple[DatasetLoader, list[Record]]]:
        """The records with these ids, grouped by the loader of their dataset role (each record once)."""
        wanted, seen = set(ids), set()
        groups = []
        for role, loader in self.loaders.items():
            records = [r for r in self.records[role] if r.id in wanted and r.id not in seen]
            seen |= {r.id for r in records}
            if records:
                groups.append((loader, records))
        return groups


@dataclass(kw_only=True)
class RunPlan(DataPlan):
    """A run resolved: its data, method, parameters and run folder; each fold is an independent job."""

    options: RunOptions
    method_class: type[Method]
    method_config: dict[str, Any]
    out: Path
    recipe: Recipe | None = None
    weights: ShippedWeights | None = None  # a `pretrained` recipe: evaluate these, train nothing

    @property
    def store(self) -> RunStore:
        """The run folder."""
        return RunStore(self.out)

    def fold_store(self, fold: Fold) -> FoldStore:
        """The folder of one fold's files."""
        return self.store.fold(fold.name)

    def fold_done(self, fold: Fold) -> bool:
        """True when the fold finished in an earlier run and its files are intact (else it is redone)."""
        return fold_intact(self.fold_store(fold))


def resolve_root(data_roots: Mapping[str, Path], role: str, dataset: str) -> Path | None:
    """The data root for a dataset: by dataset name, by role, or the single unnamed root."""
    for key in (dataset, role, ""):
        if key in data_roots:
            return Path(data_roots[key])
    return None


def plan_data(
    protocol: str | Path | Protocol,
    data_roots: Mapping[str, Path] | None = None,
    *,
    folds: Iterable[str] | None = None,
    split_file: Path | None = None,
) -> DataPlan:
    """Load the protocol, list every dataset's records and split them into folds (`folds`: only these)."""
    if not isinstance(protocol, Protocol):
        protocol = _load(protocol, split_file)
    loaders = {role: _loader(protocol, role, data_roots or {}) for role in protocol.datasets}
    records = {role: loader.records() for role, loader in loaders.items()}
    every = make_folds(protocol, records)
    chosen, not_selected = every, []
    if folds:
        folds = [str(f) for f in folds]
        unknown = sorted(set(folds) - {f.name for f in every})
        if unknown:
            raise ConfigError(f"unknown fold(s) {unknown}; this protocol has {[f.name for f in every]}")
        not_selected = [r for f in every if f.name not in folds for r in f.test]
        chosen = [f for f in every if f.name in folds]
    return DataPlan(protocol, loaders, records, chosen, excluded_records(protocol, records), not_selected)


def plan_run(options: RunOptions, *, is_main: bool = True) -> RunPlan:
    """Resolve names, check the configuration against an existing run folder, and split into folds.

    `is_main` is False on the other ranks of a torchrun launch: they never refuse rank 0's live run.
    """
    protocol = _load(options.protocol, options.split_file)
    method_class = registry().method(options.method)
    recipe = get_recipe(options.method, options.recipe) if options.recipe else None
    weights = shipped_weights_of(recipe, options.method) if recipe is not None else None
    if recipe is not None:  # method defaults < (shipped weights' settings) < recipe < --set
        base = weights_params(weights, method_class) if weights is not None else {}
        if weights is not None and options.device:  # no training to pass it to: the method loads onto it
            base["device"] = options.device
        options = replace(options, params={**base, **layered_params(recipe, options.params)})
    method_config = method_class(**options.params).config  # validates parameters before any work
    data = plan_data(protocol, options.data_roots, folds=options.folds)
    out = options.out or RESULTS_ROOT / data.protocol.name / options.method
    plan = RunPlan(
        **vars(data), options=options, method_class=method_class, method_config=method_config, out=Path(out),
        recipe=recipe, weights=weights,
    )  # fmt: skip
    _check_resumable(plan, is_main)
    return plan


def shipped_weights_of(recipe: Recipe, method: str) -> ShippedWeights | None:
    """The shipped weights a recipe evaluates (None for a recipe that trains), checked to be `method`'s."""
    if not recipe.weights:
        return None
    weights = get_weights(recipe.weights)
    if weights.method != method:
        raise ConfigError(
            f"recipe {recipe.source}: weights {weights.name!r} belong to method {weights.method!r}, not {method!r}"
        )
    return weights


def weights_params(weights: ShippedWeights, method_class: type[Method]) -> dict[str, Any]:
    """The parameters the shipped weights were trained with (those `method_class` knows), read from the
    verified file: a run records the settings the weights really use."""
    from rppgbench.training.neural_method import read_weights_info

    saved = read_weights_info(weights.verify())["config"]
    known = {p.name for p in method_class.params}
    return {key: value for key, value in saved.items() if key in known and key != "device"}


def _load(protocol: str | Path, split_file: Path | None) -> Protocol:
    loaded = load_protocol(protocol, split_file)
    check_preprocess(loaded)
    return loaded


def _loader(protocol: Protocol, role: str, data_roots: Mapping[str, Path]) -> DatasetLoader:
    """The dataset loader of one role; a wrong name or option names the protocol file and table."""
    spec = protocol.datasets[role]
    base = role_of(role)
    table = ("[dataset]" if base == "data" else f"[split.{base}]") + (f" {spec.name}" if base != role else "")
    try:
        cls = registry().dataset(spec.name)
        return cls(resolve_root(data_roots, role, spec.name), **spec.options)
    except (ConfigError, UnknownNameError) as exc:
        if "--data-root" in str(exc):
            raise
        raise ConfigError(f"{protocol.source or protocol.name}: {table} {exc}") from exc


def run_config(plan: RunPlan) -> dict[str, Any]:
    """The part of run.json that must match for a run folder to be resumed."""
    config = {
        "method": {"name": plan.method_class.name, "api_version": plan.method_class.api_version,
                   "trains": plan.method_class.trains, "params": plan.method_config},
        "protocol": plan.protocol.to_dict(),
        "seed": plan.options.seed,
        "hr": plan.protocol.hr_config().to_dict(),
        "datasets": {role: loader.describe() for role, loader in plan.loaders.items()},
    }  # fmt: skip
    if plan.method_class.estimates_hr:  # recorded only for such methods: signal methods' runs are unchanged
        config["method"]["estimates_hr"] = True
    if not plan.method_class.gives_signal:
        config["method"]["gives_signal"] = False
    if plan.recipe is not None:
        config["recipe"] = plan.recipe.record()
    if plan.weights is not None:
        config["weights"] = plan.weights.record()
    return normalised(config)


def _check_resumable(plan: RunPlan, is_main: bool) -> None:
    """Resume a run folder of the same configuration; name what differs otherwise (or replace it)."""
    store = plan.store
    if not store.exists():
        return
    if plan.options.overwrite:
        store.remove()
        return
    try:
        manifest = store.read_manifest()
        before = manifest.get("config")
    except (ValueError, AttributeError) as exc:
        raise DamagedRunError(
            f"{store.manifest_path}: damaged run file ({exc}); choose another --out or delete that folder"
        ) from exc
    live = effective_status(manifest) == "running" and manifest.get("host") == socket.gethostname()
    if live and manifest.get("pid") not in (None, os.getpid()) and is_main:
        raise ConfigError(
            f"{plan.out}: another run (process {manifest['pid']} on {manifest.get('host')}) is writing this "
            "folder; wait for it, or choose another --out"
        )
    now = run_config(plan)
    if comparable(before) != comparable(now):
        from rppgbench.configdiff import describe, differences

        raise ConfigError(
            f"{plan.out} holds a run with another configuration "
            f"({describe(differences(comparable(before), comparable(now)))}); "
            "pass --overwrite to replace it, or choose another --out"
        )


def comparable(config: Any) -> Any:
    """A recorded run configuration as compared on resume: the protocol resolved (format version and
    defaults, so runs recorded before the defaults moved out of the files still resume), and where the
    protocol file lay left out (only its content counts)."""
    if not isinstance(config, dict) or not isinstance(config.get("protocol"), dict):
        return config
    protocol = {k: v for k, v in resolve_protocol(config["protocol"]).items() if k != "_source"}
    return {**config, "protocol": normalised(protocol)}
