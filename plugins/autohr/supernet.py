"""The AutoHR supernet: the network skeleton with PC-DARTS search cells and architecture parameters.

"shared": one (alpha, beta) pair for every cell of the four blocks (the paper's default, which found
the better network); "varied": one pair per block (the two cells of a block share it). alpha has one
row per cell edge and one column per candidate operation; beta one entry per edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from rppgbench.errors import ConfigError

from .cells import SearchCell, cell_edges
from .genotype import Genotype, derive_cell
from .network import DEFAULT_WIDTH_MULT, Head, Stem, block_widths, make_pool


class ArchParameters(nn.Module):
    """The architecture parameters (alpha, beta) of the supernet, kept apart from its weights."""

    def __init__(self, n_sets: int, n_edges: int, n_ops: int) -> None:
        super().__init__()
        # Small random alpha as in DARTS, so that the first architecture steps break the symmetry.
        self.alpha = nn.Parameter(1e-3 * torch.randn(n_sets, n_edges, n_ops))
        self.beta = nn.Parameter(1e-3 * torch.randn(n_sets, n_edges))


class SuperNet(nn.Module):
    """The searchable AutoHR network. forward (N, 3, T, H, W) -> (N, T).

    `weight_parameters()` and `arch_parameters()` separate the two sets of the bi-level optimisation.
    """

    def __init__(
        self,
        ops: Sequence[str],
        channels: int = 8,
        config: str = "shared",
        partial: int = 4,
        width_mult: Sequence[int] = DEFAULT_WIDTH_MULT,
        cells_per_block: int = 2,
        n_nodes: int = 3,
    ) -> None:
        super().__init__()
        if config not in ("shared", "varied"):
            raise ConfigError(f"search config must be 'shared' or 'varied', got {config!r}")
        self.ops, self.config, self.partial, self.n_nodes = tuple(ops), config, partial, n_nodes
        self.channels, self.width_mult = channels, tuple(width_mult)
        self.stem = Stem(channels, affine=False)
        widths = block_widths(channels, width_mult)
        for w in widths:
            if (w // partial) < 1 or w % partial:
                raise ConfigError(f"partial-channel K={partial} must divide every block width {widths}")
        self.cells = nn.ModuleList()
        self.cell_block: list[int] = []
        self.pools = nn.ModuleList()
        c_prev = channels
        for b, width in enumerate(widths):
            for k in range(cells_per_block):
                self.cells.append(SearchCell(c_prev if k == 0 else width, width, self.ops, partial, n_nodes))
                self.cell_block.append(b)
            self.pools.append(make_pool(b))
            c_prev = width
        self.head = Head(c_prev, affine=False)
        n_sets = 1 if config == "shared" else len(widths)
        self.arch = ArchParameters(n_sets, len(cell_edges(n_nodes)), len(self.ops))

    def arch_parameters(self) -> list[nn.Parameter]:
        """alpha and beta."""
        return list(self.arch.parameters())

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not an architecture parameter."""
        arch = {id(p) for p in self.arch.parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[2]
        x = self.stem(x)
        alpha, beta = self.arch.alpha, self.arch.beta
        for index, cell in enumerate(self.cells):
            block = self.cell_block[index]
            s = 0 if self.config == "shared" else block
            x = cell(x, alpha[s], beta[s])
            last_of_block = index + 1 == len(self.cells) or self.cell_block[index + 1] != block
            if last_of_block:
                x = self.pools[block](x)
        return self.head(x, frames)

    def arch_weights(self) -> dict[str, list]:
        """Current softmax(alpha) per edge and edge-normalisation weights, as nested lists (for history)."""
        from .cells import edge_normalisation

        with torch.no_grad():
            alpha = torch.softmax(self.arch.alpha.float(), dim=-1).cpu().numpy()
            beta = (
                torch.stack([edge_normalisation(b.float(), self.n_nodes) for b in self.arch.beta])
                .cpu()
                .numpy()
            )
        return {"alpha": np.round(alpha, 5).tolist(), "beta": np.round(beta, 5).tolist()}

    def genotype(self, **provenance) -> Genotype:
        """Derive the discrete genotype from the current architecture parameters."""
        alpha = self.arch.alpha.detach().float().cpu().numpy()
        beta = self.arch.beta.detach().float().cpu().numpy()
        cells = tuple(derive_cell(alpha[s], beta[s], self.ops, self.n_nodes) for s in range(alpha.shape[0]))
        return Genotype(cells=cells, config=self.config, ops=self.ops, **provenance)
