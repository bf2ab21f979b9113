"""Figures quoted in the README and docs/ come from committed outputs, and match them.

A paragraph that quotes measured figures cites its source in backticks: a benchmark output
(`benchmarks/results/NAME`) or a leaderboard table (`leaderboards/NAME.md`). Every number with a
unit of measurement in such a paragraph must be found in a cited file (equal after rounding to the
quoted precision). Paragraphs that quote timings without a source fail.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md"] + sorted(
    p for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md"
)
SOURCE = re.compile(r"`((?:benchmarks/results|leaderboards)/[\w./-]+\.(?:txt|md|json))`")
FIGURE = re.compile(
    r"(?<![\w.])(-?\d+(?:,\d{3})*(?:\.\d+)?)\s?(ms|s|bpm|MB|GB|MiB|GiB|frames/s|clips/s|%)(?![\w/])"
)
TIMING = re.compile(r"\b(takes?|took|in total|from a cold cache|per second)\b", re.IGNORECASE)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def paragraphs(page: Path) -> list[str]:
    """Blank-line separated blocks outside code fences."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return [block for block in re.split(r"\n\s*\n", text) if block.strip()]


def _matches(quoted: str, numbers: list[str]) -> bool:
    value = float(quoted.replace(",", ""))
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    return any(abs(round(float(n), decimals) - value) < 1e-9 for n in numbers)


CASES = [(page, block) for page in PAGES for block in paragraphs(page)]


@pytest.mark.parametrize(("page", "block"), CASES, ids=[f"{p.name}:{i}" for i, (p, _) in enumerate(CASES)])
def test_quoted_figures_match_their_source(page, block):
    sources = SOURCE.findall(block)
    figures = FIGURE.findall(block)
    if not sources:
        timed = [f"{n} {u}" for n, u in figures if u in ("ms", "s", "MB", "GB", "frames/s", "clips/s")]
        assert not (timed and TIMING.search(block)), (
            f"{page.name}: figures {timed} quoted without a source:\n{block}"
        )
        return
    numbers = []
    for source in sources:
        path = ROOT / source
        assert path.is_file(), f"{page.name} cites {source}, which does not exist"
        numbers += NUMBER.findall(path.read_text())
    wrong = [f"{n} {u}" for n, u in figures if not _matches(n, numbers)]
    assert not wrong, f"{page.name}: {wrong} not found in {sources}:\n{block}"
