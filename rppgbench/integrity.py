"""Content checksums and the clean-up of temporary files that killed processes left behind.

Every file rppgbench reads back as a result of its own work (cached clips, weights, run folders)
carries a sha256 of its content, so a flipped byte is found on read instead of changing a number.
Temporary files are written beside their target as `.<name>.<host>-<pid>....tmp`; a file whose writer
on this host is no longer alive, or that is older than a day, is removed on next use (a file of
another host sharing the folder is left alone: its process cannot be seen from here).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import time
from pathlib import Path

log = logging.getLogger("rppgbench.integrity")

STALE_AFTER_S = 24 * 3600.0
"""A temporary file older than this is stale even if a process with its pid exists (pid reuse)."""

_OWNER = re.compile(r"\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)(?:\.[^.]*)?\.tmp$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


def temporary_prefix(path: Path, pid: int | None = None) -> str:
    """`.<name>.<host>-<pid>.`: the start of the name of a temporary sibling of `path` (this process's)."""
    return f".{path.name}.{_host()}-{os.getpid() if pid is None else pid}."


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
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
    """A `.tmp` file older than STALE_AFTER_S, or written by a process of this host that is gone."""
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except OSError:
        return False
    if age > STALE_AFTER_S:
        return True
    match = _OWNER.search(path.name)
    if match is None or match["host"] != _host():
        return False
    pid = int(match["pid"])
    return pid != os.getpid() and not pid_alive(pid)


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
    """The temporary sibling a writer of `path` uses: `.<name>.<host>-<pid>.tmp` (its owner)."""
    return path.with_name(f"{temporary_prefix(path)}tmp")
