"""Protocols as data: load and validate a protocol TOML file and split records into folds by subject.

A protocol names its dataset(s), the split (k-fold by subject with a fixed seed, an explicit split
file, or train-on-A/test-on-B), the test windowing, the reference source and the HR estimator.
The file format is documented in docs/architecture.md and docs/protocols.md.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rppgbench.data import Record
from rppgbench.errors import ConfigError, UnknownNameError
from rppgbench.protocol_schema import (
    REFERENCE_SOURCES,
    SPLIT_KINDS,
    TEST_MODES,
    resolve_protocol,
    validate_protocol,
)

__all__ = ["FINGERPRINT_SECTIONS", "REFERENCE_SOURCES", "SPLIT_KINDS", "TEST_MODES", "fingerprint"]

FINGERPRINT_SECTIONS = ("dataset", "split", "test", "reference", "hr")
"""Protocol tables that decide what is measured: runs differing in one of them are not comparable."""


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
    version: int = 1
    folds: int = 5
    seed: int = 0
    split_file: Path | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)
    test: WindowingSpec = WindowingSpec()
    reference_source: str = "waveform"
    hr: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The protocol as recorded in results (the resolved file, defaults included, and where it came
        from: `registered:NAME` for an installed protocol, so results do not carry this machine's paths)."""
        recorded = self.origin or (str(self.source) if self.source else None)
        return {**self.raw, "_source": recorded}

    def fingerprint(self) -> str:
        """Hash of the tables that decide what is measured (see `fingerprint`)."""
        return fingerprint(self.raw)

    def hr_config(self):
        """The protocol's HR estimator settings as an HRConfig."""
        from rppgbench.signal.hr import HRConfig

        return HRConfig.from_dict(self.hr)

    def vitals_config(self):
        """The protocol's HRV and respiration settings (`[vitals]`; defaults when absent)."""
        from rppgbench.vitals import VitalsConfig

        return VitalsConfig.from_dict(self.raw.get("vitals"))


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
    origin = None
    if candidate.suffix == ".toml" or candidate.is_file():
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: protocol file not found")
        source = candidate
        text = _read_protocol_text(candidate)
    else:
        table = available_protocols()
        if str(name_or_path) not in table:
            raise UnknownNameError("protocol", str(name_or_path), sorted(table))
        entry = table[str(name_or_path)]
        text, source = entry.read_text(), Path(str(entry))
        origin = f"registered:{name_or_path}"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return replace(parse_protocol(raw, source, split_file), origin=origin)


def _read_protocol_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a text (UTF-8) protocol file ({exc.reason} at byte {exc.start})"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: protocol file cannot be read ({exc.strerror or exc})") from exc


def parse_protocol(
    raw: dict[str, Any], source: Path | None = None, split_file: Path | None = None
) -> Protocol:
    """Validate a parsed protocol table; every problem is reported with the file and the key."""
    where = str(source) if source else "protocol"

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{where}: {message}")

    validate_protocol(raw, where)
    raw = resolve_protocol(raw)
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
        if kind == "cross":
            raise fail(f"[split] kind 'cross' has no subject folds: --split-file {split_file} does not apply")
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
        version=raw["version"],
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
    try:
        protocol.vitals_config()
    except (ConfigError, TypeError, ValueError) as exc:
        raise fail(f"[vitals] {exc}") from exc
    return protocol


def fingerprint(definition: dict[str, Any], sections: Sequence[str] = FINGERPRINT_SECTIONS) -> str:
    """12 hex digits of sha256 over `sections` of a protocol definition (as recorded, defaults resolved).

    Two runs with the same fingerprint measured the same thing: same data (dataset and its options,
    such as a frame range or an ECG channel), split, test windows, reference and HR estimator.
    """
    resolved = resolve_protocol(definition)
    part = {key: resolved.get(key) for key in sections}
    return hashlib.sha256(json.dumps(part, sort_keys=True, default=str).encode()).hexdigest()[:12]


def check_preprocess(protocol: Protocol) -> None:
    """Validate the [preprocess] table (imports the preprocessing package, so done when a run is planned)."""
    from rppgbench.preprocess.config import PreprocessConfig

    try:
        PreprocessConfig.from_dict(protocol.preprocess)
    except ConfigError as exc:
        raise ConfigError(f"{protocol.source or 'protocol'}: [preprocess] {exc}") from exc


