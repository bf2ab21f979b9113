"""The classical (training-free) rPPG methods: GREEN, ICA, PCA, CHROM, POS, LGI, PBV, OMIT and SSR.

Each works on the RGB traces of the face crop (`rppgbench.traces`), SSR on the per-frame colour
correlations of the same skin pixels, and is written from its paper, cited in its module. Registered through the `classical` entry point like any third-party plugin.
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
from .pca import PCA
from .pos import POS
from .ssr import SSR

METHODS = (Green, ICA, PCA, CHROM, POS, LGI, PBV, OMIT)
"""The methods that work on the mean RGB traces (`from_traces`)."""
SPATIAL_METHODS = (SSR,)
"""The methods that need the skin pixels' colour spread per frame, not only its mean."""

__all__ = ["CHROM", "ICA", "LGI", "METHODS", "OMIT", "PBV", "PCA", "POS", "SPATIAL_METHODS", "SSR", "Green"]


@hookimpl
def register_methods(register: Callable[[type], None]) -> None:
    """Register the nine classical methods."""
    for method in (*METHODS, *SPATIAL_METHODS):
        register(method)
