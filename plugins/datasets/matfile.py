"""MATLAB .mat files for the loaders that ship video and signals in one file (SCAMPS, MMPD).

Version 7.3 files are HDF5 (read lazily with h5py, one block of frames at a time); older versions
(v5/v7) are read with `scipy.io.loadmat`. Arrays are returned in MATLAB's own axis order in both
cases (h5py sees MATLAB arrays with their axes reversed, so they are transposed back), and MATLAB
text (`char`) becomes a Python string, so a loader never needs to know which version it got.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rppgbench.errors import DataError
from rppgbench.video import FrameSource

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
FRAME_AXES = ("thwc", "hwct")
"""Axis orders of a video array, in MATLAB order: time first (SCAMPS, MMPD) or last."""
BLOCK = 32
"""Frames read from an HDF5 file at a time."""


def is_v73(path: Path) -> bool:
    """True for a MATLAB v7.3 file (an HDF5 file, whose signature sits at byte 0 or 512)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(520)
    except OSError as exc:
        raise DataError(f"{path}: cannot read this .mat file ({exc.strerror or exc})") from exc
    return head[:8] == HDF5_SIGNATURE or head[512:520] == HDF5_SIGNATURE


def variable_names(path: Path) -> list[str]:
    """The variables a .mat file holds (reads no data)."""
    if is_v73(path):
        try:
            import h5py

            with h5py.File(path, "r") as f:
                return [k for k in f if not k.startswith("#")]
        except OSError as exc:
            raise DataError(f"{path}: cannot read this MATLAB v7.3 (HDF5) file ({exc})") from exc
    try:
        from scipy.io import whosmat

        return [name for name, _, _ in whosmat(path)]
    except Exception as exc:  # scipy raises several types for a damaged .mat file
        raise DataError(f"{path}: not a readable MATLAB file ({exc})") from exc


def read_variables(path: Path, names: Sequence[str], what: str = "") -> dict[str, Any]:
    """The named variables in MATLAB axis order (text as str); a missing one is a DataError naming it."""
    missing_hint = f" ({what})" if what else ""
    out = _read_h5(path, names) if is_v73(path) else _read_v5(path, names)
    missing = [n for n in names if n not in out]
    if missing:
        raise DataError(
            f"{path}: variable {', '.join(missing)}{missing_hint} not found in this .mat file; "
            f"it holds {', '.join(variable_names(path)) or 'nothing'}"
        )
    return out


def _read_v5(path: Path, names: Sequence[str]) -> dict[str, Any]:
    from scipy.io import loadmat

    try:
        content = loadmat(path, variable_names=list(names))
    except Exception as exc:  # scipy raises several types for a damaged .mat file
        raise DataError(f"{path}: not a readable MATLAB file ({exc})") from exc
    out: dict[str, Any] = {}
    for name in names:
        if name in content:
            value = content[name]
            out[name] = _text(value) if isinstance(value, np.ndarray) and value.dtype.kind == "U" else value
    return out


def _text(value: np.ndarray) -> str:
    return "".join(str(v) for v in np.ravel(value)).strip()


def _read_h5(path: Path, names: Sequence[str]) -> dict[str, Any]:
    import h5py

    out: dict[str, Any] = {}
    try:
        with h5py.File(path, "r") as f:
            for name in names:
                if name not in f:
                    continue
                node = f[name]
                if not isinstance(node, h5py.Dataset):
                    raise DataError(f"{path}: variable {name} is a MATLAB struct or cell, not an array")
                value = node[()]
                kind = node.attrs.get("MATLAB_class", b"")
                kind = kind.decode() if isinstance(kind, bytes) else str(kind)
                if kind == "cell" and value.size:  # a cell array: its first element (a label)
                    node = f[np.ravel(value)[0]]
                    value = node[()]
                    kind = node.attrs.get("MATLAB_class", b"")
                    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
                if kind == "char":
                    out[name] = "".join(chr(c) for c in np.ravel(value.T) if c).strip()
                else:
                    out[name] = np.asarray(value).T
    except OSError as exc:
        raise DataError(f"{path}: cannot read this MATLAB v7.3 (HDF5) file ({exc})") from exc
    return out


