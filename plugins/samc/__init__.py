"""SAMC (Tulyakov et al., CVPR 2016) as an rppgbench plugin: self-adaptive matrix completion of the
chrominance signals of many face patches.

Registered through the `samc` entry point like any third-party plugin. It reuses the CHROM projection
of the `classical` plugin, which ships in the same distribution.
"""

from __future__ import annotations

from collections.abc import Callable

from rppgbench.hookspecs import hookimpl

from .method import SAMC

__all__ = ["SAMC"]


@hookimpl
def register_methods(register: Callable[[type], None]) -> None:
    """Register the `samc` method."""
    register(SAMC)
