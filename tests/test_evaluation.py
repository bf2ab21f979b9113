"""Test windowing and per-video HR: the protocol's windows, averaged HRs, and scoring errors."""

import numpy as np
import pytest

from rppgbench.data import Clip, Record, Reference
from rppgbench.errors import SignalError
from rppgbench.evaluation import evaluate_video, evaluation_windows
from rppgbench.method import Method
from rppgbench.protocol import WindowingSpec
from rppgbench.signal.hr import HRConfig


def test_three_ten_second_clips():
    assert evaluation_windows(900, 30.0, WindowingSpec("clips", 10.0, 3)) == [
        (0, 300),
        (300, 600),
        (600, 900),
    ]
    assert evaluation_windows(700, 30.0, WindowingSpec("clips", 10.0, 3)) == [(0, 300), (300, 600)]
    assert evaluation_windows(240, 30.0, WindowingSpec("clips", 10.0, 3)) == [(0, 240)]


def test_sliding_and_whole_windows():
    assert evaluation_windows(450, 30.0, WindowingSpec("sliding", window_seconds=10, step_seconds=5)) == [
        (0, 300),
        (150, 450),
    ]
    assert evaluation_windows(450, 30.0, WindowingSpec("whole")) == [(0, 450)]


def test_too_short_video_is_an_error():
    with pytest.raises(SignalError, match="3.0 s long"):
        evaluation_windows(90, 30.0, WindowingSpec("clips", min_seconds=5.0))


class Oracle(Method):
    """Returns the aligned reference itself: the video HR must equal the reference HR."""

    name = "oracle"

    def predict(self, clip):
        return clip.aligned_reference()


def _clip(bpm_first: float, bpm_second: float, fps=30.0, seconds=20.0) -> Clip:
    ref_t = np.arange(int(seconds * 60)) / 60.0
    freq = np.where(ref_t < seconds / 2, bpm_first, bpm_second) / 60.0
    phase = 2 * np.pi * np.cumsum(freq) / 60.0
    reference = Reference("ppg", np.sin(phase), ref_t)
    n = int(seconds * fps)
    return Clip(Record("d", "s", "1", None), np.zeros((n, 4, 4, 3), np.uint8), np.arange(n) / fps, reference)


def test_video_hr_is_mean_of_window_hrs():
    estimate = evaluate_video(Oracle(), _clip(60.0, 90.0), WindowingSpec("clips", 10.0, 2), HRConfig())
    assert estimate.window_hr_ref == pytest.approx([60.0, 90.0], abs=1.0)
    assert estimate.hr_ref == pytest.approx(75.0, abs=1.0)
    assert estimate.hr_pred == pytest.approx(estimate.hr_ref, abs=0.5)


def test_wrong_signal_length_is_reported():
    class Short(Oracle):
        name = "short"

        def predict(self, clip):
            return np.zeros(len(clip) - 1)

    with pytest.raises(SignalError, match="returned shape"):
        evaluate_video(Short(), _clip(70.0, 70.0), WindowingSpec("whole"), HRConfig())
