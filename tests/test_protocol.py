"""Protocol files: validation errors, subject-independent folds, split files, cross-dataset splits."""

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from rppgbench.data import Record
from rppgbench.errors import ConfigError
from rppgbench.protocol import make_folds, parse_protocol, read_split, subject_folds

BASE = {
    "name": "t",
    "dataset": {"name": "synthetic"},
    "split": {"kind": "kfold", "folds": 3, "seed": 0},
    "test": {"mode": "clips", "clip_seconds": 10, "n_clips": 3},
}


def _records(subjects, sessions=2):
    return [Record("d", s, str(k), Path(f"{s}/{k}.avi")) for s in subjects for k in range(sessions)]


def test_kfold_is_subject_independent_and_deterministic():
    protocol = parse_protocol(BASE)
    records = _records([f"p{i}" for i in range(1, 11)])
    folds = make_folds(protocol, {"data": records})
    assert [f.name for f in folds] == ["1", "2", "3"]
    tested = [r.subject for f in folds for r in f.test]
    assert sorted(tested) == sorted(r.subject for r in records)  # every video tested exactly once
    for fold in folds:
        assert not {r.subject for r in fold.train} & {r.subject for r in fold.test}
    again = make_folds(protocol, {"data": records})
    assert [[r.id for r in f.test] for f in folds] == [[r.id for r in f.test] for f in again]


def test_subject_folds_seed_changes_split_and_sizes_balance():
    subjects = [f"p{i}" for i in range(1, 108)]
    a, b = subject_folds(subjects, 5, 0), subject_folds(subjects, 5, 1)
    assert a != b
    assert sorted(len(g) for g in a) == [21, 21, 21, 22, 22]


def test_too_few_subjects_is_an_error():
    with pytest.raises(ConfigError, match="3 subject-independent folds from 2 subjects"):
        make_folds(parse_protocol(BASE), {"data": _records(["a", "b"])})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"split": {"kind": "random"}}, "kind 'random'"),
        ({"test": {"mode": "average"}}, "mode 'average'"),
        ({"test": {"clip_len": 3}}, "unknown key"),
        ({"surprise": 1}, "unknown key"),
        ({"reference": {"source": "guess"}}, "source 'guess'"),
        ({"split": {"kind": "cross"}}, "split.train"),
        ({"split": {"kind": "kfold", "folds": 1}}, "folds must be"),
        ({"hr": {"method": "magic"}}, r"\[hr\]"),
    ],
)
def test_validation_errors_name_the_problem(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_protocol({**BASE, **change}, Path("bad.toml"))


def test_split_file_formats(tmp_path):
    groups = [["p1", "p2"], ["p3"], ["p4", "p5"]]
    (tmp_path / "s.json").write_text(json.dumps({"folds": groups}))
    (tmp_path / "s.csv").write_text(
        "subject,fold\n" + "".join(f"{s},{i}\n" for i, g in enumerate(groups) for s in g)
    )
    from scipy.io import savemat

    savemat(
        tmp_path / "s.mat", {f"fold{i + 1}": np.array([int(s[1:]) for s in g]) for i, g in enumerate(groups)}
    )
    assert read_split(tmp_path / "s.json").folds == groups
    assert read_split(tmp_path / "s.csv").folds == groups
    assert read_split(tmp_path / "s.mat").folds == [["1", "2"], ["3"], ["4", "5"]]


def test_split_file_matches_numeric_ids_to_subject_names(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps([[1, 2], [3, 4]]))
    protocol = parse_protocol(BASE, split_file=tmp_path / "s.json")
    folds = make_folds(protocol, {"data": _records(["p1", "p2", "p3", "p4"], sessions=1)})
    assert [sorted(r.subject for r in f.test) for f in folds] == [["p1", "p2"], ["p3", "p4"]]


def test_cross_dataset_protocol():
    raw = {"name": "a-to-b", "split": {"kind": "cross", "train": {"name": "a"}, "test": {"name": "b"}}}
    protocol = parse_protocol(raw)
    train, test = _records(["x"]), _records(["y"])
    (fold,) = make_folds(protocol, {"train": train, "test": test})
    assert fold.name == "all" and fold.train == train and fold.test == test


def test_shipped_protocols_are_valid():
    from rppgbench.protocol import available_protocols, load_protocol

    names = available_protocols()
    for name in names:
        protocol = load_protocol(name)
        assert protocol.name == name, f"{name}.toml declares name {protocol.name!r}"
        tomllib.loads(Path(str(names[name])).read_text())


def test_format_defaults_merge_key_by_key_and_are_recorded():
    protocol = parse_protocol({**BASE, "hr": {"band_bpm": [45, 150]}})
    assert protocol.version == 1
    recorded = protocol.to_dict()
    assert recorded["version"] == 1 and recorded["reference"] == {"source": "waveform"}
    assert recorded["hr"] == {"method": "welch", "band_bpm": [45, 150]}
    assert protocol.hr_config().band_bpm == (45, 150)


def test_a_newer_protocol_format_is_refused():
    with pytest.raises(ConfigError, match="version is 2, but this rppgbench reads protocol formats up to 1"):
        parse_protocol({**BASE, "version": 2}, Path("new.toml"))


def test_fingerprint_covers_the_dataset_and_its_options():
    from rppgbench.protocol import fingerprint

    mahnob = {
        **BASE,
        "dataset": {"name": "mahnob", "options": {"frame_range": [306, 2135], "ecg_channel": "EXG2"}},
    }
    moved = {
        **mahnob,
        "dataset": {"name": "mahnob", "options": {"frame_range": [0, 1830], "ecg_channel": "EXG2"}},
    }
    assert fingerprint(parse_protocol(mahnob).to_dict()) != fingerprint(parse_protocol(moved).to_dict())
    # defaults written out or left to the format: the same protocol, the same fingerprint
    explicit = {
        **mahnob,
        "reference": {"source": "waveform"},
        "hr": {"method": "welch", "band_bpm": [40, 180]},
    }
    assert parse_protocol(explicit).fingerprint() == parse_protocol(mahnob).fingerprint()


def test_shipped_protocol_resolves_to_what_the_leaderboard_runs_recorded():
    """The files lost their repeated [reference]/[hr] blocks, not a single setting: the published
    synth-5fold runs, recorded before the format had a version and after, resume and share tables."""
    from rppgbench.leaderboard.results import packaged_results
    from rppgbench.planning import comparable
    from rppgbench.protocol import fingerprint, load_protocol

    now = load_protocol("synth-5fold").to_dict()
    runs = sorted(packaged_results("synth-5fold").glob("*/run.json"))
    assert runs
    versions = set()
    for path in runs:
        recorded = json.loads(path.read_text())["config"]
        versions.add(recorded["protocol"].get("version"))
        assert comparable(recorded)["protocol"] == comparable({**recorded, "protocol": now})["protocol"]
        assert fingerprint(recorded["protocol"]) == fingerprint(now)
    assert None in versions  # runs recorded before the protocol format had a version


def test_results_record_where_a_protocol_came_from_without_this_machines_paths(tmp_path):
    """An installed protocol is recorded by name, a user's file by the path as given."""
    from rppgbench.protocol import load_protocol

    assert load_protocol("synth-mini").to_dict()["_source"] == "registered:synth-mini"
    own = tmp_path / "mine.toml"
    own.write_text(load_protocol("synth-mini").source.read_text())
    assert load_protocol(own).to_dict()["_source"] == str(own)
