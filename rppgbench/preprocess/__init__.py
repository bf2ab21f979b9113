"""Face preprocessing and the clip cache: records become square face-crop clips stored as HDF5 files.

`prepare` streams each record's video through face detection and cropping into one clip file per
record (reused on later runs); `load_clip` opens one as a `Clip` whose frames are read lazily.
"""

from rppgbench.preprocess.cache import (
    CACHE_FORMAT_VERSION,
    CachedFrames,
    cache_path,
    clip_attrs,
    load_clip,
    verify_clip,
)
from rppgbench.preprocess.config import PreprocessConfig
from rppgbench.preprocess.pipeline import PrepResult, prepare, prepare_record

__all__ = [
    "CACHE_FORMAT_VERSION",
    "CachedFrames",
    "PrepResult",
    "PreprocessConfig",
    "cache_path",
    "clip_attrs",
    "load_clip",
    "verify_clip",
    "prepare",
    "prepare_record",
]
