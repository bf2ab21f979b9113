"""AutoHR (Yu et al., IEEE SPL 2020) as an rppgbench plugin: TDC, PC-DARTS search, derived network, ablations.

Registers the `autohr` method (declared here without importing PyTorch; `method.py` loads when it
runs), its recipes and shipped weights, and the `rppgbench search` / `rppgbench ablate` commands.
"""

from __future__ import annotations

import click

from rppgbench.declared import MethodDeclaration, method_plugin_hooks, multiple_of, weights_dirs_hook, within
from rppgbench.hookspecs import hookimpl
from rppgbench.lazycli import add_lazy
from rppgbench.params import Param
from rppgbench.training_params import INPUT_SCALINGS, neural_params

DEFAULT_WIDTH_MULT: tuple[int, ...] = (2, 4, 4, 4)
"""Reconstructed: with 16 channels the blocks have 32, 64, 64, 64 channels, PhysNet's widths."""
TEMPORAL_MULTIPLE = 4
"""Clip lengths that are multiples of 4 pass the two temporal pools and the head without rounding."""
LOSSES = ("hybrid", "time", "freq")
SEARCH_HELP = (
    "Search an AutoHR cell (PC-DARTS) on the training videos of one fold; writes genotype.json/.png."
)
ABLATE_HELP = (
    "Train the variants of one AutoHR ablation (the paper's Figure 4) on one fold; writes a table (md, csv) "
    "and a chart."
)

AUTOHR = MethodDeclaration(
    name="autohr",
    target="rppgbench_plugins.autohr.method:AutoHR",
    description=(
        "AutoHR: NAS-searched 3D CNN with temporal difference convolution, hybrid loss, DA1/DA2 "
        "(Yu et al. 2020); default cell reconstructed from the paper's text"
    ),
    trains=True,
    params=neural_params(
        epochs=15, batch_size=4, lr=1e-4, weight_decay=5e-5, clip_frames=160, size=112
    ) + (
        Param("genotype", "", "genotype JSON from `rppgbench search` ('' = shipped reconstructed default)"),
        Param("genotype_data", "", "the genotype itself (filled in from `genotype`; recorded with the results)"),
        Param("input_scaling", "clip", "network input scaling (see rppgbench.training.inputs)", INPUT_SCALINGS),
        Param("channels", 16, "stem width of the derived network (paper: the search's 8, doubled)"),
        Param("width_mult", DEFAULT_WIDTH_MULT, "block width = channels x this, per block (reconstructed)"),
        Param("backbone", "searched", "searched cells, or PhysNet with TDC (the ablations' backbone)",
              ("searched", "physnet")),
        Param("physnet_width", 64, "channel width of backbone=physnet (PhysNet's 64)"),
        Param("physnet_theta", 0.0, "theta of the TDCs of backbone=physnet (0 = plain PhysNet)"),
        Param("loss", "hybrid", "hybrid = lambda x NegPearson + FreqCE; time or freq alone (ablation)", LOSSES),
        Param("lambda_time", 0.2, "weight of the negative-Pearson term in the hybrid loss (paper: 0.2)"),
        Param("freq_logits", "log_power", "class scores of the frequency loss", ("log_power", "power")),
        Param("da1", True, "DA1: spatio-temporal tube cut-out"),
        Param("da1_prob", 0.5, "probability that a training clip gets a tube cut out"),
        Param("da1_time_frac", 0.2, "longest tube, as a fraction of the clip length (paper: 0.2)"),
        Param("da1_area_frac", 0.2, "largest erased area, as a fraction of the frame (paper: 0.2)"),
        Param("da2", True, "DA2: halve HR of windows above da2_high_bpm, double it below da2_low_bpm"),
        Param("da2_prob", 0.5, "probability that an eligible window is resampled"),
        Param("da2_high_bpm", 90.0, "windows above this HR are interpolated 2x (paper: 90)"),
        Param("da2_low_bpm", 70.0, "windows below this HR take every second frame (paper: 70)"),
    ),
    checks=(multiple_of("clip_frames", TEMPORAL_MULTIPLE), within("physnet_theta", 0.0, 1.0)),
)  # fmt: skip


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add `rppgbench search` and `rppgbench ablate` (loaded when they run)."""
    add_lazy(cli, "search", "rppgbench_plugins.autohr.commands:search_command", SEARCH_HELP)
    add_lazy(cli, "ablate", "rppgbench_plugins.autohr.commands:ablate_command", ABLATE_HELP)


register_methods, register_recipe_dirs = method_plugin_hooks(AUTOHR, "rppgbench_plugins.autohr.recipes")
register_weights_dirs = weights_dirs_hook("rppgbench_plugins.autohr.weights")
