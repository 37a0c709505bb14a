"""Anti-aliased shape rendering and textured backgrounds for the embedded image datasets.

A shape is drawn by testing 4x4 sub-pixel samples per pixel against its outline in local
coordinates (u, v) = rotated offset / radius, so the coverage of a pixel is a multiple of 1/16.
Everything takes a ``numpy.random.Generator`` and is deterministic given it.
"""

from __future__ import annotations

import math

import numpy as np

SHAPES = (
    "circle",
    "square",
    "triangle",
    "cross",
    "ring",
    "star",
    "ellipse",
    "diamond",
    "hexagon",
    "bar",
)
# Rotation range (radians, +-) per shape: square and diamond stay near upright so that a rotated
# square never looks like a diamond; the others turn freely.
_MAX_TURN = {"square": 0.25, "diamond": 0.25}


def _polygon_radius(theta: np.ndarray, sides: int) -> np.ndarray:
    """Boundary radius of a regular polygon with circumradius 1 at polar angle ``theta``."""
    sector = 2 * math.pi / sides
    return math.cos(math.pi / sides) / np.cos(np.mod(theta, sector) - sector / 2)


def _inside(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if kind in ("circle", "ring", "triangle", "hexagon", "star"):
        rho = np.hypot(u, v)
        theta = np.arctan2(v, u)
    if kind == "circle":
        return rho <= 1.0
    if kind == "ellipse":
        return u**2 + (v / 0.5) ** 2 <= 1.0
    if kind == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.78
    if kind == "diamond":
        return np.abs(u) / 0.62 + np.abs(v) <= 1.0
    if kind == "triangle":
        return rho <= _polygon_radius(theta, 3)
    if kind == "hexagon":
        return rho <= _polygon_radius(theta, 6)
    if kind == "star":
        half = math.pi / 5
        phase = np.abs(np.mod(theta, 2 * half) - half) / half  # 1 at a tip, 0 between tips
        return rho <= 0.42 + 0.58 * phase
    if kind == "cross":
        return ((np.abs(u) <= 0.3) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 1.0))
    if kind == "ring":
        return (rho <= 1.0) & (rho >= 0.55)
    if kind == "bar":
        return (np.abs(u) <= 1.0) & (np.abs(v) <= 0.28)
    raise ValueError(f"unknown shape {kind!r}")


def random_angle(kind: str, rng: np.random.Generator) -> float:
    turn = _MAX_TURN.get(kind, math.pi)
    return float(rng.uniform(-turn, turn))


def render(
    kind: str, cx: float, cy: float, r: float, angle: float, height: int, width: int, ss: int = 4
) -> tuple[np.ndarray, int, int]:
    """Coverage of one shape, cropped to its bounding square.

    Args:
        kind: one of :data:`SHAPES`.
        cx, cy: centre in pixels (x to the right, y down; pixel centres at i + 0.5).
        r: radius in pixels (the shape fits in a circle of radius ``r``).
        angle: rotation in radians.
        height, width: canvas size, for clipping.
        ss: sub-samples per pixel side.

    Returns:
        (coverage float32 [h, w] in [0, 1], y0, x0): the patch and its top-left canvas pixel.
    """
    x0, x1 = max(0, math.floor(cx - r - 1)), min(width, math.ceil(cx + r + 1))
    y0, y1 = max(0, math.floor(cy - r - 1)), min(height, math.ceil(cy + r + 1))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0), np.float32), y0, x0
    xs = x0 + (np.arange((x1 - x0) * ss) + 0.5) / ss - cx
    ys = y0 + (np.arange((y1 - y0) * ss) + 0.5) / ss - cy
    dx, dy = np.meshgrid(xs, ys)
    c, s = math.cos(angle), math.sin(angle)
    u, v = (dx * c + dy * s) / r, (-dx * s + dy * c) / r
    inside = _inside(kind, u, v).astype(np.float32)
    cov = inside.reshape(y1 - y0, ss, x1 - x0, ss).mean(axis=(1, 3))
    return cov, y0, x0


def paste(canvas: np.ndarray, cov: np.ndarray, y0: int, x0: int, colour: np.ndarray) -> None:
    """Blend ``colour`` [3] into ``canvas`` float32 [3, H, W] with alpha ``cov``, in place."""
    h, w = cov.shape
    region = canvas[:, y0 : y0 + h, x0 : x0 + w]
    region *= 1.0 - cov
    region += cov * colour[:, None, None]


def texture(
    height: int, width: int, rng: np.random.Generator, contrast: float = 0.25
) -> np.ndarray:
    """A textured background float32 [3, H, W] in [0, 1].

    One of: linear gradient, sinusoidal stripes, checkerboard, smooth blobs, between a random
    base colour and a second colour within ``contrast`` of it.
    """
    yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    kind = int(rng.integers(4))
    theta = rng.uniform(0, 2 * math.pi)
    proj = xx * math.cos(theta) + yy * math.sin(theta)
    if kind == 0:
        p = (proj - proj.min()) / max(np.ptp(proj), 1e-6)
    elif kind == 1:
        p = 0.5 + 0.5 * np.sin(2 * math.pi * rng.uniform(2, 5) * proj + rng.uniform(0, 2 * math.pi))
    elif kind == 2:
        k = int(rng.integers(3, 7))
        p = (np.floor(xx * k * 0.999) + np.floor(yy * k * 0.999)) % 2
    else:
        p = np.zeros_like(xx)
        for _ in range(3):
            cx, cy, s = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.35)
            p += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        p /= max(p.max(), 1e-6)
    c1 = rng.uniform(0, 1, 3)
    c2 = np.clip(c1 + rng.normal(0, contrast, 3), 0, 1)
    return (c1[:, None, None] * (1 - p) + c2[:, None, None] * p).astype(np.float32)


def contrasting_colour(
    background: np.ndarray, rng: np.random.Generator, min_dist: float = 0.35
) -> np.ndarray:
    """A random RGB colour at least ``min_dist`` (Euclidean) from the background's mean colour."""
    mean = background.reshape(3, -1).mean(axis=1)
    colour = rng.uniform(0, 1, 3)
    for _ in range(50):
        if np.linalg.norm(colour - mean) >= min_dist:
            break
        colour = rng.uniform(0, 1, 3)
    return colour.astype(np.float32)


def finish(canvas: np.ndarray, rng: np.random.Generator, noise_std: float = 0.02) -> np.ndarray:
    """Add pixel noise and clip to [0, 1]."""
    return np.clip(canvas + rng.normal(0, noise_std, canvas.shape), 0, 1).astype(np.float32)
