"""The tasks of the papers, each with its data (embedded default or real) and its metrics.

Every task is registered here, in one place, so a scheme (learned or conventional) applies to
a task whatever model package is installed. ``detseg`` is joint object detection + semantic
segmentation (FFMNet's task): its predictions for ``N`` images are a list of ``N`` dicts with
``boxes`` float ``[k, 4]`` (x1, y1, x2, y2 pixels), ``scores`` float ``[k]``, ``labels`` int64
``[k]`` (1..K) and ``mask`` int64 ``[H, W]``.
"""

from __future__ import annotations

from typing import Any

import torch

from semcom_sim.metrics import MeanAP, MeanIoU
from semcom_sim.sim.scheme import TASKS, Task


class MetricSet:
    """Accumulates several metrics of one task over batches (exact aggregation)."""

    def __init__(self, metric_names: tuple[str, ...], target_field: str) -> None:
        from semcom_sim.metrics import METRICS

        self.metrics = [METRICS.create(m) for m in metric_names]
        self.target_field = target_field

    def update(self, predictions: Any, batch) -> None:
        target = batch.fields[self.target_field]
        for m in self.metrics:
            m.update(predictions, target)

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in self.metrics:
            out.update(m.compute())
        return out


class DatasetTask(Task):
    """A task read from a registered dataset (see :mod:`semcom_sim.data`).

    Args:
        name: task name. dataset: embedded default. real_dataset: dataset read from --data-dir.
        modality: input modality. metric_names: registered metrics (primary first).
        metric_keys: the keys they report, primary first. target_field: data field compared.
    """

    def __init__(
        self,
        name: str,
        dataset: str,
        real_dataset: str,
        modality: str,
        metric_names: tuple[str, ...],
        metric_keys: tuple[str, ...],
        target_field: str,
    ) -> None:
        self.name = name
        self.dataset = dataset
        self.real_dataset = real_dataset
        self.modality = modality
        self.metric_names = metric_names
        self.metrics = metric_keys
        self.target_field = target_field

    def load(self, n: int, seed: int, data_dir: str | None = None):
        from semcom_sim.data import load_dataset

        name = self.dataset if data_dir is None else self.real_dataset
        return load_dataset(name, split="test", n=n, seed=seed, data_dir=data_dir)

    def new_accumulator(self) -> MetricSet:
        return MetricSet(self.metric_names, self.target_field)


def _register(name: str, help: str, **kwargs) -> None:
    TASKS.register(name, help)(lambda: DatasetTask(name=name, **kwargs))


_register(
    "image-reconstruction",
    "images -> images, PSNR (CIFAR-10 / embedded shapes32)",
    dataset="shapes32",
    real_dataset="cifar10",
    modality="image",
    metric_names=("psnr",),
    metric_keys=("psnr",),
    target_field="image",
)
_register(
    "text-reconstruction",
    "sentences -> sentences, BLEU (Europarl / embedded text)",
    dataset="embedded-text",
    real_dataset="europarl",
    modality="text",
    metric_names=("bleu",),
    metric_keys=("bleu", "bleu1"),
    target_field="text",
)
_register(
    "image-classification",
    "images -> class, accuracy (CIFAR-10 / embedded shapes32)",
    dataset="shapes32",
    real_dataset="cifar10",
    modality="image",
    metric_names=("accuracy",),
    metric_keys=("accuracy",),
    target_field="label",
)
_register(
    "sentiment",
    "sentence -> positive/negative, accuracy (SST-2 / embedded-sentiment)",
    dataset="embedded-sentiment",
    real_dataset="sst2",
    modality="text",
    metric_names=("accuracy",),
    metric_keys=("accuracy",),
    target_field="label",
)
_register(
    "vqa",
    "image + question -> answer, VQA accuracy (VQAv2 / embedded-vqa)",
    dataset="embedded-vqa",
    real_dataset="vqav2",
    modality="image+text",
    metric_names=("vqa-accuracy",),
    metric_keys=("vqa_accuracy",),
    target_field="answers",
)
_register(
    "video-sentiment",
    "frames + sentence + audio -> sentiment, binary accuracy (CMU-MOSI / embedded)",
    dataset="embedded-video-sentiment",
    real_dataset="cmu-mosi",
    modality="video+text+speech",
    metric_names=("accuracy",),
    metric_keys=("accuracy",),
    target_field="label",
)


# ---------------------------------------------------------------------- detseg
DETSEG_METRIC_KEYS = ("map50", "map", "miou", "pixel_accuracy")


class DetSegMetrics:
    """Accumulates mAP (pycocotools) and mIoU over batches; ``compute()`` gives
    :data:`DETSEG_METRIC_KEYS`."""

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
        return {k: out[k] for k in DETSEG_METRIC_KEYS}


class DetSegTask(Task):
    """Joint detection + segmentation on ``embedded-detseg`` (or ``coco-detseg`` with data_dir)."""

    name = "detseg"
    dataset = "embedded-detseg"
    real_dataset = "coco-detseg"
    modality = "image"
    metrics = DETSEG_METRIC_KEYS
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


# speech
_register(
    "speech-reconstruction",
    "speech waveform -> waveform, SNR and segmental SNR in dB (embedded synthetic speech)",
    dataset="embedded-speech",
    real_dataset="embedded-speech",  # no real speech corpus is read: --data-dir is not used
    modality="speech",
    metric_names=("speech-snr", "segsnr"),
    metric_keys=("speech_snr", "segsnr"),
    target_field="audio",
)
