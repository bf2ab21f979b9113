"""Synthetic identities and their face sprites (albedo, skin, pulse-strength, specular and normal maps).

Two kinds of identity:
- "drawn": a parametric face (oval, hair, eyes, brows, nose, lips, ears, neck) with skin texture.
- "photo": the public-domain portrait `skimage.data.astronaut()` (NASA), cropped to the head, warped
  (face width, length, shear) and re-toned to the identity's skin tone. These look real enough for a
  face detector such as BlazeFace to find them.

A sprite is drawn once per clip at the clip's face size; `render.py` shades, pulses and places it in
every frame. Geometry is in units of the face oval's half-width; the true face box is the bounding box
of the face oval (forehead to chin, cheek to cheek).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

# Representative linear camera-RGB diffuse albedo of facial skin across Fitzpatrick types I-VI.
FITZPATRICK_ALBEDO = np.array(
    [
        [0.87, 0.70, 0.62],
        [0.80, 0.61, 0.50],
        [0.72, 0.52, 0.40],
        [0.60, 0.42, 0.30],
        [0.45, 0.30, 0.21],
        [0.30, 0.20, 0.14],
    ],
    dtype=np.float32,
)
HAIR_COLOURS = np.array(
    [[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.45, 0.32, 0.18], [0.70, 0.58, 0.38], [0.55, 0.53, 0.50]],
    dtype=np.float32,
)
IRIS_COLOURS = np.array(
    [[0.25, 0.15, 0.08], [0.12, 0.07, 0.04], [0.25, 0.38, 0.55], [0.30, 0.40, 0.25]], np.float32
)

# The astronaut photograph: face oval (centre x, y, half-width, half-height) and head crop, in image pixels.
PHOTO_FACE = (226.0, 126.0, 49.0, 52.0)
PHOTO_HEAD_AXES = (80.0, 104.0)
PHOTO_HEAD_CENTRE = (227.0, 108.0)
PHOTO_NECK = (196, 258, 150, 225)  # x0, x1, y0, y1


@dataclass(frozen=True)
class Identity:
    """Everything that makes one synthetic subject look like themselves, drawn from a seed."""

    subject: str
    kind: str  # "drawn" | "photo"
    fitzpatrick: int  # 1..6
    skin: tuple[float, float, float]  # diffuse albedo (linear camera RGB)
    hair: tuple[float, float, float]
    iris: tuple[float, float, float]
    hair_style: int  # 0 short, 1 long, 2 bald/shaved
    elongation: float  # face half-height / half-width
    width_scale: float  # face size relative to the scenario's nominal size
    shear: float  # asymmetry of the photo warp
    position: tuple[float, float]  # offset of the face centre, fraction of the frame size
    pulse_gain: float  # perfusion: scales the pulsatile strength map
    oiliness: float  # specular weight
    texture_seed: int

    @staticmethod
    def draw(subject: str, rng: np.random.Generator, photo: bool) -> Identity:
        """A random identity; `photo` selects the real-looking kind."""
        fitz = int(rng.integers(1, 7))
        tone = FITZPATRICK_ALBEDO[fitz - 1] * rng.uniform(0.93, 1.07, size=3)
        return Identity(
            subject=subject,
            kind="photo" if photo else "drawn",
            fitzpatrick=fitz,
            skin=tuple(float(v) for v in tone),
            hair=tuple(float(v) for v in HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]),
            iris=tuple(float(v) for v in IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))]),
            hair_style=int(rng.integers(0, 3)),
            elongation=float(rng.uniform(1.12, 1.38)),
            width_scale=float(rng.uniform(0.85, 1.15)),
            shear=float(rng.uniform(-0.06, 0.06)),
            position=(float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.06, 0.06))),
            # Melanin absorbs part of the light that reaches the blood: darker skin pulses less (relative).
            pulse_gain=float(rng.uniform(0.85, 1.15) * (1.0 - 0.04 * (fitz - 1))),
            oiliness=float(rng.uniform(0.03, 0.12)),
            texture_seed=int(rng.integers(2**31)),
        )


@dataclass
class Sprite:
    """Per-pixel layers of one head, drawn at a given face half-width R (pixels).

    strength: the relative green pulsatile amplitude (peak-to-peak fraction) of each skin pixel, 0 off skin.
    """

    albedo: np.ndarray  # (h, w, 3) float32
    alpha: np.ndarray  # (h, w) float32 coverage of the head over the background
    skin: np.ndarray  # (h, w) float32 skin mask
    strength: np.ndarray  # (h, w) float32
    specular: np.ndarray  # (h, w) float32
    normals: np.ndarray  # (h, w, 3) float32, unit surface normals (x right, y down, z to camera)
    eyes: np.ndarray  # (h, w) float32 mask of the open eyes (closed by blinks)
    mouth: np.ndarray  # (h, w) float32 mask darkened as the mouth opens
    jaw: np.ndarray  # (h, w) float32 downward displacement (in R) per unit mouth opening
    anchor: tuple[float, float]  # face centre in sprite pixels
    face_half: tuple[float, float]  # face box half-width and half-height in sprite pixels


def _blur(mask: np.ndarray, sigma_px: float) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(sigma_px, 0.3))


def _gauss(u: np.ndarray, v: np.ndarray, cu: float, cv_: float, su: float, sv: float) -> np.ndarray:
    return np.exp(-0.5 * (((u - cu) / su) ** 2 + ((v - cv_) / sv) ** 2)).astype(np.float32)


def _strength_map(u: np.ndarray, v: np.ndarray, e: float) -> np.ndarray:
    """Relative perfusion over the face: strongest on forehead and cheeks, weaker on nose, chin, neck."""
    forehead = _gauss(u, v, 0.0, -0.62 * e, 0.55, 0.28 * e)
    cheeks = _gauss(u, v, -0.52, 0.22 * e, 0.26, 0.25 * e) + _gauss(u, v, 0.52, 0.22 * e, 0.26, 0.25 * e)
    return np.clip(0.35 + 0.65 * np.maximum(forehead, cheeks), 0.0, 1.0)


def _head_normals(u: np.ndarray, v: np.ndarray, e: float) -> np.ndarray:
    """Normals of an ellipsoidal head (and a cylindrical neck below the chin)."""
    nx = u / 1.12
    ny = (v + 0.1 * e) / (1.45 * e)
    neck = v > 1.0 * e
    nx = np.where(neck, u / 0.62, nx)
    ny = np.where(neck, 0.25, ny)
    nz = np.sqrt(np.clip(1.0 - nx**2 - ny**2, 0.02, None))
    n = np.stack([nx, ny, nz], axis=-1)
    return (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)


def _grid(radius: float, e: float) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Sprite pixel grid in face units: u in [-1.7, 1.7], v in [-1.75e, 2.1e]."""
    w = int(np.ceil(3.4 * radius)) + 2
    h = int(np.ceil(3.85 * e * radius)) + 2
    anchor = ((w - 1) / 2.0, 1.75 * e * radius)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return (xs - anchor[0]) / radius, (ys - anchor[1]) / radius, anchor


