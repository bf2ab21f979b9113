"""Declared parameters: methods and loaders list theirs once; the CLI sets, prints and records them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rppgbench.errors import ConfigError


@dataclass(frozen=True)
class Param:
    """One tunable parameter: its name, default (whose type values are converted to) and a help line."""

    name: str
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None

    def convert(self, value: Any) -> Any:
        """Convert a value (often a `--set` string) to this parameter's type, checking choices."""
        converted = _convert(self.name, self.default, value)
        if self.choices is not None and converted not in self.choices:
            raise ConfigError(f"parameter {self.name}={converted!r} is not one of {list(self.choices)}")
        return converted


def _convert(name: str, default: Any, value: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str):
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(default, tuple) and isinstance(value, list):
            return tuple(value)
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, (list, tuple)):
            parsed = json.loads(value) if value.startswith("[") else [p for p in value.split(",") if p]
            items = [_convert(name, default[0], p) if default else p for p in parsed]
            return type(default)(items)
        if default is None:
            return _guess(value)
    except ValueError as exc:
        raise ConfigError(f"parameter {name}: cannot read {value!r} as {type(default).__name__}") from exc
    return value


def _guess(value: str) -> Any:
    """Parse a string for a parameter whose default is None: number, bool, null or plain string."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def resolve(declared: Iterable[Param], given: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """Defaults overridden by `given`; unknown names are an error that lists the valid ones."""
    table = {p.name: p for p in declared}
    unknown = sorted(set(given) - set(table))
    if unknown:
        from rppgbench.protocol_schema import did_you_mean

        raise ConfigError(
            f"{owner} has no parameter {', '.join(unknown)}{did_you_mean(unknown[0], sorted(table))}; "
            f"valid: {', '.join(sorted(table)) or '(none)'}"
        )
    values = {name: p.default for name, p in table.items()}
    values.update({name: table[name].convert(value) for name, value in given.items()})
    return values


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """Turn `key=value` strings (from repeated `--set`) into a dict, with a clear error for malformed ones."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out
