"""Fault injection: damaged inputs, bad protocols and split files, OS faults, damaged caches, weights and
run folders. Every case checks the exit code, that the message names the file and the problem, and
that no video is lost (found = scored + failed + excluded). Guarantees: docs/reliability.md.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from rppgbench.cli import build_cli
from rppgbench.errors import DataError
from rppgbench.testing import (
    FIXTURE_MAKERS,
    break_empty_subject,
    break_missing_reference,
    break_nan_reference,
    break_short_reference,
    break_video,
    make_mmse_tree,
    make_tree,
    synthetic_face_frames,
    variable_frame_times,
    write_timed_video,
)

PROTOCOL = """name = "tiny"
description = "fault-injection protocol"
[dataset]
name = "{dataset}"
{options}
[split]
{split}
[preprocess]
face = "full"
size = 32
[test]
mode = "whole"
min_seconds = 3.0
[reference]
source = "{reference}"
"""
KFOLD = 'kind = "kfold"\nfolds = 2\nseed = 0'


# ----------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A 4-subject UBFC tree (6-s videos, 48 px), written once per module and copied per test."""
    return make_tree(
        "ubfc", tmp_path_factory.mktemp("pristine") / "data", subjects=4, seconds=6.0, size=(48, 48)
    )


@pytest.fixture
def data(pristine, tmp_path):
    return pristine.copy_to(tmp_path / "data")


def protocol(tmp_path: Path, dataset="ubfc", split=KFOLD, reference="waveform", options="", extra="") -> Path:
    path = tmp_path / "tiny.toml"
    text = PROTOCOL.format(dataset=dataset, split=split, reference=reference, options=options) + extra
    path.write_text(text)
    return path


def cli(*args: object):
    return CliRunner().invoke(build_cli(), [str(a) for a in args])


def run(tmp_path: Path, data_root: Path, proto: Path | None = None, out: Path | None = None, *extra):
    out = out or tmp_path / "run"
    proto = proto or protocol(tmp_path)
    # one worker: preprocessing stays in this process, where the tests' injected faults apply
    result = cli("run", "--method", "pos", "--protocol", proto, "--data-root", data_root, "--out", out,
                 "--quiet", "--cache-dir", tmp_path / "cache", "--workers", "1", *extra)  # fmt: skip
    return result, out


def no_traceback(result) -> None:
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def accounting(out: Path, found: int) -> dict:
    """metrics.json's accounting: every video found is scored, failed or excluded (none lost)."""
    metrics = json.loads((out / "metrics.json").read_text())
    acc = metrics["accounting"]
    assert acc["found"] == found
    assert acc["found"] == acc["scored"] + acc["failed"] + acc["excluded"] + acc["not_run"]
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == acc["scored"] + acc["failed"]
    return acc


def failure_of(out: Path, video_id: str) -> str:
    rows = pd.read_csv(out / "predictions.csv", dtype=str, keep_default_na=False)
    row = rows[rows["video_id"] == video_id].iloc[0]
    assert row["status"] == "failed"
    return row["error"]


# ------------------------------------------------------------------------ damaged inputs (per video)


def _truncate(fixture):
    return break_video(fixture, 0), "decod"


def _zero_length(fixture):
    path = fixture.videos[0].video
    path.write_bytes(b"")
    return path, "decod"


def _not_a_video(fixture):
    path = fixture.videos[0].video
    path.write_text("subject,notes\n1,this is a CSV file with a video's name\n")
    return path, "decod"


def _missing_reference(fixture):
    return break_missing_reference(fixture, 0), "not found"


def _nan_reference(fixture):
    return break_nan_reference(fixture, 0), "NaN"


def _inf_reference(fixture):
    path = fixture.videos[0].reference
    lines = path.read_text().splitlines()
    values = lines[0].split()
    values[5] = "inf"
    path.write_text("\n".join([" ".join(values), *lines[1:]]) + "\n")
    return path, "inf"


def _empty_reference(fixture):
    path = fixture.videos[0].reference
    path.write_text("")
    return path, "empty"


def _short_reference(fixture):
    return break_short_reference(fixture, 0), "shorter"


def _mismatched_reference(fixture):
    path = fixture.videos[0].reference
    ppg, hr, times = path.read_text().splitlines()[:3]
    path.write_text("\n".join([ppg, hr, " ".join(times.split()[:-7])]) + "\n")
    return path, "different lengths"