def _dataset_specs(raw: dict, split: dict, kind: str, fail) -> dict[str, DatasetSpec]:
    """Dataset specs by role: "data", or "train" and "test"; a merged role gives one per dataset
    ("train:pure", "train:scamps"), each keeping its own loader, options and data root."""

    def spec(table: Any, label: str) -> DatasetSpec:
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            raise fail(f"{label} must be a table with a dataset 'name'")
        options = table.get("options", {})
        if not isinstance(options, dict):
            raise fail(f"{label} options must be a table")
        return DatasetSpec(table["name"], dict(options))

    def role(value: Any, name: str, label: str) -> dict[str, DatasetSpec]:
        if not isinstance(value, list):
            return {name: spec(value, label)}
        specs = [spec(table, f"{label} entry {n}") for n, table in enumerate(value, start=1)]
        return {f"{name}{ROLE_SEPARATOR}{s.name}": s for s in specs}

    if kind == "cross":
        if "train" not in split or "test" not in split:
            raise fail("[split] kind 'cross' needs [split.train] and [split.test] dataset tables")
        return {
            **role(split["train"], "train", "[split.train]"),
            **role(split["test"], "test", "[split.test]"),
        }
    if "dataset" not in raw:
        raise fail("[dataset] table is required (name and options)")
    specs = role(raw["dataset"], "data", "[dataset]")
    if len(specs) > 1 and kind == "file":
        raise fail(
            "[split] kind 'file' takes one dataset; merged datasets split by subject with kind 'kfold'"
        )
    return specs


ROLE_SEPARATOR = ":"
"""Separates a role from the dataset name in the role keys of a merged role ("train:scamps")."""


def role_of(key: str) -> str:
    """The role ("data", "train" or "test") of a dataset role key ("train:scamps" -> "train")."""
    return key.split(ROLE_SEPARATOR, 1)[0]


def records_of(records: dict[str, list[Record]], role: str) -> list[Record]:
    """Every record of a role, over all of its datasets (in the protocol's order)."""
    return [r for key, group in records.items() if role_of(key) == role for r in group]


def _test_spec(table: dict, fail) -> WindowingSpec:
    spec = WindowingSpec(**table)  # keys and types were checked against the schema
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


@dataclass(frozen=True)
class SplitFile:
    """Subject lists per fold from a split file, and the subjects it explicitly excludes."""

    path: Path
    folds: list[list[str]]
    exclude: list[str] = field(default_factory=list)


def read_split(path: Path) -> SplitFile:
    """Read a split file: .json ({"folds": [[...]], "exclude": [...]} or {"1": [...]}), .csv (subject,fold
    with fold "exclude" for excluded subjects) or .mat (one variable per fold; `exclude` excluded)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: split file not found")
    exclude: list[Any] = []
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                exclude = list(data.pop("exclude", []) or [])
            groups = data["folds"] if isinstance(data, dict) and "folds" in data else data
            if isinstance(groups, dict):
                groups = [groups[key] for key in sorted(groups, key=natural_key)]
        elif path.suffix == ".csv":
            by_fold: dict[str, list[str]] = {}
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    by_fold.setdefault(row["fold"].strip(), []).append(row["subject"].strip())
            exclude = by_fold.pop("exclude", [])
            groups = [by_fold[key] for key in sorted(by_fold, key=natural_key)]
        elif path.suffix == ".mat":
            from scipy.io import loadmat

            try:
                content = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
            except Exception as exc:  # scipy raises several types for a damaged .mat file
                raise ValueError(f"not a readable MATLAB file: {exc}") from exc
            exclude = np.ravel(content.pop("exclude", [])).tolist()
            groups = [np.ravel(content[key]).tolist() for key in sorted(content, key=natural_key)]
        else:
            raise ConfigError(f"{path}: split files must be .json, .csv or .mat")
        folds = [[_subject_text(s) for s in group] for group in groups]
        excluded = [_subject_text(s) for s in exclude]
    except (KeyError, ValueError, TypeError, AttributeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(
            f"{path}: cannot read subject lists per fold ({type(exc).__name__}: {exc})"
        ) from exc
    if len(folds) < 2 or any(not group for group in folds):
        raise ConfigError(f"{path}: a split file needs at least two non-empty folds")
    return SplitFile(path, folds, excluded)


def _subject_text(value: Any) -> str:
    """A subject id as text: 12.0 (from .mat files) becomes '12'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (list, dict)):
        raise TypeError(f"a subject id must be a string or number, got {value!r}")
    return str(value).strip()


def _number_key(subject: str) -> str | None:
    """The number in an id such as 'p12' or '12' (split files often write ids as bare numbers)."""
    digits = re.findall(r"\d+", subject)
    return str(int(digits[0])) if len(digits) == 1 else None


