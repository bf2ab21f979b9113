"""Where rppgbench keeps generated data and preprocessed caches (RPPGBENCH_CACHE overrides)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Root folder of every cache: preprocessed clips, generated synthetic datasets."""
    return Path(os.environ.get("RPPGBENCH_CACHE") or Path.home() / ".cache" / "rppgbench").expanduser()