def _one_second_video(fixture):
    from rppgbench.testing.dataset_fixtures import write_avi

    video = fixture.videos[0]
    frames = synthetic_face_frames(np.arange(30) / 30.0, video.hr_bpm, (48, 48))
    write_avi(video.video, frames, 30.0, "I420")
    return video.video, "1.0 s long"


def _zero_fps_header(fixture):
    """An AVI whose header says 0 frames per second (FFmpeg alone would assume 25)."""
    import struct

    from rppgbench.testing.dataset_fixtures import write_avi

    video = fixture.videos[0]
    write_avi(video.video, synthetic_face_frames(video.timestamps, video.hr_bpm, (48, 48)), video.fps, "MJPG")
    raw = bytearray(video.video.read_bytes())
    stream_header = raw.index(b"strh") + 8
    raw[stream_header + 24 : stream_header + 28] = struct.pack("<I", 0)  # dwRate
    main_header = raw.index(b"avih") + 8
    raw[main_header : main_header + 4] = struct.pack("<I", 0)  # dwMicroSecPerFrame
    video.video.write_bytes(bytes(raw))
    return video.video, "no plausible frame rate"


INPUT_FAULTS = {
    "0-fps header": _zero_fps_header,
    "truncated video": _truncate,
    "zero-length video": _zero_length,
    "text file with a video extension": _not_a_video,
    "missing reference": _missing_reference,
    "NaN in reference": _nan_reference,
    "inf in reference": _inf_reference,
    "empty reference file": _empty_reference,
    "reference shorter than video": _short_reference,
    "reference values and times of different lengths": _mismatched_reference,
    "1-s video": _one_second_video,
}


@pytest.mark.parametrize("fault", list(INPUT_FAULTS))
def test_damaged_input_fails_that_video_only_and_names_the_file(fault, data, tmp_path):
    damaged, problem = INPUT_FAULTS[fault](data)
    result, out = run(tmp_path, data.root)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    reason = failure_of(out, data.videos[0].record_id)
    assert str(damaged) in reason and problem.lower() in reason.lower(), reason
    assert f"failed: {data.videos[0].record_id}" in result.output
    acc = accounting(out, found=4)
    assert (acc["scored"], acc["failed"]) == (3, 1)


def test_subject_folder_without_video_is_a_failed_video(data, tmp_path):
    folder = break_empty_subject(data)
    result, out = run(tmp_path, data.root)
    assert result.exit_code == 0, result.output
    assert str(folder) in failure_of(out, "ubfc/subject99/1")
    assert accounting(out, found=5)["failed"] == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_video_fails_that_video(data, tmp_path):
    data.videos[1].video.chmod(0)
    result, out = run(tmp_path, data.root)
    assert result.exit_code == 0
    assert str(data.videos[1].video) in failure_of(out, data.videos[1].record_id)
    accounting(out, found=4)


# --------------------------------------------------------------------------------------------- time


def _vfr_clip(tmp_path: Path, hr: float):
    times = variable_frame_times(12.0, rates=(20.0, 40.0), block_s=6.0)
    frames = synthetic_face_frames(times, hr, (48, 48), seed=3)
    return write_timed_video(tmp_path / "phone.mkv", frames, times, nominal_fps=30.0), times


def test_variable_frame_rate_clip_gives_the_right_hr(tmp_path):
    from rppgbench.data import Clip, Record, Reference
    from rppgbench.evaluation import evaluate_video
    from rppgbench.plugins import registry
    from rppgbench.protocol import WindowingSpec
    from rppgbench.signal.hr import HRConfig
    from rppgbench.testing.dataset_fixtures import ppg_wave
    from rppgbench.video import VideoFile

    hr = 75.0
    path, true_times = _vfr_clip(tmp_path, hr)
    video = VideoFile(path)
    frames = np.stack(list(video))
    assert np.allclose(video.timestamps, true_times, atol=1e-3)  # the container's clock, not 30 fps
    ref_times = np.arange(0, 12.0, 0.01)
    reference = Reference("ppg", ppg_wave(ref_times, hr), ref_times)
    record = Record("phone", "s1", "1", path)
    method = registry().method("pos")()
    spec, config = WindowingSpec(mode="whole"), HRConfig()
    estimate = evaluate_video(method, Clip(record, frames, video.timestamps, reference), spec, config)
    assert estimate.hr_pred == pytest.approx(hr, abs=2.0)
    naive = np.arange(len(frames)) / 30.0  # the header's rate, as the clip used to be read
    wrong = evaluate_video(method, Clip(record, frames, naive, reference), spec, config)
    assert abs(wrong.hr_pred - hr) > 5.0  # the test would notice a reader that ignores timestamps


