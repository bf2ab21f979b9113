"""Protocols as data: load and validate a protocol TOML file and split records into folds by subject.

A protocol names its dataset(s), the split (k-fold by subject with a fixed seed, an explicit split
file, or train-on-A/test-on-B), the test windowing, the reference source and the HR estimator.
The file format is documented in docs/architecture.md and docs/protocols.md.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rppgbench.data import Record
from rppgbench.errors import ConfigError, UnknownNameError

SPLIT_KINDS = ("kfold", "file", "cross")
TEST_MODES = ("clips", "whole", "sliding")
REFERENCE_SOURCES = ("waveform", "dataset_hr")
_TOP_LEVEL = {"name", "description", "dataset", "split", "preprocess", "test", "reference", "hr"}


@dataclass(frozen=True)
class DatasetSpec:
    """Which dataset loader to use and its options."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WindowingSpec:
    """How a test video is cut into windows whose HRs are averaged into the video's HR."""

    mode: str = "clips"
    clip_seconds: float = 10.0
    n_clips: int = 3
    window_seconds: float = 10.0
    step_seconds: float = 1.0
    min_seconds: float = 5.0


@dataclass(frozen=True)
class Fold:
    """One train/test split of a protocol: a name ("1".."k" or "all") and its records."""

    name: str
    train: list[Record]
    test: list[Record]


@dataclass(frozen=True)
class Protocol:
    """A validated protocol file."""

    name: str
    description: str
    split_kind: str
    datasets: dict[str, DatasetSpec]
    folds: int = 5
    seed: int = 0
    split_file: Path | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)
    test: WindowingSpec = WindowingSpec()
    reference_source: str = "waveform"
    hr: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The protocol as recorded in results (the parsed file plus where it came from)."""
        return {**self.raw, "_source": str(self.source) if self.source else None}

    def hr_config(self):
        """The protocol's HR estimator settings as an HRConfig."""
        from rppgbench.signal.hr import HRConfig

        return HRConfig.from_dict(self.hr)


def available_protocols() -> dict[str, Any]:
    """Protocol name -> file, over every folder that plugins registered (later folders win)."""
    from rppgbench.plugins import registry

    found: dict[str, Any] = {}
    for folder in registry().protocol_dirs:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                found[entry.name.removesuffix(".toml")] = entry
    return found


def load_protocol(name_or_path: str | Path, split_file: Path | None = None) -> Protocol:
    """Load a protocol by registered name or from a .toml path; `split_file` overrides the file's."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: protocol file not found")
        text, source = candidate.read_text(), candidate
    else:
        table = available_protocols()
        if str(name_or_path) not in table:
            raise UnknownNameError("protocol", str(name_or_path), sorted(table))
        entry = table[str(name_or_path)]
        text, source = entry.read_text(), Path(str(entry))
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return parse_protocol(raw, source, split_file)


def parse_protocol(
    raw: dict[str, Any], source: Path | None = None, split_file: Path | None = None
) -> Protocol:
    """Validate a parsed protocol table; every problem is reported with the file and the key."""
    where = str(source) if source else "protocol"

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{where}: {message}")

    unknown = sorted(set(raw) - _TOP_LEVEL)
    if unknown:
        raise fail(f"unknown key(s) {unknown}; valid: {sorted(_TOP_LEVEL)}")
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise fail("'name' (a non-empty string) is required")
    split = dict(raw.get("split", {}))
    kind = split.get("kind", "kfold")
    if kind not in SPLIT_KINDS:
        raise fail(f"[split] kind {kind!r} is not one of {list(SPLIT_KINDS)}")
    datasets = _dataset_specs(raw, split, kind, fail)
    folds = split.get("folds", 5)
    if kind == "kfold" and (not isinstance(folds, int) or folds < 2):
        raise fail(f"[split] folds must be an integer >= 2, got {folds!r}")
    chosen_file = split_file or (Path(split["file"]) if split.get("file") else None)
    if chosen_file is not None and source is not None and not chosen_file.is_absolute():
        relative = Path(str(source)).parent / chosen_file
        chosen_file = relative if relative.exists() else chosen_file
    if split_file is not None:
        kind = "file"
    if kind == "file" and chosen_file is None:
        raise fail("[split] kind 'file' needs file = PATH (or --split-file)")
    test = _test_spec(raw.get("test", {}), fail)
    reference = raw.get("reference", {}).get("source", "waveform")
    if reference not in REFERENCE_SOURCES:
        raise fail(f"[reference] source {reference!r} is not one of {list(REFERENCE_SOURCES)}")
    protocol = Protocol(
        name=raw["name"],
        description=raw.get("description", ""),
        split_kind=kind,
        datasets=datasets,
        folds=folds if kind == "kfold" else 1,
        seed=int(split.get("seed", 0)),
        split_file=chosen_file,
        preprocess=dict(raw.get("preprocess", {})),
        test=test,
        reference_source=reference,
        hr=dict(raw.get("hr", {})),
        source=source,
        raw=raw,
    )
    try:
        protocol.hr_config()
    except ConfigError as exc:
        raise fail(f"[hr] {exc}") from exc
    return protocol


def _dataset_specs(raw: dict, split: dict, kind: str, fail) -> dict[str, DatasetSpec]:
    def spec(table: Any, label: str) -> DatasetSpec:
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            raise fail(f"{label} must be a table with a dataset 'name'")
        options = table.get("options", {})
        if not isinstance(options, dict):
            raise fail(f"{label} options must be a table")
        return DatasetSpec(table["name"], dict(options))

    if kind == "cross":
        if "train" not in split or "test" not in split:
            raise fail("[split] kind 'cross' needs [split.train] and [split.test] dataset tables")
        return {"train": spec(split["train"], "[split.train]"), "test": spec(split["test"], "[split.test]")}
    if "dataset" not in raw:
        raise fail("[dataset] table is required (name and options)")
    return {"data": spec(raw["dataset"], "[dataset]")}


def _test_spec(table: dict, fail) -> WindowingSpec:
    known = set(WindowingSpec.__dataclass_fields__)
    unknown = sorted(set(table) - known)
    if unknown:
        raise fail(f"[test] unknown key(s) {unknown}; valid: {sorted(known)}")
    spec = WindowingSpec(**table)
    if spec.mode not in TEST_MODES:
        raise fail(f"[test] mode {spec.mode!r} is not one of {list(TEST_MODES)}")
    if min(spec.clip_seconds, spec.window_seconds, spec.step_seconds) <= 0 or spec.n_clips < 1:
        raise fail("[test] lengths must be positive and n_clips >= 1")
    return spec


def natural_key(text: str) -> list[Any]:
    """Sort key that orders 'p2' before 'p10'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def subject_folds(subjects: Sequence[str], k: int, seed: int) -> list[list[str]]:
    """Deterministic subject-independent k-fold split: naturally sorted subjects, shuffled with `seed`."""
    ordered = sorted(set(subjects), key=natural_key)
    if len(ordered) < k:
        raise ConfigError(f"cannot make {k} subject-independent folds from {len(ordered)} subjects")
    order = np.random.default_rng(seed).permutation(len(ordered))
    return [sorted((ordered[i] for i in part), key=natural_key) for part in np.array_split(order, k)]


