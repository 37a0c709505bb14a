"""Synthetic scenes of coloured shapes with boxes and masks, for tests and smoke runs.

Classes: 1 rectangle, 2 ellipse, 3 triangle, 4 cross (0 = background).
"""

from __future__ import annotations

import torch
from torch import Tensor

from semcom_sim.errors import SemcomError

TOY_CLASSES = ("background", "rectangle", "ellipse", "triangle", "cross")


def _shape_mask(kind: int, xx: Tensor, yy: Tensor, cx, cy, w, h) -> Tensor:
    dx, dy = xx - cx, yy - cy
    if kind == 1:
        return (dx.abs() <= w / 2) & (dy.abs() <= h / 2)
    if kind == 2:
        return (dx / (w / 2)) ** 2 + (dy / (h / 2)) ** 2 <= 1
    if kind == 3:
        t = (dy + h / 2) / h  # 0 at the apex, 1 at the base
        return (t >= 0) & (t <= 1) & (dx.abs() <= t * w / 2)
    return ((dx.abs() <= w / 6) & (dy.abs() <= h / 2)) | ((dy.abs() <= h / 6) & (dx.abs() <= w / 2))


def make_toy_scenes(
    batch: int,
    image_size: int = 128,
    num_classes: int = 4,
    max_objects: int = 3,
    generator: torch.Generator | None = None,
    device=None,
) -> tuple[Tensor, dict]:
    """Random scenes of 1..``max_objects`` shapes on a noisy grey background.

    Returns:
        images float32 ``[B, 3, S, S]`` in [0, 1] and targets ``{"boxes": list[[G_i, 4] xyxy
        pixels], "labels": list[int64 [G_i]], "masks": int64 [B, S, S]}`` (later shapes occlude
        earlier ones in the mask; boxes are the full shapes).
    """
    if not 1 <= num_classes <= 4:
        raise SemcomError(f"toy scenes have 1..4 classes, got {num_classes}")
    g, s = generator, image_size
    ar = torch.arange(s, dtype=torch.float32) + 0.5
    yy, xx = torch.meshgrid(ar, ar, indexing="ij")
    images = 0.4 + 0.1 * torch.rand(batch, 3, s, s, generator=g)
    masks = torch.zeros(batch, s, s, dtype=torch.int64)
    boxes, labels = [], []
    for b in range(batch):
        n = int(torch.randint(1, max_objects + 1, (1,), generator=g))
        bx, lb = [], []
        for _ in range(n):
            kind = int(torch.randint(1, num_classes + 1, (1,), generator=g))
            w, h = (s * (0.15 + 0.35 * torch.rand(2, generator=g))).tolist()
            cx = float(w / 2 + (s - w) * torch.rand(1, generator=g))
            cy = float(h / 2 + (s - h) * torch.rand(1, generator=g))
            m = _shape_mask(kind, xx, yy, cx, cy, w, h)
            if not m.any():
                continue
            colour = torch.rand(3, 1, generator=g)
            images[b][:, m] = colour
            masks[b][m] = kind
            rows, cols = m.any(dim=1).nonzero()[:, 0], m.any(dim=0).nonzero()[:, 0]
            bx.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
            lb.append(kind)
        boxes.append(torch.tensor(bx, dtype=torch.float32, device=device).reshape(-1, 4))
        labels.append(torch.tensor(lb, dtype=torch.int64, device=device))
    targets = {"boxes": boxes, "labels": labels, "masks": masks.to(device)}
    return images.clamp(0, 1).to(device), targets
