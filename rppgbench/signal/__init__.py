"""Signal processing shared by the whole toolkit: the HR estimator (`hr`), ECG R peaks (`ecg`), checks.

Names are imported from their modules on first use, so `rppgbench.signal.validate` does not load SciPy.
"""

from importlib import import_module
from typing import Any

_WHERE = {
    "HRConfig": "hr",
    "bandpass": "hr",
    "detrend": "hr",
    "estimate_hr": "hr",
    "hr_over_time": "hr",
    "power_spectrum": "hr",
    "reference_hr": "hr",
    "snr_db": "hr",
    "detect_r_peaks": "ecg",
    "hr_from_ecg": "ecg",
    "check_signal": "validate",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"rppgbench.signal.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'rppgbench.signal' has no attribute {name!r}")
