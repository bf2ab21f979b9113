"""rppgbench: benchmark remote photoplethysmography (rPPG) methods on face-video datasets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rppgbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
