"""The typed schema of protocol files: every table, its keys, their types and allowed values.

`validate_protocol` checks a parsed TOML document against it before anything else reads the file,
so a typo (`fold = 3`, `option = {...}`, `sorce = ...`) is an error naming the file, the table and the
key, with a did-you-mean, instead of a run that silently goes on with defaults. Three tables are
typed by the class that uses them: `[hr]` by `rppgbench.signal.hr.HRConfig` and `[vitals]` by
`rppgbench.vitals.VitalsConfig` (both checked when the file is loaded), `[preprocess]` by `rppgbench.preprocess.PreprocessConfig` and `[dataset] options` by the
loader's declared params (both checked when a run is planned, so listing protocols stays light).

A file's `version` is the protocol format it is written in (1 when absent). `resolve_protocol`
merges the format's `DEFAULTS` under the file's own tables, so the `[reference]` and `[hr]` blocks
that nearly every protocol shares are written once, here; results record the resolved protocol.

Dataset tables (`[dataset]`, `[split.train]`, `[split.test]`) may also name several datasets, merged
into one set of records: an array of tables (`[[split.train]]`), or names (`train = ["pure",
"scamps"]`). `resolve_protocol` writes every such reference in one form (a single table, or a list
of tables for several), so a protocol means, and fingerprints, the same however it is written.

The optional `[vitals]` table (HRV and respiration settings, docs/vitals.md) has no entry in
`DEFAULTS`: a protocol without it resolves, records and fingerprints exactly as before, and its
vitals use `VitalsConfig`'s defaults. It is not a fingerprint section either: vitals are scored from
the same stored signals, so a `[vitals]` table never makes runs of a protocol incomparable.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rppgbench.errors import ConfigError

FORMAT_VERSION = 1
"""The newest protocol format this rppgbench reads (the `version` key of a protocol file)."""
SPLIT_KINDS = ("kfold", "file", "cross")
TEST_MODES = ("clips", "whole", "sliding")
REFERENCE_SOURCES = ("waveform", "dataset_hr")


@dataclass(frozen=True)
class Key:
    """One key of a table: accepted Python types (as TOML gives them) and an optional value check.

    `check` returns a problem ("must be >= 2") or None.
    """

    types: tuple[type, ...]
    check: Callable[[Any], str | None] | None = None
    required: bool = False


@dataclass(frozen=True)
class Table:
    """A table's keys; `tables` are its sub-tables (validated recursively)."""

    keys: Mapping[str, Key] = field(default_factory=dict)
    tables: Mapping[str, Table] = field(default_factory=dict)
    free: bool = False  # any key allowed (options checked by their owner: dataset loader, HR, preprocess)
    many: bool = False  # may also be a dataset name, or a list of tables and names (merged datasets)


def one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    """Check that a value is one of `choices`."""
    return lambda value: None if value in choices else f"{value!r} is not one of {list(choices)}"


def at_least(low: float, strict: bool = False) -> Callable[[Any], str | None]:
    """Check a number against a lower bound."""

    def check(value: Any) -> str | None:
        ok = value > low if strict else value >= low
        return None if ok else f"must be {'>' if strict else '>='} {low:g}, got {value!r}"

    return check


def _readable(version: int) -> str | None:
    if version <= FORMAT_VERSION:
        return None
    return (
        f"is {version}, but this rppgbench reads protocol formats up to {FORMAT_VERSION}: upgrade rppgbench"
    )


NUMBER = (int, float)
DATASET = Table({"name": Key((str,), required=True)}, {"options": Table(free=True)}, many=True)
DATASET_TABLES = (("dataset",), ("split", "train"), ("split", "test"))
"""Where dataset references sit in a protocol (each one table, a name, or a list of them)."""
SCHEMA = Table(
    {
        "name": Key((str,), lambda v: None if v.strip() else "must not be empty", required=True),
        "description": Key((str,)),
        "version": Key((int,), lambda v: at_least(1)(v) or _readable(v)),
    },
    {
        "dataset": DATASET,
        "split": Table(
            {
                "kind": Key((str,), one_of(SPLIT_KINDS)),
                "folds": Key((int,), at_least(2)),
                "seed": Key((int,), at_least(0)),
                "file": Key((str,), lambda v: None if v.strip() else "must not be empty"),
            },
            {"train": DATASET, "test": DATASET},
        ),
        "preprocess": Table(free=True),
        "test": Table(
            {
                "mode": Key((str,), one_of(TEST_MODES)),
                "clip_seconds": Key(NUMBER, at_least(0, strict=True)),
                "n_clips": Key((int,), at_least(1)),
                "window_seconds": Key(NUMBER, at_least(0, strict=True)),
                "step_seconds": Key(NUMBER, at_least(0, strict=True)),
                "min_seconds": Key(NUMBER, at_least(0)),
            }
        ),
        "reference": Table({"source": Key((str,), one_of(REFERENCE_SOURCES))}),
        "hr": Table(free=True),
        "vitals": Table(free=True),
    },
)


