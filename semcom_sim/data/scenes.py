"""Multi-object scenes with a scene graph, for embedded-detseg and embedded-vqa.

A scene is a textured (or plain) background with objects placed so that their centres are at
least ``spacing * (r1 + r2)`` apart; later objects are drawn over earlier ones. The renderer
returns the image, a semantic class map, an instance map and each object's visible box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semcom_sim.data import shapes


@dataclass
class SceneObject:
    shape: str
    colour_name: str  # "" when the colour is not from a named palette
    colour: np.ndarray  # float32 [3]
    cx: float
    cy: float
    r: float
    angle: float


def place_objects(
    count: int, size: int, r_range: tuple[float, float], spacing: float, rng: np.random.Generator
) -> list[tuple[float, float, float]]:
    """Up to ``count`` (cx, cy, r) inside the canvas, spaced apart; fewer if no room is found."""
    placed: list[tuple[float, float, float]] = []
    for _ in range(count):
        for _try in range(100):
            r = float(rng.uniform(*r_range))
            cx, cy = (float(v) for v in rng.uniform(r + 1, size - r - 1, 2))
            if all(np.hypot(cx - x, cy - y) >= spacing * (r + q) for x, y, q in placed):
                placed.append((cx, cy, r))
                break
    return placed


def render_scene(
    objects: list[SceneObject],
    background: np.ndarray,
    class_ids: list[int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``objects`` in order over ``background`` float32 [3, H, W].

    Returns:
        image float32 [3, H, W]; semantic map int64 [H, W] (``class_ids[k]`` where object k is on
        top with coverage >= 1/2, 0 elsewhere); instance map int64 [H, W] (k + 1, 0 = none);
        boxes float32 [K, 4] (x1, y1, x2, y2) of each object's visible pixels in pixel-edge
        coordinates (x2 = last column + 1), all zeros for an object with no visible pixel.
    """
    canvas = background.copy()
    _, h, w = canvas.shape
    semantic = np.zeros((h, w), np.int64)
    instance = np.zeros((h, w), np.int64)
    for k, (obj, cid) in enumerate(zip(objects, class_ids, strict=True)):
        cov, y0, x0 = shapes.render(obj.shape, obj.cx, obj.cy, obj.r, obj.angle, h, w)
        shapes.paste(canvas, cov, y0, x0, obj.colour)
        ph, pw = cov.shape
        on = cov >= 0.5
        semantic[y0 : y0 + ph, x0 : x0 + pw][on] = cid
        instance[y0 : y0 + ph, x0 : x0 + pw][on] = k + 1
    boxes = np.zeros((len(objects), 4), np.float32)
    for k in range(len(objects)):
        ys, xs = np.nonzero(instance == k + 1)
        if len(ys):
            boxes[k] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return shapes.finish(canvas, rng), semantic, instance, boxes
