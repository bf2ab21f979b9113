"""The skin reflection model that turns an identity, a scenario and a pulse into video frames.

Following Wang, den Brinker, Stuijk and de Haan, "Algorithmic principles of remote PPG", IEEE TBME
64(7), 2017, each skin pixel k in frame t is

    C_k(t) = g * e * I(t) * ( shading_k(t) * albedo_k * (1 - a_k * p(t) * u_bv) + specular_k(t) ) + n_k(t)

I(t): the light (intensity and colour, with flicker and changes), shading_k(t): Lambertian shading of
the head surface under the current pose, albedo_k: skin tone and texture, a_k: the pulsatile strength
map (0 off skin), p(t): the blood-volume pulse, u_bv: the blood-volume pulse signature in normalised
camera RGB (de Haan and van Leest, Physiol. Meas. 35, 2014: Pbv = [0.33, 0.77, 0.53]) scaled so green
is 1, specular_k(t): Blinn-Phong highlights in the light's colour (no pulse), e: auto-exposure
(darker faces and dimmer rooms get a longer exposure, within 0.9-1.6x), g: the camera gain, n_k(t):
shot and read noise of a 640x480 sensor (averaged down when the clip is smaller) times the gain.
More blood absorbs more light, so the reflected light falls as p rises. Frames are quantised to uint8
(JPEG-degraded per frame in the compression scenario, H.264-coded as a clip in the h264 ones). See docs/synthetic.md for every parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .codec import h264_roundtrip
from .faces import Identity, Sprite, make_sprite
from .pulse import PulseParams, PulseTrain
from .scene import Scenario, Timeline

PBV = np.array([0.33, 0.77, 0.53], dtype=np.float32)
PULSE_DIRECTION = PBV / PBV[1]  # relative modulation of R, G, B; green = 1
PULSE_PEAK = 0.006  # green peak-to-peak pulsatile fraction where perfusion is highest (forehead, cheeks)
EXPOSURE = 235.0  # digital numbers for albedo 1, frontal light 1, no gain
AMBIENT = 0.35  # share of diffuse light that reaches every surface regardless of orientation
SHOT_NOISE = 0.02  # photon noise variance per digital number (before gain)
READ_NOISE = 0.8  # read noise SD in digital numbers (before gain)
SPECULAR_EXPONENT = 20.0
TIMESTAMP_JITTER_S = 0.0015
SENSOR_WIDTH = 640  # frames are a 640x480 sensor's image scaled to the clip size: noise averages down
AUTO_EXPOSURE_TARGET = 0.55  # auto-exposure aims the skin's mean albedo x exposure at this level
AUTO_EXPOSURE_RANGE = (0.9, 1.6)  # how far exposure time can stretch or shrink from nominal


@dataclass(frozen=True)
class ClipSpec:
    """Everything that defines one clip; the same spec always renders the same frames."""

    identity: Identity
    scenario: Scenario
    pulse: PulseParams
    duration_s: float
    width: int
    height: int
    fps: float = 30.0
    ppg_rate: float = 60.0
    entropy: tuple[int, ...] = (0,)


@dataclass
class RenderedClip:
    """A clip ready to stream: per-frame times and true face boxes, the reference PPG, and a frame iterator."""

    spec: ClipSpec
    times: np.ndarray
    boxes: np.ndarray  # (T, 4) int (x, y, w, h) of the face oval
    ppg_times: np.ndarray
    ppg: np.ndarray
    hr_bpm: float
    jpeg_quality: int | None
    _renderer: _FrameRenderer

    def frames(self) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 RGB frames, one at a time (nothing but the current frame is held; an H.264
        scenario holds the clip's compressed stream)."""
        bpp = self.spec.scenario.video_bpp
        if bpp is None:
            return self._renderer.frames()
        return h264_roundtrip(self._renderer.frames(), self.spec.width, self.spec.height, self.spec.fps, bpp)


@dataclass
class _Timing:
    """A clip's random streams, frame and reference times and pulse train (the first steps of a render)."""

    timing_rng: np.random.Generator
    scene_rng: np.random.Generator
    noise_rng: np.random.Generator
    times: np.ndarray
    ppg_times: np.ndarray
    pulse: PulseTrain


def _timing(spec: ClipSpec) -> _Timing:
    seeds = np.random.SeedSequence(list(spec.entropy)).spawn(4)
    timing_rng, pulse_rng, scene_rng, noise_rng = (np.random.default_rng(s) for s in seeds)
    n = int(round(spec.duration_s * spec.fps))
    jitter = np.clip(timing_rng.normal(0.0, TIMESTAMP_JITTER_S, n), -0.3 / spec.fps, 0.3 / spec.fps)
    jitter[0] = 0.0
    times = np.arange(n) / spec.fps + jitter
    ppg_times = (
        timing_rng.uniform(0.0, 1.0 / spec.ppg_rate)
        + np.arange(int(np.ceil((times[-1] + 1.0 / spec.fps) * spec.ppg_rate))) / spec.ppg_rate
    )
    pulse = PulseTrain(spec.pulse, 0.0, float(max(times[-1], ppg_times[-1])), pulse_rng)
    return _Timing(timing_rng, scene_rng, noise_rng, times, ppg_times, pulse)


