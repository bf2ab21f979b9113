"""The one-page figure of a prediction: face box and crop, rPPG signal, its spectrum, HR over time.

Drawn with matplotlib's Agg backend (no display needed), so it works on servers and in tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rppgbench.signal.hr import power_spectrum, preprocess

if TYPE_CHECKING:
    from rppgbench.predict.api import PredictionResult

PRED_COLOUR, REF_COLOUR, BOX_COLOUR = "tab:red", "black", "lime"


def plot_prediction(result: PredictionResult, path: Path | str, dpi: int = 110) -> Path:
    """Write the figure of `result` as a PNG at `path` and return the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(11, 9.5), layout="constrained")
    grid = fig.add_gridspec(3, 3, height_ratios=[1.1, 0.8, 1.0])
    ax_frame = fig.add_subplot(grid[0, 0:2])
    ax_crop = fig.add_subplot(grid[0, 2])
    ax_signal = fig.add_subplot(grid[1, :])
    ax_spectrum = fig.add_subplot(grid[2, 0])
    ax_hr = fig.add_subplot(grid[2, 1:])

    name = result.method.get("name", "?")
    title = f"{Path(result.video).name} - {name}: {result.hr_bpm:.1f} bpm"
    if result.reference_hr is not None:
        title += f" (reference {result.reference_hr:.1f} bpm)"
    fig.suptitle(title)

    if result.first_frame is not None:
        ax_frame.imshow(result.first_frame)
        x, y, w, h = result.face_box
        ax_frame.add_patch(
            Rectangle((x, y), w, h, fill=False, edgecolor=BOX_COLOUR, linewidth=2, label="crop")
        )
        detection = result.face.get("detection")
        if detection:
            ax_frame.add_patch(
                Rectangle(
                    (detection["x"], detection["y"]), detection["w"], detection["h"], fill=False,
                    edgecolor="yellow", linewidth=1, linestyle="--", label="face",
                )
            )  # fmt: skip
        ax_frame.legend(loc="upper right", fontsize=8)
    ax_frame.set_title(f"first frame ({result.fps:g} fps, {result.n_frames} frames)", fontsize=10)
    ax_frame.set_axis_off()
    if result.first_crop is not None:
        ax_crop.imshow(result.first_crop)
    ax_crop.set_title(f"face crop ({result.face.get('crop_size', '?')} px)", fontsize=10)
    ax_crop.set_axis_off()

    t = result.signal_times
    ax_signal.plot(t, result.signal, color=PRED_COLOUR, linewidth=0.8)
    ax_signal.set_xlim(t[0], t[-1] if t.size > 1 else 1.0)
    ax_signal.set_xlabel("time (s)")
    ax_signal.set_ylabel("rPPG signal")
    ax_signal.set_title(f"{name} signal", fontsize=10)

    _spectrum(ax_spectrum, result)
    _hr_series(ax_hr, result)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _spectrum(ax, result: PredictionResult) -> None:  # noqa: ANN001 - a matplotlib Axes
    """Power spectrum of the preprocessed signal (as the estimator sees it) with the HR peak marked."""
    config = result.hr_config
    freqs, power = power_spectrum(preprocess(result.signal, result.fps, config), result.fps, config)
    bpm = freqs * 60.0
    low, high = config.band_bpm
    show = (bpm >= 0.5 * low) & (bpm <= min(1.25 * high, bpm[-1]))
    scale = power[show].max() if show.any() and power[show].max() > 0 else 1.0
    ax.plot(bpm[show], power[show] / scale, color="tab:blue", linewidth=1)
    ax.axvspan(low, high, color="0.92", zorder=0, label="HR band")
    peak = float(np.interp(result.hr_bpm, bpm, power / scale))
    ax.plot([result.hr_bpm], [peak], "v", color=PRED_COLOUR, markersize=8, label=f"HR {result.hr_bpm:.1f}")
    if result.reference_hr is not None:
        ax.axvline(result.reference_hr, color=REF_COLOUR, linestyle="--", linewidth=1,
                   label=f"reference {result.reference_hr:.1f}")  # fmt: skip
    ax.set_xlabel("frequency (bpm)")
    ax.set_ylabel("power (normalised)")
    ax.set_title(f"spectrum ({config.method})", fontsize=10)
    ax.legend(fontsize=8)


def _hr_series(ax, result: PredictionResult) -> None:  # noqa: ANN001 - a matplotlib Axes
    """Window HRs over time, against the reference's when given."""
    ax.plot(result.times, result.hr_series, "o-", color=PRED_COLOUR, markersize=3, label="predicted")
    if result.reference_series is not None:
        ax.plot(
            result.times, result.reference_series, "s-", color=REF_COLOUR, markersize=3, label="reference"
        )
    ax.axhline(result.hr_bpm, color=PRED_COLOUR, linestyle=":", linewidth=1)
    ax.set_xlabel("window centre (s)")
    ax.set_ylabel("HR (bpm)")
    ax.set_title(f"HR in {result.window_s:g} s windows every {result.step_s:g} s", fontsize=10)
    finite = result.hr_series[np.isfinite(result.hr_series)]
    if result.reference_series is not None:
        finite = np.concatenate([finite, result.reference_series[np.isfinite(result.reference_series)]])
    if finite.size:
        low, high = float(finite.min()) - 5.0, float(finite.max()) + 5.0
        pad = max(0.0, 20.0 - (high - low)) / 2.0
        ax.set_ylim(low - pad, high + pad)
    ax.legend(fontsize=8)
