"""Detection mAP computed by pycocotools from in-memory boxes.

"map" is COCO's AP averaged over IoU thresholds 0.50:0.05:0.95 (101-point interpolated
precision, up to 100 detections per image, all object sizes) and "map50" the AP at IoU 0.5,
both over the classes that have ground truth. Boxes are (x1, y1, x2, y2) in pixels; they are
converted to COCO's [x, y, w, h]; the area used for COCO's size ranges is w * h. pycocotools'
prints are silenced. mAP is not a mean over images, so it has no per-example standard error.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from semcom_sim.metrics.base import Metric, clamp_range, to_numpy


def _boxes(d: Mapping[str, Any]) -> np.ndarray:
    return to_numpy(d["boxes"]).astype(np.float64).reshape(-1, 4)


def _labels(d: Mapping[str, Any]) -> np.ndarray:
    return to_numpy(d["labels"] if "labels" in d else d["box_labels"]).astype(np.int64).reshape(-1)


class MeanAP(Metric):
    """COCO box mAP@[.5:.95] and mAP@.5 over all images added.

    ``pred``: one dict per image with "boxes" float [k, 4], "scores" float [k], "labels" int [k].
    ``target``: one dict per image with "boxes" float [m, 4] and "labels" (or "box_labels") int [m].
    """

    name = "map"
    bounds = (0.0, 1.0)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._gt: list[dict] = []
        self._dt: list[dict] = []
        self._images = 0
        self._categories: set[int] = set()

    def update(
        self, pred: Sequence[Mapping[str, Any]], target: Sequence[Mapping[str, Any]]
    ) -> None:
        if len(pred) != len(target):
            raise ValueError(f"map: {len(pred)} predictions for {len(target)} images")
        for p, t in zip(pred, target, strict=True):
            self._images += 1
            image_id = self._images
            for box, label in zip(_boxes(t), _labels(t), strict=True):
                w, h = box[2] - box[0], box[3] - box[1]
                self._gt.append(
                    {
                        "id": len(self._gt) + 1,
                        "image_id": image_id,
                        "category_id": int(label),
                        "bbox": [box[0], box[1], w, h],
                        "area": w * h,
                        "iscrowd": 0,
                    }
                )
                self._categories.add(int(label))
            scores = to_numpy(p["scores"]).astype(np.float64).reshape(-1)
            for box, score, label in zip(_boxes(p), scores, _labels(p), strict=True):
                self._dt.append(
                    {
                        "image_id": image_id,
                        "category_id": int(label),
                        "score": float(score),
                        "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    }
                )
                self._categories.add(int(label))

    def evaluator(self):
        """pycocotools' ``COCOeval`` over the boxes added so far (default parameters; call
        inside a stdout redirect, pycocotools prints)."""
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        gt = COCO()
        gt.dataset = {
            "images": [{"id": i} for i in range(1, self._images + 1)],
            "annotations": self._gt,
            "categories": [{"id": c} for c in sorted(self._categories)],
        }
        gt.createIndex()
        return COCOeval(gt, gt.loadRes([dict(d) for d in self._dt]), "bbox")

    def compute(self) -> dict[str, float]:
        if not self._gt:
            return {"map": math.nan, "map50": math.nan}
        if not self._dt:
            return {"map": 0.0, "map50": 0.0}
        with contextlib.redirect_stdout(io.StringIO()):
            ev = self.evaluator()
            # only the two numbers reported: all object sizes, 100 detections (each size range
            # and detection cap is evaluated independently, so these entries are unchanged)
            ev.params.areaRng, ev.params.areaRngLbl, ev.params.maxDets = [[0, 1e10]], ["all"], [100]
            ev.evaluate()
            ev.accumulate()
        precision = ev.eval["precision"][:, :, :, 0, 0]  # [iou, recall, class]
        at50 = precision[np.isclose(ev.params.iouThrs, 0.5)]
        # as COCOeval.summarize: mean over the entries > -1, -1 for none (no ground truth),
        # then clamped to [0, 1] as every bounded metric
        return {"map": clamp_range(_mean_valid(precision)), "map50": clamp_range(_mean_valid(at50))}


def _mean_valid(p: np.ndarray) -> float:
    """COCOeval.summarize's average: the mean of the entries > -1, or -1 if there are none."""
    valid = p[p > -1]
    return float(np.mean(valid)) if valid.size else -1.0
