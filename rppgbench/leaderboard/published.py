"""Published reference rows: numbers copied from papers, kept apart from the runs we reproduce.

Each file in `leaderboards/published/*.toml` holds one paper: its citation, the compared methods
(family and original citation) and its tables (protocol, columns, rows; "-" = not reported).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rppgbench.errors import ConfigError

FAMILIES = ("traditional", "non-end-to-end learning", "end-to-end learning")
MISSING = "-"


@dataclass(frozen=True)
class PublishedRow:
    """One method's published result under one protocol; `values` holds NaN for unreported metrics."""

    method: str
    family: str
    protocol: str
    values: dict[str, float]
    source: str
    method_citation: str
    paper_citation: str
    table: str
    caption: str

    @property
    def published(self) -> bool:
        """Always True: lets tables treat published and reproduced rows alike while marking them."""
        return True


def published_dir() -> Path:
    """Folder of the published-results TOML files."""
    from rppgbench.leaderboard.results import leaderboards_root

    return leaderboards_root() / "published"


def _value(raw: object, where: str) -> float:
    if raw == MISSING:
        return math.nan
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ConfigError(f"{where}: value {raw!r} is neither a number nor '-'")
    return float(raw)


def load_file(path: Path) -> list[PublishedRow]:
    """Rows of one published-results file; ConfigError names the file and the bad entry."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as TOML ({exc})") from exc
    paper = data.get("paper", {})
    if not paper.get("short") or not paper.get("citation"):
        raise ConfigError(f"{path}: [paper] needs 'short' and 'citation'")
    methods = data.get("methods", {})
    rows: list[PublishedRow] = []
    for table in data.get("tables", []):
        columns = table.get("columns", [])
        label = table.get("table", "?")
        for raw in table.get("rows", []):
            where = f"{path}, table {label}, row {raw!r}"
            if len(raw) != len(columns) + 1:
                raise ConfigError(f"{where}: expected method plus {len(columns)} values {columns}")
            name = raw[0]
            info = methods.get(name)
            if info is None:
                raise ConfigError(f"{where}: method {name!r} has no [methods.{name}] entry")
            if info.get("family") not in FAMILIES:
                raise ConfigError(f"{where}: family {info.get('family')!r} is not one of {FAMILIES}")
            rows.append(
                PublishedRow(
                    method=name,
                    family=info["family"],
                    protocol=table["protocol"],
                    values={c: _value(v, where) for c, v in zip(columns, raw[1:], strict=True)},
                    source=f"{paper['short']}, Table {label}",
                    method_citation=info.get("citation", ""),
                    paper_citation=paper["citation"],
                    table=label,
                    caption=table.get("caption", ""),
                )
            )
    return rows


@cache
def _all_rows(folder: Path) -> tuple[PublishedRow, ...]:
    return tuple(row for path in sorted(folder.glob("*.toml")) for row in load_file(path))


def load_published(protocol: str | None = None, folder: Path | None = None) -> list[PublishedRow]:
    """Published rows (of one protocol, or all), in the order the papers print them."""
    rows = _all_rows(Path(folder) if folder else published_dir())
    return [row for row in rows if protocol is None or row.protocol == protocol]


def published_protocols(folder: Path | None = None) -> list[str]:
    """Protocols that have published reference rows."""
    return list(dict.fromkeys(row.protocol for row in load_published(folder=folder)))
