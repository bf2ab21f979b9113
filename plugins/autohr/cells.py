"""Cells of the AutoHR search space: PC-DARTS mixed edges, the searchable cell and the derived cell.

A cell has an input node, `n_nodes` intermediate nodes (B1, B2, B3 by default) and an output node.
Intermediate node j receives an edge from the input and from every earlier intermediate node; the output
node concatenates the intermediate nodes (not the input) and a 1x1x1 convolution restores the width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rppgbench.errors import ConfigError

from .ops import build_op


def cell_edges(n_nodes: int) -> list[tuple[int, int]]:
    """The (source, target) node pairs of a cell, in a fixed order; node 0 is the input, 1.. are B1...

    For three intermediate nodes: (0,1), (0,2), (1,2), (0,3), (1,3), (2,3) -- six edges.
    """
    return [(i, j) for j in range(1, n_nodes + 1) for i in range(j)]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave `groups` channel groups of x (N, C, ...) so that processed and bypassed channels mix."""
    n, c = x.shape[:2]
    if groups <= 1:
        return x
    if c % groups:
        raise ConfigError(f"channel shuffle: {c} channels cannot form {groups} groups")
    rest = x.shape[2:]
    return x.view(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


class MixedEdge(nn.Module):
    """A PC-DARTS edge: softmax-weighted sum of every candidate op on 1/K of the channels.

    The first C/K channels go through the operations; the remaining channels bypass them; the two parts
    are concatenated and channel-shuffled with K groups, so other channels are sampled at the next edge.
    K = 1 is a plain DARTS mixed edge.
    """

    def __init__(self, channels: int, ops: Sequence[str], partial: int = 4, affine: bool = False) -> None:
        super().__init__()
        if partial < 1 or channels % partial:
            raise ConfigError(f"partial-channel K={partial} must divide the {channels} channels of an edge")
        self.partial = partial
        self.op_names = tuple(ops)
        self.active = channels // partial
        # `none` contributes w * 0 = 0: it is kept as a weight but never computed.
        self.ops = nn.ModuleDict(
            {str(i): build_op(name, self.active, affine) for i, name in enumerate(ops) if name != "none"}
        )

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """x (N, C, T, H, W); weights: the softmax of this edge's alpha, one per operation."""
        part = x[:, : self.active] if self.partial > 1 else x
        out = None
        for key, op in self.ops.items():
            term = weights[int(key)] * op(part)
            out = term if out is None else out + term
        if out is None:  # only `none` in the op set: validated elsewhere, kept safe here
            out = part * 0.0
        if self.partial == 1:
            return out
        return channel_shuffle(torch.cat([out, x[:, self.active :]], dim=1), self.partial)


def _pointwise(c_in: int, c_out: int, affine: bool) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, 1, bias=False), nn.BatchNorm3d(c_out, affine=affine), nn.ReLU()
    )


class _CellBase(nn.Module):
    """Shared parts: width adaptation on the input node and the concatenating output node."""

    def __init__(self, c_in: int, c_out: int, n_nodes: int, affine: bool) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        self.preprocess = nn.Identity() if c_in == c_out else _pointwise(c_in, c_out, affine)
        self.output = _pointwise(n_nodes * c_out, c_out, affine)

    def _finish(self, states: list[torch.Tensor]) -> torch.Tensor:
        return self.output(torch.cat(states[1:], dim=1))


class SearchCell(_CellBase):
    """The searchable cell: every edge a `MixedEdge`, edge-normalised by beta per target node."""

    def __init__(self, c_in: int, c_out: int, ops: Sequence[str], partial: int = 4, n_nodes: int = 3) -> None:
        super().__init__(c_in, c_out, n_nodes, affine=False)
        self.edge_list = cell_edges(n_nodes)
        self.edges = nn.ModuleList(MixedEdge(c_out, ops, partial, affine=False) for _ in self.edge_list)

    def forward(self, x: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """alpha (edges, ops) and beta (edges,) are the raw architecture parameters of this cell."""
        op_weights = torch.softmax(alpha, dim=-1)
        edge_weights = edge_normalisation(beta, self.n_nodes)
        states = [self.preprocess(x)]
        for j in range(1, self.n_nodes + 1):
            node = None
            for e, (i, target) in enumerate(self.edge_list):
                if target == j:
                    term = edge_weights[e] * self.edges[e](states[i], op_weights[e])
                    node = term if node is None else node + term
            states.append(node)
        return self._finish(states)


def edge_normalisation(beta: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """Per-edge weights: softmax of beta over the incoming edges of each intermediate node."""
    parts, start = [], 0
    for j in range(1, n_nodes + 1):  # node j has j incoming edges, stored consecutively
        parts.append(torch.softmax(beta[start : start + j], dim=0))
        start += j
    return torch.cat(parts)


class DerivedCell(_CellBase):
    """A discrete cell built from a genotype: each node sums its chosen (operation, source) inputs."""

    def __init__(self, c_in: int, c_out: int, nodes: Sequence[Sequence[tuple[str, int]]]) -> None:
        super().__init__(c_in, c_out, len(nodes), affine=True)
        self.sources: list[list[int]] = []
        self.node_ops = nn.ModuleList()
        for j, inputs in enumerate(nodes, start=1):
            if not inputs:
                raise ConfigError(f"genotype node B{j} has no input edge")
            for _, src in inputs:
                if not 0 <= src < j:
                    raise ConfigError(f"genotype node B{j} reads node {src}, which is not an earlier node")
            self.sources.append([src for _, src in inputs])
            self.node_ops.append(nn.ModuleList(build_op(op, c_out, affine=True) for op, _ in inputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess(x)]
        for sources, ops in zip(self.sources, self.node_ops, strict=True):
            node = None
            for src, op in zip(sources, ops, strict=True):
                term = op(states[src])
                node = term if node is None else node + term
            states.append(node)
        return self._finish(states)