def _texture(shape: tuple[int, int], radius: float, seed: int) -> np.ndarray:
    """Multiplicative skin texture: pores, freckles and blotches at a few scales (about 3% contrast)."""
    rng = np.random.default_rng(seed)
    tex = np.zeros(shape, np.float32)
    for scale, weight in ((0.03, 0.5), (0.1, 0.35), (0.35, 0.5)):
        tex += (
            weight
            * _blur(rng.standard_normal(shape).astype(np.float32), scale * radius)
            * np.sqrt(scale * radius)
        )
    tex /= tex.std() + 1e-6
    return 1.0 + 0.03 * tex


def drawn_sprite(identity: Identity, radius: float) -> Sprite:
    """Draw a parametric head at face half-width `radius` pixels."""
    e = identity.elongation
    u, v, anchor = _grid(radius, e)
    soft = 0.6 / radius  # anti-aliasing width in face units
    face = np.clip((1.0 - np.sqrt(u**2 + (v / e) ** 2)) / soft, 0, 1)
    ears = np.clip(
        (1.0 - np.sqrt(((np.abs(u) - 0.98) / 0.16) ** 2 + ((v - 0.05 * e) / 0.3) ** 2)) / (soft * 4), 0, 1
    )
    neck = np.clip((0.55 - np.abs(u)) / soft, 0, 1) * (v > 0.6 * e) * np.clip((2.1 * e - v) / 0.4, 0, 1)
    skin = np.maximum.reduce([face, ears * 0.999, neck])

    hair_shell = np.clip((1.0 - np.sqrt((u / 1.1) ** 2 + ((v + 0.06 * e) / (1.1 * e)) ** 2)) / soft, 0, 1)
    hairline = -0.52 * e + 0.08 * np.cos(3.0 * u)
    if identity.hair_style == 2:  # shaved: hair only as a thin cap
        hair = hair_shell * np.clip((-0.85 * e - v) / soft, 0, 1)
    else:
        hair = hair_shell * np.clip((hairline - v) / soft, 0, 1)
        sides = hair_shell * (np.abs(u) > 0.9) * (v < (0.9 * e if identity.hair_style == 1 else 0.1 * e))
        hair = np.maximum(hair, sides)
        if identity.hair_style == 1:  # long hair falling behind the shoulders
            hair = np.maximum(hair, (np.abs(u) < 1.25) * (np.abs(u) > 0.85) * (v > 0) * (v < 1.8 * e) * 1.0)
    hair = np.clip(hair, 0, 1).astype(np.float32)

    eye_mask = np.zeros_like(u)
    iris_mask = np.zeros_like(u)
    for side in (-1.0, 1.0):
        du, dv = u - side * 0.38, v + 0.12 * e
        eye_mask = np.maximum(
            eye_mask, np.clip((1.0 - np.sqrt((du / 0.16) ** 2 + (dv / 0.06) ** 2)) / (soft * 5), 0, 1)
        )
        iris_mask = np.maximum(iris_mask, np.clip((0.065 - np.sqrt(du**2 + dv**2)) / soft, 0, 1))
    brows = np.zeros_like(u)
    for side in (-1.0, 1.0):
        du, dv = u - side * 0.38, v + (0.3 * e - 0.04 * (1 - ((u - side * 0.38) / 0.25) ** 2))
        brows = np.maximum(
            brows, np.clip((1.0 - np.sqrt((du / 0.25) ** 2 + (dv / 0.04) ** 2)) / (soft * 4), 0, 1)
        )
    lips = np.clip((1.0 - np.sqrt((u / 0.3) ** 2 + ((v - 0.58 * e) / 0.075) ** 2)) / (soft * 3), 0, 1)
    nostrils = sum(_gauss(u, v, s * 0.09, 0.33 * e, 0.045, 0.03) for s in (-1, 1))
    nose_side = _gauss(u, v, 0.0, 0.15 * e, 0.12, 0.25)

    tone = np.asarray(identity.skin, np.float32)
    albedo = np.ones(u.shape + (3,), np.float32) * tone
    albedo *= _texture(u.shape, radius, identity.texture_seed)[..., None]
    albedo *= (1.0 - 0.35 * nostrils - 0.05 * nose_side)[..., None]
    lip_colour = tone * np.array([0.85, 0.55, 0.58], np.float32)
    albedo += lips[..., None] * (lip_colour - albedo)
    sclera = np.array([0.66, 0.63, 0.60], np.float32)
    eye_colour = sclera + iris_mask[..., None] * (np.asarray(identity.iris, np.float32) - sclera)
    albedo += eye_mask[..., None] * (eye_colour - albedo)
    hair_colour = np.asarray(identity.hair, np.float32)
    albedo += brows[..., None] * (hair_colour * 1.1 - albedo) * 0.85
    albedo += hair[..., None] * (hair_colour - albedo)

    alpha = np.maximum(skin, hair)
    skin_only = skin * (1.0 - hair) * (1.0 - eye_mask) * (1.0 - 0.85 * brows)
    strength = _strength_map(u, v, e) * np.where(v > 1.0 * e, 0.5, 1.0) * skin_only
    specular = (
        _gauss(u, v, 0.0, -0.6 * e, 0.45, 0.2 * e) + _gauss(u, v, 0.0, 0.12 * e, 0.07, 0.3 * e)
    ) * skin_only
    jaw = np.clip((v - 0.55 * e) / (0.08 * e), 0, 1) * np.clip((1.35 * e - v) / (0.3 * e), 0, 1)
    mouth = lips * np.clip(1.0 - np.abs(v - 0.58 * e) / 0.05, 0, 1)
    return Sprite(
        albedo=np.clip(albedo, 0.0, 1.0),
        alpha=alpha.astype(np.float32),
        skin=skin_only.astype(np.float32),
        strength=strength.astype(np.float32),
        specular=specular.astype(np.float32),
        normals=_head_normals(u, v, e),
        eyes=(eye_mask * (1.0 - hair)).astype(np.float32),
        mouth=mouth.astype(np.float32),
        jaw=(jaw * 0.14).astype(np.float32),
        anchor=anchor,
        face_half=(radius, radius * e),
    )