def did_you_mean(name: str, valid: list[str]) -> str:
    """` (did you mean 'folds'?)` when a close match exists, else ''."""
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def unknown_key_error(where: str, table: str, key: str, valid: list[str]) -> ConfigError:
    """ConfigError for an unknown key, with a did-you-mean and the valid keys."""
    return ConfigError(
        f"{where}: {table} unknown key {key!r}{did_you_mean(key, valid)}; valid: {', '.join(sorted(valid))}"
    )


def validate_table(values: Any, schema: Table, where: str, label: str) -> None:
    """Check one table (and its sub-tables) against `schema`; ConfigError names file, table and key."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: {label} must be a table, got {type(values).__name__} {values!r}")
    if schema.free:
        return
    valid = sorted([*schema.keys, *schema.tables])
    for key, value in values.items():
        if key in schema.tables and schema.tables[key].many and not isinstance(value, dict):
            _validate_many(value, schema.tables[key], where, _sub(label, key))
            continue
        if key in schema.tables:
            validate_table(value, schema.tables[key], where, _sub(label, key))
            continue
        spec = schema.keys.get(key)
        if spec is None:
            raise unknown_key_error(where, label, key, valid)
        if isinstance(value, bool) and bool not in spec.types or not isinstance(value, spec.types):
            raise ConfigError(
                f"{where}: {label} {key} must be {_type_name(spec.types)}, "
                f"got {type(value).__name__} {value!r}"
            )
        problem = spec.check(value) if spec.check else None
        if problem:
            raise ConfigError(f"{where}: {label} {key} {problem}")
    for key, spec in schema.keys.items():
        if spec.required and key not in values:
            raise ConfigError(f"{where}: {label} key {key!r} is required")


def _validate_many(value: Any, schema: Table, where: str, label: str) -> None:
    """A dataset reference given as a name or a list of tables and names (several datasets merged)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"{where}: {label} must name at least one dataset")
    names = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, str):
            if not item.strip():
                raise ConfigError(f"{where}: {label} entry {number} must not be an empty name")
            names.append(item)
            continue
        if not isinstance(item, dict):
            raise ConfigError(
                f"{where}: {label} must be a table, a dataset name or a list of them, "
                f"got {type(item).__name__} {item!r}"
            )
        validate_table(item, schema, where, f"{label} entry {number}")
        names.append(item["name"])
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: {label} names dataset(s) {', '.join(twice)} more than once")


def _sub(label: str, key: str) -> str:
    inner = label.strip("[]")
    return f"[{key}]" if label == "top level" else f"[{inner}.{key}]"


def validate_protocol(raw: dict[str, Any], where: str) -> None:
    """Validate a whole protocol document against SCHEMA (raises ConfigError)."""
    validate_table(raw, SCHEMA, where, "top level")


DEFAULTS: dict[int, dict[str, dict[str, Any]]] = {
    1: {
        "reference": {"source": "waveform"},
        "hr": {"method": "welch", "band_bpm": [40, 180]},
    },
}
"""Per format version, the tables a protocol inherits; the file's own keys win, key by key."""


def resolve_protocol(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The protocol with its format version stated and that version's defaults merged in.

    Also applied to protocols recorded by older runs before they are compared, so a run folder made
    before a default moved out of the files still resumes and compares.
    """
    version = raw.get("version", 1)
    resolved = {**raw, "version": version}
    for table, defaults in DEFAULTS.get(version, {}).items():
        own = raw.get(table, {})
        if isinstance(own, dict):
            resolved[table] = {**defaults, **own}
    for path in DATASET_TABLES:
        parent = resolved
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent.get(key), dict) else None
            if parent is None:
                break
        if parent is not None and path[-1] in parent and not isinstance(parent[path[-1]], dict):
            if parent is not resolved:  # copy the enclosing table before changing it
                parent = resolved[path[0]] = dict(parent)
            parent[path[-1]] = dataset_tables(parent[path[-1]])
    return resolved


def dataset_tables(value: Any) -> Any:
    """A dataset reference in one form: a table for one dataset, a list of tables for several."""
    items = value if isinstance(value, list) else [value]
    tables = [{"name": item} if isinstance(item, str) else item for item in items]
    return tables[0] if len(tables) == 1 else tables
