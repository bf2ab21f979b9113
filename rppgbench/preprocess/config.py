"""Preprocessing settings: how faces are found, cropped and sized before methods see the frames.

Every field is part of the cache key, so changing any of them prepares a new set of clips.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from rppgbench.errors import ConfigError
from rppgbench.params import Param

FACE_MODES = ("blazeface", "dataset", "full")
# How the clip cache stores frames (rppgbench.preprocess.cache); here so the CLI need not import h5py.
COMPRESSION_NAMES = ("predictive", "none", "lzf", "gzip")
DEFAULT_COMPRESSION = "predictive"
NO_FACE_MODES = ("fail", "full")


@dataclass(frozen=True)
class PreprocessConfig:
    """How a record's frames become a clip of square face crops.

    face: "blazeface" (MediaPipe BlazeFace short-range detector), "dataset" (the loader's `face_box`
      annotation of the first frame) or "full" (the whole frame resized to size x size, aspect not kept;
      an explicit opt-in, never a silent fallback).
    enlarge: the face box is made square on its longer side and scaled by this factor about its centre.
      BlazeFace boxes run from the brows to the chin and cut off the forehead and the cheek edges, the
      skin that carries most of the pulse signal; 1.6 brings in the forehead and both cheeks with a little
      background margin, so head motion of about 30% of the face size stays inside a fixed box.
      Applied to dataset annotations too (set 1.0 to use them as given).
    redetect_every: 0 detects once on the first frame and keeps the box for the whole clip (as AutoHR and
      most published protocols do: a fixed box adds no crop jitter to the signal); N > 0 re-detects every
      N frames and moves the box smoothly: with face="blazeface" the detector looks again, with
      face="dataset" the dataset's own box of that frame is taken (loaders that annotate every frame).
    smoothing: exponential smoothing weight of the previous box when re-detecting:
      box = smoothing * previous + (1 - smoothing) * detected (0 = jump to each detection).
    size: side of the square output frames, resized with area interpolation (cv2.INTER_AREA).
    on_no_face: "fail" makes a record without a face on its first frame a failure naming the frame;
      "full" falls back to the whole frame for that clip and records the fallback in the cache file.
      A missed re-detection keeps the previous box (and is counted in the cache file).
    min_confidence: detections scoring below this are ignored.
    max_frames: keep at most this many frames of each record (0 = all).
    """

    face: str = "blazeface"
    enlarge: float = 1.6
    redetect_every: int = 0
    smoothing: float = 0.5
    size: int = 128
    on_no_face: str = "fail"
    min_confidence: float = 0.5
    max_frames: int = 0

    def __post_init__(self) -> None:
        if self.face not in FACE_MODES:
            raise ConfigError(f"preprocess face={self.face!r} is not one of {list(FACE_MODES)}")
        if self.on_no_face not in NO_FACE_MODES:
            raise ConfigError(
                f"preprocess on_no_face={self.on_no_face!r} is not one of {list(NO_FACE_MODES)}"
            )
        if not self.enlarge > 0:
            raise ConfigError(f"preprocess enlarge={self.enlarge!r} must be > 0")
        if self.redetect_every < 0:
            raise ConfigError(f"preprocess redetect_every={self.redetect_every!r} must be >= 0")
        if not 0.0 <= self.smoothing < 1.0:
            raise ConfigError(f"preprocess smoothing={self.smoothing!r} must be in [0, 1)")
        if not 8 <= self.size <= 1024:
            raise ConfigError(f"preprocess size={self.size!r} must be between 8 and 1024 pixels")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"preprocess min_confidence={self.min_confidence!r} must be in [0, 1]")
        if self.redetect_every and self.face == "full":
            raise ConfigError(
                f"preprocess redetect_every={self.redetect_every} needs face='blazeface' or 'dataset' "
                f"(face={self.face!r})"
            )
        if self.max_frames < 0:
            raise ConfigError(f"preprocess max_frames={self.max_frames!r} must be >= 0 (0 = all frames)")

    @classmethod
    def params(cls) -> tuple[Param, ...]:
        """The fields as declared parameters (defaults and choices), used to convert `--set` strings."""
        choices = {"face": FACE_MODES, "on_no_face": NO_FACE_MODES}
        return tuple(Param(f.name, f.default, choices=choices.get(f.name)) for f in fields(cls))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> PreprocessConfig:
        """Build from a protocol's [preprocess] table or `--set` strings.

        Unknown names and values of the wrong type or out of range raise ConfigError.
        """
        values = dict(values or {})
        declared = {p.name: p for p in cls.params()}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            from rppgbench.protocol_schema import did_you_mean

            raise ConfigError(
                f"preprocess has no setting {', '.join(unknown)}{did_you_mean(unknown[0], sorted(declared))}; "
                f"valid: {', '.join(sorted(declared))}"
            )
        converted: dict[str, Any] = {}
        for name, value in values.items():
            param = declared[name]
            value = param.convert(value)
            expected = type(param.default)
            if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
                raise ConfigError(
                    f"preprocess {name}={value!r} must be {expected.__name__}, not {type(value).__name__}"
                )
            converted[name] = value
        return cls(**converted)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (JSON-serialisable), as stored in cache files and used in cache keys."""
        return asdict(self)
