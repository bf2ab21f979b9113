"""The clip cache: one HDF5 file per prepared record, written atomically and read lazily.

Layout of a clip file:
  frames              (T, S, S, 3) uint8 RGB face crops, chunked (CHUNK_FRAMES, S, S, 3), when stored
                      plain or with an HDF5 filter (compression "none", "lzf", "gzip"); or
  frames_packed       one uint8 blob per CHUNK_FRAMES frames, losslessly coded by `frame_codec`
                      (compression "predictive", the default), with attrs frame_count and frame_shape
  timestamps          (T,) float64 seconds from the first frame of the record
  face_boxes          (T, 4) int32 crop box (x, y, w, h) in source-frame pixels
  reference_values    (N,) float64 reference at its native rate; reference_times (N,) float64 seconds;
                      attr reference_kind ("ppg" | "ecg" | "hr")
  aligned_reference   (T,) float32 reference resampled onto the timestamps (absent for kind "hr")
  attrs               record (JSON), config (JSON), loader (JSON), rppgbench_version, cache_format,
                      detector facts (detection_score, no_face_fallback, redetect_misses, ...), compression,
                      checksums (JSON: sha256 of every dataset's bytes, the frames' decoded bytes, and of
                      the other attributes)

Integrity: `verify_clip` recomputes the checksums; `prepare` verifies a cached clip before reusing it
and prepares it again when it is damaged, and `load_clip` verifies everything but the frames (cheap).

Compression: face crops carry camera noise, which general-purpose codecs barely shrink: on the
synthetic benchmark's 128-px crops LZF saves about 30% and gzip level 1 about 45%. The default,
"predictive" (`frame_codec`: each chunk predicted from the previous frame or from its neighbours in the
frame, the residual bit-shuffled and compressed with zstd), stores the same crops in under a third of
the space and is decoded chunk by chunk; `benchmarks/bench_clip_codec.py` measures all four.
Training resizes each clip once into memory, so decoding is not on its hot path; "none" remains for
workloads that read random windows from disk over and over. The codec does not change the frames, so it is not part of the
cache key.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from rppgbench import __version__
from rppgbench.data import Clip, Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import ConfigError, DataError, StorageError
from rppgbench.integrity import temporary_name
from rppgbench.paths import cache_root as default_cache_root
from rppgbench.preprocess.config import DEFAULT_COMPRESSION, PreprocessConfig
from rppgbench.preprocess.frame_codec import decode_chunk, encode_chunk

CACHE_FORMAT_VERSION = 2  # 2: checksums attribute
# How re-detections search for the face (rppgbench.preprocess.crop): part of the key of re-detected
# clips only, so a change of the search prepares those again and leaves detect-once clips alone.
# 2: a window around the tracked face first, then the whole frame (1: the whole frame).
REDETECT_SEARCH_VERSION = 2
CHUNK_FRAMES = 16
COMPRESSIONS: dict[str, dict[str, Any]] = {
    "predictive": {},  # frame_codec, stored as blobs in PACKED_FRAMES (no HDF5 filter)
    "none": {},
    "lzf": {"compression": "lzf"},
    "gzip": {"compression": "gzip", "compression_opts": 1},
}
PACKED_FRAMES = "frames_packed"
TMP_SUFFIX = ".tmp"
CHECKSUMS_ATTR = "checksums"
ATTRS_KEY = "@attrs"
log = logging.getLogger("rppgbench.cache")
FREE_SPACE_MARGIN = 1 << 20  # bytes kept free beyond a clip's estimated size
_UNCLOSABLE: list[Any] = []  # HDF5 objects of a file whose close failed (full disk); see _quarantine


def _quarantine(*objects: Any) -> None:
    """Keep HDF5 objects of a file that could not be closed alive until the process ends.

    HDF5 crashes (segmentation fault) when it frees such objects, even at interpreter exit; so they
    are never freed, and the process then leaves with exit code 1 (it only happens after a storage
    error, which already ends the command with 1) without HDF5's own tear-down.
    """
    if not _UNCLOSABLE:
        atexit.register(_exit_without_hdf5_teardown)
    _UNCLOSABLE.extend(o for o in objects if o is not None)


def _exit_without_hdf5_teardown() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def ensure_space(folder: Path, needed_bytes: int) -> None:
    """StorageError naming `folder` when its file system has less than `needed_bytes` (+ a margin) free.

    Checked before a clip is written, because HDF5 cannot recover cleanly from a full disk.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        raise StorageError.from_os(folder, exc, "cannot use the clip cache") from exc
    if free < needed_bytes + FREE_SPACE_MARGIN:
        raise StorageError(
            f"{folder}: no space left for the clip cache ({free / 2**20:.1f} MiB free, the next clip needs "
            f"about {(needed_bytes + FREE_SPACE_MARGIN) / 2**20:.1f} MiB); free some space or use --cache-dir"
        )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def cache_key(loader: DatasetLoader, record: Record, config: PreprocessConfig) -> str:
    """sha256 of everything that determines a clip's content: loader description, config, record, format."""
    payload = {
        "loader": loader.describe(),
        "preprocess": config.to_dict(),
        "record": record.id,
        "frame_range": list(record.frame_range),
        "format": CACHE_FORMAT_VERSION,
    }
    if config.redetect_every:
        payload["redetect_search"] = REDETECT_SEARCH_VERSION
    return hashlib.sha256(_json(payload).encode()).hexdigest()


