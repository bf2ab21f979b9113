"""Recording scenarios (after VIPL-HR's) and their per-frame timelines: head pose, speech, light.

A `Scenario` is a set of physical settings; `Timeline.build` turns it into per-frame arrays (a few
floats per frame, so memory stays small for any clip length) from the clip's random generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scenario:
    """One recording condition. Motion amplitudes are RMS values; light is relative to a lit office."""

    id: str
    name: str
    description: str
    light: float = 0.8  # scene illuminance (1.0 = bright, close to but below sensor saturation)
    gain: float = 1.0  # camera gain (amplifies signal and noise together)
    face_width: float = 0.30  # face oval width as a fraction of the frame width
    translate: float = 0.001  # head translation, fraction of the frame
    roll_deg: float = 0.2
    yaw_deg: float = 0.3
    pitch_deg: float = 0.3
    scale: float = 0.002
    motion_band_hz: tuple[float, float] = (0.03, 0.3)
    talking: bool = False
    flicker: float = 0.0  # amplitude of aliased lamp flicker (fraction of the light)
    light_changes: float = 0.0  # amplitude of illumination steps and ramps (fraction)
    jpeg_quality: int | None = None  # per-frame JPEG quality (camera compression); each clip draws +-12
    video_bpp: float | None = None  # the clip is H.264-coded at this many bits per pixel per frame (codec.py)


H264_LEVELS = (
    ("high", 2.0, "a high-quality recording"),
    ("mid", 0.5, "a consumer camera's recording"),
    ("low", 0.15, "a good video call"),
    ("min", 0.05, "a congested video call"),
)
"""Bitrate levels of the H.264 scenarios: name, bits per pixel per frame, what it is like."""

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("v1", "stationary", "Sitting still under office light: only breathing and micro-motion."),
        Scenario(
            "v2",
            "talking",
            "Speaking: jaw and lips move (non-rigid), small nods and turns.",
            translate=0.008,
            roll_deg=2.0,
            yaw_deg=4.0,
            pitch_deg=4.0,
            scale=0.01,
            motion_band_hz=(0.2, 1.5),
            talking=True,
        ),
        Scenario(
            "v3",
            "motion",
            "Large head movement: translation, in- and out-of-plane rotation and scale changes.",
            translate=0.06,
            roll_deg=10.0,
            yaw_deg=22.0,
            pitch_deg=10.0,
            scale=0.07,
            motion_band_hz=(0.15, 1.2),
        ),
        Scenario(
            "v4",
            "dim",
            "Dim room: little light, the camera raises its gain (and its noise).",
            light=0.12,
            gain=3.5,
        ),
        Scenario(
            "v5",
            "illumination",
            "Bright light that changes: lamp flicker aliased into the heart-rate band, steps and ramps.",
            light=0.9,
            flicker=0.03,
            light_changes=0.2,
        ),
        Scenario(
            "v6",
            "distance",
            "Far from the camera: a small face (few skin pixels).",
            face_width=0.16,
            translate=0.002,
        ),
        Scenario(
            "v7",
            "compression",
            "Strong camera compression (JPEG quality 35-60 per frame) at rest.",
            jpeg_quality=47,
        ),
        *(
            Scenario(
                f"v{8 + i}",
                f"h264-{level}",
                f"At rest, stored as H.264 at {bpp} bits per pixel per frame "
                f"({round(bpp * 640 * 480 * 30 / 1000)} kbps at 640x480 and 30 fps): {what}.",
                video_bpp=bpp,
            )
            for i, (level, bpp, what) in enumerate(H264_LEVELS)
        ),
    )
}
"""The first seven scenarios (v1-v7) are VIPL-HR's conditions; v8-v11 are one condition at four video
bitrates, from a high-quality recording down to a starved video call."""

VIPL_SCENARIOS = tuple(name for name, s in SCENARIOS.items() if s.video_bpp is None)


def band_noise(
    times: np.ndarray, rng: np.random.Generator, band_hz: tuple[float, float], n: int = 8
) -> np.ndarray:
    """Smooth random signal with unit RMS: a sum of `n` sinusoids with random frequencies in `band_hz`."""
    freqs = rng.uniform(band_hz[0], band_hz[1], n)
    phases = rng.uniform(0, 2 * np.pi, n)
    weights = rng.uniform(0.5, 1.0, n)
    x = (weights[None, :] * np.sin(2 * np.pi * times[:, None] * freqs[None, :] + phases[None, :])).sum(1)
    return x / np.sqrt(0.5 * np.sum(weights**2))


@dataclass
class Timeline:
    """Per-frame scene state: pose (pixels, radians, scale), mouth opening, blinks and light."""

    x: np.ndarray
    y: np.ndarray
    scale: np.ndarray
    roll: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    mouth: np.ndarray
    blink: np.ndarray
    light: np.ndarray  # (T, 3) illuminance per colour channel
    light_dir: np.ndarray  # (3,) unit vector towards the lamp, camera coordinates

    @staticmethod
    def build(
        scenario: Scenario,
        times: np.ndarray,
        frame_size: tuple[int, int],
        centre: tuple[float, float],
        rng: np.random.Generator,
    ) -> Timeline:
        """Draw the scenario's motion and lighting at the frame `times` for a face resting at `centre`."""
        width, height = frame_size
        s = scenario
        band = s.motion_band_hz
        deg = np.pi / 180.0
        breathing = np.sin(2 * np.pi * rng.uniform(0.2, 0.3) * times + rng.uniform(0, 2 * np.pi))
        x = centre[0] + s.translate * width * band_noise(times, rng, band)
        y = centre[1] + s.translate * height * band_noise(times, rng, band) + 0.001 * height * breathing
        scale = 1.0 + s.scale * band_noise(times, rng, band)
        roll = s.roll_deg * deg * band_noise(times, rng, band)
        yaw = s.yaw_deg * deg * band_noise(times, rng, band)
        pitch = s.pitch_deg * deg * band_noise(times, rng, band)

        mouth = np.zeros_like(times)
        if s.talking:  # syllables at 3-6 Hz, in phrases of a few seconds separated by pauses
            syllables = np.abs(
                np.sin(np.pi * rng.uniform(3.0, 5.0) * times + 0.6 * band_noise(times, rng, (0.3, 1.0)))
            )
            phrases = np.clip(1.5 * band_noise(times, rng, (0.1, 0.35)) + 0.8, 0, 1)
            mouth = syllables * phrases
        blink = np.zeros_like(times)
        t = rng.uniform(0.5, 4.0)
        while t < times[-1] if len(times) else False:  # one step per blink
            blink = np.maximum(blink, np.clip(1.0 - np.abs(times - t) / 0.09, 0, 1))
            t += rng.uniform(2.0, 6.0)

        light = np.full(len(times), s.light)
        if s.flicker > 0:  # mains flicker beating with the frame rate aliases to a slow intensity wave
            f = rng.uniform(0.8, 2.5)
            light = light * (1.0 + s.flicker * np.sin(2 * np.pi * f * times + rng.uniform(0, 2 * np.pi)))
        if s.light_changes > 0:  # lamps switched, people walking past, a screen changing brightness
            n_events = max(1, int(times[-1] / 6.0)) if len(times) else 0
            change = np.zeros_like(times)
            for start in rng.uniform(0, max(times[-1], 1e-6), n_events):
                ramp = rng.uniform(0.1, 1.5)
                change += s.light_changes * rng.uniform(-1.0, 1.0) * np.clip((times - start) / ramp, 0, 1)
            change += 0.25 * s.light_changes * band_noise(times, rng, (0.5, 2.0))
            light = light * np.clip(1.0 + change, 1.0 - 2 * s.light_changes, 1.0 + s.light_changes)
        tint = np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.04, 0.04, 3)  # lamp colour
        light_rgb = light[:, None] * tint[None, :]  # the lamp dims and flickers without changing colour
        light_dir = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.6, -0.1), 1.0])
        return Timeline(
            x=x,
            y=y,
            scale=scale,
            roll=roll,
            yaw=yaw,
            pitch=pitch,
            mouth=np.clip(mouth, 0, 1),
            blink=blink,
            light=light_rgb.astype(np.float32),
            light_dir=light_dir / np.linalg.norm(light_dir),
        )
