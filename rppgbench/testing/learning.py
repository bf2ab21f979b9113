"""A learning check for trained methods: a tiny model fitted on tiny pulse clips must read the heart
rate of held-out clips better than the best constant guess. Plugin authors use it the way the built-in
methods' tests do; the clips are `rppgbench.testing.clips`'s, so every method faces the same task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rppgbench.method import FitContext, Method
from rppgbench.signal.hr import estimate_hr
from rppgbench.testing.clips import make_pulse_clips

TRAIN_HR = (55, 65, 75, 85, 95, 105, 115, 125)
TEST_HR = (60, 80, 100, 120, 70)


@dataclass
class LearningResult:
    """Held-out HR error of the fitted method, that of predicting the training mean, and the HRs read."""

    mae: float
    constant_mae: float
    predictions: list[float]


def check_learns_pulse(
    method: Method,
    work_dir: Path,
    *,
    val_loss_ratio: float,
    max_mae: float = 5.0,
    size: int = 16,
    train_frames: int = 192,
    test_frames: int = 302,
) -> LearningResult:
    """Fit `method` on 8 tiny training clips (55-125 bpm), then assert that its best validation loss fell
    below `val_loss_ratio` x the first epoch's, and that on 5 held-out clips its MAE is under `max_mae`
    while predicting the training mean is worse than `max_mae`."""
    train = make_pulse_clips(list(TRAIN_HR), frames=train_frames, size=size, seed=1)
    method.fit(train, FitContext(Path(work_dir), seed=0, progress=False))
    history = method.fit_result.history
    assert min(h["val_loss"] for h in history) < val_loss_ratio * history[0]["val_loss"], history
    predictions = []
    for clip in make_pulse_clips(list(TEST_HR), frames=test_frames, size=size, seed=2):
        signal = method.predict(clip)
        assert signal.shape == (len(clip),) and np.isfinite(signal).all()
        predictions.append(float(estimate_hr(signal, clip.fps)))
    truth = np.array(TEST_HR, dtype=float)
    mae = float(np.mean(np.abs(np.array(predictions) - truth)))
    constant_mae = float(np.mean(np.abs(np.mean(TRAIN_HR) - truth)))
    assert mae < max_mae < constant_mae, (mae, predictions)
    return LearningResult(mae, constant_mae, predictions)
