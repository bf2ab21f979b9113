"""The benchmark dataset loaders on tiny fixtures written in each dataset's real on-disk layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rppgbench.errors import ConfigError, DataError
from rppgbench.plugins import registry
from rppgbench.signal.hr import reference_hr
from rppgbench.testing import (
    break_empty_subject,
    break_missing_reference,
    break_nan_reference,
    break_short_reference,
    break_video,
    break_wrong_rate,
    make_tree,
)

CASES = {
    "vipl": ("vipl", {}),
    "mahnob": ("mahnob", {}),
    "mmse": ("mmse", {}),
    "ubfc": ("ubfc", {}),
    "ubfc-dataset1": ("ubfc", {"variant": "dataset1"}),
    "pure": ("pure", {}),
    "cohface": ("cohface", {}),
    "scamps": ("scamps", {}),
    "scamps-v5": ("scamps", {"mat_version": "5", "videos": 2}),
    "mmpd": ("mmpd", {}),
    "mmpd-v73": ("mmpd", {"mat_version": "7.3", "subjects": 2}),
    "ubfcphys": ("ubfcphys", {}),
    "ibvp": ("ibvp", {}),
    "lgippgi": ("lgippgi", {}),
    "bp4d": ("bp4d", {}),
    "bp4d-extracted": ("bp4d", {"extracted": True, "subjects": ("F001", "M002")}),
}
DATASETS = [
    "vipl", "mahnob", "mmse", "ubfc", "pure", "cohface", "scamps", "mmpd", "ubfcphys", "ibvp", "lgippgi", "bp4d",
]  # fmt: skip
UNTIMED = {"ibvp"}
"""Datasets whose reference has no time base of its own (spread over the video): a short or
wrongly-sampled reference cannot be told from a good one."""


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """Each case's fixture, written once per module; tests that damage a tree work on a copy."""
    cache: dict = {}

    def get(case: str):
        if case not in cache:
            dataset, kwargs = CASES[case]
            cache[case] = make_tree(dataset, tmp_path_factory.mktemp(case), **kwargs)
        return cache[case]

    return get


def loader_for(fixture, **options):
    return registry().dataset(fixture.dataset)(fixture.root, **options)


def read_all(loader, record):
    """Open, decode and time-stamp a record's frames, and load its reference."""
    source = loader.open_frames(record)
    frames = np.stack(list(source))
    times = loader.frame_timestamps(record, len(frames), source.fps)
    return frames, times, loader.load_reference(record)


@pytest.mark.parametrize("case", list(CASES))
def test_loader_reads_records_frames_timestamps_and_reference(case, trees):
    fixture = trees(case)
    loader = loader_for(fixture)
    records = loader.records()
    expected = fixture.by_id()
    assert sorted(r.id for r in records) == sorted(expected)
    for record in records:
        known = expected[record.id]
        assert (record.dataset, record.subject, record.session) == (
            fixture.dataset,
            known.subject,
            known.session,
        )
        assert record.source == known.source
        assert record.scenario == known.scenario or (
            fixture.dataset == "pure" and record.scenario == "steady"
        )
        frames, times, reference = read_all(loader, record)
        assert frames.shape == (known.n_frames, 120, 160, 3) and frames.dtype == np.uint8
        np.testing.assert_allclose(times, known.timestamps, atol=1e-6)
        assert reference.kind == fixture.reference_kind
        assert reference.times[0] <= 0.5 and reference.times[-1] >= times[-1] - 0.1
        assert reference_hr(reference, 0.0, float(times[-1])) == pytest.approx(known.hr_bpm, abs=2.5)


@pytest.mark.parametrize("dataset", DATASETS)
def test_blazeface_finds_the_fixture_face(dataset, trees):
    face = pytest.importorskip("rppgbench.preprocess.face")
    fixture = trees(dataset)
    loader = loader_for(fixture)
    record = loader.records()[0]
    frame = next(iter(loader.open_frames(record)))
    with face.FaceDetector() as detector:
        box = detector.detect(frame)
    assert box is not None and box.score > 0.8
    assert 35 < box.w < 90 and 40 < box.x + box.w / 2 < 120  # a head-sized box near the frame centre


