"""Named dataset sizes: how many subjects, which scenarios, how long, at what resolution."""

from __future__ import annotations

from dataclasses import dataclass

from rppgbench.errors import ConfigError

from .scene import SCENARIOS, VIPL_SCENARIOS


@dataclass(frozen=True)
class Preset:
    """The shape of one generated dataset; with a seed it fixes every byte of it."""

    name: str
    description: str
    n_subjects: int
    scenarios: tuple[str, ...]
    duration_s: float
    width: int
    height: int
    fps: float = 30.0
    ppg_rate: float = 60.0
    photo_every: int = 3  # every n-th subject is built from the astronaut photograph (real-looking)
    hr_range_bpm: tuple[float, float, float] = (45.0, 75.0, 150.0)  # triangular: low, mode, high
    codec: str = "HFYU"  # "HFYU" (HuffYUV, lossless, fast), "FFV1" (lossless, smaller) or "MJPG" (quality 95)

    def __post_init__(self) -> None:
        unknown = [s for s in self.scenarios if s not in SCENARIOS]
        if unknown:
            raise ConfigError(f"preset {self.name!r}: unknown scenarios {unknown}; valid: {list(SCENARIOS)}")

    @property
    def n_frames(self) -> int:
        """Frames in the whole dataset."""
        return int(round(self.duration_s * self.fps)) * self.n_subjects * len(self.scenarios)

    @property
    def n_videos(self) -> int:
        """Clips in the whole dataset."""
        return self.n_subjects * len(self.scenarios)

    @property
    def approx_bytes(self) -> int:
        """Rough size on disk: raw frame bytes times the codec's typical ratio on these videos."""
        return int(self.n_frames * self.width * self.height * 3 * CODEC_RATIO.get(self.codec, 1.0))


CODEC_RATIO = {"HFYU": 0.38, "FFV1": 0.25, "MJPG": 0.07}
"""Compressed / raw size of the noisy synthetic videos, per codec (HFYU measured on synth-default)."""
ALL_SCENARIOS = VIPL_SCENARIOS  # the seven VIPL-HR conditions (the H.264 levels have their own preset)
H264_SCENARIOS = ("stationary",) + tuple(name for name in SCENARIOS if name.startswith("h264-"))
# The shipped weights' training mix: every VIPL-HR condition, and H.264 at the two bitrates a webcam
# stream or a compressed dataset has (0.5 and 0.15 bits per pixel); not 2 (as good as lossless) nor
# 0.05 (where no method reads a pulse, docs/synthetic.md).
RELEASE_SCENARIOS = ALL_SCENARIOS + ("h264-mid", "h264-low")
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "synth-mini",
            "Tiny: 6 subjects x 2 scenarios x 12 s at 128x96, for tests and CI (seconds to generate).",
            n_subjects=6,
            scenarios=("stationary", "motion"),
            duration_s=12.0,
            width=128,
            height=96,
        ),
        Preset(
            "synth-default",
            "20 subjects x 4 scenarios x 20 s at 160x120: the default benchmark (about a minute on 2 cores).",
            n_subjects=20,
            scenarios=("stationary", "motion", "dim", "illumination"),
            duration_s=20.0,
            width=160,
            height=120,
        ),
        Preset(
            "synth-scenarios",
            "12 subjects x all 7 scenarios x 20 s at 160x120: the per-scenario validity study.",
            n_subjects=12,
            scenarios=ALL_SCENARIOS,
            duration_s=20.0,
            width=160,
            height=120,
        ),
        Preset(
            "synth-h264",
            "12 subjects at rest x lossless and H.264 at 4 bitrates x 20 s at 160x120: the video-coding study.",
            n_subjects=12,
            scenarios=H264_SCENARIOS,
            duration_s=20.0,
            width=160,
            height=120,
        ),
        Preset(
            "synth-release",
            "12 subjects x all 7 scenarios and H.264 at 0.5 and 0.15 bits per pixel x 20 s at 160x120: "
            "the shipped weights' training data.",
            n_subjects=12,
            scenarios=RELEASE_SCENARIOS,
            duration_s=20.0,
            width=160,
            height=120,
        ),
        Preset(
            "synth-vipl",
            "VIPL-HR-sized: 107 subjects x all 7 scenarios x 30 s at 320x240, MJPG (about 11 GB; big machines).",
            n_subjects=107,
            scenarios=ALL_SCENARIOS,
            duration_s=30.0,
            width=320,
            height=240,
            codec="MJPG",
        ),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a ConfigError listing the valid ones."""
    if name not in PRESETS:
        raise ConfigError(f"unknown synthetic preset {name!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[name]