def clip_pulse(spec: ClipSpec) -> PulseTrain:
    """The clip's pulse train (its true beat onsets and breathing), without laying out the scene.

    The same random streams as `render_clip`, so the beats are those of the rendered frames and of
    the stored reference; cheap (no face, no frames), for the true HRV and respiration of a clip.
    """
    return _timing(spec).pulse


def render_clip(spec: ClipSpec) -> RenderedClip:
    """Lay out a clip from its spec: timing, pulse, scene timeline and reference; frames render lazily."""
    timing = _timing(spec)
    timing_rng, scene_rng, noise_rng = timing.timing_rng, timing.scene_rng, timing.noise_rng
    times, ppg_times, pulse = timing.times, timing.ppg_times, timing.pulse
    # The contact reference: the same blood-volume pulse with a little sensor noise.
    ppg = pulse(ppg_times) + 0.01 * timing_rng.standard_normal(len(ppg_times))

    ident, scen = spec.identity, spec.scenario
    radius = max(scen.face_width * spec.width / 2.0 * ident.width_scale, 4.0)
    centre = (spec.width * (0.5 + ident.position[0]), spec.height * (0.47 + ident.position[1]))
    if scen.face_width < 0.2:  # far away: the face can be anywhere in the frame
        centre = (spec.width * scene_rng.uniform(0.3, 0.7), spec.height * scene_rng.uniform(0.35, 0.6))
    timeline = Timeline.build(scen, times, (spec.width, spec.height), centre, scene_rng)
    sprite = make_sprite(ident, radius)
    background = _background((spec.width, spec.height), scene_rng)
    quality = int(scen.jpeg_quality + scene_rng.integers(-12, 14)) if scen.jpeg_quality is not None else None
    renderer = _FrameRenderer(spec, sprite, timeline, background, pulse(times), noise_rng, quality)
    return RenderedClip(
        spec=spec,
        times=times,
        boxes=renderer.boxes(),
        ppg_times=ppg_times,
        ppg=ppg,
        hr_bpm=pulse.mean_hr_between(0.0, float(times[-1])),
        jpeg_quality=quality,
        _renderer=renderer,
    )