def test_absurd_frame_rate_is_an_error_naming_the_file(tmp_path):
    from rppgbench.data import Record
    from rppgbench.preprocess import PreprocessConfig, prepare
    from rppgbench.testing.dataset_fixtures import ppg_wave

    times = np.arange(40) * 2.0  # 0.5 fps: no camera films faces like this
    path = write_timed_video(tmp_path / "fast.mkv", synthetic_face_frames(times, 70.0, (32, 32)), times)
    loader = _single_video_loader(path, ppg_wave)
    (result,) = prepare(loader, loader.records(), PreprocessConfig(face="full", size=16), tmp_path / "c",
                        progress=False).values()  # fmt: skip
    assert not result.ok and str(path) in result.error and "absurd rate of 0.5 fps" in result.error
    assert isinstance(loader.records()[0], Record)


def test_image_frames_with_zero_rate_and_no_timestamps_is_an_error_naming_the_folder(tmp_path):
    mmse = make_mmse_tree(tmp_path / "mmse", subjects=("F013", "M001"), seconds=3.0)
    proto = protocol(tmp_path, dataset="mmse", reference="dataset_hr", options="options = { fps = 0.0 }")
    result, out = run(tmp_path, mmse.root, proto)
    assert result.exit_code in (0, 2), result.output
    no_traceback(result)
    reason = failure_of(out, mmse.videos[0].record_id)
    assert str(mmse.videos[0].video) in reason and "frame rate" in reason


def _single_video_loader(path: Path, wave):
    from rppgbench.data import Record, Reference
    from rppgbench.dataset import DatasetLoader
    from rppgbench.video import VideoFile

    class One(DatasetLoader):
        name = "one"
        needs_root = False

        def records(self):
            return [Record("one", "s1", "1", path)]

        def open_frames(self, record):
            return VideoFile(record.location)

        def load_reference(self, record):
            times = np.arange(0, 4.0, 0.01)
            return Reference("ppg", wave(times, 70.0), times)

    return One(None)


# --------------------------------------------------------------------------- identity and splits


@pytest.mark.parametrize("dataset", sorted(FIXTURE_MAKERS))
def test_no_subject_is_in_training_and_test_of_a_fold(dataset, tmp_path):
    from rppgbench.plugins import registry
    from rppgbench.protocol import load_protocol, make_folds

    fixture = make_tree(dataset, tmp_path / "d")
    loader = registry().dataset(dataset)(fixture.root, **fixture.options)
    records = loader.records()
    proto = load_protocol(protocol(tmp_path, dataset=dataset))
    subjects = {r.subject for r in records}
    assert len(subjects) == len({v.subject for v in fixture.videos})  # full ids: nothing merged
    for fold in make_folds(proto, {"data": records}):
        assert not {r.subject for r in fold.train} & {r.subject for r in fold.test}
        assert len(fold.test) == len({r.id for r in fold.test})
    tested = [r.id for fold in make_folds(proto, {"data": records}) for r in fold.test]
    assert sorted(tested) == sorted(r.id for r in records)  # each video tested exactly once


def test_mmse_subjects_with_the_same_number_stay_distinct(tmp_path):
    mmse = make_mmse_tree(tmp_path / "mmse", subjects=("F013", "M013", "F020", "M001"), seconds=4.0)
    proto = protocol(tmp_path, dataset="mmse", reference="dataset_hr")
    result, out = run(tmp_path, mmse.root, proto)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "predictions.csv", dtype=str)
    assert sorted(rows["video_id"]) == sorted(v.record_id for v in mmse.videos)  # 4 rows for 4 videos
    assert {"F013", "M013"} <= set(rows["subject"])
    accounting(out, found=4)