def match_split_subjects(split: SplitFile, subjects: Sequence[str]) -> dict[str, str]:
    """Map each id of the split file to a subject of the data, exactly or by an unambiguous number.

    A bare number matches a subject only when exactly one subject carries it, so MMSE-HR's F013 and
    M013 are never merged; ids that match nothing, or several subjects, are a ConfigError.
    """
    known = set(subjects)
    by_number: dict[str, list[str]] = {}
    for subject in known:
        key = _number_key(subject)
        if key is not None:
            by_number.setdefault(key, []).append(subject)
    mapping, unknown, ambiguous = {}, [], []
    for name in [s for group in split.folds for s in group] + split.exclude:
        if name in known:
            mapping[name] = name
            continue
        candidates = by_number.get(_number_key(name) or "", []) if name.isdigit() else []
        if len(candidates) == 1:
            mapping[name] = candidates[0]
        elif candidates:
            ambiguous.append(f"{name} ({' or '.join(sorted(candidates, key=natural_key))})")
        else:
            unknown.append(name)
    if ambiguous:
        raise ConfigError(f"{split.path}: ambiguous subject id(s), write the full id: {', '.join(ambiguous)}")
    if unknown:
        raise ConfigError(
            f"{split.path}: subject(s) not in the data: {', '.join(sorted(set(unknown), key=natural_key))}"
        )
    return mapping


def split_groups(protocol: Protocol, subjects: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    """Subjects per test fold and excluded subjects of a file split, checked to cover every subject once."""
    split = read_split(protocol.split_file)
    mapping = match_split_subjects(split, subjects)
    groups = [[mapping[s] for s in group] for group in split.folds]
    excluded = [mapping[s] for s in split.exclude]
    seen: dict[str, str] = {}
    twice = []
    for label, members in [*((str(i), g) for i, g in enumerate(groups, start=1)), ("exclude", excluded)]:
        for subject in members:
            if subject in seen and seen[subject] != label:
                twice.append(f"{subject} ({seen[subject]} and {label})")
            seen[subject] = label
    if twice:
        raise ConfigError(f"{split.path}: subject(s) in more than one fold: {', '.join(twice)}")
    missing = sorted(set(subjects) - set(seen), key=natural_key)
    if missing:
        raise ConfigError(
            f"{split.path}: {len(missing)} subject(s) of the data are in no fold: {', '.join(missing)} "
            '(place each in a fold, or list it under "exclude")'
        )
    return groups, excluded


def excluded_records(protocol: Protocol, records: dict[str, list[Record]]) -> list[Record]:
    """Records of the subjects a split file explicitly excludes (counted, never scored)."""
    if protocol.split_kind != "file":
        return []
    data = records["data"]
    _, excluded = split_groups(protocol, [r.subject for r in data])
    return [r for r in data if r.subject in set(excluded)]


def make_folds(protocol: Protocol, records: dict[str, list[Record]]) -> list[Fold]:
    """Split records (by dataset role) into the protocol's folds, never letting a subject cross a split."""
    if protocol.split_kind == "cross":
        train, test = records_of(records, "train"), records_of(records, "test")
        shared = sorted({(r.dataset, r.subject) for r in train} & {(r.dataset, r.subject) for r in test})
        if shared:
            listing = ", ".join(f"{d}/{s}" for d, s in shared[:10]) + (" ..." if len(shared) > 10 else "")
            raise ConfigError(
                f"{protocol.source or protocol.name}: [split] kind 'cross' trains and tests on the same "
                f"subject(s): {listing}"
            )
        return [Fold("all", train, test)]
    if len(records) > 1:
        return _merged_kfold(protocol, records)
    data = records["data"]
    subjects = [r.subject for r in data]
    if protocol.split_kind == "kfold":
        try:
            groups, excluded = subject_folds(subjects, protocol.folds, protocol.seed), []
        except ConfigError as exc:
            raise ConfigError(f"{protocol.source or 'protocol'}: [split] key 'folds': {exc}") from exc
    else:
        groups, excluded = split_groups(protocol, subjects)
    skip = set(excluded)
    folds = []
    for index, group in enumerate(groups, start=1):
        test_subjects = set(group)
        test = [r for r in data if r.subject in test_subjects]
        train = [r for r in data if r.subject not in test_subjects and r.subject not in skip]
        folds.append(Fold(str(index), train, test))
    return folds


def _merged_kfold(protocol: Protocol, records: dict[str, list[Record]]) -> list[Fold]:
    """k subject folds over merged datasets: each dataset's subjects are split as that dataset alone
    would be (same seed, same folds), and fold i tests fold i of every dataset. Subjects are told
    apart per dataset, so subject "1" of one dataset and "1" of another are different people."""
    test_groups: list[set[tuple[str, str]]] = [set() for _ in range(protocol.folds)]
    for key, group in records.items():
        try:
            folds = subject_folds([r.subject for r in group], protocol.folds, protocol.seed)
        except ConfigError as exc:
            raise ConfigError(
                f"{protocol.source or 'protocol'}: [split] key 'folds' ({key.split(ROLE_SEPARATOR)[-1]}): {exc}"
            ) from exc
        for index, subjects in enumerate(folds):
            test_groups[index] |= {(r.dataset, r.subject) for r in group if r.subject in set(subjects)}
    data = records_of(records, "data")
    return [
        Fold(
            str(index),
            [r for r in data if (r.dataset, r.subject) not in group],
            [r for r in data if (r.dataset, r.subject) in group],
        )
        for index, group in enumerate(test_groups, start=1)
    ]
