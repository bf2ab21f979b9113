"""Merged-dataset protocols: training on several datasets (or k-fold over several), subjects kept apart
per dataset; every way of writing a dataset reference means, and fingerprints, the same; the protocols
shipped before merged datasets existed keep their fingerprints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from rppgbench.data import Record
from rppgbench.errors import ConfigError
from rppgbench.method import Method
from rppgbench.protocol import DatasetSpec, load_protocol, make_folds, parse_protocol, subject_folds

CROSS = {"name": "m", "split": {"kind": "cross", "train": ["a", "b"], "test": {"name": "c"}}}
KFOLD = {"name": "k", "dataset": ["a", "b"], "split": {"kind": "kfold", "folds": 3, "seed": 0}}


def _records(dataset: str, subjects, sessions: int = 2) -> list[Record]:
    return [
        Record(dataset, s, str(k), Path(f"{dataset}/{s}/{k}.avi")) for s in subjects for k in range(sessions)
    ]


def test_merged_training_datasets_give_one_role_per_dataset():
    protocol = parse_protocol(CROSS)
    assert list(protocol.datasets) == ["train:a", "train:b", "test"]
    assert protocol.datasets["train:b"] == DatasetSpec("b", {})
    assert protocol.to_dict()["split"]["train"] == [{"name": "a"}, {"name": "b"}]


def test_every_form_of_a_dataset_reference_means_and_fingerprints_the_same():
    tables = {"name": "t", "split": {"kind": "cross", "train": {"name": "pure"}, "test": {"name": "ubfc"}}}
    names = {"name": "t", "split": {"kind": "cross", "train": "pure", "test": ["ubfc"]}}
    assert parse_protocol(tables).fingerprint() == parse_protocol(names).fingerprint()
    assert parse_protocol(tables).datasets == parse_protocol(names).datasets
    merged = [{"name": "pure"}, {"name": "scamps", "options": {"frames": "Xsub"}}]
    mixed = ["pure", {"name": "scamps", "options": {"frames": "Xsub"}}]
    one = {"name": "t", "split": {"kind": "cross", "train": merged, "test": "ubfc"}}
    other = {"name": "t", "split": {"kind": "cross", "train": mixed, "test": "ubfc"}}
    assert parse_protocol(one).fingerprint() == parse_protocol(other).fingerprint()
    assert parse_protocol(one).fingerprint() != parse_protocol(tables).fingerprint()


def test_merged_training_keeps_subjects_apart_per_dataset():
    protocol = parse_protocol(CROSS)
    a, b, c = _records("a", ["1", "2"]), _records("b", ["1", "2"]), _records("c", ["1"])
    (fold,) = make_folds(protocol, {"train:a": a, "train:b": b, "test": c})
    assert fold.train == a + b and fold.test == c  # subject "1" of a, b and c: three people
    same = parse_protocol({"name": "x", "split": {"kind": "cross", "train": ["a", "b"], "test": "a"}})
    with pytest.raises(ConfigError, match="same subject.*a/1"):
        make_folds(same, {"train:a": a, "train:b": b, "test": _records("a", ["1"])})


def test_merged_kfold_splits_each_dataset_as_it_would_alone():
    protocol = parse_protocol(KFOLD)
    a = _records("a", [f"p{i}" for i in range(1, 11)])
    b = _records("b", [f"p{i}" for i in range(1, 7)])  # the same ids: other people
    folds = make_folds(protocol, {"data:a": a, "data:b": b})
    assert [f.name for f in folds] == ["1", "2", "3"]
    for dataset, records in (("a", a), ("b", b)):
        alone = subject_folds([r.subject for r in records], 3, 0)
        assert [sorted({r.subject for r in f.test if r.dataset == dataset}) for f in folds] == [
            sorted(g) for g in alone
        ]
    tested = [r.id for f in folds for r in f.test]
    assert sorted(tested) == sorted(r.id for r in a + b)  # every video tested exactly once
    for fold in folds:
        assert not {(r.dataset, r.subject) for r in fold.train} & {(r.dataset, r.subject) for r in fold.test}


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({"kind": "cross", "train": [], "test": "c"}, r"\[split.train\] must name at least one dataset"),
        ({"kind": "cross", "train": ["a", "a"], "test": "c"}, "names dataset.*a more than once"),
        ({"kind": "cross", "train": [3], "test": "c"}, "must be a table, a dataset name"),
        ({"kind": "cross", "train": ["a", {"name": "b", "option": {}}], "test": "c"}, "unknown key 'option'"),
        ({"kind": "cross", "train": ["a", ""], "test": "c"}, "entry 2 must not be an empty name"),
    ],
)
def test_merged_references_are_validated(split, message):
    with pytest.raises(ConfigError, match=message):
        parse_protocol({"name": "bad", "split": split}, Path("bad.toml"))


def test_a_split_file_takes_one_dataset():
    raw = {**KFOLD, "split": {"kind": "file", "file": "folds.json"}}
    with pytest.raises(ConfigError, match="kind 'file' takes one dataset"):
        parse_protocol(raw, Path("bad.toml"))


SHIPPED_FINGERPRINTS = {
    "mahnob-5fold": "0b003495dc6c",
    "pure": "6a5a2391d53f",
    "pure-to-ubfc": "c55ffea3abee",
    "synth-5fold": "1cbe6e0eaa45",
    "synth-mini": "76903ed3e3b5",
    "synth-release": "bb57849da511",  # d905d9732e5d until its data became the synth-release preset (v2 weights)
    "synth-vipl-5fold": "7e487f233e56",
    "ubfc": "dbf3913632d8",
    "ubfc-to-pure": "e26469cf83fd",
    "vipl-5fold": "93276192f390",
    "vipl-to-mmse": "9180bef4023e",
}
"""Fingerprints of the protocols shipped before merged datasets (as computed before that change)."""


@pytest.mark.parametrize("name", list(SHIPPED_FINGERPRINTS))
def test_protocols_shipped_before_merging_keep_their_fingerprints(name):
    protocol = load_protocol(name)
    assert protocol.fingerprint() == SHIPPED_FINGERPRINTS[name]
    assert set(protocol.datasets) <= {"data", "train", "test"}


NEW_PROTOCOLS = [
    "cohface", "cohface-clean", "cohface-natural", "scamps-to-ubfc", "scamps-to-pure", "scamps-to-mmpd",
    "pure-to-mmpd", "ubfc-to-mmpd", "pure-scamps-to-ubfc", "mmpd-to-ubfc", "mmpd-to-pure", "mmpd", "ubfcphys",
    "ibvp", "lgippgi", "scamps", "bp4d",
]  # fmt: skip


@pytest.mark.parametrize("name", NEW_PROTOCOLS)
def test_cross_dataset_protocols_build_their_loaders(name, tmp_path):
    from rppgbench.plugins import registry

    protocol = load_protocol(name)
    assert protocol.preprocess["face"] == "blazeface"
    for spec in protocol.datasets.values():
        registry().dataset(spec.name)(tmp_path, **spec.options)
    if name == "pure-scamps-to-ubfc":
        assert [s.name for r, s in protocol.datasets.items() if r.startswith("train")] == ["pure", "scamps"]
    if name.startswith("cohface"):
        from rppgbench.protocol import read_split

        split = read_split(protocol.split_file)
        assert [len(f) for f in split.folds] == [16, 24]
        assert sorted(sum(split.folds, []), key=int) == [str(i) for i in range(1, 41)]


class GreenSign(Method):
    """A tiny trained method: the face's mean green level, with the sign that best matches the
    training references (learned from every training clip), and which (dataset, subject)s it saw."""

    name = "green-sign"
    trains = True
    seen: ClassVar[list[tuple[str, str]]] = []

    def fit(self, train, context):
        votes = []
        for clip in train:
            GreenSign.seen.append((clip.record.dataset, clip.record.subject))
            green = np.asarray(clip.frames[:], dtype=np.float32)[..., 1].mean(axis=(1, 2))
            votes.append(np.corrcoef(green, clip.aligned_reference())[0, 1])
        self.sign = float(np.sign(np.mean(votes)))

    def predict(self, clip):
        green = np.asarray(clip.frames[:], dtype=np.float32)[..., 1].mean(axis=(1, 2))
        return self.sign * (green - green.mean())

    def save(self, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({"sign": self.sign}))

    def load(self, path):
        self.sign = json.loads(Path(path).read_text())["sign"]


def test_merged_protocol_trains_on_two_fixture_datasets_and_tests_on_a_third(tmp_path, monkeypatch):
    pytest.importorskip("rppgbench.preprocess.face")
    import pandas as pd

    from rppgbench.executors import LocalExecutor
    from rppgbench.planning import RunOptions, plan_run
    from rppgbench.plugins import registry
    from rppgbench.runner import execute_plans
    from rppgbench.testing import make_tree

    trees = {
        "ubfc": make_tree("ubfc", tmp_path / "ubfc", subjects=2, seed=1),
        "scamps": make_tree("scamps", tmp_path / "scamps", videos=2, seed=2),
        "ubfcphys": make_tree("ubfcphys", tmp_path / "ubfcphys", subjects=2, seed=3),
    }
    protocol = tmp_path / "merged.toml"
    protocol.write_text(
        'name = "merged"\n[split]\nkind = "cross"\ntrain = ["ubfc", "scamps"]\ntest = "ubfcphys"\n'
        '[preprocess]\nface = "blazeface"\nsize = 64\n[test]\nmode = "whole"\nmin_seconds = 3.0\n'
    )
    monkeypatch.setitem(registry().methods, "green-sign", GreenSign)
    GreenSign.seen.clear()
    options = RunOptions(
        "green-sign", protocol, data_roots={k: v.root for k, v in trees.items()}, out=tmp_path / "run",
        cache_root=tmp_path / "cache", progress=False,
    )  # fmt: skip
    plan = plan_run(options)
    assert set(plan.loaders) == {"train:ubfc", "train:scamps", "test"}
    outcomes = execute_plans([plan], LocalExecutor())
    assert all(o.ok for o in outcomes[tmp_path / "run"]), [o.error for o in outcomes[tmp_path / "run"]]
    assert sorted(GreenSign.seen) == sorted(
        [("scamps", "P000001"), ("scamps", "P000002"), ("ubfc", "subject1"), ("ubfc", "subject2")]
    )
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv", dtype={"subject": str})
    known = trees["ubfcphys"].by_id()
    assert sorted(predictions["video_id"]) == sorted(known) and (predictions["status"] == "ok").all()
    for row in predictions.itertuples():
        assert row.hr_pred == pytest.approx(known[row.video_id].hr_bpm, abs=6.0)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert {role: spec["name"] for role, spec in run["config"]["datasets"].items()} == {
        "train:ubfc": "ubfc", "train:scamps": "scamps", "test": "ubfcphys",
    }  # fmt: skip


def test_merged_kfold_plan_over_two_fixture_datasets(tmp_path):
    from rppgbench.planning import plan_data
    from rppgbench.testing import make_tree

    ubfc = make_tree("ubfc", tmp_path / "ubfc", seconds=1.0)
    cohface = make_tree("cohface", tmp_path / "cohface", seconds=1.0)
    protocol = tmp_path / "pooled.toml"
    protocol.write_text(
        'name = "pooled"\n[[dataset]]\nname = "ubfc"\n[[dataset]]\nname = "cohface"\n'
        'options = { sessions = [0] }\n[split]\nkind = "kfold"\nfolds = 3\n'
    )
    plan = plan_data(protocol, {"ubfc": ubfc.root, "cohface": cohface.root})
    assert list(plan.loaders) == ["data:ubfc", "data:cohface"]
    assert plan.loaders["data:cohface"].options["sessions"] == (0,)
    for fold in plan.folds:  # one subject of each dataset per fold
        assert sorted(r.dataset for r in fold.test) == ["cohface", "ubfc"]
        assert len(fold.train) == 4
    assert sorted(r.id for f in plan.folds for r in f.test) == sorted([*ubfc.by_id(), *cohface.by_id()])