def _split(tmp_path: Path, content: object, name="split.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


SPLIT_FAULTS = {
    "subject missing": ({"folds": [["subject1"], ["subject2", "subject3"]]}, "in no fold: subject4"),
    "subject in two folds": (
        {"folds": [["subject1", "subject2"], ["subject2", "subject3", "subject4"]]},
        "more than one fold: subject2",
    ),
    "subject not in the data": (
        {"folds": [["subject1", "subject2"], ["subject3", "subject4", "subject77"]]},
        "not in the data: subject77",
    ),
    "one fold only": ({"folds": [["subject1", "subject2", "subject3", "subject4"]]}, "at least two"),
    "malformed JSON": ('{"folds": [["subject1"], ', "cannot read"),
    "wrong extension": ("subject1 1\n", "must be .json, .csv or .mat"),
}


@pytest.mark.parametrize("fault", list(SPLIT_FAULTS))
def test_bad_split_file_stops_before_anything_is_written(fault, data, tmp_path):
    content, message = SPLIT_FAULTS[fault]
    split = _split(tmp_path, content, "split.txt" if fault == "wrong extension" else "split.json")
    result, out = run(tmp_path, data.root, None, None, "--split-file", split)
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert str(split) in result.output and message in result.output
    assert not out.exists()


def test_split_file_exclude_is_recorded_and_counted(data, tmp_path):
    split = _split(tmp_path, {"folds": [["subject1"], ["subject2", "subject3"]], "exclude": ["subject4"]})
    result, out = run(tmp_path, data.root, None, None, "--split-file", split)
    assert result.exit_code == 0, result.output
    acc = accounting(out, found=4)
    assert (acc["scored"], acc["excluded"], acc["excluded_videos"]) == (3, 1, ["ubfc/subject4/1"])
    assert "4 found = 3 scored + 0 failed + 1 excluded" in result.output


def test_split_file_on_a_cross_dataset_protocol_is_refused(data, tmp_path):
    split = _split(tmp_path, {"folds": [["subject1"], ["subject2"]]})
    result, _ = run(tmp_path, data.root, "pure-to-ubfc", None, "--split-file", split)
    no_traceback(result)
    assert (
        result.exit_code == 2 and "pure-to-ubfc.toml" in result.output and "does not apply" in result.output
    )


def test_numeric_split_id_matching_two_subjects_is_ambiguous(tmp_path):
    mmse = make_mmse_tree(tmp_path / "mmse", subjects=("F013", "M013", "F020"), seconds=3.0)
    split = _split(tmp_path, {"folds": [["13"], ["F020"]]})
    proto = protocol(tmp_path, dataset="mmse", reference="dataset_hr")
    result, _ = run(tmp_path, mmse.root, proto, None, "--split-file", split)
    assert result.exit_code == 2 and "ambiguous" in result.output and "F013 or M013" in result.output


# ----------------------------------------------------------------------------------- protocol files

PROTOCOL_FAULTS = {
    "fold typo": (("split", 'kind = "kfold"\nfold = 2'), "[split]", "'fold' (did you mean 'folds'?)"),
    "option typo": (("options", "option = { fps = 30.0 }"), "[dataset]", "(did you mean 'options'?)"),
    "sorce typo": (("extra", '[hr]\nmethod = "welch"\n'), None, None),
    "folds as a string": (("split", 'kind = "kfold"\nfolds = "2"'), "[split]", "folds must be an integer"),
    "more folds than subjects": (("split", 'kind = "kfold"\nfolds = 9'), "[split]", "9 subject-independent"),
    "unknown table": (("extra", "[testing]\nmode = 1\n"), "top level", "'testing' (did you mean 'test'?)"),
    "unknown dataset option": (
        ("options", "options = { fsp = 30.0 }"),
        "[dataset]",
        "fsp (did you mean 'fps'?)",
    ),
    "hr typo": (("extra", '[hr]\nmethd = "welch"\n'), "[hr]", "(did you mean 'method'?)"),
    "preprocess typo": (("extra", "[hr]\n"), None, None),
    "negative clip length": (("extra", ""), None, None),
    "kind typo": (("split", 'kind = "kfolds"\nfolds = 2'), "[split]", "'kfolds' is not one of"),
}


def _bad_protocol(tmp_path: Path, fault: str) -> tuple[Path, str, str]:
    (where, text), table, message = PROTOCOL_FAULTS[fault][0], *PROTOCOL_FAULTS[fault][1:]
    kwargs = {"split": KFOLD}
    if fault == "sorce typo":
        path = protocol(tmp_path)
        path.write_text(path.read_text().replace('source = "waveform"', 'sorce = "waveform"'))
        return path, "[reference]", "'sorce' (did you mean 'source'?)"
    if fault == "preprocess typo":
        path = protocol(tmp_path)
        path.write_text(path.read_text().replace("size = 32", "sise = 32"))
        return path, "[preprocess]", "sise (did you mean 'size'?)"
    if fault == "negative clip length":
        path = protocol(tmp_path)
        path.write_text(path.read_text().replace("min_seconds = 3.0", "min_seconds = -3.0"))
        return path, "[test]", "min_seconds must be >= 0"
    kwargs[where] = text
    return protocol(tmp_path, **kwargs), table, message


@pytest.mark.parametrize("fault", list(PROTOCOL_FAULTS))
def test_protocol_error_names_file_table_and_key_before_writing(fault, data, tmp_path):
    path, table, message = _bad_protocol(tmp_path, fault)
    result, out = run(tmp_path, data.root, path)
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert str(path) in result.output and table in result.output and message in result.output, result.output
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_protocol_that_is_not_toml_names_the_file(data, tmp_path):
    path = protocol(tmp_path)
    path.write_text(path.read_text() + "[split\n")
    result, _ = run(tmp_path, data.root, path)
    assert result.exit_code == 2 and str(path) in result.output and "not valid TOML" in result.output


# --------------------------------------------------------------------------------------- OS faults


def test_output_path_under_a_file_is_one_line_exit_1(data, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    result, _ = run(tmp_path, data.root, None, blocker / "run")
    no_traceback(result)
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error:") and str(blocker / "run") in result.output
    assert len(result.output.strip().splitlines()) == 1


def _raise_on(monkeypatch, module, name: str, code: int, when=lambda *a, **k: True):
    original = getattr(module, name)

    def failing(*args, **kwargs):
        if when(*args, **kwargs):
            raise OSError(code, os.strerror(code))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_full_or_read_only_output_is_one_line_exit_1(code, data, tmp_path, monkeypatch):
    import tempfile

    _raise_on(monkeypatch, tempfile, "mkstemp", code, lambda *a, **k: "run" in str(k.get("dir", "")))
    result, out = run(tmp_path, data.root)
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert str(out) in result.output and os.strerror(code) in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_disk_full_while_writing_a_fold_leaves_nothing_that_looks_finished(data, tmp_path, monkeypatch):
    _raise_on(monkeypatch, os, "replace", errno.ENOSPC, lambda src, dst: str(dst).endswith("predictions.csv"))
    result, out = run(tmp_path, data.root)
    no_traceback(result)
    assert result.exit_code == 1 and "predictions.csv" in result.output and "No space left" in result.output
    assert not list(out.rglob("metrics.json"))  # no fold looks finished
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    assert not list(out.rglob("*.tmp"))
    monkeypatch.undo()
    compare = cli("compare", out)
    assert compare.exit_code == 2 and "has status 'failed'" in compare.output
    again, _ = run(tmp_path, data.root)  # the next run finishes the job
    assert again.exit_code == 0, again.output
    accounting(out, found=4)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_full_or_read_only_cache_is_one_line_exit_1(code, data, tmp_path, monkeypatch):
    _raise_on(monkeypatch, h5py, "File", code, lambda name, mode="r", **k: mode == "w")
    result, out = run(tmp_path, data.root)
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert str(tmp_path / "cache") in result.output and os.strerror(code) in result.output
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_cache_without_room_for_a_clip_is_one_line_exit_1(data, tmp_path, monkeypatch):
    import shutil as shutil_module
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil_module, "disk_usage", lambda _path: usage(10**9, 10**9 - 1000, 1000))
    result, out = run(tmp_path, data.root)
    no_traceback(result)
    assert result.exit_code == 1 and "no space left for the clip cache" in result.output
    assert str(tmp_path / "cache") in result.output and len(result.output.strip().splitlines()) == 1


FULL_DISK_SCRIPT = """
import sys
import numpy as np
from pathlib import Path
from rppgbench.errors import StorageError
from rppgbench.preprocess.cache import ClipWriter
writer = ClipWriter(Path(sys.argv[1]) / "clip.h5", 64, compression="none")  # 4.9 MB: fills 300 kB
try:
    for _ in range(400):
        writer.append(np.full((64, 64, 3), 7, np.uint8), (0, 0, 1, 1))
    writer.commit(np.arange(400) / 30.0, None, {})
except StorageError as exc:
    print(exc)
    raise SystemExit(1)
"""


def test_real_full_disk_while_writing_a_clip_exits_1_without_a_crash(tmp_path):
    import subprocess
    import sys

    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)],
                                           capture_output=True).returncode:  # fmt: skip
        pytest.skip("needs a small tmpfs (root with mount permission)")
    try:
        done = subprocess.run(
            [sys.executable, "-c", FULL_DISK_SCRIPT, str(mount)], capture_output=True, text=True
        )
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])  # not -11 (segmentation fault)
    assert "No space left on device" in done.stdout and str(mount) in done.stdout


