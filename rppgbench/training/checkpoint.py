"""Checkpoints: atomic, checksummed writes and `weights_only` loads, with RNG states in a loadable form.

File layout: one header line `rppgbench-weights sha256=<hex>` and then the `torch.save` bytes; the
digest covers those bytes, so a flipped byte anywhere in the payload is refused on load. Files
without the header (written before the checksum existed) are still read, as plain torch files.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rppgbench.errors import ConfigError, DataError
from rppgbench.integrity import clean_stale_temporaries, temporary_prefix
from rppgbench.permissions import apply_umask

MAGIC = b"rppgbench-weights sha256="
_HEADER = re.compile(rb"rppgbench-weights sha256=([0-9a-f]{64})\n")


def save_checkpoint(path: Path | str, state: dict[str, Any]) -> None:
    """torch.save to a temporary file beside `path`, then rename: a crash never leaves a broken file.

    Under multi-process training only rank 0 writes (the others return at once).
    """
    from rppgbench.training.distributed import is_main_process

    if not is_main_process():
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path.parent, f".{path.name}.*.tmp")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        apply_umask(fd)
        with os.fdopen(fd, "wb") as handle:
            handle.write(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n")
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Load a checkpoint or weights file with `weights_only=True` (no arbitrary code runs).

    The checksum is verified first: a damaged file is refused with a DataError naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {path} does not exist")
    data = path.read_bytes()
    header = _HEADER.match(data)
    if data.startswith(MAGIC[:17]) and header is None:
        raise DataError(f"{path}: damaged weights file (unreadable checksum header); refusing to load it")
    if header is not None:
        data = data[header.end() :]
        if hashlib.sha256(data).hexdigest() != header.group(1).decode():
            raise DataError(
                f"{path}: damaged weights file (the sha256 of its content does not match the one "
                "written with it); refusing to load it"
            )
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{path} is not a readable rppgbench checkpoint: {exc}") from exc
    if not isinstance(state, dict):
        raise ConfigError(f"{path} does not hold a checkpoint dictionary")
    return state


def rng_state() -> dict[str, Any]:
    """Python, numpy (global) and torch RNG states, using only types `weights_only` accepts."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [
            name,
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            int(pos),
            int(has_gauss),
            float(cached),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states written by `rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
