"""FFMNet (Sec. II-B): feature extraction -> D1 -> feature parsing -> detection + segmentation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semcom_sim.errors import SemcomError
from semcom_sim.models.ffmnet.backbone import FeatureExtractor, FeatureParser
from semcom_sim.models.ffmnet.boxes import make_priors
from semcom_sim.models.ffmnet.config import FFMNetConfig
from semcom_sim.models.ffmnet.heads import (
    DetectionHead,
    SegmentationHead,
    detect,
    segmentation_loss,
    ssd_loss,
)

Targets = dict  # {"boxes": list[[G_i, 4] xyxy px], "labels": list[int64 [G_i]], "masks": [B, H, W]}


class FFMNet(nn.Module):
    """Feature-fusion multi-task network for joint detection and segmentation.

    The network splits at D1: :meth:`extract` is the mobile-device part (image -> D1) and
    :meth:`from_d1` the edge-server part (D1 -> task outputs). Weights are randomly initialised.

    Args:
        config: architecture and SSD settings (see :func:`ffmnet_preset`).
    """

    def __init__(self, config: FFMNetConfig, device=None) -> None:
        super().__init__()
        self.config = config
        self.extractor = FeatureExtractor(config, device=device)
        self.parser = FeatureParser(config, device=device)
        self.det_head = DetectionHead(
            config.d_channels, config.num_logits, config.boxes_per_location(), device=device
        )
        self.seg_head = SegmentationHead(
            config.d_channels, config.seg_channels, config.num_levels, config.num_logits, device
        )
        self._priors: dict[tuple, Tensor] = {}

    def extract(self, images: Tensor) -> Tensor:
        """Mobile side: ``images [B, 3, H, W]`` in [0, 1] -> D1 ``[B, C, H/s, W/s]``."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise SemcomError(f"images must be [B, 3, H, W], got {list(images.shape)}")
        return self.extractor(images)

    def from_d1(self, d1: Tensor, image_size: tuple[int, int]) -> dict:
        """Edge side: D1 (or its reconstruction) -> task outputs.

        Returns a dict with ``features`` (list D1..Dk), ``cls_logits [B, P, C+1]``,
        ``box_deltas [B, P, 4]``, ``seg_logits [B, C+1, H, W]``, ``priors [P, 4]`` (cxcywh,
        normalised) and ``image_size`` (H, W).
        """
        feats = self.parser(d1)
        cls_logits, box_deltas = self.det_head(feats)
        seg_logits = self.seg_head(feats, image_size)
        sizes = [tuple(f.shape[-2:]) for f in feats]
        return {
            "features": feats,
            "cls_logits": cls_logits,
            "box_deltas": box_deltas,
            "seg_logits": seg_logits,
            "priors": self.priors(sizes, d1.device),
            "image_size": tuple(image_size),
        }

    def forward(self, images: Tensor) -> dict:
        """``images [B, 3, H, W]`` -> :meth:`from_d1`'s dict plus ``d1``."""
        d1 = self.extract(images)
        out = self.from_d1(d1, tuple(images.shape[-2:]))
        out["d1"] = d1
        return out

    def priors(self, feature_sizes: list[tuple[int, int]], device=None) -> Tensor:
        """Default boxes ``[P, 4]`` for the given level sizes (cached)."""
        key = (tuple(feature_sizes), str(device))
        if key not in self._priors:
            c = self.config
            self._priors[key] = make_priors(
                feature_sizes, c.aspect_ratios, c.min_scale, c.max_scale, device=device
            )
        return self._priors[key]

    def loss(self, outputs: dict, targets: Targets) -> dict[str, Tensor]:
        """Eq. (2): ``loss = L_det + L_seg`` with ``L_det = det_loc + det_conf`` (SSD).

        ``targets``: ``boxes`` (per image ``[G_i, 4]`` xyxy pixels), ``labels`` (per image int64
        ``[G_i]`` in 1..num_classes), ``masks`` (int64 ``[B, H, W]``, 0 = background, 255 =
        ignore).
        """
        c = self.config
        loc, conf = ssd_loss(
            outputs["cls_logits"],
            outputs["box_deltas"],
            outputs["priors"],
            targets["boxes"],
            targets["labels"],
            outputs["image_size"],
            c.variances,
            c.match_iou,
            c.neg_pos_ratio,
        )
        seg = segmentation_loss(outputs["seg_logits"], targets["masks"])
        det = loc + conf
        return {"loss": det + seg, "det": det, "det_loc": loc, "det_conf": conf, "seg": seg}

    def detect(self, outputs: dict, **kwargs) -> list[tuple[Tensor, Tensor, Tensor]]:
        """Post-processed detections per image: ``(boxes [k, 4] xyxy px, scores [k], labels [k])``
        (keyword arguments go to :func:`heads.detect`)."""
        return detect(
            outputs["cls_logits"],
            outputs["box_deltas"],
            outputs["priors"],
            outputs["image_size"],
            self.config.variances,
            **kwargs,
        )

    @staticmethod
    def segment(outputs: dict) -> Tensor:
        """Predicted class per pixel, int64 ``[B, H, W]``: ``seg_logits.argmax(dim=1)`` (the
        first maximal class), computed as a running maximum over the few class planes (an
        argmax over the strided class dimension was 10-20x slower on the CPU)."""
        logits = outputs["seg_logits"].detach()  # class ids carry no gradient
        if logits.shape[1] > 16:
            return logits.argmax(dim=1)
        best = logits[:, 0].clone()
        idx = torch.zeros(best.shape, dtype=torch.int64, device=logits.device)
        for c in range(1, logits.shape[1]):
            v = logits[:, c]
            idx.masked_fill_(v > best, c)
            torch.maximum(best, v, out=best)  # NaN propagates into best: caught below
        if bool(torch.isnan(best).any()):
            return logits.argmax(dim=1)  # NaN counts as maximal there
        return idx


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_breakdown(model: FFMNet) -> dict[str, int]:
    """Parameters per part of FFMNet: ResNet Res1..Res4 (+ stem), Res5, fusion, parsing, heads."""
    ex = model.extractor
    return {
        "resnet_res1_res4": count_parameters(ex.stem)
        + sum(count_parameters(s) for s in ex.stages[:4]),
        "res5": count_parameters(ex.stages[4]),
        "fusion": count_parameters(ex.lateral) + count_parameters(ex.fuse),
        "parsing": count_parameters(model.parser),
        "detection_head": count_parameters(model.det_head),
        "segmentation_head": count_parameters(model.seg_head),
        "total": count_parameters(model),
    }


def empty_targets(batch: int, image_size: tuple[int, int], device=None) -> Targets:
    """Targets with no objects and an all-background mask (for shape tests)."""
    return {
        "boxes": [torch.zeros(0, 4, device=device) for _ in range(batch)],
        "labels": [torch.zeros(0, dtype=torch.int64, device=device) for _ in range(batch)],
        "masks": torch.zeros(batch, *image_size, dtype=torch.int64, device=device),
    }