@cache
def _photo_layers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The astronaut portrait as float RGB, its head coverage and its skin mask (colour thresholds)."""
    from skimage import data

    image = data.astronaut()
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float32)
    (hx, hy), (ha, hb) = PHOTO_HEAD_CENTRE, PHOTO_HEAD_AXES
    head = (((xs - hx) / ha) ** 2 + ((ys - hy) / hb) ** 2) <= 1.0
    x0, x1, y0, y1 = PHOTO_NECK
    neck = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    alpha = _blur(head | neck, 2.0)
    alpha *= np.clip((y1 - ys) / 12.0, 0, 1)  # fade the neck out before the spacesuit collar
    ycrcb = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    fx, fy, fa, fb = PHOTO_FACE
    face_region = (((xs - fx) / (fa * 1.1)) ** 2 + ((ys - fy) / (fb * 1.12)) ** 2 <= 1.0) | neck
    skin = (cr > 138) & (cr < 178) & (cb > 80) & (cb < 125) & (y > 70) & face_region
    skin = cv2.morphologyEx(skin.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return image.astype(np.float32) / 255.0, alpha, _blur(skin, 1.0)


def photo_sprite(identity: Identity, radius: float) -> Sprite:
    """The astronaut's head warped to this identity's face shape and re-toned to its skin, at half-width R."""
    image, alpha0, skin0 = _photo_layers()
    e = identity.elongation
    u, v, anchor = _grid(radius, e)
    fx, fy, fa, fb = PHOTO_FACE
    # Sprite pixel -> photo pixel: scale face units onto the photo's face oval, with this identity's shear.
    map_x = (fx + (u + identity.shear * v) * fa).astype(np.float32)
    map_y = (fy + v / e * fb).astype(np.float32)
    sigma = 0.45 * fa / radius  # low-pass before resampling down (remap has no area mode)

    def warp(img: np.ndarray) -> np.ndarray:
        smooth = _blur(img, sigma) if sigma > 0.6 else img
        return cv2.remap(smooth, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    photo, alpha, skin = warp(image), warp(alpha0), warp(skin0)

    weights = skin[..., None]
    photo_tone = (photo * weights).sum((0, 1)) / weights.sum()
    retoned = photo / photo_tone * np.asarray(identity.skin, np.float32)
    albedo = photo + weights * (retoned - photo)
    eyes = sum(_gauss(u, v, s * 0.36, -0.16 * e, 0.12, 0.06 * e) for s in (-1, 1)) * (1 - skin)
    mouth = _gauss(u, v, 0.0, 0.6 * e, 0.28, 0.07 * e)
    jaw = np.clip((v - 0.55 * e) / (0.08 * e), 0, 1) * np.clip((1.35 * e - v) / (0.3 * e), 0, 1)
    strength = _strength_map(u, v, e) * np.where(v > 1.0 * e, 0.5, 1.0) * skin
    specular = (
        _gauss(u, v, 0.0, -0.6 * e, 0.45, 0.2 * e) + _gauss(u, v, 0.0, 0.12 * e, 0.07, 0.3 * e)
    ) * skin
    return Sprite(
        albedo=np.clip(albedo, 0.0, 1.0).astype(np.float32),
        alpha=alpha.astype(np.float32),
        skin=skin.astype(np.float32),
        strength=strength.astype(np.float32),
        specular=(specular * 0.5).astype(np.float32),  # the photo already holds its own highlights
        normals=_head_normals(u, v, e),
        eyes=np.clip(eyes, 0, 1).astype(np.float32),
        mouth=(mouth * 0.5).astype(np.float32),
        jaw=(jaw * 0.14).astype(np.float32),
        anchor=anchor,
        face_half=(radius, radius * e),
    )


def make_sprite(identity: Identity, radius: float) -> Sprite:
    """The identity's sprite at face half-width `radius` pixels."""
    return photo_sprite(identity, radius) if identity.kind == "photo" else drawn_sprite(identity, radius)