def test_cache_folder_that_is_a_file_is_one_line_exit_1(data, tmp_path):
    (tmp_path / "cache").write_text("not a folder")
    result, _ = run(tmp_path, data.root)
    no_traceback(result)
    assert result.exit_code == 1 and str(tmp_path / "cache") in result.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_says_interrupted_and_resumes(signum, data, tmp_path, monkeypatch):
    from rppgbench import execution
    from rppgbench.lifecycle import Interrupted

    def stop(*_args, **_kwargs):
        raise Interrupted(signum)

    monkeypatch.setattr(execution, "evaluate_video", stop)
    result, out = run(tmp_path, data.root)
    assert result.exit_code == 128 + signum and "Interrupted" in result.output
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    compare = cli("compare", out)
    assert compare.exit_code == 2 and "interrupted" in compare.output
    monkeypatch.undo()
    again, _ = run(tmp_path, data.root)
    assert again.exit_code == 0
    accounting(out, found=4)


def test_sigterm_handler_raises_interrupted():
    from rppgbench.lifecycle import Interrupted, terminate_as_interrupt

    with pytest.raises(Interrupted), terminate_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes
            pass


# ------------------------------------------------------------------------ finished run, then damage


@pytest.fixture
def finished(data, tmp_path):
    result, out = run(tmp_path, data.root)
    assert result.exit_code == 0, result.output
    return out