def read_split_file(path: Path) -> list[list[str]]:
    """Subject lists per fold from .json ({"folds": [[...]]} or {"1": [...]}), .csv (subject,fold) or .mat."""
    if not path.is_file():
        raise ConfigError(f"{path}: split file not found")
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            groups = data["folds"] if isinstance(data, dict) and "folds" in data else data
            if isinstance(groups, dict):
                groups = [groups[key] for key in sorted(groups, key=natural_key)]
        elif path.suffix == ".csv":
            by_fold: dict[str, list[str]] = {}
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    by_fold.setdefault(row["fold"], []).append(row["subject"])
            groups = [by_fold[key] for key in sorted(by_fold, key=natural_key)]
        elif path.suffix == ".mat":
            from scipy.io import loadmat

            content = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
            groups = [np.ravel(content[key]).tolist() for key in sorted(content, key=natural_key)]
        else:
            raise ConfigError(f"{path}: split files must be .json, .csv or .mat")
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: cannot read subject lists per fold ({exc})") from exc
    folds = [[str(s) for s in group] for group in groups]
    if len(folds) < 2 or any(not group for group in folds):
        raise ConfigError(f"{path}: a split file needs at least two non-empty folds")
    return folds


def _subject_key(subject: str) -> str:
    """Match 'p12', '12' and 12.0 to the same subject, as split files write ids differently."""
    digits = re.findall(r"\d+", subject)
    return str(int(digits[0])) if len(digits) == 1 else subject


def make_folds(protocol: Protocol, records: dict[str, list[Record]]) -> list[Fold]:
    """Split records (by dataset role) into the protocol's folds, never letting a subject cross a split."""
    if protocol.split_kind == "cross":
        return [Fold("all", records["train"], records["test"])]
    data = records["data"]
    subjects = [r.subject for r in data]
    if protocol.split_kind == "kfold":
        groups = subject_folds(subjects, protocol.folds, protocol.seed)
    else:
        groups = read_split_file(protocol.split_file)
        known = {_subject_key(s) for s in subjects}
        missing = sorted({s for g in groups for s in g if _subject_key(s) not in known}, key=natural_key)
        if missing and len(missing) == sum(len(g) for g in groups):
            raise ConfigError(f"{protocol.split_file}: none of its subjects are in the dataset")
    folds = []
    for index, group in enumerate(groups, start=1):
        test_keys = {_subject_key(s) for s in group}
        test = [r for r in data if _subject_key(r.subject) in test_keys]
        train = [r for r in data if _subject_key(r.subject) not in test_keys]
        folds.append(Fold(str(index), train, test))
    return folds
