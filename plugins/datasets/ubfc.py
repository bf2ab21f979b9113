"""UBFC-rPPG (Bobbia et al., 2019): uncompressed 640x480 webcam videos with a finger-oximeter PPG.

DATASET_2 (42 subjects): `<root>/subject<N>/vid.avi` and `ground_truth.txt`, three lines of numbers:
PPG samples, HR per sample, and timestamps in seconds (one sample per frame in practice).
DATASET_1 (8 subjects): `<root>/<N>-gt/vid.avi` and `gtdump.xmp`, CSV rows of timestamp (ms), HR,
SpO2, PPG. The variant is detected per subject folder (`variant = "auto"`) or forced by the option.

Unsure (options): the column order of `gtdump.xmp` (`xmp_columns`). The reference's time origin is
its first timestamp, taken as the video's first frame.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from rppgbench_plugins.datasets import common

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import ConfigError, DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource

LAYOUT = "subject<N>/{vid.avi, ground_truth.txt} (DATASET_2) or <N>-gt/{vid.avi, gtdump.xmp} (DATASET_1)"
GROUND_TRUTH = {"dataset2": "ground_truth.txt", "dataset1": "gtdump.xmp"}
SUBJECT_NAME = re.compile(r"subject\d+|\d+-gt", re.IGNORECASE)
XMP_COLUMNS = ("time_ms", "hr", "spo2", "ppg")


class UBFCrPPG(DatasetLoader):
    """UBFC-rPPG loader (DATASET_1 and DATASET_2): one record per subject folder; reference is the PPG."""

    name = "ubfc"
    description = "UBFC-rPPG: 42 (+8) subjects, uncompressed 30-fps webcam video, finger PPG"
    params = (
        Param(
            "variant",
            "auto",
            "dataset release: detected per folder, or forced",
            ("auto", "dataset1", "dataset2"),
        ),
        Param("xmp_columns", XMP_COLUMNS, "column order of gtdump.xmp (unsure)"),
        Param("reference", "ppg", "reference to load: the PPG waveform or the oximeter's HR", ("ppg", "hr")),
        Param("fps", 0.0, "frame rate; 0 reads it from the video header"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "UBFC-rPPG", LAYOUT)
        columns = tuple(self.options["xmp_columns"])
        if sorted(columns) != sorted(XMP_COLUMNS):
            raise ConfigError(f"xmp_columns must order exactly {list(XMP_COLUMNS)}, got {list(columns)}")
        frame_range = common.frame_range_option(self.options["frame_range"])
        out = []
        for folder in sorted(
            (p for p in root.iterdir() if p.is_dir()), key=lambda p: common.natural_key(p.name)
        ):
            variant = self._variant(folder)
            has_video = (folder / "vid.avi").is_file()
            if variant is None and not has_video:
                if SUBJECT_NAME.fullmatch(folder.name):
                    out.append(
                        common.problem_record(
                            "ubfc", folder.name, "1", folder, "no vid.avi and no ground truth"
                        )
                    )
                else:
                    common.log.warning("%s: not a UBFC-rPPG subject folder (no vid.avi), skipped", folder)
                continue
            if not has_video:
                out.append(
                    common.problem_record(
                        "ubfc", folder.name, "1", folder, "no vid.avi in this subject folder"
                    )
                )
                continue
            variant = variant or ("dataset1" if folder.name.lower().endswith("-gt") else "dataset2")
            out.append(
                Record(
                    "ubfc",
                    folder.name,
                    "1",
                    folder / "vid.avi",
                    fps=self.options["fps"] or None,
                    files={
                        "ground_truth": folder / GROUND_TRUTH[variant],
                        "reference": folder / GROUND_TRUTH[variant],
                    },
                    frame_range=frame_range,
                    meta={"variant": variant},
                )
            )
        if not out:
            raise DataError(f"{root}: not a UBFC-rPPG root: no subject folders (expected {LAYOUT})")
        return out

    def _variant(self, folder: Path) -> str | None:
        if self.options["variant"] != "auto":
            return self.options["variant"]
        for variant, name in GROUND_TRUTH.items():
            if (folder / name).is_file():
                return variant
        return None

    def open_frames(self, record: Record) -> FrameSource:
        return common.open_video(record)

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path = common.require_file(record.files["ground_truth"], record.files["ground_truth"].name, record)
        text = common.read_text(path, path.name)
        if record.meta["variant"] == "dataset2":
            ppg, hr, times = _read_ground_truth(path, text)
        else:
            table = common.parse_row_table(path, text, 4, "gtdump.xmp")
            column = {name: table[:, i] for i, name in enumerate(self.options["xmp_columns"])}
            ppg, hr, times = column["ppg"], column["hr"], column["time_ms"] / 1000.0
        common.check_finite(path, times, "timestamps")
        values, kind = (ppg, "ppg") if self.options["reference"] == "ppg" else (hr, "hr")
        return common.validated_reference(
            path, kind, values, times - times[0], loader=self, record=record, what=f"{kind.upper()} column"
        )


def _read_ground_truth(path: Path, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DATASET_2's ground_truth.txt: three lines (PPG, HR, time in s) of equal length."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 3:
        raise DataError(f"{path}: expected 3 lines (PPG, HR, timestamps), found {len(lines)}")
    rows = []
    for number, line in enumerate(lines[:3], start=1):
        try:
            rows.append(np.array([float(v) for v in re.split(r"[\s,]+", line.strip())], dtype=np.float64))
        except ValueError:
            raise DataError(f"{path}: line {number} is not a list of numbers") from None
    if len({row.size for row in rows}) != 1:
        raise DataError(f"{path}: the 3 lines have different lengths {[row.size for row in rows]}")
    return rows[0], rows[1], rows[2]


@hookimpl
def register_datasets(register) -> None:
    """Register the UBFC-rPPG loader."""
    register(UBFCrPPG)
