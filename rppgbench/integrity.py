"""Content checksums and the clean-up of temporary files that killed processes left behind.

Every file rppgbench reads back as a result of its own work (cached clips, weights, run folders)
carries a sha256 of its content, so a flipped byte is found on read instead of changing a number.
Temporary files are written beside their target as `.<name>.<pid>....tmp`; a file whose writer is
no longer alive (or that is older than a day, for files from other hosts) is removed on next use.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger("rppgbench.integrity")

STALE_AFTER_S = 24 * 3600.0
"""A temporary file older than this is stale even if a process with its pid exists (pid reuse)."""

_PID = re.compile(r"\.(\d+)(?:\.[^.]*)?\.tmp$")


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_arrays(arrays: Iterable[np.ndarray]) -> str:
    """Hex sha256 over arrays' dtypes, shapes and bytes (in order), so a reshaped array differs too."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def is_stale_temporary(path: Path, now: float | None = None) -> bool:
    """A `.tmp` file whose writer (pid in its name) is dead, or that is older than STALE_AFTER_S."""
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except OSError:
        return False
    if age > STALE_AFTER_S:
        return True
    match = _PID.search(path.name)
    return match is not None and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1)))


def clean_stale_temporaries(folder: Path, pattern: str = ".*.tmp", recursive: bool = False) -> list[Path]:
    """Delete stale temporary files in `folder` (see `is_stale_temporary`); returns those removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    candidates = folder.rglob(pattern) if recursive else folder.glob(pattern)
    for path in candidates:
        if path.is_file() and is_stale_temporary(path):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    if removed:
        log.info("removed %d left-over temporary file(s) under %s", len(removed), folder)
    return removed


def temporary_name(path: Path) -> Path:
    """The temporary sibling a writer of `path` uses: `.<name>.<pid>.tmp` (the pid marks its owner)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")