@pytest.mark.parametrize("dataset", DATASETS)
def test_a_root_of_something_else_is_a_data_error_naming_it(dataset, tmp_path):
    (tmp_path / "holiday-photos").mkdir()
    with pytest.raises(DataError, match=str(tmp_path)):
        registry().dataset(dataset)(tmp_path).records()
    with pytest.raises(DataError, match="does not exist"):
        registry().dataset(dataset)(tmp_path / "missing").records()


BREAKERS = {
    "missing_reference": (break_missing_reference, "not found"),
    "corrupt_video": (break_video, ""),
    "short_reference": (break_short_reference, "shorter than the video"),
    "nan_reference": (break_nan_reference, "NaN"),
    "wrong_rate": (break_wrong_rate, "rate"),
}


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("damage", list(BREAKERS))
def test_bad_input_gives_a_specific_error_naming_the_file(dataset, damage, trees, tmp_path):
    if dataset == "mahnob" and damage == "nan_reference":
        pytest.skip("a BDF stores integers: it cannot hold NaN samples")
    if dataset in UNTIMED and damage in ("short_reference", "wrong_rate"):
        pytest.skip("the reference is spread over the video: its length sets its rate")
    fixture = trees(dataset).copy_to(tmp_path / "tree")
    breaker, phrase = BREAKERS[damage]
    broken_file = breaker(fixture, 0)
    loader = loader_for(fixture)
    records = {r.id: r for r in loader.records()}
    assert set(records) == set(fixture.by_id()), "a damaged file must not change what is listed"
    with pytest.raises(DataError) as caught:
        read_all(loader, records[fixture.videos[0].record_id])
    message = str(caught.value)
    assert str(broken_file) in message and phrase in message
    for healthy in fixture.videos[1:]:  # the damage stays with its own record
        read_all(loader, records[healthy.record_id])


@pytest.mark.parametrize("dataset", DATASETS)
def test_a_subject_folder_without_video_is_listed_and_fails_naming_the_folder(dataset, trees, tmp_path):
    fixture = trees(dataset).copy_to(tmp_path / "tree")
    folder = break_empty_subject(fixture)
    records = loader_for(fixture).records()
    assert len(records) == len(fixture.videos) + 1
    problems = [r for r in records if r.id not in fixture.by_id()]
    assert len(problems) == 1
    loader = loader_for(fixture)
    for call in (loader.open_frames, loader.load_reference):
        with pytest.raises(DataError, match=r"no .*(video|vid\.avi|data\.avi|frames|Image)") as caught:
            call(problems[0])
        assert str(folder) in str(caught.value)


def test_vipl_lists_rgb_sources_by_default_and_nir_on_request(trees):
    fixture = trees("vipl")
    default = loader_for(fixture).records()
    assert {r.source for r in default} == {"source1", "source2"}  # the fixture has sources 1, 2 and 4
    with_nir = loader_for(fixture, sources=[1, 2, 3, 4]).records()
    nir = [r for r in with_nir if r.source == "source4"]
    assert len(nir) == 3 and all(r.meta["nir"] for r in nir)
    assert len(loader_for(fixture, scenarios=[2]).records()) == 0  # no v2 folders: nothing, no error


def test_vipl_uses_time_txt_and_can_load_the_dataset_hr(trees):
    fixture = trees("vipl")
    loader = loader_for(fixture, reference="gt_hr")
    record = next(r for r in loader.records() if r.source == "source2")
    times = loader.frame_timestamps(record, 120, 30.0)
    assert not np.allclose(np.diff(times), 1 / 30.0)  # the jittered time.txt, not n / fps
    reference = loader.load_reference(record)
    assert reference.kind == "hr"
    assert reference.values.mean() == pytest.approx(fixture.by_id()[record.id].hr_bpm, abs=0.6)
    without = loader_for(fixture, use_time_txt=False)
    np.testing.assert_allclose(without.frame_timestamps(record, 120, 30.0), np.arange(120) / 30.0)


def test_vipl_wave_rate_option_changes_the_time_base(trees):
    fixture = trees("vipl")
    loader = loader_for(fixture, wave_rate=30.0)  # claims 30 Hz for a 60-Hz file: twice the video's length
    record = loader.records()[0]
    with pytest.raises(DataError, match="wave_rate"):
        loader.load_reference(record)


