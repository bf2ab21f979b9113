"""Li et al. (CVPR 2014) as an rppgbench plugin: illumination rectification against the background,
non-rigid motion elimination and temporal filtering of the lower-face green trace.

Registered through the `li2014` entry point like any third-party plugin. The method needs numpy and
scipy only (scipy loads when it runs), so the class is registered directly.
"""

from __future__ import annotations

from collections.abc import Callable

from rppgbench.hookspecs import hookimpl

from .method import Li2014

__all__ = ["Li2014"]


@hookimpl
def register_methods(register: Callable[[type], None]) -> None:
    """Register the `li2014` method."""
    register(Li2014)
