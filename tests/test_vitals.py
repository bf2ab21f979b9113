"""HRV and respiration: known answers on synthetic pulses, references, metrics, protocol and tables."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from click.testing import CliRunner
from rppgbench_plugins.datasets.synthetic.presets import Preset, get_preset
from rppgbench_plugins.datasets.synthetic.pulse import PulseParams, PulseTrain
from rppgbench_plugins.datasets.synthetic.render import clip_pulse, render_clip
from rppgbench_plugins.datasets.synthetic.writer import clip_spec, generate, write_clip

from rppgbench.data import Reference
from rppgbench.errors import ConfigError
from rppgbench.metrics import VITAL_METRIC_NAMES, vital_metrics
from rppgbench.testing.dataset_fixtures import ecg_wave
from rppgbench.vitals import (
    VitalsConfig,
    VitalsReference,
    beats_from_reference,
    estimate_vitals,
    hrv_frequency_domain,
    hrv_time_domain,
    reference_vitals,
    segments,
)

# --- the generator's output is unchanged (digests computed with the code before the true beats existed)

FRAMES_SHA256 = "90d67504980c42da64bcddd18982585dbed6ef8edb28fc7cb7c9505704bf455c"
ARRAYS_SHA256 = "a1bbc7233016e3910b24490d8d91581a54d498325115d595008b40256b8b2d30"
FILES_SHA256 = {
    "ppg.csv": "6567423953f822fb2a4045ac1585dcf57e182e8b4d52de7c53c0b7e890b9937c",
    "frames.csv": "371eeb94f35328dfac0d2eb896651d05e1015e3fb0607b6f155ec5ee4cecaa0b",
    "clip.json": "a99cfd887a03bdb7946e054848693b8cf82e723681b5850f308ec826a92b1cd1",
}


def test_rendered_frames_and_reference_are_byte_identical():
    clip = render_clip(clip_spec(get_preset("synth-mini"), 0, 1, "motion"))
    frames = hashlib.sha256()
    for frame in clip.frames():
        frames.update(frame.tobytes())
    arrays = hashlib.sha256()
    for array in (clip.times, clip.ppg_times, clip.ppg, clip.boxes):
        arrays.update(np.ascontiguousarray(array).tobytes())
    assert frames.hexdigest() == FRAMES_SHA256
    assert arrays.hexdigest() == ARRAYS_SHA256


def test_written_clip_files_are_byte_identical(tmp_path):
    write_clip(clip_spec(get_preset("synth-mini"), 0, 0, "stationary"), tmp_path, video=False)
    for name, digest in FILES_SHA256.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, name


def test_clip_pulse_is_the_pulse_of_the_rendered_clip():
    spec = clip_spec(get_preset("synth-mini"), 0, 2, "stationary")
    clip, pulse = render_clip(spec), clip_pulse(spec)
    assert pulse.mean_hr_between(0.0, float(clip.times[-1])) == clip.hr_bpm
    assert pulse.breaths_per_min == pytest.approx(60.0 * spec.pulse.resp_hz)


# --- known answers --------------------------------------------------------------------------------


def _train(seed: int, seconds: float = 60.0) -> PulseTrain:
    rng = np.random.default_rng(seed)
    params = PulseParams(hr_bpm=rng.uniform(55, 110), drift_bpm=rng.uniform(1, 5), rsa_bpm=rng.uniform(0.5, 3),
                         hrv_ms=rng.uniform(10, 45), resp_hz=rng.uniform(0.15, 0.35),
                         resp_amplitude=rng.uniform(0.05, 0.2), resp_baseline=rng.uniform(0.03, 0.15),
                         amplitude_jitter=rng.uniform(0.02, 0.08))  # fmt: skip
    return PulseTrain(params, 0.0, seconds + 1.0, rng)


def _truth(train: PulseTrain) -> VitalsReference:
    return VitalsReference(train.onsets, detected=False, breaths_per_min=train.breaths_per_min)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_hrv_of_the_clean_reference_matches_the_true_ibis(seed):
    # The generator's contact reference: 60 Hz samples of the pulse with 1 % sensor noise.
    train, rng = _train(seed), np.random.default_rng(100 + seed)
    times = np.arange(0.0, 60.0, 1 / 60.0) + 0.004
    reference = Reference("ppg", train(times) + 0.01 * rng.standard_normal(times.size), times)
    span = [(0.0, 60.0)]
    true = reference_vitals(_truth(train), span)
    found = reference_vitals(beats_from_reference(reference), span)
    # Peak-to-peak intervals differ a little from the beats' onsets (systolic time scales with the IBI)
    assert found["sdnn"] == pytest.approx(true["sdnn"], rel=0.10)
    assert found["rmssd"] == pytest.approx(true["rmssd"], rel=0.20)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_respiration_rate_from_a_pulse_signal_within_one_breath_per_minute(seed):
    # What an rPPG method recovers at best: the pulse at 30 frames/s with noise (10 % of a beat).
    train, rng = _train(seed), np.random.default_rng(200 + seed)
    times = np.arange(0.0, 60.0, 1 / 30.0)
    signal = train(times) + 0.1 * rng.standard_normal(times.size)
    found = estimate_vitals([signal], [times])
    assert abs(found["resp_rate"] - train.breaths_per_min) <= 1.0


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_hrv_from_a_noisy_pulse_signal(seed):
    # A camera-like pulse signal: beats are found after a band-pass of 0.7-1.3 x HR, which keeps the noise
    # from moving the peaks but smooths the fastest beat-to-beat changes: SDNN stays within 25 % of the
    # truth, RMSSD comes out low (documented in docs/vitals.md).
    train, rng = _train(seed), np.random.default_rng(200 + seed)
    times = np.arange(0.0, 60.0, 1 / 30.0)
    found = estimate_vitals([train(times) + 0.1 * rng.standard_normal(times.size)], [times])
    true = reference_vitals(_truth(train), [(0.0, 60.0)])
    assert found["sdnn"] == pytest.approx(true["sdnn"], rel=0.25)
    assert 0.4 * true["rmssd"] <= found["rmssd"] <= 1.1 * true["rmssd"]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_respiration_rate_from_20_seconds_of_the_clean_reference(seed):
    # The synth-5fold span: two adjacent 10-s clips; a clean pulse holds enough of the breathing.
    train, rng = _train(seed, seconds=20.0), np.random.default_rng(300 + seed)
    times = np.arange(0.0, 20.0, 1 / 60.0) + 0.004
    values = train(times) + 0.01 * rng.standard_normal(times.size)
    found = estimate_vitals([values[:600], values[600:]], [times[:600], times[600:]])
    assert abs(found["resp_rate"] - train.breaths_per_min) <= 1.0


def test_time_domain_hrv_known_values():
    ibi = np.array([0.8, 0.9, 0.8, 0.9, 0.8])
    values = hrv_time_domain([ibi])
    assert values["sdnn"] == pytest.approx(np.std(ibi * 1000, ddof=1))
    assert values["rmssd"] == pytest.approx(100.0) and values["pnn50"] == pytest.approx(100.0)
    assert math.isnan(hrv_time_domain([np.array([0.8])])["rmssd"])


@pytest.mark.parametrize(("hz", "band"), [(0.1, "lf"), (0.3, "hf")])
def test_ibi_modulation_lands_in_its_band(hz, band):
    beats = [0.0]
    while beats[-1] < 300.0:
        beats.append(beats[-1] + 0.8 + 0.05 * math.sin(2 * math.pi * hz * beats[-1]))
    beats = np.asarray(beats)
    values = hrv_frequency_domain([(beats[1:], np.diff(beats))])
    other = "hf" if band == "lf" else "lf"
    assert values[band] > 20 * values[other]


def test_ecg_reference_beats_are_its_r_peaks():
    times = np.arange(0.0, 20.0, 1 / 250.0)
    reference = beats_from_reference(Reference("ecg", ecg_wave(times, 75.0), times))
    assert reference.source == "ecg"
    assert np.allclose(np.diff(reference.beats), 0.8, atol=0.01)
    assert reference_vitals(reference, [(0.0, 20.0)])["sdnn"] < 5.0


def test_segments_join_adjacent_windows_and_skip_overlaps():
    t = np.arange(600) / 30.0
    windows = [(t[:300], 0), (t[300:], 1), (t[150:450], 2)]
    found = segments([np.zeros(w.size) for w, _ in windows], [w for w, _ in windows])
    assert len(found) == 1 and found[0].span == pytest.approx((0.0, 20.0))
    apart = segments([np.zeros(300)] * 2, [t[:300], t[:300] + 30.0])
    assert len(apart) == 2


def test_vitals_config_from_a_protocol_table():
    config = VitalsConfig.from_dict({"measures": ["sdnn", "resp_rate"], "resp_band_bpm": [5, 40]})
    assert config.measures == ("sdnn", "resp_rate") and config.resp_band_bpm == (5.0, 40.0)
    with pytest.raises(ConfigError, match="unknown key"):
        VitalsConfig.from_dict({"measure": ["sdnn"]})
    with pytest.raises(ConfigError, match="measures"):
        VitalsConfig.from_dict({"measures": ["sdnn", "hr"]})


# --- metrics, protocol, tables ---------------------------------------------------------------------


def test_vital_metrics_skip_videos_without_a_value():
    pred = {"sdnn": [30.0, 50.0, math.nan, 20.0], "resp_rate": [12.0, 15.0, 18.0, 20.0]}
    ref = {"sdnn": [40.0, 40.0, 40.0, math.nan], "resp_rate": [12.0, 16.0, 17.0, 22.0]}
    values = vital_metrics(pred, ref, ["sdnn", "resp_rate"])
    assert values["sdnn_n"] == 2 and values["sdnn_mae"] == pytest.approx(10.0)
    assert values["resp_rate_mae"] == pytest.approx(1.0) and values["resp_rate_rmse"] == pytest.approx(
        math.sqrt(1.5)
    )
    assert math.isnan(values["sdnn_r"]) and values["resp_rate_r"] > 0.9
    assert VITAL_METRIC_NAMES["resp_rate_mae"].unit == "breaths/min"


def test_protocols_keep_their_fingerprints_and_check_vitals(tmp_path):
    from rppgbench.protocol import load_protocol

    # Fingerprints from before [vitals] existed: a protocol's meaning did not change.
    assert load_protocol("synth-5fold").fingerprint() == "1cbe6e0eaa45"
    assert load_protocol("synth-mini").fingerprint() == "76903ed3e3b5"
    assert "vitals" not in load_protocol("synth-5fold").to_dict()
    assert load_protocol("synth-mini-vitals").vitals_config().measures[-1] == "resp_rate"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[dataset]\nname = "synthetic"\n[vitals]\nresp_band = [6, 30]\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: \[vitals\] .*resp_band"):
        load_protocol(bad)


TINY = Preset("vitals-tiny", "3 subjects x stationary x 8 s at 64x48", 3, ("stationary",), 8.0, 64, 48)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A POS run on three tiny synthetic clips (whole-clip windows), with a [vitals] table."""
    from rppgbench.cli import build_cli

    base = tmp_path_factory.mktemp("vitals")
    tree = generate(base / "tree", TINY, seed=3, workers=1, videos=False)
    protocol = base / "tiny-vitals.toml"
    protocol.write_text(
        'name = "tiny-vitals"\n[dataset]\nname = "synthetic"\n[split]\nkind = "kfold"\nfolds = 3\n'
        '[preprocess]\nface = "dataset"\nsize = 32\n[test]\nmode = "whole"\n'
        '[vitals]\nmeasures = ["sdnn", "resp_rate"]\n'
    )
    out = base / "pos"
    result = CliRunner().invoke(build_cli(), ["run", "--method", "pos", "--protocol", str(protocol), "--data-root",
                                              str(tree), "--out", str(out), "--quiet", "--workers", "1"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    return tree, out


def test_synthetic_loader_gives_the_true_beats_and_breathing(tiny_run):
    from rppgbench_plugins.datasets.synthetic.loader import SyntheticDataset

    tree, _ = tiny_run
    loader = SyntheticDataset(tree)
    record = loader.records()[1]
    reference = loader.vitals_reference(record)
    pulse = clip_pulse(clip_spec(TINY, 3, 1, "stationary"))
    assert reference.source == "truth" and not reference.detected
    assert np.array_equal(reference.beats, pulse.onsets)
    assert reference.breaths_per_min == pytest.approx(60 * pulse.params.resp_hz)


def test_compare_metrics_vitals_gives_a_table(tiny_run):
    from rppgbench.cli import build_cli

    _, out = tiny_run
    result = CliRunner().invoke(build_cli(), ["compare", str(out), "--metrics", "vitals,resp_rate_n,mae",
                                              "--format", "json"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    import json

    table = json.loads(result.output)["tables"][0]
    assert table["metrics"] == ["sdnn_mae", "resp_rate_mae", "resp_rate_n", "mae"]
    row = table["rows"][0]
    assert row["resp_rate_n"] == 3 and row["sdnn_mae"] is not None and row["resp_rate_mae"] is not None
    by = CliRunner().invoke(build_cli(), ["compare", str(out), "--metrics", "hrv,resp", "--by", "scenario"],
                            catch_exceptions=False)  # fmt: skip
    assert (
        by.exit_code == 0 and "Respiration rate MAE (breaths/min)" in by.output and "pNN50 MAE" in by.output
    )


def test_loaders_without_vitals_knowledge_fall_back_to_the_stored_waveform():
    import json

    from rppgbench.leaderboard.vitals import _dataset_references, expand_metrics

    # A real dataset whose loader adds nothing: no loader is built (its root need not exist here).
    lookup = _dataset_references(json.dumps({"name": "ubfc", "root": "/nonexistent", "options": {}}))
    assert lookup("ubfc/subject1/0") is None
    assert expand_metrics(["hrv", "mae", "vitals"], {"vitals": {"measures": ["rmssd"]}}) == [
        "sdnn_mae", "rmssd_mae", "pnn50_mae", "lf_hf_mae", "mae",
    ]  # fmt: skip