def test_mahnob_frame_range_and_channel_options(trees):
    fixture = trees("mahnob")
    loader = loader_for(fixture, frame_range=[30, 200])
    record = loader.records()[0]
    assert record.frame_range == (30, 200) and record.subject == "1" and record.fps == 61.0
    assert loader.load_reference(record).kind == "ecg"
    paper = loader_for(fixture, frame_range=[306, 2135])
    with pytest.raises(DataError, match="244 frames"):
        paper.open_frames(paper.records()[0])
    wrong = loader_for(fixture, ecg_channel="ECG")
    with pytest.raises(DataError, match="EXG1, EXG2, EXG3, Status"):
        wrong.load_reference(wrong.records()[0])


def test_mmse_patterns_and_bp_reference(trees, tmp_path):
    fixture = trees("mmse")
    bp = loader_for(fixture, reference="bp")
    record = bp.records()[0]
    reference = bp.load_reference(record)
    assert reference.kind == "ppg" and reference.rate == pytest.approx(1000.0)
    assert reference_hr(reference, 0.0, 3.9) == pytest.approx(fixture.by_id()[record.id].hr_bpm, abs=2.5)
    with pytest.raises(DataError, match="set the pattern options"):
        loader_for(
            fixture, frames_pattern="{subject}/{task}/*.png", hr_pattern="{subject}/{task}/hr.txt"
        ).records()


def test_pure_aligns_by_timestamps(trees):
    fixture = trees("pure")
    loader = loader_for(fixture)
    record = loader.records()[0]
    reference = loader.load_reference(record)
    assert reference.times[0] == pytest.approx(-0.5)  # the oximeter started before the camera
    names = [p.name for p in loader.open_frames(record).paths]
    assert names == sorted(names, key=lambda n: int(n[5:-4]))


def test_datasets_register_through_entry_points():
    names = set(registry().datasets)
    assert set(DATASETS) <= names
    for name in DATASETS:
        loader = registry().dataset(name)
        assert loader.description and all(p.help for p in loader.params)


def test_fixture_copy_is_independent(trees, tmp_path):
    fixture = trees("cohface")
    copy = fixture.copy_to(tmp_path / "copy")
    break_missing_reference(copy, 0)
    assert fixture.videos[0].reference.is_file() and not copy.videos[0].reference.is_file()
    assert Path(copy.videos[0].video).is_file()


def test_scamps_frame_options(trees):
    fixture = trees("scamps")
    crop = loader_for(fixture, frames="Xsub")
    record = crop.records()[0]
    frames = np.stack(list(crop.open_frames(record)))
    assert frames.shape == (120, 120, 120, 3)  # the square face crop
    assert reference_hr(crop.load_reference(record), 0.0, 3.9) == pytest.approx(
        fixture.by_id()[record.id].hr_bpm, abs=2.5
    )
    wrong = loader_for(fixture, frame_axes="hwct")
    with pytest.raises(DataError, match="frame_axes"):
        wrong.open_frames(wrong.records()[0])
    slow = loader_for(fixture, ppg_rate=10.0)  # one sample per frame read as 10 Hz: 3x the video
    with pytest.raises(DataError, match="ppg_rate"):
        slow.load_reference(slow.records()[0])


def test_scamps_breathing_is_the_respiration_reference_of_vitals(trees):
    """SCAMPS records breathing (`d_br`): vitals score respiration against it, beats come from `d_ppg`."""
    from rppgbench.vitals import VitalsConfig, respiration_rate

    fixture = trees("scamps")
    loader = loader_for(fixture)
    record = loader.records()[0]
    vitals = loader.vitals_reference(record)
    assert vitals.respiration.kind == "resp" and vitals.source == "ppg"
    assert vitals.respiration.values.size == 120  # one sample per frame
    beats = np.diff(vitals.beats)
    assert 60.0 / np.median(beats) == pytest.approx(fixture.by_id()[record.id].hr_bpm, abs=5.0)
    rate = respiration_rate(vitals.respiration, 0.0, 3.9, VitalsConfig())
    assert rate == pytest.approx(15.0, abs=4.0)  # the fixture breathes at 0.25 Hz over 4 s


