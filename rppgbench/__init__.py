"""rppgbench: benchmark remote photoplethysmography (rPPG) methods on face-video datasets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rppgbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]


def __getattr__(name: str):
    """Import `rppgbench.predict` on first use: `rppgbench.predict(path, method="pos")` needs no import."""
    if name == "predict":
        from importlib import import_module

        return import_module("rppgbench.predict")
    raise AttributeError(f"module 'rppgbench' has no attribute {name!r}")
