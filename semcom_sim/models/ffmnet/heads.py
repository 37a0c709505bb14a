"""FFMNet's task branches (as in BlitzNet): the SSD detection head and the segmentation head,
with their losses and the detection post-processing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semcom_sim.errors import SemcomError
from semcom_sim.models.ffmnet.boxes import batched_nms, decode, encode, match

IGNORE_INDEX = 255  # segmentation pixels with this label do not count in the loss


class DetectionHead(nn.Module):
    """Per level, one 3x3 conv for class scores and one for box offsets.

    ``[D1..Dk]`` -> class logits ``[B, P, num_classes + 1]`` and offsets ``[B, P, 4]``, with ``P``
    the default boxes of all levels in the order of :func:`make_priors` (level, row, col, box).
    """

    def __init__(self, channels: int, num_logits: int, boxes_per_location: list[int], device=None):
        super().__init__()
        self.num_logits = num_logits
        self.cls = nn.ModuleList(
            nn.Conv2d(channels, a * num_logits, 3, padding=1, device=device)
            for a in boxes_per_location
        )
        self.loc = nn.ModuleList(
            nn.Conv2d(channels, a * 4, 3, padding=1, device=device) for a in boxes_per_location
        )
        for conv in [*self.cls, *self.loc]:
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)

    def forward(self, feats: list[Tensor]) -> tuple[Tensor, Tensor]:
        b = feats[0].shape[0]
        cls = [
            c(f).permute(0, 2, 3, 1).reshape(b, -1, self.num_logits)
            for c, f in zip(self.cls, feats, strict=True)
        ]
        loc = [
            c(f).permute(0, 2, 3, 1).reshape(b, -1, 4) for c, f in zip(self.loc, feats, strict=True)
        ]
        return torch.cat(cls, dim=1), torch.cat(loc, dim=1)


class SegmentationHead(nn.Module):
    """Per level a 1x1 conv (+ ReLU) to ``seg_channels``, bilinear resize to the D1 grid,
    concatenation, a 3x3 conv to class logits, bilinear upsampling to the input size.

    ``[D1..Dk]`` -> ``[B, num_classes + 1, H, W]``.
    """

    def __init__(
        self, channels: int, seg_channels: int, num_levels: int, num_logits: int, device=None
    ):
        super().__init__()
        self.reduce = nn.ModuleList(
            nn.Conv2d(channels, seg_channels, 1, device=device) for _ in range(num_levels)
        )
        self.classify = nn.Conv2d(
            seg_channels * num_levels, num_logits, 3, padding=1, device=device
        )

    def forward(self, feats: list[Tensor], image_size: tuple[int, int]) -> Tensor:
        grid = feats[0].shape[-2:]
        maps = []
        for conv, f in zip(self.reduce, feats, strict=True):
            y = F.relu(conv(f))
            if y.shape[-2:] != grid:
                y = F.interpolate(y, size=grid, mode="bilinear", align_corners=False)
            maps.append(y)
        logits = self.classify(torch.cat(maps, dim=1))
        return F.interpolate(logits, size=image_size, mode="bilinear", align_corners=False)


def ssd_loss(
    cls_logits: Tensor,
    box_deltas: Tensor,
    priors: Tensor,
    gt_boxes: list[Tensor],
    gt_labels: list[Tensor],
    image_size: tuple[int, int],
    variances: tuple[float, float],
    match_iou: float = 0.5,
    neg_pos_ratio: float = 3.0,
) -> tuple[Tensor, Tensor]:
    """SSD's multibox loss, eq. (1): ``L_det = (L_conf + L_loc) / N``.

    ``L_loc``: smooth L1 on the encoded offsets of the N positive default boxes; ``L_conf``:
    cross-entropy on the positives and on the hardest negatives (``neg_pos_ratio`` negatives per
    positive in each image, ranked by their background loss). ``N`` = positives in the batch
    (at least 1).

    Args:
        cls_logits: ``[B, P, C+1]``; box_deltas: ``[B, P, 4]``; priors: ``[P, 4]`` cxcywh norm.
        gt_boxes: per image ``[G_i, 4]`` xyxy in pixels; gt_labels: per image int64 ``[G_i]``
            in 1..C.
        image_size: (H, W) in pixels, to normalise the boxes.
    Returns:
        (loc_loss, conf_loss), both already divided by N.
    """
    b, p, _ = cls_logits.shape
    if len(gt_boxes) != b or len(gt_labels) != b:
        raise SemcomError(f"got targets for {len(gt_boxes)} images, predictions for {b}")
    h, w = image_size
    scale = torch.tensor([w, h, w, h], dtype=priors.dtype, device=priors.device)
    labels, matched = [], []
    for boxes, lab in zip(gt_boxes, gt_labels, strict=True):
        lab_i, box_i = match(boxes.to(priors) / scale, lab.to(priors.device), priors, match_iou)
        labels.append(lab_i)
        matched.append(box_i)
    conf_t = torch.stack(labels)  # [B, P]
    loc_t = encode(torch.stack(matched), priors, variances)  # [B, P, 4]
    pos = conf_t > 0
    num_pos = pos.sum(dim=1)  # [B]
    n = num_pos.sum().clamp_min(1).to(cls_logits.dtype)

    loc_loss = F.smooth_l1_loss(box_deltas[pos], loc_t[pos], reduction="sum")
    ce = F.cross_entropy(
        cls_logits.reshape(-1, cls_logits.shape[-1]), conf_t.reshape(-1), reduction="none"
    ).reshape(b, p)
    with torch.no_grad():  # hard-negative mining
        mining = ce.masked_fill(pos, 0.0)
        rank = mining.argsort(dim=1, descending=True).argsort(dim=1)
        num_neg = (neg_pos_ratio * num_pos).floor().long().clamp(max=p - num_pos)
        neg = rank < num_neg[:, None]
    conf_loss = ce[pos | neg].sum()
    return loc_loss / n, conf_loss / n


def segmentation_loss(seg_logits: Tensor, masks: Tensor) -> Tensor:
    """Pixel-wise cross-entropy; ``seg_logits [B, C+1, H, W]``, ``masks`` int64 ``[B, H, W]``
    (0 = background, 255 = ignored)."""
    if masks.shape[-2:] != seg_logits.shape[-2:]:
        raise SemcomError(
            f"mask size {list(masks.shape[-2:])} != image size {list(seg_logits.shape[-2:])}"
        )
    return F.cross_entropy(seg_logits, masks.to(torch.int64), ignore_index=IGNORE_INDEX)


@torch.no_grad()
def detect(
    cls_logits: Tensor,
    box_deltas: Tensor,
    priors: Tensor,
    image_size: tuple[int, int],
    variances: tuple[float, float],
    score_threshold: float = 0.01,
    iou_threshold: float = 0.45,
    pre_nms_top_k: int = 200,
    top_k: int = 100,
) -> list[tuple[Tensor, Tensor, Tensor]]:
    """SSD post-processing: softmax, decode, per class the ``pre_nms_top_k`` best boxes above
    ``score_threshold``, per-class NMS (batched), then the ``top_k`` best boxes per image.

    Returns:
        per image ``(boxes [k, 4] xyxy pixels clipped to the image, scores [k], labels [k])``,
        labels in 1..C, sorted by decreasing score.
    """
    h, w = image_size
    scale = torch.tensor([w, h, w, h], dtype=priors.dtype, device=priors.device)
    probs = cls_logits.softmax(dim=-1)[..., 1:]  # [B, P, C]
    boxes_all = decode(box_deltas, priors, variances).clamp(0.0, 1.0) * scale  # [B, P, 4]
    k = min(pre_nms_top_k, priors.shape[0])
    out = []
    for probs_i, boxes_i in zip(probs, boxes_all, strict=True):
        scores, idx = probs_i.topk(k, dim=0)  # [k, C]
        labels = torch.arange(1, probs_i.shape[1] + 1, device=idx.device).expand(k, -1)
        keep = scores > score_threshold
        scores, idx, labels = scores[keep], idx[keep], labels[keep]
        boxes = boxes_i[idx]
        kept = batched_nms(boxes, scores, labels, iou_threshold)[:top_k]
        out.append((boxes[kept], scores[kept], labels[kept]))
    return out
