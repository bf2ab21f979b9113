"""The classical (training-free) rPPG methods: GREEN, ICA, CHROM, POS, LGI, PBV and OMIT.

Each works on the RGB traces of the face crop (`rppgbench.traces`) and is written from its paper,
cited in its module. Registered through the `classical` entry point like any third-party plugin.
"""

from __future__ import annotations

from collections.abc import Callable

from rppgbench.hookspecs import hookimpl

from .chrom import CHROM
from .green import Green
from .ica import ICA
from .lgi import LGI
from .omit import OMIT
from .pbv import PBV
from .pos import POS

METHODS = (Green, ICA, CHROM, POS, LGI, PBV, OMIT)

__all__ = ["CHROM", "ICA", "LGI", "METHODS", "OMIT", "PBV", "POS", "Green"]


@hookimpl
def register_methods(register: Callable[[type], None]) -> None:
    """Register the seven classical methods."""
    for method in METHODS:
        register(method)
