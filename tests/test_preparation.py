"""Preparation's public face: a plugin gets a fold's clips through `prepare_fold`, not the plan."""

from pathlib import Path

import pytest

from rppgbench.data import Record
from rppgbench.errors import RppgbenchError
from rppgbench.planning import plan_data
from rppgbench.preparation import PreparedFold, prepare_fold


def test_prepare_fold_gives_a_plugin_the_training_clips_of_a_fold(tmp_path):
    prepared = prepare_fold("synth-mini", "2", cache_root=tmp_path / "cache", progress=False)
    fold = plan_data("synth-mini").fold("2")
    assert (prepared.name, prepared.protocol) == ("2", "synth-mini")
    assert [r.id for r in prepared.train] == [r.id for r in fold.train]
    clips = prepared.training_clips()
    assert [c.record.id for c in clips] == [r.id for r in fold.train] and prepared.failed_training() == {}
    assert len(clips[0]) > 0 and clips[0].reference is not None
    assert all(prepared.error(r) == "not preprocessed" for r in prepared.test)  # only with test=True
    with pytest.raises(RppgbenchError, match="not preprocessed"):
        prepared.clip(prepared.test[0])


def test_a_fold_without_a_usable_training_video_says_so():
    record = Record("d", "s1", "1", location=Path("d/s1/1.avi"), fps=30.0)
    prepared = PreparedFold("1", "p", [record], [], {})
    assert prepared.failed_training() == {record.id: "not preprocessed"}
    with pytest.raises(RppgbenchError, match=r"fold 1: no usable training video \(all 1 failed\)"):
        prepared.training_clips()
