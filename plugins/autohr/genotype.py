"""Genotypes: the discrete architecture a search derives, stored as JSON, and drawn as a PNG.

A cell genotype lists, for each intermediate node B1, B2, ..., its chosen (operation, source node)
inputs; node 0 is the cell's input node. A network genotype holds one cell ("shared": the same cell in
all four blocks) or one cell per block ("varied"), plus the provenance of the search.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rppgbench.errors import ConfigError

from .cells import cell_edges

GENOTYPE_FORMAT = "rppgbench-autohr-genotype/1"
CellGenotype = tuple[tuple[tuple[str, int], ...], ...]
"""Per intermediate node: the (operation name, source node) pairs summed into it."""


@dataclass
class Genotype:
    """A derived AutoHR architecture: cell genotype(s), the operation set searched, and provenance."""

    cells: tuple[CellGenotype, ...]
    config: str = "shared"
    ops: tuple[str, ...] = ()
    source: str = "searched"
    note: str = ""
    search: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.config not in ("shared", "varied"):
            raise ConfigError(f"genotype config must be 'shared' or 'varied', got {self.config!r}")
        if not self.cells:
            raise ConfigError("genotype has no cell")
        for cell in self.cells:
            for j, inputs in enumerate(cell, start=1):
                if not inputs:
                    raise ConfigError(f"genotype node B{j} has no input")
                for entry in inputs:
                    if not (isinstance(entry, tuple | list) and len(entry) == 2):
                        raise ConfigError(
                            f"genotype node B{j}: inputs must be (operation, source) pairs, got {entry!r}"
                        )
                    op, src = entry
                    if op == "none":
                        raise ConfigError(f"genotype node B{j} uses the 'none' operation")
                    if not 0 <= src < j:
                        raise ConfigError(f"genotype node B{j} reads node {src}; sources must be 0..{j - 1}")

    def cell_for_block(self, block: int) -> CellGenotype:
        """The cell genotype used in block `block` (0-based)."""
        if self.config == "shared" or len(self.cells) == 1:
            return self.cells[0]
        if block >= len(self.cells):
            raise ConfigError(f"varied genotype has {len(self.cells)} cells; block {block} has none")
        return self.cells[block]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (nodes as lists of {op, input})."""
        return {
            "format": GENOTYPE_FORMAT,
            "source": self.source,
            "note": self.note,
            "config": self.config,
            "ops": list(self.ops),
            "cells": [
                {
                    f"B{j}": [{"op": op, "input": src} for op, src in inputs]
                    for j, inputs in enumerate(cell, start=1)
                }
                for cell in self.cells
            ],
            "search": self.search,
            "history": self.history,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "genotype") -> Genotype:
        """Parse `to_dict` output, with errors that name `origin`."""
        if data.get("format") != GENOTYPE_FORMAT:
            raise ConfigError(
                f"{origin}: not an AutoHR genotype (format {data.get('format')!r}, want {GENOTYPE_FORMAT})"
            )
        try:
            cells = []
            for cell in data["cells"]:
                nodes = []
                for j in range(1, len(cell) + 1):
                    nodes.append(tuple((str(e["op"]), int(e["input"])) for e in cell[f"B{j}"]))
                cells.append(tuple(nodes))
            return cls(
                cells=tuple(cells),
                config=str(data.get("config", "shared")),
                ops=tuple(data.get("ops", ())),
                source=str(data.get("source", "searched")),
                note=str(data.get("note", "")),
                search=dict(data.get("search", {})),
                history=list(data.get("history", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{origin}: malformed AutoHR genotype ({type(exc).__name__}: {exc})") from exc

    def save(self, path: Path) -> None:
        """Write the genotype as JSON, atomically."""
        from rppgbench.store import atomic_write_bytes

        atomic_write_bytes(Path(path), json.dumps(self.to_dict(), indent=1).encode())

    @classmethod
    def load(cls, path: Path | str) -> Genotype:
        """Read a genotype JSON file (ConfigError naming the file when it is missing or malformed)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"genotype file {path} does not exist") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"genotype file {path} is not valid JSON: {exc}") from exc
        return cls.from_dict(data, origin=str(path))


def default_genotype() -> Genotype:
    """The shipped genotype, reconstructed from the text of the paper's Appendix C (see its `note`)."""
    text = resources.files(__package__).joinpath("default_genotype.json").read_text()
    return Genotype.from_dict(json.loads(text), origin="default_genotype.json")


def load_genotype(spec: str | Path | None) -> Genotype:
    """A genotype from a JSON path, or the shipped default for None / '' / 'default'."""
    if spec is None or str(spec) in ("", "default"):
        return default_genotype()
    return Genotype.load(spec)


def derive_cell(
    alpha: np.ndarray, beta: np.ndarray, ops: Sequence[str], n_nodes: int = 3, keep: int = 2
) -> CellGenotype:
    """Discretise one cell: the best non-`none` op per edge, then each node's `keep` strongest edges.

    Edge strength is that op's softmax weight times the edge-normalisation weight (softmax of beta over
    the node's incoming edges), as in PC-DARTS. Node B1 has a single incoming edge and keeps it.
    """
    alpha, beta = np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    edges = cell_edges(n_nodes)
    if alpha.shape != (len(edges), len(ops)) or beta.shape != (len(edges),):
        raise ConfigError(
            f"alpha {alpha.shape} / beta {beta.shape} do not match {len(edges)} edges x {len(ops)} ops"
        )
    candidates = [k for k, name in enumerate(ops) if name != "none"]
    if not candidates:
        raise ConfigError("cannot derive a genotype from an operation set with only 'none'")
    op_w = _softmax(alpha, axis=1)
    nodes = []
    start = 0
    for j in range(1, n_nodes + 1):
        rows = range(start, start + j)
        edge_w = _softmax(beta[start : start + j], axis=0)
        scored = []
        for local, e in enumerate(rows):
            best = max(candidates, key=lambda k, e=e: op_w[e, k])
            scored.append((op_w[e, best] * edge_w[local], ops[best], edges[e][0]))
        scored.sort(key=lambda item: -item[0])
        chosen = sorted(scored[: min(keep, j)], key=lambda item: item[2])
        nodes.append(tuple((name, src) for _, name, src in chosen))
        start += j
    return tuple(nodes)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def draw_genotype(genotype: Genotype, path: Path, title: str | None = None) -> Path:
    """Draw the cell(s) of a genotype as a PNG: nodes as boxes, edges labelled with their operation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    n_cells = len(genotype.cells)
    fig, axes = plt.subplots(n_cells, 1, figsize=(10, 3.4 * n_cells), squeeze=False)
    for index, (ax, cell) in enumerate(zip(axes[:, 0], genotype.cells, strict=True)):
        n = len(cell)
        xs = {k: 2.2 * k for k in range(n + 2)}
        names = ["input"] + [f"B{j}" for j in range(1, n + 1)] + ["output"]
        for k, name in enumerate(names):
            colour = "#cfe2f3" if name in ("input", "output") else "#fce5cd"
            ax.text(
                xs[k],
                0,
                name,
                ha="center",
                va="center",
                fontsize=11,
                bbox={"boxstyle": "round,pad=0.5", "fc": colour, "ec": "black"},
            )
        for j, inputs in enumerate(cell, start=1):
            for op, src in inputs:
                span = j - src
                rad = 0.0 if span == 1 else -0.25 - 0.1 * span
                arrow = FancyArrowPatch(
                    (xs[src] + 0.35, 0.1),
                    (xs[j] - 0.35, 0.1),
                    arrowstyle="-|>",
                    mutation_scale=14,
                    connectionstyle=f"arc3,rad={rad}",
                    color="#444",
                )
                ax.add_patch(arrow)
                height = 0.22 if span == 1 else 0.35 + 0.3 * (span - 1)
                colour = "#b45f06" if op.startswith("TDC") else "#0b5394"
                ax.text((xs[src] + xs[j]) / 2, height, op, ha="center", va="bottom", fontsize=9, color=colour)
            ax.add_patch(
                FancyArrowPatch(
                    (xs[j] + 0.3, -0.12),
                    (xs[n + 1] - 0.45, -0.12),
                    arrowstyle="-|>",
                    mutation_scale=10,
                    linestyle="--",
                    color="#999",
                    connectionstyle=f"arc3,rad={0.15 + 0.1 * (n - j)}",
                )
            )
        label = "cell (shared by all blocks)" if genotype.config == "shared" else f"cell of block {index + 1}"
        ax.set_title(
            f"{title or 'AutoHR'}: {label}" + (" [reconstructed]" if genotype.source != "searched" else "")
        )
        ax.set_xlim(-0.8, xs[n + 1] + 0.8)
        ax.set_ylim(-1.3, 1.6)
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
