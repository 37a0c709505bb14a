"""Box geometry for the SSD head: IoU, default boxes, encoding, matching and NMS (plain torch).

Formats: ``xyxy`` = (x1, y1, x2, y2); ``cxcywh`` = (centre x, centre y, width, height). Default
boxes and matching work in coordinates normalised by the image size ([0, 1]); ``detect`` returns
pixels.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def xyxy_to_cxcywh(b: Tensor) -> Tensor:
    """``[..., 4]`` xyxy -> cxcywh."""
    return torch.cat([(b[..., :2] + b[..., 2:]) / 2, b[..., 2:] - b[..., :2]], dim=-1)


def cxcywh_to_xyxy(b: Tensor) -> Tensor:
    """``[..., 4]`` cxcywh -> xyxy."""
    return torch.cat([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], dim=-1)


def box_area(b: Tensor) -> Tensor:
    """``[..., 4]`` xyxy -> ``[...]`` (0 for degenerate boxes)."""
    return (b[..., 2] - b[..., 0]).clamp_min(0) * (b[..., 3] - b[..., 1]).clamp_min(0)


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of every pair: ``a [N, 4]``, ``b [M, 4]`` xyxy -> ``[N, M]`` (0 where the union is 0)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp_min(0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.zeros_like(inter))


def make_priors(
    feature_sizes: list[tuple[int, int]],
    aspect_ratios: tuple[tuple[float, ...], ...],
    min_scale: float,
    max_scale: float,
    device=None,
) -> Tensor:
    """SSD default boxes, cxcywh normalised, ``[P, 4]``.

    Level k (of m) has scale ``s_k = min + (max - min) k / (m - 1)``; every cell gets a square box
    of side ``s_k``, one of side ``sqrt(s_k s_{k+1})`` (``s_m = 1``), and for every ratio ``a``
    boxes ``(s_k sqrt(a), s_k / sqrt(a))`` and ``(s_k / sqrt(a), s_k sqrt(a))``. Order: level,
    row, column, box (the order of the head's outputs). Boxes are clipped to [0, 1].
    """
    m = len(feature_sizes)
    scales = [min_scale + (max_scale - min_scale) * k / max(m - 1, 1) for k in range(m)] + [1.0]
    out = []
    for k, (h, w) in enumerate(feature_sizes):
        s, s_next = scales[k], scales[k + 1]
        shapes = [(s, s), (math.sqrt(s * s_next),) * 2]
        for a in aspect_ratios[k]:
            r = math.sqrt(a)
            shapes += [(s * r, s / r), (s / r, s * r)]
        wh = torch.tensor(shapes, dtype=torch.float32, device=device)  # [A, 2]
        cy = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) / h
        cx = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) / w
        gy, gx = torch.meshgrid(cy, cx, indexing="ij")
        centres = torch.stack([gx, gy], dim=-1).reshape(h * w, 1, 2).expand(-1, len(shapes), -1)
        boxes = torch.cat([centres, wh.expand(h * w, -1, -1)], dim=-1).reshape(-1, 4)
        out.append(boxes)
    priors = torch.cat(out)
    return xyxy_to_cxcywh(cxcywh_to_xyxy(priors).clamp(0.0, 1.0))


def encode(boxes: Tensor, priors: Tensor, variances: tuple[float, float]) -> Tensor:
    """SSD offsets of ``boxes [..., P, 4]`` (xyxy) against ``priors [P, 4]`` (cxcywh).

    ``t_xy = (c - c_p) / (v0 w_p)``, ``t_wh = log(w / w_p) / v1``.
    """
    b = xyxy_to_cxcywh(boxes)
    txy = (b[..., :2] - priors[..., :2]) / (variances[0] * priors[..., 2:])
    twh = torch.log(b[..., 2:].clamp_min(1e-8) / priors[..., 2:]) / variances[1]
    return torch.cat([txy, twh], dim=-1)


def decode(deltas: Tensor, priors: Tensor, variances: tuple[float, float]) -> Tensor:
    """Inverse of :func:`encode`: offsets ``[..., P, 4]`` -> boxes xyxy ``[..., P, 4]``."""
    cxy = priors[..., :2] + deltas[..., :2] * variances[0] * priors[..., 2:]
    wh = priors[..., 2:] * torch.exp(deltas[..., 2:] * variances[1])
    return cxcywh_to_xyxy(torch.cat([cxy, wh], dim=-1))


def match(
    gt_boxes: Tensor, gt_labels: Tensor, priors: Tensor, iou_threshold: float
) -> tuple[Tensor, Tensor]:
    """Assign ground truth to default boxes (SSD).

    Every ground-truth box takes its best default box; every other default box takes its best
    ground truth if their IoU is >= ``iou_threshold``, else the background.

    Args:
        gt_boxes: ``[G, 4]`` xyxy normalised; gt_labels: int64 ``[G]`` in 1..num_classes.
        priors: ``[P, 4]`` cxcywh normalised.
    Returns:
        labels int64 ``[P]`` (0 = background) and matched boxes ``[P, 4]`` xyxy (for positives).
    """
    p = priors.shape[0]
    if gt_boxes.numel() == 0:
        return (
            torch.zeros(p, dtype=torch.int64, device=priors.device),
            cxcywh_to_xyxy(priors).clone(),
        )
    iou = box_iou(gt_boxes, cxcywh_to_xyxy(priors))  # [G, P]
    best_iou, best_gt = iou.max(dim=0)
    best_prior = iou.argmax(dim=1)  # [G]
    for g in range(gt_boxes.shape[0]):  # later gt wins a shared prior, as in ssd.pytorch
        best_gt[best_prior[g]] = g
    best_iou[best_prior] = 2.0
    labels = gt_labels.to(torch.int64)[best_gt]
    labels[best_iou < iou_threshold] = 0
    return labels, gt_boxes[best_gt]


def _greedy(over) -> np.ndarray:
    """Greedy pass over a boolean ``[N, N]`` "IoU > threshold" matrix of boxes in score order:
    box i is kept unless a kept box before it overlaps it. Returns a bool ``[N]`` keep mask."""
    n = over.shape[0]
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if keep[i]:
            keep[i + 1 :] &= ~over[i, i + 1 :]
    return keep


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression.

    Takes boxes in decreasing score order (ties: lower index first) and drops every later box
    whose IoU with a kept box is > ``iou_threshold``. The IoUs are computed once as an ``[N, N]``
    matrix; the greedy pass runs over its boolean threshold (same result as one row per kept box).

    Args:
        boxes: ``[N, 4]`` xyxy; scores: ``[N]``.
    Returns:
        int64 ``[K]`` indices of the kept boxes, in decreasing score order.
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    over = (box_iou(boxes[order], boxes[order]) > iou_threshold).cpu().numpy()
    keep = torch.from_numpy(_greedy(over)).to(order.device)
    return order[keep]


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
    """NMS within each label: boxes of different labels never suppress each other. Same output
    convention as :func:`nms` (indices in decreasing score order over all labels, ties: lower
    index first); the IoU matrices are per label, ``[N_c, N_c]``."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    b, lab = boxes[order], labels[order]
    keep = torch.zeros(order.numel(), dtype=torch.bool)
    for c in torch.unique(lab).tolist():
        pos = (lab == c).nonzero().flatten()
        over = (box_iou(b[pos], b[pos]) > iou_threshold).cpu().numpy()
        keep[pos.cpu()[torch.from_numpy(_greedy(over))]] = True
    return order[keep.to(order.device)]
