"""The example plugin's own tests: what a plugin author runs before publishing (`pytest tests`)."""

import numpy as np
from rppgbench_example import GreenRedRatio, within_5bpm

from rppgbench.testing import check_method


def test_the_method_keeps_the_rppgbench_contract():
    check_method(GreenRedRatio)  # contract, params, output length, determinism, save/load


def test_the_metric_counts_videos_within_5_bpm():
    assert within_5bpm(np.array([70.0, 80.0]), np.array([72.0, 90.0])) == 50.0
