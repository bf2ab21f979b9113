"""Files and folders rppgbench creates get the user's umask, like any file a shell would create.

`tempfile.mkstemp` (0600) and `mkdtemp` (0700) are private; the atomic writers call these helpers
on their temporary file or folder before renaming it into place.
"""

from __future__ import annotations

import os
from pathlib import Path


def umask() -> int:
    """The process's current umask (read without changing it for longer than the call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def apply_umask(target: int | str | Path, directory: bool = False) -> None:
    """Give an open file descriptor, file or folder the mode a plain create would have given it."""
    mode = (0o777 if directory else 0o666) & ~umask()
    if isinstance(target, int):
        os.fchmod(target, mode)
    else:
        os.chmod(target, mode)