def test_killed_run_with_dead_pid_reads_as_interrupted(finished):
    manifest = json.loads((finished / "run.json").read_text())
    manifest.update(status="running", pid=2**22 + 12345, host=socket.gethostname())
    (finished / "run.json").write_text(json.dumps(manifest))
    result = cli("compare", finished)
    assert result.exit_code == 2 and "interrupted" in result.output and str(finished) in result.output


def test_second_run_into_a_folder_another_live_run_writes_is_refused(finished, data, tmp_path):
    import subprocess
    import sys

    manifest = json.loads((finished / "run.json").read_text())
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        try:
            manifest.update(status="running", pid=other.pid, host=socket.gethostname())
            (finished / "run.json").write_text(json.dumps(manifest))
            result, _ = run(tmp_path, data.root)
            assert result.exit_code == 2 and f"another run (process {other.pid}" in result.output
            assert cli("compare", finished).exit_code == 2  # a run in progress is not read either
        finally:
            other.kill()


def _cut_mid_row(out: Path) -> Path:
    path = out / "predictions.csv"
    text = path.read_bytes()
    path.write_bytes(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])
    return path


def _drop_a_row(out: Path) -> Path:
    path = out / "predictions.csv"
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    return path


def _flip_a_digit(out: Path) -> Path:
    path = out / "predictions.csv"
    text = path.read_text()
    index = text.index(".", text.index("\n") + 1) + 1
    path.write_text(text[:index] + ("1" if text[index] != "1" else "2") + text[index + 1 :])
    return path


def _bad_metrics(out: Path) -> Path:
    path = out / "metrics.json"
    path.write_text(path.read_text()[:40])
    return path


def _missing_predictions(out: Path) -> Path:
    path = out / "predictions.csv"
    path.unlink()
    return out