def cache_path(
    loader: DatasetLoader, record: Record, config: PreprocessConfig, cache_root: Path | None = None
) -> Path:
    """Where the clip of `record` prepared with `config` lives: <cache_root>/clips/<dataset>/<key>.h5."""
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    dataset = "".join(c if c.isalnum() or c in "-_." else "_" for c in (loader.name or "dataset"))
    return root / "clips" / dataset / f"{cache_key(loader, record, config)}.h5"


def record_to_dict(record: Record) -> dict[str, Any]:
    """A record as plain JSON values (paths as strings)."""
    return {
        "dataset": record.dataset,
        "subject": record.subject,
        "session": record.session,
        "location": str(record.location),
        "scenario": record.scenario,
        "source": record.source,
        "fps": record.fps,
        "files": {k: str(v) for k, v in record.files.items()},
        "frame_range": list(record.frame_range),
        "meta": record.meta,
    }


def record_from_dict(values: Mapping[str, Any]) -> Record:
    """Inverse of `record_to_dict` (meta values that were not JSON come back as strings)."""
    start, stop = values.get("frame_range", (0, None))
    return Record(
        dataset=values["dataset"],
        subject=values["subject"],
        session=values["session"],
        location=Path(values["location"]),
        scenario=values.get("scenario", ""),
        source=values.get("source", ""),
        fps=values.get("fps"),
        files={k: Path(v) for k, v in values.get("files", {}).items()},
        frame_range=(int(start), None if stop is None else int(stop)),
        meta=dict(values.get("meta", {})),
    )


