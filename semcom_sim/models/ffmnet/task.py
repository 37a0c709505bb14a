"""The ``detseg`` task: joint object detection + semantic segmentation (FFMNet's task).

Data: ``embedded-detseg`` (default) or ``coco-detseg`` read from ``--data-dir``. Metrics, primary
first: ``map50`` (COCO AP at IoU 0.5), ``map`` (COCO mAP@[.5:.95]), ``miou`` and
``pixel_accuracy`` (segmentation over the dataset's classes, background included, 255 ignored).

A scheme's predictions for ``N`` images are a list of ``N`` dicts: ``boxes`` float ``[k, 4]``
(x1, y1, x2, y2 pixels), ``scores`` float ``[k]``, ``labels`` int64 ``[k]`` (1..K) and ``mask``
int64 ``[H, W]`` (predicted class per pixel).
"""

from __future__ import annotations

import torch

from semcom_sim.metrics import MeanAP, MeanIoU
from semcom_sim.sim.scheme import TASKS, Task

METRIC_KEYS = ("map50", "map", "miou", "pixel_accuracy")


class DetSegMetrics:
    """Accumulates mAP (pycocotools) and mIoU over batches; ``compute()`` gives
    :data:`METRIC_KEYS`."""

    def __init__(self) -> None:
        self.map = MeanAP()
        self.miou: MeanIoU | None = None

    def update(self, predictions: list[dict], batch) -> None:
        f = batch.fields
        if len(predictions) != len(batch):
            raise ValueError(f"detseg: {len(predictions)} predictions for {len(batch)} images")
        targets = [
            {"boxes": b, "labels": lab} for b, lab in zip(f["boxes"], f["box_labels"], strict=True)
        ]
        self.map.update(predictions, targets)
        if self.miou is None:
            self.miou = MeanIoU(
                int(batch.meta["num_classes"]), int(batch.meta.get("ignore_index", 255))
            )
        self.miou.update(torch.stack([p["mask"].cpu() for p in predictions]), f["mask"])

    def compute(self) -> dict[str, float]:
        out = self.map.compute()
        nan = float("nan")
        out.update(self.miou.compute() if self.miou else {"miou": nan, "pixel_accuracy": nan})
        return {k: out[k] for k in METRIC_KEYS}


class DetSegTask(Task):
    """Joint detection + segmentation on ``embedded-detseg`` (or ``coco-detseg`` with data_dir)."""

    name = "detseg"
    dataset = "embedded-detseg"
    real_dataset = "coco-detseg"
    modality = "image"
    metrics = METRIC_KEYS
    higher_is_better = True

    def load(self, n: int, seed: int, data_dir: str | None = None):
        from semcom_sim.data import load_dataset

        name = self.dataset if data_dir is None else self.real_dataset
        return load_dataset(name, split="test", n=n, seed=seed, data_dir=data_dir)

    def new_accumulator(self) -> DetSegMetrics:
        return DetSegMetrics()


TASKS.register(
    "detseg",
    "images -> boxes + masks, mAP@.5 / mAP / mIoU (COCO-format / embedded-detseg)",
)(DetSegTask)
