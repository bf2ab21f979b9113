"""Signal processing shared by the whole toolkit: the HR estimator (`hr`), ECG R peaks (`ecg`), checks."""

from rppgbench.signal.ecg import detect_r_peaks, hr_from_ecg
from rppgbench.signal.hr import (
    HRConfig,
    bandpass,
    detrend,
    estimate_hr,
    hr_over_time,
    power_spectrum,
    reference_hr,
    snr_db,
)
from rppgbench.signal.validate import check_signal

__all__ = [
    "HRConfig",
    "bandpass",
    "check_signal",
    "detect_r_peaks",
    "detrend",
    "estimate_hr",
    "hr_from_ecg",
    "hr_over_time",
    "power_spectrum",
    "reference_hr",
    "snr_db",
]