def _background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A static room behind the subject: a wall gradient and a few blurred objects (albedo, float32)."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = (rng.uniform(0.3, 0.6) * (1.0 + rng.uniform(-0.15, 0.15, 3))).astype(np.float32)
    slope = rng.uniform(-0.25, 0.25, 2).astype(np.float32)
    bg = (
        base[None, None, :]
        * (1.0 + slope[0] * (xs / width - 0.5) + slope[1] * (ys / height - 0.5))[..., None]
    )
    for _ in range(int(rng.integers(2, 6))):
        x0, x1 = np.sort(rng.uniform(0, width, 2))
        y0, y1 = np.sort(rng.uniform(0, height, 2))
        inside = ((xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)).astype(np.float32)
        colour = rng.uniform(0.1, 0.75) * (1.0 + rng.uniform(-0.3, 0.3, 3))
        bg += inside[..., None] * (colour.astype(np.float32) - bg) * 0.8
    sigma = 0.004 * width
    return cv2.GaussianBlur(bg, (0, 0), sigma) if sigma > 0.3 else bg


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    """Head rotation (yaw about y, then pitch about x) as a 3x3 matrix in camera coordinates."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return r_pitch @ r_yaw


class _FrameRenderer:
    """Shades, pulses, deforms, places and exposes the sprite in each frame; one frame in memory at a time."""

    def __init__(
        self,
        spec: ClipSpec,
        sprite: Sprite,
        timeline: Timeline,
        background: np.ndarray,
        pulse_at_frames: np.ndarray,
        rng: np.random.Generator,
        jpeg_quality: int | None,
    ):
        self.spec, self.sprite, self.tl, self.bg = spec, sprite, timeline, background
        self.pulse = pulse_at_frames.astype(np.float32)
        self.rng = rng
        self.jpeg_quality = jpeg_quality
        self.amplitude = np.float32(PULSE_PEAK * spec.identity.pulse_gain)
        radius = sprite.face_half[0]
        self.pivot = 0.45 * radius  # the head turns about the neck, behind the face surface
        h, w = sprite.alpha.shape
        self.grid_x, self.grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        self.jaw_px = (sprite.jaw * radius).astype(np.float32)
        self.pulse_colour = (self.amplitude * PULSE_DIRECTION).astype(np.float32)
        self.skin_tone = np.asarray(spec.identity.skin, np.float32)
        # Scaling the sensor's image down averages binning**2 sensor pixels into each frame pixel.
        self.noise_scale = np.float32(1.0 / max(1.0, SENSOR_WIDTH / spec.width))
        # Auto-exposure: a longer exposure for darker faces collects more light (signal and shot noise).
        self.exposure = np.float32(
            EXPOSURE * np.clip(AUTO_EXPOSURE_TARGET / self.skin_tone.mean(), *AUTO_EXPOSURE_RANGE)
        )

    def affine(self, i: int) -> np.ndarray:
        """2x3 matrix from sprite pixels to frame pixels for frame i."""
        tl = self.tl
        s, roll, yaw, pitch = tl.scale[i], tl.roll[i], tl.yaw[i], tl.pitch[i]
        rot = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
        linear = s * rot @ np.diag([np.cos(yaw), np.cos(pitch)])
        shift = s * rot @ np.array([np.sin(yaw), -np.sin(pitch)]) * self.pivot
        centre = np.array([tl.x[i], tl.y[i]]) + shift
        offset = centre - linear @ np.asarray(self.sprite.anchor)
        return np.hstack([linear, offset[:, None]]).astype(np.float64)

    def boxes(self) -> np.ndarray:
        """True face boxes (x, y, w, h) for every frame: the face oval's extent under each pose."""
        ax, ay = self.sprite.anchor
        hw, hh = self.sprite.face_half
        corners = np.array(
            [[ax - hw, ay - hh, 1], [ax + hw, ay - hh, 1], [ax - hw, ay + hh, 1], [ax + hw, ay + hh, 1]]
        )
        out = np.zeros((len(self.tl.x), 4), dtype=np.int32)
        for i in range(len(out)):  # 4 corners per frame: negligible next to rendering
            pts = corners @ self.affine(i).T
            x0, y0 = np.floor(pts.min(0))
            x1, y1 = np.ceil(pts.max(0))
            x0, y0 = max(x0, 0), max(y0, 0)
            x1, y1 = min(x1, self.spec.width), min(y1, self.spec.height)
            out[i] = (x0, y0, max(x1 - x0, 1), max(y1 - y0, 1))
        return out

    def sprite_radiance(self, i: int) -> np.ndarray:
        """(h, w, 4) float32: reflected light of the head (per unit illuminance) and its coverage."""
        sp, tl = self.sprite, self.tl
        rot = _rotation(tl.yaw[i], tl.pitch[i])
        light = (rot.T @ tl.light_dir).astype(np.float32)  # lamp direction in head coordinates
        half = tl.light_dir + np.array([0.0, 0.0, 1.0])
        half = (rot.T @ (half / np.linalg.norm(half))).astype(np.float32)
        shading = AMBIENT + (1.0 - AMBIENT) * np.maximum(sp.normals @ light, 0.0)
        albedo = sp.albedo
        if tl.blink[i] > 0:  # eyelids (skin) close over the eyes
            albedo = albedo + (tl.blink[i] * sp.eyes)[..., None] * (0.85 * self.skin_tone - albedo)
        if tl.mouth[i] > 0:  # the open mouth shows the dark oral cavity
            albedo = albedo * (1.0 - 0.75 * tl.mouth[i] * sp.mouth)[..., None]
        pulsatile = 1.0 - sp.strength[..., None] * (self.pulse[i] * self.pulse_colour)
        specular = (
            (self.spec.identity.oiliness * 4.0)
            * sp.specular
            * np.maximum(sp.normals @ half, 0.0) ** SPECULAR_EXPONENT
        )
        rgba = np.empty(sp.alpha.shape + (4,), np.float32)
        rgba[..., :3] = shading[..., None] * albedo * pulsatile + specular[..., None]
        rgba[..., 3] = sp.alpha
        if tl.mouth[i] > 0:  # the jaw drops: pixels below the mouth come from higher up
            map_y = self.grid_y - self.jaw_px * np.float32(tl.mouth[i])
            rgba = cv2.remap(rgba, self.grid_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return rgba

    def frame(self, i: int) -> np.ndarray:
        """Frame i as (H, W, 3) uint8 RGB."""
        size = (self.spec.width, self.spec.height)
        head = cv2.warpAffine(self.sprite_radiance(i), self.affine(i), size, flags=cv2.INTER_LINEAR)
        alpha = head[..., 3:4]
        scene = self.bg + alpha * (head[..., :3] - self.bg)
        signal = scene * (self.tl.light[i] * self.exposure)
        noise = self.rng.standard_normal(signal.shape, dtype=np.float32)
        noise *= np.sqrt(SHOT_NOISE * np.maximum(signal, 0.0) + READ_NOISE**2) * self.noise_scale
        signal += noise
        signal *= np.float32(self.spec.scenario.gain)
        frame = np.clip(np.rint(signal), 0, 255).astype(np.uint8)
        if self.jpeg_quality is not None:
            ok, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            frame = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
        return np.ascontiguousarray(frame)

    def frames(self) -> Iterator[np.ndarray]:
        for i in range(len(self.tl.x)):
            yield self.frame(i)