def test_mmpd_labels_become_the_scenario(trees):
    fixture = trees("mmpd")
    records = loader_for(fixture).records()
    known = fixture.by_id()
    for record in records:
        labels = known[record.id].extra["labels"]
        assert record.meta["labels"]["light"] == labels["light"]
        assert record.meta["labels"]["skin_color"] == str(labels["skin_color"])
        assert record.meta["labels"]["gender"] in ("male", "female")
    motion = loader_for(fixture, scenario_labels=["motion"]).records()
    assert {r.scenario for r in motion} == {
        f"motion={v['motion']}" for v in (known[r.id].extra["labels"] for r in motion)
    }
    with pytest.raises(ConfigError, match="scenario_labels"):
        loader_for(fixture, labels=["light"], scenario_labels=["motion"]).records()
    stretched = loader_for(fixture, ppg_rate=0.0)  # rPPG-Toolbox's way: the PPG spans the video
    record = stretched.records()[0]
    assert reference_hr(stretched.load_reference(record), 0.0, 3.9) == pytest.approx(
        known[record.id].hr_bpm, abs=2.5
    )


def test_ubfcphys_task_filter_lists_no_problem_for_absent_tasks(trees):
    fixture = trees("ubfcphys")
    assert loader_for(fixture, tasks=["T2"]).records() == []
    assert {r.scenario for r in loader_for(fixture).records()} == {"rest"}


def test_ibvp_signal_quality(trees):
    fixture = trees("ibvp")
    loader = loader_for(fixture)
    record = loader.records()[0]
    quality = loader.signal_quality(record)
    assert set(np.unique(quality)) == {0.2, 1.0}
    strict = loader_for(fixture, min_quality=0.95)  # 90 % of the fixture's samples are good
    with pytest.raises(DataError, match="below min_quality"):
        strict.load_reference(strict.records()[0])
    assert loader_for(fixture, min_quality=0.5).load_reference(record).kind == "ppg"


def test_lgippgi_sync_and_timer_options(trees):
    fixture = trees("lgippgi")
    record = loader_for(fixture).records()[0]
    end = loader_for(fixture).load_reference(record)
    assert end.times[0] == pytest.approx(-0.5, abs=0.02)  # the oximeter started before the camera
    start = loader_for(fixture, sync="start").load_reference(record)
    assert start.times[0] == 0.0 and start.times[-1] > end.times[-1]
    no_timer = loader_for(fixture, use_timer=False)
    np.testing.assert_allclose(no_timer.frame_timestamps(record, 100, 25.0), np.arange(100) / 25.0)
    hr = loader_for(fixture, reference="hr").load_reference(record)
    assert hr.kind == "hr" and hr.values.mean() == pytest.approx(round(fixture.by_id()[record.id].hr_bpm))


def test_bp4d_reference_frames_and_tasks_options(trees):
    fixture = trees("bp4d")
    hr = loader_for(fixture, reference="hr")
    record = hr.records()[0]
    reference = hr.load_reference(record)
    assert reference.kind == "hr" and reference.rate == pytest.approx(1000.0)
    assert reference.values.mean() == pytest.approx(fixture.by_id()[record.id].hr_bpm, abs=0.01)
    folders_only = loader_for(fixture, frames="folders").records()  # the fixture holds zip files
    assert folders_only and all("no frames" in r.meta.get("error", "") for r in folders_only)
    with pytest.raises(DataError, match="no BP4D"):
        loader_for(fixture, tasks=["T8"]).records()  # nothing of task T8 anywhere


def test_cohface_sessions_option(trees):
    fixture = trees("cohface")  # one session, "0", per subject
    assert len(loader_for(fixture, sessions=[0]).records()) == len(fixture.videos)
    assert loader_for(fixture, sessions=[2, 3]).records() == []  # no natural-light sessions: none listed


def test_mat_labels_read_alike_from_v5_and_v73_files(tmp_path):
    from rppgbench_plugins.datasets import matfile

    from rppgbench.testing.dataset_fixtures import write_mat5, write_mat73

    labels = {"light": "Nature", "skin_color": 4.0, "ppg": np.arange(5.0)}
    old = write_mat5(tmp_path / "old.mat", {**labels, "motion": np.array(["Talking"], dtype=object)})
    new = write_mat73(tmp_path / "new.mat", labels)
    assert not matfile.is_v73(old) and matfile.is_v73(new)
    for path in (old, new):
        read = matfile.read_variables(path, ["light", "skin_color", "ppg"])
        assert read["light"] == "Nature" and matfile.scalar_text(read["skin_color"]) == "4"
        np.testing.assert_array_equal(np.ravel(read["ppg"]), np.arange(5.0))
    assert matfile.scalar_text(matfile.read_variables(old, ["motion"])["motion"]) == "Talking"  # a cell
    with pytest.raises(DataError, match="variable missing .*not found.*light"):
        matfile.read_variables(new, ["missing"])