def _dropped_column(out: Path) -> Path:
    path = out / "predictions.csv"
    frame = pd.read_csv(path).drop(columns=["hr_ref"])
    frame.to_csv(path, index=False)
    manifest = json.loads((out / "run.json").read_text())
    manifest.pop("checksums")
    (out / "run.json").write_text(json.dumps(manifest))
    return path


RUN_DAMAGE = {
    "predictions cut mid-row": (_cut_mid_row, "damaged"),
    "a row deleted": (_drop_a_row, "damaged"),
    "a number edited": (_flip_a_digit, "sha256 does not match"),
    "metrics.json cut": (_bad_metrics, "damaged run file"),
    "predictions.csv missing": (_missing_predictions, "missing predictions.csv"),
    "a column dropped (no checksums)": (_dropped_column, "missing column(s) hr_ref"),
}


@pytest.mark.parametrize("command", ["compare", "report", "check", "baseline"])
@pytest.mark.parametrize("damage", list(RUN_DAMAGE))
def test_damaged_run_folder_is_refused_with_exit_2(damage, command, finished, tmp_path):
    baseline = tmp_path / "baseline.json"
    assert cli("baseline", finished, "--out", baseline).exit_code == 0
    damaged, message = RUN_DAMAGE[damage][0](finished), RUN_DAMAGE[damage][1]
    args = {
        "compare": ["compare", finished],
        "report": ["report", finished, "--out", tmp_path / "report"],
        "check": ["check", finished, "--baseline", baseline],
        "baseline": ["baseline", finished, "--out", tmp_path / "again.json"],
    }[command]
    result = cli(*args)
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert str(damaged) in result.output and message in result.output, result.output


def test_intact_run_folder_passes_every_reader(finished, tmp_path):
    baseline = tmp_path / "baseline.json"
    assert cli("baseline", finished, "--out", baseline).exit_code == 0
    assert cli("check", finished, "--baseline", baseline).exit_code == 0
    assert cli("compare", finished).exit_code == 0


def test_truncated_fold_file_is_redone_on_resume(finished, data, tmp_path):
    fold = finished / "folds" / "1" / "metrics.json"
    fold.write_text(fold.read_text()[:20])
    result, _ = run(tmp_path, data.root)
    assert result.exit_code == 0, result.output
    json.loads(fold.read_text())
    accounting(finished, found=4)


# ------------------------------------------------------------------------------- damaged caches


def _clip_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").rglob("*.h5"))