def scalar_text(value: Any) -> str:
    """A label as text: MATLAB strings as they are, numbers without a trailing '.0'."""
    item = value
    while isinstance(item, np.ndarray):  # scipy gives cells as nested object arrays
        flat = np.ravel(item)
        if flat.size == 0:
            return ""
        item = flat[0]
    if isinstance(item, bytes):
        item = item.decode(errors="replace")
    if isinstance(item, (np.floating, float)) and float(item).is_integer():
        return str(int(item))
    return str(item).strip()


class MatVideo(FrameSource):
    """Frames of a video array inside a .mat file, as (H, W, 3) uint8 RGB.

    `axes` is the array's MATLAB axis order ("thwc": time first). Floating-point pixels are taken to
    run from 0 to `float_max` (1.0 in SCAMPS and MMPD) and are scaled to 0-255.
    """

    def __init__(self, path: Path, variable: str, fps: float, axes: str = "thwc", float_max: float = 1.0):
        if axes not in FRAME_AXES:
            raise DataError(f"{path}: frame axes {axes!r} is not one of {list(FRAME_AXES)}")
        self.path, self.variable, self.fps, self.axes = Path(path), variable, float(fps), axes
        self.float_max = float(float_max)
        self.v73 = is_v73(self.path)
        self._shape = _video_shape(self.path, variable, self.v73)
        if len(self._shape) != 4:
            raise DataError(
                f"{path}: variable {variable} has shape {self._shape}, not a 4-D video array (frames)"
            )
        channels = self._shape[3] if axes == "thwc" else self._shape[2]
        if channels != 3:
            raise DataError(
                f"{path}: variable {variable} of shape {self._shape} has {channels} channels in the "
                f"{axes!r} axis order, not 3 (loader option frame_axes)"
            )

    def frame_count(self) -> int | None:
        return int(self._shape[0] if self.axes == "thwc" else self._shape[3])

    def __iter__(self) -> Iterator[np.ndarray]:
        count = self.frame_count() or 0
        if not self.v73:
            video = read_variables(self.path, [self.variable])[self.variable]
            for i in range(count):
                yield self._pixels(video[i] if self.axes == "thwc" else video[..., i])
            return
        import h5py

        try:
            with h5py.File(self.path, "r") as f:
                data = f[self.variable]  # MATLAB (t, h, w, c) is stored as (c, w, h, t)
                for start in range(0, count, BLOCK):
                    stop = min(count, start + BLOCK)
                    if self.axes == "thwc":
                        block = np.asarray(data[..., start:stop]).T  # (t, h, w, c)
                    else:
                        block = np.moveaxis(np.asarray(data[start:stop]).T, -1, 0)  # (t, h, w, c)
                    for frame in block:
                        yield self._pixels(frame)
        except OSError as exc:
            raise DataError(f"{self.path}: cannot read frames of {self.variable} ({exc})") from exc

    def _pixels(self, frame: np.ndarray) -> np.ndarray:
        if frame.dtype == np.uint8:
            return np.ascontiguousarray(frame)
        scaled = np.asarray(frame, dtype=np.float32) * (255.0 / self.float_max)
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _video_shape(path: Path, variable: str, v73: bool) -> tuple[int, ...]:
    """The MATLAB-order shape of a variable, from the file's header only."""
    if v73:
        import h5py

        try:
            with h5py.File(path, "r") as f:
                if variable not in f:
                    raise DataError(
                        f"{path}: no video: variable {variable} not found; it holds {', '.join(f) or 'nothing'}"
                    )
                return tuple(int(n) for n in reversed(f[variable].shape))
        except OSError as exc:
            raise DataError(f"{path}: cannot read this MATLAB v7.3 (HDF5) file ({exc})") from exc
    try:
        from scipy.io import whosmat

        shapes = {name: shape for name, shape, _ in whosmat(path)}
    except Exception as exc:  # scipy raises several types for a damaged .mat file
        raise DataError(f"{path}: not a readable MATLAB file ({exc})") from exc
    if variable not in shapes:
        raise DataError(
            f"{path}: no video: variable {variable} not found; it holds {', '.join(shapes) or 'nothing'}"
        )
    return tuple(int(n) for n in shapes[variable])


def open_video(loader: Any, record: Any, variable: str) -> MatVideo:
    """The frames of variable `variable` of the record's .mat file, with the loader's fps, axis order
    and float scale options, checked against the record's frame range."""
    from rppgbench_plugins.datasets import common

    common.raise_if_problem(record)
    options = loader.options
    frames = MatVideo(record.location, variable, options["fps"], options["frame_axes"], options["float_max"])
    common.check_frame_range(record, frames)
    return frames
