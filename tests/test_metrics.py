"""Metrics against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rppgbench.errors import SignalError
from rppgbench.metrics import METRIC_NAMES, hr_metrics, plugin_metrics

PRED = [70.0, 80.0, 90.0, 100.0]
REF = [72.0, 78.0, 95.0, 100.0]
# errors (pred - ref): -2, +2, -5, 0
# MAE  = (2 + 2 + 5 + 0) / 4 = 2.25
# RMSE = sqrt((4 + 4 + 25 + 0) / 4) = sqrt(8.25) = 2.87228132...
# bias = -5 / 4 = -1.25; deviations -0.75, 3.25, -3.75, 1.25; squares sum 26.75
# SD (ddof=1) = sqrt(26.75 / 3) = 2.98607881...
# MAPE = (2/72 + 2/78 + 5/95 + 0/100) / 4 * 100 = 2.65125955...%
# r: pred deviations -15, -5, 5, 15 (squares 500); ref deviations -14.25, -8.25, 8.75, 13.75
#    (squares 536.75); cross products 505 -> r = 505 / sqrt(500 * 536.75) = 0.97481083...
# p (two-sided, n - 2 = 2 degrees of freedom): t / sqrt(t^2 + 2) = r, so p = 1 - r = 0.02518916...
# limits: -1.25 -+ 1.96 * 2.98607881 = -7.10271447, 4.60271447
HAND = {
    "n": 4,
    "mae": 2.25,
    "rmse": 2.8722813232690143,
    "sd": 2.9860788111948193,
    "mape": 2.6512595591542962,
    "r": 0.9748108387794814,
    "r_p": 0.02518916122051862,
    "ba_bias": -1.25,
    "ba_lower": -7.102714469941846,
    "ba_upper": 4.602714469941846,
}


def test_hr_metrics_match_hand_computation() -> None:
    result = hr_metrics(PRED, REF)
    assert set(result) == set(HAND) == set(METRIC_NAMES)
    for key, value in HAND.items():
        assert result[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert isinstance(result["n"], int)


def test_perfect_prediction() -> None:
    result = hr_metrics(np.array([60.0, 75.0, 90.0]), np.array([60.0, 75.0, 90.0]))
    assert result["mae"] == result["rmse"] == result["sd"] == result["mape"] == result["ba_bias"] == 0.0
    assert result["r"] == pytest.approx(1.0)


def test_small_and_constant_inputs_give_nan_where_undefined() -> None:
    one = hr_metrics([70.0], [72.0])
    assert one["n"] == 1 and one["mae"] == 2.0 and one["ba_bias"] == -2.0
    assert math.isnan(one["sd"]) and math.isnan(one["r"]) and math.isnan(one["ba_upper"])
    two = hr_metrics([70.0, 80.0], [72.0, 78.0])
    assert two["sd"] == pytest.approx(math.sqrt(8.0)) and math.isnan(two["r"])  # r needs n >= 3
    constant = hr_metrics([75.0, 75.0, 75.0], [70.0, 80.0, 90.0])
    assert math.isnan(constant["r"]) and math.isnan(constant["r_p"])
    assert constant["mae"] == pytest.approx(25.0 / 3)  # errors 5, -5, -15


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(SignalError, match="predicted HR has 1 non-finite value"):
        hr_metrics([70.0, np.nan, 80.0], [70.0, 75.0, 80.0])
    with pytest.raises(SignalError, match="reference HR has 1 non-finite"):
        hr_metrics([70.0, 75.0], [70.0, np.inf])
    with pytest.raises(SignalError, match="at least one"):
        hr_metrics([], [])
    with pytest.raises(SignalError, match="as many"):
        hr_metrics([70.0, 75.0], [70.0])
    with pytest.raises(SignalError, match="positive"):
        hr_metrics([70.0], [0.0])
    with pytest.raises(SignalError, match="1-D"):
        hr_metrics(np.ones((2, 2)), np.ones((2, 2)))


def test_plugin_metrics_run_on_checked_arrays() -> None:
    extra = {"within_5bpm": lambda p, r: float(np.mean(np.abs(p - r) <= 5.0) * 100)}
    assert plugin_metrics(PRED, REF, extra) == {"within_5bpm": 100.0}
    with pytest.raises(SignalError, match="clash"):
        plugin_metrics(PRED, REF, {"mae": lambda p, r: 0.0})


def test_metric_names_have_labels_and_units() -> None:
    assert METRIC_NAMES["mae"].label == "MAE" and METRIC_NAMES["mae"].unit == "bpm"
    assert METRIC_NAMES["mape"].unit == "%" and METRIC_NAMES["r"].better == "higher"