def _flip_dataset(path: Path, name: str) -> None:
    with h5py.File(path, "r+") as f:
        if name == "frames" and "frames" not in f:  # packed frames: flip a byte of a blob's residual
            blob = f["frames_packed"][0].copy()
            blob[len(blob) // 2] ^= 0xFF
            f["frames_packed"][0] = blob
            return
        values = f[name][...]
        flat = values.reshape(-1)
        if values.dtype == np.uint8:
            flat[len(flat) // 2] ^= 0xFF
        else:
            flat[len(flat) // 2] += 37.0
        f[name][...] = values


@pytest.mark.parametrize("dataset", ["reference_values", "timestamps", "frames"])
def test_flipped_values_in_a_cached_clip_are_found_and_the_clip_prepared_again(
    dataset, finished, data, tmp_path, caplog
):
    before = pd.read_csv(finished / "predictions.csv")
    clip = _clip_files(tmp_path)[0]
    _flip_dataset(clip, dataset)
    shutil.rmtree(finished)
    result, out = run(tmp_path, data.root)
    assert result.exit_code == 0, result.output
    assert f"{clip}: cached clip of" in caplog.text and repr(dataset) in caplog.text
    after = pd.read_csv(out / "predictions.csv")
    pd.testing.assert_frame_equal(before, after)
    accounting(out, found=4)


def test_flipped_bytes_anywhere_in_a_cached_clip_change_no_result(finished, data, tmp_path):
    before = pd.read_csv(finished / "predictions.csv")
    for clip in _clip_files(tmp_path):
        raw = bytearray(clip.read_bytes())
        for offset in range(len(raw) // 7, len(raw), len(raw) // 7):
            raw[offset] ^= 0x5A
        clip.write_bytes(bytes(raw))
    shutil.rmtree(finished)
    result, out = run(tmp_path, data.root)
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(before, pd.read_csv(out / "predictions.csv"))


def test_truncated_cached_clip_is_prepared_again(finished, data, tmp_path, caplog):
    clip = _clip_files(tmp_path)[1]
    clip.write_bytes(clip.read_bytes()[:4000])
    shutil.rmtree(finished)
    result, out = run(tmp_path, data.root)
    assert result.exit_code == 0 and str(clip) in caplog.text
    assert accounting(out, found=4)["scored"] == 4


def test_left_over_temporary_files_of_killed_writers_are_removed(finished, data, tmp_path):
    folder = _clip_files(tmp_path)[0].parent
    from rppgbench.integrity import temporary_prefix

    dead = 2**22 + 999  # above the largest pid Linux hands out
    stale = folder / f"{temporary_prefix(_clip_files(tmp_path)[0], dead)}tmp"
    stale.write_bytes(b"half a clip")
    result_stale = finished / "folds" / "1" / f"{temporary_prefix(Path('predictions.csv'), dead)}x1.tmp"
    foreign = folder / ".clip.h5.otherhost-1.tmp"  # another machine's writer on a shared folder
    foreign.write_bytes(b"in progress elsewhere")
    result_stale.write_text("half")
    shutil.rmtree(finished / "folds" / "2")  # one fold to redo, so its clips are looked at again
    result, _ = run(tmp_path, data.root)
    assert result.exit_code == 0
    assert not stale.exists() and not result_stale.exists() and foreign.exists()


def test_cached_clip_swapped_for_another_videos_clip_is_prepared_again(finished, data, tmp_path, caplog):
    before = pd.read_csv(finished / "predictions.csv")
    first, second = _clip_files(tmp_path)[:2]
    shutil.copy(second, first)  # intact checksums, wrong video
    shutil.rmtree(finished)
    result, out = run(tmp_path, data.root)
    assert (
        result.exit_code == 0
        and f"{first}: cached clip of" in caplog.text
        and "holds the clip of" in caplog.text
    )
    pd.testing.assert_frame_equal(before, pd.read_csv(out / "predictions.csv"))


def test_cross_dataset_protocol_on_the_same_subjects_is_refused(data, tmp_path):
    path = tmp_path / "cross.toml"
    path.write_text(
        PROTOCOL.format(dataset="ubfc", split="", reference="waveform", options="")
        .replace('[dataset]\nname = "ubfc"\n', "")
        .replace(
            "[split]\n",
            '[split]\nkind = "cross"\n[split.train]\nname = "ubfc"\n[split.test]\nname = "ubfc"\n',
        )
    )
    result, out = run(tmp_path, data.root, path)
    no_traceback(result)
    assert (
        result.exit_code == 2
        and str(path) in result.output
        and "same subject(s): ubfc/subject1" in result.output
    )
    assert not out.exists()


def test_damaged_clip_read_directly_is_an_error_naming_it(finished, tmp_path):
    from rppgbench.preprocess import load_clip

    clip = _clip_files(tmp_path)[0]
    _flip_dataset(clip, "reference_values")
    with pytest.raises(DataError, match=f"{clip}: damaged cached clip: checksum of 'reference_values'"):
        load_clip(clip)


# ------------------------------------------------------------------------------------------ weights


@pytest.fixture
def weights(tmp_path):
    torch = pytest.importorskip("torch")
    from rppgbench.training.checkpoint import save_checkpoint

    path = tmp_path / "model.pt"
    save_checkpoint(path, {"format": "x", "model": {"w": torch.arange(1000, dtype=torch.float32)}})
    return path


@pytest.mark.parametrize("where", [0.3, 0.6, 0.95])
def test_weights_with_a_flipped_byte_are_refused(where, weights):
    from rppgbench.training.checkpoint import load_checkpoint

    raw = bytearray(weights.read_bytes())
    raw[int(len(raw) * where)] ^= 0x01
    weights.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=f"{weights}: damaged weights file"):
        load_checkpoint(weights)


def test_truncated_weights_are_refused(weights):
    from rppgbench.training.checkpoint import load_checkpoint

    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(DataError, match="damaged weights file"):
        load_checkpoint(weights)


def test_intact_weights_load(weights):
    from rppgbench.training.checkpoint import load_checkpoint

    assert float(load_checkpoint(weights)["model"]["w"].sum()) == pytest.approx(sum(range(1000)))