class ClipWriter:
    """Appends face crops to a temporary HDF5 file chunk by chunk; `commit` renames it into place.

    Memory use is one chunk of output frames, whatever the video length. Leaving the context without
    `commit` (an exception) deletes the temporary file, so a complete-looking file is always complete.
    """

    def __init__(
        self, path: Path, size: int, chunk_frames: int = CHUNK_FRAMES, compression: str = DEFAULT_COMPRESSION
    ):
        self.path = Path(path)
        self.tmp_path = temporary_name(self.path)
        if compression not in COMPRESSIONS:
            raise ConfigError(f"compression {compression!r} is not one of {list(COMPRESSIONS)}")
        self.size = size
        self.compression = compression
        self.count = 0
        self._digest = hashlib.sha256()
        self._file: h5py.File | None = None
        with self._storage("cannot create a clip file in the cache"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = h5py.File(self.tmp_path, "w")
            self._create_datasets(size, chunk_frames, compression)
        self._buffer = np.empty((chunk_frames, size, size, 3), dtype=np.uint8)
        self._box_buffer = np.empty((chunk_frames, 4), dtype=np.int32)
        self._filled = 0

    @contextlib.contextmanager
    def _storage(self, doing: str):
        """OS errors while writing the cache (full, read-only, no permission) become a StorageError."""
        try:
            yield
        except OSError as exc:
            self.abort()
            raise StorageError(f"{self.tmp_path.parent}: {doing} ({exc})") from exc

    def _create_datasets(self, size: int, chunk_frames: int, compression: str) -> None:
        assert self._file is not None
        self._frames = self._packed = None
        if compression == "predictive":
            self._packed = self._file.create_dataset(
                PACKED_FRAMES, shape=(0,), maxshape=(None,), dtype=h5py.vlen_dtype(np.uint8), chunks=(64,)
            )
            self._packed.attrs["frame_shape"] = (size, size, 3)
            self._packed.attrs["chunk_frames"] = chunk_frames
        else:
            self._create_plain_frames(size, chunk_frames, compression)
        self._boxes = self._file.create_dataset(
            "face_boxes", shape=(0, 4), maxshape=(None, 4), dtype=np.int32, chunks=(1024, 4)
        )

    def _create_plain_frames(self, size: int, chunk_frames: int, compression: str) -> None:
        assert self._file is not None
        self._frames = self._file.create_dataset(
            "frames",
            shape=(0, size, size, 3),
            maxshape=(None, size, size, 3),
            dtype=np.uint8,
            chunks=(chunk_frames, size, size, 3),
            **COMPRESSIONS[compression],
        )

    def append(self, crop: np.ndarray, box: tuple[int, int, int, int]) -> None:
        """Add one (S, S, 3) uint8 crop and the box it was cut from."""
        self._buffer[self._filled] = crop
        self._box_buffer[self._filled] = box
        self._filled += 1
        if self._filled == len(self._buffer):
            self._flush()

    def _flush(self) -> None:
        if self._filled == 0:
            return
        n, end = self._filled, self.count + self._filled
        self._digest.update(self._buffer[:n].data)
        with self._storage("cannot write to the clip cache"):
            if self._packed is not None:
                blob = encode_chunk(self._buffer[:n])
                index = self._packed.shape[0]
                self._packed.resize(index + 1, axis=0)
                self._packed[index] = blob
            else:
                self._frames.resize(end, axis=0)
                self._frames[self.count : end] = self._buffer[:n]
            self._boxes.resize(end, axis=0)
            self._boxes[self.count : end] = self._box_buffer[:n]
        self.count, self._filled = end, 0

    @property
    def n_frames(self) -> int:
        """Frames appended so far."""
        return self.count + self._filled

    def commit(self, timestamps: np.ndarray, reference: Reference | None, attrs: Mapping[str, Any]) -> Path:
        """Write timestamps, reference, attributes and checksums, close, and atomically rename into place."""
        self._flush()
        if len(timestamps) != self.count:
            raise ValueError(f"{len(timestamps)} timestamps for {self.count} frames")
        with self._storage("cannot write to the clip cache"):
            self._commit(timestamps, reference, attrs)
            os.replace(self.tmp_path, self.path)
        return self.path

    def _commit(self, timestamps: np.ndarray, reference: Reference | None, attrs: Mapping[str, Any]) -> None:
        assert self._file is not None
        f = self._file
        f.create_dataset("timestamps", data=np.asarray(timestamps, dtype=np.float64))
        if reference is not None:
            f.create_dataset("reference_values", data=np.asarray(reference.values, dtype=np.float64))
            f.create_dataset("reference_times", data=np.asarray(reference.times, dtype=np.float64))
            f.attrs["reference_kind"] = reference.kind
            if reference.kind != "hr":
                f.create_dataset("aligned_reference", data=reference.resampled_to(timestamps))
        for key, value in attrs.items():
            f.attrs[key] = value if isinstance(value, (str, int, float, bool, np.number)) else _json(value)
        f.attrs["rppgbench_version"] = __version__
        f.attrs["cache_format"] = CACHE_FORMAT_VERSION
        f.attrs["compression"] = self.compression
        if self._packed is not None:
            self._packed.attrs["frame_count"] = self.count
        sums = {name: _dataset_digest(f[name]) for name in f if name not in ("frames", PACKED_FRAMES)}
        sums["frames"] = self._digest.hexdigest()
        sums[ATTRS_KEY] = _attrs_digest(f.attrs)
        f.attrs[CHECKSUMS_ATTR] = _json(sums)
        f.flush()
        f.close()
        self._file = None

    def abort(self) -> None:
        """Close and delete the temporary file (idempotent; never raises, even on a full disk)."""
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # e.g. a full disk: HDF5 must never free these objects (see _quarantine)
                _quarantine(self._file, *(getattr(self, n, None) for n in ("_frames", "_packed", "_boxes")))
            self._file = None
        with contextlib.suppress(OSError):
            self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> ClipWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()


class CachedFrames:
    """The frames of a clip file as a lazy (T, S, S, 3) uint8 array: only indexed frames are read.

    Indexing takes ints, slices, integer or boolean arrays (any order, repeats allowed) and tuples whose
    first item is one of those. Each read opens the file, so the object is just a path and a shape:
    it pickles to DataLoader workers (and survives forks) with no open handle to share. Frames stored
    by `frame_codec` (PACKED_FRAMES) are decoded chunk by chunk, each touched chunk once per read.
    """

    def __init__(self, path: Path, dataset: str = "frames") -> None:
        self.path = Path(path)
        self.dataset = dataset
        with h5py.File(self.path, "r") as f:
            self.packed = dataset == "frames" and dataset not in f and PACKED_FRAMES in f
            if self.packed:
                packed = f[PACKED_FRAMES]
                frame_shape = tuple(int(v) for v in packed.attrs["frame_shape"])
                self.shape: tuple[int, ...] = (int(packed.attrs["frame_count"]), *frame_shape)
                self.dtype = np.dtype(np.uint8)
                self._chunk_frames = max(int(packed.attrs["chunk_frames"]), 1)
                self._chunk_bytes = 0
                return
            if dataset not in f:
                raise DataError(f"{self.path}: clip file has no {dataset!r} dataset")
            self.shape = tuple(f[dataset].shape)
            self.dtype = f[dataset].dtype
            chunks = f[dataset].chunks or self.shape
            self._chunk_frames = max(int(chunks[0]), 1)
            self._chunk_bytes = int(np.prod(chunks)) * self.dtype.itemsize

    @property
    def ndim(self) -> int:
        """Number of dimensions (4)."""
        return len(self.shape)

    def _open(self, n_chunks: int) -> h5py.File:
        """Open the file with a chunk cache that holds the `n_chunks` chunks one read touches.

        A chunk is then decompressed at most once per read, and since the file is opened per read,
        no cache outlives it, however many clips a training set keeps open.
        """
        return h5py.File(self.path, "r", rdcc_nbytes=(n_chunks + 1) * self._chunk_bytes, rdcc_nslots=10007)

    def _chunks_between(self, first: int, last: int) -> int:
        return max(last // self._chunk_frames - first // self._chunk_frames + 1, 1)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = (key[0] if key else slice(None)), key[1:]
        n = self.shape[0]
        if isinstance(key, (int, np.integer)):
            index = int(key) + n if key < 0 else int(key)
            if not 0 <= index < n:
                raise IndexError(f"frame {key} out of range for {n} frames")
            out, lead = self._read(np.array([index]))[0], 0
        elif isinstance(key, slice) and (key.step is None or key.step > 0):
            start, stop, step = key.indices(n)
            if self.packed:
                out, lead = self._read_span(start, stop)[::step], 1
            else:
                with self._open(self._chunks_between(start, max(start, stop - 1))) as f:
                    out, lead = f[self.dataset][key], 1
        else:
            index = self._index_array(key)
            unique, inverse = np.unique(index.ravel(), return_inverse=True)
            read = self._read(unique)
            out, lead = read[inverse.ravel()].reshape(*index.shape, *self.shape[1:]), index.ndim
        return out[(slice(None),) * lead + rest] if rest else out

    def _read(self, unique: np.ndarray) -> np.ndarray:
        """The frames at sorted, distinct indices `unique`."""
        if not unique.size:
            return np.empty((0, *self.shape[1:]), self.dtype)
        if self.packed:
            return self._read_packed(unique)
        span = self._chunks_between(int(unique[0]), int(unique[-1]))
        with self._open(min(span, len(unique))) as f:
            return f[self.dataset][unique]

    def _decode(self, chunks: np.ndarray | slice) -> np.ndarray:
        """The frames of the packed chunks `chunks` (sorted indices or a slice), concatenated."""
        with h5py.File(self.path, "r") as f:
            blobs = f[PACKED_FRAMES][chunks]
        try:
            decoded = [decode_chunk(blob, self.shape[1:]) for blob in blobs]
        except ValueError as exc:
            raise DataError(
                f"{self.path}: damaged cached frames: {exc} (prepared again on the next run)"
            ) from exc
        return np.concatenate(decoded) if decoded else np.empty((0, *self.shape[1:]), self.dtype)

    def _read_span(self, start: int, stop: int) -> np.ndarray:
        """Frames start..stop-1 of a packed clip, decoding each chunk they touch once."""
        if stop <= start:
            return np.empty((0, *self.shape[1:]), self.dtype)
        first, last = start // self._chunk_frames, (stop - 1) // self._chunk_frames
        offset = first * self._chunk_frames
        return self._decode(slice(first, last + 1))[start - offset : stop - offset]

    def _read_packed(self, unique: np.ndarray) -> np.ndarray:
        chunk_of = unique // self._chunk_frames
        chunks = np.unique(chunk_of)
        decoded = self._decode(chunks)
        first_row = np.searchsorted(chunks, chunk_of) * self._chunk_frames
        return decoded[first_row + unique - chunk_of * self._chunk_frames]

    def _index_array(self, key: Any) -> np.ndarray:
        """Non-negative frame indices for a slice or an int/bool array key."""
        n = self.shape[0]
        if isinstance(key, slice):
            return np.arange(n)[key]
        index = np.asarray(key)
        if index.dtype == bool:
            if index.shape != (n,):
                raise IndexError(f"boolean index of shape {index.shape} for {n} frames")
            return np.flatnonzero(index)
        if not np.issubdtype(index.dtype, np.integer):
            raise IndexError(f"frames are indexed by ints, slices or int/bool arrays, not {key!r}")
        index = np.where(index < 0, index + n, index)
        if index.size and (index.min() < 0 or index.max() >= n):
            raise IndexError(f"frame index out of range for {n} frames")
        return index

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self[:]
        return array if dtype is None else array.astype(dtype)

    def __repr__(self) -> str:
        return f"CachedFrames({str(self.path)!r}, shape={self.shape})"


def _packed_frames_digest(path: Path, block_chunks: int = 16) -> str:
    """sha256 of the decoded frames of a packed clip, as `ClipWriter` hashed them while writing."""
    frames = CachedFrames(path)
    digest = hashlib.sha256()
    block = block_chunks * frames._chunk_frames
    for start in range(0, len(frames), block):
        digest.update(np.ascontiguousarray(frames[start : start + block]).data)
    return digest.hexdigest()


def _dataset_digest(dataset: h5py.Dataset, block_frames: int = 256) -> str:
    """sha256 of a dataset's C-order bytes, read `block_frames` rows at a time."""
    digest = hashlib.sha256()
    for start in range(0, max(dataset.shape[0], 1) if dataset.shape else 1, block_frames):
        part = dataset[start : start + block_frames] if dataset.shape else dataset[()]
        digest.update(np.ascontiguousarray(part).data)
    return digest.hexdigest()


def _attrs_digest(attrs: h5py.AttributeManager) -> str:
    """sha256 of every attribute but the checksums, as read back from the file."""
    items = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items() if k != CHECKSUMS_ATTR}
    text = json.dumps({k: (v.item() if isinstance(v, np.generic) else v) for k, v in items.items()},
                      sort_keys=True, default=str)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


def verify_clip(path: Path, frames: bool = True) -> str | None:
    """What is wrong with a clip file ("checksum of 'timestamps' does not match", ...), or None if intact.

    `frames=False` skips the frames (the bulk of the file) and checks everything else.
    """
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("cache_format") != CACHE_FORMAT_VERSION:
                return f"cache format {f.attrs.get('cache_format')!r}, expected {CACHE_FORMAT_VERSION}"
            if CHECKSUMS_ATTR not in f.attrs:
                return "no checksums"
            sums = json.loads(f.attrs[CHECKSUMS_ATTR])
            present = set(f) | ({"frames"} if PACKED_FRAMES in f else set())
            missing = sorted({"frames", "timestamps", "face_boxes"} - present)
            if missing:
                return f"dataset(s) {missing} missing"
            if _attrs_digest(f.attrs) != sums.get(ATTRS_KEY):
                return "checksum of the attributes does not match"
            for name in f:
                if name in ("frames", PACKED_FRAMES):
                    continue
                if _dataset_digest(f[name]) != sums.get(name):
                    return f"checksum of {name!r} does not match its content"
            packed = "frames" not in f
            if frames and not packed and _dataset_digest(f["frames"]) != sums.get("frames"):
                return "checksum of 'frames' does not match its content"
        if frames and packed and _packed_frames_digest(path) != sums.get("frames"):
            return "checksum of 'frames' does not match its content"
    except DataError as exc:
        return f"'frames' cannot be decoded ({exc.__cause__ or exc})"
    except (OSError, KeyError, ValueError, TypeError) as exc:  # h5py reports damaged structure as OSError
        return f"not a readable clip file ({exc})"
    return None


def frame_count(path: Path) -> int:
    """Number of frames stored in a clip file (plain or packed)."""
    return CachedFrames(path).shape[0]


def load_clip(path: Path, record: Record | None = None) -> Clip:
    """Open a prepared clip file: frames stay on disk (CachedFrames), everything else is read now.

    `record` defaults to the record stored in the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: clip file not found (run `rppgbench prepare` first)")
    problem = verify_clip(path, frames=False)
    if problem:
        raise DataError(f"{path}: damaged cached clip: {problem} (it is prepared again on the next run)")
    try:
        with h5py.File(path, "r") as f:
            timestamps = f["timestamps"][:]
            boxes = f["face_boxes"][:]
            reference = None
            if "reference_values" in f:
                reference = Reference(
                    str(f.attrs["reference_kind"]), f["reference_values"][:], f["reference_times"][:]
                )
            if record is None:
                record = record_from_dict(json.loads(f.attrs["record"]))
    except (OSError, KeyError) as exc:
        raise DataError(f"{path}: not a readable clip file ({exc})") from exc
    return Clip(record, CachedFrames(path), timestamps, reference, boxes)


def clip_attrs(path: Path) -> dict[str, Any]:
    """The attributes of a clip file, JSON-encoded ones decoded (record, config, loader, ...)."""
    with h5py.File(path, "r") as f:
        out: dict[str, Any] = {}
        for key, value in f.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, str) and value[:1] in "{[":
                with contextlib.suppress(json.JSONDecodeError):
                    value = json.loads(value)
            out[key] = value.item() if isinstance(value, np.generic) else value
        return out
