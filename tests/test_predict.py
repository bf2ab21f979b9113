"""`rppgbench predict` and `rppgbench.predict.predict` on a synthetic face video with a known heart rate.

The video is the public-domain astronaut photograph bundled with scikit-image, whose facial skin
pixels are modulated along the blood-volume direction at 72 bpm, written losslessly (FFV1) so the
0.6 % pulsation survives encoding.
"""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from rppgbench.cli import build_cli
from rppgbench.data import Reference
from rppgbench.errors import ConfigError, DataError
from rppgbench.predict import PredictionResult, ReferenceSpec, choose_method, predict, read_reference_csv
from rppgbench.preprocess import PreprocessConfig

BPM, FPS, SECONDS, SIZE = 72.0, 30.0, 12.0, 128
N_FRAMES = int(SECONDS * FPS)
BLOOD_VOLUME_DIRECTION = np.array([0.33, 0.77, 0.53]) / np.linalg.norm([0.33, 0.77, 0.53])


def _write_video(path, frames, fps=FPS) -> None:
    writer = None
    for frame in frames:
        if writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, (width, height))
            assert writer.isOpened(), "OpenCV cannot write FFV1 here"
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def _face_frames(n: int = N_FRAMES, bpm: float = BPM, amplitude: float = 0.006):
    """The astronaut photo (128 px) with its facial skin pulsing at `bpm` (reflectance dips with blood)."""
    from skimage.data import astronaut

    image = cv2.resize(astronaut(), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    scale = SIZE / 512  # BlazeFace finds the face at about x=177 y=82 w=95 h=95 in the 512 px photo
    x, y, w, h = (int(v * scale) for v in (177, 82, 95, 95))
    ycrcb = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    skin = np.zeros(image.shape[:2], dtype=bool)
    skin[y : y + h, x : x + w] = True
    skin &= (ycrcb[..., 1] > 133) & (ycrcb[..., 1] < 173) & (ycrcb[..., 2] > 77) & (ycrcb[..., 2] < 127)
    assert skin.sum() > 300
    base = image.astype(np.float64)
    pulse = np.sin(2 * np.pi * bpm / 60.0 * np.arange(n) / FPS)
    for value in pulse:
        frame = base.copy()
        frame[skin] *= 1.0 - amplitude * value * BLOOD_VOLUME_DIRECTION
        yield np.clip(np.round(frame), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """The test files, made once: face video, reference CSV, a face-less video, a fake video, fake weights."""
    folder = tmp_path_factory.mktemp("predict")
    video = folder / "face.avi"
    _write_video(video, _face_frames())
    rate = 60.0
    t = np.arange(int(SECONDS * rate)) / rate
    ppg = 1.0 + 0.5 * np.sin(2 * np.pi * BPM / 60.0 * t) + 0.1 * np.sin(2 * np.pi * 2 * BPM / 60.0 * t)
    reference = folder / "ref.csv"
    pd.DataFrame({"bvp": ppg}).to_csv(reference, index=False)
    noise = folder / "noise.avi"
    rng = np.random.default_rng(0)
    _write_video(noise, [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(6)])
    text = folder / "notes.avi"
    text.write_text("this is not a video\n")
    bogus_weights = folder / "bogus.pt"
    bogus_weights.write_bytes(b"not a checkpoint")
    return {"video": video, "reference": reference, "noise": noise, "text": text, "bogus": bogus_weights,
            "folder": folder}  # fmt: skip


def _run(*args: str):
    return CliRunner().invoke(build_cli(), ["predict", *map(str, args), "--quiet"])


def _printed_hr(output: str, label: str = "HR") -> float:
    match = re.search(rf"^{label}:\s+([0-9.]+) bpm", output, flags=re.MULTILINE)
    assert match, output
    return float(match.group(1))


def test_cli_prints_hr_and_writes_outputs(media, tmp_path):
    out = tmp_path / "out"
    result = _run(media["video"], "--method", "pos", "--out", out, "--size", "64")
    assert result.exit_code == 0, result.output
    assert abs(_printed_hr(result.output) - BPM) < 2.0
    assert "time (s)" in result.output and "HR (bpm)" in result.output

    signal = pd.read_csv(out / "signal.csv")
    assert list(signal.columns) == ["time_s", "value"] and len(signal) == N_FRAMES
    assert signal["time_s"].iloc[1] == pytest.approx(1 / FPS, abs=1e-4)
    hr = pd.read_csv(out / "hr.csv")
    assert list(hr.columns) == ["time_s", "hr_pred"]
    assert len(hr) == 3  # 10-s windows every 1 s over 12 s
    assert np.all(np.abs(hr["hr_pred"] - BPM) < 2.0)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"]["name"] == "pos" and summary["fps"] == FPS and summary["n_frames"] == N_FRAMES
    box = summary["face_box"]
    assert 30 <= box["x"] <= 45 and 5 <= box["y"] <= 20 and 30 <= box["w"] <= 45  # enlarged BlazeFace box
    assert summary["face"]["detection"]["score"] > 0.5 and summary["face"]["crop_size"] == 64
    assert abs(summary["hr_bpm"] - BPM) < 2.0 and summary["windows"]["n_windows"] == 3
    assert summary["hr_estimator"]["method"] == "welch" and summary["rppgbench_version"]
    assert summary["reference"] is None and summary["errors"] is None

    png = (out / "figure.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    assert matplotlib.image.imread(out / "figure.png").shape[0] > 400


def test_cli_with_reference_prints_reference_and_errors(media, tmp_path):
    out = tmp_path / "out"
    result = _run(media["video"], "--reference", media["reference"], "--reference-rate", "60", "--out", out,
                  "--size", "64", "--window", "8", "--step", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert abs(_printed_hr(result.output, "reference") - BPM) < 0.5
    assert re.search(r"^error:\s+[+-][0-9.]+ bpm", result.output, flags=re.MULTILINE)
    assert "MAE" in result.output
    hr = pd.read_csv(out / "hr.csv")
    assert list(hr.columns) == ["time_s", "hr_pred", "hr_ref"] and len(hr) == 3  # 8-s windows at 4, 6, 8 s
    assert np.allclose(hr["hr_ref"], BPM, atol=0.5)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"]["kind"] == "ppg" and summary["reference"]["column"] == "bvp"
    assert summary["reference"]["rate_hz"] == 60.0
    assert summary["errors"]["abs_error_bpm"] < 2.0 and summary["errors"]["window"]["mae"] < 2.0
    assert summary["snr_at"] == "reference_hr"


def test_api_result_matches_known_hr(media, tmp_path):
    given = Reference("hr", np.full(13, BPM), np.arange(13.0))
    result = predict(media["video"], method="chrom", window=6.0, step=3.0, reference=given,
                     preprocess=PreprocessConfig(size=64))  # fmt: skip
    assert isinstance(result, PredictionResult)
    assert abs(result.hr_bpm - BPM) < 2.0 and result.fps == FPS and result.n_frames == N_FRAMES
    assert result.signal.shape == (N_FRAMES,)
    assert np.allclose(result.times, [3.0, 6.0, 9.0])  # 6-s windows starting at 0, 3, 6 s
    assert np.all(np.abs(result.hr_series - BPM) < 2.0)
    assert result.reference_hr == pytest.approx(BPM) and np.allclose(result.reference_series, BPM)
    assert result.errors["abs_error_bpm"] == pytest.approx(abs(result.hr_bpm - BPM))
    paths = result.save(tmp_path / "api")
    assert sorted(p.name for p in paths.values()) == ["figure.png", "hr.csv", "signal.csv", "summary.json"]
    assert json.loads(paths["summary.json"].read_text())["method"]["name"] == "chrom"


def test_reference_spec_says_how_to_read_the_csv(media):
    spec = ReferenceSpec(media["reference"], rate=60.0)
    result = predict(
        media["video"], window=8.0, step=2.0, reference=spec, preprocess=PreprocessConfig(size=32)
    )
    assert result.reference_info["rate_hz"] == 60.0 and result.reference_hr == pytest.approx(BPM, abs=0.5)
    with pytest.raises(DataError, match="not one row per frame"):
        predict(
            media["video"], window=8.0, reference=media["reference"], preprocess=PreprocessConfig(size=32)
        )


def test_predict_crops_exactly_as_dataset_preprocessing(media, tmp_path):
    """One frame pipeline: `predict`'s crops are the frames `prepare` caches for the same video."""
    from rppgbench.data import Record
    from rppgbench.dataset import DatasetLoader
    from rppgbench.predict import read_face_crops
    from rppgbench.preprocess import load_clip, prepare
    from rppgbench.video import VideoFile

    class OneVideo(DatasetLoader):
        name = "one"

        def records(self):
            return [Record("one", "s1", "1", media["video"], fps=FPS)]

        def open_frames(self, record):
            return VideoFile(record.location)

        def load_reference(self, record):
            t = np.arange(int(SECONDS * 60)) / 60.0
            return Reference("ppg", np.sin(2 * np.pi * BPM / 60.0 * t), t)

    config = PreprocessConfig(size=32, redetect_every=45, smoothing=0.3, max_frames=200)
    loader = OneVideo(media["folder"])
    prepared = prepare(loader, loader.records(), config, tmp_path, progress=False)["one/s1/1"]
    assert prepared.ok, prepared.error
    clip = load_clip(prepared.path)
    crops = read_face_crops(media["video"], config)
    assert np.array_equal(clip.frames[:], crops.frames) and np.array_equal(clip.face_boxes, crops.crop_boxes)
    assert np.array_equal(clip.timestamps, crops.timestamps)


def test_redetection_and_given_box(media):
    tracked = predict(media["video"], preprocess=PreprocessConfig(size=32, redetect_every=30), window=8.0)
    assert tracked.face["detections"] == N_FRAMES // 30 and tracked.face["missed_redetections"] == 0
    assert abs(tracked.hr_bpm - BPM) < 2.0
    boxed = predict(media["video"], preprocess=PreprocessConfig(size=32, enlarge=1.5), box=(44, 20, 24, 24),
                    window=8.0)  # fmt: skip
    assert boxed.face_box == (38, 14, 36, 36)  # 24 px box x 1.5 about its centre (56, 32)
    assert boxed.face["source"] == "dataset" and abs(boxed.hr_bpm - BPM) < 2.0


def test_trained_method_uses_weights_and_training_crop(media):
    torch = pytest.importorskip("torch")
    physnet = pytest.importorskip("rppgbench_plugins.neural.physnet")
    torch.manual_seed(0)
    method = physnet.PhysNet(width=4, device="cpu", clip_frames=64, size=32)
    method.model = method.build_model()
    run = media["folder"] / "run"
    method.save(run / "folds" / "0" / "model.pt")
    (run / "run.json").write_text(json.dumps({"protocol": {"preprocess": {"size": 48, "enlarge": 1.4}}}))
    result = predict(media["video"], method="physnet", weights=run, window=8.0)
    assert result.weights == run / "folds" / "0" / "model.pt"
    assert result.face["crop_size"] == 48 and result.face["enlarge"] == 1.4
    assert result.method["params"]["size"] == 32 and result.method["params"]["width"] == 4
    assert result.signal.shape == (N_FRAMES,) and np.isfinite(result.hr_bpm)

    other = _run(media["video"], "--method", "deepphys", "--weights", run / "folds" / "0" / "model.pt")
    assert other.exit_code != 0 and "holds weights of method 'physnet'" in other.output
    chosen = choose_method("physnet", run)
    assert chosen.crop == {"size": 48, "enlarge": 1.4} and chosen.weights == run / "folds" / "0" / "model.pt"
    assert chosen.preprocess(size=64, enlarge=None) == PreprocessConfig(size=64, enlarge=1.4)
    implied = _run(media["video"], "--weights", run / "folds" / "0" / "model.pt", "--window", "8")
    assert implied.exit_code == 0, implied.output
    assert "physnet" in implied.output and "taken from the weights file" in implied.output


@pytest.mark.parametrize(
    ("case", "args", "code", "message"),
    [
        ("missing", ["{folder}/nope.avi"], 1, "video file not found"),
        ("text", ["{text}"], 1, "not a video FFmpeg can decode"),
        ("noise", ["{noise}"], 1, "no face found on frame 0"),
        (
            "short",
            ["{video}", "--window", "20"],
            1,
            "12.00 s long (360 frames at 30 fps), shorter than one 20 s",
        ),
        ("method", ["{video}", "--method", "nosuch"], 2, "unknown method 'nosuch'; valid methods:"),
        (
            "untrained",
            ["{video}", "--method", "efficientphys"],
            2,
            "ships no weights: give its weights with --weights",
        ),
        ("bogus", ["{video}", "--method", "physnet", "--weights", "{bogus}"], 2, "not a readable rppgbench"),
        ("needless", ["{video}", "--method", "pos", "--weights", "{bogus}"], 2, "does not train"),
        ("reference", ["{video}", "--reference", "{reference}"], 1, "not one row per frame"),
    ],
)
def test_cli_errors_are_one_line(media, case, args, code, message):
    result = _run(*(a.format(**media) for a in args))
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0], result.output
    if case == "method":
        assert "pos" in errors[0] and "chrom" in errors[0]


def test_reference_reader_detects_columns_and_units(tmp_path):
    path = tmp_path / "hr.csv"
    pd.DataFrame({"Timestamp_ms": [0, 1000, 2000, 3000], "Heart Rate": [70, 71, 72, 73], "note": 1}).to_csv(
        path, index=False
    )
    reference, info = read_reference_csv(path, fps=30.0, n_frames=90)
    assert reference.kind == "hr" and info["column"] == "Heart Rate"
    assert np.allclose(reference.times, [0, 1, 2, 3]) and info["time_unit_s"] == 1e-3

    per_frame = tmp_path / "frames.txt"
    per_frame.write_text("\n".join(f"{v:.3f}" for v in np.sin(np.arange(90) / 5.0)))  # headerless
    with pytest.raises(ConfigError, match="--reference-kind"):
        read_reference_csv(per_frame, fps=30.0, n_frames=90)
    reference, info = read_reference_csv(per_frame, fps=30.0, n_frames=90, kind="ppg")
    assert info["time_source"] == "one row per frame" and reference.times[-1] == pytest.approx(89 / 30.0)

    both = tmp_path / "both.csv"
    pd.DataFrame({"ppg": [1.0, 2.0, 3.0], "ecg": [0.1, 0.2, 0.3]}).to_csv(both, index=False)
    with pytest.raises(ConfigError, match="--reference-column"):
        read_reference_csv(both, fps=30.0, n_frames=3)
    reference, _ = read_reference_csv(both, fps=30.0, n_frames=3, column="ecg")
    assert reference.kind == "ecg"

    not_hr = tmp_path / "not_hr.csv"
    pd.DataFrame({"bpm": [0.1, 0.2, 0.3]}).to_csv(not_hr, index=False)
    with pytest.raises(DataError, match="not a heart rate"):
        read_reference_csv(not_hr, fps=30.0, n_frames=3)
